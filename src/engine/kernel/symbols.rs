//! Kernel symbols without a symbol file: the types from the kernel's own BTF, the addresses
//! from its own kallsyms, both read from the dump's physical memory, made into the same
//! index a Volatility ISF gives (see [`crate::engine::kernel::isf`]). Every walker then
//! works unchanged, whichever producer made the index.

pub mod btf;
pub(crate) mod btf_index;
pub mod from_dump;
pub(crate) mod globals;
pub mod kallsyms;

pub use from_dump::symbols_from_dump;
