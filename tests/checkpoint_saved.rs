//! Bytes a checkpoint saved beyond memory are searched with it: socket queues (TCP data in
//! flight, unix sockets' packets), files deleted while open and memfds' contents are hits
//! in their own space (`"space":"socket"` with pid, fd, inode, queue and offset), found by
//! `podmortem search` and the workbench alike, on synthetic checkpoints and on the real
//! CRIU 4.2 dump of tests/data/criu-ghost. A memfd's contents are in its descriptor's
//! details and, where it is mapped shared, in the process's memory.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use crate::checkpoint_ghost::{MEMFD_MAP, MEMFD_SIZE, checkpoint, memfd_contents, payload};
use crate::support;

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

use podmortem::engine::checkpoint::Checkpoint;
use podmortem::engine::evidence::{Evidence, Pid};
use podmortem::engine::saved::{Queue, SavedKind};
use podmortem::engine::search::{Collect, Hit, SearchRequest, search};
use serde_json::{Value, json};

fn hits(ev: &dyn Evidence, re: &str, pids: Option<Vec<Pid>>) -> Vec<Hit> {
    let mut sink = Collect::default();
    let req = SearchRequest {
        regex: regex::bytes::Regex::new(re).unwrap(),
        pids,
    };
    search(ev, &req, &AtomicBool::new(false), &mut sink).unwrap();
    sink.hits
}

fn one(ev: &dyn Evidence, re: &str) -> Value {
    let found = hits(ev, re, None);
    assert_eq!(found.len(), 1, "{re}: {found:?}");
    serde_json::to_value(&found[0]).unwrap()
}

#[test]
fn socket_queues_ghost_files_and_memfds_are_searched() {
    let ck = checkpoint(&payload(), false);
    assert!(ck.info().warnings.is_empty(), "{:?}", ck.info().warnings);
    let socket = |fd: i64, inode: u64, queue: &str, origin: &str, size: u64, offset: u64| {
        json!({"space": "socket", "pid": 1, "comm": "app", "fd": fd, "inode": inode,
               "queue": queue, "path": format!("socket:[{inode}]"), "origin": origin,
               "size": size, "offset": offset})
    };
    let strip = |mut v: Value| {
        v.as_object_mut().unwrap().remove("len");
        v
    };
    let tcp = "checkpoint/tcp-stream-9c41.img";
    assert_eq!(
        strip(one(&ck, "GET /cmd")),
        socket(5, 0x9c41, "recv", tcp, 12, 0)
    );
    assert_eq!(
        strip(one(&ck, "secrets")),
        socket(5, 0x9c41, "send", tcp, 13, 6)
    );
    // Two packets queued on the unix socket read as one stream.
    let unix = "checkpoint/sk-queues.img";
    assert_eq!(
        strip(one(&ck, "hello agent")),
        socket(6, 555, "recv", unix, 11, 0)
    );
    // The file deleted while open, by its descriptor, whatever its image's layout.
    for chunks in [false, true] {
        let ck = checkpoint(&payload(), chunks);
        let ghost = one(&ck, r"(?-u)\x7fELF");
        assert_eq!(ghost["space"], "ghost_file");
        assert_eq!(ghost["path"], "/tmp/ghost.bin (deleted)");
        assert_eq!(ghost["origin"], "checkpoint/ghost-file-1a.img");
        assert_eq!(
            (ghost["pid"].clone(), ghost["fd"].clone()),
            (json!(1), json!(3))
        );
        assert_eq!(ghost["size"], payload().len());
        assert_eq!(ghost["offset"], 0);
    }
    // The memfd: in its own contents, and in the memory that maps it shared.
    let found = hits(&ck, "MEMFD_END", None);
    let places: Vec<(Option<u64>, Option<SavedKind>, u64)> = found
        .iter()
        .map(|h| {
            (
                h.process().and(Some(h.address)),
                h.saved().map(|o| o.kind),
                h.address,
            )
        })
        .collect();
    let end = MEMFD_SIZE - 9;
    assert_eq!(
        places,
        [
            (Some(MEMFD_MAP + end), None, MEMFD_MAP + end),
            (None, Some(SavedKind::Memfd), end),
        ]
    );
    let memfd = found[1].saved().unwrap();
    assert_eq!(memfd.path, "/memfd:payload (deleted)");
    assert_eq!(
        (memfd.pid, memfd.fd, memfd.size),
        (Some(1), Some(4), MEMFD_SIZE)
    );
    assert_eq!(memfd.origin, "checkpoint/pages-90.img");
    assert_eq!(
        found[0].process().unwrap().path.as_deref(),
        Some("/memfd:payload (deleted)")
    );
}

#[test]
fn a_memfd_is_readable_from_its_details_and_its_mapping() {
    let ck = checkpoint(&payload(), false);
    let files = ck.files(1).unwrap();
    let fd4 = files.items.iter().find(|f| f.fd == Some(4)).unwrap();
    assert_eq!(fd4.details.size, Some(MEMFD_SIZE));
    // The first 4 KiB in the details (all of it through search and the mapping).
    let head = fd4.details.contents.as_deref().unwrap();
    assert!(head == &memfd_contents()[..4096], "{} bytes", head.len());
    let json = serde_json::to_value(&fd4.details).unwrap();
    assert!(
        json["contents"]
            .as_str()
            .unwrap()
            .starts_with("4d454d46445f")
    );
    let mut buf = vec![0u8; MEMFD_SIZE as usize];
    let got = ck.read_memory(1, MEMFD_MAP, &mut buf).unwrap();
    assert_eq!(got.captured_len(), buf.len());
    assert!(buf == memfd_contents());
}

/// A hit in saved bytes: kind, holder pid and fd, queue, origin, offset.
type Place = (
    SavedKind,
    Option<Pid>,
    Option<i64>,
    Option<Queue>,
    String,
    u64,
);

/// The real dump of pm-ghost (tests/data/criu-ghost/README.md).
fn criu_ghost() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/criu-ghost")
}

#[test]
fn what_pm_ghost_left_in_flight_is_found_in_the_real_dump() {
    let ck = Checkpoint::open(&criu_ghost()).unwrap();
    let saved = |re: &str, pids: Option<Vec<Pid>>| -> Vec<Place> {
        hits(&ck, re, pids)
            .iter()
            .filter_map(|h| {
                let o = h.saved()?;
                Some((o.kind, o.pid, o.fd, o.queue, o.origin.clone(), h.address))
            })
            .collect()
    };
    let (parent, child) = (Some(16951), Some(16957));
    use SavedKind::*;
    assert_eq!(
        saved("TCP_REPLY_UNREAD", None),
        [(
            Socket,
            parent,
            Some(7),
            Some(Queue::Recv),
            "checkpoint/tcp-stream-b14a6.img".into(),
            0
        )]
    );
    assert_eq!(
        saved("UNIX_QUEUED_MSG", None),
        [(
            Socket,
            parent,
            Some(9),
            Some(Queue::Recv),
            "checkpoint/sk-queues.img".into(),
            0
        )]
    );
    // The stream: its head unread by the child, its tail unsent by the parent.
    assert_eq!(
        saved(r"TCP_SENDQ_000(000|772)\|", None),
        [
            (
                Socket,
                parent,
                Some(7),
                Some(Queue::Send),
                "checkpoint/tcp-stream-b14a6.img".into(),
                6912
            ),
            (
                Socket,
                child,
                Some(3),
                Some(Queue::Recv),
                "checkpoint/tcp-stream-b14a7.img".into(),
                0
            ),
        ]
    );
    // 773 records of 17 bytes; the child's 6212 bytes end 7 bytes into the 366th.
    assert_eq!(
        saved("TCP_SENDQ_", None).len(),
        772,
        "the record cut in two is in neither"
    );
    assert_eq!(
        saved("GHOST_PAYLOAD_|SPARSE_TAIL", None),
        [
            (
                GhostFile,
                parent,
                Some(3),
                None,
                "checkpoint/ghost-file-1.img".into(),
                0
            ),
            (
                GhostFile,
                parent,
                Some(4),
                None,
                "checkpoint/ghost-file-2.img".into(),
                40960
            ),
        ]
    );
    assert_eq!(
        saved("MEMFD_PAYLOAD", None),
        [(
            Memfd,
            parent,
            Some(5),
            None,
            "checkpoint/pages-1.img".into(),
            0
        )]
    );
    // The child's own search sees only what it held: its end of the connection, and the
    // deleted file's mapping it inherited (no descriptor).
    let planted =
        "TCP_REPLY_UNREAD|UNIX_QUEUED_MSG|TCP_SENDQ_000(000|772)|GHOST_PAYLOAD_|MEMFD_PAYLOAD";
    assert_eq!(
        saved(planted, Some(vec![16957])),
        [
            (
                Socket,
                child,
                Some(3),
                Some(Queue::Recv),
                "checkpoint/tcp-stream-b14a7.img".into(),
                0
            ),
            (
                GhostFile,
                child,
                None,
                None,
                "checkpoint/ghost-file-1.img".into(),
                0
            ),
        ]
    );
    // The memfd's contents are in its descriptor's details.
    let files = ck.files(16951).unwrap();
    let fd5 = files.items.iter().find(|f| f.fd == Some(5)).unwrap();
    assert_eq!(fd5.details.contents.as_deref(), Some(&b"MEMFD_PAYLOAD"[..]));
    assert_eq!(fd5.details.size, Some(13));
}

#[test]
fn the_cli_and_the_workbench_find_the_same_hits() {
    use crossterm::event::KeyCode;
    let path = criu_ghost();
    let pattern = "TCP_REPLY_UNREAD|UNIX_QUEUED_MSG|TCP_SENDQ_00077|GHOST_PAYLOAD_|MEMFD_PAYLOAD";
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_podmortem"))
        .arg("search")
        .arg(&path)
        .args(["--regex", pattern, "--json"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let cli: Vec<Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| {
            let mut v: Value = serde_json::from_str(l).unwrap();
            let o = v.as_object_mut().unwrap();
            o.remove("match");
            o.remove("match_hex");
            v
        })
        .collect();
    assert!(cli.iter().any(|h| h["space"] == "socket"), "{cli:?}");
    assert!(cli.iter().any(|h| h["space"] == "memfd"), "{cli:?}");
    let data = tempfile::tempdir().unwrap();
    let mut h = support::tui::Harness::open(&path, data.path(), (120, 40));
    h.key(KeyCode::Char('4'));
    h.key(KeyCode::Char('/'));
    h.typing(pattern);
    h.key(KeyCode::Enter);
    let tui: Vec<Value> = h
        .app
        .search
        .hits
        .iter()
        .map(|hit| serde_json::to_value(hit).unwrap())
        .collect();
    assert_eq!(cli, tui);
    // The list names the socket and its queue; Enter shows its holder's details, where
    // the queued bytes are.
    let screen = h.screen();
    assert!(
        screen.contains("socket:[726182] recv queue, fd 7"),
        "{screen}"
    );
    let at = tui.iter().position(|v| v["space"] == "socket").unwrap();
    for _ in 0..at {
        h.key(KeyCode::Down);
    }
    h.key(KeyCode::Enter);
    let screen = h.screen();
    assert!(screen.contains("Process 16951"), "{screen}");
    assert!(screen.contains("received, unread: 16 bytes"), "{screen}");
    assert!(
        screen.contains("match at +0x0 of socket:[726182]"),
        "{screen}"
    );
}

#[test]
fn extract_writes_every_saved_object() {
    let out = tempfile::tempdir().unwrap();
    let o = out.path().join("x");
    let run = |extra: &[&str]| {
        let res = std::process::Command::new(env!("CARGO_BIN_EXE_podmortem"))
            .arg("extract")
            .arg(criu_ghost())
            .arg("-o")
            .arg(&o)
            .args(["--saved", "--json"])
            .args(extra)
            .output()
            .unwrap();
        assert!(res.status.success(), "{res:?}");
        serde_json::from_slice::<Value>(&res.stdout).unwrap()
    };
    let done = run(&[]);
    let files: Vec<(&str, &str)> = done
        .as_array()
        .unwrap()
        .iter()
        .map(|d| (d["path"].as_str().unwrap(), d["source"].as_str().unwrap()))
        .collect();
    assert_eq!(files.len(), 7, "{files:?}");
    let read = |name: &str| std::fs::read(o.join("saved").join(name)).unwrap();
    assert_eq!(read("07-memfd-pid16951-fd5.bin"), b"MEMFD_PAYLOAD");
    assert_eq!(read("01-socket-pid16951-fd7-recv.bin"), b"TCP_REPLY_UNREAD");
    assert_eq!(read("03-socket-pid16951-fd9-recv.bin"), b"UNIX_QUEUED_MSG");
    // The child's receive queue then the parent's send queue: the whole stream.
    let mut stream = read("04-socket-pid16957-fd3-recv.bin");
    stream.extend(read("02-socket-pid16951-fd7-send.bin"));
    let want: Vec<u8> = (0..773)
        .flat_map(|n| format!("TCP_SENDQ_{n:06}|").into_bytes())
        .collect();
    assert!(stream == want);
    assert!(read("05-ghost_file-pid16951-fd3.bin").starts_with(b"GHOST_PAYLOAD_"));
    // No overwriting without --force.
    let again = std::process::Command::new(env!("CARGO_BIN_EXE_podmortem"))
        .arg("extract")
        .arg(criu_ghost())
        .arg("-o")
        .arg(&o)
        .arg("--saved")
        .output()
        .unwrap();
    assert_eq!(again.status.code(), Some(1));
    assert_eq!(
        run(&["--force", "--pid", "16957"])
            .as_array()
            .unwrap()
            .len(),
        2
    );
}
