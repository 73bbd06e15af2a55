//! A real CRIU 4.2 checkpoint of checkpointctl's test workload (tests/data/criu-piggie, made
//! by scripts/make-criu-piggie.sh + scripts/pm-piggie.c; its README says what is where):
//! podmortem shows what checkpointctl's own tests expect of that dump — the dead
//! piggie-zombie, the stopped stopped-child, alive-child, the TCP socket on port 5000, and
//! `TEST_ENV=BAR` and the empty `TEST_ENV_EMPTY=` in piggie's environment — through the
//! engine and through the binary's JSON.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::path::{Path, PathBuf};
use std::process::Command;

use podmortem::engine::checkpoint::Checkpoint;
use podmortem::engine::evidence::Evidence;
use serde_json::{Value, json};

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/criu-piggie")
}

fn cli(args: &[&str]) -> Value {
    let out = Command::new(env!("CARGO_BIN_EXE_podmortem"))
        .arg(args[0])
        .arg(dir())
        .args(&args[1..])
        .arg("--json")
        .output()
        .unwrap();
    assert!(out.status.success(), "{args:?}: {out:?}");
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn the_tree_as_checkpointctl_expects_it() {
    let ck = Checkpoint::open(&dir()).unwrap();
    assert!(ck.info().warnings.is_empty(), "{:?}", ck.info().warnings);
    let procs = ck.processes().unwrap();
    let tree: Vec<_> = procs
        .iter()
        .map(|p| (p.pid, p.ppid, p.comm.as_str(), p.state.as_str()))
        .collect();
    assert_eq!(
        tree,
        [
            (1, 0, "piggie", "alive"),
            (2, 1, "tcp-server", "alive"),
            (3, 1, "tcp-client", "alive"),
            (4, 1, "piggie-zombie", "dead"),
            (5, 1, "stopped-child", "stopped"),
            (6, 2, "tcp-conn", "alive"),
            (7, 1, "alive-child", "alive"),
        ]
    );
    // checkpointctl: "(Dead)]  piggie-zombie", "(Stopped)]  stopped-child", "alive-child".
    let ps = cli(&["ps"]);
    let row = |name: &str| {
        ps.as_array()
            .unwrap()
            .iter()
            .find(|p| p["comm"] == name)
            .unwrap_or_else(|| panic!("{name}: {ps}"))
            .clone()
    };
    let zombie = row("piggie-zombie");
    assert_eq!(
        (&zombie["state"], &zombie["exit_code"]),
        (&json!("dead"), &json!(0))
    );
    assert_eq!(zombie["cmdline"], json!([]), "a zombie has no memory");
    assert_eq!(row("stopped-child")["state"], "stopped");
    assert_eq!(row("alive-child")["state"], "alive");
    // Its root's children, in order (checkpointctl's process_tree.children[0], [1]).
    let kids: Vec<&str> = procs
        .iter()
        .filter(|p| p.ppid == 1)
        .map(|p| p.comm.as_str())
        .take(2)
        .collect();
    assert_eq!(kids, ["tcp-server", "tcp-client"]);
}

#[test]
fn the_environment_keeps_the_empty_variable() {
    let env = cli(&["env", "--pid", "1"]);
    assert_eq!(env[0]["comm"], "piggie");
    let vars = env[0]["env"].as_array().unwrap();
    assert!(vars.contains(&json!("TEST_ENV=BAR")), "{vars:?}");
    assert!(vars.contains(&json!("TEST_ENV_EMPTY=")), "{vars:?}");
}

#[test]
fn the_port_5000_sockets() {
    let files = cli(&["files"]);
    let sockets: Vec<(u64, &str, &str, u64, &str, u64)> = files
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["type"] == "socket")
        .map(|f| {
            let d = &f["details"];
            (
                f["pid"].as_u64().unwrap(),
                d["protocol"].as_str().unwrap(),
                d["state"].as_str().unwrap(),
                d["src_port"].as_u64().unwrap(),
                d["dst"].as_str().unwrap(),
                d["dst_port"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        sockets,
        [
            (2, "tcp", "LISTEN", 5000, "0.0.0.0", 0),
            (3, "tcp", "ESTABLISHED", 60006, "127.0.0.1", 5000),
            (6, "tcp", "ESTABLISHED", 5000, "127.0.0.1", 60006),
        ]
    );
}
