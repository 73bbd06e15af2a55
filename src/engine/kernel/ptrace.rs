//! Traced processes: a task whose `task_struct.ptrace` is not 0 has a tracer (a debugger,
//! strace, or code injecting itself through `PTRACE_ATTACH`). While it is traced,
//! `task->parent` is the tracer and `task->real_parent` the process that forked it; they
//! are the same when the tracer started the program itself (`gdb ./prog`, `strace ./prog`).
//!
//! Every thread is read (ptrace attaches to threads one by one: a tracer may hold one
//! thread of a process and not its leader); a process is reported once, with the threads
//! traced, and the tracer of the first of them (the leader when it is traced).

use serde::Serialize;

use crate::engine::error::{Error, Result};
use crate::engine::evidence::{Pid, Walk};
use crate::engine::kernel::memory::KernelMemory;
use crate::engine::kernel::note_problem;
use crate::engine::kernel::structs::UintField;
use crate::engine::kernel::tasks::thread_tasks;

/// A traced process.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Traced {
    /// The process.
    pub pid: Pid,
    /// Its comm.
    pub comm: String,
    /// `task_struct.ptrace` (`PT_PTRACED`, `PT_SEIZED`, options).
    pub ptrace: u64,
    /// The tracer's pid (`task->parent`), when readable.
    pub tracer: Option<Pid>,
    /// The tracer's comm.
    pub tracer_comm: Option<String>,
    /// The pid of the process that forked it (`task->real_parent`), when readable.
    pub real_parent: Option<Pid>,
    /// The threads traced (the leader's tid is the pid), in the thread list's order.
    pub tids: Vec<Pid>,
    /// How many threads the process has (as far as the thread list was read).
    pub thread_count: usize,
}

impl Traced {
    /// True when the tracer is not the process's own parent: it attached to a running
    /// process.
    pub fn attached(&self) -> bool {
        self.tracer.is_some() && self.tracer != self.real_parent
    }
}

/// The processes among `tasks` (pid, comm, the leader's `task_struct` address) of which a
/// thread is traced.
pub fn traced(k: &dyn KernelMemory, tasks: &[(Pid, String, u64)]) -> Result<Walk<Traced>> {
    let isf = k.isf();
    let t = "task_struct";
    let flags = UintField::of(isf, t, "ptrace")
        .ok_or_else(|| Error::MissingSymbol("ISF field task_struct.ptrace".into()))?;
    let parent = isf.offset(t, "parent")?;
    let real_parent = isf.field(t, "real_parent").map(|f| f.offset);
    let tgid = isf.offset(t, "tgid")?;
    let comm = isf.offset(t, "comm")?;
    let pid_of = |task: u64| k.u32_at(task, tgid).ok();
    let comm_of = |task: u64| {
        k.read_cstr(task.wrapping_add(comm), 16)
            .ok()
            .map(|s| String::from_utf8_lossy(&s).into_owned())
    };
    let tid_off = isf.offset(t, "pid")?;
    let mut w = Walk::default();
    for (pid, name, leader) in tasks {
        let threads = thread_tasks(k, *leader).unwrap_or_else(|e| {
            note_problem(&mut w.problems, || {
                format!("pid {pid}: threads: {e}; its leader alone is checked")
            });
            vec![*leader]
        });
        let mut found: Option<Traced> = None;
        for task in &threads {
            let value = match flags.read(k, *task) {
                Ok(v) => v,
                Err(e) => {
                    note_problem(&mut w.problems, || format!("pid {pid}: ptrace: {e}"));
                    continue;
                }
            };
            if value == 0 {
                continue;
            }
            let tid = k.u32_at(*task, tid_off).unwrap_or(*pid);
            if let Some(f) = &mut found {
                f.tids.push(tid);
                continue;
            }
            let tracer = k.u64_at(*task, parent).ok().filter(|&p| p != 0);
            let real = real_parent
                .and_then(|o| k.u64_at(*task, o).ok())
                .filter(|&p| p != 0);
            found = Some(Traced {
                pid: *pid,
                comm: name.clone(),
                ptrace: value,
                tracer: tracer.and_then(pid_of),
                tracer_comm: tracer.and_then(comm_of),
                real_parent: real.and_then(pid_of),
                tids: vec![tid],
                thread_count: threads.len(),
            });
        }
        w.items.extend(found);
    }
    Ok(w)
}
