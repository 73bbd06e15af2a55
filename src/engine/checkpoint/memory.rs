//! Reading a checkpointed process's virtual memory through its [`PageIndex`].

use std::ops::Range;

use crate::engine::checkpoint::pagemap::{PageIndex, PageState};
use crate::engine::evidence::PartialRead;
use crate::engine::page_source::{Absence, Cover, PageSource, SourcedRange};

/// One process's captured memory: its page index and the pages file it points into, and
/// the same process in the parent (pre-dump) images, where the pages this dump marks "in
/// the parent" are.
#[derive(Debug, Clone, Default)]
pub struct ProcessMemory {
    /// Normalised member name of the pages file (`checkpoint/pages-2.img`).
    pub pages_member: String,
    /// The page index.
    pub index: PageIndex,
    /// The process's memory in the parent images, when the evidence has them.
    pub parent: Option<Box<ProcessMemory>>,
}

impl ProcessMemory {
    /// Copies `[addr, addr + buf.len())` out of `pages`; uncaptured bytes are zeroed.
    pub fn read(&self, pages: &[u8], addr: u64, buf: &mut [u8]) -> PartialRead {
        buf.fill(0);
        let mut out = PartialRead::default();
        let end = addr.saturating_add(buf.len() as u64);
        for (range, off) in self.index.pieces(addr..end) {
            let Some(off) = off else { continue };
            let len = (range.end - range.start) as usize;
            let at = (range.start - addr) as usize;
            let src = usize::try_from(off)
                .ok()
                .and_then(|o| pages.get(o..o.checked_add(len)?));
            let dst = buf.get_mut(at..at + len);
            if let (Some(src), Some(dst)) = (src, dst) {
                dst.copy_from_slice(src);
                out.push(at..at + len);
            }
        }
        out
    }

    /// The bytes at `[addr, addr + len)` as one slice of `pages`, if all captured and contiguous.
    pub fn slice<'a>(&self, pages: &'a [u8], addr: u64, len: usize) -> Option<&'a [u8]> {
        let end = addr.checked_add(len as u64)?;
        let mut first: Option<u64> = None;
        let mut expect = addr;
        for (range, off) in self.index.pieces(addr..end) {
            let off = off?;
            if range.start != expect {
                return None;
            }
            match first {
                None => first = Some(off),
                Some(f) if f + (range.start - addr) != off => return None,
                Some(_) => {}
            }
            expect = range.end;
        }
        if expect != end {
            return None;
        }
        let f = usize::try_from(first?).ok()?;
        pages.get(f..f.checked_add(len)?)
    }

    /// Captured ranges within `range` in this image only.
    pub fn captured(&self, range: Range<u64>) -> Vec<Range<u64>> {
        self.index.captured(range)
    }

    /// [`ProcessMemory::read`] through the parent chain: pages this image marks "in the
    /// parent" are read from the parent's images (and so on up). `pages` gives a pages
    /// file's bytes by member name.
    pub fn read_chain<'a>(
        &self,
        pages: &dyn Fn(&str) -> &'a [u8],
        addr: u64,
        buf: &mut [u8],
    ) -> PartialRead {
        let mut out = self.read(pages(&self.pages_member), addr, buf);
        let Some(parent) = &self.parent else {
            return out;
        };
        let end = addr.saturating_add(buf.len() as u64);
        let mut ranges = std::mem::take(&mut out.captured);
        for r in self.index.in_parent(addr..end) {
            let from = (r.start - addr) as usize;
            let to = (r.end - addr) as usize;
            let Some(dst) = buf.get_mut(from..to) else {
                continue;
            };
            let got = parent.read_chain(pages, r.start, dst);
            ranges.extend(
                got.captured
                    .into_iter()
                    .map(|c| c.start + from..c.end + from),
            );
        }
        ranges.sort_by_key(|r| r.start);
        for r in ranges {
            out.push(r);
        }
        out
    }

    /// The images folder this memory was read from (`checkpoint`, `pre-checkpoint`): the
    /// folder of its pages file.
    pub fn images(&self) -> &str {
        self.pages_member
            .rsplit_once('/')
            .map_or("", |(dir, _)| dir)
    }

    /// Where each byte of `range` is, through the parent chain: this image's pages
    /// (`depth` 0: this dump; else the parent `depth` levels up), a parent's, or not
    /// captured and why. Covers all of `range`.
    pub fn sources(&self, range: Range<u64>, depth: u32) -> Vec<SourcedRange> {
        let mut cover = Cover::default();
        let not = |why| PageSource::NotCaptured { why };
        let mut pos = range.start;
        for (r, state) in self.index.states(range.clone()) {
            cover.push(pos..r.start, not(Absence::NotDumped));
            pos = r.end;
            match state {
                PageState::Present { .. } if depth == 0 => cover.push(r, PageSource::ThisDump),
                PageState::Present { .. } => cover.push(
                    r,
                    PageSource::Parent {
                        depth,
                        images: self.images().to_string(),
                    },
                ),
                PageState::Lazy => cover.push(r, not(Absence::Lazy)),
                PageState::InParent => match &self.parent {
                    Some(p) => cover.extend(p.sources(r, depth.saturating_add(1))),
                    None => cover.push(r, not(Absence::ParentMissing)),
                },
            }
        }
        cover.push(pos..range.end, not(Absence::NotDumped));
        cover.finish()
    }

    /// Captured ranges within `range`, through the parent chain, coalesced.
    pub fn captured_chain(&self, range: Range<u64>) -> Vec<Range<u64>> {
        let mut all = self.index.captured(range.clone());
        if let Some(parent) = &self.parent {
            for r in self.index.in_parent(range) {
                all.extend(parent.captured_chain(r));
            }
            all.sort_by_key(|r| r.start);
        }
        let mut out: Vec<Range<u64>> = Vec::new();
        for r in all {
            match out.last_mut() {
                Some(last) if last.end >= r.start => last.end = last.end.max(r.end),
                _ => out.push(r),
            }
        }
        out
    }
}

/// A shared anonymous (or SysV) mapping of a process: its pages are in the shared-memory
/// object's own pagemap (`pagemap-shmem-<shmid>.img`), addressed by offset in the object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShmemWindow {
    /// First virtual address of the mapping.
    pub start: u64,
    /// One past its last address.
    pub end: u64,
    /// Offset in the shared-memory object of `start` (the VMA's pgoff, in bytes).
    pub offset: u64,
    /// The object's id (the VMA's shmid).
    pub shmid: u64,
}

/// A piece of a virtual range: either in the process's own pagemap, or in a shared-memory
/// object at `offset`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece {
    /// Private memory: read through the process's pagemap.
    Private(Range<u64>),
    /// Shared memory: the bytes of `range` are at `offset..` of object `shmid`.
    Shmem {
        /// The virtual range.
        range: Range<u64>,
        /// Object id.
        shmid: u64,
        /// Offset in the object of `range.start`.
        offset: u64,
    },
}

/// Splits `range` into private and shared pieces. `windows` must be sorted and disjoint.
pub fn split(windows: &[ShmemWindow], range: Range<u64>) -> Vec<Piece> {
    let mut out = Vec::new();
    let mut pos = range.start;
    let first = windows.partition_point(|w| w.end <= range.start);
    for w in windows.get(first..).unwrap_or(&[]) {
        if w.start >= range.end || pos >= range.end {
            break;
        }
        if w.start > pos {
            out.push(Piece::Private(pos..w.start));
            pos = w.start;
        }
        let end = w.end.min(range.end);
        if end > pos {
            out.push(Piece::Shmem {
                range: pos..end,
                shmid: w.shmid,
                offset: w.offset.wrapping_add(pos - w.start),
            });
            pos = end;
        }
    }
    if pos < range.end {
        out.push(Piece::Private(pos..range.end));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_private_and_shared() {
        let w = [ShmemWindow {
            start: 0x2000,
            end: 0x4000,
            offset: 0x1000,
            shmid: 9,
        }];
        assert_eq!(
            split(&w, 0x1000..0x5000),
            vec![
                Piece::Private(0x1000..0x2000),
                Piece::Shmem {
                    range: 0x2000..0x4000,
                    shmid: 9,
                    offset: 0x1000
                },
                Piece::Private(0x4000..0x5000),
            ]
        );
        assert_eq!(
            split(&w, 0x3000..0x3800),
            vec![Piece::Shmem {
                range: 0x3000..0x3800,
                shmid: 9,
                offset: 0x2000
            }]
        );
    }
}
