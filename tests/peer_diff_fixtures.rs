//! `podmortem diff` on the real checkpoints of ../shared/fixtures: the three replicas, one
//! tampered with (criu-replicas/README.md lists every planted difference and the benign
//! ones), and the counter workload checkpointed twice (CRIU 3.17 and 4.2).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use crate::support;

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::Command;

use podmortem::engine::checkpoint::Checkpoint;
use podmortem::engine::diff::{DiffReport, Direction, Kind, diff};
use podmortem::engine::evidence::Evidence;
use serde_json::Value;

fn replicas() -> Option<Vec<PathBuf>> {
    let dir = support::fixture("criu-replicas")?;
    Some(
        (1..=3)
            .map(|i| dir.join(format!("replica-{i}.tar")))
            .collect(),
    )
}

/// `podmortem diff PATHS... --json`, parsed.
fn cli_json(paths: &[PathBuf]) -> Value {
    let out = Command::new(env!("CARGO_BIN_EXE_podmortem"))
        .arg("diff")
        .args(paths)
        .arg("--json")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn diffs(peer: &Value) -> &Vec<Value> {
    peer["differences"].as_array().unwrap()
}

/// (kind, pid, path, port, variable) of a difference.
type Ids = (
    String,
    Option<u64>,
    Option<String>,
    Option<u64>,
    Option<String>,
);

/// The identifiers of each difference, sorted, for exact comparison.
fn summary(peer: &Value) -> BTreeSet<Ids> {
    diffs(peer)
        .iter()
        .map(|d| {
            (
                d["kind"].as_str().unwrap().to_string(),
                d["pid"].as_u64(),
                d["path"].as_str().map(String::from),
                d["port"].as_u64(),
                d["variable"].as_str().map(String::from),
            )
        })
        .collect()
}

#[test]
fn three_replicas_the_tampered_one_has_exactly_the_planted_differences() {
    let Some(paths) = replicas() else { return };
    let v = cli_json(&paths);
    let peers = v["peers"].as_array().unwrap();
    assert_eq!(peers.len(), 3);
    for (peer, path) in peers.iter().zip(&paths) {
        assert_eq!(peer["evidence"], path.to_str().unwrap());
    }
    // The clean ones: nothing (env order, mount order, ids, pipe inodes, ASLR, tmpfs-dev
    // numbers and stats counters all differ between them, and are noise).
    assert_eq!(diffs(&peers[0]), &Vec::<Value>::new(), "replica-1");
    assert_eq!(diffs(&peers[1]), &Vec::<Value>::new(), "replica-2");
    let some = |s: &str| Some(s.to_string());
    let want: BTreeSet<_> = [
        // The four processes the compromise started (README: PROCESSES BEFORE CHECKPOINT).
        ("process", Some(15), some("/tmp/.kdevtmpfsi"), None, None),
        ("process", Some(27), some("/bin/busybox"), None, None),
        ("process", Some(33), some("/bin/busybox"), None, None),
        ("process", Some(34), some("/bin/busybox"), None, None),
        // The second listener.
        ("socket", Some(27), None, Some(4444), None),
        // The stolen token in pid 34's environment, and SHLVL=2 beside it: pid 34 is a
        // shell's child where every baseline process has SHLVL=1 (README: "environ has
        // STOLEN_TOKEN=ghp_exfil123 (SHLVL=2)").
        ("env", Some(34), None, None, some("STOLEN_TOKEN")),
        ("env", Some(34), None, None, some("SHLVL")),
        // files.img's new REG /tmp/.kdevtmpfsi: pid 15's executable.
        ("file", Some(15), some("/tmp/.kdevtmpfsi"), None, None),
        // rootfs-diff.tar exists only in replica-3.
        ("rootfs", None, some("tmp/.kdevtmpfsi"), None, None),
        ("rootfs", None, some("tmp/stage.sh"), None, None),
    ]
    .into_iter()
    .map(|(k, pid, path, port, var)| (k.to_string(), pid, path, port, var))
    .collect();
    assert_eq!(summary(&peers[2]), want);
    for d in diffs(&peers[2]) {
        assert_eq!(d["direction"], "extra", "{d}");
        assert_eq!(d["present_in"], 1, "{d}");
        assert!(d["description"].as_str().is_some_and(|s| !s.is_empty()));
    }
    let text = |kind: &str, pid: u64| -> String {
        diffs(&peers[2])
            .iter()
            .filter(|d| d["kind"] == kind && d["pid"] == pid)
            .map(|d| d["description"].as_str().unwrap().to_string())
            .collect::<Vec<_>>()
            .join("\n")
    };
    // The masquerade: started as "sleep", comm and exe say .kdevtmpfsi.
    let masq = text("process", 15);
    assert!(
        masq.contains("sleep 100000") && masq.contains(".kdevtmpfsi"),
        "{masq}"
    );
    assert!(masq.contains("argv[0] names another program"), "{masq}");
    // Ranked first among the equally rare: it is flagged.
    assert_eq!(diffs(&peers[2])[0]["pid"], 15);
    assert_eq!(diffs(&peers[2])[0]["suspicious"], true);
    assert_eq!(diffs(&peers[2])[1].get("suspicious"), None);
    assert!(text("env", 34).contains("STOLEN_TOKEN=ghp_exfil123"));
    assert!(text("socket", 27).contains("listener") && text("socket", 27).contains("4444"));
    let rootfs: Vec<&Value> = diffs(&peers[2])
        .iter()
        .filter(|d| d["kind"] == "rootfs")
        .collect();
    assert!(
        rootfs
            .iter()
            .any(|d| d["description"].as_str().unwrap().contains("1982256 bytes"))
    );
    // The baseline: the three processes every replica runs, and their listener.
    let b = &v["baseline"];
    assert_eq!(b["peers"], 3);
    assert_eq!(b["majority"], 2);
    assert_eq!(b["processes"].as_array().unwrap().len(), 3);
    assert_eq!(b["listeners"].as_array().unwrap().len(), 1);
    assert!(b["listeners"][0].as_str().unwrap().contains("8080"));
}

#[test]
fn the_two_clean_replicas_have_no_differences() {
    let Some(paths) = replicas() else { return };
    let v = cli_json(&paths[..2]);
    assert_eq!(v["baseline"]["peers"], 2);
    for peer in v["peers"].as_array().unwrap() {
        assert_eq!(diffs(peer), &Vec::<Value>::new(), "{}", peer["evidence"]);
    }
}

#[test]
fn two_replicas_one_tampered_list_only_its_extras() {
    let Some(paths) = replicas() else { return };
    // Two inputs: no majority; each lists what the other lacks (here replica-1 nothing).
    let v = cli_json(&[paths[0].clone(), paths[2].clone()]);
    let peers = v["peers"].as_array().unwrap();
    assert_eq!(diffs(&peers[0]), &Vec::<Value>::new());
    assert_eq!(diffs(&peers[1]).len(), 10);
    assert!(
        diffs(&peers[1])
            .iter()
            .all(|d| d["present_in"] == 1 && d["direction"] == "extra")
    );
}

#[test]
fn three_replicas_diff_in_well_under_two_seconds_of_cpu() {
    let Some(paths) = replicas() else { return };
    // Opening the three and comparing them; the debug build (the release CLI: ~0.02 s).
    let report = support::cpu::within_cpu(2, move || {
        let cks: Vec<Checkpoint> = paths.iter().map(|p| Checkpoint::open(p).unwrap()).collect();
        let evs: Vec<&dyn Evidence> = cks.iter().map(|c| c as &dyn Evidence).collect();
        diff(&evs, &["1", "2", "3"]).unwrap()
    });
    assert_eq!(report.peers[2].differences.len(), 10);
}

fn counter_pair() -> Option<DiffReport> {
    let a = support::decompressed("criu-counter", "checkpoint-counter.tar.zst")?;
    let b = support::decompressed("criu-counter-criu42", "checkpoint-counter.tar.zst")?;
    let a = Checkpoint::open(&a).unwrap();
    let b = Checkpoint::open(&b).unwrap();
    Some(diff(&[&a as &dyn Evidence, &b], &["criu-3.17", "criu-4.2"]).unwrap())
}

/// The same workload (bash, counter.py, tee; the same three requests) checkpointed twice,
/// by CRIU 3.17 and 4.2. Different between them and left out as noise: the pids (1, 6, 7
/// and 1, 7, 8), the container id, hostname and addresses, every ASLR base, the pagemap's
/// format (CRIU 4.2 moved the page count), the secret's position and the counter values in
/// the python heap (memory contents outside code pages are not compared), pipe inodes,
/// timestamps. What really differs: the request log the container wrote to
/// /home/counter/logfile, whose lines carry the time of each request (06:35:16 and
/// 06:44:01): same size, other bytes. Each peer lists its version, with the other's hash.
#[test]
fn the_counter_checkpointed_twice_differs_only_in_its_log_file() {
    let Some(r) = counter_pair() else { return };
    assert_eq!(r.baseline.processes.len(), 3, "{:?}", r.baseline.processes);
    assert!(r.baseline.listeners[0].contains("8088"));
    assert!(r.baseline.code_pages.compared > 0);
    assert_eq!(r.baseline.code_pages.differing, 0);
    for p in &r.peers {
        assert!(p.warnings.is_empty(), "{}: {:?}", p.evidence, p.warnings);
        assert_eq!(
            p.differences.len(),
            1,
            "{}: {:#?}",
            p.evidence,
            p.differences
        );
        let d = &p.differences[0];
        assert_eq!((d.kind, d.direction), (Kind::Rootfs, Direction::Extra));
        assert_eq!(d.at.path.as_deref(), Some("home/counter/logfile"));
        assert!(d.description.contains("252 bytes"), "{}", d.description);
        assert!(d.instead_of.as_deref().unwrap().contains("252 bytes"));
    }
    assert_ne!(r.peers[0].differences[0].key, r.peers[1].differences[0].key);
}
