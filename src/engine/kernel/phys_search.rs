//! Regex search over all of physical memory (freed pages, page cache, kernel buffers and
//! every process at once), as `grep` over the dump would find it but with physical
//! addresses instead of file offsets and only over the ranges the dump holds.
//!
//! The walk is the one of every search ([`crate::engine::search::scan`]) over a
//! [`PhysHaystack`]: adjacent ranges joined, windows that overlap, each match reported once,
//! empty matches skipped, progress and cancel between windows.
//!
//! Which process a hit belongs to is found through an [`OwnerMap`]: the user half of every
//! process's page tables walked once per search, on the first hit, into a sorted table of
//! physical runs (bounded by [`MAX_OWNER_RUNS`]). Pages that no process maps (kernel memory,
//! page cache, freed pages) have no owner.

use std::sync::atomic::AtomicBool;

use regex::bytes::Regex;

use crate::engine::error::Result;
use crate::engine::evidence::Pid;
use crate::engine::kernel::addr::PhysAddr;
pub use crate::engine::kernel::physical::scan::{PhysHaystack, search_physical};
use crate::engine::kernel::space::KernelSpace;
use crate::engine::search::{PhysOwner, Sink, Summary, scan};

/// At most this many (physical run → process) entries are kept by an [`OwnerMap`] (about
/// 32 bytes each); pages beyond are reported without an owner.
pub const MAX_OWNER_RUNS: usize = 1 << 21;

/// A process to look owners up in: pid, name and the physical address of its page-table
/// root.
#[derive(Debug, Clone)]
pub struct OwnerProcess {
    /// Process id.
    pub pid: Pid,
    /// Process name.
    pub comm: String,
    /// Physical address of its top-level page table.
    pub root: PhysAddr,
}

/// One physically contiguous run mapped by a process.
#[derive(Debug, Clone, Copy)]
struct Run {
    phys: u64,
    end: u64,
    virt: u64,
    /// Index into [`OwnerMap::procs`].
    proc: usize,
}

/// Physical address → (process, virtual address), from the processes' page tables.
#[derive(Debug, Default)]
pub struct OwnerMap {
    procs: Vec<OwnerProcess>,
    /// Sorted by `phys`.
    runs: Vec<Run>,
    /// `max_end[i]`: the largest `end` of `runs[..=i]` (runs of different processes overlap).
    max_end: Vec<u64>,
    /// True when [`MAX_OWNER_RUNS`] cut the table.
    pub cut: bool,
}

impl OwnerMap {
    /// Walks the user half of each process's page tables (a process whose tables cannot be
    /// read is left out).
    pub fn build(space: &KernelSpace, mut procs: Vec<OwnerProcess>) -> OwnerMap {
        procs.sort_by_key(|p| p.pid);
        let mut map = OwnerMap::default();
        'procs: for (i, p) in procs.iter().enumerate() {
            let mapped = match space.paging().mapped(space.phys(), p.root, 0..u64::MAX) {
                Ok(mapped) => mapped,
                Err(e) => {
                    tracing::warn!(pid = p.pid, "page tables unreadable, no owner: {e}");
                    continue;
                }
            };
            for (virt, phys) in mapped {
                if map.runs.len() >= MAX_OWNER_RUNS {
                    map.cut = true;
                    break 'procs;
                }
                map.runs.push(Run {
                    phys,
                    end: phys.saturating_add(virt.end - virt.start),
                    virt: virt.start,
                    proc: i,
                });
            }
        }
        // Stable: for equal starts the lower pid stays first.
        map.runs.sort_by_key(|r| r.phys);
        let mut max = 0;
        map.max_end = map
            .runs
            .iter()
            .map(|r| {
                max = max.max(r.end);
                max
            })
            .collect();
        map.procs = procs;
        map
    }

    /// The lowest-pid process that maps physical address `phys`, and where.
    pub fn lookup(&self, phys: u64) -> Option<PhysOwner> {
        let mut i = self.runs.partition_point(|r| r.phys <= phys);
        let mut best: Option<&Run> = None;
        // Walk back over the runs that start at or below `phys` while one may still reach it.
        while i > 0 {
            i -= 1;
            if self.max_end.get(i).is_none_or(|&e| e <= phys) {
                break;
            }
            if let Some(r) = self.runs.get(i)
                && phys < r.end
                && best.is_none_or(|b| r.proc < b.proc)
            {
                best = Some(r);
            }
        }
        let r = best?;
        let p = self.procs.get(r.proc)?;
        Some(PhysOwner {
            pid: p.pid,
            comm: p.comm.clone(),
            address: r.virt + (phys - r.phys),
        })
    }
}

/// [`search_physical`] over `space`'s physical memory, each hit with the process that maps
/// it (the [`OwnerMap`] of `procs` is built on the first hit only).
pub fn search_with_owners(
    space: &KernelSpace,
    procs: Vec<OwnerProcess>,
    regex: &Regex,
    cancel: &AtomicBool,
    sink: &mut dyn Sink,
) -> Result<Summary> {
    let procs = std::sync::Mutex::new(Some(procs));
    let owners: std::sync::OnceLock<OwnerMap> = std::sync::OnceLock::new();
    let lookup = |phys: u64| {
        owners
            .get_or_init(|| {
                let procs = procs
                    .lock()
                    .map(|mut p| p.take())
                    .unwrap_or_default()
                    .unwrap_or_default();
                let map = OwnerMap::build(space, procs);
                if map.cut {
                    tracing::warn!("owner table cut at {MAX_OWNER_RUNS} runs");
                }
                map
            })
            .lookup(phys)
    };
    let hay = PhysHaystack::new(space.phys(), None).with_owners(&lookup);
    scan(&hay, regex, cancel, sink)
}
