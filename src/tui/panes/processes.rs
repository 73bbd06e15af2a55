//! The process tree: expandable, filterable, sortable; Enter opens a process's details.

use std::collections::{HashMap, HashSet};

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph};

use crate::engine::evidence::{Pid, tree_order};
use crate::engine::findings::Target;
use crate::sanitize::sanitize;
use crate::tui::action::{Action, Pane};
use crate::tui::app::{App, Overlay, Prompt, PromptKind};
use crate::tui::list::ListCursor;
use crate::tui::theme;

/// Sort orders of the process list.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Sort {
    /// Parent before children, by pid.
    #[default]
    Tree,
    /// Flat, by pid.
    Pid,
    /// Flat, by name.
    Name,
    /// Flat, most threads first.
    Threads,
}

/// State of the process pane.
#[derive(Debug, Clone, Default)]
pub struct State {
    /// Cursor.
    pub cursor: ListCursor,
    /// Collapsed subtrees.
    pub collapsed: HashSet<Pid>,
    /// Filter text (empty: none).
    pub filter: String,
    /// Sort order.
    pub sort: Sort,
    /// Group by container.
    pub group: bool,
}

/// One visible row.
#[derive(Debug, Clone, Copy)]
pub struct Row {
    /// Indentation depth.
    pub depth: usize,
    /// Index into `App::procs`.
    pub idx: usize,
    /// Has children in the tree.
    pub has_children: bool,
    /// Its subtree is collapsed.
    pub collapsed: bool,
    /// A group header (by container) standing for the group of the process at `idx`.
    pub header: bool,
    /// Processes in the group (headers only).
    pub members: usize,
}

/// The container label of a process for grouping.
pub fn group_of(p: &crate::engine::evidence::Process) -> String {
    match &p.container_id {
        Some(id) => format!("container {}", id.get(..12).unwrap_or(id)),
        None if p.kernel_thread => "kernel threads".into(),
        None => "host".into(),
    }
}

/// The visible rows, in order (grouped by container when asked).
pub fn rows(app: &App) -> Vec<Row> {
    let base = tree_rows(app);
    if !app.processes.group {
        return base;
    }
    let mut groups: Vec<(String, Vec<Row>)> = Vec::new();
    for r in base {
        let Some(p) = app.procs.get(r.idx) else {
            continue;
        };
        let key = group_of(p);
        let row = Row {
            depth: 1,
            has_children: false,
            collapsed: false,
            ..r
        };
        match groups.iter_mut().find(|(k, _)| *k == key) {
            Some((_, v)) => v.push(row),
            None => groups.push((key, vec![row])),
        }
    }
    groups.sort_by_key(|(k, _)| (k == "kernel threads", k == "host", k.clone()));
    let mut out = Vec::new();
    for (_, members) in groups {
        if let Some(first) = members.first() {
            out.push(Row {
                depth: 0,
                header: true,
                members: members.len(),
                ..*first
            });
        }
        out.extend(members);
    }
    out
}

fn tree_rows(app: &App) -> Vec<Row> {
    let st = &app.processes;
    let procs = &app.procs;
    let index: HashMap<Pid, usize> = procs.iter().enumerate().map(|(i, p)| (p.pid, i)).collect();
    let mut kids: HashSet<Pid> = HashSet::new();
    for p in procs {
        if p.ppid != p.pid && index.contains_key(&p.ppid) {
            kids.insert(p.ppid);
        }
    }
    let needle = st.filter.to_lowercase();
    let matches = |i: usize| {
        let Some(p) = procs.get(i) else { return false };
        needle.is_empty()
            || p.pid.to_string() == needle
            || p.comm.to_lowercase().contains(&needle)
            || p.cmdline.join(" ").to_lowercase().contains(&needle)
    };
    if st.sort != Sort::Tree || !needle.is_empty() {
        let mut idx: Vec<usize> = (0..procs.len()).filter(|&i| matches(i)).collect();
        match st.sort {
            Sort::Name => {
                idx.sort_by_key(|&i| procs.get(i).map(|p| (p.comm.to_lowercase(), p.pid)))
            }
            Sort::Threads => {
                idx.sort_by_key(|&i| procs.get(i).map(|p| (usize::MAX - p.threads.len(), p.pid)))
            }
            _ => {}
        }
        return idx
            .into_iter()
            .map(|i| Row {
                depth: 0,
                idx: i,
                has_children: false,
                collapsed: false,
                header: false,
                members: 0,
            })
            .collect();
    }
    let mut out = Vec::new();
    let mut hidden_below: Option<usize> = None;
    for (depth, p) in tree_order(procs) {
        if let Some(d) = hidden_below {
            if depth > d {
                continue;
            }
            hidden_below = None;
        }
        let collapsed = st.collapsed.contains(&p.pid);
        if collapsed {
            hidden_below = Some(depth);
        }
        if let Some(&idx) = index.get(&p.pid) {
            out.push(Row {
                depth,
                idx,
                has_children: kids.contains(&p.pid),
                collapsed,
                header: false,
                members: 0,
            });
        }
    }
    out
}

fn rows_count_groups(app: &App) -> usize {
    rows(app).iter().filter(|r| r.header).count()
}

/// Handles an action for the process pane.
pub fn update(app: &mut App, action: Action) {
    let rows = rows(app);
    let page = app.page_rows() as isize;
    let cur = &mut app.processes.cursor;
    match action {
        Action::Up => cur.move_by(-1, rows.len()),
        Action::Down => cur.move_by(1, rows.len()),
        Action::PageUp => cur.move_by(-page, rows.len()),
        Action::PageDown => cur.move_by(page, rows.len()),
        Action::Home => cur.home(),
        Action::End => cur.end(rows.len()),
        Action::Left | Action::Right => {
            if let Some(row) = rows.get(cur.selected)
                && let Some(p) = app.procs.get(row.idx)
                && row.has_children
            {
                let pid = p.pid;
                if matches!(action, Action::Left) {
                    app.processes.collapsed.insert(pid);
                } else {
                    app.processes.collapsed.remove(&pid);
                }
            }
        }
        Action::Enter => {
            if let Some(p) = app.selected_process() {
                app.overlay = Some(Overlay::Details {
                    pid: p.pid,
                    scroll: 0,
                });
            }
        }
        Action::OpenMaps => app.focus = Pane::Maps,
        Action::ToggleGroup => {
            app.processes.group = !app.processes.group;
            app.processes.cursor = ListCursor::default();
            let n = rows_count_groups(app);
            app.info_msg(if app.processes.group {
                format!("grouped by container: {n} group(s)")
            } else {
                "ungrouped".to_string()
            });
        }
        Action::Filter => {
            let f = app.processes.filter.clone();
            app.overlay = Some(Overlay::Prompt(Prompt::new(
                PromptKind::Filter,
                "filter processes (pid, name, command line)",
                &f,
            )));
        }
        Action::Sort => {
            app.processes.sort = match app.processes.sort {
                Sort::Tree => Sort::Pid,
                Sort::Pid => Sort::Name,
                Sort::Name => Sort::Threads,
                Sort::Threads => Sort::Tree,
            };
            app.info_msg(format!("sorted by {:?}", app.processes.sort).to_lowercase());
        }
        Action::Cancel if !app.processes.filter.is_empty() => {
            app.processes.filter.clear();
            app.info_msg("filter cleared");
        }
        Action::Bookmark => {
            if let Some(p) = app.selected_process() {
                let target = Target::Process {
                    pid: p.pid,
                    comm: p.comm.clone(),
                    cmdline: p.cmdline.clone(),
                };
                app.bookmark(target, "");
            }
        }
        _ => {}
    }
    let len = rows.len();
    app.processes.cursor.clamp(len);
    let h = app.page_rows();
    app.processes.cursor.scroll_to_selection(h);
}

/// Draws the process pane.
pub fn draw(f: &mut Frame, area: Rect, app: &App, focused: bool) {
    let rows = rows(app);
    let mut title = format!(" Processes ({}) ", app.procs.len());
    if !app.processes.filter.is_empty() {
        title.push_str(&format!("filter: {} ", sanitize(&app.processes.filter)));
    }
    if app.processes.group {
        title.push_str("grouped by container ");
    }
    if app.processes.sort != Sort::Tree {
        title.push_str(&format!("sort: {:?} ", app.processes.sort).to_lowercase());
    }
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
    let offset = app.processes.cursor.visible_offset(height);
    let comm_w = rows
        .iter()
        .filter_map(|r| {
            app.procs
                .get(r.idx)
                .map(|p| r.depth * 2 + 2 + sanitize(&p.comm).chars().count())
        })
        .max()
        .unwrap_or(4)
        .clamp(6, 32);
    let mut lines = vec![Line::styled(
        format!(
            "{:>7} {:<comm_w$} {:>5} {:>3} {:<2} CMDLINE",
            "PID", "NAME", "UID", "THR", "!"
        ),
        theme::TITLE,
    )];
    for (i, row) in rows.iter().enumerate().skip(offset).take(height) {
        let Some(p) = app.procs.get(row.idx) else {
            continue;
        };
        if row.header {
            let style = if i == app.processes.cursor.selected {
                theme::SELECTED
            } else {
                theme::TITLE
            };
            let pod = p
                .pod_uid
                .as_deref()
                .map(|u| format!("  pod {}", sanitize(u)))
                .unwrap_or_default();
            lines.push(Line::styled(
                format!(
                    "▣ {} ({} processes){pod}",
                    sanitize(&group_of(p)),
                    row.members
                ),
                style,
            ));
            continue;
        }
        let marker = if row.has_children {
            if row.collapsed { "▸ " } else { "▾ " }
        } else {
            "  "
        };
        let mut name = format!("{}{marker}{}", "  ".repeat(row.depth), sanitize(&p.comm));
        if name.chars().count() > comm_w {
            name = name
                .chars()
                .take(comm_w.saturating_sub(1))
                .collect::<String>()
                + "…";
        }
        let flags = app.flags.get(&p.pid).copied().unwrap_or_default();
        let flag = if flags.suspicious_vmas > 0 { "!" } else { "" };
        let uid = p.uid.map_or_else(|| "-".to_string(), |u| u.to_string());
        let selected = i == app.processes.cursor.selected;
        let base = theme::row(selected, focused);
        let spans = vec![
            Span::styled(
                format!(
                    "{:>7} {:<comm_w$} {:>5} {:>3} ",
                    p.pid,
                    name,
                    uid,
                    p.threads.len()
                ),
                base,
            ),
            Span::styled(
                format!("{flag:<2} "),
                if selected { base } else { theme::ALERT },
            ),
            Span::styled(
                sanitize(&p.cmdline.join(" ")).into_owned(),
                if selected { base } else { theme::DIM },
            ),
        ];
        lines.push(Line::from(spans));
    }
    if rows.is_empty() {
        lines.push(Line::styled("  no process matches", theme::DIM));
    }
    f.render_widget(Paragraph::new(lines), inner);
}
