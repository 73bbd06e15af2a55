//! `mm-<pid>.img`: a process's address space: the code/data/stack/brk boundaries, where
//! the command line and environment live, the executable, and the VMAs (`vma_entry`).
//!
//! The constants below give meaning to [`VmaEntry::prot`], [`VmaEntry::flags`] and
//! [`VmaEntry::status`] (the `VMA_*` bits are CRIU's own, from `criu/include/image.h`).

/// `PROT_READ` in [`VmaEntry::prot`].
pub const PROT_READ: u32 = 0x1;
/// `PROT_WRITE` in [`VmaEntry::prot`].
pub const PROT_WRITE: u32 = 0x2;
/// `PROT_EXEC` in [`VmaEntry::prot`].
pub const PROT_EXEC: u32 = 0x4;

/// `MAP_SHARED` in [`VmaEntry::flags`].
pub const MAP_SHARED: u32 = 0x01;
/// `MAP_PRIVATE` in [`VmaEntry::flags`].
pub const MAP_PRIVATE: u32 = 0x02;
/// `MAP_ANONYMOUS` in [`VmaEntry::flags`].
pub const MAP_ANONYMOUS: u32 = 0x20;
/// `MAP_GROWSDOWN` in [`VmaEntry::flags`] (stacks).
pub const MAP_GROWSDOWN: u32 = 0x0100;

/// Status bit: an ordinary mapping CRIU dumps and restores.
pub const VMA_AREA_REGULAR: u32 = 1 << 0;
/// Status bit: the stack.
pub const VMA_AREA_STACK: u32 = 1 << 1;
/// Status bit: the `[vsyscall]` page.
pub const VMA_AREA_VSYSCALL: u32 = 1 << 2;
/// Status bit: the `[vdso]`.
pub const VMA_AREA_VDSO: u32 = 1 << 3;
/// Status bit: the heap (`[heap]`).
pub const VMA_AREA_HEAP: u32 = 1 << 5;
/// Status bit: private file mapping (`shmid` is the file's `files.img` id).
pub const VMA_FILE_PRIVATE: u32 = 1 << 6;
/// Status bit: shared file mapping (`shmid` is the file's `files.img` id).
pub const VMA_FILE_SHARED: u32 = 1 << 7;
/// Status bit: shared anonymous memory (`shmid` names `pagemap-shmem-<shmid>.img`).
pub const VMA_ANON_SHARED: u32 = 1 << 8;
/// Status bit: private anonymous memory.
pub const VMA_ANON_PRIVATE: u32 = 1 << 9;
/// Status bit: System V shared memory segment.
pub const VMA_AREA_SYSVIPC: u32 = 1 << 10;
/// Status bit: mapping of a socket (packet rings).
pub const VMA_AREA_SOCKET: u32 = 1 << 11;
/// Status bit: the `[vvar]` area (never has pages in the image).
pub const VMA_AREA_VVAR: u32 = 1 << 12;
/// Status bit: an AIO ring.
pub const VMA_AREA_AIORING: u32 = 1 << 13;
/// Status bit: mapping of a memfd (`shmid` is the memfd's `files.img` id).
pub const VMA_AREA_MEMFD: u32 = 1 << 14;
/// Status bit: a shadow stack.
pub const VMA_AREA_SHSTK: u32 = 1 << 15;
/// Status bit: a guard region.
pub const VMA_AREA_GUARD: u32 = 1 << 16;
/// Status bit: the `[uprobes]` area.
pub const VMA_AREA_UPROBES: u32 = 1 << 17;
/// Status bit: mapping handled by a CRIU plugin.
pub const VMA_EXT_PLUGIN: u32 = 1 << 27;
/// Status bit: CRIU-internal (close the file after restore).
pub const VMA_CLOSE: u32 = 1 << 28;
/// Status bit: CRIU-internal (write protection removed while restoring).
pub const VMA_NO_PROT_WRITE: u32 = 1 << 29;
/// Status bit: CRIU-internal (already mapped while restoring).
pub const VMA_PREMMAPED: u32 = 1 << 30;
/// Status bit: a mapping CRIU cannot handle.
pub const VMA_UNSUPP: u32 = 1 << 31;

/// Address-space description of a process (`mm_entry`).
#[derive(Clone, PartialEq, prost::Message)]
pub struct MmEntry {
    /// Start of the code segment.
    #[prost(uint64, required, tag = "1")]
    pub mm_start_code: u64,
    /// End of the code segment.
    #[prost(uint64, required, tag = "2")]
    pub mm_end_code: u64,
    /// Start of the data segment.
    #[prost(uint64, required, tag = "3")]
    pub mm_start_data: u64,
    /// End of the data segment.
    #[prost(uint64, required, tag = "4")]
    pub mm_end_data: u64,
    /// Bottom of the main thread's stack (as `/proc/PID/stat` startstack).
    #[prost(uint64, required, tag = "5")]
    pub mm_start_stack: u64,
    /// Start of the heap.
    #[prost(uint64, required, tag = "6")]
    pub mm_start_brk: u64,
    /// Current program break.
    #[prost(uint64, required, tag = "7")]
    pub mm_brk: u64,
    /// Start of the NUL-separated command line in the process's memory.
    #[prost(uint64, required, tag = "8")]
    pub mm_arg_start: u64,
    /// End of the command line.
    #[prost(uint64, required, tag = "9")]
    pub mm_arg_end: u64,
    /// Start of the NUL-separated environment in the process's memory.
    #[prost(uint64, required, tag = "10")]
    pub mm_env_start: u64,
    /// End of the environment.
    #[prost(uint64, required, tag = "11")]
    pub mm_env_end: u64,
    /// `files.img` id of the executable (`/proc/PID/exe`).
    #[prost(uint32, required, tag = "12")]
    pub exe_file_id: u32,
    /// Saved auxiliary vector, as key/value pairs.
    #[prost(uint64, repeated, packed = "false", tag = "13")]
    pub mm_saved_auxv: Vec<u64>,
    /// The mappings, sorted by address.
    #[prost(message, repeated, tag = "14")]
    pub vmas: Vec<VmaEntry>,
    /// `prctl(PR_GET_DUMPABLE)`.
    #[prost(int32, optional, tag = "15")]
    pub dumpable: Option<i32>,
    /// `prctl(PR_GET_THP_DISABLE)`.
    #[prost(bool, optional, tag = "17")]
    pub thp_disabled: Option<bool>,
}

/// One mapping of an address space (`vma_entry`).
#[derive(Clone, PartialEq, prost::Message)]
pub struct VmaEntry {
    /// First address.
    #[prost(uint64, required, tag = "1")]
    pub start: u64,
    /// End address (exclusive).
    #[prost(uint64, required, tag = "2")]
    pub end: u64,
    /// Offset in the mapped file, in bytes.
    #[prost(uint64, required, tag = "3")]
    pub pgoff: u64,
    /// File id in `files.img` for file and memfd mappings, shmem id for shared anonymous
    /// memory, IPC key for SysV shm (see the `VMA_*` status bits).
    #[prost(uint64, required, tag = "4")]
    pub shmid: u64,
    /// `PROT_*` bits.
    #[prost(uint32, required, tag = "5")]
    pub prot: u32,
    /// `MAP_*` bits.
    #[prost(uint32, required, tag = "6")]
    pub flags: u32,
    /// CRIU's `VMA_*` status bits.
    #[prost(uint32, required, tag = "7")]
    pub status: u32,
    /// Unused, -1.
    #[prost(sint64, required, tag = "8")]
    pub fd: i64,
    /// `madvise` flags bitmap.
    #[prost(uint64, optional, tag = "9")]
    pub madv: Option<u64>,
    /// Open flags of the mapped file (`O_*`).
    #[prost(uint32, optional, tag = "10")]
    pub fdflags: Option<u32>,
}
