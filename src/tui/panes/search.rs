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
use crate::engine::search::{Hit, Pattern, SearchRequest, Summary};
use crate::jobs::JobEvent;
use crate::sanitize::{sanitize, sanitize_bytes};
use crate::tui::action::{Action, Pane};
use crate::tui::app::App;
use crate::tui::list::ListCursor;
use crate::tui::panes::hex;
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
    /// Only the selected process.
    pub selected_only: bool,
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

/// The pattern of the input and the toggles (the CLI's `search` builds the same).
pub fn pattern(st: &State) -> Pattern {
    Pattern {
        text: st.input.lines().join(""),
        ignore_case: st.ignore_case,
        utf16le: st.utf16,
    }
}

fn start(app: &mut App) {
    let pattern = pattern(&app.search);
    if pattern.text.is_empty() {
        return app.error_msg("type a pattern first");
    }
    let regex = match pattern.build() {
        Ok(r) => r,
        Err(e) => {
            app.search.error = Some(e.to_string());
            return app.error_msg("invalid pattern (see the Search pane)");
        }
    };
    let pids = if app.search.selected_only {
        app.selected_process().map(|p| vec![p.pid])
    } else {
        None
    };
    let req = SearchRequest { regex, pids };
    app.search.hits.clear();
    app.search.cursor = ListCursor::default();
    app.search.summary = None;
    app.search.error = None;
    app.search.running = true;
    app.search.percent = 0;
    app.search.last_pattern = pattern.text;
    app.search.editing = false;
    let ev = app.ev.clone();
    app.search.generation = app.jobs.start_search(ev, req);
}

/// Handles keys while the pattern input has the keyboard.
pub fn update_editing(app: &mut App, action: Action) {
    match action {
        Action::Cancel => app.search.editing = false,
        Action::Submit => start(app),
        Action::Input(key) => {
            app.search.input.input(key);
        }
        _ => {}
    }
}

/// Handles an action for the search pane.
pub fn update(app: &mut App, action: Action) {
    let len = app.search.hits.len();
    let page = app.page_rows() as isize;
    let cur = &mut app.search.cursor;
    match action {
        Action::Filter => app.search.editing = true,
        Action::Up => cur.move_by(-1, len),
        Action::Down => cur.move_by(1, len),
        Action::PageUp => cur.move_by(-page, len),
        Action::PageDown => cur.move_by(page, len),
        Action::Home => cur.home(),
        Action::End => cur.end(len),
        Action::ToggleCase => app.search.ignore_case = !app.search.ignore_case,
        Action::ToggleUtf16 => app.search.utf16 = !app.search.utf16,
        Action::ToggleScope => app.search.selected_only = !app.search.selected_only,
        Action::Cancel if app.search.running => {
            app.jobs.cancel_search();
            app.search.running = false;
            app.info_msg("search cancelled");
        }
        Action::Enter => {
            if let Some(h) = app.search.hits.get(app.search.cursor.selected)
                && let Some(pid) = h.process().map(|p| p.pid)
            {
                let (a, len) = (h.address, h.len as u64);
                hex::open(app, pid, a, Some(a..a + len.max(1)));
                app.focus = Pane::Hex;
            } else if !app.search.running {
                app.search.editing = true;
            }
        }
        Action::Bookmark => {
            if let Some(h) = app.search.hits.get(app.search.cursor.selected)
                && let Some(p) = h.process()
            {
                let target = Target::SearchHit {
                    pid: p.pid,
                    comm: p.comm.clone(),
                    address: h.address,
                    length: h.len as u64,
                    pattern: app.search.last_pattern.clone(),
                    path: p.path.clone(),
                };
                app.bookmark(target, "");
            }
        }
        _ => {}
    }
    let h = app.page_rows().saturating_sub(3);
    app.search.cursor.scroll_to_selection(h);
}

/// Applies a message of the search job (stale generations are dropped).
pub fn on_job(app: &mut App, ev: JobEvent) {
    let st = &mut app.search;
    match ev {
        JobEvent::SearchHits { generation, hits } if generation == st.generation => {
            let room = MAX_HITS.saturating_sub(st.hits.len());
            st.hits.extend(hits.into_iter().take(room));
            if st.hits.len() >= MAX_HITS {
                app.jobs.cancel_search();
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
            app.info_msg(format!("search done: {n} hit(s)"));
        }
        JobEvent::SearchFailed { generation, error } if generation == st.generation => {
            st.running = false;
            st.error = Some(error.clone());
            app.error_msg(format!("search failed: {error}"));
        }
        _ => {}
    }
}

/// Draws the search pane.
pub fn draw(f: &mut Frame, area: Rect, app: &App, focused: bool) {
    let st = &app.search;
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
    let scope = if st.selected_only {
        app.selected_process()
            .map_or("selected process".to_string(), |p| format!("pid {}", p.pid))
    } else {
        "all processes".into()
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
        let p = h.process();
        let comm: String = sanitize(p.map_or("", |p| &p.comm))
            .chars()
            .take(12)
            .collect();
        lines.push(Line::from(vec![
            Span::styled(
                format!(
                    "{:>7} {:<12} {:<14} {:<5} ",
                    h.pid().map_or_else(String::new, |p| p.to_string()),
                    comm,
                    format!("{:#x}", h.address),
                    p.and_then(|p| p.vma_perms)
                        .map(|p| p.to_string())
                        .unwrap_or_default()
                ),
                style,
            ),
            Span::styled(
                sanitize_bytes(&excerpt),
                if selected { style } else { theme::HIGHLIGHT },
            ),
            Span::styled(
                format!(
                    "  {}",
                    sanitize(p.and_then(|p| p.path.as_deref()).unwrap_or(""))
                ),
                if selected { style } else { theme::DIM },
            ),
        ]));
    }
    f.render_widget(Paragraph::new(lines), inner);
}
