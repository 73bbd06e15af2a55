//! [`KernelDump`]: a Linux memory dump with its ISF, as [`Evidence`](crate::engine::evidence::Evidence).
//!
//! Opening maps the file (lazily), picks the ISF, finds and checks the kernel layout
//! (see [`kaslr`]), walks the task list once and keeps the
//! (small) process model. Memory is read on demand through the page tables.

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use serde_json::{Value, json};

use crate::engine::checkpoint::tasks::split_nul;
use crate::engine::error::{Error, Result};
use crate::engine::evidence::{Pid, Process, Vma, Walk};
use crate::engine::identity::cgroup::{container_id, pod_uid};
use crate::engine::kernel::addr::{PhysAddr, VirtAddr};
use crate::engine::kernel::clock::start_clock_epoch_ns;
use crate::engine::kernel::dpath::{PathRef, file_path};
use crate::engine::kernel::files::{FilesWalk, walk_open_files};
use crate::engine::kernel::isf::CacheDir;
use crate::engine::kernel::kaslr::{self, KernelLayout};
use crate::engine::kernel::layout_cache;
use crate::engine::kernel::memory::KernelMemory;
use crate::engine::kernel::physical::{PhysicalMemory, open_physical};
use crate::engine::kernel::space::KernelSpace;
use crate::engine::kernel::structs::Structs;
pub use crate::engine::kernel::symbols::missing_isf;
use crate::engine::kernel::task_cache::{self, Walked, WalkedTask};

mod evidence_impl;
mod objects_impl;
mod parallel;
use crate::engine::kernel::dpath::PathCache;
use crate::engine::kernel::symbols::{SymbolFiles, choose_symbols};
use crate::engine::kernel::tasks::{TaskInfo, task_list};
use crate::engine::kernel::vmas::walk_vmas_with;
use crate::engine::time::rfc3339_micros;
use parallel::read_tasks;

/// Longest cmdline or environment block read from a process.
const MAX_ARG_BLOCK: u64 = 256 << 10;

/// A kernel memory dump opened for analysis.
#[derive(Debug)]
pub struct KernelDump {
    path: PathBuf,
    size: u64,
    space: KernelSpace,
    tasks: BTreeMap<Pid, Task>,
    processes: Vec<Process>,
    banner: String,
    release: Option<String>,
    hostname: Option<String>,
    warnings: Vec<String>,
    /// Wall-clock time (ns since the epoch) of instant 0 of the tasks' start clock.
    start_epoch_ns: Option<i128>,
    /// How the symbols were chosen (for `info`).
    symbols_matched: &'static str,
    /// The process list came from the cache of an earlier open (for `info`).
    tasks_from_cache: bool,
    /// File paths resolved by the walks of memory areas.
    paths: PathCache,
}

/// One process: what the kernel says and its page-table root.
#[derive(Debug)]
struct Task {
    info: TaskInfo,
    /// Physical address of the process's top-level page table.
    root: Option<PhysAddr>,
    /// `fs->root`: the process's root directory, that paths are shown relative to.
    fs_root: Option<PathRef>,
    /// The memory areas, read on first use, with the damage met on the way.
    maps: OnceLock<Walk<Vma>>,
    /// The open files and the damage met, kept once a walk succeeded.
    files: OnceLock<FilesWalk>,
}

impl KernelDump {
    /// Opens `path` with the ISF (file or folder) at `isf`, through the default ISF cache.
    pub fn open(path: &Path, isf: &Path) -> Result<KernelDump> {
        KernelDump::open_with(path, isf, &CacheDir::Default)
    }

    /// Opens `path` with the ISF at `isf`, caching parsed ISFs in `cache`.
    pub fn open_with(path: &Path, isf_path: &Path, cache: &CacheDir) -> Result<KernelDump> {
        KernelDump::open_auto(path, Some(isf_path), cache)
    }

    /// Opens `path` choosing its symbols: the ISF file given; else, for a folder, the ISF in
    /// it that matches the dump's kernel; else (or when none matches) the dump's own BTF and
    /// kallsyms. Parsed ISFs and indexes made from dumps are cached in `cache`.
    pub fn open_auto(path: &Path, isf_path: Option<&Path>, cache: &CacheDir) -> Result<KernelDump> {
        let files = SymbolFiles {
            isf: isf_path.map(Path::to_path_buf),
            ..SymbolFiles::default()
        };
        KernelDump::open_symbols(path, &files, cache)
    }

    /// Opens `path` with the symbols `files` name (see
    /// [`choose_symbols`]).
    pub fn open_symbols(path: &Path, files: &SymbolFiles, cache: &CacheDir) -> Result<KernelDump> {
        KernelDump::from_physical(path, open_physical(path)?, files, cache)
    }

    /// Opens the physical memory `phys` read from `path` (already opened, in whatever
    /// format) with the symbols `files` name.
    pub fn from_physical(
        path: &Path,
        phys: Box<dyn PhysicalMemory>,
        files: &SymbolFiles,
        cache: &CacheDir,
    ) -> Result<KernelDump> {
        tracing::debug!(
            path = %path.display(),
            format = phys.format(),
            ranges = phys.ranges().len(),
            warnings = phys.warnings().len(),
            "physical memory opened"
        );
        let size = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
        let mut warnings: Vec<String> = phys.warnings().to_vec();
        // Where the kernel is, as a previous open of this dump found it (else scanned for).
        let stored = layout_cache::location(path, size, cache);
        let known = stored.as_ref().and_then(layout_cache::load);
        // The first VMCOREINFO is nearly always the right one; only when it does not check
        // out is the rest of memory searched for others.
        let vmci = match &known {
            Some(k) => k.vmcoreinfo.clone(),
            None => kaslr::vmcoreinfo_candidates(&*phys, 1)?,
        };
        tracing::debug!(
            candidates = vmci.len(),
            from_cache = known.is_some(),
            "VMCOREINFO candidates"
        );
        let (isf, matched) = choose_symbols(&*phys, path, files, cache, &vmci)?;
        tracing::debug!(
            symbols = %isf.path().display(),
            chosen = matched,
            from_cache = isf.from_cache(),
            "symbols chosen"
        );
        // The walkers' structure layouts: a field every kernel has is known missing here.
        Structs::require(&isf)?;
        let isf_hash = isf.content_hash_hex();
        let cached = known
            .as_ref()
            .and_then(|k| k.layout_for(&isf_hash))
            .filter(|l| kaslr::verify(&*phys, &isf, l).unwrap_or(false));
        let layout = match cached {
            Some(l) => l,
            None => {
                let l = kaslr::find_layout_searching(&*phys, &isf, &vmci)?;
                if let Some(loc) = &stored
                    && let Err(e) = layout_cache::store(loc, &vmci, &isf_hash, &l)
                {
                    tracing::warn!("cannot cache the kernel layout: {e}");
                }
                l
            }
        };
        tracing::debug!(
            virtual_shift = format_args!("{:#x}", layout.virtual_shift),
            physical_shift = format_args!("{:#x}", layout.physical_shift),
            dtb = format_args!("{:#x}", layout.dtb),
            found_by = layout.source.describe(),
            from_cache = cached.is_some(),
            "kernel layout (KASLR) found"
        );
        let space = KernelSpace::new(phys, isf, layout);
        let banner =
            String::from_utf8_lossy(&space.isf().banner().unwrap_or_default()).into_owned();
        let (release, hostname) = uts(&space);
        let mut dump = KernelDump {
            path: path.to_path_buf(),
            size,
            symbols_matched: matched,
            space,
            tasks: BTreeMap::new(),
            processes: Vec::new(),
            banner,
            release,
            hostname,
            warnings: Vec::new(),
            start_epoch_ns: None,
            tasks_from_cache: false,
            paths: PathCache::default(),
        };
        dump.start_epoch_ns = start_clock_epoch_ns(&dump.space);
        // The process list, as an earlier open of this dump walked it, else walked now.
        let cached = stored
            .as_ref()
            .and_then(|loc| task_cache::load(loc, &isf_hash, &layout, &dump.space));
        dump.tasks_from_cache = cached.is_some();
        let walked = match cached {
            Some(w) => w,
            None => {
                let w = dump.walk_tasks()?;
                if let Some(loc) = &stored
                    && let Err(e) = task_cache::store(loc, &isf_hash, &layout, &w)
                {
                    tracing::warn!("cannot cache the process list: {e}");
                }
                w
            }
        };
        warnings.extend(walked.warnings);
        for w in walked.tasks {
            // The walk lists a pid once; a cached list is held to the same (one process,
            // one task per pid).
            if dump.tasks.contains_key(&w.info.pid) {
                continue;
            }
            let (root, fs_root) = (w.root(), w.fs_root());
            let process = dump.model_of(&w.info, w.cmdline, w.exe);
            dump.processes.push(process);
            let task = Task {
                root,
                fs_root,
                info: w.info,
                maps: OnceLock::new(),
                files: OnceLock::new(),
            };
            dump.tasks.insert(task.info.pid, task);
        }
        dump.processes.sort_by_key(|p| p.pid);
        tracing::debug!(
            processes = dump.processes.len(),
            warnings = warnings.len(),
            from_cache = dump.tasks_from_cache,
            "task list walked"
        );
        dump.warnings = warnings;
        Ok(dump)
    }

    /// The kernel address space.
    pub fn space(&self) -> &KernelSpace {
        &self.space
    }

    /// Where the kernel is (KASLR shifts, DTB, paging mode).
    pub fn layout(&self) -> &KernelLayout {
        self.space.layout()
    }

    /// What the kernel says about process `pid`.
    pub fn task(&self, pid: Pid) -> Result<&TaskInfo> {
        self.tasks
            .get(&pid)
            .map(|t| &t.info)
            .ok_or(Error::NoSuchProcess(pid))
    }

    /// The physical address of a process's page-table root: `mm->pgd` through the kernel's
    /// page tables, else through the direct map (`pgd - page_offset_base`).
    fn root_of(&self, info: &TaskInfo) -> Option<PhysAddr> {
        if info.pgd == 0 {
            return None;
        }
        if let Ok(Some(p)) = self.space.kernel_to_phys(VirtAddr(info.pgd)) {
            return Some(p);
        }
        let base = self
            .space
            .symbol("page_offset_base")
            .and_then(|a| self.space.read_u64(a))
            .ok()?;
        info.pgd.checked_sub(base).map(PhysAddr)
    }

    /// Reads `range` of a process's memory (bounded), only the leading captured bytes.
    fn read_block(&self, task: &Task, range: &Range<u64>) -> Vec<u8> {
        let Some(root) = task.root else {
            return Vec::new();
        };
        let len = (range.end - range.start).min(MAX_ARG_BLOCK) as usize;
        let mut buf = vec![0u8; len];
        match self.space.read_user(root, VirtAddr(range.start), &mut buf) {
            Err(e) => {
                // An argument or environment block that cannot be read is shown empty.
                tracing::warn!(pid = task.info.pid, "cannot read {range:#x?}: {e}");
                Vec::new()
            }
            Ok(got) => {
                let n = got
                    .captured
                    .first()
                    .filter(|r| r.start == 0)
                    .map_or(0, |r| r.end);
                buf.truncate(n);
                buf
            }
        }
    }

    /// Walks the task list: every task's facts, page-table root and root folder, then
    /// its command line and executable, on every core. The walk's pages are released after.
    fn walk_tasks(&self) -> Result<Walked> {
        let (list, mut warnings) = task_list(&self.space)?;
        let mut seen = std::collections::HashSet::new();
        let mut tasks = Vec::with_capacity(list.len());
        for (task, read) in read_tasks(&self.space, &list) {
            match read {
                Ok((info, fs_root)) => {
                    if !seen.insert(info.pid) {
                        warnings.push(format!("task at {task:#x}: pid {} listed twice", info.pid));
                        continue;
                    }
                    tasks.push(Task {
                        root: self.root_of(&info),
                        info,
                        fs_root,
                        maps: OnceLock::new(),
                        files: OnceLock::new(),
                    });
                }
                Err(e) => warnings.push(format!("task at {task:#x}: {e}")),
            }
        }
        // Command lines and executables: scattered pages again, on every core.
        let tasks = parallel::map_ordered(&tasks, |t| {
            let cmdline = match &t.info.args {
                Some(r) if !t.info.kernel_thread => split_nul(&self.read_block(t, r)),
                _ => Vec::new(),
            };
            WalkedTask {
                info: t.info.clone(),
                root: t.root.map(|r| r.0),
                fs_root: t.fs_root.map(|p| (p.mnt, p.dentry)),
                cmdline,
                exe: self.exe_of(t),
            }
        });
        // The walk read task structures all over the dump: leave none of their pages
        // resident (what is read next faults its own pages in).
        crate::engine::mapped::release_all();
        Ok(Walked { tasks, warnings })
    }

    /// The model of one process from what the walk read.
    fn model_of(&self, i: &TaskInfo, cmdline: Vec<String>, exe: Option<String>) -> Process {
        let container = i.cgroup.as_deref().and_then(container_id);
        Process {
            pid: i.pid,
            ppid: i.ppid,
            pgid: i.pgid,
            sid: i.sid,
            comm: i.comm.clone(),
            cmdline,
            uid: i.uid,
            gid: i.gid,
            euid: i.euid,
            threads: i.threads.clone(),
            state: i.state.clone(),
            exit_code: None,
            exe,
            kernel_thread: i.kernel_thread,
            start_time: i.start_ns.map(|ns| ns as f64 / 1e9),
            created: i
                .start_ns
                .zip(self.start_epoch_ns)
                .map(|(ns, epoch)| rfc3339_micros(epoch + i128::from(ns))),
            ns: i.ns.clone(),
            cgroup: i.cgroup.clone(),
            container_id: container,
            pod_uid: i.cgroup.as_deref().and_then(pod_uid),
        }
    }

    /// The path of `mm->exe_file`.
    fn exe_of(&self, t: &Task) -> Option<String> {
        if t.info.mm == 0 || t.info.kernel_thread {
            return None;
        }
        let exe = self
            .space
            .read_field_u64(t.info.mm, "mm_struct", "exe_file")
            .ok()?;
        (exe != 0)
            .then(|| file_path(&self.space, exe, t.fs_root).ok())
            .flatten()
    }

    /// The memory areas of a task (read once).
    fn maps_of<'a>(&self, t: &'a Task) -> &'a [Vma] {
        &self.maps_walk(t).items
    }

    /// The memory areas of a task and the problems met reading them (read once), each
    /// problem naming the process.
    fn maps_walk<'a>(&self, t: &'a Task) -> &'a Walk<Vma> {
        t.maps.get_or_init(|| {
            if t.info.mm == 0 || t.info.kernel_thread {
                return Walk::default();
            }
            let pid = t.info.pid;
            let mut w = match walk_vmas_with(&self.space, t.info.mm, t.fs_root, &self.paths) {
                Ok(w) => w,
                Err(e) => Walk {
                    items: Vec::new(),
                    problems: vec![e.to_string()],
                },
            };
            if !w.problems.is_empty() {
                tracing::debug!(pid, problems = w.problems.len(), "memory areas damaged");
            }
            for p in &mut w.problems {
                *p = format!("pid {pid} memory areas: {p}");
            }
            w
        })
    }

    /// The open files of a task and the problems met (walked once; a failed walk is tried
    /// again next time, as nothing was kept).
    fn files_walk<'a>(&self, t: &'a Task) -> Result<&'a FilesWalk> {
        if let Some(w) = t.files.get() {
            return Ok(w);
        }
        let w = walk_open_files(&self.space, t.info.pid, t.info.task)?;
        Ok(t.files.get_or_init(|| w))
    }

    /// The task of `pid`.
    fn get(&self, pid: Pid) -> Result<&Task> {
        self.tasks.get(&pid).ok_or(Error::NoSuchProcess(pid))
    }

    /// The containers found: id, process count and pids.
    fn containers(&self) -> Value {
        let mut by_id: BTreeMap<&str, Vec<Pid>> = BTreeMap::new();
        for p in &self.processes {
            if let Some(id) = &p.container_id {
                by_id.entry(id).or_default().push(p.pid);
            }
        }
        Value::Array(
            by_id
                .into_iter()
                .map(|(id, pids)| json!({"id": id, "processes": pids.len(), "pids": pids}))
                .collect(),
        )
    }
}

/// The kernel release and host name from `init_uts_ns`.
fn uts(k: &dyn KernelMemory) -> (Option<String>, Option<String>) {
    let field = |f: &str| -> Option<String> {
        let ns = k.symbol("init_uts_ns").ok()?;
        let name = k.field_addr(ns, "uts_namespace", "name").ok()?;
        let at = k.field_addr(name, "new_utsname", f).ok()?;
        let s = k.read_cstr(at, 65).ok()?;
        (!s.is_empty()).then(|| String::from_utf8_lossy(&s).into_owned())
    };
    (field("release"), field("nodename"))
}
