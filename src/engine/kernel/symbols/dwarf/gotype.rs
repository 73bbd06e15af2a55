//! The units being converted and the reading of their types as dwarf2json reads them
//! through Go's `debug/dwarf`: which type entries fail to read (a failure anywhere in
//! the types an entry reaches makes it fail, so dwarf2json skips it), Go's `Size()`,
//! array dimensions, and a struct's field list with Go's zero-length-array fix-up.

use std::collections::HashMap;
use std::rc::Rc;

use gimli::constants as dw;

use super::units::{Attrs, MemberLoc, NONE, Ref, Sect, UnitDies};

/// Bound on the recursion of every walk over type entries (typedef, qualifier, pointer
/// and array chains; nested anonymous types).
pub(super) const MAX_WALK: u32 = 256;

/// A type as Go's reader returns it: `void` (no `DW_AT_type`), an entry, or a reference
/// that leads nowhere (a read error).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) enum T {
    /// Go's `VoidType`.
    Void,
    /// A reference to no entry.
    Missing,
    /// Entry `.1` of unit `.0` of the set.
    Die(u32, u32),
}

/// One member of a struct, union or class as Go's `StructField` holds it after fix-ups.
#[derive(Debug, Clone)]
pub(super) struct GoField<'d> {
    /// Name (empty when anonymous).
    pub name: &'d [u8],
    /// Type.
    pub ty: T,
    /// `ByteOffset`.
    pub byte_offset: i64,
    /// `ByteSize` (of the storage unit, DWARF 2-4 bitfields).
    pub byte_size: i64,
    /// `BitOffset`.
    pub bit_offset: i64,
    /// `DataBitOffset`.
    pub data_bit_offset: i64,
    /// `BitSize` (0 unless a bitfield).
    pub bit_size: i64,
    /// The array type of this field had its count set to 0 (zero-length array fix-up).
    pub zeroed: bool,
}

/// The units of one conversion step: the unit being converted first, then every unit its
/// references reach (other compile units through `DW_FORM_ref_addr`, type units through
/// signatures), with what is known about their entries.
pub(super) struct UnitSet<'d> {
    /// The units; slot 0 is the one being converted.
    pub units: Vec<UnitDies<'d>>,
    /// (section, start, slot), sorted.
    ranges: Vec<(Sect, u64, u32)>,
    /// Type unit signature to slot.
    sigs: HashMap<u64, u32>,
    /// Flat index of each unit's first entry.
    flat_base: Vec<usize>,
    /// Entries whose reading fails, by flat index.
    failed: Vec<bool>,
    /// Memo of the Go strings of anonymous types and enums.
    pub(super) strings: HashMap<(u32, u32), Rc<[u8]>>,
    /// Memo of index type nodes, per unit and entry: 0 unknown, 1 none, `n + 2` node `n`.
    nodes: Vec<Vec<u32>>,
}

impl<'d> UnitSet<'d> {
    /// A set holding `main` alone.
    pub fn new(main: UnitDies<'d>) -> UnitSet<'d> {
        let mut s = UnitSet {
            units: Vec::new(),
            ranges: Vec::new(),
            sigs: HashMap::new(),
            flat_base: Vec::new(),
            failed: Vec::new(),
            strings: HashMap::new(),
            nodes: Vec::new(),
        };
        s.add(main, None);
        s
    }

    /// Adds a unit (with its signature, for a type unit); returns its slot.
    pub fn add(&mut self, unit: UnitDies<'d>, sig: Option<u64>) -> u32 {
        let slot = self.units.len() as u32;
        let key = (unit.sect, unit.start, slot);
        let at = self.ranges.partition_point(|r| (r.0, r.1) < (key.0, key.1));
        self.ranges.insert(at, key);
        if let Some(sig) = sig {
            self.sigs.insert(sig, slot);
        }
        self.units.push(unit);
        slot
    }

    /// The memoised index node of entry `d` of unit `u`, if known.
    pub fn memo_node(&self, u: u32, d: u32) -> Option<Option<u32>> {
        match self.nodes.get(u as usize)?.get(d as usize).copied()? {
            0 => None,
            1 => Some(None),
            n => Some(Some(n - 2)),
        }
    }

    /// Memoises the index node of entry `d` of unit `u`.
    pub fn set_memo_node(&mut self, u: u32, d: u32, n: Option<u32>) {
        let Some(len) = self.unit(u).map(|x| x.dies.len()) else {
            return;
        };
        if self.nodes.len() <= u as usize {
            self.nodes.resize_with(u as usize + 1, Vec::new);
        }
        let Some(v) = self.nodes.get_mut(u as usize) else {
            return;
        };
        if v.len() != len {
            v.resize(len, 0);
        }
        let code = match n {
            None => 1,
            Some(n) => match n.checked_add(2) {
                Some(c) => c,
                None => return,
            },
        };
        if let Some(slot) = v.get_mut(d as usize) {
            *slot = code;
        }
    }

    /// True when a unit of the set contains `offset` of `sect`.
    pub fn holds(&self, sect: Sect, offset: u64) -> bool {
        self.slot_of(sect, offset).is_some()
    }

    /// True when the type unit with signature `sig` is in the set.
    pub fn holds_sig(&self, sig: u64) -> bool {
        self.sigs.contains_key(&sig)
    }

    fn slot_of(&self, sect: Sect, offset: u64) -> Option<u32> {
        let i = self
            .ranges
            .partition_point(|r| (r.0, r.1) <= (sect, offset))
            .checked_sub(1)?;
        let (s, _, slot) = *self.ranges.get(i)?;
        let u = self.units.get(slot as usize)?;
        (s == sect && offset < u.end).then_some(slot)
    }

    /// Unit `slot`.
    pub fn unit(&self, slot: u32) -> Option<&UnitDies<'d>> {
        self.units.get(slot as usize)
    }

    /// What a reference read in the set designates.
    pub fn resolve(&self, r: Ref) -> T {
        match r {
            Ref::None => T::Void,
            Ref::At(sect, off) => self
                .slot_of(sect, off)
                .and_then(|slot| Some(T::Die(slot, self.unit(slot)?.find(off)?)))
                .unwrap_or(T::Missing),
            Ref::Sig(sig) => self
                .sigs
                .get(&sig)
                .and_then(|&slot| {
                    let d = self.unit(slot)?.type_die;
                    (d != NONE).then_some(T::Die(slot, d))
                })
                .unwrap_or(T::Missing),
        }
    }

    /// What `DW_AT_type` of attributes `a` (of an entry of unit `slot`) designates.
    pub fn ty_in(&self, slot: u32, a: &Attrs<'_>) -> T {
        match a.ty_local {
            Some(d) => T::Die(slot, d),
            None => self.resolve(a.ty),
        }
    }

    /// The tag of a type (0 for void and missing).
    pub fn tag(&self, t: T) -> u16 {
        match t {
            T::Die(u, d) => self.unit(u).map_or(0, |x| x.tag(d)),
            _ => 0,
        }
    }

    /// The attributes of a type entry.
    pub fn attrs(&self, t: T) -> Option<&Attrs<'d>> {
        match t {
            T::Die(u, d) => self.unit(u)?.attrs(d),
            _ => None,
        }
    }

    /// The children of entry `t`, in order.
    pub fn children(&self, t: T) -> Kids<'_, 'd> {
        match t {
            T::Die(u, d) => Kids {
                unit: self.unit(u),
                slot: u,
                next: self
                    .unit(u)
                    .and_then(|x| x.die(d))
                    .map_or(NONE, |x| x.first_child),
            },
            _ => Kids {
                unit: None,
                slot: 0,
                next: NONE,
            },
        }
    }

    /// True when Go's reader fails to read type `t` (missing, or reaching a bad entry).
    pub fn fails(&self, t: T) -> bool {
        match t {
            T::Void => false,
            T::Missing => true,
            T::Die(u, d) => self
                .flat_base
                .get(u as usize)
                .and_then(|b| self.failed.get(b.saturating_add(d as usize)))
                .copied()
                .unwrap_or(true),
        }
    }

    /// Works out which entries fail to read: those with a local error (an unknown base
    /// type encoding, a member location that is not `DW_OP_plus_uconst`, both bit offset
    /// attributes, an enumeration as array bound, a reference to nothing) and every entry
    /// whose type references reach one of them. Call once all units are added.
    pub fn analyze(&mut self) {
        let mut base = 0usize;
        self.flat_base = self
            .units
            .iter()
            .map(|u| {
                let b = base;
                base = base.saturating_add(u.dies.len());
                b
            })
            .collect();
        let mut failed = vec![false; base];
        let mut edges: Vec<(usize, usize)> = Vec::new();
        for (slot, unit) in self.units.iter().enumerate() {
            let fb = self.flat_base.get(slot).copied().unwrap_or(0);
            for (i, die) in unit.dies.iter().enumerate() {
                let me = T::Die(slot as u32, i as u32);
                let src = fb.saturating_add(i);
                let mut bad = false;
                let mut edge = |a: &Attrs<'_>, bad: &mut bool| match self.ty_in(slot as u32, a) {
                    T::Void => {}
                    T::Missing => *bad = true,
                    T::Die(u, d) => {
                        let to = self.flat_base.get(u as usize).copied().unwrap_or(0);
                        edges.push((to.saturating_add(d as usize), src));
                    }
                };
                let Some(a) = unit.attrs(i as u32) else {
                    continue;
                };
                match dw::DwTag(die.tag) {
                    dw::DW_TAG_array_type => {
                        edge(a, &mut bad);
                        bad |= self
                            .children(me)
                            .any(|c| self.tag(c) == dw::DW_TAG_enumeration_type.0);
                    }
                    dw::DW_TAG_base_type => {
                        bad |= !matches!(a.encoding, Some(1..=8))
                            || (a.bit_offset.is_some() && a.data_bit_offset.is_some());
                    }
                    dw::DW_TAG_structure_type | dw::DW_TAG_union_type | dw::DW_TAG_class_type => {
                        for c in self.children(me) {
                            if self.tag(c) != dw::DW_TAG_member.0 {
                                continue;
                            }
                            let Some(m) = self.attrs(c) else { continue };
                            edge(m, &mut bad);
                            bad |= m.bit_offset.is_some() && m.data_bit_offset.is_some();
                            if let MemberLoc::Expr(e) = m.member_loc {
                                bad |= plus_uconst(e).is_none();
                            }
                        }
                    }
                    dw::DW_TAG_const_type
                    | dw::DW_TAG_volatile_type
                    | dw::DW_TAG_restrict_type
                    | dw::DW_TAG_pointer_type
                    | dw::DW_TAG_typedef => edge(a, &mut bad),
                    dw::DW_TAG_subroutine_type => {
                        edge(a, &mut bad);
                        for c in self.children(me) {
                            if self.tag(c) == dw::DW_TAG_formal_parameter.0
                                && let Some(p) = self.attrs(c)
                            {
                                edge(p, &mut bad);
                            }
                        }
                    }
                    _ => {}
                }
                if bad && let Some(f) = failed.get_mut(src) {
                    *f = true;
                }
            }
        }
        if failed.iter().any(|f| *f) {
            edges.sort_unstable();
            let mut queue: Vec<usize> = (0..failed.len())
                .filter(|&i| failed.get(i).copied().unwrap_or(false))
                .collect();
            while let Some(t) = queue.pop() {
                let from = edges.partition_point(|e| e.0 < t);
                for &(to, src) in edges.get(from..).unwrap_or(&[]) {
                    if to != t {
                        break;
                    }
                    if let Some(f) = failed.get_mut(src)
                        && !*f
                    {
                        *f = true;
                        queue.push(src);
                    }
                }
            }
        }
        self.failed = failed;
    }

    /// The dimensions of array type `t`, as Go reads them (`-1` for `x[]`).
    pub fn dims(&self, t: T) -> Vec<i64> {
        let mut dims = Vec::new();
        for c in self.children(t) {
            if self.tag(c) != dw::DW_TAG_subrange_type.0 {
                continue;
            }
            let a = self.attrs(c);
            let count = match (a.and_then(|a| a.count), a.and_then(|a| a.upper_bound)) {
                (Some(n), _) => n,
                (None, Some(ub)) => ub.wrapping_add(1),
                (None, None) if dims.is_empty() => -1,
                (None, None) => 0,
            };
            dims.push(count);
        }
        if dims.is_empty() {
            dims.push(-1);
        }
        dims
    }

    /// The type `DW_AT_type` of `t` designates (void when absent).
    pub fn target(&self, t: T) -> T {
        match t {
            T::Die(u, _) => self.attrs(t).map_or(T::Void, |a| self.ty_in(u, a)),
            _ => T::Void,
        }
    }

    /// Go's `Size()` of type `t`; for an array, of its dimensions from `level` on.
    pub fn size(&self, t: T, level: usize, depth: u32) -> i64 {
        if depth > MAX_WALK {
            return -1;
        }
        let own = || self.attrs(t).and_then(|a| a.byte_size).unwrap_or(-1);
        match dw::DwTag(self.tag(t)) {
            _ if t == T::Void => 0,
            dw::DW_TAG_pointer_type => {
                self.attrs(t)
                    .and_then(|a| a.byte_size)
                    .unwrap_or_else(|| match t {
                        T::Die(u, _) => self.unit(u).map_or(8, |x| i64::from(x.address_size)),
                        _ => 8,
                    })
            }
            dw::DW_TAG_typedef
            | dw::DW_TAG_const_type
            | dw::DW_TAG_volatile_type
            | dw::DW_TAG_restrict_type => self.size(self.target(t), 0, depth + 1),
            dw::DW_TAG_array_type => {
                let dims = self.dims(t);
                match dims.get(level) {
                    None => self.size(self.target(t), 0, depth + 1),
                    Some(-1) => 0,
                    Some(&n) => n.wrapping_mul(self.size(t, level + 1, depth + 1)),
                }
            }
            _ => own(),
        }
    }

    /// The fields of struct, union or class `t` as Go's reader lists them (members in
    /// order), with the zero-length array fix-up applied.
    pub fn fields(&self, t: T) -> Vec<GoField<'d>> {
        let union = self.tag(t) == dw::DW_TAG_union_type.0;
        let mut out: Vec<GoField<'d>> = Vec::new();
        let mut record: Vec<usize> = Vec::new();
        let mut last_bit_size = 0i64;
        let mut last_byte_offset = 0i64;
        for c in self.children(t) {
            if self.tag(c) != dw::DW_TAG_member.0 {
                continue;
            }
            let Some(m) = self.attrs(c) else { continue };
            let byte_offset = match m.member_loc {
                MemberLoc::None => 0,
                MemberLoc::Int(x) => x,
                MemberLoc::Expr(e) => plus_uconst(e).unwrap_or(0),
            };
            if last_bit_size == 0
                && last_byte_offset == byte_offset
                && !union
                && let Some(last) = out.len().checked_sub(1)
            {
                record.push(last);
            }
            let f = GoField {
                name: m.name.unwrap_or(b""),
                ty: self.target(c),
                byte_offset,
                byte_size: m.byte_size.unwrap_or(0),
                bit_offset: m.bit_offset.unwrap_or(0),
                data_bit_offset: m.data_bit_offset.unwrap_or(0),
                bit_size: m.bit_size.unwrap_or(0),
                zeroed: false,
            };
            last_bit_size = f.bit_size;
            last_byte_offset = f.byte_offset;
            out.push(f);
        }
        if !union
            && self.attrs(t).and_then(|a| a.byte_size) == Some(last_byte_offset)
            && let Some(last) = out.len().checked_sub(1)
        {
            record.push(last);
        }
        for i in record {
            let Some(f) = out.get(i) else { continue };
            if self.tag(f.ty) == dw::DW_TAG_array_type.0
                && self.size(f.ty, 1, 0) != 0
                && let Some(f) = out.get_mut(i)
            {
                f.zeroed = true;
            }
        }
        out
    }
}

/// Iterator over the children of an entry of a [`UnitSet`].
pub(super) struct Kids<'u, 'd> {
    unit: Option<&'u UnitDies<'d>>,
    slot: u32,
    next: u32,
}

impl Iterator for Kids<'_, '_> {
    type Item = T;
    fn next(&mut self) -> Option<T> {
        let cur = self.next;
        let d = self.unit?.die(cur)?;
        self.next = d.next_sibling;
        Some(T::Die(self.slot, cur))
    }
}

/// The offset of a `DW_OP_plus_uconst N` member location (Go accepts nothing else).
pub(super) fn plus_uconst(e: &[u8]) -> Option<i64> {
    let (op, mut rest) = e.split_first()?;
    if *op != dw::DW_OP_plus_uconst.0 {
        return None;
    }
    let mut v: u64 = 0;
    let mut shift = 0u32;
    loop {
        let (b, r) = rest.split_first()?;
        rest = r;
        if shift < 64 {
            v |= u64::from(b & 0x7f) << shift;
        }
        shift = shift.saturating_add(7);
        if b & 0x80 == 0 {
            return Some(v as i64);
        }
    }
}
