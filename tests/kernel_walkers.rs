//! Both kernel walkers (memory areas, open files and sockets) together: NULL pointers on a
//! synthetic kernel give errors or empty answers, and on the real `linux-6.1` dump they agree
//! with Volatility 3's goldens (proc.Maps, lsof, sockstat) and report no damage. Each walker's
//! own cases over the synthetic kernel are in `kernel_vmas.rs` and `kernel_files.rs`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::support;

use support::kernel::Symbols;

use podmortem::engine::evidence::VmaKind;
use podmortem::engine::kernel::files::{open_files, walk_open_files};
use podmortem::engine::kernel::vmas::{vmas, walk_vmas};
use serde_json::json;
use support::kernel_mem::*;
use support::walkers::by_fd;

#[test]
fn null_pointers_give_errors_or_empty_answers() {
    let mut k = SynthKernel::new(false);
    assert!(vmas(&k, 0).is_err());
    // An mm with an empty tree.
    let (mm, _) = k.add_mm_maple(&[], &MmInfo::default(), Internal::Arange, 10);
    assert!(vmas(&k, mm).unwrap().is_empty());
    // A task without files or fs (a kernel thread or a zombie).
    let task = k.alloc_struct("task_struct");
    assert!(open_files(&k, 2, task).unwrap().is_empty());
    // A file with a NULL dentry, and a VMA whose file is not in the dump.
    let f = k.add_file(&["y"], S_IFREG, 91);
    let p = f + k.off("file", "f_path");
    k.set(p, "path", "dentry", 0);
    let task = k.add_task(&[(0, f)], 4, None, None);
    let w = walk_open_files(&k, 3, task).unwrap();
    assert!(
        w.items.is_empty() && w.problems.len() == 1,
        "{:?}",
        w.problems
    );
    let specs = [
        VmaSpec {
            start: 0x1000,
            end: 0x2000,
            flags: VM_READ,
            file: 0xffff_c900_0bad_0000,
            ..Default::default()
        },
        VmaSpec {
            start: 0x3000,
            end: 0x4000,
            flags: VM_READ,
            ..Default::default()
        },
    ];
    let (mm, _) = k.add_mm_maple(&specs, &MmInfo::default(), Internal::Arange, 10);
    let w = walk_vmas(&k, mm, None).unwrap();
    assert_eq!(w.items.len(), 1);
    assert_eq!(w.problems.len(), 1, "{:?}", w.problems);
    // A mm whose tree root is not in the dump.
    let mm = k.alloc(0x300, 64) + 0x10_0000;
    assert!(vmas(&k, mm).is_err());
}

// ----- the real linux-6.1 dump against Volatility's goldens -----

/// Volatility's proc.Maps rows of `pid` as (start, end, flags, pgoff, path, inode, dev).
fn golden_maps(pid: u64) -> Vec<(u64, u64, String, u64, String, u64, String)> {
    let rows = support::golden_json("linux-6.1", "dump.lime/linux.proc.Maps.json");
    rows.as_array()
        .unwrap()
        .iter()
        .filter(|r| r["PID"] == json!(pid))
        .map(|r| {
            (
                r["Start"].as_u64().unwrap(),
                r["End"].as_u64().unwrap(),
                r["Flags"].as_str().unwrap().to_string(),
                r["PgOff"].as_u64().unwrap(),
                r["File Path"].as_str().unwrap().to_string(),
                r["Inode"].as_u64().unwrap(),
                format!("{}:{}", r["Major"], r["Minor"]),
            )
        })
        .collect()
}

#[test]
fn fixture_maps_match_volatility() {
    use podmortem::engine::evidence::Evidence;
    for dump in [Symbols::Isf, Symbols::Own].map(support::kernel::lime_with) {
        let Some(dump) = dump else {
            return;
        };
        for pid in [1u64, 102, 107, 108] {
            let ours = dump.maps(pid as u32).unwrap();
            let golden = golden_maps(pid);
            assert_eq!(ours.len(), golden.len(), "pid {pid}");
            for (v, g) in ours.iter().zip(&golden) {
                // Volatility prints "Anonymous Mapping" for unnamed areas and for [vvar].
                let path = match (v.kind, v.path.as_deref()) {
                    (VmaKind::Vvar, _) | (_, None) => "Anonymous Mapping",
                    (_, Some(p)) => p,
                };
                let flags = &v.perms.to_string()[..3];
                let got = (v.start, v.end, flags.to_string(), v.pgoff, path.to_string());
                let want = (g.0, g.1, g.2.clone(), g.3, g.4.clone());
                assert_eq!(got, want, "pid {pid}");
                assert_eq!(v.inode.unwrap_or(0), g.5, "pid {pid} {:#x}", v.start);
                assert_eq!(
                    v.dev.clone().unwrap_or_else(|| "0:0".into()),
                    g.6,
                    "pid {pid} {:#x}",
                    v.start
                );
            }
        }
        // The kernel's own name for the vvar pages, as /proc/102/maps shows it.
        let m = dump.maps(102).unwrap();
        assert_eq!(m[9].path.as_deref(), Some("[vvar]"));
    }
}

#[test]
fn fixture_files_match_volatility_lsof_and_sockstat() {
    use podmortem::engine::evidence::Evidence;
    for dump in [Symbols::Isf, Symbols::Own].map(support::kernel::lime_with) {
        let Some(dump) = dump else {
            return;
        };
        let lsof = support::golden_json("linux-6.1", "dump.lime/linux.lsof.Lsof.json");
        for pid in [1u32, 102, 107, 108, 317] {
            let ours = dump.files(pid).unwrap();
            let rows: Vec<_> = lsof
                .as_array()
                .unwrap()
                .iter()
                .filter(|r| r["PID"] == json!(pid) && r["TID"] == json!(pid))
                .collect();
            let fds: Vec<_> = ours.iter().filter(|f| f.fd.is_some()).collect();
            assert_eq!(fds.len(), rows.len(), "pid {pid}: {fds:#?}");
            for r in rows {
                let f = by_fd(&ours, r["FD"].as_i64().unwrap());
                // Volatility writes a deleted file as " PATH (deleted)" (leading space).
                assert_eq!(
                    f.path,
                    r["Path"].as_str().unwrap().trim_start(),
                    "pid {pid}"
                );
                assert_eq!(
                    serde_json::to_value(&f.details).unwrap()["inode"],
                    r["Inode"],
                    "pid {pid} fd {}",
                    r["FD"]
                );
            }
            assert!(ours.iter().any(|f| f.kind == "cwd") && ours.iter().any(|f| f.kind == "root"));
        }
        let f = dump.files(102).unwrap();
        let s = by_fd(&f, 6);
        assert_eq!(
            (
                &serde_json::to_value(&s.details).unwrap()["state"],
                &serde_json::to_value(&s.details).unwrap()["src"],
                &serde_json::to_value(&s.details).unwrap()["src_port"],
                &serde_json::to_value(&s.details).unwrap()["dst"],
                &serde_json::to_value(&s.details).unwrap()["dst_port"]
            ),
            (
                &json!("ESTABLISHED"),
                &json!("127.0.0.1"),
                &json!(4444),
                &json!("127.0.0.1"),
                &json!(42792)
            )
        );
        assert_eq!(
            serde_json::to_value(&by_fd(&f, 5).details).unwrap()["state"],
            json!("LISTEN")
        );
        let u = dump.files(108).unwrap();
        let u = by_fd(&u, 3);
        assert_eq!(
            (
                &serde_json::to_value(&u.details).unwrap()["family"],
                &serde_json::to_value(&u.details).unwrap()["name"],
                &serde_json::to_value(&u.details).unwrap()["state"]
            ),
            (
                &json!("unix"),
                &json!("/tmp/fxagent.sock"),
                &json!("LISTEN")
            )
        );
    }
}

#[test]
fn fixture_walks_report_no_damage() {
    use podmortem::engine::evidence::Evidence;
    for dump in [Symbols::Isf, Symbols::Own].map(support::kernel::lime_with) {
        let Some(dump) = dump else {
            return;
        };
        let mut n = 0;
        for p in dump.processes().unwrap() {
            let t = dump.task(p.pid).unwrap();
            if t.mm == 0 {
                continue;
            }
            let w = walk_vmas(dump.space(), t.mm, None).unwrap();
            assert!(w.problems.is_empty(), "pid {}: {:?}", p.pid, w.problems);
            assert!(!w.items.is_empty());
            let f = walk_open_files(dump.space(), p.pid, t.task).unwrap();
            assert!(f.problems.is_empty(), "pid {}: {:?}", p.pid, f.problems);
            n += 1;
        }
        assert!(n >= 8, "{n} user processes");
    }
}
