//! Kernel structure layouts resolved once per open, from whichever symbols the dump has:
//! a typed struct of offsets per kernel structure the task walker reads, instead of a
//! structure and field name looked up on every read. A field every kernel has is required,
//! and a symbol file without it is an error at open that names the structure, the field
//! and where the symbols came from; fields that kernel versions add, rename or drop are
//! `Option`s, and the walker chooses by what is there.

use crate::engine::error::{Error, Result};
use crate::engine::kernel::isf::Isf;

/// `struct task_struct`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TaskStruct {
    /// `tasks` (the list of thread-group leaders).
    pub tasks: u64,
    /// `pid` (the thread id).
    pub pid: u64,
    /// `tgid` (the process id).
    pub tgid: u64,
    /// `comm`.
    pub comm: u64,
    /// `parent`.
    pub parent: Option<u64>,
    /// `flags`.
    pub flags: Option<u64>,
    /// `cred`.
    pub cred: Option<u64>,
    /// `__state` (5.14+) or `state`.
    pub state: Option<u64>,
    /// `exit_state`.
    pub exit_state: Option<u64>,
    /// `mm`.
    pub mm: Option<u64>,
    /// `signal`.
    pub signal: Option<u64>,
    /// `thread_node` (6.7+; with `signal_struct.thread_head`).
    pub thread_node: Option<u64>,
    /// `thread_group` (before 6.7).
    pub thread_group: Option<u64>,
    /// `start_boottime` (5.5+), `real_start_time` or `start_time`: nanoseconds since boot.
    pub start: Option<u64>,
}

/// `struct mm_struct`: the fields of a process's address space the task walker reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MmStruct {
    /// `pgd`.
    pub pgd: u64,
    /// `arg_start`, `arg_end`.
    pub args: (u64, u64),
    /// `env_start`, `env_end`.
    pub env: (u64, u64),
}

/// `struct cred`: the ids.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cred {
    /// `uid`.
    pub uid: u64,
    /// `gid`.
    pub gid: u64,
    /// `euid`.
    pub euid: u64,
}

/// The layouts of the structures the task walker reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Structs {
    /// `task_struct`.
    pub task: TaskStruct,
    /// `mm_struct`, when the symbols describe it fully.
    pub mm: Option<MmStruct>,
    /// `cred`, when the symbols describe it.
    pub cred: Option<Cred>,
    /// `signal_struct.thread_head`, when there (6.7+).
    pub signal_thread_head: Option<u64>,
}

impl Structs {
    /// Resolves every layout from `isf`; a required field it lacks is an error naming it
    /// and the symbols' source.
    pub fn resolve(isf: &Isf) -> Result<Structs> {
        let need = |st: &str, f: &str| -> Result<u64> {
            isf.field(st, f).map(|x| x.offset).ok_or_else(|| {
                Error::Missing(format!(
                    "{st}.{f} in the kernel's symbols ({}, {}): every kernel has it, so \
                     these symbols are not of this kernel or are damaged",
                    isf.source().kind(),
                    isf.path().display()
                ))
            })
        };
        let opt = |st: &str, f: &str| isf.field(st, f).map(|x| x.offset);
        let first = |st: &str, names: &[&str]| names.iter().find_map(|n| opt(st, n));
        let t = "task_struct";
        let task = TaskStruct {
            tasks: need(t, "tasks")?,
            pid: need(t, "pid")?,
            tgid: need(t, "tgid")?,
            comm: need(t, "comm")?,
            parent: opt(t, "parent"),
            flags: opt(t, "flags"),
            cred: opt(t, "cred"),
            state: first(t, &["__state", "state"]),
            exit_state: opt(t, "exit_state"),
            mm: opt(t, "mm"),
            signal: opt(t, "signal"),
            thread_node: opt(t, "thread_node"),
            thread_group: opt(t, "thread_group"),
            start: first(t, &["start_boottime", "real_start_time", "start_time"]),
        };
        let m = "mm_struct";
        let mm = (|| {
            Some(MmStruct {
                pgd: opt(m, "pgd")?,
                args: (opt(m, "arg_start")?, opt(m, "arg_end")?),
                env: (opt(m, "env_start")?, opt(m, "env_end")?),
            })
        })();
        let cred = (|| {
            Some(Cred {
                uid: opt("cred", "uid")?,
                gid: opt("cred", "gid")?,
                euid: opt("cred", "euid")?,
            })
        })();
        Ok(Structs {
            task,
            mm,
            cred,
            signal_thread_head: opt("signal_struct", "thread_head"),
        })
    }
}
