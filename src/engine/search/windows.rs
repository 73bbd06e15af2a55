//! The windows of a [`scan`](super::scan), and the drivers that search them: one thread, or
//! every core with the same hits in the same order.
//!
//! Each run is cut into windows on a fixed grid: window `k` reports the matches that start in
//! `[run.start + k·WINDOW, run.start + (k+1)·WINDOW)` and reads [`OVERLAP`] bytes past its end,
//! so a match that crosses an edge is found once. A window starts searching at its grid start,
//! or after the previous window's last match when that match ran past the edge (hits never
//! overlap). The parallel driver searches windows ahead on worker threads as if no match ran
//! past their start, and the merging thread searches a window again, streaming, in the rare
//! case one did (or when a window holds too many hits to buffer): the same function of the
//! input as one thread, at the speed of all cores.

use std::collections::BTreeMap;
use std::ops::Range;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex};

use regex::bytes::Regex;

use super::pieces::{self, Concat};
use super::scan::{Haystack, MAX_MATCH_BYTES, OVERLAP, Sink, Summary, WINDOW};
use crate::engine::error::Result;
use crate::engine::search::Hit;

/// Hits a worker buffers for one window; past this the window is searched again, streaming.
const MAX_BUFFERED: usize = 4096;
/// Batches of windows searched ahead of the one being delivered, per thread (bounds
/// memory).
const AHEAD_PER_THREAD: usize = 4;

/// One window: run `run`, reporting matches that start in `report`.
#[derive(Debug, Clone)]
struct Window {
    run: usize,
    report: Range<u64>,
    /// End of the run (the last window reads to it and reports everything).
    run_end: u64,
}

/// The windows of every run, in order.
fn windows(runs: &[Range<u64>]) -> Vec<Window> {
    let mut out = Vec::new();
    for (run, r) in runs.iter().enumerate() {
        let mut start = r.start;
        while start < r.end {
            let end = start.saturating_add(WINDOW).min(r.end);
            out.push(Window {
                run,
                report: start..end,
                run_end: r.end,
            });
            start = end;
        }
    }
    out
}

/// What searching one window gave.
struct Searched {
    /// Where the next window of the run must start searching.
    resume: u64,
    /// The sink stopped the search (at a hit ending here).
    stopped_at: Option<u64>,
}

/// What a scan searches: the haystack, the pattern, and the pattern's longest match when
/// it has a short one (see [`pieces::bound`]).
pub(super) struct Search<'s> {
    pub(super) hay: &'s dyn Haystack,
    pub(super) regex: &'s Regex,
    pub(super) bound: Option<usize>,
    /// The bytes its matches may hold, when it has no look-around (see [`pieces::ByteSet`]).
    pub(super) bytes: Option<pieces::ByteSet>,
}

/// Searches window `w` from `from`, pushing each hit to `emit` (which returns `false` to
/// stop).
fn search_window(
    s: &Search<'_>,
    w: &Window,
    from: u64,
    buf: &mut Vec<u8>,
    emit: &mut dyn FnMut(Hit) -> bool,
) -> Result<Searched> {
    let read_end = w.report.end.saturating_add(OVERLAP).min(w.run_end);
    // At most WINDOW + OVERLAP bytes: fits any usize podmortem runs on.
    let len = usize::try_from(read_end.saturating_sub(from)).unwrap_or(usize::MAX);
    let mut parts = Vec::new();
    if (s.bound.is_some() || s.bytes.is_some()) && s.hay.pieces(w.run, from, len, &mut parts) {
        // Without a bound, pieces joined by an edge a match may cross are copied together
        // (into `buf`, whose pages stay allocated from window to window).
        if let (None, Some(set)) = (s.bound, &s.bytes) {
            parts = pieces::join(set, &parts, buf);
        }
        let searched = if let [one] = parts[..] {
            let mut found = regex_matches(s.regex, from, one);
            report(s, w, &mut found, emit)
        } else {
            let mut concat = Concat::new(from, &parts, s.bound);
            let mut matches = concat.matches(s.regex);
            let mut next = || {
                let (start, end) = matches.next_match()?;
                let bytes = matches.concat().bytes(start, end, MAX_MATCH_BYTES);
                Some((start, end, bytes))
            };
            report(s, w, &mut next, emit)
        };
        // Done with these bytes: drop the pages of mapped evidence they are in from the
        // resident set, so that a search's memory does not grow with the dump.
        for part in &parts {
            crate::engine::mapped::release(part);
        }
        return searched;
    }
    let bytes = s.hay.read(w.run, from, len, buf)?;
    let mut found = regex_matches(s.regex, from, bytes);
    let searched = report(s, w, &mut found, emit);
    crate::engine::mapped::release(bytes);
    searched
}

/// The matches of `regex` in `bytes` (at address `from`) as (start, end, kept bytes).
fn regex_matches<'b>(
    regex: &'b Regex,
    from: u64,
    bytes: &'b [u8],
) -> impl FnMut() -> Option<(u64, u64, Vec<u8>)> + 'b {
    let mut it = regex.find_iter(bytes);
    move || {
        let m = it.next()?;
        let matched = m.as_bytes();
        let kept = matched.get(..MAX_MATCH_BYTES).unwrap_or(matched).to_vec();
        Some((from + m.start() as u64, from + m.end() as u64, kept))
    }
}

/// Turns the matches `next` yields in window `w` into hits for `emit`: empty matches
/// skipped, those the next window reports left to it.
fn report(
    s: &Search<'_>,
    w: &Window,
    next: &mut dyn FnMut() -> Option<(u64, u64, Vec<u8>)>,
    emit: &mut dyn FnMut(Hit) -> bool,
) -> Result<Searched> {
    let last = w.report.end == w.run_end;
    let mut resume = w.report.end;
    while let Some((address, end, bytes)) = next() {
        if address == end {
            continue;
        }
        if !last && address >= w.report.end {
            break; // the next window reports it
        }
        resume = resume.max(end);
        let hit = Hit {
            space: s.hay.space(w.run, address),
            address,
            len: usize::try_from(end - address).unwrap_or(usize::MAX),
            bytes,
        };
        if !emit(hit) {
            return Ok(Searched {
                resume,
                stopped_at: Some(end),
            });
        }
    }
    Ok(Searched {
        resume,
        stopped_at: None,
    })
}

/// Where window `w` starts searching, after the previous window (`prev`: its run and resume
/// point).
fn start_of(w: &Window, prev: Option<(usize, u64)>) -> u64 {
    match prev {
        Some((run, resume)) if run == w.run => resume.max(w.report.start),
        _ => w.report.start,
    }
}

/// Searches every window on the calling thread.
pub(super) fn sequential(
    s: &Search<'_>,
    cancel: &AtomicBool,
    sink: &mut dyn Sink,
    summary: &mut Summary,
) -> Result<()> {
    let mut buf = Vec::new();
    let mut prev = None;
    for w in windows(s.hay.runs()) {
        if cancel.load(Ordering::Relaxed) {
            summary.stopped = true;
            return Ok(());
        }
        let from = start_of(&w, prev);
        match deliver(s, &w, from, &mut buf, sink, summary)? {
            Some(resume) => prev = Some((w.run, resume)),
            None => return Ok(()),
        }
    }
    Ok(())
}

/// Searches window `w` from `from` streaming into `sink`; where the next window resumes,
/// or `None` when the sink stopped.
fn deliver(
    s: &Search<'_>,
    w: &Window,
    from: u64,
    buf: &mut Vec<u8>,
    sink: &mut dyn Sink,
    summary: &mut Summary,
) -> Result<Option<u64>> {
    let mut hits = 0;
    let searched = search_window(s, w, from, buf, &mut |hit| {
        hits += 1;
        sink.hit(hit)
    })?;
    summary.hits += hits;
    finish(w, searched, sink, summary)
}

/// Accounts for a delivered window: where the next resumes, or `None` when the sink
/// stopped.
fn finish(
    w: &Window,
    searched: Searched,
    sink: &mut dyn Sink,
    summary: &mut Summary,
) -> Result<Option<u64>> {
    if let Some(end) = searched.stopped_at {
        summary.bytes += end.saturating_sub(w.report.start);
        summary.stopped = true;
        return Ok(None);
    }
    summary.bytes += w.report.end - w.report.start;
    sink.progress(summary.bytes, summary.total);
    Ok(Some(searched.resume))
}

/// A window searched ahead by a worker, as if nothing ran into it from the previous one.
struct Ahead {
    result: Result<Option<(Vec<Hit>, Searched)>>,
}

/// Consecutive windows handed to a worker at once: small windows (a process's many small
/// areas) are grouped until they hold [`BATCH_BYTES`], so that workers and the merging
/// thread meet once per batch, not once per area.
fn batches(all: &[Window]) -> Vec<Range<usize>> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut bytes = 0;
    for (i, w) in all.iter().enumerate() {
        bytes += w.report.end - w.report.start;
        if bytes >= BATCH_BYTES {
            out.push(start..i + 1);
            start = i + 1;
            bytes = 0;
        }
    }
    if start < all.len() {
        out.push(start..all.len());
    }
    out
}

/// Bytes of windows in a batch (see [`batches`]).
const BATCH_BYTES: u64 = 1 << 20;

/// Searches windows on `threads` threads; delivers exactly what [`sequential`] would.
pub(super) fn parallel(
    s: &Search<'_>,
    cancel: &AtomicBool,
    sink: &mut dyn Sink,
    summary: &mut Summary,
    threads: usize,
) -> Result<()> {
    let all = windows(s.hay.runs());
    let groups = batches(&all);
    let next = AtomicUsize::new(0);
    let delivered = AtomicUsize::new(0);
    let stop = AtomicBool::new(false);
    let ahead = (threads * AHEAD_PER_THREAD).max(2);
    let done: Mutex<BTreeMap<usize, Vec<Ahead>>> = Mutex::new(BTreeMap::new());
    let ready = Condvar::new();
    let room = Condvar::new();
    std::thread::scope(|scope| -> Result<()> {
        for _ in 0..threads {
            scope.spawn(|| {
                let mut buf = Vec::new();
                loop {
                    let b = next.fetch_add(1, Ordering::Relaxed);
                    let Some(group) = groups.get(b) else { break };
                    // Stay at most `ahead` batches in front of delivery.
                    {
                        let mut guard = done.lock().unwrap_or_else(|e| e.into_inner());
                        while b >= delivered.load(Ordering::Acquire) + ahead
                            && !stop.load(Ordering::Relaxed)
                        {
                            guard = room.wait(guard).unwrap_or_else(|e| e.into_inner());
                        }
                    }
                    // A batch taken is always answered, window by window (`None`: search
                    // it again), so the merging thread never waits for one that will not
                    // come.
                    let mut quit = false;
                    let results = all
                        .get(group.clone())
                        .unwrap_or_default()
                        .iter()
                        .map(|w| {
                            quit = quit
                                || stop.load(Ordering::Relaxed)
                                || cancel.load(Ordering::Relaxed);
                            let result = if quit {
                                Ok(None)
                            } else {
                                let mut hits = Vec::new();
                                let mut keep = |h| {
                                    hits.push(h);
                                    hits.len() < MAX_BUFFERED
                                };
                                let searched =
                                    search_window(s, w, w.report.start, &mut buf, &mut keep);
                                searched.map(|s| s.stopped_at.is_none().then_some((hits, s)))
                            };
                            Ahead { result }
                        })
                        .collect();
                    let mut guard = done.lock().unwrap_or_else(|e| e.into_inner());
                    guard.insert(b, results);
                    ready.notify_all();
                    drop(guard);
                    if quit {
                        break;
                    }
                }
            });
        }
        let mut buf = Vec::new();
        let mut prev = None;
        let outcome = (|| -> Result<()> {
            for (b, group) in groups.iter().enumerate() {
                if cancel.load(Ordering::Relaxed) {
                    summary.stopped = true;
                    return Ok(());
                }
                let got = {
                    let mut guard = done.lock().unwrap_or_else(|e| e.into_inner());
                    loop {
                        if let Some(a) = guard.remove(&b) {
                            break a;
                        }
                        guard = ready.wait(guard).unwrap_or_else(|e| e.into_inner());
                    }
                };
                delivered.store(b + 1, Ordering::Release);
                room.notify_all();
                let windows = all.get(group.clone()).unwrap_or_default();
                for (w, got) in windows.iter().zip(got) {
                    if cancel.load(Ordering::Relaxed) {
                        summary.stopped = true;
                        return Ok(());
                    }
                    let from = start_of(w, prev);
                    let resume = match got.result? {
                        // Searched ahead from the grid start, which is where it starts: use
                        // it.
                        Some((hits, searched)) if from == w.report.start => {
                            let mut stopped_at = None;
                            for h in hits {
                                let end = h.address.saturating_add(h.len as u64);
                                summary.hits += 1;
                                if !sink.hit(h) {
                                    stopped_at = Some(end);
                                    break;
                                }
                            }
                            let searched = Searched {
                                stopped_at,
                                ..searched
                            };
                            finish(w, searched, sink, summary)?
                        }
                        // A match ran into it, or too many hits to buffer: search it again
                        // here.
                        _ => deliver(s, w, from, &mut buf, sink, summary)?,
                    };
                    match resume {
                        Some(resume) => prev = Some((w.run, resume)),
                        None => return Ok(()),
                    }
                }
            }
            Ok(())
        })();
        stop.store(true, Ordering::Relaxed);
        room.notify_all();
        outcome
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;
    use crate::engine::search::{Buffers, Collect, Space};

    /// Pseudo-random bytes over a small alphabet (many matches), with needles planted
    /// across window edges.
    fn memory(len: usize) -> Vec<u8> {
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        let mut mem: Vec<u8> = (0..len)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                b"ab.."[(x % 4) as usize]
            })
            .collect();
        for k in 1..=(len as u64 / WINDOW) {
            let edge = (k * WINDOW) as usize;
            for (at, needle) in [(edge - 3, &b"NEEDLE"[..]), (edge - 100, &b"LONGNEEDLE"[..])] {
                if at + needle.len() < len {
                    mem[at..at + needle.len()].copy_from_slice(needle);
                }
            }
        }
        mem
    }

    fn search<'s>(hay: &'s dyn Haystack, regex: &'s Regex) -> Search<'s> {
        Search {
            hay,
            regex,
            bound: pieces::bound(regex),
            bytes: pieces::ByteSet::of(regex),
        }
    }

    fn run(
        hay: &dyn Haystack,
        re: &str,
        threads: usize,
        limit: Option<usize>,
    ) -> (Vec<(u64, usize)>, Summary) {
        let re = Regex::new(re).unwrap();
        let mut sink = Collect {
            limit,
            ..Collect::default()
        };
        let mut summary = Summary {
            total: hay.runs().iter().map(|r| r.end - r.start).sum(),
            ..Summary::default()
        };
        let cancel = AtomicBool::new(false);
        let s = search(hay, &re);
        if threads == 1 {
            sequential(&s, &cancel, &mut sink, &mut summary).unwrap();
        } else {
            parallel(&s, &cancel, &mut sink, &mut summary, threads).unwrap();
        }
        (
            sink.hits.iter().map(|h| (h.address, h.len)).collect(),
            summary,
        )
    }

    #[test]
    fn many_threads_give_the_hits_of_one() {
        let mem = memory(2 * WINDOW as usize + 12345);
        let other = memory(WINDOW as usize / 2);
        let hay = Buffers::new(
            Space::Physical { owner: None },
            [(0x1000, &mem[..]), (0x1_0000_0000, &other[..])],
        );
        // Sparse needles, matches that straddle edges (a+ runs), dense matches that overflow
        // a worker's buffer, and empty matches.
        for re in ["NEEDLE", "[ab]{6,}", "aaaa", "bbbb?", "[ab.]+"] {
            let (one, s1) = run(&hay, re, 1, None);
            for threads in [2, 3] {
                let (many, s2) = run(&hay, re, threads, None);
                assert_eq!(one, many, "{re} on {threads} threads");
                assert_eq!((s1.hits, s1.bytes), (s2.hits, s2.bytes), "{re}");
            }
            let windows_over = one.windows(2).all(|w| w[0].0 + w[0].1 as u64 <= w[1].0);
            assert!(windows_over, "{re}: hits never overlap");
        }
        let (needles, _) = run(&hay, "NEEDLE", 2, None);
        assert!(
            needles.iter().any(|&(a, _)| a == 0x1000 + WINDOW - 3),
            "across an edge"
        );
    }

    #[test]
    fn batches_of_small_runs_give_the_hits_of_one_thread() {
        // Thousands of small runs (a process's areas) are handed out in batches; runs of
        // every size, with matches at their edges, at the edges of batches and filling
        // whole runs.
        let mem = memory(6 << 20);
        let mut bufs = Vec::new();
        let (mut at, mut from, mut size) = (0usize, 0x4000u64, 1usize);
        while at + size <= mem.len() {
            bufs.push((from, &mem[at..at + size]));
            at += size;
            from += size as u64 + 0x1000;
            size = (size * 7 + 4093) % 40_000 + 1;
        }
        assert!(bufs.len() > 200);
        let hay = Buffers::new(Space::Physical { owner: None }, bufs);
        assert!(batches(&windows(hay.runs())).len() > 4);
        for re in ["ab", "[ab]{5,}", "[ab.]+", "b?"] {
            let (one, s1) = run(&hay, re, 1, None);
            let (many, s2) = run(&hay, re, 2, None);
            assert_eq!(one, many, "{re}");
            assert_eq!((s1.hits, s1.bytes), (s2.hits, s2.bytes), "{re}");
            for limit in [1, 999, 123_456] {
                let (one, _) = run(&hay, re, 1, Some(limit));
                let (many, _) = run(&hay, re, 3, Some(limit));
                assert_eq!(one, many, "{re} stopped at {limit}");
            }
        }
    }

    #[test]
    fn a_stopping_sink_gets_the_same_first_hits() {
        let mem = memory(2 * WINDOW as usize + 999);
        let hay = Buffers::new(Space::Physical { owner: None }, [(0, &mem[..])]);
        for limit in [1, 7, 5000] {
            let (one, s1) = run(&hay, "ab", 1, Some(limit));
            let (many, s2) = run(&hay, "ab", 2, Some(limit));
            assert_eq!(one, many);
            assert_eq!(one.len(), limit);
            assert!(s1.stopped && s2.stopped);
            assert_eq!(s1.hits, s2.hits);
        }
    }

    #[test]
    fn cancel_stops_every_thread() {
        let mem = memory(3 * WINDOW as usize);
        let hay = Buffers::new(Space::Physical { owner: None }, [(0, &mem[..])]);
        let re = Regex::new("a").unwrap();
        let mut sink = Collect::default();
        let mut summary = Summary::default();
        parallel(
            &search(&hay, &re),
            &AtomicBool::new(true),
            &mut sink,
            &mut summary,
            2,
        )
        .unwrap();
        assert!(summary.stopped && sink.hits.is_empty());
    }
}
