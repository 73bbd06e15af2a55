//! Scanning physical memory with a regex: the one overlapping-window walk that every
//! physical search uses (the analyst's `search --physical`, finding VMCOREINFO, the banner,
//! the kernel's BTF and kallsyms). Each range (adjacent ranges joined, so a match may span
//! them) is read in windows that overlap by [`OVERLAP`] bytes; a match is reported once, by
//! the window it starts in; empty matches are not hits. A cancel flag is checked between
//! windows.

use std::ops::Range;
use std::sync::atomic::{AtomicBool, Ordering};

use regex::bytes::Regex;

use crate::engine::error::Result;
use crate::engine::evidence::PhysHit;
use crate::engine::kernel::physical::PhysicalMemory;
use crate::engine::search::Summary;

/// Bytes searched per window.
pub const WINDOW: u64 = 8 << 20;
/// Overlap between windows: the longest match guaranteed across a window edge.
pub const OVERLAP: u64 = 64 << 10;
/// At most this many bytes of a match are kept.
pub const MAX_MATCH_BYTES: usize = 4096;

/// The physical ranges with adjacent ones joined, so a match may span them.
fn joined(ranges: &[Range<u64>]) -> Vec<Range<u64>> {
    let mut out: Vec<Range<u64>> = Vec::new();
    for r in ranges {
        match out.last_mut() {
            Some(last) if last.end == r.start => last.end = r.end,
            _ => out.push(r.clone()),
        }
    }
    out
}

/// Searches every physical range of `phys`; `sink` returns `false` to stop. Hits have no
/// owner (see [`search_with_owners`](crate::engine::kernel::phys_search::search_with_owners)).
pub fn search_physical(
    phys: &dyn PhysicalMemory,
    regex: &Regex,
    cancel: &AtomicBool,
    sink: &mut dyn FnMut(PhysHit) -> bool,
) -> Result<Summary> {
    search_ranges(phys, joined(phys.ranges()), regex, cancel, sink)
}

/// [`search_physical`] over the given (sorted, disjoint) ranges only.
fn search_ranges(
    phys: &dyn PhysicalMemory,
    ranges: Vec<Range<u64>>,
    regex: &Regex,
    cancel: &AtomicBool,
    sink: &mut dyn FnMut(PhysHit) -> bool,
) -> Result<Summary> {
    let mut summary = Summary {
        total: ranges.iter().map(|r| r.end - r.start).sum(),
        ..Summary::default()
    };
    let mut buf = Vec::new();
    for range in ranges {
        let mut pos = range.start;
        while pos < range.end {
            if cancel.load(Ordering::Relaxed) {
                summary.stopped = true;
                return Ok(summary);
            }
            let step = WINDOW.min(range.end - pos);
            let len = (step + OVERLAP).min(range.end - pos) as usize;
            let hay: &[u8] = match phys.slice(pos, len) {
                Some(s) => s,
                None => {
                    buf.resize(len, 0);
                    phys.read_phys(pos, &mut buf)?;
                    &buf
                }
            };
            for m in regex.find_iter(hay) {
                if m.start() as u64 >= step {
                    break;
                }
                if m.is_empty() {
                    continue; // `a?` matches nothing at every byte: not a hit
                }
                summary.hits += 1;
                let bytes = m.as_bytes();
                let hit = PhysHit {
                    physical: pos + m.start() as u64,
                    len: bytes.len(),
                    bytes: bytes.get(..MAX_MATCH_BYTES).unwrap_or(bytes).to_vec(),
                    owner: None,
                };
                if !sink(hit) {
                    summary.stopped = true;
                    return Ok(summary);
                }
            }
            summary.bytes += step;
            pos += step;
        }
    }
    Ok(summary)
}

/// Calls `found` with the physical address of each match of `re` that starts in `within`
/// (all of memory when `None`), in address order, until it returns `Ok(false)` or an error.
pub fn scan_range(
    phys: &dyn PhysicalMemory,
    within: Option<Range<u64>>,
    re: &Regex,
    found: &mut dyn FnMut(u64) -> Result<bool>,
) -> Result<()> {
    let never = AtomicBool::new(false);
    let mut failure = None;
    let ranges: Vec<Range<u64>> = joined(phys.ranges())
        .into_iter()
        .filter_map(|r| match &within {
            None => Some(r),
            Some(w) => {
                let (s, e) = (r.start.max(w.start), r.end.min(w.end));
                (s < e).then_some(s..e)
            }
        })
        .collect();
    search_ranges(
        phys,
        ranges,
        re,
        &never,
        &mut |hit| match found(hit.physical) {
            Ok(go_on) => go_on,
            Err(e) => {
                failure = Some(e);
                false
            }
        },
    )?;
    failure.map_or(Ok(()), Err)
}
