//! Open files of checkpointed processes: `files.img` objects, the per-table `fdinfo-*.img`
//! descriptors, and `fs-*.img` (cwd and root), turned into [`OpenFile`]s with `/proc`-style
//! names (`pipe:[INODE]`, `socket:[INODE]`, `anon_inode:[eventfd]`).

use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::engine::checkpoint::archive::Archive;
use crate::engine::checkpoint::image::{decode_all, decode_first, magic};
use crate::engine::checkpoint::proto::{
    FdTypes, FdinfoEntry, FileEntry, FsEntry, MemfdInodeEntry, RegFileEntry, TaskKobjIdsEntry,
};
use crate::engine::checkpoint::sockq::{Queues, read_sk_queues, read_tcp_stream};
use crate::engine::checkpoint::tasks::Task;
use crate::engine::error::Error;
use crate::engine::evidence::{OpenFile, Walk};
use crate::engine::file_details::{FileDetails, InetSocket, SocketDetails, UnixSocket};
use crate::engine::net::{proto_name, sock_type, tcp_state};

/// All file objects of a checkpoint, by id.
#[derive(Debug, Default)]
pub struct FileTable {
    by_id: BTreeMap<u32, FileEntry>,
    /// memfd inodes by inode id (`memfd.img`).
    memfds: BTreeMap<u64, MemfdInodeEntry>,
    /// The first bytes of each memfd's contents, by inode id.
    memfd_heads: BTreeMap<u64, Vec<u8>>,
    /// Regular-file objects whose file was deleted while open (ghost files).
    deleted: BTreeSet<u32>,
    /// Socket queues by socket file id.
    queues: BTreeMap<u32, Queues>,
}

impl FileTable {
    /// Reads `files.img` (or, for old images, `reg-files.img`).
    pub fn read(ar: &Archive, problems: &mut Vec<Error>) -> FileTable {
        let mut by_id = BTreeMap::new();
        if let Some(data) = ar.image("files.img") {
            match decode_all::<FileEntry>(
                &ar.display_name("checkpoint/files.img"),
                data,
                magic::FILES,
                "file",
            ) {
                Ok((entries, errs)) => {
                    problems.extend(errs);
                    for e in entries {
                        by_id.entry(e.id).or_insert(e);
                    }
                }
                Err(e) => problems.push(e),
            }
        } else if let Some(data) = ar.image("reg-files.img") {
            match decode_all::<RegFileEntry>(
                &ar.display_name("checkpoint/reg-files.img"),
                data,
                magic::REG_FILES,
                "reg_file",
            ) {
                Ok((entries, errs)) => {
                    problems.extend(errs);
                    for reg in entries {
                        let id = reg.id;
                        by_id.entry(id).or_insert(FileEntry {
                            r#type: FdTypes::Reg as i32,
                            id,
                            reg: Some(reg),
                            ..FileEntry::default()
                        });
                    }
                }
                Err(e) => problems.push(e),
            }
        }
        let mut memfds = BTreeMap::new();
        if let Some(data) = ar.image("memfd.img") {
            match decode_all::<MemfdInodeEntry>(
                &ar.display_name("checkpoint/memfd.img"),
                data,
                magic::MEMFD_INODE,
                "memfd_inode",
            ) {
                Ok((entries, errs)) => {
                    problems.extend(errs);
                    for m in entries {
                        memfds.entry(m.inode_id).or_insert(m);
                    }
                }
                Err(e) => problems.push(e),
            }
        }
        FileTable {
            by_id,
            memfds,
            memfd_heads: BTreeMap::new(),
            deleted: BTreeSet::new(),
            queues: BTreeMap::new(),
        }
    }

    /// Reads the bytes queued on sockets: unix sockets' packets (`sk-queues.img`) and TCP
    /// connections' in-flight data (`tcp-stream-<inode>.img`).
    pub fn load_queues(&mut self, ar: &Archive, warnings: &mut Vec<String>) {
        self.queues = read_sk_queues(ar, warnings);
        for f in self.by_id.values() {
            if let Some(sk) = &f.isk
                && let Some(q) = read_tcp_stream(ar, sk.ino, warnings)
            {
                self.queues.insert(f.id, q);
            }
        }
    }

    /// Marks regular-file objects as deleted while open (their paths get ` (deleted)`).
    pub fn mark_deleted(&mut self, ids: impl IntoIterator<Item = u32>) {
        self.deleted.extend(ids);
    }

    /// The path of a file object as /proc shows it: a regular file's path (` (deleted)`
    /// when it was deleted while open), a memfd's `/memfd:NAME (deleted)`.
    pub fn path_of(&self, id: u32) -> Option<String> {
        let f = self.by_id.get(&id)?;
        if let Some(m) = &f.memfd {
            return Some(self.memfd_path(m.inode_id));
        }
        let mut path = self.name_of(id)?;
        if self.deleted.contains(&id) {
            path.push_str(" (deleted)");
        }
        Some(path)
    }

    /// The path a regular-file object was opened under, as recorded (no ` (deleted)`).
    pub fn name_of(&self, id: u32) -> Option<String> {
        let reg = self.by_id.get(&id)?.reg.as_ref()?;
        Some(String::from_utf8_lossy(&reg.name).into_owned())
    }

    fn memfd_path(&self, inode_id: u32) -> String {
        match self.memfds.get(&u64::from(inode_id)) {
            Some(m) => format!("/memfd:{} (deleted)", String::from_utf8_lossy(&m.name)),
            None => "/memfd: (deleted)".to_string(),
        }
    }

    /// The memfd inodes (`memfd.img`), by inode id.
    pub fn memfds(&self) -> &BTreeMap<u64, MemfdInodeEntry> {
        &self.memfds
    }

    /// The memfd inode of file object `id` (a memfd descriptor, or a memfd mapping's file).
    pub fn memfd_of(&self, id: u32) -> Option<(u64, &MemfdInodeEntry)> {
        let inode = u64::from(self.by_id.get(&id)?.memfd.as_ref()?.inode_id);
        Some((inode, self.memfds.get(&inode)?))
    }

    /// Keeps the first bytes of a memfd's contents, for its descriptors' details.
    pub fn set_memfd_head(&mut self, inode_id: u64, head: Vec<u8>) {
        self.memfd_heads.insert(inode_id, head);
    }

    /// The bytes queued on sockets, by socket file id.
    pub fn queues(&self) -> &BTreeMap<u32, Queues> {
        &self.queues
    }

    /// The ids of regular-file objects deleted while open.
    pub fn deleted(&self) -> &BTreeSet<u32> {
        &self.deleted
    }

    /// The descriptors of a process as (fd, file object id), with the images that could not
    /// be decoded as problems.
    pub fn descriptors(&self, ar: &Archive, task: &Task) -> Walk<(i64, u32)> {
        let mut problems = Vec::new();
        let items = fdinfo(ar, task, &mut problems)
            .into_iter()
            .map(|fd| (i64::from(fd.fd), fd.id))
            .collect();
        Walk { items, problems }
    }

    /// Describes file object `id` as (type, path, details).
    pub fn describe(&self, id: u32) -> (String, String, FileDetails) {
        let Some(f) = self.by_id.get(&id) else {
            return (
                "unknown".into(),
                format!("[file id {id}: not in files.img]"),
                FileDetails::default(),
            );
        };
        describe(self, f)
    }

    /// The descriptors, cwd and root of a process, with the images that could not be
    /// decoded as problems (a missing image is not one: zombies have none).
    pub fn open_files(&self, ar: &Archive, task: &Task) -> Walk<OpenFile> {
        let pid = task.tree.pid;
        let mut out = Vec::new();
        let mut problems = Vec::new();
        for fd in fdinfo(ar, task, &mut problems) {
            let (kind, path, mut details) = self.describe(fd.id);
            details.cloexec = fd.flags & 1 != 0;
            out.push(OpenFile {
                pid,
                fd: Some(i64::from(fd.fd)),
                kind,
                path,
                details,
            });
        }
        let fs_name = format!("fs-{pid}.img");
        let fs = ar
            .image(&fs_name)
            .map(|data| decode_first::<FsEntry>(&fs_name, data, magic::FS, "fs"));
        if let Some(Err(e)) = &fs {
            problems.push(format!("pid {pid} cwd and root: {e}"));
        }
        if let Some(Ok((fs, _))) = fs {
            for (kind, id) in [("cwd", fs.cwd_id), ("root", fs.root_id)] {
                let path = self
                    .path_of(id)
                    .unwrap_or_else(|| format!("[file id {id}]"));
                out.push(OpenFile {
                    pid,
                    fd: None,
                    kind: kind.into(),
                    path,
                    details: FileDetails::default(),
                });
            }
        }
        Walk {
            items: out,
            problems,
        }
    }
}

/// The descriptor entries of a process's table (`fdinfo-<files_id>.img`); images that
/// could not be decoded are problems (a missing one is not: zombies have none).
fn fdinfo(ar: &Archive, task: &Task, problems: &mut Vec<String>) -> Vec<FdinfoEntry> {
    let pid = task.tree.pid;
    let ids: Option<TaskKobjIdsEntry> =
        task.core.as_ref().and_then(|c| c.ids.clone()).or_else(|| {
            let name = format!("ids-{pid}.img");
            match decode_first::<TaskKobjIdsEntry>(&name, ar.image(&name)?, magic::IDS, "ids") {
                Ok((ids, _)) => Some(ids),
                Err(e) => {
                    problems.push(format!("pid {pid}: no descriptor table: {e}"));
                    None
                }
            }
        });
    let Some(ids) = ids else {
        return Vec::new();
    };
    let name = format!("fdinfo-{}.img", ids.files_id);
    match ar
        .image(&name)
        .map(|data| decode_all::<FdinfoEntry>(&name, data, magic::FDINFO, "fdinfo"))
    {
        None => Vec::new(),
        Some(Ok((fds, errs))) => {
            problems.extend(errs.iter().map(|e| format!("pid {pid}: {e}")));
            fds
        }
        Some(Err(e)) => {
            problems.push(format!("pid {pid}: {e}"));
            Vec::new()
        }
    }
}

fn describe(table: &FileTable, f: &FileEntry) -> (String, String, FileDetails) {
    let (kind, path, mut d) = describe_kind(table, f);
    if let Some(q) = table.queues.get(&f.id) {
        d.recv_queue = Some(q.recv.clone()).filter(|b| !b.is_empty());
        d.send_queue = Some(q.send.clone()).filter(|b| !b.is_empty());
    }
    d.deleted = table.deleted.contains(&f.id);
    (kind, path, d)
}

fn describe_kind(table: &FileTable, f: &FileEntry) -> (String, String, FileDetails) {
    let mut d = FileDetails::default();
    let anon = |name: &str| {
        (
            "anon_inode".to_string(),
            format!("anon_inode:[{name}]"),
            FileDetails::default(),
        )
    };
    match FdTypes::try_from(f.r#type).unwrap_or(FdTypes::Und) {
        FdTypes::Reg => {
            let Some(reg) = &f.reg else {
                return ("file".into(), String::new(), d);
            };
            let mode = reg.mode.unwrap_or(0);
            let kind = match mode & 0o170000 {
                0o040000 => "dir",
                0o020000 => "chr",
                0o060000 => "blk",
                0o140000 => "socket",
                0o010000 => "fifo",
                0o120000 => "link",
                _ => "file",
            };
            d.flags = Some(u64::from(reg.flags));
            d.pos = Some(reg.pos);
            d.size = reg.size;
            d.mode = reg.mode.map(u64::from);
            d.mnt_id = reg.mnt_id.map(i64::from);
            let path = table
                .path_of(f.id)
                .unwrap_or_else(|| String::from_utf8_lossy(&reg.name).into_owned());
            (kind.into(), path, d)
        }
        FdTypes::Pipe => {
            let pipe_id = f.pipe.as_ref().map_or(0, |p| p.pipe_id);
            d.inode = Some(u64::from(pipe_id));
            ("pipe".into(), format!("pipe:[{pipe_id}]"), d)
        }
        FdTypes::Fifo => {
            let fifo = f.fifo.as_ref();
            let pipe_id = fifo.map_or(0, |p| p.pipe_id);
            d.inode = Some(u64::from(pipe_id));
            let path = fifo
                .and_then(|x| x.regf_id)
                .and_then(|id| table.path_of(id))
                .unwrap_or_else(|| format!("pipe:[{pipe_id}]"));
            ("fifo".into(), path, d)
        }
        FdTypes::Inetsk => {
            let Some(sk) = &f.isk else {
                return ("socket".into(), "socket:[?]".into(), d);
            };
            let v6 = sk.family == 10;
            d.socket = Some(SocketDetails::Inet(InetSocket {
                protocol: proto_name(u64::from(sk.proto), u64::from(sk.r#type)),
                state: tcp_state(u64::from(sk.state)).into(),
                src: ip(&sk.src_addr, v6),
                src_port: u64::from(sk.src_port),
                dst: ip(&sk.dst_addr, v6),
                dst_port: u64::from(sk.dst_port),
            }));
            d.inode = Some(u64::from(sk.ino));
            ("socket".into(), format!("socket:[{}]", sk.ino), d)
        }
        FdTypes::Unixsk => {
            let Some(sk) = &f.usk else {
                return ("socket".into(), "socket:[?]".into(), d);
            };
            d.socket = Some(SocketDetails::Unix(UnixSocket {
                kind: sock_type(u64::from(sk.r#type)).into(),
                state: tcp_state(u64::from(sk.state)).into(),
                name: unix_name(&sk.name),
                peer: Some(u64::from(sk.peer)),
            }));
            d.inode = Some(u64::from(sk.ino));
            ("socket".into(), format!("socket:[{}]", sk.ino), d)
        }
        FdTypes::Packetsk => ("socket".into(), "socket:[packet]".into(), d),
        FdTypes::Netlinksk => ("socket".into(), "socket:[netlink]".into(), d),
        FdTypes::Tty => {
            let path = f
                .tty
                .as_ref()
                .and_then(|t| t.regf_id)
                .and_then(|id| table.path_of(id))
                .unwrap_or_else(|| "tty".into());
            ("tty".into(), path, d)
        }
        FdTypes::Eventfd => anon("eventfd"),
        FdTypes::Eventpoll => anon("eventpoll"),
        FdTypes::Signalfd => anon("signalfd"),
        FdTypes::Inotify => ("anon_inode".into(), "anon_inode:inotify".into(), d),
        FdTypes::Fanotify => ("anon_inode".into(), "anon_inode:[fanotify]".into(), d),
        FdTypes::Timerfd => anon("timerfd"),
        FdTypes::Pidfd => anon("pidfd"),
        FdTypes::Memfd => {
            let Some(m) = &f.memfd else {
                return ("memfd".into(), "/memfd: (deleted)".into(), d);
            };
            d.flags = Some(u64::from(m.flags));
            d.pos = Some(m.pos);
            let inode = u64::from(m.inode_id);
            if let Some(i) = table.memfds.get(&inode) {
                d.size = Some(i.size);
                d.mode = i.mode.map(u64::from);
            }
            d.contents = table.memfd_heads.get(&inode).cloned();
            ("memfd".into(), table.memfd_path(m.inode_id), d)
        }
        FdTypes::Ns => ("ns".into(), "ns:[?]".into(), d),
        FdTypes::Ext => ("external".into(), format!("[external file {}]", f.id), d),
        other => (
            format!("{other:?}").to_lowercase(),
            format!("[{other:?} {}]", f.id),
            d,
        ),
    }
}

fn ip(words: &[u32], v6: bool) -> IpAddr {
    let mut bytes = Vec::with_capacity(16);
    for w in words {
        bytes.extend_from_slice(&w.to_le_bytes());
    }
    if v6 {
        let mut a = [0u8; 16];
        for (d, s) in a.iter_mut().zip(&bytes) {
            *d = *s;
        }
        IpAddr::V6(Ipv6Addr::from(a))
    } else {
        let mut a = [0u8; 4];
        for (d, s) in a.iter_mut().zip(&bytes) {
            *d = *s;
        }
        IpAddr::V4(Ipv4Addr::from(a))
    }
}

/// A unix socket's name as /proc/net/unix shows it: an abstract name (leading NUL) as `@`
/// and the rest, its NULs as `@`; a path without the NUL that ends it in the image.
fn unix_name(name: &[u8]) -> String {
    match name.split_first() {
        Some((0, rest)) => format!("@{}", String::from_utf8_lossy(rest).replace('\0', "@")),
        _ => {
            let end = name.iter().position(|&b| b == 0).unwrap_or(name.len());
            String::from_utf8_lossy(name.get(..end).unwrap_or(name)).into_owned()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::unix_name;

    #[test]
    fn unix_names_as_proc_shows_them() {
        assert_eq!(unix_name(b"/run/app.sock\0"), "/run/app.sock");
        assert_eq!(unix_name(b"/run/app.sock"), "/run/app.sock");
        assert_eq!(unix_name(b"\0abstract\0x"), "@abstract@x");
        assert_eq!(unix_name(b""), "");
    }
}
