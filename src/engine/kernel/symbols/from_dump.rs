//! Symbols from the dump itself: the kernel's BTF blob (types) and its kallsyms tables
//! (addresses), both found in physical memory, plus the table of global declarations
//! (`globals.rs`), made into the same index an ISF gives.
//!
//! Where to look comes from VMCOREINFO when the dump has one (the kernel image's physical
//! place from `SYMBOL(_stext)` and `NUMBER(phys_base)`, and `SYMBOL(kallsyms_token_table)`
//! on 6.0 and later); otherwise all of physical memory is scanned. Addresses are stored
//! unslid (run-time minus `KERNELOFFSET`), as an ISF stores them, so that the layout is
//! found and checked exactly as with an ISF; without VMCOREINFO they stay run-time
//! addresses (a shift of 0). The index is cached keyed by the BTF blob's hash, the build
//! id and the shift, so the second open skips the decoding.

use std::ops::Range;
use std::path::Path;

use regex::bytes::Regex;
use sha2::{Digest, Sha256};

use crate::engine::error::{Error, Result};
use crate::engine::kernel::isf::index::{Builder, SymbolRec};
use crate::engine::kernel::isf::{CacheDir, Isf, SymbolSource};
use crate::engine::kernel::kaslr::{START_KERNEL_MAP, Vmcoreinfo};
use crate::engine::kernel::physical::PhysicalMemory;

use super::btf::{Btf, Header, Kind};
use super::btf_index::{Converter, strip};
use super::globals::{GLOBALS, declare};
use super::kallsyms::{self, DIGIT_RUN, Kallsyms};

/// Bytes of physical memory after the kernel's `_stext` searched for its BTF and kallsyms.
const IMAGE_SPAN: u64 = 512 << 20;
/// Largest BTF blob read.
const MAX_BLOB: u64 = 512 << 20;
/// Candidates of one kind examined at most.
const MAX_CANDIDATES: usize = 64;
/// Bumped when what the producer writes into the index changes.
const PRODUCER_VERSION: &str = "2";

/// What VMCOREINFO says about where the kernel is (all optional).
#[derive(Debug, Clone, Copy, Default)]
struct Hints {
    virtual_shift: Option<u64>,
    phys_base: Option<u64>,
    stext: Option<u64>,
    token_table: Option<u64>,
}

impl Hints {
    fn from(vmci: &[Vmcoreinfo]) -> (Hints, Option<String>) {
        let Some(info) = vmci.iter().find(|i| i.get("KERNELOFFSET").is_some()) else {
            return (Hints::default(), None);
        };
        (
            Hints {
                virtual_shift: info.hex("KERNELOFFSET"),
                phys_base: info.number("NUMBER(phys_base)"),
                stext: info.hex("SYMBOL(_stext)"),
                token_table: info.hex("SYMBOL(kallsyms_token_table)"),
            },
            info.get("BUILD-ID").map(str::to_owned),
        )
    }

    /// Physical address of a kernel-image virtual address.
    fn pa(&self, va: u64) -> Option<u64> {
        va.checked_sub(START_KERNEL_MAP)?
            .checked_add(self.phys_base?)
    }

    /// Where the kernel image lies in physical memory, when known.
    fn image(&self) -> Option<Range<u64>> {
        let start = self.pa(self.stext?)?;
        Some(start..start.saturating_add(IMAGE_SPAN))
    }
}

/// Builds (or reads from `cache`) the symbols of the kernel in `phys`; `dump` names the
/// evidence in messages.
pub fn symbols_from_dump(
    phys: &dyn PhysicalMemory,
    vmci: &[Vmcoreinfo],
    cache: &CacheDir,
    dump: &Path,
) -> Result<Isf> {
    let (hints, build_id) = Hints::from(vmci);
    let (blob_at, blob) = find_btf(phys, &hints, dump)?;
    let key = cache_key(&blob, build_id.as_deref(), hints.virtual_shift);
    let source = |from_cache| SymbolSource::DumpBtf {
        btf_at: blob_at,
        btf_len: blob.len() as u64,
        from_cache,
    };
    let cache_file = cache.file_for(&key);
    if let Some((_, index)) = cache_file
        .as_deref()
        .and_then(|f| crate::engine::kernel::isf::cache_read(f, &key))
    {
        return Ok(Isf::from_index(index, key, dump, source(true)));
    }
    let btf = Btf::parse(
        &blob,
        &format!("{} (BTF at physical {blob_at:#x})", dump.display()),
        blob_at,
    )?;
    let table = find_kallsyms(phys, &hints, dump)?;
    let shift = hints.virtual_shift.unwrap_or(0);
    let banner = read_banner(phys, &hints, &table, &btf)?;
    let index = build_index(&btf, &table, shift, &banner).ok_or_else(|| {
        Error::Missing(format!(
            "symbols of {}: the kernel's BTF and kallsyms could not be joined into an index",
            dump.display()
        ))
    })?;
    let isf = Isf::from_index(index, key, dump, source(false));
    tracing::debug!(
        types = isf.user_type_count(),
        symbols = isf.symbol_count(),
        "symbols made from the dump's BTF and kallsyms"
    );
    if let Some(file) = cache_file {
        match isf.write_cache(&file) {
            Ok(()) => tracing::debug!(cache = %file.display(), "dump symbols cached"),
            Err(e) => {
                tracing::warn!(cache = %file.display(), "cannot cache the dump's symbols: {e}")
            }
        }
    }
    Ok(isf)
}

/// The cache key: what the index is made of.
fn cache_key(blob: &[u8], build_id: Option<&str>, shift: Option<u64>) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(b"podmortem dump symbols ");
    h.update(PRODUCER_VERSION.as_bytes());
    h.update(Sha256::digest(blob));
    h.update(build_id.unwrap_or("").as_bytes());
    h.update(shift.map_or([0xff; 8], u64::to_le_bytes));
    h.finalize().into()
}

/// The shared physical scan, limited to `range` when given.
fn scan(
    phys: &dyn PhysicalMemory,
    range: Option<Range<u64>>,
    re: &Regex,
    found: &mut dyn FnMut(u64) -> Result<bool>,
) -> Result<()> {
    crate::engine::kernel::physical::scan::scan_range(phys, range, re, found)
}

/// Reads `len` bytes of physical memory at `at` (holes as zeros).
fn read(phys: &dyn PhysicalMemory, at: u64, len: u64) -> Result<Vec<u8>> {
    let mut buf = vec![0u8; usize::try_from(len).unwrap_or(0)];
    phys.read_phys(at, &mut buf)?;
    Ok(buf)
}

/// The vmlinux BTF blob: the first blob (in the kernel image when its place is known, else
/// anywhere) that parses and defines `struct task_struct` (module and BPF blobs do not).
fn find_btf(phys: &dyn PhysicalMemory, hints: &Hints, dump: &Path) -> Result<(u64, Vec<u8>)> {
    let re = Regex::new(r"(?-u)\x9f\xeb\x01\x00")?;
    let mut result = None;
    let mut seen = 0usize;
    for range in [hints.image(), None] {
        scan(phys, range, &re, &mut |at| {
            let head = read(phys, at, 24)?;
            let Some(h) = Header::read(&head) else {
                return Ok(true);
            };
            if h.type_len == 0 || h.total_len() > MAX_BLOB {
                return Ok(true);
            }
            seen += 1;
            let blob = read(phys, at, h.total_len())?;
            if let Ok(btf) = Btf::parse(&blob, "BTF", at)
                && btf.struct_named("task_struct").is_some()
            {
                result = Some((at, blob));
                return Ok(false);
            }
            Ok(seen < MAX_CANDIDATES)
        })?;
        if result.is_some() || hints.image().is_none() {
            break;
        }
    }
    result.ok_or_else(|| {
        Error::Missing(format!(
            "type information for {}: no vmlinux BTF blob (magic 0xeb9f with struct \
             task_struct) in its physical memory, so the kernel was built without \
             CONFIG_DEBUG_INFO_BTF or its image is not in the dump; give --isf with the ISF \
             of its kernel build (dwarf2json linux --elf vmlinux)",
            dump.display()
        ))
    })
}

/// The kallsyms tables: at VMCOREINFO's `kallsyms_token_table` when it names one, else
/// near every digit run of a token table in the kernel image (or in all of memory).
fn find_kallsyms(phys: &dyn PhysicalMemory, hints: &Hints, dump: &Path) -> Result<Kallsyms> {
    let va_of = |base: u64| {
        let phys_base = hints.phys_base;
        move |off: usize| -> u64 {
            (base + off as u64)
                .wrapping_sub(phys_base.unwrap_or(0))
                .wrapping_add(START_KERNEL_MAP)
        }
    };
    let try_at = |token_table: Option<u64>, digits: Option<u64>| -> Result<Option<Kallsyms>> {
        let anchor = token_table.or(digits).unwrap_or(0);
        let start = anchor.saturating_sub(kallsyms::WINDOW_BEFORE);
        let w = read(phys, start, anchor - start + kallsyms::WINDOW_AFTER)?;
        let tt = match (token_table, digits) {
            (Some(t), _) => Some((t - start) as usize),
            (None, Some(d)) => kallsyms::token_table_before_digits(&w, (d - start) as usize),
            _ => None,
        };
        let f = va_of(start);
        let va: Option<&dyn Fn(usize) -> u64> =
            hints.phys_base.map(|_| &f as &dyn Fn(usize) -> u64);
        Ok(tt.and_then(|tt| kallsyms::decode(&w, tt, va)))
    };
    if let Some(tt) = hints.token_table.and_then(|v| hints.pa(v))
        && let Some(k) = try_at(Some(tt), None)?
    {
        return Ok(k);
    }
    let re = Regex::new(DIGIT_RUN)?;
    let mut result = None;
    let mut tried = 0usize;
    for range in [hints.image(), None] {
        scan(phys, range, &re, &mut |at| {
            tried += 1;
            if let Some(k) = try_at(None, Some(at))? {
                result = Some(k);
                return Ok(false);
            }
            Ok(tried < MAX_CANDIDATES)
        })?;
        if result.is_some() || hints.image().is_none() {
            break;
        }
    }
    result.ok_or_else(|| {
        Error::Missing(format!(
            "symbol addresses for {}: no kallsyms table (token table, names, markers and \
             sorted addresses that agree) in its physical memory, so the kernel was built \
             without CONFIG_KALLSYMS_ALL or its image is not in the dump; give --isf with the \
             ISF of its kernel build",
            dump.display()
        ))
    })
}

/// `linux_banner`'s bytes as the kernel holds them (up to and with the NUL): through the
/// kernel image's physical place when VMCOREINFO gives it, else at the `Linux version `
/// string whose distance from `init_task` is the symbols' and where `init_task` is named
/// `swapper`.
fn read_banner(
    phys: &dyn PhysicalMemory,
    hints: &Hints,
    table: &Kallsyms,
    btf: &Btf,
) -> Result<Vec<u8>> {
    let addr = |name: &str| {
        table
            .symbols
            .iter()
            .find(|s| s.name == name)
            .map(|s| s.address)
    };
    let banner_va = addr("linux_banner")
        .ok_or_else(|| Error::Missing("kallsyms symbol linux_banner".into()))?;
    let text_at = |pa: u64| -> Result<Option<Vec<u8>>> {
        let mut b = read(phys, pa, 1024)?;
        let Some(nul) = b.iter().position(|&c| c == 0) else {
            return Ok(None);
        };
        b.truncate(nul + 1);
        Ok(b.starts_with(b"Linux version ").then_some(b))
    };
    if let Some(pa) = hints.pa(banner_va)
        && let Some(b) = text_at(pa)?
    {
        return Ok(b);
    }
    // No VMCOREINFO: the banner whose place puts init_task's comm at "swapper".
    let init_task =
        addr("init_task").ok_or_else(|| Error::Missing("kallsyms symbol init_task".into()))?;
    let comm =
        comm_offset(btf).ok_or_else(|| Error::Missing("BTF field task_struct.comm".into()))?;
    let re = Regex::new(r"(?-u)Linux version ")?;
    let mut found = None;
    let mut seen = 0usize;
    scan(phys, None, &re, &mut |at| {
        seen += 1;
        let Some(delta) = at.checked_sub(banner_va.wrapping_sub(START_KERNEL_MAP)) else {
            return Ok(seen < MAX_CANDIDATES);
        };
        if delta & 0xfff == 0 {
            let task_pa = init_task.wrapping_sub(START_KERNEL_MAP).wrapping_add(delta);
            if read(phys, task_pa.wrapping_add(comm), 16)?.starts_with(b"swapper") {
                found = text_at(at)?;
                return Ok(found.is_none());
            }
        }
        Ok(seen < MAX_CANDIDATES)
    })?;
    found.ok_or_else(|| {
        Error::Missing("the kernel banner at the place kallsyms gives linux_banner".into())
    })
}

/// `task_struct.comm`'s offset in BTF.
fn comm_offset(btf: &Btf) -> Option<u64> {
    let id = btf.struct_named("task_struct")?;
    let Kind::Composite { members, .. } = &btf.get(id)?.kind else {
        return None;
    };
    btf.members
        .get(members.clone())?
        .iter()
        .find(|m| btf.name(m.name) == "comm")
        .map(|m| u64::from(m.bit_offset / 8))
}

/// The index: BTF's types, kallsyms' symbols unslid by `shift`, typed from BTF's variables
/// and the globals table, and `linux_banner`'s bytes.
fn build_index(
    btf: &Btf,
    table: &Kallsyms,
    shift: u64,
    banner: &[u8],
) -> Option<crate::engine::kernel::isf::index::Index> {
    let mut b = Builder::default();
    let format = b.intern("6.2.0")?;
    let producer = b.intern("podmortem")?;
    let version = b.intern(env!("CARGO_PKG_VERSION"))?;
    b.set_metadata(format, producer, version);
    let mut conv = Converter::new(btf);
    conv.add_types(&mut b)?;

    // Types of variables BTF describes (per-CPU ones), then the globals table.
    let mut typed: std::collections::HashMap<String, u32> = std::collections::HashMap::new();
    for (id, t) in btf.types.iter().enumerate() {
        if let Kind::Var(_) = t.kind
            && let Some(node) = conv.node(&mut b, id as u32)
        {
            typed.insert(btf.name(t.name).into_owned(), node);
        }
    }
    let sizes: std::collections::HashMap<String, u64> = btf
        .types
        .iter()
        .enumerate()
        .filter_map(|(id, t)| match t.kind {
            Kind::Composite { size, .. } => Some((conv.type_name(id as u32)?, u64::from(size))),
            Kind::Typedef(to) => match btf.get(strip(btf, to)?)?.kind {
                Kind::Composite { size, .. } => {
                    Some((btf.name(t.name).into_owned(), u64::from(size)))
                }
                _ => None,
            },
            _ => None,
        })
        .collect();
    let size_of = |n: &str| sizes.get(n).copied();
    for (name, declared) in GLOBALS {
        if let Some(node) = declare(&mut b, *declared, &size_of) {
            typed.insert((*name).to_string(), node);
        }
    }
    for s in &table.symbols {
        let name = b.intern(&s.name)?;
        let address = if s.address >= START_KERNEL_MAP {
            s.address.wrapping_sub(shift)
        } else {
            s.address
        };
        let ty = typed
            .get(&s.name)
            .copied()
            .unwrap_or(crate::engine::kernel::isf::index::NO_TYPE);
        let data = (s.name == "linux_banner").then(|| banner.to_vec());
        b.add_symbol(SymbolRec { name, address, ty }, data);
    }
    b.finish().ok()
}

/// An index of `btf`'s types alone (no symbols).
pub(crate) fn index_of_types(btf: &Btf) -> Option<crate::engine::kernel::isf::index::Index> {
    let mut b = Builder::default();
    let producer = b.intern("podmortem")?;
    let format = b.intern("6.2.0")?;
    b.set_metadata(format, producer, producer);
    Converter::new(btf).add_types(&mut b)?;
    b.finish().ok()
}
