//! The path, open-file and socket walkers over a synthetic kernel whose ISF puts every field
//! somewhere a real kernel does not: mounts, chroots, deleted files, pseudo filesystems,
//! TCP/unix sockets (also on a kernel with bitfield socket types), and corruption (a
//! `d_parent` loop, a huge `max_fds`, one `struct file` behind thousands of descriptors) that
//! must end in an error or a partial answer within a bound, never a panic or a hang. Memory
//! areas are in `kernel_vmas.rs`, the real dump in `kernel_walkers.rs`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::support;

use std::sync::Arc;

use podmortem::engine::kernel::dpath::{self, PathRef};
use podmortem::engine::kernel::files::{open_files, walk_open_files};
use serde_json::json;
use support::kernel_mem::*;
use support::walkers::{by_fd, within};

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
    let files = w.items;
    assert_eq!(files.len(), fds.len() + 2);
    let f = by_fd(&files, 0);
    assert_eq!((f.kind.as_str(), f.path.as_str()), ("chr", "/dev/console"));
    let f = by_fd(&files, 3);
    assert_eq!(
        (f.kind.as_str(), f.path.as_str()),
        ("file", "/tmp/fx_evidence.txt")
    );
    assert_eq!(serde_json::to_value(&f.details).unwrap()["pos"], json!(66));
    assert_eq!(serde_json::to_value(&f.details).unwrap()["inode"], json!(2));
    assert_eq!(
        serde_json::to_value(&f.details).unwrap()["mode"],
        json!("100600")
    );
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
        assert_eq!(
            serde_json::to_value(&f.details).unwrap()[key],
            want,
            "{key}"
        );
    }
    let f = by_fd(&files, 6);
    for (key, want) in [
        ("state", json!("ESTABLISHED")),
        ("src", json!("127.0.0.1")),
        ("src_port", json!(4444)),
        ("dst", json!("127.0.0.1")),
        ("dst_port", json!(42792)),
    ] {
        assert_eq!(
            serde_json::to_value(&f.details).unwrap()[key],
            want,
            "{key}"
        );
    }
    let f = by_fd(&files, 9);
    for (key, want) in [
        ("family", json!("inet6")),
        ("src", json!("::1")),
        ("src_port", json!(8080)),
        ("dst_port", json!(50000)),
    ] {
        assert_eq!(
            serde_json::to_value(&f.details).unwrap()[key],
            want,
            "{key}"
        );
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
        assert_eq!(
            serde_json::to_value(&f.details).unwrap()[key],
            want,
            "{key}"
        );
    }
    let f = by_fd(&files, 11);
    assert_eq!(
        serde_json::to_value(&f.details).unwrap()["name"],
        json!("@hidden")
    );
    assert_eq!(
        serde_json::to_value(&f.details).unwrap()["type"],
        json!("dgram")
    );

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
    assert_eq!(
        serde_json::to_value(&files[0].details).unwrap()["type"],
        json!("seqpacket")
    );
    assert_eq!(
        serde_json::to_value(&files[0].details).unwrap()["state"],
        json!("CLOSE")
    );
    assert_eq!(
        serde_json::to_value(&files[1].details).unwrap()["protocol"],
        json!("tcp")
    );
    assert_eq!(
        serde_json::to_value(&files[1].details).unwrap()["dst"],
        json!("10.0.0.2")
    );
}

// ----- corruption: an error or a partial answer, within a bound -----

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
    assert_eq!(w.items.len(), 1);
    assert_eq!(w.items[0].path, "/ok.txt");
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
    assert_eq!(w.items[0].path, "/x");
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
    assert_eq!(w.items.len(), 4096);
    assert!(
        w.items
            .iter()
            .enumerate()
            .all(|(i, f)| f.fd == Some(i as i64))
    );
    assert!(w.items.iter().all(|f| f.path == w.items[0].path));
    assert!(w.items[0].path.ends_with("/d199"), "{}", w.items[0].path);
    assert!(k.reads() < 20_000, "{} reads", k.reads());
}

/// A table smeared with distinct garbage pointers: every slot fails, but the walk lists
/// at most `MAX_PROBLEMS` of them and says the rest were not listed.
#[test]
fn a_smeared_fd_table_gives_a_bounded_list_of_problems() {
    let mut k = SynthKernel::new(false);
    let fds: Vec<(u64, u64)> = (0..4096)
        .map(|fd| (fd, 0xffff_c900_0000_0000 + fd * 0x1_0000))
        .collect();
    let task = k.add_task(&fds, 4096, None, None);
    let k = Arc::new(k);
    let w = within(move || walk_open_files(&*k, 1, task).unwrap());
    assert!(w.items.is_empty());
    let max = podmortem::engine::kernel::MAX_PROBLEMS;
    assert_eq!(w.problems.len(), max + 1, "{:?}", &w.problems[..3]);
    assert_eq!(w.problems[max], "further problems not listed");
}

/// One `struct file` in 10,000 slots (what 10,000 `dup2`s leave): the first
/// `MAX_SHARED_FDS` are listed, the rest counted in one problem, and nothing is lost
/// for the other files.
#[test]
fn a_file_shared_by_very_many_descriptors_is_summarised() {
    use podmortem::engine::kernel::files::MAX_SHARED_FDS;
    let mut k = SynthKernel::new(false);
    let f = k.add_file(&["dup"], S_IFREG, 92);
    let g = k.add_file(&["other"], S_IFREG, 93);
    let mut fds: Vec<(u64, u64)> = (0..10_000).map(|fd| (fd, f)).collect();
    fds.push((10_000, g));
    let task = k.add_task(&fds, 10_240, None, None);
    let k = Arc::new(k);
    let w = within(move || walk_open_files(&*k, 1, task).unwrap());
    assert_eq!(w.items.len(), MAX_SHARED_FDS + 1);
    assert_eq!(w.items.last().unwrap().path, "/other");
    assert_eq!(w.items.last().unwrap().fd, Some(10_000));
    assert!(
        w.problems
            .iter()
            .any(|p| p.contains("is shared by 10000 descriptors; the first 4096 are listed")),
        "{:?}",
        w.problems
    );
}
