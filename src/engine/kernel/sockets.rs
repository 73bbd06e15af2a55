//! Sockets behind open files: from a sockfs inode to its `struct socket` (they share a
//! `struct socket_alloc`: `container_of` by the ISF's offsets of `vfs_inode` and `socket`)
//! and its `struct sock`, the family, type, protocol, state and addresses that Volatility's
//! `linux.sockstat` shows, as the [`SocketDetails`] of an
//! [`OpenFile`](crate::engine::evidence::OpenFile), as the checkpoint back end gives them.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::engine::error::Result;
use crate::engine::file_details::{InetSocket, SocketDetails, UnixSocket};
use crate::engine::kernel::dpath::{corrupt, read_uint};
use crate::engine::kernel::memory::KernelMemory;
use crate::engine::net::proto_name;
pub use crate::engine::net::tcp_state;

/// Address families, protocols and TCP states are ABI constants (include/linux/socket.h,
/// include/uapi/linux/in.h, include/net/tcp_states.h); the ISF has no named enums for them.
const AF_UNIX: u64 = 1;
const AF_INET: u64 = 2;
const AF_INET6: u64 = 10;
const AF_NETLINK: u64 = 16;
const AF_PACKET: u64 = 17;

/// The `struct socket *` of a sockfs inode (`SOCKET_I()`).
pub fn socket_of_inode(k: &dyn KernelMemory, inode: u64) -> Result<u64> {
    let isf = k.isf();
    let alloc = inode
        .checked_sub(isf.offset("socket_alloc", "vfs_inode")?)
        .ok_or_else(|| corrupt(inode, "inode below its socket_alloc".into()))?;
    alloc
        .checked_add(isf.offset("socket_alloc", "socket")?)
        .ok_or_else(|| corrupt(inode, "socket_alloc address overflows".into()))
}

/// The details of the socket of sockfs inode `inode`.
pub fn socket_details(k: &dyn KernelMemory, inode: u64) -> Result<SocketDetails> {
    let socket = socket_of_inode(k, inode)?;
    let sk = k.read_field_u64(socket, "socket", "sk")?;
    if sk == 0 {
        return Ok(SocketDetails::Unconnected);
    }
    sock_details(k, sk)
}

/// The details of a `struct sock *`.
pub fn sock_details(k: &dyn KernelMemory, sk: u64) -> Result<SocketDetails> {
    let isf = k.isf();
    let common = k.field_addr(sk, "sock", "__sk_common")?;
    let family = read_uint(k, common, "sock_common", "skc_family")?;
    let state = read_uint(k, common, "sock_common", "skc_state")?;
    let ty = read_uint(k, sk, "sock", "sk_type")?;
    let protocol = read_uint(k, sk, "sock", "sk_protocol")?;
    Ok(match family {
        AF_INET | AF_INET6 => {
            let (src, dst) = if family == AF_INET6 {
                (
                    IpAddr::V6(ipv6(k, common, "skc_v6_rcv_saddr")?),
                    IpAddr::V6(ipv6(k, common, "skc_v6_daddr")?),
                )
            } else {
                (
                    IpAddr::V4(ipv4(k, common, "skc_rcv_saddr")?),
                    IpAddr::V4(ipv4(k, common, "skc_daddr")?),
                )
            };
            // skc_num is in host order, skc_dport in network order.
            let sport = read_uint(k, common, "sock_common", "skc_num")?;
            let dport = u16::try_from(read_uint(k, common, "sock_common", "skc_dport")? & 0xFFFF)
                .unwrap_or(0)
                .swap_bytes();
            SocketDetails::Inet(InetSocket {
                protocol: proto_name(protocol, ty),
                state: tcp_state(state).into(),
                src,
                src_port: sport,
                dst,
                dst_port: u64::from(dport),
            })
        }
        AF_UNIX => {
            let us = sk
                .checked_sub(isf.offset("unix_sock", "sk")?)
                .ok_or_else(|| corrupt(sk, "sock below its unix_sock".into()))?;
            let name = unix_name(k, us)?;
            let mut peer = None;
            if isf.has_field("unix_sock", "peer") {
                let other = k.read_field_u64(us, "unix_sock", "peer")?;
                if other != 0 {
                    peer = sock_inode_number(k, other);
                }
            }
            SocketDetails::Unix(UnixSocket {
                kind: sock_type(k, ty),
                state: tcp_state(state).into(),
                name,
                peer,
            })
        }
        other => {
            let name = match other {
                AF_NETLINK => "netlink".to_string(),
                AF_PACKET => "packet".to_string(),
                n => format!("family {n}"),
            };
            SocketDetails::Other {
                family: name,
                kind: sock_type(k, ty),
                protocol,
            }
        }
    })
}

fn ipv4(k: &dyn KernelMemory, common: u64, field: &str) -> Result<Ipv4Addr> {
    let mut b = [0u8; 4];
    k.read_exact(k.field_addr(common, "sock_common", field)?, &mut b)?;
    Ok(Ipv4Addr::from(b))
}

fn ipv6(k: &dyn KernelMemory, common: u64, field: &str) -> Result<Ipv6Addr> {
    let mut b = [0u8; 16];
    k.read_exact(k.field_addr(common, "sock_common", field)?, &mut b)?;
    Ok(Ipv6Addr::from(b))
}

/// The inode number of the socket owning `sk` (`sk->sk_socket`), if readable.
fn sock_inode_number(k: &dyn KernelMemory, sk: u64) -> Option<u64> {
    let isf = k.isf();
    let socket = k.read_field_u64(sk, "sock", "sk_socket").ok()?;
    if socket == 0 {
        return None;
    }
    let alloc = socket.checked_sub(isf.offset("socket_alloc", "socket").ok()?)?;
    let inode = alloc.checked_add(isf.offset("socket_alloc", "vfs_inode").ok()?)?;
    k.read_field_u64(inode, "inode", "i_ino").ok()
}

/// The bound name of a unix socket (`unix_sock->addr`): a path, `@name` for the abstract
/// namespace, or "" when unbound.
fn unix_name(k: &dyn KernelMemory, us: u64) -> Result<String> {
    let isf = k.isf();
    let addr = k.read_field_u64(us, "unix_sock", "addr")?;
    if addr == 0 {
        return Ok(String::new());
    }
    let len = read_uint(k, addr, "unix_address", "len")?;
    let sun_path = isf.offset("sockaddr_un", "sun_path")?;
    let max = isf
        .field("sockaddr_un", "sun_path")
        .and_then(|f| isf.type_size(&f.kind))
        .unwrap_or(108);
    let n = len.saturating_sub(sun_path).min(max);
    let at = k
        .field_addr(addr, "unix_address", "name")?
        .checked_add(sun_path)
        .ok_or_else(|| corrupt(addr, "unix_address overflows".into()))?;
    let mut buf = vec![0u8; usize::try_from(n).unwrap_or(0)];
    k.read_exact(at, &mut buf)?;
    Ok(match buf.split_first() {
        Some((0, rest)) => format!("@{}", String::from_utf8_lossy(rest)),
        _ => {
            let end = buf.iter().position(|b| *b == 0).unwrap_or(buf.len());
            String::from_utf8_lossy(buf.get(..end).unwrap_or_default()).into_owned()
        }
    })
}

/// A socket type name: from the ISF's `enum sock_type` (`SOCK_STREAM` -> "stream"), else the
/// ABI values.
fn sock_type(k: &dyn KernelMemory, ty: u64) -> String {
    if let Some(name) = i64::try_from(ty)
        .ok()
        .and_then(|v| k.isf().enum_name("sock_type", v))
    {
        return name.trim_start_matches("SOCK_").to_ascii_lowercase();
    }
    crate::engine::net::sock_type(ty).into()
}
