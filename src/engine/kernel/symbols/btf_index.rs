//! From BTF records to the symbol index's types, named and shaped as dwarf2json names and
//! shapes them from DWARF, so that every walker reads a dump's own types exactly as it
//! reads an ISF:
//! - typedefs, `const`/`volatile`/`restrict` and type tags are resolved away, except that a
//!   typedef of a struct, union or enum is a type of that name (`pgd_t`, `atomic_t`,
//!   `seqcount_raw_spinlock_t`), as dwarf2json makes it;
//! - anonymous members are fields `unnamed_field_N`, anonymous types `unnamed_<16 hex>`
//!   (a hash of the type's shape);
//! - a bitfield is the byte offset of its storage unit and its bit position within it;
//! - base types keep their C names; `pointer` and `void` are added as dwarf2json adds them.

use std::collections::HashMap;

use crate::engine::kernel::isf::index::{
    BaseRec, Builder, ConstRec, EnumRec, FieldRec, MAX_TYPE_DEPTH, Node, Str, UserRec,
};

use super::btf::{Btf, Kind, Member};

/// Resolves BTF type ids to index nodes, naming anonymous and typedef'd types once.
pub struct Converter<'b> {
    btf: &'b Btf,
    /// The name each struct, union or enum id is known by (typedef or own or unnamed_).
    names: Vec<Option<String>>,
    /// Typedef ids that stand for a struct, union or enum: (typedef id, target id).
    aliases: Vec<(u32, u32)>,
    memo: HashMap<u32, Option<u32>>,
    /// Size of a pointer (the size of `long unsigned int`, else 8).
    pub pointer_size: u64,
}

impl<'b> Converter<'b> {
    /// Prepares the names of every struct, union and enum of `btf`.
    pub fn new(btf: &'b Btf) -> Converter<'b> {
        let mut names: Vec<Option<String>> = vec![None; btf.types.len()];
        let mut aliases = Vec::new();
        // Definitions by (name, is union), for typedefs of forward declarations.
        let mut definitions: HashMap<(String, bool), u32> = HashMap::new();
        for (id, t) in btf.types.iter().enumerate() {
            if let Kind::Composite { union, .. } = t.kind
                && t.name != 0
                && let Ok(id) = u32::try_from(id)
            {
                definitions
                    .entry((btf.name(t.name).into_owned(), union))
                    .or_insert(id);
            }
        }
        for (id, t) in btf.types.iter().enumerate() {
            // The innermost typedef of a struct or union (or of its forward declaration)
            // names a type of its own.
            if let Kind::Typedef(target) = t.kind
                && let Some(real) = unqualified(btf, target)
                && let Ok(id) = u32::try_from(id)
            {
                match btf.get(real).map(|t| &t.kind) {
                    Some(Kind::Composite { .. }) => aliases.push((id, real)),
                    Some(Kind::Fwd { union }) => {
                        if let Some(def) = definitions.get(&(
                            btf.name(btf.types.get(real as usize).map_or(0, |t| t.name))
                                .into_owned(),
                            *union,
                        )) {
                            aliases.push((id, *def));
                        }
                    }
                    _ => {}
                }
            }
        }
        for (id, t) in btf.types.iter().enumerate() {
            if matches!(t.kind, Kind::Composite { .. } | Kind::Enum { .. }) {
                let own = btf.name(t.name);
                if let Some(slot) = names.get_mut(id) {
                    *slot = Some(if own.is_empty() {
                        format!("unnamed_{:016x}", shape_hash(btf, id))
                    } else {
                        own.into_owned()
                    });
                }
            }
        }
        let pointer_size = btf
            .types
            .iter()
            .find_map(|t| match t.kind {
                Kind::Int { size, .. } if btf.name(t.name) == "long unsigned int" => {
                    Some(u64::from(size))
                }
                _ => None,
            })
            .unwrap_or(8);
        Converter {
            btf,
            names,
            aliases,
            memo: HashMap::new(),
            pointer_size,
        }
    }

    /// The node for type `id`, or `None` for a type without a layout (DATASEC, DECL_TAG)
    /// or a broken reference.
    pub(crate) fn node(&mut self, b: &mut Builder, id: u32) -> Option<u32> {
        self.node_at(b, id, 0)
    }

    fn node_at(&mut self, b: &mut Builder, id: u32, depth: u32) -> Option<u32> {
        if depth > MAX_TYPE_DEPTH {
            return None;
        }
        if let Some(n) = self.memo.get(&id) {
            return *n;
        }
        let t = self.btf.get(id)?;
        let node = match &t.kind {
            Kind::Void => Some(Node::Base(b.intern("void")?)),
            Kind::Int { .. } | Kind::Float(_) => {
                Some(Node::Base(b.intern(&self.btf.name(t.name))?))
            }
            Kind::Ptr(to) => {
                let sub = self.node_at(b, *to, depth + 1)?;
                Some(Node::Pointer(sub))
            }
            Kind::Array { elem, count } => {
                let sub = self.node_at(b, *elem, depth + 1)?;
                Some(Node::Array {
                    count: u64::from(*count),
                    sub,
                })
            }
            Kind::Composite { union, .. } => {
                let name = b.intern(self.names.get(id as usize)?.as_deref()?)?;
                Some(if *union {
                    Node::Union(name)
                } else {
                    Node::Struct(name)
                })
            }
            Kind::Enum { .. } => Some(Node::Enum(
                b.intern(self.names.get(id as usize)?.as_deref()?)?,
            )),
            Kind::Fwd { union } => {
                let name = b.intern(&self.btf.name(t.name))?;
                Some(if *union {
                    Node::Union(name)
                } else {
                    Node::Struct(name)
                })
            }
            Kind::Typedef(to) => match innermost_typedef(self.btf, id, *to) {
                Some((typedef, union)) => {
                    let name = b.intern(&self.btf.name(self.btf.get(typedef)?.name))?;
                    Some(if union {
                        Node::Union(name)
                    } else {
                        Node::Struct(name)
                    })
                }
                _ => {
                    let n = self.node_at(b, *to, depth + 1);
                    return self.memoize(id, n);
                }
            },
            Kind::Qualifier(to) | Kind::Var(to) => {
                let n = self.node_at(b, *to, depth + 1);
                return self.memoize(id, n);
            }
            Kind::Func(_) | Kind::FuncProto => Some(Node::Function),
            Kind::Datasec | Kind::DeclTag => None,
        };
        let out = node.and_then(|n| b.node(n));
        self.memoize(id, out)
    }

    fn memoize(&mut self, id: u32, n: Option<u32>) -> Option<u32> {
        self.memo.insert(id, n);
        n
    }

    /// Adds every base type, struct, union and enum (and typedef'd copies) to `b`.
    pub(crate) fn add_types(&mut self, b: &mut Builder) -> Option<()> {
        let btf = self.btf;
        for t in &btf.types {
            let (size, kind, signed) = match t.kind {
                Kind::Int { size, encoding, .. } => {
                    let name = btf.name(t.name);
                    let kind = if encoding & 4 != 0 || name == "_Bool" {
                        4
                    } else if encoding & 2 != 0 || name.contains("char") {
                        3
                    } else {
                        1
                    };
                    // dwarf2json calls char and _Bool signed.
                    let signed = encoding & 1 != 0 || name == "char" || kind == 4;
                    (size, kind, signed)
                }
                Kind::Float(size) => (size, 2, true),
                _ => continue,
            };
            let name = b.intern(&btf.name(t.name))?;
            b.add_base(base(name, u64::from(size), kind, signed, btf.little_endian));
        }
        let void = b.intern("void")?;
        b.add_base(base(void, 0, 0, false, btf.little_endian));
        let pointer = b.intern("pointer")?;
        b.add_base(base(
            pointer,
            self.pointer_size,
            1,
            false,
            btf.little_endian,
        ));

        for id in 0..btf.types.len() {
            let Some(name) = self.names.get(id).cloned().flatten() else {
                continue;
            };
            self.add_named(b, id as u32, &name)?;
        }
        for (alias, real) in self.aliases.clone() {
            let name = btf.get(alias).map(|t| btf.name(t.name).into_owned());
            if let Some(name) = name.filter(|n| !n.is_empty()) {
                self.add_named(b, real, &name)?;
            }
        }
        Some(())
    }

    /// Adds struct, union or enum `id` under `name`.
    fn add_named(&mut self, b: &mut Builder, id: u32, name: &str) -> Option<()> {
        let btf = self.btf;
        let t = btf.get(id)?;
        let name = b.intern(name)?;
        match &t.kind {
            Kind::Composite {
                union,
                size,
                members,
            } => {
                let first = b.field_mark();
                let mut unnamed = 0;
                for m in btf.members.get(members.clone())? {
                    if let Some(f) = self.field(b, m, &mut unnamed) {
                        b.add_field(f);
                    }
                }
                let count = b.field_mark() - first;
                b.add_user(UserRec {
                    name,
                    size: u64::from(*size),
                    kind: u8::from(*union),
                    first: u32::try_from(first).ok()?,
                    count: u32::try_from(count).ok()?,
                });
            }
            Kind::Enum {
                size,
                signed,
                values,
            } => {
                let first = b.const_mark();
                let list = btf.enumerators.get(values.clone())?;
                let negative = list.iter().any(|e| e.value < 0);
                for e in list {
                    let cname = b.intern(&btf.name(e.name))?;
                    b.add_const(ConstRec {
                        name: cname,
                        value: e.value,
                    });
                }
                let base_name = enum_base(*size, *signed || negative);
                let base = b.intern(base_name)?;
                b.add_enum(EnumRec {
                    name,
                    size: u64::from(*size),
                    base,
                    first: u32::try_from(first).ok()?,
                    count: u32::try_from(b.const_mark() - first).ok()?,
                });
            }
            _ => {}
        }
        Some(())
    }

    /// One member as a field: its name (or `unnamed_field_N`), byte offset and type, a
    /// bitfield when it is one.
    fn field(&mut self, b: &mut Builder, m: &Member, unnamed: &mut u32) -> Option<FieldRec> {
        let btf = self.btf;
        let own = btf.name(m.name);
        let anonymous = own.is_empty();
        let name = if anonymous {
            let n = format!("unnamed_field_{unnamed:x}");
            *unnamed += 1;
            b.intern(&n)?
        } else {
            b.intern(&own)?
        };
        let ty = self.node(b, m.ty)?;
        // The old encoding puts a bitfield's width in the INT type itself.
        let storage = strip(btf, m.ty).and_then(|r| btf.get(r));
        let (unit, int_bits) = match storage.map(|t| &t.kind) {
            Some(Kind::Int { size, bits, .. }) => (u64::from(*size), u32::from(*bits)),
            Some(Kind::Enum { size, .. }) => (u64::from(*size), size.saturating_mul(8)),
            _ => (0, 0),
        };
        let width = if m.bitfield_size != 0 {
            m.bitfield_size
        } else if unit > 0 && int_bits != 0 && u64::from(int_bits) < unit * 8 {
            int_bits
        } else {
            0
        };
        let bit = u64::from(m.bit_offset);
        if width == 0 || unit == 0 {
            return Some(FieldRec {
                name,
                offset: bit / 8,
                ty,
                anonymous: anonymous && self.is_composite(m.ty),
                lifted: false,
            });
        }
        // dwarf2json's convention: the byte the field starts in, and the bit within it.
        let offset = bit / 8;
        let position = bit % 8;
        let sub = ty;
        let node = b.node(Node::Bitfield {
            position: u32::try_from(position).ok()?,
            length: width,
            sub,
        })?;
        Some(FieldRec {
            name,
            offset,
            ty: node,
            anonymous: false,
            lifted: false,
        })
    }

    fn is_composite(&self, id: u32) -> bool {
        strip(self.btf, id)
            .and_then(|r| self.btf.get(r))
            .is_some_and(|t| matches!(t.kind, Kind::Composite { .. }))
    }

    /// The index name of a struct/union/enum id (typedef names for typedef ids).
    pub fn type_name(&self, id: u32) -> Option<String> {
        let t = self.btf.get(id)?;
        match t.kind {
            Kind::Typedef(_) => Some(self.btf.name(t.name).into_owned()),
            _ => self.names.get(id as usize).cloned().flatten(),
        }
    }
}

fn base(name: Str, size: u64, kind: u8, signed: bool, little_endian: bool) -> BaseRec {
    BaseRec {
        name,
        size,
        kind,
        signed,
        little_endian,
    }
}

/// The base type dwarf2json names for an enum of this size and sign.
fn enum_base(size: u32, signed: bool) -> &'static str {
    match (size, signed) {
        (1, true) => "signed char",
        (1, false) => "unsigned char",
        (2, true) => "short int",
        (2, false) => "short unsigned int",
        (8, true) => "long int",
        (8, false) => "long unsigned int",
        (_, true) => "int",
        (_, false) => "unsigned int",
    }
}

/// Follows qualifiers (not typedefs), bounded.
fn unqualified(btf: &Btf, mut id: u32) -> Option<u32> {
    for _ in 0..=MAX_TYPE_DEPTH {
        match btf.get(id)?.kind {
            Kind::Qualifier(to) => id = to,
            _ => return Some(id),
        }
    }
    None
}

/// For typedef `id` (of `to`) that ends in a struct or union: the last typedef of the chain
/// (the one dwarf2json names the type after) and whether it is a union.
fn innermost_typedef(btf: &Btf, mut id: u32, mut to: u32) -> Option<(u32, bool)> {
    for _ in 0..=MAX_TYPE_DEPTH {
        let next = unqualified(btf, to)?;
        match btf.get(next)?.kind {
            Kind::Typedef(further) => {
                id = next;
                to = further;
            }
            Kind::Composite { union, .. } | Kind::Fwd { union } => return Some((id, union)),
            _ => return None,
        }
    }
    None
}

/// Follows typedefs and qualifiers to the type that has a layout (bounded).
pub fn strip(btf: &Btf, mut id: u32) -> Option<u32> {
    for _ in 0..=MAX_TYPE_DEPTH {
        match btf.get(id)?.kind {
            Kind::Typedef(to) | Kind::Qualifier(to) => id = to,
            _ => return Some(id),
        }
    }
    None
}

/// FNV-1a over an anonymous type's kind, size and member names and offsets, mixed with its
/// id, so that names are stable for one BTF and distinct within it.
fn shape_hash(btf: &Btf, id: usize) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut eat = |bytes: &[u8]| {
        for &x in bytes {
            h ^= u64::from(x);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
    };
    eat(&(id as u64).to_le_bytes());
    if let Some(t) = btf.types.get(id) {
        match &t.kind {
            Kind::Composite { size, members, .. } => {
                eat(&size.to_le_bytes());
                for m in btf.members.get(members.clone()).unwrap_or_default() {
                    eat(btf.name(m.name).as_bytes());
                    eat(&m.bit_offset.to_le_bytes());
                }
            }
            Kind::Enum { size, values, .. } => {
                eat(&size.to_le_bytes());
                for e in btf.enumerators.get(values.clone()).unwrap_or_default() {
                    eat(btf.name(e.name).as_bytes());
                }
            }
            _ => {}
        }
    }
    h
}
