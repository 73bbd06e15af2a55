//! What panes ask for, and what they may read: [`Command`] and [`Ctx`].
//!
//! A pane's `update` changes only its own state and returns commands; [`App::apply`]
//! carries them out (focus another pane, open the hex viewer, add a finding, start a job).
//! A pane's `update` and `draw` read the rest of the workbench through a [`Ctx`], never
//! through the app itself, so no pane depends on another pane or on the app.
//!
//! [`App::apply`]: crate::tui::app::App::apply

use std::ops::Range;
use std::sync::Arc;

use crate::engine::evidence::{Evidence, EvidenceInfo, Pid, Process};
use crate::engine::findings::{Session, Target};
use crate::engine::search::{Hit, SearchRequest};
use crate::tui::action::Pane;

/// Severity of a status message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// Information.
    Info,
    /// Something failed.
    Error,
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
        range: Range<u64>,
    },
}

/// A request from a pane to the workbench.
#[derive(Debug, Clone)]
pub enum Command {
    /// Focus a pane.
    Focus(Pane),
    /// Open the hex viewer on a process at an address, optionally highlighting a range.
    OpenHex {
        /// The process.
        pid: Pid,
        /// Address under the cursor.
        addr: u64,
        /// Range to highlight (a search hit, a bookmarked selection).
        highlight: Option<Range<u64>>,
    },
    /// Select a process in the tree (clearing its filter) and focus a pane.
    ShowProcess {
        /// The process.
        pid: Pid,
        /// The pane to focus.
        pane: Pane,
    },
    /// Select a process's memory area in the maps pane and focus it.
    ShowVma {
        /// The process.
        pid: Pid,
        /// Start of the area.
        start: u64,
    },
    /// Select a file in the rootfs browser and focus it.
    ShowFile {
        /// Path of the file.
        path: String,
    },
    /// Show the details popup of a process.
    Details(Pid),
    /// Ask for a note and bookmark a target as a finding.
    Bookmark {
        /// What is bookmarked.
        target: Target,
        /// The note proposed.
        note: String,
    },
    /// Open a text prompt.
    Prompt {
        /// What it is for.
        kind: PromptKind,
        /// Its title.
        title: String,
        /// Initial text.
        text: String,
    },
    /// Delete a finding.
    DeleteFinding(u64),
    /// Show a message in the status line.
    Status(String, Level),
    /// Start a memory search (cancels the running one); the search pane learns its
    /// generation through [`crate::tui::panes::search::started`].
    StartSearch(SearchRequest),
    /// Start a search of all physical memory (cancels the running one).
    StartPhysicalSearch(regex::bytes::Regex),
    /// Cancel the running search.
    CancelSearch,
    /// Run triage (cancels the running run); the Triage pane learns its generation through
    /// [`crate::tui::panes::triage::started`].
    StartTriage,
    /// Cancel the running triage (the detections found so far are kept).
    CancelTriage,
    /// Read and hash a rootfs file in the background for the preview.
    PreviewFile {
        /// Path of the file.
        path: String,
        /// Generation of the request (stale answers are dropped).
        generation: u64,
    },
}

impl Command {
    /// An information message.
    pub fn info(msg: impl Into<String>) -> Command {
        Command::Status(msg.into(), Level::Info)
    }

    /// An error message.
    pub fn error(msg: impl Into<String>) -> Command {
        Command::Status(msg.into(), Level::Error)
    }

    /// A text prompt.
    pub fn prompt(kind: PromptKind, title: impl Into<String>, text: impl Into<String>) -> Command {
        Command::Prompt {
            kind,
            title: title.into(),
            text: text.into(),
        }
    }
}

/// What a pane may read of the workbench besides its own state.
#[derive(Clone, Copy)]
pub struct Ctx<'a> {
    /// The evidence.
    pub ev: &'a Arc<dyn Evidence>,
    /// Its description.
    pub info: &'a EvidenceInfo,
    /// Processes, sorted by pid.
    pub procs: &'a [Process],
    /// The process selected in the process tree.
    pub selected_pid: Option<Pid>,
    /// The findings.
    pub session: &'a Session,
    /// Hits of the last search (empty for the search pane itself, which owns them).
    pub hits: &'a [Hit],
    /// The pattern of the last search.
    pub last_pattern: &'a str,
    /// Rows of the main area (for page sizes).
    pub page_rows: usize,
    /// Terminal size (columns, rows), for panes that lay themselves out.
    pub size: (u16, u16),
    /// The focused pane.
    pub focus: Pane,
}

impl std::fmt::Debug for Ctx<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ctx")
            .field("selected_pid", &self.selected_pid)
            .field("page_rows", &self.page_rows)
            .finish()
    }
}

/// The process `pid` in `procs` (sorted by pid).
pub fn process_in(procs: &[Process], pid: Pid) -> Option<&Process> {
    let i = procs.partition_point(|p| p.pid < pid);
    procs.get(i).filter(|p| p.pid == pid)
}

impl<'a> Ctx<'a> {
    /// A process by pid.
    pub fn process(&self, pid: Pid) -> Option<&'a Process> {
        process_in(self.procs, pid)
    }

    /// The name of a process (empty when unknown).
    pub fn comm(&self, pid: Pid) -> String {
        self.process(pid)
            .map(|p| p.comm.clone())
            .unwrap_or_default()
    }
}
