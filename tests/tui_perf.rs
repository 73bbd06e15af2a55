//! Benchmark, not a timed test: how long one keypress takes to handle and draw on the
//! criu-counter fixture (run it with
//! `cargo test --release --test integration tui_perf:: -- --ignored --nocapture`). The README reports it.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use crate::support;

use std::time::{Duration, Instant};

use crossterm::event::KeyCode;
use support::tui::Harness;

#[test]
#[ignore = "benchmark: run explicitly in release"]
fn keypress_latency() {
    let Some(_) = support::fixture("criu-counter") else {
        return;
    };
    let tar = support::decompressed("criu-counter", "checkpoint-counter.tar.zst").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let t0 = Instant::now();
    let mut h = Harness::open(&tar, dir.path(), (200, 60));
    let open = t0.elapsed();
    let mut times: Vec<(String, Duration)> = Vec::new();
    let mut press = |h: &mut Harness, k: KeyCode| {
        let t = Instant::now();
        h.key(k);
        let _ = h.render();
        times.push((format!("{k:?}"), t.elapsed()));
    };
    for k in [
        KeyCode::Down,
        KeyCode::Char('m'),
        KeyCode::Down,
        KeyCode::Down,
        KeyCode::Enter,
    ] {
        press(&mut h, k);
    }
    for _ in 0..40 {
        press(&mut h, KeyCode::PageDown);
    }
    for _ in 0..40 {
        press(&mut h, KeyCode::Down);
    }
    for k in [
        KeyCode::Char('5'),
        KeyCode::Down,
        KeyCode::Char('6'),
        KeyCode::Char('1'),
        KeyCode::Char('?'),
        KeyCode::Esc,
    ] {
        press(&mut h, k);
    }
    let max = times.iter().max_by_key(|t| t.1).unwrap();
    let mean = times.iter().map(|t| t.1).sum::<Duration>() / times.len() as u32;
    println!(
        "open {open:?}; {} keypresses at 200x60: mean {mean:?}, max {:?} ({})",
        times.len(),
        max.1,
        max.0
    );
}
