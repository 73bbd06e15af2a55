//! The physical memory layer of the kernel-dump engine: one [`PhysicalMemory`] trait over the
//! containers a memory image comes in (LiME, AVML compressed LiME, ELF core, raw image).
//!
//! Every source is memory-mapped and lazy: opening a file reads its headers only (for AVML,
//! every block's header and trailer, found from the end of the file; a block's snappy chunk
//! headers are walked when a read first needs them, and the whole index is cached for the
//! next open once known); bytes are read on demand. Formats are detected by magic in one place, [`sniff`].

mod avml;
mod elf;
mod flat;
mod lime;
mod raw;
pub mod scan;
mod snappy;

use std::ops::Range;
use std::path::Path;

use crate::engine::error::{Error, Result};
use crate::engine::evidence::PartialRead;
use crate::engine::mapped::Blob;

/// Magic of a LiME range header (`"EMiL"` on disk).
const LIME_MAGIC: u32 = 0x4C69_4D45;
/// Magic of an AVML compressed block header (`"AVML"` on disk).
const AVML_MAGIC: u32 = 0x4C4D_5641;
/// Size of a LiME / AVML range header.
const HEADER_LEN: u64 = 32;
/// Highest physical address any supported architecture can have (52 bits on x86-64 and
/// arm64); a header reaching beyond it is bogus, not a big machine.
const MAX_PHYS: u64 = 1 << 52;

/// A source of physical memory: a memory image in one of the supported containers.
pub trait PhysicalMemory: Send + Sync + std::fmt::Debug {
    /// Reads physical memory at `addr` into `buf`; bytes no range covers are zeroed and left
    /// out of the result.
    fn read_phys(&self, addr: u64, buf: &mut [u8]) -> Result<PartialRead>;

    /// The physical ranges present (sorted, disjoint, end exclusive), as the container
    /// declares them (adjacent ranges are not merged).
    fn ranges(&self) -> &[Range<u64>];

    /// Format name: `"lime"`, `"avml"`, `"elf"` or `"raw"`.
    fn format(&self) -> &'static str;

    /// The VMCOREINFO text if the container carries it (ELF `PT_NOTE` "VMCOREINFO"); `None`
    /// otherwise.
    fn vmcoreinfo(&self) -> Option<&str> {
        None
    }

    /// Zero-copy view of `len` bytes at `addr` when stored contiguously uncompressed
    /// (LiME/ELF/raw); `None` otherwise.
    fn slice(&self, _addr: u64, _len: usize) -> Option<&[u8]> {
        None
    }

    /// A hint that `len` bytes at `addr` are read next, in order (a physical scan's next
    /// window): a source backed by a mapped file asks the kernel to read them ahead, as its
    /// map is otherwise read without read-ahead (see [`Blob::advise_random`]).
    fn prefetch(&self, _addr: u64, _len: u64) {}

    /// Problems found while opening that did not stop it (a truncated last range, trailing
    /// padding, overlapping ranges...), one sentence each naming the file and offset.
    fn warnings(&self) -> &[String] {
        &[]
    }
}

/// Format detection only (for the evidence opener): `Some("lime" | "avml" | "elf")` from the
/// first bytes of a file; `None` = unknown (raw is only used when asked explicitly).
///
/// LiME and AVML need their magic and version (8 bytes); an ELF file must be a little-endian
/// ELF64 core (`ET_CORE`, 18 bytes).
pub fn sniff(head: &[u8]) -> Option<&'static str> {
    use crate::engine::bytes::u32_le_at;
    match (u32_le_at(head, 0), u32_le_at(head, 4)) {
        (Some(LIME_MAGIC), Some(1)) => return Some("lime"),
        (Some(AVML_MAGIC), Some(2)) => return Some("avml"),
        _ => {}
    }
    match head.get(..18) {
        Some(
            [
                0x7f,
                b'E',
                b'L',
                b'F',
                2,
                1,
                _,
                _,
                _,
                _,
                _,
                _,
                _,
                _,
                _,
                _,
                4,
                0,
            ],
        ) => Some("elf"),
        _ => None,
    }
}

/// Detects the format by magic and opens it. Raw images are never guessed: use [`open_raw`].
pub fn open_physical(path: &Path) -> Result<Box<dyn PhysicalMemory>> {
    let blob = Blob::map(path)?;
    // Page tables send reads all over the image: no read-ahead around each fault.
    blob.advise_random();
    let head = blob.get(..64).unwrap_or(&blob);
    match sniff(head) {
        Some("avml") => Ok(Box::new(avml::open(
            blob,
            path,
            path.display().to_string(),
        )?)),
        Some(format) => from_blob(format, blob, path.display().to_string()),
        None => Err(Error::Unrecognised {
            path: path.to_path_buf(),
            reason: "no LiME, AVML or ELF core magic at offset 0 (open it explicitly as a raw \
                     image if it is one)"
                .to_string(),
        }),
    }
}

/// Parses the memory image held in `blob` (named `file` in messages) as `format`: `"lime"`,
/// `"avml"`, `"elf"` or `"raw"` (what [`sniff`] returns, plus raw). For images already in
/// memory (synthetic evidence, the fuzz targets); [`open_physical`] maps a file and calls it.
pub fn from_blob(format: &str, blob: Blob, file: String) -> Result<Box<dyn PhysicalMemory>> {
    match format {
        "lime" => Ok(Box::new(lime::parse(blob, file)?)),
        "avml" => Ok(Box::new(avml::parse(blob, file)?)),
        "elf" => Ok(Box::new(elf::parse(blob, file)?)),
        "raw" => Ok(Box::new(raw::parse(blob, file))),
        _ => Err(Error::Unsupported(
            "physical memory format (expected lime, avml, elf or raw)",
        )),
    }
}

/// Opens `path` as the memory image format named (`"lime"`, `"avml"`, `"elf"`, `"raw"`),
/// whatever its first bytes say.
pub fn open_physical_as(path: &Path, format: &str) -> Result<Box<dyn PhysicalMemory>> {
    match format {
        "raw" => open_raw(path),
        "avml" => Ok(Box::new(avml::open(
            Blob::map(path)?,
            path,
            path.display().to_string(),
        )?)),
        _ => from_blob(format, Blob::map(path)?, path.display().to_string()),
    }
}

/// Opens a raw (or LiME "padded") image: the whole file is physical memory from address 0.
pub fn open_raw(path: &Path) -> Result<Box<dyn PhysicalMemory>> {
    let blob = Blob::map(path)?;
    blob.advise_random();
    Ok(Box::new(raw::parse(blob, path.display().to_string())))
}

/// `len` bytes at file offset `at`, if the file has them.
fn bytes_at(data: &[u8], at: u64, len: u64) -> Option<&[u8]> {
    let start = usize::try_from(at).ok()?;
    let end = start.checked_add(usize::try_from(len).ok()?)?;
    data.get(start..end)
}

/// A [`Error::Truncated`] for `need` bytes at `at` in a file of `size` bytes.
fn truncated(file: &str, at: u64, need: u64, size: u64) -> Error {
    Error::Truncated {
        file: file.to_string(),
        at,
        need,
        have: size.saturating_sub(at),
    }
}

/// A [`Error::Corrupt`] at `at`.
fn corrupt(file: &str, at: u64, reason: impl Into<String>) -> Error {
    Error::Corrupt {
        file: file.to_string(),
        at,
        reason: reason.into(),
    }
}

/// One LiME / AVML range header.
#[derive(Debug, Clone, PartialEq, Eq)]
struct RangeHeader {
    /// The magic found.
    magic: u32,
    /// The version found.
    version: u32,
    /// Start of the physical range.
    start: u64,
    /// Inclusive end of the physical range, as stored.
    end_inclusive: u64,
}

impl RangeHeader {
    /// Reads the 32-byte header at `at`.
    fn read(data: &[u8], file: &str, at: u64) -> Result<RangeHeader> {
        let size = data.len() as u64;
        let bytes = bytes_at(data, at, HEADER_LEN).ok_or_else(|| truncated(file, at, 32, size))?;
        let mut c = crate::engine::bytes::Cursor::new(bytes, at);
        let (Some(magic), Some(version), Some(start), Some(end_inclusive)) =
            (c.u32_le(), c.u32_le(), c.u64_le(), c.u64_le())
        else {
            return Err(truncated(file, at, 32, size));
        };
        Ok(RangeHeader {
            magic,
            version,
            start,
            end_inclusive,
        })
    }

    /// The physical range (end exclusive), after checking it is plausible.
    fn range(&self, file: &str, at: u64) -> Result<Range<u64>> {
        let (start, end) = (self.start, self.end_inclusive);
        if end < start {
            return Err(corrupt(
                file,
                at + 16,
                format!("range header end {end:#x} is below its start {start:#x}"),
            ));
        }
        if end >= MAX_PHYS {
            return Err(corrupt(
                file,
                at + 16,
                format!(
                    "range header {start:#x}-{end:#x} reaches beyond the 52-bit physical \
                     address space (a bogus header, not memory)"
                ),
            ));
        }
        Ok(start..end + 1)
    }
}

/// True when `bytes` are all zero (trailing padding after the last range).
fn all_zero(bytes: &[u8]) -> bool {
    bytes.iter().all(|&b| b == 0)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn sniffs_by_magic() {
        let mut lime = b"EMiL".to_vec();
        lime.extend_from_slice(&1u32.to_le_bytes());
        assert_eq!(sniff(&lime), Some("lime"));
        let mut avml = b"AVML".to_vec();
        avml.extend_from_slice(&2u32.to_le_bytes());
        assert_eq!(sniff(&avml), Some("avml"));
        avml[4] = 1;
        assert_eq!(sniff(&avml), None);
        let mut elf = vec![0x7f, b'E', b'L', b'F', 2, 1, 1, 0];
        elf.resize(16, 0);
        elf.extend_from_slice(&[4, 0]);
        assert_eq!(sniff(&elf), Some("elf"));
        elf[16] = 2; // ET_EXEC: an executable, not a core
        assert_eq!(sniff(&elf), None);
        assert_eq!(sniff(b""), None);
        assert_eq!(sniff(b"EMi"), None);
    }

    #[test]
    #[allow(clippy::single_range_in_vec_init)]
    fn from_blob_parses_each_format() {
        let raw = from_blob("raw", Blob::Owned(vec![7; 64]), "r".into()).unwrap();
        assert_eq!((raw.format(), raw.ranges()), ("raw", &[0..64][..]));
        let mut lime = b"EMiL".to_vec();
        lime.extend_from_slice(&1u32.to_le_bytes());
        lime.extend_from_slice(&0x1000u64.to_le_bytes());
        lime.extend_from_slice(&0x100fu64.to_le_bytes());
        lime.extend_from_slice(&[0; 8 + 16]);
        let img = from_blob("lime", Blob::Owned(lime.clone()), "l".into()).unwrap();
        assert_eq!(img.ranges(), &[0x1000..0x1010]);
        assert!(from_blob("avml", Blob::Owned(lime.clone()), "a".into()).is_err());
        assert!(from_blob("elf", Blob::Owned(lime.clone()), "e".into()).is_err());
        assert!(matches!(
            from_blob("vmdk", Blob::Owned(lime), "v".into()),
            Err(Error::Unsupported(_))
        ));
    }

    #[test]
    fn header_ranges_are_checked() {
        let h = RangeHeader {
            magic: LIME_MAGIC,
            version: 1,
            start: 0x2000,
            end_inclusive: 0x1fff,
        };
        assert!(matches!(
            h.range("f", 64),
            Err(Error::Corrupt { at: 80, .. })
        ));
        let h = RangeHeader {
            end_inclusive: u64::MAX,
            ..h
        };
        assert!(matches!(
            h.range("f", 0),
            Err(Error::Corrupt { at: 16, .. })
        ));
        let h = RangeHeader {
            end_inclusive: 0x2fff,
            ..h
        };
        assert_eq!(h.range("f", 0).unwrap(), 0x2000..0x3000);
    }
}
