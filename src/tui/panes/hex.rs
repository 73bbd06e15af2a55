//! The hex viewer: virtual addresses, hex and text columns coloured by byte category,
//! `??` for bytes not captured (distinct from real zeros), runs of identical rows folded,
//! a data inspector, selection, search-hit navigation and bookmarks.
//!
//! Evidence is read only in update ([`open`], [`update`], [`goto`], [`refresh`]) into caches
//! the state owns (`view.rs`); [`draw()`] only reads them.

use std::ops::Range;

use ratatui::layout::Rect;

use crate::engine::evidence::{Pid, Vma};
use crate::engine::findings::Target;
use crate::sanitize::sanitize;
use crate::tui::action::Action;
use crate::tui::app::{App, Overlay, Prompt, PromptKind};

mod draw;
mod folds;
mod layout;
mod pages;
#[cfg(test)]
mod tests;
mod view;

pub use draw::draw;
pub use layout::HexLine;
use layout::end_of;

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
    /// Pages read, page classes and the view laid out from them.
    caches: view::Caches,
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

/// Brings the viewer's caches up to date with its state and the current geometry (reading
/// the evidence as needed): the app calls it after every action, as a resize or a change of
/// focus changes the geometry without the viewer seeing an action. Cheap when nothing
/// changed.
pub fn refresh(app: &mut App) {
    let g = geometry_of(app);
    view::update(&*app.ev, &mut app.hex, g);
    view::end_update(&mut app.hex);
}

/// The lines the viewer shows in geometry `g`, laid out again if needed.
fn shown(app: &mut App, g: Geometry) -> &[HexLine] {
    view::update(&*app.ev, &mut app.hex, g);
    app.hex.caches.view().map_or(&[], |v| v.lines.as_slice())
}

fn ensure_visible(app: &mut App) {
    let g = geometry_of(app);
    let row = app.hex.cursor - app.hex.cursor % g.bpr;
    if row < app.hex.top {
        app.hex.top = row;
        return;
    }
    let visible = shown(app, g)
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
            if let Some(next) = end_of(shown(app, g), g.bpr) {
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
                .filter(|h| h.process().is_some_and(|p| p.pid == pid))
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
