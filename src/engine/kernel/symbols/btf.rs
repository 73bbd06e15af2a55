//! BTF, the kernel's own compact type information (`.BTF`, magic `0xEB9F`): the blob's
//! header, its type records and its string table, parsed with explicit bounds and the
//! blob's own byte order into owned records. Every kind of the format is read (INT, PTR,
//! ARRAY, STRUCT, UNION, ENUM, FWD, TYPEDEF, VOLATILE, CONST, RESTRICT, FUNC, FUNC_PROTO,
//! VAR, DATASEC, FLOAT, DECL_TAG, TYPE_TAG, ENUM64); an unknown kind ends the parse with an
//! error naming its offset, since its length cannot be known.
//!
//! Turning the records into the symbol index is `btf_index`'s work.

use std::ops::Range;

use crate::engine::error::{Error, Result};

/// BTF's magic as a little-endian u16 (`9f eb` on disk for a little-endian kernel).
pub const MAGIC: u16 = 0xEB9F;
/// The smallest header: magic, version, flags, hdr_len and the four section fields.
const HEADER_LEN: usize = 24;
/// Largest type or string section accepted (the biggest kernels have ~10 MiB of types).
const MAX_SECTION: u32 = 256 << 20;

/// One type record. Type id `n` is `types[n]`; id 0 is `void`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Type {
    /// Offset of the name in the string table (0: anonymous).
    pub name: u32,
    /// What it is.
    pub kind: Kind,
}

/// The kinds of BTF type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    /// Type id 0.
    Void,
    /// An integer: `size` bytes, `encoding` bits (1 signed, 2 char, 4 bool), and for the
    /// old bitfield encoding the bit `offset` and `bits` used.
    Int {
        /// Size in bytes.
        size: u32,
        /// `BTF_INT_SIGNED` 1, `BTF_INT_CHAR` 2, `BTF_INT_BOOL` 4.
        encoding: u8,
        /// Bit offset (old-style bitfields only).
        offset: u8,
        /// Width in bits.
        bits: u8,
    },
    /// A pointer to a type.
    Ptr(u32),
    /// An array of `count` elements of type `elem`.
    Array {
        /// Element type.
        elem: u32,
        /// Number of elements (0 for a flexible array).
        count: u32,
    },
    /// A struct or union: `size` bytes, members `members` of [`Btf::members`].
    Composite {
        /// True for a union.
        union: bool,
        /// Size in bytes.
        size: u32,
        /// Indexes into [`Btf::members`].
        members: Range<usize>,
    },
    /// An enumeration (ENUM or ENUM64): constants `values` of [`Btf::enumerators`].
    Enum {
        /// Size in bytes.
        size: u32,
        /// Declared signed (kind_flag), as pahole 1.24 and later record.
        signed: bool,
        /// Indexes into [`Btf::enumerators`].
        values: Range<usize>,
    },
    /// A forward declaration of a struct (or union).
    Fwd {
        /// True for a union.
        union: bool,
    },
    /// A typedef of a type.
    Typedef(u32),
    /// `const`, `volatile`, `restrict` or a type tag: the same layout as the type.
    Qualifier(u32),
    /// A function (its prototype's id).
    Func(u32),
    /// A function prototype.
    FuncProto,
    /// A variable of a type (per-CPU and other variables pahole records).
    Var(u32),
    /// A data section (`.data..percpu`) and its variables.
    Datasec,
    /// A floating-point type of `size` bytes.
    Float(u32),
    /// A declaration tag (an annotation; no layout).
    DeclTag,
}

/// A member of a struct or union.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Member {
    /// Offset of the name in the string table (0: an anonymous member).
    pub name: u32,
    /// Its type.
    pub ty: u32,
    /// Offset from the start of the struct, in bits.
    pub bit_offset: u32,
    /// Width when it is a bitfield declared with kind_flag (0 otherwise).
    pub bitfield_size: u32,
}

/// An enumeration constant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Enumerator {
    /// Offset of the name in the string table.
    pub name: u32,
    /// Its value (ENUM64's 64 bits, or an ENUM's 32 bits sign- or zero-extended).
    pub value: i64,
}

/// A parsed BTF blob.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Btf {
    /// Type records by id (index 0 is `void`).
    pub types: Vec<Type>,
    /// Members of all structs and unions.
    pub members: Vec<Member>,
    /// Constants of all enumerations.
    pub enumerators: Vec<Enumerator>,
    /// The string section.
    pub strings: Vec<u8>,
    /// True when the blob was little-endian.
    pub little_endian: bool,
}

/// The fixed header of a blob, as found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// Byte order of the blob.
    pub little_endian: bool,
    /// Header length (24 or more).
    pub hdr_len: u32,
    /// Type section: offset after the header and length.
    pub type_off: u32,
    /// Type section length.
    pub type_len: u32,
    /// String section: offset after the header.
    pub str_off: u32,
    /// String section length.
    pub str_len: u32,
}

impl Header {
    /// Reads a header at the start of `bytes`, if it is one with sane sizes.
    pub fn read(bytes: &[u8]) -> Option<Header> {
        let head = bytes.get(..HEADER_LEN)?;
        let little_endian = match head.get(..2)? {
            [0x9f, 0xeb] => true,
            [0xeb, 0x9f] => false,
            _ => return None,
        };
        let u32_at = |o: usize| -> Option<u32> {
            let b: [u8; 4] = head.get(o..o + 4)?.try_into().ok()?;
            Some(if little_endian {
                u32::from_le_bytes(b)
            } else {
                u32::from_be_bytes(b)
            })
        };
        if *head.get(2)? != 1 {
            return None; // version
        }
        let h = Header {
            little_endian,
            hdr_len: u32_at(4)?,
            type_off: u32_at(8)?,
            type_len: u32_at(12)?,
            str_off: u32_at(16)?,
            str_len: u32_at(20)?,
        };
        let sane = (HEADER_LEN as u32..=256).contains(&h.hdr_len)
            && h.type_len <= MAX_SECTION
            && h.str_len <= MAX_SECTION
            && h.type_off.checked_add(h.type_len).is_some()
            && h.str_off.checked_add(h.str_len).is_some();
        sane.then_some(h)
    }

    /// Bytes from the header's start to the end of its last section.
    pub fn total_len(&self) -> u64 {
        let types = u64::from(self.type_off) + u64::from(self.type_len);
        let strs = u64::from(self.str_off) + u64::from(self.str_len);
        u64::from(self.hdr_len) + types.max(strs)
    }
}

/// A cursor over the type section in the blob's byte order.
struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
    le: bool,
}

impl Reader<'_> {
    fn u32(&mut self) -> Option<u32> {
        let b: [u8; 4] = self.data.get(self.pos..self.pos + 4)?.try_into().ok()?;
        self.pos += 4;
        Some(if self.le {
            u32::from_le_bytes(b)
        } else {
            u32::from_be_bytes(b)
        })
    }
}

impl Btf {
    /// Parses the blob at the start of `bytes`; `label` and `base` (the blob's address)
    /// name where in errors.
    pub fn parse(bytes: &[u8], label: &str, base: u64) -> Result<Btf> {
        let corrupt = |at: usize, reason: String| Error::Corrupt {
            file: label.to_string(),
            at: base.saturating_add(at as u64),
            reason,
        };
        let h = Header::read(bytes).ok_or_else(|| corrupt(0, "not a BTF header".into()))?;
        let section = |off: u32, len: u32| {
            let start = h.hdr_len as usize + off as usize;
            bytes
                .get(start..start + len as usize)
                .map(|s| (start, s))
                .ok_or_else(|| Error::Truncated {
                    file: label.to_string(),
                    at: base.saturating_add(start as u64),
                    need: u64::from(len),
                    have: bytes.len().saturating_sub(start) as u64,
                })
        };
        let (type_start, type_bytes) = section(h.type_off, h.type_len)?;
        let (_, strings) = section(h.str_off, h.str_len)?;
        let mut btf = Btf {
            types: vec![Type {
                name: 0,
                kind: Kind::Void,
            }],
            strings: strings.to_vec(),
            little_endian: h.little_endian,
            ..Btf::default()
        };
        let mut r = Reader {
            data: type_bytes,
            pos: 0,
            le: h.little_endian,
        };
        while r.pos < type_bytes.len() {
            let at = type_start + r.pos;
            let truncated =
                || corrupt(at, "type record cut short by the end of the section".into());
            let name = r.u32().ok_or_else(truncated)?;
            let info = r.u32().ok_or_else(truncated)?;
            let size_or_type = r.u32().ok_or_else(truncated)?;
            let vlen = (info & 0xffff) as usize;
            let kind_flag = info >> 31 != 0;
            // Every record's trailing data is at least vlen * 4 bytes: bound vlen first.
            if vlen.saturating_mul(4) > type_bytes.len().saturating_sub(r.pos) {
                return Err(truncated());
            }
            let kind = match (info >> 24) & 0x1f {
                1 => {
                    let enc = r.u32().ok_or_else(truncated)?;
                    Kind::Int {
                        size: size_or_type,
                        encoding: ((enc >> 24) & 0xf) as u8,
                        offset: ((enc >> 16) & 0xff) as u8,
                        bits: (enc & 0xff) as u8,
                    }
                }
                2 => Kind::Ptr(size_or_type),
                3 => {
                    let elem = r.u32().ok_or_else(truncated)?;
                    let _index_type = r.u32().ok_or_else(truncated)?;
                    let count = r.u32().ok_or_else(truncated)?;
                    Kind::Array { elem, count }
                }
                k @ (4 | 5) => {
                    let first = btf.members.len();
                    for _ in 0..vlen {
                        let name = r.u32().ok_or_else(truncated)?;
                        let ty = r.u32().ok_or_else(truncated)?;
                        let off = r.u32().ok_or_else(truncated)?;
                        let (bit_offset, bitfield_size) = if kind_flag {
                            (off & 0x00ff_ffff, off >> 24)
                        } else {
                            (off, 0)
                        };
                        btf.members.push(Member {
                            name,
                            ty,
                            bit_offset,
                            bitfield_size,
                        });
                    }
                    Kind::Composite {
                        union: k == 5,
                        size: size_or_type,
                        members: first..btf.members.len(),
                    }
                }
                k @ (6 | 19) => {
                    let first = btf.enumerators.len();
                    for _ in 0..vlen {
                        let name = r.u32().ok_or_else(truncated)?;
                        let lo = r.u32().ok_or_else(truncated)?;
                        let value = if k == 19 {
                            let hi = r.u32().ok_or_else(truncated)?;
                            ((u64::from(hi) << 32) | u64::from(lo)) as i64
                        } else if kind_flag {
                            i64::from(lo as i32)
                        } else {
                            i64::from(lo)
                        };
                        btf.enumerators.push(Enumerator { name, value });
                    }
                    Kind::Enum {
                        size: size_or_type,
                        signed: kind_flag,
                        values: first..btf.enumerators.len(),
                    }
                }
                7 => Kind::Fwd { union: kind_flag },
                8 => Kind::Typedef(size_or_type),
                9..=11 | 18 => Kind::Qualifier(size_or_type),
                12 => Kind::Func(size_or_type),
                13 => {
                    r.pos += vlen * 8;
                    if r.pos > type_bytes.len() {
                        return Err(truncated());
                    }
                    Kind::FuncProto
                }
                14 => {
                    r.u32().ok_or_else(truncated)?;
                    Kind::Var(size_or_type)
                }
                15 => {
                    r.pos += vlen * 12;
                    if r.pos > type_bytes.len() {
                        return Err(truncated());
                    }
                    Kind::Datasec
                }
                16 => Kind::Float(size_or_type),
                17 => {
                    r.u32().ok_or_else(truncated)?;
                    Kind::DeclTag
                }
                other => return Err(corrupt(at, format!("unknown BTF kind {other}"))),
            };
            btf.types.push(Type { name, kind });
        }
        Ok(btf)
    }

    /// The string at `offset` of the string table, up to its NUL (`""` when out of range;
    /// invalid UTF-8 is replaced).
    pub fn name(&self, offset: u32) -> std::borrow::Cow<'_, str> {
        let rest = self.strings.get(offset as usize..).unwrap_or_default();
        let end = rest.iter().position(|&b| b == 0).unwrap_or(rest.len());
        String::from_utf8_lossy(rest.get(..end).unwrap_or_default())
    }

    /// The type of id `id`.
    pub fn get(&self, id: u32) -> Option<&Type> {
        self.types.get(id as usize)
    }

    /// The id of the first defined struct (with members) named `name`.
    pub fn struct_named(&self, name: &str) -> Option<u32> {
        self.types.iter().enumerate().find_map(|(id, t)| {
            matches!(&t.kind, Kind::Composite { union: false, members, .. } if !members.is_empty())
                .then(|| self.name(t.name) == name)
                .filter(|b| *b)
                .and_then(|_| u32::try_from(id).ok())
        })
    }
}
