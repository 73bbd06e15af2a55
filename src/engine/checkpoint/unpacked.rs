//! Compressed checkpoints without RAM: a `.tar.zst` / `.tar.gz` is decompressed once into
//! the cache folder ([`crate::engine::cache`]) and memory-mapped like a `.tar`; every later
//! open (the next CLI command, the workbench) maps the same file.
//!
//! The cached tar is named by the archive's identity (device, inode, size, modification
//! time, first and last MiB), so a changed or replaced archive is decompressed anew. It is
//! written sparse (runs of zero blocks stay holes), under a lock (two podmortems opening the
//! same archive decompress it once), to a temporary name renamed into place when complete,
//! after checking that the disk has room. When the cache cannot be used (no cache folder,
//! not writable, no room), the archive is decompressed into memory as before, up to
//! [`MAX_IN_MEMORY`].

use std::fs::{self, File};
use std::io::Read;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use crate::engine::cache;
use crate::engine::error::{Error, Result};
use crate::engine::mapped::Blob;

/// Decompressed archives larger than this are refused when they must be held in memory.
pub const MAX_IN_MEMORY: u64 = 16 << 30;
/// Room kept free on the cache's disk beyond the decompressed size.
const HEADROOM: u64 = 256 << 20;
/// Blocks of zeros this long are left as holes.
const BLOCK: usize = 4096;
/// Bytes read from the decoder at a time.
const CHUNK: usize = 1 << 20;

/// The decompressed tar of the compressed archive `path` (whose bytes are `compressed`),
/// from the cache, decompressing it there first if needed; `decoder` makes a fresh
/// decompressing reader over the bytes.
pub fn unpacked<'a, R: Read + Send + 'a>(
    path: &Path,
    compressed: &'a [u8],
    content_size: Option<u64>,
    decoder: impl Fn() -> Result<R>,
) -> Result<Blob> {
    let Some(root) = cache::root() else {
        return in_memory(path, decoder()?);
    };
    let dir = root.join(cache::CHECKPOINTS);
    match cached(path, compressed, content_size, &dir, &decoder) {
        Ok(Some(tar)) => {
            cache::enforce_limit(&root, cache::limit(), &tar);
            Blob::map(&tar)
        }
        Ok(None) => in_memory(path, decoder()?),
        Err(e @ Error::Corrupt { .. }) => Err(e),
        Err(e) => {
            tracing::warn!("cache unusable, decompressing into memory: {e}");
            in_memory(path, decoder()?)
        }
    }
}

/// The cached tar, made if missing; `None` when the cache's disk has no room for it.
fn cached<'a, R: Read + Send + 'a>(
    path: &Path,
    compressed: &'a [u8],
    content_size: Option<u64>,
    dir: &Path,
    decoder: &impl Fn() -> Result<R>,
) -> Result<Option<PathBuf>> {
    fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let key = cache::file_identity(path, compressed)?;
    let tar = dir.join(format!("{key}.tar"));
    if let Some(found) = reuse(&tar) {
        return Ok(Some(found));
    }
    let lock_path = dir.join(format!("{key}.lock"));
    let lock = File::create(&lock_path).map_err(|e| Error::io(&lock_path, e))?;
    fs4::FileExt::lock(&lock).map_err(|e| Error::io(&lock_path, e))?;
    // Another podmortem may have made it while this one waited for the lock.
    if let Some(found) = reuse(&tar) {
        return Ok(Some(found));
    }
    let free = fs4::available_space(dir).map_err(|e| Error::io(dir, e))?;
    // Without a size in the header, ask for at least twice the compressed size.
    let need = content_size
        .unwrap_or(compressed.len() as u64 * 2)
        .saturating_add(HEADROOM);
    if free < need {
        tracing::warn!(
            free,
            need,
            dir = %dir.display(),
            "cache: no room to decompress the checkpoint"
        );
        return Ok(None);
    }
    let started = std::time::Instant::now();
    let part = dir.join(format!("{key}.tar.part-{}", std::process::id()));
    let written = write_sparse(path, decoder()?, &part, free.saturating_sub(HEADROOM));
    let size = match written {
        Ok(n) => n,
        Err(e) => {
            let _ = fs::remove_file(&part);
            return Err(e);
        }
    };
    fs::rename(&part, &tar).map_err(|e| Error::io(&tar, e))?;
    let meta = serde_json::json!({
        "source": fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf()).display().to_string(),
        "compressed_size": compressed.len(),
        "size": size,
        "created": crate::engine::time::now_rfc3339(),
    });
    let _ = fs::write(tar.with_extension("json"), meta.to_string());
    tracing::info!(
        source = %path.display(),
        size,
        elapsed_ms = started.elapsed().as_millis() as u64,
        "cache: checkpoint decompressed"
    );
    Ok(Some(tar))
}

/// The cached tar if complete, its use time refreshed (least recently used go first).
fn reuse(tar: &Path) -> Option<PathBuf> {
    let meta = fs::metadata(tar).ok()?;
    if !meta.is_file() {
        return None;
    }
    if let Ok(f) = File::options().append(true).open(tar) {
        let _ = f.set_modified(std::time::SystemTime::now());
    }
    tracing::debug!(tar = %tar.display(), "cache: decompressed checkpoint reused");
    Some(tar.to_path_buf())
}

/// Decompresses into `out`, leaving zero blocks as holes; fails past `max` bytes (the room
/// on the disk) rather than filling it. Each run of non-zero blocks is one positioned write
/// (a write per 4 KiB block made the first open of a large checkpoint several times slower
/// than its decompression). Decompression and writing overlap: the decoder fills buffers
/// on a thread of its own while this one looks for holes and writes.
fn write_sparse(source: &Path, reader: impl Read + Send, out: &Path, max: u64) -> Result<u64> {
    use std::sync::mpsc;
    let file = File::create(out).map_err(|e| Error::io(out, e))?;
    let decode_error = |total: u64, e: std::io::Error| Error::Corrupt {
        file: source.display().to_string(),
        at: 0,
        reason: format!("decompression failed after {total} bytes: {e}"),
    };
    std::thread::scope(|scope| {
        // Filled buffers go to the writer, emptied ones come back: two buffers in flight.
        // Both ends live in this closure: returning early (an error) ends the decoder too.
        let (full_tx, full_rx) = mpsc::sync_channel::<std::io::Result<(Vec<u8>, usize)>>(1);
        let (empty_tx, empty_rx) = mpsc::channel::<Vec<u8>>();
        for _ in 0..2 {
            let _ = empty_tx.send(vec![0u8; CHUNK]);
        }
        scope.spawn(move || {
            let mut reader = reader;
            while let Ok(mut buf) = empty_rx.recv() {
                let got = fill(&mut reader, &mut buf);
                let end = matches!(got, Ok(0) | Err(_));
                if full_tx.send(got.map(|n| (buf, n))).is_err() || end {
                    break;
                }
            }
        });
        let mut total: u64 = 0;
        loop {
            let (buf, n) = match full_rx.recv() {
                Ok(Ok((buf, n))) => (buf, n),
                Ok(Err(e)) => return Err(decode_error(total, e)),
                Err(_) => break,
            };
            if n == 0 {
                break;
            }
            let data = buf.get(..n).unwrap_or_default();
            for run in data_runs(data) {
                let bytes = data.get(run.clone()).unwrap_or_default();
                file.write_all_at(bytes, total + run.start as u64)
                    .map_err(|e| Error::io(out, e))?;
            }
            total += n as u64;
            if total > max {
                return Err(Error::io(
                    out,
                    std::io::Error::other(format!(
                        "the checkpoint decompresses to more than the {max} bytes free there"
                    )),
                ));
            }
            let _ = empty_tx.send(buf);
        }
        // Ends the decoder thread if it waits for a buffer.
        drop(empty_tx);
        drop(full_rx);
        file.set_len(total).map_err(|e| Error::io(out, e))?;
        file.sync_all().map_err(|e| Error::io(out, e))?;
        Ok(total)
    })
}

/// A block of zeros, to compare blocks with (a slice comparison is a vectorised `memcmp`).
static ZEROS: [u8; BLOCK] = [0; BLOCK];

/// The runs of `data` made of [`BLOCK`]-sized blocks that are not all zeros (the last block
/// may be shorter), in order, adjacent ones joined.
fn data_runs(data: &[u8]) -> Vec<std::ops::Range<usize>> {
    let mut runs: Vec<std::ops::Range<usize>> = Vec::new();
    for (i, block) in data.chunks(BLOCK).enumerate() {
        if ZEROS.get(..block.len()) == Some(block) {
            continue;
        }
        let at = i * BLOCK;
        match runs.last_mut() {
            Some(last) if last.end == at => last.end = at + block.len(),
            _ => runs.push(at..at + block.len()),
        }
    }
    runs
}

/// Reads until `buf` is full or the stream ends; the number of bytes read.
fn fill(reader: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match reader.read(buf.get_mut(got..).unwrap_or_default()) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(got)
}

/// Decompresses into memory (no usable cache), up to [`MAX_IN_MEMORY`].
fn in_memory(path: &Path, reader: impl Read) -> Result<Blob> {
    let mut out = Vec::new();
    let mut limited = reader.take(MAX_IN_MEMORY + 1);
    limited.read_to_end(&mut out).map_err(|e| Error::Corrupt {
        file: path.display().to_string(),
        at: 0,
        reason: format!("decompression failed after {} bytes: {e}", out.len()),
    })?;
    if out.len() as u64 > MAX_IN_MEMORY {
        return Err(Error::Corrupt {
            file: path.display().to_string(),
            at: 0,
            reason: format!("decompresses to more than {MAX_IN_MEMORY} bytes"),
        });
    }
    Ok(Blob::Owned(out))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;

    #[test]
    fn data_runs_join_non_zero_blocks() {
        let mut data = vec![0u8; 5 * BLOCK + 100];
        data[BLOCK + 7] = 1;
        data[2 * BLOCK] = 2;
        data[4 * BLOCK + 4000] = 3;
        data[5 * BLOCK + 99] = 4;
        assert_eq!(
            data_runs(&data),
            [BLOCK..3 * BLOCK, 4 * BLOCK..5 * BLOCK + 100]
        );
        assert!(data_runs(&vec![0u8; 3 * BLOCK + 1]).is_empty());
    }

    #[test]
    fn sparse_copy_reads_back_the_same_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("t.tar");
        // Data, holes, data across the decoder's chunk edge, and a zero tail.
        let mut data = vec![0u8; CHUNK * 2 + 3 * BLOCK + 10];
        data[..BLOCK + 1].fill(0xaa);
        data[CHUNK - 5..CHUNK + 5].fill(0x55);
        data[2 * CHUNK + 7] = 9;
        let n = write_sparse(Path::new("src"), &data[..], &out, u64::MAX).unwrap();
        assert_eq!(n, data.len() as u64);
        assert_eq!(fs::read(&out).unwrap(), data);
        assert!(write_sparse(Path::new("src"), &data[..], &out, 10).is_err());
    }
}
