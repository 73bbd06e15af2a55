//! The process tree: expandable, filterable, sortable; Enter opens a process's details.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph};

use crate::engine::evidence::{Pid, Process, tree_order};
use crate::engine::findings::Target;
use crate::sanitize::sanitize;
use crate::tui::action::{Action, Pane};
use crate::tui::command::{Command, Ctx, PromptKind};
use crate::tui::list::ListCursor;
use crate::tui::strings::msg;
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
    /// Marks by pid, computed in the background after the first frame.
    pub marks: HashMap<Pid, Marks>,
    /// Who each container is (`counter · podman`), by container id, from a job.
    pub containers: HashMap<String, String>,
    /// The visible rows last computed, and what they were computed from.
    cache: RowsCache,
}

/// What the visible rows depend on.
#[derive(Debug, Clone, PartialEq, Eq)]
struct RowsKey {
    procs: (usize, usize),
    filter: String,
    sort: Sort,
    group: bool,
    collapsed: Vec<Pid>,
}

/// The visible rows of a tree, kept while what they depend on stays the same (a node's
/// tree is computed once per change, not several times per keypress).
#[derive(Debug, Default)]
struct RowsCache(std::sync::Mutex<Option<(RowsKey, Arc<Vec<Row>>)>>);

impl Clone for RowsCache {
    fn clone(&self) -> RowsCache {
        RowsCache::default()
    }
}

/// Facts about a process shown as marks in the tree (computed by a background job).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Marks {
    /// Memory areas that are writable+executable or anonymous executable.
    pub suspicious_vmas: usize,
}

impl State {
    /// The visible rows (see [`rows`]), computed again only when the filter, the order, the
    /// grouping or the folds changed.
    pub fn visible(&self, procs: &[Process]) -> Arc<Vec<Row>> {
        let mut collapsed: Vec<Pid> = self.collapsed.iter().copied().collect();
        collapsed.sort_unstable();
        let key = RowsKey {
            procs: (procs.as_ptr() as usize, procs.len()),
            filter: self.filter.clone(),
            sort: self.sort,
            group: self.group,
            collapsed,
        };
        let mut cache = self.cache.0.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((k, rows)) = cache.as_ref()
            && *k == key
        {
            return rows.clone();
        }
        let computed = Arc::new(rows(self, procs));
        *cache = Some((key, computed.clone()));
        computed
    }

    /// The process under the cursor.
    pub fn selected<'a>(&self, procs: &'a [Process]) -> Option<&'a Process> {
        let rows = self.visible(procs);
        let row = rows.get(self.cursor.selected)?;
        procs.get(row.idx)
    }

    /// Selects a process, clearing the filter so that it is visible.
    pub fn select(&mut self, procs: &[Process], pid: Pid) {
        self.filter.clear();
        if let Some(i) = self
            .visible(procs)
            .iter()
            .position(|r| procs.get(r.idx).is_some_and(|p| p.pid == pid))
        {
            self.cursor.selected = i;
        }
    }
}

/// One visible row.
#[derive(Debug, Clone, Copy)]
pub struct Row {
    /// Indentation depth.
    pub depth: usize,
    /// Index into the process list.
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
pub fn rows(st: &State, procs: &[Process]) -> Vec<Row> {
    let base = tree_rows(st, procs);
    if !st.group {
        return base;
    }
    let mut groups: Vec<(String, Vec<Row>)> = Vec::new();
    for r in base {
        let Some(p) = procs.get(r.idx) else {
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

fn tree_rows(st: &State, procs: &[Process]) -> Vec<Row> {
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

/// Handles an action for the process pane.
pub fn update(st: &mut State, cx: &Ctx, action: Action) -> Vec<Command> {
    let mut out = Vec::new();
    let procs = cx.procs;
    let rows = st.visible(procs);
    let page = cx.page_rows as isize;
    let cur = &mut st.cursor;
    match action {
        Action::Up => cur.move_by(-1, rows.len()),
        Action::Down => cur.move_by(1, rows.len()),
        Action::PageUp => cur.move_by(-page, rows.len()),
        Action::PageDown => cur.move_by(page, rows.len()),
        Action::Home => cur.home(),
        Action::End => cur.end(rows.len()),
        Action::Left | Action::Right => {
            if let Some(row) = rows.get(cur.selected)
                && let Some(p) = procs.get(row.idx)
                && row.has_children
            {
                let pid = p.pid;
                if matches!(action, Action::Left) {
                    st.collapsed.insert(pid);
                } else {
                    st.collapsed.remove(&pid);
                }
            }
        }
        Action::Enter => {
            if let Some(p) = st.selected(procs) {
                out.push(Command::Details(p.pid));
            }
        }
        Action::OpenMaps => out.push(Command::Focus(Pane::Maps)),
        Action::ToggleGroup => {
            st.group = !st.group;
            st.cursor = ListCursor::default();
            let n = st.visible(procs).iter().filter(|r| r.header).count();
            out.push(Command::info(if st.group {
                msg::grouped(n)
            } else {
                msg::UNGROUPED.to_string()
            }));
        }
        Action::Filter => out.push(Command::prompt(
            PromptKind::Filter,
            "filter processes (pid, name, command line)",
            st.filter.clone(),
        )),
        Action::Sort => {
            st.sort = match st.sort {
                Sort::Tree => Sort::Pid,
                Sort::Pid => Sort::Name,
                Sort::Name => Sort::Threads,
                Sort::Threads => Sort::Tree,
            };
            out.push(Command::info(msg::sorted(st.sort)));
        }
        Action::Cancel if !st.filter.is_empty() => {
            st.filter.clear();
            out.push(Command::info(msg::FILTER_CLEARED));
        }
        Action::Bookmark => {
            if let Some(p) = st.selected(procs) {
                let target = Target::Process {
                    pid: p.pid,
                    comm: p.comm.clone(),
                    cmdline: p.cmdline.clone(),
                };
                out.push(Command::Bookmark {
                    target,
                    note: String::new(),
                });
            }
        }
        _ => {}
    }
    let len = st.visible(procs).len();
    st.cursor.clamp(len);
    st.cursor.scroll_to_selection(cx.page_rows);
    out
}

/// Sets the filter typed in the prompt.
pub fn set_filter(st: &mut State, text: String) {
    st.filter = text;
    st.cursor = ListCursor::default();
}

/// Draws the process pane.
pub fn draw(f: &mut Frame, area: Rect, st: &State, cx: &Ctx, focused: bool) {
    let procs = cx.procs;
    let rows = st.visible(procs);
    let mut title = format!(" Processes ({}) ", procs.len());
    if !st.filter.is_empty() {
        title.push_str(&format!("filter: {} ", sanitize(&st.filter)));
    }
    if st.group {
        title.push_str("grouped by container ");
    }
    if st.sort != Sort::Tree {
        title.push_str(&format!("sort: {:?} ", st.sort).to_lowercase());
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
    let offset = st.cursor.visible_offset(height);
    let comm_w = rows
        .iter()
        .filter_map(|r| {
            procs
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
        let Some(p) = procs.get(row.idx) else {
            continue;
        };
        if row.header {
            let style = if i == st.cursor.selected {
                theme::SELECTED
            } else {
                theme::TITLE
            };
            let named = p.container_id.as_ref().and_then(|id| st.containers.get(id));
            let pod = match (named, &p.pod_uid) {
                (Some(n), _) => format!("  {}", sanitize(n)),
                (None, Some(u)) => format!("  pod {}", sanitize(u)),
                (None, None) => String::new(),
            };
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
        let marks = st.marks.get(&p.pid).copied().unwrap_or_default();
        let flag = if marks.suspicious_vmas > 0 { "!" } else { "" };
        let uid = p.uid.map_or_else(|| "-".to_string(), |u| u.to_string());
        let selected = i == st.cursor.selected;
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

#[cfg(test)]
mod tests {
    use super::*;

    fn proc(pid: Pid, ppid: Pid, comm: &str, container: Option<&str>) -> Process {
        Process {
            pid,
            ppid,
            pgid: pid,
            sid: pid,
            comm: comm.into(),
            cmdline: vec![format!("/bin/{comm}")],
            uid: Some(0),
            gid: Some(0),
            euid: Some(0),
            threads: Vec::new(),
            state: "sleeping".into(),
            exit_code: None,
            exe: None,
            kernel_thread: false,
            start_time: None,
            created: None,
            ns: None,
            cgroup: None,
            container_id: container.map(str::to_string),
            pod_uid: None,
        }
    }

    fn procs() -> Vec<Process> {
        vec![
            proc(1, 0, "init", None),
            proc(2, 1, "shell", None),
            proc(3, 2, "app", Some("abc")),
            proc(4, 1, "daemon", Some("abc")),
        ]
    }

    fn pids(st: &State, procs: &[Process]) -> Vec<Pid> {
        rows(st, procs)
            .iter()
            .filter(|r| !r.header)
            .map(|r| procs[r.idx].pid)
            .collect()
    }

    #[test]
    fn tree_order_folds_and_filters() {
        let p = procs();
        let mut st = State::default();
        assert_eq!(pids(&st, &p), [1, 2, 3, 4]);
        st.collapsed.insert(2);
        assert_eq!(
            pids(&st, &p),
            [1, 2, 4],
            "a folded subtree hides its children"
        );
        st.filter = "APP".into();
        assert_eq!(pids(&st, &p), [3], "filters ignore case and list flat");
        st.filter = "4".into();
        assert_eq!(pids(&st, &p), [4], "a pid filter is exact");
    }

    #[test]
    fn grouping_puts_containers_first_with_a_header() {
        let p = procs();
        let st = State {
            group: true,
            ..State::default()
        };
        let rows = rows(&st, &p);
        assert!(rows[0].header);
        assert_eq!(rows[0].members, 2);
        assert_eq!(group_of(&p[rows[0].idx]), "container abc");
        assert_eq!(pids(&st, &p), [3, 4, 1, 2]);
    }

    #[test]
    fn select_clears_the_filter_and_finds_the_row() {
        let p = procs();
        let mut st = State {
            filter: "daemon".into(),
            ..State::default()
        };
        st.select(&p, 3);
        assert!(st.filter.is_empty());
        assert_eq!(st.selected(&p).map(|p| p.pid), Some(3));
    }
}
