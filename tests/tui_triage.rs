//! The workbench's Triage pane: filled by the triage job started after the first frame,
//! ranked results with the selected one in full, Enter going to the object, `b` bookmarking
//! a result with its rule's reason, Esc cancelling a run, evidence text escaped. Snapshots at
//! 80x24 and 120x40 on the bundled (synthetic) demo and on the real criu-replicas replica-3.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use crate::support;

use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use podmortem::engine::findings::Target;
use podmortem::jobs::{Emitter, JobEvent, Jobs};
use podmortem::tui::action::{Action, Pane};
use podmortem::tui::app::{App, Overlay, SessionOptions};
use podmortem::tui::keymap;
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

fn snap(name: &str, h: &Harness) {
    let (w, hgt) = h.app.size;
    settings().bind(|| insta::assert_snapshot!(format!("{name}_{w}x{hgt}"), h.screen()));
}

/// The workbench on `path` after its first frame (triage run, inline), on the Triage pane.
fn triaged(path: &Path, data: &Path, size: (u16, u16)) -> Harness {
    let mut h = Harness::open(path, data, size);
    assert!(
        h.app.triage.report.is_none(),
        "triage waits for the first frame"
    );
    h.app.after_first_frame();
    h.drain();
    assert!(!h.app.triage.running);
    h.key(KeyCode::Char('7'));
    assert_eq!(h.app.focus, Pane::Triage);
    h
}

/// Bookmarks the selected result with the note proposed and returns the finding added.
fn bookmark(h: &mut Harness) -> podmortem::engine::findings::Finding {
    let before = h.app.session.findings.len();
    h.key(KeyCode::Char('b'));
    assert!(h.screen().contains("bookmark "), "{}", h.screen());
    h.key(KeyCode::Enter);
    assert_eq!(h.app.session.findings.len(), before + 1);
    h.app.session.findings.last().unwrap().clone()
}

#[test]
fn demo_pane_snapshots_and_jumps() {
    for size in SIZES {
        let data = tempfile::tempdir().unwrap();
        let mut h = triaged(&demo(), data.path(), size);
        assert!(h.screen().contains("7 Triage("), "{}", h.screen());
        snap("demo_triage", &h);
        if size == (80, 24) {
            let t = h.render();
            settings().bind(|| {
                insta::assert_debug_snapshot!("demo_triage_styled_80x24", t.backend().buffer())
            });
        }
        // The writable+executable area: its first bytes in hex below.
        h.key(KeyCode::Down);
        let screen = h.screen();
        assert!(screen.contains("head (code): "), "{screen}");
        snap("demo_triage_area", &h);
    }
    // Every result's Enter goes somewhere in the workbench, never to a message alone.
    let data = tempfile::tempdir().unwrap();
    let mut h = triaged(&demo(), data.path(), (120, 40));
    let results = h.app.triage.report.clone().unwrap().detections;
    assert!(!results.is_empty());
    for (i, d) in results.iter().enumerate() {
        h.key(KeyCode::Char('7'));
        h.key(KeyCode::Home);
        for _ in 0..i {
            h.key(KeyCode::Down);
        }
        h.key(KeyCode::Enter);
        let pid = d.pid;
        match (d.address, d.start) {
            (Some(addr), _) => {
                assert_eq!(h.app.focus, Pane::Hex, "{d:?}");
                assert_eq!((h.app.hex.pid, h.app.hex.cursor), (pid, addr));
            }
            (None, Some(start)) => {
                assert_eq!(h.app.focus, Pane::Maps, "{d:?}");
                let sel = &h.app.maps.vmas[h.app.maps.cursor.selected];
                assert_eq!(sel.start, start);
            }
            (None, None) if pid.is_some() => {
                assert_eq!(h.app.focus, Pane::Processes, "{d:?}");
            }
            (None, None) => assert_eq!(h.app.focus, Pane::Rootfs, "{d:?}"),
        }
        if let Some(pid) = pid {
            assert_eq!(h.app.selected_process().map(|p| p.pid), Some(pid), "{d:?}");
        }
        // A socket's or a variable's process: its details (files, sockets, environment).
        if d.address.is_none() && (d.port.is_some() || d.variable.is_some()) {
            assert!(
                matches!(h.app.overlay, Some(Overlay::Details { pid: p, .. }) if Some(p) == pid),
                "{d:?}"
            );
        }
        // Details popups close with Esc.
        h.key(KeyCode::Esc);
    }
}

#[test]
fn b_bookmarks_a_result_with_its_rules_reason() {
    let data = tempfile::tempdir().unwrap();
    let mut h = triaged(&demo(), data.path(), (120, 40));
    let results = h.app.triage.report.clone().unwrap().detections;
    // One result of each kind of object: a memory area, a process, an address.
    for (i, d) in results.iter().enumerate() {
        h.key(KeyCode::Char('7'));
        h.key(KeyCode::Home);
        for _ in 0..i {
            h.key(KeyCode::Down);
        }
        let f = bookmark(&mut h);
        let reason = podmortem::sanitize::sanitize(&d.reason);
        assert_eq!(f.note, format!("{}: {reason}", d.rule.id()));
        match (&f.target, d.address, d.start) {
            (Target::Memory { address, .. }, Some(a), _) => assert_eq!(*address, a),
            (Target::Vma { start, end, .. }, None, Some(s)) => {
                assert_eq!((*start, Some(*end)), (s, d.end));
            }
            (Target::Process { pid, .. }, None, None) => assert_eq!(Some(*pid), d.pid),
            (Target::File { .. }, None, None) => assert!(d.pid.is_none()),
            (t, ..) => panic!("{t:?} for {d:?}"),
        }
    }
    assert!(h.app.status.as_ref().unwrap().0.contains("saved"));
}

#[test]
fn replica_3_snapshots_enter_and_bookmark() {
    let Some(dir) = support::fixture("criu-replicas") else {
        eprintln!("skipped: criu-replicas fixture absent");
        return;
    };
    let path = dir.join("replica-3.tar");
    for size in SIZES {
        let data = tempfile::tempdir().unwrap();
        let h = triaged(&path, data.path(), size);
        snap("replica3_triage", &h);
    }
    let data = tempfile::tempdir().unwrap();
    let mut h = triaged(&path, data.path(), (120, 40));
    let top = h.app.triage.report.as_ref().unwrap().detections[0].clone();
    assert_eq!((top.rule.id(), top.pid), ("memory.exe_path", Some(15)));
    // The stolen token stays masked on screen.
    let screen = h.screen();
    assert!(screen.contains("STOLEN_TOKEN=ghp_… (12 chars)"), "{screen}");
    h.key(KeyCode::Enter);
    assert_eq!(h.app.selected_process().map(|p| p.pid), Some(15));
    assert_eq!(h.app.selected_process().unwrap().comm, ".kdevtmpfsi");
    h.key(KeyCode::Char('7'));
    let f = bookmark(&mut h);
    assert_eq!(f.note, format!("memory.exe_path: {}", top.reason));
    assert!(
        f.target.describe().contains(" 15 "),
        "{}",
        f.target.describe()
    );
}

#[test]
fn enter_on_a_service_account_token_selects_it_in_the_rootfs_browser() {
    let Some(dir) = support::fixture("criu-tmpfs") else {
        eprintln!("skipped: criu-tmpfs fixture absent");
        return;
    };
    let data = tempfile::tempdir().unwrap();
    let mut h = triaged(&dir.join("tmpfs-sa-token.tar"), data.path(), (120, 40));
    let top = h.app.triage.report.as_ref().unwrap().detections[0].clone();
    assert_eq!(top.rule.id(), "credentials.service_account");
    h.key(KeyCode::Enter);
    assert_eq!(h.app.focus, Pane::Rootfs);
    let token = "var/run/secrets/kubernetes.io/serviceaccount/token";
    let visible = h.app.rootfs.visible();
    assert_eq!(visible[h.app.rootfs.cursor.selected].path, token);
    h.key(KeyCode::Char('7'));
    let f = bookmark(&mut h);
    assert!(
        matches!(&f.target, Target::File { path, size: 34, .. } if path == token),
        "{:?}",
        f.target
    );
    assert!(
        f.note
            .starts_with("credentials.service_account: Kubernetes")
    );
}

#[test]
fn esc_cancels_a_running_triage() {
    // Jobs on threads; the first progress message waits until the test has pressed Esc.
    let (tx, rx) = mpsc::channel::<JobEvent>();
    let (go_tx, go_rx) = mpsc::channel::<()>();
    let go_rx = Mutex::new(go_rx);
    let emit: Emitter = Arc::new(move |e| {
        if matches!(e, JobEvent::TriageProgress { .. }) {
            let _ = go_rx.lock().unwrap().recv();
        }
        let _ = tx.send(e);
    });
    let data = tempfile::tempdir().unwrap();
    let ev = podmortem::engine::open::open_evidence(&demo(), &Default::default()).unwrap();
    let opts = SessionOptions {
        data_dir: Some(data.path().to_path_buf()),
    };
    let mut app = App::new(Arc::from(ev), Jobs::threaded(emit), &opts);
    app.update(Action::Resize(120, 40));
    app.after_first_frame();
    assert!(app.triage.running);
    let press = |app: &mut App, code| {
        if let Some(a) = keymap::action_for(app, KeyEvent::new(code, KeyModifiers::NONE)) {
            app.update(a);
        }
    };
    press(&mut app, KeyCode::Char('7'));
    // Progress in the pane, the tab and the status line while it runs.
    let mut t = ratatui::Terminal::new(ratatui::backend::TestBackend::new(120, 40)).unwrap();
    t.draw(|f| podmortem::tui::ui::draw(f, &app)).unwrap();
    let screen: String = t
        .backend()
        .buffer()
        .content()
        .iter()
        .map(|c| c.symbol())
        .collect();
    for s in [
        "Triage — running 0%",
        "7 Triage…",
        "triage 0% · 7 Triage, Esc cancels",
    ] {
        assert!(screen.contains(s), "{s}: {screen}");
    }
    press(&mut app, KeyCode::Esc);
    drop(go_tx);
    while app.triage.running {
        let e = rx.recv_timeout(Duration::from_secs(120)).unwrap();
        app.update(Action::Job(e));
    }
    let report = app.triage.report.as_ref().unwrap();
    assert!(report.stopped, "{report:?}");
    assert!(report.detections.is_empty(), "{report:?}");
    assert!(
        app.status.as_ref().unwrap().0.contains("triage cancelled"),
        "{:?}",
        app.status
    );
    // `r` runs it again, to its end this time.
    press(&mut app, KeyCode::Char('r'));
    while app.triage.running {
        let e = rx.recv_timeout(Duration::from_secs(120)).unwrap();
        app.update(Action::Job(e));
    }
    let report = app.triage.report.as_ref().unwrap();
    assert!(!report.stopped && !report.detections.is_empty());
}

#[test]
fn hostile_text_in_results_is_shown_escaped() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("hostile.tar");
    std::fs::write(&path, support::hostile::checkpoint().to_tar()).unwrap();
    let mut h = triaged(&path, &dir.path().join("data"), (120, 40));
    let n = h.app.triage.report.as_ref().unwrap().detections.len();
    assert!(n > 0);
    let mut screens = Vec::new();
    for _ in 0..n {
        screens.push(h.screen());
        h.key(KeyCode::Down);
    }
    // The note proposed by `b` quotes the reason: escaped in the prompt too.
    h.key(KeyCode::Char('b'));
    screens.push(h.screen());
    h.key(KeyCode::Enter);
    assert!(
        !h.app.session.findings[0].note.contains('\x1b'),
        "{:?}",
        h.app.session.findings[0].note
    );
    for s in &screens {
        for c in s.chars() {
            assert!(
                !podmortem::sanitize::is_unsafe(c) || c == '\n',
                "{c:?} on screen:\n{s}"
            );
        }
    }
    let all = screens.concat();
    assert!(all.contains(support::hostile::MARK), "{all}");
    assert!(all.contains("\\x1b]0;PWNED-TITLE"), "{all}");
}
