//! The hex viewer reads the evidence in update only: never while drawing, not at all when an
//! update changed nothing it shows, and a bounded number of pages per update however large
//! the area of one value (timing-free checks, for a loaded CI machine). The timed tours are
//! in `tui_perf`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use crate::support;

use std::ops::Range;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use podmortem::engine::checkpoint::proto::mm as vm;
use podmortem::engine::evidence::{
    Evidence, EvidenceInfo, OpenFile, PartialRead, Pid, Process, Vma, Walk,
};
use podmortem::engine::open::{OpenOptions, open_evidence};
use podmortem::jobs::Jobs;
use podmortem::tui::action::{Action, Pane};
use podmortem::tui::app::{App, SessionOptions};
use podmortem::tui::ui;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use support::ckpt::{self, Proc};

use crate::tui_perf::SIZE;

/// Evidence that counts its reads of process memory.
struct Counting {
    inner: Box<dyn Evidence>,
    reads: AtomicUsize,
}

impl Counting {
    fn count(&self) {
        self.reads.fetch_add(1, Ordering::Relaxed);
    }
}

impl Evidence for Counting {
    fn info(&self) -> EvidenceInfo {
        self.inner.info()
    }
    fn processes(&self) -> podmortem::engine::error::Result<Vec<Process>> {
        self.inner.processes()
    }
    fn maps(&self, pid: Pid) -> podmortem::engine::error::Result<Walk<Vma>> {
        self.inner.maps(pid)
    }
    fn environment(&self, pid: Pid) -> podmortem::engine::error::Result<Vec<String>> {
        self.inner.environment(pid)
    }
    fn files(&self, pid: Pid) -> podmortem::engine::error::Result<Walk<OpenFile>> {
        self.inner.files(pid)
    }
    fn read_memory(
        &self,
        pid: Pid,
        addr: u64,
        buf: &mut [u8],
    ) -> podmortem::engine::error::Result<PartialRead> {
        self.count();
        self.inner.read_memory(pid, addr, buf)
    }
    fn captured_ranges(
        &self,
        pid: Pid,
        range: Range<u64>,
    ) -> podmortem::engine::error::Result<Vec<Range<u64>>> {
        self.count();
        self.inner.captured_ranges(pid, range)
    }
    fn memory_slice(&self, pid: Pid, addr: u64, len: usize) -> Option<&[u8]> {
        self.count();
        self.inner.memory_slice(pid, addr, len)
    }
}

/// An app (with inline jobs) over evidence that counts its reads of process memory.
fn counting_app(path: &std::path::Path, data: &std::path::Path) -> (App, Arc<Counting>) {
    let ev = Arc::new(Counting {
        inner: open_evidence(path, &OpenOptions::default()).unwrap(),
        reads: AtomicUsize::new(0),
    });
    let opts = SessionOptions {
        data_dir: Some(data.to_path_buf()),
    };
    let app = App::new(ev.clone(), Jobs::inline(Arc::new(|_| {})), &opts);
    (app, ev)
}

#[test]
fn the_hex_viewer_reads_in_update_and_never_while_drawing() {
    let demo = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/demo-checkpoint.tar");
    let data = tempfile::tempdir().unwrap();
    let (mut app, ev) = counting_app(&demo, data.path());
    let reads = || ev.reads.load(Ordering::Relaxed);
    let mut drawn = 0;
    let mut draw_checked = |app: &App| {
        let before = reads();
        for _ in 0..3 {
            let mut t = Terminal::new(TestBackend::new(app.size.0, app.size.1)).unwrap();
            t.draw(|f| ui::draw(f, app)).unwrap();
        }
        assert_eq!(reads(), before, "drawing read the evidence");
        drawn += 1;
    };
    app.update(Action::Resize(SIZE.0, SIZE.1));
    app.update(Action::Focus(Pane::Maps));
    let before = reads();
    app.update(Action::Enter);
    assert_eq!(app.focus, Pane::Hex);
    assert!(reads() > before, "opening the viewer read nothing");
    draw_checked(&app);
    for a in [
        Action::Down,
        Action::PageDown,
        Action::Right,
        Action::Select,
        Action::Down,
        Action::End,
        Action::Home,
        Action::Resize(120, 40),
        Action::Resize(80, 24),
    ] {
        app.update(a);
        draw_checked(&app);
        // Nothing changed: the caches are up to date, nothing is read.
        let before = reads();
        app.update(Action::Resize(app.size.0, app.size.1));
        assert_eq!(
            reads(),
            before,
            "a refresh with nothing changed read the evidence"
        );
    }
    assert_eq!(drawn, 10);
}

/// Writes a checkpoint of one process (pid 1) with one memory area of 64 MiB, every page
/// captured, every byte 0x41 except a few near the start: the worst case for folds, as every
/// page must be read to know it repeats the row. Returns the archive's path.
pub(crate) fn uniform_checkpoint(dir: &std::path::Path) -> std::path::PathBuf {
    const BASE: u64 = 0x7f00_0000_0000;
    let end = BASE + (64 << 20);
    let mut p = Proc {
        pid: 1,
        pgid: 1,
        sid: 1,
        threads: vec![(1, "app".into())],
        comm: "app".into(),
        files_id: 1,
        vmas: vec![ckpt::vma(
            BASE,
            end,
            3,
            vm::MAP_PRIVATE | vm::MAP_ANONYMOUS,
            vm::VMA_AREA_REGULAR | vm::VMA_ANON_PRIVATE,
            0,
            0,
        )],
        ..Default::default()
    };
    for page in (BASE..end).step_by(4096) {
        p.mem.insert(page, vec![0x41; 4096]);
    }
    p.poke(BASE + 0x10, b"not the same bytes");
    let c = ckpt::Checkpoint {
        procs: vec![p],
        files: vec![ckpt::reg_file(1, "/bin/app", 0o100755)],
        hostname: "synthetic".into(),
        ..Default::default()
    };
    let tar = dir.join("uniform.tar");
    std::fs::write(&tar, c.to_tar()).unwrap();
    tar
}

#[test]
fn each_update_reads_a_bounded_number_of_pages() {
    // An update of the hex viewer reads at most 2048 pages to count folds (view.rs's
    // READ_SHARE), plus the pages of the rows it shows.
    const BOUND: usize = 2048 + 2 * 60 + 8;
    let dir = tempfile::tempdir().unwrap();
    let tar = uniform_checkpoint(dir.path());
    let (mut app, ev) = counting_app(&tar, dir.path());
    let reads = || ev.reads.load(Ordering::Relaxed);
    app.update(Action::Resize(SIZE.0, SIZE.1));
    app.update(Action::Focus(Pane::Maps));
    let screen = |app: &App| {
        let mut t = Terminal::new(TestBackend::new(app.size.0, app.size.1)).unwrap();
        t.draw(|f| ui::draw(f, app)).unwrap();
        format!("{:?}", t.backend().buffer())
    };
    let mut most = 0;
    let mut pending = Vec::new();
    let actions = [Action::Enter, Action::Down, Action::Down, Action::Down]
        .into_iter()
        .chain(std::iter::repeat_n(Action::Down, 8))
        .chain([
            Action::End,
            Action::Home,
            Action::PageDown,
            Action::PageDown,
        ]);
    for a in actions {
        let before = reads();
        app.update(a);
        most = most.max(reads() - before);
        pending.push(screen(&app).contains("counting identical rows"));
    }
    assert!(most <= BOUND, "an update read {most} pages");
    // 64 MiB of pages to count: the first screens say so, then the counting is done.
    assert!(pending[0], "the first screen counted 64 MiB at once");
    assert!(!pending[pending.len() - 1]);
    assert!(pending.iter().skip_while(|p| **p).all(|p| !p));
}

#[test]
fn counting_finishes_on_ticks_without_keys() {
    // The event loop sends ticks while the viewer is busy: the count ends by itself, each
    // tick a bounded step, and then the workbench is idle (no more ticks).
    let dir = tempfile::tempdir().unwrap();
    let tar = uniform_checkpoint(dir.path());
    let (mut app, _ev) = counting_app(&tar, dir.path());
    app.update(Action::Resize(SIZE.0, SIZE.1));
    app.update(Action::Focus(Pane::Maps));
    app.update(Action::Enter);
    assert!(
        app.busy(),
        "64 MiB of one byte is not counted in one update"
    );
    let mut ticks = 0;
    while app.busy() {
        app.update(Action::Tick);
        ticks += 1;
        assert!(ticks < 1000, "the count never ends");
    }
    let mut t = Terminal::new(TestBackend::new(app.size.0, app.size.1)).unwrap();
    t.draw(|f| ui::draw(f, &app)).unwrap();
    let screen = format!("{:?}", t.backend().buffer());
    assert!(!screen.contains("counting identical rows"));
}
