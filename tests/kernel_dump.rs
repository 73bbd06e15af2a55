//! The kernel-dump back end on the real dumps of `linux-6.1` (LiME, AVML) and
//! `linux-6.1-node` (ELF core) against Volatility 3's goldens and the guest's own view: KASLR,
//! processes, threads, command lines, environment, containers, memory reads, searches and
//! ISF errors; and the scheduler's state names. Paging over synthetic page tables is in
//! `kernel_paging.rs`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use crate::support;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::AtomicBool;

use podmortem::engine::Evidence;
use podmortem::engine::kernel::addr::PhysAddr;
use podmortem::engine::kernel::dump::KernelDump;
use podmortem::engine::kernel::tasks::state_name;
use podmortem::engine::search::{Collect, Hit, SearchRequest, search};
use serde_json::Value;
use support::kernel::Symbols;

#[test]
fn scheduler_state_names() {
    assert_eq!(state_name(0, 0), "running");
    assert_eq!(state_name(1, 0), "sleeping");
    assert_eq!(state_name(2, 0), "disk-sleep");
    assert_eq!(state_name(0x402, 0), "idle");
    assert_eq!(state_name(0, 0x20), "zombie");
    assert_eq!(state_name(4, 0), "stopped");
}

// ---------------------------------------------------------------------------------------
// Real dumps

/// The three dumps with their fixture folder and golden folder, each opened with its ISF
/// and again with no ISF (its own BTF and kallsyms): every check holds for both.
fn dumps() -> Vec<(&'static KernelDump, &'static str, &'static str)> {
    support::kernel::all_dumps()
        .into_iter()
        .map(|(d, fixture, golden, _)| (d, fixture, golden))
        .collect()
}

#[test]
fn kaslr_matches_volatility() {
    for (d, fixture, _) in dumps() {
        let l = d.layout();
        let (v, p, dtb) = if fixture == "linux-6.1" {
            (0x6c0_0000, 0xac0_0000, PhysAddr(0xd61_0000))
        } else {
            // linux-6.1-node: from its VMCOREINFO (SYMBOL(_stext)=ffffffff8bc00000).
            (0xac0_0000, l.physical_shift, l.dtb)
        };
        assert_eq!(l.virtual_shift, v, "{fixture}");
        assert_eq!(l.physical_shift, p, "{fixture}");
        assert_eq!(l.dtb, dtb, "{fixture}");
        assert!(!l.la57);
        let info = d.info();
        assert_eq!(info.details["kaslr"]["virtual_shift"], format!("{v:#x}"));
    }
}

#[test]
fn pslist_matches_volatility() {
    for (d, fixture, golden) in dumps() {
        let want: BTreeSet<(u64, u64, String)> =
            support::golden_json(fixture, &format!("{golden}/linux.pslist.PsList.json"))
                .as_array()
                .unwrap()
                .iter()
                .map(|r| {
                    (
                        r["PID"].as_u64().unwrap(),
                        r["PPID"].as_u64().unwrap(),
                        r["COMM"].as_str().unwrap().to_string(),
                    )
                })
                .collect();
        let procs = d.processes().unwrap();
        let got: BTreeSet<(u64, u64, String)> = procs
            .iter()
            .map(|p| (u64::from(p.pid), u64::from(p.ppid), p.comm.clone()))
            .collect();
        assert_eq!(got, want, "{fixture}/{golden}");
        assert!(procs.windows(2).all(|w| w[0].pid < w[1].pid));
        assert!(d.info().warnings.is_empty(), "{:?}", d.info().warnings);
    }
}

/// Microseconds since midnight of an RFC 3339 time, and its date.
fn time_of_day_us(t: &str) -> (String, i64) {
    let (date, rest) = t.split_once('T').unwrap();
    let hms = rest.trim_end_matches('Z').trim_end_matches("+00:00");
    let (hms, frac) = hms.split_once('.').unwrap_or((hms, "0"));
    let mut parts = hms.split(':').map(|x| x.parse::<i64>().unwrap());
    let (h, m, sec) = (
        parts.next().unwrap(),
        parts.next().unwrap(),
        parts.next().unwrap(),
    );
    let us: i64 = format!("{frac:0<6}")[..6].parse().unwrap();
    (date.to_string(), ((h * 60 + m) * 60 + sec) * 1_000_000 + us)
}

/// Creation times are Volatility's `CREATION TIME` shifted by one constant for every
/// process: the fraction of a second of the boot time, which Volatility (like /proc/stat's
/// `btime`) drops and podmortem keeps (`offs_real - offs_boot` to the nanosecond).
#[test]
fn creation_times_match_volatility_but_for_the_boot_fraction() {
    for (d, fixture, golden) in dumps() {
        let want = support::golden_json(fixture, &format!("{golden}/linux.pslist.PsList.json"));
        let procs = d.processes().unwrap();
        let mut shifts = BTreeSet::new();
        for r in want.as_array().unwrap() {
            let pid = r["PID"].as_u64().unwrap() as u32;
            let p = procs.iter().find(|p| p.pid == pid).unwrap();
            let ours = p.created.as_deref().unwrap();
            let (d1, a) = time_of_day_us(ours);
            let (d2, b) = time_of_day_us(r["CREATION TIME"].as_str().unwrap());
            assert_eq!(d1, d2, "pid {pid}");
            shifts.insert(a - b);
        }
        // One shift, give or take the microsecond both sides truncate to.
        let (lo, hi) = (*shifts.first().unwrap(), *shifts.last().unwrap());
        assert!(hi - lo <= 1, "{fixture}/{golden}: {shifts:?}");
        let shift = hi;
        assert!(
            (0..1_000_000).contains(&shift),
            "{fixture}/{golden}: {shift} µs"
        );
    }
}

#[test]
fn threads_match_volatility() {
    for (d, fixture, golden) in dumps() {
        let want: BTreeSet<(u64, u64)> = support::golden_json(
            fixture,
            &format!("{golden}/linux.pslist.PsList_threads.json"),
        )
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["PID"].as_u64().unwrap(), r["TID"].as_u64().unwrap()))
        .collect();
        let got: BTreeSet<(u64, u64)> = d
            .processes()
            .unwrap()
            .iter()
            .flat_map(|p| {
                p.threads
                    .iter()
                    .map(|t| (u64::from(p.pid), u64::from(t.tid)))
            })
            .collect();
        assert_eq!(got, want, "{fixture}/{golden}");
    }
}

#[test]
fn cmdlines_match_psaux() {
    for (d, fixture, golden) in dumps() {
        let want: BTreeMap<u64, String> =
            support::golden_json(fixture, &format!("{golden}/linux.psaux.PsAux.json"))
                .as_array()
                .unwrap()
                .iter()
                // Volatility turns every NUL of the argument area into a space, so arguments a
                // process blanked (login clears its user name) leave trailing spaces that
                // /proc/PID/cmdline and ps do not show: compare without them.
                .map(|r| {
                    let args = r["ARGS"].as_str().unwrap().trim_end().to_string();
                    (r["PID"].as_u64().unwrap(), args)
                })
                .collect();
        let got: BTreeMap<u64, String> = d
            .processes()
            .unwrap()
            .iter()
            .map(|p| {
                let args = if p.kernel_thread {
                    assert!(p.cmdline.is_empty());
                    format!("[{}]", p.comm)
                } else {
                    p.cmdline.join(" ")
                };
                (u64::from(p.pid), args)
            })
            .collect();
        assert_eq!(got, want, "{fixture}/{golden}");
    }
}

#[test]
fn environment_matches_envars() {
    for (d, fixture, golden) in dumps() {
        let mut want: BTreeMap<u64, BTreeSet<String>> = BTreeMap::new();
        for r in support::golden_json(fixture, &format!("{golden}/linux.envars.Envars.json"))
            .as_array()
            .unwrap()
        {
            want.entry(r["PID"].as_u64().unwrap())
                .or_default()
                .insert(format!(
                    "{}={}",
                    r["KEY"].as_str().unwrap(),
                    r["VALUE"].as_str().unwrap()
                ));
        }
        let mut got: BTreeMap<u64, BTreeSet<String>> = BTreeMap::new();
        for p in d.processes().unwrap() {
            let env = d.environment(p.pid).unwrap();
            if !env.is_empty() {
                got.insert(
                    u64::from(p.pid),
                    env.into_iter().filter(|e| e.contains('=')).collect(),
                );
            }
        }
        assert_eq!(got, want, "{fixture}/{golden}");
    }
}

#[test]
fn planted_secrets_found_where_volatility_finds_them() {
    for (d, fixture, golden) in dumps() {
        let pattern = if fixture == "linux-6.1" {
            "(FORENSIC_SECRET_[0-9a-f]{6}|RWX_PAYLOAD_SECRET_[0-9a-f]{6}|tok_[A-Z0-9]{9}|RANDOM_[0-9]{4}_KEY)"
        } else {
            "RANDOM_[0-9]+_KEY|NODE_SECRET_[0-9a-f]{4}|HOLDOUT_SECRET_91bd"
        };
        let want: BTreeSet<(u64, u64, String)> = support::golden_json(
            fixture,
            &format!("{golden}/linux.vmaregexscan.VmaRegExScan.json"),
        )
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["PID"].as_u64().unwrap(),
                r["Offset"].as_u64().unwrap(),
                r["Text"].as_str().unwrap().to_string(),
            )
        })
        .collect();
        let req = SearchRequest {
            regex: regex::bytes::Regex::new(pattern).unwrap(),
            pids: None,
        };
        let mut sink = Collect::default();
        search(d, &req, &AtomicBool::new(false), &mut sink).unwrap();
        let got: BTreeSet<(u64, u64, String)> = sink
            .hits
            .iter()
            .map(|h| {
                (
                    u64::from(h.pid().unwrap()),
                    h.address,
                    String::from_utf8_lossy(&h.bytes).into_owned(),
                )
            })
            .collect();
        assert_eq!(got, want, "{fixture}/{golden}");
    }
}

#[test]
fn rwx_payload_readable_at_its_virtual_address() {
    for d in [Symbols::Isf, Symbols::Own].map(support::kernel::lime_with) {
        let Some(d) = d else {
            return;
        };
        let mut buf = [0u8; 0x40];
        let got = d.read_memory(102, 0x1337_0000, &mut buf).unwrap();
        assert_eq!(got.captured, vec![0..0x40]);
        assert_eq!(&buf[..8], &[0x90; 8]);
        assert_eq!(&buf[0x20..0x39], b"RWX_PAYLOAD_SECRET_5e8d21");
        assert_eq!(
            d.memory_slice(102, 0x1337_0020, 25),
            Some(&b"RWX_PAYLOAD_SECRET_5e8d21"[..])
        );
        assert_eq!(d.memory_slice(102, 0x1337_0ff0, 0x20), None); // crosses a page
        // Kernel threads have no user memory.
        assert!(d.captured_ranges(2, 0..u64::MAX).unwrap().is_empty());
    }
}

#[test]
fn maps_and_files_come_through_the_evidence_interface() {
    for d in [Symbols::Isf, Symbols::Own].map(support::kernel::lime_with) {
        let Some(d) = d else {
            return;
        };
        // VMA counts of Volatility's linux.proc.Maps (the walkers themselves are tested apart).
        for (pid, n) in [(102, 11), (107, 14), (108, 10)] {
            assert_eq!(d.maps(pid).unwrap().len(), n, "pid {pid}");
        }
        assert!(d.maps(2).unwrap().is_empty());
        let files = d.files(102).unwrap();
        assert!(
            files
                .iter()
                .any(|f| f.path == "/tmp/fx_deleted.bin (deleted)")
        );
        let p = d.processes().unwrap();
        let fx = p.iter().find(|p| p.pid == 102).unwrap();
        assert_eq!(fx.exe.as_deref(), Some("/usr/bin/fxagent"));
    }
}

/// The node guest's own view (acquisition/guest_view.json).
fn guest_view() -> Value {
    let path = support::fixture("linux-6.1-node")
        .unwrap()
        .join("acquisition/guest_view.json");
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

#[test]
fn node_namespaces_cgroups_and_containers_match_the_guest() {
    for d in [Symbols::Isf, Symbols::Own].map(support::kernel::node_with) {
        let Some(d) = d else {
            return;
        };
        let gv = guest_view();
        let containers: BTreeMap<String, String> = gv["containers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| {
                (
                    c["cgroup_path"].as_str().unwrap().to_string(),
                    c["id"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        let procs = d.processes().unwrap();
        let mut compared = 0;
        for (pid, view) in gv["procs_final"].as_object().unwrap() {
            let pid: u32 = pid.parse().unwrap();
            let Some(p) = procs.iter().find(|p| p.pid == pid) else {
                continue; // e.g. the collector's own short-lived processes
            };
            let cg = view["cgroup"][0]
                .as_str()
                .unwrap()
                .strip_prefix("0::")
                .unwrap();
            assert_eq!(p.cgroup.as_deref(), Some(cg), "pid {pid}");
            assert_eq!(p.container_id, containers.get(cg).cloned(), "pid {pid}");
            assert_eq!(p.pod_uid, None);
            let ns = p.ns.as_ref().unwrap();
            for (kind, v) in view["ns"].as_object().unwrap() {
                let inum: u64 = v
                    .as_str()
                    .unwrap()
                    .trim_matches(['[', ']'])
                    .parse()
                    .unwrap();
                assert_eq!(ns.get(kind), Some(&inum), "pid {pid} ns {kind}");
            }
            compared += 1;
        }
        assert!(compared >= 80, "{compared}");
        let info = d.info();
        let found = info.details["containers"].as_array().unwrap();
        assert_eq!(found.len(), 2);
        assert!(
            found
                .iter()
                .any(|c| c["pids"] == serde_json::json!([501, 516, 517]))
        );
    }
}

#[test]
fn node_cmdlines_match_the_guest() {
    for d in [Symbols::Isf, Symbols::Own].map(support::kernel::node_with) {
        let Some(d) = d else {
            return;
        };
        let gv = guest_view();
        let procs = d.processes().unwrap();
        let mut compared = 0;
        for (pid, view) in gv["procs"].as_object().unwrap() {
            let pid: u32 = pid.parse().unwrap();
            let Some(p) = procs.iter().find(|p| p.pid == pid) else {
                continue;
            };
            let want: Vec<String> = view["cmdline"]
                .as_array()
                .unwrap()
                .iter()
                .map(|a| a.as_str().unwrap().to_string())
                .collect();
            // The guest's collector dropped empty arguments (conmon is given
            // `--network-config-dir ""`); the kernel's argv keeps them, and so do we.
            let ours: Vec<String> = p
                .cmdline
                .iter()
                .filter(|a| !a.is_empty())
                .cloned()
                .collect();
            assert_eq!(ours, want, "pid {pid}");
            compared += 1;
        }
        assert!(compared >= 80, "{compared}");
    }
}

#[test]
fn a_dump_without_isf_uses_its_own_btf_and_kallsyms() {
    for (d, fixture, golden, symbols) in support::kernel::all_dumps() {
        let info = d.info();
        let source = &info.details["symbols"]["source"];
        match symbols {
            Symbols::Isf => assert_eq!(source, "isf", "{fixture}/{golden}"),
            Symbols::Own => {
                assert_eq!(source, "btf+kallsyms", "{fixture}/{golden}");
                assert!(info.details.get("isf").is_none());
                let chosen = info.details["symbols"]["chosen"].as_str().unwrap();
                assert!(chosen.contains("no ISF given"), "{chosen}");
            }
        }
    }
}

#[test]
fn the_wrong_isf_is_a_clear_error() {
    let (Some(path), Some(other)) = (
        support::decompressed("linux-6.1", "dump.lime.zst"),
        support::kernel::isf_dir("linux-6.1-node"),
    ) else {
        return;
    };
    let err = KernelDump::open_with(&path, &other, &support::kernel::isf_cache())
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("6.1.0-50-amd64"), "{err}");
    assert!(err.contains("exact kernel build"), "{err}");
}

#[test]
fn banner_fallback_finds_the_same_layout() {
    use podmortem::engine::kernel::kaslr::{LayoutSource, layouts_from_banner, verify};
    use podmortem::engine::kernel::memory::KernelMemory;
    for (d, fixture, golden) in dumps() {
        let space = d.space();
        let found: Vec<_> = layouts_from_banner(space.phys(), space.isf())
            .unwrap()
            .into_iter()
            .filter(|l| verify(space.phys(), space.isf(), l).unwrap())
            .collect();
        let l = found
            .first()
            .unwrap_or_else(|| panic!("{fixture}/{golden}"));
        assert_eq!(l.source, LayoutSource::BannerScan);
        assert_eq!(
            (l.virtual_shift, l.physical_shift, l.dtb, l.la57),
            (
                d.layout().virtual_shift,
                d.layout().physical_shift,
                d.layout().dtb,
                false
            ),
            "{fixture}/{golden}"
        );
    }
}

#[test]
fn physical_search_finds_every_copy_secrets_json_lists() {
    use podmortem::engine::kernel::phys_search::search_physical;
    for (d, fixture, golden) in dumps() {
        let root = support::fixture(fixture).unwrap();
        let (file, pattern) = if fixture == "linux-6.1" {
            (
                root.join("secrets.json"),
                "FORENSIC_SECRET_7f3a9c|RWX_PAYLOAD_SECRET_5e8d21|tok_ABC123XYZ|RANDOM_1432_KEY",
            )
        } else {
            (
                root.join("acquisition/secrets.json"),
                "RANDOM_[0-9]+_KEY|NODE_SECRET_[0-9a-f]{4}|HOLDOUT_SECRET_91bd",
            )
        };
        let secrets: Value = serde_json::from_slice(&std::fs::read(file).unwrap()).unwrap();
        // linux-6.1 lists hits per dump (dump.avml holds dump.lime's memory).
        let hits = if fixture == "linux-6.1" {
            &secrets["dump.lime"]["hits"]
        } else {
            &secrets["hits"]
        };
        let want: BTreeSet<(u64, String)> = hits
            .as_array()
            .unwrap()
            .iter()
            .map(|h| {
                let phys = match &h.get("phys_addr") {
                    Some(Value::String(s)) => {
                        u64::from_str_radix(s.trim_start_matches("0x"), 16).unwrap()
                    }
                    _ => h["phys"].as_u64().unwrap(),
                };
                let text = h.get("match").or_else(|| h.get("text")).unwrap();
                (phys, text.as_str().unwrap().to_string())
            })
            .collect();
        let mut got = BTreeSet::new();
        let re = regex::bytes::Regex::new(pattern).unwrap();
        search_physical(
            d.space().phys(),
            &re,
            &AtomicBool::new(false),
            &mut |h: Hit| {
                got.insert((h.address, String::from_utf8_lossy(&h.bytes).into_owned()));
                true
            },
        )
        .unwrap();
        assert_eq!(got, want, "{fixture}/{golden}");
    }
}

#[test]
fn cli_ps_json_on_the_node_dump() {
    let (Some(path), Some(isf)) = (
        support::decompressed("linux-6.1-node", "dump.elf.zst"),
        support::kernel::isf_dir("linux-6.1-node"),
    ) else {
        return;
    };
    let out = support::kernel::cli(&["ps", "--json"], &path, Some(&isf));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let ps: Value = serde_json::from_slice(&out.stdout).unwrap();
    let counter = ps
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["pid"] == 516)
        .unwrap();
    assert_eq!(counter["comm"], "counter.py");
    assert_eq!(
        counter["container_id"],
        "c6916fe69ea374cdb0f1bd2efff7beee578da01cd5da9b86144622606ea43123"
    );
    assert_eq!(
        counter["cgroup"],
        "/machine.slice/libpod-c6916fe69ea374cdb0f1bd2efff7beee578da01cd5da9b86144622606ea43123.scope"
    );
    assert_eq!(counter["ns"]["pid"], 4026532253u64);
    assert_eq!(counter["ns"]["net"], 4026532186u64);
    assert_eq!(counter["pod_uid"], Value::Null);
    assert_eq!(counter["kernel_thread"], false);
    let kthreadd = ps
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["pid"] == 2)
        .unwrap();
    assert_eq!(kthreadd["kernel_thread"], true);
    assert_eq!(kthreadd["cmdline"], serde_json::json!([]));
}
