//! ELF64 little-endian cores: QEMU `dump-guest-memory` (with `paging: false`) and kdump's
//! `/proc/vmcore` (as saved by `cp` or `makedumpfile -E`).
//!
//! `PT_LOAD` segments map physical memory through `p_paddr`: `p_filesz` bytes from the file,
//! then zeros up to `p_memsz` (present, not missing). `PT_NOTE` segments are searched for a
//! `VMCOREINFO` note. The headers are parsed by hand with bounds checks (a core's few dozen
//! program headers need no ELF library, and every error can name its offset). Not validated,
//! because real writers get them wrong: `e_ehsize` (QEMU 7.2 writes 8), `e_machine`,
//! section headers (read only for the `PN_XNUM` program header count).
//!
//! kdump adds a `PT_LOAD` for the kernel text whose physical range repeats part of RAM; such
//! overlaps are trimmed silently (the first segment in address order wins).

use super::flat::{Extent, MappedImage, normalize};
use super::{MAX_PHYS, bytes_at, corrupt, truncated};
use crate::engine::bytes::Cursor;
use crate::engine::error::Result;
use crate::engine::mapped::Blob;

/// `e_type` of a core file.
const ET_CORE: u16 = 4;
/// Loadable segment.
const PT_LOAD: u32 = 1;
/// Note segment.
const PT_NOTE: u32 = 4;
/// `e_phnum` value meaning "the count is in section header 0's `sh_info`".
const PN_XNUM: u16 = 0xffff;
/// Size of an ELF64 program header.
const PHDR_LEN: u64 = 56;

/// The fields of the ELF64 file header this reader uses.
struct FileHeader {
    /// File offset of the program header table.
    phoff: u64,
    /// Size of one program header.
    phentsize: u64,
    /// Number of program headers (after `PN_XNUM` resolution).
    phnum: u64,
}

/// Reads a little-endian u16 from a cursor.
fn u16_le(c: &mut Cursor<'_>) -> Option<u16> {
    c.array().map(u16::from_le_bytes)
}

/// Reads and checks the file header.
fn file_header(data: &[u8], file: &str) -> Result<FileHeader> {
    let size = data.len() as u64;
    let bytes = bytes_at(data, 0, 64).ok_or_else(|| truncated(file, 0, 64, size))?;
    let mut c = Cursor::new(bytes, 0);
    let ident = c.take(16).unwrap_or_default();
    if ident.get(..4) != Some(b"\x7fELF") {
        return Err(corrupt(file, 0, "no ELF magic"));
    }
    if ident.get(4) != Some(&2) || ident.get(5) != Some(&1) {
        return Err(corrupt(
            file,
            4,
            "not a little-endian ELF64 file (only ELF64 LE cores are supported)",
        ));
    }
    let e_type = u16_le(&mut c);
    if e_type != Some(ET_CORE) {
        return Err(corrupt(
            file,
            16,
            format!("ELF type {e_type:?} is not ET_CORE (4): not a memory dump"),
        ));
    }
    let mut c = Cursor::new(bytes.get(32..).unwrap_or_default(), 32);
    let (Some(phoff), Some(shoff)) = (c.u64_le(), c.u64_le()) else {
        return Err(truncated(file, 32, 16, size));
    };
    let mut c = Cursor::new(bytes.get(54..).unwrap_or_default(), 54);
    let (Some(phentsize), Some(phnum)) = (u16_le(&mut c), u16_le(&mut c)) else {
        return Err(truncated(file, 54, 4, size));
    };
    let phnum = if phnum == PN_XNUM {
        // The real count is in sh_info of section header 0.
        let at = shoff.saturating_add(44);
        let info = bytes_at(data, at, 4).ok_or_else(|| truncated(file, at, 4, size))?;
        Cursor::new(info, at).u32_le().map_or(0, u64::from)
    } else {
        u64::from(phnum)
    };
    let phentsize = u64::from(phentsize);
    if phnum > 0 && phentsize < PHDR_LEN {
        return Err(corrupt(
            file,
            54,
            format!("program header size {phentsize} is below ELF64's {PHDR_LEN}"),
        ));
    }
    let table = phnum * phentsize;
    if phoff.checked_add(table).is_none_or(|end| end > size) {
        return Err(truncated(file, phoff, table, size));
    }
    Ok(FileHeader {
        phoff,
        phentsize,
        phnum,
    })
}

/// One program header.
struct ProgramHeader {
    /// `p_type`.
    kind: u32,
    /// `p_offset`.
    offset: u64,
    /// `p_paddr`.
    paddr: u64,
    /// `p_filesz`.
    filesz: u64,
    /// `p_memsz`.
    memsz: u64,
}

/// Reads the program header at `at`.
fn program_header(data: &[u8], file: &str, at: u64) -> Result<ProgramHeader> {
    let size = data.len() as u64;
    let bytes = bytes_at(data, at, PHDR_LEN).ok_or_else(|| truncated(file, at, PHDR_LEN, size))?;
    let mut c = Cursor::new(bytes, at);
    let kind = c.u32_le();
    let _flags = c.u32_le();
    let offset = c.u64_le();
    let _vaddr = c.u64_le();
    match (kind, offset, c.u64_le(), c.u64_le(), c.u64_le()) {
        (Some(kind), Some(offset), Some(paddr), Some(filesz), Some(memsz)) => Ok(ProgramHeader {
            kind,
            offset,
            paddr,
            filesz,
            memsz,
        }),
        _ => Err(truncated(file, at, PHDR_LEN, size)),
    }
}

/// Parses the ELF core in `blob` (named `file` in messages).
pub(crate) fn parse(blob: Blob, file: String) -> Result<MappedImage> {
    let size = blob.len() as u64;
    let header = file_header(&blob, &file)?;
    let mut extents = Vec::new();
    let mut warnings = Vec::new();
    let mut vmcoreinfo = None;
    for i in 0..header.phnum {
        let at = header.phoff + i * header.phentsize;
        let ph = program_header(&blob, &file, at)?;
        match ph.kind {
            PT_LOAD => {
                let Some(end) = ph.paddr.checked_add(ph.memsz.max(ph.filesz)) else {
                    return Err(corrupt(
                        &file,
                        at + 24,
                        format!(
                            "PT_LOAD at physical {:#x} with size {:#x} overflows 64 bits",
                            ph.paddr, ph.memsz
                        ),
                    ));
                };
                if end > MAX_PHYS {
                    warnings.push(format!(
                        "{file}: PT_LOAD at offset {at:#x} ({:#x}-{end:#x}) reaches beyond the \
                         52-bit physical address space and is ignored",
                        ph.paddr
                    ));
                    continue;
                }
                let filesz = ph.filesz.min(end - ph.paddr);
                let have = size.saturating_sub(ph.offset);
                let (phys_end, stored) = if filesz > have {
                    warnings.push(format!(
                        "{file}: PT_LOAD at offset {at:#x} (physical {:#x}-{end:#x}) is \
                         truncated: the file holds {have} of its {filesz} bytes at offset {:#x}; \
                         the rest is treated as not captured",
                        ph.paddr, ph.offset
                    ));
                    (ph.paddr + have, have)
                } else {
                    (end, filesz)
                };
                extents.push(Extent {
                    phys: ph.paddr..phys_end,
                    file: ph.offset,
                    stored,
                    origin: at,
                });
            }
            PT_NOTE => {
                let len = ph.filesz.min(size.saturating_sub(ph.offset));
                let notes = bytes_at(&blob, ph.offset, len).unwrap_or_default();
                match find_vmcoreinfo(notes, ph.offset) {
                    Ok(Some(text)) => vmcoreinfo = vmcoreinfo.or(Some(text)),
                    Ok(None) => {}
                    Err(bad) => warnings.push(format!(
                        "{file}: note segment declared at offset {at:#x} is malformed at offset \
                         {bad:#x}; notes after it are ignored"
                    )),
                }
            }
            _ => {}
        }
    }
    // Overlaps are normal in kdump cores (kernel text repeated); not worth a warning.
    let _ = normalize(&mut extents, &file);
    Ok(MappedImage::new(file, blob, "elf", extents, warnings).with_vmcoreinfo(vmcoreinfo))
}

/// Finds the `VMCOREINFO` note among the notes in `data` (at file offset `base`); `Err` gives
/// the offset of a malformed note.
fn find_vmcoreinfo(data: &[u8], base: u64) -> std::result::Result<Option<String>, u64> {
    let mut c = Cursor::new(data, base);
    while !c.is_empty() {
        let at = c.offset();
        let (Some(namesz), Some(descsz), Some(_kind)) = (c.u32_le(), c.u32_le(), c.u32_le()) else {
            return Err(at);
        };
        let name = c.take(padded(namesz)).ok_or(at)?;
        let desc = c.take(padded(descsz)).ok_or(at)?;
        let name = name.get(..namesz as usize).ok_or(at)?;
        let desc = desc.get(..descsz as usize).ok_or(at)?;
        if name.strip_suffix(b"\0").unwrap_or(name) == b"VMCOREINFO" {
            let text = desc.strip_suffix(b"\0").unwrap_or(desc);
            let text = String::from_utf8_lossy(text);
            return Ok(Some(text.trim_end_matches('\0').to_string()));
        }
    }
    Ok(None)
}

/// `n` rounded up to the notes' 4-byte alignment.
fn padded(n: u32) -> usize {
    (n as usize).div_ceil(4) * 4
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn finds_vmcoreinfo_note() {
        let mut notes = Vec::new();
        for (name, desc) in [
            (&b"CORE\0"[..], &[7u8; 6][..]),
            (b"VMCOREINFO\0", b"A=1\nB=2\n\0"),
        ] {
            notes.extend((name.len() as u32).to_le_bytes());
            notes.extend((desc.len() as u32).to_le_bytes());
            notes.extend(0u32.to_le_bytes());
            notes.extend(name);
            notes.resize(notes.len().div_ceil(4) * 4, 0);
            notes.extend(desc);
            notes.resize(notes.len().div_ceil(4) * 4, 0);
        }
        assert_eq!(
            find_vmcoreinfo(&notes, 0x100).unwrap().as_deref(),
            Some("A=1\nB=2\n")
        );
        assert_eq!(find_vmcoreinfo(&notes[..24], 0x100), Err(0x100));
        assert_eq!(find_vmcoreinfo(&notes[..28], 0x100).unwrap(), None);
        assert_eq!(find_vmcoreinfo(&notes[..30], 0x100), Err(0x11c));
    }
}
