//! Keys to actions, as data: the one table of bindings. The keymap, the footer hints, the
//! help overlay and the README's key table are all made from [`BINDINGS`].

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

use crate::tui::action::{Action, Pane};
use crate::tui::app::{App, Overlay};

/// Where a binding applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Moving and closing: in every pane and in popups.
    Nav,
    /// In every pane (not in popups).
    Global,
    /// In one pane; a pane's binding wins over a global one for the same key.
    Pane(Pane),
}

/// One line of the key table: keys, what they do, where.
#[derive(Debug, Clone)]
pub struct Binding {
    /// Where it applies.
    pub scope: Scope,
    /// The keys as written in the help (e.g. `"n N"`).
    pub label: &'static str,
    /// What they do, for the help.
    pub help: &'static str,
    /// The footer hint (key, one word), if shown there.
    pub hint: Option<(&'static str, &'static str)>,
    /// The keys and their actions; empty for a line that documents keys bound elsewhere
    /// (what the arrows do in a pane) or a mark on screen (`!`, `??`).
    pub keys: &'static [(KeyCode, Action)],
}

const fn b(
    scope: Scope,
    label: &'static str,
    help: &'static str,
    hint: Option<(&'static str, &'static str)>,
    keys: &'static [(KeyCode, Action)],
) -> Binding {
    Binding {
        scope,
        label,
        help,
        hint,
        keys,
    }
}

use KeyCode::{BackTab, Char, Down, End, Enter, Esc, Home, Left, PageDown, PageUp, Right, Tab, Up};
use Pane::{Diff, Findings, Hex, Maps, Processes, Rootfs, Search, Triage};
use Scope::{Global, Nav};

/// Every key of the workbench, in the order of the help.
pub const BINDINGS: &[Binding] = &[
    b(
        Nav,
        "arrows, h j k l",
        "move",
        None,
        &[
            (Up, Action::Up),
            (Char('k'), Action::Up),
            (Down, Action::Down),
            (Char('j'), Action::Down),
            (Left, Action::Left),
            (Char('h'), Action::Left),
            (Right, Action::Right),
            (Char('l'), Action::Right),
        ],
    ),
    b(
        Nav,
        "PgUp PgDn Space Home End",
        "page, start, end",
        None,
        &[
            (PageUp, Action::PageUp),
            (PageDown, Action::PageDown),
            (Char(' '), Action::PageDown),
            (Home, Action::Home),
            (End, Action::End),
        ],
    ),
    b(
        Nav,
        "Enter",
        "open what is selected",
        None,
        &[(Enter, Action::Enter)],
    ),
    b(
        Nav,
        "Esc",
        "close a popup, stop editing, cancel a running search or triage",
        None,
        &[(Esc, Action::Cancel)],
    ),
    b(
        Nav,
        "?",
        "this help (Esc closes)",
        Some(("?", "help")),
        &[(Char('?'), Action::ToggleHelp)],
    ),
    b(
        Nav,
        "q, Ctrl-C",
        "quit (findings are always saved already)",
        Some(("q", "quit")),
        &[(Char('q'), Action::Quit)],
    ),
    b(
        Global,
        "1-8, Tab, Shift-Tab",
        "switch pane (8 Diff: podmortem A B C)",
        None,
        &[
            (Char('1'), Action::Focus(Processes)),
            (Char('2'), Action::Focus(Maps)),
            (Char('3'), Action::Focus(Hex)),
            (Char('4'), Action::Focus(Search)),
            (Char('5'), Action::Focus(Rootfs)),
            (Char('6'), Action::Focus(Findings)),
            (Char('7'), Action::Focus(Triage)),
            (Char('8'), Action::Focus(Diff)),
            (Tab, Action::FocusNext),
            (BackTab, Action::FocusPrev),
        ],
    ),
    b(
        Global,
        "I",
        "the evidence: format, container, metadata, mounts, warnings",
        None,
        &[(Char('I'), Action::ShowEvidence)],
    ),
    b(
        Global,
        "b",
        "bookmark the selection as a finding (note; #words become tags)",
        None,
        &[(Char('b'), Action::Bookmark)],
    ),
    b(
        Global,
        "e",
        "export findings to JSON",
        None,
        &[(Char('e'), Action::Export)],
    ),
    // Processes
    b(
        Scope::Pane(Processes),
        "↑↓ PgUp PgDn Home End",
        "move",
        Some(("↑↓", "move")),
        &[],
    ),
    b(
        Scope::Pane(Processes),
        "← →",
        "collapse / expand a subtree",
        Some(("←→", "fold")),
        &[],
    ),
    b(
        Scope::Pane(Processes),
        "Enter",
        "details: cmdline, environment, files, sockets, cwd/root",
        Some(("⏎", "details")),
        &[],
    ),
    b(
        Scope::Pane(Processes),
        "m",
        "memory maps of the process",
        Some(("m", "maps")),
        &[(Char('m'), Action::OpenMaps)],
    ),
    b(
        Scope::Pane(Processes),
        "/",
        "filter by pid, name, command line",
        Some(("/", "filter")),
        &[(Char('/'), Action::Filter)],
    ),
    b(
        Scope::Pane(Processes),
        "s",
        "sort: tree, pid, name, threads",
        Some(("s", "sort")),
        &[(Char('s'), Action::Sort)],
    ),
    b(
        Scope::Pane(Processes),
        "c",
        "group by container (kernel dumps)",
        Some(("c", "group")),
        &[(Char('c'), Action::ToggleGroup)],
    ),
    b(
        Scope::Pane(Processes),
        "b",
        "bookmark the process",
        Some(("b", "bookmark")),
        &[],
    ),
    b(
        Scope::Pane(Processes),
        "!",
        "flag: writable+executable or anonymous executable memory",
        None,
        &[],
    ),
    // Maps
    b(Scope::Pane(Maps), "↑↓", "move", Some(("↑↓", "move")), &[]),
    b(
        Scope::Pane(Maps),
        "Enter",
        "open the hex viewer at the area's start",
        Some(("⏎", "hex")),
        &[],
    ),
    b(
        Scope::Pane(Maps),
        "x",
        "extract the area into a folder you name (as Volatility's dump, sparse)",
        Some(("x", "extract")),
        &[(Char('x'), Action::Extract)],
    ),
    b(
        Scope::Pane(Maps),
        "b",
        "bookmark the area",
        Some(("b", "bookmark")),
        &[],
    ),
    b(Scope::Pane(Maps), "!", "suspicious area", None, &[]),
    // Hex
    b(
        Scope::Pane(Hex),
        "arrows, h j k l",
        "move the cursor",
        Some(("←↑↓→", "move")),
        &[],
    ),
    b(
        Scope::Pane(Hex),
        "PgUp PgDn",
        "page",
        Some(("PgUp/Dn", "page")),
        &[],
    ),
    b(
        Scope::Pane(Hex),
        "Home End",
        "start / end of the memory area",
        None,
        &[],
    ),
    b(
        Scope::Pane(Hex),
        "g",
        "go to an address: 0x7f.., or name+offset ([heap]+0x10, libc.so.6+0x1000)",
        Some(("g", "goto")),
        &[(Char('g'), Action::Goto)],
    ),
    b(
        Scope::Pane(Hex),
        "n N",
        "next / previous search hit in this process",
        Some(("n/N", "hits")),
        &[(Char('n'), Action::NextHit), (Char('N'), Action::PrevHit)],
    ),
    b(
        Scope::Pane(Hex),
        "v",
        "start / clear a selection",
        Some(("v", "select")),
        &[(Char('v'), Action::Select)],
    ),
    b(
        Scope::Pane(Hex),
        "y",
        "copy the selection (hex and text) into a finding's note",
        Some(("y", "yank")),
        &[(Char('y'), Action::Yank)],
    ),
    b(
        Scope::Pane(Hex),
        "b",
        "bookmark the selection, the hit or the byte under the cursor",
        Some(("b", "bookmark")),
        &[],
    ),
    b(
        Scope::Pane(Hex),
        "??",
        "byte not captured in the evidence (distinct from a real 00)",
        None,
        &[],
    ),
    // Search
    b(
        Scope::Pane(Search),
        "/",
        "edit the pattern (a byte regex), Enter runs it",
        Some(("/", "pattern")),
        &[(Char('/'), Action::Filter)],
    ),
    b(
        Scope::Pane(Search),
        "Enter",
        "open the selected hit in the hex viewer",
        Some(("⏎", "open hit")),
        &[],
    ),
    b(
        Scope::Pane(Search),
        "i",
        "toggle case-insensitive",
        Some(("i", "case")),
        &[(Char('i'), Action::ToggleCase)],
    ),
    b(
        Scope::Pane(Search),
        "u",
        "toggle UTF-16LE text (the pattern taken literally)",
        Some(("u", "utf16")),
        &[(Char('u'), Action::ToggleUtf16)],
    ),
    b(
        Scope::Pane(Search),
        "s",
        "scope: all processes / the selected one / physical memory (dumps)",
        Some(("s", "scope")),
        &[(Char('s'), Action::ToggleScope)],
    ),
    b(
        Scope::Pane(Search),
        "Esc",
        "cancel the running search",
        Some(("Esc", "cancel")),
        &[],
    ),
    b(
        Scope::Pane(Search),
        "b",
        "bookmark the hit",
        Some(("b", "bookmark")),
        &[],
    ),
    // Rootfs
    b(Scope::Pane(Rootfs), "↑↓", "move", Some(("↑↓", "move")), &[]),
    b(
        Scope::Pane(Rootfs),
        "← →",
        "collapse / expand a folder",
        Some(("←→", "fold")),
        &[],
    ),
    b(
        Scope::Pane(Rootfs),
        "PgUp PgDn",
        "scroll the preview",
        Some(("PgUp/Dn", "preview")),
        &[],
    ),
    b(
        Scope::Pane(Rootfs),
        "x",
        "extract the file into a folder you name (never outside it)",
        Some(("x", "extract")),
        &[(Char('x'), Action::Extract)],
    ),
    b(
        Scope::Pane(Rootfs),
        "b",
        "bookmark the file",
        Some(("b", "bookmark")),
        &[],
    ),
    // Findings
    b(
        Scope::Pane(Findings),
        "↑↓",
        "move",
        Some(("↑↓", "move")),
        &[],
    ),
    b(
        Scope::Pane(Findings),
        "Enter",
        "go to the finding's object",
        Some(("⏎", "go to")),
        &[],
    ),
    b(
        Scope::Pane(Findings),
        "r",
        "edit the note",
        Some(("r", "edit note")),
        &[(Char('r'), Action::EditNote)],
    ),
    b(
        Scope::Pane(Findings),
        "t",
        "edit the tags",
        Some(("t", "tags")),
        &[(Char('t'), Action::EditTags)],
    ),
    b(
        Scope::Pane(Findings),
        "d",
        "delete",
        Some(("d", "delete")),
        &[(Char('d'), Action::Delete)],
    ),
    b(
        Scope::Pane(Findings),
        "e",
        "export all findings to JSON",
        Some(("e", "export")),
        &[],
    ),
    // Triage
    b(
        Scope::Pane(Triage),
        "↑↓ PgUp PgDn Home End",
        "move through the results, ranked by severity (secrets masked)",
        Some(("↑↓", "move")),
        &[],
    ),
    b(
        Scope::Pane(Triage),
        "Enter",
        "go to the object: the process, its memory area, the address in the hex viewer, the \
         rootfs file, a socket's or a variable's process details",
        Some(("⏎", "go to")),
        &[],
    ),
    b(
        Scope::Pane(Triage),
        "b",
        "bookmark the result as a finding (note: rule: reason)",
        Some(("b", "bookmark")),
        &[],
    ),
    b(
        Scope::Pane(Triage),
        "r",
        "run triage again",
        Some(("r", "re-run")),
        &[(Char('r'), Action::Rerun)],
    ),
    b(
        Scope::Pane(Triage),
        "Esc",
        "cancel the running triage (the results so far are kept)",
        Some(("Esc", "cancel")),
        &[],
    ),
    // Diff
    b(
        Scope::Pane(Diff),
        "↑↓ PgUp PgDn Home End",
        "move through each evidence's differences (rarest first; + has, - lacks, ! flagged)",
        Some(("↑↓", "move")),
        &[],
    ),
    b(
        Scope::Pane(Diff),
        "Enter",
        "go to the object (differences of the evidence open in the workbench, the first)",
        Some(("⏎", "go to")),
        &[],
    ),
];

fn lookup(scope: Scope, code: KeyCode) -> Option<Action> {
    BINDINGS
        .iter()
        .filter(|b| b.scope == scope)
        .flat_map(|b| b.keys.iter())
        .find(|(k, _)| *k == code)
        .map(|(_, a)| a.clone())
}

/// The action for a key in a mode: a popup open, or the focused pane.
pub fn action_in(overlay: bool, focus: Pane, code: KeyCode) -> Option<Action> {
    let nav = lookup(Scope::Nav, code);
    if overlay || nav.is_some() {
        return nav;
    }
    lookup(Scope::Pane(focus), code).or_else(|| lookup(Scope::Global, code))
}

/// The action for a key in the app's current mode, if any.
pub fn action_for(app: &App, key: KeyEvent) -> Option<Action> {
    if key.kind == KeyEventKind::Release {
        return None;
    }
    let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
    if ctrl && matches!(key.code, KeyCode::Char('c')) {
        return Some(Action::Quit);
    }
    let text_mode = matches!(app.overlay, Some(Overlay::Prompt(_)))
        || (app.overlay.is_none() && app.focus == Pane::Search && app.search.editing);
    if text_mode {
        return Some(match key.code {
            KeyCode::Esc => Action::Cancel,
            KeyCode::Enter => Action::Submit,
            _ => Action::Input(key),
        });
    }
    action_in(app.overlay.is_some(), app.focus, key.code)
}

/// The footer hints of a pane: its own, then the ones shown everywhere.
pub fn hints(pane: Pane) -> Vec<(&'static str, &'static str)> {
    let own = BINDINGS.iter().filter(|b| b.scope == Scope::Pane(pane));
    let everywhere = BINDINGS.iter().filter(|b| b.scope == Scope::Nav);
    own.chain(everywhere).filter_map(|b| b.hint).collect()
}

/// The help: sections of (title, bindings), "Everywhere" first.
pub fn help_sections() -> Vec<(&'static str, Vec<&'static Binding>)> {
    let mut out = vec![(
        "Everywhere",
        BINDINGS
            .iter()
            .filter(|b| matches!(b.scope, Scope::Nav | Scope::Global))
            .collect(),
    )];
    for pane in Pane::ALL {
        out.push((
            crate::tui::strings::pane_title(pane),
            BINDINGS
                .iter()
                .filter(|b| b.scope == Scope::Pane(pane))
                .collect(),
        ));
    }
    out
}

/// The key table of the README, as Markdown (kept equal to the README by a test).
pub fn markdown() -> String {
    let mut out = String::from("| where | keys | what |\n|---|---|---|\n");
    for (section, bindings) in help_sections() {
        for b in bindings {
            let keys = b.label.replace('|', "\\|");
            out.push_str(&format!("| {section} | `{keys}` | {} |\n", b.help));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pane_binding_wins_over_a_global_one() {
        assert!(matches!(
            action_in(false, Pane::Search, Char('s')),
            Some(Action::ToggleScope)
        ));
        assert!(matches!(
            action_in(false, Pane::Processes, Char('s')),
            Some(Action::Sort)
        ));
        assert!(action_in(false, Pane::Maps, Char('s')).is_none());
    }

    #[test]
    fn popups_take_only_navigation() {
        assert!(matches!(
            action_in(true, Pane::Hex, Down),
            Some(Action::Down)
        ));
        assert!(action_in(true, Pane::Hex, Char('g')).is_none());
        assert!(matches!(
            action_in(false, Pane::Hex, Char('g')),
            Some(Action::Goto)
        ));
    }

    #[test]
    fn no_key_is_bound_twice_in_one_scope() {
        for scope in [Scope::Nav, Scope::Global]
            .into_iter()
            .chain(Pane::ALL.map(Scope::Pane))
        {
            let mut seen = Vec::new();
            for b in BINDINGS.iter().filter(|b| b.scope == scope) {
                for (k, _) in b.keys {
                    assert!(!seen.contains(k), "{k:?} twice in {scope:?}");
                    seen.push(*k);
                }
            }
            // A pane key never hides a navigation key.
            if let Scope::Pane(_) = scope {
                for k in &seen {
                    assert!(lookup(Scope::Nav, *k).is_none(), "{k:?} hides navigation");
                }
            }
        }
    }

    #[test]
    fn every_pane_has_footer_hints_and_help() {
        for pane in Pane::ALL {
            assert!(hints(pane).len() >= 3, "{pane:?}");
        }
        assert_eq!(help_sections().len(), Pane::ALL.len() + 1);
    }

    #[test]
    fn the_readme_key_table_is_the_keymap() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/README.md");
        let readme = std::fs::read_to_string(path).unwrap_or_default();
        let start = "<!-- keys:start (made from src/tui/keymap.rs; a test checks it) -->\n";
        let end = "<!-- keys:end -->";
        let split = readme
            .split_once(start)
            .and_then(|(head, rest)| rest.split_once(end).map(|(t, tail)| (head, t, tail)));
        let Some((head, table, tail)) = split else {
            panic!("README.md has no key table markers");
        };
        if table != markdown() && std::env::var_os("PODMORTEM_WRITE_KEYS").is_some() {
            let text = format!("{head}{start}{}{end}{tail}", markdown());
            std::fs::write(path, text).unwrap_or_else(|e| panic!("{path}: {e}"));
            return;
        }
        assert_eq!(
            table,
            markdown(),
            "README.md's key table differs from the keymap: run \
             `PODMORTEM_WRITE_KEYS=1 cargo test --lib keymap` to rewrite it"
        );
    }
}
