//! The page index of one process: virtual address → bytes of a `pages-<id>.img` file.
//!
//! CRIU writes pagemap entries (runs of pages) in vaddr order; only entries with PE_PRESENT
//! occupy space in the pages file, one page after another in entry order. Entries without
//! PE_PRESENT (lazy pages, pages kept in a parent image) are not captured. The index is a
//! sorted table searched by binary search: a lookup is O(log n).

use std::ops::Range;

use crate::engine::error::Error;

/// Page size of the images (x86-64, arm64 4K kernels).
pub const PAGE_SIZE: u64 = 4096;

/// Pagemap flag: the pages are in a parent image.
pub const PE_PARENT: u32 = 1;
/// Pagemap flag: the pages may be restored lazily.
pub const PE_LAZY: u32 = 2;
/// Pagemap flag: the pages are in this image's pages file.
pub const PE_PRESENT: u32 = 4;

/// One pagemap entry as decoded, before indexing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RawEntry {
    /// First virtual address of the run.
    pub vaddr: u64,
    /// Number of pages (field 5 when present, else field 2).
    pub nr_pages: u64,
    /// Flags, when the image has them.
    pub flags: Option<u32>,
    /// Old images' "in parent" marker.
    pub in_parent: Option<bool>,
    /// Offset of the entry in the pagemap image, for error messages.
    pub offset: u64,
}

/// Why a run of pages is (not) captured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PageState {
    /// In the pages file at this byte offset.
    Present {
        /// Offset of the run's first byte in the pages file.
        file_offset: u64,
    },
    /// Lazy pages: left in the source process, not dumped.
    Lazy,
    /// In a parent (pre-dump) image, not in this one.
    InParent,
}

/// One indexed run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Run {
    /// First virtual address.
    pub start: u64,
    /// One past the last address.
    pub end: u64,
    /// Where its bytes are.
    pub state: PageState,
}

/// The index of one pagemap image.
#[derive(Debug, Clone, Default)]
pub struct PageIndex {
    runs: Vec<Run>,
}

impl PageIndex {
    /// Indexes entries (in file order) of a pagemap whose pages file is `pages_len` bytes.
    ///
    /// Present runs that fall outside the pages file are cut at its end, with a warning;
    /// overlapping entries keep the first, with a warning.
    pub fn build(file: &str, entries: &[RawEntry], pages_len: u64) -> (PageIndex, Vec<Error>) {
        let mut problems = Vec::new();
        let mut runs = Vec::with_capacity(entries.len().min(1 << 20));
        let mut file_offset: u64 = 0;
        for e in entries {
            let flags = e.flags.unwrap_or(if e.in_parent == Some(true) {
                PE_PARENT
            } else {
                PE_PRESENT
            });
            let Some(len) = e.nr_pages.checked_mul(PAGE_SIZE) else {
                problems.push(corrupt(
                    file,
                    e.offset,
                    format!("nr_pages {} overflows", e.nr_pages),
                ));
                continue;
            };
            let Some(end) = e.vaddr.checked_add(len) else {
                problems.push(corrupt(
                    file,
                    e.offset,
                    format!("run at {:#x} wraps", e.vaddr),
                ));
                continue;
            };
            if len == 0 {
                continue;
            }
            if flags & PE_PRESENT != 0 {
                let state = PageState::Present { file_offset };
                let have = pages_len.saturating_sub(file_offset);
                if have < len {
                    problems.push(Error::Truncated {
                        file: file.replace("pagemap-", "pages-for-pagemap-"),
                        at: file_offset,
                        need: len,
                        have,
                    });
                    let kept = have - have % PAGE_SIZE;
                    if kept > 0 {
                        runs.push(Run {
                            start: e.vaddr,
                            end: e.vaddr + kept,
                            state,
                        });
                    }
                } else {
                    runs.push(Run {
                        start: e.vaddr,
                        end,
                        state,
                    });
                }
                file_offset = file_offset.saturating_add(len);
            } else if flags & PE_PARENT != 0 {
                runs.push(Run {
                    start: e.vaddr,
                    end,
                    state: PageState::InParent,
                });
            } else {
                runs.push(Run {
                    start: e.vaddr,
                    end,
                    state: PageState::Lazy,
                });
            }
        }
        runs.sort_by_key(|r| r.start);
        let mut clean: Vec<Run> = Vec::with_capacity(runs.len());
        for r in runs {
            if let Some(prev) = clean.last()
                && r.start < prev.end
            {
                problems.push(corrupt(
                    file,
                    0,
                    format!(
                        "pagemap run {:#x}-{:#x} overlaps the previous one",
                        r.start, r.end
                    ),
                ));
                continue;
            }
            clean.push(r);
        }
        (PageIndex { runs: clean }, problems)
    }

    /// All runs, sorted by address.
    pub fn runs(&self) -> &[Run] {
        &self.runs
    }

    /// The run containing `addr`, if any (binary search).
    pub fn find(&self, addr: u64) -> Option<&Run> {
        let i = self.runs.partition_point(|r| r.end <= addr);
        self.runs.get(i).filter(|r| r.start <= addr)
    }

    /// The index of the first run that ends after `addr`.
    fn first_after(&self, addr: u64) -> usize {
        self.runs.partition_point(|r| r.end <= addr)
    }

    /// Resolves `[addr, addr+len)` into pieces: (virtual range, pages-file offset or `None`).
    pub fn pieces(
        &self,
        range: Range<u64>,
    ) -> impl Iterator<Item = (Range<u64>, Option<u64>)> + '_ {
        let start = self.first_after(range.start);
        self.runs
            .get(start..)
            .unwrap_or(&[])
            .iter()
            .take_while(move |r| r.start < range.end)
            .map(move |r| {
                let s = r.start.max(range.start);
                let e = r.end.min(range.end);
                let off = match r.state {
                    PageState::Present { file_offset } => Some(file_offset + (s - r.start)),
                    _ => None,
                };
                (s..e, off)
            })
    }

    /// The runs within `range` (cut to it) with their states, in address order; addresses
    /// between them have no pagemap entry (never dumped).
    pub fn states(&self, range: Range<u64>) -> impl Iterator<Item = (Range<u64>, PageState)> + '_ {
        let start = self.first_after(range.start);
        self.runs
            .get(start..)
            .unwrap_or(&[])
            .iter()
            .take_while(move |r| r.start < range.end)
            .map(move |r| (r.start.max(range.start)..r.end.min(range.end), r.state))
    }

    /// Ranges within `range` whose pages are in the parent (pre-dump) image.
    pub fn in_parent(&self, range: Range<u64>) -> Vec<Range<u64>> {
        let start = self.first_after(range.start);
        self.runs
            .get(start..)
            .unwrap_or(&[])
            .iter()
            .take_while(|r| r.start < range.end)
            .filter(|r| r.state == PageState::InParent)
            .map(|r| r.start.max(range.start)..r.end.min(range.end))
            .collect()
    }

    /// Captured (present) ranges within `range`, coalesced when adjacent.
    pub fn captured(&self, range: Range<u64>) -> Vec<Range<u64>> {
        let mut out: Vec<Range<u64>> = Vec::new();
        for (r, off) in self.pieces(range) {
            if off.is_none() {
                continue;
            }
            match out.last_mut() {
                Some(last) if last.end == r.start => last.end = r.end,
                _ => out.push(r),
            }
        }
        out
    }

    /// Number of captured pages.
    pub fn present_pages(&self) -> u64 {
        self.runs
            .iter()
            .filter(|r| matches!(r.state, PageState::Present { .. }))
            .map(|r| (r.end - r.start) / PAGE_SIZE)
            .sum()
    }
}

fn corrupt(file: &str, at: u64, reason: String) -> Error {
    Error::Corrupt {
        file: file.to_string(),
        at,
        reason,
    }
}

#[cfg(test)]
#[allow(clippy::indexing_slicing)]
mod tests {
    use super::*;

    fn e(vaddr: u64, nr: u64, flags: Option<u32>) -> RawEntry {
        RawEntry {
            vaddr,
            nr_pages: nr,
            flags,
            in_parent: None,
            offset: 0,
        }
    }

    #[test]
    fn offsets_advance_only_over_present() {
        let entries = [
            e(0x1000, 2, Some(PE_PRESENT)),
            e(0x5000, 1, Some(PE_LAZY)),
            e(0x8000, 1, Some(PE_PARENT)),
            e(0x9000, 3, None),
        ];
        let (idx, problems) = PageIndex::build("pm", &entries, 5 * PAGE_SIZE);
        assert!(problems.is_empty());
        assert_eq!(
            idx.find(0x9000).map(|r| r.state),
            Some(PageState::Present {
                file_offset: 2 * PAGE_SIZE
            })
        );
        assert_eq!(idx.find(0x5000).map(|r| r.state), Some(PageState::Lazy));
        assert_eq!(idx.find(0x8000).map(|r| r.state), Some(PageState::InParent));
        assert!(idx.find(0x4000).is_none());
        assert_eq!(
            idx.captured(0..u64::MAX),
            vec![0x1000..0x3000, 0x9000..0xc000]
        );
    }

    #[test]
    fn truncated_pages_file_is_cut() {
        let (idx, problems) = PageIndex::build("pm", &[e(0x1000, 4, None)], 2 * PAGE_SIZE + 5);
        assert_eq!(problems.len(), 1);
        assert_eq!(idx.captured(0..u64::MAX), vec![0x1000..0x3000]);
    }

    #[test]
    fn huge_counts_do_not_allocate() {
        let (idx, problems) = PageIndex::build("pm", &[e(0x1000, u64::MAX, None)], 0);
        assert_eq!(problems.len(), 1);
        assert!(idx.runs().is_empty());
    }
}
