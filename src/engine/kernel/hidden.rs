//! Modules in memory but off the module list, as Volatility's `linux.hidden_modules` finds
//! them: a rootkit unlinks its `struct module` from `modules` (so lsmod and
//! `/proc/modules` do not show it) but its code and its `struct module` stay in the
//! modules' memory area.
//!
//! The scan reads only what the kernel's page tables map (and the dump holds) in the
//! modules' area, and finds candidates by the one link every module has to itself:
//! `mkobj.mod`, its kobject's pointer back at the module. A word at address `A` holding
//! `A - offsetof(struct module, mkobj.mod)` names a candidate, checked then as Volatility
//! checks one: a state the kernel's `enum module_state` has, a non-empty printable name
//! ended by a NUL within `module.name`, code of a plausible size (text above 0 and at most
//! [`MAX_TEXT`], no larger than the core) at a kernel address. Candidates on the list are
//! left out.
//!
//! The area is where the kernel says modules went: `mod_tree.addr_min..addr_max` (with
//! `data_addr_min..data_addr_max` where the kernel keeps module data apart), which only
//! grow, so a module unlinked after loading stays inside; else `module_addr_min/max`; else
//! x86-64's `MODULES_VADDR..MODULES_END`. The listed modules' memory is always included.

use std::collections::HashSet;
use std::ops::Range;

use serde::Serialize;

use crate::engine::error::Result;
use crate::engine::evidence::hex;
use crate::engine::kernel::memory::KernelMemory;
use crate::engine::kernel::modules::{
    Module, ModuleLayout, Taints, read_module_core, read_module_extras,
};
use crate::engine::kernel::note_problem;

/// Largest core text a real module has (the largest in-tree modules have a few MiB).
pub const MAX_TEXT: u64 = 64 << 20;
/// Largest core a real module has.
const MAX_CORE: u64 = 256 << 20;
/// Most bytes of the area read in one scan.
pub const MAX_SCAN: u64 = 1 << 30;
/// Bytes read at a time.
const CHUNK: u64 = 1 << 20;
/// Most candidates checked (each costs a few reads).
const MAX_CANDIDATES: usize = 100_000;
/// x86-64's `MODULES_VADDR` (`__START_KERNEL_map` + 1 GiB) and `MODULES_END`: the fallback
/// area when the symbols do not say where modules went.
const X86_64_MODULES: Range<u64> = 0xffff_ffff_c000_0000..0xffff_ffff_ff00_0000;
/// A page.
const PAGE: u64 = 4096;

/// What the scan of the modules' memory found.
#[derive(Debug, Clone, Serialize)]
pub struct HiddenScan {
    /// Modules found in memory that the list does not hold.
    pub modules: Vec<Module>,
    /// First address of the area scanned.
    #[serde(serialize_with = "hex::u64")]
    pub area_start: u64,
    /// One past the last address of the area scanned.
    #[serde(serialize_with = "hex::u64")]
    pub area_end: u64,
    /// Where the area's bounds came from (`mod_tree`, `module_addr_min/max`, `x86-64
    /// MODULES_VADDR`).
    pub area_from: &'static str,
    /// Bytes of mapped, captured memory read.
    pub scanned_bytes: u64,
    /// Damage met and limits hit.
    pub problems: Vec<String>,
}

/// The range of addresses modules were loaded at, and where that came from.
pub fn module_area(k: &dyn KernelMemory, listed: &[Module]) -> (Range<u64>, &'static str) {
    let isf = k.isf();
    let read = |at: Option<u64>| at.and_then(|a| k.read_u64(a).ok());
    let mut found: Option<(Range<u64>, &'static str)> = None;
    if let Ok(tree) = k.symbol("mod_tree") {
        let field = |f: &str| {
            isf.field("mod_tree_root", f)
                .map(|x| tree.wrapping_add(x.offset))
        };
        let mut bounds = Vec::new();
        for (lo, hi) in [("addr_min", "addr_max"), ("data_addr_min", "data_addr_max")] {
            if let (Some(lo), Some(hi)) = (read(field(lo)), read(field(hi)))
                && lo < hi
            {
                bounds.push(lo..hi);
            }
        }
        if let Some(r) = bounds
            .into_iter()
            .reduce(|a, b| a.start.min(b.start)..a.end.max(b.end))
        {
            found = Some((r, "mod_tree"));
        }
    }
    if found.is_none()
        && let (Some(lo), Some(hi)) = (
            read(k.symbol("module_addr_min").ok()),
            read(k.symbol("module_addr_max").ok()),
        )
        && lo < hi
    {
        found = Some((lo..hi, "module_addr_min/max"));
    }
    let (mut area, from) = found.unwrap_or((X86_64_MODULES, "x86-64 MODULES_VADDR..MODULES_END"));
    for m in listed {
        let end = m.base.saturating_add(m.core_size.max(m.text_size));
        if m.base != 0 && end > m.base {
            area = area.start.min(m.base)..area.end.max(end);
        }
        let end = m.address.saturating_add(1);
        area = area.start.min(m.address)..area.end.max(end);
    }
    let start = area.start & !(PAGE - 1);
    let end = area.end.saturating_add(PAGE - 1) & !(PAGE - 1);
    (start..end.max(start), from)
}

/// True when a module read from a candidate address looks like a real one: its state is
/// one `enum module_state` names (an unknown value reads as its number).
fn plausible(m: &Module) -> bool {
    let name_ok = !m.name.is_empty()
        && m.name.len() < 64
        && m.name
            .bytes()
            .all(|b| b.is_ascii_graphic() && b != b'/' && b != b'\\');
    name_ok
        && m.state != "unknown"
        && !m.state.bytes().all(|b| b.is_ascii_digit())
        && m.text_size > 0
        && m.text_size <= MAX_TEXT
        && m.core_size >= m.text_size
        && m.core_size <= MAX_CORE
        && m.base >> 56 == 0xff
}

/// Scans the mapped memory of the modules' area for modules that `listed` lacks.
pub fn hidden_modules(k: &dyn KernelMemory, listed: &[Module]) -> Result<HiddenScan> {
    let l = ModuleLayout::resolve(k.isf())?;
    let (area, area_from) = module_area(k, listed);
    let mut scan = HiddenScan {
        modules: Vec::new(),
        area_start: area.start,
        area_end: area.end,
        area_from,
        scanned_bytes: 0,
        problems: Vec::new(),
    };
    let Some(back) = l.mkobj_mod else {
        scan.problems.push(
            "the symbols lack module.mkobj or module_kobject.mod: modules off the list are \
             not looked for"
                .into(),
        );
        return Ok(scan);
    };
    let known: HashSet<u64> = listed.iter().map(|m| m.address).collect();
    let taints = Taints::read(k);
    let mut seen = HashSet::new();
    let mut candidates = 0usize;
    let mut buf = Vec::new();
    'runs: for run in k.kernel_captured(area)? {
        let mut at = run.start;
        while at < run.end {
            if scan.scanned_bytes >= MAX_SCAN {
                scan.problems.push(format!(
                    "the modules' area holds more than {MAX_SCAN} bytes of mapped memory; \
                     the scan stopped at {at:#x}"
                ));
                break 'runs;
            }
            let len = (run.end - at).min(CHUNK);
            buf.resize(usize::try_from(len).unwrap_or(0), 0);
            let got = k.read_kernel(at, &mut buf)?;
            scan.scanned_bytes += len;
            for (i, word) in buf.chunks_exact(8).enumerate() {
                let offset = i * 8;
                if !got.is_captured(offset) {
                    continue;
                }
                let value = word.try_into().map_or(0, u64::from_le_bytes);
                let word_at = at.wrapping_add(offset as u64);
                let candidate = word_at.wrapping_sub(back);
                if value != candidate || known.contains(&candidate) || !seen.insert(candidate) {
                    continue;
                }
                candidates += 1;
                if candidates > MAX_CANDIDATES {
                    scan.problems.push(format!(
                        "more than {MAX_CANDIDATES} candidates in the modules' area; the \
                         scan stopped at {word_at:#x}"
                    ));
                    break 'runs;
                }
                // Parameters and arguments are read only for a candidate that passes.
                match read_module_core(k, &l, candidate) {
                    Ok(mut m) if plausible(&m) => {
                        let mut quiet = Vec::new();
                        read_module_extras(k, &l, &taints, &mut m, &mut quiet);
                        scan.modules.push(m);
                    }
                    Ok(_) => {}
                    Err(e) => note_problem(&mut scan.problems, || {
                        format!("module candidate at {candidate:#x}: {e}")
                    }),
                }
            }
            at = at.saturating_add(len);
        }
    }
    crate::engine::mapped::release_all();
    Ok(scan)
}
