//! Clean exits of the real workbench in a pseudo-terminal: SIGHUP (what a dropped SSH
//! connection sends), a real hang-up of the terminal, and SIGTERM end it promptly, restore
//! the terminal (alternate screen left, cursor shown), and flush the findings, including a
//! note that was still being typed (kept as a finding tagged `draft`). So does a panic
//! (debug builds panic on F12 when `PODMORTEM_TEST_PANIC_KEY` is set).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::support;

use std::path::Path;
use std::time::{Duration, Instant};

use support::terminal::{PtySession, check_terminal_bytes, pty_available};

const NOTE: &str = "typed as the line dropped #ssh";

/// Opens a copy of the demo, bookmarks the first process and types a note without Enter.
fn start(dir: &Path) -> PtySession {
    start_with(dir, &[])
}

fn start_with(dir: &Path, env: &[(&str, &Path)]) -> PtySession {
    let ev = dir.join("evidence.tar");
    std::fs::copy(
        env!("CARGO_MANIFEST_DIR").to_string() + "/assets/demo-checkpoint.tar",
        &ev,
    )
    .unwrap();
    let data = dir.join("data");
    let mut vars = vec![("PODMORTEM_DATA_DIR", data.as_path())];
    vars.extend_from_slice(env);
    let mut s = PtySession::spawn(dir, &vars, &[ev.to_str().unwrap()]);
    s.keys(&[(1500, b"b"), (400, NOTE.as_bytes()), (600, b"")]);
    s
}

/// The findings saved for the evidence: (note, tags) of each.
fn saved(dir: &Path) -> Vec<(String, Vec<String>)> {
    let sessions = dir.join("data/sessions");
    let mut out = Vec::new();
    for e in std::fs::read_dir(&sessions).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "json") {
            let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&p).unwrap()).unwrap();
            for f in v["findings"].as_array().unwrap() {
                let tags = f["tags"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|t| t.as_str().unwrap().to_string())
                    .collect();
                out.push((f["note"].as_str().unwrap().to_string(), tags));
            }
        }
    }
    out
}

fn assert_draft_kept(dir: &Path) {
    let f = saved(dir);
    assert_eq!(
        f,
        vec![(
            NOTE.to_string(),
            vec!["ssh".to_string(), "draft".to_string()]
        )]
    );
}

fn signal(pid: u32, sig: &str) {
    let st = std::process::Command::new("kill")
        .args([sig, &pid.to_string()])
        .status()
        .unwrap();
    assert!(st.success());
}

fn check_restored(out: &[u8]) {
    check_terminal_bytes(out, true).unwrap();
    let text = String::from_utf8_lossy(out);
    let leave = text
        .rfind("\x1b[?1049l")
        .expect("alternate screen not left");
    let show = text.rfind("\x1b[?25h").expect("cursor not shown again");
    let last_draw = text.rfind("\x1b[?25l").unwrap_or(0);
    assert!(
        leave > last_draw && show > last_draw,
        "restored before the last draw"
    );
}

/// Sends `sig` to the workbench with a note half typed: it exits 0, restores the terminal,
/// and the note is saved as a draft.
fn signal_ends_cleanly(sig: &str) {
    if !pty_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let s = start(dir.path());
    signal(s.program_pid(), sig);
    let run = s.finish();
    assert_eq!(run.code, Some(0), "{sig}");
    check_restored(&run.output);
    assert_draft_kept(dir.path());
}

#[test]
fn sighup_restores_the_terminal_and_keeps_the_draft() {
    signal_ends_cleanly("-HUP");
}

#[test]
fn sigterm_restores_the_terminal_and_keeps_the_draft() {
    signal_ends_cleanly("-TERM");
}

#[test]
fn a_hung_up_terminal_ends_the_workbench_with_findings_saved() {
    if !pty_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut s = start(dir.path());
    let pid = s.program_pid();
    s.hang_up();
    // The kernel hangs up the session: podmortem must end (not spin on a dead terminal).
    let stat = Path::new("/proc").join(pid.to_string()).join("stat");
    let start = Instant::now();
    loop {
        let state = std::fs::read_to_string(&stat).ok().and_then(|s| {
            s.rsplit(')')
                .next()
                .and_then(|r| r.split_whitespace().next())
                .map(str::to_string)
        });
        if matches!(state.as_deref(), None | Some("Z" | "X")) {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "podmortem {pid} still running after the hang-up (state {state:?})"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_draft_kept(dir.path());
}

#[test]
fn a_panic_restores_the_terminal_and_keeps_the_draft() {
    if !pty_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut s = start_with(dir.path(), &[("PODMORTEM_TEST_PANIC_KEY", Path::new("1"))]);
    s.keys(&[(0, b"\x1b[24~")]); // F12
    let run = s.finish();
    assert_eq!(run.code, Some(101), "a panic exits with 101");
    let text = String::from_utf8_lossy(&run.output);
    assert!(text.contains("test panic"), "{text}");
    check_restored(&run.output);
    assert_draft_kept(dir.path());
}
