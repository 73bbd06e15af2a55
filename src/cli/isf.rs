//! `podmortem isf`: a Volatility 3 ISF of a dump's kernel, made from the dump's own BTF and
//! kallsyms, written as `.json` or `.json.xz` (by the output's name), atomically.

use std::fs::File;
use std::io::BufWriter;
use std::path::Path;

use anyhow::{Context, Result, bail};

use crate::engine::kernel::isf::{CacheDir, Isf};
use crate::engine::kernel::symbols::dump_symbols;

/// Writes the ISF of the kernel in `dump` to `out` (refusing to replace a file unless
/// `force`), and says on stderr what it wrote.
pub fn isf_from_dump(dump: &Path, out: &Path, force: bool) -> Result<()> {
    if out.exists() && !force {
        bail!("{} exists; add --force to replace it", out.display());
    }
    let isf = dump_symbols(dump, &CacheDir::Default)
        .with_context(|| format!("cannot read the kernel's symbols from {}", dump.display()))?;
    write_isf(&isf, out, &[])?;
    eprintln!(
        "podmortem: {} user types, {} enums, {} symbols of \"{}\" written to {}",
        isf.user_type_count(),
        isf.enum_count(),
        isf.symbol_count(),
        String::from_utf8_lossy(&isf.banner().unwrap_or_default()),
        out.display()
    );
    Ok(())
}

/// Writes `isf` to `out` (xz-compressed when the name ends in `.xz`) through a temporary
/// file in the same folder, renamed into place once complete.
pub fn write_isf(isf: &Isf, out: &Path, sources: &[(String, String, String)]) -> Result<()> {
    let dir = out
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = out
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "isf.json".into());
    let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    let result = (|| -> Result<()> {
        let file =
            File::create(&tmp).with_context(|| format!("cannot create {}", tmp.display()))?;
        let mut w = BufWriter::with_capacity(1 << 20, file);
        if name.ends_with(".xz") {
            let mut xz = liblzma::write::XzEncoder::new(&mut w, 6);
            isf.write_json(&mut xz, sources)?;
            xz.finish()?;
        } else {
            isf.write_json(&mut w, sources)?;
        }
        let file = w.into_inner().map_err(|e| e.into_error())?;
        file.sync_all()?;
        std::fs::rename(&tmp, out)
            .with_context(|| format!("cannot rename {} to {}", tmp.display(), out.display()))?;
        Ok(())
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.with_context(|| format!("cannot write {}", out.display()))
}
