//! The on-disk cache of an AVML file's block map: what [`super::blocks::from_trailers`]
//! finds (each block's physical range, header offset and stream length), kept until the
//! whole chunk index ([`super::index_cache`]) replaces it. The walk from the end reads one
//! page per block, one after another (4,000 random reads for a 64 GiB dump, a third of a
//! second on a cold disk); the map is a few bytes per block.
//!
//! It lives beside the chunk index in the `avml/` cache folder, named by the same identity
//! of the dump: `<identity>.blocks.v<FORMAT_VERSION>.avmlblk`, written atomically.
//!
//! Layout (integers little-endian; `varint` is LEB128):
//! ```text
//! header   "PMAVMLBK" | u32 FORMAT_VERSION | identity (32 ASCII hex digits)
//!          | u64 size of the dump | u64 body length
//! body     varint block count, then per block: varint gap from the previous block's
//!          physical end, varint physical length, varint gap from the previous block's end
//!          in the file to this block's header, varint stream length
//! trailer  u32 CRC-32C of the body
//! ```
//! Any mismatch (magic, version, identity, size, CRC, a block out of order or outside the
//! file) makes the file count as absent: the blocks are found from the end again.

use std::fs;
use std::path::{Path, PathBuf};

use super::HEADER_LEN;
use super::blocks::Block;
use super::index_cache::{Location, framed, read_count, read_varint, unframed, varint};
use crate::engine::bytes::Cursor;

/// Bumped whenever the layout or the meaning of the map changes.
const FORMAT_VERSION: u32 = 1;
const MAGIC: &[u8; 8] = b"PMAVMLBK";
/// Header, smallest stream (its identifier) and trailer of a block.
const MIN_BLOCK: u64 = HEADER_LEN + 10 + 8;

/// The block map's file for the dump whose chunk index lives at `loc`.
pub(super) fn path(loc: &Location) -> PathBuf {
    let dir = loc.file.parent().unwrap_or(Path::new("."));
    dir.join(format!("{}.blocks.v{FORMAT_VERSION}.avmlblk", loc.key))
}

/// The cached block map of the dump of `size` bytes whose chunk index lives at `loc`;
/// `None` when absent or not valid for that dump.
pub(super) fn load(loc: &Location, size: u64) -> Option<Vec<Block>> {
    let file = path(loc);
    let data = fs::read(&file).ok()?;
    let blocks = decode(&data, &loc.key, size);
    if blocks.is_none() {
        tracing::debug!(cache = %file.display(), "avml: cached block map rejected");
    }
    blocks
}

/// Writes the map of `blocks` (found from the end of the dump at `dump`, of `size` bytes)
/// for the dump whose chunk index lives at `loc`, atomically; errors are logged (a map that
/// cannot be written only costs time).
pub(super) fn store(loc: &Location, dump: &Path, size: u64, blocks: &[Block]) {
    let file = path(loc);
    let Some(out) = encode(blocks, &loc.key, size) else {
        return;
    };
    if let Err(e) = crate::engine::cache::write_file(&file, &out) {
        tracing::warn!(cache = %file.display(), "avml: cannot write the block map: {e}");
        return;
    }
    let source = fs::canonicalize(dump).unwrap_or_else(|_| dump.to_path_buf());
    let meta = serde_json::json!({
        "source": source.display().to_string(),
        "blocks": blocks.len(),
        "created": crate::engine::time::now_rfc3339(),
    });
    let _ = fs::write(file.with_extension("json"), meta.to_string());
}

/// Removes the map once the whole chunk index is stored.
pub(super) fn remove(loc: &Location) {
    let file = path(loc);
    let _ = fs::remove_file(&file);
    let _ = fs::remove_file(file.with_extension("json"));
}

/// The whole file for `blocks` (each with its span) of the dump with identity `key`.
fn encode(blocks: &[Block], key: &str, size: u64) -> Option<Vec<u8>> {
    let mut body = Vec::with_capacity(blocks.len() * 12 + 16);
    varint(&mut body, blocks.len() as u64);
    let (mut phys_end, mut file_end) = (0u64, 0u64);
    for b in blocks {
        let span = b.span.as_ref()?;
        varint(&mut body, b.phys.start.checked_sub(phys_end)?);
        varint(&mut body, b.phys.end - b.phys.start);
        varint(&mut body, span.start.checked_sub(file_end)?);
        varint(&mut body, span.end.checked_sub(span.start + HEADER_LEN)?);
        (phys_end, file_end) = (b.phys.end, span.end + 8);
    }
    Some(framed((MAGIC, FORMAT_VERSION), key, size, &body))
}

/// The blocks of a whole, valid file for the dump with identity `key` of `size` bytes.
fn decode(data: &[u8], key: &str, size: u64) -> Option<Vec<Block>> {
    let body = unframed(data, (MAGIC, FORMAT_VERSION), key, size)?;
    let mut c = Cursor::new(body, 0);
    let n = read_count(&mut c, 4)?;
    let mut blocks = Vec::with_capacity(n);
    let (mut phys_end, mut file_end) = (0u64, 0u64);
    for _ in 0..n {
        let start = phys_end.checked_add(read_varint(&mut c)?)?;
        let end = start.checked_add(read_varint(&mut c)?)?;
        // Blocks follow one another in the file (so the first is at offset 0).
        if read_varint(&mut c)? != 0 {
            return None;
        }
        let header = file_end;
        let trailer = header
            .checked_add(HEADER_LEN)?
            .checked_add(read_varint(&mut c)?)?;
        let after = trailer.checked_add(8)?;
        if end <= start || after > size || after - header < MIN_BLOCK {
            return None;
        }
        blocks.push(Block::found(start..end, header..trailer));
        (phys_end, file_end) = (end, after);
    }
    // The blocks tile the file to its end, as the walk from the end found them.
    (c.is_empty() && file_end == size).then_some(blocks)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::super::blocks::from_trailers;
    use super::super::testing::{avml, memory};
    use super::*;
    use crate::engine::mapped::Blob;

    const KEY: &str = "0123456789abcdef0123456789abcdef";

    fn spans(blocks: &[Block]) -> Vec<(std::ops::Range<u64>, std::ops::Range<u64>)> {
        blocks
            .iter()
            .map(|b| (b.phys.clone(), b.span.clone().unwrap()))
            .collect()
    }

    #[test]
    fn round_trip_and_damage() {
        let file = avml(&[
            (0x1000, memory(0x2_0000, 1)),
            (0x100_0000, memory(0x1_1000, 2)),
            (0x300_0000, memory(0x3_0000, 3)),
        ]);
        let size = file.len() as u64;
        let blocks = from_trailers(&Blob::Owned(file)).unwrap();
        let bytes = encode(&blocks, KEY, size).unwrap();
        assert_eq!(spans(&decode(&bytes, KEY, size).unwrap()), spans(&blocks));
        // Another dump, size, identity; every byte flipped; cut short.
        assert!(decode(&bytes, KEY, size + 1).is_none());
        assert!(decode(&bytes, "f123456789abcdef0123456789abcdef", size).is_none());
        for i in 0..bytes.len() {
            let mut bad = bytes.clone();
            bad[i] ^= 0x10;
            assert!(decode(&bad, KEY, size).is_none(), "byte {i}");
            assert!(decode(&bytes[..i], KEY, size).is_none(), "cut at {i}");
        }
    }
}
