//! Colours and styles of the workbench, in one place.

use ratatui::style::{Color, Modifier, Style};

/// Header bar.
pub const HEADER: Style = Style::new().fg(Color::Black).bg(Color::Cyan);
/// An unfocused tab.
pub const TAB: Style = Style::new().fg(Color::Gray);
/// The focused tab.
pub const TAB_FOCUSED: Style = Style::new()
    .fg(Color::Black)
    .bg(Color::Yellow)
    .add_modifier(Modifier::BOLD);
/// The selected row of a list.
pub const SELECTED: Style = Style::new().fg(Color::Black).bg(Color::LightBlue);
/// The selected row of an unfocused list.
pub const SELECTED_DIM: Style = Style::new().add_modifier(Modifier::REVERSED);
/// Column headers.
pub const TITLE: Style = Style::new().add_modifier(Modifier::BOLD);
/// Borders of the focused pane.
pub const BORDER_FOCUSED: Style = Style::new().fg(Color::Yellow);
/// Borders of other panes.
pub const BORDER: Style = Style::new().fg(Color::DarkGray);
/// Something that deserves a look (RWX memory, deleted files, root processes).
pub const ALERT: Style = Style::new()
    .fg(Color::LightRed)
    .add_modifier(Modifier::BOLD);
/// Secondary text.
pub const DIM: Style = Style::new().fg(Color::DarkGray);
/// Key names in the footer and help.
pub const KEY: Style = Style::new().fg(Color::Yellow).add_modifier(Modifier::BOLD);
/// Status messages.
pub const STATUS: Style = Style::new().fg(Color::White);
/// Error messages.
pub const ERROR: Style = Style::new().fg(Color::LightRed);
/// Hex: NUL bytes.
pub const BYTE_NULL: Style = Style::new().fg(Color::DarkGray);
/// Hex: printable ASCII.
pub const BYTE_PRINTABLE: Style = Style::new().fg(Color::Cyan);
/// Hex: ASCII whitespace.
pub const BYTE_SPACE: Style = Style::new().fg(Color::Green);
/// Hex: other ASCII (control characters).
pub const BYTE_OTHER: Style = Style::new().fg(Color::Magenta);
/// Hex: non-ASCII bytes.
pub const BYTE_HIGH: Style = Style::new().fg(Color::Yellow);
/// Hex: bytes that were not captured.
pub const BYTE_MISSING: Style = Style::new().fg(Color::DarkGray).add_modifier(Modifier::DIM);
/// Hex: the cursor.
pub const CURSOR: Style = Style::new()
    .fg(Color::Black)
    .bg(Color::White)
    .add_modifier(Modifier::BOLD);
/// Hex: the selection.
pub const SELECTION: Style = Style::new().bg(Color::Blue);
/// Hex: the search hit.
pub const HIGHLIGHT: Style = Style::new().fg(Color::Black).bg(Color::Yellow);
/// Progress of a running job.
pub const PROGRESS: Style = Style::new().fg(Color::Green);

/// Triage: a critical result.
pub const SEV_CRITICAL: Style = Style::new()
    .fg(Color::White)
    .bg(Color::Red)
    .add_modifier(Modifier::BOLD);
/// Triage: a high result.
pub const SEV_HIGH: Style = Style::new()
    .fg(Color::LightRed)
    .add_modifier(Modifier::BOLD);
/// Triage: a medium result.
pub const SEV_MEDIUM: Style = Style::new().fg(Color::Yellow);
/// Triage: a low result.
pub const SEV_LOW: Style = Style::new().fg(Color::Cyan);
/// Triage: context (info).
pub const SEV_INFO: Style = Style::new().fg(Color::DarkGray);

/// The style of a triage severity.
pub fn severity(s: crate::engine::triage::Severity) -> Style {
    use crate::engine::triage::Severity;
    match s {
        Severity::Critical => SEV_CRITICAL,
        Severity::High => SEV_HIGH,
        Severity::Medium => SEV_MEDIUM,
        Severity::Low => SEV_LOW,
        Severity::Info => SEV_INFO,
    }
}

/// The style of a list row: selected rows stand out, more so in the focused pane.
pub fn row(selected: bool, focused: bool) -> Style {
    match (selected, focused) {
        (true, true) => SELECTED,
        (true, false) => SELECTED_DIM,
        _ => Style::new(),
    }
}
