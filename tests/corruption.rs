//! The corruption corpus (see `tests/support/corrupt/`): damaged copies of every shared
//! fixture, each opened by the real binary with every command under a 10 s CPU-time limit and an
//! address-space limit of 1 GiB plus the evidence's size. No run may panic, hang or fail to
//! allocate, and every error must name the damaged file.
//!
//! `cargo test` runs a deterministic sample against the debug binary; `scripts/corruption.sh`
//! runs the whole corpus against the release binary (`full_corpus`, ignored here) and prints
//! the counts table. The workbench's open path is checked on a sample too.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use crate::support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use support::corrupt::{
    self, Isf, Mutation, Outcome, Run, Sources, Subject, Workspace, classify, run_limited,
};

/// CPU time allowed to one run (see `support::cpu`: a loaded machine does not count).
const TIMEOUT: Duration = Duration::from_secs(10);
const GIB: u64 = 1 << 30;

fn sources() -> Option<Sources> {
    let tar = support::decompressed("criu-counter", "checkpoint-counter.tar.zst")?;
    let folder = support::extracted("criu-counter", &tar, "extracted");
    let lime = support::decompressed("linux-6.1", "dump.lime.zst")?;
    let avml = support::decompressed("linux-6.1", "dump.avml.zst")?;
    let elf = support::decompressed("linux-6.1-node", "dump.elf.zst")?;
    let isf_61 = support::fixture("linux-6.1")?.join("symbols/linux/linux-6.1.0-56-amd64.json.xz");
    let isf_node =
        support::fixture("linux-6.1-node")?.join("symbols/linux/linux-6.1.0-50-amd64.json.xz");
    Some(Sources {
        tar,
        folder,
        lime,
        avml,
        elf,
        isf_61,
        isf_node,
    })
}

/// The environment of every run: a private ISF cache (seeded from the tests' shared one) and
/// findings folder.
fn env_for(ws: &Workspace) -> Vec<(String, PathBuf)> {
    let cache = ws.dir.join("cache");
    let isf_cache = cache.join("isf");
    std::fs::create_dir_all(&isf_cache).unwrap();
    if let Ok(rd) = std::fs::read_dir(support::kernel::cache_root().join("isf")) {
        for e in rd.flatten() {
            let to = isf_cache.join(e.file_name());
            if !to.exists() {
                let _ = std::fs::copy(e.path(), to);
            }
        }
    }
    vec![
        ("PODMORTEM_CACHE_DIR".into(), cache),
        ("PODMORTEM_DATA_DIR".into(), ws.dir.join("data")),
    ]
}

/// The whole corpus.
fn corpus(ws: &Workspace, bin: &Path, env: &[(String, PathBuf)]) -> Vec<Mutation> {
    let src = ws.sources();
    let mut all = corrupt::checkpoint_mutations(ws.tar_bytes());
    for (subject, dump, isf_path) in [
        (Subject::Lime, &src.lime, &src.isf_61),
        (Subject::Avml, &src.avml, &src.isf_61),
        (Subject::Elf, &src.elf, &src.isf_node),
    ] {
        let facts = corrupt::dump_facts(bin, dump, isf_path, env);
        let isf = Isf::load(isf_path);
        all.extend(corrupt::dump_mutations(subject, dump, &isf, &facts));
    }
    all.extend(corrupt::isf_mutations(Subject::Lime));
    all.extend(corrupt::isf_mutations(Subject::Elf));
    all
}

/// A deterministic subset: a few of every (subject, class), the dumps' costly intact runs
/// left to the other tests.
fn sample(all: Vec<Mutation>) -> Vec<Mutation> {
    let mut groups: BTreeMap<(Subject, &str), Vec<Mutation>> = BTreeMap::new();
    for mu in all {
        groups.entry((mu.subject, mu.class)).or_default().push(mu);
    }
    let mut out = Vec::new();
    for ((subject, class), v) in groups {
        let want = match (subject.is_dump(), class) {
            (true, "baseline") => 0,
            (true, "isf") if subject == Subject::Lime => 3,
            (true, "isf") => 1,
            (true, _) => 1,
            (false, "baseline") => 1,
            (false, _) => 4,
        };
        let step = (v.len() / want.max(1)).max(1);
        out.extend(v.into_iter().step_by(step).take(want));
    }
    out
}

/// Runs every command on every mutation.
fn run_corpus(
    ws: &mut Workspace,
    bin: &Path,
    env: &[(String, PathBuf)],
    muts: &[Mutation],
) -> Vec<Run> {
    let mut runs = Vec::new();
    for mu in muts {
        let p = ws.prepare(mu);
        if let (corrupt::Edit::Isf(_), Some(isf)) = (&mu.edit, &p.isf) {
            // Build the damaged ISF's index once outside the timeout (a cold parse is slow
            // in a debug build); a failure here shows again in the timed runs.
            let args = vec![
                "info".to_string(),
                p.evidence.display().to_string(),
                "--isf".into(),
                isf.display().to_string(),
            ];
            let (st, err, _) = run_limited(
                bin,
                &args,
                GIB + p.size,
                Duration::from_secs(120),
                env,
                &ws.dir,
            );
            if st.is_none() {
                runs.push(Run {
                    mutation: mu.name.clone(),
                    class: mu.class,
                    args,
                    outcome: Outcome::Hang,
                    stderr: err,
                    elapsed: Duration::from_secs(120),
                });
            }
        }
        for args in corrupt::commands(mu.subject, &p) {
            let (st, stderr, elapsed) =
                run_limited(bin, &args, GIB + p.size, TIMEOUT, env, &ws.dir);
            let outcome = classify(st, &stderr, &p.names);
            runs.push(Run {
                mutation: mu.name.clone(),
                class: mu.class,
                args,
                outcome,
                stderr,
                elapsed,
            });
        }
        ws.finish(p);
    }
    runs
}

fn report(runs: &[Run], log: &Path) {
    use std::fmt::Write;
    let mut s = String::new();
    for r in runs {
        writeln!(
            s,
            "{:<18} {:>6.2}s {} :: {} :: {}",
            r.outcome.label(),
            r.elapsed.as_secs_f64(),
            r.mutation,
            r.args.join(" "),
            r.stderr.trim().replace('\n', " | ")
        )
        .unwrap();
    }
    std::fs::write(log, s).unwrap();
}

fn check(runs: &[Run]) {
    let bad: Vec<&Run> = runs
        .iter()
        .filter(|r| r.outcome.is_bug() || r.outcome == Outcome::ErrorUnnamed)
        .collect();
    let mut msg = String::new();
    for r in bad.iter().take(20) {
        msg.push_str(&format!(
            "\n{}: {} {}\n  {}",
            r.outcome.label(),
            r.mutation,
            r.args.join(" "),
            r.stderr.trim()
        ));
    }
    assert!(bad.is_empty(), "{} bad run(s):{msg}", bad.len());
}

#[test]
fn corruption_sample_never_panics_hangs_or_overallocates() {
    let Some(src) = sources() else { return };
    let bin = Path::new(env!("CARGO_BIN_EXE_podmortem"));
    let start = Instant::now();
    let mut ws = Workspace::new("sample", src);
    let env = env_for(&ws);
    let muts = sample(corpus(&ws, bin, &env));
    let runs = run_corpus(&mut ws, bin, &env, &muts);
    report(&runs, &ws.dir.join("runs.log"));
    eprintln!(
        "{} mutations, {} runs in {:?}\n{}",
        muts.len(),
        runs.len(),
        start.elapsed(),
        corrupt::table(&runs)
    );
    check(&runs);
}

/// The whole corpus; `scripts/corruption.sh` runs it against the release binary
/// (`PODMORTEM_BIN`) and prints the table.
#[test]
#[ignore = "minutes long: run by scripts/corruption.sh"]
fn full_corpus() {
    let Some(src) = sources() else { return };
    let bin = std::env::var_os("PODMORTEM_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_podmortem")));
    let start = Instant::now();
    let mut ws = Workspace::new("full", src);
    let env = env_for(&ws);
    let muts = corpus(&ws, &bin, &env);
    let runs = run_corpus(&mut ws, &bin, &env, &muts);
    let log = ws.dir.join("runs.log");
    report(&runs, &log);
    println!(
        "binary: {}\n{} mutations, {} runs in {:.0?} (every run: {})\n\n{}",
        bin.display(),
        muts.len(),
        runs.len(),
        start.elapsed(),
        log.display(),
        corrupt::table(&runs)
    );
    check(&runs);
}

/// The workbench's open path on damaged evidence: `App::new`, a frame of every pane, in a
/// thread that must finish within 10 s without panicking.
#[test]
fn workbench_opens_damaged_evidence() {
    let Some(src) = sources() else { return };
    let bin = Path::new(env!("CARGO_BIN_EXE_podmortem"));
    let mut ws = Workspace::new("tui", src);
    let env = env_for(&ws);
    let all = corrupt::checkpoint_mutations(ws.tar_bytes());
    // Every 25th checkpoint mutation plus a few damaged dumps.
    let mut muts: Vec<Mutation> = all.into_iter().step_by(25).collect();
    let lime = ws.sources().lime.clone();
    let isf61 = ws.sources().isf_61.clone();
    let facts = corrupt::dump_facts(bin, &lime, &isf61, &env);
    let dm = corrupt::dump_mutations(Subject::Lime, &lime, &Isf::load(&isf61), &facts);
    muts.extend(
        dm.into_iter()
            .filter(|m| ["page-tables", "task-loop", "maple-loop"].contains(&m.class)),
    );
    let data = ws.dir.join("data");
    let mut failures = Vec::new();
    for mu in &muts {
        let p = ws.prepare(mu);
        let (path, isf, data) = (p.evidence.clone(), p.isf.clone(), data.clone());
        let name = mu.name.clone();
        let run = support::cpu::try_within_cpu(TIMEOUT.as_secs(), move || {
            std::panic::catch_unwind(|| open_and_draw(&path, isf, &data)).is_ok()
        });
        match run {
            Ok(true) => {}
            Ok(false) => failures.push(format!("panic: {name}")),
            Err(why) => {
                failures.push(format!("hang: {name}: {why}"));
                break; // the thread cannot be stopped; the evidence must stay in place
            }
        }
        ws.finish(p);
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

fn open_and_draw(path: &Path, isf: Option<PathBuf>, data: &Path) {
    use crossterm::event::KeyCode;
    use podmortem::jobs::{Emitter, JobEvent, Jobs};
    use podmortem::tui::action::Action;
    use podmortem::tui::app::{App, SessionOptions};
    use podmortem::tui::{keymap, ui};
    use std::sync::Mutex;
    // Dumps through the tests' shared ISF cache (the CLI's default cache may be cold).
    let ev: Box<dyn podmortem::engine::evidence::Evidence> = match &isf {
        Some(isf) => match podmortem::engine::kernel::dump::KernelDump::open_with(
            path,
            isf,
            &support::kernel::isf_cache(),
        ) {
            Ok(d) => Box::new(d),
            Err(_) => return, // a clean error: what the workbench shows before exiting
        },
        None => match podmortem::engine::open::open_evidence(path, &Default::default()) {
            Ok(ev) => ev,
            Err(_) => return,
        },
    };
    let queue: Arc<Mutex<Vec<JobEvent>>> = Arc::default();
    let q = queue.clone();
    let emit: Emitter = Arc::new(move |e| q.lock().unwrap().push(e));
    let opts = SessionOptions {
        data_dir: Some(data.to_path_buf()),
    };
    let mut app = App::new(Arc::from(ev), Jobs::inline(emit), &opts);
    let drain = |app: &mut App| {
        loop {
            let batch: Vec<JobEvent> = std::mem::take(&mut *queue.lock().unwrap());
            if batch.is_empty() {
                break;
            }
            for e in batch {
                app.update(Action::Job(e));
            }
        }
    };
    app.update(Action::Resize(120, 40));
    drain(&mut app);
    let mut term = ratatui::Terminal::new(ratatui::backend::TestBackend::new(120, 40)).unwrap();
    for key in ['1', '2', '3', '4', '5', '6'] {
        for code in [KeyCode::Char(key), KeyCode::Down, KeyCode::Enter] {
            if let Some(a) = keymap::action_for(&app, crossterm::event::KeyEvent::from(code)) {
                app.update(a);
            }
            drain(&mut app);
        }
        term.draw(|f| ui::draw(f, &app)).unwrap();
    }
}

/// Regression: errors met after the evidence opened (a pid it lacks) name the evidence.
#[test]
fn errors_after_open_name_the_evidence() {
    let Some(tar) = support::decompressed("criu-counter", "checkpoint-counter.tar.zst") else {
        return;
    };
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_podmortem"))
        .args(["maps", "--pid", "4242"])
        .arg(&tar)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&*tar.to_string_lossy()), "{err}");
    assert!(err.contains("no process with pid 4242"), "{err}");
}

/// Regression: a tar cut inside a member says where it stops, instead of only that
/// `pstree.img` (a later member) is missing.
#[test]
fn truncated_tar_says_where_it_stops() {
    let Some(tar) = support::decompressed("criu-counter", "checkpoint-counter.tar.zst") else {
        return;
    };
    let bytes = std::fs::read(&tar).unwrap();
    let pages2 = corrupt::tar_members(&bytes)
        .into_iter()
        .find(|m| m.name == "checkpoint/pages-2.img")
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cut = dir.path().join("cut.tar");
    // Inside the member's data, then inside the next member's header.
    for (at, says) in [
        (pages2.data + 4096, "checkpoint/pages-2.img at 0x"),
        (
            pages2.data + pages2.size.div_ceil(512) * 512 + 100,
            "tar stops after offset 0x",
        ),
    ] {
        std::fs::write(&cut, &bytes[..at as usize]).unwrap();
        let err = podmortem::engine::checkpoint::Checkpoint::open(&cut)
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("pstree.img"), "{err}");
        assert!(err.contains(says), "{err}");
    }
}
