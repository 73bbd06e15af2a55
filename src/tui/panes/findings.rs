//! The analyst's findings: list, edit, delete, jump to the object; export is global (`e`).

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Wrap};

use crate::engine::findings::Target;
use crate::sanitize::sanitize;
use crate::tui::action::{Action, Pane};
use crate::tui::app::{App, Overlay, Prompt, PromptKind};
use crate::tui::list::ListCursor;
use crate::tui::panes::hex;
use crate::tui::theme;

/// State of the findings pane.
#[derive(Debug, Clone, Default)]
pub struct State {
    /// Cursor.
    pub cursor: ListCursor,
}

/// Handles an action for the findings pane.
pub fn update(app: &mut App, action: Action) {
    let len = app.session.findings.len();
    let cur = &mut app.findings.cursor;
    match action {
        Action::Up => cur.move_by(-1, len),
        Action::Down => cur.move_by(1, len),
        Action::Home => cur.home(),
        Action::End => cur.end(len),
        Action::Delete => {
            if let Some(f) = app.session.findings.get(cur.selected) {
                let id = f.id;
                app.session.remove(id);
                app.save_findings();
                app.info_msg(format!("finding #{id} deleted"));
            }
        }
        Action::Filter | Action::Sort => {}
        Action::EditTags => {
            if let Some(f) = app.session.findings.get(cur.selected) {
                let tags = f.tags.join(", ");
                app.overlay = Some(Overlay::Prompt(Prompt::new(
                    PromptKind::EditTags(f.id),
                    format!("tags of finding #{} (comma separated)", f.id),
                    &tags,
                )));
            }
        }
        Action::EditNote => {
            if let Some(f) = app.session.findings.get(cur.selected) {
                let note = f.note.clone();
                app.overlay = Some(Overlay::Prompt(Prompt::new(
                    PromptKind::EditNote(f.id),
                    format!("note of finding #{}", f.id),
                    &note,
                )));
            }
        }
        Action::Enter => {
            if let Some(f) = app.session.findings.get(cur.selected) {
                jump(app, f.target.clone());
            }
        }
        _ => {}
    }
    let len = app.session.findings.len();
    app.findings.cursor.clamp(len);
    let h = app.page_rows() / 2;
    app.findings.cursor.scroll_to_selection(h);
}

fn jump(app: &mut App, target: Target) {
    match target {
        Target::Process { pid, .. } => select_process(app, pid, Pane::Processes),
        Target::Vma { pid, start, .. } => {
            select_process(app, pid, Pane::Maps);
            if let Some(i) = app.maps.vmas.iter().position(|v| v.start == start) {
                app.maps.cursor.selected = i;
            }
        }
        Target::Memory {
            pid,
            address,
            length,
            ..
        } => {
            hex::open(
                app,
                pid,
                address,
                Some(address..address.saturating_add(length.max(1))),
            );
            app.focus = Pane::Hex;
        }
        Target::SearchHit {
            pid,
            address,
            length,
            ..
        } => {
            hex::open(
                app,
                pid,
                address,
                Some(address..address.saturating_add(length.max(1))),
            );
            app.focus = Pane::Hex;
        }
        Target::File { path, .. } => {
            if let Some(i) = app.rootfs.visible().iter().position(|n| n.path == path) {
                app.rootfs.cursor.selected = i;
            }
            app.focus = Pane::Rootfs;
            crate::tui::panes::rootfs::update(app, Action::Cancel);
        }
    }
}

fn select_process(app: &mut App, pid: u32, pane: Pane) {
    app.processes.filter.clear();
    let rows = crate::tui::panes::processes::rows(app);
    if let Some(i) = rows
        .iter()
        .position(|r| app.procs.get(r.idx).is_some_and(|p| p.pid == pid))
    {
        app.processes.cursor.selected = i;
    }
    app.sync_selection();
    app.focus = pane;
}

/// Draws the findings pane.
pub fn draw(f: &mut Frame, area: Rect, app: &App, focused: bool) {
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(if focused {
            theme::BORDER_FOCUSED
        } else {
            theme::BORDER
        })
        .title(format!(
            " Findings ({}) — saved to the session file on every change ",
            app.session.findings.len()
        ));
    let inner = block.inner(area);
    f.render_widget(block, area);
    if app.session.findings.is_empty() {
        let lines = vec![
            Line::raw(""),
            Line::styled(
                "  No findings yet. Press b on a process, memory area, hex selection,",
                theme::DIM,
            ),
            Line::styled(
                "  search hit or file to bookmark it with a note; e exports them to JSON.",
                theme::DIM,
            ),
        ];
        f.render_widget(Paragraph::new(lines), inner);
        return;
    }
    let [list_area, detail_area] =
        Layout::vertical([Constraint::Percentage(60), Constraint::Percentage(40)]).areas(inner);
    let height = usize::from(list_area.height);
    let offset = app.findings.cursor.visible_offset(height);
    let mut lines = Vec::new();
    for (i, fnd) in app
        .session
        .findings
        .iter()
        .enumerate()
        .skip(offset)
        .take(height)
    {
        let selected = i == app.findings.cursor.selected;
        let style = theme::row(selected, focused);
        let tags = if fnd.tags.is_empty() {
            String::new()
        } else {
            format!(" [{}]", fnd.tags.join(","))
        };
        let note = fnd.note.lines().next().unwrap_or("");
        lines.push(Line::from(vec![
            Span::styled(
                format!("#{:<3} {} ", fnd.id, sanitize(&fnd.target.describe())),
                style,
            ),
            Span::styled(
                sanitize(&tags).into_owned(),
                if selected { style } else { theme::KEY },
            ),
            Span::styled(
                format!(" {}", sanitize(note)),
                if selected { style } else { theme::DIM },
            ),
        ]));
    }
    f.render_widget(Paragraph::new(lines), list_area);
    if let Some(fnd) = app.session.findings.get(app.findings.cursor.selected) {
        let detail = vec![
            Line::styled(
                format!(
                    "#{} created {} updated {}",
                    fnd.id, fnd.created, fnd.updated
                ),
                theme::DIM,
            ),
            Line::raw(sanitize(&fnd.note).into_owned()),
        ];
        f.render_widget(
            Paragraph::new(detail).wrap(Wrap { trim: false }).block(
                Block::default()
                    .borders(Borders::TOP)
                    .border_style(theme::BORDER),
            ),
            detail_area,
        );
    }
}
