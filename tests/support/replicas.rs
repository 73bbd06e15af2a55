//! Synthetic replicas of one workload for the peer diff: a process `app` mapping a
//! library with two captured code pages, an environment, workers, a rootfs diff; pids, ASLR
//! bases, hostnames and pipe inodes differ in every replica (noise), and one [`Plant`] per
//! replica adds a real difference.
#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing
)]

use crate::support::ckpt::{self, Proc};

use podmortem::engine::checkpoint::Checkpoint;
use podmortem::engine::checkpoint::pagemap::PAGE_SIZE;
use podmortem::engine::checkpoint::proto::{FdTypes, mm as vm};

const ANON: u32 = vm::VMA_AREA_REGULAR | vm::VMA_ANON_PRIVATE;
const FILE: u32 = vm::VMA_AREA_REGULAR | vm::VMA_FILE_PRIVATE;

/// What one replica has planted.
#[derive(Debug, Clone, Default)]
pub struct Plant {
    /// One byte of the library's second code page changed.
    pub patch_code: bool,
    /// An anonymous read-write-execute area.
    pub rwx: bool,
    /// More environment variables.
    pub env: Vec<&'static str>,
    /// Another `MODE` value.
    pub mode: Option<&'static str>,
    /// Other bytes for /etc/app.conf.
    pub conf: Option<&'static [u8]>,
    /// Child processes `/bin/app --worker` (with `WORKER=1` in their environment).
    pub workers: u32,
}

/// The second code page of /usr/lib/libdemo.so.
pub fn code_page() -> Vec<u8> {
    (0..PAGE_SIZE).map(|i| (i % 251) as u8).collect()
}

/// Replica `n`: one process `app` (pid, ASLR bases, hostname and pipe inode differ with
/// `n`) mapping /usr/lib/libdemo.so r-xp (two captured pages), with an environment and
/// /etc/app.conf in its rootfs diff.
pub fn replica_tar(n: u32, plant: &Plant) -> Vec<u8> {
    let pid = 1 + 10 * n;
    let shift = u64::from(n + 1) << 28;
    let data = 0x7f00_0000_0000 + shift;
    let code = 0x5500_0000_0000 + shift;
    let mut p: Proc = ckpt::anon_proc("app", data, 4);
    p.pid = pid;
    p.pgid = pid;
    p.sid = pid;
    p.threads = vec![(pid, "app".into())];
    p.arg = p.strings(data, &["/bin/app", "--serve"]);
    let host = format!("HOSTNAME=replica-{n}");
    let mode = format!("MODE={}", plant.mode.unwrap_or("prod"));
    let mut env = vec!["PATH=/usr/bin:/bin", host.as_str(), mode.as_str()];
    env.extend(&plant.env);
    p.env = p.strings(data + 0x200, &env);
    p.exe_file_id = 1;
    p.vmas.push(ckpt::vma(
        code,
        code + 2 * PAGE_SIZE,
        5,
        vm::MAP_PRIVATE,
        FILE,
        2,
        0x1000,
    ));
    p.poke(code, &vec![0x90; PAGE_SIZE as usize]);
    let mut page = code_page();
    if plant.patch_code {
        page[0x123] = 0xcc;
    }
    p.poke(code + PAGE_SIZE, &page);
    if plant.rwx {
        let at = data + 0x100_0000;
        p.vmas.push(ckpt::vma(
            at,
            at + PAGE_SIZE,
            7,
            vm::MAP_PRIVATE | vm::MAP_ANONYMOUS,
            ANON,
            0,
            0,
        ));
    }
    p.fds = vec![(0, 4, FdTypes::Pipe), (1, 4, FdTypes::Pipe)];
    p.cwd_root = (3, 3);
    let conf = plant.conf.unwrap_or(b"mode=prod\n").to_vec();
    let mut procs = vec![p];
    for w in 0..plant.workers {
        // Started in another order in each peer: pids say nothing.
        let wpid = pid + 1 + (w + n) % plant.workers;
        let base = data + 0x1000_0000 * u64::from(w + 1);
        let mut c: Proc = ckpt::anon_proc("worker", base, 2);
        c.pid = wpid;
        c.ppid = pid;
        c.pgid = pid;
        c.sid = pid;
        c.threads = vec![(wpid, "worker".into())];
        c.arg = c.strings(base, &["/bin/app", "--worker"]);
        let mut wenv = env.clone();
        wenv.push("WORKER=1");
        c.env = c.strings(base + 0x200, &wenv);
        c.exe_file_id = 1;
        c.files_id = 2;
        c.cwd_root = (3, 3);
        procs.push(c);
    }
    let c = ckpt::Checkpoint {
        procs,
        files: vec![
            ckpt::reg_file(1, "/bin/app", 0o100755),
            ckpt::reg_file(2, "/usr/lib/libdemo.so", 0o100755),
            ckpt::reg_file(3, "/", 0o40755),
            ckpt::pipe_file(4, 40_000 + n),
        ],
        hostname: format!("replica-{n}"),
        rootfs: vec![("etc/app.conf".into(), conf, 0o644)],
        ..Default::default()
    };
    c.to_tar()
}

/// Replica `n`, opened.
pub fn replica(n: u32, plant: &Plant) -> Checkpoint {
    ckpt::open_tar(&format!("replica-{n}.tar"), replica_tar(n, plant)).unwrap()
}
