//! A real CRIU 4.2 checkpoint (tests/data/criu-ghost, made by scripts/make-criu-ghost.sh;
//! its README says what is planted where): the deleted-but-open files are listed once each
//! under their paths and read back byte for byte (one kept raw, one in chunks around holes),
//! their descriptors and mapping say `(deleted)`, the memfd is `/memfd:pm-memfd (deleted)`,
//! and the bytes in flight are in the sockets' details: both TCP queues of a loopback
//! connection (receive then send, in that order in the image) and a unix socket's queue.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::path::Path;

use podmortem::engine::capability::container_fs;
use podmortem::engine::checkpoint::Checkpoint;
use podmortem::engine::evidence::{Evidence, OpenFile};
use podmortem::engine::file_details::FileDetails;
use podmortem::engine::walk::Walk;

const PARENT: u32 = 16951;
const CHILD: u32 = 16957;

fn open() -> Checkpoint {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/criu-ghost");
    let ck = Checkpoint::open(&dir).unwrap();
    assert!(ck.info().warnings.is_empty(), "{:?}", ck.info().warnings);
    ck
}

/// What pm-ghost wrote to /tmp/pm-ghost.bin.
fn ghost_payload() -> Vec<u8> {
    let mut v = b"GHOST_PAYLOAD_".to_vec();
    v.extend((0..4096u32).map(|i| b'A' + (i % 26) as u8));
    v
}

/// The TCP stream pm-ghost wrote: 773 records `TCP_SENDQ_%06u|`.
fn tcp_stream() -> Vec<u8> {
    (0..773)
        .flat_map(|n| format!("TCP_SENDQ_{n:06}|").into_bytes())
        .collect()
}

#[test]
fn the_process_tree() {
    let ck = open();
    let procs = ck.processes().unwrap();
    let tree: Vec<_> = procs
        .iter()
        .map(|p| (p.pid, p.ppid, p.comm.as_str()))
        .collect();
    assert_eq!(tree, [(PARENT, 0, "pm-ghost"), (CHILD, PARENT, "pm-ghost")]);
}

#[test]
fn deleted_open_files_are_listed_once_and_read_back() {
    let ck = open();
    let fs = container_fs(&ck).unwrap();
    let entries = fs.entries().unwrap();
    let listed: Vec<_> = entries
        .iter()
        .map(|e| (e.path.as_str(), e.size, e.mode, e.origin.as_str()))
        .collect();
    // pm-ghost.bin is two file objects (the descriptor and the mapping), one ghost image.
    assert_eq!(
        listed,
        [
            (
                "tmp/pm-ghost.bin",
                4110,
                0o644,
                "checkpoint/ghost-file-1.img"
            ),
            (
                "tmp/pm-ghost-sparse.bin",
                65536,
                0o644,
                "checkpoint/ghost-file-2.img"
            ),
        ]
    );
    for e in &entries {
        assert!(e.deleted_while_open && !e.deleted, "{}", e.path);
        assert_eq!(e.layer(), "ghost");
        assert_eq!((e.uid, e.gid), (0, 0));
    }
    assert_eq!(
        &*fs.read_file("/tmp/pm-ghost.bin").unwrap(),
        &ghost_payload()[..]
    );
    let mut sparse = vec![0u8; 65536];
    sparse[..11].copy_from_slice(b"SPARSE_HEAD");
    sparse[40960..40971].copy_from_slice(b"SPARSE_TAIL");
    assert_eq!(
        &*fs.read_file("/tmp/pm-ghost-sparse.bin").unwrap(),
        &sparse[..]
    );
}

#[test]
fn descriptors_and_the_mapping_say_deleted() {
    let ck = open();
    let files = ck.files(PARENT).unwrap();
    let path = |n: i64| {
        files
            .items
            .iter()
            .find(|f| f.fd == Some(n))
            .unwrap()
            .path
            .clone()
    };
    assert_eq!(path(3), "/tmp/pm-ghost.bin (deleted)");
    assert_eq!(path(4), "/tmp/pm-ghost-sparse.bin (deleted)");
    assert_eq!(path(5), "/memfd:pm-memfd (deleted)");
    let maps = ck.maps(PARENT).unwrap();
    let mapped: Vec<_> = maps
        .items
        .iter()
        .filter_map(|v| v.path.as_deref())
        .filter(|p| p.starts_with("/tmp/pm-ghost.bin"))
        .collect();
    assert_eq!(mapped, ["/tmp/pm-ghost.bin (deleted)"]);
}

#[test]
fn bytes_in_flight_are_in_the_sockets_details() {
    let ck = open();
    let parent = ck.files(PARENT).unwrap();
    let child = ck.files(CHILD).unwrap();
    // The client: the reply it did not read, and the stream's tail the peer did not take.
    let client = fd(&parent, 7);
    assert_eq!(client.recv_queue.as_deref(), Some(&b"TCP_REPLY_UNREAD"[..]));
    let sent = client.send_queue.clone().unwrap();
    assert_eq!(sent.len(), 6929);
    // The accepted end, in the child: the stream's head. Head then tail is the stream.
    let server = fd(&child, 3);
    assert_eq!(server.send_queue, None);
    let mut stream = server.recv_queue.clone().unwrap();
    assert_eq!(stream.len(), 6212);
    stream.extend_from_slice(&sent);
    assert_eq!(stream, tcp_stream());
    let json = serde_json::to_value(&client).unwrap();
    assert_eq!(json["recv_queue"], hex(b"TCP_REPLY_UNREAD"));
    assert_eq!(json["send_queued"], 6929);
    assert_eq!(json["state"], "ESTABLISHED");
    assert_eq!(
        (json["src_port"].clone(), json["dst_port"].clone()),
        (49034.into(), 38075.into())
    );
    // The unix pair: the message waits on the reading end only.
    assert_eq!(fd(&parent, 8).recv_queue, None);
    let unix = fd(&parent, 9);
    assert_eq!(unix.recv_queue.as_deref(), Some(&b"UNIX_QUEUED_MSG"[..]));
    let json = serde_json::to_value(&unix).unwrap();
    assert_eq!(json["recv_queue"], hex(b"UNIX_QUEUED_MSG"));
    assert_eq!(json["recv_queued"], 15);
}

/// The details of descriptor `n` in `walk`.
fn fd(walk: &Walk<OpenFile>, n: i64) -> FileDetails {
    walk.items
        .iter()
        .find(|f| f.fd == Some(n))
        .unwrap()
        .details
        .clone()
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}
