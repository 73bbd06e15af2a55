//! The task list of a synthetic kernel written as a LiME dump (`support::kernel_image`):
//! opened through `KernelDump` and the CLI like a real dump, then damaged: a `tasks.next`
//! pointing back to an earlier task, one pointing to itself, and the file cut short in the
//! middle of the range that holds the task_structs.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use crate::support;

use std::path::{Path, PathBuf};

use podmortem::engine::Evidence;
use podmortem::engine::kernel::dump::KernelDump;
use podmortem::engine::kernel::isf::CacheDir;
use support::kernel_image::{DIRECT_PHYS, TaskImage};

/// Runs `f` on its own thread and fails the test if it takes longer than 10 s.
fn within<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    support::walkers::within_secs(10, f)
}

/// The processes (pid, comm) and the warnings of an opened dump.
type Listing = (Vec<(u32, String)>, Vec<String>);

/// Opens the dump and lists its processes and the warnings, on a thread.
fn open_and_ps(dump: PathBuf, isf: PathBuf) -> Result<Listing, String> {
    within(move || {
        let d = KernelDump::open_with(&dump, &isf, &CacheDir::Off).map_err(|e| e.to_string())?;
        let ps = d
            .processes()
            .map_err(|e| e.to_string())?
            .into_iter()
            .map(|p| (p.pid, p.comm))
            .collect();
        Ok((ps, d.info().warnings))
    })
}

/// `podmortem ps --json` on the dump, on a thread: (exit success, stdout, stderr).
fn cli_ps(dump: &Path, isf: &Path) -> (bool, String, String) {
    cli(&["ps", "--json"], dump, isf)
}

/// init_task plus processes 1..=n (`task-N`, children of 1), in list order.
fn image(n: u64) -> TaskImage {
    let mut img = TaskImage::new();
    let mut first = 0;
    for pid in 1..=n {
        let t = img.add_task(pid, &format!("task-{pid}"), first);
        if pid == 1 {
            first = t;
        }
    }
    img
}

fn pids(ps: &[(u32, String)]) -> Vec<u32> {
    ps.iter().map(|(p, _)| *p).collect()
}

#[test]
fn intact_task_list() {
    let (dump, isf) = image(5).write("intact", None);
    let (ps, warnings) = open_and_ps(dump.clone(), isf.clone()).unwrap();
    assert_eq!(pids(&ps), [1, 2, 3, 4, 5]);
    assert_eq!(ps[2].1, "task-3");
    assert!(warnings.is_empty(), "{warnings:?}");
    let (ok, stdout, stderr) = cli_ps(&dump, &isf);
    assert!(ok, "{stderr}");
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(v.as_array().unwrap().len(), 5);
    assert_eq!(v[1]["ppid"], 1);
}

#[test]
fn task_list_looping_back_to_an_earlier_task() {
    let mut img = image(6);
    // 0 -> 1 -> 2 -> 3 -> 4 -> 2 -> ...: 5 and 6 are cut off by the loop.
    let (t2, t4) = (img.tasks[1], img.tasks[3]);
    img.link_next(t4, t2);
    let (dump, isf) = img.write("loop-back", None);
    let (ps, warnings) = open_and_ps(dump.clone(), isf.clone()).unwrap();
    assert_eq!(pids(&ps), [1, 2, 3, 4], "each task once");
    let loop_warning = warnings
        .iter()
        .find(|w| w.contains("task list") && w.contains("loop"))
        .unwrap_or_else(|| panic!("no loop warning in {warnings:?}"));
    assert!(
        loop_warning.contains(&format!("{t2:#x}")) && loop_warning.contains(&format!("{t4:#x}")),
        "{loop_warning}"
    );
    let (ok, stdout, stderr) = cli_ps(&dump, &isf);
    assert!(ok, "{stderr}");
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(v.as_array().unwrap().len(), 4);
}

#[test]
fn task_list_with_a_self_loop() {
    let mut img = image(5);
    let t3 = img.tasks[2];
    img.link_next(t3, t3);
    let (dump, isf) = img.write("self-loop", None);
    let (ps, warnings) = open_and_ps(dump, isf).unwrap();
    assert_eq!(pids(&ps), [1, 2, 3]);
    assert!(
        warnings
            .iter()
            .any(|w| w.contains("loop") && w.contains(&format!("{t3:#x}"))),
        "{warnings:?}"
    );
}

#[test]
fn lime_cut_in_the_middle_of_the_task_structs() {
    let img = image(64);
    let full = img.lime_bytes();
    // The direct map (every task_struct) is the last LiME range: find its header.
    let mut at = 0usize;
    let mut last = 0usize;
    while at + 32 <= full.len() {
        let start = u64::from_le_bytes(full[at + 8..at + 16].try_into().unwrap());
        let end = u64::from_le_bytes(full[at + 16..at + 24].try_into().unwrap());
        if start >= DIRECT_PHYS {
            last = at;
        }
        at += 32 + (end - start + 1) as usize;
    }
    assert!(last > 0);
    let range_len = full.len() - last - 32;
    for (name, keep) in [
        ("cut-mid-range", last + 32 + range_len / 2),
        ("cut-mid-page", last + 32 + range_len / 2 + 123),
        ("cut-in-header", last + 20),
        ("cut-at-range-start", last + 32),
    ] {
        let (dump, isf) = img.write(name, Some(keep));
        match open_and_ps(dump.clone(), isf.clone()) {
            Ok((ps, warnings)) => {
                // An answer: the tasks before the cut, once each, in order, and warnings
                // that say the file and the list were cut.
                let got = pids(&ps);
                assert!(got.len() < 64, "{name}: {got:?}");
                if name.starts_with("cut-mid") {
                    assert!(got.len() > 16, "{name}: {got:?}");
                }
                assert_eq!(got, (1..=got.len() as u32).collect::<Vec<_>>(), "{name}");
                assert!(!warnings.is_empty(), "{name}: no warning");
                assert!(
                    warnings
                        .iter()
                        .any(|w| w.contains("truncated") || w.contains("trailing")),
                    "{name}: {warnings:?}"
                );
                assert!(
                    warnings.iter().any(|w| w.contains("task list")),
                    "{name}: {warnings:?}"
                );
            }
            Err(e) => assert!(!e.is_empty(), "{name}"),
        }
        let (ok, stdout, stderr) = cli_ps(&dump, &isf);
        assert!(!stderr.contains("panicked"), "{name}: {stderr}");
        if ok {
            serde_json::from_str::<serde_json::Value>(&stdout).unwrap();
        } else {
            assert!(
                stderr.starts_with("error") || stderr.contains("cannot open"),
                "{name}: {stderr}"
            );
        }
    }
}

/// `podmortem ARGS DUMP --isf ISF` on a thread: (exit success, stdout, stderr).
fn cli(args: &[&str], dump: &Path, isf: &Path) -> (bool, String, String) {
    let (dump, isf) = (dump.to_path_buf(), isf.to_path_buf());
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    within(move || {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_podmortem"))
            .args(&args)
            .arg(&dump)
            .arg("--isf")
            .arg(&isf)
            .env("PODMORTEM_CACHE_DIR", dump.with_extension("cache"))
            .output()
            .unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    })
}

#[test]
fn a_damaged_maple_tree_is_reported_not_silently_cut() {
    use support::kernel_mem::{Internal, MmInfo, VM_READ, VM_WRITE, VmaSpec};
    let mut img = image(2);
    // 40 anonymous areas in a two-level tree; task 2's root slot 1 points back at the root.
    let specs: Vec<VmaSpec> = (0..40u64)
        .map(|i| VmaSpec {
            start: 0x1000_0000 + i * 0x2000,
            end: 0x1000_1000 + i * 0x2000,
            flags: VM_READ | VM_WRITE,
            ..Default::default()
        })
        .collect();
    for (n, &t) in img.tasks.clone().iter().enumerate() {
        let (mm, _) = img
            .k
            .add_mm_maple(&specs, &MmInfo::default(), Internal::Arange, 10);
        if n == 1 {
            img.k.maple_self_loop(mm, 1);
        }
        img.k.set(t, "task_struct", "mm", mm);
    }
    let (dump, isf) = img.write("maple-loop", None);
    let (ok, out, err) = cli(&["maps", "--pid", "1", "--json"], &dump, &isf);
    assert!(ok, "{err}");
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&out)
            .unwrap()
            .as_array()
            .unwrap()
            .len(),
        40
    );
    assert!(!err.contains("warning"), "{err}");
    let (ok, out, err) = cli(&["maps", "--pid", "2", "--json"], &dump, &isf);
    assert!(ok, "{err}");
    let listed = serde_json::from_str::<serde_json::Value>(&out)
        .unwrap()
        .as_array()
        .unwrap()
        .len();
    assert!(listed < 40, "{listed}");
    assert!(
        err.contains("podmortem: warning: pid 2 memory areas: maple node")
            && err.contains("(the list may be incomplete)"),
        "{err}"
    );
}
