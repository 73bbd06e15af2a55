//! The compact in-memory form of an ISF: one string arena, name-sorted tables and a
//! de-duplicated table of type descriptors, plus the builder that the JSON parser feeds.
//!
//! Every name is a [`Str`] (a range of the arena), so a type name used by ten thousand
//! fields is stored once. Lookups are binary searches over name-sorted `Vec`s: the tables
//! need no hashing to load from the cache, and the cache can store them as they are.

use std::collections::{HashMap, HashSet};

/// The deepest type descriptor accepted (`pointer -> array -> array -> ...`). Kernels need
/// about five; the bound keeps recursion over descriptors shallow whatever the input says.
pub(crate) const MAX_TYPE_DEPTH: u32 = 32;

/// How deep anonymous members are followed when flattening them into their parent.
const MAX_ANON_DEPTH: u32 = 16;

/// Marks "no type" in [`SymbolRec::ty`].
pub(crate) const NO_TYPE: u32 = u32::MAX;

/// A string of the arena: `start..start + len`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub(crate) struct Str {
    pub start: u32,
    pub len: u32,
}

/// A node of the type-descriptor table. Children always have a smaller id than their parent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Node {
    Base(Str),
    Struct(Str),
    Union(Str),
    Class(Str),
    Enum(Str),
    Function,
    Pointer(u32),
    Array {
        count: u64,
        sub: u32,
    },
    Bitfield {
        position: u32,
        length: u32,
        sub: u32,
    },
}

/// A base type (`int`, `pointer`, ...).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct BaseRec {
    pub name: Str,
    pub size: u64,
    /// 0 void, 1 int, 2 float, 3 char, 4 bool.
    pub kind: u8,
    pub signed: bool,
    pub little_endian: bool,
}

/// A struct, union or class and its fields `fields[first..first + count]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct UserRec {
    pub name: Str,
    pub size: u64,
    /// 0 struct, 1 union, 2 class.
    pub kind: u8,
    pub first: u32,
    pub count: u32,
}

/// One field of a user type. `anonymous`: the field is itself an anonymous member;
/// `lifted`: the field belongs to an anonymous member and was lifted into this type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct FieldRec {
    pub name: Str,
    pub offset: u64,
    pub ty: u32,
    pub anonymous: bool,
    pub lifted: bool,
}

/// An enumeration and its constants `constants[first..first + count]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct EnumRec {
    pub name: Str,
    pub size: u64,
    pub base: Str,
    pub first: u32,
    pub count: u32,
}

/// One enumeration constant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ConstRec {
    pub name: Str,
    pub value: i64,
}

/// A symbol: unslid address and type (or [`NO_TYPE`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SymbolRec {
    pub name: Str,
    pub address: u64,
    pub ty: u32,
}

/// The whole index. Tables are sorted by name (byte order); `constant_data` by symbol name.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct Index {
    pub strings: String,
    pub format: Str,
    pub producer: Str,
    pub producer_version: Str,
    pub types: Vec<Node>,
    pub base_types: Vec<BaseRec>,
    pub user_types: Vec<UserRec>,
    pub fields: Vec<FieldRec>,
    pub enums: Vec<EnumRec>,
    pub constants: Vec<ConstRec>,
    pub symbols: Vec<SymbolRec>,
    pub constant_data: Vec<(Str, Vec<u8>)>,
}

impl Index {
    /// The text of `s` (empty if out of range, which a validated index never is).
    pub fn str(&self, s: Str) -> &str {
        let start = s.start as usize;
        self.strings
            .get(start..start.saturating_add(s.len as usize))
            .unwrap_or("")
    }

    /// Binary search of a name-sorted table.
    fn find<'t, T>(&self, table: &'t [T], name: &str, key: impl Fn(&T) -> Str) -> Option<&'t T> {
        let i = table
            .binary_search_by(|r| self.str(key(r)).cmp(name))
            .ok()?;
        table.get(i)
    }

    pub fn user_type(&self, name: &str) -> Option<&UserRec> {
        self.find(&self.user_types, name, |r| r.name)
    }

    pub fn base_type(&self, name: &str) -> Option<&BaseRec> {
        self.find(&self.base_types, name, |r| r.name)
    }

    pub fn enumeration(&self, name: &str) -> Option<&EnumRec> {
        self.find(&self.enums, name, |r| r.name)
    }

    pub fn symbol(&self, name: &str) -> Option<&SymbolRec> {
        self.find(&self.symbols, name, |r| r.name)
    }

    pub fn fields_of(&self, u: &UserRec) -> &[FieldRec] {
        let first = u.first as usize;
        self.fields
            .get(first..first.saturating_add(u.count as usize))
            .unwrap_or(&[])
    }

    pub fn field(&self, struct_name: &str, field: &str) -> Option<&FieldRec> {
        let u = self.user_type(struct_name)?;
        self.find(self.fields_of(u), field, |f| f.name)
    }

    pub fn constants_of(&self, e: &EnumRec) -> &[ConstRec] {
        let first = e.first as usize;
        self.constants
            .get(first..first.saturating_add(e.count as usize))
            .unwrap_or(&[])
    }

    pub fn constant_data(&self, symbol: &str) -> Option<&[u8]> {
        let i = self
            .constant_data
            .binary_search_by(|(n, _)| self.str(*n).cmp(symbol))
            .ok()?;
        self.constant_data.get(i).map(|(_, d)| d.as_slice())
    }

    pub fn node(&self, id: u32) -> Option<Node> {
        self.types.get(id as usize).copied()
    }
}

/// Accumulates what the parser reads, interning strings and de-duplicating type nodes,
/// then sorts and flattens everything into an [`Index`].
#[derive(Default)]
pub(crate) struct Builder {
    index: Index,
    interned: HashMap<Box<str>, Str>,
    nodes: HashMap<Node, u32>,
    /// Raw fields as read, grouped by user type through `UserRec::first/count`.
    raw_fields: Vec<FieldRec>,
}

impl Builder {
    /// Interns `s`; `None` once the arena would pass 4 GiB.
    pub fn intern(&mut self, s: &str) -> Option<Str> {
        if let Some(r) = self.interned.get(s) {
            return Some(*r);
        }
        let start = u32::try_from(self.index.strings.len()).ok()?;
        let len = u32::try_from(s.len()).ok()?;
        start.checked_add(len)?;
        self.index.strings.push_str(s);
        let r = Str { start, len };
        self.interned.insert(s.into(), r);
        Some(r)
    }

    /// The text of an interned string.
    pub fn text(&self, s: Str) -> &str {
        self.index.str(s)
    }

    /// The id of `node`, adding it if new. `None` past `u32::MAX - 1` nodes.
    pub fn node(&mut self, node: Node) -> Option<u32> {
        if let Some(id) = self.nodes.get(&node) {
            return Some(*id);
        }
        let id = u32::try_from(self.index.types.len()).ok()?;
        if id == NO_TYPE {
            return None;
        }
        self.index.types.push(node);
        self.nodes.insert(node, id);
        Some(id)
    }

    pub fn set_metadata(&mut self, format: Str, producer: Str, producer_version: Str) {
        self.index.format = format;
        self.index.producer = producer;
        self.index.producer_version = producer_version;
    }

    pub fn add_base(&mut self, rec: BaseRec) {
        self.index.base_types.push(rec);
    }

    /// Index the next field of the user type being read will get.
    pub fn field_mark(&self) -> usize {
        self.raw_fields.len()
    }

    pub fn add_field(&mut self, rec: FieldRec) {
        self.raw_fields.push(rec);
    }

    pub fn add_user(&mut self, rec: UserRec) {
        self.index.user_types.push(rec);
    }

    pub fn const_mark(&self) -> usize {
        self.index.constants.len()
    }

    pub fn add_const(&mut self, rec: ConstRec) {
        self.index.constants.push(rec);
    }

    pub fn add_enum(&mut self, rec: EnumRec) {
        self.index.enums.push(rec);
    }

    pub fn add_symbol(&mut self, rec: SymbolRec, data: Option<Vec<u8>>) {
        if let Some(d) = data {
            self.index.constant_data.push((rec.name, d));
        }
        self.index.symbols.push(rec);
    }

    /// Sorts every table, keeps the last of duplicate names (as JSON readers do), lifts
    /// the fields of anonymous members into their parents (as Volatility's format 6.2
    /// reader does) and returns the finished index, or why it could not.
    pub fn finish(mut self) -> Result<Index, String> {
        let mut idx = std::mem::take(&mut self.index);
        self.interned = HashMap::new();
        self.nodes = HashMap::new();
        idx.strings.shrink_to_fit();
        idx.types.shrink_to_fit();
        let too_many = || "more than 2^32 fields or enum constants".to_owned();

        sort_dedup(&idx.strings, &mut idx.base_types, |r| r.name);
        sort_dedup(&idx.strings, &mut idx.symbols, |r| r.name);
        sort_dedup(&idx.strings, &mut idx.constant_data, |r| r.0);

        // Enums: constants sorted per enum.
        sort_dedup(&idx.strings, &mut idx.enums, |r| r.name);
        let mut constants = Vec::with_capacity(idx.constants.len());
        for e in &mut idx.enums {
            let first = e.first as usize;
            let mut group: Vec<ConstRec> = idx
                .constants
                .get(first..first.saturating_add(e.count as usize))
                .unwrap_or(&[])
                .to_vec();
            sort_dedup(&idx.strings, &mut group, |c| c.name);
            e.first = u32::try_from(constants.len()).map_err(|_| too_many())?;
            e.count = u32::try_from(group.len()).map_err(|_| too_many())?;
            constants.extend(group);
        }
        idx.constants = constants;

        // User types: direct fields (sorted, de-duplicated), then the lifted members of
        // anonymous ones, within a budget so that hostile nesting cannot blow up.
        sort_dedup(&idx.strings, &mut idx.user_types, |r| r.name);
        let raw = std::mem::take(&mut self.raw_fields);
        let direct: Vec<Vec<FieldRec>> = idx
            .user_types
            .iter()
            .map(|u| {
                let first = u.first as usize;
                let mut v = raw
                    .get(first..first.saturating_add(u.count as usize))
                    .unwrap_or(&[])
                    .to_vec();
                sort_dedup(&idx.strings, &mut v, |f| f.name);
                v
            })
            .collect();
        drop(raw);
        let budget_total = direct
            .iter()
            .map(Vec::len)
            .sum::<usize>()
            .saturating_mul(4)
            .max(1 << 20);
        let mut fields = Vec::with_capacity(direct.len());
        let mut total = 0usize;
        for (u, own) in idx.user_types.iter().zip(&direct) {
            let mut all = own.clone();
            let mut lifted = Vec::new();
            let mut budget = MAX_LIFTED;
            for f in own.iter().filter(|f| f.anonymous) {
                lift(&idx, &direct, f, 0, &mut budget, &mut lifted);
            }
            if !lifted.is_empty() {
                let mut names: HashSet<&str> = own.iter().map(|f| idx.str(f.name)).collect();
                all.extend(lifted.into_iter().filter(|l| names.insert(idx.str(l.name))));
                sort_dedup(&idx.strings, &mut all, |f| f.name);
            }
            total = total.saturating_add(all.len());
            if total > budget_total {
                return Err(format!(
                    "anonymous members of `{}` and others expand to more than {budget_total} fields",
                    idx.str(u.name)
                ));
            }
            fields.push(all);
        }
        let mut flat = Vec::with_capacity(fields.iter().map(Vec::len).sum());
        for (u, f) in idx.user_types.iter_mut().zip(fields) {
            u.first = u32::try_from(flat.len()).map_err(|_| too_many())?;
            u.count = u32::try_from(f.len()).map_err(|_| too_many())?;
            flat.extend(f);
        }
        idx.fields = flat;
        Ok(idx)
    }
}

/// At most this many members are lifted into one type (or visited while lifting).
const MAX_LIFTED: usize = 1 << 16;

/// Appends to `out` the members of the anonymous struct/union that field `f` holds, with
/// offsets made relative to the outer type, recursing into nested anonymous members.
fn lift(
    idx: &Index,
    direct: &[Vec<FieldRec>],
    f: &FieldRec,
    depth: u32,
    budget: &mut usize,
    out: &mut Vec<FieldRec>,
) {
    if depth >= MAX_ANON_DEPTH {
        return;
    }
    let name = match idx.node(f.ty) {
        Some(Node::Struct(n) | Node::Union(n) | Node::Class(n)) => idx.str(n),
        _ => return,
    };
    let Ok(i) = idx
        .user_types
        .binary_search_by(|u| idx.str(u.name).cmp(name))
    else {
        return;
    };
    for m in direct.get(i).map_or(&[][..], Vec::as_slice) {
        if *budget == 0 {
            return;
        }
        *budget -= 1;
        let Some(offset) = f.offset.checked_add(m.offset) else {
            continue;
        };
        let moved = FieldRec {
            offset,
            lifted: true,
            ..*m
        };
        if m.anonymous {
            lift(idx, direct, &moved, depth + 1, budget, out);
        } else {
            out.push(moved);
        }
    }
}

/// Sorts `v` by name (stable) and keeps the last record of each run of equal names.
fn sort_dedup<T>(strings: &str, v: &mut Vec<T>, key: impl Fn(&T) -> Str) {
    let text = |s: Str| {
        let start = s.start as usize;
        strings
            .get(start..start.saturating_add(s.len as usize))
            .unwrap_or("")
    };
    v.sort_by(|a, b| text(key(a)).cmp(text(key(b))));
    // Keep the last of equal runs: reverse, dedup keeping the first, reverse back.
    v.reverse();
    v.dedup_by(|a, b| text(key(a)) == text(key(b)));
    v.reverse();
}
