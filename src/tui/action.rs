//! Everything the analyst can do, as one enum. Keys map to actions through the keymap;
//! only `App::update` changes state in response.

use crossterm::event::KeyEvent;

use crate::jobs::JobEvent;

/// The panes of the workbench, in tab order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Pane {
    /// The process tree.
    Processes,
    /// Memory maps of the selected process.
    Maps,
    /// The hex viewer.
    Hex,
    /// Regex search over memory.
    Search,
    /// The container's filesystem changes.
    Rootfs,
    /// The analyst's findings.
    Findings,
    /// Triage: what stands out, ranked by severity (a job run when the evidence opens).
    Triage,
    /// The peer diff: what each evidence opened together has that the others lack (only
    /// when several are open: `podmortem A B C`).
    Diff,
}

impl Pane {
    /// All panes in tab order.
    pub const ALL: [Pane; 8] = [
        Pane::Processes,
        Pane::Maps,
        Pane::Hex,
        Pane::Search,
        Pane::Rootfs,
        Pane::Findings,
        Pane::Triage,
        Pane::Diff,
    ];

    /// Position in the tab order.
    pub fn index(self) -> usize {
        Pane::ALL.iter().position(|p| *p == self).unwrap_or(0)
    }
}

/// One thing to do.
#[derive(Debug, Clone)]
pub enum Action {
    /// Leave the workbench.
    Quit,
    /// Focus a pane.
    Focus(Pane),
    /// Focus the next pane.
    FocusNext,
    /// Focus the previous pane.
    FocusPrev,
    /// Show or hide the help.
    ToggleHelp,
    /// Show what the evidence is: metadata, mounts, warnings.
    ShowEvidence,
    /// Close the overlay, cancel editing or the running job.
    Cancel,
    /// Move up one line.
    Up,
    /// Move down one line.
    Down,
    /// Move left (collapse, previous byte).
    Left,
    /// Move right (expand, next byte).
    Right,
    /// One page up.
    PageUp,
    /// One page down.
    PageDown,
    /// To the start.
    Home,
    /// To the end.
    End,
    /// Open what is selected.
    Enter,
    /// Bookmark what is selected as a finding.
    Bookmark,
    /// Export findings to JSON.
    Export,
    /// Filter the list (process pane) or edit the pattern (search pane).
    Filter,
    /// Cycle the sort order.
    Sort,
    /// Show the selected process's memory maps.
    OpenMaps,
    /// Go to an address (hex pane).
    Goto,
    /// Next search hit.
    NextHit,
    /// Previous search hit.
    PrevHit,
    /// Start or clear a selection (hex pane).
    Select,
    /// Copy the selection into a finding's note (hex pane).
    Yank,
    /// Toggle case-insensitive search.
    ToggleCase,
    /// Toggle UTF-16LE search.
    ToggleUtf16,
    /// Toggle search scope (all processes / selected one).
    ToggleScope,
    /// Delete the selected finding.
    Delete,
    /// Edit the selected finding's note.
    EditNote,
    /// Edit the selected finding's tags.
    EditTags,
    /// Extract the selected file.
    Extract,
    /// Group the process tree by container.
    ToggleGroup,
    /// Run again (triage).
    Rerun,
    /// A key typed into a text input.
    Input(KeyEvent),
    /// Confirm a text input.
    Submit,
    /// The terminal was resized.
    Resize(u16, u16),
    /// Nothing happened for a moment while a pane has work left in steps (the hex viewer
    /// counting a large area of identical rows): the pane goes on.
    Tick,
    /// A message from a background job.
    Job(JobEvent),
}
