//! Choosing the ISF for a dump, as Volatility's `-s SYMBOLS` does: the path is one ISF or a
//! folder searched (depth-bounded) for `*.json`, `*.json.xz`, `*.json.gz`; the ISF whose
//! `linux_banner` equals the banner found in the dump wins.

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::engine::error::{Error, Result};
use crate::engine::mapped::Blob;

use super::cache::{self, CacheDir};
use super::{Isf, normalize_banner};

/// How deep below the given folder ISFs are looked for.
const MAX_DEPTH: usize = 8;
/// At most this many candidate files are considered.
const MAX_CANDIDATES: usize = 10_000;

/// Picks the ISF for a dump through the default cache; see [`select_with`].
pub fn select(path: &Path, banner: Option<&[u8]>) -> Result<Isf> {
    select_with(path, banner, &CacheDir::Default)
}

/// Picks the ISF under `path` (a file, or a folder searched recursively) whose banner
/// equals `banner` (the banner string found in the dump; compared after
/// [`normalize_banner`](super::normalize_banner) on both sides). With no banner, the only
/// ISF is taken. When nothing matches, the error gives the dump's banner, says that an ISF
/// built from the vmlinux of exactly that kernel is needed and lists every candidate's
/// banner. Unreadable candidates are skipped (and listed).
pub fn select_with(path: &Path, banner: Option<&[u8]>, cache: &CacheDir) -> Result<Isf> {
    let files = candidates(path)?;
    if files.is_empty() {
        return Err(Error::Missing(format!(
            "Volatility ISF: no *.json, *.json.xz or *.json.gz file under {}",
            path.display()
        )));
    }
    let Some(wanted) = banner.map(normalize_banner) else {
        if let [only] = files.as_slice() {
            return Isf::load_with(only, cache);
        }
        let mut msg = format!(
            "kernel banner to choose among the {} ISFs under {}:",
            files.len(),
            path.display()
        );
        for f in &files {
            let _ = write!(msg, "\n  {}", f.display());
        }
        return Err(Error::Missing(msg));
    };
    let mut seen = Vec::with_capacity(files.len());
    for file in files {
        match probe(&file, cache) {
            Ok(Probe::Loaded(isf)) if isf.banner.as_deref() == Some(&wanted[..]) => {
                return Ok(*isf);
            }
            Ok(Probe::Header(Some(b))) if b == wanted => return Isf::load_with(&file, cache),
            Ok(Probe::Loaded(isf)) => seen.push((file, Ok(isf.banner))),
            Ok(Probe::Header(b)) => seen.push((file, Ok(b))),
            Err(e) => seen.push((file, Err(e))),
        }
    }
    let mut msg = format!(
        "ISF for this dump's kernel. The dump's banner is \"{}\"; an ISF built (dwarf2json) from \
         the vmlinux with debug information of exactly that kernel build is needed. Candidates \
         under {}:",
        wanted.escape_ascii(),
        path.display()
    );
    for (file, outcome) in seen {
        let _ = match outcome {
            Ok(Some(b)) => write!(msg, "\n  {}: \"{}\"", file.display(), b.escape_ascii()),
            Ok(None) => write!(msg, "\n  {}: no linux_banner", file.display()),
            Err(e) => write!(msg, "\n  {}: unreadable: {e}", file.display()),
        };
    }
    Err(Error::Missing(msg))
}

/// The banners of the ISFs under `path` through the default cache; see [`banners_in_with`].
pub fn banners_in(path: &Path) -> Result<Vec<(PathBuf, Vec<u8>)>> {
    banners_in_with(path, &CacheDir::Default)
}

/// The banner ([`Isf::banner`]) of every ISF under `path` (a file or a folder, searched as
/// [`select`] does). A cached ISF costs a hash of the file and a read of the cache header; an
/// uncached one is parsed (and cached). ISFs without a banner or that cannot be read are
/// left out; an error only when `path` itself cannot be read.
pub fn banners_in_with(path: &Path, cache: &CacheDir) -> Result<Vec<(PathBuf, Vec<u8>)>> {
    let mut out = Vec::new();
    for file in candidates(path)? {
        let banner = match probe(&file, cache) {
            Ok(Probe::Loaded(isf)) => isf.banner,
            Ok(Probe::Header(b)) => b,
            Err(_) => None,
        };
        if let Some(b) = banner {
            out.push((file, b));
        }
    }
    Ok(out)
}

enum Probe {
    /// The banner from a valid cache header.
    Header(Option<Vec<u8>>),
    /// No cache: the ISF had to be loaded whole.
    Loaded(Box<Isf>),
}

fn probe(file: &Path, cache: &CacheDir) -> Result<Probe> {
    let hash: [u8; 32] = match cache::known_hash(file, cache) {
        Some(h) => h,
        None => Sha256::digest(&*Blob::map(file)?).into(),
    };
    if let Some(b) = cache
        .file_for(&hash)
        .and_then(|f| cache::read_banner(&f, &hash))
    {
        return Ok(Probe::Header(b));
    }
    Isf::load_with(file, cache).map(|i| Probe::Loaded(Box::new(i)))
}

/// True for the names Volatility looks at.
fn is_isf_name(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    n.ends_with(".json") || n.ends_with(".json.xz") || n.ends_with(".json.gz")
}

/// `path` itself when it is a file, else the ISF-named files below it, sorted.
fn candidates(path: &Path) -> Result<Vec<PathBuf>> {
    let meta = fs::metadata(path).map_err(|e| Error::io(path, e))?;
    if !meta.is_dir() {
        return Ok(vec![path.to_path_buf()]);
    }
    let mut out = Vec::new();
    let mut stack = vec![(path.to_path_buf(), 0usize)];
    while let Some((dir, depth)) = stack.pop() {
        let entries = match fs::read_dir(&dir) {
            Ok(e) => e,
            // The top folder must be readable; below it, unreadable folders are skipped.
            Err(e) if depth == 0 => return Err(Error::io(&dir, e)),
            Err(_) => continue,
        };
        for entry in entries.flatten() {
            let p = entry.path();
            let Ok(meta) = fs::metadata(&p) else { continue };
            if meta.is_dir() {
                if depth < MAX_DEPTH {
                    stack.push((p, depth + 1));
                }
            } else if meta.is_file()
                && p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(is_isf_name)
                && out.len() < MAX_CANDIDATES
            {
                out.push(p);
            }
        }
    }
    out.sort();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert!(is_isf_name("linux-6.1.json.xz"));
        assert!(is_isf_name("a.JSON"));
        assert!(is_isf_name("a.json.gz"));
        assert!(!is_isf_name("a.json.zst"));
        assert!(!is_isf_name("a.isfidx"));
    }
}
