//! What a checkpoint saved beyond processes' memory, lent through the
//! [`SavedData`] capability so that search finds what is only there: the bytes queued on
//! sockets (`tcp-stream-*.img`, `sk-queues.img`), the files deleted while open (ghost images)
//! and memfds' contents (their shared-memory objects). Each object names the process and
//! descriptor (or mapping) that held it.

use std::borrow::Cow;
use std::collections::BTreeMap;

use crate::engine::capability::SavedData;
use crate::engine::checkpoint::Checkpoint;
use crate::engine::checkpoint::archive::Archive;
use crate::engine::checkpoint::fds::FileTable;
use crate::engine::checkpoint::memory::ProcessMemory;
use crate::engine::checkpoint::proto::mm as vm;
use crate::engine::evidence::Pid;
use crate::engine::file_details::{QUEUE_SHOWN, SocketDetails};
use crate::engine::saved::{Queue, Saved, SavedKind, SavedObject};
use crate::engine::walk::Walk;

/// A memfd's contents are lent up to this size (the rest is not searched).
const MAX_MEMFD: u64 = 1 << 30;

/// Who held a file object: (pid, descriptor), or (pid, `None`) for a mapping of it; in pid
/// order, a process's descriptors before its mappings.
type Holders = Vec<(Pid, Option<i64>)>;

/// Keeps the first bytes of every memfd's contents in the file table, for its descriptors'
/// details.
pub fn keep_memfd_heads(ar: &Archive, shmem: &BTreeMap<u64, ProcessMemory>, files: &mut FileTable) {
    let heads: Vec<(u64, Vec<u8>)> = files
        .memfds()
        .iter()
        .filter_map(|(&inode, m)| {
            let memory = shmem.get(&u64::from(m.shmid))?;
            let mut head = vec![0u8; m.size.min(QUEUE_SHOWN as u64) as usize];
            memory.read_chain(&|member| ar.get(member).unwrap_or_default(), 0, &mut head);
            Some((inode, head))
        })
        .collect();
    for (inode, head) in heads {
        files.set_memfd_head(inode, head);
    }
}

/// The contents of a memfd (holes, never dumped, read as the zeros they are), borrowed when
/// its pages lie in one piece.
fn memfd_bytes<'a>(ar: &'a Archive, memory: &ProcessMemory, size: u64) -> Cow<'a, [u8]> {
    let len = size.min(MAX_MEMFD) as usize;
    if let Some(s) = ar
        .get(&memory.pages_member)
        .and_then(|pages| memory.slice(pages, 0, len))
    {
        return Cow::Borrowed(s);
    }
    let mut buf = vec![0u8; len];
    memory.read_chain(&|member| ar.get(member).unwrap_or_default(), 0, &mut buf);
    Cow::Owned(buf)
}

/// The holder to name for an object held by `holders`: the first one among `pids` (any
/// when `None`); `None` when the object is not wanted. An object nobody holds is wanted
/// only when every process is.
fn pick(
    holders: &[(Pid, Option<i64>)],
    pids: Option<&[Pid]>,
) -> Option<Option<(Pid, Option<i64>)>> {
    match pids {
        None => Some(holders.first().copied()),
        Some(pids) => holders
            .iter()
            .find(|(p, _)| pids.contains(p))
            .map(|h| Some(*h)),
    }
}

impl Checkpoint {
    /// Every file object's holders: the descriptors and the file mappings of live tasks.
    fn holders(&self, problems: &mut Vec<String>) -> BTreeMap<u32, Holders> {
        let mut out: BTreeMap<u32, Holders> = BTreeMap::new();
        for (&pid, task) in &self.tasks {
            if self.is_dead(pid) {
                continue;
            }
            let fds = self.files.descriptors(&self.archive, task);
            problems.extend(fds.problems);
            for (fd, id) in fds.items {
                out.entry(id).or_default().push((pid, Some(fd)));
            }
            let mapped = vm::VMA_FILE_PRIVATE | vm::VMA_FILE_SHARED | vm::VMA_AREA_MEMFD;
            for v in task.mm.iter().flat_map(|mm| &mm.vmas) {
                let Ok(id) = u32::try_from(v.shmid) else {
                    continue;
                };
                if v.status & mapped == 0 || v.status & vm::VMA_ANON_SHARED != 0 {
                    continue;
                }
                let h = out.entry(id).or_default();
                if !h.iter().any(|(p, _)| *p == pid) {
                    h.push((pid, None));
                }
            }
        }
        out
    }

    fn object(
        &self,
        kind: SavedKind,
        holder: Option<(Pid, Option<i64>)>,
        path: String,
        origin: String,
        size: usize,
    ) -> SavedObject {
        let pid = holder.map(|(p, _)| p);
        SavedObject {
            kind,
            pid,
            comm: pid.and_then(|p| {
                self.processes
                    .iter()
                    .find(|x| x.pid == p)
                    .map(|x| x.comm.clone())
            }),
            fd: holder.and_then(|(_, fd)| fd),
            inode: None,
            queue: None,
            path,
            origin,
            size: size as u64,
        }
    }

    /// The socket queues held by `pids`.
    fn socket_queues(
        &self,
        holders: &BTreeMap<u32, Holders>,
        pids: Option<&[Pid]>,
    ) -> Vec<Saved<'_>> {
        let mut out = Vec::new();
        for (id, q) in self.files.queues() {
            let none = Holders::new();
            let Some(holder) = pick(holders.get(id).unwrap_or(&none), pids) else {
                continue;
            };
            let (_, path, details) = self.files.describe(*id);
            let origin = match (&details.socket, details.inode) {
                (Some(SocketDetails::Inet(_)), Some(ino)) => {
                    format!("checkpoint/tcp-stream-{ino:x}.img")
                }
                _ => "checkpoint/sk-queues.img".to_string(),
            };
            for (queue, bytes) in [(Queue::Recv, &q.recv), (Queue::Send, &q.send)] {
                if bytes.is_empty() {
                    continue;
                }
                let mut object = self.object(
                    SavedKind::Socket,
                    holder,
                    path.clone(),
                    origin.clone(),
                    bytes.len(),
                );
                object.inode = details.inode;
                object.queue = Some(queue);
                out.push(Saved {
                    object,
                    bytes: Cow::Borrowed(bytes.as_slice()),
                });
            }
        }
        out
    }

    /// The files deleted while open held by `pids`, once per path.
    fn ghost_files(
        &self,
        holders: &BTreeMap<u32, Holders>,
        pids: Option<&[Pid]>,
        problems: &mut Vec<String>,
    ) -> Vec<Saved<'_>> {
        let Some(rootfs) = &self.rootfs else {
            return Vec::new();
        };
        let mut by_path: BTreeMap<String, Holders> = BTreeMap::new();
        for &id in self.files.deleted() {
            let Some(path) = self.files.name_of(id) else {
                continue;
            };
            let h = by_path.entry(path).or_default();
            h.extend(holders.get(&id).into_iter().flatten().copied());
        }
        let mut out = Vec::new();
        for (path, mut h) in by_path {
            h.sort_by_key(|&(pid, fd)| (pid, fd.is_none(), fd));
            let Some(holder) = pick(&h, pids) else {
                continue;
            };
            let Some(entry) = rootfs.entry(&path).filter(|e| e.deleted_while_open) else {
                continue;
            };
            match rootfs.read_with(&|member| self.archive.get(member), &path) {
                Ok(bytes) => out.push(Saved {
                    object: self.object(
                        SavedKind::GhostFile,
                        holder,
                        format!("{path} (deleted)"),
                        entry.origin.clone(),
                        bytes.len(),
                    ),
                    bytes: Cow::Borrowed(bytes),
                }),
                Err(e) => problems.push(format!("{path} (deleted while open): {e}")),
            }
        }
        out
    }

    /// The memfds held by `pids`, once per memfd.
    fn memfd_contents(
        &self,
        holders: &BTreeMap<u32, Holders>,
        pids: Option<&[Pid]>,
    ) -> Vec<Saved<'_>> {
        let mut by_inode: BTreeMap<u64, (Holders, Option<String>)> = BTreeMap::new();
        for (&id, h) in holders {
            if let Some((inode, _)) = self.files.memfd_of(id) {
                let e = by_inode.entry(inode).or_default();
                e.0.extend(h.iter().copied());
                e.1 = e.1.take().or_else(|| self.files.path_of(id));
            }
        }
        let mut out = Vec::new();
        for (inode, m) in self.files.memfds() {
            let (mut h, path) = by_inode.remove(inode).unwrap_or_default();
            h.sort_by_key(|&(pid, fd)| (pid, fd.is_none(), fd));
            let Some(holder) = pick(&h, pids) else {
                continue;
            };
            let Some(memory) = self.shmem.get(&u64::from(m.shmid)) else {
                continue;
            };
            let bytes = memfd_bytes(&self.archive, memory, m.size);
            let path = path.unwrap_or_else(|| {
                format!("/memfd:{} (deleted)", String::from_utf8_lossy(&m.name))
            });
            out.push(Saved {
                object: self.object(
                    SavedKind::Memfd,
                    holder,
                    path,
                    memory.pages_member.clone(),
                    bytes.len(),
                ),
                bytes,
            });
        }
        out
    }
}

impl SavedData for Checkpoint {
    fn saved(&self, pids: Option<&[Pid]>) -> Walk<Saved<'_>> {
        let files = &self.files;
        if files.queues().is_empty() && files.deleted().is_empty() && files.memfds().is_empty() {
            return Walk::default();
        }
        let mut problems = Vec::new();
        let holders = self.holders(&mut problems);
        let mut items = Vec::new();
        for mut group in [
            self.socket_queues(&holders, pids),
            self.ghost_files(&holders, pids, &mut problems),
            self.memfd_contents(&holders, pids),
        ] {
            group.sort_by_key(|s| {
                let o = &s.object;
                (o.pid.is_none(), o.pid, o.fd, o.queue)
            });
            items.extend(group);
        }
        Walk { items, problems }
    }
}
