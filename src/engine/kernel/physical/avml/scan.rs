//! The forward walk of an AVML file: from offset 0, each block's header, the 4-byte header
//! of every chunk of its snappy stream, its trailer, the next block. It indexes the whole
//! file in one sequential pass, and it defines what the file means: a file whose blocks
//! cannot be found from its end ([`super::blocks`]) is read this way (a stream cut short,
//! padding after the last block, blocks out of order), and the lazy index of one block is
//! the same walk over that block ([`super::stream`]).

use std::ops::Range;

use super::ahead::{self, Ahead};
use super::stream::{ReadAhead, StreamEnd, walk_stream};
use super::{AVML_MAGIC, ChunkIndex, HEADER_LEN, RangeHeader, all_zero, bytes_at, corrupt};
use crate::engine::error::{Error, Result};
use crate::engine::kernel::physical::snappy::Chunk;
use crate::engine::mapped::Blob;

/// Walks every chunk header of the AVML image `blob` (named `file` in messages) and indexes
/// its data chunks.
pub(super) fn scan(blob: &Blob, file: &str) -> Result<ChunkIndex> {
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
    let mut read_ahead = ReadAhead::default();
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
            (at, phys.clone()),
            &mut chunks,
            &mut warnings,
            ahead,
            &mut read_ahead,
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;
    use crate::engine::kernel::physical::avml::frame;
    use crate::engine::kernel::physical::avml::testing::{avml, memory};

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

    #[test]
    fn the_second_walker_walks_on_across_blocks() {
        // Twelve blocks, as `avml` cuts memory: the second walker starts in the sixth and
        // goes on through the trailers and headers of the next ones.
        let blocks: Vec<(u64, Vec<u8>)> = (0..12u64)
            .map(|i| (0x100_0000 * (i + 1), memory(0x3_0000, i + 7)))
            .collect();
        let bytes = avml(&blocks);
        let blob = Blob::Owned(bytes.clone());
        let one = scan_with(&blob, "t", &mut Ahead::None).unwrap();
        let frames = ahead::walk_from(&blob, bytes.len() as u64 / 2);
        let (first, last) = (frames[0], frames[frames.len() - 1]);
        let block_of = |at: u64| {
            one.chunks
                .iter()
                .find(|c| c.file == at + 4)
                .map(|c| c.phys >> 24)
                .unwrap()
        };
        assert_eq!(block_of(last.at), 12, "walked to the last block");
        assert!(block_of(first.at) <= 7);
        let from = bytes.len() as u64 / 2;
        let two = std::thread::scope(|s| {
            let handle = s.spawn(|| ahead::walk_from(&blob, from));
            scan_with(&blob, "t", &mut Ahead::Pending { from, handle })
        })
        .unwrap();
        assert_eq!(one, two);
    }
}
