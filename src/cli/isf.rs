//! `podmortem isf`: a Volatility 3 ISF of a dump's kernel, made from the dump's own BTF and
//! kallsyms, or of a vmlinux's DWARF and symbol table (and System.map), written as `.json`
//! or `.json.xz` (by the output's name), atomically.

use std::fs::File;
use std::io::BufWriter;
use std::path::Path;

use anyhow::{Context, Result, bail};

use crate::engine::kernel::isf::{CacheDir, Isf};
use crate::engine::kernel::symbols::dump_symbols;
use crate::engine::kernel::symbols::dwarf::symbols_from_vmlinux;

/// Writes the ISF of the kernel in `dump` to `out` (refusing to replace a file unless
/// `force`), and says on stderr what it wrote.
pub fn isf_from_dump(dump: &Path, out: &Path, force: bool) -> Result<()> {
    if out.exists() && !force {
        bail!("{} exists; add --force to replace it", out.display());
    }
    let isf = dump_symbols(dump, &CacheDir::Default)
        .with_context(|| format!("cannot read the kernel's symbols from {}", dump.display()))?;
    write_isf(&isf, out, &[])?;
    report(&isf, out);
    Ok(())
}

/// Writes the ISF of `vmlinux` (with `system_map`'s symbols) to `out`, as dwarf2json does;
/// `metadata` names both files with their SHA-256, as dwarf2json's does.
pub fn isf_from_vmlinux(
    vmlinux: &Path,
    system_map: Option<&Path>,
    out: &Path,
    force: bool,
) -> Result<()> {
    if out.exists() && !force {
        bail!("{} exists; add --force to replace it", out.display());
    }
    let isf = symbols_from_vmlinux(vmlinux, system_map)
        .with_context(|| format!("cannot read the symbols of {}", vmlinux.display()))?;
    let name = |p: &Path| {
        p.file_name()
            .map_or(String::new(), |n| n.to_string_lossy().into_owned())
    };
    let mut sources = vec![
        ("dwarf".to_string(), name(vmlinux), isf.content_hash_hex()),
        ("symtab".to_string(), name(vmlinux), isf.content_hash_hex()),
    ];
    if let Some(map) = system_map {
        sources.push((
            "system-map".to_string(),
            name(map),
            crate::jobs::sha256_file(map)?,
        ));
    }
    write_isf(&isf, out, &sources)?;
    report(&isf, out);
    Ok(())
}

/// Says on stderr what was written.
fn report(isf: &Isf, out: &Path) {
    let kernel = isf
        .banner()
        .map(|b| format!(" of \"{}\"", crate::sanitize::sanitize_bytes(&b)))
        .unwrap_or_default();
    eprintln!(
        "podmortem: {} user types, {} enums, {} symbols{kernel} written to {}",
        isf.user_type_count(),
        isf.enum_count(),
        isf.symbol_count(),
        out.display()
    );
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
