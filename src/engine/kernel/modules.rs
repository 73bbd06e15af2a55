//! The kernel's loaded modules, as Volatility's `linux.lsmod` lists them: the `modules`
//! list of `struct module`, each with its name, state, where its code is and how large it
//! is, the names of its load parameters and its taints.
//!
//! Layouts come from the symbols and are chosen by which fields they have, never by kernel
//! version: 6.4+ keeps a module's memory in `mem[]` (one `module_memory` per `enum
//! mod_mem_type`: `MOD_TEXT`, `MOD_DATA`, ..., `MOD_INIT_TEXT`, ...), 4.5 to 6.3 in
//! `core_layout`/`init_layout`, older kernels in `module_core`/`core_size`/`core_text_size`.
//! The size reported is what `/proc/modules` and `lsmod` report: core plus init (init is 0
//! once a module has finished loading).
//!
//! The list walk has a visited set and a bound; a loop or an unreadable link ends it with a
//! problem. The same reader validates the candidates of the hidden-module scan
//! ([`hidden`](crate::engine::kernel::hidden)).

use std::collections::HashSet;

use serde::Serialize;

use crate::engine::error::{Error, Result};
use crate::engine::evidence::{Walk, hex};
use crate::engine::kernel::isf::{Isf, TypeRef};
use crate::engine::kernel::memory::KernelMemory;
use crate::engine::kernel::note_problem;
use crate::engine::kernel::structs::UintField;

/// At most this many modules are followed on the list.
pub const MAX_MODULES: usize = 8192;
/// At most this many load parameters are read of one module.
const MAX_PARAMS: u64 = 1024;
/// Longest parameter name read.
const MAX_PARAM_NAME: usize = 128;
/// Longest `args` string read.
const MAX_ARGS: usize = 1024;
/// `module.name`'s length when the symbols do not say (`MODULE_NAME_LEN` on 64-bit).
const DEFAULT_NAME_LEN: u64 = 56;
/// The kernel's taint letters by bit (`Documentation/admin-guide/tainted-kernels.rst`),
/// used when the dump's own `taint_flags` table cannot be read.
const TAINT_LETTERS: &[u8] = b"PFSRMBUDAWCIOELKXTN";

/// One loaded kernel module.
///
/// JSON: `address` (the `struct module`, as lsmod's `Offset`) and `base` as `"0x..."`,
/// sizes as numbers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Module {
    /// Kernel address of its `struct module`.
    #[serde(serialize_with = "hex::u64")]
    pub address: u64,
    /// Its name (`module.name`).
    pub name: String,
    /// Its state: `live`, `coming`, `going`, `unformed`, or the number when unknown.
    pub state: String,
    /// Where its code starts (`mem[MOD_TEXT].base`, `core_layout.base` or `module_core`).
    #[serde(serialize_with = "hex::u64")]
    pub base: u64,
    /// Its size as `/proc/modules` and lsmod give it: core plus init memory, in bytes.
    pub size: u64,
    /// Bytes of its core text (code).
    pub text_size: u64,
    /// Bytes of its core memory (text, data, read-only data).
    pub core_size: u64,
    /// The names of its load parameters (`kp[].name`).
    pub parameters: Vec<String>,
    /// The arguments it was loaded with (`args`), when any.
    pub args: Option<String>,
    /// Its taint letters (`O` out-of-tree, `E` unsigned, `P` proprietary, `C` staging, `F`
    /// forced), empty when untainted.
    pub taints: String,
}

impl Module {
    /// True when `addr` lies in the module's core text.
    pub fn text_contains(&self, addr: u64) -> bool {
        addr >= self.base && addr - self.base < self.text_size
    }

    /// True when `addr` lies in the module's core memory (text and data).
    pub fn core_contains(&self, addr: u64) -> bool {
        addr >= self.base && addr - self.base < self.core_size.max(self.text_size)
    }
}

/// Where a module's memory is described.
#[derive(Debug, Clone)]
enum Code {
    /// 6.4+: `mem[]`, one `module_memory` per `enum mod_mem_type` value.
    Mem {
        /// Offset of `mem[MOD_TEXT]`.
        text: u64,
        /// Offset of `module_memory.base` in an entry.
        base: u64,
        /// `module_memory.size` of an entry at offset 0.
        size: UintField,
        /// Offsets of the core entries (text, data, read-only data, ro-after-init).
        core: Vec<u64>,
        /// Offsets of the init entries.
        init: Vec<u64>,
    },
    /// 4.5 to 6.3: `core_layout` and `init_layout` (`struct module_layout`).
    Layouts {
        /// `core_layout.base`.
        base: u64,
        /// `core_layout.size`.
        size: UintField,
        /// `core_layout.text_size`.
        text_size: UintField,
        /// `init_layout.size`.
        init_size: Option<UintField>,
    },
    /// Before 4.5: `module_core`, `core_size`, `core_text_size`, `init_size`.
    Flat {
        /// `module_core`.
        base: u64,
        /// `core_size`.
        size: UintField,
        /// `core_text_size`.
        text_size: UintField,
        /// `init_size`.
        init_size: Option<UintField>,
    },
}

/// `struct module`'s layout, resolved once per walk from the symbols.
#[derive(Debug, Clone)]
pub struct ModuleLayout {
    /// `list` (on `modules`).
    pub list: u64,
    name: u64,
    name_len: u64,
    state: Option<UintField>,
    code: Code,
    /// `kp`, `num_kp`, `sizeof(struct kernel_param)` and `kernel_param.name`.
    params: Option<(u64, UintField, u64, u64)>,
    taints: Option<UintField>,
    args: Option<u64>,
    /// `mkobj.mod`: a module's kobject points back at the module.
    pub mkobj_mod: Option<u64>,
    /// `module_state` values and their names (`live`, ...).
    states: Vec<(u64, String)>,
}

/// `f` moved by `by` bytes (a field of a member struct, from the outer struct).
fn shifted(f: UintField, by: u64) -> UintField {
    UintField {
        offset: f.offset.wrapping_add(by),
        ..f
    }
}

impl ModuleLayout {
    /// Resolves the layout from `isf`; an error names what the symbols lack.
    pub fn resolve(isf: &Isf) -> Result<ModuleLayout> {
        let m = "module";
        let off = |st: &str, f: &str| isf.field(st, f).map(|x| x.offset);
        let need = |f: &str| isf.offset(m, f);
        let name_len = match isf.field(m, "name").map(|f| f.kind) {
            Some(TypeRef::Array { count, .. }) if count > 0 => count,
            _ => DEFAULT_NAME_LEN,
        };
        let code = if let Some(mem) = isf.field(m, "mem") {
            let stride = isf.struct_size("module_memory").ok_or_else(|| {
                Error::MissingSymbol("ISF type module_memory (for module.mem)".into())
            })?;
            let count = match mem.kind {
                TypeRef::Array { count, .. } => count,
                _ => 0,
            };
            let entry = |i: u64| mem.offset.wrapping_add(i.wrapping_mul(stride));
            let (mut core, mut init, mut text) = (Vec::new(), Vec::new(), None);
            for i in 0..count.min(64) {
                let Some(name) = isf.enum_name("mod_mem_type", i as i64) else {
                    continue;
                };
                if name == "MOD_TEXT" {
                    text = Some(entry(i));
                }
                if name.starts_with("MOD_INIT_") {
                    init.push(entry(i));
                } else if name != "MOD_MEM_NUM_TYPES" {
                    core.push(entry(i));
                }
            }
            Code::Mem {
                text: text.ok_or_else(|| {
                    Error::MissingSymbol("enum mod_mem_type MOD_TEXT (for module.mem)".into())
                })?,
                base: isf.offset("module_memory", "base")?,
                size: UintField::of(isf, "module_memory", "size")
                    .ok_or_else(|| Error::MissingSymbol("ISF field module_memory.size".into()))?,
                core,
                init,
            }
        } else if let Some(core) = off(m, "core_layout") {
            let l = "module_layout";
            let field = |f: &str| {
                UintField::of(isf, l, f)
                    .ok_or_else(|| Error::MissingSymbol(format!("ISF field {l}.{f}")))
            };
            Code::Layouts {
                base: core.wrapping_add(isf.offset(l, "base")?),
                size: shifted(field("size")?, core),
                text_size: shifted(field("text_size")?, core),
                init_size: off(m, "init_layout")
                    .zip(UintField::of(isf, l, "size"))
                    .map(|(init, f)| shifted(f, init)),
            }
        } else {
            let field = |f: &str| {
                UintField::of(isf, m, f).ok_or_else(|| {
                    Error::MissingSymbol(format!(
                        "ISF field module.{f} (nor module.mem or module.core_layout)"
                    ))
                })
            };
            Code::Flat {
                base: need("module_core")?,
                size: field("core_size")?,
                text_size: field("core_text_size")?,
                init_size: UintField::of(isf, m, "init_size"),
            }
        };
        let params = (|| {
            Some((
                off(m, "kp")?,
                UintField::of(isf, m, "num_kp")?,
                isf.struct_size("kernel_param")?,
                off("kernel_param", "name")?,
            ))
        })();
        let mut states: Vec<(u64, String)> = (0..16u64)
            .filter_map(|v| {
                let n = isf.enum_name("module_state", v as i64)?;
                let short = n.strip_prefix("MODULE_STATE_").unwrap_or(n);
                Some((v, short.to_ascii_lowercase()))
            })
            .collect();
        if states.is_empty() {
            // Unchanged since the enum appeared (2.6): LIVE, COMING, GOING, UNFORMED.
            states = ["live", "coming", "going", "unformed"]
                .iter()
                .zip(0u64..)
                .map(|(n, v)| (v, (*n).to_string()))
                .collect();
        }
        Ok(ModuleLayout {
            list: need("list")?,
            name: need("name")?,
            name_len,
            state: UintField::of(isf, m, "state"),
            code,
            params,
            taints: UintField::of(isf, m, "taints"),
            args: off(m, "args"),
            mkobj_mod: off(m, "mkobj")
                .zip(off("module_kobject", "mod"))
                .and_then(|(a, b)| a.checked_add(b)),
            states,
        })
    }

    /// The name of state value `v`, when the kernel has one.
    fn state_name(&self, v: u64) -> Option<&str> {
        self.states
            .iter()
            .find(|(s, _)| *s == v)
            .map(|(_, n)| n.as_str())
    }
}

/// The letters of taint bits: the dump's own `taint_flags` table (`c_true` of each bit)
/// when it can be read, else the documented letters.
#[derive(Debug, Clone)]
pub struct Taints(Vec<u8>);

impl Taints {
    /// Reads `taint_flags` from `k`.
    pub fn read(k: &dyn KernelMemory) -> Taints {
        let from_dump = (|| {
            let sym = k.isf().symbol("taint_flags")?;
            let count = match sym.type_ref? {
                TypeRef::Array { count, .. } => count.min(64),
                _ => return None,
            };
            let size = k.isf().struct_size("taint_flag")?;
            let c_true = k.isf().field("taint_flag", "c_true")?.offset;
            let at = k.symbol("taint_flags").ok()?;
            let mut out = Vec::new();
            for i in 0..count {
                let mut b = [0u8; 1];
                k.read_exact(
                    at.wrapping_add(i.wrapping_mul(size)).wrapping_add(c_true),
                    &mut b,
                )
                .ok()?;
                out.push(b[0]);
            }
            out.iter().all(u8::is_ascii_uppercase).then_some(out)
        })();
        Taints(from_dump.unwrap_or_else(|| TAINT_LETTERS.to_vec()))
    }

    /// The letters of the bits set in `bits` (`?` for a bit without one).
    pub fn letters(&self, bits: u64) -> String {
        (0..64u32)
            .filter(|b| bits & (1u64 << b) != 0)
            .map(|b| self.0.get(b as usize).map_or('?', |&c| char::from(c)))
            .collect()
    }
}

/// Reads the module at `addr`: its name, state and code must read, its parameters and
/// arguments are best effort (what cannot be read is added to `problems`).
pub fn read_module(
    k: &dyn KernelMemory,
    l: &ModuleLayout,
    taints: &Taints,
    addr: u64,
    problems: &mut Vec<String>,
) -> Result<Module> {
    let mut m = read_module_core(k, l, addr)?;
    read_module_extras(k, l, taints, &mut m, problems);
    Ok(m)
}

/// The module at `addr` without its load parameters, arguments and taints: what a scan for
/// candidates checks before reading more.
pub fn read_module_core(k: &dyn KernelMemory, l: &ModuleLayout, addr: u64) -> Result<Module> {
    // `MODULE_NAME_LEN` is 56 (64 - sizeof(unsigned long)); the ISF's array says so too.
    let mut raw = vec![0u8; usize::try_from(l.name_len.min(256)).unwrap_or(56)];
    k.read_exact(addr.wrapping_add(l.name), &mut raw)?;
    let name_end = raw.iter().position(|&b| b == 0).unwrap_or(raw.len());
    let name = String::from_utf8_lossy(raw.get(..name_end).unwrap_or_default()).into_owned();
    let state = match &l.state {
        Some(f) => {
            let v = f.read(k, addr)?;
            l.state_name(v)
                .map_or_else(|| v.to_string(), str::to_string)
        }
        None => "unknown".into(),
    };
    let (base, core_size, text_size, init_size) = match &l.code {
        Code::Mem {
            text,
            base,
            size,
            core,
            init,
        } => {
            let sum = |entries: &[u64]| -> Result<u64> {
                entries.iter().try_fold(0u64, |acc, e| {
                    Ok(acc.saturating_add(shifted(*size, *e).read(k, addr)?))
                })
            };
            (
                k.u64_at(addr, text.wrapping_add(*base))?,
                sum(core)?,
                shifted(*size, *text).read(k, addr)?,
                sum(init)?,
            )
        }
        Code::Layouts {
            base,
            size,
            text_size,
            init_size,
        }
        | Code::Flat {
            base,
            size,
            text_size,
            init_size,
        } => (
            k.u64_at(addr, *base)?,
            size.read(k, addr)?,
            text_size.read(k, addr)?,
            match init_size {
                Some(f) => f.read(k, addr)?,
                None => 0,
            },
        ),
    };
    Ok(Module {
        address: addr,
        name,
        state,
        base,
        size: core_size.saturating_add(init_size),
        text_size,
        core_size,
        parameters: Vec::new(),
        args: None,
        taints: String::new(),
    })
}

/// Reads `m`'s load parameters, arguments and taints (best effort: what cannot be read is
/// added to `problems`).
pub fn read_module_extras(
    k: &dyn KernelMemory,
    l: &ModuleLayout,
    taints: &Taints,
    m: &mut Module,
    problems: &mut Vec<String>,
) {
    let (addr, name) = (m.address, &m.name);
    if let Some(p) = &l.params {
        m.parameters = params(k, p, addr).unwrap_or_else(|e| {
            note_problem(problems, || {
                format!("module {name} at {addr:#x}: load parameters: {e}")
            });
            Vec::new()
        });
    }
    m.args = l
        .args
        .and_then(|o| k.u64_at(addr, o).ok())
        .filter(|&p| p != 0)
        .and_then(|p| k.read_cstr(p, MAX_ARGS).ok())
        .filter(|s| !s.is_empty())
        .map(|s| String::from_utf8_lossy(&s).into_owned());
    let taint_bits = match &l.taints {
        Some(f) => f.read(k, addr).unwrap_or(0),
        None => 0,
    };
    m.taints = taints.letters(taint_bits);
}

/// The names of a module's load parameters.
fn params(k: &dyn KernelMemory, p: &(u64, UintField, u64, u64), addr: u64) -> Result<Vec<String>> {
    let (kp, num_kp, size, name) = *p;
    let n = num_kp.read(k, addr)?;
    if n > MAX_PARAMS {
        return Err(Error::Corrupt {
            file: "kernel memory".into(),
            at: addr,
            reason: format!("{n} load parameters"),
        });
    }
    let array = k.u64_at(addr, kp)?;
    let mut out = Vec::new();
    for i in 0..n {
        let ptr = k.u64_at(array.wrapping_add(i.wrapping_mul(size)), name)?;
        let s = k.read_cstr(ptr, MAX_PARAM_NAME)?;
        out.push(String::from_utf8_lossy(&s).into_owned());
    }
    Ok(out)
}

/// Follows the circular list at `head` whose entries hold their `list_head` at
/// `member_offset`: the entries' addresses in list order, and what ended the walk early (a
/// NULL or unreadable link, a loop, the bound). `what` names the list in those messages.
pub fn list_entries(
    k: &dyn KernelMemory,
    head: u64,
    member_offset: u64,
    limit: usize,
    what: &str,
) -> (Vec<u64>, Vec<String>) {
    let mut out = Vec::new();
    let mut problems = Vec::new();
    let mut seen = HashSet::new();
    let mut node = match k.read_u64(head) {
        Ok(n) => n,
        Err(e) => return (out, vec![format!("{what}: head at {head:#x}: {e}")]),
    };
    while node != head {
        if node == 0 {
            problems.push(format!("{what}: a NULL link after {} entries", out.len()));
            break;
        }
        if !seen.insert(node) {
            problems.push(format!(
                "{what}: loop: the link after {} entries points back to {:#x}, already \
                 listed; the walk stopped there",
                out.len(),
                node.wrapping_sub(member_offset)
            ));
            break;
        }
        if out.len() >= limit {
            problems.push(format!("{what}: more than {limit} entries; cut"));
            break;
        }
        out.push(node.wrapping_sub(member_offset));
        match k.read_u64(node) {
            Ok(next) => node = next,
            Err(e) => {
                problems.push(format!("{what}: {e}; the walk stopped there"));
                break;
            }
        }
    }
    (out, problems)
}

/// The modules on the kernel's `modules` list, in list order (newest first, as lsmod and
/// `/proc/modules` show them), with the damage met.
pub fn modules(k: &dyn KernelMemory) -> Result<Walk<Module>> {
    let l = ModuleLayout::resolve(k.isf())?;
    let head = k.symbol("modules")?;
    let taints = Taints::read(k);
    let (addrs, mut problems) = list_entries(k, head, l.list, MAX_MODULES, "module list");
    let mut items = Vec::with_capacity(addrs.len());
    for a in addrs {
        match read_module(k, &l, &taints, a, &mut problems) {
            Ok(m) => items.push(m),
            Err(e) => note_problem(&mut problems, || format!("module at {a:#x}: {e}")),
        }
    }
    Ok(Walk { items, problems })
}
