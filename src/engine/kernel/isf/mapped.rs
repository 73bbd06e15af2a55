//! A cached ISF index used where it lies: the cache file is memory-mapped and its tables
//! are read in place, record by record, instead of being decoded into `Vec`s. A lookup is a
//! binary search over fixed-size records; opening costs the map and the header, not an allocation and a copy of the ~10 MB of a kernel's index (about 10 ms and as
//! many MiB of page faults).
//!
//! The body is checked by its CRC (a damaged file counts as absent, as with
//! [`cache::read`](super::cache::read)) the first time the file is used; a stamp beside it
//! (`.isfok`: the file's device, inode, size, mtime and ctime, and the CRC checked) spares
//! later opens the read of the whole body while the file system says the file is the one
//! checked. Its references are not validated up front as
//! the decoded index's are: every access is bounded instead its references are not validated up front as
//! the decoded index's are: every access is bounded instead (a name out of range reads as
//! empty, a record out of range as absent), and type descriptors are followed only towards
//! smaller ids and at most [`MAX_TYPE_DEPTH`](super::index::MAX_TYPE_DEPTH) deep, so a forged file can give wrong
//! answers, never a panic or an endless walk. Cache files are only ever replaced (written
//! aside and renamed), never written in place, so a mapped one does not change under its
//! reader.

use std::ops::Range;
use std::path::Path;

use crate::engine::bytes::Cursor;
use crate::engine::mapped::Blob;

use super::cache::{
    self, BASE_LEN, CONST_LEN, ENUM_LEN, FIELD_LEN, In, NODE_LEN, SYMBOL_LEN, USER_LEN,
};
use super::index::{BaseRec, ConstRec, EnumRec, FieldRec, Index, Node, Str, SymbolRec, UserRec};

/// The name at the start of a record.
fn name_of(r: &mut In<'_>) -> Option<Str> {
    r.s()
}

/// One table of fixed-size records in the map.
#[derive(Debug, Clone, Copy, Default)]
struct Table {
    /// Offset of the first record in the file.
    start: usize,
    /// Number of records.
    len: usize,
    /// Bytes per record.
    rec: usize,
}

/// What the file system says of a cache file: device, inode, size, and modification and
/// change times in nanoseconds. Any write to the file, or its replacement, changes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stamp([u64; 5]);

/// Magic of a stamp file: "this index file, as the file system describes it, had a good
/// CRC when it was last checked".
const STAMP_MAGIC: &[u8; 8] = b"PMISFOK1";

impl Stamp {
    fn of(meta: &std::fs::Metadata) -> Stamp {
        use std::os::unix::fs::MetadataExt;
        let ns = |s: i64, n: i64| {
            (s as u64)
                .wrapping_mul(1_000_000_000)
                .wrapping_add(n as u64)
        };
        Stamp([
            meta.dev(),
            meta.ino(),
            meta.size(),
            ns(meta.mtime(), meta.mtime_nsec()),
            ns(meta.ctime(), meta.ctime_nsec()),
        ])
    }

    /// The stamp file beside the index file `file`.
    fn file(file: &Path) -> std::path::PathBuf {
        file.with_extension("isfok")
    }

    /// The stamp recorded for `file` with its body's CRC, if one is, undamaged.
    fn read(file: &Path) -> Option<(Stamp, u32)> {
        let data = std::fs::read(Stamp::file(file)).ok()?;
        let mut c = Cursor::new(&data, 0);
        if c.take(8)? != STAMP_MAGIC {
            return None;
        }
        let mut v = [0u64; 5];
        for x in &mut v {
            *x = c.u64_le()?;
        }
        let crc = c.u32_le()?;
        let own = c.u32_le()?;
        (c.is_empty() && own == cache::crc32(data.get(..52)?)).then_some((Stamp(v), crc))
    }

    /// Records that the index file described by `stamp` had a body with CRC `crc` that was
    /// checked (failures only cost the check again next time).
    fn write(file: &Path, stamp: Stamp, crc: u32) {
        let mut out = STAMP_MAGIC.to_vec();
        for x in stamp.0 {
            out.extend_from_slice(&x.to_le_bytes());
        }
        out.extend_from_slice(&crc.to_le_bytes());
        let own = cache::crc32(&out);
        out.extend_from_slice(&own.to_le_bytes());
        if let Err(e) = crate::engine::cache::write_file(&Stamp::file(file), &out) {
            tracing::debug!(cache = %file.display(), "cannot record the index's check: {e}");
        }
    }
}

/// A cache file of an ISF index, mapped.
#[derive(Debug)]
pub(crate) struct Mapped {
    blob: Blob,
    /// The body (what the CRC covers) in the file.
    body: Range<usize>,
    strings: Range<usize>,
    meta: [Str; 3],
    types: Table,
    base_types: Table,
    user_types: Table,
    fields: Table,
    enums: Table,
    constants: Table,
    symbols: Table,
    /// Symbol name and where its bytes are in the file (name order).
    constant_data: Vec<(Str, Range<usize>)>,
}

/// Maps the cache file `file` of the ISF with content hash `hash`: its banner and tables;
/// `None` for anything but a valid cache of that ISF (magic, version, hash, CRC, the
/// tables' bounds).
pub(crate) fn map(file: &Path, hash: &[u8; 32]) -> Option<(Option<Vec<u8>>, Mapped)> {
    let open = std::fs::File::open(file).ok()?;
    let seen = Stamp::of(&open.metadata().ok()?);
    let blob = Blob::map_file(&open, file).ok()?;
    let (banner, hlen) = cache::parse_header(&blob, hash)?;
    let mut c = Cursor::new(blob.get(hlen..)?, 0);
    let len = usize::try_from(c.u64_le()?).ok()?;
    let body = c.take(len)?;
    let crc = c.u32_le()?;
    if !c.is_empty() {
        return None;
    }
    if Stamp::read(file).is_none_or(|s| s != (seen, crc)) {
        if crc != cache::crc32(body) {
            return None;
        }
        Stamp::write(file, seen, crc);
    }
    let base = hlen.checked_add(8)?;
    let mut r = In(Cursor::new(body, 0));
    let at = |r: &In<'_>| usize::try_from(r.0.offset()).ok()?.checked_add(base);
    let n = r.count(1)?;
    let strings = at(&r)?..at(&r)?.checked_add(n)?;
    r.0.take(n)?;
    let meta = [r.s()?, r.s()?, r.s()?];
    let table = |r: &mut In<'_>, rec: usize| -> Option<Table> {
        let len = r.count(rec)?;
        let start = at(r)?;
        r.0.take(len.checked_mul(rec)?)?;
        Some(Table { start, len, rec })
    };
    let types = table(&mut r, NODE_LEN)?;
    let base_types = table(&mut r, BASE_LEN)?;
    let user_types = table(&mut r, USER_LEN)?;
    let fields = table(&mut r, FIELD_LEN)?;
    let enums = table(&mut r, ENUM_LEN)?;
    let constants = table(&mut r, CONST_LEN)?;
    let symbols = table(&mut r, SYMBOL_LEN)?;
    let count = r.count(16)?;
    let mut constant_data = Vec::with_capacity(count);
    for _ in 0..count {
        let name = r.s()?;
        let n = r.count(1)?;
        let start = at(&r)?;
        r.0.take(n)?;
        constant_data.push((name, start..start.checked_add(n)?));
    }
    if !r.0.is_empty() {
        return None;
    }
    let body = base..base.checked_add(len)?;
    let mapped = Mapped {
        blob,
        body,
        strings,
        meta,
        types,
        base_types,
        user_types,
        fields,
        enums,
        constants,
        symbols,
        constant_data,
    };
    Some((banner, mapped))
}

impl Mapped {
    /// The text of `s` (empty when out of range or not UTF-8).
    pub fn str(&self, s: Str) -> &str {
        std::str::from_utf8(self.bytes(s)).unwrap_or("")
    }

    /// The bytes of `s` (empty when out of range).
    fn bytes(&self, s: Str) -> &[u8] {
        let start = self.strings.start.saturating_add(s.start as usize);
        let end = start.saturating_add(s.len as usize);
        if end > self.strings.end {
            return &[];
        }
        self.blob.get(start..end).unwrap_or_default()
    }

    /// Record `i` of `t`, decoded by `f`.
    fn rec<T>(&self, t: Table, i: usize, f: fn(&mut In<'_>) -> Option<T>) -> Option<T> {
        if i >= t.len {
            return None;
        }
        let at = t.start.checked_add(i.checked_mul(t.rec)?)?;
        let bytes = self.blob.get(at..at.checked_add(t.rec)?)?;
        f(&mut In(Cursor::new(bytes, 0)))
    }

    /// The name of record `i` of `t` (every table but the types starts with its name).
    fn name_at(&self, t: Table, i: usize) -> Option<&[u8]> {
        let s = self.rec(t, i, name_of)?;
        Some(self.bytes(s))
    }

    /// Binary search for `name` among records `range` of the name-sorted table `t`.
    fn find(&self, t: Table, range: Range<usize>, name: &str) -> Option<usize> {
        let (mut lo, mut hi) = (range.start, range.end.min(t.len));
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            match self.name_at(t, mid)?.cmp(name.as_bytes()) {
                std::cmp::Ordering::Less => lo = mid + 1,
                std::cmp::Ordering::Greater => hi = mid,
                std::cmp::Ordering::Equal => return Some(mid),
            }
        }
        None
    }

    /// `metadata.format`, the producer's name and version.
    pub fn meta(&self) -> [Str; 3] {
        self.meta
    }

    /// A struct, union or class by name.
    pub fn user_type(&self, name: &str) -> Option<UserRec> {
        let t = self.user_types;
        self.rec(t, self.find(t, 0..t.len, name)?, cache::user)
    }

    /// A base type by name.
    pub fn base_type(&self, name: &str) -> Option<BaseRec> {
        let t = self.base_types;
        self.rec(t, self.find(t, 0..t.len, name)?, cache::base)
    }

    /// An enumeration by name.
    pub fn enumeration(&self, name: &str) -> Option<EnumRec> {
        let t = self.enums;
        self.rec(t, self.find(t, 0..t.len, name)?, cache::enumeration)
    }

    /// A symbol by name.
    pub fn symbol(&self, name: &str) -> Option<SymbolRec> {
        let t = self.symbols;
        self.rec(t, self.find(t, 0..t.len, name)?, cache::symbol)
    }

    /// The symbol with the lowest address above `address` (a linear scan).
    pub fn next_symbol_after(&self, address: u64) -> Option<(&str, u64)> {
        let t = self.symbols;
        (0..t.len)
            .filter_map(|i| self.rec(t, i, cache::symbol))
            .filter(|r| r.address > address)
            .min_by_key(|r| r.address)
            .map(|r| (self.str(r.name), r.address))
    }

    /// The records `first..first + count` of `t` (cut to the table).
    fn span(t: Table, first: u32, count: u32) -> Range<usize> {
        let first = (first as usize).min(t.len);
        first..first.saturating_add(count as usize).min(t.len)
    }

    /// The fields of a user type.
    pub fn fields_of(&self, u: &UserRec) -> Vec<FieldRec> {
        Self::span(self.fields, u.first, u.count)
            .filter_map(|i| self.rec(self.fields, i, cache::field))
            .collect()
    }

    /// A field of a struct or union by name.
    pub fn field(&self, struct_name: &str, field: &str) -> Option<FieldRec> {
        let u = self.user_type(struct_name)?;
        let t = self.fields;
        let i = self.find(t, Self::span(t, u.first, u.count), field)?;
        self.rec(t, i, cache::field)
    }

    /// The constants of an enumeration.
    pub fn constants_of(&self, e: &EnumRec) -> Vec<ConstRec> {
        Self::span(self.constants, e.first, e.count)
            .filter_map(|i| self.rec(self.constants, i, cache::constant))
            .collect()
    }

    /// The value of constant `name` of an enumeration.
    pub fn enum_value(&self, e: &EnumRec, name: &str) -> Option<i64> {
        let t = self.constants;
        let i = self.find(t, Self::span(t, e.first, e.count), name)?;
        self.rec(t, i, cache::constant).map(|c| c.value)
    }

    /// The bytes of a symbol's constant data.
    pub fn constant_data(&self, symbol: &str) -> Option<&[u8]> {
        let i = self
            .constant_data
            .binary_search_by(|(n, _)| self.bytes(*n).cmp(symbol.as_bytes()))
            .ok()?;
        let (_, r) = self.constant_data.get(i)?;
        self.blob.get(r.clone())
    }

    /// Type node `id`.
    pub fn node(&self, id: u32) -> Option<Node> {
        self.rec(self.types, id as usize, cache::node)
    }

    /// Records in each table: base types, user types, enums, symbols.
    pub fn counts(&self) -> [usize; 4] {
        [
            self.base_types.len,
            self.user_types.len,
            self.enums.len,
            self.symbols.len,
        ]
    }

    /// The names of all user types, in table (name) order.
    pub fn user_type_names(&self) -> impl Iterator<Item = &str> {
        (0..self.user_types.len).map(|i| {
            self.rec(self.user_types, i, name_of)
                .map_or("", |s| self.str(s))
        })
    }

    /// The whole index decoded and validated, as [`cache::read`](super::cache::read) gives
    /// it (for writing it out as JSON or comparing); `None` when it does not validate.
    pub fn decode(&self) -> Option<Index> {
        let index = cache::decode(self.blob.get(self.body.clone())?)?;
        cache::validate(&index).then_some(index)
    }
}
