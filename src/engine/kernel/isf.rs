//! Volatility 3 ISF symbol files (the JSON that dwarf2json makes from a kernel's vmlinux):
//! every kernel structure layout, symbol address and enum value the kernel walkers use comes
//! from here, at run time. Nothing about kernel structures is hard-coded elsewhere.
//!
//! [`Isf::load`] reads `.json`, `.json.xz` or `.json.gz` (recognised by magic) into a compact
//! index: names interned in one arena, name-sorted tables, de-duplicated type descriptors.
//! Parsing a full kernel ISF takes about a second, so the index is cached on disk keyed by
//! the SHA-256 of the ISF file (see [`CacheDir`]); the next open maps the cache file and
//! looks names up in place (no decoding), finding the hash through the ISF file's identity
//! rather than by hashing it again.
//! [`select`] implements Volatility's `-s`: pick the ISF whose banner is the dump's.
//!
//! Fields of anonymous struct/union members are lifted into the enclosing type with their
//! offsets made absolute, as Volatility does for format 6.2: `mm_struct.pgd` is found even
//! though dwarf2json stores it inside `mm_struct.unnamed_field_0`. The `unnamed_field_N`
//! entries themselves stay visible too.

mod cache;
pub(crate) mod index;
mod json;
mod json_types;
mod mapped;
mod read;
mod select;
mod tables;
pub(crate) mod write;

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::engine::error::{Error, Result};
use crate::engine::mapped::Blob;

pub use cache::{CacheDir, FORMAT_VERSION as CACHE_FORMAT_VERSION};
pub use select::{banners_in, banners_in_with, select, select_with};

pub(crate) use cache::read as cache_read;

use index::{Index, MAX_TYPE_DEPTH, NO_TYPE, Node};
use tables::Tables;

/// A loaded ISF: cheap, allocation-free lookups of offsets and sizes; `Send + Sync`.
#[derive(Debug, Clone)]
pub struct Isf {
    tables: Tables,
    hash: [u8; 32],
    path: PathBuf,
    banner: Option<Vec<u8>>,
    pointer_size: u64,
    from_cache: bool,
    source: SymbolSource,
}

/// Where an index of kernel symbols came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SymbolSource {
    /// A Volatility 3 ISF file (JSON, xz or gzip).
    IsfFile,
    /// The dump's own BTF (types) and kallsyms (addresses).
    DumpBtf {
        /// Physical address of the BTF blob used.
        btf_at: u64,
        /// Its length in bytes.
        btf_len: u64,
        /// True when the index was read from the cache instead of being decoded.
        from_cache: bool,
    },
    /// A vmlinux's DWARF (types) and symbol table (addresses), and a System.map if given.
    Vmlinux {
        /// The vmlinux file.
        path: PathBuf,
        /// The System.map file, when one was given.
        system_map: Option<PathBuf>,
    },
}

impl SymbolSource {
    /// A short name (`isf`, `btf+kallsyms`).
    pub fn kind(&self) -> &'static str {
        match self {
            SymbolSource::IsfFile => "isf",
            SymbolSource::DumpBtf { .. } => "btf+kallsyms",
            SymbolSource::Vmlinux { .. } => "vmlinux",
        }
    }
}

/// Two ISFs are equal when their indexes and content hashes are (wherever they came from).
impl PartialEq for Isf {
    fn eq(&self, other: &Self) -> bool {
        self.hash == other.hash
            && self.banner == other.banner
            && match (self.tables.index(), other.tables.index()) {
                (Some(a), Some(b)) => a == b,
                _ => false,
            }
    }
}

impl Eq for Isf {}

/// A symbol of the ISF.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Symbol {
    /// The link-time (unslid) address: add the KASLR slide before use.
    pub address: u64,
    /// The name of the symbol's type when it is a named type (base, struct, union, enum),
    /// e.g. `task_struct` for `init_task`; `None` for pointers, arrays, functions or none.
    pub type_name: Option<String>,
    /// The symbol's full type descriptor, when the ISF gives one.
    pub type_ref: Option<TypeRef>,
}

/// A field of a struct or union.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    /// Byte offset from the start of the enclosing type (for bitfields: of the storage unit).
    pub offset: u64,
    /// The field's type.
    pub kind: TypeRef,
}

/// A type descriptor, as the ISF writes it (typedefs and qualifiers already resolved away).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TypeRef {
    /// A base type of `base_types` (`int`, `long unsigned int`, `void`, ...).
    Base {
        /// Its name.
        name: String,
    },
    /// A pointer (its size is [`Isf::pointer_size`]).
    Pointer {
        /// What it points to.
        subtype: Box<TypeRef>,
    },
    /// A struct (or C++ class) of `user_types`; it may be absent (an incomplete type).
    Struct {
        /// Its name.
        name: String,
    },
    /// A union of `user_types`.
    Union {
        /// Its name.
        name: String,
    },
    /// An enumeration of `enums`.
    Enum {
        /// Its name.
        name: String,
    },
    /// A fixed-size array (`count` 0 for a flexible array member).
    Array {
        /// Number of elements.
        count: u64,
        /// Element type.
        subtype: Box<TypeRef>,
    },
    /// A bitfield: `bit_length` bits from bit `bit_position` of a `subtype` storage unit.
    Bitfield {
        /// Lowest bit, counted from the least significant bit of the storage unit.
        bit_position: u32,
        /// Width in bits.
        bit_length: u32,
        /// The storage unit's type (a base type or an enum).
        subtype: Box<TypeRef>,
    },
    /// A function (only ever seen behind a pointer, or as a symbol's type).
    Function,
}

impl TypeRef {
    /// The name of a named type (base, struct, union, enum).
    pub fn name(&self) -> Option<&str> {
        match self {
            TypeRef::Base { name }
            | TypeRef::Struct { name }
            | TypeRef::Union { name }
            | TypeRef::Enum { name } => Some(name),
            _ => None,
        }
    }
}

impl Isf {
    /// Loads an ISF file through the default cache (see [`CacheDir::Default`]).
    pub fn load(path: &Path) -> Result<Isf> {
        Isf::load_with(path, &CacheDir::Default)
    }

    /// Loads an ISF file, reading and writing the parsed index in `cache`. A missing,
    /// corrupt or stale cache file is ignored (and rewritten); a failed cache write is
    /// logged, not an error (the ISF was parsed). Errors name the file.
    pub fn load_with(path: &Path, cache: &CacheDir) -> Result<Isf> {
        // The content hash recorded for this very file, else the file hashed.
        if let Some(hash) = cache::known_hash(path, cache)
            && let Some(isf) = Isf::cached(path, cache, hash)
        {
            return Ok(isf);
        }
        let bytes = Blob::map(path)?;
        let hash: [u8; 32] = Sha256::digest(&*bytes).into();
        if let Some(isf) = Isf::cached(path, cache, hash) {
            cache::remember_hash(path, cache, &hash);
            return Ok(isf);
        }
        let isf = Isf::new(read::parse(&bytes, path)?, hash, path);
        drop(bytes);
        tracing::debug!(isf = %path.display(), types = isf.user_type_count(), symbols = isf.symbol_count(), "ISF parsed");
        if let Some(file) = cache.file_for(&hash) {
            match isf.write_cache(&file) {
                Ok(()) => {
                    tracing::debug!(cache = %file.display(), "ISF index cached");
                    cache::remember_hash(path, cache, &hash);
                }
                Err(e) => {
                    tracing::warn!(cache = %file.display(), "cannot cache the ISF index: {e}")
                }
            }
        }
        Ok(isf)
    }

    /// The ISF at `path` from its cache file, for content hash `hash`, used in place;
    /// `None` when there is no valid one.
    fn cached(path: &Path, cache: &CacheDir, hash: [u8; 32]) -> Option<Isf> {
        let (banner, tables) = mapped::map(&cache.file_for(&hash)?, &hash)?;
        let mut isf = Isf::with_tables(Tables::Mapped(std::sync::Arc::new(tables)), hash, path);
        isf.from_cache = true;
        // The header's banner is derived from the index; they always agree.
        if isf.banner == banner {
            tracing::debug!(isf = %path.display(), "ISF index from the cache");
            return Some(isf);
        }
        tracing::warn!(isf = %path.display(), "cached ISF index disagrees with its header; parsing again");
        None
    }

    /// Parses an ISF from bytes (JSON, xz or gzip) without any cache; `name` labels errors.
    pub fn from_bytes(bytes: &[u8], name: &str) -> Result<Isf> {
        let path = Path::new(name);
        let hash: [u8; 32] = Sha256::digest(bytes).into();
        Ok(Isf::new(read::parse(bytes, path)?, hash, path))
    }

    fn new(index: Index, hash: [u8; 32], path: &Path) -> Isf {
        Isf::with_tables(Tables::Owned(Box::new(index)), hash, path)
    }

    fn with_tables(tables: Tables, hash: [u8; 32], path: &Path) -> Isf {
        let banner = tables.constant_data("linux_banner").map(normalize_banner);
        let pointer_size = tables.base_type("pointer").map_or(8, |b| b.size);
        Isf {
            tables,
            hash,
            path: path.to_path_buf(),
            banner,
            pointer_size,
            from_cache: false,
            source: SymbolSource::IsfFile,
        }
    }

    /// Symbols from another producer's index; `hash` is the index's cache key and `path`
    /// the file it was made from (the dump).
    pub(crate) fn from_index(
        index: Index,
        hash: [u8; 32],
        path: &Path,
        source: SymbolSource,
    ) -> Isf {
        let mut isf = Isf::new(index, hash, path);
        isf.from_cache = matches!(
            source,
            SymbolSource::DumpBtf {
                from_cache: true,
                ..
            }
        );
        isf.source = source;
        isf
    }

    /// Writes the index to the cache file `file` (keyed by [`Isf::content_hash`]).
    pub(crate) fn write_cache(&self, file: &Path) -> std::io::Result<()> {
        let index = self.index()?;
        cache::write(file, &self.hash, self.banner.as_deref(), &index)
    }

    /// The whole index in memory (a mapped cache file decoded), or why not.
    fn index(&self) -> std::io::Result<std::borrow::Cow<'_, Index>> {
        self.tables
            .index()
            .ok_or_else(|| std::io::Error::other("the cached ISF index does not validate"))
    }

    /// Where these symbols came from.
    pub fn source(&self) -> &SymbolSource {
        &self.source
    }

    /// Writes these symbols as a Volatility 3 ISF (JSON in dwarf2json's shape, format
    /// 6.2.0) to `out`. `sources` are `(kind, file name, sha256 hex)` for
    /// `metadata.linux` (`kind` one of `dwarf`, `symtab`, `system-map`, as Volatility's
    /// schema allows).
    pub fn write_json(
        &self,
        out: &mut dyn std::io::Write,
        sources: &[(String, String, String)],
    ) -> std::io::Result<()> {
        let index = self.index()?;
        let doc = write::IsfDocument {
            index: &index,
            sources,
        };
        serde_json::to_writer(&mut *out, &doc).map_err(std::io::Error::other)?;
        out.flush()
    }

    /// The names of all structs, unions and classes (sorted).
    pub fn user_type_names(&self) -> impl Iterator<Item = &str> {
        self.tables.user_type_names()
    }

    /// The file this ISF was loaded from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// SHA-256 of the ISF file's bytes as read (compressed, if it was).
    pub fn content_hash(&self) -> [u8; 32] {
        self.hash
    }

    /// [`Isf::content_hash`] as lower-case hex (the cache file's name starts with it).
    pub fn content_hash_hex(&self) -> String {
        cache::hex(&self.hash)
    }

    /// True when this index came from the cache rather than from parsing the JSON.
    pub fn from_cache(&self) -> bool {
        self.from_cache
    }

    /// `metadata.format` (e.g. `6.2.0`) and the producer's name and version.
    pub fn format(&self) -> (&str, &str, &str) {
        self.tables.meta()
    }

    /// The kernel banner: `symbols.linux_banner.constant_data` decoded, cut at its first
    /// NUL, with trailing `\n`/`\r` removed (so: `/proc/version` without its newline).
    /// `None` when the ISF has no such constant.
    pub fn banner(&self) -> Option<Vec<u8>> {
        self.banner.clone()
    }

    /// The decoded `constant_data` of a symbol, exactly as stored (NULs and newlines kept).
    pub fn constant_data(&self, symbol: &str) -> Option<&[u8]> {
        self.tables.constant_data(symbol)
    }

    /// Size of a pointer: the size of base type `pointer`, or 8 if the ISF lacks it.
    pub fn pointer_size(&self) -> u64 {
        self.pointer_size
    }

    /// A symbol by name.
    pub fn symbol(&self, name: &str) -> Option<Symbol> {
        let s = self.tables.symbol(name)?;
        let type_ref = (s.ty != NO_TYPE).then(|| self.type_ref(s.ty)).flatten();
        Some(Symbol {
            address: s.address,
            type_name: type_ref.as_ref().and_then(|t| t.name()).map(str::to_owned),
            type_ref,
        })
    }

    /// Just the unslid address of a symbol (no allocation).
    pub fn symbol_address(&self, name: &str) -> Option<u64> {
        self.tables.symbol(name).map(|s| s.address)
    }

    /// The symbol with the lowest (unslid) address above `address`, and that address: where
    /// an object with no size in the symbols ends at the latest.
    pub fn next_symbol_after(&self, address: u64) -> Option<(&str, u64)> {
        self.tables.next_symbol_after(address)
    }

    /// Size in bytes of a struct or union.
    pub fn struct_size(&self, name: &str) -> Option<u64> {
        self.tables.user_type(name).map(|u| u.size)
    }

    /// A field of a struct or union (including fields lifted from anonymous members).
    pub fn field(&self, struct_name: &str, field: &str) -> Option<Field> {
        let f = self.tables.field(struct_name, field)?;
        Some(Field {
            offset: f.offset,
            kind: self.type_ref(f.ty)?,
        })
    }

    /// The offset of `struct_name.field`, or an error naming both.
    pub fn offset(&self, struct_name: &str, field: &str) -> Result<u64> {
        if let Some(f) = self.tables.field(struct_name, field) {
            return Ok(f.offset);
        }
        Err(Error::MissingSymbol(
            if self.tables.user_type(struct_name).is_some() {
                format!(
                    "ISF field {struct_name}.{field} (the ISF has {struct_name}, without {field})"
                )
            } else {
                format!("ISF type {struct_name} (needed for {struct_name}.{field})")
            },
        ))
    }

    /// True when `struct_name` has a field `field`.
    pub fn has_field(&self, struct_name: &str, field: &str) -> bool {
        self.tables.field(struct_name, field).is_some()
    }

    /// The names of a struct's fields, sorted (lifted members included).
    pub fn field_names(&self, struct_name: &str) -> Option<Vec<&str>> {
        let u = self.tables.user_type(struct_name)?;
        Some(self.tables.field_names(&u))
    }

    /// Size in bytes of a base type (`int`, `pointer`, `long unsigned int`, ...).
    pub fn base_size(&self, name: &str) -> Option<u64> {
        self.tables.base_type(name).map(|b| b.size)
    }

    /// True when a base type is signed.
    pub fn base_signed(&self, name: &str) -> Option<bool> {
        self.tables.base_type(name).map(|b| b.signed)
    }

    /// The value of an enumeration constant. Values above `i64::MAX` keep their 64-bit
    /// pattern.
    pub fn enum_value(&self, enum_name: &str, constant: &str) -> Option<i64> {
        let e = self.tables.enumeration(enum_name)?;
        self.tables.enum_value(&e, constant)
    }

    /// The name of the first constant (by name order) of `enum_name` with this value.
    pub fn enum_name(&self, enum_name: &str, value: i64) -> Option<&str> {
        let e = self.tables.enumeration(enum_name)?;
        self.tables.enum_name(&e, value)
    }

    /// Size in bytes of an enumeration.
    pub fn enum_size(&self, enum_name: &str) -> Option<u64> {
        self.tables.enumeration(enum_name).map(|e| e.size)
    }

    /// The size of a value of type `t`: arrays multiply (checked), bitfields give their
    /// storage unit, functions and incomplete types `None`.
    pub fn type_size(&self, t: &TypeRef) -> Option<u64> {
        match t {
            TypeRef::Base { name } => self.base_size(name),
            TypeRef::Pointer { .. } => Some(self.pointer_size),
            TypeRef::Struct { name } | TypeRef::Union { name } => self.struct_size(name),
            TypeRef::Enum { name } => self.enum_size(name),
            TypeRef::Array { count, subtype } => self.type_size(subtype)?.checked_mul(*count),
            TypeRef::Bitfield { subtype, .. } => self.type_size(subtype),
            TypeRef::Function => None,
        }
    }

    /// Number of base types.
    pub fn base_type_count(&self) -> usize {
        self.tables.counts()[0]
    }

    /// Number of user types (structs, unions, classes).
    pub fn user_type_count(&self) -> usize {
        self.tables.counts()[1]
    }

    /// Number of enumerations.
    pub fn enum_count(&self) -> usize {
        self.tables.counts()[2]
    }

    /// Number of symbols.
    pub fn symbol_count(&self) -> usize {
        self.tables.counts()[3]
    }

    /// Rebuilds the public descriptor of type node `id`. Descriptors are followed only
    /// towards smaller ids and at most [`MAX_TYPE_DEPTH`] deep (as the parser and the cache
    /// check make them), whatever a mapped cache file says.
    fn type_ref(&self, id: u32) -> Option<TypeRef> {
        self.type_ref_at(id, 0)
    }

    fn type_ref_at(&self, id: u32, depth: u32) -> Option<TypeRef> {
        if depth > MAX_TYPE_DEPTH {
            return None;
        }
        let i = &self.tables;
        let name = |s| i.str(s).to_owned();
        let sub = |sub: u32| {
            (sub < id)
                .then(|| self.type_ref_at(sub, depth + 1))
                .flatten()
                .map(Box::new)
        };
        Some(match i.node(id)? {
            Node::Base(s) => TypeRef::Base { name: name(s) },
            Node::Struct(s) | Node::Class(s) => TypeRef::Struct { name: name(s) },
            Node::Union(s) => TypeRef::Union { name: name(s) },
            Node::Enum(s) => TypeRef::Enum { name: name(s) },
            Node::Function => TypeRef::Function,
            Node::Pointer(s) => TypeRef::Pointer { subtype: sub(s)? },
            Node::Array { count, sub: s } => TypeRef::Array {
                count,
                subtype: sub(s)?,
            },
            Node::Bitfield {
                position,
                length,
                sub: s,
            } => TypeRef::Bitfield {
                bit_position: position,
                bit_length: length,
                subtype: sub(s)?,
            },
        })
    }
}

/// A banner as compared and reported: up to the first NUL, trailing `\n`/`\r` removed.
pub fn normalize_banner(raw: &[u8]) -> Vec<u8> {
    let end = raw.iter().position(|b| *b == 0).unwrap_or(raw.len());
    let mut b = raw.get(..end).unwrap_or(raw);
    while let Some(rest) = b.strip_suffix(b"\n").or_else(|| b.strip_suffix(b"\r")) {
        b = rest;
    }
    b.to_vec()
}

#[cfg(test)]
mod tests;
