//! `unix_sk_entry` (in `files.img`, or `unixsk.img` in old images): unix domain sockets.

use super::{FownEntry, SkOptsEntry};

/// Owner and permissions of a unix socket's file (`file_perms_entry`).
#[derive(Clone, PartialEq, prost::Message)]
pub struct FilePermsEntry {
    /// `st_mode`.
    #[prost(uint32, required, tag = "1")]
    pub mode: u32,
    /// Owner uid.
    #[prost(uint32, required, tag = "2")]
    pub uid: u32,
    /// Owner gid.
    #[prost(uint32, required, tag = "3")]
    pub gid: u32,
}

/// A unix domain socket (`unix_sk_entry`).
///
/// `id` links it to descriptors; `ino` and `peer` link peers (`peer` is the peer's `ino`).
#[derive(Clone, PartialEq, prost::Message)]
pub struct UnixSkEntry {
    /// Same as [`super::FileEntry::id`].
    #[prost(uint32, required, tag = "1")]
    pub id: u32,
    /// Socket inode number (`socket:[N]`).
    #[prost(uint32, required, tag = "2")]
    pub ino: u32,
    /// Socket type (`SOCK_STREAM` = 1, `SOCK_DGRAM` = 2, `SOCK_SEQPACKET` = 5).
    #[prost(uint32, required, tag = "3")]
    pub r#type: u32,
    /// State (`TCP_ESTABLISHED` = 1, `TCP_CLOSE` = 7, `TCP_LISTEN` = 10).
    #[prost(uint32, required, tag = "4")]
    pub state: u32,
    /// File status flags.
    #[prost(uint32, required, tag = "5")]
    pub flags: u32,
    /// CRIU's own `USK_*` flags (external, callback...).
    #[prost(uint32, required, tag = "6")]
    pub uflags: u32,
    /// Listen backlog.
    #[prost(uint32, required, tag = "7")]
    pub backlog: u32,
    /// Inode number of the peer, 0 when none.
    #[prost(uint32, required, tag = "8")]
    pub peer: u32,
    /// Signal owner.
    #[prost(message, optional, tag = "9")]
    pub fown: Option<FownEntry>,
    /// Socket options.
    #[prost(message, optional, tag = "10")]
    pub opts: Option<SkOptsEntry>,
    /// Bound name: a path, or an abstract name starting with a NUL byte; empty if unbound.
    #[prost(bytes = "vec", required, tag = "11")]
    pub name: Vec<u8>,
    /// A [`super::SkShutdown`] value.
    #[prost(enumeration = "super::SkShutdown", optional, tag = "12")]
    pub shutdown: Option<i32>,
    /// Owner and permissions of the socket file.
    #[prost(message, optional, tag = "13")]
    pub file_perms: Option<FilePermsEntry>,
    /// Directory a relative `name` is relative to, as bytes.
    #[prost(bytes = "vec", optional, tag = "14")]
    pub name_dir: Option<Vec<u8>>,
    /// The socket's file was unlinked.
    #[prost(bool, optional, tag = "15")]
    pub deleted: Option<bool>,
    /// Network namespace id.
    #[prost(uint32, optional, tag = "16")]
    pub ns_id: Option<u32>,
    /// Mount id of the socket file; absent means -1.
    #[prost(sint32, optional, tag = "17")]
    pub mnt_id: Option<i32>,
}
