//! `inet_sk_entry` (in `files.img`, or `inetsk.img` in old images): IPv4/IPv6 sockets.
//!
//! `family`, `type`, `proto` and `state` hold the kernel's numbers; the constants below name
//! the common ones.

use super::{FownEntry, SkOptsEntry};

/// `AF_UNIX`.
pub const AF_UNIX: u32 = 1;
/// `AF_INET`.
pub const AF_INET: u32 = 2;
/// `AF_INET6`.
pub const AF_INET6: u32 = 10;
/// `AF_NETLINK`.
pub const AF_NETLINK: u32 = 16;
/// `AF_PACKET`.
pub const AF_PACKET: u32 = 17;

/// `SOCK_STREAM`.
pub const SOCK_STREAM: u32 = 1;
/// `SOCK_DGRAM`.
pub const SOCK_DGRAM: u32 = 2;
/// `SOCK_RAW`.
pub const SOCK_RAW: u32 = 3;
/// `SOCK_SEQPACKET`.
pub const SOCK_SEQPACKET: u32 = 5;

/// `IPPROTO_IP` (raw sockets, or protocol unspecified).
pub const IPPROTO_IP: u32 = 0;
/// `IPPROTO_TCP`.
pub const IPPROTO_TCP: u32 = 6;
/// `IPPROTO_UDP`.
pub const IPPROTO_UDP: u32 = 17;
/// `IPPROTO_UDPLITE`.
pub const IPPROTO_UDPLITE: u32 = 136;

/// TCP state numbers of [`InetSkEntry::state`] (`TCP_*` of `include/net/tcp_states.h`);
/// unix sockets use `ESTABLISHED`, `CLOSE` and `LISTEN` too.
pub mod tcp_state {
    /// `TCP_ESTABLISHED` (also connected UDP and unix sockets).
    pub const ESTABLISHED: u32 = 1;
    /// `TCP_SYN_SENT`.
    pub const SYN_SENT: u32 = 2;
    /// `TCP_SYN_RECV`.
    pub const SYN_RECV: u32 = 3;
    /// `TCP_FIN_WAIT1`.
    pub const FIN_WAIT1: u32 = 4;
    /// `TCP_FIN_WAIT2`.
    pub const FIN_WAIT2: u32 = 5;
    /// `TCP_TIME_WAIT`.
    pub const TIME_WAIT: u32 = 6;
    /// `TCP_CLOSE` (also unconnected UDP and unix sockets).
    pub const CLOSE: u32 = 7;
    /// `TCP_CLOSE_WAIT`.
    pub const CLOSE_WAIT: u32 = 8;
    /// `TCP_LAST_ACK`.
    pub const LAST_ACK: u32 = 9;
    /// `TCP_LISTEN`.
    pub const LISTEN: u32 = 10;
}

/// An IPv4 or IPv6 socket (`inet_sk_entry`).
///
/// Addresses are copied from the kernel's `__be32` words: the bytes of each `u32` in the
/// dumping host's byte order (`to_le_bytes()` on x86-64) are the address octets. One word
/// for IPv4, four for IPv6; zeros when unbound.
#[derive(Clone, PartialEq, prost::Message)]
pub struct InetSkEntry {
    /// Same as [`super::FileEntry::id`].
    #[prost(uint32, required, tag = "1")]
    pub id: u32,
    /// Socket inode number (`socket:[N]`).
    #[prost(uint32, required, tag = "2")]
    pub ino: u32,
    /// Address family ([`AF_INET`], [`AF_INET6`]).
    #[prost(uint32, required, tag = "3")]
    pub family: u32,
    /// Socket type ([`SOCK_STREAM`], ...).
    #[prost(uint32, required, tag = "4")]
    pub r#type: u32,
    /// Protocol ([`IPPROTO_TCP`], ...).
    #[prost(uint32, required, tag = "5")]
    pub proto: u32,
    /// Connection state ([`tcp_state`]).
    #[prost(uint32, required, tag = "6")]
    pub state: u32,
    /// Local port (host byte order).
    #[prost(uint32, required, tag = "7")]
    pub src_port: u32,
    /// Remote port (host byte order).
    #[prost(uint32, required, tag = "8")]
    pub dst_port: u32,
    /// File status flags (`O_NONBLOCK`...).
    #[prost(uint32, required, tag = "9")]
    pub flags: u32,
    /// Listen backlog.
    #[prost(uint32, required, tag = "10")]
    pub backlog: u32,
    /// Local address words.
    #[prost(uint32, repeated, packed = "false", tag = "11")]
    pub src_addr: Vec<u32>,
    /// Remote address words.
    #[prost(uint32, repeated, packed = "false", tag = "12")]
    pub dst_addr: Vec<u32>,
    /// Signal owner.
    #[prost(message, optional, tag = "13")]
    pub fown: Option<FownEntry>,
    /// Socket options.
    #[prost(message, optional, tag = "14")]
    pub opts: Option<SkOptsEntry>,
    /// `IPV6_V6ONLY`.
    #[prost(bool, optional, tag = "15")]
    pub v6only: Option<bool>,
    /// Interface name of an IPv6 link-local binding, as bytes.
    #[prost(bytes = "vec", optional, tag = "17")]
    pub ifname: Option<Vec<u8>>,
    /// Network namespace id.
    #[prost(uint32, optional, tag = "18")]
    pub ns_id: Option<u32>,
    /// A [`super::SkShutdown`] value.
    #[prost(enumeration = "super::SkShutdown", optional, tag = "19")]
    pub shutdown: Option<i32>,
}
