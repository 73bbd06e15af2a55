//! The container's filesystem changes: `rootfs-diff.tar` and `deleted.files`.
//!
//! The engines tar the files a container added or changed, relative to `/` (Podman: no
//! leading `./`, no directory entries for directories that existed in the image), and list
//! the files it deleted as a JSON array of paths in `deleted.files`. [`RootfsDiff`] indexes
//! the tar once and serves a file's bytes as a sub-slice of the member's bytes: nothing is
//! copied, and nothing is ever extracted to disk, so hostile names (`../../etc/passwd`,
//! control characters) are kept as they are for display and never touch the filesystem.

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
    entries: Vec<FileEntry>,
    /// Byte range of each entry's data in the tar (empty for non-files), parallel to `entries`.
    data: Vec<Range<usize>>,
    /// Path -> index of the last tar entry with that path (deleted entries are not indexed).
    by_path: HashMap<String, usize>,
}

impl RootfsDiff {
    /// Indexes the tar `tar_bytes` (the archive member `member_name`) and the optional
    /// `deleted.files` JSON. Damage gives warnings and a partial index, never an error.
    pub fn parse(
        member_name: &str,
        tar_bytes: &[u8],
        deleted_files: Option<&[u8]>,
    ) -> (RootfsDiff, Vec<String>) {
        let mut diff = RootfsDiff {
            member: member_name.to_string(),
            ..RootfsDiff::default()
        };
        let mut warnings = Vec::new();
        diff.index_tar(tar_bytes, &mut warnings);
        if let Some(json) = deleted_files {
            diff.add_deleted(json, &mut warnings);
        }
        (diff, warnings)
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
    pub fn read<'a>(&self, tar_bytes: &'a [u8], path: &str) -> Result<&'a [u8]> {
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
                    let range = self.data.get(i).cloned().unwrap_or_default();
                    return tar_bytes
                        .get(range.clone())
                        .ok_or_else(|| Error::Truncated {
                            file: self.member.clone(),
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

    fn index_tar(&mut self, bytes: &[u8], warnings: &mut Vec<String>) {
        let name = self.member.clone();
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
            if self
                .by_path
                .insert(path.clone(), self.entries.len())
                .is_some()
            {
                warnings.push(format!(
                    "{name}: {path:?} appears more than once; the last one wins"
                ));
            }
            self.entries.push(FileEntry {
                path,
                kind,
                mode,
                size,
                mtime,
                link,
                deleted: false,
                uid,
                gid,
            });
            self.data.push(data);
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
            });
            self.data.push(0..0);
        }
    }
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
#[allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
mod tests {
    use super::*;
    use crate::engine::checkpoint::container::tests::fixture_archive;

    fn header(kind: tar::EntryType, size: u64, mode: u32) -> tar::Header {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(kind);
        h.set_size(size);
        h.set_mode(mode);
        h.set_mtime(1_700_000_000);
        h.set_uid(1000);
        h.set_gid(100);
        h
    }

    /// Appends an entry whose name is written raw (no `..` check by the builder).
    fn append_raw(b: &mut tar::Builder<Vec<u8>>, name: &[u8], data: &[u8], mode: u32) {
        let mut h = header(tar::EntryType::Regular, data.len() as u64, mode);
        h.as_gnu_mut().unwrap().name[..name.len()].copy_from_slice(name);
        h.set_cksum();
        b.append(&h, data).unwrap();
    }

    /// A PAX record: "<len> key=value\n", the length counting itself.
    fn pax_record(key: &str, value: &str) -> String {
        let body = format!(" {key}={value}\n");
        let mut len = body.len() + 1;
        while format!("{len}{body}").len() != len {
            len += 1;
        }
        format!("{len}{body}")
    }

    fn sample() -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        let mut h = header(tar::EntryType::Directory, 0, 0o755);
        b.append_data(&mut h, "./etc/", std::io::empty()).unwrap();
        append_raw(&mut b, b"/etc/motd", b"hello", 0o100644);
        let mut h = header(tar::EntryType::Symlink, 0, 0o777);
        b.append_link(&mut h, "etc/link", "/etc/motd").unwrap();
        let mut h = header(tar::EntryType::Link, 0, 0o644);
        b.append_link(&mut h, "etc/hard", "etc/motd").unwrap();
        append_raw(&mut b, b"../../etc/passwd", b"root:x:0:0", 0o600);
        append_raw(&mut b, b"evil\x1b[31mname", b"x", 0o600);
        let long = format!("{}/deep.txt", "d".repeat(150));
        let mut h = header(tar::EntryType::Regular, 4, 0o640);
        b.append_data(&mut h, &long, &b"long"[..]).unwrap();
        let pax = pax_record("path", "pax/named.txt") + &pax_record("mtime", "1700000123.75");
        let mut h = header(tar::EntryType::XHeader, pax.len() as u64, 0o644);
        h.set_cksum();
        b.append(&h, pax.as_bytes()).unwrap();
        let mut h = header(tar::EntryType::Regular, 3, 0o644);
        b.append_data(&mut h, "short", &b"pax"[..]).unwrap();
        let mut h = header(tar::EntryType::GNUSparse, 0, 0o644);
        h.as_gnu_mut().unwrap().realsize = *b"00000000000\0";
        h.as_gnu_mut().unwrap().name[..6].copy_from_slice(b"sparse");
        h.set_cksum();
        b.append(&h, &[][..]).unwrap();
        let mut h = header(tar::EntryType::Regular, 1000, 0o644);
        b.append_data(&mut h, "big", &[7u8; 1000][..]).unwrap();
        b.into_inner().unwrap()
    }

    #[test]
    fn synthetic_tar() {
        let mut tar = sample();
        // Cut the last file's data short: 1000 bytes declared, 300 present.
        let big_at = tar.windows(3).rposition(|w| w == b"big").unwrap() / 512 * 512 + 512;
        tar.truncate(big_at + 300);
        let deleted = br#"["/etc/gone", "./var/log/old.log", 3]"#;
        let (diff, w) = RootfsDiff::parse("rootfs-diff.tar", &tar, Some(deleted));
        let paths: Vec<&str> = diff.entries().iter().map(|e| e.path.as_str()).collect();
        let long = format!("{}/deep.txt", "d".repeat(150));
        assert_eq!(
            paths,
            [
                "etc",
                "etc/motd",
                "etc/link",
                "etc/hard",
                "../../etc/passwd",
                "evil\x1b[31mname",
                long.as_str(),
                "pax/named.txt",
                "big",
                "etc/gone",
                "var/log/old.log",
            ]
        );
        assert!(w.iter().any(|w| w.contains("sparse")), "{w:?}");
        assert!(
            w.iter()
                .any(|w| w.contains("\"big\"") && w.contains("300 of 1000")),
            "{w:?}"
        );
        assert!(w.iter().any(|w| w.contains("item 2")), "{w:?}");
        let motd = diff.entry("/etc/motd").unwrap();
        assert_eq!(
            (motd.kind, motd.mode, motd.size),
            (FileType::File, 0o644, 5)
        );
        assert_eq!((motd.mtime, motd.uid, motd.gid), (1_700_000_000, 1000, 100));
        assert_eq!(diff.entry("etc").unwrap().kind, FileType::Dir);
        let link = diff.entry("etc/link").unwrap();
        assert_eq!(
            (link.kind, link.link.as_deref()),
            (FileType::Symlink, Some("/etc/motd"))
        );
        assert_eq!(diff.entry("etc/hard").unwrap().kind, FileType::Hardlink);
        assert_eq!(diff.entry("pax/named.txt").unwrap().mtime, 1_700_000_123);
        let gone = &diff.entries()[9];
        assert!(gone.deleted && gone.size == 0 && gone.kind == FileType::File);

        assert_eq!(diff.read(&tar, "etc/motd").unwrap(), b"hello");
        assert_eq!(diff.read(&tar, "./etc/hard").unwrap(), b"hello");
        assert_eq!(diff.read(&tar, "../../etc/passwd").unwrap(), b"root:x:0:0");
        assert_eq!(diff.read(&tar, &long).unwrap(), b"long");
        assert_eq!(diff.read(&tar, "pax/named.txt").unwrap(), b"pax");
        assert_eq!(diff.read(&tar, "big").unwrap(), &[7u8; 300][..]);
        assert!(matches!(
            diff.read(&tar, "etc/link"),
            Err(Error::Unsupported(_))
        ));
        assert!(matches!(diff.read(&tar, "etc"), Err(Error::Unsupported(_))));
        assert!(matches!(
            diff.read(&tar, "etc/gone"),
            Err(Error::NoSuchFile(_))
        ));
        assert!(matches!(diff.read(&tar, "nope"), Err(Error::NoSuchFile(_))));
        // The wrong (shorter) bytes: an error, not a panic.
        assert!(matches!(
            diff.read(&tar[..600], "etc/motd"),
            Err(Error::Truncated { .. })
        ));
    }

    #[test]
    fn hostile_inputs() {
        // A hard-link loop, garbage, a cut header, bad deleted.files: warnings, no panic.
        let mut b = tar::Builder::new(Vec::new());
        let mut h = header(tar::EntryType::Link, 0, 0o644);
        b.append_link(&mut h, "a", "b").unwrap();
        let mut h = header(tar::EntryType::Link, 0, 0o644);
        b.append_link(&mut h, "b", "a").unwrap();
        let tar = b.into_inner().unwrap();
        let (diff, w) = RootfsDiff::parse("r", &tar, Some(b"[\"x\""));
        assert!(matches!(diff.read(&tar, "a"), Err(Error::Corrupt { .. })));
        assert!(
            w.iter()
                .any(|w| w.starts_with("deleted.files: malformed JSON at line 1"))
        );
        for bytes in [&b"not a tar"[..], &tar[..700], &[0xffu8; 2048][..], &[]] {
            let (diff, _) = RootfsDiff::parse("r", bytes, None);
            assert!(diff.entries().len() <= 2);
        }
        let (_, w) = RootfsDiff::parse("r", &[0xffu8; 2048], None);
        assert!(w[0].starts_with("r: tar stops"), "{w:?}");
    }

    #[test]
    fn fixture_rootfs() {
        let Some((dir, archive)) = fixture_archive("criu-counter") else {
            return;
        };
        let tar = archive.get("rootfs-diff.tar").unwrap();
        let (diff, w) = RootfsDiff::parse("rootfs-diff.tar", tar, archive.get("deleted.files"));
        assert!(w.is_empty(), "{w:?}");
        let names: Vec<_> = diff
            .entries()
            .iter()
            .map(|e| (e.path.as_str(), e.size))
            .collect();
        assert_eq!(
            names,
            [("home/counter/logfile", 252), ("home/counter/test-file", 9)]
        );
        let e = diff.entry("home/counter/test-file").unwrap();
        assert_eq!((e.mode, e.uid, e.gid, e.deleted), (0o644, 0, 0, false));
        assert_eq!(
            diff.read(tar, "/home/counter/test-file").unwrap(),
            b"test-file"
        );
        let log = diff.read(tar, "home/counter/logfile").unwrap();
        assert!(log.starts_with(b"counter.py listening on port 8088"));
        // "-rw-r--r-- 0/0  9 2026-11-23 06:35:16 home/counter/test-file" (UTC).
        let golden = "golden/shell/tar_tvf_--numeric-owner_--full-time_rootfs-diff.tar.txt";
        let golden = std::fs::read_to_string(dir.join(golden)).unwrap();
        for e in diff.entries() {
            let line = golden
                .lines()
                .find(|l| l.ends_with(&format!(" {}", e.path)))
                .unwrap();
            let f: Vec<&str> = line.split_whitespace().collect();
            assert_eq!(f[2].parse::<u64>().unwrap(), e.size);
            assert_eq!(utc_seconds(f[3], f[4]), e.mtime, "{line}");
        }
    }

    /// "YYYY-MM-DD", "HH:MM:SS" (UTC) -> seconds since the epoch.
    fn utc_seconds(date: &str, time: &str) -> i64 {
        let d: Vec<i64> = date.split('-').map(|x| x.parse().unwrap()).collect();
        let t: Vec<i64> = time.split(':').map(|x| x.parse().unwrap()).collect();
        let (y, m) = if d[1] <= 2 {
            (d[0] - 1, d[1] + 9)
        } else {
            (d[0], d[1] - 3)
        };
        let era = y.div_euclid(400);
        let yoe = y - era * 400;
        let doy = (153 * m + 2) / 5 + d[2] - 1;
        let days = era * 146_097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719_468;
        days * 86_400 + t[0] * 3600 + t[1] * 60 + t[2]
    }
}
