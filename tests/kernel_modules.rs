//! The kernel's own objects on the real dumps: the module list equals Volatility 3's
//! `linux.lsmod` golden on linux-6.1 (LiME and AVML, with the ISF and with the dump's own
//! symbols; names, order, `struct module` addresses in their low 48 bits as the golden
//! prints them, code sizes, parameter names) and the guest's `/proc/modules` (code bases);
//! `podmortem modules --json` prints the same; and on both fixtures (linux-6.1 and the
//! podman node) nothing is hidden, no system call is hooked, and the node's eBPF programs
//! are the cgroup programs systemd and runc load.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use crate::support;

use podmortem::engine::Evidence;
use podmortem::engine::kernel::dump::KernelDump;
use serde_json::Value;
use support::kernel::Symbols;

/// linux-6.1's dumps opened both ways: (dump, golden folder, symbols).
fn linux61() -> Vec<(&'static KernelDump, &'static str, Symbols)> {
    let mut v = Vec::new();
    for symbols in [Symbols::Isf, Symbols::Own] {
        if let Some(d) = support::kernel::lime_with(symbols) {
            v.push((d, "dump.lime", symbols));
        }
        if let Some(d) = support::kernel::avml_with(symbols) {
            v.push((d, "dump.avml", symbols));
        }
    }
    v
}

/// `name=value, name=value` of lsmod's `Load Arguments`: the names.
fn param_names(args: &str) -> Vec<String> {
    args.split(", ")
        .filter(|a| !a.is_empty())
        .map(|a| a.split('=').next().unwrap().to_string())
        .collect()
}

/// `/proc/modules` as the guest printed it: (name, size, base).
fn proc_modules() -> Vec<(String, u64, u64)> {
    let dir = support::fixture("linux-6.1").unwrap();
    let v: Value =
        serde_json::from_slice(&std::fs::read(dir.join("acquisition/guest_view.json")).unwrap())
            .unwrap();
    v["modules"]
        .as_str()
        .unwrap()
        .lines()
        .filter(|l| l.contains(" Live "))
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            let base = u64::from_str_radix(f[f.len() - 1].trim_start_matches("0x"), 16).unwrap();
            (f[0].to_string(), f[1].parse().unwrap(), base)
        })
        .collect()
}

#[test]
fn the_module_list_equals_lsmod_and_proc_modules() {
    let dumps = linux61();
    if dumps.is_empty() {
        return;
    }
    let proc = proc_modules();
    for (dump, golden, symbols) in dumps {
        let what = format!("{golden} ({symbols:?})");
        let g = support::golden_json("linux-6.1", &format!("{golden}/linux.lsmod.Lsmod.json"));
        let g = g.as_array().unwrap();
        let w = dump.kernel().unwrap().modules().unwrap();
        assert!(w.problems.is_empty(), "{what}: {:?}", w.problems);
        let names: Vec<&str> = w.items.iter().map(|m| m.name.as_str()).collect();
        let want: Vec<&str> = g
            .iter()
            .map(|r| r["Module Name"].as_str().unwrap())
            .collect();
        assert_eq!(names, want, "{what}");
        for (m, r) in w.items.iter().zip(g) {
            assert_eq!(
                m.address & 0xffff_ffff_ffff,
                r["Offset"].as_u64().unwrap(),
                "{what}: {}",
                m.name
            );
            assert_eq!(
                m.size,
                r["Code Size"].as_u64().unwrap(),
                "{what}: {}",
                m.name
            );
            assert_eq!(
                m.parameters,
                param_names(r["Load Arguments"].as_str().unwrap()),
                "{what}: {}",
                m.name
            );
            assert_eq!(
                m.taints,
                r["Taints"].as_str().unwrap(),
                "{what}: {}",
                m.name
            );
            assert_eq!(m.state, "live");
        }
        let ours: Vec<(String, u64, u64)> = w
            .items
            .iter()
            .map(|m| (m.name.clone(), m.size, m.base))
            .collect();
        assert_eq!(ours, proc, "{what}: /proc/modules");
    }
}

#[test]
fn modules_json_is_the_same_list() {
    let (Some(path), Some(isf)) = (
        support::decompressed("linux-6.1", "dump.lime.zst"),
        support::kernel::isf_dir("linux-6.1"),
    ) else {
        return;
    };
    let out = support::kernel::cli(&["modules", "--json"], &path, Some(&isf));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let g = support::golden_json("linux-6.1", "dump.lime/linux.lsmod.Lsmod.json");
    let rows = v.as_array().unwrap();
    assert_eq!(rows.len(), g.as_array().unwrap().len());
    for (m, r) in rows.iter().zip(g.as_array().unwrap()) {
        assert_eq!(m["name"], r["Module Name"]);
        let addr = u64::from_str_radix(m["address"].as_str().unwrap().trim_start_matches("0x"), 16);
        assert_eq!(
            addr.unwrap() & 0xffff_ffff_ffff,
            r["Offset"].as_u64().unwrap()
        );
        assert_eq!(m["size"], r["Code Size"]);
        assert!(m["base"].as_str().unwrap().starts_with("0xffffffffc0"));
    }
    // The human table names every module.
    let out = support::kernel::cli(&["modules"], &path, Some(&isf));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.starts_with("ADDRESS"), "{text}");
    assert!(text.contains("virtio_pci_legacy_dev") && text.contains("force_legacy"));
}

#[test]
fn the_fixture_kernels_are_intact() {
    let mut dumps: Vec<(&KernelDump, String)> = linux61()
        .into_iter()
        .map(|(d, g, s)| (d, format!("linux-6.1 {g} ({s:?})")))
        .collect();
    for symbols in [Symbols::Isf, Symbols::Own] {
        if let Some(d) = support::kernel::node_with(symbols) {
            dumps.push((d, format!("node ({symbols:?})")));
        }
    }
    for (dump, what) in dumps {
        let k = dump.kernel().unwrap();
        let listed = k.modules().unwrap();
        let hidden = k.hidden_modules().unwrap();
        eprintln!(
            "{what}: {} modules; area {:#x}-{:#x} ({}), {} bytes scanned",
            listed.len(),
            hidden.area_start,
            hidden.area_end,
            hidden.area_from,
            hidden.scanned_bytes
        );
        assert!(hidden.modules.is_empty(), "{what}: {:?}", hidden.modules);
        assert!(hidden.problems.is_empty(), "{what}: {:?}", hidden.problems);
        assert_eq!(hidden.area_from, "mod_tree", "{what}");
        assert!(hidden.scanned_bytes > 0, "{what}");
        let sys = k.syscall_tables().unwrap();
        for t in &sys.tables {
            eprintln!(
                "{what}: {} {} entries ({})",
                t.table, t.entries, t.length_from
            );
        }
        assert!(sys.problems.is_empty(), "{what}: {:?}", sys.problems);
        assert_eq!(sys.hooks().count(), 0, "{what}: {:?}", sys.tables);
        // Linux 6.1 on x86-64 has 451 system calls (0..=450).
        let table = sys
            .tables
            .iter()
            .find(|t| t.table == "sys_call_table")
            .unwrap();
        assert_eq!(table.entries, 451, "{what}");
        let traced = k.traced().unwrap();
        assert!(traced.is_empty() && traced.problems.is_empty(), "{what}");
        let progs = k.bpf_programs().unwrap();
        assert!(progs.problems.is_empty(), "{what}: {:?}", progs.problems);
        for p in progs.iter() {
            eprintln!("{what}: bpf {} {} {} {}", p.id, p.prog_type, p.name, p.tag);
        }
        if what.starts_with("node") {
            // systemd's device and firewall programs and runc's device filters (cgroup v2).
            assert!(progs.len() >= 2, "{what}: {:?}", progs.items);
            assert!(
                progs
                    .iter()
                    .all(|p| p.prog_type.starts_with("BPF_PROG_TYPE_CGROUP_")),
                "{what}: {:?}",
                progs.items
            );
            assert!(progs.iter().any(|p| p.name == "sd_devices"), "{what}");
            let mut ids: Vec<u64> = progs.iter().map(|p| p.id).collect();
            ids.dedup();
            assert_eq!(ids.len(), progs.len(), "{what}: ids unique");
        }
    }
}
