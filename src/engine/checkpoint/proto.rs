//! The protobuf messages of CRIU's images that podmortem reads, as prost structs.
//!
//! Field numbers and types follow CRIU's `images/*.proto` (proto2). Only the messages and
//! fields podmortem uses are declared; prost skips the others while decoding. Conventions:
//!
//! - proto2 `required` scalars are plain fields: prost does not enforce presence, so a
//!   damaged entry still yields what it holds (absent fields read as 0). proto2 `optional`
//!   scalars are `Option`s, so "absent" stays visible where it matters (pagemap counts and
//!   flags); sub-messages are always `Option`s.
//! - proto `string` fields are `Vec<u8>`: the kernel does not promise UTF-8 for command
//!   names, paths or host names, CRIU does not check, and prost would reject the whole
//!   entry on one invalid byte. Use `String::from_utf8_lossy` (or escape) to show them.
//! - Enumerations are raw `i32` fields with a Rust enum beside them (prost's accessor
//!   methods, e.g. `FileEntry::r#type()`, map unknown values to the enum's first variant;
//!   the raw field keeps the real value). Flag words come with `pub const`s.
//!
//! Images are framed by [`super::image`]; the message of each image:
//! `pstree.img` [`PstreeEntry`], `core-<tid>.img` [`CoreEntry`], `mm-<pid>.img` [`MmEntry`],
//! `pagemap-<pid>.img` [`PagemapHead`] then [`PagemapEntry`]s, `files.img` [`FileEntry`],
//! `fdinfo-<id>.img` [`FdinfoEntry`], `fs-<pid>.img` [`FsEntry`], `ids-<pid>.img`
//! [`TaskKobjIdsEntry`], `utsns-<id>.img` [`UtsnsEntry`], `timens-<id>.img`
//! [`TimensEntry`], `inventory.img` [`InventoryEntry`], `stats-dump` [`StatsEntry`],
//! `tty-info.img` [`TtyInfoEntry`], `pipes-data.img` [`PipeDataEntry`], `memfd.img`
//! [`MemfdInodeEntry`].

mod anon;
mod core;
mod creds;
mod fdinfo;
mod files;
mod fown;
mod fs;
pub mod ghost;
mod ids;
mod inventory;
pub mod mm;
pub mod mnt;
pub mod pagemap;
mod pstree;
pub mod sk_inet;
mod sk_opts;
mod sk_other;
pub mod sk_queue;
mod sk_unix;
mod stats;
mod timens;
mod tty;
mod utsns;
mod x86;

#[cfg(test)]
mod tests;

pub use self::core::{CoreEntry, March, SeccompMode, TaskCoreEntry, ThreadCoreEntry, task_state};
pub use anon::{
    EventfdFileEntry, EventpollFileEntry, EventpollTfdEntry, FanotifyFileEntry, InotifyFileEntry,
    InotifyWdEntry, PidfdEntry, SignalfdEntry, TimerfdEntry,
};
pub use creds::CredsEntry;
pub use fdinfo::FdinfoEntry;
pub use files::{
    ExtFileEntry, FdTypes, FifoEntry, FileEntry, MemfdFileEntry, MemfdInodeEntry, NsFileEntry,
    PipeDataEntry, PipeEntry, RegFileEntry,
};
pub use fown::FownEntry;
pub use fs::FsEntry;
pub use ghost::{GhostChunkEntry, GhostFileEntry, RemapFilePathEntry};
pub use ids::TaskKobjIdsEntry;
pub use inventory::{InventoryEntry, Lsmtype};
pub use mm::{MmEntry, VmaEntry};
pub use mnt::MntEntry;
pub use pagemap::{PE_LAZY, PE_PARENT, PE_PRESENT, PagemapEntry, PagemapHead};
pub use pstree::PstreeEntry;
pub use sk_inet::{InetSkEntry, tcp_state};
pub use sk_opts::{SkOptsEntry, SkShutdown};
pub use sk_other::{NetlinkSkEntry, PacketSockEntry};
pub use sk_queue::{SkPacketEntry, TcpStreamEntry};
pub use sk_unix::{FilePermsEntry, UnixSkEntry};
pub use stats::{DumpStatsEntry, RestoreStatsEntry, StatsEntry};
pub use timens::{TimensEntry, Timespec};
pub use tty::{TtyFileEntry, TtyInfoEntry, TtyPtyEntry, TtyType};
pub use utsns::UtsnsEntry;
pub use x86::{ThreadInfoX86, UserX86RegsEntry, UserX86RegsMode};
