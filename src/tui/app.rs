//! The workbench state and its one entry point for change, [`App::update`].
//!
//! The app owns every pane's state. It hands an action to the focused pane, which changes
//! only its own state and returns [`Command`]s; [`App::apply`] carries those out. Panes read
//! the rest of the workbench through a [`Ctx`].

use std::path::PathBuf;
use std::sync::Arc;

use ratatui::text::Line;

use crate::engine::evidence::{Evidence, EvidenceInfo, Pid, Process, Vma};
use crate::engine::findings::{Session, SessionStore, Target, evidence_identity};
use crate::engine::triage::Options as TriageOptions;
use crate::jobs::Jobs;
use crate::tui::action::{Action, Pane};
pub use crate::tui::command::{Command, Ctx, Level, PromptKind};
pub use crate::tui::panes::prompt::Prompt;
use crate::tui::panes::{
    details, diff, evidence, findings, hex, maps, processes, rootfs, search, triage,
};
use crate::tui::paths::default_export_path;
use crate::tui::strings::msg;

pub use prompts::split_tags;

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
        /// The lines, read from the evidence when the popup opened.
        lines: Vec<Line<'static>>,
    },
    /// What the evidence is: metadata, mounts, warnings.
    Evidence {
        /// First line shown.
        scroll: u16,
        /// The lines, made when the popup opened.
        lines: Vec<Line<'static>>,
    },
    /// A text prompt.
    Prompt(Box<Prompt>),
}

/// The whole workbench.
pub struct App {
    /// The evidence.
    pub ev: Arc<dyn Evidence>,
    /// Its description.
    pub info: EvidenceInfo,
    /// Processes, sorted by pid.
    pub procs: Vec<Process>,
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
    /// The triage results.
    pub triage: triage::State,
    /// The peer diff (several evidences open).
    pub diff: diff::State,
    /// How the Triage pane runs triage (default: secrets masked, the bundled YARA rules;
    /// `podmortem EVIDENCE --yara RULES` adds the analyst's).
    pub triage_options: TriageOptions,
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

/// A [`Ctx`] borrowing the app's fields one by one, so that a pane's state can be borrowed
/// mutably beside it: `$selected` is the selected pid, `$hits` and `$pattern` the search's
/// results as the pane may see them.
macro_rules! ctx {
    ($app:ident, $selected:expr, $hits:expr, $pattern:expr) => {
        Ctx {
            ev: &$app.ev,
            info: &$app.info,
            procs: &$app.procs,
            selected_pid: $selected,
            session: &$app.session,
            hits: $hits,
            last_pattern: $pattern,
            page_rows: usize::from($app.size.1.saturating_sub(7)).max(1),
            size: $app.size,
            focus: $app.focus,
        }
    };
}

// After the macro, which they use.
mod events;
mod prompts;

impl App {
    /// Opens the workbench on evidence; loads the saved findings of this evidence.
    ///
    /// Only what the first frame needs is read here; the process tree's marks, the rootfs
    /// preview and the evidence's hash come from background jobs.
    pub fn new(ev: Arc<dyn Evidence>, jobs: Jobs, opts: &SessionOptions) -> App {
        let info = ev.info();
        let mut status = None;
        let mut procs = match ev.processes() {
            Ok(p) => p,
            Err(e) => {
                tracing::warn!("processes unreadable: {e}");
                status = Some((msg::unreadable("processes", &e), Level::Error));
                Vec::new()
            }
        };
        procs.sort_by_key(|p| p.pid);
        let id = evidence_identity(&info.path).unwrap_or_else(|e| {
            tracing::warn!("evidence identity: {e}");
            "unknown".into()
        });
        let store = match SessionStore::for_evidence(&id, opts.data_dir.clone()) {
            Ok(s) => Some(s),
            Err(e) => {
                status = Some((format!("findings will not be saved: {e}"), Level::Error));
                None
            }
        };
        let session = match store.as_ref().map(SessionStore::load) {
            Some(Ok(Some(s))) => {
                status.get_or_insert((
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
            triage: triage::State::default(),
            diff: diff::State::default(),
            triage_options: TriageOptions::default(),
            session,
            store,
            evidence_sha256: None,
            jobs,
        };
        tracing::debug!(processes = app.procs.len(), "workbench open");
        if !app.info.path.is_dir() {
            app.jobs.hash_file(app.info.path.clone());
        }
        let pids = app.procs.iter().map(|p| p.pid).collect();
        app.jobs.scan_marks(app.ev.clone(), pids);
        if app.procs.iter().any(|p| p.container_id.is_some()) {
            app.jobs.containers(app.ev.clone(), app.procs.clone());
        }
        if let Some(c) = app.rootfs.first_preview() {
            app.apply(c);
        }
        app.sync_selection();
        app
    }

    /// Starts what the first frame must not wait for: triage of the evidence (a job; the
    /// Triage pane and the status line show its progress). The event loop calls it once the
    /// first frame is drawn.
    pub fn after_first_frame(&mut self) {
        self.apply(Command::StartTriage);
    }

    /// Compares the evidence with `peers` (label, evidence) in the background and shows the
    /// Diff pane ([`crate::engine::diff`]); the workbench's evidence is the first peer.
    pub fn compare_with(&mut self, peers: Vec<(String, Arc<dyn Evidence>)>) {
        if peers.is_empty() {
            return;
        }
        let mut labels = vec![self.info.path.display().to_string()];
        let mut evidences = vec![self.ev.clone()];
        for (label, ev) in peers {
            labels.push(label);
            evidences.push(ev);
        }
        diff::started(&mut self.diff, labels.clone());
        self.jobs.diff(evidences, labels);
    }

    /// The panes shown, in tab order (the Diff pane only with several evidences open).
    pub fn panes(&self) -> Vec<Pane> {
        Pane::ALL
            .into_iter()
            .filter(|p| *p != Pane::Diff || self.diff.enabled)
            .collect()
    }

    /// Focuses a pane, if it is shown.
    fn focus_pane(&mut self, pane: Pane) {
        if self.panes().contains(&pane) {
            self.focus = pane;
        } else if pane == Pane::Diff {
            self.info_msg(msg::NO_PEERS);
        }
    }

    /// Focuses the next (or previous) shown pane in tab order.
    fn focus_step(&mut self, forward: bool) {
        let panes = self.panes();
        let n = panes.len().max(1);
        let at = panes.iter().position(|p| *p == self.focus).unwrap_or(0);
        let next = if forward { at + 1 } else { at + n - 1 };
        if let Some(p) = panes.get(next % n) {
            self.focus = *p;
        }
    }

    /// True while a pane has work left in steps: the event loop ticks instead of sleeping.
    pub fn busy(&self) -> bool {
        hex::busy(&self.hex)
    }

    /// What panes may read of the workbench (for drawing).
    pub fn ctx(&self) -> Ctx<'_> {
        let selected = self.selected_process().map(|p| p.pid);
        ctx!(self, selected, &self.search.hits, &self.search.last_pattern)
    }

    /// The process under the cursor of the process pane.
    pub fn selected_process(&self) -> Option<&Process> {
        self.processes.selected(&self.procs)
    }

    /// A process by pid.
    pub fn process(&self, pid: Pid) -> Option<&Process> {
        crate::tui::command::process_in(&self.procs, pid)
    }

    /// Loads the maps of the selected process when the selection changed.
    pub fn sync_selection(&mut self) {
        let pid = self.selected_process().map(|p| p.pid);
        if pid == self.maps.pid {
            return;
        }
        let (vmas, warnings) = match pid.map(|p| self.ev.maps(p)) {
            Some(Ok(walk)) => (walk.items, walk.problems),
            Some(Err(e)) => {
                self.error_msg(msg::unreadable("memory areas", e));
                (Vec::new(), Vec::new())
            }
            None => (Vec::new(), Vec::new()),
        };
        maps::show(&mut self.maps, pid, vmas);
        if !warnings.is_empty() {
            self.error_msg(msg::incomplete("memory areas", &warnings));
        }
    }

    /// Sets an information message.
    pub fn info_msg(&mut self, msg: impl Into<String>) {
        self.status = Some((msg.into(), Level::Info));
    }

    /// Sets an error message.
    pub fn error_msg(&mut self, msg: impl Into<String>) {
        let msg = msg.into();
        tracing::info!("status: {msg}");
        self.status = Some((msg, Level::Error));
    }

    /// Maps of a process (cached for the selected one).
    pub fn vmas_of(&self, pid: Pid) -> Vec<Vma> {
        if self.maps.pid == Some(pid) {
            return self.maps.vmas.clone();
        }
        match self.ev.maps(pid) {
            Ok(walk) => walk.items,
            Err(e) => {
                tracing::warn!(pid, "memory areas unreadable: {e}");
                Vec::new()
            }
        }
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
        tracing::trace!(?action, focus = ?self.focus, "action");
        self.handle(action);
        // The hex viewer's caches follow whatever changed (its process, cursor, size).
        let sel = self.selected_process().map(|p| p.pid);
        let cx = ctx!(self, sel, &self.search.hits, &self.search.last_pattern);
        hex::refresh(&mut self.hex, &cx);
    }

    fn handle(&mut self, action: Action) {
        match action {
            Action::Resize(w, h) => {
                self.size = (w, h);
                return;
            }
            // Work in steps goes on in the refresh after every action.
            Action::Tick => return,
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
            let selected = self.selected_process().map(|p| p.pid);
            let cx = ctx!(self, selected, &[], "");
            let cmds = search::update_editing(&mut self.search, &cx, action);
            self.apply_all(cmds);
            return;
        }
        match action {
            Action::Quit => self.should_quit = true,
            Action::Focus(p) => self.focus_pane(p),
            Action::FocusNext => self.focus_step(true),
            Action::FocusPrev => self.focus_step(false),
            Action::ToggleHelp => self.overlay = Some(Overlay::Help { scroll: 0 }),
            Action::ShowEvidence => {
                let lines = evidence::lines(&self.ctx());
                self.overlay = Some(Overlay::Evidence { scroll: 0, lines });
            }
            Action::Export => {
                let default = default_export_path(&self.info.path);
                self.apply(Command::prompt(
                    PromptKind::ExportPath,
                    "export findings to",
                    default,
                ));
            }
            other => {
                let cmds = self.dispatch(other);
                self.apply_all(cmds);
            }
        }
        self.sync_selection();
    }

    /// Hands an action to the focused pane.
    fn dispatch(&mut self, action: Action) -> Vec<Command> {
        let sel = self.selected_process().map(|p| p.pid);
        match self.focus {
            Pane::Processes => processes::update(
                &mut self.processes,
                &ctx!(self, sel, &self.search.hits, &self.search.last_pattern),
                action,
            ),
            Pane::Maps => maps::update(
                &mut self.maps,
                &ctx!(self, sel, &self.search.hits, &self.search.last_pattern),
                action,
            ),
            Pane::Hex => hex::update(
                &mut self.hex,
                &ctx!(self, sel, &self.search.hits, &self.search.last_pattern),
                action,
            ),
            Pane::Search => search::update(&mut self.search, &ctx!(self, sel, &[], ""), action),
            Pane::Rootfs => rootfs::update(
                &mut self.rootfs,
                &ctx!(self, sel, &self.search.hits, &self.search.last_pattern),
                action,
            ),
            Pane::Findings => findings::update(
                &mut self.findings,
                &ctx!(self, sel, &self.search.hits, &self.search.last_pattern),
                action,
            ),
            Pane::Triage => triage::update(
                &mut self.triage,
                &ctx!(self, sel, &self.search.hits, &self.search.last_pattern),
                action,
            ),
            Pane::Diff => diff::update(
                &mut self.diff,
                &ctx!(self, sel, &self.search.hits, &self.search.last_pattern),
                action,
            ),
        }
    }

    fn apply_all(&mut self, cmds: Vec<Command>) {
        for c in cmds {
            self.apply(c);
        }
    }

    /// Carries out a pane's request.
    pub fn apply(&mut self, cmd: Command) {
        tracing::trace!(?cmd, "command");
        match cmd {
            Command::Focus(p) => self.focus_pane(p),
            Command::OpenHex {
                pid,
                addr,
                highlight,
            } => {
                let vmas = (self.hex.pid != Some(pid)).then(|| self.vmas_of(pid));
                let sel = self.selected_process().map(|p| p.pid);
                let cx = ctx!(self, sel, &self.search.hits, &self.search.last_pattern);
                hex::open(&mut self.hex, &cx, pid, addr, highlight, vmas);
            }
            Command::ShowProcess { pid, pane } => {
                self.processes.select(&self.procs, pid);
                self.sync_selection();
                self.focus = pane;
            }
            Command::ShowVma { pid, start } => {
                self.processes.select(&self.procs, pid);
                self.sync_selection();
                maps::select_start(&mut self.maps, start);
                self.focus = Pane::Maps;
            }
            Command::ShowFile { path } => {
                self.focus = Pane::Rootfs;
                if let Some(c) = self.rootfs.select_path(&path) {
                    self.apply(c);
                }
            }
            Command::Details(pid) => {
                let lines = details::lines(&self.ctx(), pid);
                self.overlay = Some(Overlay::Details {
                    pid,
                    scroll: 0,
                    lines,
                });
            }
            Command::Bookmark { target, note } => self.bookmark(target, &note),
            Command::Prompt { kind, title, text } => {
                self.overlay = Some(Overlay::Prompt(Prompt::new(kind, title, &text)))
            }
            Command::DeleteFinding(id) => {
                self.session.remove(id);
                self.save_findings();
                findings::clamp(&mut self.findings, self.session.findings.len());
                self.info_msg(msg::finding_deleted(id));
            }
            Command::Status(msg, Level::Info) => self.info_msg(msg),
            Command::Status(msg, Level::Error) => self.error_msg(msg),
            Command::StartSearch(req) => {
                let generation = self.jobs.start_search(self.ev.clone(), req);
                search::started(&mut self.search, generation);
            }
            Command::StartPhysicalSearch(regex) => {
                let generation = self.jobs.start_physical_search(self.ev.clone(), regex);
                search::started(&mut self.search, generation);
            }
            Command::CancelSearch => self.jobs.cancel_search(),
            Command::StartTriage => {
                let generation = self
                    .jobs
                    .start_triage(self.ev.clone(), self.triage_options.clone());
                // Inline jobs (tests) have answered already: their messages wait in the
                // queue, behind this generation.
                triage::started(&mut self.triage, generation);
            }
            Command::CancelTriage => self.jobs.cancel_triage(),
            Command::PreviewFile { path, generation } => {
                self.jobs.preview_file(self.ev.clone(), path, generation)
            }
        }
    }

    fn update_overlay(&mut self, action: Action) {
        let Some(overlay) = self.overlay.as_mut() else {
            return;
        };
        match overlay {
            Overlay::Help { scroll }
            | Overlay::Details { scroll, .. }
            | Overlay::Evidence { scroll, .. } => match action {
                Action::Cancel
                | Action::ToggleHelp
                | Action::ShowEvidence
                | Action::Quit
                | Action::Enter => self.overlay = None,
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
                    self.sync_selection();
                }
                _ => {}
            },
        }
    }
}
