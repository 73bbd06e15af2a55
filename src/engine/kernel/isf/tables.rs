//! The tables behind an [`Isf`](super::Isf): an index built in memory (parsed from JSON, or
//! made from a dump's BTF or a vmlinux's DWARF) or a cache file used in place
//! ([`Mapped`]). Lookups answer the same either way; records are returned by value.

use std::borrow::Cow;
use std::sync::Arc;

use super::index::{BaseRec, EnumRec, FieldRec, Index, Node, Str, SymbolRec, UserRec};
use super::mapped::Mapped;

/// An ISF's tables.
#[derive(Debug, Clone)]
pub(crate) enum Tables {
    /// Built in memory.
    Owned(Box<Index>),
    /// A cache file, mapped.
    Mapped(Arc<Mapped>),
}

impl Tables {
    /// The text of a name.
    pub fn str(&self, s: Str) -> &str {
        match self {
            Tables::Owned(i) => i.str(s),
            Tables::Mapped(m) => m.str(s),
        }
    }

    /// `metadata.format`, the producer's name and version.
    pub fn meta(&self) -> (&str, &str, &str) {
        let [f, p, v] = match self {
            Tables::Owned(i) => [i.format, i.producer, i.producer_version],
            Tables::Mapped(m) => m.meta(),
        };
        (self.str(f), self.str(p), self.str(v))
    }

    /// A struct, union or class by name.
    pub fn user_type(&self, name: &str) -> Option<UserRec> {
        match self {
            Tables::Owned(i) => i.user_type(name).copied(),
            Tables::Mapped(m) => m.user_type(name),
        }
    }

    /// A base type by name.
    pub fn base_type(&self, name: &str) -> Option<BaseRec> {
        match self {
            Tables::Owned(i) => i.base_type(name).copied(),
            Tables::Mapped(m) => m.base_type(name),
        }
    }

    /// An enumeration by name.
    pub fn enumeration(&self, name: &str) -> Option<EnumRec> {
        match self {
            Tables::Owned(i) => i.enumeration(name).copied(),
            Tables::Mapped(m) => m.enumeration(name),
        }
    }

    /// A symbol by name.
    pub fn symbol(&self, name: &str) -> Option<SymbolRec> {
        match self {
            Tables::Owned(i) => i.symbol(name).copied(),
            Tables::Mapped(m) => m.symbol(name),
        }
    }

    /// The symbol with the lowest address above `address` (a linear scan of the table).
    pub fn next_symbol_after(&self, address: u64) -> Option<(&str, u64)> {
        match self {
            Tables::Owned(i) => i
                .symbols
                .iter()
                .filter(|r| r.address > address)
                .min_by_key(|r| r.address)
                .map(|r| (i.str(r.name), r.address)),
            Tables::Mapped(m) => m.next_symbol_after(address),
        }
    }

    /// A field of a struct or union by name.
    pub fn field(&self, struct_name: &str, field: &str) -> Option<FieldRec> {
        match self {
            Tables::Owned(i) => i.field(struct_name, field).copied(),
            Tables::Mapped(m) => m.field(struct_name, field),
        }
    }

    /// The names of a user type's fields, in table (name) order.
    pub fn field_names(&self, u: &UserRec) -> Vec<&str> {
        match self {
            Tables::Owned(i) => i.fields_of(u).iter().map(|f| i.str(f.name)).collect(),
            Tables::Mapped(m) => m.fields_of(u).iter().map(|f| m.str(f.name)).collect(),
        }
    }

    /// The value of constant `name` of an enumeration.
    pub fn enum_value(&self, e: &EnumRec, name: &str) -> Option<i64> {
        match self {
            Tables::Owned(i) => {
                let c = i.constants_of(e);
                let k = c.binary_search_by(|r| i.str(r.name).cmp(name)).ok()?;
                c.get(k).map(|r| r.value)
            }
            Tables::Mapped(m) => m.enum_value(e, name),
        }
    }

    /// The name of the first constant (by name order) of an enumeration with this value.
    pub fn enum_name(&self, e: &EnumRec, value: i64) -> Option<&str> {
        match self {
            Tables::Owned(i) => {
                let c = i.constants_of(e).iter().find(|r| r.value == value)?;
                Some(i.str(c.name))
            }
            Tables::Mapped(m) => {
                let c = m.constants_of(e).into_iter().find(|r| r.value == value)?;
                Some(m.str(c.name))
            }
        }
    }

    /// The bytes of a symbol's constant data.
    pub fn constant_data(&self, symbol: &str) -> Option<&[u8]> {
        match self {
            Tables::Owned(i) => i.constant_data(symbol),
            Tables::Mapped(m) => m.constant_data(symbol),
        }
    }

    /// Type node `id`.
    pub fn node(&self, id: u32) -> Option<Node> {
        match self {
            Tables::Owned(i) => i.node(id),
            Tables::Mapped(m) => m.node(id),
        }
    }

    /// Records in each table: base types, user types, enums, symbols.
    pub fn counts(&self) -> [usize; 4] {
        match self {
            Tables::Owned(i) => [
                i.base_types.len(),
                i.user_types.len(),
                i.enums.len(),
                i.symbols.len(),
            ],
            Tables::Mapped(m) => m.counts(),
        }
    }

    /// The names of all user types (sorted).
    pub fn user_type_names(&self) -> Box<dyn Iterator<Item = &str> + '_> {
        match self {
            Tables::Owned(i) => Box::new(i.user_types.iter().map(|u| i.str(u.name))),
            Tables::Mapped(m) => Box::new(m.user_type_names()),
        }
    }

    /// The whole index in memory (decoded from the map when mapped); `None` when a mapped
    /// file does not validate.
    pub fn index(&self) -> Option<Cow<'_, Index>> {
        match self {
            Tables::Owned(i) => Some(Cow::Borrowed(i)),
            Tables::Mapped(m) => m.decode().map(Cow::Owned),
        }
    }
}
