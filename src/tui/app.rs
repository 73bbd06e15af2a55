//! The workbench state and its one entry point for change, [`App::update`].

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use ratatui_textarea::TextArea;

use crate::engine::evidence::{Evidence, EvidenceInfo, Pid, Process, Vma};
use crate::engine::findings::{Session, SessionStore, Target, evidence_identity, export};
use crate::jobs::{JobEvent, Jobs};
use crate::tui::action::{Action, Pane};
use crate::tui::panes::{findings, hex, maps, processes, rootfs, search};

/// Facts about a process computed once at open, for the tree's flags.
#[derive(Debug, Clone, Copy, Default)]
pub struct ProcFlags {
    /// Memory areas that are writable+executable or anonymous executable.
    pub suspicious_vmas: usize,
}

/// What a text prompt is for.
#[derive(Debug, Clone)]
pub enum PromptKind {
    /// Filter the process list.
    Filter,
    /// Go to an address in the hex pane.
    Goto,
    /// The note of a new finding.
    NewFinding(Target),
    /// Edit a finding's note.
    EditNote(u64),
    /// Edit a finding's tags.
    EditTags(u64),
    /// Export findings to this path.
    ExportPath,
    /// Extract a rootfs file into this folder.
    ExtractDir(String),
    /// Extract a process's memory area into this folder.
    ExtractVma {
        /// The process.
        pid: Pid,
        /// The area.
        range: std::ops::Range<u64>,
    },
}

/// A one-line text prompt.
#[derive(Debug, Clone)]
pub struct Prompt {
    /// What it is for.
    pub kind: PromptKind,
    /// Title shown above the input.
    pub title: String,
    /// The input.
    pub input: TextArea<'static>,
}

impl Prompt {
    /// A prompt with a title and initial text.
    pub fn new(kind: PromptKind, title: impl Into<String>, text: &str) -> Box<Prompt> {
        let mut input = TextArea::new(vec![text.to_string()]);
        input.move_cursor(ratatui_textarea::CursorMove::End);
        Box::new(Prompt {
            kind,
            title: title.into(),
            input,
        })
    }

    /// The text typed.
    pub fn text(&self) -> String {
        self.input.lines().join("")
    }
}

/// A popup over the panes.
#[derive(Debug, Clone)]
pub enum Overlay {
    /// The keys.
    Help {
        /// First line shown.
        scroll: u16,
    },
    /// Details of a process.
    Details {
        /// Which process.
        pid: Pid,
        /// First line shown.
        scroll: u16,
    },
    /// A text prompt.
    Prompt(Box<Prompt>),
}

/// Severity of a status message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// Information.
    Info,
    /// Something failed.
    Error,
}

/// The whole workbench.
pub struct App {
    /// The evidence.
    pub ev: Arc<dyn Evidence>,
    /// Its description.
    pub info: EvidenceInfo,
    /// Processes, sorted by pid.
    pub procs: Vec<Process>,
    /// Flags by pid.
    pub flags: HashMap<Pid, ProcFlags>,
    /// Focused pane.
    pub focus: Pane,
    /// Popup, if any.
    pub overlay: Option<Overlay>,
    /// Status message.
    pub status: Option<(String, Level)>,
    /// Set when the workbench should exit.
    pub should_quit: bool,
    /// Terminal size (columns, rows).
    pub size: (u16, u16),
    /// Process tree state.
    pub processes: processes::State,
    /// Maps state.
    pub maps: maps::State,
    /// Hex viewer state.
    pub hex: hex::State,
    /// Search state.
    pub search: search::State,
    /// Rootfs browser state.
    pub rootfs: rootfs::State,
    /// Findings list state.
    pub findings: findings::State,
    /// The findings.
    pub session: Session,
    /// Where they are saved.
    pub store: Option<SessionStore>,
    /// SHA-256 of the evidence file, once computed.
    pub evidence_sha256: Option<String>,
    /// Background jobs.
    pub jobs: Jobs,
}

impl std::fmt::Debug for App {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("App")
            .field("focus", &self.focus)
            .field("size", &self.size)
            .finish()
    }
}

/// Where the findings of a session are kept.
#[derive(Debug, Clone, Default)]
pub struct SessionOptions {
    /// Data folder (default: `$PODMORTEM_DATA_DIR` or the XDG data dir).
    pub data_dir: Option<PathBuf>,
}

impl App {
    /// Opens the workbench on evidence; loads the saved findings of this evidence.
    pub fn new(ev: Arc<dyn Evidence>, jobs: Jobs, opts: &SessionOptions) -> App {
        let info = ev.info();
        let mut procs = ev.processes().unwrap_or_default();
        procs.sort_by_key(|p| p.pid);
        let flags = procs
            .iter()
            .map(|p| {
                let suspicious = ev
                    .maps(p.pid)
                    .map(|m| m.iter().filter(|v| v.is_suspicious()).count())
                    .unwrap_or(0);
                (
                    p.pid,
                    ProcFlags {
                        suspicious_vmas: suspicious,
                    },
                )
            })
            .collect();
        let mut status = None;
        let id = evidence_identity(&info.path).unwrap_or_else(|_| "unknown".into());
        let store = match SessionStore::for_evidence(&id, opts.data_dir.clone()) {
            Ok(s) => Some(s),
            Err(e) => {
                status = Some((format!("findings will not be saved: {e}"), Level::Error));
                None
            }
        };
        let session = match store.as_ref().map(SessionStore::load) {
            Some(Ok(Some(s))) => {
                status = Some((
                    format!("{} saved finding(s) loaded", s.findings.len()),
                    Level::Info,
                ));
                s
            }
            Some(Err(e)) => {
                status = Some((
                    format!("saved findings unreadable, starting a new session: {e}"),
                    Level::Error,
                ));
                Session::new(id, info.path.display().to_string())
            }
            _ => Session::new(id, info.path.display().to_string()),
        };
        let rootfs = rootfs::State::new(&*ev);
        let mut app = App {
            ev,
            info,
            procs,
            flags,
            focus: Pane::Processes,
            overlay: None,
            status,
            should_quit: false,
            size: (80, 24),
            processes: processes::State::default(),
            maps: maps::State::default(),
            hex: hex::State::default(),
            search: search::State::default(),
            rootfs,
            findings: findings::State::default(),
            session,
            store,
            evidence_sha256: None,
            jobs,
        };
        if !app.info.path.is_dir() {
            app.jobs.hash_file(app.info.path.clone());
        }
        app.sync_selection();
        app
    }

    /// The process under the cursor of the process pane.
    pub fn selected_process(&self) -> Option<&Process> {
        let rows = processes::rows(self);
        let row = rows.get(self.processes.cursor.selected)?;
        self.procs.get(row.idx)
    }

    /// A process by pid.
    pub fn process(&self, pid: Pid) -> Option<&Process> {
        self.procs.iter().find(|p| p.pid == pid)
    }

    /// Loads the maps of the selected process when the selection changed.
    pub fn sync_selection(&mut self) {
        let pid = self.selected_process().map(|p| p.pid);
        if pid != self.maps.pid {
            self.maps.pid = pid;
            self.maps.vmas = pid.and_then(|p| self.ev.maps(p).ok()).unwrap_or_default();
            self.maps.cursor = Default::default();
            let warnings = pid.map_or_else(Vec::new, |p| {
                self.ev
                    .walk_warnings(p, crate::engine::evidence::Listing::Maps)
            });
            if let Some(first) = warnings.first() {
                self.error_msg(format!(
                    "memory areas may be incomplete: {first}{}",
                    match warnings.len() {
                        1 => String::new(),
                        n => format!(" (+{} more)", n - 1),
                    }
                ));
            }
        }
    }

    /// Sets an information message.
    pub fn info_msg(&mut self, msg: impl Into<String>) {
        self.status = Some((msg.into(), Level::Info));
    }

    /// Sets an error message.
    pub fn error_msg(&mut self, msg: impl Into<String>) {
        self.status = Some((msg.into(), Level::Error));
    }

    /// Saves the findings now (atomic); reports failures in the status line.
    pub fn save_findings(&mut self) {
        if let Some(store) = &self.store
            && let Err(e) = store.save(&self.session)
        {
            // The reason first: a long path must not push it off an 80-column status line.
            let msg = match e {
                crate::engine::error::Error::Io { path, source } => format!(
                    "could not save findings: {source} ({}); they are kept in memory",
                    path.display()
                ),
                other => format!("could not save findings: {other}"),
            };
            self.error_msg(msg);
        }
    }

    /// Maps of a process (cached for the selected one).
    pub fn vmas_of(&self, pid: Pid) -> Vec<Vma> {
        if self.maps.pid == Some(pid) {
            return self.maps.vmas.clone();
        }
        self.ev.maps(pid).unwrap_or_default()
    }

    /// Rows of the main area (for page sizes).
    pub fn page_rows(&self) -> usize {
        usize::from(self.size.1.saturating_sub(7)).max(1)
    }

    /// Opens the bookmark prompt for a target.
    pub fn bookmark(&mut self, target: Target, note: &str) {
        let title = format!("bookmark {} — note (#word adds a tag)", target.describe());
        self.overlay = Some(Overlay::Prompt(Prompt::new(
            PromptKind::NewFinding(target),
            title,
            note,
        )));
    }

    /// Handles one action.
    pub fn update(&mut self, action: Action) {
        self.apply(action);
        hex::refresh(self);
    }

    fn apply(&mut self, action: Action) {
        match action {
            Action::Resize(w, h) => {
                self.size = (w, h);
                return;
            }
            Action::Job(ev) => {
                self.on_job(ev);
                return;
            }
            _ => {}
        }
        if self.overlay.is_some() {
            self.update_overlay(action);
            return;
        }
        if self.focus == Pane::Search && self.search.editing {
            search::update_editing(self, action);
            return;
        }
        match action {
            Action::Quit => self.should_quit = true,
            Action::Focus(p) => self.focus = p,
            Action::FocusNext => self.focus = Pane::ALL[(self.focus.index() + 1) % Pane::ALL.len()],
            Action::FocusPrev => {
                self.focus = Pane::ALL[(self.focus.index() + Pane::ALL.len() - 1) % Pane::ALL.len()]
            }
            Action::ToggleHelp => self.overlay = Some(Overlay::Help { scroll: 0 }),
            Action::Export => {
                let default = default_export_path(&self.info.path);
                self.overlay = Some(Overlay::Prompt(Prompt::new(
                    PromptKind::ExportPath,
                    "export findings to",
                    &default,
                )));
            }
            other => match self.focus {
                Pane::Processes => processes::update(self, other),
                Pane::Maps => maps::update(self, other),
                Pane::Hex => hex::update(self, other),
                Pane::Search => search::update(self, other),
                Pane::Rootfs => rootfs::update(self, other),
                Pane::Findings => findings::update(self, other),
            },
        }
        self.sync_selection();
    }

    fn update_overlay(&mut self, action: Action) {
        let Some(overlay) = self.overlay.as_mut() else {
            return;
        };
        match overlay {
            Overlay::Help { scroll } | Overlay::Details { scroll, .. } => match action {
                Action::Cancel | Action::ToggleHelp | Action::Quit | Action::Enter => {
                    self.overlay = None
                }
                Action::Up => *scroll = scroll.saturating_sub(1),
                Action::Down => *scroll = scroll.saturating_add(1),
                Action::PageUp => *scroll = scroll.saturating_sub(10),
                Action::PageDown => *scroll = scroll.saturating_add(10),
                Action::Home => *scroll = 0,
                _ => {}
            },
            Overlay::Prompt(prompt) => match action {
                Action::Cancel => self.overlay = None,
                Action::Input(key) => {
                    prompt.input.input(key);
                }
                Action::Submit => {
                    let kind = prompt.kind.clone();
                    let text = prompt.text();
                    self.overlay = None;
                    self.submit_prompt(kind, text);
                }
                _ => {}
            },
        }
    }

    /// Keeps a finding note still being typed (the workbench is ending: a signal, a lost
    /// terminal) as a finding tagged `draft`, so no words the analyst typed are lost.
    pub fn keep_draft(&mut self) {
        let Some(Overlay::Prompt(prompt)) = self.overlay.take() else {
            return;
        };
        let text = prompt.text();
        let id = match prompt.kind {
            PromptKind::NewFinding(target) => {
                let (note, tags) = split_tags(&text);
                self.session.add(target, note, tags)
            }
            PromptKind::EditNote(id) if !text.trim().is_empty() => {
                let (note, _) = split_tags(&text);
                match self.session.get_mut(id) {
                    Some(f) => f.note = note,
                    None => return,
                }
                id
            }
            _ => return,
        };
        if let Some(f) = self.session.get_mut(id) {
            if !f.tags.iter().any(|t| t == "draft") {
                f.tags.push("draft".into());
            }
            f.updated = crate::engine::time::now_rfc3339();
        }
    }

    fn submit_prompt(&mut self, kind: PromptKind, text: String) {
        match kind {
            PromptKind::Filter => {
                self.processes.filter = text;
                self.processes.cursor = Default::default();
            }
            PromptKind::Goto => hex::goto(self, &text),
            PromptKind::NewFinding(target) => {
                let (note, tags) = split_tags(&text);
                let id = self.session.add(target, note, tags);
                self.save_findings();
                if !matches!(self.status, Some((_, Level::Error))) {
                    self.info_msg(format!(
                        "finding #{id} saved ({} in total)",
                        self.session.findings.len()
                    ));
                }
            }
            PromptKind::EditNote(id) => {
                let (note, tags) = split_tags(&text);
                if let Some(f) = self.session.get_mut(id) {
                    f.note = note;
                    for t in tags {
                        if !f.tags.contains(&t) {
                            f.tags.push(t);
                        }
                    }
                    f.updated = crate::engine::time::now_rfc3339();
                }
                self.save_findings();
            }
            PromptKind::EditTags(id) => {
                if let Some(f) = self.session.get_mut(id) {
                    f.tags = text
                        .split([',', ' '])
                        .map(|t| t.trim().trim_start_matches('#').to_string())
                        .filter(|t| !t.is_empty())
                        .collect();
                    f.updated = crate::engine::time::now_rfc3339();
                }
                self.save_findings();
            }
            PromptKind::ExportPath => self.export_to(PathBuf::from(text.trim())),
            PromptKind::ExtractDir(path) => rootfs::extract(self, &path, text.trim()),
            PromptKind::ExtractVma { pid, range } => maps::extract(self, pid, range, text.trim()),
        }
    }

    /// Writes the findings export to `path`.
    pub fn export_to(&mut self, path: PathBuf) {
        if path.as_os_str().is_empty() {
            return self.error_msg("no path given");
        }
        let doc = export(&*self.ev, &self.session, self.evidence_sha256.clone());
        let mut bytes = Vec::new();
        let result = crate::sanitize::json::to_writer_pretty(&mut bytes, &doc)
            .map_err(|e| e.to_string())
            .and_then(|()| {
                crate::engine::findings::write_atomic(&path, &bytes).map_err(|e| e.to_string())
            });
        match result {
            Ok(()) => self.info_msg(format!(
                "{} finding(s) exported to {}{}",
                doc.findings.len(),
                path.display(),
                if doc.evidence.sha256.is_none() {
                    " (evidence sha256 still being computed)"
                } else {
                    ""
                }
            )),
            Err(e) => self.error_msg(format!("export failed: {e}")),
        }
    }

    fn on_job(&mut self, ev: JobEvent) {
        match ev {
            JobEvent::Hashed { result } => match result {
                Ok(h) => self.evidence_sha256 = Some(h),
                Err(e) => self.error_msg(format!("evidence sha256: {e}")),
            },
            JobEvent::Extracted { result } => maps::extracted(self, result),
            other => search::on_job(self, other),
        }
    }
}

/// Splits `#tags` out of a note.
pub fn split_tags(text: &str) -> (String, Vec<String>) {
    let mut tags = Vec::new();
    for word in text.split_whitespace() {
        if let Some(t) = word.strip_prefix('#')
            && !t.is_empty()
            && !tags.iter().any(|x: &String| x == t)
        {
            tags.push(t.to_string());
        }
    }
    (text.trim().to_string(), tags)
}

/// The default export path: `findings-<evidence>.json` in the working folder (see
/// [`default_output_path`]).
pub fn default_export_path(evidence: &std::path::Path) -> String {
    let stem = evidence
        .file_name()
        .map(|n| {
            n.to_string_lossy()
                .split('.')
                .next()
                .unwrap_or("evidence")
                .to_string()
        })
        .unwrap_or_else(|| "evidence".into());
    let name = format!(
        "findings-{}.json",
        crate::engine::extract::safe_relative(&stem).display()
    );
    default_output_path(evidence, &name)
}

/// Where the workbench proposes to write `name`: the working folder, unless that is where
/// the evidence is or inside an evidence folder (nothing is ever written next to or into the
/// evidence); then the data folder.
pub fn default_output_path(evidence: &std::path::Path, name: &str) -> String {
    let cwd = std::env::current_dir().unwrap_or_default();
    let cwd = std::fs::canonicalize(&cwd).unwrap_or(cwd);
    let evidence = std::fs::canonicalize(evidence).ok();
    let next_to = evidence.as_deref().and_then(|p| p.parent()) == Some(cwd.as_path());
    let inside = evidence
        .as_deref()
        .is_some_and(|p| p.is_dir() && cwd.starts_with(p));
    if next_to || inside {
        let data = crate::engine::findings::default_data_dir().unwrap_or_else(std::env::temp_dir);
        return data.join("exports").join(name).display().to_string();
    }
    name.to_string()
}
