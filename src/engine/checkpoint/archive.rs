//! Member access for a checkpoint, wherever it lives: a `.tar` (memory-mapped, members served
//! as slices of the map), a `.tar.zst` / `.tar.gz` (decompressed once into the cache folder
//! and memory-mapped: [`super::unpacked`]), an extracted folder, or a bare CRIU images folder
//! (`criu dump -D dir`).
//!
//! Member names are normalised to the archive's layout: CRIU images live under `checkpoint/`
//! even when they were opened from a bare images folder. Nothing is ever written next to the
//! evidence.

use std::collections::BTreeMap;
use std::io::Read;
use std::ops::Range;
use std::path::{Path, PathBuf};

use crate::engine::error::{Error, Result};
use crate::engine::mapped::Blob;

use super::unpacked::unpacked;

/// Folder of CRIU images inside a checkpoint archive.
pub const IMAGES_DIR: &str = "checkpoint/";

/// Where a member's bytes are.
#[derive(Debug)]
enum Member {
    /// A range of the archive blob.
    InArchive(Range<usize>),
    /// A file of its own (folders).
    File(Blob),
}

/// An opened checkpoint's members, by normalised name.
#[derive(Debug)]
pub struct Archive {
    path: PathBuf,
    format: &'static str,
    size: u64,
    blob: Option<Blob>,
    members: BTreeMap<String, Member>,
    /// Symbolic links (never followed on disk): member name -> target as written.
    links: BTreeMap<String, String>,
    warnings: Vec<String>,
}

impl Archive {
    /// Opens a checkpoint archive or folder read-only.
    pub fn open(path: &Path) -> Result<Archive> {
        let meta = std::fs::metadata(path).map_err(|e| Error::io(path, e))?;
        if meta.is_dir() {
            return Self::open_dir(path);
        }
        let blob = Blob::map(path)?;
        let size = blob.len() as u64;
        let (format, blob) = match kind_of(&blob) {
            Compression::Zstd => {
                let size = zstd::zstd_safe::get_frame_content_size(&blob)
                    .ok()
                    .flatten();
                let tar = unpacked(path, &blob, size, || zstd_reader(path, &blob))?;
                ("tar.zst", tar)
            }
            Compression::Gzip => {
                let tar = unpacked(path, &blob, None, || {
                    Ok(flate2::read::GzDecoder::new(&blob[..]))
                })?;
                ("tar.gz", tar)
            }
            Compression::None => ("tar", blob),
        };
        Self::from_tar(path, format, size, blob)
    }

    /// Builds an archive from the bytes of a tar (used by tests and synthetic evidence too).
    pub fn from_tar(path: &Path, format: &'static str, size: u64, blob: Blob) -> Result<Archive> {
        let name = path.display().to_string();
        if !looks_like_tar(&blob) {
            return Err(Error::Unrecognised {
                path: path.to_path_buf(),
                reason: "not a tar archive (no ustar header at offset 0x101), nor zstd or gzip"
                    .into(),
            });
        }
        let mut members = BTreeMap::new();
        let mut links = BTreeMap::new();
        let mut warnings = Vec::new();
        let len = blob.len();
        let mut tar = tar::Archive::new(std::io::Cursor::new(&blob[..]));
        let entries = tar.entries_with_seek().map_err(|e| corrupt(&name, 0, &e))?;
        let mut last_pos = 0u64;
        for entry in entries {
            let entry = match entry {
                Ok(e) => e,
                Err(e) => {
                    warnings.push(format!("{name}: tar stops after offset {last_pos:#x}: {e}"));
                    break;
                }
            };
            let start = entry.raw_file_position();
            last_pos = start;
            let header = entry.header();
            let kind = header.entry_type();
            if kind.is_symlink() {
                if let (Some(member), Ok(Some(target))) = (
                    entry.path().ok().map(|p| normalise(&p.to_string_lossy())),
                    entry.link_name(),
                ) {
                    links.insert(member, target.to_string_lossy().into_owned());
                }
                continue;
            }
            if !(kind.is_file() || kind == tar::EntryType::Continuous) {
                continue;
            }
            if kind.is_gnu_sparse() {
                warnings.push(format!("{name}: sparse member at {start:#x} skipped"));
                continue;
            }
            let Some(member) = entry.path().ok().map(|p| normalise(&p.to_string_lossy())) else {
                continue;
            };
            let want = header.entry_size().unwrap_or(0);
            let from = usize::try_from(start).unwrap_or(len).min(len);
            let to = usize::try_from(start.saturating_add(want))
                .unwrap_or(len)
                .min(len);
            if (to - from) as u64 != want {
                warnings.push(format!(
                    "{name}: member {member} at {start:#x} is truncated: {} of {want} bytes",
                    to - from
                ));
            }
            members.insert(member, Member::InArchive(from..to));
        }
        let mut archive = Archive {
            path: path.to_path_buf(),
            format,
            size,
            blob: Some(blob),
            members,
            links,
            warnings,
        };
        archive.rebase_bare_images();
        Ok(archive)
    }

    fn open_dir(path: &Path) -> Result<Archive> {
        let mut members = BTreeMap::new();
        let mut links = BTreeMap::new();
        let mut warnings = Vec::new();
        collect_dir(path, "", 0, &mut members, &mut links, &mut warnings)?;
        let mut archive = Archive {
            path: path.to_path_buf(),
            format: "directory",
            size: 0,
            blob: None,
            members,
            links,
            warnings,
        };
        if archive.rebase_bare_images() {
            archive.format = "criu-images";
        }
        Ok(archive)
    }

    /// A bare images folder (or a tar of one) has `inventory.img` at its root: serve its
    /// images under `checkpoint/` like an archive's. Returns true if it did so.
    fn rebase_bare_images(&mut self) -> bool {
        let bare = !self.members.contains_key("checkpoint/inventory.img")
            && self.members.contains_key("inventory.img");
        if bare {
            let old = std::mem::take(&mut self.members);
            self.members = old
                .into_iter()
                .map(|(k, v)| (format!("{IMAGES_DIR}{k}"), v))
                .collect();
            let links = std::mem::take(&mut self.links);
            self.links = links
                .into_iter()
                .map(|(k, v)| (format!("{IMAGES_DIR}{k}"), v))
                .collect();
        }
        bare
    }

    /// Path the archive was opened from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// "tar", "tar.zst", "tar.gz", "directory" or "criu-images".
    pub fn format(&self) -> &'static str {
        self.format
    }

    /// Size of the evidence file (0 for folders).
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Problems met while opening.
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// The bytes of a member, by normalised name (`config.dump`, `checkpoint/core-1.img`).
    pub fn get(&self, name: &str) -> Option<&[u8]> {
        match self.members.get(name)? {
            Member::InArchive(r) => self.blob.as_deref()?.get(r.clone()),
            Member::File(b) => Some(&b[..]),
        }
    }

    /// The bytes of a CRIU image by file name (`core-1.img`).
    pub fn image(&self, name: &str) -> Option<&[u8]> {
        self.get(&format!("{IMAGES_DIR}{name}"))
    }

    /// Names of all members.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.members.keys().map(String::as_str)
    }

    /// File names of the CRIU images (without the `checkpoint/` prefix).
    pub fn image_names(&self) -> impl Iterator<Item = &str> {
        self.members
            .keys()
            .filter_map(|k| k.strip_prefix(IMAGES_DIR))
            .filter(|k| !k.contains('/'))
    }

    /// The folder of the parent images of the images folder `dir` (`checkpoint/`): its
    /// `parent` link resolved inside the evidence (`../pre-checkpoint` -> `pre-checkpoint/`).
    /// `Ok(None)` without a link; an error naming the link when it leads outside the evidence
    /// (absolute, or above its root) or to a folder the evidence does not hold.
    pub fn parent_images(&self, dir: &str) -> std::result::Result<Option<String>, String> {
        let link = format!("{dir}parent");
        let Some(target) = self.links.get(&link) else {
            return Ok(None);
        };
        let outside = || format!("{link} -> {target} leads outside the evidence (not followed)");
        if target.starts_with('/') {
            return Err(outside());
        }
        let mut parts: Vec<&str> = dir.split('/').filter(|p| !p.is_empty()).collect();
        for part in target.split('/') {
            match part {
                "" | "." => {}
                ".." => {
                    if parts.pop().is_none() {
                        return Err(outside());
                    }
                }
                p => parts.push(p),
            }
        }
        let resolved = format!("{}/", parts.join("/"));
        if resolved == "/" || !self.members.keys().any(|k| k.starts_with(&resolved)) {
            return Err(format!(
                "{link} -> {target}: the parent images are not in the evidence"
            ));
        }
        Ok(Some(resolved))
    }

    /// A printable name for a member, for error messages: `archive.tar:checkpoint/core-1.img`.
    pub fn display_name(&self, member: &str) -> String {
        format!("{}:{member}", self.path.display())
    }

    /// Where a damaged tar stopped being readable (its members after that are lost), if it did.
    pub fn stopped_early(&self) -> Option<&str> {
        let prefix = format!("{}: ", self.path.display());
        self.warnings
            .iter()
            .find(|w| w.contains(": tar stops after offset") || w.contains(" is truncated: "))
            .map(|w| w.strip_prefix(&prefix).unwrap_or(w))
    }

    /// The error for a member the archive lacks; says where a damaged tar stopped.
    pub fn missing(&self, member: &str) -> Error {
        match self.stopped_early() {
            Some(why) => Error::Missing(format!("{} ({why})", self.display_name(member))),
            None => Error::Missing(self.display_name(member)),
        }
    }
}

enum Compression {
    Zstd,
    Gzip,
    None,
}

fn kind_of(data: &[u8]) -> Compression {
    match data.get(..4) {
        Some([0x28, 0xb5, 0x2f, 0xfd]) => Compression::Zstd,
        Some([0x1f, 0x8b, _, _]) => Compression::Gzip,
        _ => Compression::None,
    }
}

fn looks_like_tar(data: &[u8]) -> bool {
    // POSIX/GNU tar: "ustar" at offset 257 of the first header. An empty archive is
    // all zeros; accept it too so that it opens as a checkpoint with no images.
    data.get(257..262) == Some(b"ustar")
        || (data.len() >= 512 && data.iter().take(512).all(|&b| b == 0))
}

fn zstd_reader<'a>(path: &Path, data: &'a [u8]) -> Result<impl Read + 'a> {
    zstd::stream::read::Decoder::with_buffer(data).map_err(|e| Error::io(path, e))
}

fn corrupt(file: &str, at: u64, e: &dyn std::fmt::Display) -> Error {
    Error::Corrupt {
        file: file.to_string(),
        at,
        reason: e.to_string(),
    }
}

/// Strips `./` and `/` prefixes from a member name.
fn normalise(name: &str) -> String {
    let mut s = name;
    loop {
        if let Some(rest) = s.strip_prefix("./") {
            s = rest;
        } else if let Some(rest) = s.strip_prefix('/') {
            s = rest;
        } else {
            return s.to_string();
        }
    }
}

/// Maps the regular files of an extracted checkpoint: its top level and `checkpoint/`
/// (two levels deep at most; symlinks are never followed).
fn collect_dir(
    root: &Path,
    prefix: &str,
    depth: u32,
    members: &mut BTreeMap<String, Member>,
    links: &mut BTreeMap<String, String>,
    warnings: &mut Vec<String>,
) -> Result<()> {
    let dir = root.join(prefix);
    let read = std::fs::read_dir(&dir).map_err(|e| Error::io(&dir, e))?;
    for item in read {
        let item = item.map_err(|e| Error::io(&dir, e))?;
        let name = item.file_name().to_string_lossy().into_owned();
        let ftype = item.file_type().map_err(|e| Error::io(item.path(), e))?;
        let key = format!("{prefix}{name}");
        if ftype.is_file() {
            match Blob::map(&item.path()) {
                Ok(b) => {
                    members.insert(key, Member::File(b));
                }
                Err(e) => warnings.push(e.to_string()),
            }
        } else if ftype.is_dir() && depth == 0 {
            collect_dir(
                root,
                &format!("{key}/"),
                depth + 1,
                members,
                links,
                warnings,
            )?;
        } else if ftype.is_symlink() {
            // Recorded, not followed: a `parent` link is resolved inside the evidence only.
            if let Ok(target) = std::fs::read_link(item.path()) {
                links.insert(key, target.to_string_lossy().into_owned());
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::normalise;

    #[test]
    fn names_are_normalised() {
        assert_eq!(
            normalise("./checkpoint/core-1.img"),
            "checkpoint/core-1.img"
        );
        assert_eq!(normalise("/.//config.dump"), "config.dump");
    }
}
