//! One unit's debugging information entries, parsed into a compact tree: every entry's
//! tag, global offset and place in the tree, and for the entries a type reader needs
//! (types, members, enumerators, variables, unit roots) the attributes dwarf2json's
//! reader looks at, decoded as Go's `debug/dwarf` decodes them (data forms zero-extended,
//! strings resolved). Entries of function bodies (scopes, call sites, parameters of
//! functions) are kept as bare tree nodes without attributes.
//!
//! A unit is parsed, used and dropped: only the units being converted live in memory.

use gimli::constants as dw;
use gimli::{AttributeValue, EndianSlice, RunTimeEndian, SectionId};

/// The reader type of every section (borrowed from the file or from a decompressed copy).
pub(super) type R<'d> = EndianSlice<'d, RunTimeEndian>;

/// "No entry" in the tree links.
pub(super) const NONE: u32 = u32::MAX;

/// The section a unit lives in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(super) enum Sect {
    /// `.debug_info` (compile, partial and DWARF 5 type units).
    Info,
    /// `.debug_types` (DWARF 4 type units).
    Types,
}

/// A `DW_AT_type` reference as read: none (or a form that is no reference, which Go reads
/// as `void`), an entry at a section offset, or a type unit signature.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(super) enum Ref {
    /// No reference.
    #[default]
    None,
    /// The entry at this offset of this section.
    At(Sect, u64),
    /// The type of the type unit with this signature (`DW_FORM_ref_sig8`).
    Sig(u64),
}

/// `DW_AT_data_member_location` as Go reads it.
#[derive(Debug, Clone, Copy, Default)]
pub(super) enum MemberLoc<'d> {
    /// Absent (offset 0).
    #[default]
    None,
    /// A constant.
    Int(i64),
    /// An expression (Go accepts only `DW_OP_plus_uconst N`).
    Expr(&'d [u8]),
}

/// `DW_AT_location` of a variable, by Go's attribute class.
#[derive(Debug, Clone, Copy, Default)]
pub(super) enum Loc<'d> {
    /// Absent, or a class dwarf2json reads as address 0 (location lists).
    #[default]
    None,
    /// An address (`DW_FORM_addr`, `DW_FORM_addrx`).
    Addr(u64),
    /// A constant.
    Const(u64),
    /// An expression (dwarf2json reads only `DW_OP_addr`).
    Expr(&'d [u8]),
}

/// The attributes read of one entry.
#[derive(Debug, Clone, Default)]
pub(super) struct Attrs<'d> {
    /// `DW_AT_name` (absent: Go's empty string).
    pub name: Option<&'d [u8]>,
    /// `DW_AT_type`.
    pub ty: Ref,
    /// The entry of this unit that `ty` designates, when it is one (resolved once).
    pub ty_local: Option<u32>,
    /// `DW_AT_byte_size` when a constant.
    pub byte_size: Option<i64>,
    /// `DW_AT_encoding`.
    pub encoding: Option<i64>,
    /// `DW_AT_bit_size`.
    pub bit_size: Option<i64>,
    /// `DW_AT_bit_offset` (DWARF 2-4, most significant bit first).
    pub bit_offset: Option<i64>,
    /// `DW_AT_data_bit_offset` (DWARF 4-5, from the start of the enclosing type).
    pub data_bit_offset: Option<i64>,
    /// `DW_AT_count`.
    pub count: Option<i64>,
    /// `DW_AT_upper_bound`.
    pub upper_bound: Option<i64>,
    /// `DW_AT_const_value`.
    pub const_value: Option<i64>,
    /// `DW_AT_language`.
    pub language: Option<i64>,
    /// `DW_AT_data_member_location`.
    pub member_loc: MemberLoc<'d>,
    /// `DW_AT_location`.
    pub location: Loc<'d>,
    /// `DW_AT_declaration` present (in any form, as Go tests it).
    pub declaration: bool,
}

/// One entry: its tag, global offset and tree links (indexes into [`UnitDies::dies`]).
#[derive(Debug, Clone, Copy)]
pub(super) struct Die {
    /// Offset in its section.
    pub offset: u64,
    /// `DW_TAG_*`.
    pub tag: u16,
    /// The first child ([`NONE`] when none).
    pub first_child: u32,
    /// The next sibling ([`NONE`] when last).
    pub next_sibling: u32,
    /// Index into [`UnitDies::attrs`], [`NONE`] when attributes were not kept.
    pub attrs: u32,
}

/// A unit's entries in offset order.
#[derive(Debug)]
pub(super) struct UnitDies<'d> {
    /// Section of the unit.
    pub sect: Sect,
    /// Offset of the unit header in its section.
    pub start: u64,
    /// Offset just past the unit.
    pub end: u64,
    /// Size of an address.
    pub address_size: u8,
    /// Entries, in offset order; index 0 is the root.
    pub dies: Vec<Die>,
    /// Attributes of the entries that keep them.
    pub attrs: Vec<Attrs<'d>>,
    /// For a type unit: the entry of its type.
    pub type_die: u32,
}

impl<'d> UnitDies<'d> {
    /// The entry whose offset is exactly `offset`.
    pub fn find(&self, offset: u64) -> Option<u32> {
        let i = self.dies.binary_search_by_key(&offset, |d| d.offset).ok()?;
        u32::try_from(i).ok()
    }

    /// Entry `i`.
    pub fn die(&self, i: u32) -> Option<&Die> {
        self.dies.get(i as usize)
    }

    /// The tag of entry `i` (0 when out of range).
    pub fn tag(&self, i: u32) -> u16 {
        self.die(i).map_or(0, |d| d.tag)
    }

    /// The attributes of entry `i`, when kept.
    pub fn attrs(&self, i: u32) -> Option<&Attrs<'d>> {
        let d = self.die(i)?;
        self.attrs.get(d.attrs as usize)
    }
}

/// Whether the attributes of an entry with `tag` (whose parent has `parent_tag`) are kept.
fn keeps_attrs(tag: u16, parent_tag: u16) -> bool {
    match dw::DwTag(tag) {
        dw::DW_TAG_subprogram
        | dw::DW_TAG_lexical_block
        | dw::DW_TAG_inlined_subroutine
        | dw::DW_TAG_call_site
        | dw::DW_TAG_call_site_parameter
        | dw::DW_TAG_GNU_call_site
        | dw::DW_TAG_GNU_call_site_parameter
        | dw::DW_TAG_label
        | dw::DW_TAG_template_type_parameter
        | dw::DW_TAG_template_value_parameter => false,
        dw::DW_TAG_formal_parameter | dw::DW_TAG_unspecified_parameters => {
            parent_tag == dw::DW_TAG_subroutine_type.0
        }
        _ => true,
    }
}

/// What the unit's root says about string and address indexes.
struct Bases {
    str_offsets: gimli::DebugStrOffsetsBase<usize>,
    addr: gimli::DebugAddrBase<usize>,
}

/// Parses the unit of `header` (whose abbreviations are `abbrevs`) into its entries.
pub(super) fn parse_unit<'d>(
    dwarf: &gimli::Dwarf<R<'d>>,
    header: &gimli::UnitHeader<R<'d>>,
    abbrevs: &gimli::Abbreviations,
) -> gimli::Result<UnitDies<'d>> {
    let (sect, unit_start) = section_and_start(header);
    let start = unit_start as u64;
    let end = start.saturating_add(header.length_including_self() as u64);
    let bases = root_bases(header, abbrevs)?;
    let mut out = UnitDies {
        sect,
        start,
        end,
        address_size: header.address_size(),
        dies: Vec::new(),
        attrs: Vec::new(),
        type_die: NONE,
    };
    // (entry, its last child so far)
    let mut stack: Vec<(u32, u32)> = Vec::new();
    let mut raw = header.entries_raw(abbrevs, None)?;
    while !raw.is_empty() {
        let offset = unit_start.saturating_add(raw.next_offset().0) as u64;
        let Some(abbrev) = raw.read_abbreviation()? else {
            stack.pop();
            if stack.is_empty() {
                break;
            }
            continue;
        };
        let tag = abbrev.tag().0;
        let idx =
            u32::try_from(out.dies.len()).map_err(|_| gimli::Error::OffsetOutOfBounds(start))?;
        let parent = stack.last().map_or(NONE, |p| p.0);
        let parent_tag = out.tag(parent);
        let attrs = if keeps_attrs(tag, parent_tag) {
            let mut a = Attrs::default();
            for spec in abbrev.attributes() {
                let attr = raw.read_attribute(*spec)?;
                decode(dwarf, header, &bases, sect, unit_start, &attr, &mut a);
            }
            let i = out.attrs.len() as u32;
            out.attrs.push(a);
            i
        } else {
            raw.skip_attributes(abbrev.attributes())?;
            NONE
        };
        if let Some((p, last)) = stack.last_mut() {
            if *last == NONE {
                if let Some(pd) = out.dies.get_mut(*p as usize) {
                    pd.first_child = idx;
                }
            } else if let Some(ld) = out.dies.get_mut(*last as usize) {
                ld.next_sibling = idx;
            }
            *last = idx;
        } else if idx != 0 {
            // A second top-level entry: malformed; stop here.
            break;
        }
        out.dies.push(Die {
            offset,
            tag,
            first_child: NONE,
            next_sibling: NONE,
            attrs,
        });
        if abbrev.has_children() {
            stack.push((idx, NONE));
        } else if stack.is_empty() {
            break;
        }
    }
    let dies = &out.dies;
    for a in &mut out.attrs {
        if let Ref::At(s, off) = a.ty
            && s == sect
        {
            a.ty_local = dies
                .binary_search_by_key(&off, |d| d.offset)
                .ok()
                .and_then(|i| u32::try_from(i).ok());
        }
    }
    if let gimli::UnitType::Type { type_offset, .. } = header.type_() {
        let at = unit_start.saturating_add(type_offset.0) as u64;
        out.type_die = out.find(at).unwrap_or(NONE);
    }
    Ok(out)
}

/// The section of a unit and its offset there.
pub(super) fn section_and_start(header: &gimli::UnitHeader<R<'_>>) -> (Sect, usize) {
    let sect = match header.section() {
        SectionId::DebugTypes => Sect::Types,
        _ => Sect::Info,
    };
    (sect, header.offset().0)
}

/// Reads the root entry's `DW_AT_str_offsets_base` and `DW_AT_addr_base`.
fn root_bases<'d>(
    header: &gimli::UnitHeader<R<'d>>,
    abbrevs: &gimli::Abbreviations,
) -> gimli::Result<Bases> {
    let mut bases = Bases {
        str_offsets: gimli::DebugStrOffsetsBase(0),
        addr: gimli::DebugAddrBase(0),
    };
    let mut raw = header.entries_raw(abbrevs, None)?;
    if let Some(abbrev) = raw.read_abbreviation()? {
        for spec in abbrev.attributes() {
            let attr = raw.read_attribute(*spec)?;
            match attr.value() {
                AttributeValue::DebugStrOffsetsBase(b) => bases.str_offsets = b,
                AttributeValue::DebugAddrBase(b) => bases.addr = b,
                _ => {}
            }
        }
    }
    Ok(bases)
}

/// A constant as Go's `Entry.Val` gives it (`int64`): data forms zero-extended.
pub(super) fn go_int(v: &AttributeValue<R<'_>>) -> Option<i64> {
    Some(match *v {
        AttributeValue::Data1(x) => i64::from(x),
        AttributeValue::Data2(x) => i64::from(x),
        AttributeValue::Data4(x) => i64::from(x),
        AttributeValue::Data8(x) => x as i64,
        AttributeValue::Sdata(x) => x,
        AttributeValue::Udata(x) => x as i64,
        AttributeValue::SecOffset(x) => x as i64,
        _ => return None,
    })
}

/// Decodes one attribute into `a`.
fn decode<'d>(
    dwarf: &gimli::Dwarf<R<'d>>,
    header: &gimli::UnitHeader<R<'d>>,
    bases: &Bases,
    sect: Sect,
    unit_start: usize,
    attr: &gimli::Attribute<R<'d>>,
    a: &mut Attrs<'d>,
) {
    let v = attr.raw_value();
    match attr.name() {
        dw::DW_AT_name => a.name = string(dwarf, header, bases, &v),
        dw::DW_AT_type => {
            a.ty = match v {
                AttributeValue::UnitRef(o) => Ref::At(sect, unit_start.saturating_add(o.0) as u64),
                AttributeValue::DebugInfoRef(o) => Ref::At(Sect::Info, o.0 as u64),
                AttributeValue::DebugTypesRef(s) => Ref::Sig(s.0),
                _ => Ref::None,
            }
        }
        dw::DW_AT_byte_size => a.byte_size = go_int(&v),
        dw::DW_AT_encoding => a.encoding = go_int(&v),
        dw::DW_AT_bit_size => a.bit_size = go_int(&v),
        dw::DW_AT_bit_offset => a.bit_offset = go_int(&v),
        dw::DW_AT_data_bit_offset => a.data_bit_offset = go_int(&v),
        dw::DW_AT_count => a.count = go_int(&v),
        dw::DW_AT_upper_bound => a.upper_bound = go_int(&v),
        dw::DW_AT_const_value => a.const_value = go_int(&v),
        dw::DW_AT_language => a.language = go_int(&v),
        dw::DW_AT_declaration => a.declaration = true,
        dw::DW_AT_data_member_location => {
            a.member_loc = match v {
                AttributeValue::Exprloc(e) => MemberLoc::Expr(e.0.slice()),
                AttributeValue::Block(b) => MemberLoc::Expr(b.slice()),
                other => go_int(&other).map_or(MemberLoc::None, MemberLoc::Int),
            }
        }
        dw::DW_AT_location => {
            a.location = match v {
                AttributeValue::Addr(x) => Loc::Addr(x),
                AttributeValue::DebugAddrIndex(i) => dwarf
                    .debug_addr
                    .get_address(header.address_size(), bases.addr, i)
                    .map_or(Loc::None, Loc::Addr),
                AttributeValue::Exprloc(e) => Loc::Expr(e.0.slice()),
                AttributeValue::Block(b) => Loc::Expr(b.slice()),
                // DWARF 2 and 3 data4/data8 locations are location list pointers.
                AttributeValue::Data4(_) | AttributeValue::Data8(_) if header.version() < 4 => {
                    Loc::None
                }
                AttributeValue::Data1(_)
                | AttributeValue::Data2(_)
                | AttributeValue::Data4(_)
                | AttributeValue::Data8(_)
                | AttributeValue::Sdata(_)
                | AttributeValue::Udata(_) => {
                    go_int(&v).map_or(Loc::None, |x| Loc::Const(x as u64))
                }
                _ => Loc::None,
            }
        }
        _ => {}
    }
}

/// A string attribute's bytes (without the NUL).
fn string<'d>(
    dwarf: &gimli::Dwarf<R<'d>>,
    header: &gimli::UnitHeader<R<'d>>,
    bases: &Bases,
    v: &AttributeValue<R<'d>>,
) -> Option<&'d [u8]> {
    let r = match *v {
        AttributeValue::String(s) => s,
        AttributeValue::DebugStrRef(o) => dwarf.debug_str.get_str(o).ok()?,
        AttributeValue::DebugLineStrRef(o) => dwarf.debug_line_str.get_str(o).ok()?,
        AttributeValue::DebugStrOffsetsIndex(i) => {
            let o = dwarf
                .debug_str_offsets
                .get_str_offset(header.format(), bases.str_offsets, i)
                .ok()?;
            dwarf.debug_str.get_str(o).ok()?
        }
        _ => return None,
    };
    Some(r.slice())
}
