//! The real `podmortem` binary: JSON shapes, exit statuses, raw reads, NDJSON search, on the
//! bundled demo and on the real fixtures.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use crate::support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

fn demo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("assets/demo-checkpoint.tar")
}

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_podmortem"))
        .args(args)
        .output()
        .unwrap()
}

fn json(args: &[&str]) -> Value {
    let out = run(args);
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{args:?}: {e}"))
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn ps_json_shape() {
    let v = json(&["ps", s(&demo()), "--json"]);
    let procs = v.as_array().unwrap();
    assert_eq!(procs.len(), 4);
    let p = &procs[1];
    for key in ["pid", "ppid", "pgid", "sid", "uid", "gid"] {
        assert!(p[key].is_u64(), "{key} is a number");
    }
    assert_eq!(p["comm"], "server.py");
    assert_eq!(p["threads"], serde_json::json!([7, 9, 10]));
    assert_eq!(p["cmdline"][0], "/usr/bin/python3");
    assert_eq!(p["state"], "alive");
}

#[test]
fn maps_env_files_rootfs_json() {
    let d = demo();
    let maps = json(&["maps", s(&d), "--pid", "7", "--json"]);
    let heap = maps
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["kind"] == "heap")
        .unwrap();
    assert_eq!(heap["start"], "0x560000000000");
    assert_eq!(heap["perms"], "rw-p");
    assert_eq!(heap["path"], "[heap]");
    assert!(
        maps.as_array()
            .unwrap()
            .iter()
            .any(|m| m["perms"] == "rwxp" && m["path"].is_null())
    );
    let env = json(&["env", s(&d), "--pid", "7", "--json"]);
    assert!(
        env[0]["env"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e == "DB_PASSWORD=hunter2-demo")
    );
    let files = json(&["files", s(&d), "--pid", "7", "--json"]);
    let sock = files
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["type"] == "socket")
        .unwrap();
    assert_eq!(sock["fd"], 3);
    assert_eq!(sock["path"], "socket:[40001]");
    assert_eq!(sock["details"]["src_port"], 8080);
    assert!(
        files
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["type"] == "cwd" && f["fd"].is_null())
    );
    let rootfs = json(&["rootfs", s(&d), "--json"]);
    assert!(
        rootfs
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["path"] == "usr/bin/curl" && e["deleted"] == true)
    );
    let cat = run(&["rootfs", s(&d), "--cat", "etc/passwd"]);
    assert!(String::from_utf8_lossy(&cat.stdout).contains("backdoor:x:0:0"));
    let info = json(&["info", s(&d), "--json"]);
    assert_eq!(info["engine"], "Podman");
    assert_eq!(info["kind"], "checkpoint");
    assert_eq!(info["details"]["container"]["name"], "demo-web");
}

#[test]
fn search_ndjson_and_read() {
    let d = demo();
    let out = run(&["search", s(&d), "--regex", "DEMO_[A-Z_]+_[0-9]+", "--json"]);
    assert!(out.status.success());
    let hits: Vec<Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let secret = hits
        .iter()
        .find(|h| h["match"] == support::demo::SECRET)
        .unwrap();
    assert_eq!(
        secret["address"],
        format!("{:#x}", support::demo::SECRET_ADDR)
    );
    assert_eq!(secret["pid"], 7);
    assert_eq!(secret["vma_start"], "0x560000000000");
    assert_eq!(secret["match_hex"], hex(support::demo::SECRET.as_bytes()));
    let out = run(&[
        "search",
        s(&d),
        "--regex",
        "DEMO",
        "--json",
        "--max-hits",
        "1",
    ]);
    assert_eq!(String::from_utf8(out.stdout).unwrap().lines().count(), 1);

    // A raw read across a captured page and a lazy (not captured) one.
    let heap_lazy = 0x5600_0000_6000u64;
    let addr = format!("{:#x}", heap_lazy - 16);
    let out = run(&[
        "read",
        s(&d),
        "--pid",
        "7",
        "--addr",
        &addr,
        "--len",
        "32",
        "--raw",
    ]);
    assert!(out.status.success());
    assert_eq!(out.stdout.len(), 32);
    assert!(String::from_utf8_lossy(&out.stderr).contains("16 of 32 bytes were not captured"));
    let out = run(&["read", s(&d), "--pid", "7", "--addr", &addr, "--len", "32"]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("?? ?? ??"), "{text}");
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

#[test]
fn exit_statuses_and_errors() {
    let out = run(&["ps", "/nonexistent/evidence.tar"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/evidence.tar"));
    let out = run(&["maps", s(&demo()), "--pid", "999"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no process with pid 999"));
    let out = run(&["maps", s(&demo())]);
    assert_eq!(out.status.code(), Some(2));
    let out = run(&["search", s(&demo()), "--regex", "("]);
    assert_eq!(out.status.code(), Some(1));
    let out = run(&["info", env!("CARGO_MANIFEST_DIR")]);
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn human_output_is_sanitised() {
    for args in [
        vec!["ps", s(&demo())],
        vec!["files", s(&demo())],
        vec!["env", s(&demo())],
        vec!["info", s(&demo())],
    ] {
        let out = run(&args);
        assert!(out.status.success());
        let bad = out
            .stdout
            .iter()
            .any(|&b| b == 0x1b || b == 0x07 || (b < 0x20 && b != b'\n'));
        assert!(!bad, "{args:?} wrote a control byte");
    }
    let ps = String::from_utf8(run(&["ps", s(&demo())]).stdout).unwrap();
    assert!(ps.contains("x\\x1b]0;pwned\\x07"));
}

#[test]
fn fixture_json_commands_on_every_form() {
    for fx in ["criu-counter", "criu-counter-criu42"] {
        let Some(dir) = support::fixture(fx) else {
            return;
        };
        let tar = support::decompressed(fx, "checkpoint-counter.tar.zst").unwrap();
        let ex = support::extracted(fx, &tar, "extracted");
        let derived = support::golden_json(fx, "derived/derived.json");
        let py = derived["processes"][1]["pid"].as_u64().unwrap();
        for path in [
            tar.clone(),
            dir.join("checkpoint-counter.tar.zst"),
            ex.clone(),
            ex.join("checkpoint"),
        ] {
            let p = s(&path);
            let ps = json(&["ps", p, "--json"]);
            let comms: Vec<&str> = ps
                .as_array()
                .unwrap()
                .iter()
                .map(|x| x["comm"].as_str().unwrap())
                .collect();
            assert_eq!(comms, ["bash", "counter.py", "tee"]);
            let out = run(&["search", p, "--regex", "RANDOM_[0-9]+_KEY", "--json"]);
            let addrs: Vec<String> = String::from_utf8(out.stdout)
                .unwrap()
                .lines()
                .map(|l| {
                    serde_json::from_str::<Value>(l).unwrap()["address"]
                        .as_str()
                        .unwrap()
                        .to_string()
                })
                .collect();
            let want: Vec<String> = derived["matches"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|m| m["pattern"] == "RANDOM_[0-9]+_KEY")
                .map(|m| {
                    format!(
                        "{:#x}",
                        u64::from_str_radix(m["vaddr"].as_str().unwrap(), 16).unwrap()
                    )
                })
                .collect();
            assert_eq!(addrs, want, "{fx} {p}");
            let maps = json(&["maps", p, "--pid", &py.to_string(), "--json"]);
            assert_eq!(maps.as_array().unwrap().len(), 78);
            let files = json(&["files", p, "--json"]);
            assert!(files.as_array().unwrap().len() >= 15);
            let env = json(&["env", p, "--json"]);
            assert_eq!(env.as_array().unwrap().len(), 3);
            let info = json(&["info", p, "--json"]);
            assert_eq!(info["kind"], "checkpoint");
        }
    }
}

#[test]
fn a_copied_binary_runs_the_demo_from_another_folder() {
    let dir = tempfile::tempdir().unwrap();
    let bin = dir.path().join("podmortem");
    std::fs::copy(env!("CARGO_BIN_EXE_podmortem"), &bin).unwrap();
    let cache = dir.path().join("cache");
    let out = std::process::Command::new(&bin)
        .arg("demo")
        .current_dir(dir.path())
        .env("PODMORTEM_CACHE_DIR", &cache)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("checkpoint"), "{text}");
    // The binary's own copy, identical to the repository's asset.
    let copy = std::fs::read(cache.join("demo/demo-checkpoint.tar")).unwrap();
    assert_eq!(copy, std::fs::read(demo()).unwrap());
}

/// `PODMORTEM_LOG=debug` writes a log file in the XDG state folder (or `--log FILE`) and
/// prints nothing more on the terminal than a run without it.
#[test]
fn a_debug_log_goes_to_a_file_and_never_to_the_terminal() {
    let tmp = tempfile::tempdir().unwrap();
    let d = demo();
    let args = ["ps", s(&d)];
    let quiet = Command::new(env!("CARGO_BIN_EXE_podmortem"))
        .args(args)
        .env_remove("PODMORTEM_LOG")
        .output()
        .unwrap();
    let logged = Command::new(env!("CARGO_BIN_EXE_podmortem"))
        .args(args)
        .env("PODMORTEM_LOG", "debug")
        .env("XDG_STATE_HOME", tmp.path())
        .output()
        .unwrap();
    assert!(logged.status.success());
    assert_eq!(logged.stdout, quiet.stdout, "same output with the log on");
    assert_eq!(logged.stderr, quiet.stderr, "nothing extra on stderr");
    let log = std::fs::read_to_string(tmp.path().join("podmortem/podmortem.log")).unwrap();
    assert!(log.contains("podmortem started"), "{log}");
    assert!(log.contains("DEBUG"), "debug events are written: {log}");
    assert!(!log.contains('\x1b'), "no colour codes in the log");

    let file = tmp.path().join("explicit.log");
    let out = Command::new(env!("CARGO_BIN_EXE_podmortem"))
        .args(["info", s(&d), "--log", s(&file)])
        .env_remove("PODMORTEM_LOG")
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(
        std::fs::read_to_string(&file)
            .unwrap()
            .contains("podmortem started")
    );
}

/// The workbench's search pane and `podmortem search` build the same pattern from the same
/// text and options (case, UTF-16LE): the same hits.
#[test]
fn tui_and_cli_search_give_the_same_hits() {
    use crossterm::event::KeyCode;
    use std::collections::BTreeSet;
    let mut evidence = vec![demo()];
    if let Some(tar) = support::decompressed("criu-counter", "checkpoint-counter.tar.zst") {
        evidence.push(tar);
    }
    let cases: &[(&str, bool, bool)] = &[
        ("DEMO_[A-Z_]+_[0-9]+", false, false),
        ("demo_[a-z_]+_[0-9]+", true, false),
        ("random_[0-9]+_key", true, false),
        ("python", false, true),
        ("PYTHON", true, true),
        ("(?-u:\\xff){3}", false, false),
    ];
    let mut total = 0;
    for path in &evidence {
        for &(pattern, ignore_case, utf16) in cases {
            let mut args = vec!["search", s(path), "--json", "--regex", pattern];
            if ignore_case {
                args.push("-i");
            }
            if utf16 {
                args.push("--utf16le");
            }
            let out = run(&args);
            assert!(out.status.success(), "{args:?}: {out:?}");
            let cli: BTreeSet<(u64, String, u64)> = String::from_utf8(out.stdout)
                .unwrap()
                .lines()
                .map(|l| {
                    let v: Value = serde_json::from_str(l).unwrap();
                    (
                        v["pid"].as_u64().unwrap(),
                        v["address"].as_str().unwrap().to_string(),
                        v["len"].as_u64().unwrap(),
                    )
                })
                .collect();
            let data = tempfile::tempdir().unwrap();
            let mut h = support::tui::Harness::open(path, data.path(), (120, 40));
            h.key(KeyCode::Char('4'));
            if ignore_case {
                h.key(KeyCode::Char('i'));
            }
            if utf16 {
                h.key(KeyCode::Char('u'));
            }
            h.key(KeyCode::Char('/'));
            h.typing(pattern);
            h.key(KeyCode::Enter);
            assert!(!h.app.search.running, "inline jobs finish at once");
            let tui: BTreeSet<(u64, String, u64)> = h
                .app
                .search
                .hits
                .iter()
                .map(|x| {
                    (
                        u64::from(x.pid().unwrap()),
                        format!("{:#x}", x.address),
                        x.len as u64,
                    )
                })
                .collect();
            assert_eq!(
                tui,
                cli,
                "{} {pattern} i={ignore_case} u={utf16}",
                path.display()
            );
            total += cli.len();
        }
    }
    assert!(total > 0, "the cases find something");
}
