//! Read-only access to evidence files: memory-mapped, never written.
//!
//! This is the one place in the crate with `unsafe`: the mmap constructor.

use std::fs::File;
use std::ops::Deref;
use std::path::Path;

use crate::engine::error::{Error, Result};

/// The bytes of a file, memory-mapped read-only (or owned, for decompressed data).
pub enum Blob {
    /// A read-only map of a file on disk.
    Mapped(memmap2::Mmap),
    /// Bytes held in memory (decompressed archives, synthetic evidence).
    Owned(Vec<u8>),
}

impl Blob {
    /// Maps `path` read-only. Empty files give an empty owned blob (mmap refuses length 0).
    pub fn map(path: &Path) -> Result<Blob> {
        let file = File::open(path).map_err(|e| Error::io(path, e))?;
        let len = file.metadata().map_err(|e| Error::io(path, e))?.len();
        if len == 0 {
            return Ok(Blob::Owned(Vec::new()));
        }
        // SAFETY: the map is read-only and private to this process. Evidence files are not
        // expected to change while open; if another process truncates one, reads past the new
        // end would fault, which is the documented risk every mmap-based reader (ripgrep,
        // Volatility's mmap layer) accepts for lazy access to multi-GiB dumps.
        #[allow(unsafe_code)]
        let map =
            unsafe { memmap2::MmapOptions::new().map(&file) }.map_err(|e| Error::io(path, e))?;
        Ok(Blob::Mapped(map))
    }
}

impl Blob {
    /// Tells the kernel that the map is read at random places (a memory image read through
    /// page tables): no read-ahead around each page fault. Without it, a fault reads the
    /// device's whole read-ahead window (8 MiB on some virtual disks) around the page, which
    /// for scattered 4 KiB reads of a large dump means reading (and, for a sparse file,
    /// zero-filling) gigabytes, and a resident set that grows with them. Sequential scans
    /// ask for their next bytes with [`Blob::will_need`]. A failed hint is only logged.
    pub fn advise_random(&self) {
        if let Blob::Mapped(m) = self
            && let Err(e) = m.advise(memmap2::Advice::Random)
        {
            tracing::debug!("madvise(MADV_RANDOM) refused: {e}");
        }
    }

    /// Tells the kernel that the map is read in order (a walk of a whole file): aggressive
    /// read-ahead. A failed hint is only logged.
    pub fn advise_sequential(&self) {
        if let Blob::Mapped(m) = self
            && let Err(e) = m.advise(memmap2::Advice::Sequential)
        {
            tracing::debug!("madvise(MADV_SEQUENTIAL) refused: {e}");
        }
    }

    /// Asks the kernel to read `len` bytes at offset `at` ahead (clamped to the map), for a
    /// sequential scan of a map advised random. A failed hint is only logged.
    pub fn will_need(&self, at: u64, len: u64) {
        let Blob::Mapped(m) = self else {
            return;
        };
        let size = m.len() as u64;
        if at >= size || len == 0 {
            return;
        }
        let len = len.min(size - at);
        let (Ok(at), Ok(len)) = (usize::try_from(at), usize::try_from(len)) else {
            return;
        };
        if let Err(e) = m.advise_range(memmap2::Advice::WillNeed, at, len) {
            tracing::debug!("madvise(MADV_WILLNEED) refused: {e}");
        }
    }
}

impl Deref for Blob {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match self {
            Blob::Mapped(m) => m,
            Blob::Owned(v) => v,
        }
    }
}

impl std::fmt::Debug for Blob {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Blob::Mapped(m) => write!(f, "Blob::Mapped({} bytes)", m.len()),
            Blob::Owned(v) => write!(f, "Blob::Owned({} bytes)", v.len()),
        }
    }
}
