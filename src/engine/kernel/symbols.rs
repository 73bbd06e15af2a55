//! Kernel symbols without a symbol file: the types from the kernel's own BTF, the addresses
//! from its own kallsyms, both read from the dump's physical memory, made into the same
//! index a Volatility ISF gives (see [`crate::engine::kernel::isf`]). Every walker then
//! works unchanged, whichever producer made the index.

pub mod btf;
pub(crate) mod btf_index;
pub mod dwarf;
pub mod from_dump;
pub(crate) mod globals;
pub mod kallsyms;
pub mod select;

pub use from_dump::symbols_from_dump;
pub use select::{SymbolFiles, choose_symbols, missing_isf};

use std::path::Path;

use crate::engine::error::Result;
use crate::engine::kernel::isf::{CacheDir, Isf};
use crate::engine::kernel::kaslr;
use crate::engine::kernel::physical::open_physical;

/// The symbols of the kernel in the memory dump at `path`, from its own BTF and kallsyms,
/// checked as an open checks them (the KASLR shift and page tables they give must
/// translate `linux_banner` to the banner text).
pub fn dump_symbols(path: &Path, cache: &CacheDir) -> Result<Isf> {
    let phys = open_physical(path)?;
    let vmci = kaslr::vmcoreinfo_candidates(&*phys, 1)?;
    let isf = symbols_from_dump(&*phys, &vmci, cache, path)?;
    kaslr::find_layout_searching(&*phys, &isf, &vmci)?;
    Ok(isf)
}

/// The types of one BTF blob as a symbol index (no symbols): what a dump's blob gives,
/// for tests and tools. `label` names the blob in errors.
pub fn types_from_btf(blob: &[u8], label: &str) -> Result<Isf> {
    let btf = btf::Btf::parse(blob, label, 0)?;
    let index = from_dump::index_of_types(&btf).ok_or_else(|| {
        crate::engine::error::Error::Missing(format!("an index of the types of {label}"))
    })?;
    let hash = {
        use sha2::Digest;
        sha2::Sha256::digest(blob).into()
    };
    Ok(Isf::from_index(
        index,
        hash,
        Path::new(label),
        crate::engine::kernel::isf::SymbolSource::DumpBtf {
            btf_at: 0,
            btf_len: blob.len() as u64,
            from_cache: false,
        },
    ))
}
