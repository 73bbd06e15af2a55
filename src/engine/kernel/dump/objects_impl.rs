//! [`KernelDump`] as [`KernelObjects`]: the kernel walkers of modules, system-call tables,
//! eBPF programs and traced tasks, run over the dump's kernel address space.

use super::KernelDump;
use crate::engine::capability::KernelObjects;
use crate::engine::error::Result;
use crate::engine::evidence::Walk;
use crate::engine::kernel::bpf::{BpfProgram, bpf_programs};
use crate::engine::kernel::hidden::{HiddenScan, hidden_modules};
use crate::engine::kernel::modules::{Module, modules};
use crate::engine::kernel::ptrace::{Traced, traced};
use crate::engine::kernel::syscalls::{SyscallCheck, check_syscalls};

impl KernelObjects for KernelDump {
    fn modules(&self) -> Result<Walk<Module>> {
        modules(&self.space)
    }

    fn hidden_modules(&self) -> Result<HiddenScan> {
        let listed = modules(&self.space)?;
        let mut scan = hidden_modules(&self.space, &listed.items)?;
        scan.problems.splice(0..0, listed.problems);
        Ok(scan)
    }

    fn syscall_tables(&self) -> Result<SyscallCheck> {
        // Hooks are named by the listed module that holds them (triage names hidden ones).
        let listed = match modules(&self.space) {
            Ok(w) => w.items,
            Err(e) => {
                tracing::debug!("syscall check without module names: {e}");
                Vec::new()
            }
        };
        check_syscalls(&self.space, &listed)
    }

    fn bpf_programs(&self) -> Result<Walk<BpfProgram>> {
        bpf_programs(&self.space)
    }

    fn traced(&self) -> Result<Walk<Traced>> {
        let tasks: Vec<_> = self
            .tasks
            .values()
            .map(|t| (t.info.pid, t.info.comm.clone(), t.info.task))
            .collect();
        traced(&self.space, &tasks)
    }
}
