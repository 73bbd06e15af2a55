//! The panes of the workbench: each file holds a pane's state, its update and its drawing.

pub mod details;
pub mod diff;
pub mod evidence;
pub mod findings;
pub mod help;
pub mod hex;
pub mod maps;
pub mod processes;
pub mod prompt;
pub mod rootfs;
pub mod search;
pub mod triage;
