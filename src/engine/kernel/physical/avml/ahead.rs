//! A second walker for the first open of a big AVML file: while the main walk reads the
//! chunk headers of the file's first half, this one finds a chunk boundary in the second
//! half and walks the headers from there, so that both halves are read (from the disk and
//! through the CPU) at once.
//!
//! A snappy stream has no sync marker, so the boundary is found by trial: the first offset
//! past the file's middle from which [`SYNC_FRAMES`] headers in a row read as valid frames,
//! each starting where the last one ended. Nothing found this way is trusted: the main walk
//! uses a frame of this list only when its own walk arrives at exactly that frame's offset
//! (from there on the two walks are the same chain of headers), and decides everything a
//! frame means (which block, which physical address, where the stream ends) itself. A wrong
//! guess, a stream that ends, a damaged frame: the main walk reads those headers itself, as
//! it would without this one. The index is the same either way (`tests` below).

use std::thread::ScopedJoinHandle;

pub(super) use super::frame::Frame;
use super::frame::read_frame;
use super::{AVML_MAGIC, HEADER_LEN, READ_AHEAD, READ_STEP, bytes_at};
use crate::engine::mapped::Blob;

/// Headers in a row that must read as valid frames for an offset to count as a boundary.
const SYNC_FRAMES: usize = 16;
/// How far past the middle a boundary is looked for (a frame is at most 64 KiB + 8 bytes).
const SYNC_SPAN: u64 = 256 << 10;
/// Files smaller than this are walked by one thread.
pub(super) const SPLIT_FROM: u64 = 256 << 20;

/// The frame at `at` when it reads as a valid one, whole inside the file, other than a data
/// chunk of no bytes (left to the main walk).
fn frame_at(data: &[u8], at: u64) -> Option<Frame> {
    read_frame(data, at)?
        .ok()
        .filter(|f| !(f.is_data() && f.ulen == 0))
}

/// The frame that follows at `at` in the chain of frames: the next block's stream
/// identifier when a trailer and a header are there, else the frame at `at`.
fn chained(data: &[u8], at: u64) -> Option<Frame> {
    next_block(data, at).or_else(|| frame_at(data, at))
}

/// The stream identifier of the next block when a block's trailer is at `at` (8 bytes, then
/// a 32-byte AVML header, then the identifier).
fn next_block(data: &[u8], at: u64) -> Option<Frame> {
    let header = at.checked_add(8)?;
    let magic = bytes_at(data, header, 8)?;
    if magic != [AVML_MAGIC.to_le_bytes(), 2u32.to_le_bytes()].concat() {
        return None;
    }
    frame_at(data, header + HEADER_LEN).filter(|f| f.kind == 0xff)
}

/// The first offset in `[from, from + SYNC_SPAN)` from which [`SYNC_FRAMES`] valid frames
/// follow one another.
fn sync(data: &[u8], from: u64) -> Option<u64> {
    let end = from.saturating_add(SYNC_SPAN).min(data.len() as u64);
    (from..end).find(|&c| {
        let mut at = c;
        (0..SYNC_FRAMES).all(|_| match chained(data, at) {
            Some(f) => {
                at = f.end();
                true
            }
            None => false,
        })
    })
}

/// The data frames from the first boundary past `from` to the first header that is not a
/// valid frame (damage, the end of the file), reading ahead of itself and releasing what it
/// has walked as the main walk does. Where a stream ends in its trailer and the next block's
/// header and stream identifier follow, it walks on into that block (`avml` writes blocks of
/// 16 MiB).
pub(super) fn walk_from(data: &Blob, from: u64) -> Vec<Frame> {
    let size = data.len() as u64;
    let Some(start) = sync(data, from) else {
        return Vec::new();
    };
    let mut frames = Vec::new();
    let (mut at, mut asked, mut mark) = (start, start, start);
    while let Some(f) = chained(data, at) {
        if at >= mark {
            while asked < (at + READ_AHEAD).min(size) {
                data.will_need(asked, READ_STEP);
                asked += READ_STEP;
            }
            data.release(start, at - start);
            mark = at + READ_STEP;
        }
        // Only data chunks are kept (at least 9 bytes of file each): the main walk reads the
        // others itself, so a file of 4-byte padding frames costs no memory here.
        if f.is_data() {
            frames.push(f);
        }
        at = f.end();
    }
    data.release(start, at - start);
    frames
}

/// What the main walk asks of the second one.
pub(super) enum Ahead<'s> {
    /// No second walker.
    None,
    /// Walking from `from`; joined when the main walk gets there.
    Pending {
        from: u64,
        handle: ScopedJoinHandle<'s, Vec<Frame>>,
    },
    /// Its frames, and the next one to look at.
    Done { frames: Vec<Frame>, next: usize },
}

impl Ahead<'_> {
    /// The frame the second walker read at file offset `at`, if it read one there (waiting
    /// for it once the main walk reaches the part it walked).
    pub(super) fn frame(&mut self, at: u64) -> Option<Frame> {
        if let Ahead::Pending { from, .. } = self {
            if at < *from {
                return None;
            }
            let Ahead::Pending { handle, .. } = std::mem::replace(self, Ahead::None) else {
                return None;
            };
            // A second walker that panicked only costs the time: the main walk goes on.
            let frames = handle.join().unwrap_or_default();
            *self = Ahead::Done { frames, next: 0 };
        }
        let Ahead::Done { frames, next } = self else {
            return None;
        };
        while frames.get(*next).is_some_and(|f| f.at < at) {
            *next += 1;
        }
        frames.get(*next).copied().filter(|f| f.at == at)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;

    /// A snappy stream of `n` chunks of varied contents: the frames' bytes.
    fn stream(n: usize) -> Vec<u8> {
        let mut out = vec![0xff, 6, 0, 0];
        out.extend_from_slice(super::super::STREAM_ID);
        let mut x = 7u64;
        for i in 0..n {
            let mut data = vec![0u8; 4096 + (i % 7) * 1000];
            for b in data.iter_mut().step_by(3 + i % 5) {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                *b = x as u8;
            }
            let body = snap::raw::Encoder::new().compress_vec(&data).unwrap();
            let len = (body.len() + 4) as u32;
            out.push(0x00);
            out.extend_from_slice(&len.to_le_bytes()[..3]);
            out.extend_from_slice(&[0; 4]);
            out.extend_from_slice(&body);
            if i % 10 == 3 {
                out.extend_from_slice(&[0xfe, 2, 0, 0, 0, 0]);
            }
        }
        out
    }

    #[test]
    fn finds_the_boundaries_the_walk_from_the_start_finds() {
        let bytes = stream(400);
        let mut all = Vec::new();
        let mut at = 0;
        while let Some(f) = frame_at(&bytes, at) {
            all.push(f);
            at = f.end();
        }
        assert_eq!(at, bytes.len() as u64);
        let blob = Blob::Owned(bytes.clone());
        for from in [1, 17, bytes.len() as u64 / 3, bytes.len() as u64 / 2] {
            let got = walk_from(&blob, from);
            assert!(!got.is_empty(), "synced past {from}");
            let first = all.iter().position(|f| *f == got[0]).unwrap();
            let data: Vec<Frame> = all[first..]
                .iter()
                .filter(|f| f.is_data())
                .copied()
                .collect();
            assert_eq!(data, got, "from {from}");
            assert!(got[0].at >= from && got[0].at < from + 70_000);
        }
        // Nothing to sync with: zeros are not frames (type 0x00 with length 0).
        assert!(walk_from(&Blob::Owned(vec![0; 1 << 20]), 10).is_empty());
    }
}
