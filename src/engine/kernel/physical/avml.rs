//! AVML's compressed LiME (version 2): per block a 32-byte header (magic `0x4C4D5641`,
//! version 2, start, INCLUSIVE end, reserved), a snappy framing-format stream of the block's
//! bytes, then a u64 LE trailer holding the stream's length. `avml` cuts memory into blocks
//! of at most 16 MiB and leaves out blocks of zeros.
//!
//! Opening finds every block from the end of the file, one trailer after another
//! ([`blocks`]): a few bytes per block. A block's chunks (physical address, file offset,
//! kind, uncompressed length from the snappy varint) are indexed when a read first needs
//! them, by walking that block's 4-byte chunk headers; nothing is decompressed to index. A
//! file whose blocks cannot be found from its end (a stream cut short, padding after the
//! last block...) is walked from the start instead ([`scan`]), once, which indexes every
//! chunk. Reads binary-search the blocks, then the block's chunks, and decode single chunks
//! on demand, checking each chunk's masked CRC-32C (a mismatch fails the reads touching that
//! chunk). A small LRU of decoded chunks serves reads smaller than a chunk; reads covering a
//! whole chunk decode straight into the caller's buffer.
//!
//! A stream cut short by the end of the file keeps its complete chunks, with a warning.
//!
//! The whole index of a file opened by path (of at least [`index_cache::MIN_SIZE`] bytes)
//! is kept in podmortem's cache folder ([`index_cache`]), keyed by the file's identity, once
//! it is known (after the walk from the start, or once reads have indexed every block): the
//! next open reads a few bytes per chunk instead.

mod ahead;
mod block_cache;
mod blocks;
mod frame;
mod index_cache;
mod scan;
mod stream;

use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use self::blocks::{Block, Walked};
use self::scan::scan;
use super::flat::walk;
use super::snappy::{Chunk, ChunkCache, MAX_CHUNK};
use super::{AVML_MAGIC, HEADER_LEN, PhysicalMemory, RangeHeader, all_zero, bytes_at, corrupt};
use crate::engine::error::Result;
use crate::engine::evidence::PartialRead;
use crate::engine::mapped::Blob;

/// The snappy framing format's stream identifier chunk body.
const STREAM_ID: &[u8] = b"sNaPpY";
/// How far ahead of the chunk-header walk the file is asked for (`MADV_WILLNEED`, in
/// [`READ_STEP`]s). Deep: a virtual disk serves many reads in flight about twice as fast as
/// the kernel's own read-ahead of one sequential reader (a cold 3.3 GB AVML file: 1.8 s
/// against 3.5 s for `cat`).
const READ_AHEAD: u64 = 256 << 20;
/// Bytes asked for at once ahead of the walk.
const READ_STEP: u64 = 8 << 20;
/// File bytes counted as mapped between two releases of the file's pages from the resident
/// set.
const RELEASE_AFTER: u64 = 64 << 20;
/// The span of file pages one read fault may map: a whole large folio of the page cache
/// (up to a PMD, 2 MiB, on kernels whose file systems cache files in large folios; Linux's
/// `fault_around_bytes`, 64 KiB, otherwise). Counting less let a node dump's task walk map
/// 230 MB of the file between two releases.
const FAULT_AROUND: u64 = 2 << 20;

/// An AVML compressed image with its blocks.
pub(crate) struct AvmlImage {
    /// The file, for messages.
    file: String,
    /// Its bytes.
    blob: Blob,
    /// Its blocks, sorted by physical address, disjoint (a truncated block is clamped to
    /// what was indexed).
    blocks: Vec<Block>,
    /// The blocks' physical ranges.
    ranges: Vec<Range<u64>>,
    /// Problems found while opening.
    warnings: Vec<String>,
    /// Recently decoded chunks.
    cache: Mutex<ChunkCache>,
    /// Compressed bytes decoded since the file's pages were last released.
    read_since_release: AtomicU64,
    /// Blocks whose chunks are not indexed yet.
    unindexed: AtomicUsize,
    /// Where the whole index goes once every block is indexed (a file opened by path and
    /// found from its end; taken when stored).
    store: Mutex<Option<(index_cache::Location, PathBuf)>>,
}

impl std::fmt::Debug for AvmlImage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AvmlImage")
            .field("file", &self.file)
            .field("ranges", &self.ranges.len())
            .field("blocks", &self.blocks.len())
            .field("warnings", &self.warnings)
            .finish_non_exhaustive()
    }
}

/// What opening an AVML file computes: its chunk index.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct ChunkIndex {
    /// Every data chunk, sorted by physical address, disjoint.
    pub chunks: Vec<Chunk>,
    /// The blocks' physical ranges (as indexed: a truncated block is clamped).
    pub ranges: Vec<Range<u64>>,
    /// Problems found while indexing, each starting with the file's name and `": "`.
    pub warnings: Vec<String>,
}

/// Parses the AVML image in `blob` (named `file` in messages): its blocks from the end of the
/// file, or else a walk of every chunk header from the start.
pub(crate) fn parse(blob: Blob, file: String) -> Result<AvmlImage> {
    if let Some(blocks) = blocks::from_trailers(&blob) {
        return Ok(AvmlImage::lazy(blob, file, blocks, None));
    }
    let index = scan(&blob, &file)?;
    Ok(AvmlImage::new(blob, file, index))
}

/// Opens the AVML image at `path` (mapped as `blob`, named `file` in messages), with its
/// chunk index from podmortem's cache folder when a valid one is there; otherwise finds its
/// blocks from the end of the file (storing the index once reads have indexed every block),
/// or else walks the file and stores the index for the next open (a cache that cannot be
/// written is logged and otherwise ignored). Files under [`index_cache::MIN_SIZE`] are never
/// cached.
pub(crate) fn open(blob: Blob, path: &Path, file: String) -> Result<AvmlImage> {
    let started = Instant::now();
    let stored = (blob.len() as u64 >= index_cache::MIN_SIZE)
        .then(|| index_cache::location(path, &blob))
        .flatten();
    if let Some(loc) = &stored
        && let Some(index) = index_cache::load(loc, &file, blob.len() as u64)
    {
        tracing::debug!(
            path = %path.display(),
            chunks = index.chunks.len(),
            elapsed_ms = started.elapsed().as_secs_f64() * 1e3,
            cache = %loc.file.display(),
            "avml: chunk index read from the cache"
        );
        // Reads go anywhere in the file: no read-around of the pages near each.
        blob.advise_random();
        return Ok(AvmlImage::new(blob, file, index));
    }
    let size = blob.len() as u64;
    if let Some(loc) = &stored
        && let Some(blocks) = block_cache::load(loc, size)
    {
        tracing::debug!(
            path = %path.display(),
            blocks = blocks.len(),
            elapsed_ms = started.elapsed().as_secs_f64() * 1e3,
            "avml: block map read from the cache"
        );
        blob.advise_random();
        let store = stored.map(|loc| (loc, path.to_path_buf()));
        return Ok(AvmlImage::lazy(blob, file, blocks, store));
    }
    if let Some(blocks) = blocks::from_trailers(&blob) {
        tracing::debug!(
            path = %path.display(),
            blocks = blocks.len(),
            elapsed_ms = started.elapsed().as_secs_f64() * 1e3,
            "avml: blocks found from the end of the file"
        );
        if let Some(loc) = &stored {
            block_cache::store(loc, path, size, &blocks);
        }
        blob.advise_random();
        let store = stored.map(|loc| (loc, path.to_path_buf()));
        return Ok(AvmlImage::lazy(blob, file, blocks, store));
    }
    // The walk reads the whole file in order; later reads go anywhere.
    blob.advise_sequential();
    let index = scan(&blob, &file);
    blob.advise_random();
    let index = index?;
    tracing::debug!(
        path = %path.display(),
        chunks = index.chunks.len(),
        elapsed_ms = started.elapsed().as_secs_f64() * 1e3,
        "avml: chunk index built by a scan of the file"
    );
    if let Some(loc) = &stored
        && let Err(e) = index_cache::store(loc, path, &file, blob.len() as u64, &index)
    {
        tracing::warn!(
            cache = %loc.file.display(),
            "avml: cannot write the chunk index to the cache: {e}"
        );
    }
    Ok(AvmlImage::new(blob, file, index))
}

impl AvmlImage {
    /// The image of `blob` with its whole chunk `index`.
    fn new(blob: Blob, file: String, index: ChunkIndex) -> AvmlImage {
        let blocks = blocks::from_index(&index);
        AvmlImage {
            file,
            blob,
            blocks,
            ranges: index.ranges,
            warnings: index.warnings,
            cache: Mutex::new(ChunkCache::default()),
            read_since_release: AtomicU64::new(0),
            unindexed: AtomicUsize::new(0),
            store: Mutex::new(None),
        }
    }

    /// The image of `blob` with its `blocks` found from its end, their chunks not indexed;
    /// the whole index goes to `store` once they all are.
    fn lazy(
        blob: Blob,
        file: String,
        blocks: Vec<Block>,
        store: Option<(index_cache::Location, PathBuf)>,
    ) -> AvmlImage {
        AvmlImage {
            file,
            blob,
            ranges: blocks.iter().map(|b| b.phys.clone()).collect(),
            unindexed: AtomicUsize::new(blocks.len()),
            blocks,
            warnings: Vec::new(),
            cache: Mutex::new(ChunkCache::default()),
            read_since_release: AtomicU64::new(0),
            store: Mutex::new(store),
        }
    }

    /// Stores the whole index, now that every block is indexed (logged when it cannot be).
    fn store_index(&self) {
        let taken = self.store.lock().unwrap_or_else(|e| e.into_inner()).take();
        let Some((loc, path)) = taken else {
            return;
        };
        let Some(index) = blocks::whole_index(&self.blocks, &self.warnings) else {
            return;
        };
        match index_cache::store(&loc, &path, &self.file, self.blob.len() as u64, &index) {
            Ok(()) => {
                block_cache::remove(&loc);
                tracing::debug!(
                cache = %loc.file.display(),
                chunks = index.chunks.len(),
                    "avml: every block indexed: chunk index stored"
                );
            }
            Err(e) => tracing::warn!(
                cache = %loc.file.display(),
                "avml: cannot write the chunk index to the cache: {e}"
            ),
        }
    }
}

impl AvmlImage {
    /// The cache, even if a thread panicked while holding it (its contents stay valid).
    fn cache(&self) -> std::sync::MutexGuard<'_, ChunkCache> {
        self.cache.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Decodes `chunk` into `dst`; every [`RELEASE_AFTER`] bytes of chunks read, drops the
    /// file's pages from the resident set (reads go all over the file; the pages of the
    /// chunks still in use are faulted in again from the page cache).
    fn decode(&self, chunk: &Chunk, dst: &mut [u8]) -> Result<()> {
        let decoded = chunk.decode_into(&self.blob, &self.file, dst);
        // A read fault maps the pages around it too (64 KiB): count at least that much.
        self.count_read(chunk.body_len().max(FAULT_AROUND));
        decoded
    }

    /// Counts `bytes` of the file read through the map; every [`RELEASE_AFTER`] bytes, drops
    /// the file's pages from the resident set.
    fn count_read(&self, bytes: u64) {
        let read = self.read_since_release.fetch_add(bytes, Ordering::Relaxed);
        if read >= RELEASE_AFTER {
            self.read_since_release.store(0, Ordering::Relaxed);
            self.blob.release(0, self.blob.len() as u64);
        }
    }

    /// Copies `dst.len()` decoded bytes from `offset` in `chunk` into `dst`.
    fn fill(&self, chunk: &Chunk, offset: u64, dst: &mut [u8]) -> Result<()> {
        let cached = self.cache().get(chunk.file);
        if offset == 0 && dst.len() == chunk.ulen as usize {
            return match cached {
                Some(bytes) if bytes.len() == dst.len() => {
                    dst.copy_from_slice(&bytes);
                    Ok(())
                }
                _ => self.decode(chunk, dst),
            };
        }
        let bytes = match cached {
            Some(bytes) => bytes,
            None => {
                let mut fresh = vec![0u8; chunk.ulen as usize];
                self.decode(chunk, &mut fresh)?;
                let fresh: Arc<[u8]> = Arc::from(fresh);
                self.cache().put(chunk.file, Arc::clone(&fresh));
                fresh
            }
        };
        let src = usize::try_from(offset)
            .ok()
            .and_then(|o| bytes.get(o..o.checked_add(dst.len())?))
            .ok_or_else(|| {
                corrupt(
                    &self.file,
                    chunk.file,
                    "read beyond a decoded chunk (index inconsistent)",
                )
            })?;
        dst.copy_from_slice(src);
        Ok(())
    }
}

impl PhysicalMemory for AvmlImage {
    fn read_phys(&self, addr: u64, buf: &mut [u8]) -> Result<PartialRead> {
        let span = |b: &Block| b.phys.clone();
        walk(&self.blocks, span, addr, buf, |block, off, dst| {
            let at = block.phys.start + off;
            let need = at..at + dst.len() as u64;
            let mut walked = Walked::default();
            let got = block.chunks_for(&self.blob, &self.file, &need, &mut walked);
            if walked.bytes > 0 {
                // Each page walked may map the large folio around it.
                self.count_read(walked.bytes.max(FAULT_AROUND));
            }
            if walked.completed && self.unindexed.fetch_sub(1, Ordering::AcqRel) == 1 {
                self.store_index();
            }
            let got = got.map_err(|(at, reason)| corrupt(&self.file, at, reason))?;
            let read = walk(got.chunks(), Chunk::phys_range, at, dst, |c, o, d| {
                self.fill(c, o, d)
            })?;
            if read.captured_len() == dst.len() {
                Ok(())
            } else {
                Err(corrupt(
                    &self.file,
                    block.span.as_ref().map_or(0, |s| s.start),
                    format!(
                        "the chunks of block {:#x}-{:#x} do not cover it (index inconsistent)",
                        block.phys.start,
                        block.phys.end - 1
                    ),
                ))
            }
        })
    }

    fn ranges(&self) -> &[Range<u64>] {
        &self.ranges
    }

    fn prefetch(&self, addr: u64, len: u64) {
        let end = addr.saturating_add(len);
        let first = self.blocks.partition_point(|b| b.phys.end <= addr);
        let blocks = self.blocks.get(first..).unwrap_or_default();
        for block in blocks.iter().take_while(|b| b.phys.start < end) {
            match (block.chunks.get(), block.file_range()) {
                (Some(Ok(chunks)), _) => {
                    let first = chunks.partition_point(|c| c.phys_range().end <= addr);
                    let last = chunks.partition_point(|c| c.phys < end);
                    if let (Some(a), Some(b)) = (
                        chunks.get(first),
                        last.checked_sub(1).and_then(|i| chunks.get(i)),
                    ) && b.file >= a.file
                    {
                        let to = b.file.saturating_add(b.body_len());
                        self.blob.will_need(a.file, to - a.file);
                    }
                }
                // Not indexed yet: the whole block (its stream is walked, then decoded).
                (None, Some(r)) => self.blob.will_need(r.start, r.end - r.start),
                _ => {}
            }
        }
    }

    fn format(&self) -> &'static str {
        "avml"
    }

    fn warnings(&self) -> &[String] {
        &self.warnings
    }
}

/// Test evidence: AVML files made in memory.
#[cfg(test)]
mod testing {
    #![allow(clippy::unwrap_used)]
    use std::io::Write;

    use super::AVML_MAGIC;

    /// An AVML file of blocks (start, bytes); a padding chunk after the stream identifier
    /// of the second.
    pub(super) fn avml(blocks: &[(u64, Vec<u8>)]) -> Vec<u8> {
        let mut f = Vec::new();
        for (i, (start, data)) in blocks.iter().enumerate() {
            let mut enc = snap::write::FrameEncoder::new(Vec::new());
            enc.write_all(data).unwrap();
            let mut stream = enc.into_inner().unwrap();
            if i == 1 {
                stream.splice(10..10, [0xfe, 3, 0, 0, 0, 0, 0]);
            }
            f.extend(AVML_MAGIC.to_le_bytes());
            f.extend(2u32.to_le_bytes());
            f.extend(start.to_le_bytes());
            f.extend((start + data.len() as u64 - 1).to_le_bytes());
            f.extend(0u64.to_le_bytes());
            f.extend(&stream);
            f.extend((stream.len() as u64).to_le_bytes());
        }
        f
    }

    pub(super) fn memory(len: usize, seed: u64) -> Vec<u8> {
        let mut x = seed | 1;
        (0..len)
            .map(|i| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                if i % 4096 < 1500 { x as u8 } else { 0 }
            })
            .collect()
    }
}
