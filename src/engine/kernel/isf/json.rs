//! Streaming reader of ISF JSON: serde seeds that feed a [`Builder`] directly, so the
//! document is never held as a tree and no name is allocated twice (each is interned as it
//! is read). Works over any serde_json deserializer (a slice or a decompressing reader).
//!
//! The format is Volatility 3's intermediate symbol format as dwarf2json writes it
//! (schema 6.x): `metadata`, `base_types`, `user_types`, `enums`, `symbols`, each an object
//! keyed by name. Object keys may come in any order; unknown keys are skipped.

use std::fmt;

use serde::Deserialize;
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, Visitor};

use super::index::{BaseRec, Builder, ConstRec, EnumRec, NO_TYPE, Str, SymbolRec};
use super::json_types::{TypeSeed, UserSeed};

/// What the top level held, for the caller's checks once parsing is done.
#[derive(Debug, Default)]
pub(crate) struct TopInfo {
    /// `metadata.format`, e.g. "6.2.0".
    pub format: Option<String>,
    /// Which of metadata, base_types, user_types, enums, symbols were present.
    pub sections: [bool; 5],
}

/// The names of the five required top-level sections, in [`TopInfo::sections`] order.
pub(crate) const SECTIONS: [&str; 5] = ["metadata", "base_types", "user_types", "enums", "symbols"];

/// Where the parser is, for error messages ("user_types.task_struct: ...").
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Context {
    pub section: &'static str,
    pub entry: Option<Str>,
}

/// The parser's state: the builder and the context of the entry being read.
pub(crate) struct State {
    pub builder: Builder,
    pub context: Context,
}

/// Parses a whole ISF document from `de` into `state`.
pub(crate) fn parse_document<'de, D: Deserializer<'de>>(
    de: D,
    state: &mut State,
) -> Result<TopInfo, D::Error> {
    de.deserialize_map(TopVisitor(state))
}

pub(crate) fn err<E: de::Error>(msg: impl fmt::Display) -> E {
    E::custom(msg)
}

struct TopVisitor<'s>(&'s mut State);

impl<'de> Visitor<'de> for TopVisitor<'_> {
    type Value = TopInfo;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an ISF object with metadata, base_types, user_types, enums and symbols")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<TopInfo, A::Error> {
        let mut info = TopInfo::default();
        while let Some(key) = map.next_key::<TopKey>()? {
            let state = &mut *self.0;
            state.context = Context::default();
            match key {
                TopKey::Metadata => {
                    state.context.section = "metadata";
                    info.format = map.next_value_seed(MetaSeed(state))?;
                    info.sections[0] = true;
                }
                TopKey::BaseTypes => {
                    state.context.section = "base_types";
                    map.next_value_seed(Section(state, Kind::Base))?;
                    info.sections[1] = true;
                }
                TopKey::UserTypes => {
                    state.context.section = "user_types";
                    map.next_value_seed(Section(state, Kind::User))?;
                    info.sections[2] = true;
                }
                TopKey::Enums => {
                    state.context.section = "enums";
                    map.next_value_seed(Section(state, Kind::Enum))?;
                    info.sections[3] = true;
                }
                TopKey::Symbols => {
                    state.context.section = "symbols";
                    map.next_value_seed(Section(state, Kind::Symbol))?;
                    info.sections[4] = true;
                }
                TopKey::Other => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        self.0.context = Context::default();
        Ok(info)
    }
}

#[derive(Deserialize)]
#[serde(field_identifier, rename_all = "snake_case")]
enum TopKey {
    Metadata,
    BaseTypes,
    UserTypes,
    Enums,
    Symbols,
    #[serde(other)]
    Other,
}

/// Interns a JSON string.
pub(crate) struct Intern<'s>(pub &'s mut State);

impl<'de> DeserializeSeed<'de> for Intern<'_> {
    type Value = Str;
    fn deserialize<D: Deserializer<'de>>(self, de: D) -> Result<Str, D::Error> {
        de.deserialize_str(self)
    }
}

impl Visitor<'_> for Intern<'_> {
    type Value = Str;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a string")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Str, E> {
        self.0
            .builder
            .intern(v)
            .ok_or_else(|| err("more than 4 GiB of names"))
    }
}

// ----------------------------------------------------------------------------- metadata

struct MetaSeed<'s>(&'s mut State);

#[derive(Deserialize, Default)]
struct Producer {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    version: Option<String>,
}

#[derive(Deserialize)]
#[serde(field_identifier, rename_all = "snake_case")]
enum MetaKey {
    Format,
    Producer,
    #[serde(other)]
    Other,
}

impl<'de> DeserializeSeed<'de> for MetaSeed<'_> {
    type Value = Option<String>;
    fn deserialize<D: Deserializer<'de>>(self, de: D) -> Result<Self::Value, D::Error> {
        de.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for MetaSeed<'_> {
    type Value = Option<String>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("the metadata object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut format = None;
        let mut producer = Producer::default();
        while let Some(key) = map.next_key::<MetaKey>()? {
            match key {
                MetaKey::Format => format = Some(map.next_value::<String>()?),
                MetaKey::Producer => producer = map.next_value()?,
                MetaKey::Other => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        let b = &mut self.0.builder;
        let too_big = || err::<A::Error>("metadata too large");
        let f = b
            .intern(format.as_deref().unwrap_or(""))
            .ok_or_else(too_big)?;
        let p = b
            .intern(producer.name.as_deref().unwrap_or(""))
            .ok_or_else(too_big)?;
        let v = b
            .intern(producer.version.as_deref().unwrap_or(""))
            .ok_or_else(too_big)?;
        b.set_metadata(f, p, v);
        Ok(format)
    }
}

// ----------------------------------------------------------------------------- sections

#[derive(Clone, Copy)]
enum Kind {
    Base,
    User,
    Enum,
    Symbol,
}

/// One of the four name-keyed sections.
struct Section<'s>(&'s mut State, Kind);

impl<'de> DeserializeSeed<'de> for Section<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, de: D) -> Result<(), D::Error> {
        de.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for Section<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an object keyed by name")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let state = self.0;
        while let Some(name) = map.next_key_seed(Intern(state))? {
            state.context.entry = Some(name);
            match self.1 {
                Kind::Base => map.next_value_seed(BaseSeed(state, name))?,
                Kind::User => map.next_value_seed(UserSeed(state, name))?,
                Kind::Enum => map.next_value_seed(EnumSeed(state, name))?,
                Kind::Symbol => map.next_value_seed(SymbolSeed(state, name))?,
            }
        }
        state.context.entry = None;
        Ok(())
    }
}

// ----------------------------------------------------------------------------- base types

struct BaseSeed<'s>(&'s mut State, Str);

#[derive(Deserialize)]
struct BaseJson {
    size: u64,
    signed: bool,
    kind: BaseKind,
    endian: Endian,
}

#[derive(Deserialize, Clone, Copy)]
#[serde(rename_all = "lowercase")]
enum BaseKind {
    Void,
    Int,
    Float,
    Char,
    Bool,
}

#[derive(Deserialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
enum Endian {
    Little,
    Big,
}

impl<'de> DeserializeSeed<'de> for BaseSeed<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, de: D) -> Result<(), D::Error> {
        let j = BaseJson::deserialize(de)?;
        self.0.builder.add_base(BaseRec {
            name: self.1,
            size: j.size,
            kind: j.kind as u8,
            signed: j.signed,
            little_endian: j.endian == Endian::Little,
        });
        Ok(())
    }
}

// ----------------------------------------------------------------------------- enums

struct EnumSeed<'s>(&'s mut State, Str);

#[derive(Deserialize)]
#[serde(field_identifier, rename_all = "snake_case")]
enum EnumKey {
    Size,
    Base,
    Constants,
    #[serde(other)]
    Other,
}

impl<'de> DeserializeSeed<'de> for EnumSeed<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, de: D) -> Result<(), D::Error> {
        de.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for EnumSeed<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an enum object (size, base, constants)")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let state = self.0;
        let (mut size, mut base, mut consts) = (None, None, None);
        while let Some(key) = map.next_key::<EnumKey>()? {
            match key {
                EnumKey::Size => size = Some(map.next_value::<u64>()?),
                EnumKey::Base => base = Some(map.next_value_seed(Intern(state))?),
                EnumKey::Constants => {
                    if consts.is_some() {
                        return Err(err("duplicate key `constants`"));
                    }
                    let first = state.builder.const_mark();
                    map.next_value_seed(ConstantsSeed(state))?;
                    consts = Some((first, state.builder.const_mark()));
                }
                EnumKey::Other => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        let size = size.ok_or_else(|| de::Error::missing_field("size"))?;
        let base = base.ok_or_else(|| de::Error::missing_field("base"))?;
        let (first, end) = consts.ok_or_else(|| de::Error::missing_field("constants"))?;
        let too_many = || err::<A::Error>("too many enum constants");
        state.builder.add_enum(EnumRec {
            name: self.1,
            size,
            base,
            first: u32::try_from(first).map_err(|_| too_many())?,
            count: u32::try_from(end.saturating_sub(first)).map_err(|_| too_many())?,
        });
        Ok(())
    }
}

struct ConstantsSeed<'s>(&'s mut State);

impl<'de> DeserializeSeed<'de> for ConstantsSeed<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, de: D) -> Result<(), D::Error> {
        de.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for ConstantsSeed<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an object of integer constants")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(name) = map.next_key_seed(Intern(self.0))? {
            let value = map.next_value::<EnumValue>()?.0;
            self.0.builder.add_const(ConstRec { name, value });
        }
        Ok(())
    }
}

/// An enum constant: any integer from `i64::MIN` to `u64::MAX`; values above `i64::MAX`
/// keep their 64-bit pattern (as the kernel stores them in an 8-byte enum).
struct EnumValue(i64);

impl<'de> Deserialize<'de> for EnumValue {
    fn deserialize<D: Deserializer<'de>>(de: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = EnumValue;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an integer between -2^63 and 2^64-1")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<EnumValue, E> {
                Ok(EnumValue(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<EnumValue, E> {
                Ok(EnumValue(i64::from_ne_bytes(v.to_ne_bytes())))
            }
        }
        de.deserialize_i64(V)
    }
}

// ----------------------------------------------------------------------------- symbols

struct SymbolSeed<'s>(&'s mut State, Str);

#[derive(Deserialize)]
#[serde(field_identifier, rename_all = "snake_case")]
enum SymbolKey {
    Address,
    Type,
    ConstantData,
    #[serde(other)]
    Other,
}

impl<'de> DeserializeSeed<'de> for SymbolSeed<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, de: D) -> Result<(), D::Error> {
        de.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for SymbolSeed<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a symbol object (address, type)")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let state = self.0;
        let (mut address, mut ty, mut data) = (None, NO_TYPE, None);
        while let Some(key) = map.next_key::<SymbolKey>()? {
            match key {
                SymbolKey::Address => address = Some(map.next_value::<u64>()?),
                SymbolKey::Type => ty = map.next_value_seed(TypeSeed(state, 0))?,
                SymbolKey::ConstantData => {
                    let text = map.next_value::<std::borrow::Cow<'_, str>>()?;
                    let bytes = super::read::base64_decode(&text)
                        .ok_or_else(|| err::<A::Error>("constant_data is not valid base64"))?;
                    data = Some(bytes);
                }
                SymbolKey::Other => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        let address = address.ok_or_else(|| de::Error::missing_field("address"))?;
        state.builder.add_symbol(
            SymbolRec {
                name: self.1,
                address,
                ty,
            },
            data,
        );
        Ok(())
    }
}
