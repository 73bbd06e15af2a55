//! Capabilities a back end may offer beyond [`Evidence`]: a kernel dump has physical memory
//! and the kernel's own objects (modules, system-call tables, eBPF programs, tracers), a
//! container checkpoint has a filesystem diff and bytes saved beyond memory (socket
//! queues, deleted-but-open files, memfds). Clients ask for one with [`Evidence::physical`],
//! [`Evidence::kernel`], [`Evidence::container_fs`] or [`Evidence::saved_data`] and get
//! `None` when the evidence lacks it, so the compiler sees which code needs which
//! capability.

use std::borrow::Cow;
use std::ops::Range;
use std::sync::atomic::AtomicBool;

use regex::bytes::Regex;

use crate::engine::error::{Error, Result};
use crate::engine::evidence::{Evidence, FileEntry, Mount, PartialRead, Pid, Walk};
use crate::engine::kernel::bpf::BpfProgram;
use crate::engine::kernel::hidden::HiddenScan;
use crate::engine::kernel::modules::Module;
use crate::engine::kernel::ptrace::Traced;
use crate::engine::kernel::syscalls::SyscallCheck;
use crate::engine::saved::Saved;
use crate::engine::search::{PhysOwner, Sink, Summary};

/// The physical memory of the evidence (kernel memory dumps).
pub trait PhysicalSpace: Send + Sync {
    /// The physical ranges the evidence holds, sorted and disjoint.
    fn ranges(&self) -> Vec<Range<u64>>;

    /// Searches all of physical memory (freed pages, page cache, kernel buffers and every
    /// process at once) with `regex`, pushing each match (in
    /// [`Space::Physical`](crate::engine::search::Space), with the process that maps it)
    /// into `sink` in address order until it returns `false` or `cancel` is set.
    fn search(&self, regex: &Regex, cancel: &AtomicBool, sink: &mut dyn Sink) -> Result<Summary>;

    /// Reads physical memory at `addr` into `buf`; bytes no range covers are zeroed and left
    /// out of the returned [`PartialRead`].
    fn read(&self, addr: u64, buf: &mut [u8]) -> Result<PartialRead>;

    /// The `len` bytes at `addr` without a copy, when the evidence stores them contiguously
    /// uncompressed; `None` otherwise.
    fn slice(&self, _addr: u64, _len: usize) -> Option<&[u8]> {
        None
    }

    /// For each physical address of `addrs`, the process that maps it and where (the
    /// lowest pid when several do), as [`search`](Self::search) names a hit's owner; `None`
    /// for pages no process maps. The processes' page tables are walked once per call.
    fn owners(&self, addrs: &[u64]) -> Vec<Option<PhysOwner>> {
        vec![None; addrs.len()]
    }
}

/// The running kernel's own objects (kernel memory dumps): what a rootkit changes or hides.
/// Each call reads the dump again; the lists are small, the hidden-module scan reads the
/// modules' mapped memory.
pub trait KernelObjects: Send + Sync {
    /// The modules on the kernel's module list, as lsmod lists them.
    fn modules(&self) -> Result<Walk<Module>>;

    /// Modules found in the modules' memory that the list does not hold (see
    /// [`hidden`](crate::engine::kernel::hidden)).
    fn hidden_modules(&self) -> Result<HiddenScan>;

    /// The system-call tables checked against the kernel's code.
    fn syscall_tables(&self) -> Result<SyscallCheck>;

    /// The loaded eBPF programs.
    fn bpf_programs(&self) -> Result<Walk<BpfProgram>>;

    /// The processes being traced (ptrace), with their tracers.
    fn traced(&self) -> Result<Walk<Traced>>;
}

/// The filesystem changes of a container (checkpoints): what it wrote, added and deleted.
pub trait ContainerFs: Send + Sync {
    /// The entries of the filesystem diff; an error when the evidence should hold one but
    /// it is missing or damaged.
    fn entries(&self) -> Result<Vec<FileEntry>>;

    /// The bytes of one regular file of the diff: borrowed from the evidence's memory map
    /// where they lie in one piece (no copy of a large file), else owned.
    fn read_file(&self, path: &str) -> Result<Cow<'_, [u8]>>;

    /// The container's mounts, sorted by mount point (empty when the evidence does not
    /// record them).
    fn mounts(&self) -> Vec<Mount>;
}

/// Bytes the evidence saved beyond processes' memory (checkpoints): socket queues, files
/// deleted while open, memfd contents.
pub trait SavedData: Send + Sync {
    /// The saved objects held by any of `pids` (all objects when `None`), with their bytes,
    /// in a stable order: sockets, then ghost files, then memfds, each by holder. Objects
    /// with no bytes are left out; what could not be read is a problem of the walk.
    fn saved(&self, pids: Option<&[Pid]>) -> crate::engine::walk::Walk<Saved<'_>>;
}

/// The kernel objects of `ev`, or the error that it has none (a checkpoint's "not available
/// for this evidence: kernel modules").
pub fn kernel(ev: &dyn Evidence) -> Result<&dyn KernelObjects> {
    ev.kernel().ok_or(Error::Unsupported("kernel modules"))
}

/// The filesystem changes of `ev`, or the error that it has none (a kernel dump's
/// "not available for this evidence: rootfs diff").
pub fn container_fs(ev: &dyn Evidence) -> Result<&dyn ContainerFs> {
    ev.container_fs().ok_or(Error::Unsupported("rootfs diff"))
}
