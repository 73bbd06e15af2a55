//! podmortem's cache folder: what it keeps so that evidence opens fast the second time,
//! never next to the evidence.
//!
//! Location: `$PODMORTEM_CACHE_DIR` when set (and not empty), else the XDG cache folder
//! (`~/.cache/podmortem` on Linux). One sub-folder per kind:
//! - `isf/`: parsed symbol indexes (ISF files, a dump's own BTF and kallsyms);
//! - `checkpoints/`: `.tar.zst` / `.tar.gz` checkpoints decompressed once
//!   ([`crate::engine::checkpoint::unpacked`]), memory-mapped like a `.tar` afterwards;
//! - `avml/`: the chunk indexes of AVML compressed dumps, so a second open does not walk
//!   the whole file again (a few bytes per 64 KiB chunk), and until an index is known, their
//!   block maps, so a second open does not read every block's trailer again (a few bytes per
//!   16 MiB block);
//! - `kernel/`: where a dump's kernel is (its VMCOREINFO and KASLR layout), so a second open
//!   does not scan physical memory for it (a few hundred bytes per dump), and its walked
//!   process list, so a second open does not walk it again (about 1 KiB per task);
//! - `demo/`: the demo checkpoint built into the binary.
//!
//! Decompressed checkpoints are the large entries: the folder keeps at most
//! [`limit`] bytes of them (least recently used go first; `PODMORTEM_CACHE_LIMIT` sets it, in
//! bytes or with a K/M/G/T suffix). `podmortem cache` lists and cleans the folder.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use serde::Serialize;

use crate::engine::error::{Error, Result};

/// Environment variable naming the cache folder.
pub const ENV_DIR: &str = "PODMORTEM_CACHE_DIR";
/// Environment variable giving the size limit of decompressed checkpoints.
pub const ENV_LIMIT: &str = "PODMORTEM_CACHE_LIMIT";
/// The default size limit of decompressed checkpoints.
pub const DEFAULT_LIMIT: u64 = 64 << 30;
/// Sub-folder of decompressed checkpoints.
pub const CHECKPOINTS: &str = "checkpoints";
/// Sub-folder of AVML chunk indexes.
pub const AVML: &str = "avml";
/// Sub-folder of kernel layouts found in dumps (VMCOREINFO, KASLR shifts).
pub const KERNEL: &str = "kernel";

/// The cache folder, if the platform has one (or `$PODMORTEM_CACHE_DIR` names one).
pub fn root() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os(ENV_DIR).filter(|v| !v.is_empty()) {
        return Some(PathBuf::from(dir));
    }
    directories::ProjectDirs::from("", "", "podmortem").map(|d| d.cache_dir().to_path_buf())
}

/// The size limit of decompressed checkpoints (`PODMORTEM_CACHE_LIMIT`, else
/// [`DEFAULT_LIMIT`]).
pub fn limit() -> u64 {
    std::env::var(ENV_LIMIT)
        .ok()
        .and_then(|v| parse_size(&v))
        .unwrap_or(DEFAULT_LIMIT)
}

/// Parses `123`, `64G`, `512M`, `1.5T` (powers of 1024).
pub fn parse_size(text: &str) -> Option<u64> {
    let t = text.trim();
    let (num, unit) = match t.char_indices().find(|(_, c)| c.is_ascii_alphabetic()) {
        Some((i, _)) => (&t[..i], t[i..].trim().to_ascii_uppercase()),
        None => (t, String::new()),
    };
    let shift = match unit.trim_end_matches("IB").trim_end_matches('B') {
        "" => 0,
        "K" => 10,
        "M" => 20,
        "G" => 30,
        "T" => 40,
        _ => return None,
    };
    let n: f64 = num.trim().parse().ok()?;
    (n.is_finite() && n >= 0.0).then(|| (n * (1u64 << shift) as f64) as u64)
}

/// One entry of the cache, for `podmortem cache`.
#[derive(Debug, Clone, Serialize)]
pub struct Entry {
    /// Kind: "checkpoint" (decompressed archive), "symbols" (an index), "avml-index" (an AVML
    /// dump's chunk index), "avml-blocks" (an AVML dump's block map), "kernel-layout" (where a dump's kernel is), "process-list" (a
    /// dump's walked tasks), "demo", "other" (a
    /// file left half-written).
    pub kind: &'static str,
    /// The file.
    pub path: PathBuf,
    /// Bytes it takes on disk (holes not counted).
    pub disk_bytes: u64,
    /// Its length in bytes.
    pub size: u64,
    /// Last used (modification time, touched on each use), RFC 3339 UTC.
    pub last_used: String,
    /// What it was made from, when recorded (a checkpoint archive's or an AVML dump's path).
    pub source: Option<String>,
    #[serde(skip)]
    used: SystemTime,
}

/// Writes a cache file atomically: to `NAME.part-PID-N` in the same folder, synced, then
/// renamed over `file` (readers never see half a file; a failed write leaves nothing).
pub fn write_file(file: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let dir = file.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let name = file.file_name().and_then(|n| n.to_str()).unwrap_or("cache");
    let tmp = dir.join(format!(
        "{name}.part-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        drop(f);
        std::fs::rename(&tmp, file)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// Every file in the cache folder `root`, most recently used first.
pub fn entries(root: &Path) -> Vec<Entry> {
    let mut out = Vec::new();
    for (dir, kind) in [
        (CHECKPOINTS, "checkpoint"),
        ("isf", "symbols"),
        (AVML, "avml-index"),
        (KERNEL, "kernel-layout"),
        ("demo", "demo"),
    ] {
        let Ok(read) = std::fs::read_dir(root.join(dir)) else {
            continue;
        };
        for e in read.flatten() {
            let path = e.path();
            let Ok(meta) = e.metadata() else { continue };
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
            if !meta.is_file() || name.ends_with(".json") || name.ends_with(".lock") {
                continue;
            }
            let used = meta.modified().unwrap_or(SystemTime::UNIX_EPOCH);
            let source = std::fs::read(path.with_extension("json"))
                .ok()
                .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
                .and_then(|v| v.get("source")?.as_str().map(str::to_string));
            out.push(Entry {
                kind: if name.contains(".part-") {
                    "other"
                } else if dir == KERNEL && name.ends_with(".tasks") {
                    "process-list"
                } else if dir == AVML && name.ends_with(".avmlblk") {
                    "avml-blocks"
                } else {
                    kind
                },
                disk_bytes: disk_bytes(&meta),
                size: meta.len(),
                last_used: crate::engine::time::rfc3339(
                    used.duration_since(SystemTime::UNIX_EPOCH)
                        .map_or(0, |d| d.as_secs() as i64),
                ),
                source,
                path,
                used,
            });
        }
    }
    out.sort_by_key(|e| std::cmp::Reverse(e.used));
    out
}

/// A file's identity, as a key for what the cache derives from it: 32 hex digits of the
/// SHA-256 of its device, inode, size and modification time and of its first and last MiB
/// (`bytes` are its contents). A replaced or rewritten file gets a new key; the whole file
/// is not hashed, so that the key of a 64 GiB dump costs two MiB of reading.
pub fn file_identity(path: &Path, bytes: &[u8]) -> Result<String> {
    identity_with_edges(path, bytes, 1 << 20)
}

/// [`file_identity`] hashing only the first and last `edge` bytes: for a key read on every
/// open, where hashing two MiB would cost more than what the cache saves.
pub fn identity_with_edges(path: &Path, bytes: &[u8], edge: usize) -> Result<String> {
    use sha2::{Digest, Sha256};
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::metadata(path).map_err(|e| Error::io(path, e))?;
    let mut h = Sha256::new();
    for n in [
        meta.dev(),
        meta.ino(),
        meta.len(),
        meta.mtime() as u64,
        meta.mtime_nsec() as u64,
    ] {
        h.update(n.to_le_bytes());
    }
    let edge = bytes.len().min(edge);
    h.update(bytes.get(..edge).unwrap_or_default());
    h.update(bytes.get(bytes.len() - edge..).unwrap_or_default());
    let digest = h.finalize();
    Ok(digest.iter().take(16).map(|b| format!("{b:02x}")).collect())
}

fn disk_bytes(meta: &std::fs::Metadata) -> u64 {
    use std::os::unix::fs::MetadataExt;
    meta.blocks().saturating_mul(512)
}

/// Removes cache entries: decompressed checkpoints, and with `all` every other entry too.
/// Returns how many files and bytes (on disk) went.
pub fn clean(root: &Path, all: bool) -> Result<(usize, u64)> {
    let mut files = 0;
    let mut bytes = 0;
    for e in entries(root) {
        if !all && e.kind != "checkpoint" && e.kind != "other" {
            continue;
        }
        remove_entry(&e.path)?;
        files += 1;
        bytes += e.disk_bytes;
    }
    // Lock files of decompressions no longer running.
    if let Ok(read) = std::fs::read_dir(root.join(CHECKPOINTS)) {
        for e in read.flatten() {
            let path = e.path();
            if path.extension().is_some_and(|x| x == "lock")
                && std::fs::File::open(&path).is_ok_and(|f| fs4::FileExt::try_lock(&f).is_ok())
            {
                let _ = std::fs::remove_file(&path);
            }
        }
    }
    Ok((files, bytes))
}

fn remove_entry(path: &Path) -> Result<()> {
    std::fs::remove_file(path).map_err(|e| Error::io(path, e))?;
    let _ = std::fs::remove_file(path.with_extension("json"));
    Ok(())
}

/// Removes the least recently used decompressed checkpoints, other than `keep`, until
/// those left take at most `limit` bytes on disk.
pub fn enforce_limit(root: &Path, limit: u64, keep: &Path) {
    let mut total: u64 = 0;
    for e in entries(root).into_iter().filter(|e| e.kind == "checkpoint") {
        total = total.saturating_add(e.disk_bytes);
        if total > limit && e.path != keep {
            match remove_entry(&e.path) {
                Ok(()) => {
                    tracing::info!(path = %e.path.display(), "cache: evicted");
                    total = total.saturating_sub(e.disk_bytes);
                }
                Err(err) => tracing::warn!("cache: cannot evict: {err}"),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_with_units() {
        assert_eq!(parse_size("123"), Some(123));
        assert_eq!(parse_size("64G"), Some(64 << 30));
        assert_eq!(parse_size("512 MiB"), Some(512 << 20));
        assert_eq!(parse_size("1.5k"), Some(1536));
        assert_eq!(parse_size("2T"), Some(2 << 40));
        assert_eq!(parse_size("lots"), None);
        assert_eq!(parse_size("-1G"), None);
    }
}
