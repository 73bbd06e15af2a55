//! The one interface every client uses: [`Evidence`], and the model types it returns.
//!
//! Back ends (CRIU checkpoints, kernel memory dumps) implement the trait; the CLI and the TUI
//! use nothing else. Model types serialise to the CLI's JSON shapes: addresses as `"0x..."`
//! strings, counts and ids as numbers.

use serde::Serialize;
use std::collections::BTreeMap;
use std::ops::Range;
use std::path::PathBuf;

use crate::engine::capability::{ContainerFs, KernelObjects, PhysicalSpace, SavedData};
use crate::engine::error::Result;
pub use crate::engine::file_details::{FileDetails, SocketDetails};
pub use crate::engine::page_source::{Absence, PageSource, SourcedRange};
pub use crate::engine::walk::Walk;

/// A process id as the evidence stores it (for a container, the id inside its pid namespace).
pub type Pid = u32;

/// Serde helpers for hexadecimal address strings.
pub mod hex {
    use serde::Serializer;

    /// Serialises a `u64` as `"0x..."`.
    pub fn u64<S: Serializer>(v: &u64, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format!("{v:#x}"))
    }

    /// Serialises an `Option<u64>` as `"0x..."` or `null`.
    pub fn opt_u64<S: Serializer>(v: &Option<u64>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(v) => s.serialize_str(&format!("{v:#x}")),
            None => s.serialize_none(),
        }
    }
}

/// What kind of evidence is open.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EvidenceKind {
    /// A CRIU container checkpoint (archive, extracted folder or bare images folder).
    Checkpoint,
    /// A Linux kernel memory dump with its symbols.
    KernelDump,
}

impl EvidenceKind {
    /// The kind in words, e.g. "a container checkpoint".
    pub fn describe(self) -> &'static str {
        match self {
            EvidenceKind::Checkpoint => "a container checkpoint",
            EvidenceKind::KernelDump => "a kernel memory dump",
        }
    }
}

/// A description of the open evidence, for `info` and the TUI's header.
#[derive(Debug, Clone, Serialize)]
pub struct EvidenceInfo {
    /// Path the evidence was opened from.
    pub path: PathBuf,
    /// Evidence kind.
    pub kind: EvidenceKind,
    /// Container format, e.g. "tar", "tar.zst", "directory", "criu-images".
    pub format: String,
    /// Size in bytes of the evidence file (0 for folders).
    pub size: u64,
    /// Container engine (Podman, CRI-O, containerd) for checkpoints, when known.
    pub engine: Option<String>,
    /// A one-line title for headers (container name, or kernel release).
    pub title: String,
    /// Back-end specific facts (container metadata, CRIU version, dump statistics...).
    pub details: serde_json::Map<String, serde_json::Value>,
    /// Damage or oddities met while opening: the evidence was still opened.
    pub warnings: Vec<String>,
}

/// A process (thread-group leader) and its threads.
#[derive(Debug, Clone, Serialize)]
pub struct Process {
    /// Process id.
    pub pid: Pid,
    /// Parent's pid (0 for the root).
    pub ppid: Pid,
    /// Process group id.
    pub pgid: Pid,
    /// Session id.
    pub sid: Pid,
    /// Short name (the kernel's `comm`).
    pub comm: String,
    /// Arguments, read from the process's memory (empty when not captured).
    pub cmdline: Vec<String>,
    /// Real user id, when known.
    pub uid: Option<u32>,
    /// Real group id, when known.
    pub gid: Option<u32>,
    /// Effective user id, when known.
    pub euid: Option<u32>,
    /// Thread ids, the leader first.
    #[serde(serialize_with = "thread_ids")]
    pub threads: Vec<Thread>,
    /// Scheduler state ("running", "sleeping", "stopped", "zombie", "dead"...).
    pub state: String,
    /// How a dead task (a zombie) ended, as a shell's `$?`: its exit code, or 128 + the
    /// number of the signal that killed it. `None` for live tasks and when not recorded.
    pub exit_code: Option<u32>,
    /// Executable path, when known.
    pub exe: Option<String>,
    /// A kernel thread (no user memory; kernel dumps).
    pub kernel_thread: bool,
    /// Start time, seconds since boot (kernel dumps).
    pub start_time: Option<f64>,
    /// When the process was created, RFC 3339 UTC with microseconds (kernel dumps whose
    /// timekeeper tells when the machine booted; as Volatility's `CREATION TIME`).
    pub created: Option<String>,
    /// Namespace inode numbers by kind ("pid", "mnt", "net", "uts", "ipc", "user", "cgroup",
    /// "time"), when known.
    pub ns: Option<BTreeMap<String, u64>>,
    /// The cgroup path (cgroup v2, or the first v1 hierarchy), when known.
    pub cgroup: Option<String>,
    /// The container the process belongs to, from its cgroup path (libpod-, cri-containerd-,
    /// crio-, docker- scopes) or the checkpoint's container id.
    pub container_id: Option<String>,
    /// The Kubernetes pod UID from a kubepods cgroup path.
    pub pod_uid: Option<String>,
}

/// One thread of a process.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct Thread {
    /// Thread id.
    pub tid: Pid,
    /// The thread's own name.
    pub comm: String,
}

fn thread_ids<S: serde::Serializer>(threads: &[Thread], s: S) -> Result<S::Ok, S::Error> {
    s.collect_seq(threads.iter().map(|t| t.tid))
}

/// Memory protection and sharing of a mapping.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Perms {
    /// Readable.
    pub read: bool,
    /// Writable.
    pub write: bool,
    /// Executable.
    pub exec: bool,
    /// Shared (`s`) rather than private (`p`).
    pub shared: bool,
}

impl std::fmt::Display for Perms {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let c = |on: bool, ch: char| if on { ch } else { '-' };
        write!(
            f,
            "{}{}{}{}",
            c(self.read, 'r'),
            c(self.write, 'w'),
            c(self.exec, 'x'),
            if self.shared { 's' } else { 'p' }
        )
    }
}

impl Serialize for Perms {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// What backs a mapping.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum VmaKind {
    /// A file mapping.
    File,
    /// Private anonymous memory.
    Anon,
    /// The brk heap.
    Heap,
    /// The main thread's stack.
    Stack,
    /// The vDSO.
    Vdso,
    /// The vvar page(s).
    Vvar,
    /// Shared anonymous memory or SysV shared memory.
    Shmem,
    /// The legacy vsyscall page.
    Vsyscall,
}

/// One virtual memory area of a process.
#[derive(Debug, Clone, Serialize)]
pub struct Vma {
    /// First address.
    #[serde(serialize_with = "hex::u64")]
    pub start: u64,
    /// One past the last address.
    #[serde(serialize_with = "hex::u64")]
    pub end: u64,
    /// Protection and sharing.
    pub perms: Perms,
    /// Offset in the backing file, in bytes.
    #[serde(serialize_with = "hex::u64")]
    pub pgoff: u64,
    /// Backing file path or a pseudo name such as `[heap]`; `None` for plain anonymous memory.
    pub path: Option<String>,
    /// What backs the mapping.
    pub kind: VmaKind,
    /// Inode of the backing file (kernel dumps).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub inode: Option<u64>,
    /// Device of the backing file as "MAJ:MIN" (kernel dumps).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dev: Option<String>,
}

impl Vma {
    /// Size in bytes.
    pub fn size(&self) -> u64 {
        self.end.saturating_sub(self.start)
    }

    /// True if `addr` lies inside.
    pub fn contains(&self, addr: u64) -> bool {
        (self.start..self.end).contains(&addr)
    }

    /// Writable and executable, or anonymous and executable: worth a look (triage's
    /// `memory.rwx` and `memory.anon_exec`, [`crate::engine::triage::memory::area_rule`]).
    pub fn is_suspicious(&self) -> bool {
        crate::engine::triage::memory::area_rule(self).is_some()
    }
}

/// An open file descriptor (or the cwd/root of a process, with `fd` = `None`).
#[derive(Debug, Clone, Serialize)]
pub struct OpenFile {
    /// Owning process.
    pub pid: Pid,
    /// Descriptor number; `None` for cwd and root.
    pub fd: Option<i64>,
    /// Kind: "file", "dir", "pipe", "fifo", "socket", "tty", "eventfd", "cwd", "root"...
    #[serde(rename = "type")]
    pub kind: String,
    /// Path, or a `/proc`-style name such as `pipe:[1234]` / `socket:[5678]`.
    pub path: String,
    /// Kind-specific facts (flags, position, socket addresses and state...).
    pub details: FileDetails,
}

/// The result of a partial read: which bytes of the buffer came from the evidence.
///
/// Bytes outside `captured` are not in the evidence (never dumped, lazy, in a parent image,
/// unmapped): the buffer holds zeros there, which must not be shown as real zeros.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PartialRead {
    /// Captured ranges, as offsets into the buffer; sorted, disjoint, coalesced.
    pub captured: Vec<Range<usize>>,
}

impl PartialRead {
    /// Number of captured bytes.
    pub fn captured_len(&self) -> usize {
        self.captured.iter().map(|r| r.len()).sum()
    }

    /// True if the byte at `offset` was captured.
    pub fn is_captured(&self, offset: usize) -> bool {
        let i = self.captured.partition_point(|r| r.end <= offset);
        self.captured.get(i).is_some_and(|r| r.contains(&offset))
    }

    /// Appends a captured range, merging it with the previous one when adjacent.
    pub fn push(&mut self, range: Range<usize>) {
        if range.is_empty() {
            return;
        }
        if let Some(last) = self.captured.last_mut()
            && last.end == range.start
        {
            last.end = range.end;
            return;
        }
        self.captured.push(range);
    }
}

/// Type of an entry in a file tree (rootfs diff).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FileType {
    /// Regular file.
    File,
    /// Directory.
    Dir,
    /// Symbolic link.
    Symlink,
    /// Hard link to another entry.
    Hardlink,
    /// Character device.
    Char,
    /// Block device.
    Block,
    /// Named pipe.
    Fifo,
    /// Anything else.
    Other,
}

/// One entry of the container's filesystem changes.
#[derive(Debug, Clone, Serialize)]
pub struct FileEntry {
    /// Path relative to the container's root, without a leading `/` or `./`.
    pub path: String,
    /// Entry type.
    #[serde(rename = "type")]
    pub kind: FileType,
    /// Permission bits (and type bits as stored).
    pub mode: u32,
    /// Size in bytes.
    pub size: u64,
    /// Modification time, seconds since the epoch.
    pub mtime: i64,
    /// Link target for symlinks and hard links.
    pub link: Option<String>,
    /// True for files the container deleted (from `deleted.files`).
    pub deleted: bool,
    /// Owner uid.
    pub uid: u64,
    /// Owner gid.
    pub gid: u64,
    /// Where the entry was read: the evidence member (`rootfs-diff.tar`, `deleted.files`,
    /// `checkpoint/tmpfs-dev-49.tar.gz.img`, `devshm-checkpoint.tar`).
    pub origin: String,
    /// The memory-backed mount the file lives on (`/dev/shm`, a tmpfs mount point), when it
    /// came from one: its bytes were in RAM only, never on the container's disk.
    pub mount: Option<String>,
    /// A credential: a file under `/var/run/secrets` or `/run/secrets` (Kubernetes
    /// service-account tokens, mounted secrets).
    pub credential: bool,
    /// Deleted while a process held it open: no longer in any filesystem, its bytes kept by
    /// CRIU in a ghost image (`origin`).
    pub deleted_while_open: bool,
}

/// One mount of the container: what its mount namespace held at the checkpoint (CRIU's
/// `mountpoints-*.img`), joined with the runtime's spec (`spec.dump`) by mount point.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Mount {
    /// Where it is mounted in the container (`/var/run/secrets/...`).
    pub mountpoint: String,
    /// Filesystem type (`tmpfs`, `overlay`, `proc`; `bind` for a spec-only bind mount).
    #[serde(rename = "type")]
    pub fstype: String,
    /// The source in the container's namespace (a device, `tmpfs`, `overlay`).
    pub source: String,
    /// The source the runtime gave (for a bind mount: the host path), from the spec.
    pub host_source: Option<String>,
    /// The folder of the filesystem mounted (not `/` for a bind mount), as the host sees it.
    pub root: Option<String>,
    /// Mount options (the image's superblock options, then the spec's).
    pub options: Vec<String>,
    /// Device (`major:minor`).
    pub device: Option<String>,
    /// Mount id and parent mount id (CRIU images).
    pub mount_id: Option<u32>,
    /// The parent mount's id.
    pub parent_id: Option<u32>,
    /// The runtime's key for an external mount: its contents stay on the host, not in the
    /// evidence (podman's /etc/hosts, /dev/shm).
    pub external: Option<String>,
    /// The evidence member holding what the mount contained (a tmpfs image,
    /// `devshm-checkpoint.tar`, `rootfs-diff.tar` for `/`), when the evidence has it.
    pub saved: Option<String>,
}

impl FileEntry {
    /// Where the file was read, in a word: `diff` (rootfs-diff.tar, deleted.files), `shm`
    /// (/dev/shm), `tmpfs` (another memory-backed mount) or `ghost` (deleted while open).
    pub fn layer(&self) -> &'static str {
        if self.deleted_while_open {
            return "ghost";
        }
        match self.mount.as_deref() {
            None => "diff",
            Some("/dev/shm") => "shm",
            Some(_) => "tmpfs",
        }
    }
}

/// Captured memory lent by the evidence: (virtual address, bytes) pieces in address order
/// (see [`Evidence::captured_slices`]).
pub type Slices<'a> = Vec<(u64, &'a [u8])>;

/// A piece of evidence: a checkpoint or a kernel memory dump.
///
/// All methods are cheap to call repeatedly; back ends parse once at open and index.
pub trait Evidence: Send + Sync {
    /// What this evidence is.
    fn info(&self) -> EvidenceInfo;

    /// Processes (thread-group leaders), sorted by pid.
    fn processes(&self) -> Result<Vec<Process>>;

    /// The memory areas of a process, sorted by start address, with the damage met listing
    /// them.
    fn maps(&self, pid: Pid) -> Result<Walk<Vma>>;

    /// The environment of a process as `KEY=VALUE` strings, from its captured memory.
    fn environment(&self, pid: Pid) -> Result<Vec<String>>;

    /// Open files, sockets, cwd and root of a process, with the damage met listing them.
    fn files(&self, pid: Pid) -> Result<Walk<OpenFile>>;

    /// Reads process memory at `addr` into `buf`; bytes not captured are zeroed and left out
    /// of the returned [`PartialRead`].
    fn read_memory(&self, pid: Pid, addr: u64, buf: &mut [u8]) -> Result<PartialRead>;

    /// The captured virtual ranges of a process within `range`, sorted and coalesced.
    fn captured_ranges(&self, pid: Pid, range: Range<u64>) -> Result<Vec<Range<u64>>>;

    /// Where the bytes of `range` of a process's memory are, run by run in address order,
    /// covering all of `range`: this dump's pages, a parent image's (incremental
    /// checkpoints), or not captured and why. Evidence of one level (kernel dumps) says
    /// "this dump" for [`Evidence::captured_ranges`] and "not dumped" elsewhere.
    fn memory_sources(&self, pid: Pid, range: Range<u64>) -> Result<Vec<SourcedRange>> {
        let captured = self.captured_ranges(pid, range.clone())?;
        Ok(crate::engine::page_source::from_captured(range, &captured))
    }

    /// How many dump levels hold a process's memory: 1, plus one per parent image of an
    /// incremental checkpoint that the evidence holds for it (clients name the source of
    /// every byte when there are several).
    fn memory_levels(&self, _pid: Pid) -> usize {
        1
    }

    /// Zero-copy access to captured memory, when the back end stores `len` bytes at `addr`
    /// contiguously (a fast path for search); `None` otherwise.
    fn memory_slice(&self, _pid: Pid, _addr: u64, _len: usize) -> Option<&[u8]> {
        None
    }

    /// The captured memory of a process within `range` as the pieces the evidence stores
    /// contiguously, borrowed: (virtual address, bytes), sorted, covering exactly
    /// [`Evidence::captured_ranges`] of the same range (adjacent pieces make one range). `None`
    /// when the back end cannot lend its bytes (compressed memory, or not offered): then
    /// search reads through [`Evidence::read_memory`].
    fn captured_slices(&self, _pid: Pid, _range: Range<u64>) -> Result<Option<Slices<'_>>> {
        Ok(None)
    }

    /// The evidence's physical memory, when it has some (kernel memory dumps).
    fn physical(&self) -> Option<&dyn PhysicalSpace> {
        None
    }

    /// The running kernel's modules, system-call tables, eBPF programs and tracers, when the
    /// evidence holds a kernel (memory dumps).
    fn kernel(&self) -> Option<&dyn KernelObjects> {
        None
    }

    /// The container's filesystem changes, when the evidence has them (checkpoints).
    fn container_fs(&self) -> Option<&dyn ContainerFs> {
        None
    }

    /// Bytes saved beyond processes' memory (socket queues, files deleted while open, memfd
    /// contents), when the evidence has them (checkpoints).
    fn saved_data(&self) -> Option<&dyn SavedData> {
        None
    }
}

/// How many memory areas of `pid` are writable and executable, or anonymous and executable
/// ([`Vma::is_suspicious`]): the process tree's `!` mark.
pub fn suspicious_areas(ev: &dyn Evidence, pid: Pid) -> Result<usize> {
    Ok(ev.maps(pid)?.iter().filter(|v| v.is_suspicious()).count())
}

/// Orders processes as a tree (parents before children) with their depth.
pub fn tree_order(procs: &[Process]) -> Vec<(usize, &Process)> {
    let pids: std::collections::HashSet<Pid> = procs.iter().map(|p| p.pid).collect();
    let mut children: BTreeMap<Pid, Vec<&Process>> = BTreeMap::new();
    let mut roots = Vec::new();
    for p in procs {
        if p.ppid != p.pid && pids.contains(&p.ppid) {
            children.entry(p.ppid).or_default().push(p);
        } else {
            roots.push(p);
        }
    }
    let mut out = Vec::with_capacity(procs.len());
    let mut seen = std::collections::HashSet::new();
    let mut stack: Vec<(usize, &Process)> = roots.into_iter().rev().map(|p| (0, p)).collect();
    while let Some((depth, p)) = stack.pop() {
        if !seen.insert(p.pid) {
            continue;
        }
        out.push((depth, p));
        if let Some(kids) = children.get(&p.pid) {
            stack.extend(kids.iter().rev().map(|k| (depth + 1, *k)));
        }
    }
    // Processes caught in a parent loop are not reachable from a root: list them flat.
    for p in procs {
        if !seen.contains(&p.pid) {
            out.push((0, p));
        }
    }
    out
}
