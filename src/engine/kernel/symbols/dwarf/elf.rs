//! The ELF side of a vmlinux (or any object): its section headers and names, the data of
//! the DWARF sections (decompressed when `SHF_COMPRESSED` with zlib or zstd, or a legacy
//! `.zdebug_*`; relocated as Go's `debug/elf` relocates them in objects that are not
//! `ET_EXEC`), its `.symtab`, and the bytes of a symbol in `.rodata`.

use std::borrow::Cow;
use std::io::Read;

use goblin::container::{Container, Ctx};
use goblin::elf::compression_header::CompressionHeader;
use goblin::elf::section_header::{SHF_ALLOC, SHF_COMPRESSED, SHT_NOBITS, SHT_REL, SHT_RELA};
use goblin::elf::{Elf, RelocSection, SectionHeader, Symtab};

use crate::engine::error::{Error, Result};

/// Largest decompressed section accepted.
const MAX_DECOMPRESSED: u64 = 16 << 30;

/// An ELF file's sections, read lazily from its bytes.
pub(super) struct ElfFile<'f> {
    bytes: &'f [u8],
    /// The file's name, for errors.
    name: String,
    ctx: Ctx,
    /// `e_type`.
    e_type: u16,
    /// `e_machine`.
    machine: u16,
    sections: Vec<SectionHeader>,
    names: Vec<&'f [u8]>,
}

/// A symbol of `.symtab`.
#[derive(Debug, Clone, Copy)]
pub(super) struct ElfSym<'f> {
    /// Its name (empty for section symbols).
    pub name: &'f [u8],
    /// `st_value`.
    pub value: u64,
    /// `st_size`.
    pub size: u64,
}

impl<'f> ElfFile<'f> {
    /// Parses the header and the section headers of `bytes`; `name` labels errors.
    pub fn parse(bytes: &'f [u8], name: &str) -> Result<ElfFile<'f>> {
        let corrupt = |at: u64, reason: String| Error::Corrupt {
            file: name.to_owned(),
            at,
            reason,
        };
        if bytes.get(..4) != Some(b"\x7fELF") {
            return Err(Error::BadMagic {
                file: name.to_owned(),
                at: 0,
                found: bytes
                    .get(..4)
                    .and_then(|b| <[u8; 4]>::try_from(b).ok())
                    .map_or(0, u32::from_be_bytes),
                expected: "an ELF file (7f 45 4c 46)",
            });
        }
        let header =
            Elf::parse_header(bytes).map_err(|e| corrupt(0, format!("ELF header: {e}")))?;
        let container = header
            .container()
            .map_err(|e| corrupt(4, format!("ELF class: {e}")))?;
        let endian = header
            .endianness()
            .map_err(|e| corrupt(5, format!("ELF byte order: {e}")))?;
        let ctx = Ctx::new(container, endian);
        let shoff = usize::try_from(header.e_shoff).unwrap_or(usize::MAX);
        let sections = SectionHeader::parse(bytes, shoff, usize::from(header.e_shnum), ctx)
            .map_err(|e| corrupt(header.e_shoff, format!("section headers: {e}")))?;
        let mut shstrndx = usize::from(header.e_shstrndx);
        if shstrndx == 0xffff {
            shstrndx = sections.first().map_or(0, |s| s.sh_link as usize);
        }
        let mut f = ElfFile {
            bytes,
            name: name.to_owned(),
            ctx,
            e_type: header.e_type,
            machine: header.e_machine,
            sections,
            names: Vec::new(),
        };
        let strtab = f.raw(shstrndx).unwrap_or(&[]);
        f.names = f.sections.iter().map(|s| cstr(strtab, s.sh_name)).collect();
        Ok(f)
    }

    /// True for a little-endian file.
    pub fn little_endian(&self) -> bool {
        self.ctx.is_little_endian()
    }

    fn corrupt(&self, at: u64, reason: String) -> Error {
        Error::Corrupt {
            file: self.name.clone(),
            at,
            reason,
        }
    }

    /// The bytes of section `i` as stored (empty for `SHT_NOBITS`).
    fn raw(&self, i: usize) -> Option<&'f [u8]> {
        let s = self.sections.get(i)?;
        if s.sh_type == SHT_NOBITS {
            return Some(&[]);
        }
        let start = usize::try_from(s.sh_offset).ok()?;
        let end = start.checked_add(usize::try_from(s.sh_size).ok()?)?;
        self.bytes.get(start..end)
    }

    /// The data of section `i`, decompressed if `SHF_COMPRESSED`.
    fn data(&self, i: usize) -> Result<Cow<'f, [u8]>> {
        let s = self
            .sections
            .get(i)
            .ok_or_else(|| self.corrupt(0, format!("no section {i}")))?;
        let raw = self.raw(i).ok_or_else(|| {
            self.corrupt(
                s.sh_offset,
                format!("section {} lies outside the file", self.section_name(i)),
            )
        })?;
        if s.sh_flags & u64::from(SHF_COMPRESSED) == 0 {
            return Ok(Cow::Borrowed(raw));
        }
        let ch = CompressionHeader::parse(raw, 0, self.ctx)
            .map_err(|e| self.corrupt(s.sh_offset, format!("compression header: {e}")))?;
        let skip = if self.ctx.container == Container::Big {
            24
        } else {
            12
        };
        let body = raw.get(skip..).unwrap_or(&[]);
        let out = match ch.ch_type {
            goblin::elf::compression_header::ELFCOMPRESS_ZLIB => {
                inflate(flate2::read::ZlibDecoder::new(body), ch.ch_size)
            }
            goblin::elf::compression_header::ELFCOMPRESS_ZSTD => {
                zstd::stream::read::Decoder::new(body)
                    .map_err(|e| e.to_string())
                    .and_then(|d| inflate(d, ch.ch_size))
            }
            other => Err(format!("unknown compression type {other}")),
        };
        out.map(Cow::Owned).map_err(|e| {
            self.corrupt(
                s.sh_offset,
                format!("section {}: {e}", self.section_name(i)),
            )
        })
    }

    fn section_name(&self, i: usize) -> String {
        String::from_utf8_lossy(self.names.get(i).copied().unwrap_or(b"?")).into_owned()
    }

    /// The data of DWARF section `name` (e.g. `.debug_info`), decompressed and relocated,
    /// or `None` when the file has no such section. Sections of the same name (type units
    /// in COMDAT groups of an object file) are concatenated in file order.
    pub fn debug_section(&self, name: &str) -> Result<Option<Cow<'f, [u8]>>> {
        let zname = name.strip_prefix(".debug_").map(|n| format!(".zdebug_{n}"));
        let mut parts: Vec<Cow<'f, [u8]>> = Vec::new();
        for (i, n) in self.names.iter().enumerate() {
            if *n == name.as_bytes() {
                let data = self.data(i)?;
                parts.push(self.relocate(i, data)?);
            } else if zname.as_deref().map(str::as_bytes) == Some(*n) {
                let data = self.zdebug(i)?;
                parts.push(self.relocate(i, data)?);
            }
        }
        Ok(match parts.len() {
            0 => None,
            1 => parts.pop(),
            _ => Some(Cow::Owned(parts.concat())),
        })
    }

    /// A legacy `.zdebug_*` section: `ZLIB`, the size (big-endian u64), a zlib stream.
    fn zdebug(&self, i: usize) -> Result<Cow<'f, [u8]>> {
        let raw = self.data(i)?;
        let at = self.sections.get(i).map_or(0, |s| s.sh_offset);
        Ok(match raw.strip_prefix(b"ZLIB") {
            Some(rest) if rest.len() >= 8 => {
                let size = rest
                    .get(..8)
                    .and_then(|b| <[u8; 8]>::try_from(b).ok())
                    .map_or(0, u64::from_be_bytes);
                let body = rest.get(8..).unwrap_or(&[]);
                Cow::Owned(
                    inflate(flate2::read::ZlibDecoder::new(body), size).map_err(|e| {
                        self.corrupt(at, format!("section {}: {e}", self.section_name(i)))
                    })?,
                )
            }
            _ => raw,
        })
    }

    /// Applies the `S + A` relocations of the `.rel(a)` sections that target section `i`,
    /// as Go does for files that are not `ET_EXEC` (relocatable objects).
    fn relocate(&self, i: usize, data: Cow<'f, [u8]>) -> Result<Cow<'f, [u8]>> {
        const ET_EXEC: u16 = 2;
        if self.e_type == ET_EXEC {
            return Ok(data);
        }
        let mut data = data;
        for (r, rs) in self.sections.iter().enumerate() {
            if (rs.sh_type != SHT_RELA && rs.sh_type != SHT_REL) || rs.sh_info as usize != i {
                continue;
            }
            let rela = rs.sh_type == SHT_RELA;
            let bytes = self.raw(r).unwrap_or(&[]);
            let relocs = RelocSection::parse(bytes, 0, bytes.len(), rela, self.ctx)
                .map_err(|e| self.corrupt(rs.sh_offset, format!("relocations: {e}")))?;
            let symtab = self.symtab_of(rs.sh_link as usize);
            for rel in relocs.iter() {
                let Some(width) = self.abs_width(rel.r_type) else {
                    continue;
                };
                let Some(sym) = symtab.as_ref().and_then(|s| s.get(rel.r_sym)) else {
                    continue;
                };
                // Undefined and special-section symbols are left alone, as Go does.
                if sym.st_shndx == 0 || sym.st_shndx >= 0xff00 {
                    continue;
                }
                let Ok(off) = usize::try_from(rel.r_offset) else {
                    continue;
                };
                let buf = data.to_mut();
                let Some(place) = off.checked_add(width).and_then(|end| buf.get_mut(off..end))
                else {
                    continue;
                };
                let addend = match rel.r_addend {
                    Some(a) => a as u64,
                    None => self.read_uint(place),
                };
                let value = sym.st_value.wrapping_add(addend);
                self.write_uint(place, value);
            }
        }
        Ok(data)
    }

    /// Width of an absolute data relocation of this machine (the kinds debug sections use).
    fn abs_width(&self, r_type: u32) -> Option<usize> {
        match (self.machine, r_type) {
            (62, 1) | (183, 257) | (21, 38) | (22, 22) | (243, 2) => Some(8),
            (62, 10 | 11)
            | (3, 1)
            | (183, 258)
            | (40, 2)
            | (21, 1)
            | (20, 1)
            | (22, 4)
            | (243, 1)
            | (8, 2) => Some(4),
            _ => None,
        }
    }

    fn read_uint(&self, b: &[u8]) -> u64 {
        let little = self.little_endian();
        b.iter().enumerate().fold(0u64, |v, (k, &x)| {
            let shift = if little { k } else { b.len() - 1 - k } * 8;
            v | (u64::from(x) << shift)
        })
    }

    fn write_uint(&self, b: &mut [u8], v: u64) {
        let little = self.little_endian();
        let n = b.len();
        for (k, x) in b.iter_mut().enumerate() {
            let shift = if little { k } else { n - 1 - k } * 8;
            *x = (v >> shift) as u8;
        }
    }

    /// The symbol table in section `i` (`None` when it cannot be read).
    fn symtab_of(&self, i: usize) -> Option<Symtab<'f>> {
        let bytes = self.raw(i)?;
        let entsize = if self.ctx.container == Container::Big {
            24
        } else {
            16
        };
        Symtab::parse(bytes, 0, bytes.len() / entsize, self.ctx).ok()
    }

    /// The symbols of `.symtab` (without the null symbol 0), as Go's `Symbols()` lists
    /// them; empty when the file has no `.symtab`.
    pub fn symbols(&self) -> Result<Vec<ElfSym<'f>>> {
        const SHT_SYMTAB: u32 = 2;
        let Some(i) = self.sections.iter().position(|s| s.sh_type == SHT_SYMTAB) else {
            return Ok(Vec::new());
        };
        let at = self.sections.get(i).map_or(0, |s| s.sh_offset);
        let link = self.sections.get(i).map_or(0, |s| s.sh_link as usize);
        let syms = self
            .symtab_of(i)
            .ok_or_else(|| self.corrupt(at, "the symbol table lies outside the file".into()))?;
        let strtab = self.raw(link).unwrap_or(&[]);
        Ok(syms
            .iter()
            .skip(1)
            .map(|s| ElfSym {
                name: cstr(strtab, s.st_name),
                value: s.st_value,
                size: s.st_size,
            })
            .collect())
    }

    /// The bytes of `sym` in the first allocated `.rodata` section that holds it
    /// (dwarf2json's `readELFSymbol`); `None` when no `.rodata` holds it.
    pub fn rodata(&self, sym: &ElfSym<'_>) -> Option<Vec<u8>> {
        let i = self.sections.iter().enumerate().position(|(i, s)| {
            self.names.get(i).copied() == Some(b".rodata".as_slice())
                && s.sh_flags & u64::from(SHF_ALLOC) != 0
                && s.sh_addr <= sym.value
                && s.sh_addr.checked_add(s.sh_size) >= sym.value.checked_add(sym.size)
        })?;
        let s = self.sections.get(i)?;
        let data = self.data(i).ok()?;
        let start = usize::try_from(sym.value.checked_sub(s.sh_addr)?).ok()?;
        let end = start.checked_add(usize::try_from(sym.size).ok()?)?;
        data.get(start..end).map(<[u8]>::to_vec)
    }
}

/// The NUL-terminated string at `off` of a string table (empty when out of range).
fn cstr(table: &[u8], off: usize) -> &[u8] {
    let rest = table.get(off..).unwrap_or(&[]);
    let end = rest.iter().position(|b| *b == 0).unwrap_or(rest.len());
    rest.get(..end).unwrap_or(&[])
}

/// Reads a decompressor to its end, expecting exactly `size` bytes.
fn inflate(r: impl Read, size: u64) -> std::result::Result<Vec<u8>, String> {
    if size > MAX_DECOMPRESSED {
        return Err(format!(
            "declares {size} bytes decompressed, more than accepted"
        ));
    }
    let mut out = Vec::with_capacity(usize::try_from(size.min(1 << 30)).unwrap_or(0));
    r.take(size.saturating_add(1))
        .read_to_end(&mut out)
        .map_err(|e| format!("cannot decompress: {e}"))?;
    if out.len() as u64 != size {
        return Err(format!(
            "decompresses to {} bytes, {size} declared",
            out.len()
        ));
    }
    Ok(out)
}
