//! Checkpoints of other architectures: an AArch64 dump (CRIU keeps its registers in
//! `ti_aarch64`, which podmortem does not decode) opens with every pane and names its
//! architecture in `info`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use crate::support;

use crossterm::event::KeyCode;
use podmortem::engine::checkpoint::pagemap::PAGE_SIZE;
use podmortem::engine::checkpoint::proto::{March, mm as vm};
use podmortem::engine::open::{OpenOptions, open_evidence};
use support::ckpt::{self, Proc};
use support::tui::Harness;

const BASE: u64 = 0xffff_8000_0000;

#[test]
fn an_aarch64_checkpoint_opens_with_every_pane() {
    let mut p = Proc {
        pid: 1,
        pgid: 1,
        sid: 1,
        threads: vec![(1, "arm-app".into()), (2, "worker".into())],
        comm: "arm-app".into(),
        files_id: 1,
        march: Some(March::Aarch64 as i32),
        vmas: vec![ckpt::vma(
            BASE,
            BASE + 4 * PAGE_SIZE,
            3,
            vm::MAP_PRIVATE | vm::MAP_ANONYMOUS,
            vm::VMA_AREA_REGULAR | vm::VMA_ANON_PRIVATE,
            0,
            0,
        )],
        ..Default::default()
    };
    p.arg = p.strings(BASE, &["/usr/bin/arm-app", "--serve"]);
    p.env = p.strings(BASE + 0x100, &["ARCH=arm64"]);
    let c = ckpt::Checkpoint {
        procs: vec![p],
        files: vec![ckpt::reg_file(1, "/usr/bin/arm-app", 0o100755)],
        hostname: "graviton".into(),
        ..Default::default()
    };
    let dir = tempfile::tempdir().unwrap();
    let tar = dir.path().join("arm.tar");
    std::fs::write(&tar, c.to_tar()).unwrap();
    let ev = open_evidence(&tar, &OpenOptions::default()).unwrap();
    let info = ev.info();
    assert!(info.warnings.is_empty(), "{:?}", info.warnings);
    assert_eq!(info.details["summary"]["architecture"], "aarch64");
    let procs = ev.processes().unwrap();
    assert_eq!(procs[0].cmdline, ["/usr/bin/arm-app", "--serve"]);
    assert_eq!(procs[0].threads.len(), 2);
    assert_eq!(ev.environment(1).unwrap(), ["ARCH=arm64"]);
    assert_eq!(ev.maps(1).unwrap().items.len(), 1);
    // Every pane draws.
    let mut h = Harness::open(&tar, dir.path(), (120, 40));
    for k in ['1', '2', '3', '4', '5', '6'] {
        h.key(KeyCode::Char(k));
        let screen = h.screen();
        assert!(!screen.is_empty());
    }
    h.key(KeyCode::Char('1'));
    assert!(h.screen().contains("arm-app"));
}
