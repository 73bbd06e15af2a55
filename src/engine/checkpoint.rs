//! The CRIU container checkpoint back end: archive access, CRIU image decoding, the page
//! index, and the [`Checkpoint`] type that implements [`crate::engine::Evidence`].

pub mod archive;
pub mod container;
pub mod fds;
pub mod ghost;
pub mod image;
pub mod memory;
pub mod mounts;
pub mod pagemap;
pub mod proto;
pub mod rootfs;
pub mod saved;
pub mod sockq;
pub mod tasks;
pub mod unpacked;

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::Path;

use serde_json::{Map, Value, json};

use crate::engine::capability::ContainerFs;
use crate::engine::checkpoint::archive::Archive;
use crate::engine::checkpoint::container::{ContainerMeta, read_container_meta};
use crate::engine::checkpoint::fds::FileTable;
use crate::engine::checkpoint::image::{decode_first, magic};
use crate::engine::checkpoint::memory::{Piece, ProcessMemory, split};
use crate::engine::checkpoint::rootfs::RootfsDiff;
use crate::engine::checkpoint::tasks::{
    Task, is_dead, process_of, read_pstree, read_task, split_nul, vmas_of,
};
use crate::engine::error::{Error, Result};
use crate::engine::evidence::{
    Evidence, EvidenceInfo, EvidenceKind, FileEntry, OpenFile, PartialRead, Pid, Process, Vma, Walk,
};
use crate::engine::page_source::{Absence, Cover, PageSource, SourcedRange};

/// Longest cmdline or environment block read from memory.
const MAX_ARG_BLOCK: u64 = 1 << 20;

/// A CRIU checkpoint opened for analysis.
#[derive(Debug)]
pub struct Checkpoint {
    archive: Archive,
    tasks: BTreeMap<Pid, Task>,
    shmem: BTreeMap<u64, ProcessMemory>,
    processes: Vec<Process>,
    maps: BTreeMap<Pid, Vec<Vma>>,
    files: FileTable,
    meta: ContainerMeta,
    rootfs: Option<RootfsDiff>,
    /// The container's mounts (images joined with the spec).
    mounts: Vec<crate::engine::evidence::Mount>,
    details: Map<String, Value>,
    warnings: Vec<String>,
}

impl Checkpoint {
    /// Opens a checkpoint archive, extracted folder or CRIU images folder.
    pub fn open(path: &Path) -> Result<Checkpoint> {
        Self::from_archive(Archive::open(path)?)
    }

    /// Builds the model of an opened archive.
    pub fn from_archive(archive: Archive) -> Result<Checkpoint> {
        let mut problems: Vec<Error> = Vec::new();
        let mut warnings: Vec<String> = archive.warnings().to_vec();
        if archive.image("inventory.img").is_none() && archive.image("pstree.img").is_none() {
            let mut reason =
                "no CRIU images (checkpoint/inventory.img, checkpoint/pstree.img) found"
                    .to_string();
            if let Some(why) = archive.stopped_early() {
                reason = format!("{reason}: {why}");
            }
            return Err(Error::Unrecognised {
                path: archive.path().to_path_buf(),
                reason,
            });
        }
        let tree = read_pstree(&archive, &mut problems)?;
        let mut files = FileTable::read(&archive, &mut problems);
        // Files deleted while open: their descriptors say `(deleted)`, their bytes are in
        // ghost images.
        let ghosts = ghost::read_ghosts(&archive, &mut warnings);
        files.mark_deleted(ghosts.by_file.keys().copied());
        files.load_queues(&archive, &mut warnings);
        let mut tasks = BTreeMap::new();
        for entry in tree {
            let pid = entry.pid;
            if tasks.contains_key(&pid) {
                warnings.push(format!(
                    "pstree.img: pid {pid} listed twice; the first is kept"
                ));
                continue;
            }
            tasks.insert(pid, read_task(&archive, entry, &mut problems));
        }
        // Shared memfd mappings (CRIU 4 dumps shared anonymous memory as memfds too): their
        // pages are in the memfd's shared-memory object.
        for task in tasks.values_mut() {
            tasks::add_memfd_windows(task, &|id| {
                files.memfd_of(id).map(|(_, m)| u64::from(m.shmid))
            });
        }
        let mut shmem = BTreeMap::new();
        let memfd_shmids = files.memfds().values().map(|m| u64::from(m.shmid));
        let mapped = tasks.values().flat_map(|t| t.shmem.iter().map(|w| w.shmid));
        for shmid in mapped.chain(memfd_shmids) {
            if !shmem.contains_key(&shmid)
                && let Some(memory) = tasks::read_shmem(&archive, shmid, &mut problems)
            {
                shmem.insert(shmid, memory);
            }
        }
        saved::keep_memfd_heads(&archive, &shmem, &mut files);
        let mut maps = BTreeMap::new();
        let mut processes = Vec::new();
        for (pid, task) in &tasks {
            let name_of = |id: u64| u32::try_from(id).ok().and_then(|id| files.path_of(id));
            let vmas = task
                .mm
                .as_ref()
                .map(|mm| vmas_of(mm, &name_of))
                .unwrap_or_default();
            maps.insert(*pid, vmas);
            let exe = task
                .mm
                .as_ref()
                .and_then(|mm| files.path_of(mm.exe_file_id));
            processes.push(process_of(task, exe));
        }
        let (meta, meta_warnings) = read_container_meta(&archive);
        warnings.extend(meta_warnings);
        let mut rootfs = archive.get("rootfs-diff.tar").map(|tar| {
            let (diff, w) = RootfsDiff::parse("rootfs-diff.tar", tar, archive.get("deleted.files"));
            warnings.extend(w);
            diff
        });
        // What the memory-backed mounts held, under their mount points.
        let mounts = mounts::read_mounts(&archive, &mut warnings);
        let mut memory_fs = rootfs
            .take()
            .unwrap_or_else(|| RootfsDiff::empty("rootfs-diff.tar"));
        let before = memory_fs.layer_count();
        mounts::add_memory_layers(&archive, &mounts, &mut memory_fs, &mut warnings);
        ghost::add_ghost_files(&files, ghosts, &mut memory_fs);
        if archive.get("rootfs-diff.tar").is_some() || memory_fs.layer_count() > before {
            rootfs = Some(memory_fs);
        }
        let spec: Option<Value> = archive
            .get("spec.dump")
            .and_then(|b| serde_json::from_slice(b).ok());
        let mounts = mounts::mount_list(&archive, &mounts, spec.as_ref());
        let mut ck = Checkpoint {
            archive,
            tasks,
            shmem,
            processes,
            maps,
            files,
            meta,
            rootfs,
            mounts,
            details: Map::new(),
            warnings,
        };
        let cmdlines: Vec<Vec<String>> = ck
            .processes
            .iter()
            .map(|p| match ck.tasks.get(&p.pid).and_then(|t| t.mm.as_ref()) {
                Some(mm) => split_nul(&ck.read_block(p.pid, mm.mm_arg_start, mm.mm_arg_end)),
                None => Vec::new(),
            })
            .collect();
        let container_id = ck.meta.id.clone();
        for (p, cmdline) in ck.processes.iter_mut().zip(cmdlines) {
            p.cmdline = cmdline;
            p.container_id = container_id.clone();
        }
        ck.details = ck.build_details(&mut problems);
        ck.warnings.extend(problems.iter().map(ToString::to_string));
        Ok(ck)
    }

    /// Reads a NUL-separated block (cmdline, environ) from captured memory, bounded.
    fn read_block(&self, pid: Pid, start: u64, end: u64) -> Vec<u8> {
        let len = end.saturating_sub(start).min(MAX_ARG_BLOCK) as usize;
        let mut buf = vec![0u8; len];
        match self.read_memory(pid, start, &mut buf) {
            Ok(got) if got.captured_len() > 0 => buf,
            _ => Vec::new(),
        }
    }

    /// The container metadata.
    pub fn container(&self) -> &ContainerMeta {
        &self.meta
    }

    /// The underlying archive.
    pub fn archive(&self) -> &Archive {
        &self.archive
    }

    fn build_details(&self, problems: &mut Vec<Error>) -> Map<String, Value> {
        let mut d = Map::new();
        if let Ok(Value::Object(m)) = serde_json::to_value(&self.meta) {
            d.insert("container".into(), Value::Object(m));
        }
        let ar = &self.archive;
        if let Some(data) = ar.image("inventory.img") {
            match decode_first::<proto::InventoryEntry>(
                &ar.display_name("checkpoint/inventory.img"),
                data,
                magic::INVENTORY,
                "inventory",
            ) {
                Ok((inv, err)) => {
                    problems.extend(err);
                    d.insert(
                        "criu".into(),
                        json!({
                            "img_version": inv.img_version,
                            "dump_uptime_us": inv.dump_uptime,
                            "pre_dump_mode": inv.pre_dump_mode,
                            "tcp_close": inv.tcp_close,
                            "lsmtype": inv.lsmtype,
                        }),
                    );
                }
                Err(e) => problems.push(e),
            }
        }
        if let Some(data) = ar.get("stats-dump") {
            match decode_first::<proto::StatsEntry>(
                &ar.display_name("stats-dump"),
                data,
                magic::STATS,
                "stats",
            ) {
                Ok((stats, err)) => {
                    problems.extend(err);
                    if let Some(s) = stats.dump {
                        d.insert("dump_stats".into(), stats_json(&s));
                    }
                }
                Err(e) => problems.push(e),
            }
        }
        let hostnames: Vec<Value> = ar
            .image_names()
            .filter(|n| n.starts_with("utsns-"))
            .filter_map(|n| {
                let (u, _) = decode_first::<proto::UtsnsEntry>(n, ar.image(n)?, magic::UTSNS, "utsns").ok()?;
                Some(json!({"nodename": String::from_utf8_lossy(&u.nodename), "domainname": String::from_utf8_lossy(&u.domainname)}))
            })
            .collect();
        if !hostnames.is_empty() {
            d.insert("uts".into(), Value::Array(hostnames));
        }
        let pages: u64 = self
            .tasks
            .values()
            .map(|t| t.memory.index.present_pages())
            .sum();
        // The architecture the tasks ran on (every task of a dump has the same).
        let arch =
            self.tasks.values().find_map(|t| t.core.as_ref()).map(
                |c| match proto::March::try_from(c.mtype) {
                    Ok(m) => format!("{m:?}").to_lowercase().replace("x86_64", "x86-64"),
                    Err(_) => format!("unknown ({})", c.mtype),
                },
            );
        d.insert(
            "summary".into(),
            json!({
                "architecture": arch,
                "processes": self.processes.len(),
                "threads": self.processes.iter().map(|p| p.threads.len()).sum::<usize>(),
                "captured_pages": pages,
                "captured_bytes": pages * pagemap::PAGE_SIZE,
                "images": ar.image_names().count(),
                "rootfs_diff_entries": self.rootfs.as_ref().map(|r| r.entries().len()),
            }),
        );
        d
    }

    fn task(&self, pid: Pid) -> Result<&Task> {
        self.tasks.get(&pid).ok_or(Error::NoSuchProcess(pid))
    }

    /// Whether `pid` is a dead task (a zombie: no memory, no files in the images).
    fn is_dead(&self, pid: Pid) -> bool {
        self.tasks
            .get(&pid)
            .and_then(|t| t.core.as_ref()?.tc.as_ref())
            .is_some_and(|tc| is_dead(tc.task_state))
    }
}

/// The empty walk of a dead task's memory or files, saying why it is empty.
fn dead_walk<T>(pid: Pid, what: &str) -> Walk<T> {
    Walk {
        items: Vec::new(),
        problems: vec![format!(
            "pid {pid} is a dead task (a zombie: exited, not reaped): CRIU saves no {what} for it"
        )],
    }
}

fn stats_json(s: &proto::DumpStatsEntry) -> Value {
    json!({
        "freezing_time_us": s.freezing_time,
        "frozen_time_us": s.frozen_time,
        "memdump_time_us": s.memdump_time,
        "memwrite_time_us": s.memwrite_time,
        "pages_scanned": s.pages_scanned,
        "pages_skipped_parent": s.pages_skipped_parent,
        "pages_written": s.pages_written,
        "pages_lazy": s.pages_lazy,
        "irmap_resolve": s.irmap_resolve,
        "page_pipes": s.page_pipes,
        "page_pipe_bufs": s.page_pipe_bufs,
        "shpages_scanned": s.shpages_scanned,
        "shpages_skipped_parent": s.shpages_skipped_parent,
        "shpages_written": s.shpages_written,
    })
}

impl Evidence for Checkpoint {
    fn info(&self) -> EvidenceInfo {
        EvidenceInfo {
            path: self.archive.path().to_path_buf(),
            kind: EvidenceKind::Checkpoint,
            format: self.archive.format().to_string(),
            size: self.archive.size(),
            engine: self.meta.engine.clone(),
            title: self.meta.title(),
            details: self.details.clone(),
            warnings: self.warnings.clone(),
        }
    }

    fn processes(&self) -> Result<Vec<Process>> {
        Ok(self.processes.clone())
    }

    fn maps(&self, pid: Pid) -> Result<Walk<Vma>> {
        if self.is_dead(pid) {
            return Ok(dead_walk(pid, "memory"));
        }
        self.maps
            .get(&pid)
            .cloned()
            .map(Walk::complete)
            .ok_or(Error::NoSuchProcess(pid))
    }

    fn environment(&self, pid: Pid) -> Result<Vec<String>> {
        let task = self.task(pid)?;
        Ok(match &task.mm {
            Some(mm) => split_nul(&self.read_block(pid, mm.mm_env_start, mm.mm_env_end)),
            None => Vec::new(),
        })
    }

    fn files(&self, pid: Pid) -> Result<Walk<OpenFile>> {
        let task = self.task(pid)?;
        if self.is_dead(pid) {
            return Ok(dead_walk(pid, "open files"));
        }
        Ok(self.files.open_files(&self.archive, task))
    }

    fn read_memory(&self, pid: Pid, addr: u64, buf: &mut [u8]) -> Result<PartialRead> {
        let task = self.task(pid)?;
        let end = addr.saturating_add(buf.len() as u64);
        let buf = buf.get_mut(..(end - addr) as usize).unwrap_or_default();
        let mut out = PartialRead::default();
        for piece in split(&task.shmem, addr..end) {
            let (range, memory, at) = match &piece {
                Piece::Private(r) => (r.clone(), Some(&task.memory), r.start),
                Piece::Shmem {
                    range,
                    shmid,
                    offset,
                } => (range.clone(), self.shmem.get(shmid), *offset),
            };
            let from = (range.start - addr) as usize;
            let to = (range.end - addr) as usize;
            let Some(dst) = buf.get_mut(from..to) else {
                continue;
            };
            let Some(memory) = memory else {
                dst.fill(0);
                continue;
            };
            let pages = |member: &str| self.archive.get(member).unwrap_or_default();
            let got = memory.read_chain(&pages, at, dst);
            for r in got.captured {
                out.push(r.start + from..r.end + from);
            }
        }
        Ok(out)
    }

    fn captured_ranges(&self, pid: Pid, range: Range<u64>) -> Result<Vec<Range<u64>>> {
        let task = self.task(pid)?;
        let mut out: Vec<Range<u64>> = Vec::new();
        for piece in split(&task.shmem, range) {
            let found = match piece {
                Piece::Private(r) => task.memory.captured_chain(r),
                Piece::Shmem {
                    range,
                    shmid,
                    offset,
                } => match self.shmem.get(&shmid) {
                    Some(m) => {
                        let len = range.end - range.start;
                        m.captured_chain(offset..offset.saturating_add(len))
                            .into_iter()
                            .map(|c| c.start - offset + range.start..c.end - offset + range.start)
                            .collect()
                    }
                    None => Vec::new(),
                },
            };
            for r in found {
                match out.last_mut() {
                    Some(last) if last.end == r.start => last.end = r.end,
                    _ => out.push(r),
                }
            }
        }
        Ok(out)
    }

    fn memory_levels(&self, pid: Pid) -> usize {
        let Some(task) = self.tasks.get(&pid) else {
            return 1;
        };
        let depth = |mut m: &ProcessMemory| {
            let mut n = 1;
            while let Some(p) = &m.parent {
                n += 1;
                m = p;
            }
            n
        };
        let shared = task.shmem.iter().filter_map(|w| self.shmem.get(&w.shmid));
        shared.map(depth).fold(depth(&task.memory), usize::max)
    }

    fn memory_sources(&self, pid: Pid, range: Range<u64>) -> Result<Vec<SourcedRange>> {
        let task = self.task(pid)?;
        let mut cover = Cover::default();
        for piece in split(&task.shmem, range) {
            match piece {
                Piece::Private(r) => cover.extend(task.memory.sources(r, 0)),
                Piece::Shmem {
                    range,
                    shmid,
                    offset,
                } => match self.shmem.get(&shmid) {
                    // The object's offsets, back to the mapping's addresses.
                    Some(m) => cover.extend(
                        m.sources(offset..offset.saturating_add(range.end - range.start), 0)
                            .into_iter()
                            .map(|s| SourcedRange {
                                start: s.start - offset + range.start,
                                end: s.end - offset + range.start,
                                source: s.source,
                            }),
                    ),
                    None => cover.push(
                        range,
                        PageSource::NotCaptured {
                            why: Absence::NotDumped,
                        },
                    ),
                },
            }
        }
        Ok(cover.finish())
    }

    fn memory_slice(&self, pid: Pid, addr: u64, len: usize) -> Option<&[u8]> {
        let task = self.tasks.get(&pid)?;
        let end = addr.checked_add(len as u64)?;
        match split(&task.shmem, addr..end).as_slice() {
            [Piece::Private(_)] => {
                let pages = self.archive.get(&task.memory.pages_member)?;
                task.memory.slice(pages, addr, len)
            }
            [Piece::Shmem { shmid, offset, .. }] => {
                let m = self.shmem.get(shmid)?;
                m.slice(self.archive.get(&m.pages_member)?, *offset, len)
            }
            _ => None,
        }
    }

    fn container_fs(&self) -> Option<&dyn ContainerFs> {
        Some(self)
    }

    fn saved_data(&self) -> Option<&dyn crate::engine::capability::SavedData> {
        Some(self)
    }
}

impl ContainerFs for Checkpoint {
    fn entries(&self) -> Result<Vec<FileEntry>> {
        match &self.rootfs {
            Some(r) => Ok(r.entries().to_vec()),
            None if self.archive.stopped_early().is_some() => {
                Err(self.archive.missing("rootfs-diff.tar"))
            }
            None => Err(Error::Missing(
                "rootfs-diff.tar (this checkpoint has no filesystem changes)".into(),
            )),
        }
    }

    fn read_file(&self, path: &str) -> Result<std::borrow::Cow<'_, [u8]>> {
        let Some(r) = &self.rootfs else {
            return Err(self.archive.missing("rootfs-diff.tar"));
        };
        let bytes = r.read_with(&|member| self.archive.get(member), path)?;
        Ok(std::borrow::Cow::Borrowed(bytes))
    }

    fn mounts(&self) -> Vec<crate::engine::evidence::Mount> {
        self.mounts.clone()
    }
}
