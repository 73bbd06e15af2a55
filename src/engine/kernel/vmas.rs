//! The memory areas (VMAs) of a process from its `mm_struct`: the maple tree `mm_mt` on
//! kernels >= 6.1, the `mmap`/`vm_next` list before (chosen by what the ISF's `mm_struct`
//! has). Each `vm_area_struct` becomes a [`Vma`] named as `/proc/PID/maps` names it: the
//! backing file's path, `[vdso]`/`[vvar]` (special mappings), `[heap]`, `[stack]`, or none.
//!
//! Volatility's `linux.proc.Maps` prints "Anonymous Mapping" for every unnamed area,
//! including `[vvar]`; here `[vvar]` is named as the kernel names it (its
//! `vm_special_mapping`), so "Anonymous Mapping" corresponds to `path: None` or `[vvar]`.

use std::collections::HashSet;

use crate::engine::error::{Error, Result};
use crate::engine::evidence::Walk;
use crate::engine::evidence::{Perms, Vma, VmaKind};
use crate::engine::kernel::dpath::{self, PathCache, PathKind, PathRef, read_uint};
use crate::engine::kernel::maple;
use crate::engine::kernel::memory::KernelMemory;
use crate::engine::kernel::note_problem;
use crate::engine::kernel::structs::{MmAreas, Structs, VmAreaStruct};

/// `vm_flags` bits. These are ABI-stable (include/linux/mm.h, unchanged since 2.6) and the
/// ISF carries no constants for them (they are `#define`s, not an enum).
const VM_READ: u64 = 0x1;
const VM_WRITE: u64 = 0x2;
const VM_EXEC: u64 = 0x4;
const VM_SHARED: u64 = 0x8;

/// `vm_pgoff` counts pages: x86-64 (the architecture the address spaces support) uses
/// 4 KiB pages, as Volatility's `layer.page_shift` does.
pub const PAGE_SHIFT: u32 = 12;

/// Most VMAs read from one `mmap`/`vm_next` list (the kernel's default `max_map_count` is
/// 65530).
pub const MAX_LIST_VMAS: usize = 1 << 18;

/// VMAs read (sorted by start address), with the damage met on the way (a bad node, an
/// unreadable VMA, a loop).
pub type VmaWalk = Walk<Vma>;

/// The memory areas of `mm` (a `struct mm_struct *`), sorted by start, with file paths
/// resolved to the top of the mount tree. Damaged parts are skipped (see [`walk_vmas`]).
pub fn vmas(k: &dyn KernelMemory, mm: u64) -> Result<Vec<Vma>> {
    Ok(walk_vmas(k, mm, None)?.items)
}

/// The memory areas of `mm`, paths relative to `root` (the task's `fs->root`, as Volatility
/// and `/proc/PID/maps` show them) when given, with what was skipped.
pub fn walk_vmas(k: &dyn KernelMemory, mm: u64, root: Option<PathRef>) -> Result<VmaWalk> {
    walk_vmas_with(k, mm, root, &PathCache::default())
}

/// [`walk_vmas`] with the paths resolved through `paths` (one cache for a dump's walks).
pub fn walk_vmas_with(
    k: &dyn KernelMemory,
    mm: u64,
    root: Option<PathRef>,
    paths: &PathCache,
) -> Result<VmaWalk> {
    let (ptrs, mut problems) = vma_pointers(k, mm)?;
    let ctx = MmContext::read(k, mm)?;
    let mut vmas = Vec::with_capacity(ptrs.len());
    for vma in ptrs {
        match describe(k, vma, &ctx, root, paths) {
            Ok(Some(v)) => vmas.push(v),
            Ok(None) => note_problem(&mut problems, || {
                format!("vm_area_struct {vma:#x}: empty or inverted range; skipped")
            }),
            Err(e) => note_problem(&mut problems, || format!("vm_area_struct {vma:#x}: {e}")),
        }
    }
    vmas.sort_by_key(|v| (v.start, v.end));
    Ok(Walk {
        items: vmas,
        problems,
    })
}

/// The `vm_area_struct` pointers of `mm`, in address order for a sound structure, with the
/// problems met.
pub fn vma_pointers(k: &dyn KernelMemory, mm: u64) -> Result<(Vec<u64>, Vec<String>)> {
    if mm == 0 {
        return Err(Error::Corrupt {
            file: "kernel memory".into(),
            at: 0,
            reason: "NULL mm_struct".into(),
        });
    }
    let s = k.structs();
    let (areas, vma) = layouts(&s)?;
    if let (Some(mmap), Some(next)) = (areas.mmap, vma.next) {
        return Ok(list_pointers(k, mm, mmap, next));
    }
    let tree = mm.wrapping_add(
        areas
            .mm_mt
            .ok_or_else(|| lacks("mm_struct.mm_mt (or mmap)"))?,
    );
    let walk = maple::walk(k, tree)?;
    let mut seen = HashSet::new();
    let mut problems = walk.problems;
    let mut out = Vec::new();
    for e in walk.entries {
        if e.value < 0x1000 {
            continue;
        }
        if seen.insert(e.value) {
            out.push(e.value);
        } else {
            note_problem(&mut problems, || {
                format!("vm_area_struct {:#x} stored twice", e.value)
            });
        }
    }
    Ok((out, problems))
}

/// The memory-area layouts, or an error naming what the symbols lack.
fn layouts(s: &Structs) -> Result<(MmAreas, VmAreaStruct)> {
    let areas = s
        .mm_areas
        .ok_or_else(|| lacks("mm_struct.start_brk, brk or start_stack"))?;
    let vma = s
        .vma
        .ok_or_else(|| lacks("vm_area_struct.vm_start, vm_end, vm_flags, vm_file or vm_pgoff"))?;
    Ok((areas, vma))
}

/// The error for fields these symbols do not have.
fn lacks(what: &str) -> Error {
    Error::MissingSymbol(format!("{what} in the kernel's symbols"))
}

/// The `mm->mmap` / `vma->vm_next` list (kernels < 6.1), bounded, loops cut.
fn list_pointers(
    k: &dyn KernelMemory,
    mm: u64,
    mmap: u64,
    vm_next: u64,
) -> (Vec<u64>, Vec<String>) {
    let mut out = Vec::new();
    let mut problems = Vec::new();
    let mut seen = HashSet::new();
    let mut next = k.u64_at(mm, mmap);
    loop {
        let vma = match next {
            Ok(0) => break,
            Ok(v) => v,
            Err(e) => {
                note_problem(&mut problems, || format!("mmap list: {e}"));
                break;
            }
        };
        if !seen.insert(vma) {
            note_problem(&mut problems, || {
                format!("mmap list loops back to {vma:#x}; stopped")
            });
            break;
        }
        if out.len() >= MAX_LIST_VMAS {
            note_problem(&mut problems, || {
                format!("mmap list longer than {MAX_LIST_VMAS}; stopped")
            });
            break;
        }
        out.push(vma);
        next = k.u64_at(vma, vm_next);
    }
    (out, problems)
}

/// What naming needs from the `mm_struct`, and the layout of its areas.
#[derive(Debug, Clone, Copy)]
struct MmContext {
    vma: VmAreaStruct,
    start_brk: u64,
    brk: u64,
    start_stack: u64,
    vdso: Option<u64>,
    special_ops: [Option<u64>; 2],
}

impl MmContext {
    fn read(k: &dyn KernelMemory, mm: u64) -> Result<MmContext> {
        let (areas, vma) = layouts(&k.structs())?;
        Ok(MmContext {
            vma,
            start_brk: k.u64_at(mm, areas.start_brk)?,
            brk: k.u64_at(mm, areas.brk)?,
            start_stack: k.u64_at(mm, areas.start_stack)?,
            vdso: areas.vdso.and_then(|o| k.u64_at(mm, o).ok()),
            special_ops: [
                k.symbol("special_mapping_vmops").ok(),
                k.symbol("legacy_special_mapping_vmops").ok(),
            ],
        })
    }
}

/// One `vm_area_struct` as a [`Vma`]; `None` for an empty or inverted range.
fn describe(
    k: &dyn KernelMemory,
    vma: u64,
    ctx: &MmContext,
    root: Option<PathRef>,
    paths: &PathCache,
) -> Result<Option<Vma>> {
    let v = &ctx.vma;
    let start = k.u64_at(vma, v.start)?;
    let end = k.u64_at(vma, v.end)?;
    if start >= end {
        return Ok(None);
    }
    let flags = v.flags.read(k, vma)?;
    let perms = Perms {
        read: flags & VM_READ != 0,
        write: flags & VM_WRITE != 0,
        exec: flags & VM_EXEC != 0,
        shared: flags & VM_SHARED != 0,
    };
    let file = k.u64_at(vma, v.file)?;
    let mut out = Vma {
        start,
        end,
        perms,
        pgoff: 0,
        path: None,
        kind: VmaKind::Anon,
        inode: None,
        dev: None,
    };
    if file != 0 {
        let pgoff = k.u64_at(vma, v.pgoff)?;
        out.pgoff = pgoff.checked_shl(PAGE_SHIFT).unwrap_or(0);
        let resolved = paths.resolve(k, PathRef::of_file(k, file)?, root)?;
        out.kind = if resolved.kind == PathKind::Shmem {
            VmaKind::Shmem
        } else {
            VmaKind::File
        };
        out.path = Some(resolved.path);
        let (ino, dev) = inode_and_dev(k, file)?;
        out.inode = Some(ino);
        out.dev = dev;
        return Ok(Some(out));
    }
    if let Some(name) = special_mapping_name(k, vma, ctx) {
        out.kind = match name.as_str() {
            "[vdso]" => VmaKind::Vdso,
            "[vvar]" => VmaKind::Vvar,
            "[vsyscall]" => VmaKind::Vsyscall,
            _ => VmaKind::Anon,
        };
        out.path = Some(name);
    } else if ctx.vdso == Some(start) {
        out.kind = VmaKind::Vdso;
        out.path = Some("[vdso]".into());
    } else if ctx.special_ops == [None, None] && ctx.vdso.is_some_and(|v| v != 0 && v == end) {
        // Without the special-mapping symbols: x86 puts the vvar pages right below the vDSO.
        out.kind = VmaKind::Vvar;
        out.path = Some("[vvar]".into());
    } else if start <= ctx.brk && end >= ctx.start_brk {
        out.kind = VmaKind::Heap;
        out.path = Some("[heap]".into());
    } else if start <= ctx.start_stack && end >= ctx.start_stack {
        out.kind = VmaKind::Stack;
        out.path = Some("[stack]".into());
    } else if perms.shared {
        out.kind = VmaKind::Shmem;
    }
    Ok(Some(out))
}

/// The name of a special mapping (`[vdso]`, `[vvar]`...): `vm_ops` is the kernel's
/// `special_mapping_vmops` and `vm_private_data` a `struct vm_special_mapping *` (what
/// `/proc/PID/maps` prints through `vm_ops->name`).
fn special_mapping_name(k: &dyn KernelMemory, vma: u64, ctx: &MmContext) -> Option<String> {
    let ops = k.u64_at(vma, ctx.vma.ops?).ok()?;
    if ops == 0 || !ctx.special_ops.contains(&Some(ops)) {
        return None;
    }
    let sm = k.u64_at(vma, ctx.vma.private_data?).ok()?;
    if sm == 0 {
        return None;
    }
    let name = k.read_field_u64(sm, "vm_special_mapping", "name").ok()?;
    let bytes = k.read_cstr(name, 64).ok()?;
    (!bytes.is_empty()).then(|| String::from_utf8_lossy(&bytes).into_owned())
}

/// The inode number of an open file and its device as "MAJ:MIN" (from `i_sb->s_dev`:
/// the kernel's internal `dev_t`, MAJOR = dev >> 20, MINOR = dev & 0xfffff).
pub fn inode_and_dev(k: &dyn KernelMemory, file: u64) -> Result<(u64, Option<String>)> {
    let inode = file_inode(k, file)?;
    if inode == 0 {
        return Err(Error::Corrupt {
            file: "kernel memory".into(),
            at: file,
            reason: "file without an inode".into(),
        });
    }
    let ino = k.read_field_u64(inode, "inode", "i_ino")?;
    let dev = k
        .read_field_u64(inode, "inode", "i_sb")
        .and_then(|sb| read_uint(k, sb, "super_block", "s_dev"))
        .ok()
        .map(|d| format!("{}:{}", d >> 20, d & 0xfffff));
    Ok((ino, dev))
}

/// `file->f_inode`, or `file->f_path.dentry->d_inode` on kernels without `f_inode`.
pub fn file_inode(k: &dyn KernelMemory, file: u64) -> Result<u64> {
    if k.isf().has_field("file", "f_inode") {
        return k.read_field_u64(file, "file", "f_inode");
    }
    let path = PathRef::of_file(k, file)?;
    dpath::dentry_inode(k, path.dentry)
}
