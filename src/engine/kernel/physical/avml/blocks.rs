//! The blocks of an AVML file, found from its end without walking their streams, and the
//! chunk index of one block, built when a read first needs it.
//!
//! `avml` writes each block as its header, its snappy stream, then a u64 trailer holding
//! the stream's length: from the end of the file, each trailer says where its block's
//! header is, and the 8 bytes before that header are the previous block's trailer. One small
//! read per block (a 64 GiB dump has at most 4,096 blocks of 16 MiB) gives every block's
//! physical range and file span. A block's chunks are indexed by the forward walk over that
//! block alone ([`StreamWalk`]), as far as a read needs and resumed by the next read; walked
//! to its end, its stream must end exactly at the block's trailer. Opening a node's dump
//! reads a few pages per block, not the whole file; a read of a page reads the chunk
//! headers before it in its block.
//!
//! Nothing found this way counts for more than what the forward walk of the whole file
//! ([`scan`](super::scan::scan)) would find. A file whose blocks do not tile it exactly from
//! offset 0 to its end (a stream cut short, padding after the last block, blocks out of
//! address order or overlapping, a header that is not an AVML block's, a stream that does
//! not start with its identifier) is not read this way: it is walked from the start. A block
//! whose stream, once walked, does not end at its trailer fails the reads of that block,
//! naming the file and the offset.

use std::ops::Range;
use std::sync::{Mutex, OnceLock};

use super::ahead::Ahead;
use super::stream::{StreamEnd, StreamWalk};
use super::{AVML_MAGIC, ChunkIndex, HEADER_LEN, RangeHeader, bytes_at};
use crate::engine::bytes::u64_le_at;
use crate::engine::error::Error;
use crate::engine::kernel::physical::snappy::Chunk;
use crate::engine::mapped::Blob;

/// The first chunk of every block's stream: the framing format's stream identifier.
const STREAM_START: &[u8] = b"\xff\x06\x00\x00sNaPpY";
/// Most blocks looked for from the end (16 TiB of memory in `avml`'s 16 MiB blocks): past
/// it, the file is walked from the start.
const MAX_BLOCKS: usize = 1 << 20;
/// Blocks found between two releases of the pages read (a read fault maps the 64 KiB
/// around it, or a whole large folio, when those pages are in the page cache).
const RELEASE_EVERY: usize = 64;
/// Bytes of a block's stream asked for past where the chunk a read needs should be.
const ASK_MARGIN: u64 = 32 << 10;
/// Bytes of a block's stream asked for at once when the walk passes what was asked for.
const ASK_STEP: u64 = 128 << 10;

/// Why a block's chunks cannot be indexed: the file offset and the reason.
pub(super) type BlockError = (u64, String);

/// One block: its physical range and, once indexed, its data chunks.
#[derive(Debug)]
pub(super) struct Block {
    /// The physical range it holds (end exclusive).
    pub phys: Range<u64>,
    /// File offsets of its header (start) and of its trailer (end), when it was found from
    /// the end of the file; `None` for a block of a whole index (the forward walk's, or the
    /// cache's), whose chunks are known.
    pub span: Option<Range<u64>>,
    /// Its data chunks in address order, once all are indexed.
    pub chunks: OnceLock<Result<Box<[Chunk]>, BlockError>>,
    /// The walk of its stream so far, while reads have needed only part of it.
    walk: Mutex<Option<Partial>>,
}

/// A block's stream walked part of the way.
#[derive(Debug)]
struct Partial {
    walk: StreamWalk,
    /// The chunks walked.
    chunks: Vec<Chunk>,
    /// How far the block's pages were asked for.
    asked: u64,
}

/// The chunks a read needs of one block.
#[derive(Debug)]
pub(super) enum Indexed<'a> {
    /// All of the block's chunks.
    Whole(&'a [Chunk]),
    /// The chunks that overlap the read (the block is indexed only part of the way).
    Part(Vec<Chunk>),
}

impl Indexed<'_> {
    /// The chunks, in address order.
    pub(super) fn chunks(&self) -> &[Chunk] {
        match self {
            Indexed::Whole(c) => c,
            Indexed::Part(c) => c,
        }
    }
}

/// What one call of [`Block::chunks_for`] walked.
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct Walked {
    /// File bytes of stream walked.
    pub bytes: u64,
    /// Whether this call walked the block to its end (its chunks are now all known, or its
    /// error).
    pub completed: bool,
}

impl Block {
    /// A block found from the end of the file: its physical range and the file offsets of
    /// its header and trailer; its chunks not indexed yet.
    pub(super) fn found(phys: Range<u64>, span: Range<u64>) -> Block {
        Block {
            phys,
            span: Some(span),
            chunks: OnceLock::new(),
            walk: Mutex::new(None),
        }
    }

    /// The chunks of this block that overlap `need` (physical addresses inside it): its
    /// stream (in `blob`, named `file` in messages) is walked as far as `need` ends, from
    /// where earlier reads left it, and to its trailer once every data chunk is walked.
    pub(super) fn chunks_for(
        &self,
        blob: &Blob,
        file: &str,
        need: &Range<u64>,
        walked: &mut Walked,
    ) -> Result<Indexed<'_>, BlockError> {
        if let Some(done) = self.chunks.get() {
            return done.as_deref().map(Indexed::Whole).map_err(Clone::clone);
        }
        let mut guard = self.walk.lock().unwrap_or_else(|e| e.into_inner());
        // Another read may have walked it to its end meanwhile.
        if let Some(done) = self.chunks.get() {
            return done.as_deref().map(Indexed::Whole).map_err(Clone::clone);
        }
        let Some(span) = self.span.clone() else {
            return Err((0, "a block with neither a file span nor chunks".into()));
        };
        let end = span.end + 8;
        let part = guard.get_or_insert_with(|| Partial {
            walk: StreamWalk::new(span.start, self.phys.clone()),
            chunks: Vec::new(),
            asked: span.start,
        });
        // The pages up to where the chunk needed should be if the block's chunks are alike,
        // asked for at once; then more as the walk passes them.
        let phys_len = (self.phys.end - self.phys.start).max(1);
        let share = u128::from(need.end.saturating_sub(self.phys.start).min(phys_len));
        let guess =
            span.start + (u128::from(end - span.start) * share / u128::from(phys_len)) as u64;
        // (`share` <= `phys_len`: the guess is inside the block.)
        let mut ask_to = guess.saturating_add(ASK_MARGIN).min(end);
        let from = part.walk.position();
        let result = loop {
            let at = part.walk.position();
            if at >= part.asked {
                ask_to = ask_to.max(at.saturating_add(ASK_STEP)).min(end);
            }
            if ask_to > part.asked {
                let from = part.asked.max(at);
                blob.will_need(from, ask_to - from);
                part.asked = ask_to;
            }
            let indexed = part.walk.indexed_to();
            if indexed >= need.end && indexed < self.phys.end {
                break None;
            }
            let mut warnings = Vec::new();
            let step = part.walk.step(
                blob,
                file,
                &mut part.chunks,
                &mut warnings,
                &mut Ahead::None,
                None,
            );
            match step {
                Ok(None) => {}
                Ok(Some(StreamEnd::Next(next))) if next == end => break Some(Ok(())),
                Ok(Some(_)) => {
                    break Some(Err((
                        span.end,
                        format!(
                            "the stream of block {:#x}-{:#x} (header at offset {:#x}) does not \
                             end at its trailer",
                            self.phys.start,
                            self.phys.end - 1,
                            span.start
                        ),
                    )));
                }
                Err(Error::Corrupt { at, reason, .. }) => break Some(Err((at, reason))),
                Err(e) => break Some(Err((at, e.to_string()))),
            }
        };
        walked.bytes += part.walk.position().saturating_sub(from);
        let Some(result) = result else {
            let first = part
                .chunks
                .partition_point(|c| c.phys_range().end <= need.start);
            let last = part.chunks.partition_point(|c| c.phys < need.end);
            let chunks = part.chunks.get(first..last).unwrap_or_default().to_vec();
            return Ok(Indexed::Part(chunks));
        };
        walked.completed = true;
        let taken = guard.take().map(|p| p.chunks).unwrap_or_default();
        let done = self
            .chunks
            .get_or_init(|| result.map(|()| taken.into_boxed_slice()));
        done.as_deref().map(Indexed::Whole).map_err(Clone::clone)
    }

    /// File bytes of the block (header, stream and trailer), if its span is known.
    pub(super) fn file_range(&self) -> Option<Range<u64>> {
        self.span.as_ref().map(|s| s.start..s.end.saturating_add(8))
    }
}

/// The blocks of `data` in address order, found from the file's end; `None` when the file
/// cannot be read this way (see the module's documentation).
pub(super) fn from_trailers(data: &Blob) -> Option<Vec<Block>> {
    let size = data.len() as u64;
    let found = walk_back(data);
    // Each page read may have mapped the pages around it: none stays resident.
    data.release(0, size);
    found
}

/// [`from_trailers`]' walk, releasing the pages it reads as it goes.
fn walk_back(data: &Blob) -> Option<Vec<Block>> {
    let mut pos = data.len() as u64;
    let mut found = Vec::new();
    let mut released = pos;
    while pos > 0 {
        if found.len() >= MAX_BLOCKS {
            return None;
        }
        if found.len() % RELEASE_EVERY == RELEASE_EVERY - 1 {
            data.release(pos, released - pos);
            released = pos;
        }
        let trailer = pos.checked_sub(8)?;
        let len = u64_le_at(data, usize::try_from(trailer).ok()?)?;
        if len < STREAM_START.len() as u64 {
            return None;
        }
        let header = trailer.checked_sub(len)?.checked_sub(HEADER_LEN)?;
        let h = RangeHeader::read(data, "", header).ok()?;
        if h.magic != AVML_MAGIC || h.version != 2 {
            return None;
        }
        let phys = h.range("", header).ok()?;
        if bytes_at(data, header + HEADER_LEN, STREAM_START.len() as u64)? != STREAM_START {
            return None;
        }
        found.push(Block::found(phys, header..trailer));
        pos = header;
    }
    found.reverse();
    let ordered = found
        .windows(2)
        .all(|w| matches!(w, [a, b] if a.phys.end <= b.phys.start));
    ordered.then_some(found)
}

/// The blocks of a whole chunk `index`, each with its chunks.
pub(super) fn from_index(index: &ChunkIndex) -> Vec<Block> {
    index
        .ranges
        .iter()
        .map(|r| {
            let first = index.chunks.partition_point(|c| c.phys < r.start);
            let last = index.chunks.partition_point(|c| c.phys < r.end);
            let chunks: Box<[Chunk]> = index.chunks.get(first..last).unwrap_or_default().into();
            Block {
                phys: r.clone(),
                span: None,
                chunks: OnceLock::from(Ok(chunks)),
                walk: Mutex::new(None),
            }
        })
        .collect()
}

/// The whole chunk index of `blocks` when every block is indexed and none failed.
pub(super) fn whole_index(blocks: &[Block], warnings: &[String]) -> Option<ChunkIndex> {
    let mut chunks = Vec::new();
    for b in blocks {
        chunks.extend_from_slice(b.chunks.get()?.as_ref().ok()?);
    }
    Some(ChunkIndex {
        chunks,
        ranges: blocks.iter().map(|b| b.phys.clone()).collect(),
        warnings: warnings.to_vec(),
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]
    use super::super::testing::{avml, memory};
    use super::super::{AvmlImage, parse, scan::scan};
    use super::*;
    use crate::engine::kernel::physical::PhysicalMemory;

    /// Eight blocks of different sizes, some not a whole number of chunks, with gaps.
    fn blocks() -> Vec<(u64, Vec<u8>)> {
        (0..8u64)
            .map(|i| {
                let start = 0x100_0000 * (i + 1) + if i % 3 == 0 { 0 } else { 0x5000 };
                let len = 0x4_0000 + (i as usize % 4) * 0x1_2345;
                (start, memory(len, i + 1))
            })
            .collect()
    }

    fn read(mem: &dyn PhysicalMemory, addr: u64, len: usize) -> Result<Vec<u8>, String> {
        let mut buf = vec![0u8; len];
        mem.read_phys(addr, &mut buf)
            .map(|_| buf)
            .map_err(|e| e.to_string())
    }

    fn lazy(bytes: &[u8]) -> AvmlImage {
        let image = parse(Blob::Owned(bytes.to_vec()), "t".into()).unwrap();
        assert!(
            image.blocks.iter().all(|b| b.chunks.get().is_none()),
            "found from the end: nothing indexed yet"
        );
        image
    }

    #[test]
    fn reads_and_index_are_those_of_the_walk_from_the_start() {
        let blocks = blocks();
        let bytes = avml(&blocks);
        let whole = scan(&Blob::Owned(bytes.clone()), "t").unwrap();
        let walked = AvmlImage::new(Blob::Owned(bytes.clone()), "t".into(), whole.clone());
        let image = lazy(&bytes);
        assert_eq!(image.ranges(), &whole.ranges[..]);
        // Reads out of order, inside chunks, across chunk edges, across blocks and gaps:
        // a block is walked part of the way, then further, then to its end.
        let mut x = 99u64;
        for _ in 0..400 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let addr = 0x100_0000 + x % (9 * 0x100_0000);
            let len = 1 + (x >> 40) as usize % 0x2_0000;
            assert_eq!(
                read(&image, addr, len),
                read(&walked, addr, len),
                "{addr:#x}+{len:#x}"
            );
        }
        for (start, data) in &blocks {
            assert_eq!(read(&image, *start, data.len()).unwrap(), *data);
        }
        assert!(
            image
                .blocks
                .iter()
                .all(|b| matches!(b.chunks.get(), Some(Ok(_))))
        );
        assert_eq!(whole_index(&image.blocks, &[]), Some(whole));
    }

    #[test]
    fn a_block_is_walked_only_as_far_as_a_read_needs() {
        let blocks = blocks();
        let image = lazy(&avml(&blocks));
        let b = &image.blocks[1];
        let need = b.phys.start + 0x1_0010..b.phys.start + 0x1_0020;
        let mut walked = Walked::default();
        let Indexed::Part(chunks) = b.chunks_for(&image.blob, "t", &need, &mut walked).unwrap()
        else {
            panic!("indexed whole");
        };
        assert_eq!(chunks.len(), 1);
        assert!(chunks[0].phys_range().contains(&need.start));
        assert!(!walked.completed);
        let span = b.span.clone().unwrap();
        assert!(walked.bytes > 0 && walked.bytes < (span.end - span.start) / 2);
        // The last byte: walked on to the trailer.
        let need = b.phys.end - 1..b.phys.end;
        let mut walked = Walked::default();
        let got = b.chunks_for(&image.blob, "t", &need, &mut walked).unwrap();
        assert!(matches!(got, Indexed::Whole(_)), "{got:?}");
        assert!(walked.completed);
    }

    #[test]
    fn a_damaged_stream_fails_the_reads_of_its_block_only() {
        let blocks = blocks();
        let mut bytes = avml(&blocks);
        let whole = scan(&Blob::Owned(bytes.clone()), "t").unwrap();
        // The third block's second data chunk gets a reserved chunk type.
        let third = whole.ranges[2].clone();
        let chunk = whole
            .chunks
            .iter()
            .filter(|c| third.contains(&c.phys))
            .nth(1)
            .unwrap();
        let at = chunk.file - 4;
        bytes[at as usize] = 0x05;
        let image = lazy(&bytes);
        // Before the damage: read; at and past it: an error naming the offset, every time.
        assert_eq!(read(&image, third.start, 16).unwrap(), blocks[2].1[..16]);
        for _ in 0..2 {
            let e = read(&image, chunk.phys, 16).unwrap_err();
            assert!(
                e.contains(&format!("offset {at:#x}")) && e.contains("reserved"),
                "{e}"
            );
        }
        let e = read(&image, third.end - 16, 16).unwrap_err();
        assert!(e.contains(&format!("offset {at:#x}")), "{e}");
        // The other blocks read.
        for (i, (start, data)) in blocks.iter().enumerate().filter(|(i, _)| *i != 2) {
            assert_eq!(
                read(&image, *start, data.len()).unwrap(),
                *data,
                "block {i}"
            );
        }
        assert_eq!(whole_index(&image.blocks, &[]), None);
    }

    #[test]
    fn files_that_do_not_read_from_the_end_are_walked_from_the_start() {
        let blocks = blocks();
        let good = avml(&blocks);
        let from_start = |bytes: &[u8]| {
            assert!(from_trailers(&Blob::Owned(bytes.to_vec())).is_none());
            parse(Blob::Owned(bytes.to_vec()), "t".into())
        };
        // Cut short, padded, one trailer off by one: walked from the start, as before.
        let image = from_start(&good[..good.len() - 100]).unwrap();
        assert!(!image.warnings().is_empty());
        let mut padded = good.clone();
        padded.extend([0u8; 4096]);
        assert!(!from_start(&padded).unwrap().warnings().is_empty());
        let mut off = good.clone();
        let n = off.len();
        off[n - 8] ^= 1;
        assert!(from_start(&off).is_err());
        // Blocks out of address order: sorted by the walk from the start.
        let mut swapped = blocks.clone();
        swapped.swap(2, 5);
        let image = from_start(&avml(&swapped)).unwrap();
        for (start, data) in &blocks {
            assert_eq!(read(&image, *start, data.len()).unwrap(), *data);
        }
        // A stream that does not start with its identifier; no blocks at all.
        let mut no_id = good.clone();
        no_id[32] = 0xfe;
        assert!(from_start(&no_id).is_err());
        assert!(from_trailers(&Blob::Owned(Vec::new())).unwrap().is_empty());
    }

    #[test]
    fn a_forged_chain_of_trailers_is_caught_when_its_blocks_are_read() {
        // Inside the last block's stream, a forged header preceded by a forged trailer that
        // leads back to the block before: the chain from the end holds, but the block before
        // then seems to end where its stream does not, and the forged block's stream is
        // garbage. Reading either fails, naming an offset; the blocks before read.
        let blocks = blocks();
        let good = avml(&blocks);
        let spans: Vec<Range<u64>> = from_trailers(&Blob::Owned(good.clone()))
            .unwrap()
            .iter()
            .map(|b| b.span.clone().unwrap())
            .collect();
        let n = spans.len();
        let (before, last) = (spans[n - 2].clone(), spans[n - 1].clone());
        let forged_at = last.start + 32 + 10 + 4 + 200;
        let mut f = good.clone();
        let put = |f: &mut Vec<u8>, at: u64, bytes: &[u8]| {
            f[at as usize..at as usize + bytes.len()].copy_from_slice(bytes);
        };
        put(
            &mut f,
            forged_at - 8,
            &(forged_at - 8 - (before.start + 32)).to_le_bytes(),
        );
        let mut h = Vec::new();
        h.extend(0x4C4D_5641u32.to_le_bytes());
        h.extend(2u32.to_le_bytes());
        h.extend(0x7000_0000u64.to_le_bytes());
        h.extend(0x7000_ffffu64.to_le_bytes());
        h.extend(0u64.to_le_bytes());
        h.extend(b"\xff\x06\x00\x00sNaPpY");
        put(&mut f, forged_at, &h);
        let end = f.len() as u64 - 8;
        put(&mut f, end, &(end - (forged_at + 32)).to_le_bytes());
        let image = lazy(&f);
        assert_eq!(image.ranges().len(), n);
        assert_eq!(image.ranges()[n - 1].start, 0x7000_0000);
        let (start, data) = &blocks[n - 2];
        let e = read(&image, *start + data.len() as u64 - 8, 8).unwrap_err();
        assert!(e.contains("does not end at its trailer"), "{e}");
        assert!(read(&image, 0x7000_0000, 8).is_err());
        for (start, data) in &blocks[..n - 2] {
            assert_eq!(read(&image, *start, data.len()).unwrap(), *data);
        }
    }

    #[test]
    fn damaged_files_never_panic() {
        // Bytes flipped anywhere, trailers and headers most often: the file opens (from the
        // end or from the start) or fails to, and every read of every range ends.
        let good = avml(&blocks()[..4]);
        let spans: Vec<Range<u64>> = from_trailers(&Blob::Owned(good.clone()))
            .unwrap()
            .iter()
            .map(|b| b.span.clone().unwrap())
            .collect();
        let mut x = 7u64;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for _ in 0..300 {
            let mut f = good.clone();
            for _ in 0..1 + next() % 3 {
                let r = next();
                let at = match r % 3 {
                    0 => r as usize / 3 % f.len(),
                    1 => spans[(r / 3) as usize % spans.len()].end as usize + (r / 7 % 8) as usize,
                    _ => {
                        spans[(r / 3) as usize % spans.len()].start as usize + (r / 7 % 48) as usize
                    }
                };
                let (at, bit) = (at.min(f.len() - 1), 1 << (next() % 8));
                f[at] ^= bit;
            }
            let Ok(image) = parse(Blob::Owned(f), "t".into()) else {
                continue;
            };
            for r in image.ranges().to_vec() {
                let mut at = r.start;
                while at < r.end {
                    let _ = read(&image, at, 0x9000);
                    at += 0x9000;
                }
            }
        }
    }
}
