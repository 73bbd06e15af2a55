//! Choosing a dump's symbols: the vmlinux given (its DWARF and symbol table); the ISF file
//! given; for an ISF folder, the ISF in it whose banner is the dump's kernel's; else (or
//! when none matches) the dump's own BTF and kallsyms. The choice and how it was made are
//! reported by `info`.

use std::path::{Path, PathBuf};

use crate::engine::error::{Error, Result};
use crate::engine::kernel::isf::{CacheDir, Isf, banners_in_with, normalize_banner, select_with};
use crate::engine::kernel::kaslr;
use crate::engine::kernel::physical::{PhysicalMemory, open_physical};
use crate::engine::kernel::vmcoreinfo::Vmcoreinfo;

use super::symbols_from_dump;

/// The symbol files the analyst gave (all optional).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SymbolFiles {
    /// A Volatility 3 ISF file, or a folder of them.
    pub isf: Option<PathBuf>,
    /// A vmlinux with DWARF.
    pub vmlinux: Option<PathBuf>,
    /// The System.map that goes with the vmlinux.
    pub system_map: Option<PathBuf>,
}

/// The symbols for the dump `dump` and how they were chosen (see the module's doc).
pub fn choose_symbols(
    phys: &dyn PhysicalMemory,
    dump: &Path,
    files: &SymbolFiles,
    cache: &CacheDir,
    vmci: &[Vmcoreinfo],
) -> Result<(Isf, &'static str)> {
    if let Some(vmlinux) = &files.vmlinux {
        let isf = super::dwarf::symbols_from_vmlinux(vmlinux, files.system_map.as_deref())?;
        return Ok((isf, "the vmlinux given"));
    }
    let from_dump = || symbols_from_dump(phys, vmci, cache, dump);
    match files.isf.as_deref() {
        Some(p) if p.is_dir() => match choose_isf(phys, p, cache, vmci) {
            Ok(isf) => Ok((
                isf,
                "the ISF in the folder given whose banner is the dump's",
            )),
            Err(isf_err) => match from_dump() {
                Ok(isf) => Ok((
                    isf,
                    "the dump's own BTF and kallsyms (no ISF in the folder given matches)",
                )),
                Err(_) => Err(isf_err),
            },
        },
        Some(p) => Ok((choose_isf(phys, p, cache, vmci)?, "the ISF file given")),
        None => match from_dump() {
            Ok(isf) => Ok((isf, "the dump's own BTF and kallsyms (no ISF given)")),
            Err(e) => Err(Error::Missing(format!(
                "{}. {}",
                e.to_string().trim_start_matches("missing "),
                missing_isf_in(phys, dump)
                    .to_string()
                    .trim_start_matches("missing ")
            ))),
        },
    }
}

/// Picks the ISF under `isf_path` for this dump: the only one, else the one whose release
/// is VMCOREINFO's, else the one whose banner is in memory.
fn choose_isf(
    phys: &dyn PhysicalMemory,
    isf_path: &Path,
    cache: &CacheDir,
    vmci: &[Vmcoreinfo],
) -> Result<Isf> {
    let banners = banners_in_with(isf_path, cache)?;
    if let [(only, _)] = banners.as_slice() {
        return Isf::load_with(only, cache);
    }
    if let Some(rel) = vmci.iter().find_map(Vmcoreinfo::release) {
        let prefix = format!("Linux version {rel} ");
        let matching: Vec<_> = banners
            .iter()
            .filter(|(_, b)| b.starts_with(prefix.as_bytes()))
            .collect();
        if let [(only, _)] = matching.as_slice() {
            return Isf::load_with(only, cache);
        }
    }
    let found = kaslr::banner_strings(phys, 16)?;
    for b in &found {
        let b = normalize_banner(b);
        if let Some((file, _)) = banners.iter().find(|(_, ib)| *ib == b) {
            return Isf::load_with(file, cache);
        }
    }
    select_with(isf_path, found.first().map(Vec::as_slice), cache)
}

/// The error for a dump opened without `--isf`: names the kernel found in it.
pub fn missing_isf(path: &Path) -> Error {
    match open_physical(path) {
        Ok(phys) => missing_isf_in(&*phys, path),
        Err(e) => e,
    }
}

/// [`missing_isf`] for physical memory already open.
fn missing_isf_in(phys: &dyn PhysicalMemory, path: &Path) -> Error {
    let banner = kaslr::banner_strings(phys, 1)
        .ok()
        .and_then(|b| b.into_iter().next())
        .map(|b| String::from_utf8_lossy(&b).into_owned());
    Error::Missing(format!(
        "Volatility ISF symbols for the kernel memory dump {}: its kernel is \"{}\". Pass \
         --isf with the ISF (dwarf2json linux --elf vmlinux) of exactly that kernel build, \
         or a folder of ISFs",
        path.display(),
        banner
            .as_deref()
            .unwrap_or("unknown: no Linux banner found")
    ))
}
