//! Keypress benchmarks of the workbench: how long one keypress takes to handle and draw.
//!
//! - `keypress_latency` (criu-counter, ignored): a tour of every pane; run it with
//!   `cargo test --release --test integration tui_perf:: -- --ignored --nocapture`.
//! - Node-sized work (2,000 processes, 100,000 hits): `tui_node`.
//! - The hex viewer at 200x60, opened from the maps pane and toured with its keys (arrows,
//!   PgUp/PgDn, Home/End, `g` goto, `v` select, `n`/`N`, a resize): on the node dump's
//!   largest area of one repeated value (63 MiB not captured), on the LiME dump's longest run
//!   of zero pages and its largest area of one value (both found from the evidence), and on a
//!   synthetic checkpoint with 64 MiB captured of one byte (the worst case for folds: every
//!   page must be read). Every keypress (update and frame) must take under 16 ms of the
//!   thread's CPU time in a release build, under 64 ms in a debug build (the CI's).
//!   `cargo test --release --test integration tui_perf:: -- --nocapture` prints the numbers (README).
//! - That the hex viewer reads only in update, a bounded number of pages: `tui_hex_reads`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use crate::support;

use std::time::{Duration, Instant};

use crossterm::event::KeyCode;
use podmortem::engine::evidence::{Evidence, Pid, Vma};
use podmortem::tui::action::{Action, Pane};
use support::tui::Harness;

/// The acceptance bound for one keypress and its frame (release build).
pub(crate) const BOUND_RELEASE: Duration = Duration::from_millis(16);
/// The bound in a debug build (unoptimised code, the CI configuration).
pub(crate) const BOUND_DEBUG: Duration = Duration::from_millis(64);
/// Size of the terminal in the hex benchmarks.
pub(crate) const SIZE: (u16, u16) = (200, 60);

#[test]
#[ignore = "benchmark: run explicitly in release"]
fn keypress_latency() {
    let Some(_) = support::fixture("criu-counter") else {
        return;
    };
    let tar = support::decompressed("criu-counter", "checkpoint-counter.tar.zst").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let t0 = Instant::now();
    let mut h = Harness::open(&tar, dir.path(), SIZE);
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

/// CPU time of the calling thread so far, from `/proc/thread-self/schedstat` (its first
/// field, in ns; the kernel brings it up to date at each scheduler tick, so a reading can lag
/// by one tick); `None` where the file is absent.
pub(crate) fn thread_cpu() -> Option<Duration> {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let ns = s.split_whitespace().next()?.parse().ok()?;
    Some(Duration::from_nanos(ns))
}

/// One measured keypress: its name, wall time and thread CPU time.
pub(crate) struct Sample {
    pub(crate) key: String,
    pub(crate) wall: Duration,
    pub(crate) cpu: Option<Duration>,
}

impl Sample {
    /// The time held against the bound: the CPU time where known (a loaded machine does not
    /// count), but never more than the wall time (the CPU clock's tick granularity).
    fn cost(&self) -> Duration {
        self.cpu.map_or(self.wall, |c| c.min(self.wall))
    }
}

/// Presses keys and times each one with its frame.
pub(crate) struct Bench {
    pub(crate) h: Harness,
    pub(crate) samples: Vec<Sample>,
}

impl Bench {
    pub(crate) fn timed(&mut self, key: &str, f: impl FnOnce(&mut Harness)) {
        let (c0, t0) = (thread_cpu(), Instant::now());
        f(&mut self.h);
        let frame = self.h.render();
        let (c1, wall) = (thread_cpu(), t0.elapsed());
        drop(frame); // after the clocks are read: a terminal keeps its buffers

        self.samples.push(Sample {
            key: key.to_string(),
            wall,
            cpu: c0.zip(c1).map(|(a, b)| b.saturating_sub(a)),
        });
    }

    pub(crate) fn press(&mut self, k: KeyCode) {
        self.timed(&format!("{k:?}"), |h| h.key(k));
    }

    pub(crate) fn press_n(&mut self, k: KeyCode, n: usize) {
        for _ in 0..n {
            self.press(k);
        }
    }

    pub(crate) fn resize(&mut self, w: u16, hgt: u16) {
        self.timed(&format!("Resize({w}x{hgt})"), |h| {
            h.app.update(Action::Resize(w, hgt))
        });
    }
}

/// Selects `pid` in the process pane and the memory area starting at `start` in the maps
/// pane (keys not timed).
fn select_area(h: &mut Harness, pid: Pid, start: u64) {
    h.key(KeyCode::Char('1'));
    h.key(KeyCode::Home);
    for _ in 0..=h.app.procs.len() * 2 {
        if h.app.selected_process().map(|p| p.pid) == Some(pid) {
            break;
        }
        h.key(KeyCode::Down);
    }
    assert_eq!(h.app.selected_process().map(|p| p.pid), Some(pid));
    h.key(KeyCode::Char('2'));
    h.key(KeyCode::Home);
    for _ in 0..h.app.maps.vmas.len() {
        if h.app
            .maps
            .vmas
            .get(h.app.maps.cursor.selected)
            .map(|v| v.start)
            == Some(start)
        {
            break;
        }
        h.key(KeyCode::Down);
    }
    assert_eq!(
        h.app
            .maps
            .vmas
            .get(h.app.maps.cursor.selected)
            .map(|v| v.start),
        Some(start)
    );
}

/// Opens the area from the maps pane and tours it with the hex viewer's keys, `target` being
/// an address to go to with `g`; prints the numbers and checks the bound.
fn tour(name: &str, h: Harness, pid: Pid, vma: &Vma, target: u64) -> Harness {
    let mut b = Bench {
        h,
        samples: Vec::new(),
    };
    select_area(&mut b.h, pid, vma.start);
    b.press(KeyCode::Enter);
    assert_eq!(b.h.app.focus, Pane::Hex);
    b.press_n(KeyCode::Down, 10);
    b.press_n(KeyCode::Up, 3);
    b.press_n(KeyCode::Right, 2);
    b.press(KeyCode::Left);
    b.press_n(KeyCode::PageDown, 20);
    b.press_n(KeyCode::PageUp, 5);
    b.press(KeyCode::End);
    b.press_n(KeyCode::PageUp, 3);
    b.press(KeyCode::Home);
    b.press(KeyCode::End);
    b.press(KeyCode::Home);
    b.press(KeyCode::Char('g'));
    for c in format!("{target:#x}").chars() {
        b.press(KeyCode::Char(c));
    }
    b.press(KeyCode::Enter);
    assert_eq!(b.h.app.hex.cursor, target);
    b.press_n(KeyCode::Down, 5);
    b.press_n(KeyCode::PageDown, 5);
    b.press(KeyCode::Char('v'));
    b.press_n(KeyCode::Down, 3);
    b.press(KeyCode::PageDown);
    b.press(KeyCode::Esc);
    b.press(KeyCode::Char('n'));
    b.press(KeyCode::Char('N'));
    b.resize(160, 50);
    b.resize(SIZE.0, SIZE.1);
    b.press_n(KeyCode::PageUp, 5);
    report(name, &b.samples);
    b.h
}

pub(crate) fn report(name: &str, samples: &[Sample]) {
    let bound = if cfg!(debug_assertions) {
        BOUND_DEBUG
    } else {
        BOUND_RELEASE
    };
    let worst = samples.iter().max_by_key(|s| s.cost()).unwrap();
    let mean = samples.iter().map(Sample::cost).sum::<Duration>() / samples.len() as u32;
    let wall_max = samples.iter().map(|s| s.wall).max().unwrap();
    let wall_mean = samples.iter().map(|s| s.wall).sum::<Duration>() / samples.len() as u32;
    let mut keys: Vec<&str> = samples.iter().map(|s| s.key.as_str()).collect();
    keys.sort_unstable();
    keys.dedup();
    println!(
        "{name}: {} keypresses at {}x{}: CPU mean {mean:?}, max {:?} ({}); wall mean \
         {wall_mean:?}, max {wall_max:?}",
        samples.len(),
        SIZE.0,
        SIZE.1,
        worst.cost(),
        worst.key
    );
    for k in keys {
        let of: Vec<&Sample> = samples.iter().filter(|s| s.key == k).collect();
        let max = of.iter().map(|s| s.cost()).max().unwrap();
        let mean = of.iter().map(|s| s.cost()).sum::<Duration>() / of.len() as u32;
        println!("  {k:<16} x{:<3} mean {mean:>12?} max {max:>12?}", of.len());
    }
    assert!(
        worst.cost() < bound,
        "{name}: keypress {} took {:?} (wall {:?}), bound {bound:?}",
        worst.key,
        worst.cost(),
        worst.wall
    );
}

/// The largest memory area (of at least 1 MiB) of which at least 99% of the pages read as
/// one repeated value, "not captured" counting as a value: (pid, area).
fn largest_uniform_area(ev: &dyn Evidence) -> Option<(Pid, Vma)> {
    let mut areas: Vec<(Pid, Vma)> = Vec::new();
    for p in ev.processes().unwrap() {
        for v in ev.maps(p.pid).unwrap_or_default() {
            if v.size() >= 1 << 20 {
                areas.push((p.pid, v));
            }
        }
    }
    areas.sort_by_key(|(pid, v)| (std::cmp::Reverse(v.size()), *pid, v.start));
    let mut page = vec![0u8; 4096];
    areas.into_iter().find(|(pid, v)| {
        let pages = v.size() / 4096;
        let allowed = pages / 100;
        let captured = ev.captured_ranges(*pid, v.start..v.end).unwrap();
        let captured_pages: u64 = captured
            .iter()
            .map(|r| (r.end - r.start).div_ceil(4096))
            .sum();
        if captured_pages <= allowed {
            return true;
        }
        if pages - captured_pages > allowed {
            return false;
        }
        let (mut value, mut others) = (None, pages - captured_pages);
        for a in (v.start..v.end).step_by(4096) {
            let got = ev.read_memory(*pid, a, &mut page).unwrap();
            let first = *value.get_or_insert(page[0]);
            if got.captured_len() != page.len() || page.iter().any(|&b| b != first) {
                others += 1;
                if others > allowed {
                    return false;
                }
            }
        }
        true
    })
}

/// The longest run of captured all-zero pages in an area of at least 1 MiB:
/// (pid, area, first address of the run, pages).
fn longest_zero_run(ev: &dyn Evidence) -> Option<(Pid, Vma, u64, u64)> {
    let mut best: Option<(Pid, Vma, u64, u64)> = None;
    let mut page = vec![0u8; 4096];
    for p in ev.processes().unwrap() {
        for v in ev.maps(p.pid).unwrap_or_default() {
            if v.size() < 1 << 20 {
                continue;
            }
            for r in ev.captured_ranges(p.pid, v.start..v.end).unwrap() {
                let mut run: Option<(u64, u64)> = None;
                for a in (r.start..r.end).step_by(4096) {
                    let got = ev.read_memory(p.pid, a, &mut page).unwrap();
                    if got.captured_len() == page.len() && page.iter().all(|&b| b == 0) {
                        let (start, n) = run.map_or((a, 1), |(s, n)| (s, n + 1));
                        run = Some((start, n));
                        if best.as_ref().is_none_or(|b| n > b.3) {
                            best = Some((p.pid, v.clone(), start, n));
                        }
                    } else {
                        run = None;
                    }
                }
            }
        }
    }
    best
}

#[test]
fn hex_node_uniform_area() {
    let Some(dir) = support::fixture("linux-6.1-node") else {
        return;
    };
    let dump = support::decompressed("linux-6.1-node", "dump.elf.zst").unwrap();
    let data = tempfile::tempdir().unwrap();
    let h = Harness::open_with(&dump, Some(dir.join("symbols")), data.path(), SIZE);
    let (pid, vma) = largest_uniform_area(&*h.app.ev).expect("no uniform area in the node dump");
    println!(
        "node dump: pid {pid}, {:#x}-{:#x} ({} MiB)",
        vma.start,
        vma.end,
        vma.size() >> 20
    );
    assert!(vma.size() >= 32 << 20, "the largest uniform area is small");
    tour("node uniform area", h, pid, &vma, middle(&vma));
}

#[test]
fn hex_lime_zero_area() {
    let Some(dir) = support::fixture("linux-6.1") else {
        return;
    };
    let dump = support::decompressed("linux-6.1", "dump.lime.zst").unwrap();
    let data = tempfile::tempdir().unwrap();
    let h = Harness::open_with(&dump, Some(dir.join("symbols")), data.path(), SIZE);
    let (pid, vma, start, pages) =
        longest_zero_run(&*h.app.ev).expect("no zero page in the LiME dump");
    println!(
        "LiME dump: pid {pid}, area {:#x}-{:#x}, {pages} zero pages from {start:#x}",
        vma.start, vma.end
    );
    assert!(pages >= 256, "the longest run of zero pages is short");
    let h = tour("LiME zero pages", h, pid, &vma, start + 0x40);
    let (pid, vma) = largest_uniform_area(&*h.app.ev).expect("no uniform area in the LiME dump");
    println!(
        "LiME dump: pid {pid}, {:#x}-{:#x} ({} MiB) of one value or not captured",
        vma.start,
        vma.end,
        vma.size() >> 20
    );
    tour("LiME uniform area", h, pid, &vma, middle(&vma));
}

/// An address in the middle of an area, not aligned to a row.
fn middle(v: &Vma) -> u64 {
    v.start + ((v.size() / 2) & !0xfff) + 0x123
}

#[test]
fn hex_captured_uniform_area() {
    let dir = tempfile::tempdir().unwrap();
    let tar = crate::tui_hex_reads::uniform_checkpoint(dir.path());
    let h = Harness::open(&tar, dir.path(), SIZE);
    let vma = h.app.ev.maps(1).unwrap().items.remove(0);
    let h = tour("captured uniform area", h, 1, &vma, middle(&vma));
    // However long the first screen took to count, the last screens are whole.
    assert!(
        !h.screen().contains("counting identical rows"),
        "{}",
        h.screen()
    );
}
