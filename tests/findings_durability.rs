//! Findings are never lost: the session file is written atomically (temp file, fsync,
//! rename, fsync of the folder) on every change. Here a writer is `kill -9`ed at random
//! points of a loop of edits, again and again: the file is always a complete, valid session,
//! the old one or the new one. And on a full disk (a tiny tmpfs in a private mount
//! namespace) saving fails with a clear error, the old file stays intact, no temp file is
//! left, the workbench says so, and `export` fails the same way.
//!
//! Both run the writer as a child process: this test binary re-run with
//! `PODMORTEM_DURABILITY_CHILD` set, which turns the `child_*` tests from no-ops into writers.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use crate::support;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use podmortem::engine::findings::{Session, SessionStore, Target};

const CHILD: &str = "PODMORTEM_DURABILITY_CHILD";

fn child_dir() -> Option<PathBuf> {
    std::env::var_os(CHILD).map(PathBuf::from)
}

fn target(pid: u32) -> Target {
    Target::Process {
        pid,
        comm: "sh".into(),
        cmdline: vec!["sh".into()],
    }
}

/// How many findings the session holds after `k` edits: every third edit adds one, the
/// others rewrite the first finding's note (`edit k`).
fn expected_findings(k: u64) -> usize {
    1 + (k / 3) as usize
}

fn counter(s: &Session) -> u64 {
    s.findings[0]
        .note
        .strip_prefix("edit ")
        .unwrap()
        .parse()
        .unwrap()
}

/// The writer: loads the session and edits it forever, saving after every edit.
#[test]
fn child_edit_loop() {
    let Some(dir) = child_dir() else { return };
    let store = SessionStore::for_evidence("kill-loop", Some(dir)).unwrap();
    let mut s = store.load().unwrap().unwrap_or_else(|| {
        let mut s = Session::new("kill-loop".into(), "evidence".into());
        s.add(target(1), "edit 0".into(), vec![]);
        s
    });
    let mut k = counter(&s);
    loop {
        k += 1;
        if k.is_multiple_of(3) {
            s.add(
                target(k as u32),
                format!("finding {k} {}", "x".repeat(200)),
                vec![],
            );
        }
        s.findings[0].note = format!("edit {k}");
        store.save(&s).unwrap();
    }
}

#[test]
fn kill_9_at_random_points_leaves_old_or_new_never_torn() {
    let dir = tempfile::tempdir().unwrap();
    let store = SessionStore::for_evidence("kill-loop", Some(dir.path().to_path_buf())).unwrap();
    let mut last = 0u64;
    let mut rng = 0x2545_f491_4f6c_dd1du64;
    let rounds = 40;
    for round in 0..rounds {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "findings_durability::child_edit_loop",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD, dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        std::thread::sleep(Duration::from_micros(20_000 + rng % 100_000));
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        let bytes = match std::fs::read(store.path()) {
            Ok(b) => b,
            Err(_) if round == 0 => continue, // killed before its first save
            Err(e) => panic!("round {round}: session file gone: {e}"),
        };
        let s: Session = serde_json::from_slice(&bytes)
            .unwrap_or_else(|e| panic!("round {round}: torn session file: {e}"));
        let k = counter(&s);
        assert_eq!(
            s.findings.len(),
            expected_findings(k),
            "round {round}: k={k}"
        );
        assert!(k >= last, "round {round}: went back from {last} to {k}");
        last = k;
    }
    eprintln!("{rounds} kills, {last} edits saved, the file always whole");
    assert!(last > rounds, "the writer hardly ran ({last} edits)");
    // Temp files of killed writers are swept by the next save: at most the last one is left.
    let temps = std::fs::read_dir(store.path().parent().unwrap())
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .contains(".tmp")
        })
        .count();
    assert!(temps <= 1, "{temps} temp files left");
}

/// The full-disk writer, run inside a private mount namespace on a 256 KiB tmpfs.
#[test]
fn child_full_disk() {
    let Some(dir) = child_dir() else { return };
    println!("CHILD-STARTED");
    let store = SessionStore::for_evidence("full-disk", Some(dir.clone())).unwrap();
    let mut s = Session::new("full-disk".into(), "evidence".into());
    s.add(target(1), "the old note".into(), vec![]);
    store.save(&s).unwrap();
    let old = std::fs::read(store.path()).unwrap();
    // An export written before the disk filled up.
    let demo = env!("CARGO_MANIFEST_DIR").to_string() + "/assets/demo-checkpoint.tar";
    let export = dir.join("findings.json");
    let data = tempfile::tempdir().unwrap();
    let run_export = || {
        Command::new(env!("CARGO_BIN_EXE_podmortem"))
            .args(["export", &demo, "-o", export.to_str().unwrap()])
            .env("PODMORTEM_DATA_DIR", data.path())
            .output()
            .unwrap()
    };
    assert!(run_export().status.success());
    let old_export = std::fs::read(&export).unwrap();

    fill(&dir);
    for i in 0..50 {
        s.add(target(i), "y".repeat(1024), vec![]);
    }
    let err = store.save(&s).unwrap_err().to_string();
    assert!(err.contains("No space left on device"), "{err}");
    assert!(err.contains("full-disk"), "the error names the file: {err}");
    assert_eq!(
        std::fs::read(store.path()).unwrap(),
        old,
        "old session changed"
    );
    assert!(no_temps(store.path().parent().unwrap()));

    // The CLI's export: exit 1, a clear message, the old export untouched.
    let demo_session = SessionStore::for_evidence(
        &podmortem::engine::findings::evidence_identity(Path::new(&demo)).unwrap(),
        Some(data.path().to_path_buf()),
    )
    .unwrap();
    let mut big = Session::new("x".into(), demo.clone());
    for i in 0..100 {
        big.add(target(i), "z".repeat(1024), vec![]);
    }
    demo_session.save(&big).unwrap();
    let out = run_export();
    assert_eq!(out.status.code(), Some(1));
    let msg = String::from_utf8_lossy(&out.stderr);
    assert!(msg.contains("No space left on device"), "{msg}");
    assert_eq!(std::fs::read(&export).unwrap(), old_export);
    assert!(no_temps(&dir));

    // The workbench: the bookmark is kept in memory and the status line says why it is not
    // on disk.
    let mut h = support::tui::Harness::open(Path::new(&demo), &dir, (100, 30));
    h.key(crossterm::event::KeyCode::Char('b'));
    h.typing("kept in memory");
    h.key(crossterm::event::KeyCode::Enter);
    let screen = h.screen();
    assert!(screen.contains("could not save findings"), "{screen}");
    assert!(screen.contains("No space left"), "{screen}");
    println!("CHILD-OK");
}

/// Fills the file system holding `dir`.
fn fill(dir: &Path) {
    use std::io::Write;
    let mut f = std::fs::File::create(dir.join("filler")).unwrap();
    let block = [0xa5u8; 4096];
    while f.write_all(&block).and_then(|()| f.sync_all()).is_ok() {}
}

fn no_temps(dir: &Path) -> bool {
    std::fs::read_dir(dir)
        .unwrap()
        .all(|e| !e.unwrap().file_name().to_string_lossy().contains(".tmp"))
}

#[test]
fn full_disk_keeps_the_old_file() {
    let dir = tempfile::tempdir().unwrap();
    let mnt = dir.path().join("tiny");
    std::fs::create_dir(&mnt).unwrap();
    let out = Command::new("unshare")
        .args(["--user", "--map-root-user", "--mount", "sh", "-c"])
        .arg("mount -t tmpfs -o size=256k tmpfs \"$0\" && exec \"$1\" --exact findings_durability::child_full_disk --nocapture --test-threads=1")
        .arg(&mnt)
        .arg(std::env::current_exe().unwrap())
        .env(CHILD, &mnt)
        .output();
    let out = match out {
        Ok(o) => o,
        Err(e) => {
            eprintln!("skipping: cannot run unshare: {e}");
            return;
        }
    };
    let stdout = String::from_utf8_lossy(&out.stdout);
    if !stdout.contains("CHILD-STARTED") {
        // No user/mount namespaces here: nothing to fill safely.
        eprintln!(
            "skipping: no private tmpfs (unshare/mount refused): {}",
            String::from_utf8_lossy(&out.stderr)
        );
        return;
    }
    assert!(
        stdout.contains("CHILD-OK"),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
