//! `core-<tid>.img`: one per thread. The thread-group leader's image also carries the
//! process-wide state (`tc`): task state, exit code, command name, signal dispositions.

use super::{CredsEntry, TaskKobjIdsEntry, ThreadInfoX86};

/// Values of [`TaskCoreEntry::task_state`] (CRIU's `TASK_*`, shared with compel).
///
/// crit's dictionary swaps the names of 3 and 6 (it prints 3 as "Zombie" and 6 as
/// "Stopped"); these are the values CRIU itself writes and restores.
pub mod task_state {
    /// Running or sleeping task.
    pub const ALIVE: u32 = 0x01;
    /// A zombie as CRIU stores it in images: exited, not reaped, no threads, memory or
    /// files; `exit_code` holds its wait status.
    pub const DEAD: u32 = 0x02;
    /// Stopped task (`SIGSTOP`).
    pub const STOPPED: u32 = 0x03;
    /// Zombie as CRIU sees it while seizing tasks (images store zombies as [`DEAD`]).
    pub const ZOMBIE: u32 = 0x06;
}

/// Architecture of the dumped task (`core_entry.march`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
#[repr(i32)]
pub enum March {
    /// Unknown architecture.
    Unknown = 0,
    /// x86-64 (also 32-bit compat tasks on it).
    X86_64 = 1,
    /// 32-bit ARM.
    Arm = 2,
    /// 64-bit ARM.
    Aarch64 = 3,
    /// 64-bit PowerPC.
    Ppc64 = 4,
    /// IBM z/Architecture.
    S390 = 5,
    /// MIPS.
    Mips = 6,
    /// LoongArch 64.
    Loongarch64 = 7,
    /// RISC-V 64.
    Riscv64 = 8,
}

/// Seccomp mode of a thread (`seccomp_mode`, as `SECCOMP_MODE_*`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
#[repr(i32)]
pub enum SeccompMode {
    /// No seccomp.
    Disabled = 0,
    /// Strict mode (read/write/exit only).
    Strict = 1,
    /// BPF filter mode (filters in `seccomp.img`).
    Filter = 2,
}

/// Top-level message of a `core-<tid>.img` (`core_entry`).
#[derive(Clone, PartialEq, prost::Message)]
pub struct CoreEntry {
    /// A [`March`] value.
    #[prost(enumeration = "March", required, tag = "1")]
    pub mtype: i32,
    /// x86 registers (present when `mtype` is x86-64).
    #[prost(message, optional, tag = "2")]
    pub thread_info: Option<ThreadInfoX86>,
    /// Process-wide state; present in the thread-group leader's image.
    #[prost(message, optional, tag = "3")]
    pub tc: Option<TaskCoreEntry>,
    /// Kernel object ids (old images; newer ones use `ids-<pid>.img`).
    #[prost(message, optional, tag = "4")]
    pub ids: Option<TaskKobjIdsEntry>,
    /// Per-thread state: credentials, thread name, scheduling.
    #[prost(message, optional, tag = "5")]
    pub thread_core: Option<ThreadCoreEntry>,
}

/// Process-wide state (`task_core_entry`).
#[derive(Clone, PartialEq, prost::Message)]
pub struct TaskCoreEntry {
    /// One of the [`task_state`] values.
    #[prost(uint32, required, tag = "1")]
    pub task_state: u32,
    /// Exit code (zombies).
    #[prost(uint32, required, tag = "2")]
    pub exit_code: u32,
    /// `personality(2)` flags.
    #[prost(uint32, required, tag = "3")]
    pub personality: u32,
    /// Kernel `task_struct.flags` (`PF_*`).
    #[prost(uint32, required, tag = "4")]
    pub flags: u32,
    /// Blocked signal mask (old images; newer keep it per thread).
    #[prost(uint64, required, tag = "5")]
    pub blk_sigset: u64,
    /// Command name (`/proc/PID/comm`, at most 15 bytes), as bytes.
    #[prost(bytes = "vec", required, tag = "6")]
    pub comm: Vec<u8>,
    /// Cgroup set id in `cgroup.img` (deprecated: per thread in newer images).
    #[prost(uint32, optional, tag = "9")]
    pub cg_set: Option<u32>,
    /// Seccomp mode (old images), a [`SeccompMode`] value.
    #[prost(enumeration = "SeccompMode", optional, tag = "11")]
    pub old_seccomp_mode: Option<i32>,
    /// Audit login uid (`u32::MAX` when unset).
    #[prost(uint32, optional, tag = "13")]
    pub loginuid: Option<u32>,
    /// OOM score adjustment.
    #[prost(int32, optional, tag = "14")]
    pub oom_score_adj: Option<i32>,
    /// `PR_SET_CHILD_SUBREAPER` flag.
    #[prost(bool, optional, tag = "18")]
    pub child_subreaper: Option<bool>,
    /// Signal that stopped the task (stopped tasks).
    #[prost(uint32, optional, tag = "21")]
    pub stop_signo: Option<u32>,
}

/// Per-thread state (`thread_core_entry`).
#[derive(Clone, PartialEq, prost::Message)]
pub struct ThreadCoreEntry {
    /// Robust futex list head address.
    #[prost(uint64, required, tag = "1")]
    pub futex_rla: u64,
    /// Robust futex list head length.
    #[prost(uint32, required, tag = "2")]
    pub futex_rla_len: u32,
    /// Nice value.
    #[prost(sint32, optional, tag = "3")]
    pub sched_nice: Option<i32>,
    /// Scheduling policy (`SCHED_*`).
    #[prost(uint32, optional, tag = "4")]
    pub sched_policy: Option<u32>,
    /// Real-time priority.
    #[prost(uint32, optional, tag = "5")]
    pub sched_prio: Option<u32>,
    /// Blocked signal mask.
    #[prost(uint64, optional, tag = "6")]
    pub blk_sigset: Option<u64>,
    /// Parent-death signal (`PR_SET_PDEATHSIG`).
    #[prost(uint32, optional, tag = "8")]
    pub pdeath_sig: Option<u32>,
    /// Credentials.
    #[prost(message, optional, tag = "10")]
    pub creds: Option<CredsEntry>,
    /// Seccomp mode, a [`SeccompMode`] value.
    #[prost(enumeration = "SeccompMode", optional, tag = "11")]
    pub seccomp_mode: Option<i32>,
    /// Index of the thread's seccomp filter chain in `seccomp.img`.
    #[prost(uint32, optional, tag = "12")]
    pub seccomp_filter: Option<u32>,
    /// Thread name (`/proc/PID/task/TID/comm`), as bytes.
    #[prost(bytes = "vec", optional, tag = "13")]
    pub comm: Option<Vec<u8>>,
    /// Cgroup set id in `cgroup.img`.
    #[prost(uint32, optional, tag = "16")]
    pub cg_set: Option<u32>,
}
