//! [`KernelDump`]: a Linux memory dump with its ISF, as [`Evidence`].
//!
//! Opening maps the file (lazily), picks the ISF, finds and checks the kernel layout
//! (see [`kaslr`]), walks the task list once and keeps the
//! (small) process model. Memory is read on demand through the page tables.

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::sync::atomic::AtomicBool;

use regex::bytes::Regex;
use serde_json::{Map, Value, json};

use crate::engine::capability::PhysicalSpace;
use crate::engine::checkpoint::tasks::split_nul;
use crate::engine::error::{Error, Result};
use crate::engine::evidence::{
    Evidence, EvidenceInfo, EvidenceKind, OpenFile, PartialRead, Pid, Process, Slices, Vma, Walk,
};
use crate::engine::kernel::addr::{PhysAddr, VirtAddr};
use crate::engine::kernel::cgroup::{container_id, pod_uid};
use crate::engine::kernel::clock::start_clock_epoch_ns;
use crate::engine::kernel::dpath::{PathRef, file_path};
use crate::engine::kernel::files::{FilesWalk, walk_open_files};
use crate::engine::kernel::isf::{CacheDir, SymbolSource};
use crate::engine::kernel::kaslr::{self, KernelLayout};
use crate::engine::kernel::layout_cache;
use crate::engine::kernel::memory::KernelMemory;
use crate::engine::kernel::phys_search::{OwnerProcess, search_with_owners};
use crate::engine::kernel::physical::{PhysicalMemory, open_physical};
use crate::engine::kernel::space::KernelSpace;
use crate::engine::kernel::structs::Structs;
pub use crate::engine::kernel::symbols::missing_isf;
use crate::engine::kernel::symbols::{SymbolFiles, choose_symbols};
use crate::engine::kernel::tasks::{TaskInfo, read_task, task_list};
use crate::engine::kernel::vmas::walk_vmas;
use crate::engine::search::{Sink, Summary};
use crate::engine::time::rfc3339_micros;

/// Longest cmdline or environment block read from a process.
const MAX_ARG_BLOCK: u64 = 256 << 10;
/// Tasks read between two [`release_all`](crate::engine::mapped::release_all)s at open.
const RELEASE_EVERY: usize = 256;

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
        };
        dump.start_epoch_ns = start_clock_epoch_ns(&dump.space);
        let (list, w) = task_list(&dump.space)?;
        warnings.extend(w);
        for (task, read) in read_tasks(&dump.space, &list) {
            match read {
                Ok((info, fs_root)) => {
                    if dump.tasks.contains_key(&info.pid) {
                        warnings.push(format!("task at {task:#x}: pid {} listed twice", info.pid));
                        continue;
                    }
                    let root = dump.root_of(&info);
                    let task = Task {
                        info,
                        root,
                        fs_root,
                        maps: OnceLock::new(),
                        files: OnceLock::new(),
                    };
                    dump.tasks.insert(task.info.pid, task);
                }
                Err(e) => warnings.push(format!("task at {task:#x}: {e}")),
            }
        }
        dump.processes = dump.tasks.values().map(|t| dump.process_of(t)).collect();
        tracing::debug!(
            processes = dump.processes.len(),
            warnings = warnings.len(),
            "task list walked"
        );
        dump.warnings = warnings;
        // The walk read task structures all over the dump: leave none of their pages
        // resident (what is read next faults its own pages in).
        crate::engine::mapped::release_all();
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

    /// The model of one process.
    fn process_of(&self, t: &Task) -> Process {
        let i = &t.info;
        let cmdline = match &i.args {
            Some(r) if !i.kernel_thread => split_nul(&self.read_block(t, r)),
            _ => Vec::new(),
        };
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
            exe: self.exe_of(t),
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
            let mut w = match walk_vmas(&self.space, t.info.mm, t.fs_root) {
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

/// `task->fs->root`, when the task has a `fs_struct`.
/// One task as read: its facts and its root folder.
type TaskRead = Result<(TaskInfo, Option<PathRef>)>;

/// Reads every task of the list (its facts and its root folder), on every core for long
/// lists (a node's thousands of tasks: each read decodes scattered pages, AVML chunks), in
/// list order.
fn read_tasks(k: &KernelSpace, list: &[u64]) -> Vec<(u64, TaskRead)> {
    let one = |(i, &task): (usize, &u64)| {
        if i % RELEASE_EVERY == RELEASE_EVERY - 1 {
            // Task structures lie all over the dump: keep few of their pages resident.
            crate::engine::mapped::release_all();
        }
        (
            task,
            read_task(k, task).map(|info| (info, fs_root(k, task))),
        )
    };
    let threads = crate::engine::search::threads();
    if threads < 2 || list.len() < 128 {
        return list.iter().enumerate().map(one).collect();
    }
    let per = list.len().div_ceil(threads);
    std::thread::scope(|s| {
        let parts: Vec<_> = list
            .chunks(per)
            .map(|part| s.spawn(move || part.iter().enumerate().map(one).collect::<Vec<_>>()))
            .collect();
        parts
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
            .collect()
    })
}

fn fs_root(k: &dyn KernelMemory, task: u64) -> Option<PathRef> {
    let fs = k.read_field_u64(task, "task_struct", "fs").ok()?;
    if fs == 0 {
        return None;
    }
    PathRef::read(k, k.field_addr(fs, "fs_struct", "root").ok()?).ok()
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

impl Evidence for KernelDump {
    fn info(&self) -> EvidenceInfo {
        let layout = self.layout();
        let phys = self.space.phys();
        let isf = self.space.isf();
        let mut d = Map::new();
        d.insert("banner".into(), json!(self.banner));
        d.insert("kernel_release".into(), json!(self.release));
        d.insert("hostname".into(), json!(self.hostname));
        d.insert(
            "kaslr".into(),
            json!({
                "virtual_shift": format!("{:#x}", layout.virtual_shift),
                "physical_shift": format!("{:#x}", layout.physical_shift),
                "dtb": format!("{:#x}", layout.dtb),
                "five_level_paging": layout.la57,
                "found_by": layout.source.describe(),
            }),
        );
        d.insert("source_format".into(), json!(phys.format()));
        d.insert(
            "physical_ranges".into(),
            Value::Array(
                phys.ranges()
                    .iter()
                    .map(|r| json!({"start": format!("{:#x}", r.start), "end": format!("{:#x}", r.end)}))
                    .collect(),
            ),
        );
        match isf.source() {
            SymbolSource::IsfFile => {
                d.insert(
                    "isf".into(),
                    json!({"path": isf.path().display().to_string(), "from_cache": isf.from_cache()}),
                );
                d.insert(
                    "symbols".into(),
                    json!({"source": "isf", "path": isf.path().display().to_string(),
                           "from_cache": isf.from_cache(), "chosen": self.symbols_matched}),
                );
            }
            SymbolSource::Vmlinux { path, system_map } => {
                d.insert(
                    "symbols".into(),
                    json!({"source": "vmlinux", "path": path.display().to_string(),
                           "system_map": system_map.as_ref().map(|p| p.display().to_string()),
                           "types": isf.user_type_count(), "symbols": isf.symbol_count(),
                           "chosen": self.symbols_matched}),
                );
            }
            SymbolSource::DumpBtf {
                btf_at,
                btf_len,
                from_cache,
            } => {
                d.insert(
                    "symbols".into(),
                    json!({"source": "btf+kallsyms", "btf_physical": format!("{btf_at:#x}"),
                           "btf_bytes": btf_len, "from_cache": from_cache,
                           "types": isf.user_type_count(), "symbols": isf.symbol_count(),
                           "chosen": self.symbols_matched}),
                );
            }
        }
        d.insert("processes".into(), json!(self.processes.len()));
        d.insert("containers".into(), self.containers());
        let title = match (&self.release, &self.hostname) {
            (Some(r), Some(h)) => format!("Linux {r} on {h}"),
            (Some(r), None) => format!("Linux {r}"),
            _ => "Linux kernel memory dump".to_string(),
        };
        EvidenceInfo {
            path: self.path.clone(),
            kind: EvidenceKind::KernelDump,
            format: phys.format().to_string(),
            size: self.size,
            engine: None,
            title,
            details: d,
            warnings: self.warnings.clone(),
        }
    }

    fn processes(&self) -> Result<Vec<Process>> {
        Ok(self.processes.clone())
    }

    fn maps(&self, pid: Pid) -> Result<Walk<Vma>> {
        Ok(self.maps_walk(self.get(pid)?).clone())
    }

    fn environment(&self, pid: Pid) -> Result<Vec<String>> {
        let task = self.get(pid)?;
        Ok(match &task.info.env {
            Some(r) if !task.info.kernel_thread => split_nul(&self.read_block(task, r)),
            _ => Vec::new(),
        })
    }

    fn files(&self, pid: Pid) -> Result<Walk<OpenFile>> {
        Ok(self.files_walk(self.get(pid)?)?.clone())
    }

    fn read_memory(&self, pid: Pid, addr: u64, buf: &mut [u8]) -> Result<PartialRead> {
        let task = self.get(pid)?;
        match task.root {
            Some(root) => self.space.read_user(root, VirtAddr(addr), buf),
            None => {
                buf.fill(0);
                Ok(PartialRead::default())
            }
        }
    }

    fn memory_slice(&self, pid: Pid, addr: u64, len: usize) -> Option<&[u8]> {
        let root = self.tasks.get(&pid)?.root?;
        let last = addr.checked_add(len.checked_sub(1)? as u64)?;
        if addr >> 12 != last >> 12 {
            return None; // pages are not contiguous in physical memory
        }
        let t = self
            .space
            .paging()
            .translate(self.space.phys(), root, VirtAddr(addr))
            .ok()??;
        self.space.phys().slice(t.phys.get(), len)
    }

    fn physical(&self) -> Option<&dyn PhysicalSpace> {
        Some(self)
    }

    fn captured_slices(&self, pid: Pid, range: Range<u64>) -> Result<Option<Slices<'_>>> {
        let task = self.get(pid)?;
        let Some(root) = task.root else {
            return Ok(Some(Vec::new()));
        };
        let maps = self.maps_of(task);
        let areas: Vec<Range<u64>> = if maps.is_empty() {
            vec![range]
        } else {
            maps.iter()
                .map(|v| v.start.max(range.start)..v.end.min(range.end))
                .filter(|r| r.start < r.end)
                .collect()
        };
        self.space.user_slices(root, &areas)
    }

    fn captured_ranges(&self, pid: Pid, range: Range<u64>) -> Result<Vec<Range<u64>>> {
        let task = self.get(pid)?;
        let Some(root) = task.root else {
            return Ok(Vec::new());
        };
        let maps = self.maps_of(task);
        if maps.is_empty() {
            return self.space.user_captured(root, range);
        }
        let mut out: Vec<Range<u64>> = Vec::new();
        for v in maps {
            let lo = v.start.max(range.start);
            let hi = v.end.min(range.end);
            if lo >= hi {
                continue;
            }
            for r in self.space.user_captured(root, lo..hi)? {
                match out.last_mut() {
                    Some(last) if last.end == r.start => last.end = r.end,
                    _ => out.push(r),
                }
            }
        }
        Ok(out)
    }
}

impl PhysicalSpace for KernelDump {
    fn ranges(&self) -> Vec<Range<u64>> {
        self.space.phys().ranges().to_vec()
    }

    fn search(&self, regex: &Regex, cancel: &AtomicBool, sink: &mut dyn Sink) -> Result<Summary> {
        let procs = self
            .tasks
            .values()
            .filter(|t| !t.info.kernel_thread)
            .filter_map(|t| {
                Some(OwnerProcess {
                    pid: t.info.pid,
                    comm: t.info.comm.clone(),
                    root: t.root?,
                })
            })
            .collect();
        search_with_owners(&self.space, procs, regex, cancel, sink)
    }
}
