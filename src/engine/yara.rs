//! YARA rules over evidence memory, with [boreal](https://docs.rs/boreal) (YARA in pure Rust).
//!
//! boreal was chosen over yara-x (which pulls wasmtime and cranelift: minutes more of build
//! on two cores) and libyara (C): it builds in seconds with its default features off (no
//! hash, object or magic modules, no OpenSSL) and it scans *fragmented* memory, a list of
//! regions at their own offsets, which is what a process's memory is.
//!
//! Semantics (README "YARA"), the same for every back end:
//! - Each memory area (VMA) of a process is scanned on its own, at its virtual addresses:
//!   its captured runs are the regions of one boreal fragmented scan, each region the bytes
//!   of a run of virtually contiguous captured pages however the evidence stores them
//!   (physically scattered pages of a dump are joined), so a string that spans two
//!   captured pages inside one area matches. Pages not captured are gaps: no string spans
//!   one, and nothing is matched in them. No string spans two areas.
//! - Offsets are virtual addresses (`@a` in a condition is one); conditions are evaluated
//!   per area, or per window of [`WINDOW`] bytes for larger areas: a window reads
//!   [`OVERLAP`] bytes past its end and reports only the matches that start in it, so a
//!   match up to [`OVERLAP`] bytes long is found once across a window edge.
//! - Physical memory (kernel dumps) is scanned per run of adjacent physical ranges, in the
//!   same windows, at physical addresses.
//! - At most [`MAX_PER_AREA`] matches of one rule are reported per area (per physical
//!   run); how many more there were is counted.
//!
//! Huge areas are never copied whole: a region is lent by the evidence when it stores it in
//! one piece, else copied into a buffer of at most `WINDOW + OVERLAP` bytes per thread.

mod memory;
mod rules;
mod scan;

pub use memory::ProcessBytes;
pub use rules::{BUNDLED, BUNDLED_NAMESPACE, RuleInfo, Rules, YaraError};
pub use scan::{AreaHits, Cap, Hit, PhysHits, physical_windows, scan_area, scan_physical_window};

/// Bytes of an area scanned together (conditions are evaluated per window).
pub const WINDOW: u64 = 32 << 20;
/// Bytes a window reads past its end: the longest match found across a window edge.
pub const OVERLAP: u64 = 1 << 20;
/// Matches of one rule reported per area (per physical run); the rest are counted.
pub const MAX_PER_AREA: usize = 10;
/// Matched bytes kept per match.
pub const MAX_DATA: usize = 64;
