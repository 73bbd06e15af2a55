//! VMCOREINFO, the `KEY=VALUE` text the kernel keeps for crash tools: from the dump
//! container's note, or found in physical memory (`OSRELEASE=...`). The first stage after
//! physical memory: it tells where the kernel image is (`SYMBOL(_stext)`,
//! `NUMBER(phys_base)`), its KASLR shift (`KERNELOFFSET`), its page-table root and paging
//! mode, its build id, and on 6.0 and later where its kallsyms tables are.

use std::collections::BTreeMap;

use crate::engine::error::Result;
use crate::engine::kernel::kaslr::{MAX_CANDIDATES, literal, read_text, scan};
use crate::engine::kernel::physical::PhysicalMemory;

/// Longest VMCOREINFO text (the kernel reserves one page).
const VMCOREINFO_MAX: usize = 4096;

/// Parsed VMCOREINFO (`KEY=VALUE` lines).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Vmcoreinfo {
    /// Physical address the text was found at (`None` for a container note).
    pub found_at: Option<u64>,
    entries: BTreeMap<String, String>,
}

impl Vmcoreinfo {
    /// Parses the text (lines without `=` are ignored).
    pub fn parse(text: &str, found_at: Option<u64>) -> Vmcoreinfo {
        let entries = text
            .lines()
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
            .collect();
        Vmcoreinfo { found_at, entries }
    }

    /// The raw value of `key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.entries.get(key).map(String::as_str)
    }

    /// A hexadecimal value (`SYMBOL(..)`, `KERNELOFFSET`).
    pub fn hex(&self, key: &str) -> Option<u64> {
        let v = self.get(key)?;
        u64::from_str_radix(v.trim_start_matches("0x"), 16).ok()
    }

    /// A decimal value (`NUMBER(..)`, `PAGESIZE`); negative values keep their bit pattern.
    pub fn number(&self, key: &str) -> Option<u64> {
        let v = self.get(key)?;
        v.parse::<u64>()
            .ok()
            .or_else(|| v.parse::<i64>().ok().map(|n| n as u64))
    }

    /// The entries as `KEY=VALUE` lines, which [`Vmcoreinfo::parse`] reads back to the same
    /// entries.
    pub fn text(&self) -> String {
        let mut s = String::new();
        for (k, v) in &self.entries {
            s.push_str(k);
            s.push('=');
            s.push_str(v);
            s.push('\n');
        }
        s
    }

    /// `OSRELEASE`.
    pub fn release(&self) -> Option<&str> {
        self.get("OSRELEASE")
    }
}

/// VMCOREINFO candidates: the container's note, then texts in memory that name a kernel
/// offset and a page-table root, in address order. The scan stops once `wanted` useful
/// texts were found (the kernel's copy comes early in memory: opening a dump does not read
/// all of it), and after a bounded number of `OSRELEASE=` hits in any case.
pub fn vmcoreinfo_candidates(phys: &dyn PhysicalMemory, wanted: usize) -> Result<Vec<Vmcoreinfo>> {
    let mut out = Vec::new();
    if let Some(note) = phys.vmcoreinfo() {
        out.push(Vmcoreinfo::parse(note, None));
    }
    let re = literal(b"OSRELEASE=")?;
    let mut hits = 0usize;
    let mut failure = None;
    scan(phys, &re, &mut |at| {
        hits += 1;
        let text = match read_text(phys, at, VMCOREINFO_MAX) {
            Ok(t) => t,
            Err(e) => {
                failure = Some(e);
                return false;
            }
        };
        let info = Vmcoreinfo::parse(&String::from_utf8_lossy(&text), Some(at));
        let useful = info.get("KERNELOFFSET").is_some()
            && (info.get("SYMBOL(init_top_pgt)").is_some()
                || info.get("SYMBOL(swapper_pg_dir)").is_some());
        if useful && !out.iter().any(|o: &Vmcoreinfo| o.entries == info.entries) {
            out.push(info);
        }
        out.len() < wanted && hits < MAX_CANDIDATES
    })?;
    match failure {
        Some(e) => Err(e),
        None => Ok(out),
    }
}
