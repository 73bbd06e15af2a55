//! Read-only access to evidence files: memory-mapped, never written.
//!
//! This is the one place in the crate with `unsafe`: the mmap constructor, and [`guard`],
//! which keeps a file that shrinks under its map from killing the process (SIGBUS).

pub mod guard;

use std::fs::File;
use std::ops::Deref;
use std::path::Path;

use crate::engine::error::{Error, Result};

/// The bytes of a file, memory-mapped read-only (or owned, for decompressed data).
pub enum Blob {
    /// A read-only map of a file on disk, guarded against the file shrinking.
    Mapped(Guarded),
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
        // SAFETY: the map is read-only and private to this process. If another process
        // truncates the file, reads past its new end fault (SIGBUS): `guard` turns that into
        // zeros plus a recorded fault that the engine reports as an error (see `check`).
        #[allow(unsafe_code)]
        let map =
            unsafe { memmap2::MmapOptions::new().map(&file) }.map_err(|e| Error::io(path, e))?;
        let guard = guard::register(path, map.as_ptr(), map.len());
        Ok(Blob::Mapped(Guarded { _guard: guard, map }))
    }
}

/// A guarded read-only map (field order matters: the guard is dropped before the map).
pub struct Guarded {
    _guard: guard::Registration,
    map: memmap2::Mmap,
}

/// Fails with [`Error::EvidenceChanged`] if a read of mapped evidence has met bytes that are
/// gone (the file shrank while open: reads there returned zeros). Cheap: call it after any
/// long read and before trusting results.
pub fn check() -> Result<()> {
    match guard::fault() {
        None => Ok(()),
        Some(f) => Err(Error::EvidenceChanged {
            path: f.path,
            offset: f.offset,
            now: f.now,
        }),
    }
}

impl Deref for Blob {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match self {
            Blob::Mapped(m) => &m.map,
            Blob::Owned(v) => v,
        }
    }
}

impl std::fmt::Debug for Blob {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Blob::Mapped(m) => write!(f, "Blob::Mapped({} bytes)", m.map.len()),
            Blob::Owned(v) => write!(f, "Blob::Owned({} bytes)", v.len()),
        }
    }
}
