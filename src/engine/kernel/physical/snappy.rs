//! Single chunks of the snappy framing format: decoding one on demand with its masked
//! CRC-32C check, and a small LRU of decoded chunks.
//!
//! CRC-32C comes from the `crc32c` crate: it uses the SSE 4.2 / ARMv8 CRC instructions
//! (about 20 GB/s), so verifying every chunk costs far less than decompressing it; a
//! table-driven version in our own code would halve AVML read throughput (and much worse in
//! debug builds, where our code is not optimised).

use std::sync::Arc;

use super::{bytes_at, corrupt, truncated};
use crate::engine::error::Result;

/// Largest uncompressed size of a framing-format data chunk.
pub(crate) const MAX_CHUNK: u64 = 65_536;
/// Flag bit in [`Chunk::body`] for a compressed chunk.
const COMPRESSED: u32 = 1 << 31;
/// Decoded chunks kept by [`ChunkCache`].
const CACHE_CHUNKS: usize = 32;

/// The snappy framing format's CRC: CRC-32C (Castagnoli) of the uncompressed bytes, masked.
pub(crate) fn masked_crc(data: &[u8]) -> u32 {
    let crc = crc32c::crc32c(data);
    crc.rotate_right(15).wrapping_add(0xa282_ead8)
}

/// One data chunk of an AVML block, as indexed at open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Chunk {
    /// Physical address of its first uncompressed byte.
    pub phys: u64,
    /// File offset of its body (the 4-byte CRC, then the payload).
    pub file: u64,
    /// Body length (below 2^24) | [`COMPRESSED`].
    body: u32,
    /// Uncompressed length (at most [`MAX_CHUNK`]).
    pub ulen: u32,
}

impl Chunk {
    /// A chunk whose body of `body_len` bytes (CRC included) is at file offset `file`.
    pub(crate) fn new(phys: u64, file: u64, body_len: u32, ulen: u32, compressed: bool) -> Chunk {
        let flag = if compressed { COMPRESSED } else { 0 };
        Chunk {
            phys,
            file,
            body: (body_len & !COMPRESSED) | flag,
            ulen,
        }
    }

    /// Body length, CRC included.
    pub(crate) fn body_len(&self) -> u64 {
        u64::from(self.body & !COMPRESSED)
    }

    /// True for a compressed (type 0x00) chunk, false for an uncompressed (0x01) one.
    pub(crate) fn compressed(&self) -> bool {
        self.body & COMPRESSED != 0
    }

    /// Physical range of its uncompressed bytes.
    pub(crate) fn phys_range(&self) -> std::ops::Range<u64> {
        self.phys..self.phys + u64::from(self.ulen)
    }

    /// Offset of its 4-byte chunk header, for messages.
    fn header_at(&self) -> u64 {
        self.file.saturating_sub(4)
    }

    /// Decodes the chunk from the file `data` into `dst` (exactly `ulen` bytes) and checks its
    /// CRC; any mismatch is a [`crate::engine::Error::Corrupt`] naming the chunk's offset.
    pub(crate) fn decode_into(&self, data: &[u8], file: &str, dst: &mut [u8]) -> Result<()> {
        let at = self.header_at();
        let body = bytes_at(data, self.file, self.body_len())
            .ok_or_else(|| truncated(file, self.file, self.body_len(), data.len() as u64))?;
        let (Some(crc), Some(payload)) = (body.first_chunk::<4>(), body.get(4..)) else {
            return Err(corrupt(file, at, "snappy chunk shorter than its CRC"));
        };
        let stored = u32::from_le_bytes(*crc);
        let what = || {
            format!(
                "snappy chunk for physical {:#x}-{:#x}",
                self.phys,
                self.phys_range().end
            )
        };
        if dst.len() != self.ulen as usize {
            return Err(corrupt(file, at, format!("{}: bad output size", what())));
        }
        if self.compressed() {
            let n = snap::raw::Decoder::new()
                .decompress(payload, dst)
                .map_err(|e| corrupt(file, at, format!("{} does not decompress: {e}", what())))?;
            if n != dst.len() {
                return Err(corrupt(
                    file,
                    at,
                    format!("{} decompressed to {n} bytes, not {}", what(), dst.len()),
                ));
            }
        } else if payload.len() == dst.len() {
            dst.copy_from_slice(payload);
        } else {
            return Err(corrupt(file, at, format!("{}: bad length", what())));
        }
        let computed = masked_crc(dst);
        if computed != stored {
            return Err(corrupt(
                file,
                at,
                format!(
                    "CRC-32C mismatch in {}: stored {stored:#010x}, computed {computed:#010x}",
                    what()
                ),
            ));
        }
        Ok(())
    }
}

/// A least-recently-used set of decoded chunks, keyed by the chunk's file offset.
#[derive(Debug, Default)]
pub(crate) struct ChunkCache {
    /// (key, bytes, last use).
    entries: Vec<(u64, Arc<[u8]>, u64)>,
    /// Use counter.
    tick: u64,
}

impl ChunkCache {
    /// The decoded chunk with `key`, marking it used.
    pub(crate) fn get(&mut self, key: u64) -> Option<Arc<[u8]>> {
        self.tick += 1;
        let tick = self.tick;
        let entry = self.entries.iter_mut().find(|e| e.0 == key)?;
        entry.2 = tick;
        Some(Arc::clone(&entry.1))
    }

    /// Stores a decoded chunk, evicting the least recently used one when full.
    pub(crate) fn put(&mut self, key: u64, data: Arc<[u8]>) {
        self.tick += 1;
        if let Some(e) = self.entries.iter_mut().find(|e| e.0 == key) {
            *e = (key, data, self.tick);
            return;
        }
        if self.entries.len() >= CACHE_CHUNKS
            && let Some(oldest) = self
                .entries
                .iter()
                .enumerate()
                .min_by_key(|(_, e)| e.2)
                .map(|(i, _)| i)
        {
            self.entries.swap_remove(oldest);
        }
        self.entries.push((key, data, self.tick));
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn crc32c_and_mask() {
        assert_eq!(crc32c::crc32c(b"123456789"), 0xe306_9283);
        // ((crc >> 15) | (crc << 17)) + 0xa282ead8, as the framing format specifies.
        assert_eq!(masked_crc(b"123456789"), 0xc78a_b0e5);
    }

    #[test]
    fn lru_evicts_oldest() {
        let mut c = ChunkCache::default();
        for k in 0..CACHE_CHUNKS as u64 {
            c.put(k, Arc::from(vec![k as u8]));
        }
        assert!(c.get(0).is_some());
        c.put(999, Arc::from(vec![1u8]));
        assert!(c.get(1).is_none(), "1 was the least recently used");
        assert!(c.get(0).is_some());
        assert!(c.get(999).is_some());
    }

    #[test]
    fn decodes_and_verifies() {
        let plain = b"hello hello hello hello hello".to_vec();
        let packed = snap::raw::Encoder::new().compress_vec(&plain).unwrap();
        let mut file = vec![0u8; 4];
        file.extend(masked_crc(&plain).to_le_bytes());
        file.extend(&packed);
        let chunk = Chunk::new(
            0x1000,
            4,
            (4 + packed.len()) as u32,
            plain.len() as u32,
            true,
        );
        let mut out = vec![0u8; plain.len()];
        chunk.decode_into(&file, "f", &mut out).unwrap();
        assert_eq!(out, plain);
        file[4] ^= 1;
        let err = chunk.decode_into(&file, "f", &mut out).unwrap_err();
        assert!(err.to_string().contains("CRC-32C mismatch"), "{err}");
    }
}
