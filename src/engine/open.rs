//! Opens a piece of evidence, detecting what it is. The one place that decides which back
//! end handles a path.

use std::io::Read;
use std::path::{Path, PathBuf};

use crate::engine::checkpoint::Checkpoint;
use crate::engine::error::{Error, Result};
use crate::engine::evidence::Evidence;
use crate::engine::kernel::dump::KernelDump;
use crate::engine::kernel::isf::CacheDir;
use crate::engine::kernel::physical::{open_physical_as, open_raw, sniff};
use crate::engine::kernel::symbols::SymbolFiles;

/// How to open evidence.
#[derive(Debug, Clone, Default)]
pub struct OpenOptions {
    /// Volatility 3 ISF symbols (file or folder) for kernel memory dumps.
    pub isf: Option<PathBuf>,
    /// A vmlinux with DWARF for kernel memory dumps (instead of an ISF).
    pub vmlinux: Option<PathBuf>,
    /// The System.map that goes with `vmlinux`.
    pub system_map: Option<PathBuf>,
    /// The memory dump's format, when it must not be detected: `"raw"` opens any file as
    /// physical memory from address 0 (QEMU `pmemsave`, LiME's padded format); `"lime"`,
    /// `"avml"`, `"elf"` insist on that format.
    pub format: Option<String>,
}

/// Opens `path` as checkpoint or kernel dump, read-only. A file starting with a LiME, AVML
/// or ELF core magic is a kernel memory dump (its symbols from [`OpenOptions::isf`], else
/// from the dump's own BTF and kallsyms); so is any file given with
/// [`OpenOptions::format`]. A file with no known magic that is no archive either opens as a
/// raw image when symbols are given ([`OpenOptions::isf`] or `vmlinux`) or when a kernel is
/// found in it; anything else is tried as a checkpoint.
pub fn open_evidence(path: &Path, opts: &OpenOptions) -> Result<Box<dyn Evidence>> {
    let files = SymbolFiles {
        isf: opts.isf.clone(),
        vmlinux: opts.vmlinux.clone(),
        system_map: opts.system_map.clone(),
    };
    if let Some(format) = &opts.format {
        let phys = open_physical_as(path, format)?;
        return Ok(Box::new(KernelDump::from_physical(
            path,
            phys,
            &files,
            &CacheDir::Default,
        )?));
    }
    let sniffed = sniff_file(path)?;
    match sniffed {
        Sniffed::MemoryDump => {
            return Ok(Box::new(KernelDump::open_symbols(
                path,
                &files,
                &CacheDir::Default,
            )?));
        }
        Sniffed::Unknown => {
            let given = files.isf.is_some() || files.vmlinux.is_some();
            let raw = open_raw(path)
                .and_then(|phys| KernelDump::from_physical(path, phys, &files, &CacheDir::Default));
            match raw {
                Ok(dump) => {
                    tracing::info!(path = %path.display(), "no known magic: opened as a raw image");
                    return Ok(Box::new(dump));
                }
                // Symbols were given: this was meant as a memory dump, say why it is not one.
                Err(e) if given => return Err(e),
                Err(e) => {
                    tracing::debug!(path = %path.display(), "not a raw image either: {e}");
                }
            }
        }
        Sniffed::Other => {}
    }
    let ck = Checkpoint::open(path).map_err(|e| match e {
        Error::Unrecognised { path, reason } if sniffed == Sniffed::Unknown => {
            Error::Unrecognised {
                path,
                reason: format!(
                    "{reason}; no LiME, AVML or ELF core magic, and no kernel found in it as a raw \
                 memory image (if it is one, give --format raw and --isf)"
                ),
            }
        }
        e => e,
    })?;
    let info = ck.info();
    tracing::debug!(
        path = %path.display(),
        format = %info.format,
        engine = info.engine.as_deref().unwrap_or("unknown"),
        processes = ck.processes().map_or(0, |p| p.len()),
        warnings = info.warnings.len(),
        "checkpoint opened"
    );
    Ok(Box::new(ck))
}

/// What the first bytes of a path say it is.
#[derive(Debug, PartialEq, Eq)]
enum Sniffed {
    /// A LiME, AVML or ELF core magic.
    MemoryDump,
    /// A folder, a tar, zstd or gzip archive, or an empty file: a checkpoint or nothing.
    Other,
    /// A file with no magic podmortem knows: perhaps a raw memory image.
    Unknown,
}

fn sniff_file(path: &Path) -> Result<Sniffed> {
    if !path.is_file() {
        return Ok(Sniffed::Other);
    }
    let mut head = Vec::with_capacity(512);
    std::fs::File::open(path)
        .and_then(|f| f.take(512).read_to_end(&mut head))
        .map_err(|e| Error::io(path, e))?;
    let format = sniff(head.get(..64).unwrap_or(&head));
    tracing::debug!(path = %path.display(), format = format.unwrap_or("not a memory dump"), "evidence sniffed");
    let archive = head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) // zstd
        || head.starts_with(&[0x1f, 0x8b]) // gzip
        || head.get(257..262) == Some(b"ustar".as_slice()); // tar
    Ok(if format.is_some() {
        Sniffed::MemoryDump
    } else if archive || head.is_empty() {
        Sniffed::Other
    } else {
        Sniffed::Unknown
    })
}
