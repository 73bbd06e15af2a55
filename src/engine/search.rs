//! Regex search, one engine for every address space.
//!
//! A search is a [`Pattern`] (built once, the same for the CLI and the TUI), a
//! [`Haystack`] (the runs of one address space: a process's captured memory, physical memory,
//! later socket queues or file contents) and a [`Sink`] that receives [`Hit`]s and progress.
//! [`scan`] is the one window/overlap walk over any haystack; [`search`] builds the haystack
//! of processes' captured memory. Physical memory is searched through the evidence's
//! [`PhysicalSpace`](crate::engine::capability::PhysicalSpace) capability.

mod hit;
mod pattern;
mod scan;
mod windows;

use std::ops::Range;
use std::sync::atomic::AtomicBool;

use regex::bytes::Regex;

pub use hit::{Hit, InProcess, PhysOwner, Space};
pub use pattern::{Pattern, SIZE_LIMIT};
pub use scan::{
    Buffers, Collect, Haystack, MAX_MATCH_BYTES, OVERLAP, Sink, Summary, WINDOW, scan, scan_with,
    threads,
};

use crate::engine::error::Result;
use crate::engine::evidence::{Evidence, Pid, Vma};

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
}

impl std::fmt::Debug for ProcessMemory<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProcessMemory")
            .field("procs", &self.procs.len())
            .field("runs", &self.runs.len())
            .finish()
    }
}

impl<'e> ProcessMemory<'e> {
    /// The captured memory of the processes `pids` (all when `None`) of `ev`.
    pub fn new(ev: &'e dyn Evidence, pids: Option<&[Pid]>) -> Result<ProcessMemory<'e>> {
        let mut hay = ProcessMemory {
            ev,
            procs: Vec::new(),
            runs: Vec::new(),
            owner: Vec::new(),
        };
        for p in ev.processes()? {
            if pids.is_some_and(|pids| !pids.contains(&p.pid)) {
                continue;
            }
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
            for run in ev.captured_ranges(p.pid, 0..u64::MAX)? {
                hay.runs.push(run);
                hay.owner.push(hay.procs.len());
            }
            hay.procs.push(Proc {
                pid: p.pid,
                comm: p.comm,
                maps,
            });
        }
        Ok(hay)
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
        if let Some(s) = self.ev.memory_slice(p.pid, addr, len) {
            return Ok(s);
        }
        buf.resize(len, 0);
        self.ev.read_memory(p.pid, addr, buf)?;
        Ok(buf)
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

/// Searches the captured memory of the requested processes.
pub fn search(
    ev: &dyn Evidence,
    req: &SearchRequest,
    cancel: &AtomicBool,
    sink: &mut dyn Sink,
) -> Result<Summary> {
    let hay = ProcessMemory::new(ev, req.pids.as_deref())?;
    scan(&hay, &req.regex, cancel, sink)
}

fn find_vma(maps: &[Vma], addr: u64) -> Option<&Vma> {
    let i = maps.partition_point(|v| v.end <= addr);
    maps.get(i).filter(|v| v.start <= addr)
}
