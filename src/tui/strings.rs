//! All user-facing strings of the workbench: key hints, help, messages.

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
    }
}

/// Footer key hints of a pane: (key, what).
pub fn hints(p: Pane) -> &'static [(&'static str, &'static str)] {
    match p {
        Pane::Processes => &[
            ("↑↓", "move"),
            ("←→", "fold"),
            ("⏎", "details"),
            ("m", "maps"),
            ("/", "filter"),
            ("s", "sort"),
            ("c", "group"),
            ("b", "bookmark"),
            ("?", "help"),
            ("q", "quit"),
        ],
        Pane::Maps => &[
            ("↑↓", "move"),
            ("⏎", "hex"),
            ("x", "extract"),
            ("b", "bookmark"),
            ("?", "help"),
            ("q", "quit"),
        ],
        Pane::Hex => &[
            ("←↑↓→", "move"),
            ("PgUp/Dn", "page"),
            ("g", "goto"),
            ("n/N", "hits"),
            ("v", "select"),
            ("y", "yank"),
            ("b", "bookmark"),
            ("?", "help"),
        ],
        Pane::Search => &[
            ("/", "pattern"),
            ("⏎", "open hit"),
            ("i", "case"),
            ("u", "utf16"),
            ("s", "scope"),
            ("Esc", "cancel"),
            ("b", "bookmark"),
            ("?", "help"),
        ],
        Pane::Rootfs => &[
            ("↑↓", "move"),
            ("←→", "fold"),
            ("PgUp/Dn", "preview"),
            ("x", "extract"),
            ("b", "bookmark"),
            ("?", "help"),
        ],
        Pane::Findings => &[
            ("↑↓", "move"),
            ("⏎", "go to"),
            ("r", "edit note"),
            ("t", "tags"),
            ("d", "delete"),
            ("e", "export"),
            ("?", "help"),
        ],
    }
}

/// The help screen: sections of (key, description).
pub const HELP: &[(&str, &[(&str, &str)])] = &[
    (
        "Everywhere",
        &[
            ("1-6, Tab, Shift-Tab", "switch pane"),
            ("?", "this help (Esc closes)"),
            (
                "b",
                "bookmark the selection as a finding (note; #words become tags)",
            ),
            ("e", "export findings to JSON"),
            ("q, Ctrl-C", "quit (findings are always saved already)"),
            (
                "Esc",
                "close a popup, stop editing, cancel a running search",
            ),
        ],
    ),
    (
        "Processes",
        &[
            ("↑↓ PgUp PgDn Home End", "move"),
            ("← →", "collapse / expand a subtree"),
            (
                "Enter",
                "details: cmdline, environment, files, sockets, cwd/root",
            ),
            ("m", "memory maps of the process"),
            ("/", "filter by pid, name, command line"),
            ("s", "sort: tree, pid, name, threads"),
            ("c", "group by container (kernel dumps)"),
            (
                "!",
                "flag: writable+executable or anonymous executable memory",
            ),
        ],
    ),
    (
        "Maps",
        &[
            ("Enter", "open the hex viewer at the area's start"),
            (
                "x",
                "extract the area into a folder you name (as Volatility's dump, sparse)",
            ),
            ("!", "suspicious area"),
        ],
    ),
    (
        "Hex",
        &[
            ("arrows, h j k l", "move the cursor"),
            ("PgUp PgDn", "page"),
            ("Home End", "start / end of the memory area"),
            (
                "g",
                "go to an address: 0x7f.., or name+offset ([heap]+0x10, libc.so.6+0x1000)",
            ),
            ("n N", "next / previous search hit in this process"),
            ("v", "start / clear a selection"),
            (
                "y",
                "copy the selection (hex and text) into a finding's note",
            ),
            (
                "??",
                "byte not captured in the evidence (distinct from a real 00)",
            ),
        ],
    ),
    (
        "Search",
        &[
            ("/", "edit the pattern (a byte regex), Enter runs it"),
            (
                "i / u / s",
                "toggle case-insensitive / UTF-16LE text / scope",
            ),
            ("Enter", "open the selected hit in the hex viewer"),
            ("Esc", "cancel the running search"),
        ],
    ),
    (
        "Rootfs",
        &[
            ("← →", "collapse / expand a folder"),
            ("PgUp PgDn", "scroll the preview"),
            (
                "x",
                "extract the file into a folder you name (never outside it)",
            ),
        ],
    ),
    (
        "Findings",
        &[
            ("Enter", "go to the finding's object"),
            ("r / t", "edit the note / the tags"),
            ("d", "delete"),
        ],
    ),
];
