//! The layout part of the ISF reader: `user_types` (structs, unions and their fields) and
//! the recursive type descriptors that fields and symbols carry.

use std::fmt;

use serde::Deserialize;
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, Visitor};

use super::index::{FieldRec, MAX_TYPE_DEPTH, Node, Str, UserRec};
use super::json::{Intern, State, err};

// ----------------------------------------------------------------------------- user types

pub(crate) struct UserSeed<'s>(pub &'s mut State, pub Str);

#[derive(Deserialize)]
#[serde(field_identifier, rename_all = "snake_case")]
enum UserKey {
    Kind,
    Size,
    Fields,
    #[serde(other)]
    Other,
}

#[derive(Deserialize, Clone, Copy)]
#[serde(rename_all = "lowercase")]
enum UserKind {
    Struct,
    Union,
    Class,
}

impl<'de> DeserializeSeed<'de> for UserSeed<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, de: D) -> Result<(), D::Error> {
        de.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for UserSeed<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a user type object (kind, size, fields)")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let state = self.0;
        let (mut kind, mut size, mut fields) = (None, None, None);
        while let Some(key) = map.next_key::<UserKey>()? {
            match key {
                UserKey::Kind => kind = Some(map.next_value::<UserKind>()?),
                UserKey::Size => size = Some(map.next_value::<u64>()?),
                UserKey::Fields => {
                    if fields.is_some() {
                        return Err(err("duplicate key `fields`"));
                    }
                    let first = state.builder.field_mark();
                    map.next_value_seed(FieldsSeed(state))?;
                    fields = Some((first, state.builder.field_mark()));
                }
                UserKey::Other => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        let kind = kind.ok_or_else(|| de::Error::missing_field("kind"))?;
        let size = size.ok_or_else(|| de::Error::missing_field("size"))?;
        let (first, end) = fields.ok_or_else(|| de::Error::missing_field("fields"))?;
        let too_many = || err::<A::Error>("too many fields");
        let count = end.checked_sub(first).ok_or_else(too_many)?;
        state.builder.add_user(UserRec {
            name: self.1,
            size,
            kind: kind as u8,
            first: u32::try_from(first).map_err(|_| too_many())?,
            count: u32::try_from(count).map_err(|_| too_many())?,
        });
        Ok(())
    }
}

struct FieldsSeed<'s>(&'s mut State);

impl<'de> DeserializeSeed<'de> for FieldsSeed<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, de: D) -> Result<(), D::Error> {
        de.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for FieldsSeed<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an object of fields keyed by name")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(name) = map.next_key_seed(Intern(self.0))? {
            map.next_value_seed(FieldSeed(self.0, name))?;
        }
        Ok(())
    }
}

struct FieldSeed<'s>(&'s mut State, Str);

#[derive(Deserialize)]
#[serde(field_identifier, rename_all = "snake_case")]
enum FieldKey {
    Type,
    Offset,
    Anonymous,
    #[serde(other)]
    Other,
}

impl<'de> DeserializeSeed<'de> for FieldSeed<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, de: D) -> Result<(), D::Error> {
        de.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for FieldSeed<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a field object (type, offset)")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let (mut ty, mut offset, mut anonymous) = (None, None, false);
        while let Some(key) = map.next_key::<FieldKey>()? {
            match key {
                FieldKey::Type => ty = Some(map.next_value_seed(TypeSeed(self.0, 0))?),
                FieldKey::Offset => offset = Some(map.next_value::<u64>()?),
                FieldKey::Anonymous => anonymous = map.next_value::<bool>()?,
                FieldKey::Other => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        let name = self.0.builder_str(self.1);
        let ty = ty.ok_or_else(|| err::<A::Error>(format!("field `{name}` has no type")))?;
        let offset =
            offset.ok_or_else(|| err::<A::Error>(format!("field `{name}` has no offset")))?;
        self.0.builder.add_field(FieldRec {
            name: self.1,
            offset,
            ty,
            anonymous,
            lifted: false,
        });
        Ok(())
    }
}

impl State {
    /// The text of an interned string, for messages.
    fn builder_str(&self, s: Str) -> String {
        self.builder.text(s).to_owned()
    }
}

// ----------------------------------------------------------------------------- type descriptors

/// A type descriptor at nesting depth `.1`; yields its node id.
pub(crate) struct TypeSeed<'s>(pub &'s mut State, pub u32);

#[derive(Deserialize)]
#[serde(field_identifier, rename_all = "snake_case")]
enum TypeKey {
    Kind,
    Name,
    Subtype,
    Type,
    Count,
    BitPosition,
    BitLength,
    #[serde(other)]
    Other,
}

#[derive(Deserialize, Clone, Copy)]
#[serde(rename_all = "lowercase")]
enum TypeKind {
    Base,
    Struct,
    Union,
    Class,
    Enum,
    Function,
    Pointer,
    Array,
    Bitfield,
}

impl<'de> DeserializeSeed<'de> for TypeSeed<'_> {
    type Value = u32;
    fn deserialize<D: Deserializer<'de>>(self, de: D) -> Result<u32, D::Error> {
        if self.1 >= MAX_TYPE_DEPTH {
            return Err(err(format!(
                "type descriptor nested deeper than {MAX_TYPE_DEPTH} levels"
            )));
        }
        de.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for TypeSeed<'_> {
    type Value = u32;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a type descriptor object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<u32, A::Error> {
        let state = self.0;
        let depth = self.1;
        let (mut kind, mut name, mut sub, mut count, mut pos, mut len) =
            (None, None, None, None, None, None);
        while let Some(key) = map.next_key::<TypeKey>()? {
            match key {
                TypeKey::Kind => kind = Some(map.next_value::<TypeKind>()?),
                TypeKey::Name => name = Some(map.next_value_seed(Intern(state))?),
                TypeKey::Subtype | TypeKey::Type => {
                    sub = Some(map.next_value_seed(TypeSeed(state, depth + 1))?)
                }
                TypeKey::Count => count = Some(map.next_value::<u64>()?),
                TypeKey::BitPosition => pos = Some(map.next_value::<u32>()?),
                TypeKey::BitLength => len = Some(map.next_value::<u32>()?),
                TypeKey::Other => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        let kind = kind.ok_or_else(|| de::Error::missing_field("kind"))?;
        let name = || name.ok_or_else(|| de::Error::missing_field("name"));
        let subtype = || sub.ok_or_else(|| de::Error::missing_field("subtype"));
        let node = match kind {
            TypeKind::Base => Node::Base(name()?),
            TypeKind::Struct => Node::Struct(name()?),
            TypeKind::Union => Node::Union(name()?),
            TypeKind::Class => Node::Class(name()?),
            TypeKind::Enum => Node::Enum(name()?),
            TypeKind::Function => Node::Function,
            TypeKind::Pointer => Node::Pointer(subtype()?),
            TypeKind::Array => Node::Array {
                count: count.ok_or_else(|| de::Error::missing_field("count"))?,
                sub: subtype()?,
            },
            TypeKind::Bitfield => Node::Bitfield {
                position: pos.ok_or_else(|| de::Error::missing_field("bit_position"))?,
                length: len.ok_or_else(|| de::Error::missing_field("bit_length"))?,
                sub: sub.ok_or_else(|| de::Error::missing_field("type"))?,
            },
        };
        state
            .builder
            .node(node)
            .ok_or_else(|| err("too many distinct type descriptors"))
    }
}
