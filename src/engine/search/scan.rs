//! The one window/overlap walk that every search uses, whatever the address space: process
//! virtual memory, physical memory (the analyst's `search --physical`, and the kernel back
//! end's own scans for VMCOREINFO, the banner, BTF and kallsyms), later socket queues and file
//! contents.
//!
//! A [`Haystack`] lists runs of contiguous bytes (a match never spans two runs) and reads
//! them. Each run is searched in windows of [`WINDOW`] bytes plus [`OVERLAP`] bytes of the
//! next, so a match that crosses a window edge is still found; a match is reported once, by
//! the window it starts in, and the next window starts after it, so none is doubled. Empty
//! matches (`a?` matches nothing at every byte) are never hits. The cancel flag is checked
//! and progress reported between windows; the [`Sink`] can stop the search at any hit.

use std::ops::Range;
use std::sync::atomic::AtomicBool;

use regex::bytes::Regex;
use serde::Serialize;

use crate::engine::error::Result;
use crate::engine::search::{Hit, Space};

use super::windows;

/// Bytes searched per window.
pub const WINDOW: u64 = 8 << 20;
/// Overlap between windows: the longest match guaranteed across a window edge (a longer
/// match that crosses one may be cut to the overlap).
pub const OVERLAP: u64 = 64 << 10;
/// At most this many bytes of a match are kept in a [`Hit`].
pub const MAX_MATCH_BYTES: usize = 4096;

/// An address space as [`scan`] searches it.
pub trait Haystack: Sync {
    /// The runs of contiguous bytes to search, in the order hits are wanted.
    fn runs(&self) -> &[Range<u64>];

    /// `len` bytes at `addr`, which lie inside run `run`: borrowed from the evidence when
    /// it stores them contiguously, else read into `buf`.
    fn read<'a>(
        &'a self,
        run: usize,
        addr: u64,
        len: usize,
        buf: &'a mut Vec<u8>,
    ) -> Result<&'a [u8]>;

    /// The `len` bytes at `addr` of run `run` as the evidence's own slices, in order, pushed
    /// to `out` (false, and `out` unspecified, when it does not lend all of them): a window
    /// spread over several slices is then searched in place rather than copied.
    fn pieces<'a>(
        &'a self,
        _run: usize,
        _addr: u64,
        _len: usize,
        _out: &mut Vec<&'a [u8]>,
    ) -> bool {
        false
    }

    /// Where a match at `address` of run `run` lies (its process and mapping, or its
    /// physical page's owner).
    fn space(&self, run: usize, address: u64) -> Space;
}

/// Receives hits and progress. Returning `false` from [`Sink::hit`] stops the search.
pub trait Sink {
    /// A match was found; return `false` to stop.
    fn hit(&mut self, hit: Hit) -> bool;
    /// `done` of `total` bytes searched so far (sent between windows).
    fn progress(&mut self, _done: u64, _total: u64) {}
}

/// A closure is a sink that ignores progress.
impl<F: FnMut(Hit) -> bool> Sink for F {
    fn hit(&mut self, hit: Hit) -> bool {
        self(hit)
    }
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
    /// Bytes searched.
    pub bytes: u64,
    /// Bytes in scope.
    pub total: u64,
    /// True if the cancel flag or the sink stopped it.
    pub stopped: bool,
}

/// Searches every run of `hay` with `regex`, pushing hits into `sink` in run order, on
/// every core when there is enough to search (see [`threads`]); the hits and their order
/// are the same on one thread or many.
pub fn scan(
    hay: &dyn Haystack,
    regex: &Regex,
    cancel: &AtomicBool,
    sink: &mut dyn Sink,
) -> Result<Summary> {
    scan_with(hay, regex, cancel, sink, threads())
}

/// [`scan`] on `threads` threads (1: the calling thread only).
pub fn scan_with(
    hay: &dyn Haystack,
    regex: &Regex,
    cancel: &AtomicBool,
    sink: &mut dyn Sink,
    threads: usize,
) -> Result<Summary> {
    let runs = hay.runs();
    let mut summary = Summary {
        total: runs.iter().map(|r| r.end.saturating_sub(r.start)).sum(),
        ..Summary::default()
    };
    let search = windows::Search {
        hay,
        regex,
        bound: super::pieces::bound(regex),
        bytes: super::pieces::ByteSet::of(regex),
    };
    if threads > 1 && summary.total > 2 * WINDOW {
        windows::parallel(&search, cancel, sink, &mut summary, threads)?;
    } else {
        windows::sequential(&search, cancel, sink, &mut summary)?;
    }
    // Bytes of a file that shrank while mapped read as zeros: say so rather than report a
    // search that silently skipped them.
    crate::engine::mapped::check()?;
    Ok(summary)
}

/// Threads a search uses: `$PODMORTEM_THREADS`, else every core (at most 16).
pub fn threads() -> usize {
    std::env::var("PODMORTEM_THREADS")
        .ok()
        .and_then(|v| v.trim().parse::<usize>().ok())
        .filter(|&n| n > 0)
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
        .min(16)
}

/// A haystack of byte buffers already in memory (tests, socket queues, file contents):
/// run `i` is `bufs[i]` at its address, every hit in `space`.
#[derive(Debug, Clone)]
pub struct Buffers<'b> {
    runs: Vec<Range<u64>>,
    bufs: Vec<&'b [u8]>,
    space: Space,
}

impl<'b> Buffers<'b> {
    /// Buffers at their addresses (ranges that would wrap around are cut).
    pub fn new(space: Space, bufs: impl IntoIterator<Item = (u64, &'b [u8])>) -> Buffers<'b> {
        let (runs, bufs) = bufs
            .into_iter()
            .map(|(at, b)| {
                let end = at.saturating_add(b.len() as u64);
                let b = b.get(..(end - at) as usize).unwrap_or(b);
                (at..end, b)
            })
            .unzip();
        Buffers { runs, bufs, space }
    }
}

impl Haystack for Buffers<'_> {
    fn runs(&self) -> &[Range<u64>] {
        &self.runs
    }

    fn read<'a>(
        &'a self,
        run: usize,
        addr: u64,
        len: usize,
        _buf: &'a mut Vec<u8>,
    ) -> Result<&'a [u8]> {
        let (Some(r), Some(b)) = (self.runs.get(run), self.bufs.get(run)) else {
            return Ok(&[]);
        };
        let from = usize::try_from(addr.saturating_sub(r.start)).unwrap_or(usize::MAX);
        Ok(b.get(from..)
            .map_or(&[][..], |rest| rest.get(..len).unwrap_or(rest)))
    }

    fn space(&self, _run: usize, _address: u64) -> Space {
        self.space.clone()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;

    fn physical() -> Space {
        Space::Physical { owner: None }
    }

    fn hits(hay: &dyn Haystack, re: &str) -> (Vec<(u64, usize)>, Summary) {
        let mut sink = Collect::default();
        let re = Regex::new(re).unwrap();
        let s = scan(hay, &re, &AtomicBool::new(false), &mut sink).unwrap();
        (sink.hits.iter().map(|h| (h.address, h.len)).collect(), s)
    }

    #[test]
    fn matches_across_a_window_edge_are_found_once() {
        let size = (WINDOW + 3 * OVERLAP) as usize;
        let mut mem = vec![0u8; size];
        let edge = WINDOW as usize - 3;
        mem[edge..edge + 6].copy_from_slice(b"NEEDLE");
        mem[10..16].copy_from_slice(b"NEEDLE");
        let far = WINDOW as usize + 100;
        mem[far..far + 6].copy_from_slice(b"NEEDLE");
        let hay = Buffers::new(physical(), [(0x1000, &mem[..])]);
        let (found, summary) = hits(&hay, "NEEDLE");
        assert_eq!(
            found,
            [
                (0x1000 + 10, 6),
                (0x1000 + edge as u64, 6),
                (0x1000 + far as u64, 6)
            ]
        );
        assert_eq!(summary.bytes, size as u64);
        assert_eq!(summary.total, size as u64);
        assert!(!summary.stopped);
    }

    #[test]
    fn empty_matches_are_not_hits() {
        let mem = b"xxaxx".repeat(10);
        let hay = Buffers::new(physical(), [(0, &mem[..])]);
        let (found, _) = hits(&hay, "a?");
        assert_eq!(found.len(), 10);
        assert!(found.iter().all(|&(_, len)| len == 1));
    }

    #[test]
    fn runs_are_separate_and_progress_is_reported() {
        struct Progress(Vec<(u64, u64)>, usize);
        impl Sink for Progress {
            fn hit(&mut self, _hit: Hit) -> bool {
                self.1 += 1;
                true
            }
            fn progress(&mut self, done: u64, total: u64) {
                self.0.push((done, total));
            }
        }
        let (a, b) = (b"..AB".to_vec(), b"CD..".to_vec());
        let hay = Buffers::new(physical(), [(0, &a[..]), (4, &b[..])]);
        let mut sink = Progress(Vec::new(), 0);
        let re = Regex::new("BC").unwrap();
        scan(&hay, &re, &AtomicBool::new(false), &mut sink).unwrap();
        assert_eq!(sink.1, 0, "a match never spans two runs");
        assert_eq!(sink.0, [(4, 8), (8, 8)]);
    }

    #[test]
    fn cancel_and_sink_stop() {
        let mem = b"ab".repeat(100);
        let hay = Buffers::new(physical(), [(0, &mem[..])]);
        let re = Regex::new("a").unwrap();
        let mut sink = Collect {
            limit: Some(3),
            ..Collect::default()
        };
        let s = scan(&hay, &re, &AtomicBool::new(false), &mut sink).unwrap();
        assert_eq!((sink.hits.len(), s.hits, s.stopped), (3, 3, true));
        let mut sink = Collect::default();
        let s = scan(&hay, &re, &AtomicBool::new(true), &mut sink).unwrap();
        assert!(sink.hits.is_empty() && s.stopped);
    }
}
