//! Snapshots of every pane of the workbench at 80x24 and 120x40, driven by keys through the
//! real keymap, on the bundled demo and on the real criu-counter fixture. Styled (Debug)
//! snapshots where colour carries meaning (hex byte categories, highlights, focus).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use crate::support;

use std::path::PathBuf;

use crossterm::event::KeyCode;
use support::tui::Harness;

const SIZES: [(u16, u16); 2] = [(80, 24), (120, 40)];

fn demo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("assets/demo-checkpoint.tar")
}

fn settings() -> insta::Settings {
    let mut s = insta::Settings::clone_current();
    s.set_snapshot_path(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("snapshots"));
    s.set_prepend_module_to_snapshot(false);
    s.set_omit_expression(true);
    s
}

/// Replaces the times of findings (they change on every run).
fn stable(screen: String) -> String {
    let re = regex::Regex::new(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ").unwrap();
    re.replace_all(&screen, "YYYY-MM-DDTHH:MM:SSZ").into_owned()
}

fn snap(name: &str, h: &Harness) {
    let (w, hgt) = h.app.size;
    settings().bind(|| insta::assert_snapshot!(format!("{name}_{w}x{hgt}"), stable(h.screen())));
}

fn search(h: &mut Harness, pattern: &str) {
    h.key(KeyCode::Char('4'));
    h.key(KeyCode::Char('/'));
    h.typing(pattern);
    h.key(KeyCode::Enter);
}

#[test]
fn demo_panes() {
    for size in SIZES {
        let data = tempfile::tempdir().unwrap();
        let mut h = Harness::open(&demo(), data.path(), size);
        snap("demo_processes", &h);
        h.key(KeyCode::Down);
        h.key(KeyCode::Enter);
        snap("demo_details", &h);
        h.key(KeyCode::Esc);
        h.key(KeyCode::Char('m'));
        snap("demo_maps", &h);
        search(&mut h, "DEMO_[A-Z_]+_[0-9]+");
        snap("demo_search", &h);
        h.key(KeyCode::Down);
        h.key(KeyCode::Enter);
        snap("demo_hex_secret", &h);
        h.key(KeyCode::Char('b'));
        h.typing("api key in the heap #secret #exfil");
        h.key(KeyCode::Enter);
        h.key(KeyCode::Char('5'));
        h.key(KeyCode::Down);
        h.key(KeyCode::Down);
        snap("demo_rootfs", &h);
        h.key(KeyCode::Char('6'));
        snap("demo_findings", &h);
        h.key(KeyCode::Char('?'));
        snap("demo_help", &h);
    }
}

#[test]
fn demo_hex_styles() {
    let data = tempfile::tempdir().unwrap();
    let mut h = Harness::open(&demo(), data.path(), (80, 24));
    search(&mut h, "DEMO_API_KEY_[0-9]+");
    h.key(KeyCode::Enter);
    let t = h.render();
    settings()
        .bind(|| insta::assert_debug_snapshot!("demo_hex_styled_80x24", t.backend().buffer()));
}

#[test]
fn fixture_panes() {
    let Some(_) = support::fixture("criu-counter") else {
        return;
    };
    let tar = support::decompressed("criu-counter", "checkpoint-counter.tar.zst").unwrap();
    for size in SIZES {
        let data = tempfile::tempdir().unwrap();
        let mut h = Harness::open(&tar, data.path(), size);
        h.key(KeyCode::Right);
        snap("counter_processes", &h);
        h.key(KeyCode::Down);
        h.key(KeyCode::Char('m'));
        snap("counter_maps", &h);
        search(&mut h, "RANDOM_[0-9]+_KEY");
        snap("counter_search", &h);
        h.key(KeyCode::Enter);
        snap("counter_hex_secret", &h);
        assert_eq!(h.app.hex.cursor, 0x7f18_4469_f2ad);
        h.key(KeyCode::Char('5'));
        snap("counter_rootfs", &h);
    }
}

#[test]
fn evidence_escapes_never_reach_the_screen() {
    let data = tempfile::tempdir().unwrap();
    let mut h = Harness::open(&demo(), data.path(), (120, 40));
    let mut screens = vec![h.screen()];
    // The process named "x\x1b]0;pwned\x07" and its cmdline with CSI sequences.
    for key in [KeyCode::End, KeyCode::Enter] {
        h.key(key);
        screens.push(h.screen());
    }
    h.key(KeyCode::Esc);
    h.key(KeyCode::Char('m'));
    screens.push(h.screen());
    for s in &screens {
        for c in s.chars() {
            assert!(
                !c.is_control() || c == '\n',
                "control character {c:?} on screen:\n{s}"
            );
        }
    }
    assert!(screens[0].contains("x\\x1b]0;pwned\\x07"));
}

#[test]
fn kernel_dump_panes() {
    let Some(dir) = support::fixture("linux-6.1-node") else {
        return;
    };
    let dump = support::decompressed("linux-6.1-node", "dump.elf.zst").unwrap();
    let data = tempfile::tempdir().unwrap();
    let mut h = Harness::open_with(&dump, Some(dir.join("symbols")), data.path(), (120, 40));
    snap("node_processes", &h);
    h.key(KeyCode::Char('c'));
    snap("node_grouped", &h);
    search(&mut h, "HOLDOUT_SECRET_[0-9a-f]+");
    snap("node_search", &h);
    // The hit in holdoutd's anonymous RWX mapping.
    let i = h
        .app
        .search
        .hits
        .iter()
        .position(|x| x.address == 0x7f17_efbc_d040)
        .unwrap();
    for _ in 0..i {
        h.key(KeyCode::Down);
    }
    h.key(KeyCode::Enter);
    snap("node_hex_secret", &h);
    assert_eq!(h.app.hex.cursor, 0x7f17_efbc_d040);
    h.key(KeyCode::Char('2'));
    snap("node_maps", &h);

    // Physical memory (a dump's third scope): every copy of the secret, each with the
    // process that maps its page; Enter opens that process at the virtual address.
    h.key(KeyCode::Char('4'));
    h.key(KeyCode::Char('s'));
    h.key(KeyCode::Char('s'));
    h.key(KeyCode::Char('/'));
    for _ in 0.."HOLDOUT_SECRET_[0-9a-f]+".len() {
        h.key(KeyCode::Backspace);
    }
    h.typing("HOLDOUT_SECRET_[0-9a-f]+");
    h.key(KeyCode::Enter);
    snap("node_search_physical", &h);
    let hits = &h.app.search.hits;
    assert!(hits.iter().all(|x| x.process().is_none()), "physical hits");
    let i = hits
        .iter()
        .position(|x| x.in_process().is_some_and(|(_, a)| a == 0x7f17_efbc_d040))
        .expect("a physical copy mapped at the RWX address");
    for _ in 0..i {
        h.key(KeyCode::Down);
    }
    h.key(KeyCode::Enter);
    assert_eq!(h.app.focus, podmortem::tui::action::Pane::Hex);
    assert_eq!(h.app.hex.cursor, 0x7f17_efbc_d040);
}
