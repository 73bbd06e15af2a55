//! The Triage pane on a kernel dump and with the analyst's YARA rules: `b` on a kernel
//! module, a hidden module, a system-call hook, an eBPF program and a YARA match in physical
//! memory adds a finding of the right target (an export validated against
//! docs/findings.schema.json, the physical match's bytes in it); Enter on them says in the
//! status line that the workbench has no view of kernel or physical memory; Enter on
//! `process.ptraced` selects the traced process; `podmortem EVIDENCE --yara RULES` runs the
//! analyst's rules in the Triage pane (80x24 snapshot) and a rule file that does not compile
//! stops podmortem with FILE:LINE before the terminal is touched.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use crate::support;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use clap::Parser;
use crossterm::event::KeyCode;
use podmortem::engine::findings::{KernelObject, Target};
use podmortem::engine::kernel::dump::KernelDump;
use podmortem::engine::kernel::isf::CacheDir;
use podmortem::engine::triage::{Detection, Options, Rule, YaraRules};
use podmortem::engine::yara::Rules;
use podmortem::tui::action::Pane;
use support::tui::Harness;

/// Where the physical needle is planted (a frame no other part of the image uses).
const NEEDLE_AT: u64 = 0xa00_0000 + 0x10;
const NEEDLE: &[u8] = b"PMPHYS-needle-in-free-memory";
const NEEDLE_RULE: &str =
    "rule pm_phys_needle { strings: $n = \"PMPHYS-needle-in-free-memory\" condition: $n }\n";

fn demo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("assets/demo-checkpoint.tar")
}

/// The compromised kernel of `triage_kernel` with a needle in a page no process maps,
/// opened in the workbench whose Triage pane runs `NEEDLE_RULE` over physical memory too
/// (as `podmortem DUMP --yara RULES` asks); triage done, the Triage pane focused.
fn kernel_workbench(dir: &Path) -> Harness {
    let mut img = crate::triage_kernel::compromised();
    let mut page = vec![0u8; 0x10];
    page.extend_from_slice(NEEDLE);
    img.extra.push((NEEDLE_AT - 0x10, page));
    let (dump, isf) = img.write("tui-triage-targets", None);
    let ev = KernelDump::open_with(&dump, &isf, &CacheDir::Off).unwrap();
    let mut h = workbench_with_rules(ev, dir, "needle.yar", NEEDLE_RULE);
    h.key(KeyCode::Char('7'));
    assert_eq!(h.app.focus, Pane::Triage);
    h
}

/// `ev` in the workbench whose Triage pane runs only the YARA rules `text` of file `name`
/// (their namespace), over physical memory too; triage done.
fn workbench_with_rules(ev: KernelDump, dir: &Path, name: &str, text: &str) -> Harness {
    let mut h = Harness::from_evidence(Arc::new(ev), &dir.join("data"), (80, 24));
    let rules_path = dir.join(name);
    std::fs::write(&rules_path, text).unwrap();
    h.app.triage_options = Options {
        yara: YaraRules::Rules(Arc::new(Rules::compile(false, Some(&rules_path)).unwrap())),
        yara_physical: true,
        ..Options::default()
    };
    h.app.after_first_frame();
    h.drain();
    h
}

/// Selects the first result `pick` accepts; returns it.
fn select(h: &mut Harness, pick: impl Fn(&Detection) -> bool) -> Detection {
    let results = h.app.triage.report.clone().unwrap().detections;
    let i = results
        .iter()
        .position(pick)
        .unwrap_or_else(|| panic!("no such result in {results:#?}"));
    h.key(KeyCode::Char('7'));
    h.key(KeyCode::Home);
    for _ in 0..i {
        h.key(KeyCode::Down);
    }
    results[i].clone()
}

/// `b`, then Enter on the note proposed: the finding added.
fn bookmark(h: &mut Harness) -> podmortem::engine::findings::Finding {
    let before = h.app.session.findings.len();
    h.key(KeyCode::Char('b'));
    assert!(h.screen().contains("bookmark "), "{}", h.screen());
    h.key(KeyCode::Enter);
    assert_eq!(
        h.app.session.findings.len(),
        before + 1,
        "{:?}",
        h.app.status
    );
    h.app.session.findings.last().unwrap().clone()
}

fn status(h: &Harness) -> String {
    h.app
        .status
        .as_ref()
        .map(|s| s.0.clone())
        .unwrap_or_default()
}

#[test]
fn kernel_results_and_a_physical_match_become_findings_and_export() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = kernel_workbench(dir.path());
    let mut want = Vec::new();
    for (rule, object, name) in [
        (Rule::KernelModule, KernelObject::Module, Some("vendor_drv")),
        (
            Rule::HiddenModule,
            KernelObject::HiddenModule,
            Some("diamorphine"),
        ),
        (
            Rule::SyscallHook,
            KernelObject::SyscallHook,
            Some("diamorphine"),
        ),
        // The first ranked program: the kprobe (medium), named by its program name.
        (Rule::Ebpf, KernelObject::BpfProgram, Some("hide_pid")),
    ] {
        let d = select(&mut h, |d| {
            d.rule == rule && (d.module.is_some() || d.bpf_program.is_some())
        });
        // Enter: the details stay in the pane, the status line says why.
        h.key(KeyCode::Enter);
        assert_eq!(h.app.focus, Pane::Triage);
        let said = status(&h);
        assert!(
            said.contains("no kernel view") || said.contains("no view"),
            "{said}"
        );
        if object == KernelObject::Module {
            assert!(said.contains("podmortem modules "), "{said}");
        }
        let f = bookmark(&mut h);
        assert_eq!(
            f.target,
            Target::KernelObject {
                object,
                name: name.map(String::from),
                address: d.address,
            }
        );
        assert!(d.address.is_some(), "{d:?}");
        let reason = podmortem::sanitize::sanitize(&d.reason);
        assert_eq!(f.note, format!("{}: {reason}", d.rule.id()));
        want.push(f.target.clone());
    }
    // The module list's summary names no object.
    select(&mut h, |d| {
        d.rule == Rule::KernelModule && d.module.is_none()
    });
    h.key(KeyCode::Char('b'));
    assert!(h.app.overlay.is_none());
    assert!(status(&h).contains("names nothing"), "{}", status(&h));

    // The YARA match in physical memory.
    let d = select(&mut h, |d| d.phys_address.is_some());
    assert_eq!(d.phys_address, Some(NEEDLE_AT));
    assert_eq!(d.pid, None);
    h.key(KeyCode::Enter);
    assert_eq!(h.app.focus, Pane::Triage);
    assert!(
        status(&h).contains(&format!("physical {NEEDLE_AT:#x}")),
        "{}",
        status(&h)
    );
    let screen = h.screen();
    assert!(screen.contains("pm_phys_needle"), "{screen}");
    let f = bookmark(&mut h);
    let physical = Target::Physical {
        address: NEEDLE_AT,
        length: NEEDLE.len() as u64,
    };
    assert_eq!(f.target, physical);
    assert!(
        f.note.starts_with("yara: YARA needle:pm_phys_needle"),
        "{}",
        f.note
    );
    want.push(physical);

    // The findings pane lists them; Enter there says the same as in the Triage pane.
    h.key(KeyCode::Char('6'));
    let screen = h.screen();
    assert!(
        screen.contains("kernel hidden module diamorphine 0x"),
        "{screen}"
    );
    assert!(
        screen.contains(&format!("physical {NEEDLE_AT:#x} +{}", NEEDLE.len())),
        "{screen}"
    );
    h.key(KeyCode::Enter);
    assert!(status(&h).contains("podmortem modules "), "{}", status(&h));

    // The export validates; the targets read back; the physical match carries its bytes.
    let out = dir.path().join("out.json");
    h.app.export_to(out.clone());
    let doc: serde_json::Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    crate::findings_export::validate(&doc);
    let findings = doc["findings"].as_array().unwrap();
    let back: Vec<Target> = findings
        .iter()
        .map(|f| serde_json::from_value(f["target"].clone()).unwrap())
        .collect();
    assert_eq!(back, want);
    let hidden = &findings[1];
    assert_eq!(hidden["target"]["kind"], "kernel_object");
    assert_eq!(hidden["target"]["object"], "hidden_module");
    assert_eq!(hidden["target"]["name"], "diamorphine");
    assert!(
        hidden["target"]["address"]
            .as_str()
            .unwrap()
            .starts_with("0xffffffffc03")
    );
    assert!(hidden["bytes"].is_null());
    assert_eq!(findings[3]["target"]["name"], "hide_pid");
    let phys = &findings[4];
    assert_eq!(phys["target"]["kind"], "physical");
    assert_eq!(phys["target"]["address"], format!("{NEEDLE_AT:#x}"));
    assert_eq!(phys["bytes"]["hex"], hex(NEEDLE));
    assert_eq!(phys["bytes"]["captured"], NEEDLE.len());
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

#[test]
fn enter_on_a_traced_process_selects_it() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = kernel_workbench(dir.path());
    for pid in [3, 4] {
        let d = select(&mut h, |d| d.rule == Rule::Ptraced && d.pid == Some(pid));
        h.key(KeyCode::Enter);
        assert_eq!(h.app.focus, Pane::Processes, "{d:?}");
        assert_eq!(h.app.selected_process().map(|p| p.pid), Some(pid));
        // `b` there bookmarks the traced process.
        h.key(KeyCode::Char('7'));
        let f = bookmark(&mut h);
        assert!(
            matches!(&f.target, Target::Process { pid: p, .. } if *p == pid),
            "{:?}",
            f.target
        );
    }
}

#[test]
fn the_workbench_runs_the_analysts_yara_rules() {
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("mine.yar");
    std::fs::write(
        &rules,
        "rule pm_demo_key { meta: severity = \"critical\" strings: $k = \"DEMO_API_KEY_\" \
         condition: $k }\n",
    )
    .unwrap();
    let demo = demo();
    // As `podmortem EVIDENCE --yara RULES` parses it.
    let cli = podmortem::cli::Cli::try_parse_from([
        "podmortem".as_ref(),
        demo.as_os_str(),
        "--yara".as_ref(),
        rules.as_os_str(),
    ])
    .unwrap();
    assert!(cli.misplaced_workbench_flag().is_none());
    let opts = cli.workbench_triage().unwrap();
    assert!(opts.yara_physical);
    let mut h = Harness::open(&demo, &dir.path().join("data"), (80, 24));
    h.app.triage_options = opts;
    h.app.after_first_frame();
    h.drain();
    let d = select(&mut h, |d| d.yara.is_some());
    assert_eq!(
        d.yara.as_ref().map(|y| y.rule.as_str()),
        Some("pm_demo_key")
    );
    assert_eq!(d.severity, podmortem::engine::triage::Severity::Critical);
    let screen = h.screen();
    assert!(screen.contains("mine:pm_demo_key"), "{screen}");
    let mut s = insta::Settings::clone_current();
    s.set_snapshot_path(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("snapshots"));
    s.set_prepend_module_to_snapshot(false);
    s.set_omit_expression(true);
    s.bind(|| insta::assert_snapshot!("demo_triage_custom_yara_80x24", screen));

    // `--no-yara`: no YARA rule at all; a flag of the workbench before a command is refused.
    let cli = podmortem::cli::Cli::try_parse_from([
        "podmortem".as_ref(),
        demo.as_os_str(),
        "--no-yara".as_ref(),
    ])
    .unwrap();
    assert!(matches!(
        cli.workbench_triage().unwrap().yara,
        YaraRules::Off
    ));
    let cli = podmortem::cli::Cli::try_parse_from([
        "podmortem".as_ref(),
        "--yara".as_ref(),
        rules.as_os_str(),
        "ps".as_ref(),
        demo.as_os_str(),
    ])
    .unwrap();
    assert_eq!(cli.misplaced_workbench_flag(), Some("--yara"));
}

#[test]
fn a_bad_rule_file_stops_the_workbench_before_the_terminal_is_touched() {
    if !support::terminal::pty_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.yar");
    std::fs::write(
        &bad,
        "rule ok { condition: true }\n\nrule bad { strings: $a = \"x\" condition: $b }\n",
    )
    .unwrap();
    let data = dir.path().join("data");
    let run = support::terminal::run_in_pty(
        dir.path(),
        &[
            ("PODMORTEM_DATA_DIR", &data),
            ("PODMORTEM_CACHE_DIR", &dir.path().join("cache")),
        ],
        &[demo().to_str().unwrap(), "--yara", bad.to_str().unwrap()],
        &[],
    );
    let text = String::from_utf8_lossy(&run.output);
    assert_eq!(run.code, Some(1), "{text}");
    assert!(text.contains("YARA rules: "), "{text}");
    assert!(text.contains("bad.yar:3:"), "{text}");
    assert!(text.contains("$b"), "{text}");
    // Never in raw mode or on the alternate screen: no escape sequence written at all.
    assert!(!run.output.contains(&0x1b), "{text:?}");
    assert!(!data.exists(), "no session was opened");
}

#[test]
fn the_binary_passes_yara_to_the_triage_pane() {
    if !support::tmux::Tmux::available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("mine.yar");
    std::fs::write(
        &rules,
        "rule pm_demo_key { strings: $k = \"DEMO_API_KEY_\" condition: $k }\n",
    )
    .unwrap();
    let data = dir.path().join("data");
    let t = support::tmux::Tmux::start(
        dir.path(),
        dir.path(),
        &[("PODMORTEM_DATA_DIR", &data)],
        &[demo().to_str().unwrap(), "--yara", rules.to_str().unwrap()],
    );
    t.wait_for("triage done");
    t.keys(&["7"]);
    t.wait_for("mine:pm_demo_key");
    t.keys(&["q"]);
    t.wait_exit();
}

/// A YARA match in physical memory that a process maps names that process (pid, its address
/// there, "mapped by" in the reason), and Enter on it opens the hex viewer there.
#[test]
fn enter_on_a_physical_match_a_process_maps_opens_its_bytes_in_the_process() {
    use crate::support::scale::DumpParams;
    use crate::support::scale::dump::Dump;
    use crate::support::scale::lime::write_lime;
    let dir = tempfile::tempdir().unwrap();
    let d = Dump::build(&DumpParams::small());
    let (lime, isf) = (dir.path().join("scale.lime"), dir.path().join("scale.json"));
    write_lime(&d, &lime);
    std::fs::write(&isf, serde_json::to_vec(&d.isf).unwrap()).unwrap();
    let ev = KernelDump::open_with(&lime, &isf, &CacheDir::Off).unwrap();
    let mut h = workbench_with_rules(
        ev,
        dir.path(),
        "plant.yar",
        "rule plant_mid { strings: $p = /PMSCALE-mid-[0-9]+-[0-9a-f]+;/ condition: $p }\n",
    );
    let det = select(&mut h, |d| d.phys_address.is_some());
    let plant = d
        .plants
        .iter()
        .find(|p| p.phys == det.phys_address)
        .unwrap();
    assert_eq!((det.pid, det.address), (Some(plant.pid), Some(plant.vaddr)));
    assert!(det.reason.contains(&format!("mapped by pid {}", plant.pid)));
    h.key(KeyCode::Enter);
    assert_eq!(h.app.focus, Pane::Hex);
    assert_eq!(h.app.hex.pid, Some(plant.pid));
    assert_eq!(h.app.hex.cursor, plant.vaddr);
    // Its bookmark is still the physical range (the evidence's own address for it).
    h.key(KeyCode::Char('7'));
    let f = bookmark(&mut h);
    assert_eq!(
        f.target,
        Target::Physical {
            address: plant.phys.unwrap(),
            length: plant.text.len() as u64,
        }
    );
}
