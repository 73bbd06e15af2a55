//! The rootfs-diff browser: a tree of the container's changed, added and deleted files,
//! a preview (text, or hex for binaries) with its SHA-256, and safe extraction.

use std::collections::{BTreeMap, HashSet};

use ratatui::Frame;
use ratatui::layout::{Constraint, Direction, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph};
use sha2::{Digest, Sha256};

use crate::engine::capability::container_fs;
use crate::engine::evidence::{Evidence, FileEntry, FileType};
use crate::engine::findings::{Target, hex_string};
use crate::engine::time::format_time;
use crate::sanitize::{sanitize, sanitize_bytes};
use crate::tui::action::Action;
use crate::tui::app::{App, Overlay, Prompt, PromptKind};
use crate::tui::list::ListCursor;
use crate::tui::theme;

/// At most this many bytes of a file are previewed.
const PREVIEW_CAP: usize = 64 << 10;

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
}

impl State {
    /// Builds the tree from the evidence's rootfs diff.
    pub fn new(ev: &dyn Evidence) -> State {
        match container_fs(ev).and_then(|fs| fs.entries()) {
            Ok(entries) => {
                let mut st = State {
                    nodes: build(entries),
                    ..State::default()
                };
                st.refresh_preview(ev);
                st
            }
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

    fn refresh_preview(&mut self, ev: &dyn Evidence) {
        let Some(node) = self
            .visible()
            .get(self.cursor.selected)
            .map(|n| (*n).clone())
        else {
            self.preview = None;
            return;
        };
        if self.preview.as_ref().is_some_and(|p| p.path == node.path) {
            return;
        }
        self.preview_scroll = 0;
        let entry = node.entry.as_ref();
        self.preview = match entry {
            Some(e) if e.kind == FileType::File && !e.deleted => {
                let read = container_fs(ev).and_then(|fs| fs.read_file(&node.path));
                Some(match read {
                    Ok(bytes) => Preview {
                        path: node.path.clone(),
                        size: bytes.len() as u64,
                        sha256: hex_string(&Sha256::digest(&bytes)),
                        head: bytes.into_iter().take(PREVIEW_CAP).collect(),
                        error: None,
                    },
                    Err(e) => Preview {
                        path: node.path.clone(),
                        error: Some(e.to_string()),
                        ..Preview::default()
                    },
                })
            }
            _ => None,
        };
    }
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
pub fn update(app: &mut App, action: Action) {
    let visible = app.rootfs.visible().len();
    let page = app.page_rows() as isize;
    let st = &mut app.rootfs;
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
                app.overlay = Some(Overlay::Prompt(Prompt::new(
                    PromptKind::ExtractDir(path.clone()),
                    format!("extract {} into folder", sanitize(&path)),
                    &crate::tui::app::default_output_path(&app.info.path, "podmortem-extract"),
                )));
            } else {
                app.error_msg("select a file to extract");
            }
            return;
        }
        Action::Bookmark => {
            if let Some(n) = st.visible().get(st.cursor.selected) {
                let target = Target::File {
                    path: n.path.clone(),
                    size: n.entry.as_ref().map_or(0, |e| e.size),
                    deleted: n.entry.as_ref().is_some_and(|e| e.deleted),
                };
                app.bookmark(target, "");
            }
            return;
        }
        _ => {}
    }
    let h = app.page_rows();
    app.rootfs.cursor.clamp(app.rootfs.visible().len());
    app.rootfs.cursor.scroll_to_selection(h);
    let ev = app.ev.clone();
    app.rootfs.refresh_preview(&*ev);
}

/// Extracts a file into a folder (names cannot escape it; nothing is overwritten).
pub fn extract(app: &mut App, path: &str, dir: &str) {
    if dir.is_empty() {
        return app.error_msg("no folder given");
    }
    let bytes = match container_fs(&*app.ev).and_then(|fs| fs.read_file(path)) {
        Ok(b) => b,
        Err(e) => return app.error_msg(format!("cannot read {}: {e}", sanitize(path))),
    };
    let dir = std::path::Path::new(dir);
    let written = crate::engine::extract::ensure_outside_evidence(&app.info.path, dir)
        .and_then(|()| crate::engine::extract::extract_to(dir, path, &bytes, false));
    match written {
        Ok(p) => app.info_msg(format!(
            "extracted to {}",
            sanitize(&p.display().to_string())
        )),
        Err(e) => app.error_msg(format!("extraction refused: {e}")),
    }
}

/// Draws the rootfs pane.
pub fn draw(f: &mut Frame, area: Rect, app: &App, focused: bool) {
    let st = &app.rootfs;
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
        lines.push(Line::from(vec![
            Span::styled(format!("{meta} "), base),
            Span::styled(name, style),
            Span::styled(
                if deleted { "  (deleted)" } else { "" },
                if selected { base } else { theme::ALERT },
            ),
        ]));
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
