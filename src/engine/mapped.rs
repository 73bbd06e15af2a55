//! Read-only access to evidence files: memory-mapped, never written.
//!
//! This is the one place in the crate with `unsafe`: the mmap constructor, and [`guard`],
//! which keeps a file that shrinks under its map from killing the process (SIGBUS) and drops
//! the pages a scan is done with from the resident set ([`release`]).

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
        Blob::map_file(&file, path)
    }

    /// Maps the open file `file` (found at `path`, which names it in errors) read-only,
    /// for a caller that also needs the open file's metadata.
    pub fn map_file(file: &File, path: &Path) -> Result<Blob> {
        let len = file.metadata().map_err(|e| Error::io(path, e))?.len();
        if len == 0 {
            return Ok(Blob::Owned(Vec::new()));
        }
        // SAFETY: the map is read-only and private to this process. If another process
        // truncates the file, reads past its new end fault (SIGBUS): `guard` turns that into
        // zeros plus a recorded fault that the engine reports as an error (see `check`).
        #[allow(unsafe_code)]
        let map =
            unsafe { memmap2::MmapOptions::new().map(file) }.map_err(|e| Error::io(path, e))?;
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

impl Blob {
    /// Tells the kernel that the map is read at random places (a memory image read through
    /// page tables): no read-ahead around each page fault. Without it, a fault reads the
    /// device's whole read-ahead window (8 MiB on some virtual disks) around the page, which
    /// for scattered 4 KiB reads of a large dump means reading (and, for a sparse file,
    /// zero-filling) gigabytes, and a resident set that grows with them. Sequential scans
    /// ask for their next bytes with [`Blob::will_need`]. A failed hint is only logged.
    pub fn advise_random(&self) {
        if let Blob::Mapped(m) = self
            && let Err(e) = m.map.advise(memmap2::Advice::Random)
        {
            tracing::debug!("madvise(MADV_RANDOM) refused: {e}");
        }
    }

    /// Tells the kernel that the map is read in order (a walk of a whole file): aggressive
    /// read-ahead. A failed hint is only logged.
    pub fn advise_sequential(&self) {
        if let Blob::Mapped(m) = self
            && let Err(e) = m.map.advise(memmap2::Advice::Sequential)
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
        let size = m.map.len() as u64;
        if at >= size || len == 0 {
            return;
        }
        let len = len.min(size - at);
        let (Ok(at), Ok(len)) = (usize::try_from(at), usize::try_from(len)) else {
            return;
        };
        if let Err(e) = m.map.advise_range(memmap2::Advice::WillNeed, at, len) {
            tracing::debug!("madvise(MADV_WILLNEED) refused: {e}");
        }
    }
}

/// Drops the pages of mapped evidence behind `bytes` from the process's resident set, once
/// a scan is done with them: without it, the peak resident set of a search counts every
/// page of the dump it read (gigabytes for a node's memory). Pages are whole: a page that
/// `bytes` only partly covers is dropped too. Does nothing when `bytes` is not in a map of
/// evidence (a buffer on the heap, owned bytes).
///
/// Sound, and cheap to get wrong only in speed: evidence is mapped read-only and private, so
/// no page of a map was ever written, and `MADV_DONTNEED` on such a page only unmaps it; a
/// later read (through `bytes` itself, or any other slice of the map still alive) faults the
/// same bytes in again from the file's page cache.
pub fn release(bytes: &[u8]) {
    guard::release(bytes.as_ptr() as usize, bytes.len());
}

/// Drops every page of every map of evidence from the process's resident set (see
/// [`release`]), after a walk that read pages all over a dump (a kernel's task list, every
/// process's page tables): cheap, as only the page tables of pages actually mapped are
/// visited, and the pages still needed are faulted in again from the page cache.
pub fn release_all() {
    guard::release_all();
}

impl Blob {
    /// Drops the pages of `len` bytes at offset `at` of a mapped blob from the process's
    /// resident set (see [`release`]); nothing for owned bytes.
    pub fn release(&self, at: u64, len: u64) {
        let Blob::Mapped(m) = self else {
            return;
        };
        let size = m.map.len() as u64;
        if at >= size {
            return;
        }
        let len = len.min(size - at);
        if let (Ok(at), Ok(len)) = (usize::try_from(at), usize::try_from(len))
            && let Some(bytes) = m.map.get(at..at.saturating_add(len))
        {
            release(bytes);
        }
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;

    #[test]
    fn released_pages_read_the_same_bytes_again() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("evidence");
        // Large enough to be released (smaller maps keep their pages), sparse on disk.
        let size = guard::KEEP_RESIDENT_BELOW + (1 << 20);
        let data: Vec<u8> = (0..300_000u32).map(|i| (i * 7 % 251) as u8).collect();
        let at = size - data.len();
        {
            use std::io::{Seek, Write};
            let mut f = std::fs::File::create(&path).unwrap();
            f.seek(std::io::SeekFrom::Start(at as u64)).unwrap();
            f.write_all(&data).unwrap();
        }
        let blob = Blob::map(&path).unwrap();
        let slice = &blob[at + 70_000..at + 200_000];
        assert_eq!(slice, &data[70_000..200_000]);
        release(slice);
        assert_eq!(
            slice,
            &data[70_000..200_000],
            "faulted in again from the file"
        );
        blob.release(0, u64::MAX);
        release_all();
        assert_eq!(&blob[at..], &data[..]);
        assert!(blob[..4096].iter().all(|&b| b == 0));
        // Bytes outside every map of evidence are left alone (a heap buffer is not zeroed).
        let heap = vec![0x5au8; 1 << 20];
        release(&heap[4096..8192]);
        assert!(heap.iter().all(|&b| b == 0x5a));
        check().unwrap();
    }
}
