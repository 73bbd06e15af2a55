//! A made-up [`Evidence`] for the triage rules: processes with memory areas, captured
//! bytes, environments, sockets and container files given directly (each rule needs only
//! what the interface returns).
#![allow(dead_code, clippy::unwrap_used, clippy::indexing_slicing)]

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::net::IpAddr;
use std::ops::Range;

use podmortem::engine::capability::ContainerFs;
use podmortem::engine::evidence::{
    Evidence, EvidenceInfo, EvidenceKind, FileEntry, FileType, Mount, OpenFile, PartialRead, Perms,
    Pid, Process, Thread, Vma, VmaKind, Walk,
};
use podmortem::engine::file_details::{FileDetails, InetSocket, SocketDetails};

/// One made-up process and what the evidence holds of it.
#[derive(Debug, Clone)]
pub struct P {
    pub process: Process,
    pub maps: Vec<Vma>,
    pub env: Vec<String>,
    pub files: Vec<OpenFile>,
    /// Captured bytes: (address, bytes), disjoint.
    pub memory: Vec<(u64, Vec<u8>)>,
}

/// A process `comm` with argv and exe.
pub fn proc_(pid: Pid, comm: &str, argv: &[&str], exe: Option<&str>) -> P {
    P {
        process: Process {
            pid,
            ppid: 1,
            pgid: pid,
            sid: pid,
            comm: comm.into(),
            cmdline: argv.iter().map(|s| s.to_string()).collect(),
            uid: Some(0),
            gid: Some(0),
            euid: Some(0),
            threads: vec![Thread {
                tid: pid,
                comm: comm.into(),
            }],
            state: "sleeping".into(),
            exit_code: None,
            exe: exe.map(str::to_string),
            kernel_thread: false,
            start_time: None,
            created: None,
            ns: None,
            cgroup: None,
            container_id: None,
            pod_uid: None,
        },
        maps: Vec::new(),
        env: Vec::new(),
        files: Vec::new(),
        memory: Vec::new(),
    }
}

/// Permissions from "rwxp".
pub fn perms(s: &str) -> Perms {
    let b = s.as_bytes();
    Perms {
        read: b[0] == b'r',
        write: b[1] == b'w',
        exec: b[2] == b'x',
        shared: b.get(3) == Some(&b's'),
    }
}

impl P {
    /// Adds a memory area.
    pub fn vma(mut self, start: u64, end: u64, p: &str, kind: VmaKind, path: Option<&str>) -> P {
        self.maps.push(Vma {
            start,
            end,
            perms: perms(p),
            pgoff: 0,
            path: path.map(str::to_string),
            kind,
            inode: None,
            dev: None,
        });
        self
    }

    /// Adds captured bytes.
    pub fn bytes(mut self, at: u64, b: &[u8]) -> P {
        self.memory.push((at, b.to_vec()));
        self
    }

    /// Adds environment variables.
    pub fn env(mut self, vars: &[&str]) -> P {
        self.env.extend(vars.iter().map(|s| s.to_string()));
        self
    }

    /// Adds an inet socket on fd `fd`.
    pub fn socket(
        mut self,
        fd: i64,
        proto: &str,
        state: &str,
        src: (&str, u64),
        dst: (&str, u64),
    ) -> P {
        let details = FileDetails {
            socket: Some(SocketDetails::Inet(InetSocket {
                protocol: proto.into(),
                state: state.into(),
                src: src.0.parse::<IpAddr>().unwrap(),
                src_port: src.1,
                dst: dst.0.parse::<IpAddr>().unwrap(),
                dst_port: dst.1,
            })),
            ..FileDetails::default()
        };
        self.files.push(OpenFile {
            pid: self.process.pid,
            fd: Some(fd),
            kind: "socket".into(),
            path: format!("socket:[{fd}]"),
            details,
        });
        self
    }
}

/// The made-up evidence.
#[derive(Debug, Clone)]
pub struct Ev {
    pub kind: EvidenceKind,
    pub procs: BTreeMap<Pid, P>,
    pub files: Vec<FileEntry>,
}

impl Ev {
    /// Evidence of `kind` holding `procs`.
    pub fn new(kind: EvidenceKind, procs: Vec<P>) -> Ev {
        Ev {
            kind,
            procs: procs.into_iter().map(|p| (p.process.pid, p)).collect(),
            files: Vec::new(),
        }
    }

    /// Adds a container file flagged as a credential or not.
    pub fn file(mut self, path: &str, credential: bool) -> Ev {
        self.files.push(FileEntry {
            path: path.into(),
            kind: FileType::File,
            mode: 0o100600,
            size: 32,
            mtime: 0,
            link: None,
            deleted: false,
            uid: 0,
            gid: 0,
            origin: "tmpfs".into(),
            mount: None,
            credential,
            deleted_while_open: false,
        });
        self
    }

    fn p(&self, pid: Pid) -> podmortem::engine::Result<&P> {
        self.procs
            .get(&pid)
            .ok_or(podmortem::engine::Error::NoSuchProcess(pid))
    }
}

impl Evidence for Ev {
    fn info(&self) -> EvidenceInfo {
        EvidenceInfo {
            path: "synthetic".into(),
            kind: self.kind,
            format: "synthetic".into(),
            size: 0,
            engine: None,
            title: "synthetic".into(),
            details: serde_json::Map::new(),
            warnings: Vec::new(),
        }
    }

    fn processes(&self) -> podmortem::engine::Result<Vec<Process>> {
        Ok(self.procs.values().map(|p| p.process.clone()).collect())
    }

    fn maps(&self, pid: Pid) -> podmortem::engine::Result<Walk<Vma>> {
        let mut maps = self.p(pid)?.maps.clone();
        maps.sort_by_key(|v| v.start);
        Ok(Walk::complete(maps))
    }

    fn environment(&self, pid: Pid) -> podmortem::engine::Result<Vec<String>> {
        Ok(self.p(pid)?.env.clone())
    }

    fn files(&self, pid: Pid) -> podmortem::engine::Result<Walk<OpenFile>> {
        Ok(Walk::complete(self.p(pid)?.files.clone()))
    }

    fn read_memory(
        &self,
        pid: Pid,
        addr: u64,
        buf: &mut [u8],
    ) -> podmortem::engine::Result<PartialRead> {
        buf.fill(0);
        let mut got = PartialRead::default();
        let mut pieces: Vec<Range<usize>> = Vec::new();
        for (at, bytes) in &self.p(pid)?.memory {
            let end = at + bytes.len() as u64;
            let lo = addr.max(*at);
            let hi = (addr + buf.len() as u64).min(end);
            if lo < hi {
                let dst = (lo - addr) as usize..(hi - addr) as usize;
                buf[dst.clone()].copy_from_slice(&bytes[(lo - at) as usize..(hi - at) as usize]);
                pieces.push(dst);
            }
        }
        pieces.sort_by_key(|r| r.start);
        for r in pieces {
            got.push(r);
        }
        Ok(got)
    }

    fn captured_ranges(
        &self,
        pid: Pid,
        range: Range<u64>,
    ) -> podmortem::engine::Result<Vec<Range<u64>>> {
        let mut v: Vec<Range<u64>> = self
            .p(pid)?
            .memory
            .iter()
            .map(|(at, b)| (*at).max(range.start)..(at + b.len() as u64).min(range.end))
            .filter(|r| r.start < r.end)
            .collect();
        v.sort_by_key(|r| r.start);
        Ok(v)
    }

    fn container_fs(&self) -> Option<&dyn ContainerFs> {
        (!self.files.is_empty()).then_some(self as &dyn ContainerFs)
    }
}

impl ContainerFs for Ev {
    fn entries(&self) -> podmortem::engine::Result<Vec<FileEntry>> {
        Ok(self.files.clone())
    }

    fn read_file(&self, path: &str) -> podmortem::engine::Result<Cow<'_, [u8]>> {
        Err(podmortem::engine::Error::NoSuchFile(path.into()))
    }

    fn mounts(&self) -> Vec<Mount> {
        Vec::new()
    }
}
