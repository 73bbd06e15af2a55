//! Deleted-but-open files: `remap-fpath.img` says which file objects were opened under a
//! path that no longer leads to them, and `ghost-file-<hex id>.img` keeps such a file's
//! inode and, for a regular file, its whole contents.

/// How a file object's path is remapped (`remap_type`).
pub mod remap_type {
    /// The file was unlinked but another link to it exists (CRIU linked it back).
    pub const LINKED: i32 = 0;
    /// The file was unlinked with no other link: its contents are in a ghost image.
    pub const GHOST: i32 = 1;
    /// A /proc path of a task that is gone.
    pub const PROCFS: i32 = 2;
}

/// Old images mark a ghost remap in the remap id's top bit rather than in `remap_type`.
pub const REMAP_GHOST_BIT: u32 = 1 << 31;

/// One remapped file object (`remap_file_path_entry`).
#[derive(Clone, PartialEq, prost::Message)]
pub struct RemapFilePathEntry {
    /// The `files.img` id of the regular file.
    #[prost(uint32, required, tag = "1")]
    pub orig_id: u32,
    /// The ghost image id (ghost), the linked file's id (linked), a pid (procfs).
    #[prost(uint32, required, tag = "2")]
    pub remap_id: u32,
    /// One of [`remap_type`]; absent in old images (then the id's top bit says ghost).
    #[prost(int32, optional, tag = "3")]
    pub remap_type: Option<i32>,
}

/// A time as seconds and microseconds (`timeval`).
#[derive(Clone, PartialEq, prost::Message)]
pub struct Timeval {
    /// Seconds since the epoch.
    #[prost(uint64, required, tag = "1")]
    pub tv_sec: u64,
    /// Microseconds.
    #[prost(uint64, optional, tag = "2")]
    pub tv_usec: Option<u64>,
}

/// A deleted file's inode (`ghost_file_entry`); a regular file's contents follow it in the
/// image: raw to the end of the image, or (when `chunks`) as [`GhostChunkEntry`]s each
/// followed by its bytes, holes left out.
#[derive(Clone, PartialEq, prost::Message)]
pub struct GhostFileEntry {
    /// Owner uid.
    #[prost(uint32, required, tag = "1")]
    pub uid: u32,
    /// Owner gid.
    #[prost(uint32, required, tag = "2")]
    pub gid: u32,
    /// `st_mode`.
    #[prost(uint32, required, tag = "3")]
    pub mode: u32,
    /// Device the file was on.
    #[prost(uint32, optional, tag = "4")]
    pub dev: Option<u32>,
    /// Inode number.
    #[prost(uint64, optional, tag = "5")]
    pub ino: Option<u64>,
    /// Device number of a device node.
    #[prost(uint32, optional, tag = "6")]
    pub rdev: Option<u32>,
    /// Access time.
    #[prost(message, optional, tag = "7")]
    pub atim: Option<Timeval>,
    /// Modification time.
    #[prost(message, optional, tag = "8")]
    pub mtim: Option<Timeval>,
    /// Contents stored in chunks (large files; holes skipped).
    #[prost(bool, optional, tag = "9")]
    pub chunks: Option<bool>,
    /// File size (with `chunks`).
    #[prost(uint64, optional, tag = "10")]
    pub size: Option<u64>,
    /// A deleted symlink's target.
    #[prost(string, optional, tag = "11")]
    pub symlnk_target: Option<String>,
}

/// One chunk of a ghost file's contents (`ghost_chunk_entry`); `len` raw bytes follow.
#[derive(Clone, PartialEq, prost::Message)]
pub struct GhostChunkEntry {
    /// Bytes in the chunk.
    #[prost(uint64, required, tag = "1")]
    pub len: u64,
    /// Offset of the chunk in the file.
    #[prost(uint64, required, tag = "2")]
    pub off: u64,
}
