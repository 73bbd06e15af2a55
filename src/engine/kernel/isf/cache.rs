//! The on-disk cache of parsed ISFs: a small hand-written little-endian format holding the
//! [`Index`] tables as they are, so loading is a read, a CRC and a few `Vec` fills.
//!
//! Location: `$PODMORTEM_CACHE_DIR/isf/` when that variable is set (and not empty), else
//! the XDG cache folder (`~/.cache/podmortem/isf/` on Linux). One file per ISF, named by
//! the SHA-256 of the ISF file's bytes: `<sha256 hex>.v<FORMAT_VERSION>.isfidx`; beside it a
//! 44-byte `.isfkey` file per ISF file, named by the file's identity (device, inode, size,
//! modification and change times) and holding that SHA-256, so that an open of an unchanged
//! ISF file does not hash it (the hash is computed when no key file matches). Written to a
//! temporary file in the same folder and renamed into place, so readers never see half a
//! file. Nothing is ever written next to the ISF.
//!
//! Layout (all integers little-endian):
//! ```text
//! header  "PMISFIDX" | u32 FORMAT_VERSION | [u8; 32] content hash
//!         | u8 has_banner | u32 banner length | banner bytes | u32 CRC-32 of the header so far
//! body    u64 length | tables (see `encode`) | u32 CRC-32 of the tables
//! ```
//! The banner sits in the header so that [`read_banner`] can answer from a few hundred bytes.
//! Any mismatch (magic, version, hash, CRC, bounds) makes the file count as absent.

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

use crate::engine::bytes::Cursor;

use super::index::{
    BaseRec, ConstRec, EnumRec, FieldRec, Index, MAX_TYPE_DEPTH, NO_TYPE, Node, Str, SymbolRec,
    UserRec,
};

/// Bumped whenever the layout or the meaning of the index changes.
pub const FORMAT_VERSION: u32 = 1;

const MAGIC: &[u8; 8] = b"PMISFIDX";
/// Longest banner accepted from a cache header.
const MAX_BANNER: u32 = 1 << 16;

/// Where parsed ISFs are cached.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum CacheDir {
    /// `$PODMORTEM_CACHE_DIR/isf`, else the XDG cache folder of podmortem plus `isf`.
    #[default]
    Default,
    /// This folder (used as is).
    At(PathBuf),
    /// No cache: parse every time, write nothing.
    Off,
}

impl CacheDir {
    /// The folder this setting stands for, if any.
    pub fn resolve(&self) -> Option<PathBuf> {
        match self {
            CacheDir::Off => None,
            CacheDir::At(p) => Some(p.clone()),
            CacheDir::Default => crate::engine::cache::root().map(|d| d.join("isf")),
        }
    }

    /// The cache file for an ISF of this content hash.
    pub fn file_for(&self, hash: &[u8; 32]) -> Option<PathBuf> {
        Some(
            self.resolve()?
                .join(format!("{}.v{FORMAT_VERSION}.isfidx", hex(hash))),
        )
    }
}

/// Magic of a file recording an ISF's content hash by the ISF file's identity.
const KEY_MAGIC: &[u8; 8] = b"PMISFKEY";

/// The file that records, by the identity of the ISF file at `path` (device, inode, size,
/// modification and change times: what a rewrite or a replacement changes), the SHA-256 of
/// its content, so that an open does not hash the whole ISF: `<identity>.v<FORMAT_VERSION>.isfkey`.
fn key_file(path: &Path, cache: &CacheDir) -> Option<PathBuf> {
    use sha2::{Digest, Sha256};
    use std::os::unix::fs::MetadataExt;
    let dir = cache.resolve()?;
    let meta = fs::metadata(path).ok()?;
    let mut h = Sha256::new();
    for n in [
        meta.dev(),
        meta.ino(),
        meta.len(),
        meta.mtime() as u64,
        meta.mtime_nsec() as u64,
        meta.ctime() as u64,
        meta.ctime_nsec() as u64,
    ] {
        h.update(n.to_le_bytes());
    }
    let id = h.finalize();
    Some(dir.join(format!(
        "{}.v{FORMAT_VERSION}.isfkey",
        hex(id.get(..16).unwrap_or_default())
    )))
}

/// The content hash recorded for the ISF file at `path` (see [`remember_hash`]); `None`
/// when none is, or the record is damaged.
pub(crate) fn known_hash(path: &Path, cache: &CacheDir) -> Option<[u8; 32]> {
    let data = fs::read(key_file(path, cache)?).ok()?;
    let mut c = Cursor::new(&data, 0);
    if c.take(8)? != KEY_MAGIC {
        return None;
    }
    let hash: [u8; 32] = c.array()?;
    (c.u32_le()? == crc32(data.get(..40)?) && c.is_empty()).then_some(hash)
}

/// Records `hash` as the content hash of the ISF file at `path` (failures are logged: the
/// next open hashes the file again).
pub(crate) fn remember_hash(path: &Path, cache: &CacheDir, hash: &[u8; 32]) {
    let Some(file) = key_file(path, cache) else {
        return;
    };
    let mut out = KEY_MAGIC.to_vec();
    out.extend_from_slice(hash);
    let crc = crc32(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    if let Err(e) = crate::engine::cache::write_file(&file, &out) {
        tracing::warn!(cache = %file.display(), "cannot record the ISF's hash: {e}");
    }
}

/// Lower-case hex of `bytes`.
pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn header(hash: &[u8; 32], banner: Option<&[u8]>) -> Vec<u8> {
    let mut h = Vec::with_capacity(64 + banner.map_or(0, <[u8]>::len));
    h.extend_from_slice(MAGIC);
    h.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
    h.extend_from_slice(hash);
    h.push(u8::from(banner.is_some()));
    let b = banner.unwrap_or(&[]);
    h.extend_from_slice(&(b.len() as u32).to_le_bytes());
    h.extend_from_slice(b);
    let crc = crc32(&h);
    h.extend_from_slice(&crc.to_le_bytes());
    h
}

pub(super) fn crc32(data: &[u8]) -> u32 {
    let mut c = flate2::Crc::new();
    c.update(data);
    c.sum()
}

/// Writes the cache file for `index` atomically. Errors are returned for the caller to
/// ignore: a cache that cannot be written only costs time.
pub(crate) fn write(
    file: &Path,
    hash: &[u8; 32],
    banner: Option<&[u8]>,
    index: &Index,
) -> std::io::Result<()> {
    if banner.is_some_and(|b| b.len() > MAX_BANNER as usize) {
        return Err(std::io::Error::other("banner too long to cache"));
    }
    let body = encode(index);
    let mut out = header(hash, banner);
    out.reserve(body.len() + 12);
    out.extend_from_slice(&(body.len() as u64).to_le_bytes());
    out.extend_from_slice(&body);
    out.extend_from_slice(&crc32(&body).to_le_bytes());
    // A stamp of the file this one replaces must not vouch for it (see `mapped`).
    let _ = std::fs::remove_file(file.with_extension("isfok"));
    crate::engine::cache::write_file(file, &out)
}

/// Reads just the header of a cache file: `Some(banner)` when the file is a valid cache of
/// the ISF with this hash (the banner itself may be absent).
pub(crate) fn read_banner(file: &Path, hash: &[u8; 32]) -> Option<Option<Vec<u8>>> {
    let mut f = fs::File::open(file).ok()?;
    let mut fixed = [0u8; 49];
    f.read_exact(&mut fixed).ok()?;
    let len = u32::from_le_bytes(fixed.get(45..49)?.try_into().ok()?);
    if len > MAX_BANNER {
        return None;
    }
    let mut rest = vec![0u8; len as usize + 4];
    f.read_exact(&mut rest).ok()?;
    let mut all = fixed.to_vec();
    all.extend_from_slice(&rest);
    parse_header(&all, hash).map(|(banner, _)| banner)
}

/// Checks a header; returns the banner and the header's length.
pub(super) fn parse_header(data: &[u8], hash: &[u8; 32]) -> Option<(Option<Vec<u8>>, usize)> {
    let mut c = Cursor::new(data, 0);
    if c.take(8)? != MAGIC || c.u32_le()? != FORMAT_VERSION || c.take(32)? != hash {
        return None;
    }
    let [has] = c.array::<1>()?;
    let len = c.u32_le()?;
    if len > MAX_BANNER || has > 1 {
        return None;
    }
    let banner = c.take(len as usize)?.to_vec();
    let end = usize::try_from(c.offset()).ok()?;
    let crc = c.u32_le()?;
    if crc32(data.get(..end)?) != crc {
        return None;
    }
    Some(((has == 1).then_some(banner), end + 4))
}

/// Reads and checks a whole cache file; `None` for anything but a valid cache of `hash`.
pub(crate) fn read(file: &Path, hash: &[u8; 32]) -> Option<(Option<Vec<u8>>, Index)> {
    let data = fs::read(file).ok()?;
    let (banner, hlen) = parse_header(&data, hash)?;
    let mut c = Cursor::new(data.get(hlen..)?, 0);
    let len = usize::try_from(c.u64_le()?).ok()?;
    let body = c.take(len)?;
    if c.u32_le()? != crc32(body) || !c.is_empty() {
        return None;
    }
    let index = decode(body)?;
    validate(&index).then_some((banner, index))
}

// ----------------------------------------------------------------------------- encoding

struct Out(Vec<u8>);

impl Out {
    fn u8(&mut self, v: u8) {
        self.0.push(v);
    }
    fn u32(&mut self, v: u32) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn u64(&mut self, v: u64) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn s(&mut self, s: Str) {
        self.u32(s.start);
        self.u32(s.len);
    }
    fn count(&mut self, n: usize) {
        self.u64(n as u64);
    }
}

/// Tables in order: strings, metadata, types, base types, user types, fields, enums,
/// constants, symbols, constant data. Each table is a u64 count and fixed-size records.
fn encode(i: &Index) -> Vec<u8> {
    let mut o = Out(Vec::with_capacity(
        i.strings.len() + i.symbols.len() * 16 + (1 << 20),
    ));
    o.count(i.strings.len());
    o.0.extend_from_slice(i.strings.as_bytes());
    o.s(i.format);
    o.s(i.producer);
    o.s(i.producer_version);
    o.count(i.types.len());
    for n in &i.types {
        let (tag, a, b, c) = match *n {
            Node::Base(s) => (0, 0, s.start, s.len),
            Node::Struct(s) => (1, 0, s.start, s.len),
            Node::Union(s) => (2, 0, s.start, s.len),
            Node::Class(s) => (3, 0, s.start, s.len),
            Node::Enum(s) => (4, 0, s.start, s.len),
            Node::Function => (5, 0, 0, 0),
            Node::Pointer(sub) => (6, 0, sub, 0),
            Node::Array { count, sub } => (7, count, sub, 0),
            Node::Bitfield {
                position,
                length,
                sub,
            } => (8, u64::from(position) << 32 | u64::from(length), sub, 0),
        };
        o.u8(tag);
        o.u64(a);
        o.u32(b);
        o.u32(c);
    }
    o.count(i.base_types.len());
    for r in &i.base_types {
        o.s(r.name);
        o.u64(r.size);
        o.u8(r.kind);
        o.u8(u8::from(r.signed));
        o.u8(u8::from(r.little_endian));
    }
    o.count(i.user_types.len());
    for r in &i.user_types {
        o.s(r.name);
        o.u64(r.size);
        o.u8(r.kind);
        o.u32(r.first);
        o.u32(r.count);
    }
    o.count(i.fields.len());
    for r in &i.fields {
        o.s(r.name);
        o.u64(r.offset);
        o.u32(r.ty);
        o.u8(u8::from(r.anonymous) | u8::from(r.lifted) << 1);
    }
    o.count(i.enums.len());
    for r in &i.enums {
        o.s(r.name);
        o.u64(r.size);
        o.s(r.base);
        o.u32(r.first);
        o.u32(r.count);
    }
    o.count(i.constants.len());
    for r in &i.constants {
        o.s(r.name);
        o.u64(u64::from_ne_bytes(r.value.to_ne_bytes()));
    }
    o.count(i.symbols.len());
    for r in &i.symbols {
        o.s(r.name);
        o.u64(r.address);
        o.u32(r.ty);
    }
    o.count(i.constant_data.len());
    for (name, data) in &i.constant_data {
        o.s(*name);
        o.count(data.len());
        o.0.extend_from_slice(data);
    }
    o.0
}

/// A reader of the cache's little-endian records.
pub(super) struct In<'a>(pub Cursor<'a>);

impl In<'_> {
    pub fn u8(&mut self) -> Option<u8> {
        self.0.array::<1>().map(|[b]| b)
    }
    pub fn u32(&mut self) -> Option<u32> {
        self.0.u32_le()
    }
    pub fn u64(&mut self) -> Option<u64> {
        self.0.u64_le()
    }
    pub fn s(&mut self) -> Option<Str> {
        Some(Str {
            start: self.u32()?,
            len: self.u32()?,
        })
    }
    fn bool(&mut self) -> Option<bool> {
        match self.u8()? {
            0 => Some(false),
            1 => Some(true),
            _ => None,
        }
    }
    /// A record count, refused if `record` bytes each would not fit in what is left.
    pub fn count(&mut self, record: usize) -> Option<usize> {
        let n = usize::try_from(self.u64()?).ok()?;
        (n.checked_mul(record)? <= self.0.len()).then_some(n)
    }
    fn table<T>(
        &mut self,
        record: usize,
        mut f: impl FnMut(&mut Self) -> Option<T>,
    ) -> Option<Vec<T>> {
        let n = self.count(record)?;
        let mut v = Vec::with_capacity(n);
        for _ in 0..n {
            v.push(f(self)?);
        }
        Some(v)
    }
}

/// Bytes of one record of each table, as [`encode`] writes them.
pub(super) const NODE_LEN: usize = 17;
pub(super) const BASE_LEN: usize = 19;
pub(super) const USER_LEN: usize = 25;
pub(super) const FIELD_LEN: usize = 21;
pub(super) const ENUM_LEN: usize = 32;
pub(super) const CONST_LEN: usize = 16;
pub(super) const SYMBOL_LEN: usize = 20;

/// One type node.
pub(super) fn node(r: &mut In<'_>) -> Option<Node> {
    let (tag, a, b, c) = (r.u8()?, r.u64()?, r.u32()?, r.u32()?);
    let s = Str { start: b, len: c };
    Some(match tag {
        0 => Node::Base(s),
        1 => Node::Struct(s),
        2 => Node::Union(s),
        3 => Node::Class(s),
        4 => Node::Enum(s),
        5 => Node::Function,
        6 => Node::Pointer(b),
        7 => Node::Array { count: a, sub: b },
        8 => Node::Bitfield {
            position: u32::try_from(a >> 32).ok()?,
            length: u32::try_from(a & 0xFFFF_FFFF).ok()?,
            sub: b,
        },
        _ => return None,
    })
}

/// One base type.
pub(super) fn base(r: &mut In<'_>) -> Option<BaseRec> {
    Some(BaseRec {
        name: r.s()?,
        size: r.u64()?,
        kind: r.u8()?,
        signed: r.bool()?,
        little_endian: r.bool()?,
    })
}

/// One struct, union or class.
pub(super) fn user(r: &mut In<'_>) -> Option<UserRec> {
    Some(UserRec {
        name: r.s()?,
        size: r.u64()?,
        kind: r.u8()?,
        first: r.u32()?,
        count: r.u32()?,
    })
}

/// One field.
pub(super) fn field(r: &mut In<'_>) -> Option<FieldRec> {
    let (name, offset, ty, flags) = (r.s()?, r.u64()?, r.u32()?, r.u8()?);
    (flags < 4).then_some(FieldRec {
        name,
        offset,
        ty,
        anonymous: flags & 1 != 0,
        lifted: flags & 2 != 0,
    })
}

/// One enumeration.
pub(super) fn enumeration(r: &mut In<'_>) -> Option<EnumRec> {
    Some(EnumRec {
        name: r.s()?,
        size: r.u64()?,
        base: r.s()?,
        first: r.u32()?,
        count: r.u32()?,
    })
}

/// One enumeration constant.
pub(super) fn constant(r: &mut In<'_>) -> Option<ConstRec> {
    Some(ConstRec {
        name: r.s()?,
        value: i64::from_ne_bytes(r.u64()?.to_ne_bytes()),
    })
}

/// One symbol.
pub(super) fn symbol(r: &mut In<'_>) -> Option<SymbolRec> {
    Some(SymbolRec {
        name: r.s()?,
        address: r.u64()?,
        ty: r.u32()?,
    })
}

/// Decodes a whole body into an owned [`Index`] (not yet validated).
pub(super) fn decode(body: &[u8]) -> Option<Index> {
    let mut r = In(Cursor::new(body, 0));
    let n = r.count(1)?;
    let strings = String::from_utf8(r.0.take(n)?.to_vec()).ok()?;
    let (format, producer, producer_version) = (r.s()?, r.s()?, r.s()?);
    let types = r.table(NODE_LEN, node)?;
    let base_types = r.table(BASE_LEN, base)?;
    let user_types = r.table(USER_LEN, user)?;
    let fields = r.table(FIELD_LEN, field)?;
    let enums = r.table(ENUM_LEN, enumeration)?;
    let constants = r.table(CONST_LEN, constant)?;
    let symbols = r.table(SYMBOL_LEN, symbol)?;
    let constant_data = r.table(16, |r| {
        let name = r.s()?;
        let n = r.count(1)?;
        Some((name, r.0.take(n)?.to_vec()))
    })?;
    if !r.0.is_empty() {
        return None;
    }
    Some(Index {
        strings,
        format,
        producer,
        producer_version,
        types,
        base_types,
        user_types,
        fields,
        enums,
        constants,
        symbols,
        constant_data,
    })
}

/// Checks every reference of a decoded index: strings in range, type ids pointing backwards
/// (so descriptors form a DAG) and no deeper than [`MAX_TYPE_DEPTH`], ranges in their tables.
pub(super) fn validate(i: &Index) -> bool {
    let s_ok = |s: Str| {
        let start = s.start as usize;
        start
            .checked_add(s.len as usize)
            .is_some_and(|end| i.strings.get(start..end).is_some())
    };
    let mut depth: Vec<u32> = Vec::with_capacity(i.types.len());
    for (id, n) in i.types.iter().enumerate() {
        let child = |sub: u32| (sub as usize) < id;
        let d = match *n {
            Node::Base(s) | Node::Struct(s) | Node::Union(s) | Node::Class(s) | Node::Enum(s) => {
                if !s_ok(s) {
                    return false;
                }
                1
            }
            Node::Function => 1,
            Node::Pointer(sub) | Node::Array { sub, .. } | Node::Bitfield { sub, .. } => {
                if !child(sub) {
                    return false;
                }
                depth
                    .get(sub as usize)
                    .copied()
                    .unwrap_or(u32::MAX)
                    .saturating_add(1)
            }
        };
        if d > MAX_TYPE_DEPTH {
            return false;
        }
        depth.push(d);
    }
    let ty_ok = |t: u32| (t as usize) < i.types.len();
    let range_ok = |first: u32, count: u32, len: usize| {
        (first as usize)
            .checked_add(count as usize)
            .is_some_and(|end| end <= len)
    };
    [i.format, i.producer, i.producer_version]
        .into_iter()
        .all(s_ok)
        && i.base_types.iter().all(|r| s_ok(r.name))
        && i.user_types
            .iter()
            .all(|r| s_ok(r.name) && range_ok(r.first, r.count, i.fields.len()))
        && i.fields.iter().all(|r| s_ok(r.name) && ty_ok(r.ty))
        && i.enums
            .iter()
            .all(|r| s_ok(r.name) && s_ok(r.base) && range_ok(r.first, r.count, i.constants.len()))
        && i.constants.iter().all(|r| s_ok(r.name))
        && i.symbols
            .iter()
            .all(|r| s_ok(r.name) && (r.ty == NO_TYPE || ty_ok(r.ty)))
        && i.constant_data.iter().all(|(n, _)| s_ok(*n))
}

/// [`validate`], for the unit tests of the parent module.
#[cfg(test)]
pub(crate) fn validate_for_test(i: &Index) -> bool {
    validate(i)
}

#[cfg(test)]
#[allow(clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn header_round_trip_and_tamper() {
        let hash = [7u8; 32];
        let h = header(&hash, Some(b"Linux version x"));
        assert_eq!(
            parse_header(&h, &hash),
            Some((Some(b"Linux version x".to_vec()), h.len()))
        );
        assert!(parse_header(&h, &[8u8; 32]).is_none());
        let mut bad = h.clone();
        if let Some(b) = bad.get_mut(50) {
            *b ^= 1;
        }
        assert!(parse_header(&bad, &hash).is_none());
        assert!(parse_header(&h[..20], &hash).is_none());
    }

    #[test]
    fn empty_index_round_trip() {
        let i = Index::default();
        assert_eq!(decode(&encode(&i)), Some(i));
    }
}
