//! The analyst's findings: list, edit, delete, jump to the object; export is global (`e`).

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Wrap};

use crate::engine::findings::{KernelObject, Target};
use crate::sanitize::sanitize;
use crate::tui::action::{Action, Pane};
use crate::tui::command::{Command, Ctx, PromptKind};
use crate::tui::list::ListCursor;
use crate::tui::strings::msg;
use crate::tui::theme;

/// State of the findings pane.
#[derive(Debug, Clone, Default)]
pub struct State {
    /// Cursor.
    pub cursor: ListCursor,
}

/// Handles an action for the findings pane.
pub fn update(st: &mut State, cx: &Ctx, action: Action) -> Vec<Command> {
    let mut out = Vec::new();
    let findings = &cx.session.findings;
    let len = findings.len();
    let cur = &mut st.cursor;
    match action {
        Action::Up => cur.move_by(-1, len),
        Action::Down => cur.move_by(1, len),
        Action::Home => cur.home(),
        Action::End => cur.end(len),
        Action::Delete => {
            if let Some(f) = findings.get(cur.selected) {
                out.push(Command::DeleteFinding(f.id));
            }
        }
        Action::EditTags => {
            if let Some(f) = findings.get(cur.selected) {
                out.push(Command::prompt(
                    PromptKind::EditTags(f.id),
                    format!("tags of finding #{} (comma separated)", f.id),
                    f.tags.join(", "),
                ));
            }
        }
        Action::EditNote => {
            if let Some(f) = findings.get(cur.selected) {
                out.push(Command::prompt(
                    PromptKind::EditNote(f.id),
                    format!("note of finding #{}", f.id),
                    f.note.clone(),
                ));
            }
        }
        Action::Enter => {
            if let Some(f) = findings.get(cur.selected) {
                out.extend(jump(&f.target, &cx.info.path));
            }
        }
        _ => {}
    }
    st.cursor.clamp(len);
    st.cursor.scroll_to_selection(cx.page_rows / 2);
    out
}

/// Keeps the cursor inside the list after findings were removed.
pub fn clamp(st: &mut State, len: usize) {
    st.cursor.clamp(len);
}

/// The commands that show a finding's object (kernel objects and physical memory have no
/// view: a status message says so).
fn jump(target: &Target, evidence: &std::path::Path) -> Vec<Command> {
    match target {
        Target::Process { pid, .. } => vec![Command::ShowProcess {
            pid: *pid,
            pane: Pane::Processes,
        }],
        Target::Vma { pid, start, .. } => vec![Command::ShowVma {
            pid: *pid,
            start: *start,
        }],
        Target::Memory {
            pid,
            address,
            length,
            ..
        }
        | Target::SearchHit {
            pid,
            address,
            length,
            ..
        } => vec![
            Command::OpenHex {
                pid: *pid,
                addr: *address,
                highlight: Some(*address..address.saturating_add((*length).max(1))),
            },
            Command::Focus(Pane::Hex),
        ],
        Target::File { path, .. } => vec![Command::ShowFile { path: path.clone() }],
        Target::KernelObject { object, .. } => {
            let path = evidence.display().to_string();
            vec![Command::info(msg::kernel_object(
                &target.describe(),
                (*object == KernelObject::Module).then_some(path.as_str()),
            ))]
        }
        Target::Physical { address, .. } => vec![Command::info(msg::physical(*address))],
    }
}

/// Draws the findings pane.
pub fn draw(f: &mut Frame, area: Rect, st: &State, cx: &Ctx, focused: bool) {
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(if focused {
            theme::BORDER_FOCUSED
        } else {
            theme::BORDER
        })
        .title(format!(
            " Findings ({}) — saved to the session file on every change ",
            cx.session.findings.len()
        ));
    let inner = block.inner(area);
    f.render_widget(block, area);
    if cx.session.findings.is_empty() {
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
    let offset = st.cursor.visible_offset(height);
    let mut lines = Vec::new();
    for (i, fnd) in cx
        .session
        .findings
        .iter()
        .enumerate()
        .skip(offset)
        .take(height)
    {
        let selected = i == st.cursor.selected;
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
    if let Some(fnd) = cx.session.findings.get(st.cursor.selected) {
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
