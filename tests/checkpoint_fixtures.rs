//! The checkpoint back end against the real Podman checkpoints in ../shared/fixtures,
//! checked against crit's and checkpointctl's golden outputs, in every form the evidence
//! can take: .tar, .tar.zst, extracted folder, bare CRIU images folder.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use crate::support;

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;

use podmortem::engine::capability::ContainerFs;
use podmortem::engine::checkpoint::Checkpoint;
use podmortem::engine::evidence::{Evidence, VmaKind};
use podmortem::engine::search::{Collect, SearchRequest, search};
use serde_json::Value;

const FIXTURES: [&str; 2] = ["criu-counter", "criu-counter-criu42"];

/// The checkpointctl build that reads each fixture's memory correctly (see FORMATS.md).
fn working_checkpointctl(fixture: &str) -> &'static str {
    if fixture == "criu-counter" {
        "checkpointctl-v1.4.1"
    } else {
        "checkpointctl"
    }
}

/// Every form of one fixture: (label, path).
fn forms(fixture: &str) -> Option<Vec<(&'static str, PathBuf)>> {
    let dir = support::fixture(fixture)?;
    let tar = support::decompressed(fixture, "checkpoint-counter.tar.zst")?;
    let extracted = support::extracted(fixture, &tar, "extracted");
    Some(vec![
        ("tar", tar),
        ("tar.zst", dir.join("checkpoint-counter.tar.zst")),
        ("directory", extracted.clone()),
        ("criu-images", extracted.join("checkpoint")),
    ])
}

fn for_each_form(mut check: impl FnMut(&str, &str, &Checkpoint)) {
    for fixture in FIXTURES {
        let Some(forms) = forms(fixture) else { return };
        for (label, path) in forms {
            let ck =
                Checkpoint::open(&path).unwrap_or_else(|e| panic!("{fixture} as {label}: {e}"));
            check(fixture, label, &ck);
        }
    }
}

#[test]
fn processes_equal_crit_pstree() {
    for_each_form(|fx, form, ck| {
        let tree = support::golden_json(fx, "crit-4.2/decode/pstree.json");
        let procs = ck.processes().unwrap();
        let entries = tree["entries"].as_array().unwrap();
        assert_eq!(procs.len(), entries.len(), "{fx} {form}");
        for (p, e) in procs.iter().zip(entries) {
            assert_eq!(u64::from(p.pid), e["pid"].as_u64().unwrap(), "{fx} {form}");
            assert_eq!(u64::from(p.ppid), e["ppid"].as_u64().unwrap());
            assert_eq!(u64::from(p.pgid), e["pgid"].as_u64().unwrap());
            assert_eq!(u64::from(p.sid), e["sid"].as_u64().unwrap());
            let tids: Vec<u64> = p.threads.iter().map(|t| u64::from(t.tid)).collect();
            let want: Vec<u64> = e["threads"]
                .as_array()
                .unwrap()
                .iter()
                .map(|t| t.as_u64().unwrap())
                .collect();
            assert_eq!(tids, want);
            let core = support::golden_json(fx, &format!("crit-4.2/decode/core-{}.json", p.pid));
            assert_eq!(p.comm, core["entries"][0]["tc"]["comm"].as_str().unwrap());
            assert_eq!(p.uid, Some(0));
        }
        let comms: Vec<&str> = procs.iter().map(|p| p.comm.as_str()).collect();
        assert_eq!(comms, ["bash", "counter.py", "tee"]);
    });
}

/// crit's `x mems`: per pid, (start, end, rwx, path + offset as crit prints it).
fn crit_mems(fx: &str) -> BTreeMap<u32, Vec<(u64, u64, String, String)>> {
    let text = support::golden_text(fx, "crit-4.2/x_mems.txt");
    let mut out: BTreeMap<u32, Vec<_>> = BTreeMap::new();
    let mut pid = 0;
    for line in text.lines() {
        if !line.starts_with('\t') {
            pid = line.trim().parse().unwrap();
            continue;
        }
        let line = line.trim_start_matches('\t');
        if line.starts_with("exe") {
            continue;
        }
        let (range, rest) = line.split_once(' ').unwrap();
        let (s, e) = range.split_once('-').unwrap();
        let rest = rest.trim_start();
        let (prot, name) = rest.split_at(3);
        out.entry(pid).or_default().push((
            u64::from_str_radix(s, 16).unwrap(),
            u64::from_str_radix(e, 16).unwrap(),
            prot.to_string(),
            name.trim().to_string(),
        ));
    }
    out
}

#[test]
fn maps_equal_crit_mems() {
    for_each_form(|fx, form, ck| {
        let want = crit_mems(fx);
        for p in ck.processes().unwrap() {
            let maps = ck.maps(p.pid).unwrap();
            let crit = &want[&p.pid];
            assert_eq!(maps.len(), crit.len(), "{fx} {form} pid {}", p.pid);
            for (v, (s, e, prot, name)) in maps.iter().zip(crit) {
                assert_eq!((v.start, v.end), (*s, *e), "{fx} {form} pid {}", p.pid);
                assert_eq!(
                    &v.perms.to_string()[..3],
                    prot,
                    "{fx} {form} {:#x}",
                    v.start
                );
                let shared = if v.perms.shared { " (s)" } else { "" };
                let ours = match v.kind {
                    VmaKind::File if v.pgoff != 0 => {
                        format!("{} + {:#x}{shared}", v.path.as_deref().unwrap(), v.pgoff)
                    }
                    VmaKind::File => format!("{}{shared}", v.path.as_deref().unwrap()),
                    VmaKind::Vdso => "[vdso]".into(),
                    VmaKind::Stack => "[stack?]".into(),
                    _ => String::new(),
                };
                assert_eq!(&ours, name, "{fx} {form} {:#x}", v.start);
            }
        }
    });
}

/// checkpointctl's process tree JSON, flattened: pid -> (cmdline, env).
fn checkpointctl_tree(fx: &str) -> BTreeMap<u64, (String, BTreeSet<String>)> {
    let rel = format!(
        "{}/inspect_--ps-tree-cmd_--ps-tree-env_--files_--sockets_--mounts_--format_json.json",
        working_checkpointctl(fx)
    );
    let doc = support::golden_json(fx, &rel);
    let mut out = BTreeMap::new();
    let mut stack = vec![doc[0]["process_tree"].clone()];
    while let Some(node) = stack.pop() {
        let env: BTreeSet<String> = node["environment_variables"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| format!("{k}={}", v.as_str().unwrap()))
            .collect();
        out.insert(
            node["pid"].as_u64().unwrap(),
            (node["cmdline"].as_str().unwrap().to_string(), env),
        );
        if let Some(kids) = node["children"].as_array() {
            stack.extend(kids.iter().cloned());
        }
    }
    out
}

#[test]
fn cmdline_and_env_equal_checkpointctl() {
    for_each_form(|fx, form, ck| {
        let want = checkpointctl_tree(fx);
        for p in ck.processes().unwrap() {
            let (cmdline, env) = &want[&u64::from(p.pid)];
            assert_eq!(format!("{} ", p.cmdline.join(" ")), *cmdline, "{fx} {form}");
            let ours: BTreeSet<String> = ck.environment(p.pid).unwrap().into_iter().collect();
            assert_eq!(&ours, env, "{fx} {form} pid {}", p.pid);
        }
    });
}

#[test]
fn files_equal_crit_fds() {
    for_each_form(|fx, form, ck| {
        let text = support::golden_text(fx, "crit-4.2/x_fds.txt");
        let mut want: BTreeMap<u32, Vec<(String, String)>> = BTreeMap::new();
        let mut pid = 0;
        for line in text.lines() {
            if !line.starts_with('\t') {
                pid = line.trim().parse().unwrap();
                continue;
            }
            let (fd, path) = line.trim().split_once(": ").unwrap();
            want.entry(pid)
                .or_default()
                .push((fd.trim().to_string(), path.to_string()));
        }
        for p in ck.processes().unwrap() {
            let files = ck.files(p.pid).unwrap();
            let ours: Vec<(String, String)> = files
                .iter()
                .map(|f| {
                    let fd = f.fd.map_or_else(|| f.kind.clone(), |fd| fd.to_string());
                    let path = match f.kind.as_str() {
                        "pipe" => f.path.replace("pipe:[", "pipe["),
                        "socket" => format!("INETSK.{}", crit_socket_id(fx, &f.path)),
                        _ => f.path.clone(),
                    };
                    (fd, path)
                })
                .collect();
            assert_eq!(ours, want[&p.pid], "{fx} {form} pid {}", p.pid);
        }
        let py = ck.processes().unwrap()[1].pid;
        let sock = ck
            .files(py)
            .unwrap()
            .into_iter()
            .find(|f| f.kind == "socket")
            .unwrap();
        assert_eq!(
            serde_json::to_value(&sock.details).unwrap()["src_port"],
            8088
        );
        assert_eq!(
            serde_json::to_value(&sock.details).unwrap()["state"],
            "LISTEN"
        );
        assert_eq!(
            serde_json::to_value(&sock.details).unwrap()["protocol"],
            "tcp"
        );
    });
}

/// crit names sockets by their file id: find it in crit's files.img decode by inode.
fn crit_socket_id(fx: &str, path: &str) -> u64 {
    let ino: u64 = path
        .trim_start_matches("socket:[")
        .trim_end_matches(']')
        .parse()
        .unwrap();
    let files = support::golden_json(fx, "crit-4.2/decode/files.json");
    files["entries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["isk"]["ino"].as_u64() == Some(ino))
        .map(|e| e["id"].as_u64().unwrap())
        .unwrap()
}

#[test]
fn search_finds_secret_at_golden_addresses() {
    for_each_form(|fx, form, ck| {
        let derived = support::golden_json(fx, "derived/derived.json");
        let want: BTreeSet<(u64, u64)> = derived["matches"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|m| m["pattern"] == "RANDOM_[0-9]+_KEY")
            .map(|m| {
                (
                    m["pid"].as_u64().unwrap(),
                    u64::from_str_radix(m["vaddr"].as_str().unwrap(), 16).unwrap(),
                )
            })
            .collect();
        assert_eq!(want.len(), 2);
        let req = SearchRequest {
            regex: regex::bytes::Regex::new("RANDOM_[0-9]+_KEY").unwrap(),
            pids: None,
        };
        let mut sink = Collect::default();
        search(ck, &req, &AtomicBool::new(false), &mut sink).unwrap();
        let got: BTreeSet<(u64, u64)> = sink
            .hits
            .iter()
            .map(|h| (u64::from(h.pid().unwrap()), h.address))
            .collect();
        assert_eq!(got, want, "{fx} {form}");
        for h in &sink.hits {
            assert_eq!(h.bytes, b"RANDOM_1432_KEY");
            let mut buf = [0u8; 15];
            let got = ck
                .read_memory(h.pid().unwrap(), h.address, &mut buf)
                .unwrap();
            assert_eq!(got.captured_len(), 15);
            assert_eq!(&buf, b"RANDOM_1432_KEY");
        }
    });
}

#[test]
fn rootfs_and_metadata() {
    for_each_form(|fx, form, ck| {
        if form == "criu-images" {
            // A bare images folder has no container metadata and no rootfs diff: only what
            // CRIU saved of the tmpfs mounts.
            let entries = ck.entries().unwrap();
            assert!(entries.iter().all(|e| e.mount.as_deref() == Some("/dev")));
            assert!(ck.read_file("home/counter/test-file").is_err());
            assert_eq!(ck.info().engine, None);
            assert_eq!(ck.info().format, "criu-images");
            return;
        }
        let listing = support::golden_text(
            fx,
            "shell/tar_tvf_--numeric-owner_--full-time_rootfs-diff.tar.txt",
        );
        let entries = ck.entries().unwrap();
        let want: Vec<(String, u64)> = listing
            .lines()
            .map(|l| {
                let f: Vec<&str> = l.split_whitespace().collect();
                (f[5].to_string(), f[2].parse().unwrap())
            })
            .collect();
        // The diff's own entries, as tar lists them; then runc's /dev tmpfs, which CRIU saved
        // in its own image, under /dev.
        let ours: Vec<(String, u64)> = entries
            .iter()
            .filter(|e| e.mount.is_none())
            .map(|e| (e.path.clone(), e.size))
            .collect();
        assert_eq!(ours, want, "{fx} {form}");
        assert!(
            entries
                .iter()
                .filter(|e| e.mount.is_some())
                .all(|e| e.mount.as_deref() == Some("/dev")
                    && e.path.starts_with("dev/")
                    && e.origin.starts_with("checkpoint/tmpfs-dev-")),
            "{fx} {form}"
        );
        assert!(entries.iter().any(|e| e.path == "dev/null"), "{fx} {form}");
        assert_eq!(
            &*ck.read_file("home/counter/test-file").unwrap(),
            b"test-file"
        );
        let info = ck.info();
        assert_eq!(info.engine.as_deref(), Some("Podman"), "{fx} {form}");
        let c = &info.details["container"];
        assert_eq!(c["name"], "counter");
        assert_eq!(c["image"], "localhost/counter:blog");
        let _: &Value = &info.details["summary"];
    });
}
