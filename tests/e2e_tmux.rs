//! End to end: the real binary in a real terminal (tmux), driven by keys: open the demo, go
//! to a process, its maps, the hex viewer, search the secret, bookmark it, export; then the
//! findings survive a `kill -9` and are there when the evidence is opened again.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use crate::support;

use std::path::Path;
use std::process::Command;

use support::tmux::Tmux;

fn start(dir: &Path, data: &Path, args: &[&str]) -> Tmux {
    Tmux::start(dir, dir, &[("PODMORTEM_DATA_DIR", data)], args)
}

#[test]
fn analyst_session_on_the_demo() {
    if !Tmux::available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let t = start(dir.path(), &data, &["demo"]);
    t.wait_for("Processes (4)");
    // A process, its details, its maps, the hex view of its heap.
    t.keys(&["Down", "Enter"]);
    t.wait_for("Threads (3)");
    t.keys(&["Escape", "m"]);
    t.wait_for("Maps: 7 server.py");
    t.keys(&["Down", "Down", "Down", "Enter"]);
    t.wait_for("Hex: 7 server.py");
    // Search the secret, open the hit, bookmark it.
    t.keys(&["4", "/"]);
    t.text("DEMO_API_KEY_[0-9]+");
    t.keys(&["Enter"]);
    t.wait_for("search done: 1 hit(s)");
    t.keys(&["Enter"]);
    let s = t.wait_for("Hex: 7 server.py │ 0x560000003010");
    assert!(s.contains("DEMO_API_KEY_424"), "{s}");
    t.keys(&["b"]);
    t.wait_for("bookmark hit 7 0x560000003010");
    t.text("api key in the heap #secret");
    t.keys(&["Enter"]);
    t.wait_for("finding #1 saved");
    t.keys(&["e"]);
    t.wait_for("export findings to");
    t.keys(&["Enter"]);
    t.wait_for("finding(s) exported to");
    t.keys(&["q"]);
    t.wait_exit();
    let export: serde_json::Value = serde_json::from_slice(
        &std::fs::read(dir.path().join("findings-demo-checkpoint.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(export["schema"], "podmortem-findings/1");
    let f = &export["findings"][0];
    assert_eq!(f["target"]["kind"], "search_hit");
    assert_eq!(f["target"]["pid"], 7);
    assert_eq!(f["target"]["address"], "0x560000003010");
    assert_eq!(f["tags"], serde_json::json!(["secret"]));
    assert_eq!(f["bytes"]["hex"], "44454d4f5f4150495f4b45595f34323432");
    assert_eq!(f["bytes"]["captured"], 17);

    // Findings survive kill -9: reopen, add one, kill, reopen.
    let t = start(dir.path(), &data, &["demo"]);
    t.wait_for("1 saved finding(s) loaded");
    t.keys(&["b"]);
    t.wait_for("bookmark process 1 sh");
    t.text("pid 1");
    t.keys(&["Enter"]);
    t.wait_for("finding #2 saved");
    let pid = t.pid();
    Command::new("kill")
        .args(["-9", &pid.to_string()])
        .status()
        .unwrap();
    t.wait_exit();
    drop(t);
    let t = start(dir.path(), &data, &["demo"]);
    t.wait_for("2 saved finding(s) loaded");
    t.keys(&["6"]);
    let s = t.wait_for("Findings (2)");
    assert!(s.contains("api key in the heap"), "{s}");
    // SIGTERM restores the terminal and exits cleanly.
    let pid = t.pid();
    Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .unwrap();
    t.wait_exit();
}

#[test]
fn no_escape_sequence_from_evidence_reaches_the_terminal() {
    if !Tmux::available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let t = start(dir.path(), &dir.path().join("data"), &["demo"]);
    t.wait_for("Processes (4)");
    // pwned would be the window title if the OSC sequence in the process name got through.
    assert!(!t.pane_title().contains("pwned"));
    let s = t.screen();
    assert!(s.contains("x\\x1b]0;pwned\\x07"), "{s}");
    t.keys(&["Down", "Down", "Enter"]);
    let s = t.wait_for("Process 12");
    assert!(s.contains("\\x1b[2J\\x1b[31mgotcha"), "{s}");
    t.keys(&["Escape", "q"]);
    t.wait_exit();
}
