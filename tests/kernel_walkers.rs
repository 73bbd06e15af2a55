//! The kernel walkers (VMAs, paths, open files, sockets) over a synthetic kernel whose ISF
//! puts every field somewhere a real kernel does not: maple trees of two and three levels
//! with both internal node types, the pre-6.1 `mmap` list, mounts, deleted files, pseudo
//! filesystems, TCP/unix sockets, and corruption that must end in an error or a partial
//! answer within a bound, never a panic or a hang.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::sync::Arc;
use std::sync::mpsc;
use std::time::Duration;

use podmortem::engine::evidence::{OpenFile, VmaKind};
use podmortem::engine::kernel::dpath::{self, PathRef};
use podmortem::engine::kernel::files::{open_files, walk_open_files};
use podmortem::engine::kernel::maple::MAX_DEPTH;
use podmortem::engine::kernel::vmas::{vmas, walk_vmas};
use serde_json::json;
use support::kernel_mem::*;

const HEAP: (u64, u64) = (0x0cd3_3000, 0x0cd5_5000);
const STACK_TOP: u64 = 0x7ffd_9ed6_c000;
const VDSO: u64 = 0x7ffd_9edaa000;

/// Runs `f` on its own thread and fails the test if it takes longer than 20 s.
fn within<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(Duration::from_secs(20))
        .expect("walk did not finish in time (hang?)")
}

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
    check_named(&w.vmas, 32);
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
    check_named(&w.vmas, 40);
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
    check_named(&w.vmas, 20);
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

#[test]
fn paths_across_mounts_roots_and_deletion() {
    let mut k = SynthKernel::new(false);
    let (root_mnt, root_d, root_sb) = (k.root_mnt, k.root_dentry, k.root_sb);
    // /mnt/data is a mount point of a second filesystem (device 8:1).
    let mp = k.add_path(root_d, root_sb, &["mnt", "data"], S_IFDIR, 50);
    let sb = k.add_sb("ext4", (8 << 20) | 1);
    let inode = k.add_inode(sb, S_IFDIR, 2);
    let data_root = k.add_dentry(None, "/", inode, sb, 0);
    let data = k.add_mount(Some(&root_mnt), mp, data_root, sb);
    let d = k.add_path(data_root, sb, &["x", "y.txt"], S_IFREG | 0o644, 12);
    let f = k.file_at(&data, d, 0, 0);
    assert_eq!(dpath::file_path(&k, f, None).unwrap(), "/mnt/data/x/y.txt");
    let (_, dev) = podmortem::engine::kernel::vmas::inode_and_dev(&k, f).unwrap();
    assert_eq!(dev.as_deref(), Some("8:1"));
    // The mount root itself.
    let f = k.file_at(&data, data_root, 0, 0);
    assert_eq!(dpath::file_path(&k, f, None).unwrap(), "/mnt/data");

    // Deleted while open.
    let gone = k.add_path(
        root_d,
        root_sb,
        &["tmp", "fx_deleted.bin"],
        S_IFREG | 0o600,
        3,
    );
    k.unlink(gone);
    let f = k.file_at(&root_mnt, gone, 0, 0);
    let r = dpath::resolve(&k, PathRef::of_file(&k, f).unwrap(), None).unwrap();
    assert_eq!(r.path, "/tmp/fx_deleted.bin (deleted)");
    assert!(r.deleted);

    // Relative to a chroot at /srv/jail.
    let jail = k.add_path(root_d, root_sb, &["srv", "jail"], S_IFDIR, 60);
    let passwd = k.add_path(jail, root_sb, &["etc", "passwd"], S_IFREG | 0o644, 61);
    let root = Some(PathRef {
        mnt: root_mnt.vfsmount,
        dentry: jail,
    });
    let f = k.file_at(&root_mnt, passwd, 0, 0);
    assert_eq!(dpath::file_path(&k, f, root).unwrap(), "/etc/passwd");
    assert_eq!(
        dpath::file_path(&k, f, None).unwrap(),
        "/srv/jail/etc/passwd"
    );
    let root_file = k.file_at(&root_mnt, root_d, 0, 0);
    assert_eq!(dpath::file_path(&k, root_file, None).unwrap(), "/");
}

fn by_fd(files: &[OpenFile], fd: i64) -> &OpenFile {
    files.iter().find(|f| f.fd == Some(fd)).unwrap()
}

#[test]
fn open_files_name_pseudo_files_and_sockets() {
    let mut k = SynthKernel::new(false);
    let (root_mnt, root_d, root_sb) = (k.root_mnt, k.root_dentry, k.root_sb);
    let console = k.add_file(&["dev", "console"], S_IFCHR | 0o600, 3);
    let ev = k.add_file(&["tmp", "fx_evidence.txt"], S_IFREG | 0o600, 2);
    k.set(ev, "file", "f_pos", 66);
    let fifo = k.add_file(&["tmp", "avml.fifo"], S_IFIFO | 0o644, 5);
    let pipe = k.add_pipe(4242);
    let efd = k.add_anon("[eventfd]");
    let listen = k.add_inet_socket(10660, 6, 10, &[0, 0, 0, 0], 4444, &[0, 0, 0, 0], 0);
    let est = k.add_inet_socket(10661, 6, 1, &[127, 0, 0, 1], 4444, &[127, 0, 0, 1], 42792);
    let mut v6 = [0u8; 16];
    v6[15] = 1;
    let tcp6 = k.add_inet_socket(10662, 6, 1, &v6, 8080, &v6, 50000);
    let (unix, usk) = k.add_unix_socket(10659, 1, 10, b"/tmp/fxagent.sock");
    let (abs, ask) = k.add_unix_socket(10700, 2, 1, b"\0hidden");
    k.connect_unix(usk, ask);
    let cwd = k.add_path(root_d, root_sb, &["root"], S_IFDIR, 70);
    let fds = [
        (0, console),
        (3, ev),
        (4, fifo),
        (5, listen),
        (6, est),
        (7, pipe),
        (8, efd),
        (9, tcp6),
        (10, unix),
        (11, abs),
    ];
    let task = k.add_task(&fds, 64, Some((root_mnt, cwd)), Some((root_mnt, root_d)));
    let w = walk_open_files(&k, 102, task).unwrap();
    assert!(w.problems.is_empty(), "{:?}", w.problems);
    let files = w.files;
    assert_eq!(files.len(), fds.len() + 2);
    let f = by_fd(&files, 0);
    assert_eq!((f.kind.as_str(), f.path.as_str()), ("chr", "/dev/console"));
    let f = by_fd(&files, 3);
    assert_eq!(
        (f.kind.as_str(), f.path.as_str()),
        ("file", "/tmp/fx_evidence.txt")
    );
    assert_eq!(f.details["pos"], json!(66));
    assert_eq!(f.details["inode"], json!(2));
    assert_eq!(f.details["mode"], json!("100600"));
    assert_eq!(by_fd(&files, 4).kind, "fifo");
    let f = by_fd(&files, 7);
    assert_eq!((f.kind.as_str(), f.path.as_str()), ("pipe", "pipe:[4242]"));
    let f = by_fd(&files, 8);
    assert_eq!(
        (f.kind.as_str(), f.path.as_str()),
        ("anon_inode", "anon_inode:[eventfd]")
    );

    let f = by_fd(&files, 5);
    assert_eq!(
        (f.kind.as_str(), f.path.as_str()),
        ("socket", "socket:[10660]")
    );
    for (key, want) in [
        ("family", json!("inet")),
        ("protocol", json!("tcp")),
        ("state", json!("LISTEN")),
        ("src", json!("0.0.0.0")),
        ("src_port", json!(4444)),
        ("dst", json!("0.0.0.0")),
        ("dst_port", json!(0)),
        ("inode", json!(10660)),
    ] {
        assert_eq!(f.details[key], want, "{key}");
    }
    let f = by_fd(&files, 6);
    for (key, want) in [
        ("state", json!("ESTABLISHED")),
        ("src", json!("127.0.0.1")),
        ("src_port", json!(4444)),
        ("dst", json!("127.0.0.1")),
        ("dst_port", json!(42792)),
    ] {
        assert_eq!(f.details[key], want, "{key}");
    }
    let f = by_fd(&files, 9);
    for (key, want) in [
        ("family", json!("inet6")),
        ("src", json!("::1")),
        ("src_port", json!(8080)),
        ("dst_port", json!(50000)),
    ] {
        assert_eq!(f.details[key], want, "{key}");
    }
    let f = by_fd(&files, 10);
    for (key, want) in [
        ("family", json!("unix")),
        ("type", json!("stream")),
        ("state", json!("LISTEN")),
        ("name", json!("/tmp/fxagent.sock")),
        ("inode", json!(10659)),
        ("peer", json!(10700)),
    ] {
        assert_eq!(f.details[key], want, "{key}");
    }
    let f = by_fd(&files, 11);
    assert_eq!(f.details["name"], json!("@hidden"));
    assert_eq!(f.details["type"], json!("dgram"));

    let cwd = files.iter().find(|f| f.kind == "cwd").unwrap();
    assert_eq!((cwd.fd, cwd.path.as_str()), (None, "/root"));
    let root = files.iter().find(|f| f.kind == "root").unwrap();
    assert_eq!(root.path, "/");
}

#[test]
fn unix_socket_on_a_bitfield_kernel() {
    let mut k = SynthKernel::new(true);
    let (unix, _) = k.add_unix_socket(9, 5, 7, b"/run/x.sock");
    let tcp = k.add_inet_socket(10, 6, 1, &[10, 0, 0, 1], 22, &[10, 0, 0, 2], 5555);
    let task = k.add_task(&[(1, unix), (2, tcp)], 8, None, None);
    let files = open_files(&k, 1, task).unwrap();
    assert_eq!(files.len(), 2);
    assert_eq!(files[0].details["type"], json!("seqpacket"));
    assert_eq!(files[0].details["state"], json!("CLOSE"));
    assert_eq!(files[1].details["protocol"], json!("tcp"));
    assert_eq!(files[1].details["dst"], json!("10.0.0.2"));
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
    assert!(w.vmas.len() < 43 && w.vmas.len() > 20, "{}", w.vmas.len());
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
    assert!(w.vmas.is_empty());
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
    assert!(w.vmas.is_empty());
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
    assert_eq!(w.vmas.len(), 16);
    assert!(
        w.problems.iter().any(|p| p.contains("loops")),
        "{:?}",
        w.problems
    );
}

#[test]
fn d_parent_loop_is_an_error_for_that_file_only() {
    let mut k = SynthKernel::new(false);
    let (root_d, root_sb) = (k.root_dentry, k.root_sb);
    let a = k.add_path(root_d, root_sb, &["a"], S_IFDIR, 80);
    let b = k.add_path(a, root_sb, &["b"], S_IFDIR, 81);
    let c = k.add_path(b, root_sb, &["c.txt"], S_IFREG, 82);
    k.dentry_loop(a, b);
    let m = k.root_mnt;
    let bad = k.file_at(&m, c, 0, 0);
    let good = k.add_file(&["ok.txt"], S_IFREG, 83);
    assert!(dpath::file_path(&k, bad, None).is_err());
    let task = k.add_task(&[(3, bad), (4, good)], 8, None, None);
    let w = within(move || walk_open_files(&k, 7, task).unwrap());
    assert_eq!(w.files.len(), 1);
    assert_eq!(w.files[0].path, "/ok.txt");
    assert!(w.problems[0].contains("fd 3"), "{:?}", w.problems);
}

#[test]
fn huge_max_fds_is_bounded() {
    let mut k = SynthKernel::new(false);
    let f = k.add_file(&["x"], S_IFREG, 90);
    let task = k.add_task(&[(0, f)], 16, None, None);
    k.set_max_fds(task, u64::from(u32::MAX));
    let k = Arc::new(k);
    let k2 = Arc::clone(&k);
    let w = within(move || walk_open_files(&*k2, 1, task).unwrap());
    assert_eq!(w.files[0].path, "/x");
    assert!(
        w.problems.iter().any(|p| p.contains("max_fds")),
        "{:?}",
        w.problems
    );
    assert!(k.reads() < 200_000, "{} reads", k.reads());
}

/// Fuzzing regression (fuzz target `kernel_walkers`): a table of many descriptors sharing
/// one `struct file` (dup'ed, or one pointer repeated over a smeared table) resolved the
/// same path once per slot, which took minutes for a 2^20-slot table.
#[test]
fn shared_struct_file_is_described_once() {
    let mut k = SynthKernel::new(false);
    let deep: Vec<String> = (0..200).map(|i| format!("d{i}")).collect();
    let deep: Vec<&str> = deep.iter().map(String::as_str).collect();
    let f = k.add_file(&deep, S_IFREG, 91);
    let fds: Vec<(u64, u64)> = (0..4096).map(|fd| (fd, f)).collect();
    let task = k.add_task(&fds, 4096, None, None);
    let k = Arc::new(k);
    let k2 = Arc::clone(&k);
    let w = within(move || walk_open_files(&*k2, 1, task).unwrap());
    assert_eq!(w.files.len(), 4096);
    assert!(
        w.files
            .iter()
            .enumerate()
            .all(|(i, f)| f.fd == Some(i as i64))
    );
    assert!(w.files.iter().all(|f| f.path == w.files[0].path));
    assert!(w.files[0].path.ends_with("/d199"), "{}", w.files[0].path);
    assert!(k.reads() < 20_000, "{} reads", k.reads());
}

#[test]
fn null_pointers_give_errors_or_empty_answers() {
    let mut k = SynthKernel::new(false);
    assert!(vmas(&k, 0).is_err());
    // An mm with an empty tree.
    let (mm, _) = k.add_mm_maple(&[], &MmInfo::default(), Internal::Arange, 10);
    assert!(vmas(&k, mm).unwrap().is_empty());
    // A task without files or fs (a kernel thread or a zombie).
    let task = k.alloc_struct("task_struct");
    assert!(open_files(&k, 2, task).unwrap().is_empty());
    // A file with a NULL dentry, and a VMA whose file is not in the dump.
    let f = k.add_file(&["y"], S_IFREG, 91);
    let p = f + k.off("file", "f_path");
    k.set(p, "path", "dentry", 0);
    let task = k.add_task(&[(0, f)], 4, None, None);
    let w = walk_open_files(&k, 3, task).unwrap();
    assert!(
        w.files.is_empty() && w.problems.len() == 1,
        "{:?}",
        w.problems
    );
    let specs = [
        VmaSpec {
            start: 0x1000,
            end: 0x2000,
            flags: VM_READ,
            file: 0xffff_c900_0bad_0000,
            ..Default::default()
        },
        VmaSpec {
            start: 0x3000,
            end: 0x4000,
            flags: VM_READ,
            ..Default::default()
        },
    ];
    let (mm, _) = k.add_mm_maple(&specs, &MmInfo::default(), Internal::Arange, 10);
    let w = walk_vmas(&k, mm, None).unwrap();
    assert_eq!(w.vmas.len(), 1);
    assert_eq!(w.problems.len(), 1, "{:?}", w.problems);
    // A mm whose tree root is not in the dump.
    let mm = k.alloc(0x300, 64) + 0x10_0000;
    assert!(vmas(&k, mm).is_err());
}

// ----- the real linux-6.1 dump against Volatility's goldens -----

/// Volatility's proc.Maps rows of `pid` as (start, end, flags, pgoff, path, inode, dev).
fn golden_maps(pid: u64) -> Vec<(u64, u64, String, u64, String, u64, String)> {
    let rows = support::golden_json("linux-6.1", "dump.lime/linux.proc.Maps.json");
    rows.as_array()
        .unwrap()
        .iter()
        .filter(|r| r["PID"] == json!(pid))
        .map(|r| {
            (
                r["Start"].as_u64().unwrap(),
                r["End"].as_u64().unwrap(),
                r["Flags"].as_str().unwrap().to_string(),
                r["PgOff"].as_u64().unwrap(),
                r["File Path"].as_str().unwrap().to_string(),
                r["Inode"].as_u64().unwrap(),
                format!("{}:{}", r["Major"], r["Minor"]),
            )
        })
        .collect()
}

#[test]
fn fixture_maps_match_volatility() {
    use podmortem::engine::evidence::Evidence;
    let Some(dump) = support::kernel::lime() else {
        return;
    };
    for pid in [1u64, 102, 107, 108] {
        let ours = dump.maps(pid as u32).unwrap();
        let golden = golden_maps(pid);
        assert_eq!(ours.len(), golden.len(), "pid {pid}");
        for (v, g) in ours.iter().zip(&golden) {
            // Volatility prints "Anonymous Mapping" for unnamed areas and for [vvar].
            let path = match (v.kind, v.path.as_deref()) {
                (VmaKind::Vvar, _) | (_, None) => "Anonymous Mapping",
                (_, Some(p)) => p,
            };
            let flags = &v.perms.to_string()[..3];
            let got = (v.start, v.end, flags.to_string(), v.pgoff, path.to_string());
            let want = (g.0, g.1, g.2.clone(), g.3, g.4.clone());
            assert_eq!(got, want, "pid {pid}");
            assert_eq!(v.inode.unwrap_or(0), g.5, "pid {pid} {:#x}", v.start);
            assert_eq!(
                v.dev.clone().unwrap_or_else(|| "0:0".into()),
                g.6,
                "pid {pid} {:#x}",
                v.start
            );
        }
    }
    // The kernel's own name for the vvar pages, as /proc/102/maps shows it.
    let m = dump.maps(102).unwrap();
    assert_eq!(m[9].path.as_deref(), Some("[vvar]"));
}

#[test]
fn fixture_files_match_volatility_lsof_and_sockstat() {
    use podmortem::engine::evidence::Evidence;
    let Some(dump) = support::kernel::lime() else {
        return;
    };
    let lsof = support::golden_json("linux-6.1", "dump.lime/linux.lsof.Lsof.json");
    for pid in [1u32, 102, 107, 108, 317] {
        let ours = dump.files(pid).unwrap();
        let rows: Vec<_> = lsof
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["PID"] == json!(pid) && r["TID"] == json!(pid))
            .collect();
        let fds: Vec<_> = ours.iter().filter(|f| f.fd.is_some()).collect();
        assert_eq!(fds.len(), rows.len(), "pid {pid}: {fds:#?}");
        for r in rows {
            let f = by_fd(&ours, r["FD"].as_i64().unwrap());
            // Volatility writes a deleted file as " PATH (deleted)" (leading space).
            assert_eq!(
                f.path,
                r["Path"].as_str().unwrap().trim_start(),
                "pid {pid}"
            );
            assert_eq!(f.details["inode"], r["Inode"], "pid {pid} fd {}", r["FD"]);
        }
        assert!(ours.iter().any(|f| f.kind == "cwd") && ours.iter().any(|f| f.kind == "root"));
    }
    let f = dump.files(102).unwrap();
    let s = by_fd(&f, 6);
    assert_eq!(
        (
            &s.details["state"],
            &s.details["src"],
            &s.details["src_port"],
            &s.details["dst"],
            &s.details["dst_port"]
        ),
        (
            &json!("ESTABLISHED"),
            &json!("127.0.0.1"),
            &json!(4444),
            &json!("127.0.0.1"),
            &json!(42792)
        )
    );
    assert_eq!(by_fd(&f, 5).details["state"], json!("LISTEN"));
    let u = dump.files(108).unwrap();
    let u = by_fd(&u, 3);
    assert_eq!(
        (
            &u.details["family"],
            &u.details["name"],
            &u.details["state"]
        ),
        (
            &json!("unix"),
            &json!("/tmp/fxagent.sock"),
            &json!("LISTEN")
        )
    );
}

#[test]
fn fixture_walks_report_no_damage() {
    use podmortem::engine::evidence::Evidence;
    let Some(dump) = support::kernel::lime() else {
        return;
    };
    let mut n = 0;
    for p in dump.processes().unwrap() {
        let t = dump.task(p.pid).unwrap();
        if t.mm == 0 {
            continue;
        }
        let w = walk_vmas(dump.space(), t.mm, None).unwrap();
        assert!(w.problems.is_empty(), "pid {}: {:?}", p.pid, w.problems);
        assert!(!w.vmas.is_empty());
        let f = walk_open_files(dump.space(), p.pid, t.task).unwrap();
        assert!(f.problems.is_empty(), "pid {}: {:?}", p.pid, f.problems);
        n += 1;
    }
    assert!(n >= 8, "{n} user processes");
}
