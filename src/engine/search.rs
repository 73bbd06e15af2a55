//! Regex search over processes' captured memory, shared by every back end.
//!
//! Each contiguous captured run of a process's address space is searched as one haystack,
//! so a match that spans two adjacent captured pages is found. Long runs are searched in
//! windows that overlap by [`OVERLAP`] bytes; a match is reported once, by the window it
//! starts in, so none is lost or doubled at a window edge (matches longer than the overlap
//! that straddle a window edge may be cut to the overlap). Hits are pushed into a [`Sink`]
//! that can stop the search; a cancel flag is checked between windows.

use std::ops::Range;
use std::sync::atomic::{AtomicBool, Ordering};

use regex::bytes::Regex;
use serde::Serialize;

use crate::engine::error::Result;
use crate::engine::evidence::{Evidence, Perms, Pid, Vma, hex};

/// Bytes searched per window.
pub const WINDOW: usize = 8 << 20;
/// Overlap between windows: the longest match guaranteed across a window edge.
pub const OVERLAP: usize = 64 << 10;
/// At most this many bytes of a match are kept in a [`Hit`].
pub const MAX_MATCH_BYTES: usize = 4096;

/// What to search for and where.
#[derive(Debug, Clone)]
pub struct SearchRequest {
    /// The pattern, matched against raw bytes.
    pub regex: Regex,
    /// Only these processes (all when `None`).
    pub pids: Option<Vec<Pid>>,
}

/// One match.
#[derive(Debug, Clone, Serialize)]
pub struct Hit {
    /// Process.
    pub pid: Pid,
    /// Process name.
    pub comm: String,
    /// Virtual address of the first matched byte.
    #[serde(serialize_with = "hex::u64")]
    pub address: u64,
    /// Start of the VMA holding the match, if any.
    #[serde(serialize_with = "hex::opt_u64")]
    pub vma_start: Option<u64>,
    /// Permissions of that VMA.
    pub vma_perms: Option<Perms>,
    /// Backing path of that VMA.
    pub path: Option<String>,
    /// Length of the match in bytes.
    pub len: usize,
    /// The matched bytes (at most [`MAX_MATCH_BYTES`]).
    #[serde(skip)]
    pub bytes: Vec<u8>,
}

/// Receives hits and progress. Returning `false` from [`Sink::hit`] stops the search.
pub trait Sink {
    /// A match was found; return `false` to stop.
    fn hit(&mut self, hit: Hit) -> bool;
    /// `done` of `total` bytes searched so far.
    fn progress(&mut self, _done: u64, _total: u64) {}
}

/// A sink that collects hits into a vector, up to a limit.
#[derive(Debug, Default)]
pub struct Collect {
    /// Hits so far.
    pub hits: Vec<Hit>,
    /// Stop after this many hits.
    pub limit: Option<usize>,
}

impl Sink for Collect {
    fn hit(&mut self, hit: Hit) -> bool {
        self.hits.push(hit);
        self.limit.is_none_or(|l| self.hits.len() < l)
    }
}

/// How a search ended.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Summary {
    /// Hits delivered.
    pub hits: u64,
    /// Captured bytes searched.
    pub bytes: u64,
    /// Captured bytes in scope.
    pub total: u64,
    /// True if the cancel flag or the sink stopped it.
    pub stopped: bool,
}

struct Job<'a> {
    pid: Pid,
    comm: &'a str,
    run: Range<u64>,
}

/// Searches the captured memory of the requested processes.
pub fn search(
    ev: &dyn Evidence,
    req: &SearchRequest,
    cancel: &AtomicBool,
    sink: &mut dyn Sink,
) -> Result<Summary> {
    let procs = ev.processes()?;
    let mut plan: Vec<(Job<'_>, std::sync::Arc<Vec<Vma>>)> = Vec::new();
    let mut summary = Summary::default();
    for p in &procs {
        if req.pids.as_ref().is_some_and(|pids| !pids.contains(&p.pid)) {
            continue;
        }
        let maps = std::sync::Arc::new(ev.maps(p.pid).unwrap_or_default());
        for run in ev.captured_ranges(p.pid, 0..u64::MAX)? {
            summary.total += run.end - run.start;
            plan.push((
                Job {
                    pid: p.pid,
                    comm: &p.comm,
                    run,
                },
                maps.clone(),
            ));
        }
    }
    let mut buf = Vec::new();
    for (job, maps) in &plan {
        let mut pos = job.run.start;
        while pos < job.run.end {
            if cancel.load(Ordering::Relaxed) {
                summary.stopped = true;
                return Ok(summary);
            }
            let win_end = pos
                .saturating_add((WINDOW + OVERLAP) as u64)
                .min(job.run.end);
            let len = (win_end - pos) as usize;
            let hay: &[u8] = match ev.memory_slice(job.pid, pos, len) {
                Some(s) => s,
                None => {
                    buf.resize(len, 0);
                    ev.read_memory(job.pid, pos, &mut buf)?;
                    &buf
                }
            };
            let last_window = win_end == job.run.end;
            let report_limit = pos.saturating_add(WINDOW as u64);
            let mut next = report_limit.min(job.run.end);
            for m in req.regex.find_iter(hay) {
                if m.is_empty() {
                    continue;
                }
                let address = pos + m.start() as u64;
                if !last_window && address >= report_limit {
                    break;
                }
                next = next.max(pos + m.end() as u64);
                let vma = find_vma(maps, address);
                let hit = Hit {
                    pid: job.pid,
                    comm: job.comm.to_string(),
                    address,
                    vma_start: vma.map(|v| v.start),
                    vma_perms: vma.map(|v| v.perms),
                    path: vma.and_then(|v| v.path.clone()),
                    len: m.len(),
                    bytes: m.as_bytes().iter().take(MAX_MATCH_BYTES).copied().collect(),
                };
                summary.hits += 1;
                if !sink.hit(hit) {
                    summary.stopped = true;
                    summary.bytes += (pos + m.end() as u64).saturating_sub(pos);
                    return Ok(summary);
                }
            }
            let advanced = if last_window { job.run.end } else { next };
            summary.bytes += advanced - pos;
            sink.progress(summary.bytes, summary.total);
            pos = advanced;
        }
    }
    Ok(summary)
}

fn find_vma(maps: &[Vma], addr: u64) -> Option<&Vma> {
    let i = maps.partition_point(|v| v.end <= addr);
    maps.get(i).filter(|v| v.start <= addr)
}
