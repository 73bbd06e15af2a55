//! Writing an index as a Volatility 3 ISF, in dwarf2json's shape (format 6.2.0):
//! `metadata`, `base_types`, `user_types` (fields lifted from anonymous members are left
//! out: they are the reader's doing), `enums` and `symbols` (with `linux_banner`'s
//! `constant_data` in base64). The JSON is streamed from the index through `Serialize`
//! implementations, never built as a tree, so memory stays that of the index.

use serde::ser::{Serialize, SerializeMap, Serializer};

use super::index::{Index, NO_TYPE, Node};

/// An index ready to be serialised as an ISF.
pub(crate) struct IsfDocument<'a> {
    pub index: &'a Index,
    /// `(kind, file name, sha256 hex)` of each source, for `metadata.linux.symbols/types`.
    pub sources: &'a [(String, String, String)],
}

impl Serialize for IsfDocument<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(5))?;
        m.serialize_entry("metadata", &Metadata(self))?;
        m.serialize_entry("base_types", &BaseTypes(self.index))?;
        m.serialize_entry("user_types", &UserTypes(self.index))?;
        m.serialize_entry("enums", &Enums(self.index))?;
        m.serialize_entry("symbols", &Symbols(self.index))?;
        m.end()
    }
}

struct Metadata<'a, 'b>(&'a IsfDocument<'b>);

impl Serialize for Metadata<'_, '_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let i = self.0.index;
        let source = |kinds: &[&str]| -> Vec<serde_json::Value> {
            self.0
                .sources
                .iter()
                .filter(|(k, _, _)| kinds.contains(&k.as_str()))
                .map(|(kind, name, hash)| {
                    serde_json::json!({"kind": kind, "name": name, "hash_type": "sha256",
                                       "hash_value": hash})
                })
                .collect()
        };
        let mut m = s.serialize_map(Some(3))?;
        m.serialize_entry(
            "linux",
            &serde_json::json!({
                "symbols": source(&["dwarf", "symtab", "system-map", "kallsyms"]),
                "types": source(&["dwarf", "btf"]),
            }),
        )?;
        m.serialize_entry(
            "producer",
            &serde_json::json!({"name": i.str(i.producer), "version": i.str(i.producer_version)}),
        )?;
        m.serialize_entry("format", "6.2.0")?;
        m.end()
    }
}

struct BaseTypes<'a>(&'a Index);

impl Serialize for BaseTypes<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let i = self.0;
        let mut m = s.serialize_map(Some(i.base_types.len()))?;
        for b in &i.base_types {
            let kind = match b.kind {
                0 => "void",
                2 => "float",
                3 => "char",
                4 => "bool",
                _ => "int",
            };
            m.serialize_entry(
                i.str(b.name),
                &serde_json::json!({"size": b.size, "signed": b.signed, "kind": kind,
                                    "endian": if b.little_endian { "little" } else { "big" }}),
            )?;
        }
        m.end()
    }
}

struct UserTypes<'a>(&'a Index);

impl Serialize for UserTypes<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let i = self.0;
        let mut m = s.serialize_map(Some(i.user_types.len()))?;
        for u in &i.user_types {
            m.serialize_entry(i.str(u.name), &User(i, u))?;
        }
        m.end()
    }
}

struct User<'a>(&'a Index, &'a super::index::UserRec);

impl Serialize for User<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let (i, u) = (self.0, self.1);
        let mut m = s.serialize_map(Some(3))?;
        m.serialize_entry("size", &u.size)?;
        m.serialize_entry("fields", &Fields(i, u))?;
        let kind = match u.kind {
            1 => "union",
            2 => "class",
            _ => "struct",
        };
        m.serialize_entry("kind", kind)?;
        m.end()
    }
}

struct Fields<'a>(&'a Index, &'a super::index::UserRec);

impl Serialize for Fields<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let i = self.0;
        let own: Vec<_> = i.fields_of(self.1).iter().filter(|f| !f.lifted).collect();
        let mut m = s.serialize_map(Some(own.len()))?;
        for f in own {
            m.serialize_entry(i.str(f.name), &FieldOut(i, f))?;
        }
        m.end()
    }
}

struct FieldOut<'a>(&'a Index, &'a super::index::FieldRec);

impl Serialize for FieldOut<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let (i, f) = (self.0, self.1);
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("type", &TypeOut(i, f.ty, 0))?;
        m.serialize_entry("offset", &f.offset)?;
        if f.anonymous {
            m.serialize_entry("anonymous", &true)?;
        }
        m.end()
    }
}

/// A type descriptor (depth-bounded as the index is).
struct TypeOut<'a>(&'a Index, u32, u32);

impl Serialize for TypeOut<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let (i, id, depth) = (self.0, self.1, self.2);
        let mut m = s.serialize_map(None)?;
        let node = if depth > super::index::MAX_TYPE_DEPTH {
            None
        } else {
            i.node(id)
        };
        match node {
            None => {
                m.serialize_entry("kind", "base")?;
                m.serialize_entry("name", "void")?;
            }
            Some(Node::Base(n)) => named(&mut m, "base", i.str(n))?,
            Some(Node::Struct(n)) => named(&mut m, "struct", i.str(n))?,
            Some(Node::Class(n)) => named(&mut m, "class", i.str(n))?,
            Some(Node::Union(n)) => named(&mut m, "union", i.str(n))?,
            Some(Node::Enum(n)) => named(&mut m, "enum", i.str(n))?,
            Some(Node::Function) => m.serialize_entry("kind", "function")?,
            Some(Node::Pointer(sub)) => {
                m.serialize_entry("kind", "pointer")?;
                m.serialize_entry("subtype", &TypeOut(i, sub, depth + 1))?;
            }
            Some(Node::Array { count, sub }) => {
                m.serialize_entry("count", &count)?;
                m.serialize_entry("kind", "array")?;
                m.serialize_entry("subtype", &TypeOut(i, sub, depth + 1))?;
            }
            Some(Node::Bitfield {
                position,
                length,
                sub,
            }) => {
                m.serialize_entry("bit_length", &length)?;
                m.serialize_entry("bit_position", &position)?;
                m.serialize_entry("kind", "bitfield")?;
                m.serialize_entry("type", &TypeOut(i, sub, depth + 1))?;
            }
        }
        m.end()
    }
}

fn named<M: SerializeMap>(m: &mut M, kind: &str, name: &str) -> Result<(), M::Error> {
    m.serialize_entry("kind", kind)?;
    m.serialize_entry("name", name)
}

struct Enums<'a>(&'a Index);

impl Serialize for Enums<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let i = self.0;
        let mut m = s.serialize_map(Some(i.enums.len()))?;
        for e in &i.enums {
            m.serialize_entry(i.str(e.name), &EnumOut(i, e))?;
        }
        m.end()
    }
}

struct EnumOut<'a>(&'a Index, &'a super::index::EnumRec);

impl Serialize for EnumOut<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let (i, e) = (self.0, self.1);
        let mut m = s.serialize_map(Some(3))?;
        m.serialize_entry("size", &e.size)?;
        m.serialize_entry("base", i.str(e.base))?;
        let consts: serde_json::Map<String, serde_json::Value> = i
            .constants_of(e)
            .iter()
            .map(|c| (i.str(c.name).to_owned(), c.value.into()))
            .collect();
        m.serialize_entry("constants", &consts)?;
        m.end()
    }
}

struct Symbols<'a>(&'a Index);

impl Serialize for Symbols<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let i = self.0;
        let mut m = s.serialize_map(Some(i.symbols.len()))?;
        for sym in &i.symbols {
            m.serialize_entry(i.str(sym.name), &SymbolOut(i, sym))?;
        }
        m.end()
    }
}

struct SymbolOut<'a>(&'a Index, &'a super::index::SymbolRec);

impl Serialize for SymbolOut<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let (i, sym) = (self.0, self.1);
        let mut m = s.serialize_map(None)?;
        if sym.ty != NO_TYPE {
            m.serialize_entry("type", &TypeOut(i, sym.ty, 0))?;
        }
        m.serialize_entry("address", &sym.address)?;
        if let Some(data) = i.constant_data(i.str(sym.name)) {
            m.serialize_entry("constant_data", &base64(data))?;
        }
        m.end()
    }
}

/// Standard base64 with padding (what dwarf2json writes for `constant_data`).
fn base64(data: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let [b0, b1, b2] = [0, 1, 2].map(|k| chunk.get(k).copied().unwrap_or(0));
        let n = (u32::from(b0) << 16) | (u32::from(b1) << 8) | u32::from(b2);
        for k in 0..4 {
            if k <= chunk.len() {
                let idx = (n >> (18 - 6 * k)) & 63;
                out.push(char::from(
                    ALPHABET.get(idx as usize).copied().unwrap_or(b'A'),
                ));
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::base64;

    #[test]
    fn base64_pads() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
        assert_eq!(base64(b"Linux\n\0"), "TGludXgKAA==");
    }
}
