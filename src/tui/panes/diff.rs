//! The Diff pane: with several evidences open (`podmortem A B C`), the peer diff of them
//! (computed by a job): each evidence's differences from the baseline, rarest first. Enter
//! goes to the object when it belongs to the evidence open in the workbench (the first).

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Wrap};

use crate::engine::diff::{DiffReport, Difference, Direction, Kind};
use crate::sanitize::sanitize;
use crate::tui::action::{Action, Pane};
use crate::tui::command::{Command, Ctx};
use crate::tui::list::ListCursor;
use crate::tui::strings::msg;
use crate::tui::theme;

/// Bytes highlighted when a code page is opened in the hex viewer.
const PAGE: u64 = crate::engine::diff::code::PAGE;

/// State of the Diff pane.
#[derive(Debug, Clone, Default)]
pub struct State {
    /// Several evidences are open: the pane is shown.
    pub enabled: bool,
    /// The evidences compared, the workbench's first.
    pub labels: Vec<String>,
    /// The diff is being computed.
    pub running: bool,
    /// The report, once made.
    pub report: Option<DiffReport>,
    /// Why it could not be made.
    pub error: Option<String>,
    /// Cursor over the rows (a header per evidence, then its differences).
    pub cursor: ListCursor,
}

/// One row of the list: an evidence's header, or one of its differences.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Row {
    /// Evidence `i`.
    Peer(usize),
    /// Difference `j` of evidence `i`.
    Item(usize, usize),
}

fn rows(report: &DiffReport) -> Vec<Row> {
    let mut out = Vec::new();
    for (i, p) in report.peers.iter().enumerate() {
        out.push(Row::Peer(i));
        out.extend((0..p.differences.len()).map(|j| Row::Item(i, j)));
    }
    out
}

/// The comparison of these evidences (the workbench's first) has started.
pub fn started(st: &mut State, labels: Vec<String>) {
    st.enabled = true;
    st.labels = labels;
    st.running = true;
    st.report = None;
    st.error = None;
    st.cursor = ListCursor::default();
}

/// The comparison ended: keeps the report (or the error) and says so in the status line.
pub fn finished(st: &mut State, result: Result<Box<DiffReport>, String>) -> Vec<Command> {
    st.running = false;
    match result {
        Ok(report) => {
            let n = report.peers.iter().map(|p| p.differences.len()).sum();
            let peers = report.peers.len();
            st.report = Some(*report);
            // Start on the first difference, wherever it is.
            st.cursor.selected = st
                .report
                .as_ref()
                .and_then(|r| rows(r).iter().position(|r| matches!(r, Row::Item(..))))
                .unwrap_or(0);
            vec![Command::info(msg::diff_done(n, peers))]
        }
        Err(e) => {
            let out = vec![Command::error(msg::failed("diff", &e))];
            st.error = Some(e);
            out
        }
    }
}

/// Handles an action for the Diff pane.
pub fn update(st: &mut State, cx: &Ctx, action: Action) -> Vec<Command> {
    let Some(report) = &st.report else {
        return match action {
            Action::Enter if !st.enabled => vec![Command::info(msg::NO_PEERS)],
            _ => Vec::new(),
        };
    };
    let rows = rows(report);
    let len = rows.len();
    let page = cx.page_rows.max(1) as isize;
    let mut out = Vec::new();
    match action {
        Action::Up => st.cursor.move_by(-1, len),
        Action::Down => st.cursor.move_by(1, len),
        Action::PageUp => st.cursor.move_by(-page, len),
        Action::PageDown => st.cursor.move_by(page, len),
        Action::Home => st.cursor.home(),
        Action::End => st.cursor.end(len),
        Action::Enter => {
            if let Some(Row::Item(i, j)) = rows.get(st.cursor.selected) {
                let d = report.peers.get(*i).and_then(|p| p.differences.get(*j));
                match (i, d) {
                    (0, Some(d)) => out.extend(jump(d)),
                    (_, Some(_)) => {
                        let peer = report.peers.get(*i).map_or("", |p| p.evidence.as_str());
                        out.push(Command::info(msg::other_peer(peer)));
                    }
                    _ => {}
                }
            }
        }
        _ => {}
    }
    st.cursor.clamp(len);
    st.cursor.scroll_to_selection(list_rows(cx.page_rows));
    out
}

/// Rows of the list for `page_rows` rows of pane (the rest shows the selected difference).
fn list_rows(page_rows: usize) -> usize {
    (page_rows * 3 / 5).max(1)
}

/// The commands that show a difference's object in the workbench's evidence.
fn jump(d: &Difference) -> Vec<Command> {
    let at = &d.at;
    let show_process = |pid| Command::ShowProcess {
        pid,
        pane: Pane::Processes,
    };
    let cmds = match (d.kind, at.pid) {
        (Kind::Code, Some(pid)) => at.address.map(|addr| {
            vec![
                Command::OpenHex {
                    pid,
                    addr,
                    highlight: Some(addr..addr.saturating_add(PAGE)),
                },
                Command::Focus(Pane::Hex),
            ]
        }),
        (Kind::Map, Some(pid)) if d.direction == Direction::Extra => {
            at.start.map(|start| vec![Command::ShowVma { pid, start }])
        }
        (Kind::Rootfs, _) if d.direction == Direction::Extra => {
            at.path.clone().map(|path| vec![Command::ShowFile { path }])
        }
        (Kind::Mount, _) => Some(vec![Command::info(msg::MOUNTS_IN_EVIDENCE)]),
        (Kind::Process, Some(pid)) => Some(vec![show_process(pid)]),
        // The process it belongs to (or lacks it): its details list environment, files
        // and sockets.
        (_, Some(pid)) => Some(vec![show_process(pid), Command::Details(pid)]),
        _ => None,
    };
    cmds.unwrap_or_else(|| vec![Command::info(msg::NOTHING_TO_SHOW)])
}

/// Draws the Diff pane.
pub fn draw(f: &mut Frame, area: Rect, st: &State, _cx: &Ctx, focused: bool) {
    let title = match &st.report {
        Some(r) if r.baseline.peers == 2 => {
            " Diff — two evidences: each lists what the other lacks ".to_string()
        }
        Some(r) => format!(
            " Diff — {} evidences; baseline: what at least {} have ",
            r.baseline.peers, r.baseline.majority
        ),
        None => " Diff ".to_string(),
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
    let Some(report) = &st.report else {
        let text = match (&st.error, st.running, st.enabled) {
            (Some(e), _, _) => Line::styled(
                format!("  {}", msg::failed("diff", sanitize(e))),
                theme::ERROR,
            ),
            (None, true, _) => Line::styled(
                format!("  comparing {} evidences…", st.labels.len()),
                theme::PROGRESS,
            ),
            (None, false, _) => Line::styled(format!("  {}", msg::NO_PEERS), theme::DIM),
        };
        f.render_widget(Paragraph::new(vec![Line::raw(""), text]), inner);
        return;
    };
    let [list_area, detail_area] =
        Layout::vertical([Constraint::Percentage(60), Constraint::Percentage(40)]).areas(inner);
    let height = usize::from(list_area.height);
    let offset = st.cursor.visible_offset(height);
    let mut lines = Vec::new();
    for (n, row) in rows(report).iter().enumerate().skip(offset).take(height) {
        let selected = n == st.cursor.selected;
        let style = theme::row(selected, focused);
        match row {
            Row::Peer(i) => {
                let Some(p) = report.peers.get(*i) else {
                    continue;
                };
                let what = match p.differences.len() {
                    0 => "no differences".to_string(),
                    1 => "1 difference".to_string(),
                    k => format!("{k} differences"),
                };
                let here = if *i == 0 { "  (open here)" } else { "" };
                lines.push(Line::styled(
                    format!("{}: {what}{here}", sanitize(&p.evidence)),
                    if selected { style } else { theme::TITLE },
                ));
            }
            Row::Item(i, j) => {
                let Some(d) = report.peers.get(*i).and_then(|p| p.differences.get(*j)) else {
                    continue;
                };
                let sign = if d.direction == Direction::Extra {
                    '+'
                } else {
                    '-'
                };
                let flag = if d.suspicious { "!" } else { " " };
                lines.push(Line::from(vec![
                    Span::styled(
                        format!(
                            "  {}/{} {sign}{flag}{:<7} ",
                            d.present_in,
                            d.peers,
                            d.kind.name()
                        ),
                        if selected {
                            style
                        } else if d.suspicious {
                            theme::ALERT
                        } else {
                            theme::DIM
                        },
                    ),
                    Span::styled(sanitize(&d.description).into_owned(), style),
                ]));
            }
        }
    }
    f.render_widget(Paragraph::new(lines), list_area);
    let detail = match rows(report).get(st.cursor.selected) {
        Some(Row::Item(i, j)) => report
            .peers
            .get(*i)
            .and_then(|p| p.differences.get(*j))
            .map(|d| detail_lines(d, *i == 0))
            .unwrap_or_default(),
        Some(Row::Peer(i)) => report
            .peers
            .get(*i)
            .map(|p| {
                p.warnings
                    .iter()
                    .map(|w| Line::styled(format!("warning: {}", sanitize(w)), theme::ERROR))
                    .collect()
            })
            .unwrap_or_default(),
        None => Vec::new(),
    };
    f.render_widget(
        Paragraph::new(detail).wrap(Wrap { trim: false }).block(
            Block::default()
                .borders(Borders::TOP)
                .border_style(theme::BORDER),
        ),
        detail_area,
    );
}

/// The selected difference in full: its process, the baseline's form, its identifiers.
fn detail_lines(d: &Difference, here: bool) -> Vec<Line<'static>> {
    let mut out = Vec::new();
    let shared = match d.direction {
        Direction::Extra => format!("{} of {} evidences have it", d.present_in, d.peers),
        Direction::Missing => format!(
            "{} of {} evidences have it, this one does not",
            d.present_in, d.peers
        ),
    };
    out.push(Line::styled(
        format!("{} · {shared}", d.kind.name()),
        theme::DIM,
    ));
    if let Some(p) = &d.process {
        out.push(Line::raw(format!("process: {}", sanitize(p))));
    }
    if let Some(i) = &d.instead_of {
        out.push(Line::raw(format!("instead of: {}", sanitize(i))));
    }
    let at = &d.at;
    let mut ids = Vec::new();
    if let Some(pid) = at.pid {
        ids.push(format!("pid {pid}"));
    }
    if let Some(a) = at.address {
        ids.push(format!("page {a:#x}"));
    }
    if let (Some(s), Some(e)) = (at.start, at.end) {
        ids.push(format!("area {s:#x}-{e:#x}"));
    }
    if let Some(fd) = at.fd {
        ids.push(format!("fd {fd}"));
    }
    if let Some(port) = at.port {
        ids.push(format!("port {port}"));
    }
    if let Some(p) = &at.path {
        ids.push(format!("path {}", sanitize(p)));
    }
    if !ids.is_empty() {
        out.push(Line::raw(ids.join(" · ")));
    }
    if here {
        out.push(Line::styled("Enter: go to it", theme::KEY));
    }
    out
}
