//! The system-call tables checked as Volatility's `linux.check_syscall` does: every entry of
//! `sys_call_table` (and `ia32_sys_call_table`, `x32_sys_call_table` where the kernel has
//! them) must point into the kernel's own code, `_stext.._etext`. An entry pointing
//! elsewhere was changed after boot: a rootkit's hook, in a module's code (named) or in
//! memory no module claims.
//!
//! A table's length is its array type's when the symbols give one, else the distance to the
//! next symbol (dwarf2json and kallsyms give the table no length), at most [`MAX_ENTRIES`].
//! Within that, the table ends at the first entry that is not a kernel address (the padding
//! up to the next symbol is zeros): a hook is always a kernel address.

use serde::Serialize;

use crate::engine::error::{Error, Result};
use crate::engine::evidence::hex;
use crate::engine::kernel::isf::TypeRef;
use crate::engine::kernel::memory::KernelMemory;
use crate::engine::kernel::modules::Module;

/// Most entries read of one table (x86-64 has about 460 system calls).
pub const MAX_ENTRIES: u64 = 4096;

/// The tables looked for and what each is for.
const TABLES: [(&str, &str); 3] = [
    ("sys_call_table", "64-bit"),
    ("ia32_sys_call_table", "32-bit"),
    ("x32_sys_call_table", "x32"),
];

/// An entry that points outside the kernel's code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SyscallHook {
    /// The table's symbol (`sys_call_table`).
    pub table: &'static str,
    /// The system call number (the entry's index).
    pub index: u64,
    /// Where the entry points.
    #[serde(serialize_with = "hex::u64")]
    pub handler: u64,
    /// The module whose memory holds the handler, when one does.
    pub module: Option<String>,
    /// The handler is in that module's code (not its data).
    pub in_module_text: bool,
}

/// `length_from` of a table whose length is its symbol's type (an array of known size).
const SIZED_BY_TYPE: &str = "symbol type";

/// One table checked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SyscallTable {
    /// Its symbol.
    pub table: &'static str,
    /// Which calls it serves (`64-bit`, `32-bit`, `x32`).
    pub abi: &'static str,
    /// Its address.
    #[serde(serialize_with = "hex::u64")]
    pub address: u64,
    /// Entries read.
    pub entries: u64,
    /// Where the length came from (`symbol type`, `next symbol NAME`).
    pub length_from: String,
    /// Entries pointing outside the kernel's code.
    pub hooks: Vec<SyscallHook>,
}

/// What the check found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SyscallCheck {
    /// Start of the kernel's code (`_stext`).
    #[serde(serialize_with = "hex::u64")]
    pub text_start: u64,
    /// End of the kernel's code (`_etext`).
    #[serde(serialize_with = "hex::u64")]
    pub text_end: u64,
    /// The tables the kernel has, checked.
    pub tables: Vec<SyscallTable>,
    /// What could not be checked.
    pub problems: Vec<String>,
}

impl SyscallCheck {
    /// Every hook of every table.
    pub fn hooks(&self) -> impl Iterator<Item = &SyscallHook> {
        self.tables.iter().flat_map(|t| &t.hooks)
    }

    /// Entries checked in all tables.
    pub fn checked(&self) -> u64 {
        self.tables.iter().map(|t| t.entries).sum()
    }
}

/// True for an address of the kernel's half.
fn kernel_address(v: u64) -> bool {
    v >> 56 == 0xff
}

/// The length of the table `name` at unslid `address`: its type's, else up to the next
/// symbol, at most [`MAX_ENTRIES`].
fn length(k: &dyn KernelMemory, name: &str, address: u64) -> Option<(u64, String)> {
    let isf = k.isf();
    let pointer = isf.pointer_size().max(1);
    if let Some(TypeRef::Array { count, .. }) = isf.symbol(name).and_then(|s| s.type_ref)
        && count > 0
    {
        return Some((count.min(MAX_ENTRIES), SIZED_BY_TYPE.into()));
    }
    let (next, at) = isf.next_symbol_after(address)?;
    let n = (at - address) / pointer;
    (n > 0).then(|| (n.min(MAX_ENTRIES), format!("next symbol {next}")))
}

/// Checks every system-call table the symbols name against the kernel's code; hooks are
/// attributed to the module of `modules` whose memory holds them.
pub fn check_syscalls(k: &dyn KernelMemory, modules: &[Module]) -> Result<SyscallCheck> {
    let text_start = k.symbol("_stext").or_else(|_| k.symbol("_text"))?;
    let text_end = k.symbol("_etext")?;
    if text_end <= text_start {
        return Err(Error::Corrupt {
            file: "kernel symbols".into(),
            at: text_start,
            reason: format!("_etext {text_end:#x} is not above _stext"),
        });
    }
    let mut check = SyscallCheck {
        text_start,
        text_end,
        tables: Vec::new(),
        problems: Vec::new(),
    };
    for (name, abi) in TABLES {
        let Some(unslid) = k.isf().symbol_address(name) else {
            if name == "sys_call_table" {
                return Err(Error::MissingSymbol(format!("symbol {name}")));
            }
            continue;
        };
        let Some((n, length_from)) = length(k, name, unslid) else {
            check.problems.push(format!(
                "{name}: its length is not known (no symbol after it)"
            ));
            continue;
        };
        let sized_by_type = length_from == SIZED_BY_TYPE;
        let at = k.symbol(name)?;
        let mut raw = vec![0u8; usize::try_from(n * 8).unwrap_or(0)];
        let got = k.read_kernel(at, &mut raw)?;
        let mut table = SyscallTable {
            table: name,
            abi,
            address: at,
            entries: 0,
            length_from,
            hooks: Vec::new(),
        };
        for (index, word) in (0u64..).zip(raw.chunks_exact(8)) {
            let offset = usize::try_from(index * 8).unwrap_or(usize::MAX);
            if !got.is_captured(offset) {
                check.problems.push(format!(
                    "{name}: entry {index} at {:#x} is not in the dump; entries from there \
                     on are not checked",
                    at.wrapping_add(index * 8)
                ));
                break;
            }
            let handler = word.try_into().map_or(0, u64::from_le_bytes);
            // Past the table's end when its length is a guess (the next symbol's address);
            // inside a table of known length, an entry that is no kernel address is checked
            // like any other (a zeroed slot must not hide the hooks after it).
            if !kernel_address(handler) && !sized_by_type {
                break;
            }
            table.entries += 1;
            if (text_start..text_end).contains(&handler) {
                continue;
            }
            let owner = modules.iter().find(|m| m.core_contains(handler));
            table.hooks.push(SyscallHook {
                table: name,
                index,
                handler,
                module: owner.map(|m| m.name.clone()),
                in_module_text: owner.is_some_and(|m| m.text_contains(handler)),
            });
        }
        check.tables.push(table);
    }
    Ok(check)
}
