//! podmortem: a terminal workbench for post-mortem forensics of Linux hosts and containers.
//!
//! The [`engine`] reads evidence (CRIU container checkpoints today, kernel memory dumps later)
//! and exposes it through one [`engine::Evidence`] interface; the [`cli`] is a thin client of it.
#![deny(missing_docs)]

pub mod cli;
pub mod engine;
pub mod jobs;
pub mod log;
pub mod sanitize;
pub mod tui;
pub mod units;
