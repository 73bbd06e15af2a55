//! Regex search over all of physical memory (freed pages, page cache, kernel buffers and
//! every process at once), as `grep` over the dump would find it but with physical
//! addresses instead of file offsets and only over the ranges the dump holds.
//!
//! Each physical range is searched in windows that overlap by [`OVERLAP`] bytes; a match is
//! reported once, by the window it starts in. A cancel flag is checked between windows.

use std::sync::atomic::{AtomicBool, Ordering};

use regex::bytes::Regex;

use crate::engine::error::Result;
use crate::engine::kernel::physical::PhysicalMemory;

/// Bytes searched per window.
pub const WINDOW: u64 = 8 << 20;
/// Overlap between windows: the longest match guaranteed across a window edge.
pub const OVERLAP: u64 = 64 << 10;
/// At most this many bytes of a match are kept.
pub const MAX_MATCH_BYTES: usize = 4096;

/// One match in physical memory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PhysHit {
    /// Physical address of the first matched byte.
    pub phys: u64,
    /// Length of the match.
    pub len: usize,
    /// The matched bytes (at most [`MAX_MATCH_BYTES`]).
    pub bytes: Vec<u8>,
}

/// How a physical search ended.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PhysSummary {
    /// Hits delivered.
    pub hits: u64,
    /// Bytes searched.
    pub bytes: u64,
    /// True if the cancel flag or the sink stopped it.
    pub stopped: bool,
}

/// Searches every physical range of `phys`; `sink` returns `false` to stop.
pub fn search_physical(
    phys: &dyn PhysicalMemory,
    regex: &Regex,
    cancel: &AtomicBool,
    sink: &mut dyn FnMut(PhysHit) -> bool,
) -> Result<PhysSummary> {
    let mut summary = PhysSummary::default();
    let mut buf = Vec::new();
    for range in phys.ranges() {
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
                summary.hits += 1;
                let bytes = m.as_bytes();
                let hit = PhysHit {
                    phys: pos + m.start() as u64,
                    len: bytes.len(),
                    bytes: bytes.get(..MAX_MATCH_BYTES).unwrap_or(bytes).to_vec(),
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
