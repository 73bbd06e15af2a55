//! The analysis engine: evidence formats, their models and the searches over them.
//!
//! Synchronous and terminal-agnostic: nothing here draws, prints or spawns threads. Every
//! back end implements [`Evidence`]; clients (CLI, TUI) only ever talk to that trait.
#![deny(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

pub mod bytes;
pub mod cache;
pub mod capability;
pub mod checkpoint;
pub mod diff;
pub mod error;
pub mod evidence;
pub mod extract;
pub mod file_details;
pub mod findings;
pub mod identity;
pub mod kernel;
pub mod mapped;
pub mod net;
pub mod open;
pub mod page_source;
pub mod par;
pub mod saved;
pub mod search;
pub mod time;
pub mod triage;
pub mod walk;
pub mod yara;

pub use error::{Error, Result};
pub use evidence::Evidence;
pub use open::open_evidence;
