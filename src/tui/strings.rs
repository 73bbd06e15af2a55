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
    }
}
