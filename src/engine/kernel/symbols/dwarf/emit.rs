//! dwarf2json's two callbacks, run over every entry of every unit in order: the types
//! callback (base types, `pointer`, structs and unions, enums, typedefs of structs) and
//! the symbols callback (variables). What they find goes into name-keyed tables with
//! dwarf2json's precedence (the first base type of a name, the last struct, enum and
//! variable of a name), so that only one definition per name is held however many units
//! repeat it; [`Collector::finish`] turns the tables into the symbol index.

use std::collections::{BTreeMap, HashMap};
use std::hash::{BuildHasherDefault, Hasher};
use std::ops::Range;

use gimli::constants as dw;

use crate::engine::kernel::isf::index::{
    BaseRec, Builder, ConstRec, EnumRec, FieldRec, Index, MAX_TYPE_DEPTH, NO_TYPE, Node, Str,
    SymbolRec, UserRec,
};

use super::gotype::{GoField, MAX_WALK, T, UnitSet};
use super::names::base_name;
use super::units::{Loc, Ref};

/// `DW_LANG_Rust`: dwarf2json skips Rust units.
const DW_LANG_RUST: i64 = 0x1c;

/// A base type as dwarf2json records it.
#[derive(Debug, Clone, Copy)]
struct BaseInfo {
    size: i64,
    /// 0 void, 1 int, 2 float, 3 char, 4 bool.
    kind: u8,
    signed: bool,
}

/// A struct, union or class definition.
#[derive(Debug)]
struct UserDef {
    size: u64,
    kind: u8,
    fields: Vec<FieldRec>,
}

/// An enumeration.
#[derive(Debug)]
struct EnumDef {
    size: u64,
    base: Str,
    constants: Vec<ConstRec>,
}

/// A symbol: its address, type node ([`NO_TYPE`] for none) and constant data.
#[derive(Debug)]
pub(super) struct SymDef {
    /// Address.
    pub address: u64,
    /// Type node.
    pub ty: u32,
    /// `constant_data`.
    pub data: Option<Vec<u8>>,
}

/// Everything read so far, one definition per name.
pub(super) struct Collector {
    b: Builder,
    /// Height of each type node (leaves 1), to keep descriptors within [`MAX_TYPE_DEPTH`].
    heights: Vec<u8>,
    little_endian: bool,
    bases: BTreeMap<String, BaseInfo>,
    users: HashMap<Str, UserDef>,
    enums: HashMap<Str, EnumDef>,
    /// Symbols by name.
    pub(super) symbols: HashMap<Str, SymDef>,
    /// The index node of base type `void`.
    pub(super) void: u32,
    /// Interned names by address, for names in the string sections (each distinct string
    /// of `.debug_str` is one address): most names are met once per unit.
    by_address: HashMap<(usize, usize), Str, BuildHasherDefault<Fx>>,
    /// Address ranges of the string sections while they are alive.
    string_sections: Vec<Range<usize>>,
}

/// A fast hasher for address keys (the Firefox/rustc multiply-rotate hash).
#[derive(Default, Clone, Copy)]
struct Fx(u64);

impl Hasher for Fx {
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.write_u64(u64::from(*b));
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(5) ^ n).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
    fn write_usize(&mut self, n: usize) {
        self.write_u64(n as u64);
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

impl Collector {
    /// An empty collector (with dwarf2json's `void` base type), or `None` if the builder
    /// refuses the first strings.
    pub fn new(little_endian: bool) -> Option<Collector> {
        let mut c = Collector {
            b: Builder::default(),
            heights: Vec::new(),
            little_endian,
            bases: BTreeMap::new(),
            users: HashMap::new(),
            enums: HashMap::new(),
            symbols: HashMap::new(),
            void: 0,
            by_address: HashMap::default(),
            string_sections: Vec::new(),
        };
        let void = c.b.intern("void")?;
        c.void = c.add(Node::Base(void))?;
        c.bases.insert(
            "void".to_owned(),
            BaseInfo {
                size: 0,
                kind: 0,
                signed: false,
            },
        );
        Some(c)
    }

    /// Interns a string (`None` once the arena is full).
    pub fn intern(&mut self, s: &str) -> Option<Str> {
        self.b.intern(s)
    }

    /// Names read from `sections` (string sections that outlive every use until
    /// [`Collector::forget_string_sections`]) are interned once per address.
    pub fn use_string_sections(&mut self, sections: &[&[u8]]) {
        self.string_sections = sections
            .iter()
            .map(|s| {
                let start = s.as_ptr() as usize;
                start..start.saturating_add(s.len())
            })
            .collect();
    }

    /// Drops the names by address (the string sections are going away).
    pub fn forget_string_sections(&mut self) {
        self.string_sections.clear();
        self.by_address = HashMap::default();
    }

    /// Interns a name read from the DWARF (invalid UTF-8 replaced).
    fn name(&mut self, b: &[u8]) -> Option<Str> {
        let at = b.as_ptr() as usize;
        let cached = self.string_sections.iter().any(|r| r.contains(&at));
        if cached && let Some(s) = self.by_address.get(&(at, b.len())) {
            return Some(*s);
        }
        let s = self.b.intern(&String::from_utf8_lossy(b))?;
        if cached {
            self.by_address.insert((at, b.len()), s);
        }
        Some(s)
    }

    /// Adds a type node, refusing descriptors deeper than the index allows.
    fn add(&mut self, n: Node) -> Option<u32> {
        let h = match n {
            Node::Pointer(s) | Node::Array { sub: s, .. } | Node::Bitfield { sub: s, .. } => {
                self.heights.get(s as usize)?.saturating_add(1)
            }
            _ => 1,
        };
        if u32::from(h) > MAX_TYPE_DEPTH {
            return None;
        }
        let id = self.b.node(n)?;
        if id as usize == self.heights.len() {
            self.heights.push(h);
        }
        Some(id)
    }

    /// Runs both callbacks over every entry of the set's unit 0, in order.
    pub fn process_unit(&mut self, set: &mut UnitSet<'_>) {
        let Some(unit) = set.unit(0) else { return };
        let n = unit.dies.len() as u32;
        let rust = unit.attrs(0).and_then(|a| a.language) == Some(DW_LANG_RUST)
            && matches!(
                dw::DwTag(unit.tag(0)),
                dw::DW_TAG_compile_unit | dw::DW_TAG_type_unit | dw::DW_TAG_partial_unit
            );
        if rust {
            return;
        }
        for i in 0..n {
            let t = T::Die(0, i);
            match dw::DwTag(set.tag(t)) {
                dw::DW_TAG_structure_type | dw::DW_TAG_union_type => {
                    if set.fails(t) || set.attrs(t).is_some_and(|a| a.declaration) {
                        continue;
                    }
                    if let Some(name) = set.struct_name(t).and_then(|n| self.name(&n)) {
                        self.add_struct(set, t, name);
                    }
                }
                dw::DW_TAG_enumeration_type => self.add_enum(set, t),
                dw::DW_TAG_pointer_type if !self.bases.contains_key("pointer") && !set.fails(t) => {
                    let info = BaseInfo {
                        size: set.size(t, 0, 0),
                        kind: 1,
                        signed: false,
                    };
                    self.bases.insert("pointer".to_owned(), info);
                }
                dw::DW_TAG_base_type => {
                    if set.fails(t) {
                        continue;
                    }
                    let name = String::from_utf8_lossy(&base_name(set, t)).into_owned();
                    let a = set.attrs(t);
                    let (kind, signed) = match a.and_then(|a| a.encoding) {
                        Some(2) => (4, true),
                        Some(4) => (2, true),
                        Some(6) => (3, true),
                        Some(7) => (1, false),
                        Some(8) => (3, false),
                        _ => (1, true),
                    };
                    let size = a.and_then(|a| a.byte_size).unwrap_or(-1);
                    self.bases
                        .entry(name)
                        .or_insert(BaseInfo { size, kind, signed });
                }
                dw::DW_TAG_typedef => {
                    if set.fails(t) {
                        continue;
                    }
                    let target = set.target(t);
                    let is_struct = matches!(
                        dw::DwTag(set.tag(target)),
                        dw::DW_TAG_structure_type | dw::DW_TAG_union_type | dw::DW_TAG_class_type
                    );
                    if is_struct
                        && !set.attrs(target).is_some_and(|a| a.declaration)
                        && let Some(name) = self.name(typedef_name(set, t))
                    {
                        self.add_struct(set, target, name);
                    }
                }
                dw::DW_TAG_variable => self.add_variable(set, t),
                _ => {}
            }
        }
    }

    /// dwarf2json's `addStruct`: the struct's fields under `name`.
    fn add_struct(&mut self, set: &mut UnitSet<'_>, t: T, name: Str) {
        let fields = set.fields(t);
        let kind = match dw::DwTag(set.tag(t)) {
            dw::DW_TAG_union_type => 1,
            dw::DW_TAG_class_type => 2,
            _ => 0,
        };
        let size = u64::try_from(set.size(t, 0, 0)).unwrap_or(0);
        let mut recs = Vec::with_capacity(fields.len());
        let mut unnamed = 0u64;
        for f in &fields {
            if let Some(r) = self.field(set, f, &mut unnamed) {
                recs.push(r);
            }
        }
        self.users.insert(
            name,
            UserDef {
                size,
                kind,
                fields: recs,
            },
        );
    }

    /// One field: its type (skipped when Go's `typeName` has none), `unnamed_field_N`
    /// (hex N) for anonymous members, dwarf2json's bitfield offsets.
    fn field(
        &mut self,
        set: &mut UnitSet<'_>,
        f: &GoField<'_>,
        unnamed: &mut u64,
    ) -> Option<FieldRec> {
        let ty = if f.zeroed {
            self.array(set, f.ty, 0, true, 0)
        } else {
            self.node(set, f.ty, 0)
        }?;
        let anonymous = f.name.is_empty();
        let name = if anonymous {
            let n = format!("unnamed_field_{unnamed:x}");
            *unnamed += 1;
            self.b.intern(&n)?
        } else {
            self.name(f.name)?
        };
        let (offset, ty) = if f.bit_size != 0 {
            let (byte, bit) = if f.byte_size > 0 {
                // DWARF 2-4: DW_AT_bit_offset counts from the storage unit's top bit.
                let mut bit = f.bit_offset;
                if self.little_endian {
                    bit = f
                        .byte_size
                        .wrapping_mul(8)
                        .wrapping_sub(f.bit_offset.wrapping_add(f.bit_size));
                }
                (f.byte_offset.wrapping_add(bit / 8), bit % 8)
            } else {
                (f.data_bit_offset / 8, f.data_bit_offset % 8)
            };
            let node = self.add(Node::Bitfield {
                position: u32::try_from(bit).ok()?,
                length: u32::try_from(f.bit_size).ok()?,
                sub: ty,
            })?;
            (byte, node)
        } else {
            (f.byte_offset, ty)
        };
        Some(FieldRec {
            name,
            offset: u64::try_from(offset).ok()?,
            ty,
            anonymous,
            lifted: false,
        })
    }

    /// dwarf2json's enum record: size, constants, and as base the first (by name) integer
    /// base type seen so far of the enum's size and sign, else `void`.
    fn add_enum(&mut self, set: &mut UnitSet<'_>, t: T) {
        if set.fails(t) {
            return;
        }
        let Some(name) = set.enum_name(t) else { return };
        let byte_size = set.attrs(t).and_then(|a| a.byte_size).unwrap_or(-1);
        let mut constants = Vec::new();
        let mut signed = false;
        for c in set.children(t) {
            if set.tag(c) != dw::DW_TAG_enumerator.0 {
                continue;
            }
            let a = set.attrs(c);
            let value = a.and_then(|a| a.const_value).unwrap_or(0);
            signed |= value < 0;
            if let Some(cname) = self.name(a.and_then(|a| a.name).unwrap_or(b"")) {
                constants.push(ConstRec { name: cname, value });
            }
        }
        let base = self
            .bases
            .iter()
            .find(|(_, b)| b.kind == 1 && b.size == byte_size && b.signed == signed)
            .map_or("void", |(n, _)| n.as_str())
            .to_owned();
        let (Some(name), Some(base)) = (self.name(&name), self.b.intern(&base)) else {
            return;
        };
        self.enums.insert(
            name,
            EnumDef {
                size: u64::try_from(byte_size).unwrap_or(0),
                base,
                constants,
            },
        );
    }

    /// dwarf2json's symbols callback: a named variable with a type, at the address its
    /// location gives (`DW_OP_addr`, a constant or an address form; else 0).
    fn add_variable(&mut self, set: &mut UnitSet<'_>, t: T) {
        let Some(a) = set.attrs(t) else { return };
        let Some(name) = a.name.filter(|n| !n.is_empty()) else {
            return;
        };
        if a.ty == Ref::None {
            return;
        }
        let address_size = match t {
            T::Die(u, _) => set.unit(u).map_or(8, |x| x.address_size),
            _ => 8,
        };
        let address = match a.location {
            Loc::None => 0,
            Loc::Addr(x) | Loc::Const(x) => x,
            Loc::Expr(e) => expr_address(e, address_size),
        };
        let target = match t {
            T::Die(u, _) => set.ty_in(u, a),
            _ => T::Missing,
        };
        let ty = if set.fails(target) {
            self.void
        } else {
            self.node(set, target, 0).unwrap_or(NO_TYPE)
        };
        if let Some(name) = self.name(name) {
            self.symbols.insert(
                name,
                SymDef {
                    address,
                    ty,
                    data: None,
                },
            );
        }
    }

    /// Go's `typeName` of `t` as an index node (`None` where it gives nil).
    pub fn node(&mut self, set: &mut UnitSet<'_>, t: T, steps: u32) -> Option<u32> {
        let (u, d) = match t {
            T::Die(u, d) => (u, d),
            T::Void => return Some(self.void),
            T::Missing => return None,
        };
        if let Some(n) = set.memo_node(u, d) {
            return n;
        }
        let n = self.node_of(set, t, steps);
        set.set_memo_node(u, d, n);
        n
    }

    fn node_of(&mut self, set: &mut UnitSet<'_>, t: T, steps: u32) -> Option<u32> {
        if steps > MAX_WALK {
            return None;
        }
        let tag = set.tag(t);
        let node = match dw::DwTag(tag) {
            dw::DW_TAG_base_type => {
                if set.attrs(t).and_then(|a| a.encoding) == Some(1) {
                    return None;
                }
                Node::Base(self.name(&base_name(set, t))?)
            }
            dw::DW_TAG_unspecified_type => return Some(self.void),
            dw::DW_TAG_structure_type | dw::DW_TAG_union_type | dw::DW_TAG_class_type => {
                let name = set.struct_name(t)?;
                composite(tag, self.name(&name)?)
            }
            dw::DW_TAG_enumeration_type => Node::Enum(self.name(&set.enum_name(t)?)?),
            dw::DW_TAG_pointer_type => {
                let sub = self
                    .node(set, set.target(t), steps + 1)
                    .unwrap_or(self.void);
                Node::Pointer(sub)
            }
            dw::DW_TAG_array_type => return self.array(set, t, 0, false, steps),
            dw::DW_TAG_typedef => {
                let target = set.target(t);
                let ttag = set.tag(target);
                if matches!(
                    dw::DwTag(ttag),
                    dw::DW_TAG_structure_type | dw::DW_TAG_union_type | dw::DW_TAG_class_type
                ) {
                    composite(ttag, self.name(typedef_name(set, t))?)
                } else {
                    return self.node(set, target, steps + 1);
                }
            }
            dw::DW_TAG_const_type | dw::DW_TAG_volatile_type | dw::DW_TAG_restrict_type => {
                return self.node(set, set.target(t), steps + 1);
            }
            dw::DW_TAG_subroutine_type => Node::Function,
            _ => return None,
        };
        self.add(node)
    }

    /// An array type from dimension `level` on (`zeroed`: the count fixed up to 0).
    fn array(
        &mut self,
        set: &mut UnitSet<'_>,
        t: T,
        level: usize,
        zeroed: bool,
        steps: u32,
    ) -> Option<u32> {
        if steps > MAX_WALK {
            return None;
        }
        let dims = set.dims(t);
        let Some(&count) = dims.get(level) else {
            return self.node(set, set.target(t), steps + 1);
        };
        let sub = self
            .array(set, t, level + 1, false, steps + 1)
            .unwrap_or(self.void);
        let count = if zeroed {
            0
        } else {
            u64::try_from(count).unwrap_or(0)
        };
        self.add(Node::Array { count, sub })
    }

    /// The finished index: every table handed to the builder, sorted and de-duplicated.
    pub fn finish(mut self) -> Result<Index, String> {
        let full = || "the string arena or a table of the index is full".to_owned();
        let format = self.b.intern("6.2.0").ok_or_else(full)?;
        let producer = self.b.intern("podmortem").ok_or_else(full)?;
        let version = self.b.intern(env!("CARGO_PKG_VERSION")).ok_or_else(full)?;
        self.b.set_metadata(format, producer, version);
        for (name, info) in std::mem::take(&mut self.bases) {
            let name = self.b.intern(&name).ok_or_else(full)?;
            self.b.add_base(BaseRec {
                name,
                size: u64::try_from(info.size).unwrap_or(0),
                kind: info.kind,
                signed: info.signed,
                little_endian: self.little_endian,
            });
        }
        for (name, u) in std::mem::take(&mut self.users) {
            let first = u32::try_from(self.b.field_mark()).map_err(|_| full())?;
            let count = u32::try_from(u.fields.len()).map_err(|_| full())?;
            for f in u.fields {
                self.b.add_field(f);
            }
            self.b.add_user(UserRec {
                name,
                size: u.size,
                kind: u.kind,
                first,
                count,
            });
        }
        for (name, e) in std::mem::take(&mut self.enums) {
            let first = u32::try_from(self.b.const_mark()).map_err(|_| full())?;
            let count = u32::try_from(e.constants.len()).map_err(|_| full())?;
            for c in e.constants {
                self.b.add_const(c);
            }
            self.b.add_enum(EnumRec {
                name,
                size: e.size,
                base: e.base,
                first,
                count,
            });
        }
        for (name, s) in std::mem::take(&mut self.symbols) {
            self.b.add_symbol(
                SymbolRec {
                    name,
                    address: s.address,
                    ty: s.ty,
                },
                s.data,
            );
        }
        self.b.finish()
    }
}

/// The node of a struct, union or class named `name`.
fn composite(tag: u16, name: Str) -> Node {
    match dw::DwTag(tag) {
        dw::DW_TAG_union_type => Node::Union(name),
        dw::DW_TAG_class_type => Node::Class(name),
        _ => Node::Struct(name),
    }
}

/// A typedef's name (empty when it has none, as Go reads it).
fn typedef_name<'d>(set: &UnitSet<'d>, t: T) -> &'d [u8] {
    set.attrs(t).and_then(|a| a.name).unwrap_or(b"")
}

/// dwarf2json's location evaluator: `DW_OP_addr` and a little-endian address of the
/// unit's size, in an expression of at least 5 bytes; anything else is address 0.
fn expr_address(e: &[u8], address_size: u8) -> u64 {
    if e.len() < 5 || e.first() != Some(&dw::DW_OP_addr.0) {
        return 0;
    }
    let rest = e.get(1..).unwrap_or(&[]);
    if address_size == 4 {
        rest.get(..4)
            .and_then(|b| <[u8; 4]>::try_from(b).ok())
            .map_or(0, |b| u64::from(u32::from_le_bytes(b)))
    } else {
        rest.get(..8)
            .and_then(|b| <[u8; 8]>::try_from(b).ok())
            .map_or(0, u64::from_le_bytes)
    }
}
