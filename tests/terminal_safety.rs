//! Terminal safety: evidence whose every string carries escape sequences, BEL, C1 controls,
//! bidi overrides and invalid UTF-8 (tests/support/hostile.rs) is shown by the real binary,
//! in a pseudo-terminal and in tmux, and nothing a terminal would act on comes out: every
//! CLI command's human output holds no ESC at all; the workbench writes only its own
//! drawing sequences; JSON escapes what JSON allows raw (C1, bidi) too. The hostile strings
//! are seen, escaped (`\x1b]0;...`), so they were shown and not just dropped.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::support;

use std::path::{Path, PathBuf};

use support::hostile::{MARK, PAYLOADS};
use support::terminal::{check_terminal_bytes, pty_available, run_in_pty};
use support::tmux::Tmux;

fn hostile_tar(dir: &Path) -> PathBuf {
    let p = dir.join("hostile.tar");
    std::fs::write(&p, support::hostile::checkpoint().to_tar()).unwrap();
    p
}

#[test]
fn the_checker_catches_every_payload() {
    for p in PAYLOADS {
        let mut out = b"ok ".to_vec();
        out.extend_from_slice(p);
        assert!(check_terminal_bytes(&out, false).is_err(), "{p:?} passed");
        // Clearing the screen is also how the workbench draws; the rest must be refused.
        if !p.starts_with(b"\x1b[2J") {
            assert!(check_terminal_bytes(&out, true).is_err(), "{p:?} passed");
        }
    }
    assert!(check_terminal_bytes(b"\x1b[1;1H\x1b[38;5;3mok\r\n", true).is_ok());
    assert!(check_terminal_bytes(b"\x1b[1;1H", false).is_err());
}

/// The visible (escaped) forms the hostile strings must show as.
fn assert_shown_escaped(out: &str, tags: &[&str], what: &str) {
    for tag in tags {
        assert!(
            out.contains(&format!("{MARK}-{tag}")),
            "{what}: {MARK}-{tag} not shown:\n{out}"
        );
    }
    assert!(
        out.contains("\\x1b]0;PWNED-TITLE"),
        "{what}: OSC not shown escaped:\n{out}"
    );
}

#[test]
fn cli_output_in_a_pty() {
    if !pty_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let ev = hostile_tar(dir.path());
    let ev = ev.to_str().unwrap();
    let data = dir.path().join("data");
    let env = [("PODMORTEM_DATA_DIR", data.as_path())];
    let entries = {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_podmortem"))
            .args(["rootfs", ev, "--json"])
            .output()
            .unwrap();
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        v.as_array().unwrap().clone()
    };
    let preview = entries
        .iter()
        .map(|e| e["path"].as_str().unwrap().to_string())
        .find(|p| p.starts_with("a-"))
        .unwrap();
    let addr = format!("{:#x}", support::hostile::MEM_ADDR);
    let out_dir = dir.path().join("out");
    let out_dir = out_dir.to_str().unwrap();
    let commands: Vec<(Vec<&str>, &[&str])> = vec![
        (vec!["info", ev], &["meta", "image", "hostname"]),
        (vec!["ps", ev], &["comm", "argv"]),
        (vec!["ps", ev, "--threads"], &["comm"]),
        (vec!["maps", ev, "--pid", "1"], &["exe"]),
        (vec!["env", ev], &["env"]),
        (vec!["files", ev], &["fd", "cwd"]),
        (vec!["rootfs", ev], &["rootfs", "deleted"]),
        (vec!["rootfs", ev, "--cat", &preview], &["preview"]),
        (vec!["rootfs", ev, "--cat", "b-binary"], &["binary"]),
        (
            vec!["search", ev, "--regex", "EVIL-memory.{0,40}"],
            &["memory"],
        ),
        (
            vec!["read", ev, "--pid", "1", "--addr", &addr, "--len", "64"],
            &[],
        ),
        (
            vec!["extract", ev, "-o", out_dir, "--all-files"],
            &["rootfs"],
        ),
        // JSON on a terminal: valid JSON, and C1/bidi escaped as \u too.
        (vec!["ps", ev, "--json"], &[]),
        (vec!["info", ev, "--json"], &[]),
        (vec!["env", ev, "--json"], &[]),
        (vec!["files", ev, "--json"], &[]),
        (vec!["rootfs", ev, "--json"], &[]),
        (vec!["search", ev, "--regex", "EVIL-memory", "--json"], &[]),
    ];
    for (args, tags) in &commands {
        let run = run_in_pty(dir.path(), &env, args, &[]);
        let out = String::from_utf8_lossy(&run.output).into_owned();
        assert_eq!(run.code, Some(0), "{args:?}:\n{out}");
        if let Err(e) = check_terminal_bytes(&run.output, false) {
            panic!("{args:?}: {e}");
        }
        if !tags.is_empty() {
            assert_shown_escaped(&out, tags, &format!("{args:?}"));
        }
        if args.contains(&"--json") {
            for line in out.lines().filter(|l| l.starts_with('{')) {
                // One object per line (search) or one document (the rest).
                if args[0] == "search" {
                    serde_json::from_str::<serde_json::Value>(line).unwrap();
                }
            }
        }
    }
    // Raw bytes are refused on a terminal, allowed into a pipe.
    let run = run_in_pty(
        dir.path(),
        &env,
        &[
            "read", ev, "--pid", "1", "--addr", &addr, "--len", "64", "--raw",
        ],
        &[],
    );
    assert_eq!(run.code, Some(1));
    check_terminal_bytes(&run.output, false).unwrap();
    assert!(String::from_utf8_lossy(&run.output).contains("must not reach a terminal"));
    // Errors that quote evidence are sanitised too.
    let run = run_in_pty(
        dir.path(),
        &env,
        &["extract", ev, "-o", out_dir, "--all-files"],
        &[],
    );
    assert_eq!(run.code, Some(1));
    check_terminal_bytes(&run.output, false).unwrap();
    assert!(String::from_utf8_lossy(&run.output).contains("already exists"));
}

/// Keys for a tour of every pane that shows evidence strings, with pauses (ms).
fn tour() -> Vec<(u64, &'static [u8])> {
    vec![
        (1500, b"\r"), // details of the process: name, cmdline, threads, files, env
        (600, b"\x1b"),
        (600, b"2"), // maps: file paths
        (500, b"3"), // hex of the first area
        (500, b"4"), // search the hostile bytes in memory
        (300, b"/"),
        (300, b"EVIL-memory"),
        (300, b"\r"),
        (1200, b"\r"), // the hit in the hex viewer: bytes and their text column
        (800, b"5"),   // rootfs: names and the preview of the text file
        (500, b"\x1b[B"),
        (500, b"\x1b[B"), // the binary's preview
        (500, b"1"),
        (300, b"b"), // bookmark the process: its name in the prompt's title
        (500, b"note"),
        (300, b"\r"),
        (500, b"6"), // findings: the label quotes the name
        (800, b"7"), // triage: reasons quote the name and the executable
        (300, b"b"), // the note proposed quotes the reason
        (500, b"\x1b"),
        (500, b"?"),
        (500, b"\x1b"),
        (500, b"I"), // the evidence popup: container metadata, mounts, warnings
        (500, b"\x1b"),
        (600, b"q"),
    ]
}

#[test]
fn workbench_in_a_pty() {
    if !pty_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let ev = hostile_tar(dir.path());
    let data = dir.path().join("data");
    let run = run_in_pty(
        dir.path(),
        &[("PODMORTEM_DATA_DIR", data.as_path())],
        &[ev.to_str().unwrap()],
        &tour(),
    );
    let out = String::from_utf8_lossy(&run.output).into_owned();
    assert_eq!(run.code, Some(0), "{out}");
    if let Err(e) = check_terminal_bytes(&run.output, true) {
        panic!("workbench: {e}");
    }
    assert_shown_escaped(
        &out,
        &[
            "comm", "argv", "env", "cwd", "exe", "memory", "rootfs", "deleted", "pod",
        ],
        "workbench",
    );
    // The tour reached the hex viewer on the hostile bytes and saved the bookmark.
    assert!(out.contains("Hex: 1 EVIL-comm"), "hex viewer not shown");
    assert!(out.contains("finding #1 saved"), "bookmark not saved");
    // The triage job ran after the first frame and its pane showed the results.
    assert!(out.contains("Triage"), "triage pane not shown");
    assert!(
        out.contains("process.spoofed_name"),
        "triage results not shown"
    );
}

#[test]
fn workbench_in_tmux() {
    if !Tmux::available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let ev = hostile_tar(dir.path());
    let data = dir.path().join("data");
    let log = dir.path().join("raw.log");
    let t = Tmux::start_logged(
        dir.path(),
        dir.path(),
        &[("PODMORTEM_DATA_DIR", &data)],
        &[ev.to_str().unwrap()],
        &log,
    );
    let s = t.wait_for("Processes (1)");
    assert!(s.contains("EVIL-comm"), "{s}");
    t.keys(&["Enter"]);
    let s = t.wait_for("Environment");
    assert!(s.contains("EVIL-env"), "{s}");
    t.keys(&["Escape", "2"]);
    t.wait_for("EVIL-exe");
    t.keys(&["5", "Down"]);
    // The text file holds control bytes: it is previewed as hex, its name escaped.
    let s = t.wait_for("line.one");
    assert!(s.contains("a-EVIL-rootfs\\x1b]0;PWN"), "{s}");
    // Nothing the evidence said reached tmux: not the title, not the screen's content.
    assert!(!t.pane_title().contains("PWNED"), "{}", t.pane_title());
    assert!(!s.contains('\u{202e}'), "{s}");
    t.keys(&["q"]);
    t.wait_exit();
    let raw = std::fs::read(&log).unwrap();
    if let Err(e) = check_terminal_bytes(&raw, true) {
        panic!("workbench under tmux: {e}");
    }
    let raw = String::from_utf8_lossy(&raw);
    assert!(raw.contains("EVIL-comm") && raw.contains("EVIL-rootfs"));
}
