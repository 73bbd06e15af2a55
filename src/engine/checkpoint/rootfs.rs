//! The container's filesystem changes: `rootfs-diff.tar` and `deleted.files`, plus what its
//! memory-backed mounts held (layers: CRIU's `tmpfs-dev-N.tar.gz.img` per tmpfs mount,
//! Podman's `devshm-checkpoint.tar` for /dev/shm), each under its mount point.
//!
//! The engines tar the files a container added or changed, relative to `/` (Podman: no
//! leading `./`, no directory entries for directories that existed in the image), and list
//! the files it deleted as a JSON array of paths in `deleted.files`. [`RootfsDiff`] indexes
//! each tar once and serves a file's bytes as a sub-slice of the member's bytes (or of the
//! decompressed layer): nothing is extracted to disk, so hostile names (`../../etc/passwd`,
//! control characters) are kept as they are for display and never touch the filesystem.
//! A later layer's entry hides an earlier one at the same path, as a mount hides what is
//! under it.

use std::collections::HashMap;
use std::ops::Range;

use crate::engine::checkpoint::container::json_warning;
use crate::engine::error::{Error, Result};
use crate::engine::evidence::{FileEntry, FileType};

/// Hard links followed at most this many times before giving up (a loop).
const MAX_LINK_HOPS: usize = 32;

/// The indexed filesystem changes of a container.
#[derive(Debug, Clone, Default)]
pub struct RootfsDiff {
    member: String,
    layers: Vec<Layer>,
    entries: Vec<FileEntry>,
    /// Layer and byte range of each entry's data in the layer's tar (empty for non-files),
    /// parallel to `entries`.
    data: Vec<(usize, Range<usize>)>,
    /// Path -> index of the last tar entry with that path (deleted entries are not indexed).
    by_path: HashMap<String, usize>,
}

/// One tar of the filesystem view: the diff, or a memory-backed mount's contents.
#[derive(Debug, Clone)]
struct Layer {
    /// The evidence member it was read from.
    member: String,
    /// Its bytes when they are not the member's own (a decompressed `.tar.gz.img`).
    owned: Option<Vec<u8>>,
}

/// The bytes of a layer's tar: the evidence member itself, or decompressed.
#[derive(Debug)]
pub enum LayerTar<'a> {
    /// The member's bytes (read again through the caller's `member_bytes` on each read).
    Member(&'a [u8]),
    /// Bytes the layer keeps (decompressed).
    Owned(Vec<u8>),
}

impl RootfsDiff {
    /// Indexes the tar `tar_bytes` (the archive member `member_name`) and the optional
    /// `deleted.files` JSON. Damage gives warnings and a partial index, never an error.
    pub fn parse(
        member_name: &str,
        tar_bytes: &[u8],
        deleted_files: Option<&[u8]>,
    ) -> (RootfsDiff, Vec<String>) {
        let mut diff = RootfsDiff::empty(member_name);
        let mut warnings = Vec::new();
        diff.add_layer(
            member_name,
            None,
            LayerTar::Member(tar_bytes),
            &mut warnings,
        );
        if let Some(json) = deleted_files {
            diff.add_deleted(json, &mut warnings);
        }
        (diff, warnings)
    }

    /// An index with no entries yet, named after `member_name` (the container's own diff,
    /// even when the evidence has none).
    pub fn empty(member_name: &str) -> RootfsDiff {
        RootfsDiff {
            member: member_name.to_string(),
            ..RootfsDiff::default()
        }
    }

    /// Indexes one more tar, `member` of the evidence, its paths put under `mount` (a
    /// memory-backed mount point; `None`: relative to `/`). Its entries hide earlier ones at
    /// the same paths. Damage gives warnings, never an error.
    pub fn add_layer(
        &mut self,
        member: &str,
        mount: Option<&str>,
        tar: LayerTar<'_>,
        warnings: &mut Vec<String>,
    ) {
        let layer = self.layers.len();
        let (bytes, owned) = match tar {
            LayerTar::Member(b) => (b, None),
            LayerTar::Owned(v) => (&[][..], Some(v)),
        };
        self.layers.push(Layer {
            member: member.to_string(),
            owned: None,
        });
        self.index_tar(layer, owned.as_deref().unwrap_or(bytes), mount, warnings);
        if let Some(l) = self.layers.get_mut(layer) {
            l.owned = owned;
        }
    }

    /// Adds one file that is not in a tar (a ghost file: deleted while open), its bytes at
    /// `range` of `bytes`; it hides an entry at the same path. `entry.path` is normalised
    /// and `entry.credential` set here.
    pub fn add_file(&mut self, mut entry: FileEntry, bytes: LayerTar<'_>, range: Range<usize>) {
        let layer = self.layers.len();
        let owned = match bytes {
            LayerTar::Member(_) => None,
            LayerTar::Owned(v) => Some(v),
        };
        self.layers.push(Layer {
            member: entry.origin.clone(),
            owned,
        });
        entry.path = normalise(&entry.path);
        entry.credential = entry.kind == FileType::File && is_credential(&entry.path);
        self.by_path.insert(entry.path.clone(), self.entries.len());
        self.entries.push(entry);
        self.data.push((layer, range));
    }

    /// How many tars are indexed (the diff, then memory-backed mounts).
    pub fn layer_count(&self) -> usize {
        self.layers.len()
    }

    /// Name of the archive member the entries came from.
    pub fn member(&self) -> &str {
        &self.member
    }

    /// All entries: the tar's, in tar order, then one per deleted path (`deleted` = true).
    pub fn entries(&self) -> &[FileEntry] {
        &self.entries
    }

    /// The tar entry for `path` (leading `/` or `./` ignored); the last one if repeated.
    pub fn entry(&self, path: &str) -> Option<&FileEntry> {
        let i = *self.by_path.get(&normalise(path))?;
        self.entries.get(i)
    }

    /// The bytes of the regular file `path`, as a sub-slice of `tar_bytes` (the same bytes
    /// given to [`RootfsDiff::parse`]). Hard links are resolved to their target. A file the
    /// tar cuts short gives the bytes that are there.
    ///
    /// # Errors
    /// [`Error::NoSuchFile`] for unknown and deleted paths; [`Error::Unsupported`] for symbolic
    /// links (their target is not followed), directories and devices; [`Error::Corrupt`] for
    /// a hard-link loop; [`Error::Truncated`] when `tar_bytes` is shorter than the indexed tar.
    pub fn read<'a>(&'a self, tar_bytes: &'a [u8], path: &str) -> Result<&'a [u8]> {
        self.read_with(&|_| Some(tar_bytes), path)
    }

    /// [`RootfsDiff::read`] over every layer: `member_bytes` gives an evidence member's
    /// bytes by name (the layers read from the evidence itself).
    pub fn read_with<'a>(
        &'a self,
        member_bytes: &dyn Fn(&str) -> Option<&'a [u8]>,
        path: &str,
    ) -> Result<&'a [u8]> {
        let mut key = normalise(path);
        for _ in 0..MAX_LINK_HOPS {
            let i = *self
                .by_path
                .get(&key)
                .ok_or_else(|| Error::NoSuchFile(path.to_string()))?;
            let entry = self
                .entries
                .get(i)
                .ok_or_else(|| Error::NoSuchFile(path.to_string()))?;
            match entry.kind {
                FileType::File => {
                    let (layer, range) = self.data.get(i).cloned().unwrap_or_default();
                    let layer = self
                        .layers
                        .get(layer)
                        .ok_or_else(|| Error::NoSuchFile(path.to_string()))?;
                    let tar_bytes = match &layer.owned {
                        Some(owned) => owned.as_slice(),
                        None => member_bytes(&layer.member).unwrap_or_default(),
                    };
                    return tar_bytes
                        .get(range.clone())
                        .ok_or_else(|| Error::Truncated {
                            file: layer.member.clone(),
                            at: range.start as u64,
                            need: range.len() as u64,
                            have: tar_bytes.len().saturating_sub(range.start) as u64,
                        });
                }
                FileType::Hardlink => {
                    key = normalise(entry.link.as_deref().unwrap_or_default());
                }
                FileType::Symlink => {
                    return Err(Error::Unsupported(
                        "reading through a symbolic link: open its target instead",
                    ));
                }
                FileType::Dir => return Err(Error::Unsupported("reading a directory")),
                _ => return Err(Error::Unsupported("reading a device, fifo or special file")),
            }
        }
        Err(Error::Corrupt {
            file: self.member.clone(),
            at: 0,
            reason: format!("{path}: more than {MAX_LINK_HOPS} hard links in a chain (a loop?)"),
        })
    }

    fn index_tar(
        &mut self,
        layer: usize,
        bytes: &[u8],
        mount: Option<&str>,
        warnings: &mut Vec<String>,
    ) {
        let name = self
            .layers
            .get(layer)
            .map_or_else(|| self.member.clone(), |l| l.member.clone());
        let prefix = mount.map(normalise).filter(|m| !m.is_empty());
        let len = bytes.len();
        let mut tar = tar::Archive::new(std::io::Cursor::new(bytes));
        let entries = match tar.entries_with_seek() {
            Ok(e) => e,
            Err(e) => {
                warnings.push(format!("{name}: not readable as tar: {e}"));
                return;
            }
        };
        let mut last_end = 0u64;
        for entry in entries {
            let mut entry = match entry {
                Ok(e) => e,
                Err(e) => {
                    warnings.push(format!("{name}: tar stops after offset {last_end:#x}: {e}"));
                    break;
                }
            };
            let header_at = entry.raw_header_position();
            let start = entry.raw_file_position();
            let size = entry.size();
            last_end = start.saturating_add(size);
            let path = normalise(&String::from_utf8_lossy(&entry.path_bytes()));
            let link = entry
                .link_name_bytes()
                .map(|l| String::from_utf8_lossy(&l).into_owned());
            let header = entry.header();
            let kind = match header.entry_type() {
                t if t.is_gnu_sparse() => {
                    warnings.push(format!(
                        "{name}: sparse file {path:?} at {header_at:#x} skipped"
                    ));
                    continue;
                }
                t if t.is_pax_global_extensions() => continue,
                t if t.is_file() || t.is_contiguous() => FileType::File,
                t if t.is_dir() => FileType::Dir,
                t if t.is_symlink() => FileType::Symlink,
                t if t.is_hard_link() => FileType::Hardlink,
                t if t.is_character_special() => FileType::Char,
                t if t.is_block_special() => FileType::Block,
                t if t.is_fifo() => FileType::Fifo,
                _ => FileType::Other,
            };
            if path.is_empty() {
                continue; // the root directory itself ("./")
            }
            let path = match &prefix {
                Some(p) => format!("{p}/{path}"),
                None => path,
            };
            let mode = header.mode().unwrap_or(0) & 0o7777;
            let mut mtime = header
                .mtime()
                .map_or(0, |t| i64::try_from(t).unwrap_or(i64::MAX));
            let uid = header.uid().unwrap_or(0);
            let gid = header.gid().unwrap_or(0);
            if let Ok(Some(pax)) = entry.pax_extensions() {
                for ext in pax.flatten() {
                    if ext.key() == Ok("mtime")
                        && let Some(t) = ext.value().ok().and_then(pax_seconds)
                    {
                        mtime = t;
                    }
                }
            }
            let mut data = 0..0;
            if kind == FileType::File {
                let from = usize::try_from(start).unwrap_or(len).min(len);
                let to = usize::try_from(start.saturating_add(size))
                    .unwrap_or(len)
                    .min(len);
                if (to - from) as u64 != size {
                    warnings.push(format!(
                        "{name}: {path:?} at {start:#x} is truncated: {} of {size} bytes",
                        to - from
                    ));
                }
                data = from..to;
            }
            let link = link.filter(|_| matches!(kind, FileType::Symlink | FileType::Hardlink));
            // A hard link names a path inside its own tar: under the same mount point.
            let link = match (&prefix, kind) {
                (Some(p), FileType::Hardlink) => link.map(|l| format!("{p}/{}", normalise(&l))),
                _ => link,
            };
            let hidden = self.by_path.insert(path.clone(), self.entries.len());
            if hidden.is_some_and(|h| self.data.get(h).is_some_and(|d| d.0 == layer)) {
                warnings.push(format!(
                    "{name}: {path:?} appears more than once; the last one wins"
                ));
            }
            self.entries.push(FileEntry {
                credential: kind == FileType::File && is_credential(&path),
                path,
                kind,
                mode,
                size,
                mtime,
                link,
                deleted: false,
                uid,
                gid,
                origin: name.clone(),
                mount: mount.map(str::to_string),
                deleted_while_open: false,
            });
            self.data.push((layer, data));
        }
    }

    fn add_deleted(&mut self, json: &[u8], warnings: &mut Vec<String>) {
        let list: Vec<serde_json::Value> = match serde_json::from_slice(json) {
            Ok(v) => v,
            Err(e) => {
                warnings.push(json_warning("deleted.files", &e));
                return;
            }
        };
        for (i, item) in list.iter().enumerate() {
            let Some(path) = item.as_str() else {
                warnings.push(format!("deleted.files: item {i} is not a string: {item}"));
                continue;
            };
            self.entries.push(FileEntry {
                path: normalise(path),
                kind: FileType::File,
                mode: 0,
                size: 0,
                mtime: 0,
                link: None,
                deleted: true,
                uid: 0,
                gid: 0,
                origin: "deleted.files".to_string(),
                mount: None,
                credential: false,
                deleted_while_open: false,
            });
            self.data.push((usize::MAX, 0..0));
        }
    }
}

/// Whether a container path (normalised) is where Kubernetes and engines mount secrets.
pub fn is_credential(path: &str) -> bool {
    ["var/run/secrets/", "run/secrets/"]
        .iter()
        .any(|p| path.starts_with(p))
}

/// Strips leading `./` and `/` and trailing `/`; keeps everything else (`..` included).
fn normalise(path: &str) -> String {
    let mut s = path;
    loop {
        if let Some(rest) = s.strip_prefix("./") {
            s = rest;
        } else if let Some(rest) = s.strip_prefix('/') {
            s = rest;
        } else {
            break;
        }
    }
    let s = s.trim_end_matches('/');
    if s == "." {
        String::new()
    } else {
        s.to_string()
    }
}

/// The whole seconds of a PAX time value (`1700000000.5` -> 1700000000).
fn pax_seconds(v: &str) -> Option<i64> {
    let whole = v.split('.').next()?;
    whole.parse().ok()
}

#[cfg(test)]
mod tests;
