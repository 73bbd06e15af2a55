//! The on-disk cache of AVML chunk indexes: what [`super::scan`] computes, so that the next
//! open of the same dump reads a few bytes per 64 KiB chunk instead of walking every chunk
//! header of the file (for a 64 GiB dump, a full sequential pass).
//!
//! Location: `avml/` in podmortem's cache folder ([`crate::engine::cache::root`]), never next
//! to the evidence. One file per dump, named by the dump's identity
//! ([`crate::engine::cache::file_identity`]: device, inode, size, modification time, first
//! and last MiB): `<identity>.v<FORMAT_VERSION>.avmlidx`, with a `.json` beside it naming the
//! dump for `podmortem cache`. Written to a temporary `.part-` file in the same folder and
//! renamed into place, so readers never see half a file.
//!
//! Layout (integers little-endian; `varint` is LEB128):
//! ```text
//! header   "PMAVMLIX" | u32 FORMAT_VERSION | identity (32 ASCII hex digits)
//!          | u64 size of the dump | u64 body length
//! body     varint range count, then per range: varint gap from the previous range's end,
//!          varint length
//!          varint chunk count, then per chunk: varint gap from the previous chunk's physical
//!          end, zigzag varint of its body's offset minus where the previous body ended
//!          (+ 4 for the chunk header), varint body length << 1 | compressed,
//!          varint 65536 - uncompressed length
//!          varint warning count, then per warning: u8 1 if it starts with the dump's name
//!          and ": " (left out), varint length, UTF-8 bytes
//! trailer  u32 CRC-32C of the body
//! ```
//! A typical chunk takes 6 bytes. Files under [`MIN_SIZE`] are not cached. Any mismatch (magic, version, identity, size, CRC, bounds,
//! an index that does not fit the dump) makes the file count as absent: the dump is scanned
//! and the file rewritten.

use std::fs;
use std::ops::Range;
use std::path::{Path, PathBuf};

use super::super::snappy::{Chunk, MAX_CHUNK};
use super::ChunkIndex;
use crate::engine::bytes::Cursor;
use crate::engine::cache;

/// Smallest AVML file whose index is cached. Below it a scan costs about what the file's
/// identity does (hashing two MiB; measured on linux-6.1's 41.6 MB dump.avml with its pages
/// in memory: 3.8 ms to scan, 1.5 ms to load the cached index), and small files (the tests'
/// synthetic dumps) would only fill the cache folder.
pub(crate) const MIN_SIZE: u64 = 16 << 20;

/// Bumped whenever the layout or the meaning of the index changes.
pub(crate) const FORMAT_VERSION: u32 = 1;

const MAGIC: &[u8; 8] = b"PMAVMLIX";
/// Largest body length of a snappy chunk (its length field has 3 bytes).
const MAX_BODY: u64 = (1 << 24) - 1;
/// The snappy chunk header before each body.
const CHUNK_HEADER: u64 = 4;

/// Where the cached index of one dump lives.
#[derive(Debug, Clone)]
pub(crate) struct Location {
    /// The cache file.
    pub file: PathBuf,
    /// The dump's identity (also in the file's header).
    pub key: String,
}

/// The cache file for the dump at `path` whose bytes are `bytes`; `None` without a cache
/// folder or when the dump's identity cannot be read (logged).
pub(crate) fn location(path: &Path, bytes: &[u8]) -> Option<Location> {
    let dir = cache::root()?.join(cache::AVML);
    match cache::file_identity(path, bytes) {
        Ok(key) => Some(Location {
            file: dir.join(format!("{key}.v{FORMAT_VERSION}.avmlidx")),
            key,
        }),
        Err(e) => {
            tracing::warn!("avml: no cached chunk index (identity unreadable): {e}");
            None
        }
    }
}

/// The cached index at `loc`, for the dump named `file` in messages, of `size` bytes; `None`
/// when absent or not valid for that dump.
pub(crate) fn load(loc: &Location, file: &str, size: u64) -> Option<ChunkIndex> {
    let data = fs::read(&loc.file).ok()?;
    let index = decode(&data, &loc.key, file, size);
    match &index {
        Some(_) => {
            // The use time, for `podmortem cache`.
            if let Ok(f) = fs::File::options().append(true).open(&loc.file) {
                let _ = f.set_modified(std::time::SystemTime::now());
            }
        }
        None => tracing::debug!(
            cache = %loc.file.display(),
            "avml: cached chunk index rejected (damaged or stale), scanning again"
        ),
    }
    index
}

/// Writes `index` of the dump at `path` (named `file` in messages, `size` bytes) to `loc`,
/// atomically. Errors are for the caller to log: a cache that cannot be written only costs
/// time.
pub(crate) fn store(
    loc: &Location,
    path: &Path,
    file: &str,
    size: u64,
    index: &ChunkIndex,
) -> std::io::Result<()> {
    let out = encode(index, &loc.key, file, size);
    crate::engine::cache::write_file(&loc.file, &out)?;
    let source = fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    let meta = serde_json::json!({
        "source": source.display().to_string(),
        "chunks": index.chunks.len(),
        "created": crate::engine::time::now_rfc3339(),
    });
    let _ = fs::write(loc.file.with_extension("json"), meta.to_string());
    Ok(())
}

// ----------------------------------------------------------------------------- encoding

/// Appends `v` as LEB128.
pub(super) fn varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8 & 0x7f) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Zigzag: small negative and positive numbers both become small.
fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

fn unzigzag(v: u64) -> i64 {
    ((v >> 1) as i64) ^ -((v & 1) as i64)
}

/// Where the body of the chunk after `prev` starts when nothing stands between them.
fn next_body(prev: Option<&Chunk>) -> u64 {
    prev.map_or(0, |c| {
        c.file.wrapping_add(c.body_len()).wrapping_add(CHUNK_HEADER)
    })
}

/// The whole cache file for `index` of the dump with identity `key`, named `file`, of `size`
/// bytes.
fn encode(index: &ChunkIndex, key: &str, file: &str, size: u64) -> Vec<u8> {
    let mut body = Vec::with_capacity(index.chunks.len() * 6 + 64);
    varint(&mut body, index.ranges.len() as u64);
    let mut end = 0u64;
    for r in &index.ranges {
        varint(&mut body, r.start.wrapping_sub(end));
        varint(&mut body, r.end.wrapping_sub(r.start));
        end = r.end;
    }
    varint(&mut body, index.chunks.len() as u64);
    let mut prev: Option<&Chunk> = None;
    for c in &index.chunks {
        let phys_end = prev.map_or(0, |p| p.phys_range().end);
        varint(&mut body, c.phys.wrapping_sub(phys_end));
        varint(
            &mut body,
            zigzag(c.file.wrapping_sub(next_body(prev)) as i64),
        );
        varint(&mut body, (c.body_len() << 1) | u64::from(c.compressed()));
        varint(&mut body, MAX_CHUNK.wrapping_sub(u64::from(c.ulen)));
        prev = Some(c);
    }
    varint(&mut body, index.warnings.len() as u64);
    let prefix = format!("{file}: ");
    for w in &index.warnings {
        let (flag, text) = match w.strip_prefix(&prefix) {
            Some(rest) => (1, rest),
            None => (0, w.as_str()),
        };
        body.push(flag);
        varint(&mut body, text.len() as u64);
        body.extend_from_slice(text.as_bytes());
    }
    framed((MAGIC, FORMAT_VERSION), key, size, &body)
}

/// A cache file of the `avml/` folder: the header (`magic`, format version, the dump's
/// identity `key` and `size`, the body's length), `body`, and the body's CRC-32C.
pub(super) fn framed(
    (magic, version): (&[u8; 8], u32),
    key: &str,
    size: u64,
    body: &[u8],
) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len() + 64);
    out.extend_from_slice(magic);
    out.extend_from_slice(&version.to_le_bytes());
    out.extend_from_slice(key.as_bytes());
    out.extend_from_slice(&size.to_le_bytes());
    out.extend_from_slice(&(body.len() as u64).to_le_bytes());
    out.extend_from_slice(body);
    out.extend_from_slice(&crc32c::crc32c(body).to_le_bytes());
    out
}

/// The body of a whole [`framed`] file `data`; `None` unless its magic, version, identity,
/// size, length and CRC are all those expected.
pub(super) fn unframed<'d>(
    data: &'d [u8],
    (magic, version): (&[u8; 8], u32),
    key: &str,
    size: u64,
) -> Option<&'d [u8]> {
    let mut c = Cursor::new(data, 0);
    if c.take(magic.len())? != magic
        || c.u32_le()? != version
        || c.take(key.len())? != key.as_bytes()
        || c.u64_le()? != size
    {
        return None;
    }
    let len = usize::try_from(c.u64_le()?).ok()?;
    let body = c.take(len)?;
    (c.u32_le()? == crc32c::crc32c(body) && c.is_empty()).then_some(body)
}

/// Reads and checks a whole cache file; `None` for anything but a valid index of the dump
/// with identity `key`, named `file`, of `size` bytes.
fn decode(data: &[u8], key: &str, file: &str, size: u64) -> Option<ChunkIndex> {
    let body = unframed(data, (MAGIC, FORMAT_VERSION), key, size)?;
    decode_body(body, file, size)
}

/// A LEB128 varint; `None` past the end or beyond 64 bits.
pub(super) fn read_varint(c: &mut Cursor<'_>) -> Option<u64> {
    let mut v = 0u64;
    for shift in (0..64).step_by(7) {
        let [b] = c.array::<1>()?;
        if shift == 63 && b > 1 {
            return None;
        }
        v |= u64::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            return Some(v);
        }
    }
    None
}

/// A record count, refused if records of at least `min` bytes each would not fit in what
/// is left (so no allocation is larger than the file).
pub(super) fn read_count(c: &mut Cursor<'_>, min: usize) -> Option<usize> {
    let n = usize::try_from(read_varint(c)?).ok()?;
    (n.checked_mul(min)? <= c.len()).then_some(n)
}

/// Decodes the body and checks that the index fits a dump of `size` bytes: ranges and
/// chunks sorted and disjoint, every chunk inside a range and inside the file, lengths within
/// the snappy framing format's limits.
fn decode_body(body: &[u8], file: &str, size: u64) -> Option<ChunkIndex> {
    let mut c = Cursor::new(body, 0);
    let n = read_count(&mut c, 2)?;
    let mut ranges: Vec<Range<u64>> = Vec::with_capacity(n);
    let mut end = 0u64;
    for _ in 0..n {
        let start = end.checked_add(read_varint(&mut c)?)?;
        let len = read_varint(&mut c)?;
        if len == 0 {
            return None;
        }
        end = start.checked_add(len)?;
        ranges.push(start..end);
    }
    let n = read_count(&mut c, 4)?;
    let mut chunks: Vec<Chunk> = Vec::with_capacity(n);
    for _ in 0..n {
        let prev = chunks.last();
        let phys = prev
            .map_or(0, |p| p.phys_range().end)
            .checked_add(read_varint(&mut c)?)?;
        let file_at = next_body(prev).wrapping_add(unzigzag(read_varint(&mut c)?) as u64);
        let body_field = read_varint(&mut c)?;
        let body_len = body_field >> 1;
        let ulen = MAX_CHUNK.checked_sub(read_varint(&mut c)?)?;
        let in_file = file_at.checked_add(body_len).is_some_and(|e| e <= size);
        if !(CHUNK_HEADER..=MAX_BODY).contains(&body_len) || ulen == 0 || !in_file {
            return None;
        }
        phys.checked_add(ulen)?;
        chunks.push(Chunk::new(
            phys,
            file_at,
            u32::try_from(body_len).ok()?,
            u32::try_from(ulen).ok()?,
            body_field & 1 == 1,
        ));
    }
    let n = read_count(&mut c, 2)?;
    let mut warnings = Vec::with_capacity(n);
    for _ in 0..n {
        let [flag] = c.array::<1>()?;
        let len = usize::try_from(read_varint(&mut c)?).ok()?;
        let text = std::str::from_utf8(c.take(len)?).ok()?;
        warnings.push(match flag {
            0 => text.to_string(),
            1 => format!("{file}: {text}"),
            _ => return None,
        });
    }
    if !c.is_empty() || !chunks_in_ranges(&chunks, &ranges) {
        return None;
    }
    Some(ChunkIndex {
        chunks,
        ranges,
        warnings,
    })
}

/// True when every chunk (sorted) lies inside one of the (sorted) ranges.
fn chunks_in_ranges(chunks: &[Chunk], ranges: &[Range<u64>]) -> bool {
    let mut r = ranges.iter().peekable();
    chunks.iter().all(|c| {
        let span = c.phys_range();
        while r.next_if(|x| x.end <= span.start).is_some() {}
        r.peek()
            .is_some_and(|x| x.start <= span.start && span.end <= x.end)
    })
}

#[cfg(test)]
#[allow(clippy::indexing_slicing, clippy::unwrap_used)]
mod tests {
    use super::*;

    const KEY: &str = "0123456789abcdef0123456789abcdef";
    const FILE: &str = "/evidence/dump.avml";
    const SIZE: u64 = 1 << 30;

    fn sample() -> ChunkIndex {
        let mut chunks = Vec::new();
        let mut file = 0x40u64;
        for i in 0..40u64 {
            // Block 1 at 0x1000 (20 chunks), block 2 at 0x10_0000_0000, stored before it.
            let phys = if i < 20 {
                0x1000 + i * 65_536
            } else {
                0x10_0000_0000 + (i - 20) * 65_536
            };
            let ulen = if i == 19 || i == 39 { 4096 } else { 65_536 };
            let compressed = i % 7 != 3;
            let body = if compressed {
                100 + (i as u32 * 977) % 30_000
            } else {
                ulen + 4
            };
            // A skippable chunk before chunk 5; block 2 stored earlier in the file.
            let at = if i == 20 { 0x8 } else { file };
            chunks.push(Chunk::new(phys, at, body, ulen, compressed));
            file = at + u64::from(body) + 4 + if i == 4 { 12 } else { 0 };
        }
        ChunkIndex {
            ranges: vec![
                0x1000..0x1000 + 19 * 65_536 + 4096,
                0x10_0000_0000..0x10_0000_0000 + 19 * 65_536 + 4096,
            ],
            chunks,
            warnings: vec![
                format!("{FILE}: the stream of block 0x0-0x1 is truncated"),
                "a warning without the prefix: ünïcode".to_string(),
            ],
        }
    }

    #[test]
    fn round_trip() {
        for index in [ChunkIndex::default(), sample()] {
            let bytes = encode(&index, KEY, FILE, SIZE);
            assert_eq!(decode(&bytes, KEY, FILE, SIZE), Some(index));
        }
        // About 6 bytes a chunk.
        let index = sample();
        assert!(encode(&index, KEY, FILE, SIZE).len() < 100 + index.chunks.len() * 8);
        // The same dump opened under another name: warnings name that one.
        let bytes = encode(&index, KEY, FILE, SIZE);
        let other = decode(&bytes, KEY, "other.avml", SIZE).unwrap();
        assert_eq!(
            other.warnings[0],
            "other.avml: the stream of block 0x0-0x1 is truncated"
        );
        assert_eq!(other.warnings[1], index.warnings[1]);
    }

    #[test]
    fn varints() {
        for v in [0, 1, 127, 128, 300, u32::MAX as u64, u64::MAX - 1, u64::MAX] {
            let mut out = Vec::new();
            varint(&mut out, v);
            assert_eq!(read_varint(&mut Cursor::new(&out, 0)), Some(v));
        }
        for v in [0, 1, -1, i64::MIN, i64::MAX] {
            assert_eq!(unzigzag(zigzag(v)), v);
        }
        // 11 bytes, or a 10th byte above 1: refused.
        assert_eq!(read_varint(&mut Cursor::new(&[0xff; 11], 0)), None);
        let mut big = vec![0xff; 9];
        big.push(0x02);
        assert_eq!(read_varint(&mut Cursor::new(&big, 0)), None);
    }

    #[test]
    fn truncated_or_flipped_bytes_are_refused() {
        let bytes = encode(&sample(), KEY, FILE, SIZE);
        for n in 0..bytes.len() {
            assert_eq!(decode(&bytes[..n], KEY, FILE, SIZE), None, "cut at {n}");
        }
        for i in 0..bytes.len() {
            let mut bad = bytes.clone();
            bad[i] ^= 0x10;
            assert_eq!(decode(&bad, KEY, FILE, SIZE), None, "flipped byte {i}");
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert_eq!(decode(&longer, KEY, FILE, SIZE), None);
        // Another dump, or the same one grown.
        assert_eq!(decode(&bytes, &KEY.replace('0', "f"), FILE, SIZE), None);
        assert_eq!(decode(&bytes, KEY, FILE, SIZE + 1), None);
    }

    #[test]
    fn bodies_that_do_not_fit_the_dump_are_refused() {
        let index = sample();
        let body_of = |i: &ChunkIndex| {
            let bytes = encode(i, KEY, FILE, SIZE);
            bytes[8 + 4 + KEY.len() + 16..bytes.len() - 4].to_vec()
        };
        assert_eq!(
            decode_body(&body_of(&index), FILE, SIZE),
            Some(index.clone())
        );
        // Chunks beyond the end of a smaller file.
        assert_eq!(decode_body(&body_of(&index), FILE, 0x1000), None);
        // A chunk outside every range.
        let mut outside = index.clone();
        outside.ranges.truncate(1);
        assert_eq!(decode_body(&body_of(&outside), FILE, SIZE), None);
        // Overlapping chunks (a gap that wraps).
        let mut overlap = index.clone();
        overlap.chunks[3].phys -= 1;
        assert_eq!(decode_body(&body_of(&overlap), FILE, SIZE), None);
        // Arbitrary bodies behind a valid CRC: no panic, and nothing past the input.
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        for len in 0..2000usize {
            let mut junk = Vec::with_capacity(len % 97);
            for _ in 0..len % 97 {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                junk.push(seed as u8);
            }
            let _ = decode_body(&junk, FILE, SIZE);
        }
    }
}
