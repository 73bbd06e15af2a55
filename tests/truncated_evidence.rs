//! Evidence that shrinks while podmortem has it memory-mapped (a copy still arriving, a
//! network share): reads of the bytes that are gone must not end the process with SIGBUS.
//! The CLI fails with an error naming the file and the offset; the workbench saves its
//! findings, restores the terminal and exits with that message. Tested by truncating the
//! file while a search reads it (the search is held mid-way by a full stdout pipe) and while
//! a workbench session has it open.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use crate::support;

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Command, Stdio};

use podmortem::engine::checkpoint::pagemap::PAGE_SIZE;
use support::ckpt;
use support::terminal::{PtySession, check_terminal_bytes, pty_available};

const BASE: u64 = 0x7f00_0000_0000;
/// 16 MiB of captured memory, a match at the start of every page.
const PAGES: u64 = 4096;

/// A checkpoint .tar whose one process has `PAGES` captured pages, each starting `NEEDLE`.
fn big_checkpoint(path: &Path) {
    let mut p = ckpt::anon_proc("app", BASE, PAGES);
    for i in 0..PAGES {
        p.poke(BASE + i * PAGE_SIZE, b"NEEDLE");
    }
    std::fs::write(path, ckpt::one_proc(p, "shrinking").to_tar()).unwrap();
}

#[test]
fn a_search_reading_a_file_that_shrinks_fails_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let tar = dir.path().join("evidence.tar");
    big_checkpoint(&tar);
    let full = std::fs::metadata(&tar).unwrap().len();
    let mut child = Command::new(env!("CARGO_BIN_EXE_podmortem"))
        .args(["search", "--regex", "NEEDLE", "--json"])
        .arg(&tar)
        .env("PODMORTEM_THREADS", "1")
        .env("PODMORTEM_CACHE_DIR", dir.path().join("cache"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Read one hit, then stop reading: the search blocks on the full pipe, mid-way.
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    out.read_line(&mut first).unwrap();
    assert!(first.contains("NEEDLE"), "{first}");
    std::thread::sleep(std::time::Duration::from_millis(300));
    // Cut the file to a quarter: the pages file's later pages are gone.
    let f = std::fs::OpenOptions::new().write(true).open(&tar).unwrap();
    f.set_len(full / 4).unwrap();
    drop(f);
    let mut rest = String::new();
    out.read_to_string(&mut rest).unwrap();
    let status = child.wait().unwrap();
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(
        status.signal(),
        None,
        "killed by a signal: {status:?}\n{err}"
    );
    assert_eq!(status.code(), Some(1), "{err}");
    assert!(err.contains("evidence.tar"), "{err}");
    assert!(err.contains("changed while podmortem read it"), "{err}");
    assert!(
        err.contains(&format!("it is now {} bytes long", full / 4)),
        "{err}"
    );
    let hits = 1 + rest.lines().count() as u64;
    assert!(
        hits < PAGES,
        "{hits} hits: the cut pages were not read as gone"
    );
}

/// The findings saved for the evidence: their notes.
fn saved_notes(data: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(data.join("sessions")).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "json") {
            let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&p).unwrap()).unwrap();
            for f in v["findings"].as_array().unwrap() {
                out.push(f["note"].as_str().unwrap().to_string());
            }
        }
    }
    out
}

#[test]
fn the_workbench_on_a_file_that_shrinks_keeps_findings_and_the_terminal() {
    if !pty_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let tar = dir.path().join("evidence.tar");
    big_checkpoint(&tar);
    let data = dir.path().join("data");
    let cache = dir.path().join("cache");
    let mut s = PtySession::spawn(
        dir.path(),
        &[
            ("PODMORTEM_DATA_DIR", data.as_path()),
            ("PODMORTEM_CACHE_DIR", cache.as_path()),
        ],
        &[tar.to_str().unwrap()],
    );
    // A finding noted before the file changes.
    s.keys(&[(1500, b"b"), (400, b"seen before the cut"), (300, b"\r")]);
    std::fs::OpenOptions::new()
        .write(true)
        .open(&tar)
        .unwrap()
        .set_len(4096)
        .unwrap();
    // Search all memory: the search reads pages that are gone.
    s.keys(&[
        (300, b"4"),
        (300, b"/"),
        (300, b"NEEDLE"),
        (300, b"\r"),
        (1500, b""),
    ]);
    let run = s.finish();
    let text = String::from_utf8_lossy(&run.output);
    assert_eq!(run.code, Some(1), "exit status; output:\n{text}");
    check_terminal_bytes(&run.output, true).unwrap();
    let leave = text
        .rfind("\x1b[?1049l")
        .expect("alternate screen not left");
    let last_draw = text.rfind("\x1b[?25l").unwrap_or(0);
    assert!(leave > last_draw, "terminal restored before the last draw");
    assert!(text.contains("changed while podmortem read it"), "{text}");
    assert_eq!(saved_notes(&data), vec!["seen before the cut".to_string()]);
}
