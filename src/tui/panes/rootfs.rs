//! The rootfs-diff browser: a tree of the container's changed, added and deleted files,
//! a preview (text, or hex for binaries) with its SHA-256, and safe extraction.

use std::collections::{BTreeMap, HashSet};

use crate::engine::capability::container_fs;
use crate::engine::evidence::{Evidence, FileEntry, FileType};
use crate::engine::findings::Target;
use crate::engine::time::format_time;
use crate::jobs::FilePreview;
use crate::sanitize::{sanitize, sanitize_bytes};
use crate::tui::action::Action;
use crate::tui::command::{Command, Ctx, PromptKind};
use crate::tui::list::ListCursor;
use crate::tui::paths::default_output_path;
use crate::tui::strings::msg;
use crate::tui::theme;
use ratatui::Frame;
use ratatui::layout::{Constraint, Direction, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph};

/// One node of the tree (a file entry or a folder implied by paths).
#[derive(Debug, Clone)]
pub struct Node {
    /// Full path.
    pub path: String,
    /// Last component.
    pub name: String,
    /// Depth in the tree.
    pub depth: usize,
    /// A folder.
    pub is_dir: bool,
    /// The entry, when the archive has one for this path.
    pub entry: Option<FileEntry>,
}

/// The preview of the selected file.
#[derive(Debug, Clone, Default)]
pub struct Preview {
    /// Which file.
    pub path: String,
    /// Its size.
    pub size: u64,
    /// SHA-256 of its bytes.
    pub sha256: String,
    /// Its first bytes.
    pub head: Vec<u8>,
    /// Why it could not be read.
    pub error: Option<String>,
    /// Still being read and hashed in the background.
    pub loading: bool,
}

/// State of the rootfs pane.
#[derive(Debug, Clone, Default)]
pub struct State {
    /// All nodes, in tree order.
    pub nodes: Vec<Node>,
    /// Collapsed folders.
    pub collapsed: HashSet<String>,
    /// Cursor over visible nodes.
    pub cursor: ListCursor,
    /// First preview line shown.
    pub preview_scroll: u16,
    /// Preview of the selected file.
    pub preview: Option<Preview>,
    /// Why there is no tree.
    pub unavailable: Option<String>,
    /// Generation of the last preview request.
    pub preview_generation: u64,
}

impl State {
    /// Builds the tree from the evidence's rootfs diff.
    pub fn new(ev: &dyn Evidence) -> State {
        match container_fs(ev).and_then(|fs| fs.entries()) {
            Ok(entries) => State {
                collapsed: quiet_mounts(&entries),
                nodes: build(entries),
                ..State::default()
            },
            Err(e) => State {
                unavailable: Some(e.to_string()),
                ..State::default()
            },
        }
    }

    /// Visible nodes (folded folders hide their contents).
    pub fn visible(&self) -> Vec<&Node> {
        let mut out = Vec::new();
        let mut hide: Option<&str> = None;
        for n in &self.nodes {
            if let Some(h) = hide {
                if n.path.starts_with(h) && n.path.as_bytes().get(h.len()) == Some(&b'/') {
                    continue;
                }
                hide = None;
            }
            if n.is_dir && self.collapsed.contains(&n.path) {
                hide = Some(&n.path);
            }
            out.push(n);
        }
        out
    }

    /// Asks for the preview of the selected file when the selection moved to another file.
    fn refresh_preview(&mut self) -> Option<Command> {
        let Some(node) = self
            .visible()
            .get(self.cursor.selected)
            .map(|n| (*n).clone())
        else {
            self.preview = None;
            return None;
        };
        if self.preview.as_ref().is_some_and(|p| p.path == node.path) {
            return None;
        }
        self.preview_scroll = 0;
        match node.entry.as_ref() {
            Some(e) if e.kind == FileType::File && !e.deleted => {
                self.preview_generation += 1;
                self.preview = Some(Preview {
                    path: node.path.clone(),
                    size: e.size,
                    loading: true,
                    ..Preview::default()
                });
                Some(Command::PreviewFile {
                    path: node.path,
                    generation: self.preview_generation,
                })
            }
            _ => {
                self.preview = None;
                None
            }
        }
    }

    /// Selects a path (when visible) and asks for its preview.
    pub fn select_path(&mut self, path: &str) -> Option<Command> {
        if let Some(i) = self.visible().iter().position(|n| n.path == path) {
            self.cursor.selected = i;
        }
        self.refresh_preview()
    }

    /// The first preview request, once the workbench is open.
    pub fn first_preview(&mut self) -> Option<Command> {
        self.refresh_preview()
    }
}

/// Takes the answer of a preview job (stale answers are dropped).
pub fn on_preview(st: &mut State, generation: u64, result: Result<FilePreview, String>) {
    if generation != st.preview_generation {
        return;
    }
    let Some(p) = st.preview.as_mut() else {
        return;
    };
    p.loading = false;
    match result {
        Ok(f) if f.path == p.path => {
            p.size = f.size;
            p.sha256 = f.sha256;
            p.head = f.head;
        }
        Ok(_) => {}
        Err(e) => p.error = Some(e),
    }
}

/// Memory-backed mounts that hold no regular file (runc's /dev of device nodes, cgroup
/// folders, masked paths): folded at first, so the container's own files come first. A
/// file dropped into one (a payload hidden in /dev) leaves it open.
fn quiet_mounts(entries: &[FileEntry]) -> HashSet<String> {
    let mounts: HashSet<String> = entries
        .iter()
        .filter_map(|e| e.mount.as_deref())
        .map(|m| m.trim_matches('/').to_string())
        .filter(|m| !m.is_empty())
        .collect();
    mounts
        .into_iter()
        .filter(|m| {
            !entries.iter().any(|e| {
                e.kind == FileType::File
                    && !e.deleted
                    && e.path
                        .strip_prefix(m.as_str())
                        .is_some_and(|r| r.starts_with('/'))
            })
        })
        .collect()
}

fn build(mut entries: Vec<FileEntry>) -> Vec<Node> {
    entries.sort_by(|a, b| a.path.cmp(&b.path));
    let mut map: BTreeMap<String, Node> = BTreeMap::new();
    for e in entries {
        let parts: Vec<&str> = e.path.split('/').filter(|p| !p.is_empty()).collect();
        for depth in 0..parts.len().saturating_sub(1) {
            let path = parts.get(..=depth).map(|p| p.join("/")).unwrap_or_default();
            map.entry(path.clone()).or_insert_with(|| Node {
                name: parts.get(depth).copied().unwrap_or("").to_string(),
                path,
                depth,
                is_dir: true,
                entry: None,
            });
        }
        let path = parts.join("/");
        let is_dir = e.kind == FileType::Dir;
        map.insert(
            path.clone(),
            Node {
                name: parts.last().copied().unwrap_or("").to_string(),
                path,
                depth: parts.len().saturating_sub(1),
                is_dir,
                entry: Some(e),
            },
        );
    }
    // Sort so that a folder's contents follow it ("a/b" before "a.txt").
    let mut nodes: Vec<Node> = map.into_values().collect();
    nodes.sort_by(|a, b| a.path.split('/').cmp(b.path.split('/')));
    nodes
}

/// Handles an action for the rootfs pane.
pub fn update(st: &mut State, cx: &Ctx, action: Action) -> Vec<Command> {
    let mut out = Vec::new();
    let visible = st.visible().len();
    let page = cx.page_rows as isize;
    match action {
        Action::Up => st.cursor.move_by(-1, visible),
        Action::Down => st.cursor.move_by(1, visible),
        Action::Home => st.cursor.home(),
        Action::End => st.cursor.end(visible),
        Action::PageDown => st.preview_scroll = st.preview_scroll.saturating_add(page as u16),
        Action::PageUp => st.preview_scroll = st.preview_scroll.saturating_sub(page as u16),
        Action::Left | Action::Right | Action::Enter => {
            if let Some(n) = st.visible().get(st.cursor.selected).map(|n| (*n).clone())
                && n.is_dir
            {
                let fold = match action {
                    Action::Left => true,
                    Action::Right => false,
                    _ => !st.collapsed.contains(&n.path),
                };
                if fold {
                    st.collapsed.insert(n.path);
                } else {
                    st.collapsed.remove(&n.path);
                }
            }
        }
        Action::Extract => {
            if let Some(n) = st.visible().get(st.cursor.selected)
                && n.entry
                    .as_ref()
                    .is_some_and(|e| e.kind == FileType::File && !e.deleted)
            {
                let path = n.path.clone();
                out.push(Command::prompt(
                    PromptKind::ExtractDir(path.clone()),
                    format!("extract {} into folder", sanitize(&path)),
                    default_output_path(&cx.info.path, "podmortem-extract"),
                ));
            } else {
                out.push(Command::error(msg::SELECT_A_FILE));
            }
            return out;
        }
        Action::Bookmark => {
            if let Some(n) = st.visible().get(st.cursor.selected) {
                let target = Target::File {
                    path: n.path.clone(),
                    size: n.entry.as_ref().map_or(0, |e| e.size),
                    deleted: n.entry.as_ref().is_some_and(|e| e.deleted),
                };
                out.push(Command::Bookmark {
                    target,
                    note: String::new(),
                });
            }
            return out;
        }
        _ => {}
    }
    st.cursor.clamp(st.visible().len());
    st.cursor.scroll_to_selection(cx.page_rows);
    out.extend(st.refresh_preview());
    out
}

/// Draws the rootfs pane.
pub fn draw(f: &mut Frame, area: Rect, st: &State, _cx: &Ctx, focused: bool) {
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(if focused {
            theme::BORDER_FOCUSED
        } else {
            theme::BORDER
        })
        .title(" Rootfs diff ");
    let inner = block.inner(area);
    f.render_widget(block, area);
    if let Some(why) = &st.unavailable {
        f.render_widget(
            Paragraph::new(vec![
                Line::raw(""),
                Line::styled(format!("  {}", sanitize(why)), theme::DIM),
            ]),
            inner,
        );
        return;
    }
    let dir = if inner.width >= 100 {
        Direction::Horizontal
    } else {
        Direction::Vertical
    };
    let parts = Layout::new(
        dir,
        [Constraint::Percentage(50), Constraint::Percentage(50)],
    )
    .split(inner);
    let (list_area, preview_area) = (parts[0], parts[1]);
    let visible = st.visible();
    let height = usize::from(list_area.height.saturating_sub(1));
    let offset = st.cursor.visible_offset(height);
    let mut lines = vec![Line::styled(
        format!("{:<6} {:>9} {:<16} PATH", "MODE", "SIZE", "MTIME"),
        theme::TITLE,
    )];
    for (i, n) in visible.iter().enumerate().skip(offset).take(height) {
        let selected = i == st.cursor.selected;
        let base = theme::row(selected, focused);
        let (meta, deleted) = match &n.entry {
            Some(e) => (
                format!(
                    "{:04o}   {:>9} {:<16}",
                    e.mode & 0o7777,
                    if e.deleted {
                        "-".into()
                    } else {
                        e.size.to_string()
                    },
                    if e.deleted {
                        "-".into()
                    } else {
                        format_time(e.mtime).chars().take(16).collect::<String>()
                    }
                ),
                e.deleted,
            ),
            None => (format!("{:<6} {:>9} {:<16}", "", "", ""), false),
        };
        let icon = if n.is_dir {
            if st.collapsed.contains(&n.path) {
                "▸ "
            } else {
                "▾ "
            }
        } else {
            "  "
        };
        let mut name = format!("{}{icon}{}", "  ".repeat(n.depth), sanitize(&n.name));
        if n.is_dir {
            name.push('/');
        }
        if let Some(l) = n.entry.as_ref().and_then(|e| e.link.as_ref()) {
            name.push_str(&format!(" -> {}", sanitize(l)));
        }
        let style = if deleted && !selected {
            theme::ALERT
        } else {
            base
        };
        // Where it was read (memory-backed mounts: the bytes were in RAM only) and what it is.
        let alert = if selected { base } else { theme::ALERT };
        let dim = if selected { base } else { theme::DIM };
        let mut spans = vec![
            Span::styled(format!("{meta} "), base),
            Span::styled(name, style),
        ];
        if deleted {
            spans.push(Span::styled("  (deleted)", alert));
        }
        if let Some(e) = n.entry.as_ref().filter(|e| e.mount.is_some()) {
            spans.push(Span::styled(format!("  [{}]", e.layer()), dim));
        }
        if n.entry.as_ref().is_some_and(|e| e.deleted_while_open) {
            spans.push(Span::styled("  (deleted while open)", alert));
        }
        if n.entry.as_ref().is_some_and(|e| e.credential) {
            spans.push(Span::styled("  [credential]", alert));
        }
        lines.push(Line::from(spans));
    }
    f.render_widget(Paragraph::new(lines), list_area);
    draw_preview(f, preview_area, st);
}

fn draw_preview(f: &mut Frame, area: Rect, st: &State) {
    let block = Block::default()
        .borders(Borders::TOP | Borders::LEFT)
        .border_style(theme::BORDER)
        .title(" Preview ");
    let inner = block.inner(area);
    f.render_widget(block, area);
    let Some(p) = &st.preview else {
        f.render_widget(
            Paragraph::new(Line::styled("select a file", theme::DIM)),
            inner,
        );
        return;
    };
    if p.loading {
        f.render_widget(
            Paragraph::new(Line::styled(
                format!("reading {} bytes…", p.size),
                theme::DIM,
            )),
            inner,
        );
        return;
    }
    if let Some(e) = &p.error {
        f.render_widget(
            Paragraph::new(Line::styled(sanitize(e).into_owned(), theme::ERROR)),
            inner,
        );
        return;
    }
    let mut lines = vec![Line::styled(
        format!("{} bytes  sha256 {}", p.size, p.sha256),
        theme::DIM,
    )];
    let printable = p
        .head
        .iter()
        .filter(|b| b.is_ascii_graphic() || b.is_ascii_whitespace())
        .count();
    let text = std::str::from_utf8(&p.head).is_ok() && printable * 10 >= p.head.len() * 9;
    if text {
        for l in String::from_utf8_lossy(&p.head).lines() {
            lines.push(Line::raw(sanitize_bytes(l.as_bytes())));
        }
    } else {
        for (i, chunk) in p.head.chunks(8).enumerate() {
            let hex: Vec<String> = chunk.iter().map(|b| format!("{b:02x}")).collect();
            let asc: String = chunk
                .iter()
                .map(|&b| if b.is_ascii_graphic() { b as char } else { '.' })
                .collect();
            lines.push(Line::raw(format!(
                "{:06x}  {:<24} {asc}",
                i * 8,
                hex.join(" ")
            )));
        }
    }
    if p.size as usize > p.head.len() {
        lines.push(Line::styled(
            format!("… {} more bytes", p.size as usize - p.head.len()),
            theme::DIM,
        ));
    }
    f.render_widget(Paragraph::new(lines).scroll((st.preview_scroll, 0)), inner);
}
