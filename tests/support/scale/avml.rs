//! Writes a generated dump as AVML (compressed LiME, version 2), as `avml` does: per physical
//! range a 32-byte header, a snappy framing-format stream of its bytes in 64 KiB chunks and
//! a u64 trailer holding the stream's length. A chunk of zeros compresses to the same bytes
//! every time: they are computed once and written for every zero chunk.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::ops::Range;
use std::path::Path;

use super::dump::Dump;

const AVML_MAGIC: u32 = 0x4C4D_5641;
/// Uncompressed bytes per chunk.
const CHUNK: u64 = 64 << 10;

/// The snappy framing format's masked CRC-32C.
fn masked_crc(data: &[u8]) -> u32 {
    crc32c::crc32c(data)
        .rotate_right(15)
        .wrapping_add(0xa282_ead8)
}

/// One framing-format data chunk (header, CRC, payload) of `data`.
fn chunk_bytes(data: &[u8]) -> Vec<u8> {
    let packed = snap::raw::Encoder::new().compress_vec(data).unwrap();
    let (kind, payload) = if packed.len() < data.len() {
        (0x00u8, &packed[..])
    } else {
        (0x01u8, data)
    };
    let body = payload.len() as u32 + 4;
    let mut out = Vec::with_capacity(8 + payload.len());
    out.push(kind);
    out.extend(&body.to_le_bytes()[..3]);
    out.extend(masked_crc(data).to_le_bytes());
    out.extend(payload);
    out
}

/// Streams frames into AVML blocks.
struct Writer {
    out: BufWriter<File>,
    ranges: Vec<Range<u64>>,
    /// The range being written (its block is open).
    ri: usize,
    /// Start of the chunk being filled.
    pos: u64,
    buf: Vec<u8>,
    dirty: bool,
    stream_len: u64,
    zero: Vec<u8>,
    written: u64,
}

impl Writer {
    fn put(&mut self, bytes: &[u8]) {
        self.out.write_all(bytes).unwrap();
        self.written += bytes.len() as u64;
    }

    fn start_block(&mut self) {
        let r = self.ranges[self.ri].clone();
        let mut h = Vec::with_capacity(32);
        h.extend(AVML_MAGIC.to_le_bytes());
        h.extend(2u32.to_le_bytes());
        h.extend(r.start.to_le_bytes());
        h.extend((r.end - 1).to_le_bytes());
        h.extend([0u8; 8]);
        self.put(&h);
        self.put(b"\xff\x06\x00\x00sNaPpY");
        self.stream_len = 10;
        self.pos = r.start;
    }

    fn emit_chunk(&mut self) {
        let len = CHUNK.min(self.ranges[self.ri].end - self.pos) as usize;
        let bytes = if !self.dirty && len as u64 == CHUNK {
            std::mem::take(&mut self.zero)
        } else {
            chunk_bytes(&self.buf[..len])
        };
        self.put(&bytes);
        self.stream_len += bytes.len() as u64;
        if self.zero.is_empty() {
            self.zero = bytes;
        }
        if self.dirty {
            self.buf.fill(0);
            self.dirty = false;
        }
        self.pos += len as u64;
    }

    /// Emits the rest of the open block and closes it.
    fn finish_block(&mut self) {
        while self.pos < self.ranges[self.ri].end {
            self.emit_chunk();
        }
        let trailer = self.stream_len.to_le_bytes();
        self.put(&trailer);
    }

    fn frame(&mut self, phys: u64, bytes: &[u8]) {
        loop {
            let r = self.ranges[self.ri].clone();
            assert!(phys >= r.start, "frame {phys:#x} outside every range");
            if phys >= r.end {
                self.finish_block();
                self.ri += 1;
                assert!(
                    self.ri < self.ranges.len(),
                    "frame {phys:#x} past the ranges"
                );
                self.start_block();
            } else if phys >= self.pos + CHUNK {
                self.emit_chunk();
            } else {
                break;
            }
        }
        if bytes.iter().any(|&b| b != 0) {
            let at = (phys - self.pos) as usize;
            self.buf[at..at + bytes.len()].copy_from_slice(bytes);
            self.dirty = true;
        }
    }
}

/// Writes `dump` as AVML at `path`; returns the file's length.
pub fn write_avml(dump: &Dump, path: &Path) -> u64 {
    let zeros = vec![0u8; CHUNK as usize];
    let mut w = Writer {
        out: BufWriter::with_capacity(4 << 20, File::create(path).unwrap()),
        ranges: dump.ranges.clone(),
        ri: 0,
        pos: 0,
        buf: zeros.clone(),
        dirty: false,
        stream_len: 0,
        zero: chunk_bytes(&zeros),
        written: 0,
    };
    w.start_block();
    dump.frames(|phys, bytes| w.frame(phys, bytes));
    w.finish_block();
    while w.ri + 1 < w.ranges.len() {
        w.ri += 1;
        w.start_block();
        w.finish_block();
    }
    w.out.flush().unwrap();
    w.written
}
