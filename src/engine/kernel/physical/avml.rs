//! AVML's compressed LiME (version 2): per block a 32-byte header (magic `0x4C4D5641`,
//! version 2, start, INCLUSIVE end, reserved), a snappy framing-format stream of the block's
//! bytes, then a u64 LE trailer holding the stream's length.
//!
//! Opening walks the 4-byte chunk headers once and indexes every data chunk (physical
//! address, file offset, kind, uncompressed length from the snappy varint); nothing is
//! decompressed. Reads binary-search the index and decode single chunks on demand, checking
//! each chunk's masked CRC-32C (a mismatch fails the reads touching that chunk). A small LRU
//! of decoded chunks serves reads smaller than a chunk; reads covering a whole chunk decode
//! straight into the caller's buffer.
//!
//! A stream cut short by the end of the file keeps its complete chunks, with a warning.
//!
//! The index of a file opened by path (of at least [`index_cache::MIN_SIZE`] bytes) is kept
//! in podmortem's cache folder ([`index_cache`]), keyed by the file's identity, so the next
//! open reads a few bytes per chunk instead of walking the whole file again.

mod ahead;
mod frame;
mod index_cache;

use std::ops::Range;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use self::ahead::Ahead;
use self::frame::read_frame;
use super::flat::walk;
use super::snappy::{Chunk, ChunkCache, MAX_CHUNK};
use super::{AVML_MAGIC, HEADER_LEN, PhysicalMemory, RangeHeader, all_zero, bytes_at, corrupt};
use crate::engine::bytes::u64_le_at;
use crate::engine::error::{Error, Result};
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

/// An AVML compressed image with its chunk index.
pub(crate) struct AvmlImage {
    /// The file, for messages.
    file: String,
    /// Its bytes.
    blob: Blob,
    /// Every data chunk, sorted by physical address, disjoint.
    chunks: Vec<Chunk>,
    /// The blocks' physical ranges (as indexed: a truncated block is clamped).
    ranges: Vec<Range<u64>>,
    /// Problems found while opening.
    warnings: Vec<String>,
    /// Recently decoded chunks.
    cache: Mutex<ChunkCache>,
    /// Compressed bytes decoded since the file's pages were last released.
    read_since_release: AtomicU64,
}

impl std::fmt::Debug for AvmlImage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AvmlImage")
            .field("file", &self.file)
            .field("ranges", &self.ranges.len())
            .field("chunks", &self.chunks.len())
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

/// How the walk of one block's stream ended.
enum StreamEnd {
    /// The trailer was found; the next block starts at this offset.
    Next(u64),
    /// The file ended inside the stream (a warning is recorded).
    Truncated,
}

/// Parses the AVML image in `blob` (named `file` in messages), walking its chunk headers.
pub(crate) fn parse(blob: Blob, file: String) -> Result<AvmlImage> {
    let index = scan(&blob, &file)?;
    Ok(AvmlImage::new(blob, file, index))
}

/// Opens the AVML image at `path` (mapped as `blob`, named `file` in messages), with its
/// chunk index from podmortem's cache folder when a valid one is there; otherwise walks the
/// file and stores the index for the next open (a cache that cannot be written is logged and
/// otherwise ignored). Files under [`index_cache::MIN_SIZE`] are always walked.
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
    /// The image of `blob` with its chunk `index`.
    fn new(blob: Blob, file: String, index: ChunkIndex) -> AvmlImage {
        let ChunkIndex {
            chunks,
            ranges,
            warnings,
        } = index;
        AvmlImage {
            file,
            blob,
            chunks,
            ranges,
            warnings,
            cache: Mutex::new(ChunkCache::default()),
            read_since_release: AtomicU64::new(0),
        }
    }
}

/// Walks every chunk header of the AVML image `blob` (named `file` in messages) and indexes
/// its data chunks.
fn scan(blob: &Blob, file: &str) -> Result<ChunkIndex> {
    let size = blob.len() as u64;
    if size < ahead::SPLIT_FROM || crate::engine::search::threads() < 2 {
        return scan_with(blob, file, &mut Ahead::None);
    }
    // A second walker takes the second half (see `ahead`).
    std::thread::scope(|s| {
        let from = size / 2;
        let handle = s.spawn(move || ahead::walk_from(blob, from));
        scan_with(blob, file, &mut Ahead::Pending { from, handle })
    })
}

/// [`scan`], using the frames `ahead` read where the walk arrives at them.
fn scan_with(blob: &Blob, file: &str, ahead: &mut Ahead<'_>) -> Result<ChunkIndex> {
    let size = blob.len() as u64;
    let mut chunks: Vec<Chunk> = Vec::new();
    let mut blocks: Vec<(Range<u64>, Range<usize>, u64)> = Vec::new();
    let mut warnings = Vec::new();
    let mut at = 0u64;
    while at < size {
        let rest = size - at;
        if !blocks.is_empty() && bytes_at(blob, at, rest).is_some_and(all_zero) {
            warnings.push(format!(
                "{file}: {rest} bytes of zero padding after the last block, at offset {at:#x}, \
                 ignored"
            ));
            break;
        }
        if rest < HEADER_LEN && !blocks.is_empty() {
            warnings.push(format!(
                "{file}: {rest} trailing bytes at offset {at:#x} ignored (too short for an AVML \
                 header)"
            ));
            break;
        }
        let header = RangeHeader::read(blob, file, at)?;
        if header.magic != AVML_MAGIC {
            return Err(Error::BadMagic {
                file: file.to_string(),
                at,
                found: header.magic,
                expected: "AVML block header 0x4c4d5641 (\"AVML\")",
            });
        }
        if header.version != 2 {
            return Err(corrupt(
                file,
                at + 4,
                format!("unsupported AVML version {} (expected 2)", header.version),
            ));
        }
        let phys = header.range(file, at)?;
        let first = chunks.len();
        let end = walk_stream(
            blob,
            file,
            at,
            phys.clone(),
            &mut chunks,
            &mut warnings,
            ahead,
        )?;
        let indexed = chunks.last().filter(|_| chunks.len() > first);
        let phys_end = indexed.map_or(phys.start, |c| c.phys_range().end);
        if phys_end > phys.start {
            blocks.push((phys.start..phys_end, first..chunks.len(), at));
        }
        match end {
            StreamEnd::Next(next) => at = next,
            StreamEnd::Truncated => break,
        }
    }
    if blocks
        .windows(2)
        .any(|w| matches!(w, [a, b] if b.0.start < a.0.end))
    {
        chunks = sort_blocks(file, &mut blocks, &chunks)?;
    }
    let ranges = blocks.into_iter().map(|b| b.0).collect();
    Ok(ChunkIndex {
        chunks,
        ranges,
        warnings,
    })
}

/// Puts blocks stored out of address order into order (rebuilding the chunk index); blocks
/// that overlap are an error, as compressed chunks cannot be trimmed.
fn sort_blocks(
    file: &str,
    blocks: &mut [(Range<u64>, Range<usize>, u64)],
    chunks: &[Chunk],
) -> Result<Vec<Chunk>> {
    blocks.sort_by_key(|b| b.0.start);
    let mut sorted = Vec::with_capacity(chunks.len());
    let mut prev: Option<&(Range<u64>, Range<usize>, u64)> = None;
    for b in blocks.iter_mut() {
        if let Some(p) = prev
            && b.0.start < p.0.end
        {
            return Err(corrupt(
                file,
                b.2,
                format!(
                    "block {:#x}-{:#x} overlaps the block at offset {:#x}",
                    b.0.start, b.0.end, p.2
                ),
            ));
        }
        let start = sorted.len();
        sorted.extend_from_slice(chunks.get(b.1.clone()).unwrap_or_default());
        b.1 = start..sorted.len();
        prev = Some(b);
    }
    Ok(sorted)
}

/// Walks the framing-format stream of the block whose header is at `at`, appending its data
/// chunks to `chunks`.
fn walk_stream(
    data: &Blob,
    file: &str,
    at: u64,
    phys: Range<u64>,
    chunks: &mut Vec<Chunk>,
    warnings: &mut Vec<String>,
    frames: &mut Ahead<'_>,
) -> Result<StreamEnd> {
    let size = data.len() as u64;
    let start = at + HEADER_LEN;
    let want = phys.end - phys.start;
    let mut p = start;
    let mut produced = 0u64;
    let mut seen_id = false;
    let mut ahead = p;
    let mut asked = p;
    let cut = |p: u64, produced: u64, warnings: &mut Vec<String>| {
        warnings.push(format!(
            "{file}: the stream of block {:#x}-{:#x} (header at offset {at:#x}) is truncated at \
             offset {p:#x}: {produced} of its {want} bytes are indexed; the rest is treated as \
             not captured",
            phys.start,
            phys.end - 1
        ));
        StreamEnd::Truncated
    };
    loop {
        if produced == want {
            let len = p - start;
            match u64_at(data, p) {
                Some(t) if t == len => return Ok(StreamEnd::Next(p + 8)),
                None => {
                    warnings.push(format!(
                        "{file}: the trailer of the block at offset {at:#x} is missing or cut \
                         (the file ends at {size:#x}, right after its stream)"
                    ));
                    return Ok(StreamEnd::Truncated);
                }
                Some(found) if !skippable_at(data, p) => {
                    return Err(corrupt(
                        file,
                        p,
                        format!(
                            "expected the block's trailer (stream length {len}) after its \
                             {want} bytes, found {found}"
                        ),
                    ));
                }
                // A skippable chunk before the trailer: walk on.
                _ => {}
            }
        }
        if p >= ahead {
            asked = asked.max(p);
            while asked < (p + READ_AHEAD).min(size) {
                data.will_need(asked, READ_STEP);
                asked += READ_STEP;
            }
            // What is walked stays out of the resident set (the walk reads the whole file).
            data.release(0, p);
            ahead = p + READ_STEP;
        }
        // The frame here: as the second walker read it when it read one here (from there on
        // the two walks are one chain of frames), else read now.
        let f = match frames.frame(p).map(Ok).or_else(|| read_frame(data, p)) {
            None => return Ok(cut(p, produced, warnings)),
            Some(Err(bad)) => return Err(corrupt(file, p, bad.message())),
            Some(Ok(f)) => f,
        };
        if f.kind == 0xff {
            seen_id = true;
        } else if f.is_data() {
            if !seen_id {
                return Err(corrupt(
                    file,
                    p,
                    "snappy data chunk before the stream identifier",
                ));
            }
            let ulen = u64::from(f.ulen);
            if produced + ulen > want {
                return Err(corrupt(
                    file,
                    p,
                    format!(
                        "the stream holds more than the {want} bytes of block {:#x}-{:#x} \
                         declared at offset {at:#x}",
                        phys.start,
                        phys.end - 1
                    ),
                ));
            }
            if ulen > 0 {
                let phys_at = phys.start + produced;
                chunks.push(Chunk::new(phys_at, p + 4, f.len, f.ulen, f.kind == 0));
            }
            produced += ulen;
        }
        p = f.end();
    }
}

/// True when a whole skippable, padding or stream identifier chunk is at file offset `at`
/// (what may stand between a stream's last data chunk and its trailer).
fn skippable_at(data: &[u8], at: u64) -> bool {
    match bytes_at(data, at, 4) {
        Some(&[kind @ 0x80..=0xff, l0, l1, l2]) => {
            let len = u32::from_le_bytes([l0, l1, l2, 0]);
            kind >= 0x80 && bytes_at(data, at + 4, u64::from(len)).is_some()
        }
        _ => false,
    }
}

/// A u64 LE at file offset `at`.
fn u64_at(data: &[u8], at: u64) -> Option<u64> {
    u64_le_at(data, usize::try_from(at).ok()?)
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
        let touched = chunk.body_len().max(FAULT_AROUND);
        let read = self
            .read_since_release
            .fetch_add(touched, Ordering::Relaxed);
        if read >= RELEASE_AFTER {
            self.read_since_release.store(0, Ordering::Relaxed);
            self.blob.release(0, self.blob.len() as u64);
        }
        decoded
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
        walk(&self.chunks, Chunk::phys_range, addr, buf, |c, off, dst| {
            self.fill(c, off, dst)
        })
    }

    fn ranges(&self) -> &[Range<u64>] {
        &self.ranges
    }

    fn prefetch(&self, addr: u64, len: u64) {
        let end = addr.saturating_add(len);
        let first = self.chunks.partition_point(|c| c.phys_range().end <= addr);
        let last = self.chunks.partition_point(|c| c.phys < end);
        if let (Some(a), Some(b)) = (
            self.chunks.get(first),
            last.checked_sub(1).and_then(|i| self.chunks.get(i)),
        ) && b.file >= a.file
        {
            let to = b.file.saturating_add(b.body_len());
            self.blob.will_need(a.file, to - a.file);
        }
    }

    fn format(&self) -> &'static str {
        "avml"
    }

    fn warnings(&self) -> &[String] {
        &self.warnings
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use std::io::Write;

    use super::*;

    /// An AVML file of blocks (start, bytes); a padding chunk after the stream identifier
    /// of the second.
    fn avml(blocks: &[(u64, Vec<u8>)]) -> Vec<u8> {
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

    fn memory(len: usize, seed: u64) -> Vec<u8> {
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

    #[test]
    fn a_second_walker_gives_the_index_of_one() {
        let blocks = [
            (0x1000u64, memory(300_000, 1)),
            (0x100_0000, memory(4_000_000, 2)),
            (0x1_0000_0000, memory(3_000_000, 3)),
        ];
        let bytes = avml(&blocks);
        let blob = Blob::Owned(bytes.clone());
        let one = scan_with(&blob, "t", &mut Ahead::None).unwrap();
        assert_eq!(one.ranges.len(), 3);
        let len = bytes.len() as u64;
        assert!(ahead::walk_from(&blob, len / 2).len() > 16, "synced");
        // From inside every block, at a block's header and trailer, and past the end.
        for from in [
            5,
            40,
            len / 10,
            len / 3,
            len / 2,
            len * 2 / 3,
            len - 20,
            len + 9,
        ] {
            let two = std::thread::scope(|s| {
                let handle = s.spawn(|| ahead::walk_from(&blob, from));
                scan_with(&blob, "t", &mut Ahead::Pending { from, handle })
            })
            .unwrap();
            assert_eq!(one, two, "second walker from {from}");
        }
        // The frames are used as read, not read again: with their headers damaged in the
        // file after the second walker read them, the index is the same.
        let frames = ahead::walk_from(&blob, len / 2);
        let mut bad = bytes.clone();
        for f in &frames {
            let at = f.at as usize;
            bad[at..at + 4].copy_from_slice(&[0x02, 0, 0, 0]);
        }
        let mut done = Ahead::Done { frames, next: 0 };
        assert_eq!(scan_with(&Blob::Owned(bad), "t", &mut done).unwrap(), one);
        // A walker that synced on a wrong chain, or read damage, changes nothing either:
        // a forged frame list whose offsets match no real frame.
        let forged = vec![
            frame::Frame {
                at: len / 2 + 1,
                kind: 0,
                len: 100,
                ulen: 65536,
            };
            1
        ];
        let mut done = Ahead::Done {
            frames: forged,
            next: 0,
        };
        assert_eq!(scan_with(&blob, "t", &mut done).unwrap(), one);
    }
}
