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
