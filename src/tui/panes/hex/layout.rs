//! The hex viewer's layout: which lines a screen shows from an address on — rows of bytes
//! (`None` where not captured), gaps outside every memory area, and runs of identical rows
//! folded. Pure: bytes and page classes come from a [`Memory`], which answers from caches.
//!
//! A fold counts the rows after a row that are equal to it, at most [`FOLD_SCAN_BYTES`] at a
//! time (a longer run shows as several folds), never past the end of the memory area nor over
//! the cursor's, the selection's or the highlight's rows. Runs of pages that repeat one
//! block are skipped whole, so the cost of a fold does not grow with its length.

use std::ops::Range;

use super::folds::Class;
use super::pages::PAGE;
use super::vma_at;
use crate::engine::evidence::Vma;

/// Identical rows are counted at most this far per fold (bytes).
pub const FOLD_SCAN_BYTES: u64 = 4 << 20;

/// One display line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HexLine {
    /// A row of bytes; `None` = not captured.
    Row {
        /// Address of the first byte.
        addr: u64,
        /// The bytes.
        bytes: Vec<Option<u8>>,
    },
    /// Addresses outside every memory area.
    Gap {
        /// First unmapped address.
        addr: u64,
        /// Next mapped address (or the end of the address space).
        end: u64,
    },
    /// Rows identical to the one before, folded.
    Fold {
        /// Address of the first folded row.
        addr: u64,
        /// Number of rows folded.
        rows: u64,
    },
    /// Lines from here on are not known yet: counting identical rows took this update's
    /// share of reading; the next update goes on.
    Pending {
        /// Address of the first row not laid out.
        addr: u64,
    },
}

/// Process memory as the layout sees it.
pub trait Memory {
    /// The `len` bytes at `addr` (`None`: not captured, or past the end of the address space).
    fn row(&mut self, addr: u64, len: u64) -> Vec<Option<u8>>;
    /// The class of page number `page` and the end of the run of pages of that class from it
    /// (at most `limit`, above `page`); `None` when it cannot be told within this update's
    /// share of reading.
    fn run(&mut self, page: u64, limit: u64) -> Option<(Class, u64)>;
    /// The `len` bytes at `addr` as [`Memory::row`], or `None` when that needs reading past
    /// this update's share.
    fn fold_row(&mut self, addr: u64, len: u64) -> Option<Vec<Option<u8>>>;
}

/// Rows that are never folded: the cursor's, the selection's and the highlight's.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Specials {
    /// Ranges `[start, end)`; a row `[a, e)` is special when `start < e && a < end`.
    ranges: Vec<(u128, u128)>,
}

impl Specials {
    /// The special ranges of a viewer state.
    pub fn new(cursor: u64, anchor: Option<u64>, highlight: Option<&Range<u64>>) -> Specials {
        let mut ranges = vec![(u128::from(cursor), u128::from(cursor) + 1)];
        if let Some(h) = highlight {
            ranges.push((h.start.into(), h.end.into()));
        }
        if let Some(a) = anchor {
            let (lo, hi) = (a.min(cursor), a.max(cursor).saturating_add(1));
            ranges.push((lo.into(), hi.into()));
        }
        Specials { ranges }
    }

    /// True if the row `[a, e)` is special.
    pub fn hits(&self, a: u64, e: u64) -> bool {
        let (a, e) = (u128::from(a), u128::from(e));
        self.ranges.iter().any(|&(s, t)| s < e && a < t)
    }

    /// How many consecutive units of `unit` bytes from `a` are not special (`u64::MAX`: all).
    pub fn clear_units(&self, a: u64, unit: u64) -> u64 {
        let (a, u) = (u128::from(a), u128::from(unit.max(1)));
        self.ranges
            .iter()
            .filter_map(|&(s, t)| {
                let j = s.saturating_sub(a) / u;
                (a + j * u < t).then(|| u64::try_from(j).unwrap_or(u64::MAX))
            })
            .min()
            .unwrap_or(u64::MAX)
    }
}

/// What to lay out.
#[derive(Debug, Clone)]
pub struct Spec<'a> {
    /// The memory areas, sorted.
    pub vmas: &'a [Vma],
    /// Address of the first row.
    pub top: u64,
    /// Bytes per row.
    pub bpr: u64,
    /// Rows never folded.
    pub specials: Specials,
    /// Identical rows counted at most this far per fold ([`FOLD_SCAN_BYTES`]).
    pub fold_limit: u64,
}

/// The display lines from `spec.top`, at most `max`, folding runs of identical rows (never
/// the special ones). Ends with [`HexLine::Pending`] when the reading share ran out.
pub fn lines(mem: &mut impl Memory, spec: &Spec, max: usize) -> Vec<HexLine> {
    let (vmas, bpr, sp) = (spec.vmas, spec.bpr, &spec.specials);
    let mut out = Vec::new();
    let mut addr = spec.top;
    let mut prev: Option<Vec<Option<u8>>> = None;
    while out.len() < max {
        let Some(end) = addr.checked_add(bpr) else {
            break;
        };
        let in_vma = vmas.is_empty() || vmas.iter().any(|v| v.start < end && addr < v.end);
        if !in_vma && !sp.hits(addr, end) {
            let next = vmas
                .iter()
                .map(|v| v.start)
                .filter(|&s| s > addr)
                .min()
                .unwrap_or(u64::MAX);
            let next = next - next % bpr;
            out.push(HexLine::Gap { addr, end: next });
            prev = None;
            if next <= addr {
                break;
            }
            addr = next;
            continue;
        }
        let vma_end = vma_at(vmas, addr).map_or(u64::MAX, |v| v.end);
        let bytes = mem.row(addr, bpr);
        if prev.as_ref() == Some(&bytes) && !sp.hits(addr, end) {
            let (n, pending) = fold_rows(mem, spec, addr, &bytes, vma_end);
            let next = n
                .checked_mul(bpr)
                .and_then(|d| addr.checked_add(d))
                .unwrap_or(u64::MAX);
            if pending {
                if n > 1 {
                    out.push(HexLine::Fold { addr, rows: n });
                }
                out.push(HexLine::Pending {
                    addr: if n > 1 { next } else { addr },
                });
                break;
            }
            if n > 1 {
                out.push(HexLine::Fold { addr, rows: n });
                addr = next;
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

/// How many rows from `start` on equal `row` (and whether counting stopped for want of
/// reading share): rows one at a time, whole pages at a time from a page boundary on, whole
/// runs of pages repeating one block at once.
fn fold_rows(
    mem: &mut impl Memory,
    spec: &Spec,
    start: u64,
    row: &[Option<u8>],
    vma_end: u64,
) -> (u64, bool) {
    let (bpr, limit, sp) = (spec.bpr, spec.fold_limit, &spec.specials);
    let steps_left = |done: u64, unit: u64| (limit - done).div_ceil(unit);
    let mut n = 0u64;
    while let Some(done) = n.checked_mul(bpr).filter(|&d| d < limit) {
        let Some(a) = start.checked_add(done) else {
            break;
        };
        if a.checked_add(bpr).is_none_or(|e| e > vma_end) {
            break;
        }
        // Whole pages, as long as each repeats the row and holds nothing special.
        if a.is_multiple_of(PAGE) && PAGE.is_multiple_of(bpr) {
            let max = ((vma_end - a) / PAGE)
                .min(sp.clear_units(a, PAGE))
                .min(steps_left(done, PAGE));
            if max > 0 {
                let page = a / PAGE;
                let Some((class, end)) = mem.run(page, page.saturating_add(max)) else {
                    return (n, true);
                };
                if let Class::Uniform(b) = class
                    && b.rows_equal(0, row)
                {
                    n += (end - page) * (PAGE / bpr);
                    continue;
                }
            }
        }
        // Rows: up to the next page boundary when rows meet one, in a run of pages repeating
        // the row all at once, elsewhere one by one.
        let mut max = ((vma_end - a) / bpr)
            .min(sp.clear_units(a, bpr))
            .min(steps_left(done, bpr));
        if a.is_multiple_of(bpr) && PAGE.is_multiple_of(bpr) {
            max = max.min((PAGE - a % PAGE) / bpr);
        }
        if max == 0 {
            break;
        }
        let page = a / PAGE;
        let last = u128::from(a) + u128::from(max) * u128::from(bpr);
        let limit_page = u64::try_from(last.div_ceil(u128::from(PAGE))).unwrap_or(u64::MAX);
        let Some((class, end)) = mem.run(page, limit_page.max(page + 1)) else {
            return (n, true);
        };
        if let Class::Uniform(b) = class
            && b.rows_equal(a % PAGE, row)
        {
            let inside = (u128::from(end) * u128::from(PAGE) - u128::from(a)) / u128::from(bpr);
            let k = u64::try_from(inside).unwrap_or(u64::MAX).min(max);
            if k > 0 {
                n += k;
                continue;
            }
        }
        match mem.fold_row(a, bpr) {
            None => return (n, true),
            Some(r) if r != row => break,
            Some(_) => n += 1,
        }
    }
    (n, false)
}

/// The address after the last displayed line.
pub fn end_of(lines: &[HexLine], bpr: u64) -> Option<u64> {
    match lines.last()? {
        HexLine::Row { addr, .. } => addr.checked_add(bpr),
        HexLine::Fold { addr, rows } => addr.checked_add(rows.checked_mul(bpr)?),
        HexLine::Gap { end, .. } => Some(*end),
        HexLine::Pending { addr } => Some(*addr),
    }
}
