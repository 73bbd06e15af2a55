//! Memory maps of the selected process; suspicious areas are marked, Enter opens the hex
//! viewer at an area's start.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph};

use crate::engine::evidence::{Pid, Vma, VmaKind};
use crate::engine::extract::Extracted;
use crate::engine::findings::Target;
use crate::sanitize::sanitize;
use crate::tui::action::{Action, Pane};
use crate::tui::app::{App, Overlay, Prompt, PromptKind};
use crate::tui::list::ListCursor;
use crate::tui::panes::hex;
use crate::tui::theme;
use crate::units::human_size;

/// State of the maps pane.
#[derive(Debug, Clone, Default)]
pub struct State {
    /// The process shown.
    pub pid: Option<Pid>,
    /// Its memory areas.
    pub vmas: Vec<Vma>,
    /// Cursor.
    pub cursor: ListCursor,
}

/// Handles an action for the maps pane.
pub fn update(app: &mut App, action: Action) {
    let len = app.maps.vmas.len();
    let page = app.page_rows() as isize;
    let cur = &mut app.maps.cursor;
    match action {
        Action::Up => cur.move_by(-1, len),
        Action::Down => cur.move_by(1, len),
        Action::PageUp => cur.move_by(-page, len),
        Action::PageDown => cur.move_by(page, len),
        Action::Home => cur.home(),
        Action::End => cur.end(len),
        Action::Enter => {
            if let (Some(pid), Some(v)) =
                (app.maps.pid, app.maps.vmas.get(app.maps.cursor.selected))
            {
                let start = v.start;
                hex::open(app, pid, start, None);
                app.focus = Pane::Hex;
            }
        }
        Action::Extract => {
            if let (Some(pid), Some(v)) =
                (app.maps.pid, app.maps.vmas.get(app.maps.cursor.selected))
            {
                let range = v.start..v.end;
                let title = format!(
                    "extract pid {pid} {:#x}-{:#x} ({}) into folder",
                    v.start,
                    v.end,
                    human_size(v.size())
                );
                let default =
                    crate::tui::app::default_output_path(&app.info.path, "podmortem-extract");
                app.overlay = Some(Overlay::Prompt(Prompt::new(
                    PromptKind::ExtractVma { pid, range },
                    title,
                    &default,
                )));
            }
        }
        Action::Bookmark => {
            if let (Some(pid), Some(v)) =
                (app.maps.pid, app.maps.vmas.get(app.maps.cursor.selected))
            {
                let comm = app.process(pid).map(|p| p.comm.clone()).unwrap_or_default();
                let target = Target::Vma {
                    pid,
                    comm,
                    start: v.start,
                    end: v.end,
                    perms: v.perms.to_string(),
                    path: v.path.clone(),
                };
                app.bookmark(target, "");
            }
        }
        _ => {}
    }
    let h = app.page_rows();
    app.maps.cursor.scroll_to_selection(h);
}

/// Starts writing a memory area into a folder (never into the evidence), in the background.
pub fn extract(app: &mut App, pid: Pid, range: std::ops::Range<u64>, dir: &str) {
    if dir.is_empty() {
        return app.error_msg("no folder given");
    }
    let dir = std::path::PathBuf::from(dir);
    if let Err(e) = crate::engine::extract::ensure_outside_evidence(&app.info.path, &dir) {
        return app.error_msg(format!("extraction refused: {e}"));
    }
    app.info_msg(format!(
        "extracting pid {pid} {:#x}-{:#x}…",
        range.start, range.end
    ));
    app.jobs.extract_memory(app.ev.clone(), pid, range, dir);
}

/// Reports a finished memory extraction.
pub fn extracted(app: &mut App, result: Result<Extracted, String>) {
    match result {
        Ok(x) => app.info_msg(format!(
            "extracted to {} ({}, {} captured{})",
            x.path.display(),
            human_size(x.size),
            human_size(x.captured),
            x.sha256
                .map(|h| format!(", sha256 {}", h.get(..16).unwrap_or_default()))
                .unwrap_or_default()
        )),
        Err(e) => app.error_msg(format!("extraction failed: {e}")),
    }
}

fn kind_name(k: VmaKind) -> &'static str {
    match k {
        VmaKind::File => "file",
        VmaKind::Anon => "anon",
        VmaKind::Heap => "heap",
        VmaKind::Stack => "stack",
        VmaKind::Vdso => "vdso",
        VmaKind::Vvar => "vvar",
        VmaKind::Shmem => "shmem",
        VmaKind::Vsyscall => "vsyscall",
    }
}

/// Draws the maps pane.
pub fn draw(f: &mut Frame, area: Rect, app: &App, focused: bool) {
    let title = match app.maps.pid.and_then(|p| app.process(p)) {
        Some(p) => format!(
            " Maps: {} {} ({} areas) ",
            p.pid,
            sanitize(&p.comm),
            app.maps.vmas.len()
        ),
        None => " Maps ".to_string(),
    };
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(if focused {
            theme::BORDER_FOCUSED
        } else {
            theme::BORDER
        })
        .title(title);
    let inner = block.inner(area);
    f.render_widget(block, area);
    let height = usize::from(inner.height.saturating_sub(1));
    let offset = app.maps.cursor.visible_offset(height);
    let wide = app.maps.vmas.iter().any(|v| v.end > 0xffff_ffff_ffff);
    let aw = if wide { 16 } else { 12 };
    let mut lines = vec![Line::styled(
        format!(
            "{:<w$} {:>6} {:<5} {:<5} PATH",
            "RANGE",
            "SIZE",
            "PERMS",
            "KIND",
            w = aw * 2 + 1
        ),
        theme::TITLE,
    )];
    for (i, v) in app.maps.vmas.iter().enumerate().skip(offset).take(height) {
        let selected = i == app.maps.cursor.selected;
        let base = theme::row(selected, focused);
        let flag = if v.is_suspicious() { "!" } else { " " };
        lines.push(Line::from(vec![
            Span::styled(
                format!(
                    "{:0aw$x}-{:0aw$x} {:>6} {}",
                    v.start,
                    v.end,
                    human_size(v.size()),
                    v.perms
                ),
                base,
            ),
            Span::styled(flag, if selected { base } else { theme::ALERT }),
            Span::styled(
                format!(
                    "{:<5} {}",
                    kind_name(v.kind),
                    sanitize(v.path.as_deref().unwrap_or(""))
                ),
                base,
            ),
        ]));
    }
    if app.maps.vmas.is_empty() {
        lines.push(Line::styled(
            "  no memory areas (a kernel thread, or not captured)",
            theme::DIM,
        ));
    }
    f.render_widget(Paragraph::new(lines), inner);
}
