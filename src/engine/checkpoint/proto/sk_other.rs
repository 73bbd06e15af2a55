//! Packet and netlink sockets (`packet_sock_entry`, `netlink_sk_entry`): their identity only.

use super::{FownEntry, SkOptsEntry};

/// An `AF_PACKET` socket (`packet_sock_entry`); rings and multicast lists are not read.
#[derive(Clone, PartialEq, prost::Message)]
pub struct PacketSockEntry {
    /// Same as [`super::FileEntry::id`].
    #[prost(uint32, required, tag = "1")]
    pub id: u32,
    /// Socket type (`SOCK_RAW` = 3, `SOCK_DGRAM` = 2).
    #[prost(uint32, required, tag = "2")]
    pub r#type: u32,
    /// Ethernet protocol, in network byte order as the kernel keeps it.
    #[prost(uint32, required, tag = "3")]
    pub protocol: u32,
    /// File status flags.
    #[prost(uint32, required, tag = "4")]
    pub flags: u32,
    /// Index of the interface it is bound to, 0 for all.
    #[prost(uint32, required, tag = "5")]
    pub ifindex: u32,
    /// Signal owner.
    #[prost(message, optional, tag = "6")]
    pub fown: Option<FownEntry>,
    /// Socket options.
    #[prost(message, optional, tag = "7")]
    pub opts: Option<SkOptsEntry>,
    /// Network namespace id.
    #[prost(uint32, optional, tag = "20")]
    pub ns_id: Option<u32>,
}

/// An `AF_NETLINK` socket (`netlink_sk_entry`).
#[derive(Clone, PartialEq, prost::Message)]
pub struct NetlinkSkEntry {
    /// Same as [`super::FileEntry::id`].
    #[prost(uint32, required, tag = "1")]
    pub id: u32,
    /// Socket inode number.
    #[prost(uint32, required, tag = "2")]
    pub ino: u32,
    /// Netlink protocol (`NETLINK_ROUTE` = 0, ...).
    #[prost(uint32, required, tag = "3")]
    pub protocol: u32,
    /// Socket state.
    #[prost(uint32, required, tag = "4")]
    pub state: u32,
    /// File status flags.
    #[prost(uint32, required, tag = "6")]
    pub flags: u32,
    /// Local port id.
    #[prost(uint32, required, tag = "7")]
    pub portid: u32,
    /// Multicast group bitmap, in 32-bit words.
    #[prost(uint32, repeated, packed = "false", tag = "8")]
    pub groups: Vec<u32>,
    /// Destination port id.
    #[prost(uint32, required, tag = "9")]
    pub dst_portid: u32,
    /// Destination group.
    #[prost(uint32, required, tag = "10")]
    pub dst_group: u32,
    /// Signal owner.
    #[prost(message, optional, tag = "11")]
    pub fown: Option<FownEntry>,
    /// Socket options.
    #[prost(message, optional, tag = "12")]
    pub opts: Option<SkOptsEntry>,
    /// Network namespace id.
    #[prost(uint32, optional, tag = "13")]
    pub ns_id: Option<u32>,
}
