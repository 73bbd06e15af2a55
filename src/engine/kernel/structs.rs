//! Kernel structure layouts resolved once per open, from whichever symbols the dump has:
//! a typed struct of offsets per kernel structure the task and memory-area walkers read, instead of a
//! structure and field name looked up on every read. A field every kernel has is required,
//! and a symbol file without it is an error at open that names the structure, the field
//! and where the symbols came from; fields that kernel versions add, rename or drop are
//! `Option`s, and the walker chooses by what is there.

use crate::engine::error::{Error, Result};
use crate::engine::kernel::isf::{Isf, TypeRef};
use crate::engine::kernel::memory::KernelMemory;

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

/// An unsigned integer field whose size (and, for a bitfield, bits) the symbols give.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UintField {
    /// Byte offset (of the storage unit, for a bitfield).
    pub offset: u64,
    /// Size in bytes of the value or storage unit, 1 to 8.
    pub size: u64,
    /// `(bit position, bit length)` of a bitfield.
    pub bits: Option<(u32, u32)>,
}

impl UintField {
    /// The field `st.f` of `isf`, if it has it.
    pub fn of(isf: &Isf, st: &str, f: &str) -> Option<UintField> {
        let field = isf.field(st, f)?;
        let (storage, bits) = match &field.kind {
            TypeRef::Bitfield {
                bit_position,
                bit_length,
                subtype,
            } => (subtype.as_ref(), Some((*bit_position, *bit_length))),
            other => (other, None),
        };
        Some(UintField {
            offset: field.offset,
            size: isf.type_size(storage).unwrap_or(8).clamp(1, 8),
            bits,
        })
    }

    /// Reads the field of the structure at `base`.
    pub fn read(&self, k: &dyn KernelMemory, base: u64) -> Result<u64> {
        let mut buf = [0u8; 8];
        let part = buf
            .get_mut(..usize::try_from(self.size).unwrap_or(8))
            .unwrap_or(&mut []);
        k.read_exact(base.wrapping_add(self.offset), part)?;
        let v = u64::from_le_bytes(buf);
        Ok(match self.bits {
            Some((pos, len)) => {
                let shifted = v.checked_shr(pos).unwrap_or(0);
                shifted
                    & 1u64
                        .checked_shl(len)
                        .map_or(u64::MAX, |m| m.wrapping_sub(1))
            }
            None => v,
        })
    }
}

/// `struct vm_area_struct`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VmAreaStruct {
    /// `vm_start`.
    pub start: u64,
    /// `vm_end`.
    pub end: u64,
    /// `vm_flags` (a plain field, or one of an anonymous union on 6.3+).
    pub flags: UintField,
    /// `vm_file`.
    pub file: u64,
    /// `vm_pgoff`.
    pub pgoff: u64,
    /// `vm_ops`.
    pub ops: Option<u64>,
    /// `vm_private_data`.
    pub private_data: Option<u64>,
    /// `vm_next` (before 6.1).
    pub next: Option<u64>,
}

/// The fields of `struct mm_struct` the memory-area walker reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MmAreas {
    /// `mmap` (the VMA list, before 6.1).
    pub mmap: Option<u64>,
    /// `mm_mt` (the maple tree, 6.1+).
    pub mm_mt: Option<u64>,
    /// `start_brk`, `brk`, `start_stack`.
    pub start_brk: u64,
    /// `brk`.
    pub brk: u64,
    /// `start_stack`.
    pub start_stack: u64,
    /// `context.vdso`, as one offset from the `mm_struct`.
    pub vdso: Option<u64>,
}

/// The layouts of the structures the task and memory-area walkers read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Structs {
    /// `task_struct`, or the required field the symbols lack.
    task: Result<TaskStruct, &'static str>,
    /// `mm_struct`, when the symbols describe it fully.
    pub mm: Option<MmStruct>,
    /// `cred`, when the symbols describe it.
    pub cred: Option<Cred>,
    /// `signal_struct.thread_head`, when there (6.7+).
    pub signal_thread_head: Option<u64>,
    /// `vm_area_struct`, when the symbols describe it.
    pub vma: Option<VmAreaStruct>,
    /// `mm_struct`'s memory-area fields, when the symbols describe them.
    pub mm_areas: Option<MmAreas>,
}

impl Structs {
    /// Resolves every layout from `isf` and checks that it has every field every kernel
    /// has; the error names the missing one and the symbols' source.
    pub fn require(isf: &Isf) -> Result<Structs> {
        let s = Structs::resolve(isf);
        match s.task {
            Ok(_) => Ok(s),
            Err(field) => Err(Error::MissingSymbol(format!(
                "task_struct.{field} in the kernel's symbols ({}, {}): every kernel has it, \
                 so these symbols are not of this kernel or are damaged",
                isf.source().kind(),
                isf.path().display()
            ))),
        }
    }

    /// `task_struct`'s layout, or an error naming the field the symbols lack.
    pub fn task(&self) -> Result<TaskStruct> {
        self.task
            .map_err(|f| Error::MissingSymbol(format!("task_struct.{f} in the kernel's symbols")))
    }

    /// Resolves every layout from `isf` (what it lacks is `None`, or an error from
    /// [`Structs::task`]).
    pub fn resolve(isf: &Isf) -> Structs {
        let opt = |st: &str, f: &str| isf.field(st, f).map(|x| x.offset);
        let first = |st: &str, names: &[&str]| names.iter().find_map(|n| opt(st, n));
        let t = "task_struct";
        let need = |f: &'static str| opt(t, f).ok_or(f);
        let task = (|| {
            Ok(TaskStruct {
                tasks: need("tasks")?,
                pid: need("pid")?,
                tgid: need("tgid")?,
                comm: need("comm")?,
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
            })
        })();
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
        let v = "vm_area_struct";
        let vma = (|| {
            Some(VmAreaStruct {
                start: opt(v, "vm_start")?,
                end: opt(v, "vm_end")?,
                flags: UintField::of(isf, v, "vm_flags")?,
                file: opt(v, "vm_file")?,
                pgoff: opt(v, "vm_pgoff")?,
                ops: opt(v, "vm_ops"),
                private_data: opt(v, "vm_private_data"),
                next: opt(v, "vm_next"),
            })
        })();
        let mm_areas = (|| {
            Some(MmAreas {
                mmap: opt(m, "mmap"),
                mm_mt: opt(m, "mm_mt"),
                start_brk: opt(m, "start_brk")?,
                brk: opt(m, "brk")?,
                start_stack: opt(m, "start_stack")?,
                vdso: opt(m, "context")
                    .zip(opt("mm_context_t", "vdso"))
                    .map(|(a, b)| a.wrapping_add(b)),
            })
        })();
        Structs {
            task,
            mm,
            cred,
            signal_thread_head: opt("signal_struct", "thread_head"),
            vma,
            mm_areas,
        }
    }
}
