//! The memory-area walker over a synthetic kernel whose ISF puts every field somewhere a real
//! kernel does not: maple trees of two and three levels with both internal node types, a
//! single-leaf root, the pre-6.1 `mmap` list, shared anonymous memory, and corruption (loops,
//! garbage children, a tree deeper than the bound) that must end in an error or a partial
//! answer within a bound, never a panic or a hang. Open files are in `kernel_files.rs`, the
//! real dump in `kernel_walkers.rs`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::support;

use std::sync::Arc;

use podmortem::engine::evidence::VmaKind;
use podmortem::engine::kernel::maple::MAX_DEPTH;
use podmortem::engine::kernel::vmas::{vmas, walk_vmas};
use support::kernel_mem::*;
use support::walkers::within;

const HEAP: (u64, u64) = (0x0cd3_3000, 0x0cd5_5000);
const STACK_TOP: u64 = 0x7ffd_9ed6_c000;
const VDSO: u64 = 0x7ffd_9edaa000;

/// A process image: an executable (5 file VMAs), `n_anon` anonymous areas, heap, an RWX
/// area, stack, vvar and vdso. Returns the specs (sorted) and the mm naming info.
fn layout(k: &mut SynthKernel, n_anon: usize) -> (Vec<VmaSpec>, MmInfo) {
    let exe = k.add_file(&["usr", "bin", "fxagent"], S_IFREG | 0o755, 296);
    let mut v = Vec::new();
    let f = |start: u64, end: u64, flags: u64, pgoff: u64| VmaSpec {
        start,
        end,
        flags,
        pgoff,
        file: exe,
        special: None,
    };
    v.push(f(0x40_0000, 0x40_1000, VM_READ, 0));
    v.push(f(0x40_1000, 0x48_c000, VM_READ | VM_EXEC, 1));
    v.push(f(0x48_c000, 0x4b_6000, VM_READ, 0x8c));
    v.push(f(0x4b_6000, 0x4b_a000, VM_READ, 0xb6));
    v.push(f(0x4b_a000, 0x4b_d000, VM_READ | VM_WRITE, 0xba));
    v.push(VmaSpec {
        start: 0x4b_d000,
        end: 0x4c_3000,
        flags: VM_READ | VM_WRITE,
        ..Default::default()
    });
    v.push(VmaSpec {
        start: HEAP.0,
        end: HEAP.1,
        flags: VM_READ | VM_WRITE,
        ..Default::default()
    });
    v.push(VmaSpec {
        start: 0x1337_0000,
        end: 0x1337_2000,
        flags: VM_READ | VM_WRITE | VM_EXEC,
        ..Default::default()
    });
    for i in 0..n_anon as u64 {
        let start = 0x7f00_0000_0000 + i * 0x3000;
        v.push(VmaSpec {
            start,
            end: start + 0x1000,
            flags: VM_READ | VM_WRITE,
            ..Default::default()
        });
    }
    v.push(VmaSpec {
        start: 0x7ffd_9ed4_c000,
        end: 0x7ffd_9ed6_d000,
        flags: VM_READ | VM_WRITE,
        ..Default::default()
    });
    v.push(VmaSpec {
        start: 0x7ffd_9eda_6000,
        end: VDSO,
        flags: VM_READ,
        special: Some("[vvar]"),
        ..Default::default()
    });
    v.push(VmaSpec {
        start: VDSO,
        end: 0x7ffd_9edac000,
        flags: VM_READ | VM_EXEC,
        special: Some("[vdso]"),
        ..Default::default()
    });
    (
        v,
        MmInfo {
            brk: (HEAP.0, HEAP.1),
            start_stack: STACK_TOP,
            vdso: VDSO,
        },
    )
}

fn check_named(list: &[podmortem::engine::evidence::Vma], n_anon: usize) {
    assert_eq!(list.len(), 11 + n_anon);
    assert!(
        list.windows(2).all(|w| w[0].end <= w[1].start),
        "sorted, disjoint"
    );
    let exe = &list[1];
    assert_eq!(exe.path.as_deref(), Some("/usr/bin/fxagent"));
    assert_eq!(exe.kind, VmaKind::File);
    assert_eq!(exe.perms.to_string(), "r-xp");
    assert_eq!(exe.pgoff, 0x1000);
    assert_eq!(exe.inode, Some(296));
    assert_eq!(exe.dev.as_deref(), Some("0:2"));
    assert_eq!(list[4].pgoff, 0xba000);
    assert_eq!(
        (list[5].kind, list[5].path.as_deref(), list[5].pgoff),
        (VmaKind::Anon, None, 0)
    );
    assert_eq!(
        (list[6].kind, list[6].path.as_deref()),
        (VmaKind::Heap, Some("[heap]"))
    );
    assert_eq!(list[7].perms.to_string(), "rwxp");
    assert!(list[7].is_suspicious());
    let tail = &list[list.len() - 3..];
    assert_eq!(
        (tail[0].kind, tail[0].path.as_deref()),
        (VmaKind::Stack, Some("[stack]"))
    );
    assert_eq!(
        (tail[1].kind, tail[1].path.as_deref()),
        (VmaKind::Vvar, Some("[vvar]"))
    );
    assert_eq!(
        (tail[2].kind, tail[2].path.as_deref()),
        (VmaKind::Vdso, Some("[vdso]"))
    );
}

#[test]
fn maple_tree_two_levels_arange() {
    let mut k = SynthKernel::new(false);
    let (specs, info) = layout(&mut k, 32);
    let (mm, _) = k.add_mm_maple(&specs, &info, Internal::Arange, 10);
    let (root, e) = k.maple_root(mm);
    assert_eq!((e >> 3) & 0xf, 3, "root is an arange_64 node");
    assert!(k.maple_nodes.len() > 2 && k.maple_nodes.last().unwrap().0 == root);
    let w = walk_vmas(&k, mm, None).unwrap();
    assert!(w.problems.is_empty(), "{:?}", w.problems);
    check_named(&w.items, 32);
}

#[test]
fn maple_tree_two_levels_range() {
    let mut k = SynthKernel::new(false);
    let (specs, info) = layout(&mut k, 40);
    let (mm, _) = k.add_mm_maple(&specs, &info, Internal::Range, 16);
    assert_eq!(
        (k.maple_root(mm).1 >> 3) & 0xf,
        2,
        "root is a range_64 node"
    );
    let w = walk_vmas(&k, mm, None).unwrap();
    assert!(w.problems.is_empty(), "{:?}", w.problems);
    check_named(&w.items, 40);
}

#[test]
fn maple_tree_three_levels_and_single_leaf() {
    let mut k = SynthKernel::new(false);
    let (specs, info) = layout(&mut k, 300);
    let (mm, _) = k.add_mm_maple(&specs, &info, Internal::Arange, 7);
    let leaves = k.maple_nodes.iter().filter(|(_, t)| *t == 1).count();
    assert!(leaves > 10, "needs three levels: {leaves} leaves");
    let list = vmas(&k, mm).unwrap();
    check_named(&list, 300);

    // A small mm: the root is itself a leaf.
    let (specs, info) = layout(&mut k, 0);
    let (mm, _) = k.add_mm_maple(&specs[..5], &info, Internal::Arange, 16);
    assert_eq!((k.maple_root(mm).1 >> 3) & 0xf, 1);
    let list = vmas(&k, mm).unwrap();
    assert_eq!(list.len(), 5);
    assert!(
        list.iter()
            .all(|v| v.path.as_deref() == Some("/usr/bin/fxagent"))
    );
}

#[test]
fn linked_list_kernel() {
    let mut k = SynthKernel::new(true);
    let (specs, info) = layout(&mut k, 20);
    let (mm, _) = k.add_mm_list(&specs, &info);
    let w = walk_vmas(&k, mm, None).unwrap();
    assert!(w.problems.is_empty(), "{:?}", w.problems);
    check_named(&w.items, 20);
}

#[test]
fn shared_anonymous_memory_is_shmem() {
    let mut k = SynthKernel::new(false);
    let zero = k.add_shmem("dev/zero", 77);
    let sysv = k.add_shmem("SYSV0000002a", 78);
    let specs = [
        VmaSpec {
            start: 0x1000_0000,
            end: 0x1000_4000,
            flags: VM_READ | VM_WRITE | VM_SHARED,
            file: zero,
            ..Default::default()
        },
        VmaSpec {
            start: 0x2000_0000,
            end: 0x2000_1000,
            flags: VM_READ | VM_SHARED,
            file: sysv,
            ..Default::default()
        },
    ];
    let (mm, _) = k.add_mm_maple(&specs, &MmInfo::default(), Internal::Arange, 10);
    let list = vmas(&k, mm).unwrap();
    assert_eq!(list[0].path.as_deref(), Some("/dev/zero (deleted)"));
    assert_eq!(list[0].kind, VmaKind::Shmem);
    assert_eq!(list[0].perms.to_string(), "rw-s");
    assert_eq!(list[1].path.as_deref(), Some("/SYSV0000002a (deleted)"));
    assert_eq!(list[1].inode, Some(78));
}

// ----- corruption: an error or a partial answer, within a bound -----

#[test]
fn maple_self_loop_and_garbage_child_are_skipped() {
    let mut k = SynthKernel::new(false);
    let (specs, info) = layout(&mut k, 32);
    let (mm, _) = k.add_mm_maple(&specs, &info, Internal::Arange, 10);
    k.maple_self_loop(mm, 1);
    k.maple_garbage_child(mm, 2);
    let nodes = k.maple_nodes.len() as u64;
    let k = Arc::new(k);
    let k2 = Arc::clone(&k);
    let before = k.reads();
    let w = within(move || walk_vmas(&*k2, mm, None).unwrap());
    assert!(w.problems.len() >= 2, "{:?}", w.problems);
    // Two leaves lost, the rest found.
    assert!(
        w.items.len() < 43 && w.items.len() > 20,
        "{}",
        w.items.len()
    );
    assert!(k.reads() - before < nodes * 4 + 45 * 40, "bounded reads");
}

#[test]
fn maple_node_pointing_to_itself_as_root() {
    let mut k = SynthKernel::new(false);
    let (specs, info) = layout(&mut k, 2);
    let (mm, _) = k.add_mm_maple(&specs, &info, Internal::Arange, 16);
    // The root leaf's parent points at itself (a dead node).
    let (root, _) = k.maple_root(mm);
    let po = k.parent_off(root);
    k.w64(root + po, root);
    let w = within(move || walk_vmas(&k, mm, None).unwrap());
    assert!(w.items.is_empty());
    assert_eq!(w.problems.len(), 1, "{:?}", w.problems);
}

#[test]
fn maple_tree_deeper_than_the_bound() {
    let mut k = SynthKernel::new(false);
    let vma = VmaSpec {
        start: 0x1000,
        end: 0x2000,
        flags: VM_READ,
        ..Default::default()
    };
    let mm = k.add_mm_maple_chain(MAX_DEPTH + 5, &vma);
    let w = within(move || walk_vmas(&k, mm, None).unwrap());
    assert!(w.items.is_empty());
    assert!(
        w.problems.iter().any(|p| p.contains("deeper")),
        "{:?}",
        w.problems
    );
    // Within the bound it is found.
    let mut k = SynthKernel::new(false);
    let mm = k.add_mm_maple_chain(MAX_DEPTH - 2, &vma);
    assert_eq!(vmas(&k, mm).unwrap().len(), 1);
}

#[test]
fn vm_next_loop_is_cut() {
    let mut k = SynthKernel::new(true);
    let (specs, info) = layout(&mut k, 5);
    let (mm, ptrs) = k.add_mm_list(&specs, &info);
    k.vma_list_loop(*ptrs.last().unwrap(), ptrs[3]);
    let w = within(move || walk_vmas(&k, mm, None).unwrap());
    assert_eq!(w.items.len(), 16);
    assert!(
        w.problems.iter().any(|p| p.contains("loops")),
        "{:?}",
        w.problems
    );
}
