//! Triage on the real evidence of ../shared/fixtures: the tampered replica's compromise
//! ranks first, the clean replica raises nothing high, Volatility's malfind areas are all
//! reported on both kernel dumps, the planted credential-shaped secrets are found (masked).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::path::Path;
use std::process::Command;
use std::sync::atomic::AtomicBool;

use crate::support;

use podmortem::engine::evidence::Evidence;
use podmortem::engine::triage::{Detection, Options, Rule, Severity, triage};
use serde_json::Value;

/// `podmortem triage PATH --json [extra]`, parsed.
fn cli(path: &Path, extra: &[&str]) -> Vec<Value> {
    let out = Command::new(env!("CARGO_BIN_EXE_podmortem"))
        .arg("triage")
        .arg(path)
        .arg("--json")
        .args(extra)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice::<Value>(&out.stdout)
        .unwrap()
        .as_array()
        .unwrap()
        .clone()
}

fn replica(n: u32) -> Option<std::path::PathBuf> {
    Some(support::fixture("criu-replicas")?.join(format!("replica-{n}.tar")))
}

#[test]
fn the_tampered_replicas_compromise_ranks_first() {
    let Some(path) = replica(3) else {
        eprintln!("skipped: criu-replicas fixture absent");
        return;
    };
    let r = cli(&path, &[]);
    let top: Vec<(&str, &str, u64)> = r
        .iter()
        .take(3)
        .map(|d| {
            (
                d["rule"].as_str().unwrap(),
                d["severity"].as_str().unwrap(),
                d["pid"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        top,
        vec![
            ("memory.exe_path", "critical", 15),
            ("process.spoofed_name", "high", 15),
            ("network.listener", "high", 27),
        ],
        "{r:#?}"
    );
    assert_eq!(r[0]["path"], "/tmp/.kdevtmpfsi");
    assert_eq!(r[2]["port"], 4444);
    // The stolen token: in pid 34's environment and pid 33's heap, masked.
    let token: Vec<&Value> = r
        .iter()
        .filter(|d| d["variable"] == "STOLEN_TOKEN")
        .collect();
    let pids: Vec<u64> = token.iter().map(|d| d["pid"].as_u64().unwrap()).collect();
    assert_eq!(pids, vec![34, 33], "{token:#?}");
    assert_eq!(token[0]["rule"], "credentials.env");
    assert_eq!(token[1]["rule"], "credentials.memory");
    assert!(token[1]["address"].as_str().unwrap().starts_with("0x"));
    for t in &token {
        assert_eq!(t["secret"], "ghp_… (12 chars)");
        assert_eq!(t["secret_kind"], "GitHub token");
    }
    assert!(!serde_json::to_string(&r).unwrap().contains("exfil123"));
    let shown = cli(&path, &["--show-secrets", "--min-severity", "high"]);
    assert!(
        serde_json::to_string(&shown)
            .unwrap()
            .contains("ghp_exfil123")
    );
    assert!(
        shown
            .iter()
            .all(|d| d["severity"] == "high" || d["severity"] == "critical")
    );
}

#[test]
fn the_clean_replica_raises_nothing_high() {
    let Some(path) = replica(1) else {
        eprintln!("skipped: criu-replicas fixture absent");
        return;
    };
    let r = cli(&path, &[]);
    assert!(
        r.iter()
            .all(|d| d["severity"] != "high" && d["severity"] != "critical"),
        "{r:#?}"
    );
    // Its one listener, inside the container.
    assert!(
        r.iter()
            .any(|d| d["rule"] == "network.listener" && d["port"] == 8080)
    );
}

#[test]
fn the_tmpfs_service_account_token_is_reported() {
    let Some(dir) = support::fixture("criu-tmpfs") else {
        eprintln!("skipped: criu-tmpfs fixture absent");
        return;
    };
    let r = cli(&dir.join("tmpfs-sa-token.tar"), &[]);
    let sa: Vec<&Value> = r
        .iter()
        .filter(|d| d["rule"] == "credentials.service_account")
        .collect();
    assert_eq!(sa.len(), 1, "{r:#?}");
    assert_eq!(
        sa[0]["path"],
        "/var/run/secrets/kubernetes.io/serviceaccount/token"
    );
}

fn detections(ev: &dyn Evidence) -> Vec<Detection> {
    let r = triage(
        ev,
        &Options::default(),
        &AtomicBool::new(false),
        &mut |_| {},
    )
    .unwrap();
    assert!(!r.stopped);
    r.detections
}

/// Every area of Volatility's malfind golden is a `memory.rwx` or `memory.anon_exec`
/// detection of the same process and range.
fn assert_malfind(ds: &[Detection], fixture: &str, golden: &str) {
    let g = support::golden_json(fixture, &format!("{golden}/linux.malfind.Malfind.json"));
    let areas = g.as_array().unwrap();
    assert!(!areas.is_empty());
    for a in areas {
        let (pid, start, end) = (
            a["PID"].as_u64().unwrap() as u32,
            a["Start"].as_u64().unwrap(),
            a["End"].as_u64().unwrap(),
        );
        // Volatility's End is the last byte (inclusive) or one past it, by version.
        let hit = ds.iter().find(|d| {
            matches!(d.rule, Rule::Rwx | Rule::AnonExec)
                && d.pid == Some(pid)
                && d.start == Some(start)
                && d.end.is_some_and(|e| e == end || e == end + 1)
        });
        assert!(
            hit.is_some(),
            "{fixture}: malfind area pid {pid} {start:#x}-{end:#x} not reported"
        );
    }
}

#[test]
fn linux_6_1_every_malfind_area_and_the_planted_token_are_reported() {
    let Some(dump) = support::kernel::lime() else {
        eprintln!("skipped: linux-6.1 fixture absent");
        return;
    };
    let ds = detections(dump);
    assert_malfind(&ds, "linux-6.1", "dump.lime");
    let rwx = ds
        .iter()
        .find(|d| d.rule == Rule::Rwx && d.pid == Some(102))
        .unwrap();
    assert_eq!((rwx.start, rwx.end), (Some(0x1337_0000), Some(0x1337_2000)));
    assert_eq!(rwx.severity, Severity::High);
    // The stub is nop x8, then code: 90 90 90 90 90 90 90 90 48 31 c0 ...
    assert!(
        rwx.head_hex
            .as_deref()
            .unwrap()
            .starts_with("90909090909090904831c0")
    );
    // API_TOKEN=tok_ABC123XYZ, in fxagent's environment and its children's.
    let env: Vec<u32> = ds
        .iter()
        .filter(|d| d.rule == Rule::EnvSecret && d.variable.as_deref() == Some("API_TOKEN"))
        .filter_map(|d| d.pid)
        .collect();
    for pid in [102, 107, 108] {
        assert!(env.contains(&pid), "API_TOKEN of pid {pid}: {env:?}");
    }
    assert!(ds.iter().all(|d| !d.reason.contains("ABC123XYZ")));
    // The listener on 4444 and the loopback connection with its peer.
    assert!(
        ds.iter()
            .any(|d| d.rule == Rule::Listener && d.pid == Some(102) && d.port == Some(4444))
    );
    assert!(ds.iter().any(|d| d.rule == Rule::Established
        && d.pid == Some(107)
        && d.peer.as_deref() == Some("127.0.0.1:4444")));
    // Nothing about a benign process of the dump ranks high (the workload's RWX and
    // its 4444 listener aside).
    let high: Vec<&Detection> = ds
        .iter()
        .filter(|d| d.severity >= Severity::High)
        .filter(|d| !(d.pid == Some(102) && matches!(d.rule, Rule::Rwx | Rule::Listener)))
        .collect();
    assert!(high.is_empty(), "{high:#?}");
}

#[test]
fn node_every_malfind_area_is_reported_and_containers_listeners_are_listed() {
    let Some(dump) = support::kernel::node() else {
        eprintln!("skipped: linux-6.1-node fixture absent");
        return;
    };
    let ds = detections(dump);
    assert_malfind(&ds, "linux-6.1-node", "dump.elf");
    // holdoutd's anonymous RWX mapping (2 pages) holding HOLDOUT_SECRET_91bd.
    assert!(ds.iter().any(|d| d.rule == Rule::Rwx
        && d.comm.as_deref() == Some("holdoutd")
        && d.end.zip(d.start).map(|(e, s)| e - s) == Some(0x2000)));
    // The node's workloads map no memfd (its README plants none): no memfd detection.
    assert!(ds.iter().all(|d| d.rule != Rule::MemfdExec));
    // Listeners inside the containers: counter.py on 8088, holdoutd on 9191.
    for port in [8088, 9191] {
        assert!(
            ds.iter().any(|d| d.rule == Rule::Listener
                && d.port == Some(port)
                && d.severity == Severity::Medium),
            "listener {port}"
        );
    }
}
