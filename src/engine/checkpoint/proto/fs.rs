//! `fs-<pid>.img`: a process's working directory, root and umask.

/// Filesystem context of a process (`fs_entry`).
#[derive(Clone, PartialEq, prost::Message)]
pub struct FsEntry {
    /// `files.img` id of the current working directory.
    #[prost(uint32, required, tag = "1")]
    pub cwd_id: u32,
    /// `files.img` id of the root directory.
    #[prost(uint32, required, tag = "2")]
    pub root_id: u32,
    /// File creation mask.
    #[prost(uint32, optional, tag = "3")]
    pub umask: Option<u32>,
}
