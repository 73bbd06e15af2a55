//! Drawing: the layout (header, tabs, panes, status, footer) and the popups. Pure functions
//! of `&App`; the same layout math tells the panes their size.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use crate::sanitize::sanitize;
use crate::tui::action::Pane;
use crate::tui::app::{App, Level, Overlay};
use crate::tui::layout::layout_panes;
pub use crate::tui::layout::{WIDE, centered, main_area};
use crate::tui::panes::{
    details, diff, evidence, findings, help, hex, maps, processes, prompt, rootfs, search, triage,
};
use crate::tui::{keymap, strings, theme};

/// The panes shown and their areas: (pane, area, focused).
pub fn pane_areas(app: &App) -> Vec<(Pane, Rect, bool)> {
    layout_panes(app.size, app.focus)
}

/// Draws the whole workbench.
pub fn draw(f: &mut Frame, app: &App) {
    let area = f.area();
    let [header, tabs, _main, status, footer] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(1),
        Constraint::Min(1),
        Constraint::Length(1),
        Constraint::Length(1),
    ])
    .areas(area);
    draw_header(f, header, app);
    draw_tabs(f, tabs, app);
    let cx = app.ctx();
    for (pane, rect, focused) in pane_areas(app) {
        match pane {
            Pane::Processes => processes::draw(f, rect, &app.processes, &cx, focused),
            Pane::Maps => maps::draw(f, rect, &app.maps, &cx, focused),
            Pane::Hex => hex::draw(f, rect, &app.hex, &cx, focused),
            Pane::Search => search::draw(f, rect, &app.search, &cx, focused),
            Pane::Rootfs => rootfs::draw(f, rect, &app.rootfs, &cx, focused),
            Pane::Findings => findings::draw(f, rect, &app.findings, &cx, focused),
            Pane::Triage => triage::draw(f, rect, &app.triage, &cx, focused),
            Pane::Diff => diff::draw(f, rect, &app.diff, &cx, focused),
        }
    }
    draw_status(f, status, app);
    draw_footer(f, footer, app);
    match &app.overlay {
        Some(Overlay::Help { scroll }) => help::draw(f, area, *scroll),
        Some(Overlay::Details { pid, scroll, lines }) => {
            details::draw(f, area, *pid, lines, *scroll)
        }
        Some(Overlay::Evidence { scroll, lines }) => evidence::draw(f, area, lines, *scroll),
        Some(Overlay::Prompt(p)) => prompt::draw(f, area, p),
        None => {}
    }
}

fn draw_header(f: &mut Frame, area: Rect, app: &App) {
    let name = app
        .info
        .path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| app.info.path.display().to_string());
    let kind = match app.info.kind {
        crate::engine::evidence::EvidenceKind::Checkpoint => "checkpoint",
        crate::engine::evidence::EvidenceKind::KernelDump => "kernel dump",
    };
    let mut parts = vec![format!(
        " podmortem │ {} │ {kind} ({})",
        sanitize(&name),
        app.info.format
    )];
    if let Some(e) = &app.info.engine {
        parts.push(sanitize(e).into_owned());
    }
    if !app.info.title.is_empty() {
        parts.push(sanitize(&app.info.title).into_owned());
    }
    let text = parts.join(" │ ");
    f.render_widget(Paragraph::new(Line::from(text)).style(theme::HEADER), area);
}

fn draw_tabs(f: &mut Frame, area: Rect, app: &App) {
    let mut tabs = Vec::new();
    for p in &app.panes() {
        let i = p.index();
        let mut title = strings::pane_title(*p).to_string();
        match p {
            Pane::Findings if !app.session.findings.is_empty() => {
                title.push_str(&format!("({})", app.session.findings.len()))
            }
            Pane::Search if !app.search.hits.is_empty() => {
                title.push_str(&format!("({})", app.search.hits.len()))
            }
            Pane::Triage if app.triage.running => title.push('…'),
            Pane::Triage => {
                if let Some(r) = &app.triage.report {
                    title.push_str(&format!("({})", r.detections.len()))
                }
            }
            _ => {}
        }
        let style = if *p == app.focus {
            theme::TAB_FOCUSED
        } else {
            theme::TAB
        };
        tabs.push((format!("{} {title}", i + 1), style));
    }
    // Padded tabs when they fit; on a narrow terminal (80 columns with every count shown)
    // one space apart, so that the last ones are not cut.
    let padded: usize = tabs.iter().map(|(t, _)| t.chars().count() + 3).sum();
    let pad = if padded <= usize::from(area.width) {
        " "
    } else {
        ""
    };
    let mut spans = Vec::new();
    for (text, style) in tabs {
        spans.push(Span::styled(format!("{pad}{text}{pad}"), style));
        spans.push(Span::raw(" "));
    }
    f.render_widget(Paragraph::new(Line::from(spans)), area);
}

fn draw_status(f: &mut Frame, area: Rect, app: &App) {
    let mut spans = Vec::new();
    if app.search.running {
        spans.push(Span::styled(
            format!(
                " searching {}% · {} hits · Esc cancels ",
                app.search.percent,
                app.search.hits.len()
            ),
            theme::PROGRESS,
        ));
    }
    if app.triage.running {
        spans.push(Span::styled(
            format!(" triage {}% · 7 Triage, Esc cancels ", app.triage.percent),
            theme::PROGRESS,
        ));
    }
    if let Some((msg, level)) = &app.status {
        let style = if *level == Level::Error {
            theme::ERROR
        } else {
            theme::STATUS
        };
        spans.push(Span::styled(format!(" {}", sanitize(msg)), style));
    }
    f.render_widget(Paragraph::new(Line::from(spans)), area);
}

fn draw_footer(f: &mut Frame, area: Rect, app: &App) {
    let mut hints: Vec<(&str, &str)> = match &app.overlay {
        Some(Overlay::Prompt(_)) => vec![("Enter", "ok"), ("Esc", "cancel")],
        Some(_) => vec![("↑↓", "scroll"), ("Esc", "close")],
        None if app.focus == Pane::Search && app.search.editing => {
            vec![("Enter", "search"), ("Esc", "stop editing")]
        }
        None => keymap::hints(app.focus),
    };
    let keys = format!("1-{}/Tab", app.panes().len());
    let panes = app.overlay.is_none().then_some((keys.as_str(), "panes"));
    // Drop hints from the end (quit, then the pane's own) until the line fits; `?` stays.
    let width = |h: &[(&str, &str)]| -> usize {
        h.iter()
            .chain(panes.iter())
            .map(|(k, w)| k.chars().count() + w.chars().count() + 2)
            .sum()
    };
    while width(&hints) > usize::from(area.width) && hints.len() > 2 {
        let drop = hints
            .iter()
            .rposition(|(k, _)| *k != "?")
            .unwrap_or(hints.len() - 1);
        hints.remove(drop);
    }
    let mut spans = Vec::new();
    for (k, what) in hints.iter().chain(panes.iter()) {
        spans.push(Span::styled(format!(" {k}"), theme::KEY));
        spans.push(Span::styled(format!(" {what}"), theme::DIM));
    }
    f.render_widget(Paragraph::new(Line::from(spans)), area);
}
