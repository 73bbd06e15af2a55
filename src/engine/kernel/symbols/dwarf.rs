//! Kernel symbols from a vmlinux with debugging information (`--vmlinux`): the types from
//! its DWARF, the addresses from its `.symtab` and, when given, a `System.map`, made into
//! the same index a Volatility ISF gives, equal to what dwarf2json 0.9.0 makes of the
//! same files (`dwarf2json linux --elf vmlinux --system-map System.map`):
//! - every entry of every unit is visited in order, as dwarf2json's reader does, and each
//!   type is read as Go's `debug/dwarf` reads it (module `gotype`); a type whose reading fails
//!   is skipped as dwarf2json skips it;
//! - base types keep their first definition, structs, unions, enums and symbols their
//!   last; a struct only ever declared is absent;
//! - typedefs and qualifiers are resolved away, except that a typedef of a struct or union
//!   is a user type of the typedef's name; function pointers are `pointer -> function`;
//! - anonymous members are `unnamed_field_N` (hex N), anonymous types `unnamed_<hash>`
//!   with dwarf2json's own hash (module `names`);
//! - a bitfield's offset is the byte holding its lowest bit and its position the bit
//!   within that byte, from `DW_AT_data_bit_offset` (DWARF 5) or `DW_AT_bit_offset`
//!   (DWARF 2-4, counted from the storage unit's most significant bit);
//! - variables (also locals and declarations) give symbols with their types, then every
//!   `.symtab` and `System.map` symbol sets the address of its name (or adds a `void`
//!   symbol); `linux_banner`'s bytes come from `.rodata`.
//!
//! Units are read one at a time (with the units their references reach) and dropped, so
//! memory holds one unit and one definition per name, whatever the size of the DWARF.
//! Type units (`.debug_types`, `DW_UT_type`) and `DW_FORM_ref_sig8` are followed, and so
//! are compressed sections. Every walk over the entries is bounded.

mod elf;
mod emit;
mod gotype;
mod names;
mod units;

#[cfg(test)]
mod tests;

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::path::Path;

use gimli::{RunTimeEndian, Section, SectionId};
use sha2::{Digest, Sha256};

use crate::engine::error::{Error, Result};
use crate::engine::kernel::isf::index::Index;
use crate::engine::kernel::isf::{Isf, SymbolSource};
use crate::engine::mapped::Blob;

use elf::ElfFile;
use emit::{Collector, SymDef};
use gotype::UnitSet;
use units::{R, Ref, Sect, UnitDies};

/// Most entries of other units one unit's references may bring in.
const MAX_FOREIGN_DIES: usize = 32 << 20;

/// Builds the symbol index of a vmlinux (DWARF types, .symtab symbols, and a System.map's
/// symbols when given).
pub fn symbols_from_vmlinux(vmlinux: &Path, system_map: Option<&Path>) -> Result<Isf> {
    let blob = Blob::map(vmlinux)?;
    let hash = file_sha256(vmlinux)?;
    let index = build_index(&blob, &vmlinux.display().to_string(), system_map)?;
    drop(blob);
    Ok(Isf::from_index(
        index,
        hash,
        vmlinux,
        SymbolSource::Vmlinux {
            path: vmlinux.to_path_buf(),
            system_map: system_map.map(Path::to_path_buf),
        },
    ))
}

/// SHA-256 of a file, read in chunks (hashing the map would bring every page of a
/// 600 MB vmlinux into the process's resident memory).
fn file_sha256(path: &Path) -> Result<[u8; 32]> {
    use std::io::Read;
    let mut f = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf).map_err(|e| Error::io(path, e))?;
        if n == 0 {
            break;
        }
        h.update(buf.get(..n).unwrap_or(&[]));
    }
    Ok(h.finalize().into())
}

/// The index of the ELF file `bytes` (named `name` in errors) and of `system_map`.
pub(crate) fn build_index(bytes: &[u8], name: &str, system_map: Option<&Path>) -> Result<Index> {
    let elf = ElfFile::parse(bytes, name)?;
    let full = || Error::Corrupt {
        file: name.to_owned(),
        at: 0,
        reason: "more names than the symbol index can hold".to_owned(),
    };
    let mut c = Collector::new(elf.little_endian()).ok_or_else(full)?;
    read_dwarf(&elf, name, &mut c)?;
    for s in elf.symbols()? {
        let sym_name = String::from_utf8_lossy(s.name);
        let key = c.intern(&sym_name).ok_or_else(full)?;
        let void = c.void;
        let entry = c.symbols.entry(key).or_insert(SymDef {
            address: s.value,
            ty: void,
            data: None,
        });
        entry.address = s.value;
        if sym_name == "linux_banner" {
            entry.data = elf.rodata(&s).filter(|d| !d.is_empty());
        }
    }
    if let Some(map) = system_map {
        read_system_map(map, &mut c)?;
    }
    c.finish().map_err(|reason| Error::Corrupt {
        file: name.to_owned(),
        at: 0,
        reason,
    })
}

/// The sections the reader uses.
const SECTIONS: [SectionId; 7] = [
    SectionId::DebugInfo,
    SectionId::DebugAbbrev,
    SectionId::DebugStr,
    SectionId::DebugLineStr,
    SectionId::DebugStrOffsets,
    SectionId::DebugAddr,
    SectionId::DebugTypes,
];

/// A unit of the directory: where it is, its header, its signature if a type unit.
struct DirEntry<'d> {
    sect: Sect,
    start: u64,
    header: gimli::UnitHeader<R<'d>>,
    sig: Option<u64>,
}

/// Runs the collector over every unit of the file's DWARF, one unit at a time.
fn read_dwarf(elf: &ElfFile<'_>, name: &str, c: &mut Collector) -> Result<()> {
    let sections = gimli::DwarfSections::load(|id| -> Result<Cow<'_, [u8]>> {
        if SECTIONS.contains(&id) {
            Ok(elf.debug_section(id.name())?.unwrap_or(Cow::Borrowed(&[])))
        } else {
            Ok(Cow::Borrowed(&[]))
        }
    })?;
    let endian = if elf.little_endian() {
        RunTimeEndian::Little
    } else {
        RunTimeEndian::Big
    };
    let dwarf = sections.borrow(|s| gimli::EndianSlice::new(s, endian));
    if dwarf.debug_info.reader().is_empty() && dwarf.debug_types.reader().is_empty() {
        return Err(Error::Missing(format!(
            "DWARF debugging information (.debug_info) in {name}: a vmlinux with debug \
             information (the -dbg package's) is needed"
        )));
    }
    let bad = |at: u64, e: gimli::Error| Error::Corrupt {
        file: name.to_owned(),
        at,
        reason: format!("DWARF: {e}"),
    };
    let dir = directory(&dwarf).map_err(|(at, e)| bad(at, e))?;
    let sigs: HashMap<u64, usize> = dir
        .iter()
        .enumerate()
        .filter_map(|(i, e)| Some((e.sig?, i)))
        .collect();
    c.use_string_sections(&[
        dwarf.debug_str.reader().slice(),
        dwarf.debug_line_str.reader().slice(),
    ]);
    let mut result = Ok(());
    for entry in &dir {
        let main = match parse(&dwarf, entry) {
            Ok(m) => m,
            Err(e) => {
                result = Err(bad(entry.start, e));
                break;
            }
        };
        let mut set = UnitSet::new(main);
        load_references(&dwarf, &dir, &sigs, &mut set);
        set.analyze();
        c.process_unit(&mut set);
    }
    c.forget_string_sections();
    result
}

/// Every unit header, `.debug_info` first, then `.debug_types`.
fn directory<'d>(
    dwarf: &gimli::Dwarf<R<'d>>,
) -> std::result::Result<Vec<DirEntry<'d>>, (u64, gimli::Error)> {
    let mut out = Vec::new();
    let mut push = |h: gimli::UnitHeader<R<'d>>| {
        let (sect, start) = units::section_and_start(&h);
        let start = start as u64;
        let sig = match h.type_() {
            gimli::UnitType::Type { type_signature, .. }
            | gimli::UnitType::SplitType { type_signature, .. } => Some(type_signature.0),
            _ => None,
        };
        out.push(DirEntry {
            sect,
            start,
            header: h,
            sig,
        });
    };
    let mut units = dwarf.units();
    let mut at = 0u64;
    while let Some(h) = units.next().map_err(|e| (at, e))? {
        at = at.saturating_add(h.length_including_self() as u64);
        push(h);
    }
    let mut types = dwarf.type_units();
    let mut at = 0u64;
    while let Some(h) = types.next().map_err(|e| (at, e))? {
        at = at.saturating_add(h.length_including_self() as u64);
        push(h);
    }
    Ok(out)
}

/// Parses the unit of `entry`.
fn parse<'d>(dwarf: &gimli::Dwarf<R<'d>>, entry: &DirEntry<'d>) -> gimli::Result<UnitDies<'d>> {
    let abbrevs = dwarf.abbreviations(&entry.header)?;
    units::parse_unit(dwarf, &entry.header, &abbrevs)
}

/// Adds to `set` every unit that its units' type references reach outside themselves
/// (other units by offset, type units by signature), within [`MAX_FOREIGN_DIES`]. A
/// unit that cannot be read is left out: references into it read as failures.
fn load_references<'d>(
    dwarf: &gimli::Dwarf<R<'d>>,
    dir: &[DirEntry<'d>],
    sigs: &HashMap<u64, usize>,
    set: &mut UnitSet<'d>,
) {
    let mut pending = vec![0u32];
    let mut budget = MAX_FOREIGN_DIES;
    let mut tried: HashSet<usize> = HashSet::new();
    while let Some(slot) = pending.pop() {
        let Some(unit) = set.unit(slot) else { continue };
        let mut wanted: Vec<usize> = unit
            .attrs
            .iter()
            .filter_map(|a| match a.ty {
                Ref::At(sect, off) if !set.holds(sect, off) => {
                    let i = dir.partition_point(|e| (e.sect, e.start) <= (sect, off));
                    i.checked_sub(1)
                }
                Ref::Sig(sig) if !set.holds_sig(sig) => sigs.get(&sig).copied(),
                _ => None,
            })
            .collect();
        wanted.sort_unstable();
        wanted.dedup();
        for i in wanted {
            let Some(entry) = dir.get(i) else { continue };
            if !tried.insert(i) || set.holds(entry.sect, entry.start) {
                continue;
            }
            let Ok(unit) = parse(dwarf, entry) else {
                continue;
            };
            let Some(left) = budget.checked_sub(unit.dies.len()) else {
                return;
            };
            budget = left;
            pending.push(set.add(unit, entry.sig));
        }
    }
}

/// dwarf2json's System.map reader: `ADDRESS TYPE NAME` lines; each sets the address of
/// its symbol (or adds a `void` symbol). Blank lines are skipped.
fn read_system_map(path: &Path, c: &mut Collector) -> Result<()> {
    let text = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    let file = path.display().to_string();
    let mut at = 0u64;
    for (n, line) in text.split(|b| *b == b'\n').enumerate() {
        let line_at = at;
        at = at.saturating_add(line.len() as u64 + 1);
        let words: Vec<&[u8]> = line
            .split(|b| b.is_ascii_whitespace())
            .filter(|w| !w.is_empty())
            .collect();
        if words.is_empty() {
            continue;
        }
        let bad = || Error::Corrupt {
            file: file.clone(),
            at: line_at,
            reason: format!(
                "line {}: not `ADDRESS TYPE NAME`: {}",
                n + 1,
                String::from_utf8_lossy(line)
            ),
        };
        let address = words
            .first()
            .and_then(|w| std::str::from_utf8(w).ok())
            .filter(|w| !w.starts_with('+'))
            .and_then(|w| u64::from_str_radix(w, 16).ok())
            .ok_or_else(bad)?;
        let name = words.get(2).ok_or_else(bad)?;
        let key = c
            .intern(&String::from_utf8_lossy(name))
            .ok_or_else(|| Error::Corrupt {
                file: file.clone(),
                at: line_at,
                reason: "more names than the symbol index can hold".to_owned(),
            })?;
        let void = c.void;
        c.symbols
            .entry(key)
            .or_insert(SymDef {
                address,
                ty: void,
                data: None,
            })
            .address = address;
    }
    Ok(())
}
