//! The walk of one block's snappy stream, a frame at a time: from the stream identifier,
//! every 4-byte chunk header to the block's trailer, indexing its data chunks. The forward
//! walk of the whole file ([`scan`](super::scan)) runs it block after block; a block found
//! from the end of the file ([`blocks`](super::blocks)) runs it only as far as a read needs,
//! and resumes it for the next read. Both run the same steps, so both index the same chunks.

use std::ops::Range;

use super::ahead::Ahead;
use super::frame::read_frame;
use super::{HEADER_LEN, READ_AHEAD, READ_STEP, bytes_at, corrupt};
use crate::engine::bytes::u64_le_at;
use crate::engine::error::Result;
use crate::engine::kernel::physical::snappy::Chunk;
use crate::engine::mapped::Blob;

/// How the walk of a whole file asks for its pages: [`READ_AHEAD`] bytes ahead of itself,
/// dropping what it has walked from the resident set. (The walk of one block leaves that to
/// its caller.)
#[derive(Debug, Clone, Default)]
pub(super) struct ReadAhead {
    /// Where the walk next asks for pages.
    next: u64,
    /// How far it has asked.
    asked: u64,
}

impl ReadAhead {
    /// Asks for the pages ahead of file offset `p` of `data` when the walk has come far
    /// enough since the last time.
    fn at(&mut self, data: &Blob, p: u64) {
        if p < self.next {
            return;
        }
        let size = data.len() as u64;
        self.asked = self.asked.max(p);
        while self.asked < (p + READ_AHEAD).min(size) {
            data.will_need(self.asked, READ_STEP);
            self.asked += READ_STEP;
        }
        // What is walked stays out of the resident set (the walk reads the whole file).
        data.release(0, p);
        self.next = p + READ_STEP;
    }
}

/// How the walk of one block's stream ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum StreamEnd {
    /// The trailer was found; the next block starts at this offset.
    Next(u64),
    /// The file ended inside the stream (a warning is recorded).
    Truncated,
}

/// Where the walk of one block's stream is.
#[derive(Debug, Clone)]
pub(super) struct StreamWalk {
    /// File offset of the block's header.
    at: u64,
    /// The block's physical range, as its header declares it.
    phys: Range<u64>,
    /// File offset of the next frame.
    p: u64,
    /// Uncompressed bytes of the data chunks walked.
    produced: u64,
    /// Whether the stream identifier was walked.
    seen_id: bool,
}

impl StreamWalk {
    /// The walk of the stream of the block whose header is at `at`, declaring `phys`.
    pub(super) fn new(at: u64, phys: Range<u64>) -> StreamWalk {
        let p = at + HEADER_LEN;
        StreamWalk {
            at,
            phys,
            p,
            produced: 0,
            seen_id: false,
        }
    }

    /// File offset of the next frame.
    pub(super) fn position(&self) -> u64 {
        self.p
    }

    /// End of the physical bytes indexed so far.
    pub(super) fn indexed_to(&self) -> u64 {
        self.phys.start + self.produced
    }

    /// Walks one frame (or the trailer), appending a data chunk to `chunks`: `None` while
    /// the stream goes on, else how it ended. `frames` are a second walker's frames, used
    /// where this walk arrives at them; `ahead`, the whole-file walk's read-ahead.
    pub(super) fn step(
        &mut self,
        data: &Blob,
        file: &str,
        chunks: &mut Vec<Chunk>,
        warnings: &mut Vec<String>,
        frames: &mut Ahead<'_>,
        ahead: Option<&mut ReadAhead>,
    ) -> Result<Option<StreamEnd>> {
        let (at, p, phys) = (self.at, self.p, &self.phys);
        let want = phys.end - phys.start;
        let start = at + HEADER_LEN;
        let size = data.len() as u64;
        if self.produced == want {
            let len = p - start;
            match u64_le_at(data, usize::try_from(p).unwrap_or(usize::MAX)) {
                Some(t) if t == len => return Ok(Some(StreamEnd::Next(p + 8))),
                None => {
                    warnings.push(format!(
                        "{file}: the trailer of the block at offset {at:#x} is missing or cut \
                         (the file ends at {size:#x}, right after its stream)"
                    ));
                    return Ok(Some(StreamEnd::Truncated));
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
        if let Some(ahead) = ahead {
            ahead.at(data, p);
        }
        // The frame here: as the second walker read it when it read one here (from there on
        // the two walks are one chain of frames), else read now.
        let f = match frames.frame(p).map(Ok).or_else(|| read_frame(data, p)) {
            None => {
                warnings.push(format!(
                    "{file}: the stream of block {:#x}-{:#x} (header at offset {at:#x}) is \
                     truncated at offset {p:#x}: {} of its {want} bytes are indexed; the rest \
                     is treated as not captured",
                    phys.start,
                    phys.end - 1,
                    self.produced
                ));
                return Ok(Some(StreamEnd::Truncated));
            }
            Some(Err(bad)) => return Err(corrupt(file, p, bad.message())),
            Some(Ok(f)) => f,
        };
        if f.kind == 0xff {
            self.seen_id = true;
        } else if f.is_data() {
            if !self.seen_id {
                return Err(corrupt(
                    file,
                    p,
                    "snappy data chunk before the stream identifier",
                ));
            }
            let ulen = u64::from(f.ulen);
            if self.produced + ulen > want {
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
                let phys_at = phys.start + self.produced;
                chunks.push(Chunk::new(phys_at, p + 4, f.len, f.ulen, f.kind == 0));
            }
            self.produced += ulen;
        }
        self.p = f.end();
        Ok(None)
    }
}

/// Walks the whole framing-format stream of the block whose header is at `at`, appending
/// its data chunks to `chunks`.
pub(super) fn walk_stream(
    data: &Blob,
    file: &str,
    (at, phys): (u64, Range<u64>),
    chunks: &mut Vec<Chunk>,
    warnings: &mut Vec<String>,
    frames: &mut Ahead<'_>,
    ahead: &mut ReadAhead,
) -> Result<StreamEnd> {
    let mut walk = StreamWalk::new(at, phys);
    loop {
        if let Some(end) = walk.step(data, file, chunks, warnings, frames, Some(&mut *ahead))? {
            return Ok(end);
        }
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
