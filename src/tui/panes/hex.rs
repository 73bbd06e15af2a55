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
use crate::tui::action::{Action, Pane};
use crate::tui::command::{Command, Ctx, PromptKind};

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

fn area_of(cx: &Ctx) -> Rect {
    crate::tui::layout::pane_area(cx.size, cx.focus, Pane::Hex)
}

fn geometry_of(st: &State, cx: &Ctx) -> Geometry {
    geometry(
        area_of(cx),
        st.vmas.iter().any(|v| v.end > 0xffff_ffff_ffff) || st.cursor > 0xffff_ffff_ffff,
    )
}

/// Opens the viewer on a process at an address (with an optional highlight); `vmas` are
/// the process's memory areas when it is not the one shown already.
pub fn open(
    st: &mut State,
    cx: &Ctx,
    pid: Pid,
    addr: u64,
    highlight: Option<Range<u64>>,
    vmas: Option<Vec<Vma>>,
) {
    if st.pid != Some(pid) {
        st.vmas = vmas.unwrap_or_default();
        st.anchor = None;
    }
    st.pid = Some(pid);
    st.cursor = addr;
    st.highlight = highlight;
    let g = geometry_of(st, cx);
    let row = addr - addr % g.bpr;
    st.top = row.saturating_sub(if addr.is_multiple_of(0x1000) {
        0
    } else {
        2 * g.bpr
    });
    ensure_visible(st, cx);
}

/// Brings the viewer's caches up to date with its state and the current geometry (reading
/// the evidence as needed): the app calls it after every action, as a resize or a change of
/// focus changes the geometry without the viewer seeing an action. Cheap when nothing
/// changed.
pub fn refresh(st: &mut State, cx: &Ctx) {
    let g = geometry_of(st, cx);
    view::update(&**cx.ev, st, g);
    view::end_update(st);
}

/// True while the viewer still has rows to count (its screen ends with "counting
/// identical rows…"): the event loop then sends [`Action::Tick`]s until it is done.
pub fn busy(st: &State) -> bool {
    st.pid.is_some() && st.caches.view().is_some_and(|v| !v.complete())
}

/// The lines the viewer shows in geometry `g`, laid out again if needed.
fn shown<'s>(st: &'s mut State, cx: &Ctx, g: Geometry) -> &'s [HexLine] {
    view::update(&**cx.ev, st, g);
    st.caches.view().map_or(&[], |v| v.lines.as_slice())
}

fn ensure_visible(st: &mut State, cx: &Ctx) {
    let g = geometry_of(st, cx);
    let row = st.cursor - st.cursor % g.bpr;
    if row < st.top {
        st.top = row;
        return;
    }
    let visible = shown(st, cx, g)
        .iter()
        .any(|l| matches!(l, HexLine::Row { addr, .. } if *addr == row));
    if !visible {
        st.top = row.saturating_sub((g.rows as u64).saturating_sub(1) * g.bpr);
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
pub fn goto(st: &mut State, cx: &Ctx, text: &str) -> Vec<Command> {
    let Some(pid) = st.pid else {
        return vec![Command::error("open a process's memory first")];
    };
    match parse_target(&st.vmas, text) {
        Some(addr) => {
            open(st, cx, pid, addr, None, None);
            Vec::new()
        }
        None => vec![Command::error(format!(
            "cannot read {:?} as an address or name+offset",
            sanitize(text)
        ))],
    }
}

fn selection(st: &State) -> Option<Range<u64>> {
    let a = st.anchor?;
    Some(a.min(st.cursor)..a.max(st.cursor).saturating_add(1))
}

/// Handles an action for the hex viewer.
pub fn update(st: &mut State, cx: &Ctx, action: Action) -> Vec<Command> {
    let Some(pid) = st.pid else {
        if matches!(action, Action::Goto | Action::Enter) {
            return vec![Command::error(
                "select a memory area in the Maps pane (2) and press Enter",
            )];
        }
        return Vec::new();
    };
    let g = geometry_of(st, cx);
    match action {
        Action::Left => st.cursor = st.cursor.saturating_sub(1),
        Action::Right => st.cursor = st.cursor.saturating_add(1),
        Action::Up => st.cursor = st.cursor.saturating_sub(g.bpr),
        Action::Down => st.cursor = st.cursor.saturating_add(g.bpr),
        Action::PageDown => {
            if let Some(next) = end_of(shown(st, cx, g), g.bpr) {
                let col = st.cursor % g.bpr;
                st.top = next;
                st.cursor = next + col;
            }
            return Vec::new();
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
            return vec![Command::prompt(
                PromptKind::Goto,
                "go to address (0x..., or name+offset such as [heap]+0x10)",
                "",
            )];
        }
        Action::NextHit | Action::PrevHit => {
            let next = matches!(action, Action::NextHit);
            let cur = st.cursor;
            // Hits in this process's memory: its own, or physical copies it maps.
            let hit = cx
                .hits
                .iter()
                .filter_map(|h| match h.in_process() {
                    Some((p, a)) if p == pid => Some((a, h.len as u64)),
                    _ => None,
                })
                .filter(|&(a, _)| if next { a > cur } else { a < cur })
                .min_by_key(|&(a, _)| if next { a - cur } else { cur - a });
            return match hit {
                Some((a, len)) => {
                    open(st, cx, pid, a, Some(a..a + len.max(1)), None);
                    Vec::new()
                }
                None => vec![Command::info(if next {
                    "no later hit in this process"
                } else {
                    "no earlier hit in this process"
                })],
            };
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
            let got = match cx.ev.read_memory(pid, range.start, &mut buf) {
                Ok(got) => got,
                Err(e) => return vec![Command::error(format!("cannot read memory: {e}"))],
            };
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
            let target = Target::Memory {
                pid,
                comm: cx.comm(pid),
                address: range.start,
                length: range.end - range.start,
            };
            st.anchor = None;
            return vec![Command::Bookmark { target, note }];
        }
        Action::Bookmark => {
            let comm = cx.comm(pid);
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
                    pattern: cx.last_pattern.to_string(),
                    path: vma_at(&st.vmas, h.start).and_then(|v| v.path.clone()),
                },
                _ => Target::Memory {
                    pid,
                    comm,
                    address: st.cursor,
                    length: 16,
                },
            };
            return vec![Command::Bookmark {
                target,
                note: String::new(),
            }];
        }
        _ => return Vec::new(),
    }
    ensure_visible(st, cx);
    Vec::new()
}
