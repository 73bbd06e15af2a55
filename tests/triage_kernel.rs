//! The kernel triage rules on a synthetic kernel written as a LiME dump with its ISF
//! (`support::kernel_objects`) and opened like a real one: each rule fires on a compromised
//! kernel (a hidden module hooking a system call, a tainted module, eBPF programs of
//! several types, a process attached to by ptrace and one traced by its parent) and stays
//! quiet on a clean one; a checkpoint has no kernel, so none fires there; the CLI's JSON
//! carries `module` and `address`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use crate::support;

use std::path::PathBuf;
use std::sync::atomic::AtomicBool;

use podmortem::engine::evidence::EvidenceKind;
use podmortem::engine::kernel::dump::KernelDump;
use podmortem::engine::kernel::isf::CacheDir;
use podmortem::engine::triage::{Detection, Options, Rule, Severity, triage};
use support::kernel_image::TaskImage;
use support::kernel_objects::{ModSpec, SYSCALLS, text};

/// The tasks every image has: init (1), gdb (2), sshd (3), prog (4); returns their
/// addresses.
fn tasks(img: &mut TaskImage) -> [u64; 4] {
    let init = img.add_task(1, "init", 0);
    let gdb = img.add_task(2, "gdb", init);
    let sshd = img.add_task(3, "sshd", init);
    let prog = img.add_task(4, "prog", gdb);
    [init, gdb, sshd, prog]
}

/// A compromised kernel: a clean and a tainted module on the list, a hidden one whose code
/// system call 2 now runs, three eBPF programs, sshd attached to by gdb, prog traced by
/// its parent gdb.
pub(crate) fn compromised() -> TaskImage {
    let mut img = TaskImage::with_objects(false);
    let [init, gdb, sshd, prog] = tasks(&mut img);
    img.trace(sshd, gdb, init, 1);
    img.trace(prog, gdb, gdb, 1);
    img.add_module(0, &ModSpec::new("virtio", 2), true);
    let mut tainted = ModSpec::new("vendor_drv", 1);
    tainted.taints = (1 << 12) | (1 << 13);
    img.add_module(1, &tainted, true);
    let rootkit = img.add_module(2, &ModSpec::new("diamorphine", 3), false);
    let mut entries: Vec<u64> = (0..SYSCALLS).map(|i| text(0x1000 + i * 0x40)).collect();
    entries[2] = rootkit.base + 0x100;
    img.set_syscalls(&entries);
    img.add_bpf(3, 15, "sd_devices", None);
    img.add_bpf(9, 2, "hide_pid", Some("__x64_sys_getdents64"));
    img.add_bpf(70, 6, "xdp_pass", None);
    img
}

/// A clean kernel: one untainted module, nothing hooked, hidden, loaded or traced.
fn clean() -> TaskImage {
    let mut img = TaskImage::with_objects(false);
    tasks(&mut img);
    img.add_module(0, &ModSpec::new("virtio", 2), true);
    img
}

/// Writes `img` and opens it: (dump path, ISF path, opened dump).
fn open(img: &TaskImage, name: &str) -> (PathBuf, PathBuf, KernelDump) {
    let (dump, isf) = img.write(name, None);
    let d = KernelDump::open_with(&dump, &isf, &CacheDir::Off).unwrap();
    (dump, isf, d)
}

fn run(ev: &dyn podmortem::engine::Evidence) -> Vec<Detection> {
    let r = triage(
        ev,
        &Options::default(),
        &AtomicBool::new(false),
        &mut |_| {},
    )
    .unwrap();
    assert!(r.problems.is_empty(), "{:?}", r.problems);
    r.detections
}

fn of(ds: &[Detection], rule: Rule) -> Vec<&Detection> {
    ds.iter().filter(|d| d.rule == rule).collect()
}

#[test]
fn a_compromised_kernel_raises_every_kernel_rule() {
    let (_, _, dump) = open(&compromised(), "triage-compromised");
    let ds = run(&dump);
    // kernel.syscall_hook: entry 2 into the hidden module, critical, ranked first.
    let hooks = of(&ds, Rule::SyscallHook);
    assert_eq!(hooks.len(), 1, "{ds:#?}");
    assert_eq!(hooks[0].severity, Severity::Critical);
    assert_eq!(hooks[0].module.as_deref(), Some("diamorphine"));
    assert_eq!(
        hooks[0].address,
        Some(support::kernel_objects::MODULES_AREA + 0x20_0100)
    );
    assert!(
        hooks[0].reason.contains("sys_call_table[2]"),
        "{}",
        hooks[0].reason
    );
    assert_eq!(ds[0].rule, Rule::SyscallHook);
    // kernel.hidden_module.
    let hidden = of(&ds, Rule::HiddenModule);
    assert_eq!(hidden.len(), 1, "{ds:#?}");
    assert_eq!(hidden[0].severity, Severity::High);
    assert_eq!(hidden[0].module.as_deref(), Some("diamorphine"));
    // kernel.module: the summary and the tainted one.
    let mods = of(&ds, Rule::KernelModule);
    assert_eq!(mods.len(), 2, "{mods:#?}");
    assert!(mods.iter().any(|d| {
        d.severity == Severity::Info
            && d.reason
                .starts_with("2 kernel modules loaded: virtio, vendor_drv")
    }));
    let t = mods
        .iter()
        .find(|d| d.severity == Severity::Medium)
        .unwrap();
    assert_eq!(t.module.as_deref(), Some("vendor_drv"));
    assert!(t.reason.contains("out-of-tree, unsigned"), "{}", t.reason);
    // kernel.ebpf: severity by type.
    let bpf = of(&ds, Rule::Ebpf);
    let by = |name: &str| {
        bpf.iter()
            .find(|d| d.reason.contains(name))
            .unwrap()
            .severity
    };
    assert_eq!(bpf.len(), 3);
    let mut names: Vec<_> = bpf
        .iter()
        .filter_map(|d| d.bpf_program.as_deref())
        .collect();
    names.sort_unstable();
    assert_eq!(names, ["hide_pid", "sd_devices", "xdp_pass"]);
    assert_eq!(by("hide_pid"), Severity::Medium);
    assert_eq!(by("xdp_pass"), Severity::Low);
    assert_eq!(by("sd_devices"), Severity::Info);
    assert!(
        bpf.iter()
            .any(|d| d.reason.contains("attached to __x64_sys_getdents64"))
    );
    // process.ptraced: attached (high) and by its parent (medium).
    let traced = of(&ds, Rule::Ptraced);
    assert_eq!(traced.len(), 2, "{traced:#?}");
    let sshd = traced.iter().find(|d| d.pid == Some(3)).unwrap();
    assert_eq!(sshd.severity, Severity::High);
    assert_eq!(sshd.comm.as_deref(), Some("sshd"));
    assert!(sshd.reason.contains("pid 2 (gdb)") && sshd.reason.contains("parent is pid 1"));
    let prog = traced.iter().find(|d| d.pid == Some(4)).unwrap();
    assert_eq!(prog.severity, Severity::Medium);
}

#[test]
fn a_clean_kernel_raises_only_the_module_summary() {
    let (_, _, dump) = open(&clean(), "triage-clean");
    let ds = run(&dump);
    assert_eq!(ds.len(), 1, "{ds:#?}");
    assert_eq!(ds[0].rule, Rule::KernelModule);
    assert_eq!(ds[0].severity, Severity::Info);
    assert_eq!(ds[0].module, None);
    // No modules at all: no summary either.
    let mut img = TaskImage::with_objects(true);
    tasks(&mut img);
    let (_, _, dump) = open(&img, "triage-no-modules");
    assert!(run(&dump).is_empty());
}

#[test]
fn a_checkpoint_raises_no_kernel_rule() {
    let ev = support::triage_ev::Ev::new(
        EvidenceKind::Checkpoint,
        vec![support::triage_ev::proc_(1, "app", &["/app"], Some("/app"))],
    );
    let ds = run(&ev);
    assert!(
        ds.iter()
            .all(|d| !d.rule.id().starts_with("kernel.") && d.rule != Rule::Ptraced),
        "{ds:#?}"
    );
}

#[test]
fn the_cli_names_modules_and_addresses() {
    let (dump, isf, _) = open(&compromised(), "triage-cli");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_podmortem"))
        .args(["triage", "--json", "--min-severity", "high"])
        .arg(&dump)
        .arg("--isf")
        .arg(&isf)
        .env("PODMORTEM_CACHE_DIR", dump.with_extension("cache"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let rows = v.as_array().unwrap();
    let rules: Vec<&str> = rows.iter().map(|r| r["rule"].as_str().unwrap()).collect();
    assert_eq!(
        rules,
        [
            "kernel.syscall_hook",
            "kernel.hidden_module",
            "process.ptraced"
        ]
    );
    assert_eq!(rows[0]["severity"], "critical");
    assert_eq!(rows[0]["module"], "diamorphine");
    assert_eq!(rows[0]["address"], "0xffffffffc0300100");
    assert_eq!(rows[1]["module"], "diamorphine");
    assert!(
        rows[1]["address"]
            .as_str()
            .unwrap()
            .starts_with("0xffffffffc03")
    );
    assert_eq!(rows[2]["pid"], 3);
    // The table names the module.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_podmortem"))
        .args(["triage", "--min-severity", "critical"])
        .arg(&dump)
        .arg("--isf")
        .arg(&isf)
        .env("PODMORTEM_CACHE_DIR", dump.with_extension("cache"))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("module diamorphine 0xffffffffc0300100"),
        "{text}"
    );
}

/// A tracer holding threads of a process but not its leader: the process is reported once,
/// naming the threads traced, through a real dump.
#[test]
fn a_process_with_a_traced_thread_is_reported_once_naming_its_threads() {
    let mut img = TaskImage::with_objects(false);
    let [init, gdb, _, _] = tasks(&mut img);
    let java = img.add_task(10, "java", init);
    let gc = img.add_thread(java, 11, "GC Thread");
    img.add_thread(java, 12, "VM Thread");
    let worker = img.add_thread(java, 13, "worker");
    img.trace(gc, gdb, init, 1);
    img.trace(worker, gdb, init, 1);
    let (_, _, dump) = open(&img, "triage-traced-thread");
    let ds = run(&dump);
    let traced = of(&ds, Rule::Ptraced);
    assert_eq!(traced.len(), 1, "{traced:#?}");
    assert_eq!(traced[0].pid, Some(10));
    assert_eq!(traced[0].severity, Severity::High);
    assert!(
        traced[0].reason.contains("threads traced: 11, 13 (2 of 4)"),
        "{}",
        traced[0].reason
    );
}
