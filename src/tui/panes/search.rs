//! Regex search across memory: a pattern input with case and UTF-16LE toggles, a scope, a
//! background job with progress and cancel, hits streaming into a list; Enter opens a hit
//! in the hex viewer.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph};
use ratatui_textarea::TextArea;

use crate::engine::findings::Target;
use crate::engine::search::{Hit, Pattern, SearchRequest, Space, Summary};
use crate::jobs::JobEvent;
use crate::sanitize::{sanitize, sanitize_bytes};
use crate::tui::action::{Action, Pane};
use crate::tui::command::{Command, Ctx};
use crate::tui::list::ListCursor;
use crate::tui::strings::msg;
use crate::tui::theme;

/// Hits kept in the list (the search stops there).
pub const MAX_HITS: usize = 100_000;

/// State of the search pane.
#[derive(Debug, Clone, Default)]
pub struct State {
    /// The pattern input.
    pub input: TextArea<'static>,
    /// The input has the keyboard.
    pub editing: bool,
    /// Case-insensitive.
    pub ignore_case: bool,
    /// Search UTF-16LE text (the pattern is taken literally).
    pub utf16: bool,
    /// Where to search.
    pub scope: Scope,
    /// Generation of the current search.
    pub generation: u64,
    /// A search is running.
    pub running: bool,
    /// Its progress.
    pub percent: u8,
    /// Hits so far.
    pub hits: Vec<Hit>,
    /// Cursor in the hits.
    pub cursor: ListCursor,
    /// How the last search ended.
    pub summary: Option<Summary>,
    /// Why the last search failed.
    pub error: Option<String>,
    /// The pattern of the last search.
    pub last_pattern: String,
}

/// Where a search looks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Scope {
    /// Every process's captured memory.
    #[default]
    AllProcesses,
    /// The memory of the process selected in the tree.
    SelectedProcess,
    /// All of physical memory (kernel dumps), with the process that maps each hit's page.
    Physical,
}

impl Scope {
    /// The next scope (`s`); physical memory only where the evidence has it.
    pub fn next(self, physical: bool) -> Scope {
        match self {
            Scope::AllProcesses => Scope::SelectedProcess,
            Scope::SelectedProcess if physical => Scope::Physical,
            Scope::SelectedProcess | Scope::Physical => Scope::AllProcesses,
        }
    }
}

/// The pattern of the input and the toggles (the CLI's `search` builds the same).
pub fn pattern(st: &State) -> Pattern {
    Pattern {
        text: st.input.lines().join(""),
        ignore_case: st.ignore_case,
        utf16le: st.utf16,
    }
}

fn start(st: &mut State, cx: &Ctx) -> Vec<Command> {
    let pattern = pattern(st);
    if pattern.text.is_empty() {
        return vec![Command::error(msg::NO_PATTERN)];
    }
    let regex = match pattern.build() {
        Ok(r) => r,
        Err(e) => {
            st.error = Some(e.to_string());
            return vec![Command::error(msg::BAD_PATTERN)];
        }
    };
    let cmd = match st.scope {
        Scope::Physical => Command::StartPhysicalSearch(regex),
        Scope::SelectedProcess => Command::StartSearch(SearchRequest {
            regex,
            pids: cx.selected_pid.map(|p| vec![p]),
        }),
        Scope::AllProcesses => Command::StartSearch(SearchRequest { regex, pids: None }),
    };
    st.hits.clear();
    st.cursor = ListCursor::default();
    st.summary = None;
    st.error = None;
    st.running = true;
    st.percent = 0;
    st.last_pattern = pattern.text;
    st.editing = false;
    vec![cmd]
}

/// Records the generation of the search the workbench started.
pub fn started(st: &mut State, generation: u64) {
    st.generation = generation;
}

/// Handles keys while the pattern input has the keyboard.
pub fn update_editing(st: &mut State, cx: &Ctx, action: Action) -> Vec<Command> {
    match action {
        Action::Cancel => st.editing = false,
        Action::Submit => return start(st, cx),
        Action::Input(key) => {
            st.input.input(key);
        }
        _ => {}
    }
    Vec::new()
}

/// Handles an action for the search pane.
pub fn update(st: &mut State, cx: &Ctx, action: Action) -> Vec<Command> {
    let mut out = Vec::new();
    let len = st.hits.len();
    let page = cx.page_rows as isize;
    let cur = &mut st.cursor;
    match action {
        Action::Filter => st.editing = true,
        Action::Up => cur.move_by(-1, len),
        Action::Down => cur.move_by(1, len),
        Action::PageUp => cur.move_by(-page, len),
        Action::PageDown => cur.move_by(page, len),
        Action::Home => cur.home(),
        Action::End => cur.end(len),
        Action::ToggleCase => st.ignore_case = !st.ignore_case,
        Action::ToggleUtf16 => st.utf16 = !st.utf16,
        Action::ToggleScope => st.scope = st.scope.next(cx.ev.physical().is_some()),
        Action::Cancel if st.running => {
            st.running = false;
            out.push(Command::CancelSearch);
            out.push(Command::info(msg::SEARCH_CANCELLED));
        }
        Action::Enter => {
            if let Some(h) = st.hits.get(st.cursor.selected)
                && let Some((pid, a)) = h.in_process()
            {
                let len = h.len as u64;
                out.push(Command::OpenHex {
                    pid,
                    addr: a,
                    highlight: Some(a..a + len.max(1)),
                });
                out.push(Command::Focus(Pane::Hex));
            } else if let Some(h) = st.hits.get(st.cursor.selected)
                && let Some(o) = h.saved()
            {
                // Bytes saved beyond memory: the holder's details show them.
                out.push(Command::info(msg::saved_hit(h.address, &o.place())));
                if let Some(pid) = o.pid {
                    out.push(Command::Details(pid));
                }
            } else if st.hits.get(st.cursor.selected).is_some() {
                out.push(Command::info(msg::NO_OWNER));
            } else if !st.running {
                st.editing = true;
            }
        }
        Action::Bookmark => {
            if let Some(h) = st.hits.get(st.cursor.selected)
                && let Some((pid, address)) = h.in_process()
            {
                let target = Target::SearchHit {
                    pid,
                    comm: cx.comm(pid),
                    address,
                    length: h.len as u64,
                    pattern: st.last_pattern.clone(),
                    path: h.process().and_then(|p| p.path.clone()),
                };
                out.push(Command::Bookmark {
                    target,
                    note: String::new(),
                });
            } else if let Some(h) = st.hits.get(st.cursor.selected)
                && let Some(o) = h.saved()
                && let Some(pid) = o.pid
            {
                // Saved bytes: the process that held them, the place in the note.
                let target = Target::Process {
                    pid,
                    comm: cx.comm(pid),
                    cmdline: cx
                        .process(pid)
                        .map(|p| p.cmdline.clone())
                        .unwrap_or_default(),
                };
                out.push(Command::Bookmark {
                    target,
                    note: msg::saved_hit_note(&st.last_pattern, h.address, &o.place()),
                });
            }
        }
        _ => {}
    }
    st.cursor
        .scroll_to_selection(cx.page_rows.saturating_sub(3));
    out
}

/// Applies a message of the search job (stale generations are dropped).
pub fn on_job(st: &mut State, ev: JobEvent) -> Vec<Command> {
    let mut out = Vec::new();
    match ev {
        JobEvent::SearchHits { generation, hits } if generation == st.generation => {
            let room = MAX_HITS.saturating_sub(st.hits.len());
            st.hits.extend(hits.into_iter().take(room));
            if st.hits.len() >= MAX_HITS {
                out.push(Command::CancelSearch);
            }
        }
        JobEvent::SearchProgress {
            generation,
            percent,
        } if generation == st.generation => st.percent = percent,
        JobEvent::SearchDone {
            generation,
            summary,
        } if generation == st.generation => {
            st.running = false;
            st.percent = 100;
            let n = st.hits.len();
            st.summary = Some(summary);
            out.push(Command::info(msg::search_done(n)));
        }
        JobEvent::SearchFailed { generation, error } if generation == st.generation => {
            st.running = false;
            st.error = Some(error.clone());
            out.push(Command::error(msg::failed("search", &error)));
        }
        _ => {}
    }
    out
}

/// Draws the search pane.
pub fn draw(f: &mut Frame, area: Rect, st: &State, cx: &Ctx, focused: bool) {
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(if focused {
            theme::BORDER_FOCUSED
        } else {
            theme::BORDER
        })
        .title(format!(" Search ({} hits) ", st.hits.len()));
    let inner = block.inner(area);
    f.render_widget(block, area);
    let pattern = st.input.lines().join("");
    let cursor = if st.editing { "▏" } else { "" };
    let on = |b: bool| if b { "on " } else { "off" };
    let scope = match st.scope {
        Scope::AllProcesses => "all processes".to_string(),
        Scope::SelectedProcess => cx
            .selected_pid
            .map_or("selected process".to_string(), |p| format!("pid {p}")),
        Scope::Physical => "physical memory".to_string(),
    };
    let mut lines = vec![
        Line::from(vec![
            Span::styled("pattern: ", theme::TITLE),
            Span::styled(
                format!("{}{cursor}", sanitize(&pattern)),
                if st.editing {
                    theme::TAB_FOCUSED
                } else {
                    Style::new()
                },
            ),
            Span::styled(
                if pattern.is_empty() && !st.editing {
                    "(press / to type a byte regex)"
                } else {
                    ""
                },
                theme::DIM,
            ),
        ]),
        Line::from(vec![Span::styled(
            format!(
                "[i] case-insensitive {}  [u] utf-16le {}  [s] scope: {}",
                on(st.ignore_case),
                on(st.utf16),
                sanitize(&scope)
            ),
            theme::DIM,
        )]),
    ];
    let state = if st.running {
        let w = 20usize;
        let filled = usize::from(st.percent) * w / 100;
        Line::styled(
            format!(
                "searching [{}{}] {:>3}%  Esc cancels",
                "█".repeat(filled),
                "·".repeat(w - filled),
                st.percent
            ),
            theme::PROGRESS,
        )
    } else if let Some(e) = &st.error {
        Line::styled(format!("error: {}", sanitize(e)), theme::ERROR)
    } else if let Some(s) = &st.summary {
        Line::styled(
            format!(
                "{} hit(s) in {} of captured memory{}",
                st.hits.len(),
                crate::units::human_size(s.bytes),
                if s.stopped { " (stopped)" } else { "" }
            ),
            theme::DIM,
        )
    } else {
        Line::raw("")
    };
    lines.push(state);
    let height = usize::from(inner.height.saturating_sub(4));
    let offset = st.cursor.visible_offset(height);
    lines.push(Line::styled(
        format!(
            "{:>7} {:<12} {:<14} {:<5} {}",
            "PID", "NAME", "ADDRESS", "PERMS", "MATCH  (PATH)"
        ),
        theme::TITLE,
    ));
    for (i, h) in st.hits.iter().enumerate().skip(offset).take(height) {
        let selected = i == st.cursor.selected;
        let style = theme::row(selected, focused);
        let excerpt: Vec<u8> = h.bytes.iter().take(48).copied().collect();
        // Process hits: the process and its memory area. Physical hits: the physical
        // address, marked `phys`, and where the owning process maps it.
        let (comm, perms, place) = match &h.space {
            Space::Process(p) => (
                p.comm.as_str(),
                p.vma_perms.map(|p| p.to_string()).unwrap_or_default(),
                p.path.clone().unwrap_or_default(),
            ),
            Space::Physical { owner: Some(o) } => (
                o.comm.as_str(),
                "phys".to_string(),
                format!("virtual {:#x}", o.address),
            ),
            Space::Physical { owner: None } => ("", "phys".to_string(), String::new()),
            Space::Saved(o) => (
                o.comm.as_deref().unwrap_or(""),
                o.kind.short().to_string(),
                o.place(),
            ),
        };
        let comm: String = sanitize(comm).chars().take(12).collect();
        lines.push(Line::from(vec![
            Span::styled(
                format!(
                    "{:>7} {:<12} {:<14} {:<5} ",
                    h.pid().map_or_else(|| "-".to_string(), |p| p.to_string()),
                    comm,
                    match h.space {
                        // Saved bytes: the offset in the object.
                        Space::Saved(_) => format!("+{:#x}", h.address),
                        _ => format!("{:#x}", h.address),
                    },
                    perms
                ),
                style,
            ),
            Span::styled(
                sanitize_bytes(&excerpt),
                if selected { style } else { theme::HIGHLIGHT },
            ),
            Span::styled(
                format!("  {}", sanitize(&place)),
                if selected { style } else { theme::DIM },
            ),
        ]));
    }
    f.render_widget(Paragraph::new(lines), inner);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::search::Summary;

    #[test]
    fn messages_of_an_old_search_are_dropped() {
        let mut st = State::default();
        started(&mut st, 2);
        st.running = true;
        let cmds = on_job(
            &mut st,
            JobEvent::SearchDone {
                generation: 1,
                summary: Summary::default(),
            },
        );
        assert!(cmds.is_empty() && st.running, "generation 1 is stale");
        let cmds = on_job(
            &mut st,
            JobEvent::SearchDone {
                generation: 2,
                summary: Summary::default(),
            },
        );
        assert!(!st.running);
        assert!(matches!(&cmds[..], [Command::Status(m, _)] if m.contains("0 hit")));
    }
}

#[cfg(test)]
mod scope_tests {
    use super::Scope;

    #[test]
    fn physical_memory_is_a_scope_only_where_the_evidence_has_it() {
        let mut s = Scope::default();
        let mut seen = Vec::new();
        for _ in 0..3 {
            seen.push(s);
            s = s.next(false);
        }
        assert_eq!(
            seen,
            [
                Scope::AllProcesses,
                Scope::SelectedProcess,
                Scope::AllProcesses
            ]
        );
        assert_eq!(Scope::SelectedProcess.next(true), Scope::Physical);
        assert_eq!(Scope::Physical.next(true), Scope::AllProcesses);
    }
}
