//! Opens a piece of evidence, detecting what it is. The one place that decides which back
//! end handles a path.

use std::io::Read;
use std::path::{Path, PathBuf};

use crate::engine::checkpoint::Checkpoint;
use crate::engine::error::{Error, Result};
use crate::engine::evidence::Evidence;
use crate::engine::kernel::dump::KernelDump;
use crate::engine::kernel::isf::CacheDir;
use crate::engine::kernel::physical::sniff;
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
}

/// Opens `path` as checkpoint or kernel dump, read-only. A file starting with a LiME, AVML
/// or ELF core magic is a kernel memory dump (its symbols from [`OpenOptions::isf`], else
/// from the dump's own BTF and kallsyms); anything else is tried as a checkpoint.
pub fn open_evidence(path: &Path, opts: &OpenOptions) -> Result<Box<dyn Evidence>> {
    if is_memory_dump(path)? {
        let files = SymbolFiles {
            isf: opts.isf.clone(),
            vmlinux: opts.vmlinux.clone(),
            system_map: opts.system_map.clone(),
        };
        return Ok(Box::new(KernelDump::open_symbols(
            path,
            &files,
            &CacheDir::Default,
        )?));
    }
    let ck = Checkpoint::open(path)?;
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

/// True when `path` is a file whose first bytes are a memory dump's magic.
fn is_memory_dump(path: &Path) -> Result<bool> {
    if !path.is_file() {
        return Ok(false);
    }
    let mut head = Vec::with_capacity(64);
    std::fs::File::open(path)
        .and_then(|f| f.take(64).read_to_end(&mut head))
        .map_err(|e| Error::io(path, e))?;
    let format = sniff(&head);
    tracing::debug!(path = %path.display(), format = format.unwrap_or("not a memory dump"), "evidence sniffed");
    Ok(format.is_some())
}
