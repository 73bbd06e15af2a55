//! Regex search, one engine for every address space.
//!
//! A search is a [`Pattern`] (built once, the same for the CLI and the TUI), a
//! [`Haystack`] (the runs of one address space: a process's captured memory, physical memory,
//! socket queues and file contents a checkpoint saved) and a [`Sink`] that receives [`Hit`]s
//! and progress. [`scan`] is the one window/overlap walk over any haystack; [`search`]
//! builds the haystack of processes' captured memory followed by the bytes a checkpoint
//! saved beyond it. Physical memory is searched through the evidence's
//! [`PhysicalSpace`](crate::engine::capability::PhysicalSpace) capability.

mod hit;
mod pattern;
mod pieces;
mod saved;
mod scan;
mod windows;

use std::ops::Range;
use std::sync::atomic::AtomicBool;

use regex::bytes::Regex;

pub use hit::{Hit, InProcess, PhysOwner, Space};
pub use pattern::{Pattern, SIZE_LIMIT};
pub use saved::{Chain, SavedBytes};
pub use scan::{
    Buffers, Collect, Haystack, MAX_MATCH_BYTES, OVERLAP, Sink, Summary, WINDOW, scan, scan_with,
    threads,
};

use crate::engine::error::Result;
use crate::engine::evidence::{Evidence, Pid, Process, Vma};

/// Processes whose memory areas and page tables are walked between two
/// [`release_all`](crate::engine::mapped::release_all)s while a haystack is built.
const RELEASE_EVERY: usize = 64;

/// What to search for and where, in processes' memory.
#[derive(Debug, Clone)]
pub struct SearchRequest {
    /// The pattern, matched against raw bytes (see [`Pattern::build`]).
    pub regex: Regex,
    /// Only these processes (all when `None`).
    pub pids: Option<Vec<Pid>>,
}

/// One process in a [`ProcessMemory`] haystack.
#[derive(Debug)]
struct Proc {
    pid: Pid,
    comm: String,
    maps: Vec<Vma>,
}

/// The captured memory of some processes as a [`Haystack`]: each contiguous captured run
/// of a process's address space is one run, so a match that spans two adjacent captured
/// pages is found.
pub struct ProcessMemory<'e> {
    ev: &'e dyn Evidence,
    procs: Vec<Proc>,
    /// The runs, and for each the index of its process in `procs`.
    runs: Vec<Range<u64>>,
    owner: Vec<usize>,
    /// For each run, the evidence's bytes that make it up (virtual address, bytes), when the
    /// back end lends them; empty when the run is read through the evidence.
    pieces: Vec<Vec<(u64, &'e [u8])>>,
}

impl std::fmt::Debug for ProcessMemory<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProcessMemory")
            .field("procs", &self.procs.len())
            .field("runs", &self.runs.len())
            .finish()
    }
}

/// What a process's captured memory is made of: bytes the evidence lends, or runs read
/// through it.
enum Captured<'e> {
    Slices(Vec<(u64, &'e [u8])>),
    Runs(Vec<Range<u64>>),
}

impl<'e> ProcessMemory<'e> {
    /// The captured memory of the processes `pids` (all when `None`) of `ev`.
    pub fn new(ev: &'e dyn Evidence, pids: Option<&[Pid]>) -> Result<ProcessMemory<'e>> {
        let mut hay = ProcessMemory {
            ev,
            procs: Vec::new(),
            runs: Vec::new(),
            owner: Vec::new(),
            pieces: Vec::new(),
        };
        let procs: Vec<Process> = ev
            .processes()?
            .into_iter()
            .filter(|p| pids.is_none_or(|pids| pids.contains(&p.pid)))
            .collect();
        // Memory areas and page tables of each process, on every core (page tables all
        // over the dump: their pages are not kept resident).
        let gathered = crate::engine::par::map_ordered(&procs, 8, Some(RELEASE_EVERY), |p| {
            let maps = match ev.maps(p.pid) {
                Ok(walk) => {
                    if !walk.is_complete() {
                        tracing::debug!(pid = p.pid, "search with damaged memory areas");
                    }
                    walk.into_items()
                }
                Err(e) => {
                    // Still searched; its hits just name no mapping.
                    tracing::warn!(pid = p.pid, "search without memory areas: {e}");
                    Vec::new()
                }
            };
            let memory = match ev.captured_slices(p.pid, 0..u64::MAX) {
                Ok(Some(slices)) => Ok(Captured::Slices(slices)),
                Ok(None) => ev.captured_ranges(p.pid, 0..u64::MAX).map(Captured::Runs),
                Err(e) => Err(e),
            };
            (maps, memory)
        });
        for (p, (maps, memory)) in procs.into_iter().zip(gathered) {
            match memory? {
                Captured::Slices(slices) => hay.add_slices(slices),
                Captured::Runs(runs) => {
                    for run in runs {
                        hay.runs.push(run);
                        hay.owner.push(hay.procs.len());
                        hay.pieces.push(Vec::new());
                    }
                }
            }
            hay.procs.push(Proc {
                pid: p.pid,
                comm: p.comm,
                maps,
            });
        }
        crate::engine::mapped::release_all();
        let pieces: Vec<usize> = hay.pieces.iter().flatten().map(|(_, b)| b.len()).collect();
        tracing::debug!(
            processes = hay.procs.len(),
            runs = hay.runs.len(),
            pieces = pieces.len(),
            pieces_of_64k_or_more = pieces.iter().filter(|&&n| n >= 64 << 10).count(),
            bytes_in_them = pieces.iter().filter(|&&n| n >= 64 << 10).sum::<usize>(),
            "process memory to search"
        );
        Ok(hay)
    }

    /// Adds the runs of the next process from its borrowed pieces: adjacent pieces make
    /// one run (as [`Evidence::captured_ranges`] coalesces them).
    fn add_slices(&mut self, slices: Vec<(u64, &'e [u8])>) {
        for (at, bytes) in slices {
            let end = at.saturating_add(bytes.len() as u64);
            let joins = self.owner.last() == Some(&self.procs.len())
                && self.runs.last().is_some_and(|r| r.end == at);
            match (joins, self.runs.last_mut(), self.pieces.last_mut()) {
                (true, Some(run), Some(pieces)) => {
                    run.end = end;
                    pieces.push((at, bytes));
                }
                _ => {
                    self.runs.push(at..end);
                    self.owner.push(self.procs.len());
                    self.pieces.push(vec![(at, bytes)]);
                }
            }
        }
    }

    /// `len` bytes at `addr` of run `run` from its pieces: borrowed when one piece holds
    /// them, else copied into `buf` (`Ok(None)`, the pieces' pages then dropped from the
    /// resident set); `Err(())` when the run has no pieces or they fall short.
    fn read_pieces(
        &self,
        run: usize,
        addr: u64,
        len: usize,
        buf: &mut Vec<u8>,
    ) -> std::result::Result<Option<&'e [u8]>, ()> {
        let pieces = self.pieces.get(run).ok_or(())?;
        let mut i = pieces.partition_point(|(at, b)| at.saturating_add(b.len() as u64) <= addr);
        let &(at, bytes) = pieces.get(i).ok_or(())?;
        let from = addr
            .checked_sub(at)
            .and_then(|n| usize::try_from(n).ok())
            .ok_or(())?;
        let rest = bytes.get(from..).ok_or(())?;
        if let Some(s) = rest.get(..len) {
            return Ok(Some(s));
        }
        buf.clear();
        buf.extend_from_slice(rest);
        crate::engine::mapped::release(rest);
        while buf.len() < len {
            i += 1;
            let &(_, bytes) = pieces.get(i).ok_or(())?;
            let want = len - buf.len();
            let part = bytes.get(..want).unwrap_or(bytes);
            buf.extend_from_slice(part);
            crate::engine::mapped::release(part);
        }
        Ok(None)
    }

    fn proc_of(&self, run: usize) -> Option<&Proc> {
        self.procs.get(*self.owner.get(run)?)
    }
}

impl Haystack for ProcessMemory<'_> {
    fn runs(&self) -> &[Range<u64>] {
        &self.runs
    }

    fn read<'a>(
        &'a self,
        run: usize,
        addr: u64,
        len: usize,
        buf: &'a mut Vec<u8>,
    ) -> Result<&'a [u8]> {
        let Some(p) = self.proc_of(run) else {
            return Ok(&[]);
        };
        if self.pieces.get(run).is_some_and(|v| !v.is_empty()) {
            match self.read_pieces(run, addr, len, buf) {
                Ok(Some(s)) => return Ok(s),
                Ok(None) => return Ok(buf),
                Err(()) => {}
            }
        } else if let Some(s) = self.ev.memory_slice(p.pid, addr, len) {
            return Ok(s);
        }
        buf.resize(len, 0);
        self.ev.read_memory(p.pid, addr, buf)?;
        Ok(buf)
    }

    fn pieces<'a>(&'a self, run: usize, addr: u64, len: usize, out: &mut Vec<&'a [u8]>) -> bool {
        let Some(pieces) = self.pieces.get(run).filter(|v| !v.is_empty()) else {
            return false;
        };
        let Some(end) = addr.checked_add(len as u64) else {
            return false;
        };
        let mut i = pieces.partition_point(|(at, b)| at.saturating_add(b.len() as u64) <= addr);
        let mut at = addr;
        while at < end {
            let Some(&(start, bytes)) = pieces.get(i).filter(|(start, _)| *start <= at) else {
                return false;
            };
            let lo = usize::try_from(at - start).unwrap_or(usize::MAX);
            let upto = end.min(start.saturating_add(bytes.len() as u64));
            let hi = usize::try_from(upto - start).unwrap_or(usize::MAX);
            let Some(part) = bytes.get(lo..hi) else {
                return false;
            };
            out.push(part);
            at = upto;
            i += 1;
        }
        true
    }

    fn space(&self, run: usize, address: u64) -> Space {
        let Some(p) = self.proc_of(run) else {
            // Not reached: `new` records every run with its process.
            return Space::Physical { owner: None };
        };
        let vma = find_vma(&p.maps, address);
        Space::Process(InProcess {
            pid: p.pid,
            comm: p.comm.clone(),
            vma_start: vma.map(|v| v.start),
            vma_perms: vma.map(|v| v.perms),
            path: vma.and_then(|v| v.path.clone()),
        })
    }
}

/// Searches the captured memory of the requested processes, then the bytes the evidence
/// saved beyond memory that they held (socket queues, files deleted while open, memfds:
/// hits in [`Space::Saved`]).
pub fn search(
    ev: &dyn Evidence,
    req: &SearchRequest,
    cancel: &AtomicBool,
    sink: &mut dyn Sink,
) -> Result<Summary> {
    let hay = ProcessMemory::new(ev, req.pids.as_deref())?;
    let saved = SavedBytes::of(ev, req.pids.as_deref());
    if saved.is_empty() {
        return scan(&hay, &req.regex, cancel, sink);
    }
    scan(&Chain::new(&hay, &saved), &req.regex, cancel, sink)
}

fn find_vma(maps: &[Vma], addr: u64) -> Option<&Vma> {
    let i = maps.partition_point(|v| v.end <= addr);
    maps.get(i).filter(|v| v.start <= addr)
}
