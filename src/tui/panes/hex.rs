//! The hex viewer: virtual addresses, hex and text columns coloured by byte category,
//! `??` for bytes not captured (distinct from real zeros), runs of identical rows folded,
//! a data inspector, selection, search-hit navigation and bookmarks.

use std::collections::HashMap;
use std::ops::Range;

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use crate::engine::evidence::{Pid, Vma};
use crate::engine::findings::Target;
use crate::sanitize::sanitize;
use crate::tui::action::Action;
use crate::tui::app::{App, Overlay, Prompt, PromptKind};
use crate::tui::theme;

/// Identical rows are scanned for folding at most this far (bytes).
const FOLD_SCAN_BYTES: u64 = 4 << 20;
/// Page size used for reading.
const PAGE: u64 = 0x1000;
/// Width of the inspector when shown at the right.
const INSPECTOR_WIDTH: u16 = 34;

/// State of the hex viewer.
#[derive(Debug, Clone, Default)]
pub struct State {
    /// Process shown.
    pub pid: Option<Pid>,
    /// Its memory areas.
    pub vmas: Vec<Vma>,
    /// Address under the cursor.
    pub cursor: u64,
    /// Address of the first row shown.
    pub top: u64,
    /// Start of the selection, if selecting.
    pub anchor: Option<u64>,
    /// Highlighted range (a search hit).
    pub highlight: Option<Range<u64>>,
}

/// Geometry of the viewer for a given area.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Geometry {
    /// Bytes per row.
    pub bpr: u64,
    /// Hex digits of the address column.
    pub addr_digits: usize,
    /// Rows of bytes visible.
    pub rows: usize,
    /// Inspector at the right (else at the bottom).
    pub inspector_right: bool,
}

/// Computes the geometry for an area (pure layout math).
pub fn geometry(area: Rect, wide_addresses: bool) -> Geometry {
    let addr_digits = if wide_addresses { 16 } else { 12 };
    let fits = |bpr: u16, width: u16| addr_digits as u16 + 3 + 4 * bpr <= width;
    let inspector_right = area.width >= addr_digits as u16 + 3 + 64 + INSPECTOR_WIDTH;
    let avail = if inspector_right {
        area.width - INSPECTOR_WIDTH
    } else {
        area.width
    };
    let bpr = [64u16, 32, 16, 8, 4]
        .into_iter()
        .find(|&b| fits(b, avail))
        .unwrap_or(4);
    let bottom = if inspector_right { 0 } else { 5 };
    let rows = usize::from(area.height.saturating_sub(1 + bottom)).max(1);
    Geometry {
        bpr: u64::from(bpr),
        addr_digits,
        rows,
        inspector_right,
    }
}

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
        (0..len)
            .map(|i| {
                let a = addr.checked_add(i)?;
                let page = a & !0xfff;
                let data = self.pages.entry(page).or_insert_with(|| {
                    let mut buf = vec![0u8; 0x1000];
                    match self.app.ev.read_memory(self.pid, page, &mut buf) {
                        Ok(got) => buf
                            .iter()
                            .enumerate()
                            .map(|(i, b)| got.is_captured(i).then_some(*b))
                            .collect(),
                        Err(_) => vec![None; 0x1000],
                    }
                });
                data.get((a - page) as usize).copied().flatten()
            })
            .collect()
    }

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
fn end_of(lines: &[HexLine], bpr: u64) -> Option<u64> {
    match lines.last()? {
        HexLine::Row { addr, .. } => addr.checked_add(bpr),
        HexLine::Fold { addr, rows } => addr.checked_add(rows * bpr),
        HexLine::Gap { end, .. } => Some(*end),
    }
}

fn area_of(app: &App) -> Rect {
    crate::tui::ui::pane_area(app, crate::tui::action::Pane::Hex)
}

fn geometry_of(app: &App) -> Geometry {
    geometry(
        area_of(app),
        app.hex.vmas.iter().any(|v| v.end > 0xffff_ffff_ffff) || app.hex.cursor > 0xffff_ffff_ffff,
    )
}

/// Opens the viewer on a process at an address (with an optional highlight).
pub fn open(app: &mut App, pid: Pid, addr: u64, highlight: Option<Range<u64>>) {
    if app.hex.pid != Some(pid) {
        app.hex.vmas = app.vmas_of(pid);
        app.hex.anchor = None;
    }
    app.hex.pid = Some(pid);
    app.hex.cursor = addr;
    app.hex.highlight = highlight;
    let g = geometry_of(app);
    let row = addr - addr % g.bpr;
    app.hex.top = row.saturating_sub(if addr.is_multiple_of(0x1000) {
        0
    } else {
        2 * g.bpr
    });
    ensure_visible(app);
}

fn ensure_visible(app: &mut App) {
    let g = geometry_of(app);
    let row = app.hex.cursor - app.hex.cursor % g.bpr;
    if row < app.hex.top {
        app.hex.top = row;
        return;
    }
    let shown = lines(app, &app.hex, g, g.rows);
    let visible = shown
        .iter()
        .any(|l| matches!(l, HexLine::Row { addr, .. } if *addr == row));
    if !visible {
        app.hex.top = row.saturating_sub((g.rows as u64).saturating_sub(1) * g.bpr);
    }
}

/// The memory area holding `addr`.
pub fn vma_at(vmas: &[Vma], addr: u64) -> Option<&Vma> {
    let i = vmas.partition_point(|v| v.end <= addr);
    vmas.get(i).filter(|v| v.start <= addr)
}

/// Parses a goto target: `0x7f..`, decimal, or `name+offset` where name is a memory area's
/// path, file name or pseudo name (`[heap]`, `heap`, `libc.so.6`).
pub fn parse_target(vmas: &[Vma], text: &str) -> Option<u64> {
    let t = text.trim();
    if let Some(h) = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        return u64::from_str_radix(&h.replace('_', ""), 16).ok();
    }
    if let Ok(n) = t.parse::<u64>() {
        return Some(n);
    }
    let (name, off) = match t.rsplit_once('+') {
        Some((n, o)) => (n.trim(), crate::cli::parse_u64(o.trim()).ok()?),
        None => (t, 0),
    };
    let bare = name.trim_matches(|c| c == '[' || c == ']');
    let v = vmas.iter().find(|v| {
        v.path.as_deref().is_some_and(|p| {
            p == name
                || p.trim_matches(|c| c == '[' || c == ']') == bare
                || p.rsplit('/').next() == Some(name)
        })
    })?;
    v.start.checked_add(off)
}

/// Goes to a typed address.
pub fn goto(app: &mut App, text: &str) {
    let Some(pid) = app.hex.pid else {
        return app.error_msg("open a process's memory first");
    };
    match parse_target(&app.hex.vmas, text) {
        Some(addr) => open(app, pid, addr, None),
        None => app.error_msg(format!(
            "cannot read {:?} as an address or name+offset",
            sanitize(text)
        )),
    }
}

fn selection(st: &State) -> Option<Range<u64>> {
    let a = st.anchor?;
    Some(a.min(st.cursor)..a.max(st.cursor).saturating_add(1))
}

/// Handles an action for the hex viewer.
pub fn update(app: &mut App, action: Action) {
    let Some(pid) = app.hex.pid else {
        if matches!(action, Action::Goto | Action::Enter) {
            app.error_msg("select a memory area in the Maps pane (2) and press Enter");
        }
        return;
    };
    let g = geometry_of(app);
    let st = &mut app.hex;
    match action {
        Action::Left => st.cursor = st.cursor.saturating_sub(1),
        Action::Right => st.cursor = st.cursor.saturating_add(1),
        Action::Up => st.cursor = st.cursor.saturating_sub(g.bpr),
        Action::Down => st.cursor = st.cursor.saturating_add(g.bpr),
        Action::PageDown => {
            let shown = lines(app, &app.hex, g, g.rows);
            if let Some(next) = end_of(&shown, g.bpr) {
                let col = app.hex.cursor % g.bpr;
                app.hex.top = next;
                app.hex.cursor = next + col;
            }
            return;
        }
        Action::PageUp => {
            let delta = g.bpr * g.rows as u64;
            st.top = st.top.saturating_sub(delta);
            st.cursor = st.cursor.saturating_sub(delta);
        }
        Action::Home => {
            if let Some(v) = vma_at(&st.vmas, st.cursor) {
                st.cursor = v.start;
            }
        }
        Action::End => {
            if let Some(v) = vma_at(&st.vmas, st.cursor) {
                st.cursor = v.end.saturating_sub(1);
            }
        }
        Action::Goto => {
            app.overlay = Some(Overlay::Prompt(Prompt::new(
                PromptKind::Goto,
                "go to address (0x..., or name+offset such as [heap]+0x10)",
                "",
            )));
            return;
        }
        Action::NextHit | Action::PrevHit => {
            let next = matches!(action, Action::NextHit);
            let cur = app.hex.cursor;
            let hit = app
                .search
                .hits
                .iter()
                .filter(|h| h.pid == pid)
                .filter(|h| {
                    if next {
                        h.address > cur
                    } else {
                        h.address < cur
                    }
                })
                .min_by_key(|h| {
                    if next {
                        h.address - cur
                    } else {
                        cur - h.address
                    }
                })
                .map(|h| (h.address, h.len as u64));
            match hit {
                Some((a, len)) => open(app, pid, a, Some(a..a + len.max(1))),
                None => app.info_msg(if next {
                    "no later hit in this process"
                } else {
                    "no earlier hit in this process"
                }),
            }
            return;
        }
        Action::Select => {
            st.anchor = if st.anchor.is_some() {
                None
            } else {
                Some(st.cursor)
            };
        }
        Action::Cancel => {
            st.anchor = None;
            st.highlight = None;
        }
        Action::Yank => {
            let range = selection(st).unwrap_or(st.cursor..st.cursor.saturating_add(16));
            let len = (range.end - range.start).min(256) as usize;
            let mut buf = vec![0u8; len];
            let got = app
                .ev
                .read_memory(pid, range.start, &mut buf)
                .unwrap_or_default();
            let hex: Vec<String> = buf
                .iter()
                .enumerate()
                .map(|(i, b)| {
                    if got.is_captured(i) {
                        format!("{b:02x}")
                    } else {
                        "??".into()
                    }
                })
                .collect();
            let text = crate::sanitize::sanitize_bytes(&buf);
            let note = format!("{:#x}: {} | {}", range.start, hex.join(" "), text);
            let comm = app.process(pid).map(|p| p.comm.clone()).unwrap_or_default();
            let target = Target::Memory {
                pid,
                comm,
                address: range.start,
                length: range.end - range.start,
            };
            app.hex.anchor = None;
            app.bookmark(target, &note);
            return;
        }
        Action::Bookmark => {
            let comm = app.process(pid).map(|p| p.comm.clone()).unwrap_or_default();
            let st = &app.hex;
            let target = match (&st.highlight, selection(st)) {
                (_, Some(sel)) => Target::Memory {
                    pid,
                    comm,
                    address: sel.start,
                    length: sel.end - sel.start,
                },
                (Some(h), None) if h.contains(&st.cursor) => Target::SearchHit {
                    pid,
                    comm,
                    address: h.start,
                    length: h.end - h.start,
                    pattern: app.search.last_pattern.clone(),
                    path: vma_at(&st.vmas, h.start).and_then(|v| v.path.clone()),
                },
                _ => Target::Memory {
                    pid,
                    comm,
                    address: st.cursor,
                    length: 16,
                },
            };
            app.bookmark(target, "");
            return;
        }
        _ => return,
    }
    ensure_visible(app);
}

fn byte_style(b: u8) -> Style {
    match b {
        0 => theme::BYTE_NULL,
        b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c => theme::BYTE_SPACE,
        0x21..=0x7e => theme::BYTE_PRINTABLE,
        0x01..=0x1f | 0x7f => theme::BYTE_OTHER,
        _ => theme::BYTE_HIGH,
    }
}

fn byte_char(b: u8) -> char {
    match b {
        0x21..=0x7e => b as char,
        0 => '0',
        b' ' | b'\t' | b'\n' | b'\r' => '_',
        0x01..=0x1f | 0x7f => '•',
        _ => '×',
    }
}

/// Draws the hex viewer.
pub fn draw(f: &mut Frame, area: Rect, app: &App, focused: bool) {
    let st = &app.hex;
    let Some(pid) = st.pid else {
        let text = vec![
            Line::styled(
                " Hex",
                if focused {
                    theme::BORDER_FOCUSED
                } else {
                    theme::TITLE
                },
            ),
            Line::raw(""),
            Line::raw("  Nothing open: choose a memory area in Maps (2) and press Enter,"),
            Line::raw("  or open a search hit from Search (4)."),
        ];
        f.render_widget(Paragraph::new(text), area);
        return;
    };
    let g = geometry_of(app);
    let comm = app
        .process(pid)
        .map(|p| sanitize(&p.comm).into_owned())
        .unwrap_or_default();
    let vma = vma_at(&st.vmas, st.cursor);
    let where_ = match vma {
        Some(v) => format!(
            "{} {} +{:#x}",
            v.perms,
            sanitize(v.path.as_deref().unwrap_or("anon")),
            st.cursor - v.start
        ),
        None => "not mapped".into(),
    };
    let title = format!(" Hex: {pid} {comm} │ {:#x} │ {where_}", st.cursor);
    let mut out = vec![Line::styled(
        title,
        if focused {
            theme::BORDER_FOCUSED
        } else {
            theme::TITLE
        },
    )];
    let sel = selection(st);
    for line in lines(app, st, g, g.rows) {
        match line {
            HexLine::Gap { addr, end } => out.push(Line::styled(
                format!(
                    "{:0w$x} ┄ not mapped up to {end:#x} ({})",
                    addr,
                    crate::units::human_size(end - addr),
                    w = g.addr_digits
                ),
                theme::DIM,
            )),
            HexLine::Fold { rows, .. } => out.push(
                Line::styled(
                    format!(
                        "{:>w$} ⋮ {rows} identical rows ({} bytes)",
                        "",
                        rows * g.bpr,
                        w = g.addr_digits.saturating_sub(1)
                    ),
                    theme::DIM,
                )
                .patch_style(Style::new()),
            ),
            HexLine::Row { addr, bytes } => {
                let mut spans = vec![Span::styled(
                    format!("{:0w$x} ", addr, w = g.addr_digits),
                    theme::DIM,
                )];
                let mut text = Vec::new();
                for (i, b) in bytes.iter().enumerate() {
                    let a = addr + i as u64;
                    let mut style = match b {
                        Some(b) => byte_style(*b),
                        None => theme::BYTE_MISSING,
                    };
                    if st.highlight.as_ref().is_some_and(|h| h.contains(&a)) {
                        style = theme::HIGHLIGHT;
                    }
                    if sel.as_ref().is_some_and(|s| s.contains(&a)) {
                        style = style.patch(theme::SELECTION);
                    }
                    if a == st.cursor {
                        style = theme::CURSOR;
                    }
                    let hex = b.map_or_else(|| "??".to_string(), |b| format!("{b:02x}"));
                    spans.push(Span::styled(hex, style));
                    spans.push(Span::raw(" "));
                    text.push(Span::styled(b.map_or('?', byte_char).to_string(), style));
                }
                spans.push(Span::styled("│", theme::DIM));
                spans.extend(text);
                spans.push(Span::styled("│", theme::DIM));
                out.push(Line::from(spans));
            }
        }
    }
    let inspector = inspector_lines(app, pid);
    if g.inspector_right {
        let hex_w = area.width.saturating_sub(INSPECTOR_WIDTH);
        f.render_widget(
            Paragraph::new(out),
            Rect {
                width: hex_w,
                ..area
            },
        );
        let mut ins = vec![Line::styled("Inspector", theme::TITLE)];
        ins.extend(inspector);
        f.render_widget(
            Paragraph::new(ins),
            Rect {
                x: area.x + hex_w + 1,
                width: INSPECTOR_WIDTH - 1,
                y: area.y + 1,
                height: area.height.saturating_sub(1),
            },
        );
    } else {
        let hex_h = area.height.saturating_sub(5);
        f.render_widget(
            Paragraph::new(out),
            Rect {
                height: hex_h,
                ..area
            },
        );
        let mut two = Vec::new();
        let ins: Vec<String> = inspector.iter().map(|l| l.to_string()).collect();
        for pair in ins.chunks(2) {
            let left = pair.first().cloned().unwrap_or_default();
            let right = pair.get(1).cloned().unwrap_or_default();
            two.push(Line::raw(format!("{left:<38} {right}")));
        }
        f.render_widget(
            Paragraph::new(two).style(theme::DIM),
            Rect {
                y: area.y + hex_h,
                height: area.height.saturating_sub(hex_h),
                ..area
            },
        );
    }
}

/// The data inspector: the bytes at the cursor read as integers, floats and a pointer.
fn inspector_lines(app: &App, pid: Pid) -> Vec<Line<'static>> {
    let st = &app.hex;
    let mut b = [0u8; 8];
    let got = app
        .ev
        .read_memory(pid, st.cursor, &mut b)
        .unwrap_or_default();
    let n = (0..8).take_while(|&i| got.is_captured(i)).count();
    if n == 0 {
        return vec![Line::raw("byte not captured in the evidence")];
    }
    let mut out = Vec::new();
    out.push(Line::raw(format!("u8 {:<4} i8 {}", b[0], b[0] as i8)));
    if n >= 2 {
        let le = u16::from_le_bytes([b[0], b[1]]);
        let be = u16::from_be_bytes([b[0], b[1]]);
        out.push(Line::raw(format!("u16 {le} be {be} i16 {}", le as i16)));
    }
    if n >= 4 {
        let a = [b[0], b[1], b[2], b[3]];
        let le = u32::from_le_bytes(a);
        out.push(Line::raw(format!("u32 {le} be {}", u32::from_be_bytes(a))));
        out.push(Line::raw(format!(
            "i32 {} f32 {:.6e}",
            le as i32,
            f32::from_le_bytes(a)
        )));
    }
    if n >= 8 {
        let le = u64::from_le_bytes(b);
        out.push(Line::raw(format!("u64 {le:#x}")));
        out.push(Line::raw(format!(
            "i64 {} be {:#x}",
            le as i64,
            u64::from_be_bytes(b)
        )));
        out.push(Line::raw(format!("f64 {:.6e}", f64::from_le_bytes(b))));
        let target = match vma_at(&st.vmas, le) {
            Some(v) => format!(
                "ptr → {} +{:#x}",
                sanitize(v.path.as_deref().unwrap_or("anon")),
                le - v.start
            ),
            None => "ptr → not mapped".into(),
        };
        out.push(Line::raw(target));
    }
    out
}
