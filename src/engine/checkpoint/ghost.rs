//! Deleted-but-open files ("ghost files"): the classic "start the payload, delete it". A
//! regular file unlinked while a task held it open is kept whole by CRIU in
//! `ghost-file-<hex id>.img`, and `remap-fpath.img` ties it to the file object (`files.img`
//! id) whose path no longer leads to it. [`read_ghosts`] indexes them; the rootfs view shows
//! each under its original path, and `files` marks its descriptors `(deleted)`. Several file
//! objects can share one ghost image (each `open` of the file, and a mapping of it, is its
//! own object): the image is read once.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;

use crate::engine::checkpoint::archive::Archive;
use crate::engine::checkpoint::fds::FileTable;
use crate::engine::checkpoint::image::{ImageReader, decode_all, decode_lenient, magic};
use crate::engine::checkpoint::proto::ghost::{REMAP_GHOST_BIT, remap_type};
use crate::engine::checkpoint::proto::{GhostChunkEntry, GhostFileEntry, RemapFilePathEntry};
use crate::engine::checkpoint::rootfs::RootfsDiff;
use crate::engine::evidence::FileEntry;

/// A chunked ghost file is assembled in memory up to this size (the rest is not shown).
const MAX_ASSEMBLED: u64 = 1 << 30;

/// One deleted-but-open file.
#[derive(Debug, Clone)]
pub struct Ghost {
    /// The archive member it is in (`checkpoint/ghost-file-2.img`).
    pub member: String,
    /// Its inode.
    pub entry: GhostFileEntry,
    /// Where its bytes are.
    pub content: GhostContent,
}

/// Where a ghost file's bytes are.
#[derive(Debug, Clone)]
pub enum GhostContent {
    /// Not a regular file (no contents kept).
    None,
    /// In one piece in the member, at this byte range.
    Whole(Range<usize>),
    /// Assembled from chunks (holes as zeros).
    Assembled(Vec<u8>),
}

/// The ghost files of a checkpoint.
#[derive(Debug, Clone, Default)]
pub struct Ghosts {
    /// For each file object deleted while open (`files.img` id), the id of the ghost image
    /// that keeps it.
    pub by_file: BTreeMap<u32, u32>,
    /// The ghost images read, by their id (`ghost-file-<hex id>.img`).
    pub images: BTreeMap<u32, Ghost>,
}

/// The ghost files of the checkpoint.
pub fn read_ghosts(ar: &Archive, warnings: &mut Vec<String>) -> Ghosts {
    let mut out = Ghosts::default();
    let Some(data) = ar.image("remap-fpath.img") else {
        return out;
    };
    let file = ar.display_name("checkpoint/remap-fpath.img");
    let remaps = match decode_all::<RemapFilePathEntry>(&file, data, magic::REMAP_FPATH, "remap") {
        Ok((remaps, errs)) => {
            warnings.extend(errs.iter().map(ToString::to_string));
            remaps
        }
        Err(e) => {
            warnings.push(e.to_string());
            return out;
        }
    };
    // Each ghost image is read once, however many file objects it keeps.
    let mut tried = BTreeSet::new();
    for r in remaps {
        let ghost = match r.remap_type {
            Some(t) => t == remap_type::GHOST,
            None => r.remap_id & REMAP_GHOST_BIT != 0,
        };
        if !ghost {
            continue;
        }
        let id = r.remap_id & !REMAP_GHOST_BIT;
        out.by_file.insert(r.orig_id, id);
        if !tried.insert(id) {
            continue;
        }
        let member = format!("checkpoint/ghost-file-{id:x}.img");
        let Some(data) = ar.get(&member) else {
            warnings.push(format!("{}: missing", ar.display_name(&member)));
            continue;
        };
        match read_ghost(&ar.display_name(&member), data) {
            Ok((entry, content, problems)) => {
                warnings.extend(problems);
                out.images.insert(
                    id,
                    Ghost {
                        member,
                        entry,
                        content,
                    },
                );
            }
            Err(e) => warnings.push(e),
        }
    }
    out
}

/// Parses one ghost image: its inode, where its bytes are, and what was damaged.
fn read_ghost(
    file: &str,
    data: &[u8],
) -> Result<(GhostFileEntry, GhostContent, Vec<String>), String> {
    let mut reader = ImageReader::expect(file, data, magic::GHOST_FILE, "ghost_file")
        .map_err(|e| e.to_string())?;
    let mut problems = Vec::new();
    let head = reader
        .next_entry()
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("{file}: no ghost file entry"))?;
    let (entry, err) = decode_lenient::<GhostFileEntry>(file, head, "ghost_file");
    problems.extend(err.map(|e| e.to_string()));
    // Regular files only carry contents (S_IFREG).
    if entry.mode & 0o170000 != 0o100000 {
        return Ok((entry, GhostContent::None, problems));
    }
    let start = (head.offset as usize)
        .saturating_add(4)
        .saturating_add(head.bytes.len());
    if entry.chunks != Some(true) {
        let start = start.min(data.len());
        return Ok((entry, GhostContent::Whole(start..data.len()), problems));
    }
    let size = entry.size.unwrap_or(0);
    let mut bytes = vec![0u8; size.min(MAX_ASSEMBLED) as usize];
    if size > MAX_ASSEMBLED {
        problems.push(format!(
            "{file}: {size} bytes: only the first {MAX_ASSEMBLED} are shown"
        ));
    }
    loop {
        let chunk = match reader.next_entry() {
            Ok(Some(c)) => c,
            Ok(None) => break,
            Err(e) => {
                problems.push(e.to_string());
                break;
            }
        };
        let (ce, err) = decode_lenient::<GhostChunkEntry>(file, chunk, "ghost_chunk");
        problems.extend(err.map(|e| e.to_string()));
        let raw = match usize::try_from(ce.len).map(|n| reader.raw(n)) {
            Ok(Ok(raw)) => raw,
            Ok(Err(e)) => {
                problems.push(e.to_string());
                break;
            }
            Err(_) => {
                problems.push(format!("{file}: chunk of {} bytes", ce.len));
                break;
            }
        };
        let off = usize::try_from(ce.off).unwrap_or(usize::MAX);
        let room = bytes.len().saturating_sub(off);
        if let Some(dst) = bytes.get_mut(off..off.saturating_add(raw.len().min(room))) {
            let n = dst.len();
            dst.copy_from_slice(raw.get(..n).unwrap_or_default());
        }
    }
    Ok((entry, GhostContent::Assembled(bytes), problems))
}

/// Adds each ghost file to the filesystem view under the path it was opened as (under each
/// path, when its file objects were opened under several).
pub fn add_ghost_files(files: &FileTable, ghosts: Ghosts, fs: &mut RootfsDiff) {
    use crate::engine::checkpoint::rootfs::LayerTar;
    use crate::engine::evidence::FileType;
    for (id, g) in ghosts.images {
        let paths: std::collections::BTreeSet<String> = ghosts
            .by_file
            .iter()
            .filter(|&(_, &ghost)| ghost == id)
            .filter_map(|(&file, _)| files.name_of(file))
            .collect();
        let last = paths.len().saturating_sub(1);
        let mut content = g.content;
        let kind = match g.entry.mode & 0o170000 {
            0o100000 => FileType::File,
            0o040000 => FileType::Dir,
            0o120000 => FileType::Symlink,
            0o020000 => FileType::Char,
            0o060000 => FileType::Block,
            0o010000 => FileType::Fifo,
            _ => FileType::Other,
        };
        for (i, path) in paths.into_iter().enumerate() {
            // The assembled bytes are copied only for a file kept under several paths.
            let here = if i == last {
                std::mem::replace(&mut content, GhostContent::None)
            } else {
                content.clone()
            };
            let (bytes, range, size) = match here {
                GhostContent::None => (LayerTar::Member(&[]), 0..0, 0),
                GhostContent::Whole(r) => (LayerTar::Member(&[]), r.clone(), r.len() as u64),
                GhostContent::Assembled(v) => {
                    let n = v.len();
                    (LayerTar::Owned(v), 0..n, n as u64)
                }
            };
            let entry = FileEntry {
                path,
                kind,
                mode: g.entry.mode & 0o7777,
                size: g.entry.size.unwrap_or(size),
                mtime: g
                    .entry
                    .mtim
                    .as_ref()
                    .map_or(0, |t| i64::try_from(t.tv_sec).unwrap_or(i64::MAX)),
                link: g.entry.symlnk_target.clone(),
                deleted: false,
                uid: u64::from(g.entry.uid),
                gid: u64::from(g.entry.gid),
                origin: g.member.clone(),
                mount: None,
                credential: false,
                deleted_while_open: true,
            };
            fs.add_file(entry, bytes, range);
        }
    }
}
