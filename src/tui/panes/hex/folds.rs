//! What the hex viewer knows about the pages of one process, found once and kept: which
//! pages repeat one 64-byte block (so that every row of 4 to 64 bytes in them is the same,
//! the stuff folds are made of) and which do not, as runs of consecutive page numbers.
//!
//! Pages are classified lazily, as the layout asks: stretches that are not captured at all
//! come from [`Evidence::captured_ranges`](crate::engine::evidence::Evidence::captured_ranges)
//! a window at a time without reading them; captured pages are read once. The index is
//! bounded: past [`MAX_RUNS`] runs it starts again from nothing.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;

use super::pages::{PAGE, PAGE_BYTES};

/// Bytes in a block: the widest row, a multiple of every row width.
pub const BLOCK: usize = 64;
/// Pages per window of [`RunIndex::windows`] (16 MiB).
pub const WINDOW_PAGES: u64 = 4096;
/// Runs kept at most; past this the index is cleared.
pub const MAX_RUNS: usize = 1 << 16;

/// 64 bytes that a page repeats from its first byte to its last; bytes not captured are
/// `None` (a page not captured at all repeats [`Block::UNCAPTURED`]).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Block {
    /// The bytes (0 where not captured).
    bytes: [u8; BLOCK],
    /// Bit `i` set: byte `i` captured.
    captured: u64,
}

impl std::fmt::Debug for Block {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Block({:02x?}, {:#x})", &self.bytes[..8], self.captured)
    }
}

impl Block {
    /// The block of a page with no captured byte.
    pub const UNCAPTURED: Block = Block {
        bytes: [0; BLOCK],
        captured: 0,
    };

    /// The byte at offset `i` of any page repeating the block (`None`: not captured).
    pub fn get(&self, i: usize) -> Option<u8> {
        let i = i % BLOCK;
        if self.captured >> i & 1 == 0 {
            return None;
        }
        self.bytes.get(i).copied()
    }

    /// True if, in pages repeating this block, every row of `row.len()` bytes that starts
    /// `off` bytes (modulo 64) after a page boundary reads as `row`. Needs a row width that
    /// divides 64.
    pub fn rows_equal(&self, off: u64, row: &[Option<u8>]) -> bool {
        let len = row.len();
        if len == 0 || !BLOCK.is_multiple_of(len) {
            return false;
        }
        let off = (off % BLOCK as u64) as usize;
        (0..BLOCK).all(|i| self.get(i) == self.get(i + len))
            && row.iter().enumerate().all(|(i, b)| self.get(off + i) == *b)
    }

    /// The block a page repeats, or `None` when it repeats none. `captured` holds one bit
    /// per byte (bit `i % 64` of word `i / 64`).
    pub fn of_page(
        bytes: &[u8; PAGE_BYTES],
        captured: &[u64; PAGE_BYTES / BLOCK],
    ) -> Option<Block> {
        let [mask, ..] = *captured;
        if captured.iter().any(|&w| w != mask) {
            return None;
        }
        if mask == 0 {
            return Some(Block::UNCAPTURED);
        }
        let mut first = *bytes.first_chunk::<BLOCK>()?;
        let same = |c: &[u8]| {
            if mask == u64::MAX {
                c == first
            } else {
                c.iter()
                    .zip(first)
                    .enumerate()
                    .all(|(i, (a, b))| mask >> i & 1 == 0 || *a == b)
            }
        };
        if !bytes.chunks_exact(BLOCK).all(same) {
            return None;
        }
        for (i, b) in first.iter_mut().enumerate() {
            if mask >> i & 1 == 0 {
                *b = 0;
            }
        }
        Some(Block {
            bytes: first,
            captured: mask,
        })
    }
}

/// What a page is, for folding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// The page repeats this block.
    Uniform(Block),
    /// The page repeats no block.
    Mixed,
}

/// A run of consecutive pages of one class.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Run {
    /// One past the last page number.
    end: u64,
    /// Class of every page of the run.
    class: Class,
}

/// Runs of classified pages of one process, and the windows whose captured ranges are known.
#[derive(Clone, Default)]
pub struct RunIndex {
    /// Runs by first page number; disjoint, neighbours of one class merged.
    runs: BTreeMap<u64, Run>,
    /// Windows (page number / [`WINDOW_PAGES`]) whose stretches not captured are in `runs`.
    windows: BTreeSet<u64>,
}

impl std::fmt::Debug for RunIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunIndex")
            .field("runs", &self.runs.len())
            .field("windows", &self.windows.len())
            .finish()
    }
}

impl RunIndex {
    /// The class of page number `page` and the end of its run, when known.
    pub fn get(&self, page: u64) -> Option<(Class, u64)> {
        let (_, run) = self.runs.range(..=page).next_back()?;
        (run.end > page).then_some((run.class, run.end))
    }

    /// Number of runs kept.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.runs.len()
    }

    /// True if the captured ranges of the window holding page `page` were recorded.
    pub fn window_known(&self, page: u64) -> bool {
        self.windows.contains(&(page / WINDOW_PAGES))
    }

    /// The pages of the window holding `page`, as addresses (the last window ends at the top
    /// of the address space, its last byte left out).
    pub fn window_of(page: u64) -> Range<u64> {
        let first = page / WINDOW_PAGES * WINDOW_PAGES;
        let start = first.saturating_mul(PAGE);
        let end = first
            .checked_add(WINDOW_PAGES)
            .and_then(|p| p.checked_mul(PAGE))
            .unwrap_or(u64::MAX);
        start..end
    }

    /// Records the captured ranges (addresses, sorted) of the window holding `page`: every
    /// page of the window that no captured range touches is not captured.
    pub fn record_window(&mut self, page: u64, captured: &[Range<u64>]) {
        let w = Self::window_of(page);
        let (first, last) = (w.start / PAGE, w.end.div_ceil(PAGE));
        let mut at = first;
        for r in captured {
            let lo = (r.start.max(w.start) / PAGE).max(at);
            let hi = r.end.min(w.end).div_ceil(PAGE);
            if lo > at {
                self.insert(at..lo, Class::Uniform(Block::UNCAPTURED));
            }
            at = at.max(hi);
        }
        if at < last {
            self.insert(at..last, Class::Uniform(Block::UNCAPTURED));
        }
        self.windows.insert(page / WINDOW_PAGES);
    }

    /// Records the class of the pages `pages` (page numbers); pages already known keep
    /// their class.
    pub fn insert(&mut self, pages: Range<u64>, class: Class) {
        if self.runs.len() >= MAX_RUNS {
            self.runs.clear();
            self.windows.clear();
        }
        let mut at = pages.start;
        while at < pages.end {
            match self.get(at) {
                Some((_, end)) => at = end,
                None => {
                    let next = self
                        .runs
                        .range(at..pages.end)
                        .next()
                        .map_or(pages.end, |(&s, _)| s);
                    self.put(at..next, class);
                    at = next;
                }
            }
        }
    }

    /// Inserts a run over unknown pages, merging it with neighbours of the same class.
    fn put(&mut self, pages: Range<u64>, class: Class) {
        let mut start = pages.start;
        let mut end = pages.end;
        if let Some((&s, run)) = self.runs.range(..start).next_back()
            && run.end == start
            && run.class == class
        {
            start = s;
        }
        if let Some(run) = self.runs.get(&end).copied()
            && run.class == class
        {
            self.runs.remove(&end);
            end = run.end;
        }
        self.runs.insert(start, Run { end, class });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page_of(f: impl Fn(usize) -> Option<u8>) -> ([u8; PAGE_BYTES], [u64; 64]) {
        let mut bytes = [0u8; PAGE_BYTES];
        let mut cap = [0u64; 64];
        for (i, b) in bytes.iter_mut().enumerate() {
            if let Some(v) = f(i) {
                *b = v;
                cap[i / 64] |= 1 << (i % 64);
            }
        }
        (bytes, cap)
    }

    #[test]
    fn pages_are_classified_by_the_block_they_repeat() {
        let (b, c) = page_of(|_| Some(0));
        let zero = Block::of_page(&b, &c).unwrap();
        assert!(zero.rows_equal(0, &[Some(0); 16]));
        assert!(zero.rows_equal(3, &[Some(0); 4]));
        assert!(!zero.rows_equal(0, &[None; 16]));
        let (b, c) = page_of(|_| None);
        assert_eq!(Block::of_page(&b, &c), Some(Block::UNCAPTURED));
        assert!(Block::UNCAPTURED.rows_equal(0, &[None; 64]));
        // A repeated 8-byte pointer: rows of 8 or more bytes are identical, rows of 4 not.
        let (b, c) = page_of(|i| Some([1, 2, 3, 4, 5, 6, 7, 8][i % 8]));
        let ptr = Block::of_page(&b, &c).unwrap();
        let row: Vec<Option<u8>> = (0..16)
            .map(|i| Some([1, 2, 3, 4, 5, 6, 7, 8][i % 8]))
            .collect();
        assert!(ptr.rows_equal(0, &row));
        assert!(ptr.rows_equal(64, &row));
        assert!(!ptr.rows_equal(4, &row));
        assert!(!ptr.rows_equal(0, &row[..4]));
        assert!(
            !ptr.rows_equal(0, &row[..12]),
            "a width that does not divide 64"
        );
        // One different byte, or a different capture, and the page repeats nothing.
        let (b, c) = page_of(|i| Some(u8::from(i == 4000)));
        assert_eq!(Block::of_page(&b, &c), None);
        let (b, c) = page_of(|i| (i < 2048).then_some(0));
        assert_eq!(Block::of_page(&b, &c), None);
        // A capture pattern that itself repeats every 64 bytes.
        let (b, c) = page_of(|i| (i % 64 < 32).then_some(7));
        let half = Block::of_page(&b, &c).unwrap();
        assert_eq!((half.get(0), half.get(40)), (Some(7), None));
    }

    #[test]
    fn runs_merge_and_windows_mark_what_is_not_captured() {
        let mut ix = RunIndex::default();
        let z = Class::Uniform(Block::UNCAPTURED);
        ix.insert(10..12, Class::Mixed);
        ix.insert(12..13, Class::Mixed);
        assert_eq!(ix.get(10), Some((Class::Mixed, 13)));
        assert_eq!(ix.len(), 1);
        assert_eq!(ix.get(13), None);
        // Known pages keep their class; unknown ones around them take the new one.
        ix.insert(5..20, z);
        assert_eq!(ix.get(5), Some((z, 10)));
        assert_eq!(ix.get(11), Some((Class::Mixed, 13)));
        assert_eq!(ix.get(19), Some((z, 20)));
        // A window: captured [0x3000, 0x4800) and [0x10000, 0x10001) in the first 16 MiB.
        let mut ix = RunIndex::default();
        assert!(!ix.window_known(7));
        ix.record_window(7, &[0x3000..0x4800, 0x10000..0x10001]);
        assert!(ix.window_known(0) && ix.window_known(4095) && !ix.window_known(4096));
        assert_eq!(ix.get(0), Some((z, 3)));
        assert_eq!(ix.get(3), None);
        assert_eq!(ix.get(4), None, "a page partly captured is left to be read");
        assert_eq!(ix.get(5), Some((z, 16)));
        assert_eq!(ix.get(16), None);
        assert_eq!(ix.get(17), Some((z, 4096)));
        // The last window of the address space.
        let top = u64::MAX / PAGE;
        assert_eq!(RunIndex::window_of(top).end, u64::MAX);
        ix.record_window(top, &[]);
        assert_eq!(ix.get(top).map(|(c, _)| c), Some(z));
    }
}
