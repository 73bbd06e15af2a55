//! LiME images (what AVML writes by default): before each physical range a 32-byte header
//! (magic `0x4C694D45`, version 1, start, INCLUSIVE end, reserved), then the range's bytes.
//!
//! Opening walks the headers only (one per range) and keeps the ranges in a sorted table;
//! reads binary-search it. A last range cut short by the end of the file is clamped with a
//! warning; zero padding after the last range (a raw disk cut at a block boundary) is ignored
//! with a warning; a header that is impossible (end below start, beyond 52-bit physical
//! addresses, bad magic or version) is an error naming its offset.

use super::flat::{Extent, MappedImage, normalize};
use super::{HEADER_LEN, LIME_MAGIC, RangeHeader, all_zero, bytes_at, corrupt};
use crate::engine::error::{Error, Result};
use crate::engine::mapped::Blob;

/// Parses the LiME image in `blob` (named `file` in messages).
pub(crate) fn parse(blob: Blob, file: String) -> Result<MappedImage> {
    let size = blob.len() as u64;
    let mut extents = Vec::new();
    let mut warnings = Vec::new();
    let mut at = 0u64;
    while at < size {
        let rest = size - at;
        if !extents.is_empty() && bytes_at(&blob, at, rest).is_some_and(all_zero) {
            warnings.push(format!(
                "{file}: {rest} bytes of zero padding after the last range, at offset {at:#x}, \
                 ignored"
            ));
            break;
        }
        if rest < HEADER_LEN && !extents.is_empty() {
            warnings.push(format!(
                "{file}: {rest} trailing bytes at offset {at:#x} ignored (too short for a LiME \
                 header)"
            ));
            break;
        }
        let header = RangeHeader::read(&blob, &file, at)?;
        if header.magic != LIME_MAGIC {
            return Err(Error::BadMagic {
                file,
                at,
                found: header.magic,
                expected: "LiME range header 0x4c694d45 (\"EMiL\")",
            });
        }
        if header.version != 1 {
            return Err(corrupt(
                &file,
                at + 4,
                format!("unsupported LiME version {} (expected 1)", header.version),
            ));
        }
        let phys = header.range(&file, at)?;
        let data = at + HEADER_LEN;
        let want = phys.end - phys.start;
        let have = size - data;
        if want > have {
            warnings.push(format!(
                "{file}: the range {:#x}-{:#x} declared at offset {at:#x} is truncated: the \
                 file holds {have} of its {want} bytes; the rest is treated as not captured",
                phys.start, header.end_inclusive
            ));
            if have > 0 {
                extents.push(Extent {
                    phys: phys.start..phys.start + have,
                    file: data,
                    stored: have,
                    origin: at,
                });
            }
            break;
        }
        extents.push(Extent {
            phys,
            file: data,
            stored: want,
            origin: at,
        });
        at = data + want;
    }
    warnings.extend(normalize(&mut extents, &file));
    Ok(MappedImage::new(file, blob, "lime", extents, warnings))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]
mod tests {
    use super::*;
    use crate::engine::kernel::physical::PhysicalMemory;

    fn header(magic: u32, version: u32, start: u64, end: u64) -> Vec<u8> {
        let mut h = Vec::new();
        h.extend_from_slice(&magic.to_le_bytes());
        h.extend_from_slice(&version.to_le_bytes());
        h.extend_from_slice(&start.to_le_bytes());
        h.extend_from_slice(&end.to_le_bytes());
        h.extend_from_slice(&[0; 8]);
        h
    }

    #[test]
    fn parses_ranges_and_padding() {
        let mut f = header(LIME_MAGIC, 1, 0x1000, 0x1fff);
        f.extend(std::iter::repeat_n(1u8, 0x1000));
        f.extend(header(LIME_MAGIC, 1, 0x3000, 0x3fff));
        f.extend(std::iter::repeat_n(2u8, 0x1000));
        f.extend([0u8; 100]);
        let img = parse(Blob::Owned(f), "t.lime".into()).unwrap();
        assert_eq!(img.ranges(), &[0x1000..0x2000, 0x3000..0x4000]);
        assert_eq!(img.warnings().len(), 1, "{:?}", img.warnings());
        assert!(img.warnings()[0].contains("zero padding"));
    }

    #[test]
    fn rejects_bad_headers_with_offsets() {
        let mut f = header(LIME_MAGIC, 1, 0x1000, 0x1fff);
        f.extend(std::iter::repeat_n(1u8, 0x1000));
        f.extend(header(0x1234_5678, 1, 0x3000, 0x3fff));
        match parse(Blob::Owned(f), "t".into()) {
            Err(Error::BadMagic { at: 0x1020, .. }) => {}
            other => panic!("{other:?}"),
        }
        let f = header(LIME_MAGIC, 2, 0x1000, 0x1fff);
        assert!(matches!(
            parse(Blob::Owned(f), "t".into()),
            Err(Error::Corrupt { at: 4, .. })
        ));
        let f = header(LIME_MAGIC, 1, 0, 10);
        assert!(matches!(
            parse(Blob::Owned(f[..20].to_vec()), "t".into()),
            Err(Error::Truncated { at: 0, .. })
        ));
    }
}
