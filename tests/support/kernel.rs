//! Kernel-dump fixtures: one opened [`KernelDump`] per dump and test binary, with the ISF
//! cache kept under `target/fixture-cache/podmortem-cache/isf` so repeated runs skip the ISF
//! parse (the CLI finds the same cache through `PODMORTEM_CACHE_DIR`, see [`cache_root`]).

use std::path::PathBuf;
use std::sync::OnceLock;

use podmortem::engine::kernel::dump::KernelDump;
use podmortem::engine::kernel::isf::CacheDir;

/// The value of `PODMORTEM_CACHE_DIR` for CLI runs in tests.
pub fn cache_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/fixture-cache/podmortem-cache")
}

/// Runs the podmortem binary with `args`, then `evidence` (and `--isf isf` when given),
/// with the tests' cache folder ([`cache_root`]).
pub fn cli(
    args: &[&str],
    evidence: &std::path::Path,
    isf: Option<&std::path::Path>,
) -> std::process::Output {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_podmortem"));
    cmd.args(args)
        .arg(evidence)
        .env("PODMORTEM_CACHE_DIR", cache_root());
    if let Some(isf) = isf {
        cmd.arg("--isf").arg(isf);
    }
    cmd.output().unwrap()
}

/// The ISF cache shared by the tests (the CLI's default cache under [`cache_root`]).
pub fn isf_cache() -> CacheDir {
    CacheDir::At(cache_root().join("isf"))
}

/// The ISF folder of a fixture. `PODMORTEM_TEST_ISF_DIR` replaces linux-6.1's (its kernel's
/// ISF made another way, e.g. by `podmortem isf --vmlinux`: scripts/isf_vmlinux.sh).
pub fn isf_dir(fixture: &str) -> Option<PathBuf> {
    let dir = super::fixture(fixture)?.join("symbols/linux");
    match std::env::var_os("PODMORTEM_TEST_ISF_DIR") {
        Some(other) if fixture == "linux-6.1" => Some(PathBuf::from(other)),
        _ => Some(dir),
    }
}

/// Where a fixture dump's symbols come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Symbols {
    /// The fixture's ISF (dwarf2json).
    Isf,
    /// The dump's own BTF and kallsyms (no ISF given).
    Own,
}

/// Opens `fixture/file_zst` (decompressed into the cache) once per test binary.
fn open_once(
    cell: &'static OnceLock<Option<KernelDump>>,
    fixture: &str,
    file_zst: &str,
    symbols: Symbols,
) -> Option<&'static KernelDump> {
    cell.get_or_init(|| {
        let path = super::decompressed(fixture, file_zst)?;
        let t = std::time::Instant::now();
        let dump = match symbols {
            Symbols::Isf => KernelDump::open_with(&path, &isf_dir(fixture)?, &isf_cache()),
            Symbols::Own => KernelDump::open_auto(&path, None, &isf_cache()),
        }
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        eprintln!(
            "opened {fixture}/{file_zst} ({symbols:?}) in {:?}",
            t.elapsed()
        );
        Some(dump)
    })
    .as_ref()
}

/// Every fixture dump opened both ways: (dump, fixture, golden folder, symbols).
pub fn all_dumps() -> Vec<(&'static KernelDump, &'static str, &'static str, Symbols)> {
    let mut v = Vec::new();
    for symbols in [Symbols::Isf, Symbols::Own] {
        for (d, fixture, golden) in [
            (lime_with(symbols), "linux-6.1", "dump.lime"),
            (avml_with(symbols), "linux-6.1", "dump.avml"),
            (node_with(symbols), "linux-6.1-node", "dump.elf"),
        ] {
            if let Some(d) = d {
                v.push((d, fixture, golden, symbols));
            }
        }
    }
    v
}

/// linux-6.1 dump.lime with its ISF or its own symbols.
pub fn lime_with(symbols: Symbols) -> Option<&'static KernelDump> {
    static ISF: OnceLock<Option<KernelDump>> = OnceLock::new();
    static OWN: OnceLock<Option<KernelDump>> = OnceLock::new();
    let cell = if symbols == Symbols::Isf { &ISF } else { &OWN };
    open_once(cell, "linux-6.1", "dump.lime.zst", symbols)
}

/// linux-6.1 dump.avml with its ISF or its own symbols.
pub fn avml_with(symbols: Symbols) -> Option<&'static KernelDump> {
    static ISF: OnceLock<Option<KernelDump>> = OnceLock::new();
    static OWN: OnceLock<Option<KernelDump>> = OnceLock::new();
    let cell = if symbols == Symbols::Isf { &ISF } else { &OWN };
    open_once(cell, "linux-6.1", "dump.avml.zst", symbols)
}

/// linux-6.1-node dump.elf with its ISF or its own symbols.
pub fn node_with(symbols: Symbols) -> Option<&'static KernelDump> {
    static ISF: OnceLock<Option<KernelDump>> = OnceLock::new();
    static OWN: OnceLock<Option<KernelDump>> = OnceLock::new();
    let cell = if symbols == Symbols::Isf { &ISF } else { &OWN };
    open_once(cell, "linux-6.1-node", "dump.elf.zst", symbols)
}

/// linux-6.1 dump.lime.
pub fn lime() -> Option<&'static KernelDump> {
    lime_with(Symbols::Isf)
}

/// linux-6.1 dump.avml.
pub fn avml() -> Option<&'static KernelDump> {
    avml_with(Symbols::Isf)
}

/// linux-6.1-node dump.elf.
pub fn node() -> Option<&'static KernelDump> {
    node_with(Symbols::Isf)
}
