//! The process list of a kernel: `init_task.tasks` (thread-group leaders), their threads,
//! credentials, scheduler state, start time, memory descriptor, namespaces and cgroup.
//!
//! Every list walk has a visited set and a bound; a task that cannot be read is skipped
//! with a warning, never a panic. Structure layouts come from the ISF.

use std::collections::{BTreeMap, HashSet};
use std::ops::Range;

use crate::engine::error::{Error, Result};
use crate::engine::evidence::Thread;
use crate::engine::kernel::cgroup::cgroup_path;
use crate::engine::kernel::memory::KernelMemory;
use crate::engine::kernel::structs::{Cred, TaskStruct};

/// At most this many tasks (or threads of one process) are followed.
pub const MAX_TASKS: usize = 1 << 17;
/// `PF_KTHREAD` in `task_struct.flags`.
const PF_KTHREAD: u32 = 0x0020_0000;
/// Deepest pid namespace level accepted.
const MAX_PID_LEVEL: u32 = 32;

/// What the kernel says about one thread-group leader.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct TaskInfo {
    /// Kernel virtual address of the `task_struct`.
    pub task: u64,
    /// The process id (`tgid`).
    pub pid: u32,
    /// The parent's `tgid`, through `task->parent` as Volatility 3's `linux.pslist` reads it
    /// (`task.parent.tgid`). `parent` differs from `real_parent` only while the task is
    /// ptraced (then it is the tracer; `/proc/PID/status` PPid uses `real_parent`).
    pub ppid: u32,
    /// Process group id (global).
    pub pgid: u32,
    /// Session id (global).
    pub sid: u32,
    /// `comm`.
    pub comm: String,
    /// Real uid.
    pub uid: Option<u32>,
    /// Real gid.
    pub gid: Option<u32>,
    /// Effective uid.
    pub euid: Option<u32>,
    /// Start, nanoseconds since boot (boot-based clock when the kernel keeps one).
    pub start_ns: Option<u64>,
    /// Scheduler state name.
    pub state: String,
    /// `PF_KTHREAD` set.
    pub kernel_thread: bool,
    /// `task->mm` (0 for kernel threads and exited tasks).
    pub mm: u64,
    /// `mm->pgd`: kernel virtual address of the top-level page table.
    pub pgd: u64,
    /// `mm->arg_start..arg_end`.
    pub args: Option<Range<u64>>,
    /// `mm->env_start..env_end`.
    pub env: Option<Range<u64>>,
    /// Threads, leader first.
    pub threads: Vec<Thread>,
    /// Namespace inode numbers by kind.
    pub ns: Option<BTreeMap<String, u64>>,
    /// Default-hierarchy cgroup path.
    pub cgroup: Option<String>,
}

/// Follows a circular `list_head` from `head`, returning the addresses of the entries
/// (each `list_head` minus `member_offset`), bounded and loop-safe. A pointer that cannot be
/// read ends the walk with an error naming it.
pub fn walk_list(
    k: &dyn KernelMemory,
    head: u64,
    member_offset: u64,
    limit: usize,
) -> Result<Vec<u64>> {
    let mut out = Vec::new();
    let mut seen = HashSet::new();
    let mut node = k.read_u64(head)?;
    while node != head && node != 0 && out.len() < limit && seen.insert(node) {
        out.push(node.wrapping_sub(member_offset));
        node = k.read_u64(node)?;
    }
    Ok(out)
}

/// The `task_struct` addresses of the thread-group leaders on `init_task.tasks` (init_task
/// itself, pid 0, excluded as Volatility does), and warnings.
pub fn task_list(k: &dyn KernelMemory) -> Result<(Vec<u64>, Vec<String>)> {
    let init = k.symbol("init_task")?;
    let off = k.structs().task()?.tasks;
    let mut warnings = Vec::new();
    let mut out = Vec::new();
    let mut seen = HashSet::new();
    let head = init.wrapping_add(off);
    let mut node = k.read_u64(head)?;
    while node != head {
        // The task whose `tasks.next` led here (init_task for the first).
        let from = out.last().copied().unwrap_or(init);
        if node == 0 {
            warnings.push(format!(
                "task list: task at {from:#x} has a NULL tasks.next; the walk stopped there"
            ));
            break;
        }
        if !seen.insert(node) {
            warnings.push(format!(
                "task list: loop: tasks.next of the task at {from:#x} points back to the task \
                 at {:#x}, already listed; the walk stopped there (tasks after the loop are \
                 not listed)",
                node.wrapping_sub(off)
            ));
            break;
        }
        if out.len() >= MAX_TASKS {
            warnings.push(format!("task list: more than {MAX_TASKS} tasks; cut"));
            break;
        }
        out.push(node.wrapping_sub(off));
        match k.read_u64(node) {
            Ok(next) => node = next,
            Err(e) => {
                warnings.push(format!("task list: {e}; the walk stopped there"));
                break;
            }
        }
    }
    Ok((out, warnings))
}

/// Reads a `comm` array.
fn comm(k: &dyn KernelMemory, t: &TaskStruct, task: u64) -> Result<String> {
    let at = task.wrapping_add(t.comm);
    Ok(String::from_utf8_lossy(&k.read_cstr(at, 16)?).into_owned())
}

/// The error for a field these symbols do not have.
fn lacks(what: &str) -> Error {
    Error::MissingSymbol(format!("{what} in the kernel's symbols"))
}

/// The threads of the process whose leader is at `leader`, the leader first.
pub fn threads(k: &dyn KernelMemory, leader: u64) -> Result<Vec<Thread>> {
    let ts = &k.structs().task()?;
    let mut out: Vec<Thread> = Vec::new();
    for t in thread_tasks(k, leader)? {
        let tid = k.u32_at(t, ts.pid)?;
        let thread = Thread {
            tid,
            comm: comm(k, ts, t)?,
        };
        if t == leader {
            out.insert(0, thread);
        } else {
            out.push(thread);
        }
    }
    Ok(out)
}

/// The addresses of the `task_struct`s of the threads of the process whose leader is at
/// `leader` (the leader among them): `signal->thread_head` / `thread_node` when the ISF has
/// them, else `thread_group`.
pub fn thread_tasks(k: &dyn KernelMemory, leader: u64) -> Result<Vec<u64>> {
    let s = k.structs();
    let ts = &s.task()?;
    match (s.signal_thread_head, ts.thread_node, ts.signal) {
        (Some(head_off), Some(node_off), Some(signal_off)) => {
            let signal = k.u64_at(leader, signal_off)?;
            walk_list(k, signal.wrapping_add(head_off), node_off, MAX_TASKS)
        }
        _ => {
            let off = ts
                .thread_group
                .ok_or_else(|| lacks("task_struct.thread_group (or thread_node)"))?;
            let head = leader.wrapping_add(off);
            let mut all = vec![leader];
            all.extend(walk_list(k, head, off, MAX_TASKS)?);
            Ok(all)
        }
    }
}

/// The name of a scheduler state, as `/proc/PID/stat` reports it (`__state | exit_state`).
pub fn state_name(state: u32, exit_state: u32) -> &'static str {
    const TASK_IDLE: u32 = 0x402;
    if state == TASK_IDLE {
        return "idle";
    }
    let s = (state | exit_state) & 0x7f;
    match s {
        0 => "running",
        _ if s & 0x20 != 0 => "zombie",
        _ if s & 0x10 != 0 => "dead",
        _ if s & 0x40 != 0 => "parked",
        _ if s & 0x08 != 0 => "tracing-stop",
        _ if s & 0x04 != 0 => "stopped",
        _ if s & 0x02 != 0 => "disk-sleep",
        _ => "sleeping",
    }
}

/// `ns.inum` of the namespace object at `ptr` of type `ty`.
fn ns_inum(k: &dyn KernelMemory, ptr: u64, ty: &str) -> Result<u64> {
    let ns = k.field_addr(ptr, ty, "ns")?;
    Ok(u64::from(k.read_field_u32(ns, "ns_common", "inum")?))
}

/// The pid namespace of a `struct pid` (`numbers[level].ns`).
fn pid_ns(k: &dyn KernelMemory, pid: u64) -> Result<u64> {
    let level = k.read_field_u32(pid, "pid", "level")?;
    if level > MAX_PID_LEVEL {
        return Err(Error::Corrupt {
            file: "kernel memory".into(),
            at: pid,
            reason: format!("struct pid level {level}"),
        });
    }
    let upid = k.isf().struct_size("upid").unwrap_or(16);
    let numbers = k.field_addr(pid, "pid", "numbers")?;
    let entry = numbers.wrapping_add(u64::from(level) * upid);
    let ns = k.read_field_u64(entry, "upid", "ns")?;
    ns_inum(k, ns, "pid_namespace")
}

/// The namespaces of a task: nsproxy's, the user namespace of its credentials and the pid
/// namespace of its own pid.
pub fn namespaces(k: &dyn KernelMemory, task: u64, cred: u64) -> Option<BTreeMap<String, u64>> {
    let mut out = BTreeMap::new();
    if let Ok(nsproxy) = k.read_field_u64(task, "task_struct", "nsproxy")
        && nsproxy != 0
    {
        for (key, field, ty) in [
            ("uts", "uts_ns", "uts_namespace"),
            ("ipc", "ipc_ns", "ipc_namespace"),
            ("mnt", "mnt_ns", "mnt_namespace"),
            ("net", "net_ns", "net"),
            ("cgroup", "cgroup_ns", "cgroup_namespace"),
            ("time", "time_ns", "time_namespace"),
        ] {
            if let Ok(ptr) = k.read_field_u64(nsproxy, "nsproxy", field)
                && ptr != 0
                && let Ok(inum) = ns_inum(k, ptr, ty)
            {
                out.insert(key.to_string(), inum);
            }
        }
    }
    if cred != 0
        && let Ok(user) = k.read_field_u64(cred, "cred", "user_ns")
        && user != 0
        && let Ok(inum) = ns_inum(k, user, "user_namespace")
    {
        out.insert("user".into(), inum);
    }
    let pid_field = if k.isf().has_field("task_struct", "thread_pid") {
        Some("thread_pid")
    } else {
        None
    };
    if let Some(f) = pid_field
        && let Ok(pid) = k.read_field_u64(task, "task_struct", f)
        && pid != 0
        && let Ok(inum) = pid_ns(k, pid)
    {
        out.insert("pid".into(), inum);
    }
    (!out.is_empty()).then_some(out)
}

/// The global number of the process group / session of a task (`signal->pids[kind]`).
fn signal_pid(k: &dyn KernelMemory, signal: u64, kind: &str) -> Option<u32> {
    let index = u64::try_from(k.isf().enum_value("pid_type", kind)?).ok()?;
    let pids = k.field_addr(signal, "signal_struct", "pids").ok()?;
    let pid = k.read_u64(pids.wrapping_add(index * 8)).ok()?;
    if pid == 0 {
        return None;
    }
    let numbers = k.field_addr(pid, "pid", "numbers").ok()?;
    k.read_field_u32(numbers, "upid", "nr").ok()
}

/// Reads everything about the thread-group leader at `task`.
pub fn read_task(k: &dyn KernelMemory, task: u64) -> Result<TaskInfo> {
    let s = k.structs();
    let t = &s.task()?;
    let u32_of = |off: Option<u64>| off.and_then(|o| k.u32_at(task, o).ok());
    let u64_of = |off: Option<u64>| off.and_then(|o| k.u64_at(task, o).ok());
    let pid = k.u32_at(task, t.tgid)?;
    let parent = match t.parent {
        Some(o) => k.u64_at(task, o)?,
        None => 0,
    };
    let ppid = if parent == 0 {
        0
    } else {
        k.u32_at(parent, t.tgid).unwrap_or(0)
    };
    let flags = u32_of(t.flags).unwrap_or(0);
    let cred = u64_of(t.cred).unwrap_or(0);
    let cred_u32 = |pick: fn(&Cred) -> u64| {
        let c = s.cred.as_ref()?;
        (cred != 0).then(|| k.u32_at(cred, pick(c)).ok()).flatten()
    };
    let state = u32_of(t.state).unwrap_or(0);
    let exit_state = u32_of(t.exit_state).unwrap_or(0);
    let mm = u64_of(t.mm).unwrap_or(0);
    let mut info = TaskInfo {
        task,
        pid,
        ppid,
        comm: comm(k, t, task)?,
        uid: cred_u32(|c| c.uid),
        gid: cred_u32(|c| c.gid),
        euid: cred_u32(|c| c.euid),
        start_ns: u64_of(t.start),
        state: state_name(state, exit_state).to_string(),
        kernel_thread: flags & PF_KTHREAD != 0,
        mm,
        threads: threads(k, task).unwrap_or_else(|e| {
            tracing::warn!(pid, "threads unreadable, listed without them: {e}");
            Vec::new()
        }),
        ns: namespaces(k, task, cred),
        cgroup: cgroup_path(k, task).unwrap_or_else(|e| {
            tracing::debug!(pid, "no cgroup path: {e}");
            None
        }),
        ..TaskInfo::default()
    };
    if info.threads.is_empty() {
        info.threads.push(Thread {
            tid: k.u32_at(task, t.pid)?,
            comm: info.comm.clone(),
        });
    }
    if let Some(signal) = u64_of(t.signal)
        && signal != 0
    {
        info.pgid = signal_pid(k, signal, "PIDTYPE_PGID").unwrap_or(0);
        info.sid = signal_pid(k, signal, "PIDTYPE_SID").unwrap_or(0);
    }
    if mm != 0
        && !info.kernel_thread
        && let Some(m) = &s.mm
    {
        info.pgd = k.u64_at(mm, m.pgd).unwrap_or(0);
        let range = |(a, b): (u64, u64)| {
            let s = k.u64_at(mm, a).ok()?;
            let e = k.u64_at(mm, b).ok()?;
            (s <= e).then_some(s..e)
        };
        info.args = range(m.args);
        info.env = range(m.env);
    }
    Ok(info)
}
