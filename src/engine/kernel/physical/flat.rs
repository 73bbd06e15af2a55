//! An uncompressed memory image in one mapped file: the reader shared by LiME, ELF cores and
//! raw images. Their parsers only build the table of [`Extent`]s; reads, zero-copy slices and
//! the walk over ranges and gaps live here.

use std::ops::Range;

use super::PhysicalMemory;
use crate::engine::error::{Error, Result};
use crate::engine::evidence::PartialRead;
use crate::engine::mapped::Blob;

/// One run of physical memory and where its bytes are in the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Extent {
    /// Physical addresses covered (end exclusive).
    pub phys: Range<u64>,
    /// File offset of the byte at `phys.start`.
    pub file: u64,
    /// Bytes stored in the file from `file` on (at most the extent's length); the rest of the
    /// extent is present but reads as zero (an ELF segment's `p_memsz` beyond `p_filesz`).
    pub stored: u64,
    /// File offset of the header that declared the extent (for messages).
    pub origin: u64,
}

impl Extent {
    /// Drops the first `n` bytes of the extent.
    fn trim_front(&mut self, n: u64) {
        self.phys.start = self.phys.start.saturating_add(n).min(self.phys.end);
        self.file = self.file.saturating_add(n);
        self.stored = self.stored.saturating_sub(n);
    }
}

/// Sorts extents by physical address and trims overlaps so they become disjoint (the first
/// extent in address order keeps the overlapping bytes). Returns one sentence per overlap.
pub(crate) fn normalize(extents: &mut Vec<Extent>, file: &str) -> Vec<String> {
    // Longest first among equal starts, so a shorter duplicate is dropped whole.
    extents.sort_by(|a, b| {
        a.phys
            .start
            .cmp(&b.phys.start)
            .then(b.phys.end.cmp(&a.phys.end))
    });
    let mut notes = Vec::new();
    let mut out: Vec<Extent> = Vec::with_capacity(extents.len());
    for mut e in extents.drain(..) {
        if let Some(prev) = out.last()
            && e.phys.start < prev.phys.end
        {
            notes.push(format!(
                "{file}: the range {:#x}-{:#x} declared at offset {:#x} overlaps the one at \
                 offset {:#x}; its first {} overlapping bytes are ignored",
                e.phys.start,
                e.phys.end,
                e.origin,
                prev.origin,
                prev.phys.end.min(e.phys.end) - e.phys.start
            ));
            let cut = prev.phys.end - e.phys.start;
            e.trim_front(cut);
        }
        if !e.phys.is_empty() {
            out.push(e);
        }
    }
    *extents = out;
    notes
}

/// Reads `[addr, addr + buf.len())` over sorted, disjoint `spans`: `fill(span, offset in span,
/// dst)` copies each covered piece, gaps are zeroed and left out of the result. Bytes beyond
/// the end of the 64-bit address space are never covered.
pub(crate) fn walk<S>(
    spans: &[S],
    span_of: impl Fn(&S) -> Range<u64>,
    addr: u64,
    buf: &mut [u8],
    mut fill: impl FnMut(&S, u64, &mut [u8]) -> Result<()>,
) -> Result<PartialRead> {
    let mut read = PartialRead::default();
    let len = buf.len();
    let mut done = 0usize;
    let mut i = spans.partition_point(|s| span_of(s).end <= addr);
    while done < len {
        let Some(pos) = addr.checked_add(done as u64) else {
            break;
        };
        let Some(span) = spans.get(i) else {
            break;
        };
        let r = span_of(span);
        let left = len - done;
        if r.start > pos {
            let gap = usize::try_from(r.start - pos).map_or(left, |g| g.min(left));
            if let Some(dst) = buf.get_mut(done..done + gap) {
                dst.fill(0);
            }
            done += gap;
            continue;
        }
        let n = usize::try_from(r.end.saturating_sub(pos)).map_or(left, |g| g.min(left));
        let Some(dst) = buf.get_mut(done..done + n) else {
            break;
        };
        fill(span, pos - r.start, dst)?;
        read.push(done..done + n);
        done += n;
        i += 1;
    }
    if let Some(rest) = buf.get_mut(done..) {
        rest.fill(0);
    }
    Ok(read)
}

/// A physical memory image whose ranges are stored uncompressed in one mapped file.
#[derive(Debug)]
pub(crate) struct MappedImage {
    /// The file, for messages.
    file: String,
    /// Its bytes.
    blob: Blob,
    /// Sorted, disjoint extents.
    extents: Vec<Extent>,
    /// `extents`' physical ranges, for [`PhysicalMemory::ranges`].
    ranges: Vec<Range<u64>>,
    /// Format name.
    format: &'static str,
    /// VMCOREINFO text, when the container has it.
    vmcoreinfo: Option<String>,
    /// Problems found while opening.
    warnings: Vec<String>,
}

impl MappedImage {
    /// An image over `blob` with `extents`, which must be sorted, disjoint (see [`normalize`])
    /// and stored within the file (parsers clamp truncated ones).
    pub(crate) fn new(
        file: String,
        blob: Blob,
        format: &'static str,
        extents: Vec<Extent>,
        warnings: Vec<String>,
    ) -> MappedImage {
        let ranges = extents.iter().map(|e| e.phys.clone()).collect();
        MappedImage {
            file,
            blob,
            extents,
            ranges,
            format,
            vmcoreinfo: None,
            warnings,
        }
    }

    /// Sets the VMCOREINFO text.
    pub(crate) fn with_vmcoreinfo(mut self, text: Option<String>) -> MappedImage {
        self.vmcoreinfo = text;
        self
    }

    /// Copies `dst.len()` bytes at `offset` into extent `e`.
    fn fill(&self, e: &Extent, offset: u64, dst: &mut [u8]) -> Result<()> {
        let stored = e.stored.saturating_sub(offset).min(dst.len() as u64);
        let at = e.file.saturating_add(offset);
        let src = super::bytes_at(&self.blob, at, stored).ok_or_else(|| Error::Truncated {
            file: self.file.clone(),
            at,
            need: stored,
            have: (self.blob.len() as u64).saturating_sub(at),
        })?;
        let (head, tail) = dst.split_at_mut(src.len());
        head.copy_from_slice(src);
        tail.fill(0);
        Ok(())
    }
}

impl PhysicalMemory for MappedImage {
    fn read_phys(&self, addr: u64, buf: &mut [u8]) -> Result<PartialRead> {
        walk(
            &self.extents,
            |e| e.phys.clone(),
            addr,
            buf,
            |e, off, dst| self.fill(e, off, dst),
        )
    }

    fn ranges(&self) -> &[Range<u64>] {
        &self.ranges
    }

    fn format(&self) -> &'static str {
        self.format
    }

    fn vmcoreinfo(&self) -> Option<&str> {
        self.vmcoreinfo.as_deref()
    }

    fn slice(&self, addr: u64, len: usize) -> Option<&[u8]> {
        let i = self.extents.partition_point(|e| e.phys.end <= addr);
        let e = self.extents.get(i)?;
        let offset = addr.checked_sub(e.phys.start)?;
        let end = offset.checked_add(len as u64)?;
        if end > e.stored {
            return None;
        }
        super::bytes_at(&self.blob, e.file.checked_add(offset)?, len as u64)
    }

    fn prefetch(&self, addr: u64, len: u64) {
        let Some(end) = addr.checked_add(len) else {
            return;
        };
        let first = self.extents.partition_point(|e| e.phys.end <= addr);
        for e in self.extents.get(first..).unwrap_or_default() {
            if e.phys.start >= end {
                break;
            }
            let lo = addr.max(e.phys.start) - e.phys.start;
            let hi = (end.min(e.phys.end) - e.phys.start).min(e.stored);
            if lo < hi {
                self.blob.will_need(e.file.saturating_add(lo), hi - lo);
            }
        }
    }

    fn warnings(&self) -> &[String] {
        &self.warnings
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    fn ext(phys: Range<u64>, file: u64, stored: u64) -> Extent {
        Extent {
            phys,
            file,
            stored,
            origin: 0,
        }
    }

    #[test]
    fn reads_across_extents_gaps_and_zero_tails() {
        let data: Vec<u8> = (0..=255u8).collect();
        // 0x10-0x20 from file 0; 0x30-0x40 from file 0x80 with only 8 bytes stored.
        let img = MappedImage::new(
            "t".into(),
            Blob::Owned(data),
            "raw",
            vec![ext(0x10..0x20, 0, 16), ext(0x30..0x40, 0x80, 8)],
            vec![],
        );
        let mut buf = [0xaau8; 0x40];
        let r = img.read_phys(0x8, &mut buf).unwrap();
        assert_eq!(r.captured, vec![0x8..0x18, 0x28..0x38]);
        assert_eq!(&buf[..8], &[0; 8]);
        assert_eq!(&buf[8..0x18], &(0..16).collect::<Vec<u8>>()[..]);
        assert_eq!(&buf[0x18..0x28], &[0; 16]);
        assert_eq!(&buf[0x28..0x30], &(0x80..0x88).collect::<Vec<u8>>()[..]);
        assert_eq!(&buf[0x30..], &[0; 16]);
        assert_eq!(img.slice(0x12, 4), Some(&[2u8, 3, 4, 5][..]));
        assert_eq!(img.slice(0x1e, 4), None);
        assert_eq!(img.slice(0x36, 4), None);
        let mut top = [1u8; 4];
        let r = img.read_phys(u64::MAX - 1, &mut top).unwrap();
        assert!(r.captured.is_empty());
        assert_eq!(top, [0; 4]);
    }

    #[test]
    fn overlaps_are_trimmed() {
        let mut v = vec![ext(0x100..0x200, 0x1000, 0x100), ext(0..0x180, 0, 0x180)];
        let notes = normalize(&mut v, "f");
        assert_eq!(notes.len(), 1);
        assert_eq!(
            v,
            vec![ext(0..0x180, 0, 0x180), ext(0x180..0x200, 0x1080, 0x80)]
        );
        let mut v = vec![ext(0..0x100, 0, 0x100), ext(0..0x80, 0x500, 0x80)];
        normalize(&mut v, "f");
        assert_eq!(v, vec![ext(0..0x100, 0, 0x100)]);
    }
}
