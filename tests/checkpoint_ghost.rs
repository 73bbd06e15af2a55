//! Deleted-but-open files (CRIU's ghost files) and memfd names, on synthetic checkpoints
//! written the way CRIU writes them (`remap-fpath.img`, `ghost-file-<hex id>.img` with the
//! contents raw or in chunks, `memfd.img`): the deleted file is listed under its original
//! path, marked, and reads back byte for byte; its descriptor and memory areas say
//! `(deleted)` as /proc does; a memfd is `/memfd:NAME (deleted)`. Bytes in flight on
//! sockets (`tcp-stream-<hex inode>.img`, `sk-queues.img`) are in the sockets' details.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use crate::support;

use podmortem::engine::capability::container_fs;
use podmortem::engine::checkpoint::Checkpoint;
use podmortem::engine::checkpoint::image::{IMG_COMMON, magic};
use podmortem::engine::checkpoint::pagemap::PAGE_SIZE;
use podmortem::engine::checkpoint::proto::{
    self, FdTypes, GhostChunkEntry, GhostFileEntry, RemapFilePathEntry, mm as vm,
};
use podmortem::engine::evidence::Evidence;
use prost::Message;
use support::ckpt::{self, Proc};

const BASE: u64 = 0x7f00_0000_0000;

/// `entry` framed with its size, then `raw` bytes.
fn framed(out: &mut Vec<u8>, entry: &impl Message, raw: &[u8]) {
    let bytes = entry.encode_to_vec();
    out.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
    out.extend_from_slice(&bytes);
    out.extend_from_slice(raw);
}

fn ghost_entry(size: usize, chunks: bool) -> GhostFileEntry {
    GhostFileEntry {
        uid: 1000,
        gid: 1000,
        mode: 0o100755,
        dev: Some(0x30),
        ino: Some(4242),
        mtim: Some(proto::ghost::Timeval {
            tv_sec: 1_763_880_000,
            tv_usec: Some(0),
        }),
        chunks: chunks.then_some(true),
        size: chunks.then_some(size as u64),
        ..Default::default()
    }
}

/// A ghost image of `content`, raw after the entry or in chunks that skip the zero runs.
fn ghost_image(content: &[u8], chunks: bool) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&IMG_COMMON.to_le_bytes());
    out.extend_from_slice(&magic::GHOST_FILE.to_le_bytes());
    framed(&mut out, &ghost_entry(content.len(), chunks), &[]);
    if !chunks {
        out.extend_from_slice(content);
        return out;
    }
    // Data runs of the content (a hole is 4 KiB of zeros), as CRIU's SEEK_DATA walk writes.
    let mut off = 0;
    while off < content.len() {
        let page = &content[off..(off + 4096).min(content.len())];
        if page.iter().all(|&b| b == 0) {
            off += page.len();
            continue;
        }
        let chunk = GhostChunkEntry {
            len: page.len() as u64,
            off: off as u64,
        };
        framed(&mut out, &chunk, page);
        off += page.len();
    }
    out
}

/// Where the memfd is mapped shared (two pages).
pub(crate) const MEMFD_MAP: u64 = 0x7f10_0000_0000;

/// What the memfd holds: [`MEMFD_SIZE`] bytes over two pages.
pub(crate) fn memfd_contents() -> Vec<u8> {
    let mut v = b"MEMFD_SECRET:".to_vec();
    v.resize(MEMFD_SIZE as usize - 9, b'.');
    v.extend_from_slice(b"MEMFD_END");
    v
}

/// Size of the memfd.
pub(crate) const MEMFD_SIZE: u64 = PAGE_SIZE + 100;

/// A checkpoint whose process has `/tmp/ghost.bin` open (fd 3) and mapped though it was
/// deleted (ghost id 0x1a), a memfd named `payload` (fd 4, also mapped shared at
/// [`MEMFD_MAP`], its contents in shared-memory object 77), a TCP connection with bytes in
/// both queues (fd 5) and a unix socket with two packets queued (fd 6).
pub(crate) fn checkpoint(content: &[u8], chunks: bool) -> Checkpoint {
    let mut p = Proc {
        pid: 1,
        pgid: 1,
        sid: 1,
        threads: vec![(1, "app".into())],
        comm: "app".into(),
        files_id: 1,
        exe_file_id: 3,
        vmas: vec![
            ckpt::vma(
                0x40_0000,
                0x40_1000,
                5,
                vm::MAP_PRIVATE,
                vm::VMA_AREA_REGULAR | vm::VMA_FILE_PRIVATE,
                3,
                0,
            ),
            ckpt::vma(
                BASE,
                BASE + PAGE_SIZE,
                3,
                vm::MAP_PRIVATE | vm::MAP_ANONYMOUS,
                vm::VMA_AREA_REGULAR | vm::VMA_ANON_PRIVATE,
                0,
                0,
            ),
            ckpt::vma(
                MEMFD_MAP,
                MEMFD_MAP + 2 * PAGE_SIZE,
                3,
                vm::MAP_SHARED,
                vm::VMA_AREA_REGULAR | vm::VMA_AREA_MEMFD,
                4,
                0,
            ),
        ],
        fds: vec![
            (3, 3, FdTypes::Reg),
            (4, 4, FdTypes::Memfd),
            (5, 5, FdTypes::Inetsk),
            (6, 6, FdTypes::Unixsk),
        ],
        cwd_root: (1, 1),
        ..Default::default()
    };
    p.poke(BASE, b"x");
    let memfd = proto::FileEntry {
        r#type: FdTypes::Memfd as i32,
        id: 4,
        memfd: Some(proto::MemfdFileEntry {
            id: 4,
            flags: 2,
            pos: 0,
            fown: None,
            inode_id: 9,
        }),
        ..Default::default()
    };
    // An established TCP connection (inode 0x9c41) and a connected unix stream socket.
    let mut tcp = support::demo::inet_listener(5, 0x9c41, 40000);
    if let Some(sk) = tcp.isk.as_mut() {
        sk.state = 1;
        sk.dst_port = 443;
        sk.dst_addr = vec![0x0100_000a];
    }
    let unix = proto::FileEntry {
        r#type: FdTypes::Unixsk as i32,
        id: 6,
        usk: Some(proto::UnixSkEntry {
            id: 6,
            ino: 555,
            r#type: 1,
            state: 1,
            peer: 556,
            name: b"/run/agent.sock\0".to_vec(),
            ..Default::default()
        }),
        ..Default::default()
    };
    let c = ckpt::Checkpoint {
        procs: vec![p],
        files: vec![
            ckpt::reg_file(1, "/", 0o40755),
            ckpt::reg_file(3, "/tmp/ghost.bin", 0o100755),
            memfd,
            tcp,
            unix,
        ],
        hostname: "ghost".into(),
        shmem: vec![(77, 90, {
            let mut pages = memfd_contents();
            pages.resize(2 * PAGE_SIZE as usize, 0);
            let (a, b) = pages.split_at(PAGE_SIZE as usize);
            [(0, a.to_vec()), (PAGE_SIZE, b.to_vec())].into()
        })],
        ..Default::default()
    };
    let mut members = c.members();
    members.push((
        "checkpoint/remap-fpath.img".into(),
        ckpt::image(
            &[IMG_COMMON, magic::REMAP_FPATH],
            &[RemapFilePathEntry {
                orig_id: 3,
                remap_id: 0x1a,
                remap_type: Some(proto::ghost::remap_type::GHOST),
            }],
        ),
    ));
    members.push((
        "checkpoint/ghost-file-1a.img".into(),
        ghost_image(content, chunks),
    ));
    members.push((
        "checkpoint/memfd.img".into(),
        ckpt::image(
            &[IMG_COMMON, magic::MEMFD_INODE],
            &[proto::MemfdInodeEntry {
                name: b"payload".to_vec(),
                uid: 0,
                gid: 0,
                size: MEMFD_SIZE,
                shmid: 77,
                seals: 0,
                inode_id: 9,
                mode: Some(0o100777),
            }],
        ),
    ));
    let mut stream = Vec::new();
    stream.extend_from_slice(&IMG_COMMON.to_le_bytes());
    stream.extend_from_slice(&magic::TCP_STREAM.to_le_bytes());
    framed(
        &mut stream,
        &proto::TcpStreamEntry {
            inq_len: 12,
            outq_len: 13,
            ..Default::default()
        },
        b"GET /cmd\r\n\r\nEXFIL:secrets",
    );
    members.push(("checkpoint/tcp-stream-9c41.img".into(), stream));
    let mut queues = Vec::new();
    queues.extend_from_slice(&IMG_COMMON.to_le_bytes());
    queues.extend_from_slice(&magic::SK_QUEUES.to_le_bytes());
    for packet in [&b"hello "[..], &b"agent"[..]] {
        let pe = proto::SkPacketEntry {
            id_for: 6,
            length: packet.len() as u32,
            scm: Vec::new(),
        };
        framed(&mut queues, &pe, packet);
    }
    members.push(("checkpoint/sk-queues.img".into(), queues));
    ckpt::open_tar("ghost.tar", ckpt::tar_of(&members, &[])).unwrap()
}

pub(crate) fn payload() -> Vec<u8> {
    // Two data pages around a hole, and a short tail.
    let mut v = vec![0u8; 3 * 4096 + 100];
    v[..4096].fill(0x7f);
    v[..4].copy_from_slice(b"\x7fELF");
    v[2 * 4096..].fill(0xcc);
    v
}

#[test]
fn a_deleted_open_file_is_listed_marked_and_readable() {
    for chunks in [false, true] {
        let content = payload();
        let ck = checkpoint(&content, chunks);
        assert!(ck.info().warnings.is_empty(), "{:?}", ck.info().warnings);
        let fs = container_fs(&ck).unwrap();
        let entries = fs.entries().unwrap();
        let e = entries.iter().find(|e| e.path == "tmp/ghost.bin").unwrap();
        assert!(e.deleted_while_open && !e.deleted, "chunks {chunks}");
        assert_eq!(e.layer(), "ghost");
        assert_eq!(e.origin, "checkpoint/ghost-file-1a.img");
        assert_eq!((e.size, e.mode, e.uid), (content.len() as u64, 0o755, 1000));
        assert_eq!(e.mtime, 1_763_880_000);
        assert_eq!(&*fs.read_file("/tmp/ghost.bin").unwrap(), &content[..]);
        // /proc's view: the descriptor, the executable and its mapping say (deleted).
        let files = ck.files(1).unwrap();
        let fd = |n: i64| {
            files
                .items
                .iter()
                .find(|f| f.fd == Some(n))
                .unwrap()
                .path
                .clone()
        };
        assert_eq!(fd(3), "/tmp/ghost.bin (deleted)");
        assert_eq!(fd(4), "/memfd:payload (deleted)");
        let procs = ck.processes().unwrap();
        assert_eq!(procs[0].exe.as_deref(), Some("/tmp/ghost.bin (deleted)"));
        let maps = ck.maps(1).unwrap();
        assert_eq!(
            maps.items[0].path.as_deref(),
            Some("/tmp/ghost.bin (deleted)")
        );
    }
}

#[test]
fn bytes_in_flight_are_in_the_sockets_details() {
    let ck = checkpoint(&payload(), false);
    assert!(ck.info().warnings.is_empty(), "{:?}", ck.info().warnings);
    let files = ck.files(1).unwrap();
    let fd = |n: i64| files.items.iter().find(|f| f.fd == Some(n)).unwrap();
    let tcp = &fd(5).details;
    assert_eq!(tcp.recv_queue.as_deref(), Some(&b"GET /cmd\r\n\r\n"[..]));
    assert_eq!(tcp.send_queue.as_deref(), Some(&b"EXFIL:secrets"[..]));
    let unix = &fd(6).details;
    assert_eq!(unix.recv_queue.as_deref(), Some(&b"hello agent"[..]));
    assert_eq!(fd(6).path, "socket:[555]");
    let json = serde_json::to_value(unix).unwrap();
    assert_eq!(json["name"], "/run/agent.sock");
    assert_eq!(json["recv_queued"], 11);
    assert_eq!(json["recv_queue"], "68656c6c6f206167656e74");
}
