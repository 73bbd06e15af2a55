//! Drawing the hex viewer: addresses, hex and text columns coloured by byte category,
//! selection and highlight, and the data inspector. Reads only the state and its caches,
//! never the evidence.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::{HexLine, INSPECTOR_WIDTH, State, geometry_of, selection, vma_at};
use crate::engine::evidence::PageSource;
use crate::sanitize::sanitize;
use crate::tui::command::Ctx;
use crate::tui::theme;

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
pub fn draw(f: &mut Frame, area: Rect, st: &State, cx: &Ctx, focused: bool) {
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
    let view = st.caches.view();
    let g = view.map_or_else(|| geometry_of(st, cx), |v| v.geometry());
    let comm = cx
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
    // Where the byte under the cursor came from: named for an incremental checkpoint's
    // every byte, elsewhere only when it is not this dump's.
    let source = view
        .and_then(|v| v.source.as_ref())
        .filter(|s| st.caches.chained() || **s != PageSource::ThisDump)
        .map(|s| format!(" │ {}", sanitize(&s.describe())))
        .unwrap_or_default();
    let title = format!(" Hex: {pid} {comm} │ {:#x} │ {where_}{source}", st.cursor);
    let mut out = vec![Line::styled(
        title,
        if focused {
            theme::BORDER_FOCUSED
        } else {
            theme::TITLE
        },
    )];
    let sel = selection(st);
    for line in view.map_or(&[][..], |v| &v.lines) {
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
            HexLine::Pending { .. } => out.push(Line::styled(
                format!(
                    "{:>w$} ⋮ counting identical rows…",
                    "",
                    w = g.addr_digits.saturating_sub(1)
                ),
                theme::DIM,
            )),
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
    let inspector = inspector_lines(st);
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
fn inspector_lines(st: &State) -> Vec<Line<'static>> {
    let mut b = [0u8; 8];
    let at = st.caches.view().map_or(&[][..], |v| &v.at_cursor);
    let mut n = 0;
    for (dst, src) in b.iter_mut().zip(at) {
        let Some(v) = src else { break };
        *dst = *v;
        n += 1;
    }
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
