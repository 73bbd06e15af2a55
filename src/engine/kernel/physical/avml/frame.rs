//! One frame of a snappy framing-format stream, read at a file offset: its 4-byte header
//! (type, 24-bit body length) and what its body says (a data chunk's uncompressed length,
//! a stream identifier's bytes). Both walks of an AVML file read frames here: the main one
//! ([`walk_stream`](super::walk_stream)) and the second walker ([`ahead`](super::ahead)).

use super::{MAX_CHUNK, STREAM_ID};
use crate::engine::kernel::physical::bytes_at;

/// A frame whose header and body read as valid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Frame {
    /// File offset of its 4-byte header.
    pub at: u64,
    /// Chunk type: 0x00 compressed data, 0x01 uncompressed data, 0xff stream identifier,
    /// 0x80-0xfe skippable or padding.
    pub kind: u8,
    /// Body length (after the header).
    pub len: u32,
    /// Uncompressed length of a data chunk (0 for the others).
    pub ulen: u32,
}

impl Frame {
    /// File offset of the next frame's header.
    pub(super) fn end(&self) -> u64 {
        self.at + 4 + u64::from(self.len)
    }

    /// A data chunk (compressed or not).
    pub(super) fn is_data(&self) -> bool {
        self.kind <= 0x01
    }
}

/// Why the bytes at an offset are not a valid frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum BadFrame {
    /// A stream identifier whose body is not `sNaPpY`.
    StreamId,
    /// A data chunk too short for its CRC.
    NoCrc,
    /// A compressed chunk whose length varint does not decode.
    Varint(String),
    /// A data chunk of more than 64 KiB uncompressed.
    TooLong(u64),
    /// A reserved unskippable chunk type (0x02-0x7f).
    Reserved(u8),
}

impl BadFrame {
    /// The problem, as an error message says it.
    pub(super) fn message(&self) -> String {
        match self {
            BadFrame::StreamId => "bad snappy stream identifier".into(),
            BadFrame::NoCrc => "snappy chunk shorter than its CRC".into(),
            BadFrame::Varint(e) => format!("bad snappy chunk length varint: {e}"),
            BadFrame::TooLong(n) => format!("snappy chunk of {n} bytes exceeds the 64 KiB limit"),
            BadFrame::Reserved(k) => format!("reserved unskippable snappy chunk type {k:#04x}"),
        }
    }
}

/// The frame at file offset `at` of `data`: `None` when the file ends inside it (header or
/// body), else the frame or why it is not one.
pub(super) fn read_frame(data: &[u8], at: u64) -> Option<Result<Frame, BadFrame>> {
    let head = bytes_at(data, at, 4)?;
    let [kind, l0, l1, l2] = <[u8; 4]>::try_from(head).ok()?;
    let len = u32::from_le_bytes([l0, l1, l2, 0]);
    let body = bytes_at(data, at + 4, u64::from(len))?;
    let ulen = match kind {
        0xff if body != STREAM_ID => return Some(Err(BadFrame::StreamId)),
        0x00 | 0x01 => {
            let Some(payload) = body.get(4..) else {
                return Some(Err(BadFrame::NoCrc));
            };
            let ulen = if kind == 0x00 {
                match snap::raw::decompress_len(payload) {
                    Ok(n) => n as u64,
                    Err(e) => return Some(Err(BadFrame::Varint(e.to_string()))),
                }
            } else {
                payload.len() as u64
            };
            if ulen > MAX_CHUNK {
                return Some(Err(BadFrame::TooLong(ulen)));
            }
            ulen
        }
        0x02..=0x7f => return Some(Err(BadFrame::Reserved(kind))),
        // The stream identifier; 0x80-0xfd skippable, 0xfe padding.
        _ => 0,
    };
    Some(Ok(Frame {
        at,
        kind,
        len,
        ulen: u32::try_from(ulen).ok()?,
    }))
}
