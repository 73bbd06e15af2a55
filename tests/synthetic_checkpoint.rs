//! The checkpoint back end on synthetic checkpoints made by tests/support/ckpt.rs: the
//! cases the real fixtures lack (lazy and in-parent pages, old pagemap entries, a pages id
//! different from the pid, several pagemap entries per VMA, a match across two pages,
//! damaged images).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use crate::support;

use std::path::Path;
use std::sync::atomic::AtomicBool;

use podmortem::engine::capability::ContainerFs;
use podmortem::engine::checkpoint::Checkpoint;
use podmortem::engine::checkpoint::archive::Archive;
use podmortem::engine::checkpoint::pagemap::{PAGE_SIZE, PE_LAZY, PE_PARENT, PE_PRESENT};
use podmortem::engine::checkpoint::proto::{FdTypes, mm as vm};
use podmortem::engine::evidence::Evidence;
use podmortem::engine::mapped::Blob;
use podmortem::engine::search::{Collect, SearchRequest, search};
use support::ckpt::{self, Pm, Proc};

const BASE: u64 = 0x7f00_0000_0000;
const ANON: u32 = vm::VMA_AREA_REGULAR | vm::VMA_ANON_PRIVATE;

fn open(c: &ckpt::Checkpoint) -> Checkpoint {
    let tar = c.to_tar();
    let size = tar.len() as u64;
    let ar = Archive::from_tar(Path::new("synthetic.tar"), "tar", size, Blob::Owned(tar)).unwrap();
    Checkpoint::from_archive(ar).unwrap()
}

fn one_proc(p: Proc) -> ckpt::Checkpoint {
    ckpt::Checkpoint {
        procs: vec![p],
        files: vec![ckpt::reg_file(1, "/bin/app", 0o100755)],
        hostname: "synthetic".into(),
        ..Default::default()
    }
}

fn base_proc(pid: u32) -> Proc {
    Proc {
        pid,
        ppid: 0,
        pgid: pid,
        sid: pid,
        threads: vec![(pid, "app".into())],
        comm: "app".into(),
        files_id: 1,
        vmas: vec![ckpt::vma(
            BASE,
            BASE + 16 * PAGE_SIZE,
            3,
            vm::MAP_PRIVATE | vm::MAP_ANONYMOUS,
            ANON,
            0,
            0,
        )],
        ..Default::default()
    }
}

fn pm(vaddr: u64, nr_pages: u64, flags: Option<u32>) -> Pm {
    Pm {
        vaddr,
        nr_pages,
        flags,
        in_parent: None,
        compat: false,
    }
}

#[test]
fn lazy_and_parent_pages_are_not_captured() {
    let mut p = base_proc(1);
    for i in 0..6 {
        p.poke(BASE + i * PAGE_SIZE, &[i as u8 + 1; 8]);
    }
    p.pagemap = Some(vec![
        pm(BASE, 1, Some(PE_PRESENT)),
        pm(BASE + PAGE_SIZE, 1, Some(PE_LAZY)),
        pm(BASE + 2 * PAGE_SIZE, 1, Some(PE_PARENT)),
        Pm {
            vaddr: BASE + 3 * PAGE_SIZE,
            nr_pages: 1,
            flags: None,
            in_parent: Some(true),
            compat: true,
        },
        pm(BASE + 4 * PAGE_SIZE, 2, Some(PE_LAZY | PE_PRESENT)),
    ]);
    let ck = open(&one_proc(p));
    let mut buf = vec![0u8; 6 * PAGE_SIZE as usize];
    let got = ck.read_memory(1, BASE, &mut buf).unwrap();
    let p = PAGE_SIZE as usize;
    assert_eq!(got.captured, vec![0..p, 4 * p..6 * p]);
    // The file offset advanced only over present entries: page 4 follows page 0 in the file.
    assert_eq!(buf[4 * p], 5);
    assert_eq!(buf[5 * p], 6);
    assert!(!got.is_captured(p + 3));
    assert_eq!(
        ck.captured_ranges(1, 0..u64::MAX).unwrap(),
        vec![
            BASE..BASE + PAGE_SIZE,
            BASE + 4 * PAGE_SIZE..BASE + 6 * PAGE_SIZE
        ]
    );
}

#[test]
fn old_compat_entries_without_flags() {
    let mut p = base_proc(3);
    p.poke(BASE, b"hello");
    p.poke(BASE + PAGE_SIZE, b"world");
    p.pagemap = Some(vec![Pm {
        vaddr: BASE,
        nr_pages: 2,
        flags: None,
        in_parent: None,
        compat: true,
    }]);
    let ck = open(&one_proc(p));
    let mut buf = [0u8; 5];
    ck.read_memory(3, BASE + PAGE_SIZE, &mut buf).unwrap();
    assert_eq!(&buf, b"world");
}

#[test]
fn pages_id_differs_from_pid() {
    let mut a = base_proc(10);
    a.pages_id = 3;
    a.poke(BASE, b"process-ten");
    let mut b = base_proc(20);
    b.ppid = 10;
    b.pages_id = 1;
    b.threads = vec![(20, "worker".into()), (21, "worker-t".into())];
    b.poke(BASE, b"process-twenty");
    let mut c = one_proc(a);
    c.procs.push(b);
    let ck = open(&c);
    let mut buf = [0u8; 14];
    ck.read_memory(20, BASE, &mut buf).unwrap();
    assert_eq!(&buf, b"process-twenty");
    ck.read_memory(10, BASE, &mut buf[..11]).unwrap();
    assert_eq!(&buf[..11], b"process-ten");
    let procs = ck.processes().unwrap();
    assert_eq!(
        procs[1].threads.iter().map(|t| t.tid).collect::<Vec<_>>(),
        [20, 21]
    );
    assert_eq!(procs[1].threads[1].comm, "worker-t");
}

#[test]
fn match_spanning_two_pages_and_entries() {
    let mut p = base_proc(1);
    // Two pagemap entries, adjacent in memory: the secret straddles their boundary.
    let at = BASE + 2 * PAGE_SIZE - 6;
    p.poke(at, b"SECRET_42_KEY");
    p.pagemap = Some(vec![
        pm(BASE + PAGE_SIZE, 1, Some(PE_PRESENT)),
        pm(BASE + 2 * PAGE_SIZE, 1, Some(PE_PRESENT | PE_LAZY)),
    ]);
    let ck = open(&one_proc(p));
    let req = SearchRequest {
        regex: regex::bytes::Regex::new("SECRET_[0-9]+_KEY").unwrap(),
        pids: None,
    };
    let mut sink = Collect::default();
    search(&ck, &req, &AtomicBool::new(false), &mut sink).unwrap();
    assert_eq!(sink.hits.len(), 1);
    assert_eq!(sink.hits[0].address, at);
    assert_eq!(sink.hits[0].process().unwrap().vma_start, Some(BASE));
}

#[test]
fn match_across_search_windows_found_once() {
    use podmortem::engine::search::WINDOW;
    let pages = (WINDOW / PAGE_SIZE) + 4;
    let mut p = base_proc(1);
    p.vmas = vec![ckpt::vma(
        BASE,
        BASE + pages * PAGE_SIZE,
        3,
        vm::MAP_PRIVATE | vm::MAP_ANONYMOUS,
        ANON,
        0,
        0,
    )];
    p.pagemap = Some(vec![pm(BASE, pages, Some(PE_PRESENT))]);
    let edge = BASE + WINDOW - 3;
    p.poke(edge, b"NEEDLE");
    p.poke(BASE + 5, b"NEEDLE");
    p.poke(BASE + WINDOW + 100, b"NEEDLE");
    let ck = open(&one_proc(p));
    let req = SearchRequest {
        regex: regex::bytes::Regex::new("NEEDLE").unwrap(),
        pids: None,
    };
    let mut sink = Collect::default();
    let summary = search(&ck, &req, &AtomicBool::new(false), &mut sink).unwrap();
    let addrs: Vec<u64> = sink.hits.iter().map(|h| h.address).collect();
    assert_eq!(addrs, [BASE + 5, edge, BASE + WINDOW + 100]);
    assert_eq!(summary.bytes, pages * PAGE_SIZE);
}

#[test]
fn cancel_and_sink_stop_the_search() {
    let mut p = base_proc(1);
    for i in 0..4 {
        p.poke(BASE + i * PAGE_SIZE, b"HIT");
    }
    let ck = open(&one_proc(p));
    let req = SearchRequest {
        regex: regex::bytes::Regex::new("HIT").unwrap(),
        pids: None,
    };
    let mut sink = Collect {
        hits: Vec::new(),
        limit: Some(2),
    };
    let s = search(&ck, &req, &AtomicBool::new(false), &mut sink).unwrap();
    assert!(s.stopped);
    assert_eq!(sink.hits.len(), 2);
    let mut sink = Collect::default();
    let s = search(&ck, &req, &AtomicBool::new(true), &mut sink).unwrap();
    assert!(s.stopped);
    assert!(sink.hits.is_empty());
}

#[test]
fn cmdline_env_files_and_kinds() {
    let mut p = base_proc(1);
    p.arg = p.strings(BASE + 100, &["/bin/app", "--flag", "x\x1b[31my"]);
    p.env = p.strings(BASE + 400, &["A=1", "TOKEN=s3cr3t"]);
    p.start_stack = BASE + 20 * PAGE_SIZE;
    p.vmas.push(ckpt::vma(
        BASE + 16 * PAGE_SIZE,
        BASE + 24 * PAGE_SIZE,
        3,
        vm::MAP_PRIVATE | vm::MAP_ANONYMOUS | vm::MAP_GROWSDOWN,
        ANON | vm::VMA_AREA_STACK,
        0,
        0,
    ));
    p.vmas.push(ckpt::vma(
        0x40_0000,
        0x40_1000,
        5,
        vm::MAP_PRIVATE,
        vm::VMA_AREA_REGULAR | vm::VMA_FILE_PRIVATE,
        1,
        0x1000,
    ));
    p.vmas.push(ckpt::vma(
        0x50_0000,
        0x50_1000,
        7,
        vm::MAP_PRIVATE | vm::MAP_ANONYMOUS,
        ANON,
        0,
        0,
    ));
    p.exe_file_id = 1;
    p.fds = vec![(0, 2, FdTypes::Pipe), (1, 1, FdTypes::Reg)];
    p.cwd_root = (1, 1);
    let mut c = one_proc(p);
    c.files.push(ckpt::pipe_file(2, 777));
    let ck = open(&c);
    let procs = ck.processes().unwrap();
    assert_eq!(procs[0].cmdline, ["/bin/app", "--flag", "x\x1b[31my"]);
    assert_eq!(procs[0].exe.as_deref(), Some("/bin/app"));
    assert_eq!(ck.environment(1).unwrap(), ["A=1", "TOKEN=s3cr3t"]);
    let maps = ck.maps(1).unwrap();
    let kinds: Vec<String> = maps
        .iter()
        .map(|v| format!("{:?}:{}", v.kind, v.path.clone().unwrap_or_default()))
        .collect();
    assert_eq!(kinds, ["File:/bin/app", "Anon:", "Anon:", "Stack:[stack]"]);
    assert!(maps[1].is_suspicious());
    assert_eq!(maps[0].pgoff, 0x1000);
    let files = ck.files(1).unwrap();
    let names: Vec<(Option<i64>, &str)> = files.iter().map(|f| (f.fd, f.path.as_str())).collect();
    assert_eq!(
        names,
        [
            (Some(0), "pipe:[777]"),
            (Some(1), "/bin/app"),
            (None, "/bin/app"),
            (None, "/bin/app")
        ]
    );
}

#[test]
fn shared_anonymous_memory_comes_from_its_shmem_object() {
    let mut p = base_proc(5);
    p.poke(BASE, b"private");
    let shm = BASE + 0x10_0000;
    p.vmas.push(ckpt::vma(
        shm,
        shm + 2 * PAGE_SIZE,
        3,
        vm::MAP_SHARED | vm::MAP_ANONYMOUS,
        vm::VMA_AREA_REGULAR | vm::VMA_ANON_SHARED,
        77,
        PAGE_SIZE,
    ));
    let mut c = one_proc(p);
    let mut page = vec![0u8; PAGE_SIZE as usize];
    page[..13].copy_from_slice(b"SHARED_SECRET");
    // Object offset 0x1000 is mapped at the VMA's start (pgoff = one page).
    c.shmem
        .push((77, 40, [(PAGE_SIZE, page)].into_iter().collect()));
    let ck = open(&c);
    let mut buf = [0u8; 13];
    let got = ck.read_memory(5, shm, &mut buf).unwrap();
    assert_eq!(got.captured_len(), 13);
    assert_eq!(&buf, b"SHARED_SECRET");
    assert_eq!(
        ck.captured_ranges(5, 0..u64::MAX).unwrap(),
        vec![BASE..BASE + PAGE_SIZE, shm..shm + PAGE_SIZE]
    );
    let req = SearchRequest {
        regex: regex::bytes::Regex::new("SHARED_[A-Z]+").unwrap(),
        pids: None,
    };
    let mut sink = Collect::default();
    search(&ck, &req, &AtomicBool::new(false), &mut sink).unwrap();
    assert_eq!(sink.hits.len(), 1);
    assert_eq!(sink.hits[0].address, shm);
    let maps = ck.maps(5).unwrap();
    assert_eq!(maps[1].kind, podmortem::engine::evidence::VmaKind::Shmem);
    assert_eq!(maps[1].perms.to_string(), "rw-s");
}

/// Replaces the bytes of one member of the synthetic archive and opens it again.
fn with_member(
    c: &ckpt::Checkpoint,
    name: &str,
    f: impl Fn(&mut Vec<u8>),
) -> Result<Checkpoint, String> {
    let mut members = c.members();
    let m = members.iter_mut().find(|(n, _)| n == name).unwrap();
    f(&mut m.1);
    ckpt::open_tar("corrupt.tar", ckpt::tar_of(&members, &[])).map_err(|e| e.to_string())
}

#[test]
fn damaged_images_give_clear_errors_not_panics() {
    let mut p = base_proc(1);
    p.poke(BASE, b"data");
    let c = one_proc(p);
    // pstree with a bad magic: the open fails naming the file and the offset.
    let err = with_member(&c, "checkpoint/pstree.img", |d| d[4] ^= 0xff).unwrap_err();
    assert!(
        err.contains("checkpoint/pstree.img") && err.contains("offset 0x4"),
        "{err}"
    );
    // A size field claiming 4 GiB: no allocation, a truncation error with the offset.
    let ck = with_member(&c, "checkpoint/mm-1.img", |d| {
        d[8..12].copy_from_slice(&u32::MAX.to_le_bytes())
    })
    .unwrap();
    let w = ck.info().warnings.join("\n");
    assert!(
        w.contains("checkpoint/mm-1.img: truncated at offset 0x8"),
        "{w}"
    );
    // A truncated pages file: the missing pages are reported as not captured.
    let ck = with_member(&c, "checkpoint/pages-1.img", |d| d.truncate(100)).unwrap();
    let mut buf = [0u8; 4];
    assert_eq!(ck.read_memory(1, BASE, &mut buf).unwrap().captured_len(), 0);
    assert!(ck.info().warnings.iter().any(|w| w.contains("truncated")));
    // Every truncation of every image opens or fails cleanly.
    for (name, data) in c.members() {
        for cut in [
            0,
            1,
            4,
            7,
            8,
            9,
            12,
            data.len() / 2,
            data.len().saturating_sub(1),
        ] {
            if cut >= data.len() {
                continue;
            }
            let r = with_member(&c, &name, |d| d.truncate(cut));
            if let Ok(ck) = r {
                let _ = ck.processes();
                let _ = ck.maps(1);
                let _ = ck.environment(1);
                let _ = ck.files(1);
                let _ = ck.entries();
            }
        }
    }
    // Garbage protobuf inside a valid frame.
    let ck = with_member(&c, "checkpoint/core-1.img", |d| {
        let n = d.len();
        for b in &mut d[12..n] {
            *b = 0xff;
        }
    })
    .unwrap();
    assert!(
        ck.info()
            .warnings
            .iter()
            .any(|w| w.contains("core-1.img") && w.contains("cannot decode"))
    );
}

#[test]
fn damaged_descriptor_table_is_a_problem_not_an_empty_list() {
    let mut p = base_proc(1);
    p.fds = vec![(0, 1, FdTypes::Reg)];
    p.cwd_root = (1, 1);
    let c = one_proc(p);
    let ck = open(&c);
    let files = ck.files(1).unwrap();
    assert!(files.is_complete(), "{:?}", files.problems);
    assert_eq!(files.len(), 3);
    let name = c
        .members()
        .into_iter()
        .map(|(n, _)| n)
        .find(|n| n.contains("fdinfo-"))
        .unwrap();
    // A bad magic: the cwd and root are still listed, the damage is reported with them.
    let ck = with_member(&c, &name, |d| d[4] ^= 0xff).unwrap();
    let files = ck.files(1).unwrap();
    assert_eq!(files.len(), 2);
    assert!(
        files.problems.len() == 1 && files.problems[0].contains("fdinfo-"),
        "{:?}",
        files.problems
    );
}
