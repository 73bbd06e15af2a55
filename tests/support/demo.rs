//! The bundled demo evidence (`assets/demo-checkpoint.tar`): a small synthetic Podman
//! checkpoint of a web container with something to find in every pane: a process tree with
//! threads, a listening socket, secrets in memory, a writable+executable anonymous mapping,
//! and filesystem changes including a dropped binary and a deleted file.
#![allow(dead_code, clippy::unwrap_used)]

use podmortem::engine::checkpoint::pagemap::{PAGE_SIZE, PE_LAZY, PE_PRESENT};
use podmortem::engine::checkpoint::proto::{self, FdTypes, mm as vm};
use serde_json::json;

use super::ckpt::{Checkpoint, Pm, Proc, pipe_file, reg_file, vma};

const ANON: u32 = vm::VMA_AREA_REGULAR | vm::VMA_ANON_PRIVATE;
const FILE: u32 = vm::VMA_AREA_REGULAR | vm::VMA_FILE_PRIVATE;
const PRIV_ANON: u32 = vm::MAP_PRIVATE | vm::MAP_ANONYMOUS;

/// Address of the API key in the server's heap.
pub const SECRET_ADDR: u64 = 0x5600_0000_3010;
/// The secret itself.
pub const SECRET: &str = "DEMO_API_KEY_4242";
/// Container id of the demo.
pub const ID: &str = "5eed0de70000000000000000000000000000000000000000000000000000d3m0";

/// A listening TCP socket object.
pub fn inet_listener(id: u32, ino: u32, port: u32) -> proto::FileEntry {
    proto::FileEntry {
        r#type: FdTypes::Inetsk as i32,
        id,
        isk: Some(proto::InetSkEntry {
            id,
            ino,
            family: 2,
            r#type: 1,
            proto: 6,
            state: 10,
            src_port: port,
            src_addr: vec![0],
            dst_addr: vec![0],
            backlog: 128,
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// A process with executable mappings, a stack and a vdso; `base` is where the executable
/// is mapped, `stack` the top of the stack.
pub fn process(pid: u32, ppid: u32, comm: &str, exe_id: u32, base: u64, stack: u64) -> Proc {
    let mut p = Proc {
        pid,
        ppid,
        pgid: 1,
        sid: 1,
        threads: vec![(pid, comm.to_string())],
        comm: comm.to_string(),
        uid: 1000,
        gid: 1000,
        files_id: pid,
        exe_file_id: exe_id,
        cwd_root: (4, 5),
        start_stack: stack - 0x800,
        ..Default::default()
    };
    p.vmas = vec![
        vma(
            base,
            base + PAGE_SIZE,
            1,
            vm::MAP_PRIVATE,
            FILE,
            u64::from(exe_id),
            0,
        ),
        vma(
            base + PAGE_SIZE,
            base + 3 * PAGE_SIZE,
            5,
            vm::MAP_PRIVATE,
            FILE,
            u64::from(exe_id),
            0x1000,
        ),
        vma(
            base + 3 * PAGE_SIZE,
            base + 4 * PAGE_SIZE,
            3,
            vm::MAP_PRIVATE,
            FILE,
            u64::from(exe_id),
            0x3000,
        ),
        vma(
            stack - 4 * PAGE_SIZE,
            stack,
            3,
            PRIV_ANON | vm::MAP_GROWSDOWN,
            ANON | vm::VMA_AREA_STACK,
            0,
            0,
        ),
        vma(
            0x7ffc_0000_0000,
            0x7ffc_0000_2000,
            5,
            PRIV_ANON,
            vm::VMA_AREA_REGULAR | vm::VMA_AREA_VDSO,
            0,
            0,
        ),
    ];
    p.poke(base, b"\x7fELF\x02\x01\x01");
    p.poke(base + 3 * PAGE_SIZE, &[0x2a; 64]);
    p
}

/// Builds the demo checkpoint.
pub fn demo() -> Checkpoint {
    let env = [
        "PATH=/usr/local/bin:/usr/bin:/bin",
        "HOSTNAME=demo-web",
        "container=podman",
        "HOME=/home/app",
    ];

    let mut sh = process(1, 0, "sh", 1, 0x5555_0000_0000, 0x7ffd_0000_0000);
    sh.arg = sh.strings(
        0x7ffd_0000_0000 - 0x800,
        &[
            "/bin/sh",
            "-c",
            "/app/server.py --port 8080 2>&1 | tee /var/log/app.log",
        ],
    );
    sh.env = sh.strings(0x7ffd_0000_0000 - 0x700, &env);
    sh.fds = vec![
        (0, 6, FdTypes::Reg),
        (1, 7, FdTypes::Pipe),
        (2, 7, FdTypes::Pipe),
    ];

    let heap = 0x5600_0000_0000;
    let mut srv = process(
        7,
        1,
        "server.py",
        2,
        0x5600_0000_0000 - 0x10_0000,
        0x7ffe_0000_0000,
    );
    srv.threads = vec![
        (7, "server.py".into()),
        (9, "worker-1".into()),
        (10, "worker-2".into()),
    ];
    srv.brk = (heap, heap + 8 * PAGE_SIZE);
    srv.vmas.push(vma(
        heap,
        heap + 8 * PAGE_SIZE,
        3,
        PRIV_ANON,
        ANON | vm::VMA_AREA_HEAP,
        0,
        0,
    ));
    // A writable and executable anonymous region: what malfind would flag.
    let rwx = 0x7f00_dead_0000;
    srv.vmas
        .push(vma(rwx, rwx + 2 * PAGE_SIZE, 7, PRIV_ANON, ANON, 0, 0));
    srv.arg = srv.strings(
        0x7ffe_0000_0000 - 0x800,
        &["/usr/bin/python3", "/app/server.py", "--port", "8080"],
    );
    srv.env = srv.strings(
        0x7ffe_0000_0000 - 0x700,
        &[env[0], env[1], env[2], env[3], "DB_PASSWORD=hunter2-demo"],
    );
    srv.poke(
        heap + 0x10,
        b"GET /admin?token=DEMO_TOKEN_1337 HTTP/1.1\r\nHost: demo-web\r\n\r\n",
    );
    srv.poke(SECRET_ADDR - 8, b"api_key=");
    srv.poke(SECRET_ADDR, SECRET.as_bytes());
    // A string that spans two pages of the heap.
    srv.poke(heap + 2 * PAGE_SIZE - 8, b"session=CROSS_PAGE_SESSION_77");
    srv.poke(heap + 5 * PAGE_SIZE, &[0u8; 16]);
    srv.poke(
        heap + 5 * PAGE_SIZE + 64,
        b"\x00\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\x0f\x10\x7f\x80\xfe\xff",
    );
    let mut shellcode = vec![0x90u8; 32];
    shellcode
        .extend_from_slice(b"\x48\x31\xc0\x50\x48\xbb/bin//sh\x53\x48\x89\xe7\xb0\x3b\x0f\x05");
    srv.poke(rwx, &shellcode);
    srv.fds = vec![
        (0, 6, FdTypes::Reg),
        (1, 8, FdTypes::Pipe),
        (2, 8, FdTypes::Pipe),
        (3, 9, FdTypes::Inetsk),
        (4, 10, FdTypes::Reg),
    ];
    // Pagemap: the heap's 4th page was never touched (not dumped: zero page), the 7th is
    // lazy (left in the source process), so the hex view shows `??` there.
    let mut pm: Vec<Pm> = Vec::new();
    for (&page, _) in srv.mem.iter() {
        if page == heap + 6 * PAGE_SIZE {
            continue;
        }
        match pm.last_mut() {
            Some(last) if last.vaddr + last.nr_pages * PAGE_SIZE == page => last.nr_pages += 1,
            _ => pm.push(Pm {
                vaddr: page,
                nr_pages: 1,
                flags: Some(PE_PRESENT),
                in_parent: None,
                compat: false,
            }),
        }
    }
    pm.push(Pm {
        vaddr: heap + 6 * PAGE_SIZE,
        nr_pages: 1,
        flags: Some(PE_LAZY),
        in_parent: None,
        compat: false,
    });
    pm.sort_by_key(|e| e.vaddr);
    srv.pagemap = Some(pm);
    srv.pages_id = 2;

    let mut tee = process(8, 1, "tee", 3, 0x5557_0000_0000, 0x7fff_0000_0000);
    tee.arg = tee.strings(0x7fff_0000_0000 - 0x800, &["tee", "/var/log/app.log"]);
    tee.env = tee.strings(0x7fff_0000_0000 - 0x700, &env);
    tee.fds = vec![
        (0, 8, FdTypes::Pipe),
        (1, 7, FdTypes::Pipe),
        (3, 11, FdTypes::Reg),
    ];
    tee.pages_id = 3;

    // A process whose name carries a terminal escape sequence: it must show escaped.
    let mut evil = process(
        12,
        7,
        "x\u{1b}]0;pwned\u{7}",
        12,
        0x5558_0000_0000,
        0x7ffa_0000_0000,
    );
    evil.arg = evil.strings(
        0x7ffa_0000_0000 - 0x800,
        &["/tmp/.x", "\u{1b}[2J\u{1b}[31mgotcha"],
    );
    evil.env = evil.strings(0x7ffa_0000_0000 - 0x700, &["PATH=/tmp"]);
    evil.pages_id = 4;
    evil.uid = 0;
    evil.gid = 0;

    Checkpoint {
        procs: vec![sh, srv, tee, evil],
        files: vec![
            reg_file(1, "/usr/bin/dash", 0o100755),
            reg_file(2, "/usr/bin/python3.11", 0o100755),
            reg_file(3, "/usr/bin/tee", 0o100755),
            reg_file(4, "/app", 0o040755),
            reg_file(5, "/", 0o040755),
            reg_file(6, "/dev/null", 0o020666),
            pipe_file(7, 31337),
            pipe_file(8, 31338),
            inet_listener(9, 40001, 8080),
            reg_file(10, "/app/data/users.db", 0o100600),
            reg_file(11, "/var/log/app.log", 0o100644),
            reg_file(12, "/tmp/.x", 0o100755),
        ],
        rootfs: vec![
            ("var/log/app.log".into(), b"server.py listening on 8080\n10.88.0.1 - - \"GET /admin?token=DEMO_TOKEN_1337 HTTP/1.1\" 200 -\n".to_vec(), 0o644),
            ("tmp/.x".into(), b"\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00\x3e\x00dropped-payload".to_vec(), 0o755),
            ("etc/passwd".into(), b"root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\nbackdoor:x:0:0::/root:/bin/sh\n".to_vec(), 0o644),
            ("app/data/users.db".into(), b"SQLite format 3\x00demo".to_vec(), 0o600),
        ],
        deleted: vec!["/usr/bin/curl".into()],
        config_dump: Some(json!({
            "id": ID,
            "name": "demo-web",
            "rootfsImageName": "localhost/demo/web:1.0",
            "rootfsImageRef": "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
            "runtime": "runc",
            "createdTime": "2026-11-20T09:00:00.000000000Z",
            "checkpointedTime": "2026-11-20T09:30:00.000000000Z",
        })),
        spec_dump: Some(json!({
            "ociVersion": "1.0.2-dev",
            "hostname": "demo-web",
            "process": {
                "args": ["/bin/sh", "-c", "/app/server.py --port 8080 2>&1 | tee /var/log/app.log"],
                "env": env,
                "cwd": "/app",
                "user": {"uid": 1000, "gid": 1000}
            },
            "mounts": [
                {"destination": "/proc", "type": "proc", "source": "proc"},
                {"destination": "/app/data", "type": "bind", "source": "/srv/demo/data"}
            ],
            "annotations": {
                "io.container.manager": "libpod",
                "io.kubernetes.pod.name": "demo-web-7d4b9",
                "io.kubernetes.pod.namespace": "demo",
                "io.kubernetes.pod.uid": "8a1e2f4c-0000-4000-8000-00000000d3m0",
                "io.kubernetes.container.name": "web"
            }
        })),
        hostname: "demo-web".into(),
        ..Default::default()
    }
}
