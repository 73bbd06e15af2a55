//! Assembles processes, threads and memory areas from `pstree.img`, `core-*.img` and
//! `mm-*.img`, and the page index from `pagemap-*.img`.

use std::collections::BTreeMap;

use crate::engine::checkpoint::archive::Archive;
use crate::engine::checkpoint::image::{
    ImageReader, decode_all, decode_first, decode_lenient, magic,
};
use crate::engine::checkpoint::memory::{ProcessMemory, ShmemWindow};
use crate::engine::checkpoint::pagemap::{PageIndex, RawEntry};
use crate::engine::checkpoint::proto::{
    CoreEntry, MmEntry, PagemapEntry, PagemapHead, PstreeEntry, VmaEntry, mm as vm, task_state,
};
use crate::engine::error::{Error, Result};
use crate::engine::evidence::{Perms, Pid, Process, Thread, Vma, VmaKind};

/// Everything known about one checkpointed process, before the model is built.
#[derive(Debug, Clone, Default)]
pub struct Task {
    /// The pstree entry.
    pub tree: PstreeEntry,
    /// The leader's core image.
    pub core: Option<CoreEntry>,
    /// Thread comms by tid.
    pub thread_comms: BTreeMap<Pid, String>,
    /// The mm image.
    pub mm: Option<MmEntry>,
    /// The captured memory.
    pub memory: ProcessMemory,
    /// Shared anonymous mappings, whose pages are in shared-memory objects.
    pub shmem: Vec<ShmemWindow>,
}

/// Reads `pstree.img`.
pub fn read_pstree(ar: &Archive, problems: &mut Vec<Error>) -> Result<Vec<PstreeEntry>> {
    let file = "pstree.img";
    let data = ar
        .image(file)
        .ok_or_else(|| ar.missing("checkpoint/pstree.img"))?;
    let (entries, errs) = decode_all::<PstreeEntry>(
        &ar.display_name("checkpoint/pstree.img"),
        data,
        magic::PSTREE,
        "pstree",
    )?;
    problems.extend(errs);
    Ok(entries)
}

/// Reads the images of one process.
pub fn read_task(ar: &Archive, tree: PstreeEntry, problems: &mut Vec<Error>) -> Task {
    let pid = tree.pid;
    let mut task = Task {
        tree,
        ..Task::default()
    };
    for tid in thread_ids(&task.tree) {
        let name = format!("core-{tid}.img");
        let Some(data) = ar.image(&name) else {
            problems.push(Error::Missing(
                ar.display_name(&format!("checkpoint/{name}")),
            ));
            continue;
        };
        match decode_first::<CoreEntry>(
            &ar.display_name(&format!("checkpoint/{name}")),
            data,
            magic::CORE,
            "core",
        ) {
            Ok((core, err)) => {
                problems.extend(err);
                let comm = core
                    .thread_core
                    .as_ref()
                    .and_then(|t| t.comm.clone())
                    .or_else(|| core.tc.as_ref().map(|tc| tc.comm.clone()))
                    .map(|c| String::from_utf8_lossy(&c).into_owned())
                    .unwrap_or_default();
                task.thread_comms.insert(tid, comm);
                if tid == pid {
                    task.core = Some(core);
                }
            }
            Err(e) => problems.push(e),
        }
    }
    let mm_name = format!("mm-{pid}.img");
    if let Some(data) = ar.image(&mm_name) {
        match decode_first::<MmEntry>(
            &ar.display_name(&format!("checkpoint/{mm_name}")),
            data,
            magic::MM,
            "mm",
        ) {
            Ok((mm, err)) => {
                problems.extend(err);
                let mut windows: Vec<ShmemWindow> = mm
                    .vmas
                    .iter()
                    .filter(|v| v.status & vm::VMA_ANON_SHARED != 0 && v.start < v.end)
                    .map(|v| ShmemWindow {
                        start: v.start,
                        end: v.end,
                        offset: v.pgoff,
                        shmid: v.shmid,
                    })
                    .collect();
                windows.sort_by_key(|w| w.start);
                windows.dedup_by(|b, a| b.start < a.end);
                task.shmem = windows;
                task.mm = Some(mm);
            }
            Err(e) => problems.push(e),
        }
    }
    match read_pagemap(ar, &format!("checkpoint/pagemap-{pid}.img")) {
        Ok(Some((mut memory, errs))) => {
            problems.extend(errs);
            let image = format!("pagemap-{pid}.img");
            let what = format!("pid {pid}");
            memory.parent = parent_memory(ar, &image, &what, "checkpoint/", &memory, 1, problems);
            task.memory = memory;
        }
        Ok(None) => {}
        Err(e) => problems.push(e),
    }
    task
}

/// Parent images followed at most this deep (CRIU pre-dump chains are short; a loop of
/// `parent` links must end).
const MAX_PARENTS: usize = 8;

/// The memory of pagemap `image` (`pagemap-<pid>.img`, `pagemap-shmem-<id>.img`) in the
/// parent images of the images folder `dir` (incremental dumps: pages unchanged since a
/// pre-dump are only there), when `memory` has pages in the parent; `what` names its owner
/// in problems (`pid 7`). A parent that is not in the evidence is a problem, never a guess.
pub fn parent_memory(
    ar: &Archive,
    image: &str,
    what: &str,
    dir: &str,
    memory: &ProcessMemory,
    depth: usize,
    problems: &mut Vec<Error>,
) -> Option<Box<ProcessMemory>> {
    if memory.index.in_parent(0..u64::MAX).is_empty() {
        return None;
    }
    let missing = |why: String| Error::Missing(format!("{what}: pages in a parent image: {why}"));
    if depth > MAX_PARENTS {
        problems.push(missing(format!(
            "more than {MAX_PARENTS} parent images (a loop?)"
        )));
        return None;
    }
    let parent_dir = match ar.parent_images(dir) {
        Ok(Some(d)) => d,
        Ok(None) => {
            problems.push(missing(format!(
                "{dir} has no parent link; those pages are not captured"
            )));
            return None;
        }
        Err(why) => {
            problems.push(missing(why));
            return None;
        }
    };
    match read_pagemap(ar, &format!("{parent_dir}{image}")) {
        Ok(Some((mut parent, errs))) => {
            problems.extend(errs);
            parent.parent =
                parent_memory(ar, image, what, &parent_dir, &parent, depth + 1, problems);
            Some(Box::new(parent))
        }
        Ok(None) => {
            problems.push(missing(format!(
                "{parent_dir}{image} is not in the evidence"
            )));
            None
        }
        Err(e) => {
            problems.push(e);
            None
        }
    }
}

/// The shared-memory object `shmid` (`pagemap-shmem-<shmid>.img`, with its parents in an
/// incremental dump), when the evidence has it.
pub fn read_shmem(ar: &Archive, shmid: u64, problems: &mut Vec<Error>) -> Option<ProcessMemory> {
    let image = format!("pagemap-shmem-{shmid}.img");
    match read_pagemap(ar, &format!("checkpoint/{image}")) {
        Ok(Some((mut memory, errs))) => {
            problems.extend(errs);
            let what = format!("shared memory {shmid}");
            memory.parent = parent_memory(ar, &image, &what, "checkpoint/", &memory, 1, problems);
            Some(memory)
        }
        Ok(None) => None,
        Err(e) => {
            problems.push(e);
            None
        }
    }
}

/// Adds the task's shared memfd mappings to its shared-memory windows: their pages are in
/// the memfd's object, `shmid_of` gives it from the mapping's file id (`None`: not a memfd
/// that `memfd.img` describes). Private mappings keep their own (copied-on-write) pages.
pub fn add_memfd_windows(task: &mut Task, shmid_of: &dyn Fn(u32) -> Option<u64>) {
    let Some(mm) = &task.mm else { return };
    let before = task.shmem.len();
    for v in &mm.vmas {
        let shared = v.flags & vm::MAP_SHARED != 0 && v.status & vm::VMA_ANON_SHARED == 0;
        if v.status & vm::VMA_AREA_MEMFD == 0 || !shared || v.start >= v.end {
            continue;
        }
        let Some(shmid) = u32::try_from(v.shmid).ok().and_then(shmid_of) else {
            continue;
        };
        task.shmem.push(ShmemWindow {
            start: v.start,
            end: v.end,
            offset: v.pgoff,
            shmid,
        });
    }
    if task.shmem.len() > before {
        task.shmem.sort_by_key(|w| w.start);
        task.shmem.dedup_by(|b, a| b.start < a.end);
    }
}

/// Reads a pagemap image (`pagemap-<pid>.img`, `pagemap-shmem-<id>.img`) and indexes it
/// against its pages file.
pub fn read_pagemap(ar: &Archive, member: &str) -> Result<Option<(ProcessMemory, Vec<Error>)>> {
    let Some(data) = ar.get(member) else {
        return Ok(None);
    };
    let file = ar.display_name(member);
    let mut reader = ImageReader::expect(&file, data, magic::PAGEMAP, "pagemap")?;
    let mut problems = Vec::new();
    let head = reader.next_entry()?.ok_or_else(|| Error::Truncated {
        file: file.clone(),
        at: 8,
        need: 4,
        have: 0,
    })?;
    let (head, err) = decode_lenient::<PagemapHead>(&file, head, "pagemap_head");
    problems.extend(err);
    let mut raw = Vec::new();
    loop {
        match reader.next_entry() {
            Ok(Some(entry)) => {
                let (pe, err) = decode_lenient::<PagemapEntry>(&file, entry, "pagemap");
                problems.extend(err);
                raw.push(RawEntry {
                    vaddr: pe.vaddr,
                    nr_pages: pe
                        .nr_pages
                        .unwrap_or_else(|| u64::from(pe.compat_nr_pages.unwrap_or(0))),
                    flags: pe.flags,
                    in_parent: pe.in_parent,
                    offset: entry.offset,
                });
            }
            Ok(None) => break,
            Err(e) => {
                problems.push(e);
                break;
            }
        }
    }
    // The pages file is in the pagemap's own folder (`checkpoint/`, or a parent's).
    let dir = member
        .rfind('/')
        .map_or("", |i| member.get(..=i).unwrap_or(""));
    let pages_member = format!("{dir}pages-{}.img", head.pages_id);
    let pages_len = match ar.get(&pages_member) {
        Some(p) => p.len() as u64,
        None => {
            problems.push(Error::Missing(ar.display_name(&pages_member)));
            0
        }
    };
    let (index, errs) = PageIndex::build(&file, &raw, pages_len);
    problems.extend(errs);
    Ok(Some((
        ProcessMemory {
            pages_member,
            index,
            parent: None,
        },
        problems,
    )))
}

/// The thread ids of a pstree entry, the leader first: its pid when it lists none (a
/// zombie's entry lists one thread, 0: it has no threads left, only its leader's core image).
pub fn thread_ids(tree: &PstreeEntry) -> Vec<Pid> {
    let tids: Vec<Pid> = tree.threads.iter().copied().filter(|&t| t != 0).collect();
    if tids.is_empty() {
        vec![tree.pid]
    } else {
        tids
    }
}

/// Whether a task state is a dead task: a zombie (CRIU stores zombies as `DEAD`).
pub fn is_dead(state: u32) -> bool {
    matches!(state, task_state::DEAD | task_state::ZOMBIE)
}

/// A wait status (what `wait()` returns, what CRIU keeps of a zombie) as a shell's `$?`:
/// the exit code, or 128 + the signal that killed it.
pub fn shell_status(status: u32) -> u32 {
    match status & 0x7f {
        0 => (status >> 8) & 0xff,
        sig => 128 + sig,
    }
}

/// CRIU task states (pstree/core `task_state`).
pub fn state_name(state: u32) -> &'static str {
    match state {
        1 => "alive",
        2 => "dead",
        3 => "stopped",
        6 => "zombie",
        _ => "unknown",
    }
}

/// Builds the model of a process (cmdline filled in by the caller from memory).
pub fn process_of(task: &Task, exe: Option<String>) -> Process {
    let tc = task.core.as_ref().and_then(|c| c.tc.as_ref());
    let creds = task
        .core
        .as_ref()
        .and_then(|c| c.thread_core.as_ref())
        .and_then(|t| t.creds.as_ref());
    let comm = tc
        .map(|tc| String::from_utf8_lossy(&tc.comm).into_owned())
        .or_else(|| task.thread_comms.get(&task.tree.pid).cloned())
        .unwrap_or_default();
    let tids = thread_ids(&task.tree);
    let dead = tc.is_some_and(|tc| is_dead(tc.task_state));
    Process {
        pid: task.tree.pid,
        ppid: task.tree.ppid,
        pgid: task.tree.pgid,
        sid: task.tree.sid,
        comm,
        cmdline: Vec::new(),
        uid: creds.map(|c| c.uid),
        gid: creds.map(|c| c.gid),
        euid: creds.map(|c| c.euid),
        threads: tids
            .iter()
            .map(|&tid| Thread {
                tid,
                comm: task.thread_comms.get(&tid).cloned().unwrap_or_default(),
            })
            .collect(),
        state: tc
            .map_or("unknown", |tc| state_name(tc.task_state))
            .to_string(),
        exit_code: tc.filter(|_| dead).map(|tc| shell_status(tc.exit_code)),
        exe,
        kernel_thread: false,
        start_time: None,
        created: None,
        ns: None,
        cgroup: None,
        container_id: None,
        pod_uid: None,
    }
}

/// Builds the memory areas of a process; `file_name` resolves a file id to its path.
pub fn vmas_of(mm: &MmEntry, file_name: &dyn Fn(u64) -> Option<String>) -> Vec<Vma> {
    let mut out: Vec<Vma> = mm.vmas.iter().map(|v| vma_of(mm, v, file_name)).collect();
    out.sort_by_key(|v| v.start);
    out
}

fn vma_of(mm: &MmEntry, v: &VmaEntry, file_name: &dyn Fn(u64) -> Option<String>) -> Vma {
    let st = v.status;
    let perms = Perms {
        read: v.prot & vm::PROT_READ != 0,
        write: v.prot & vm::PROT_WRITE != 0,
        exec: v.prot & vm::PROT_EXEC != 0,
        shared: v.flags & vm::MAP_SHARED != 0,
    };
    let (kind, path) = if st & vm::VMA_AREA_VDSO != 0 {
        (VmaKind::Vdso, Some("[vdso]".to_string()))
    } else if st & vm::VMA_AREA_VVAR != 0 {
        (VmaKind::Vvar, Some("[vvar]".to_string()))
    } else if st & vm::VMA_AREA_VSYSCALL != 0 {
        (VmaKind::Vsyscall, Some("[vsyscall]".to_string()))
    } else if st & (vm::VMA_FILE_PRIVATE | vm::VMA_FILE_SHARED | vm::VMA_AREA_MEMFD) != 0 {
        let path = file_name(v.shmid).unwrap_or_else(|| format!("[file id {}]", v.shmid));
        (VmaKind::File, Some(path))
    } else if st & (vm::VMA_ANON_SHARED | vm::VMA_AREA_SYSVIPC) != 0 {
        let path = if st & vm::VMA_AREA_SYSVIPC != 0 {
            format!("/SYSV{:08x} (deleted)", v.shmid)
        } else {
            "/dev/zero (deleted)".to_string()
        };
        (VmaKind::Shmem, Some(path))
    } else if st & vm::VMA_AREA_STACK != 0
        || v.flags & vm::MAP_GROWSDOWN != 0
        || (v.start..v.end).contains(&mm.mm_start_stack)
    {
        (VmaKind::Stack, Some("[stack]".to_string()))
    } else if st & vm::VMA_AREA_HEAP != 0
        || (mm.mm_start_brk != 0 && v.start <= mm.mm_brk && v.end >= mm.mm_start_brk)
    {
        (VmaKind::Heap, Some("[heap]".to_string()))
    } else {
        (VmaKind::Anon, None)
    };
    Vma {
        start: v.start,
        end: v.end,
        perms,
        pgoff: if matches!(kind, VmaKind::File | VmaKind::Shmem) {
            v.pgoff
        } else {
            0
        },
        path,
        kind,
        inode: None,
        dev: None,
    }
}

/// Splits a NUL-separated block (cmdline, environ) into strings.
pub fn split_nul(bytes: &[u8]) -> Vec<String> {
    let trimmed = match bytes.iter().rposition(|&b| b != 0) {
        Some(last) => bytes.get(..=last).unwrap_or_default(),
        None => return Vec::new(),
    };
    trimmed
        .split(|&b| b == 0)
        .map(|s| String::from_utf8_lossy(s).into_owned())
        .collect()
}
