//! `podmortem search --physical`: every planted secret's physical address that `secrets.json`
//! lists is reported, with the owning process and virtual address where a process maps the
//! page (checked against Volatility's `linux.vmaregexscan` and against `read_memory`); on a
//! checkpoint `--physical` is a clear error.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use crate::support;

use std::collections::BTreeSet;

use podmortem::engine::Evidence;
use podmortem::engine::kernel::dump::KernelDump;
use serde_json::Value;

fn hex(s: &str) -> u64 {
    u64::from_str_radix(s.trim_start_matches("0x"), 16).unwrap()
}

/// (dump file, fixture, golden folder, secrets pattern, opened dump).
type Case = (
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static KernelDump,
);

fn cases() -> Vec<Case> {
    const L61: &str =
        "FORENSIC_SECRET_7f3a9c|RWX_PAYLOAD_SECRET_5e8d21|tok_ABC123XYZ|RANDOM_1432_KEY";
    const NODE: &str = "RANDOM_[0-9]+_KEY|NODE_SECRET_[0-9a-f]{4}|HOLDOUT_SECRET_91bd";
    let mut v = Vec::new();
    if let Some(d) = support::kernel::lime() {
        v.push(("dump.lime.zst", "linux-6.1", "dump.lime", L61, d));
    }
    if let Some(d) = support::kernel::avml() {
        v.push(("dump.avml.zst", "linux-6.1", "dump.avml", L61, d));
    }
    if let Some(d) = support::kernel::node() {
        v.push(("dump.elf.zst", "linux-6.1-node", "dump.elf", NODE, d));
    }
    v
}

/// (physical address, text) of every hit `secrets.json` lists for the dump.
fn secrets(fixture: &str) -> BTreeSet<(u64, String)> {
    let root = support::fixture(fixture).unwrap();
    let (file, key) = if fixture == "linux-6.1" {
        // dump.avml holds dump.lime's memory: the same hits.
        (root.join("secrets.json"), Some("dump.lime"))
    } else {
        (root.join("acquisition/secrets.json"), None)
    };
    let doc: Value = serde_json::from_slice(&std::fs::read(file).unwrap()).unwrap();
    let hits = match key {
        Some(k) => &doc[k]["hits"],
        None => &doc["hits"],
    };
    hits.as_array()
        .unwrap()
        .iter()
        .map(|h| {
            let phys = match h.get("phys_addr") {
                Some(Value::String(s)) => hex(s),
                _ => h["phys"].as_u64().unwrap(),
            };
            let text = h.get("match").or_else(|| h.get("text")).unwrap();
            (phys, text.as_str().unwrap().to_string())
        })
        .collect()
}

#[test]
fn physical_search_reports_every_planted_secret() {
    // With the fixture's ISF and with none (the dump's own BTF and kallsyms).
    for ((file, fixture, golden, pattern, dump), with_isf) in
        cases().into_iter().flat_map(|c| [(c, true), (c, false)])
    {
        let path = support::decompressed(fixture, file).unwrap();
        let isf = support::kernel::isf_dir(fixture).unwrap();
        let out = support::kernel::cli(
            &["search", "--physical", "--json", "--regex", pattern],
            &path,
            with_isf.then_some(isf.as_path()),
        );
        assert!(
            out.status.success(),
            "{golden}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let lines: Vec<Value> = String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        let got: BTreeSet<(u64, String)> = lines
            .iter()
            .map(|h| {
                (
                    hex(h["physical_address"].as_str().unwrap()),
                    h["match"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        assert_eq!(got.len(), lines.len(), "{golden}: a hit reported twice");
        assert_eq!(got, secrets(fixture), "{golden}");

        // Owners: the process really has the match at that virtual address, and Volatility's
        // vmaregexscan found it there too.
        let scan = support::golden_json(
            fixture,
            &format!("{golden}/linux.vmaregexscan.VmaRegExScan.json"),
        );
        let volatility: BTreeSet<(u64, u64, String)> = scan
            .as_array()
            .unwrap()
            .iter()
            .map(|h| {
                (
                    h["PID"].as_u64().unwrap(),
                    h["Offset"].as_u64().unwrap(),
                    h["Text"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        let mut owned = 0;
        for h in &lines {
            let text = h["match"].as_str().unwrap();
            assert_eq!(h["len"].as_u64().unwrap() as usize, text.len());
            assert_eq!(
                h["match_hex"].as_str().unwrap(),
                podmortem::engine::findings::hex_string(text.as_bytes())
            );
            if h["pid"].is_null() {
                assert!(h["comm"].is_null() && h["address"].is_null(), "{h}");
                continue;
            }
            owned += 1;
            let pid = h["pid"].as_u64().unwrap();
            let addr = hex(h["address"].as_str().unwrap());
            let p = dump
                .processes()
                .unwrap()
                .into_iter()
                .find(|p| u64::from(p.pid) == pid)
                .unwrap();
            assert_eq!(h["comm"], p.comm.as_str(), "{h}");
            let mut buf = vec![0u8; text.len()];
            let r = dump.read_memory(p.pid, addr, &mut buf).unwrap();
            assert_eq!(r.captured_len(), buf.len(), "{golden}: {h}");
            assert_eq!(buf, text.as_bytes(), "{golden}: {h}");
            assert!(
                volatility.contains(&(pid, addr, text.to_string())),
                "{golden}: {h} is not a vmaregexscan hit"
            );
        }
        assert!(owned > 0, "{golden}: no hit has an owner");
    }
}

#[test]
fn planted_rwx_secret_is_attributed_to_fxagent() {
    let (Some(path), Some(isf)) = (
        support::decompressed("linux-6.1", "dump.lime.zst"),
        support::kernel::isf_dir("linux-6.1"),
    ) else {
        return;
    };
    let out = support::kernel::cli(
        &[
            "search",
            "--physical",
            "--regex",
            "RWX_PAYLOAD_SECRET_[0-9a-f]{6}",
        ],
        &path,
        Some(&isf),
    );
    assert!(out.status.success());
    let table = String::from_utf8(out.stdout).unwrap();
    let row = table.lines().nth(1).unwrap();
    let cols: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(
        cols,
        [
            "0xd4ec020",
            "102",
            "fxagent",
            "0x13370020",
            "RWX_PAYLOAD_SECRET_5e8d21"
        ]
    );
}

#[test]
fn physical_search_on_a_checkpoint_is_an_error() {
    let demo =
        std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("assets/demo-checkpoint.tar");
    let out = support::kernel::cli(&["search", "--physical", "--regex", "x"], &demo, None);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.contains("--physical") && err.contains("checkpoint"),
        "{err}"
    );
    assert!(out.stdout.is_empty());
    // --physical with --pid is a usage error.
    let out = support::kernel::cli(
        &["search", "--physical", "--pid", "1", "--regex", "x"],
        &demo,
        None,
    );
    assert_eq!(out.status.code(), Some(2));
    // The engine says so too: a checkpoint offers no physical memory.
    let ev = podmortem::engine::open::open_evidence(&demo, &Default::default()).unwrap();
    assert!(ev.physical().is_none());
    assert!(ev.container_fs().is_some());
}

#[test]
fn physical_search_reports_no_empty_match() {
    use podmortem::engine::kernel::phys_search::search_physical;
    use podmortem::engine::search::Hit;
    use std::sync::atomic::AtomicBool;
    let img = support::kernel_image::TaskImage::new();
    let (dump, _) = img.write("phys-empty-match", None);
    let phys = podmortem::engine::kernel::physical::open_physical(&dump).unwrap();
    let re = regex::bytes::Regex::new("(?-u)Linux?").unwrap();
    let mut hits = Vec::new();
    let summary = search_physical(&*phys, &re, &AtomicBool::new(false), &mut |h: Hit| {
        hits.push(h);
        true
    })
    .unwrap();
    assert!(!hits.is_empty());
    // `a?` matches the empty string at every byte: none of those is a hit.
    let re = regex::bytes::Regex::new("(?-u)\\x01?").unwrap();
    let mut empty = 0usize;
    let mut count = 0usize;
    search_physical(&*phys, &re, &AtomicBool::new(false), &mut |h: Hit| {
        count += 1;
        empty += usize::from(h.len == 0);
        true
    })
    .unwrap();
    assert_eq!(empty, 0);
    assert!(count < summary.bytes as usize / 2, "{count}");
}

#[test]
fn physical_search_cli_reports_no_empty_match() {
    let img = support::kernel_image::TaskImage::new();
    let (dump, isf) = img.write("phys-cli-empty-match", None);
    for pattern in ["a?", "(?-u)\\x01?", "x*"] {
        let out = support::kernel::cli(
            &["search", "--physical", "--json", "--regex", pattern],
            &dump,
            Some(&isf),
        );
        assert_eq!(out.status.code(), Some(0), "{pattern}: {out:?}");
        let stdout = String::from_utf8(out.stdout).unwrap();
        for line in stdout.lines() {
            let hit: Value = serde_json::from_str(line).unwrap();
            assert!(hit["len"].as_u64().unwrap() > 0, "{pattern}: {line}");
            assert!(!hit["match_hex"].as_str().unwrap().is_empty(), "{line}");
        }
        let err = String::from_utf8(out.stderr).unwrap();
        // Far fewer hits than bytes: the empty match at every byte is not reported.
        let hits: u64 = err
            .split_once(" hit(s) in ")
            .and_then(|(a, _)| a.rsplit(' ').next()?.parse().ok())
            .unwrap();
        let bytes: u64 = err
            .split_once(" hit(s) in ")
            .and_then(|(_, b)| b.split(' ').next()?.parse().ok())
            .unwrap();
        assert_eq!(hits as usize, stdout.lines().count(), "{err}");
        assert!(bytes > 0 && hits < bytes / 2, "{pattern}: {err}");
    }
}

/// `read --physical` is the CLI twin of a physical hit (a `search --physical` hit, a YARA
/// match's `phys_address`): it reads back every planted secret at the physical address the
/// search gave; on a checkpoint it is a clear error, and it takes no `--pid`.
#[test]
fn read_physical_gives_the_bytes_of_physical_hits() {
    for (file, fixture, golden, pattern, _) in cases() {
        let path = support::decompressed(fixture, file).unwrap();
        let isf = support::kernel::isf_dir(fixture).unwrap();
        let out = support::kernel::cli(
            &["search", "--physical", "--json", "--regex", pattern],
            &path,
            Some(&isf),
        );
        let hits: Vec<Value> = String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert!(!hits.is_empty(), "{golden}");
        for h in &hits {
            let at = h["physical_address"].as_str().unwrap();
            let len = h["len"].as_u64().unwrap().to_string();
            let out = support::kernel::cli(
                &["read", "--physical", "--addr", at, "--len", &len, "--json"],
                &path,
                Some(&isf),
            );
            assert!(out.status.success(), "{golden} {at}");
            let read: Value = serde_json::from_slice(&out.stdout).unwrap();
            assert_eq!(read["physical"], true);
            assert_eq!(read["address"], *at);
            assert!(read.get("pid").is_none() && read.get("sources").is_none());
            assert_eq!(read["captured"], h["len"]);
            assert_eq!(read["hex"], h["match_hex"], "{golden} {at}");
        }
    }
    let Some(dir) = support::fixture("criu-replicas") else {
        return;
    };
    let ckpt = dir.join("replica-1.tar");
    let out = support::kernel::cli(
        &["read", "--physical", "--addr", "0x1000", "--len", "4"],
        &ckpt,
        None,
    );
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--physical: not available"), "{err}");
    let out = support::kernel::cli(
        &[
            "read",
            "--physical",
            "--pid",
            "1",
            "--addr",
            "0",
            "--len",
            "4",
        ],
        &ckpt,
        None,
    );
    assert_eq!(out.status.code(), Some(2), "--pid and --physical conflict");
}
