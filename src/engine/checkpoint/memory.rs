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
