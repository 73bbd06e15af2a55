//! A BTF blob writer for tests: every kind of the format by hand ([`BtfWriter`]), and the
//! encoding of an ISF's types as BTF ([`btf_from_isf`]) so a synthetic kernel can carry its
//! own type information in memory, as real kernels built with CONFIG_DEBUG_INFO_BTF do.

use std::collections::BTreeMap;

use serde_json::Value;

/// BTF kinds.
pub mod kind {
    pub const INT: u32 = 1;
    pub const PTR: u32 = 2;
    pub const ARRAY: u32 = 3;
    pub const STRUCT: u32 = 4;
    pub const UNION: u32 = 5;
    pub const ENUM: u32 = 6;
    pub const FWD: u32 = 7;
    pub const TYPEDEF: u32 = 8;
    pub const VOLATILE: u32 = 9;
    pub const CONST: u32 = 10;
    pub const RESTRICT: u32 = 11;
    pub const FUNC: u32 = 12;
    pub const FUNC_PROTO: u32 = 13;
    pub const VAR: u32 = 14;
    pub const DATASEC: u32 = 15;
    pub const FLOAT: u32 = 16;
    pub const DECL_TAG: u32 = 17;
    pub const TYPE_TAG: u32 = 18;
    pub const ENUM64: u32 = 19;
}

/// Builds a BTF blob type by type; ids start at 1.
#[derive(Default)]
pub struct BtfWriter {
    types: Vec<u8>,
    strings: Vec<u8>,
    names: BTreeMap<String, u32>,
    count: u32,
    /// Write big-endian instead of little-endian.
    pub big_endian: bool,
}

impl BtfWriter {
    pub fn new() -> BtfWriter {
        let mut w = BtfWriter::default();
        w.strings.push(0);
        w
    }

    fn str(&mut self, s: &str) -> u32 {
        if s.is_empty() {
            return 0;
        }
        if let Some(o) = self.names.get(s) {
            return *o;
        }
        let o = self.strings.len() as u32;
        self.strings.extend_from_slice(s.as_bytes());
        self.strings.push(0);
        self.names.insert(s.to_string(), o);
        o
    }

    fn u32(&mut self, v: u32) {
        if self.big_endian {
            self.types.extend(v.to_be_bytes());
        } else {
            self.types.extend(v.to_le_bytes());
        }
    }

    /// A type record header; returns the new id.
    pub fn head(&mut self, name: &str, kind: u32, vlen: u32, flag: bool, size_or_type: u32) -> u32 {
        let n = self.str(name);
        self.u32(n);
        self.u32((u32::from(flag) << 31) | (kind << 24) | vlen);
        self.u32(size_or_type);
        self.count += 1;
        self.count
    }

    pub fn int(&mut self, name: &str, size: u32, encoding: u32) -> u32 {
        let id = self.head(name, kind::INT, 0, false, size);
        self.u32((encoding << 24) | (size * 8));
        id
    }

    pub fn ptr(&mut self, to: u32) -> u32 {
        self.head("", kind::PTR, 0, false, to)
    }

    pub fn array(&mut self, elem: u32, index: u32, count: u32) -> u32 {
        let id = self.head("", kind::ARRAY, 0, false, 0);
        self.u32(elem);
        self.u32(index);
        self.u32(count);
        id
    }

    /// A struct (or union); members are (name, type, bit offset, bitfield width or 0).
    pub fn composite(
        &mut self,
        name: &str,
        union: bool,
        size: u32,
        members: &[(&str, u32, u32, u32)],
    ) -> u32 {
        let flag = members.iter().any(|m| m.3 != 0);
        let k = if union { kind::UNION } else { kind::STRUCT };
        let id = self.head(name, k, members.len() as u32, flag, size);
        for (n, ty, bit, width) in members {
            let n = self.str(n);
            self.u32(n);
            self.u32(*ty);
            self.u32(if flag { (width << 24) | bit } else { *bit });
        }
        id
    }

    pub fn enum32(&mut self, name: &str, size: u32, signed: bool, values: &[(&str, i32)]) -> u32 {
        let id = self.head(name, kind::ENUM, values.len() as u32, signed, size);
        for (n, v) in values {
            let n = self.str(n);
            self.u32(n);
            self.u32(*v as u32);
        }
        id
    }

    pub fn enum64(&mut self, name: &str, signed: bool, values: &[(&str, i64)]) -> u32 {
        let id = self.head(name, kind::ENUM64, values.len() as u32, signed, 8);
        for (n, v) in values {
            let n = self.str(n);
            self.u32(n);
            self.u32(*v as u64 as u32);
            self.u32((*v as u64 >> 32) as u32);
        }
        id
    }

    /// TYPEDEF, VOLATILE, CONST, RESTRICT, TYPE_TAG, FWD (to = 0), PTR: a type reference.
    pub fn refer(&mut self, name: &str, kind: u32, to: u32) -> u32 {
        self.head(name, kind, 0, false, to)
    }

    pub fn func_proto(&mut self, ret: u32, params: &[(&str, u32)]) -> u32 {
        let id = self.head("", kind::FUNC_PROTO, params.len() as u32, false, ret);
        for (n, ty) in params {
            let n = self.str(n);
            self.u32(n);
            self.u32(*ty);
        }
        id
    }

    pub fn var(&mut self, name: &str, ty: u32) -> u32 {
        let id = self.head(name, kind::VAR, 0, false, ty);
        self.u32(1);
        id
    }

    pub fn datasec(&mut self, name: &str, vars: &[(u32, u32, u32)]) -> u32 {
        let id = self.head(name, kind::DATASEC, vars.len() as u32, false, 0);
        for (ty, off, size) in vars {
            self.u32(*ty);
            self.u32(*off);
            self.u32(*size);
        }
        id
    }

    pub fn decl_tag(&mut self, name: &str, to: u32, component: i32) -> u32 {
        let id = self.head(name, kind::DECL_TAG, 0, false, to);
        self.u32(component as u32);
        id
    }

    /// The blob: header, types, strings.
    pub fn finish(&self) -> Vec<u8> {
        let mut out = Vec::new();
        let put = |out: &mut Vec<u8>, v: u32| {
            if self.big_endian {
                out.extend(v.to_be_bytes())
            } else {
                out.extend(v.to_le_bytes())
            }
        };
        if self.big_endian {
            out.extend([0xeb, 0x9f]);
        } else {
            out.extend([0x9f, 0xeb]);
        }
        out.extend([1, 0]);
        put(&mut out, 24);
        put(&mut out, 0);
        put(&mut out, self.types.len() as u32);
        put(&mut out, self.types.len() as u32);
        put(&mut out, self.strings.len() as u32);
        out.extend(&self.types);
        out.extend(&self.strings);
        out
    }
}

/// The types of an ISF (its `base_types`, `user_types` and `enums`) as a BTF blob, the way
/// pahole would encode the same C types: structs referenced but not defined become FWDs,
/// bitfields use kind_flag, enums wider than 32 bits ENUM64.
pub fn btf_from_isf(isf: &Value) -> Vec<u8> {
    let mut w = BtfWriter::new();
    // Ids are assigned up front so that types can refer to each other in any order: first
    // base types, then user types and enums, then the descriptors met in fields.
    let mut ids: BTreeMap<String, u32> = BTreeMap::new();
    let mut plan: Vec<String> = Vec::new();
    for name in isf["base_types"].as_object().unwrap().keys() {
        if name != "void" && name != "pointer" {
            plan.push(format!("base {name}"));
        }
    }
    for name in isf["user_types"].as_object().unwrap().keys() {
        plan.push(format!("user {name}"));
    }
    for name in isf["enums"].as_object().unwrap().keys() {
        plan.push(format!("enum {name}"));
    }
    for (i, p) in plan.iter().enumerate() {
        ids.insert(p.clone(), i as u32 + 1);
    }
    let mut extra: Vec<Vec<u8>> = Vec::new();
    let mut next = plan.len() as u32 + 1;
    // Descriptors become records after the planned ones (pointers, arrays, FWDs).
    let mut descr = |w: &mut BtfWriter, t: &Value, extra: &mut Vec<Vec<u8>>| -> u32 {
        describe(t, &ids, &mut next, extra, w)
    };
    let mut body = BtfWriter::new();
    body.big_endian = w.big_endian;
    for p in &plan {
        let (k, name) = p.split_once(' ').unwrap();
        match k {
            "base" => {
                let b = &isf["base_types"][name];
                let size = b["size"].as_u64().unwrap() as u32;
                if b["kind"] == "float" {
                    body.head(name, kind::FLOAT, 0, false, size);
                } else {
                    let enc = u32::from(b["signed"] == true)
                        | if b["kind"] == "char" { 2 } else { 0 }
                        | if b["kind"] == "bool" { 4 } else { 0 };
                    body.int(name, size, enc);
                }
            }
            "user" => {
                let u = &isf["user_types"][name];
                let fields = u["fields"].as_object().unwrap();
                let mut members = Vec::new();
                for (fname, f) in fields {
                    let off = f["offset"].as_u64().unwrap() as u32;
                    let t = &f["type"];
                    let (ty, bit, width) = if t["kind"] == "bitfield" {
                        let ty = descr(&mut body, &t["type"], &mut extra);
                        (
                            ty,
                            off * 8 + t["bit_position"].as_u64().unwrap() as u32,
                            t["bit_length"].as_u64().unwrap() as u32,
                        )
                    } else {
                        (descr(&mut body, t, &mut extra), off * 8, 0)
                    };
                    let n = if f["anonymous"] == true {
                        String::new()
                    } else {
                        fname.clone()
                    };
                    members.push((n, ty, bit, width));
                }
                let m: Vec<(&str, u32, u32, u32)> = members
                    .iter()
                    .map(|(n, a, b, c)| (n.as_str(), *a, *b, *c))
                    .collect();
                let size = u["size"].as_u64().unwrap() as u32;
                let own = if name.starts_with("unnamed_") {
                    ""
                } else {
                    name
                };
                body.composite(own, u["kind"] == "union", size, &m);
            }
            _ => {
                let e = &isf["enums"][name];
                let size = e["size"].as_u64().unwrap() as u32;
                let consts: Vec<(String, i64)> = e["constants"]
                    .as_object()
                    .unwrap()
                    .iter()
                    .map(|(k, v)| (k.clone(), v.as_i64().unwrap()))
                    .collect();
                let signed = consts.iter().any(|c| c.1 < 0);
                if size == 8 {
                    let c: Vec<(&str, i64)> =
                        consts.iter().map(|(k, v)| (k.as_str(), *v)).collect();
                    body.enum64(name, signed, &c);
                } else {
                    let c: Vec<(&str, i32)> = consts
                        .iter()
                        .map(|(k, v)| (k.as_str(), *v as i32))
                        .collect();
                    body.enum32(name, size, signed, &c);
                }
            }
        }
    }
    // The descriptors' records come after the planned ones, in id order.
    for rec in extra {
        body.types.extend(rec);
    }
    w.types = body.types;
    w.strings = body.strings;
    w.finish()
}

/// The id of a type descriptor, adding PTR/ARRAY/FWD/FUNC_PROTO records to `extra` as
/// needed (their strings go to `w`).
/// Appends one record to `extra` and returns its id.
fn record(
    w: &mut BtfWriter,
    next: &mut u32,
    extra: &mut Vec<Vec<u8>>,
    name: &str,
    (k, flag, st): (u32, bool, u32),
    tail: &[u32],
) -> u32 {
    let mut r = BtfWriter::new();
    r.big_endian = w.big_endian;
    let n = w.str(name);
    r.u32(n);
    r.u32((u32::from(flag) << 31) | (k << 24));
    r.u32(st);
    for v in tail {
        r.u32(*v);
    }
    extra.push(r.types);
    let id = *next;
    *next += 1;
    id
}

fn describe(
    t: &Value,
    ids: &BTreeMap<String, u32>,
    next: &mut u32,
    extra: &mut Vec<Vec<u8>>,
    w: &mut BtfWriter,
) -> u32 {
    let name = t["name"].as_str().unwrap_or("");
    match t["kind"].as_str().unwrap() {
        "base" if name == "void" => 0,
        "base" => ids[&format!("base {name}")],
        "struct" | "union" | "class" => match ids.get(&format!("user {name}")) {
            Some(id) => *id,
            None => record(
                w,
                next,
                extra,
                name,
                (kind::FWD, t["kind"] == "union", 0),
                &[],
            ),
        },
        "enum" => ids[&format!("enum {name}")],
        "pointer" => {
            let sub = describe(&t["subtype"], ids, next, extra, w);
            record(w, next, extra, "", (kind::PTR, false, sub), &[])
        }
        "array" => {
            let sub = describe(&t["subtype"], ids, next, extra, w);
            let int = ids
                .get("base unsigned int")
                .or(ids.get("base int"))
                .copied()
                .unwrap_or(0);
            let count = t["count"].as_u64().unwrap() as u32;
            record(
                w,
                next,
                extra,
                "",
                (kind::ARRAY, false, 0),
                &[sub, int, count],
            )
        }
        "function" => record(w, next, extra, "", (kind::FUNC_PROTO, false, 0), &[]),
        other => panic!("descriptor kind {other}"),
    }
}
