//! Triage rules on made-up evidence: every rule has a case that fires and one that does
//! not; ranking, masking, the severity floor, cancellation and the marks' shared test.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use std::sync::atomic::AtomicBool;

use crate::support::triage_ev::{Ev, P, proc_};

use podmortem::engine::evidence::{EvidenceKind, VmaKind};
use podmortem::engine::triage::{
    Detection, HeadClass, Options, Report, Rule, Severity, memory, triage,
};

fn run_with(ev: &Ev, opts: &Options) -> Report {
    triage(ev, opts, &AtomicBool::new(false), &mut |_| {}).unwrap()
}

fn run(kind: EvidenceKind, procs: Vec<P>) -> Vec<Detection> {
    run_with(&Ev::new(kind, procs), &Options::default()).detections
}

fn of(ds: &[Detection], rule: Rule) -> Vec<&Detection> {
    ds.iter().filter(|d| d.rule == rule).collect()
}

fn host(procs: Vec<P>) -> Vec<Detection> {
    run(EvidenceKind::KernelDump, procs)
}

fn plain(pid: u32) -> P {
    proc_(pid, "app", &["/usr/bin/app"], Some("/usr/bin/app")).vma(
        0x40_0000,
        0x40_1000,
        "r-xp",
        VmaKind::File,
        Some("/usr/bin/app"),
    )
}

#[test]
fn a_plain_process_raises_nothing() {
    let ds = host(vec![plain(10).env(&["PATH=/usr/bin", "HOME=/root"])]);
    assert!(ds.is_empty(), "{ds:#?}");
}

#[test]
fn rwx_areas_are_reported_with_their_first_bytes_classified() {
    let mut code = [0x41u8; 100];
    code[..7].copy_from_slice(&[0x90, 0x90, 0x48, 0x31, 0xc0, 0xcc, 0xc3]);
    let elf = *b"\x7fELF\x02\x01\x01\0";
    let ds = host(vec![
        plain(10)
            .vma(0x1337_0000, 0x1337_2000, "rwxp", VmaKind::Anon, None)
            .bytes(0x1337_0000, &code)
            .vma(0x2000_0000, 0x2000_1000, "rwxp", VmaKind::Anon, None)
            .bytes(0x2000_0000, &elf)
            .vma(
                0x3000_0000,
                0x3000_1000,
                "rwxp",
                VmaKind::File,
                Some("/opt/jit.so"),
            )
            .vma(0x4000_0000, 0x4000_1000, "rw-p", VmaKind::Anon, None),
    ]);
    let rwx = of(&ds, Rule::Rwx);
    assert_eq!(rwx.len(), 3, "{ds:#?}");
    let first = rwx.iter().find(|d| d.start == Some(0x1337_0000)).unwrap();
    assert_eq!(first.severity, Severity::High);
    assert_eq!(first.end, Some(0x1337_2000));
    assert_eq!(first.head, Some(HeadClass::Code));
    assert!(
        first
            .head_hex
            .as_deref()
            .unwrap()
            .starts_with("90904831c0ccc3")
    );
    assert_eq!(
        first.head_hex.as_deref().unwrap().len(),
        128,
        "64 bytes in hex"
    );
    let elf = rwx.iter().find(|d| d.start == Some(0x2000_0000)).unwrap();
    assert_eq!(
        (elf.severity, elf.head),
        (Severity::Critical, Some(HeadClass::Elf))
    );
    let file = rwx.iter().find(|d| d.start == Some(0x3000_0000)).unwrap();
    assert_eq!(
        (file.severity, file.head),
        (Severity::Medium, Some(HeadClass::NotCaptured))
    );
    assert!(
        !ds.iter().any(|d| d.start == Some(0x4000_0000)),
        "rw- is not flagged"
    );
}

#[test]
fn anonymous_executable_areas_are_reported_not_file_code_or_the_vdso() {
    let ds = host(vec![
        plain(10)
            .vma(0x5000_0000, 0x5000_1000, "r-xp", VmaKind::Anon, None)
            .bytes(0x5000_0000, &[0u8; 64])
            .vma(
                0x7fff_0000,
                0x7fff_2000,
                "r-xp",
                VmaKind::Vdso,
                Some("[vdso]"),
            ),
    ]);
    let anon = of(&ds, Rule::AnonExec);
    assert_eq!(anon.len(), 1, "{ds:#?}");
    assert_eq!(anon[0].head, Some(HeadClass::Zeros));
    assert_eq!(anon[0].severity, Severity::Medium);
}

#[test]
fn the_tree_marks_count_what_the_area_rules_flag() {
    let p = plain(10)
        .vma(0x1000_0000, 0x1000_1000, "rwxp", VmaKind::Anon, None)
        .vma(
            0x2000_0000,
            0x2000_1000,
            "r-xp",
            VmaKind::Heap,
            Some("[heap]"),
        )
        .vma(0x3000_0000, 0x3000_1000, "rw-p", VmaKind::Anon, None);
    assert_eq!(memory::flagged_areas(&p.maps), 2);
    let ds = host(vec![p]);
    assert_eq!(of(&ds, Rule::Rwx).len() + of(&ds, Rule::AnonExec).len(), 2);
}

#[test]
fn memfd_and_deleted_executables_are_reported() {
    let fileless = proc_(20, "x", &["x"], Some("/memfd:x (deleted)")).vma(
        0x40_0000,
        0x40_1000,
        "r-xp",
        VmaKind::File,
        Some("/memfd:x (deleted)"),
    );
    let deleted = plain(21).vma(
        0x7f00_0000_0000,
        0x7f00_0000_1000,
        "r-xp",
        VmaKind::File,
        Some("/usr/lib/libevil.so (deleted)"),
    );
    // Not code: a memfd mapped for data, shared anonymous memory.
    let benign = plain(22)
        .vma(
            0x6000_0000,
            0x6000_1000,
            "rw-s",
            VmaKind::Shmem,
            Some("/memfd:buf (deleted)"),
        )
        .vma(
            0x6100_0000,
            0x6100_1000,
            "rw-s",
            VmaKind::Shmem,
            Some("/dev/zero (deleted)"),
        );
    let ds = host(vec![fileless, deleted, benign]);
    let memfd = of(&ds, Rule::MemfdExec);
    assert_eq!(memfd.len(), 1, "{ds:#?}");
    assert_eq!(
        (memfd[0].pid, memfd[0].severity),
        (Some(20), Severity::Critical)
    );
    let del = of(&ds, Rule::DeletedExec);
    assert_eq!(del.len(), 1, "{ds:#?}");
    assert_eq!(del[0].pid, Some(21));
    assert_eq!(del[0].start, Some(0x7f00_0000_0000));
}

#[test]
fn executables_run_from_temporary_or_hidden_places_are_reported() {
    let ds = host(vec![
        proc_(30, ".x", &["sleep"], Some("/tmp/.x")),
        proc_(31, "m", &["m"], Some("/dev/shm/m")),
        proc_(32, ".h", &[".h"], Some("/usr/bin/.h")),
        plain(33),
        proc_(34, "b", &["b"], Some("/home/u/.local/bin/b")),
    ]);
    let found: Vec<(Option<u32>, Severity)> = of(&ds, Rule::ExePath)
        .iter()
        .map(|d| (d.pid, d.severity))
        .collect();
    assert_eq!(
        found,
        vec![
            (Some(30), Severity::Critical),
            (Some(31), Severity::High),
            (Some(32), Severity::High)
        ]
    );
}

#[test]
fn spoofed_names_are_reported_and_multi_call_binaries_are_not() {
    let ds = host(vec![
        // A busybox copy started as `sleep`: the replicas' masquerade.
        proc_(
            40,
            ".kdevtmpfsi",
            &["sleep", "100000"],
            Some("/tmp/.kdevtmpfsi"),
        ),
        // Benign: a busybox applet, its shell's in-place fork, a script, a login shell,
        // a rewritten title, systemd started as /sbin/init, a versioned interpreter.
        proc_(41, "sleep", &["sleep", "3600"], Some("/bin/busybox")),
        proc_(42, "dd", &["/bin/sh", "-c", "x"], Some("/bin/busybox")),
        proc_(
            43,
            "counter.py",
            &["python3", "/home/counter.py"],
            Some("/usr/bin/python3.11"),
        ),
        proc_(44, "bash", &["-bash"], Some("/usr/bin/bash")),
        proc_(45, "sshd", &["sshd: root@pts/0"], Some("/usr/sbin/sshd")),
        proc_(
            1,
            "systemd",
            &["/sbin/init"],
            Some("/usr/lib/systemd/systemd"),
        ),
        proc_(
            46,
            "python3",
            &["python3", "-m", "x"],
            Some("/usr/bin/python3.11"),
        ),
    ]);
    let spoof = of(&ds, Rule::SpoofedName);
    assert_eq!(spoof.len(), 1, "{spoof:#?}");
    assert_eq!(spoof[0].pid, Some(40));
    assert!(spoof[0].reason.contains("\"sleep\""), "{}", spoof[0].reason);
}

#[test]
fn user_processes_posing_as_kernel_threads_are_reported() {
    let mut real = proc_(2, "kworker/0:1", &[], None);
    real.process.kernel_thread = true;
    let ds = host(vec![
        proc_(50, "[kworker/0:1]", &["[kworker/0:1]"], Some("/tmp/k")),
        proc_(51, "x", &["[kthreadd]"], Some("/usr/bin/x")),
        real,
    ]);
    let fake = of(&ds, Rule::FakeKernelThread);
    let pids: Vec<_> = fake.iter().map(|d| d.pid).collect();
    assert_eq!(pids, vec![Some(50), Some(51)], "{fake:#?}");
}

#[test]
fn loader_variables_are_reported() {
    let ds = host(vec![
        plain(60).env(&["LD_PRELOAD=/tmp/libhook.so", "PATH=/bin"]),
        plain(61).env(&["LD_LIBRARY_PATH=/opt/app/lib"]),
        plain(62).env(&["LD_PRELOAD=", "LD_BIND_NOW=1"]),
    ]);
    let pre: Vec<_> = of(&ds, Rule::Preload)
        .iter()
        .map(|d| (d.pid, d.severity, d.variable.clone().unwrap()))
        .collect();
    assert_eq!(
        pre,
        vec![
            (Some(60), Severity::High, "LD_PRELOAD".to_string()),
            (Some(61), Severity::Low, "LD_LIBRARY_PATH".to_string())
        ]
    );
}

#[test]
fn environment_secrets_are_found_and_masked_unless_asked() {
    let env = [
        "AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE",
        "STOLEN_TOKEN=ghp_exfil123",
        "SESSION=eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
        "DB_PASSWORD=hunter2hunter2",
        // Not secrets: placeholders, paths, short or trivial values, harmless names.
        "ADMIN_PASSWORD=changeme",
        "TLS_KEY=/etc/tls/key.pem",
        "API_KEY=abc",
        "HOME=/root",
        "APP_MODE=prod",
        "KEYBOARD=us-intl-layout",
    ];
    let ev = Ev::new(EvidenceKind::Checkpoint, vec![plain(70).env(&env)]);
    let ds = run_with(&ev, &Options::default()).detections;
    let found: Vec<_> = of(&ds, Rule::EnvSecret)
        .iter()
        .map(|d| {
            (
                d.variable.clone().unwrap(),
                d.secret_kind.unwrap(),
                d.severity,
            )
        })
        .collect();
    assert_eq!(
        found,
        vec![
            ("AWS_ACCESS_KEY_ID".into(), "AWS access key", Severity::High),
            ("SESSION".into(), "JWT", Severity::High),
            ("STOLEN_TOKEN".into(), "GitHub token", Severity::High),
            ("DB_PASSWORD".into(), "generic", Severity::Medium),
        ]
    );
    let json = serde_json::to_string(&ds).unwrap();
    assert!(
        !json.contains("exfil123") && !json.contains("hunter2"),
        "{json}"
    );
    let token = ds
        .iter()
        .find(|d| d.variable.as_deref() == Some("STOLEN_TOKEN"))
        .unwrap();
    assert_eq!(token.secret.as_deref(), Some("ghp_… (12 chars)"));
    let shown = run_with(
        &ev,
        &Options {
            show_secrets: true,
            ..Options::default()
        },
    );
    assert!(
        serde_json::to_string(&shown.detections)
            .unwrap()
            .contains("ghp_exfil123")
    );
}

#[test]
fn memory_secrets_are_found_in_writable_memory_only_once_per_value() {
    let mut heap = vec![0u8; 0x1000];
    let s = b"cfg: DB_PASSWORD=s3cr3t-value; key AKIAIOSFODNN7EXAMPLE and AKIAIOSFODNN7EXAMPLE";
    heap[0x100..0x100 + s.len()].copy_from_slice(s);
    let code = b"usage: set GITHUB_TOKEN=ghp_0123456789abcdefghijklmnopqrstuvwxyz";
    let p = plain(80)
        .vma(
            0x1000_0000,
            0x1000_1000,
            "rw-p",
            VmaKind::Heap,
            Some("[heap]"),
        )
        .bytes(0x1000_0000, &heap)
        .vma(
            0x40_1000,
            0x40_2000,
            "r--p",
            VmaKind::File,
            Some("/usr/bin/app"),
        )
        .bytes(0x40_1000, code)
        .env(&["DB_PASSWORD=s3cr3t-value"]);
    let ds = host(vec![p, plain(81)]);
    let mem: Vec<_> = of(&ds, Rule::MemorySecret)
        .iter()
        .map(|d| (d.address.unwrap(), d.secret_kind.unwrap()))
        .collect();
    // The password is already reported from the environment; the AWS key once; nothing
    // from the read-only file mapping.
    let at = s.windows(4).position(|w| w == b"AKIA").unwrap() as u64;
    assert_eq!(mem, vec![(0x1000_0100 + at, "AWS access key")], "{ds:#?}");
    assert_eq!(of(&ds, Rule::EnvSecret).len(), 1);
}

#[test]
fn a_cancelled_run_says_it_stopped() {
    let ev = Ev::new(EvidenceKind::KernelDump, vec![plain(1), plain(2)]);
    let r = triage(
        &ev,
        &Options::default(),
        &AtomicBool::new(true),
        &mut |_| {},
    )
    .unwrap();
    assert!(r.stopped && r.detections.is_empty());
    let mut seen = Vec::new();
    let r = triage(
        &ev,
        &Options::default(),
        &AtomicBool::new(false),
        &mut |p| seen.push(p),
    )
    .unwrap();
    assert!(!r.stopped);
    assert_eq!((seen.first(), seen.last()), (Some(&0), Some(&100)));
    assert!(
        seen.windows(2).all(|w| w[0] < w[1]),
        "progress only when it changes: {seen:?}"
    );
}

#[test]
fn service_account_tokens_are_reported_not_their_namespace() {
    let ev = Ev::new(EvidenceKind::Checkpoint, vec![plain(1)])
        .file("var/run/secrets/kubernetes.io/serviceaccount/token", true)
        .file(
            "var/run/secrets/kubernetes.io/serviceaccount/namespace",
            true,
        )
        .file("etc/app.conf", false);
    let ds = run_with(&ev, &Options::default()).detections;
    let sa = of(&ds, Rule::ServiceAccount);
    assert_eq!(sa.len(), 1, "{ds:#?}");
    assert_eq!(
        sa[0].path.as_deref(),
        Some("/var/run/secrets/kubernetes.io/serviceaccount/token")
    );
}

#[test]
fn listeners_and_connections_are_reported_with_ports_and_peers() {
    let p = plain(90)
        .socket(3, "tcp", "LISTEN", ("0.0.0.0", 8080), ("0.0.0.0", 0))
        .socket(4, "tcp", "LISTEN", ("::", 4444), ("::", 0))
        .socket(
            5,
            "tcp",
            "ESTABLISHED",
            ("10.0.0.2", 8080),
            ("203.0.113.66", 51000),
        )
        .socket(6, "tcp", "CLOSE", ("0.0.0.0", 0), ("0.0.0.0", 0))
        .socket(7, "udp", "CLOSE", ("0.0.0.0", 53), ("0.0.0.0", 0));
    let inside = run(EvidenceKind::Checkpoint, vec![p.clone()]);
    let l: Vec<_> = of(&inside, Rule::Listener)
        .iter()
        .map(|d| (d.port.unwrap(), d.fd.unwrap(), d.severity))
        .collect();
    assert_eq!(
        l,
        vec![
            (4444, 4, Severity::High),
            (53, 7, Severity::Medium),
            (8080, 3, Severity::Medium)
        ]
    );
    let e = of(&inside, Rule::Established);
    assert_eq!(e.len(), 1);
    assert_eq!(e[0].peer.as_deref(), Some("203.0.113.66:51000"));
    assert_eq!(e[0].severity, Severity::Low);
    let on_host = host(vec![p]);
    let l8080 = on_host
        .iter()
        .find(|d| d.port == Some(8080) && d.rule == Rule::Listener);
    assert_eq!(
        l8080.unwrap().severity,
        Severity::Low,
        "host listeners are low"
    );
    let quiet = run(
        EvidenceKind::Checkpoint,
        vec![plain(91).socket(3, "tcp", "CLOSE", ("0.0.0.0", 0), ("0.0.0.0", 0))],
    );
    assert!(quiet.is_empty(), "{quiet:#?}");
}

#[test]
fn results_rank_by_severity_then_rule_and_the_floor_drops_the_rest() {
    let ev = Ev::new(
        EvidenceKind::Checkpoint,
        vec![
            plain(5).socket(3, "tcp", "LISTEN", ("0.0.0.0", 8080), ("0.0.0.0", 0)),
            proc_(6, ".k", &["sleep"], Some("/tmp/.k")).env(&["X_TOKEN=ghp_abcdefgh"]),
            plain(7).socket(3, "tcp", "LISTEN", ("0.0.0.0", 4444), ("0.0.0.0", 0)),
        ],
    );
    let ds = run_with(&ev, &Options::default()).detections;
    let order: Vec<_> = ds.iter().map(|d| (d.severity, d.rule, d.pid)).collect();
    assert_eq!(
        order,
        vec![
            (Severity::Critical, Rule::ExePath, Some(6)),
            (Severity::High, Rule::SpoofedName, Some(6)),
            (Severity::High, Rule::Listener, Some(7)),
            (Severity::High, Rule::EnvSecret, Some(6)),
            (Severity::Medium, Rule::Listener, Some(5)),
        ]
    );
    let high = run_with(
        &ev,
        &Options {
            min_severity: Severity::High,
            ..Options::default()
        },
    );
    assert_eq!(high.detections.len(), 4);
    assert!("HIGH".parse::<Severity>().unwrap() > Severity::Medium);
    assert!("bad".parse::<Severity>().is_err());
    let json: serde_json::Value = serde_json::to_value(&ds[0]).unwrap();
    assert_eq!(json["rule"], "memory.exe_path");
    assert_eq!(json["severity"], "critical");
    assert_eq!(json["pid"], 6);
}
