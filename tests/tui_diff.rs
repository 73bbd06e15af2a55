//! The workbench's Diff pane: shown only with several evidences open, filled by the diff
//! job, Enter going to the object in the evidence open in the workbench (the first).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use crate::support;

use std::path::PathBuf;
use std::sync::Arc;

use crossterm::event::KeyCode;
use podmortem::engine::checkpoint::Checkpoint;
use podmortem::engine::checkpoint::pagemap::PAGE_SIZE;
use podmortem::engine::evidence::Evidence;
use podmortem::tui::action::Pane;
use support::replicas::{Plant, replica, replica_tar};
use support::tui::Harness;

/// The workbench on a replica with its library patched, compared with two clean ones.
fn patched_first(size: (u16, u16)) -> (Harness, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("replica-3.tar");
    let patched = Plant {
        patch_code: true,
        ..Plant::default()
    };
    std::fs::write(&path, replica_tar(3, &patched)).unwrap();
    let mut h = Harness::open(&path, &dir.path().join("data"), size);
    let peers: Vec<(String, Arc<dyn Evidence>)> = (1..=2)
        .map(|n| {
            let ev: Arc<dyn Evidence> = Arc::new(replica(n, &Plant::default()));
            (format!("replica-{n}.tar"), ev)
        })
        .collect();
    h.app.compare_with(peers);
    h.drain();
    (h, dir)
}

#[test]
fn one_evidence_has_no_diff_pane() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("replica-1.tar");
    std::fs::write(&path, replica_tar(1, &Plant::default())).unwrap();
    let mut h = Harness::open(&path, &dir.path().join("data"), (100, 30));
    assert!(!h.app.panes().contains(&Pane::Diff));
    h.key(KeyCode::Char('8'));
    assert_eq!(h.app.focus, Pane::Processes);
    assert!(h.screen().contains("open several evidences"));
    assert!(!h.screen().contains("8 Diff"));
    // Tab cycles over the seven panes only.
    for _ in 0..7 {
        h.key(KeyCode::Tab);
        assert_ne!(h.app.focus, Pane::Diff);
    }
    assert_eq!(h.app.focus, Pane::Processes);
}

#[test]
fn a_patched_code_page_is_listed_and_enter_opens_it_in_the_hex_viewer() {
    let (mut h, _dir) = patched_first((120, 40));
    assert!(h.app.panes().contains(&Pane::Diff));
    assert!(h.screen().contains("8 Diff"));
    assert!(
        h.screen()
            .contains("diff done: 1 difference(s) across 3 evidences")
    );
    h.key(KeyCode::Char('8'));
    assert_eq!(h.app.focus, Pane::Diff);
    let screen = h.screen();
    assert!(
        screen.contains("replica-3.tar: 1 difference  (open here)"),
        "{screen}"
    );
    assert!(screen.contains("replica-1.tar: no differences"), "{screen}");
    assert!(screen.contains("1/3 +!code"), "{screen}");
    assert!(screen.contains("code page of /usr/lib/libdemo.so at file offset 0x2000"));
    assert!(screen.contains("Enter: go to it"), "{screen}");
    assert!(screen.contains("1-8/Tab"), "{screen}");
    // The cursor starts on the difference: Enter shows the page, highlighted.
    h.key(KeyCode::Enter);
    assert_eq!(h.app.focus, Pane::Hex);
    let page = 0x5500_0000_0000 + (4u64 << 28) + PAGE_SIZE;
    assert_eq!(h.app.hex.pid, Some(31));
    assert_eq!(h.app.hex.cursor, page);
    assert_eq!(h.app.hex.highlight, Some(page..page + PAGE_SIZE));
    // Tab from the triage reaches the Diff pane.
    h.key(KeyCode::Char('7'));
    h.key(KeyCode::Tab);
    assert_eq!(h.app.focus, Pane::Diff);
}

#[test]
fn enter_on_another_evidences_difference_says_where_it_is() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("replica-1.tar");
    std::fs::write(&path, replica_tar(1, &Plant::default())).unwrap();
    let mut h = Harness::open(&path, &dir.path().join("data"), (120, 40));
    let rwx = Plant {
        rwx: true,
        ..Plant::default()
    };
    let peers: Vec<(String, Arc<dyn Evidence>)> = vec![
        ("two.tar".into(), Arc::new(replica(2, &Plant::default()))),
        ("three.tar".into(), Arc::new(replica(3, &rwx))),
    ];
    h.app.compare_with(peers);
    h.drain();
    h.key(KeyCode::Char('8'));
    h.key(KeyCode::Enter);
    assert_eq!(h.app.focus, Pane::Diff);
    assert!(
        h.screen().contains("this difference is in three.tar"),
        "{}",
        h.screen()
    );
}

fn replicas() -> Option<Vec<PathBuf>> {
    let dir = support::fixture("criu-replicas")?;
    Some(
        (1..=3)
            .map(|i| dir.join(format!("replica-{i}.tar")))
            .collect(),
    )
}

#[test]
fn the_tampered_replica_opened_first_jumps_to_its_masquerading_process() {
    let Some(paths) = replicas() else { return };
    let data = tempfile::tempdir().unwrap();
    let mut h = Harness::open(&paths[2], data.path(), (120, 40));
    let peers: Vec<(String, Arc<dyn Evidence>)> = paths[..2]
        .iter()
        .map(|p| {
            let ev: Arc<dyn Evidence> = Arc::new(Checkpoint::open(p).unwrap());
            (p.file_name().unwrap().to_string_lossy().into_owned(), ev)
        })
        .collect();
    h.app.compare_with(peers);
    h.drain();
    h.key(KeyCode::Char('8'));
    let screen = h.screen();
    assert!(screen.contains("10 differences  (open here)"), "{screen}");
    assert!(screen.contains("replica-1.tar: no differences"), "{screen}");
    assert!(screen.contains("replica-2.tar: no differences"), "{screen}");
    // First: the flagged process (started as `sleep`, comm and exe .kdevtmpfsi).
    assert!(
        screen.contains("1/3 +!process sleep 100000 (comm .kdevtmpfsi)"),
        "{screen}"
    );
    h.key(KeyCode::Enter);
    assert_eq!(h.app.focus, Pane::Processes);
    assert_eq!(h.app.selected_process().map(|p| p.pid), Some(15));
    // The rootfs file, last of its ten (row 0 is its header): the browser selects it.
    h.key(KeyCode::Char('8'));
    h.key(KeyCode::Home);
    for _ in 0..10 {
        h.key(KeyCode::Down);
    }
    assert!(h.screen().contains("path tmp/stage.sh"), "{}", h.screen());
    h.key(KeyCode::Enter);
    assert_eq!(h.app.focus, Pane::Rootfs);
}
