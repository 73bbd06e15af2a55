//! Extraction of evidence bytes (a rootfs file, a memory range) into a folder the analyst
//! names, with names that cannot escape it: no absolute paths, no `..`, control characters
//! replaced, no following symlinks, no overwriting unless asked.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::ops::Range;
use std::os::unix::fs::FileExt;
use std::path::{Component, Path, PathBuf};

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::engine::error::{Error, Result};
use crate::engine::evidence::{Evidence, Pid};
use crate::engine::findings::hex_string;

/// Turns an evidence path into a safe relative path: components that are empty, `.`, `..`
/// or absolute markers are dropped; control and path-hostile characters become `_`.
pub fn safe_relative(name: &str) -> PathBuf {
    let mut out = PathBuf::new();
    for part in name.split('/') {
        if part.is_empty() || part == "." || part == ".." {
            continue;
        }
        let clean: String = part
            .chars()
            .map(|c| {
                if c.is_control() || c == '\\' || crate::sanitize::is_unsafe(c) {
                    '_'
                } else {
                    c
                }
            })
            .collect();
        out.push(clean);
    }
    if out.as_os_str().is_empty() {
        out.push("unnamed");
    }
    out
}

/// Writes `bytes` as `dest_dir/safe_relative(name)`. Refuses to go through a symlink or to
/// overwrite an existing file (unless `force`). Returns the path written.
pub fn extract_to(dest_dir: &Path, name: &str, bytes: &[u8], force: bool) -> Result<PathBuf> {
    extract_with(dest_dir, name, force, |f| f.write_all(bytes))
}

/// Like [`extract_to`], for content too large to hold at once: `fill` writes it into the new
/// (empty) file, positioned writes allowed so holes can stay sparse. On failure the partial
/// file is removed.
pub fn extract_with(
    dest_dir: &Path,
    name: &str,
    force: bool,
    fill: impl FnOnce(&mut File) -> std::io::Result<()>,
) -> Result<PathBuf> {
    let rel = safe_relative(name);
    let target = dest_dir.join(&rel);
    // Create parents one by one, refusing symlinks at every level.
    let mut cur = dest_dir.to_path_buf();
    std::fs::create_dir_all(&cur).map_err(|e| Error::io(&cur, e))?;
    let parents: Vec<Component<'_>> = rel
        .parent()
        .map(|p| p.components().collect())
        .unwrap_or_default();
    for c in parents {
        cur.push(c);
        match std::fs::symlink_metadata(&cur) {
            Ok(m) if m.file_type().is_symlink() => {
                return Err(Error::Unsupported("extraction through a symbolic link"));
            }
            Ok(m) if m.is_dir() => {}
            Ok(_) => {
                return Err(Error::io(
                    &cur,
                    std::io::Error::other("exists and is not a folder"),
                ));
            }
            Err(_) => std::fs::create_dir(&cur).map_err(|e| Error::io(&cur, e))?,
        }
    }
    if let Ok(m) = std::fs::symlink_metadata(&target)
        && (m.file_type().is_symlink() || !force)
    {
        return Err(Error::io(
            &target,
            std::io::Error::new(
                std::io::ErrorKind::AlreadyExists,
                "already exists (use --force to overwrite)",
            ),
        ));
    }

    let mut opts = OpenOptions::new();
    opts.write(true);
    if force {
        opts.create(true).truncate(true);
    } else {
        opts.create_new(true);
    }
    let mut f = opts.open(&target).map_err(|e| Error::io(&target, e))?;
    if let Err(e) = fill(&mut f).and_then(|()| f.sync_all()) {
        drop(f);
        let _ = std::fs::remove_file(&target);
        return Err(Error::io(&target, e));
    }
    Ok(target)
}

/// One file written by an extraction.
#[derive(Debug, Clone, Serialize)]
pub struct Extracted {
    /// `rootfs`, `memory` or `saved` (bytes a checkpoint saved beyond memory).
    pub kind: &'static str,
    /// The rootfs path, the memory area as `0xSTART-0xEND`, or where saved bytes were.
    pub source: String,
    /// The process, for memory and saved bytes (their holder).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pid: Option<Pid>,
    /// The file written.
    pub path: PathBuf,
    /// Bytes in the file.
    pub size: u64,
    /// Bytes that came from the evidence (the rest were not captured: zeros).
    pub captured: u64,
    /// SHA-256 of the file (absent for memory files over [`HASH_LIMIT`]).
    pub sha256: Option<String>,
}

/// Memory files larger than this are not hashed (hashing a mostly-hole terabyte is slow).
pub const HASH_LIMIT: u64 = 4 << 30;

/// Writes `pid`'s memory `r` into `dest_dir` as `pid.N.vma.0xSTART-0xEND.dmp` (the name
/// Volatility's `proc.Maps --dump` gives it, and the same bytes: pages not captured read as
/// zeros). Holes are left sparse, so a huge, mostly uncaptured area costs what was captured.
pub fn extract_memory(
    ev: &dyn Evidence,
    pid: Pid,
    r: Range<u64>,
    dest_dir: &Path,
    force: bool,
) -> Result<Extracted> {
    let name = format!("pid.{pid}.vma.{:#x}-{:#x}.dmp", r.start, r.end);
    let size = r.end.saturating_sub(r.start);
    let captured = ev.captured_ranges(pid, r.clone())?;
    let hash = size <= HASH_LIMIT;
    let mut hasher = Sha256::new();
    let mut got = 0u64;
    let mut failure: Option<Error> = None;
    let zeros = [0u8; 1 << 16];
    let path = extract_with(dest_dir, &name, force, |f| {
        let mut buf = vec![0u8; 1 << 20];
        let mut pos = r.start;
        for c in captured.iter().chain(std::iter::once(&(r.end..r.end))) {
            let (cs, ce) = (c.start.max(r.start), c.end.min(r.end));
            // The hole before this captured run: zeros in the hash, nothing on disk.
            if hash {
                let mut hole = cs.saturating_sub(pos);
                while hole > 0 {
                    let n = hole.min(zeros.len() as u64) as usize;
                    hasher.update(zeros.get(..n).unwrap_or_default());
                    hole -= n as u64;
                }
            }
            pos = pos.max(cs);
            while pos < ce {
                let n = (ce - pos).min(buf.len() as u64) as usize;
                let chunk = buf.get_mut(..n).unwrap_or_default();
                chunk.fill(0);
                match ev.read_memory(pid, pos, chunk) {
                    Ok(p) => got += p.captured_len() as u64,
                    Err(e) => {
                        failure = Some(e);
                        return Err(std::io::Error::other("memory read failed"));
                    }
                }
                f.write_all_at(chunk, pos - r.start)?;
                if hash {
                    hasher.update(&*chunk);
                }
                pos += n as u64;
            }
        }
        f.set_len(size)
    });
    if let Some(e) = failure {
        return Err(e);
    }
    Ok(Extracted {
        kind: "memory",
        source: format!("{:#x}-{:#x}", r.start, r.end),
        pid: Some(pid),
        path: path?,
        size,
        captured: got,
        sha256: hash.then(|| hex_string(&hasher.finalize())),
    })
}

/// Refuses an output folder inside a folder of evidence (an extracted checkpoint, a folder
/// of CRIU images): writing there would change the evidence.
pub fn ensure_outside_evidence(evidence: &Path, out: &Path) -> Result<()> {
    let Ok(ev) = std::fs::canonicalize(evidence) else {
        return Ok(());
    };
    if !ev.is_dir() {
        return Ok(());
    }
    // The output folder may not exist yet: resolve its nearest existing ancestor.
    let abs = std::path::absolute(out).unwrap_or_else(|_| out.to_path_buf());
    let mut probe = abs.as_path();
    let mut rest = Vec::new();
    let resolved = loop {
        if let Ok(c) = std::fs::canonicalize(probe) {
            break rest.iter().rev().fold(c, |acc: PathBuf, p| acc.join(p));
        }
        match (probe.parent(), probe.file_name()) {
            (Some(parent), Some(name)) => {
                rest.push(name.to_os_string());
                probe = parent;
            }
            _ => break abs.clone(),
        }
    };
    if resolved.starts_with(&ev) {
        return Err(Error::io(
            out,
            std::io::Error::new(
                std::io::ErrorKind::PermissionDenied,
                format!(
                    "refusing to write into the evidence folder {} (choose a folder elsewhere)",
                    ev.display()
                ),
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn names_cannot_escape() {
        assert_eq!(
            safe_relative("../../etc/passwd"),
            PathBuf::from("etc/passwd")
        );
        assert_eq!(safe_relative("/abs/./x"), PathBuf::from("abs/x"));
        assert_eq!(safe_relative("a\x1b[31m/b"), PathBuf::from("a_[31m/b"));
        assert_eq!(safe_relative(".."), PathBuf::from("unnamed"));
    }

    #[test]
    fn no_overwrite_no_symlink() {
        let dir = std::env::temp_dir().join(format!("pm-extract-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let p = extract_to(&dir, "../x/y.txt", b"1", false).unwrap();
        assert!(p.starts_with(&dir));
        assert!(extract_to(&dir, "x/y.txt", b"2", false).is_err());
        extract_to(&dir, "x/y.txt", b"3", true).unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"3");
        std::os::unix::fs::symlink("/tmp", dir.join("link")).unwrap();
        assert!(extract_to(&dir, "link/z", b"4", false).is_err());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
