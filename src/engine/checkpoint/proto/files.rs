//! `files.img`: every file object of the dumped tree, one [`FileEntry`] each, whatever its
//! kind (regular file, pipe, socket, tty, ...). Descriptors (`fdinfo-*.img`), mappings
//! (`mm-*.img`) and `fs-*.img` refer to these objects by id.
//!
//! Also here: the messages of regular files, pipes, FIFOs, external files, namespace files
//! and memfds, and the `pipes-data.img` entry.

use super::{
    EventfdFileEntry, EventpollFileEntry, FanotifyFileEntry, FownEntry, InetSkEntry,
    InotifyFileEntry, NetlinkSkEntry, PacketSockEntry, PidfdEntry, SignalfdEntry, TimerfdEntry,
    TtyFileEntry, UnixSkEntry,
};

/// Kind of a file object (`fd_types`), in [`FileEntry::type`] and
/// [`super::FdinfoEntry::type`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
#[repr(i32)]
pub enum FdTypes {
    /// Undefined.
    Und = 0,
    /// Regular file, directory or device node ([`FileEntry::reg`]).
    Reg = 1,
    /// Pipe ([`FileEntry::pipe`]).
    Pipe = 2,
    /// Named pipe ([`FileEntry::fifo`]).
    Fifo = 3,
    /// IPv4/IPv6 socket ([`FileEntry::isk`]).
    Inetsk = 4,
    /// Unix socket ([`FileEntry::usk`]).
    Unixsk = 5,
    /// eventfd ([`FileEntry::efd`]).
    Eventfd = 6,
    /// epoll instance ([`FileEntry::epfd`]).
    Eventpoll = 7,
    /// inotify instance ([`FileEntry::ify`]).
    Inotify = 8,
    /// signalfd ([`FileEntry::sgfd`]).
    Signalfd = 9,
    /// Packet socket ([`FileEntry::psk`]).
    Packetsk = 10,
    /// Terminal ([`FileEntry::tty`]).
    Tty = 11,
    /// fanotify instance ([`FileEntry::ffy`]).
    Fanotify = 12,
    /// Netlink socket ([`FileEntry::nlsk`]).
    Netlinksk = 13,
    /// Namespace file, `/proc/PID/ns/*` ([`FileEntry::nsf`]).
    Ns = 14,
    /// TUN/TAP device file (not decoded).
    Tunf = 15,
    /// File handled outside CRIU, by a plugin or `--external` ([`FileEntry::ext`]).
    Ext = 16,
    /// timerfd ([`FileEntry::tfd`]).
    Timerfd = 17,
    /// memfd ([`FileEntry::memfd`]).
    Memfd = 18,
    /// BPF map (not decoded).
    Bpfmap = 19,
    /// pidfd ([`FileEntry::pidfd`]).
    Pidfd = 20,
    /// CRIU-internal: controlling terminal (never stored).
    CtlTty = 65534,
    /// CRIU-internal: autofs pipe (never stored).
    AutofsPipe = 65535,
}

/// One file object of `files.img` (`file_entry`): its kind, its id and the message for
/// that kind. Kinds podmortem does not decode (TUN, BPF maps) keep only `type` and `id`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct FileEntry {
    /// A [`FdTypes`] value.
    #[prost(enumeration = "FdTypes", required, tag = "1")]
    pub r#type: i32,
    /// The object's id (what `fdinfo_entry.id`, `vma_entry.shmid` and others name).
    #[prost(uint32, required, tag = "2")]
    pub id: u32,
    /// Regular file.
    #[prost(message, optional, tag = "3")]
    pub reg: Option<RegFileEntry>,
    /// Inet socket.
    #[prost(message, optional, tag = "4")]
    pub isk: Option<InetSkEntry>,
    /// Namespace file.
    #[prost(message, optional, tag = "5")]
    pub nsf: Option<NsFileEntry>,
    /// Packet socket.
    #[prost(message, optional, tag = "6")]
    pub psk: Option<PacketSockEntry>,
    /// Netlink socket.
    #[prost(message, optional, tag = "7")]
    pub nlsk: Option<NetlinkSkEntry>,
    /// eventfd.
    #[prost(message, optional, tag = "8")]
    pub efd: Option<EventfdFileEntry>,
    /// epoll instance.
    #[prost(message, optional, tag = "9")]
    pub epfd: Option<EventpollFileEntry>,
    /// signalfd.
    #[prost(message, optional, tag = "10")]
    pub sgfd: Option<SignalfdEntry>,
    /// timerfd.
    #[prost(message, optional, tag = "12")]
    pub tfd: Option<TimerfdEntry>,
    /// inotify instance.
    #[prost(message, optional, tag = "13")]
    pub ify: Option<InotifyFileEntry>,
    /// fanotify instance.
    #[prost(message, optional, tag = "14")]
    pub ffy: Option<FanotifyFileEntry>,
    /// External file.
    #[prost(message, optional, tag = "15")]
    pub ext: Option<ExtFileEntry>,
    /// Unix socket.
    #[prost(message, optional, tag = "16")]
    pub usk: Option<UnixSkEntry>,
    /// Named pipe.
    #[prost(message, optional, tag = "17")]
    pub fifo: Option<FifoEntry>,
    /// Pipe end.
    #[prost(message, optional, tag = "18")]
    pub pipe: Option<PipeEntry>,
    /// Terminal.
    #[prost(message, optional, tag = "19")]
    pub tty: Option<TtyFileEntry>,
    /// memfd.
    #[prost(message, optional, tag = "20")]
    pub memfd: Option<MemfdFileEntry>,
    /// pidfd.
    #[prost(message, optional, tag = "22")]
    pub pidfd: Option<PidfdEntry>,
}

/// A regular file, directory or device node opened or mapped by a task (`reg_file_entry`).
#[derive(Clone, PartialEq, prost::Message)]
pub struct RegFileEntry {
    /// Same as [`FileEntry::id`].
    #[prost(uint32, required, tag = "1")]
    pub id: u32,
    /// Open flags (`O_*`).
    #[prost(uint32, required, tag = "2")]
    pub flags: u32,
    /// File position.
    #[prost(uint64, required, tag = "3")]
    pub pos: u64,
    /// Signal owner.
    #[prost(message, optional, tag = "5")]
    pub fown: Option<FownEntry>,
    /// Path inside the task's mount namespace, as bytes (Linux paths need not be UTF-8).
    #[prost(bytes = "vec", required, tag = "6")]
    pub name: Vec<u8>,
    /// Mount id (in `mountpoints-*.img`); absent means -1.
    #[prost(sint32, optional, tag = "7")]
    pub mnt_id: Option<i32>,
    /// File size at dump time.
    #[prost(uint64, optional, tag = "8")]
    pub size: Option<u64>,
    /// Marked external (`--external file[...]`).
    #[prost(bool, optional, tag = "9")]
    pub ext: Option<bool>,
    /// `st_mode` (type and permission bits).
    #[prost(uint32, optional, tag = "10")]
    pub mode: Option<u32>,
    /// ELF build-id of the file, as 32-bit words, when CRIU could read it.
    #[prost(uint32, repeated, packed = "false", tag = "11")]
    pub build_id: Vec<u32>,
    /// CRC32C of (part of) the file, when CRIU computed one.
    #[prost(uint32, optional, tag = "12")]
    pub checksum: Option<u32>,
}

/// One end of a pipe (`pipe_entry`); both ends share `pipe_id`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct PipeEntry {
    /// Same as [`FileEntry::id`].
    #[prost(uint32, required, tag = "1")]
    pub id: u32,
    /// Inode number of the pipe (`pipe:[N]` in `/proc/PID/fd`).
    #[prost(uint32, required, tag = "2")]
    pub pipe_id: u32,
    /// Open flags (`O_WRONLY` = 1 for the write end).
    #[prost(uint32, required, tag = "3")]
    pub flags: u32,
    /// Signal owner.
    #[prost(message, optional, tag = "4")]
    pub fown: Option<FownEntry>,
}

/// Buffered bytes of a pipe or FIFO (`pipe_data_entry` in `pipes-data.img`,
/// `fifo-data.img`); the `bytes` raw bytes follow the entry in the image.
#[derive(Clone, PartialEq, prost::Message)]
pub struct PipeDataEntry {
    /// Inode number of the pipe ([`PipeEntry::pipe_id`]).
    #[prost(uint32, required, tag = "1")]
    pub pipe_id: u32,
    /// Number of raw bytes that follow this entry.
    #[prost(uint32, required, tag = "2")]
    pub bytes: u32,
    /// Pipe buffer size (`F_GETPIPE_SZ`).
    #[prost(uint32, optional, tag = "3")]
    pub size: Option<u32>,
}

/// A named pipe (`fifo_entry`); its path is the regular file entry `regf_id`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct FifoEntry {
    /// Same as [`FileEntry::id`].
    #[prost(uint32, required, tag = "1")]
    pub id: u32,
    /// Inode number of the pipe.
    #[prost(uint32, required, tag = "2")]
    pub pipe_id: u32,
    /// Id of the [`RegFileEntry`] that holds the FIFO's path.
    #[prost(uint32, optional, tag = "3")]
    pub regf_id: Option<u32>,
}

/// A file CRIU left to a plugin or to `--external` (`ext_file_entry`).
#[derive(Clone, PartialEq, prost::Message)]
pub struct ExtFileEntry {
    /// Same as [`FileEntry::id`].
    #[prost(uint32, required, tag = "1")]
    pub id: u32,
    /// Signal owner.
    #[prost(message, optional, tag = "5")]
    pub fown: Option<FownEntry>,
}

/// An open namespace file, `/proc/PID/ns/*` (`ns_file_entry`).
#[derive(Clone, PartialEq, prost::Message)]
pub struct NsFileEntry {
    /// Same as [`FileEntry::id`].
    #[prost(uint32, required, tag = "1")]
    pub id: u32,
    /// Id of the namespace (as in [`super::TaskKobjIdsEntry`]).
    #[prost(uint32, required, tag = "2")]
    pub ns_id: u32,
    /// `CLONE_NEW*` flag naming the namespace type.
    #[prost(uint32, required, tag = "3")]
    pub ns_cflag: u32,
    /// Open flags.
    #[prost(uint32, required, tag = "4")]
    pub flags: u32,
}

/// An open memfd (`memfd_file_entry`); its name and size are in the [`MemfdInodeEntry`]
/// with the same `inode_id`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct MemfdFileEntry {
    /// Same as [`FileEntry::id`].
    #[prost(uint32, required, tag = "1")]
    pub id: u32,
    /// Open flags.
    #[prost(uint32, required, tag = "2")]
    pub flags: u32,
    /// File position.
    #[prost(uint64, required, tag = "3")]
    pub pos: u64,
    /// Signal owner.
    #[prost(message, optional, tag = "4")]
    pub fown: Option<FownEntry>,
    /// Id of the memfd inode in `memfd.img`.
    #[prost(uint32, required, tag = "5")]
    pub inode_id: u32,
}

/// A memfd inode (`memfd_inode_entry` in `memfd.img`); its pages are in
/// `pagemap-shmem-<shmid>.img`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct MemfdInodeEntry {
    /// Name given to `memfd_create` (shown as `/memfd:NAME`), as bytes.
    #[prost(bytes = "vec", required, tag = "1")]
    pub name: Vec<u8>,
    /// Owner uid.
    #[prost(uint32, required, tag = "2")]
    pub uid: u32,
    /// Owner gid.
    #[prost(uint32, required, tag = "3")]
    pub gid: u32,
    /// Size in bytes.
    #[prost(uint64, required, tag = "4")]
    pub size: u64,
    /// Shared memory id of its contents.
    #[prost(uint32, required, tag = "5")]
    pub shmid: u32,
    /// `F_SEAL_*` bits.
    #[prost(uint32, required, tag = "6")]
    pub seals: u32,
    /// The id [`MemfdFileEntry::inode_id`] refers to.
    #[prost(uint64, required, tag = "7")]
    pub inode_id: u64,
    /// `st_mode`.
    #[prost(uint32, optional, tag = "9")]
    pub mode: Option<u32>,
}
