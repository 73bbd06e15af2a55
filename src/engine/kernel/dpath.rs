//! Path names of kernel `struct path`s (a vfsmount and a dentry), rebuilt as the kernel's
//! `d_path()` does: names from `dentry->d_name` up `d_parent` to the mount's root, then up the
//! mount tree through `mount->mnt_parent` / `mnt_mountpoint`, until the given root (a task's
//! `fs->root`) or the top of the mount tree. Unlinked dentries get the kernel's `" (deleted)"`
//! suffix (`d_unlinked`: unhashed and not a root). Dentries whose operations have a `d_dname`
//! (pseudo filesystems) are named as the kernel names them: `socket:[INO]`, `pipe:[INO]`,
//! `anon_inode:[eventfd]`, `/dev/zero (deleted)`, `net:[INO]`.
//!
//! Every layout comes from the ISF; every walk is bounded and remembers what it visited.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;

use crate::engine::error::{Error, Result};
use crate::engine::kernel::isf::TypeRef;
use crate::engine::kernel::memory::KernelMemory;
use crate::engine::kernel::structs::UintField;

/// Most steps (path components plus mount crossings) one path walk may take: `PATH_MAX`
/// (4096) bytes hold at most 2048 components, so a longer walk is a loop or garbage.
pub const MAX_PATH_STEPS: usize = 4096;

/// Longest component name the kernel allows (`NAME_MAX`).
pub const NAME_MAX: u64 = 255;

/// A `struct path`: the mount and the dentry that name a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PathRef {
    /// `path.mnt`: a `struct vfsmount *`.
    pub mnt: u64,
    /// `path.dentry`: a `struct dentry *`.
    pub dentry: u64,
}

impl PathRef {
    /// Reads the `struct path` at `addr`.
    pub fn read(k: &dyn KernelMemory, addr: u64) -> Result<PathRef> {
        Ok(PathRef {
            mnt: k.read_field_u64(addr, "path", "mnt")?,
            dentry: k.read_field_u64(addr, "path", "dentry")?,
        })
    }

    /// Reads `file->f_path`.
    pub fn of_file(k: &dyn KernelMemory, file: u64) -> Result<PathRef> {
        PathRef::read(k, k.field_addr(file, "file", "f_path")?)
    }
}

/// How a path was named.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PathKind {
    /// An ordinary file system path.
    Regular,
    /// `pipe:[INO]` (pipefs).
    Pipe,
    /// `socket:[INO]` (sockfs).
    Socket,
    /// `anon_inode:NAME` (anon_inodefs: eventfd, eventpoll, timerfd...).
    AnonInode,
    /// `/NAME (deleted)`: an internal shmem file (shared anonymous memory, SysV shm, memfd).
    Shmem,
    /// `KIND:[INO]`: a namespace file (nsfs).
    Namespace,
    /// Some other pseudo filesystem with a `d_dname`.
    OtherPseudo,
}

/// A path rebuilt from kernel memory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedPath {
    /// The path as the kernel would print it (with `" (deleted)"` when unlinked).
    pub path: String,
    /// How it was named.
    pub kind: PathKind,
    /// The dentry is unlinked (`d_unlinked`), or the pseudo name says deleted.
    pub deleted: bool,
    /// The walk stopped at a dentry outside its mount (the kernel's "unreachable").
    pub unreachable: bool,
}

/// The path of the `struct path` at `path_addr`, relative to `root` (a task's `fs->root`) or,
/// without one, to the top of the mount tree.
pub fn d_path(k: &dyn KernelMemory, path_addr: u64, root: Option<PathRef>) -> Result<String> {
    Ok(resolve(k, PathRef::read(k, path_addr)?, root)?.path)
}

/// The path of an open `struct file *` (its `f_path`), as [`d_path`].
pub fn file_path(k: &dyn KernelMemory, file: u64, root: Option<PathRef>) -> Result<String> {
    Ok(resolve(k, PathRef::of_file(k, file)?, root)?.path)
}

/// Paths already resolved in one dump, shared by its walks: the same dentry, mount and root
/// always give the same path in a memory image, and a node's thousands of processes map the
/// same few hundred files. Bounded: emptied when it reaches [`PathCache::MAX`] entries.
#[derive(Debug, Default)]
pub struct PathCache {
    paths: Mutex<HashMap<(PathRef, Option<PathRef>), ResolvedPath>>,
}

impl PathCache {
    /// Most paths kept.
    pub const MAX: usize = 1 << 16;

    /// [`resolve`] of `target` relative to `root`, from the cache when it was resolved
    /// before (failures are not kept).
    pub fn resolve(
        &self,
        k: &dyn KernelMemory,
        target: PathRef,
        root: Option<PathRef>,
    ) -> Result<ResolvedPath> {
        let lock = || self.paths.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(known) = lock().get(&(target, root)) {
            return Ok(known.clone());
        }
        let resolved = resolve(k, target, root)?;
        let mut paths = lock();
        if paths.len() >= PathCache::MAX {
            paths.clear();
        }
        paths.insert((target, root), resolved.clone());
        Ok(resolved)
    }
}

/// Resolves `target` relative to `root` (see [`d_path`]), with what kind of name it is.
pub fn resolve(
    k: &dyn KernelMemory,
    target: PathRef,
    root: Option<PathRef>,
) -> Result<ResolvedPath> {
    if target.dentry == 0 {
        return Err(corrupt(target.dentry, "NULL dentry in struct path".into()));
    }
    if let Some(named) = pseudo_name(k, target)? {
        return Ok(named);
    }
    let deleted = is_unlinked(k, target.dentry)?;
    let mut dentry = target.dentry;
    let mut vfsmnt = target.mnt;
    let mut names: Vec<Vec<u8>> = Vec::new();
    let mut seen = HashSet::new();
    let mut unreachable = false;
    for step in 0..=MAX_PATH_STEPS {
        if step == MAX_PATH_STEPS {
            return Err(corrupt(
                dentry,
                format!("path longer than {MAX_PATH_STEPS} steps"),
            ));
        }
        if root.is_some_and(|r| r.dentry == dentry && r.mnt == vfsmnt) {
            break;
        }
        if dentry == 0 || vfsmnt == 0 {
            return Err(corrupt(
                dentry,
                "NULL dentry or vfsmount on the way up".into(),
            ));
        }
        if !seen.insert((dentry, vfsmnt)) {
            return Err(corrupt(dentry, "dentry/mount loop".into()));
        }
        let mnt_root = k.read_field_u64(vfsmnt, "vfsmount", "mnt_root")?;
        let parent = k.read_field_u64(dentry, "dentry", "d_parent")?;
        if dentry == mnt_root || parent == dentry {
            if dentry != mnt_root {
                unreachable = true;
                break;
            }
            match mount_parent(k, vfsmnt)? {
                Some((mountpoint, parent_vfsmnt)) => {
                    dentry = mountpoint;
                    vfsmnt = parent_vfsmnt;
                    continue;
                }
                None => break,
            }
        }
        names.push(dentry_name(k, dentry)?);
        dentry = parent;
    }
    let mut path = String::new();
    for name in names.iter().rev() {
        path.push('/');
        path.push_str(&String::from_utf8_lossy(name));
    }
    if path.is_empty() {
        path.push('/');
    }
    if deleted {
        path.push_str(" (deleted)");
    }
    Ok(ResolvedPath {
        path,
        kind: PathKind::Regular,
        deleted,
        unreachable,
    })
}

/// The parent mount of the vfsmount `vfsmnt` as (mountpoint dentry, parent vfsmount), or
/// `None` at the top of the mount tree (a mount that is its own parent, or has none).
///
/// Kernels since 3.3 wrap `struct vfsmount` in `struct mount` (`container_of` by the offset of
/// `mount.mnt`); older ones keep `mnt_parent`/`mnt_mountpoint` in `struct vfsmount` itself.
pub fn mount_parent(k: &dyn KernelMemory, vfsmnt: u64) -> Result<Option<(u64, u64)>> {
    let isf = k.isf();
    if isf.has_field("mount", "mnt") {
        let off = isf.offset("mount", "mnt")?;
        let mount = vfsmnt
            .checked_sub(off)
            .ok_or_else(|| corrupt(vfsmnt, "vfsmount below its struct mount".into()))?;
        let parent = k.read_field_u64(mount, "mount", "mnt_parent")?;
        if parent == mount || parent == 0 {
            return Ok(None);
        }
        let mountpoint = k.read_field_u64(mount, "mount", "mnt_mountpoint")?;
        let parent_vfsmnt = parent
            .checked_add(off)
            .ok_or_else(|| corrupt(parent, "mount address overflows".into()))?;
        Ok(Some((mountpoint, parent_vfsmnt)))
    } else {
        let parent = k.read_field_u64(vfsmnt, "vfsmount", "mnt_parent")?;
        if parent == vfsmnt || parent == 0 {
            return Ok(None);
        }
        let mountpoint = k.read_field_u64(vfsmnt, "vfsmount", "mnt_mountpoint")?;
        Ok(Some((mountpoint, parent)))
    }
}

/// The name of one dentry (`d_name`: a `qstr` with a length and a name pointer).
pub fn dentry_name(k: &dyn KernelMemory, dentry: u64) -> Result<Vec<u8>> {
    let qstr = k.field_addr(dentry, "dentry", "d_name")?;
    let len = u64::from(k.read_field_u32(qstr, "qstr", "len")?);
    if len > NAME_MAX {
        return Err(corrupt(dentry, format!("dentry name of {len} bytes")));
    }
    let ptr = k.read_field_u64(qstr, "qstr", "name")?;
    let mut buf = vec![0u8; usize::try_from(len).unwrap_or(0)];
    k.read_exact(ptr, &mut buf)?;
    Ok(buf)
}

/// The inode of a dentry (`d_inode`), 0 for a negative dentry.
pub fn dentry_inode(k: &dyn KernelMemory, dentry: u64) -> Result<u64> {
    k.read_field_u64(dentry, "dentry", "d_inode")
}

/// The kernel's `d_unlinked()`: unhashed (`d_hash.pprev == NULL`) and not a root. Without
/// `d_hash` in the ISF, falls back to Volatility's test: the inode has no links left.
fn is_unlinked(k: &dyn KernelMemory, dentry: u64) -> Result<bool> {
    let isf = k.isf();
    if isf.has_field("dentry", "d_hash") && isf.has_field("hlist_bl_node", "pprev") {
        let hash = k.field_addr(dentry, "dentry", "d_hash")?;
        let pprev = k.read_field_u64(hash, "hlist_bl_node", "pprev")?;
        let parent = k.read_field_u64(dentry, "dentry", "d_parent")?;
        return Ok(pprev == 0 && parent != dentry);
    }
    let inode = dentry_inode(k, dentry)?;
    if inode == 0 || !isf.has_field("inode", "i_nlink") {
        return Ok(false);
    }
    Ok(read_uint(k, inode, "inode", "i_nlink")? == 0)
}

/// Names a dentry the way its filesystem's `d_dname` would, when it has one (the kernel's
/// `d_path` calls `d_dname` unless the dentry is the root of its own mount).
fn pseudo_name(k: &dyn KernelMemory, target: PathRef) -> Result<Option<ResolvedPath>> {
    let isf = k.isf();
    if !isf.has_field("dentry", "d_op") || !isf.has_field("dentry_operations", "d_dname") {
        return Ok(None);
    }
    let d_op = k.read_field_u64(target.dentry, "dentry", "d_op")?;
    if d_op == 0 {
        return Ok(None);
    }
    let d_dname = k.read_field_u64(d_op, "dentry_operations", "d_dname")?;
    if d_dname == 0 {
        return Ok(None);
    }
    let parent = k.read_field_u64(target.dentry, "dentry", "d_parent")?;
    if parent == target.dentry && target.mnt != 0 {
        let mnt_root = k.read_field_u64(target.mnt, "vfsmount", "mnt_root")?;
        if mnt_root == target.dentry {
            return Ok(None);
        }
    }
    let kind = pseudo_kind(k, target.dentry, d_dname)?;
    let inode = dentry_inode(k, target.dentry)?;
    let ino = if inode == 0 {
        0
    } else {
        k.read_field_u64(inode, "inode", "i_ino")?
    };
    let name = || -> Result<String> {
        Ok(String::from_utf8_lossy(&dentry_name(k, target.dentry)?).into_owned())
    };
    let (path, deleted) = match kind {
        PathKind::Socket => (format!("socket:[{ino}]"), false),
        PathKind::Pipe => (format!("pipe:[{ino}]"), false),
        PathKind::AnonInode => (format!("anon_inode:{}", name()?), false),
        PathKind::Shmem => (format!("/{} (deleted)", name()?), true),
        PathKind::Namespace => (
            format!("{}:[{ino}]", ns_name(k, target.dentry, inode)),
            false,
        ),
        PathKind::Regular | PathKind::OtherPseudo => (
            format!(
                "{}:[{ino}]",
                fs_type_name(k, target.dentry).unwrap_or_default()
            ),
            false,
        ),
    };
    Ok(Some(ResolvedPath {
        path,
        kind,
        deleted,
        unreachable: false,
    }))
}

/// Which `d_dname` a dentry has: by the symbol it points to (as Volatility does), else by the
/// name of the dentry's filesystem type.
fn pseudo_kind(k: &dyn KernelMemory, dentry: u64, d_dname: u64) -> Result<PathKind> {
    const BY_SYMBOL: [(&str, PathKind); 5] = [
        ("sockfs_dname", PathKind::Socket),
        ("pipefs_dname", PathKind::Pipe),
        ("anon_inodefs_dname", PathKind::AnonInode),
        ("simple_dname", PathKind::Shmem),
        ("ns_dname", PathKind::Namespace),
    ];
    for (sym, kind) in BY_SYMBOL {
        if k.symbol(sym).is_ok_and(|a| a == d_dname) {
            return Ok(kind);
        }
    }
    Ok(match fs_type_name(k, dentry).as_deref() {
        Some("sockfs") => PathKind::Socket,
        Some("pipefs") => PathKind::Pipe,
        Some("anon_inodefs") => PathKind::AnonInode,
        Some("tmpfs" | "shm" | "hugetlbfs") => PathKind::Shmem,
        Some("nsfs") => PathKind::Namespace,
        _ => PathKind::OtherPseudo,
    })
}

/// `dentry->d_sb->s_type->name`, when readable.
pub fn fs_type_name(k: &dyn KernelMemory, dentry: u64) -> Option<String> {
    let sb = k.read_field_u64(dentry, "dentry", "d_sb").ok()?;
    let ty = k.read_field_u64(sb, "super_block", "s_type").ok()?;
    let name = k.read_field_u64(ty, "file_system_type", "name").ok()?;
    let bytes = k.read_cstr(name, 64).ok()?;
    Some(String::from_utf8_lossy(&bytes).into_owned())
}

/// The namespace kind for `ns_dname` (`net`, `mnt`...): `proc_ns_operations.name`, reached
/// through `inode->i_private` (an `ns_common`, kernels >= 6.9 where `ns_common.stashed` is a
/// pointer) or `dentry->d_fsdata` (older kernels).
fn ns_name(k: &dyn KernelMemory, dentry: u64, inode: u64) -> String {
    let isf = k.isf();
    let stashed_is_ptr = isf
        .field("ns_common", "stashed")
        .is_some_and(|f| matches!(f.kind, TypeRef::Pointer { .. }));
    let ops = if stashed_is_ptr {
        k.read_field_u64(inode, "inode", "i_private")
            .and_then(|ns| k.read_field_u64(ns, "ns_common", "ops"))
    } else {
        k.read_field_u64(dentry, "dentry", "d_fsdata")
    };
    ops.and_then(|ops| k.read_field_u64(ops, "proc_ns_operations", "name"))
        .and_then(|p| k.read_cstr(p, 32))
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_else(|_| "ns".into())
}

/// Reads an unsigned integer field of any width (1, 2, 4 or 8 bytes, an enum, a pointer or a
/// bitfield), as the ISF declares it.
pub fn read_uint(k: &dyn KernelMemory, base: u64, struct_name: &str, field: &str) -> Result<u64> {
    UintField::of(k.isf(), struct_name, field)
        .ok_or_else(|| Error::MissingSymbol(format!("ISF field {struct_name}.{field}")))?
        .read(k, base)
}

/// A `Corrupt` error about kernel memory at `at`.
pub(crate) fn corrupt(at: u64, reason: String) -> Error {
    Error::Corrupt {
        file: "kernel memory".into(),
        at,
        reason,
    }
}
