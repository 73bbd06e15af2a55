//! Constants of the synthetic kernel: its KASLR shift, the symbols the walkers compare
//! against, and the `vm_flags` and mode bits the builders write.

/// The KASLR shift of the synthetic kernel.
pub const SHIFT: u64 = 0x2a0_0000;
/// Symbols the walkers compare against (unslid addresses).
pub const SYMBOLS: [(&str, u64); 5] = [
    ("special_mapping_vmops", 0xffff_ffff_81a0_0000),
    ("sockfs_dname", 0xffff_ffff_8110_0000),
    ("pipefs_dname", 0xffff_ffff_8110_0100),
    ("anon_inodefs_dname", 0xffff_ffff_8110_0200),
    ("simple_dname", 0xffff_ffff_8110_0300),
];

/// `vm_flags` bits.
pub const VM_READ: u64 = 1;
/// Writable.
pub const VM_WRITE: u64 = 2;
/// Executable.
pub const VM_EXEC: u64 = 4;
/// Shared.
pub const VM_SHARED: u64 = 8;

/// Mode bits.
pub const S_IFREG: u64 = 0o100000;
/// Directory.
pub const S_IFDIR: u64 = 0o040000;
/// Char device.
pub const S_IFCHR: u64 = 0o020000;
/// FIFO.
pub const S_IFIFO: u64 = 0o010000;
/// Socket.
pub const S_IFSOCK: u64 = 0o140000;
