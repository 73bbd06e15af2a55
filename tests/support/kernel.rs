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

/// The ISF cache shared by the tests (the CLI's default cache under [`cache_root`]).
pub fn isf_cache() -> CacheDir {
    CacheDir::At(cache_root().join("isf"))
}

/// The ISF folder of a fixture.
pub fn isf_dir(fixture: &str) -> Option<PathBuf> {
    Some(super::fixture(fixture)?.join("symbols/linux"))
}

/// Opens `fixture/file_zst` (decompressed into the cache) once per test binary.
fn open_once(
    cell: &'static OnceLock<Option<KernelDump>>,
    fixture: &str,
    file_zst: &str,
) -> Option<&'static KernelDump> {
    cell.get_or_init(|| {
        let path = super::decompressed(fixture, file_zst)?;
        let isf = isf_dir(fixture)?;
        let t = std::time::Instant::now();
        let dump = KernelDump::open_with(&path, &isf, &isf_cache())
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        eprintln!("opened {fixture}/{file_zst} in {:?}", t.elapsed());
        Some(dump)
    })
    .as_ref()
}

/// linux-6.1 dump.lime.
pub fn lime() -> Option<&'static KernelDump> {
    static CELL: OnceLock<Option<KernelDump>> = OnceLock::new();
    open_once(&CELL, "linux-6.1", "dump.lime.zst")
}

/// linux-6.1 dump.avml.
pub fn avml() -> Option<&'static KernelDump> {
    static CELL: OnceLock<Option<KernelDump>> = OnceLock::new();
    open_once(&CELL, "linux-6.1", "dump.avml.zst")
}

/// linux-6.1-node dump.elf.
pub fn node() -> Option<&'static KernelDump> {
    static CELL: OnceLock<Option<KernelDump>> = OnceLock::new();
    open_once(&CELL, "linux-6.1-node", "dump.elf.zst")
}
