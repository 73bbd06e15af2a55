//! Open files of a task: `task->files->fdt->fd[0..max_fds]`, each `struct file` named by
//! [`dpath`] and typed by its inode's `i_mode`, plus the task's cwd and root from
//! `task->fs` (`fs_struct.pwd` / `.root`), as [`OpenFile`]s with the checkpoint back end's
//! conventions (kinds "file", "dir", "chr", "blk", "fifo", "pipe", "socket", "link",
//! "anon_inode", "cwd", "root"; names `pipe:[INO]`, `socket:[INO]`, `anon_inode:[eventfd]`).
//! Sockets get their addresses and state from [`sockets`].

use std::collections::HashMap;

use crate::engine::error::Result;
use crate::engine::evidence::{OpenFile, Pid, Walk};
use crate::engine::file_details::FileDetails;
use crate::engine::kernel::dpath::{self, PathKind, PathRef, read_uint};
use crate::engine::kernel::memory::KernelMemory;
use crate::engine::kernel::note_problem;
use crate::engine::kernel::sockets;
use crate::engine::kernel::vmas::file_inode;

/// Most descriptors read from one table: the kernel's ceiling for `nr_open` (`1 << 20`).
pub const MAX_FDS: u64 = 1 << 20;

/// Descriptors read per chunk of the `fd` array; a chunk that is not in the dump at all
/// ends the walk.
const FD_CHUNK: u64 = 512;

/// Descriptors listed for one `struct file`: more slots sharing it (2^20 `dup2`s of one
/// file, or a table smeared with one pointer) are counted, not listed one by one.
pub const MAX_SHARED_FDS: usize = 4096;

/// Open files read (descriptors in fd order, then cwd and root), with the damage met on
/// the way.
pub type FilesWalk = Walk<OpenFile>;

/// The open files, cwd and root of `task` (a `struct task_struct *`) of process `pid`.
pub fn open_files(k: &dyn KernelMemory, pid: Pid, task: u64) -> Result<Vec<OpenFile>> {
    Ok(walk_open_files(k, pid, task)?.items)
}

/// [`open_files`] with the problems met (a huge `max_fds`, unreadable descriptors).
pub fn walk_open_files(k: &dyn KernelMemory, pid: Pid, task: u64) -> Result<FilesWalk> {
    let mut out = FilesWalk::default();
    let fs = k.read_field_u64(task, "task_struct", "fs")?;
    let (root, cwd) = if fs == 0 {
        (None, None)
    } else {
        (
            Some(PathRef::read(k, k.field_addr(fs, "fs_struct", "root")?)?),
            Some(PathRef::read(k, k.field_addr(fs, "fs_struct", "pwd")?)?),
        )
    };
    let files = k.read_field_u64(task, "task_struct", "files")?;
    if files != 0 {
        descriptors(k, pid, files, root, &mut out)?;
    }
    for (kind, path, rel) in [("cwd", cwd, root), ("root", root, None)] {
        let Some(path) = path else { continue };
        let name = match dpath::resolve(k, path, rel) {
            Ok(r) => r.path,
            Err(e) => {
                note_problem(&mut out.problems, || format!("pid {pid} {kind}: {e}"));
                continue;
            }
        };
        out.items.push(OpenFile {
            pid,
            fd: None,
            kind: kind.into(),
            path: name,
            details: FileDetails::default(),
        });
    }
    Ok(out)
}

/// Reads `files->fdt` and every non-NULL `fd[i]`.
fn descriptors(
    k: &dyn KernelMemory,
    pid: Pid,
    files: u64,
    root: Option<PathRef>,
    out: &mut FilesWalk,
) -> Result<()> {
    let fdt = k.read_field_u64(files, "files_struct", "fdt")?;
    let max_fds = read_uint(k, fdt, "fdtable", "max_fds")?;
    let array = k.read_field_u64(fdt, "fdtable", "fd")?;
    let count = if max_fds > MAX_FDS {
        note_problem(&mut out.problems, || {
            format!("pid {pid}: max_fds {max_fds} above {MAX_FDS}; reading the first {MAX_FDS}")
        });
        MAX_FDS
    } else {
        max_fds
    };
    // Each struct file: its description (or why not) and how many descriptors share it.
    let mut seen: HashMap<u64, (std::result::Result<OpenFile, String>, usize)> = HashMap::new();
    let mut fd = 0u64;
    while fd < count {
        let n = FD_CHUNK.min(count - fd);
        let mut buf = vec![0u8; usize::try_from(n * 8).unwrap_or(0)];
        let at = array
            .checked_add(fd * 8)
            .ok_or_else(|| dpath::corrupt(array, "fd array overflows".into()))?;
        let got = k.read_kernel(at, &mut buf)?;
        if got.captured_len() == 0 {
            note_problem(&mut out.problems, || {
                format!("pid {pid}: fd array at {at:#x} not in the dump; stopped at fd {fd}")
            });
            break;
        }
        for (i, chunk) in buf.chunks_exact(8).enumerate() {
            let file = u64::from_le_bytes(chunk.try_into().unwrap_or([0; 8]));
            let this = fd + i as u64;
            if file == 0 {
                continue;
            }
            if !got.is_captured(i * 8) {
                note_problem(&mut out.problems, || {
                    format!("pid {pid}: fd {this} not in the dump")
                });
                continue;
            }
            // Descriptors that share a `struct file` (dup, fork; or one garbage pointer
            // repeated over a smeared table of up to MAX_FDS slots) are described once.
            let (described, shared) = seen.entry(file).or_insert_with(|| {
                (
                    describe_file(k, pid, None, file, root).map_err(|e| e.to_string()),
                    0,
                )
            });
            *shared += 1;
            if *shared > MAX_SHARED_FDS {
                continue;
            }
            match described {
                Ok(f) => out.items.push(OpenFile {
                    fd: Some(this as i64),
                    ..f.clone()
                }),
                Err(e) => note_problem(&mut out.problems, || format!("pid {pid} fd {this}: {e}")),
            }
        }
        fd += n;
    }
    let mut crowded: Vec<(u64, usize)> = seen
        .iter()
        .filter(|(_, (_, n))| *n > MAX_SHARED_FDS)
        .map(|(file, (_, n))| (*file, *n))
        .collect();
    crowded.sort_unstable();
    for (file, n) in crowded {
        note_problem(&mut out.problems, || {
            format!(
                "pid {pid}: struct file {file:#x} is shared by {n} descriptors; \
                 the first {MAX_SHARED_FDS} are listed"
            )
        });
    }
    Ok(())
}

/// One open `struct file *` as an [`OpenFile`]; paths relative to `root` when given.
pub fn describe_file(
    k: &dyn KernelMemory,
    pid: Pid,
    fd: Option<i64>,
    file: u64,
    root: Option<PathRef>,
) -> Result<OpenFile> {
    let resolved = dpath::resolve(k, PathRef::of_file(k, file)?, root)?;
    let inode = file_inode(k, file)?;
    let mut details = FileDetails::default();
    let mut kind = match resolved.kind {
        PathKind::Pipe => "pipe",
        PathKind::Socket => "socket",
        PathKind::AnonInode => "anon_inode",
        _ => "file",
    };
    if inode != 0 {
        let mode = read_uint(k, inode, "inode", "i_mode")?;
        let ino = k.read_field_u64(inode, "inode", "i_ino")?;
        if resolved.kind == PathKind::Regular || resolved.kind == PathKind::Shmem {
            kind = mode_kind(mode);
        }
        details.inode = Some(ino);
        details.mode = Some(mode);
        if k.isf().has_field("inode", "i_size") {
            details.size = Some(read_uint(k, inode, "inode", "i_size")?);
        }
        if mode & 0o170000 == 0o140000 {
            kind = "socket";
            match sockets::socket_details(k, inode) {
                Ok(d) => details.socket = Some(d),
                Err(e) => details.socket_error = Some(e.to_string()),
            }
        }
    }
    details.flags = Some(read_uint(k, file, "file", "f_flags")?);
    details.pos = Some(read_uint(k, file, "file", "f_pos")?);
    details.deleted = resolved.deleted;
    Ok(OpenFile {
        pid,
        fd,
        kind: kind.into(),
        path: resolved.path,
        details,
    })
}

/// The kind of an inode from the type bits of `i_mode` (S_IFMT).
pub fn mode_kind(mode: u64) -> &'static str {
    match mode & 0o170000 {
        0o040000 => "dir",
        0o020000 => "chr",
        0o060000 => "blk",
        0o010000 => "fifo",
        0o140000 => "socket",
        0o120000 => "link",
        _ => "file",
    }
}
