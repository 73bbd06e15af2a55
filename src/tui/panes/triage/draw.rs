//! Drawing of the Triage pane: the ranked results (severity coloured), then the selected
//! result's details. Pure: reads only the pane's state; every text that quotes evidence
//! goes through `sanitize`.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Wrap};

use super::{DETAIL_ROWS, State, summary};
use crate::engine::triage::{Detection, HeadClass, Report};
use crate::sanitize::sanitize;
use crate::tui::command::Ctx;
use crate::tui::strings::msg;
use crate::tui::theme;

/// Width of the severity column ("critical").
const SEV_WIDTH: usize = 8;
/// Width of the pid column.
const PID_WIDTH: usize = 7;
/// Widest process name column.
const COMM_MAX: usize = 16;

/// `s` cut to `width` characters (an ellipsis marks the cut) and padded to it.
fn fit(s: &str, width: usize) -> String {
    let n = s.chars().count();
    if n <= width {
        format!("{s:<width$}")
    } else {
        let mut out: String = s.chars().take(width.saturating_sub(1)).collect();
        out.push('…');
        out
    }
}

/// Draws the Triage pane.
pub fn draw(f: &mut Frame, area: Rect, st: &State, _cx: &Ctx, focused: bool) {
    let title = match (&st.report, st.running) {
        (_, true) => format!(" Triage — running {}% ", st.percent),
        (Some(r), false) => {
            let cancelled = if r.stopped {
                " (cancelled: partial)"
            } else {
                ""
            };
            match r.detections.len() {
                0 => format!(" Triage — nothing stands out{cancelled} "),
                n => format!(" Triage — {n} results: {}{cancelled} ", summary(r)),
            }
        }
        (None, false) => " Triage ".to_string(),
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
    let report = match &st.report {
        Some(r) if !st.running => r,
        _ => return draw_waiting(f, inner, st),
    };
    let [head, list, detail] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(1),
        Constraint::Length(DETAIL_ROWS as u16),
    ])
    .areas(inner);
    let rule_w = report
        .detections
        .iter()
        .map(|d| d.rule.id().len())
        .max()
        .unwrap_or(4)
        .max(4);
    let comm_w = report
        .detections
        .iter()
        .filter_map(|d| d.comm.as_deref())
        .map(|c| sanitize(c).chars().count())
        .max()
        .unwrap_or(4)
        .clamp(4, COMM_MAX);
    f.render_widget(
        Paragraph::new(Line::styled(
            format!(
                "{} {} {:>PID_WIDTH$} {} REASON",
                fit("SEVERITY", SEV_WIDTH),
                fit("RULE", rule_w),
                "PID",
                fit("NAME", comm_w)
            ),
            theme::TITLE,
        )),
        head,
    );
    let height = usize::from(list.height);
    let offset = st.cursor.visible_offset(height);
    let lines: Vec<Line> = report
        .detections
        .iter()
        .enumerate()
        .skip(offset)
        .take(height)
        .map(|(n, d)| {
            let style = theme::row(n == st.cursor.selected, focused);
            let pid = d.pid.map(|p| p.to_string()).unwrap_or_default();
            let comm = d.comm.as_deref().map(sanitize).unwrap_or_default();
            Line::from(vec![
                Span::styled(
                    fit(d.severity.name(), SEV_WIDTH),
                    theme::severity(d.severity),
                ),
                Span::styled(
                    format!(
                        " {} {pid:>PID_WIDTH$} {} {}",
                        fit(d.rule.id(), rule_w),
                        fit(&comm, comm_w),
                        sanitize(&d.reason)
                    ),
                    style,
                ),
            ])
        })
        .collect();
    let lines = if lines.is_empty() {
        vec![Line::styled("  nothing stands out", theme::DIM)]
    } else {
        lines
    };
    f.render_widget(Paragraph::new(lines), list);
    let detail_lines = detail_lines(report, super::selected(st), detail.width);
    f.render_widget(
        Paragraph::new(detail_lines)
            .wrap(Wrap { trim: false })
            .block(
                Block::default()
                    .borders(Borders::TOP)
                    .border_style(theme::BORDER),
            ),
        detail,
    );
}

/// The pane before results: running (with a bar), failed, or not run yet.
fn draw_waiting(f: &mut Frame, area: Rect, st: &State) {
    let line = match (&st.error, st.running) {
        (_, true) => {
            let width = 30usize;
            let done = usize::from(st.percent.min(100)) * width / 100;
            Line::from(vec![
                Span::styled(
                    format!(
                        "  triage running {:>3}% [{}{}]",
                        st.percent,
                        "█".repeat(done),
                        "░".repeat(width - done)
                    ),
                    theme::PROGRESS,
                ),
                Span::styled("  Esc cancels, r restarts", theme::DIM),
            ])
        }
        (Some(e), false) => Line::styled(
            format!("  {}", msg::failed("triage", sanitize(e))),
            theme::ERROR,
        ),
        (None, false) => Line::styled("  triage has not run: r runs it", theme::DIM),
    };
    f.render_widget(Paragraph::new(vec![Line::raw(""), line]), area);
}

/// What the first bytes of an area look like, in words.
fn head_name(h: HeadClass) -> &'static str {
    match h {
        HeadClass::Elf => "ELF header",
        HeadClass::Code => "code",
        HeadClass::Zeros => "zeros",
        HeadClass::Other => "other",
        HeadClass::NotCaptured => "not captured",
    }
}

/// The selected result in full: severity and rule, the reason, its identifiers, the first
/// bytes of a memory area in hex (as many as fit), then the run's damage report.
fn detail_lines(report: &Report, d: Option<&Detection>, width: u16) -> Vec<Line<'static>> {
    let mut out = Vec::new();
    if let Some(d) = d {
        let mut first = vec![
            Span::styled(d.severity.name().to_string(), theme::severity(d.severity)),
            Span::styled(format!(" · {}", d.rule.id()), theme::TITLE),
        ];
        if let Some(pid) = d.pid {
            let comm = d.comm.as_deref().map(sanitize).unwrap_or_default();
            first.push(Span::raw(format!(" · pid {pid} {comm}")));
        }
        out.push(Line::from(first));
        out.push(Line::raw(sanitize(&d.reason).into_owned()));
        let ids = identifiers(d);
        if !ids.is_empty() {
            out.push(Line::styled(ids.join(" · "), theme::DIM));
        }
        if let Some(hex) = &d.head_hex {
            let class = d.head.map_or("first bytes", head_name);
            let prefix = format!("head ({class}): ");
            let fits = usize::from(width).saturating_sub(prefix.chars().count()) / 3;
            let bytes: Vec<&str> = hex
                .as_bytes()
                .chunks(2)
                .filter_map(|c| std::str::from_utf8(c).ok())
                .take(fits.max(1))
                .collect();
            out.push(Line::from(vec![
                Span::styled(prefix, theme::DIM),
                Span::raw(bytes.join(" ")),
            ]));
        }
    }
    if report.stopped {
        out.push(Line::styled(msg::TRIAGE_CANCELLED, theme::ERROR));
    }
    if !report.problems.is_empty() {
        out.push(Line::styled(
            sanitize(&msg::incomplete("the results", &report.problems)).into_owned(),
            theme::ERROR,
        ));
    }
    out
}

/// The identifiers of a result's object, each sanitised (they quote evidence).
fn identifiers(d: &Detection) -> Vec<String> {
    let mut ids = Vec::new();
    if let (Some(s), Some(e)) = (d.start, d.end) {
        ids.push(format!("area {s:#x}-{e:#x}"));
    }
    if let Some(a) = d.address {
        ids.push(format!("address {a:#x}"));
    }
    if let Some(m) = &d.module {
        ids.push(format!("module {}", sanitize(m)));
    }
    if let Some(a) = d.phys_address {
        ids.push(format!("physical address {a:#x}"));
    }
    if let Some(p) = &d.path {
        ids.push(format!("path {}", sanitize(p)));
    }
    if let Some(port) = d.port {
        ids.push(format!("port {port}"));
    }
    if let Some(fd) = d.fd {
        ids.push(format!("fd {fd}"));
    }
    if let Some(peer) = &d.peer {
        ids.push(format!("peer {}", sanitize(peer)));
    }
    if let Some(v) = &d.variable {
        ids.push(format!("variable {}", sanitize(v)));
    }
    if let Some(s) = &d.secret {
        let kind = d.secret_kind.map(|k| format!(" ({k})")).unwrap_or_default();
        ids.push(format!("secret {}{kind}", sanitize(s)));
    }
    ids
}
