//! Reading a checkpointed process's virtual memory through its [`PageIndex`].

use std::ops::Range;

use crate::engine::checkpoint::pagemap::PageIndex;
use crate::engine::evidence::PartialRead;

/// One process's captured memory: its page index and the pages file it points into.
#[derive(Debug, Clone, Default)]
pub struct ProcessMemory {
    /// Normalised member name of the pages file (`checkpoint/pages-2.img`).
    pub pages_member: String,
    /// The page index.
    pub index: PageIndex,
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

    /// Captured ranges within `range`.
    pub fn captured(&self, range: Range<u64>) -> Vec<Range<u64>> {
        self.index.captured(range)
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
