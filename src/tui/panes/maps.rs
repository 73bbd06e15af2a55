//! Memory maps of the selected process; suspicious areas are marked, Enter opens the hex
//! viewer at an area's start.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph};

use crate::engine::evidence::{Pid, Vma, VmaKind};
use crate::engine::findings::Target;
use crate::sanitize::sanitize;
use crate::tui::action::{Action, Pane};
use crate::tui::command::{Command, Ctx, PromptKind};
use crate::tui::list::ListCursor;
use crate::tui::paths::default_output_path;
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
pub fn update(st: &mut State, cx: &Ctx, action: Action) -> Vec<Command> {
    let mut out = Vec::new();
    let len = st.vmas.len();
    let page = cx.page_rows as isize;
    let cur = &mut st.cursor;
    match action {
        Action::Up => cur.move_by(-1, len),
        Action::Down => cur.move_by(1, len),
        Action::PageUp => cur.move_by(-page, len),
        Action::PageDown => cur.move_by(page, len),
        Action::Home => cur.home(),
        Action::End => cur.end(len),
        Action::Enter => {
            if let (Some(pid), Some(v)) = (st.pid, st.vmas.get(st.cursor.selected)) {
                out.push(Command::OpenHex {
                    pid,
                    addr: v.start,
                    highlight: None,
                });
                out.push(Command::Focus(Pane::Hex));
            }
        }
        Action::Extract => {
            if let (Some(pid), Some(v)) = (st.pid, st.vmas.get(st.cursor.selected)) {
                let range = v.start..v.end;
                let title = format!(
                    "extract pid {pid} {:#x}-{:#x} ({}) into folder",
                    v.start,
                    v.end,
                    human_size(v.size())
                );
                let default = default_output_path(&cx.info.path, "podmortem-extract");
                out.push(Command::prompt(
                    PromptKind::ExtractVma { pid, range },
                    title,
                    default,
                ));
            }
        }
        Action::Bookmark => {
            if let (Some(pid), Some(v)) = (st.pid, st.vmas.get(st.cursor.selected)) {
                let target = Target::Vma {
                    pid,
                    comm: cx.comm(pid),
                    start: v.start,
                    end: v.end,
                    perms: v.perms.to_string(),
                    path: v.path.clone(),
                };
                out.push(Command::Bookmark {
                    target,
                    note: String::new(),
                });
            }
        }
        _ => {}
    }
    st.cursor.scroll_to_selection(cx.page_rows);
    out
}

/// Shows the memory areas of a process (or none).
pub fn show(st: &mut State, pid: Option<Pid>, vmas: Vec<Vma>) {
    st.pid = pid;
    st.vmas = vmas;
    st.cursor = ListCursor::default();
}

/// Selects the area that starts at `start`, if listed.
pub fn select_start(st: &mut State, start: u64) {
    if let Some(i) = st.vmas.iter().position(|v| v.start == start) {
        st.cursor.selected = i;
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
pub fn draw(f: &mut Frame, area: Rect, st: &State, cx: &Ctx, focused: bool) {
    let title = match st.pid.and_then(|p| cx.process(p)) {
        Some(p) => format!(
            " Maps: {} {} ({} areas) ",
            p.pid,
            sanitize(&p.comm),
            st.vmas.len()
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
    let offset = st.cursor.visible_offset(height);
    let wide = st.vmas.iter().any(|v| v.end > 0xffff_ffff_ffff);
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
    for (i, v) in st.vmas.iter().enumerate().skip(offset).take(height) {
        let selected = i == st.cursor.selected;
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
    if st.vmas.is_empty() {
        lines.push(Line::styled(
            "  no memory areas (a kernel thread, or not captured)",
            theme::DIM,
        ));
    }
    f.render_widget(Paragraph::new(lines), inner);
}
