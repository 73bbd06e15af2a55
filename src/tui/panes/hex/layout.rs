//! The hex viewer's layout: which lines a screen shows from an address on — rows of bytes
//! read page by page (`None` where not captured), gaps outside every memory area, and runs
//! of identical rows folded.

use std::collections::HashMap;
use std::ops::Range;

use super::{Geometry, State, vma_at};
use crate::engine::evidence::Pid;
use crate::tui::app::App;

/// Identical rows are scanned for folding at most this far (bytes).
const FOLD_SCAN_BYTES: u64 = 4 << 20;
/// Page size used for reading.
const PAGE: u64 = 0x1000;

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
}

/// Reads bytes page by page, caching pages for one layout pass.
struct Reader<'a> {
    app: &'a App,
    pid: Pid,
    pages: HashMap<u64, Vec<Option<u8>>>,
}

impl Reader<'_> {
    fn byte_row(&mut self, addr: u64, len: u64) -> Vec<Option<u8>> {
        let mut out = Vec::with_capacity(len as usize);
        for i in 0..len {
            let Some(a) = addr.checked_add(i) else {
                out.push(None);
                continue;
            };
            let page = a & !(PAGE - 1);
            out.push(self.page(page).get((a - page) as usize).copied().flatten());
        }
        out
    }

    /// One page, `None` where not captured (at most 64 pages kept).
    fn page(&mut self, page: u64) -> &[Option<u8>] {
        if self.pages.len() > 64 && !self.pages.contains_key(&page) {
            self.pages.clear();
        }
        let (app, pid) = (self.app, self.pid);
        self.pages.entry(page).or_insert_with(|| {
            let mut buf = vec![0u8; PAGE as usize];
            match app.ev.read_memory(pid, page, &mut buf) {
                Ok(got) => buf
                    .iter()
                    .enumerate()
                    .map(|(i, b)| got.is_captured(i).then_some(*b))
                    .collect(),
                Err(_) => vec![None; PAGE as usize],
            }
        })
    }

    /// True if the row at `addr` equals `row` (without allocating when inside one page).
    fn row_matches(&mut self, addr: u64, row: &[Option<u8>]) -> bool {
        let page = addr & !(PAGE - 1);
        let off = (addr - page) as usize;
        if off + row.len() <= PAGE as usize {
            return self.page(page).get(off..off + row.len()) == Some(row);
        }
        self.byte_row(addr, row.len() as u64) == row
    }

    /// True if the whole page at `page` repeats `row`.
    fn page_matches(&mut self, page: u64, row: &[Option<u8>]) -> bool {
        !row.is_empty() && self.page(page).chunks(row.len()).all(|c| c == row)
    }
}

fn special(st: &State, row: Range<u64>) -> bool {
    let hit = |r: &Range<u64>| r.start < row.end && row.start < r.end;
    row.contains(&st.cursor)
        || st.highlight.as_ref().is_some_and(hit)
        || st
            .anchor
            .is_some_and(|a| hit(&(a.min(st.cursor)..a.max(st.cursor).saturating_add(1))))
}

/// The display lines from `st.top`, folding runs of identical rows (never the cursor's,
/// the selection's or the highlight's rows).
pub fn lines(app: &App, st: &State, g: Geometry, max: usize) -> Vec<HexLine> {
    let Some(pid) = st.pid else { return Vec::new() };
    let mut r = Reader {
        app,
        pid,
        pages: HashMap::new(),
    };
    let mut out = Vec::new();
    let mut addr = st.top;
    let mut prev: Option<Vec<Option<u8>>> = None;
    while out.len() < max {
        let Some(end) = addr.checked_add(g.bpr) else {
            break;
        };
        let in_vma = st.vmas.is_empty() || st.vmas.iter().any(|v| v.start < end && addr < v.end);
        if !in_vma && !special(st, addr..end) {
            let next = st
                .vmas
                .iter()
                .map(|v| v.start)
                .filter(|&s| s > addr)
                .min()
                .unwrap_or(u64::MAX);
            let next = next - next % g.bpr;
            out.push(HexLine::Gap { addr, end: next });
            prev = None;
            if next <= addr {
                break;
            }
            addr = next;
            continue;
        }
        let vma_end = vma_at(&st.vmas, addr).map_or(u64::MAX, |v| v.end);
        let bytes = r.byte_row(addr, g.bpr);
        if prev.as_ref() == Some(&bytes) && !special(st, addr..end) {
            let start = addr;
            let mut n = 0u64;
            while n * g.bpr < FOLD_SCAN_BYTES {
                let a = start + n * g.bpr;
                let Some(e) = a.checked_add(g.bpr) else { break };
                if e > vma_end {
                    break;
                }
                // Whole pages at a time where possible.
                if a.is_multiple_of(PAGE)
                    && PAGE.is_multiple_of(g.bpr)
                    && a.checked_add(PAGE)
                        .is_some_and(|pe| pe <= vma_end && !special(st, a..pe))
                    && r.page_matches(a, &bytes)
                {
                    n += PAGE / g.bpr;
                    continue;
                }
                if special(st, a..e) || !r.row_matches(a, &bytes) {
                    break;
                }
                n += 1;
            }
            if n > 1 {
                out.push(HexLine::Fold {
                    addr: start,
                    rows: n,
                });
                addr = start + n * g.bpr;
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

/// The address after the last displayed line.
pub(super) fn end_of(lines: &[HexLine], bpr: u64) -> Option<u64> {
    match lines.last()? {
        HexLine::Row { addr, .. } => addr.checked_add(bpr),
        HexLine::Fold { addr, rows } => addr.checked_add(rows * bpr),
        HexLine::Gap { end, .. } => Some(*end),
    }
}
