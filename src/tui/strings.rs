//! User-facing names of the workbench (the keys' texts are in the keymap's table).

use crate::tui::action::Pane;

/// Tab titles.
pub fn pane_title(p: Pane) -> &'static str {
    match p {
        Pane::Processes => "Processes",
        Pane::Maps => "Maps",
        Pane::Hex => "Hex",
        Pane::Search => "Search",
        Pane::Rootfs => "Rootfs",
        Pane::Findings => "Findings",
        Pane::Triage => "Triage",
        Pane::Diff => "Diff",
    }
}

/// Status-line messages of the workbench.
pub mod msg {
    use std::fmt::Display;

    /// A prompt for a path was left empty.
    pub const NO_PATH: &str = "no path given";
    /// A prompt for a folder was left empty.
    pub const NO_FOLDER: &str = "no folder given";
    /// The process filter was cleared.
    pub const FILTER_CLEARED: &str = "filter cleared";
    /// Search started without a pattern.
    pub const NO_PATTERN: &str = "type a pattern first";
    /// The pattern does not compile (the reason is shown in the pane).
    pub const BAD_PATTERN: &str = "invalid pattern (see the Search pane)";
    /// The running search was cancelled.
    pub const SEARCH_CANCELLED: &str = "search cancelled";
    /// Extraction asked for on something that is not a file.
    pub const SELECT_A_FILE: &str = "select a file to extract";
    /// A physical hit in a page no process maps has no virtual address to show.
    pub const NO_OWNER: &str = "no process maps this page (kernel or free memory)";
    /// The tree was ungrouped.
    pub const UNGROUPED: &str = "ungrouped";

    /// A hit in bytes saved beyond memory was opened (its holder's details follow).
    pub fn saved_hit(offset: u64, place: &str) -> String {
        format!("match at +{offset:#x} of {place} (saved bytes, not memory)")
    }

    /// The note proposed for a bookmarked hit in saved bytes.
    pub fn saved_hit_note(pattern: &str, offset: u64, place: &str) -> String {
        format!("/{pattern}/ matched at +{offset:#x} of {place}")
    }

    /// Something the workbench needed could not be read.
    pub fn unreadable(what: &str, e: impl Display) -> String {
        format!("{what} unreadable: {e}")
    }

    /// A walk met damage: the list may be incomplete.
    pub fn incomplete(what: &str, problems: &[String]) -> String {
        let first = problems.first().map(String::as_str).unwrap_or("");
        let more = match problems.len() {
            0 | 1 => String::new(),
            n => format!(" (+{} more)", n - 1),
        };
        format!("{what} may be incomplete: {first}{more}")
    }

    /// Findings could not be saved (the reason first: a long path must not push it off an
    /// 80-column status line).
    pub fn not_saved(reason: impl Display, path: Option<&std::path::Path>) -> String {
        match path {
            Some(p) => format!(
                "could not save findings: {reason} ({}); they are kept in memory",
                p.display()
            ),
            None => format!("could not save findings: {reason}"),
        }
    }

    /// A finding was added.
    pub fn finding_saved(id: u64, total: usize) -> String {
        format!("finding #{id} saved ({total} in total)")
    }

    /// A finding was deleted.
    pub fn finding_deleted(id: u64) -> String {
        format!("finding #{id} deleted")
    }

    /// Findings were exported.
    pub fn exported(count: usize, path: &std::path::Path, hash_pending: bool) -> String {
        format!(
            "{count} finding(s) exported to {}{}",
            path.display(),
            if hash_pending {
                " (evidence sha256 still being computed)"
            } else {
                ""
            }
        )
    }

    /// An operation failed.
    pub fn failed(what: &str, e: impl Display) -> String {
        format!("{what} failed: {e}")
    }

    /// Extraction was refused (it would write into the evidence or escape the folder).
    pub fn refused(e: impl Display) -> String {
        format!("extraction refused: {e}")
    }

    /// The tree was grouped by container.
    pub fn grouped(groups: usize) -> String {
        format!("grouped by container: {groups} group(s)")
    }

    /// The sort order changed.
    pub fn sorted(order: impl std::fmt::Debug) -> String {
        format!("sorted by {order:?}").to_lowercase()
    }

    /// The Diff pane asked for with one evidence open.
    pub const NO_PEERS: &str = "open several evidences to compare them: podmortem A B C";
    /// Enter on a difference of another evidence than the workbench's.
    pub fn other_peer(peer: &str) -> String {
        format!("this difference is in {peer}: open it first in the workbench to go to it")
    }
    /// Enter on a difference with nothing in the workbench to show.
    pub const NOTHING_TO_SHOW: &str =
        "nothing to go to: the evidence lacks it (see the peers that have it)";
    /// Enter on a mount.
    pub const MOUNTS_IN_EVIDENCE: &str = "mounts are listed in the evidence popup (I)";

    /// The peer diff ended.
    pub fn diff_done(differences: usize, peers: usize) -> String {
        format!("diff done: {differences} difference(s) across {peers} evidences")
    }

    /// Triage was cancelled (its partial results are kept).
    pub const TRIAGE_CANCELLED: &str = "triage cancelled: the results so far are listed";
    /// Enter or `b` on a triage result that names no object of the workbench.
    pub const TRIAGE_NO_OBJECT: &str = "this result names nothing to go to";

    /// Enter on a kernel object (the details are in the Triage pane); `lister`: the evidence
    /// whose `podmortem modules` lists it, for a module on the module list.
    pub fn kernel_object(what: &str, lister: Option<&str>) -> String {
        match lister {
            Some(ev) => format!("{what}: no kernel view here; `podmortem modules {ev}` lists it"),
            None => format!("{what}: no view of kernel memory here (details below)"),
        }
    }

    /// Enter on a match in physical memory (the details are in the Triage pane).
    pub fn physical(address: u64) -> String {
        format!(
            "physical {address:#x}: no view here; podmortem read DUMP --physical --addr \
             {address:#x}; b bookmarks its bytes"
        )
    }

    /// A triage run ended.
    pub fn triage_done(results: usize, summary: &str) -> String {
        match results {
            0 => "triage done: nothing stands out".to_string(),
            n => format!("triage done: {n} result(s): {summary} (7 Triage)"),
        }
    }

    /// The note proposed when a triage result is bookmarked.
    pub fn triage_note(rule: &str, reason: &str) -> String {
        format!("{rule}: {reason}")
    }

    /// A search ended.
    pub fn search_done(hits: usize) -> String {
        format!("search done: {hits} hit(s)")
    }
}
