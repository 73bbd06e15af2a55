//! Writes a generated dump as AVML (compressed LiME, version 2), as `avml` does: each
//! physical range is cut into blocks of at most 16 MiB; per block that holds a byte other
//! than zero, a 32-byte header, a snappy framing-format stream of its bytes in 64 KiB
//! chunks and a u64 trailer holding the stream's length (blocks of zeros are left out). A
//! chunk of zeros compresses to the same bytes every time: they are computed once and
//! written for every zero chunk.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::ops::Range;
use std::path::Path;

use super::dump::Dump;

const AVML_MAGIC: u32 = 0x4C4D_5641;
/// Uncompressed bytes per chunk.
const CHUNK: u64 = 64 << 10;
/// Largest block `avml` writes (its `MAX_BLOCK_SIZE`).
pub const BLOCK: u64 = 16 << 20;
/// The stream identifier chunk that starts every block's stream.
const STREAM_ID: &[u8] = b"\xff\x06\x00\x00sNaPpY";

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

/// The blocks `avml` cuts `ranges` into.
pub fn blocks(ranges: &[Range<u64>]) -> Vec<Range<u64>> {
    ranges
        .iter()
        .flat_map(|r| {
            (r.start..r.end)
                .step_by(BLOCK as usize)
                .map(move |s| s..(s + BLOCK).min(r.end))
        })
        .collect()
}

/// Streams frames into AVML blocks.
struct Writer {
    out: BufWriter<File>,
    blocks: Vec<Range<u64>>,
    /// The block being filled.
    bi: usize,
    /// Its stream so far (written when the block ends, if it holds data).
    stream: Vec<u8>,
    /// Whether it holds a byte other than zero.
    data: bool,
    /// Start of the chunk being filled.
    pos: u64,
    buf: Vec<u8>,
    dirty: bool,
    zero: Vec<u8>,
    written: u64,
}

impl Writer {
    fn put(&mut self, bytes: &[u8]) {
        self.out.write_all(bytes).unwrap();
        self.written += bytes.len() as u64;
    }

    fn start_block(&mut self) {
        self.stream.clear();
        self.stream.extend(STREAM_ID);
        self.data = false;
        self.pos = self.blocks[self.bi].start;
    }

    fn emit_chunk(&mut self) {
        let len = CHUNK.min(self.blocks[self.bi].end - self.pos) as usize;
        if !self.dirty && len as u64 == CHUNK {
            self.stream.extend(&self.zero);
        } else {
            let bytes = chunk_bytes(&self.buf[..len]);
            self.stream.extend(&bytes);
        }
        if self.dirty {
            self.buf.fill(0);
            self.dirty = false;
            self.data = true;
        }
        self.pos += len as u64;
    }

    /// Emits the rest of the open block and writes it if it holds data.
    fn finish_block(&mut self) {
        while self.pos < self.blocks[self.bi].end {
            self.emit_chunk();
        }
        if !self.data {
            return;
        }
        let r = self.blocks[self.bi].clone();
        let mut h = Vec::with_capacity(32);
        h.extend(AVML_MAGIC.to_le_bytes());
        h.extend(2u32.to_le_bytes());
        h.extend(r.start.to_le_bytes());
        h.extend((r.end - 1).to_le_bytes());
        h.extend([0u8; 8]);
        self.put(&h);
        let stream = std::mem::take(&mut self.stream);
        self.put(&stream);
        self.put(&(stream.len() as u64).to_le_bytes());
        self.stream = stream;
    }

    fn frame(&mut self, phys: u64, bytes: &[u8]) {
        loop {
            let b = self.blocks[self.bi].clone();
            assert!(phys >= b.start, "frame {phys:#x} outside every range");
            if phys >= b.end {
                self.finish_block();
                self.bi += 1;
                assert!(
                    self.bi < self.blocks.len(),
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
        blocks: blocks(&dump.ranges),
        bi: 0,
        stream: Vec::new(),
        data: false,
        pos: 0,
        buf: zeros.clone(),
        dirty: false,
        zero: chunk_bytes(&zeros),
        written: 0,
    };
    w.start_block();
    dump.frames(|phys, bytes| w.frame(phys, bytes));
    w.finish_block();
    while w.bi + 1 < w.blocks.len() {
        w.bi += 1;
        w.start_block();
        w.finish_block();
    }
    w.out.flush().unwrap();
    w.written
}
