//! Tests of the hex viewer's pure pieces: geometry, goto parsing, and the layout with its
//! folds, checked line for line against a plain port of the layout as it was before the
//! caches (every row read and compared, page by page).
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use std::cell::RefCell;
use std::collections::HashMap;
use std::ops::Range;
use std::rc::Rc;

use ratatui::layout::Rect;

use super::folds::{Block, Class};
use super::layout::{self, FOLD_SCAN_BYTES, HexLine, Memory, Spec, Specials};
use super::pages::{PAGE, PAGE_BYTES};
use super::{geometry, parse_target, vma_at};
use crate::engine::evidence::{Perms, Vma, VmaKind};

fn vma(start: u64, end: u64, path: Option<&str>) -> Vma {
    Vma {
        start,
        end,
        perms: Perms::default(),
        pgoff: 0,
        path: path.map(String::from),
        kind: VmaKind::Anon,
        inode: None,
        dev: None,
    }
}

#[test]
fn geometry_fits_the_widest_rows_and_places_the_inspector() {
    let at = |w, h| Rect::new(0, 0, w, h);
    // 12 address digits + 3 + 4 per byte; the inspector (34) at the right from 12+3+64+34.
    let g = geometry(at(113, 40), false);
    assert_eq!(
        (g.bpr, g.inspector_right, g.rows, g.addr_digits),
        (16, true, 39, 12)
    );
    let g = geometry(at(112, 40), false);
    assert_eq!((g.bpr, g.inspector_right, g.rows), (16, false, 34));
    assert_eq!(geometry(at(177, 60), false).bpr, 32);
    assert_eq!(geometry(at(176, 60), false).bpr, 16);
    assert_eq!(geometry(at(305, 60), false).bpr, 64);
    assert_eq!(geometry(at(304, 60), false).bpr, 32);
    assert_eq!(geometry(at(80, 24), false).bpr, 16);
    assert_eq!(geometry(at(79, 24), false).bpr, 16);
    assert_eq!(geometry(at(78, 24), false).bpr, 8);
    assert_eq!(geometry(at(10, 3), false), geometry(at(0, 0), false));
    assert_eq!(geometry(at(10, 3), false).rows, 1);
    let wide = geometry(at(124, 56), true);
    assert_eq!(
        (wide.addr_digits, wide.bpr, wide.inspector_right),
        (16, 16, true)
    );
    // Every width the layout meets divides a page and a fold block.
    for w in 0..400 {
        let bpr = geometry(at(w, 50), w % 2 == 0).bpr;
        assert!(
            bpr.is_power_of_two() && (4..=64).contains(&bpr),
            "{w}: {bpr}"
        );
    }
}

#[test]
fn goto_targets_parse_as_addresses_or_names_with_offsets() {
    let vmas = [
        vma(0x1000, 0x2000, Some("/usr/lib/libc.so.6")),
        vma(0x5000, 0x9000, Some("[heap]")),
        vma(0xa000, 0xb000, None),
    ];
    let t = |s| parse_target(&vmas, s);
    assert_eq!(t("0x7f00_0000"), Some(0x7f00_0000));
    assert_eq!(t(" 0X10 "), Some(0x10));
    assert_eq!(t("4096"), Some(4096));
    assert_eq!(t("[heap]"), Some(0x5000));
    assert_eq!(t("heap+0x10"), Some(0x5010));
    assert_eq!(t("[heap] + 16"), Some(0x5010));
    assert_eq!(t("libc.so.6+0x1000"), Some(0x2000));
    assert_eq!(t("/usr/lib/libc.so.6"), Some(0x1000));
    assert_eq!(t("0xzz"), None);
    assert_eq!(t("stack"), None);
    assert_eq!(t("heap+nonsense"), None);
    assert_eq!(t(""), None);
    let top = [vma(u64::MAX - 0xfff, u64::MAX, Some("[top]"))];
    assert_eq!(parse_target(&top, "top+0x1000"), None, "overflow");
    assert_eq!(vma_at(&vmas, 0x5fff).map(|v| v.start), Some(0x5000));
    assert!(vma_at(&vmas, 0x9000).is_none());
}

/// What a stretch of test memory holds.
#[derive(Clone, Copy)]
enum Fill {
    Byte(u8),
    Ptr(u64),
    Noise(u64),
}

impl Fill {
    /// The byte at `a` of a stretch starting at `start`.
    fn at(self, a: u64, start: u64) -> u8 {
        match self {
            Fill::Byte(b) => b,
            Fill::Ptr(p) => p.to_le_bytes()[(a % 8) as usize],
            Fill::Noise(seed) => {
                let mut x = (a - start) ^ seed.wrapping_mul(0x9e37_79b9_7f4a_7c15);
                x ^= x >> 33;
                x = x.wrapping_mul(0xff51_afd7_ed55_8ccd);
                (x >> 40) as u8
            }
        }
    }
}

/// Test memory: stretches of fills, single bytes changed, not captured elsewhere.
#[derive(Default)]
struct Mem {
    fills: Vec<(Range<u64>, Fill)>,
    pokes: Vec<(u64, Option<u8>)>,
    /// Page classes that may still be told (`None`: no limit), as a reading share.
    share: Option<u32>,
    /// Pages made so far.
    pages: RefCell<HashMap<u64, Rc<Vec<Option<u8>>>>>,
    /// Page classes found so far.
    classes: HashMap<u64, Class>,
}

impl Mem {
    fn fill(mut self, r: Range<u64>, f: Fill) -> Mem {
        self.fills.push((r, f));
        self
    }

    fn poke(mut self, a: u64, b: Option<u8>) -> Mem {
        self.pokes.push((a, b));
        self
    }

    /// Page number `n` (made once).
    fn page(&self, n: u64) -> Rc<Vec<Option<u8>>> {
        if let Some(p) = self.pages.borrow().get(&n) {
            return p.clone();
        }
        let base = n * PAGE;
        let mut made = vec![None; PAGE_BYTES];
        for (r, f) in &self.fills {
            let (lo, hi) = (r.start.max(base), r.end.min(base.saturating_add(PAGE)));
            for a in lo..hi {
                made[(a - base) as usize] = Some(f.at(a, r.start));
            }
        }
        for &(a, b) in &self.pokes {
            if a / PAGE == n {
                made[(a - base) as usize] = b;
            }
        }
        let made = Rc::new(made);
        self.pages.borrow_mut().insert(n, made.clone());
        made
    }

    fn byte(&self, a: u64) -> Option<u8> {
        self.page(a / PAGE)[(a % PAGE) as usize]
    }

    /// `len` bytes at `a`, `None` past the end of the address space.
    fn bytes(&self, a: u64, len: u64) -> Vec<Option<u8>> {
        let off = a % PAGE;
        if off + len <= PAGE {
            return self.page(a / PAGE)[off as usize..(off + len) as usize].to_vec();
        }
        (0..len)
            .map(|i| a.checked_add(i).and_then(|x| self.byte(x)))
            .collect()
    }

    fn class(&mut self, page: u64) -> Class {
        if let Some(c) = self.classes.get(&page) {
            return *c;
        }
        let mut bytes = [0u8; PAGE_BYTES];
        let mut cap = [0u64; PAGE_BYTES / 64];
        for (i, (b, v)) in bytes.iter_mut().zip(self.page(page).iter()).enumerate() {
            if let Some(v) = v {
                *b = *v;
                cap[i / 64] |= 1 << (i % 64);
            }
        }
        let class = Block::of_page(&bytes, &cap).map_or(Class::Mixed, Class::Uniform);
        self.classes.insert(page, class);
        class
    }

    fn take(&mut self) -> bool {
        match &mut self.share {
            Some(0) => false,
            Some(n) => {
                *n -= 1;
                true
            }
            None => true,
        }
    }
}

impl Memory for Mem {
    fn row(&mut self, addr: u64, len: u64) -> Vec<Option<u8>> {
        self.bytes(addr, len)
    }

    fn run(&mut self, page: u64, limit: u64) -> Option<(Class, u64)> {
        if !self.take() {
            return None;
        }
        let class = self.class(page);
        let mut end = page + 1;
        while end < limit && self.take() && self.class(end) == class {
            end += 1;
        }
        Some((class, end))
    }

    fn fold_row(&mut self, addr: u64, len: u64) -> Option<Vec<Option<u8>>> {
        self.take().then(|| self.row(addr, len))
    }
}

/// What is on the screen and where.
struct Case<'a> {
    vmas: &'a [Vma],
    top: u64,
    cursor: u64,
    anchor: Option<u64>,
    highlight: Option<Range<u64>>,
    bpr: u64,
    rows: usize,
    limit: u64,
}

/// The layout as it was: every row read, folds counted page by page or row by row.
fn reference(mem: &Mem, c: &Case) -> Vec<HexLine> {
    let special = |row: Range<u64>| {
        let hit = |r: &Range<u64>| r.start < row.end && row.start < r.end;
        row.contains(&c.cursor)
            || c.highlight.as_ref().is_some_and(hit)
            || c.anchor
                .is_some_and(|a| hit(&(a.min(c.cursor)..a.max(c.cursor).saturating_add(1))))
    };
    let row_at = |a: u64| mem.bytes(a, c.bpr);
    let page_matches =
        |page: u64, row: &[Option<u8>]| mem.page(page / PAGE).chunks(row.len()).all(|c| c == row);
    let mut out = Vec::new();
    let mut addr = c.top;
    let mut prev: Option<Vec<Option<u8>>> = None;
    while out.len() < c.rows {
        let Some(end) = addr.checked_add(c.bpr) else {
            break;
        };
        let in_vma = c.vmas.is_empty() || c.vmas.iter().any(|v| v.start < end && addr < v.end);
        if !in_vma && !special(addr..end) {
            let next = c.vmas.iter().map(|v| v.start).filter(|&s| s > addr).min();
            let next = next.unwrap_or(u64::MAX);
            let next = next - next % c.bpr;
            out.push(HexLine::Gap { addr, end: next });
            prev = None;
            if next <= addr {
                break;
            }
            addr = next;
            continue;
        }
        let vma_end = vma_at(c.vmas, addr).map_or(u64::MAX, |v| v.end);
        let bytes = row_at(addr);
        if prev.as_ref() == Some(&bytes) && !special(addr..end) {
            let start = addr;
            let mut n = 0u64;
            while n * c.bpr < c.limit {
                let a = start + n * c.bpr;
                let Some(e) = a.checked_add(c.bpr) else { break };
                if e > vma_end {
                    break;
                }
                if a.is_multiple_of(PAGE)
                    && a.checked_add(PAGE)
                        .is_some_and(|pe| pe <= vma_end && !special(a..pe))
                    && page_matches(a, &bytes)
                {
                    n += PAGE / c.bpr;
                    continue;
                }
                if special(a..e) || row_at(a) != bytes {
                    break;
                }
                n += 1;
            }
            if n > 1 {
                out.push(HexLine::Fold {
                    addr: start,
                    rows: n,
                });
                addr = start + n * c.bpr;
                continue;
            }
        }
        out.push(HexLine::Row {
            addr,
            bytes: bytes.clone(),
        });
        prev = Some(bytes);
        addr = end;
    }
    out
}

fn laid_out(mem: &mut Mem, c: &Case) -> Vec<HexLine> {
    let spec = Spec {
        vmas: c.vmas,
        top: c.top,
        bpr: c.bpr,
        specials: Specials::new(c.cursor, c.anchor, c.highlight.as_ref()),
        fold_limit: c.limit,
    };
    layout::lines(mem, &spec, c.rows)
}

const BASE: u64 = 0x7f00_0000_0000;

/// Memory with every kind of stretch: zeros over page boundaries and not page-aligned, a
/// repeated pointer, noise, a zero page with one byte changed, holes not captured, a page
/// half captured, and an area that ends in the middle of a run.
fn mixed_memory() -> (Mem, Vec<Vma>) {
    let mem = Mem::default()
        .fill(BASE..BASE + 0x100, Fill::Noise(1))
        .fill(BASE + 0x100..BASE + 0x9_0000, Fill::Byte(0))
        .poke(BASE + 0x5_0123, Some(9))
        .fill(BASE + 0x9_0000..BASE + 0x9_0800, Fill::Noise(2))
        .fill(
            BASE + 0x9_0800..BASE + 0xc_0040,
            Fill::Ptr(0x7f00_dead_beef),
        )
        .fill(BASE + 0xd_0000..BASE + 0xd_0800, Fill::Byte(0xff))
        .fill(BASE + 0x20_0000..BASE + 0x28_0000, Fill::Byte(0x41))
        .poke(BASE + 0x24_0000, None);
    let vmas = vec![
        vma(BASE, BASE + 0x10_0000, None),
        vma(BASE + 0x10_0000, BASE + 0x12_0000, None),
        vma(BASE + 0x20_0000, BASE + 0x26_0000, Some("[heap]")),
        vma(BASE + 0x26_0000, BASE + 0x30_0000, None),
    ];
    (mem, vmas)
}

#[test]
fn folds_are_those_of_the_layout_before_the_caches() {
    let (mut mem, vmas) = mixed_memory();
    let mut checked = 0;
    for bpr in [4u64, 16, 64] {
        for limit in [3 * PAGE + 0x30, FOLD_SCAN_BYTES] {
            for top in [
                BASE,
                BASE + 0x40,
                BASE + 0x30,
                BASE + 0x8_fff0,
                BASE + 0x1f_ff00,
            ] {
                for (cursor, anchor, highlight) in [
                    (top, None, None),
                    (BASE + 0x3_0008, None, None),
                    (BASE + 0x4_0000, Some(BASE + 0x4_2345), None),
                    (
                        BASE + 0x9_1000,
                        None,
                        Some(BASE + 0xa_0000..BASE + 0xa_0010),
                    ),
                    (
                        BASE + 0x15_0000,
                        None,
                        Some(BASE + 0x25_0000..BASE + 0x25_0001),
                    ),
                ] {
                    let c = Case {
                        vmas: &vmas,
                        top: top - top % 4,
                        cursor,
                        anchor,
                        highlight,
                        bpr,
                        rows: 40,
                        limit,
                    };
                    let want = reference(&mem, &c);
                    assert_eq!(
                        laid_out(&mut mem, &c),
                        want,
                        "bpr {bpr} limit {limit:#x} top {top:#x}"
                    );
                    checked += want.len();
                }
            }
        }
    }
    assert!(checked > 1_000);
}

#[test]
fn layout_edges_match_the_layout_before_the_caches() {
    let (mut mem, vmas) = mixed_memory();
    let mut sparse = vmas.clone();
    sparse.push(vma(BASE + 0x4000_0000, BASE + 0x40_0000_0000, None));
    let top_of_space = [vma(u64::MAX - 0x3fff, u64::MAX, None)];
    let none: [Vma; 0] = [];
    let small = 3 * PAGE + 0x30;
    let cases = [
        // No memory areas known: every address is inside (all the rest is not captured).
        (&none[..], BASE + 0xfff0, BASE, small),
        // The last rows of the address space (not captured).
        (
            &top_of_space[..],
            u64::MAX - 0x3fff,
            u64::MAX - 0x10,
            FOLD_SCAN_BYTES,
        ),
        // The cursor in a gap, the rows around it shown.
        (
            &vmas[..],
            BASE + 0x12_0000 - 0x40,
            BASE + 0x15_0010,
            FOLD_SCAN_BYTES,
        ),
        // A huge sparse area (the plain layout is slow there: a small fold limit).
        (&sparse[..], BASE + 0x4000_0000, BASE + 0x4000_0000, small),
    ];
    for (v, top, cursor, limit) in cases {
        for bpr in [8u64, 32] {
            let c = Case {
                vmas: v,
                top,
                cursor,
                anchor: None,
                highlight: None,
                bpr,
                rows: 60,
                limit,
            };
            assert_eq!(
                laid_out(&mut mem, &c),
                reference(&mem, &c),
                "top {top:#x} bpr {bpr}"
            );
        }
    }
}

#[test]
fn a_long_fold_is_counted_in_steps_of_the_fold_limit() {
    let mut mem = Mem::default().fill(BASE..BASE + (20 << 20), Fill::Byte(0));
    let vmas = [vma(BASE, BASE + (20 << 20), None)];
    let c = Case {
        vmas: &vmas,
        top: BASE,
        cursor: BASE,
        anchor: None,
        highlight: None,
        bpr: 16,
        rows: 60,
        limit: FOLD_SCAN_BYTES,
    };
    let lines = laid_out(&mut mem, &c);
    let folds: Vec<u64> = lines
        .iter()
        .filter_map(|l| match l {
            HexLine::Fold { rows, .. } => Some(*rows),
            _ => None,
        })
        .collect();
    // The first fold starts one row after a page boundary: rows up to the next page, then
    // whole pages until 4 MiB are passed; the rest go 4 MiB at a time.
    assert_eq!(folds.len(), 5);
    assert_eq!(folds[0], 255 + 1024 * 256);
    assert!(folds[1..4].iter().all(|&n| n == 262_144));
    assert_eq!(folds.iter().sum::<u64>() + 1, (20 << 20) / 16);
    assert_eq!(
        lines.last(),
        Some(&HexLine::Gap {
            addr: BASE + (20 << 20),
            end: u64::MAX - u64::MAX % 16
        })
    );
}

#[test]
fn counting_stops_when_the_reading_share_is_spent_and_goes_on_after() {
    let mem_of = |share| {
        let mut m = Mem::default().fill(BASE..BASE + (16 << 20), Fill::Byte(0));
        m.share = share;
        m
    };
    let vmas = [vma(BASE, BASE + (16 << 20), None)];
    let c = Case {
        vmas: &vmas,
        top: BASE,
        cursor: BASE,
        anchor: None,
        highlight: None,
        bpr: 16,
        rows: 60,
        limit: FOLD_SCAN_BYTES,
    };
    let whole = laid_out(&mut mem_of(None), &c);
    let part = laid_out(&mut mem_of(Some(100)), &c);
    assert_eq!(part[0], whole[0]);
    assert!(matches!(part[1], HexLine::Fold { rows, .. } if rows < 262_399));
    let Some(HexLine::Pending { addr }) = part.last() else {
        panic!("not pending: {part:?}");
    };
    assert_eq!(layout::end_of(&part, 16), Some(*addr));
    assert!(*addr > BASE && *addr < BASE + (16 << 20));
    // Nothing can be told at all: the screen stops at the first fold.
    let none = laid_out(&mut mem_of(Some(0)), &c);
    assert_eq!(
        none,
        [whole[0].clone(), HexLine::Pending { addr: BASE + 16 }]
    );
}

#[test]
fn special_rows_are_never_folded() {
    let sp = Specials::new(0x1010, Some(0x3000), Some(&(0x8000..0x8001)));
    assert!(sp.hits(0x1000, 0x1010 + 1));
    assert!(!sp.hits(0x0, 0x1010));
    assert!(sp.hits(0x2fff, 0x3000 + 1) && sp.hits(0x1010, 0x1011));
    assert!(!sp.hits(0x3001, 0x8000));
    // Selection from the cursor (0x1010) to the anchor (0x3000): from 0x1000 on, row 1 (of
    // 16 bytes) is the first special one, page 0 already holds it.
    assert_eq!(sp.clear_units(0x1000, 16), 1);
    assert_eq!(sp.clear_units(0x1000, PAGE), 0);
    assert_eq!(sp.clear_units(0x3001, 16), (0x8000 - 0x3001) / 16);
    assert_eq!(sp.clear_units(0x8001, 16), u64::MAX);
    let top = Specials::new(u64::MAX, None, None);
    assert!(
        !top.hits(u64::MAX - 15, u64::MAX),
        "no row holds the last address"
    );
    assert_eq!(top.clear_units(u64::MAX - 0x1f, 16), 1);
}
