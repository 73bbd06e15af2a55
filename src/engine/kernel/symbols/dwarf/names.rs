//! Names of anonymous types, equal to dwarf2json's: `unnamed_` and the first 8 bytes (16
//! hex digits) of the SHA-1 of the type's description as Go's `debug/dwarf` writes it
//! (`StructType.Defn()`, `EnumType.String()`), e.g. `struct {uid uint32_t@0; gid
//! uint32_t@4}`. The description names typedefs and named structs, spells out nested
//! anonymous types, enum constants, pointers (`*`), arrays (`[N]`), qualifiers and
//! function types (`func(int, *char) void`).

use std::borrow::Cow;
use std::rc::Rc;

use gimli::constants as dw;
use sha1::{Digest, Sha1};

use super::gotype::{GoField, MAX_WALK, T, UnitSet};

/// Longest description built (hostile nesting gives up rather than exhaust memory).
const MAX_STRING: usize = 4 << 20;

impl<'d> UnitSet<'d> {
    /// The name dwarf2json gives struct, union or class `t`: its own, else `unnamed_<hash>`.
    pub fn struct_name(&mut self, t: T) -> Option<Cow<'d, [u8]>> {
        if let Some(n) = self.attrs(t).and_then(|a| a.name).filter(|n| !n.is_empty()) {
            return Some(Cow::Borrowed(n));
        }
        let d = self.defn(t, 0)?;
        Some(Cow::Owned(unnamed(&d).into_bytes()))
    }

    /// The name dwarf2json gives enumeration `t`: its own, else `unnamed_<hash>`.
    pub fn enum_name(&mut self, t: T) -> Option<Cow<'d, [u8]>> {
        if let Some(n) = self.attrs(t).and_then(|a| a.name).filter(|n| !n.is_empty()) {
            return Some(Cow::Borrowed(n));
        }
        let s = self.enum_string(t)?;
        Some(Cow::Owned(unnamed(&s).into_bytes()))
    }

    /// Go's `StructType.Defn()` of `t` (memoised; `None` past the bounds or on a cycle).
    fn defn(&mut self, t: T, depth: u32) -> Option<Rc<[u8]>> {
        let T::Die(u, d) = t else { return None };
        if let Some(s) = self.strings.get(&(u, d)) {
            return (!s.is_empty()).then(|| s.clone());
        }
        // An empty entry marks "in progress" (and stays to mark a failure).
        self.strings.insert((u, d), Rc::from(&b""[..]));
        let s = self.build_defn(t, depth).map(Rc::<[u8]>::from);
        if let Some(s) = &s {
            self.strings.insert((u, d), s.clone());
        }
        s
    }

    fn build_defn(&mut self, t: T, depth: u32) -> Option<Vec<u8>> {
        let a = self.attrs(t)?;
        let (name, declaration) = (a.name.unwrap_or(b""), a.declaration);
        let mut out = Vec::new();
        out.extend_from_slice(kind_word(self.tag(t)).as_bytes());
        if !name.is_empty() {
            out.push(b' ');
            out.extend_from_slice(name);
        }
        if declaration {
            out.extend_from_slice(b" /*incomplete*/");
            return Some(out);
        }
        out.extend_from_slice(b" {");
        let fields = self.fields(t);
        for (i, f) in fields.iter().enumerate() {
            if i > 0 {
                out.extend_from_slice(b"; ");
            }
            out.extend_from_slice(f.name);
            out.push(b' ');
            self.write_field_type(&mut out, f, depth + 1)?;
            out.push(b'@');
            out.extend_from_slice(f.byte_offset.to_string().as_bytes());
            if f.bit_size > 0 {
                let bit = if f.bit_offset != 0 {
                    f.bit_offset
                } else {
                    f.data_bit_offset
                };
                out.extend_from_slice(format!(" : {}@{bit}", f.bit_size).as_bytes());
            }
            if out.len() > MAX_STRING {
                return None;
            }
        }
        out.push(b'}');
        Some(out)
    }

    /// The type of a field as its `Defn()` writes it (a fixed-up array counts 0).
    fn write_field_type(&mut self, out: &mut Vec<u8>, f: &GoField<'_>, depth: u32) -> Option<()> {
        if f.zeroed {
            out.extend_from_slice(b"[0]");
            self.write(out, f.ty, 1, depth)
        } else {
            self.write(out, f.ty, 0, depth)
        }
    }

    /// Go's `EnumType.String()` of `t` (memoised).
    fn enum_string(&mut self, t: T) -> Option<Rc<[u8]>> {
        let T::Die(u, d) = t else { return None };
        if let Some(s) = self.strings.get(&(u, d)) {
            return Some(s.clone());
        }
        let mut out = b"enum".to_vec();
        if let Some(n) = self.attrs(t).and_then(|a| a.name).filter(|n| !n.is_empty()) {
            out.push(b' ');
            out.extend_from_slice(n);
        }
        out.extend_from_slice(b" {");
        let mut first = true;
        for c in self.children(t) {
            if self.tag(c) != dw::DW_TAG_enumerator.0 {
                continue;
            }
            if !first {
                out.extend_from_slice(b"; ");
            }
            first = false;
            let a = self.attrs(c);
            out.extend_from_slice(a.and_then(|a| a.name).unwrap_or(b""));
            let v = a.and_then(|a| a.const_value).unwrap_or(0);
            out.extend_from_slice(format!("={v}").as_bytes());
            if out.len() > MAX_STRING {
                return None;
            }
        }
        out.push(b'}');
        let s: Rc<[u8]> = Rc::from(out);
        self.strings.insert((u, d), s.clone());
        Some(s)
    }

    /// Appends Go's `String()` of type `t` (for an array, of its dimensions from `level`).
    fn write(&mut self, out: &mut Vec<u8>, t: T, level: usize, depth: u32) -> Option<()> {
        if depth > MAX_WALK || out.len() > MAX_STRING {
            return None;
        }
        let tag = self.tag(t);
        let name = self.attrs(t).and_then(|a| a.name).unwrap_or(b"");
        match (t, dw::DwTag(tag)) {
            (T::Void, _) => out.extend_from_slice(b"void"),
            (T::Missing, _) => return None,
            (_, dw::DW_TAG_base_type | dw::DW_TAG_unspecified_type) => {
                let n = base_name(self, t);
                out.extend_from_slice(if n.is_empty() { b"?" } else { &n });
            }
            (_, dw::DW_TAG_pointer_type) => {
                out.push(b'*');
                self.write(out, self.target(t), 0, depth + 1)?;
            }
            (_, dw::DW_TAG_const_type | dw::DW_TAG_volatile_type | dw::DW_TAG_restrict_type) => {
                out.extend_from_slice(match dw::DwTag(tag) {
                    dw::DW_TAG_const_type => b"const ".as_slice(),
                    dw::DW_TAG_volatile_type => b"volatile ",
                    _ => b"restrict ",
                });
                self.write(out, self.target(t), 0, depth + 1)?;
            }
            (_, dw::DW_TAG_typedef) => out.extend_from_slice(name),
            (_, dw::DW_TAG_array_type) => {
                let dims = self.dims(t);
                match dims.get(level) {
                    Some(n) => {
                        out.extend_from_slice(format!("[{n}]").as_bytes());
                        self.write(out, t, level + 1, depth + 1)?;
                    }
                    None => self.write(out, self.target(t), 0, depth + 1)?,
                }
            }
            (_, dw::DW_TAG_structure_type | dw::DW_TAG_union_type | dw::DW_TAG_class_type) => {
                if name.is_empty() {
                    let d = self.defn(t, depth + 1)?;
                    out.extend_from_slice(&d);
                } else {
                    out.extend_from_slice(kind_word(tag).as_bytes());
                    out.push(b' ');
                    out.extend_from_slice(name);
                }
            }
            (_, dw::DW_TAG_enumeration_type) => {
                let s = self.enum_string(t)?;
                out.extend_from_slice(&s);
            }
            (_, dw::DW_TAG_subroutine_type) => {
                out.extend_from_slice(b"func(");
                let params: Vec<T> = self.children(t).collect();
                let mut first = true;
                for p in params {
                    let ptag = dw::DwTag(self.tag(p));
                    if ptag != dw::DW_TAG_formal_parameter
                        && ptag != dw::DW_TAG_unspecified_parameters
                    {
                        continue;
                    }
                    if !first {
                        out.extend_from_slice(b", ");
                    }
                    first = false;
                    if ptag == dw::DW_TAG_unspecified_parameters {
                        out.extend_from_slice(b"...");
                    } else {
                        self.write(out, self.target(p), 0, depth + 1)?;
                    }
                }
                out.extend_from_slice(b") ");
                self.write(out, self.target(t), 0, depth + 1)?;
            }
            _ => {
                out.extend_from_slice(name);
                if name.is_empty() {
                    out.extend_from_slice(b"(unsupported type ");
                    out.extend_from_slice(go_tag_name(tag).as_bytes());
                    out.push(b')');
                }
            }
        }
        Some(())
    }
}

/// `struct`, `union` or `class`.
pub(super) fn kind_word(tag: u16) -> &'static str {
    match dw::DwTag(tag) {
        dw::DW_TAG_union_type => "union",
        dw::DW_TAG_class_type => "class",
        _ => "struct",
    }
}

/// The name of a base type as Go reads it (clang's `complex` made `complex float` or
/// `complex double` by size).
pub(super) fn base_name<'d>(set: &UnitSet<'d>, t: T) -> Cow<'d, [u8]> {
    let a = set.attrs(t);
    let name = a.and_then(|a| a.name).unwrap_or(b"");
    if name == b"complex" && a.and_then(|a| a.encoding) == Some(3) {
        match a.and_then(|a| a.byte_size) {
            Some(8) => return Cow::Borrowed(b"complex float"),
            Some(16) => return Cow::Borrowed(b"complex double"),
            _ => {}
        }
    }
    Cow::Borrowed(name)
}

/// `unnamed_` and the first 8 bytes of the SHA-1 of `desc` in hex.
pub(super) fn unnamed(desc: &[u8]) -> String {
    let h = Sha1::digest(desc);
    let mut s = String::with_capacity(24);
    s.push_str("unnamed_");
    for b in h.iter().take(8) {
        s.push_str(&format!("{b:02x}"));
    }
    s
}

/// Go's name of a tag (`debug/dwarf`'s `Tag.String()`: the constant without `Tag`).
fn go_tag_name(tag: u16) -> String {
    const NAMES: [&str; 0x4b] = [
        "ArrayType",
        "ClassType",
        "EntryPoint",
        "EnumerationType",
        "FormalParameter",
        "",
        "",
        "ImportedDeclaration",
        "",
        "Label",
        "LexDwarfBlock",
        "",
        "Member",
        "",
        "PointerType",
        "ReferenceType",
        "CompileUnit",
        "StringType",
        "StructType",
        "",
        "SubroutineType",
        "TypedefType",
        "UnionType",
        "UnspecifiedParameters",
        "Variant",
        "CommonDwarfBlock",
        "CommonInclusion",
        "Inheritance",
        "InlinedSubroutine",
        "Module",
        "PtrToMemberType",
        "SetType",
        "SubrangeType",
        "WithStmt",
        "AccessDeclaration",
        "BaseType",
        "CatchDwarfBlock",
        "ConstType",
        "Constant",
        "Enumerator",
        "FileType",
        "Friend",
        "Namelist",
        "NamelistItem",
        "PackedType",
        "Subprogram",
        "TemplateTypeParameter",
        "TemplateValueParameter",
        "ThrownType",
        "TryDwarfBlock",
        "VariantPart",
        "Variable",
        "VolatileType",
        "DwarfProcedure",
        "RestrictType",
        "InterfaceType",
        "Namespace",
        "ImportedModule",
        "UnspecifiedType",
        "PartialUnit",
        "ImportedUnit",
        "Mutable",
        "Condition",
        "SharedType",
        "TypeUnit",
        "RvalueReferenceType",
        "TemplateAlias",
        "CoarrayType",
        "GenericSubrange",
        "DynamicType",
        "AtomicType",
        "CallSite",
        "CallSiteParameter",
        "SkeletonUnit",
        "ImmutableType",
    ];
    usize::from(tag)
        .checked_sub(1)
        .and_then(|i| NAMES.get(i))
        .filter(|n| !n.is_empty())
        .map_or_else(|| format!("Tag({tag})"), |n| (*n).to_owned())
}
