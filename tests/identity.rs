//! Container identity (`podmortem::engine::identity`): the node dump's podman containers as
//! the guest's `podman ps` named them, the checkpoints' metadata, and synthetic processes for
//! the Kubernetes conventions (containerd with the systemd and cgroupfs drivers, CRI-O,
//! Docker) and for what must stay empty.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::field_reassign_with_default
)]

use crate::support;

use std::collections::HashMap;
use std::ops::Range;
use std::path::PathBuf;

use podmortem::engine::error::Result;
use podmortem::engine::evidence::{
    Evidence, EvidenceInfo, EvidenceKind, FileDetails, OpenFile, PartialRead, Pid, Process, Vma,
    Walk,
};
use podmortem::engine::identity::{Container, QosClass, Runtime, containers, select};
use serde_json::{Value, json};

const A: &str = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
const B: &str = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";
const S: &str = "5555555555555555555555555555555555555555555555555555555555555555";
const UID: &str = "0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0";

/// Synthetic evidence: processes, environments and open files.
#[derive(Default)]
struct Fake {
    kind: Option<EvidenceKind>,
    details: serde_json::Map<String, Value>,
    procs: Vec<Process>,
    env: HashMap<Pid, Vec<String>>,
    files: HashMap<Pid, Vec<String>>,
}

impl Evidence for Fake {
    fn info(&self) -> EvidenceInfo {
        EvidenceInfo {
            path: PathBuf::from("fake"),
            kind: self.kind.unwrap_or(EvidenceKind::KernelDump),
            format: "fake".into(),
            size: 0,
            engine: None,
            title: "fake".into(),
            details: self.details.clone(),
            warnings: Vec::new(),
        }
    }
    fn processes(&self) -> Result<Vec<Process>> {
        Ok(self.procs.clone())
    }
    fn maps(&self, _pid: Pid) -> Result<Walk<Vma>> {
        Ok(Walk::default())
    }
    fn environment(&self, pid: Pid) -> Result<Vec<String>> {
        Ok(self.env.get(&pid).cloned().unwrap_or_default())
    }
    fn files(&self, pid: Pid) -> Result<Walk<OpenFile>> {
        let items = self
            .files
            .get(&pid)
            .into_iter()
            .flatten()
            .enumerate()
            .map(|(fd, path)| OpenFile {
                pid,
                fd: Some(fd as i64),
                kind: "file".into(),
                path: path.clone(),
                details: FileDetails::default(),
            })
            .collect();
        Ok(Walk {
            items,
            problems: Vec::new(),
        })
    }
    fn read_memory(&self, _pid: Pid, _addr: u64, _buf: &mut [u8]) -> Result<PartialRead> {
        Ok(PartialRead::default())
    }
    fn captured_ranges(&self, _pid: Pid, _range: Range<u64>) -> Result<Vec<Range<u64>>> {
        Ok(Vec::new())
    }
}

fn proc(pid: Pid, ppid: Pid, comm: &str, argv: &str, cgroup: &str) -> Process {
    let id = podmortem::engine::identity::cgroup::container_id(cgroup);
    Process {
        pid,
        ppid,
        pgid: pid,
        sid: pid,
        comm: comm.into(),
        cmdline: argv
            .split(' ')
            .filter(|a| !a.is_empty())
            .map(String::from)
            .collect(),
        uid: Some(0),
        gid: Some(0),
        euid: Some(0),
        threads: Vec::new(),
        state: "sleeping".into(),
        exit_code: None,
        exe: None,
        kernel_thread: false,
        start_time: None,
        created: None,
        ns: None,
        cgroup: Some(cgroup.into()),
        pod_uid: podmortem::engine::identity::cgroup::pod_uid(cgroup),
        container_id: id,
    }
}

fn by_id<'a>(cs: &'a [Container], id: &str) -> &'a Container {
    cs.iter().find(|c| c.id.as_deref() == Some(id)).unwrap()
}

/// containerd, systemd driver: a burstable pod (UID written with `_`), its shim started for
/// the sandbox, the pause process, one app container whose log the shim holds open.
#[test]
fn containerd_systemd_pod() {
    let u = UID.replace('-', "_");
    let pod = format!("/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod{u}.slice");
    let mut ev = Fake::default();
    ev.procs = vec![
        proc(1, 0, "systemd", "/sbin/init", "/init.scope"),
        proc(
            100,
            1,
            "containerd-shim",
            &format!(
                "/usr/bin/containerd-shim-runc-v2 -namespace k8s.io -id {S} -address /run/containerd/containerd.sock"
            ),
            "/system.slice/containerd.service",
        ),
        proc(
            101,
            100,
            "pause",
            "/pause",
            &format!("{pod}/cri-containerd-{S}.scope"),
        ),
        proc(
            120,
            100,
            "nginx",
            "nginx -g daemon off;",
            &format!("{pod}/cri-containerd-{A}.scope"),
        ),
        proc(
            121,
            120,
            "nginx",
            "nginx: worker",
            &format!("{pod}/cri-containerd-{A}.scope"),
        ),
    ];
    ev.files.insert(
        100,
        vec![format!("/var/log/pods/shop_web-7d9f_{UID}/nginx/0.log")],
    );
    let cs = containers(&ev).unwrap();
    assert_eq!(cs.len(), 2);
    let sandbox = by_id(&cs, S);
    assert!(sandbox.sandbox);
    assert_eq!(sandbox.name, None, "the sandbox has no container name");
    assert_eq!(sandbox.sandbox_pid, Some(101));
    let app = by_id(&cs, A);
    assert_eq!(app.runtime, Some(Runtime::Containerd));
    assert_eq!(app.pod_uid.as_deref(), Some(UID));
    assert_eq!(app.qos, Some(QosClass::Burstable));
    assert_eq!(app.name.as_deref(), Some("nginx"));
    assert_eq!(app.pod.as_deref(), Some("web-7d9f"));
    assert_eq!(app.namespace.as_deref(), Some("shop"));
    assert_eq!(app.sandbox_id.as_deref(), Some(S));
    assert_eq!(app.sandbox_pid, Some(101));
    assert_eq!(app.monitor_pid, Some(100));
    assert_eq!(app.monitor.as_deref(), Some("containerd-shim-runc-v2"));
    assert_eq!(app.pids, vec![120, 121]);
    assert_eq!(app.image, None, "no image in a node's processes");
    assert!(app.sources["runtime"].starts_with("cgroup /kubepods.slice/"));
    assert!(
        app.sources["name"].contains("/var/log/pods/shop_web-7d9f_"),
        "{:?}",
        app.sources
    );
    assert!(app.sources["sandbox_id"].contains("pause process (pid 101)"));
    // Every set field has a source; no source for an empty one.
    let v = serde_json::to_value(app).unwrap();
    for (k, _) in app.sources.iter() {
        assert!(!v[k].is_null(), "{k} has a source but no value");
    }
    assert!(v["image"].is_null() && !app.sources.contains_key("image"));
    assert_eq!(
        select(&cs, &["nginx".into()]).unwrap()[0].id.as_deref(),
        Some(A)
    );
    assert_eq!(
        select(&cs, &["shop/web-7d9f/nginx".into()]).unwrap().len(),
        1
    );
    assert!(select(&cs, &["nope".into()]).is_err());
}

/// containerd, cgroupfs driver: QoS from `/kubepods/<qos>/pod<uid>/<id>` (Guaranteed: no
/// level), the runtime from the shim's namespace, the pod's name from the environment only
/// under Kubernetes.
#[test]
fn containerd_cgroupfs_qos_and_environment() {
    let mut ev = Fake::default();
    ev.procs = vec![
        proc(
            200,
            1,
            "containerd-shim",
            &format!("containerd-shim-runc-v2 -namespace k8s.io -id {S}"),
            "/system.slice/containerd.service",
        ),
        proc(210, 200, "app", "/app", &format!("/kubepods/pod{UID}/{A}")),
        proc(
            220,
            200,
            "job",
            "/job",
            &format!("/kubepods/besteffort/pod{UID}/{B}"),
        ),
    ];
    ev.env.insert(
        210,
        vec![
            "HOSTNAME=api-0".into(),
            "KUBERNETES_SERVICE_HOST=10.96.0.1".into(),
        ],
    );
    ev.env.insert(220, vec!["HOSTNAME=somebox".into()]);
    let cs = containers(&ev).unwrap();
    let a = by_id(&cs, A);
    assert_eq!(a.qos, Some(QosClass::Guaranteed));
    assert_eq!(a.runtime, Some(Runtime::Containerd));
    assert!(a.sources["runtime"].contains("-namespace"));
    assert_eq!(a.pod.as_deref(), Some("api-0"));
    assert!(a.sources["pod"].contains("KUBERNETES_SERVICE_HOST"));
    assert_eq!(a.name, None, "no log path, no container name");
    let b = by_id(&cs, B);
    assert_eq!(b.qos, Some(QosClass::BestEffort));
    assert_eq!(
        b.pod, None,
        "HOSTNAME without KUBERNETES_SERVICE_HOST is not a pod"
    );
}

/// CRI-O: crio- scopes, conmon's `k8s_` names (the sandbox's `POD`) and log paths.
#[test]
fn crio_conmon_names() {
    let u = UID.replace('-', "_");
    let pod = format!("/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod{u}.slice");
    let mut ev = Fake::default();
    ev.procs = vec![
        proc(
            300,
            1,
            "conmon",
            &format!(
                "/usr/bin/conmon -b /run/containers/storage/overlay-containers/{S}/userdata -c {S} --exit-dir /var/run/crio/exits -l /var/log/pods/db_pg-0_{UID}/{S}.log -n k8s_POD_pg-0_db_{UID}_0 -r /usr/bin/crun"
            ),
            &format!("{pod}/crio-conmon-{S}.scope"),
        ),
        proc(
            301,
            300,
            "pause",
            "/pause",
            &format!("{pod}/crio-{S}.scope"),
        ),
        proc(
            310,
            1,
            "conmon",
            &format!(
                "/usr/bin/conmon -c {A} -n k8s_postgres_pg-0_db_{UID}_1 -l /var/log/pods/db_pg-0_{UID}/postgres/1.log -r /usr/bin/crun"
            ),
            &format!("{pod}/crio-conmon-{A}.scope"),
        ),
        proc(
            311,
            310,
            "postgres",
            "postgres",
            &format!("{pod}/crio-{A}.scope"),
        ),
    ];
    let cs = containers(&ev).unwrap();
    assert_eq!(cs.len(), 2);
    let s = by_id(&cs, S);
    assert!(s.sandbox);
    assert_eq!(s.name, None);
    assert_eq!(s.pod.as_deref(), Some("pg-0"));
    let a = by_id(&cs, A);
    assert_eq!(a.runtime, Some(Runtime::CriO));
    assert!(a.sources["runtime"].starts_with("cgroup "));
    assert_eq!(a.name.as_deref(), Some("postgres"));
    assert_eq!(a.sources["name"], "conmon -n (pid 310)");
    assert_eq!(a.namespace.as_deref(), Some("db"));
    assert_eq!(a.pod_uid.as_deref(), Some(UID));
    assert_eq!(a.qos, Some(QosClass::BestEffort));
    assert_eq!(a.oci_runtime.as_deref(), Some("/usr/bin/crun"));
    assert_eq!(a.monitor_pid, Some(310));
    assert_eq!(a.sandbox_id.as_deref(), Some(S));
    assert_eq!(
        a.log_path.as_deref(),
        Some(format!("/var/log/pods/db_pg-0_{UID}/postgres/1.log").as_str())
    );
}

/// Docker: `docker-<id>.scope` and cgroupfs `/docker/<id>`, the shim's `moby` namespace;
/// nothing Kubernetes is made up.
#[test]
fn docker_and_never_invent() {
    let mut ev = Fake::default();
    ev.procs = vec![
        proc(
            400,
            1,
            "containerd-shim",
            &format!(
                "/usr/bin/containerd-shim-runc-v2 -namespace moby -id {A} -address /run/containerd/containerd.sock"
            ),
            "/system.slice/containerd.service",
        ),
        proc(
            401,
            400,
            "redis-server",
            "redis-server *:6379",
            &format!("/system.slice/docker-{A}.scope"),
        ),
        proc(500, 1, "sleep", "sleep 1000", &format!("/docker/{B}")),
        proc(
            600,
            1,
            "cron",
            "/usr/sbin/cron",
            "/system.slice/cron.service",
        ),
    ];
    let cs = containers(&ev).unwrap();
    assert_eq!(cs.len(), 2, "the host's cron is no container");
    let a = by_id(&cs, A);
    assert_eq!(a.runtime, Some(Runtime::Docker));
    assert_eq!(a.monitor_pid, Some(400));
    assert_eq!(a.sandbox_id, None, "not a CRI shim: no sandbox");
    let b = by_id(&cs, B);
    assert_eq!(b.runtime, Some(Runtime::Docker));
    let v = serde_json::to_value(b).unwrap();
    for k in [
        "name",
        "pod",
        "namespace",
        "pod_uid",
        "qos",
        "image",
        "monitor_pid",
        "sandbox_id",
    ] {
        assert!(v[k].is_null(), "{k} must stay null: {v}");
    }
    assert_eq!(b.sources.keys().collect::<Vec<_>>(), vec!["id", "runtime"]);
}

/// A checkpoint's metadata: Kubernetes fields from `io.kubernetes.*` annotations, each with
/// the key it came from.
#[test]
fn checkpoint_annotations() {
    let mut ev = Fake {
        kind: Some(EvidenceKind::Checkpoint),
        ..Fake::default()
    };
    let mut p = proc(1, 0, "app", "/app", "/");
    p.cgroup = None;
    p.container_id = Some(A.into());
    ev.procs = vec![p];
    ev.details.insert(
        "container".into(),
        json!({
            "id": A, "name": "web", "image": "registry.k8s.io/web:1", "runtime": "runc",
            "kubernetes": {"pod_name": "web-0", "pod_namespace": "shop", "pod_uid": UID,
                           "container_name": "web", "sandbox_id": S},
            "annotations": {"io.kubernetes.cri.container-name": "web",
                            "io.kubernetes.cri.sandbox-name": "web-0",
                            "io.kubernetes.cri.sandbox-namespace": "shop",
                            "io.kubernetes.cri.sandbox-uid": UID,
                            "io.kubernetes.cri.sandbox-id": S}
        }),
    );
    let cs = containers(&ev).unwrap();
    assert_eq!(cs.len(), 1);
    let c = &cs[0];
    assert_eq!(c.runtime, Some(Runtime::Containerd));
    assert_eq!(c.name.as_deref(), Some("web"));
    assert_eq!(
        c.sources["name"],
        "spec.dump annotation io.kubernetes.cri.container-name"
    );
    assert_eq!(c.pod.as_deref(), Some("web-0"));
    assert_eq!(
        c.sources["pod"],
        "spec.dump annotation io.kubernetes.cri.sandbox-name"
    );
    assert_eq!(c.namespace.as_deref(), Some("shop"));
    assert_eq!(c.pod_uid.as_deref(), Some(UID));
    assert_eq!(c.sandbox_id.as_deref(), Some(S));
    assert_eq!(c.image.as_deref(), Some("registry.k8s.io/web:1"));
    assert_eq!(c.sources["image"], "config.dump rootfsImageName");
    assert_eq!(c.qos, None);
}

/// The node dump: both podman containers as `podman ps` (acquisition/guest_view.json) names
/// them, with conmon as their monitor, through the CLI's JSON.
#[test]
fn node_containers_match_podman_ps() {
    let (Some(dump), Some(isf)) = (
        support::decompressed("linux-6.1-node", "dump.elf.zst"),
        support::kernel::isf_dir("linux-6.1-node"),
    ) else {
        eprintln!("skipped: fixture linux-6.1-node absent");
        return;
    };
    let guest: Value = serde_json::from_slice(
        &std::fs::read(
            support::fixture("linux-6.1-node")
                .unwrap()
                .join("acquisition/guest_view.json"),
        )
        .unwrap(),
    )
    .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_podmortem"))
        .arg("containers")
        .arg("--json")
        .arg("--isf")
        .arg(&isf)
        .arg(&dump)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let got: Value = serde_json::from_slice(&out.stdout).unwrap();
    let rows = got.as_array().unwrap();
    assert_eq!(rows.len(), 2);
    let want_pids = [
        ("counter", 490, vec![501, 516, 517]),
        ("holdout", 590, vec![601, 629, 630]),
    ];
    for (name, conmon, pids) in want_pids {
        let ps = guest["podman_ps"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["Names"][0] == name)
            .unwrap();
        let row = rows.iter().find(|r| r["name"] == name).unwrap();
        assert_eq!(row["id"], ps["Id"], "{name}");
        assert_eq!(row["runtime"], "podman");
        assert_eq!(row["oci_runtime"], "/usr/bin/runc");
        assert_eq!(row["monitor"], "conmon");
        assert_eq!(row["monitor_pid"], conmon);
        assert_eq!(row["pids"], json!(pids));
        assert_eq!(row["pod"], Value::Null, "podman ps: no pod");
        assert_eq!(row["pod_uid"], Value::Null);
        assert_eq!(row["sources"]["name"], format!("conmon -n (pid {conmon})"));
        assert_eq!(
            row["sources"]["id"],
            format!(
                "cgroup /machine.slice/libpod-{}.scope",
                ps["Id"].as_str().unwrap()
            )
        );
    }
    let holdout = rows.iter().find(|r| r["name"] == "holdout").unwrap();
    let listeners: Vec<&str> = holdout["listeners"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["local"].as_str().unwrap())
        .collect();
    assert!(listeners.contains(&"0.0.0.0:9191"), "{listeners:?}");
    let marked = holdout["processes"]
        .as_array()
        .unwrap()
        .iter()
        .any(|p| p["pid"] == 601 && p["suspicious_vmas"].as_u64() > Some(0));
    assert!(marked, "holdoutd's RWX mapping is the tree's `!`");
}

/// criu-counter (podman): name, id and image from config.dump.
#[test]
fn checkpoint_counter_identity() {
    let Some(tar) = support::decompressed("criu-counter", "checkpoint-counter.tar.zst") else {
        eprintln!("skipped: fixture criu-counter absent");
        return;
    };
    let ev = podmortem::engine::open::open_evidence(&tar, &Default::default()).unwrap();
    let cs = containers(&*ev).unwrap();
    assert_eq!(cs.len(), 1);
    let c = &cs[0];
    assert_eq!(c.name.as_deref(), Some("counter"));
    assert_eq!(c.runtime, Some(Runtime::Podman));
    assert_eq!(c.image.as_deref(), Some("localhost/counter:blog"));
    assert_eq!(c.id.as_ref().map(String::len), Some(64));
    assert_eq!(c.sources["name"], "config.dump name");
    assert_eq!(c.pids, vec![1, 6, 7]);
}

/// `diff --peers` within the node dump: a container against itself differs in nothing;
/// counter against holdout differs in their processes; an unknown name is an error.
#[test]
fn node_peer_diff() {
    let (Some(dump), Some(isf)) = (
        support::decompressed("linux-6.1-node", "dump.elf.zst"),
        support::kernel::isf_dir("linux-6.1-node"),
    ) else {
        eprintln!("skipped: fixture linux-6.1-node absent");
        return;
    };
    let run = |peers: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_podmortem"))
            .args(["diff", "--json", "--isf"])
            .arg(&isf)
            .arg(&dump)
            .arg("--peers")
            .args(peers)
            .output()
            .unwrap();
        (
            out.status.success(),
            out.stdout,
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (ok, stdout, err) = run(&["counter", "c6916fe6"]);
    assert!(ok, "{err}");
    let same: Value = serde_json::from_slice(&stdout).unwrap();
    for p in same["peers"].as_array().unwrap() {
        assert_eq!(p["evidence"], "counter");
        assert_eq!(p["differences"], json!([]), "a container against itself");
    }
    let (ok, stdout, err) = run(&["counter", "holdout"]);
    assert!(ok, "{err}");
    let d: Value = serde_json::from_slice(&stdout).unwrap();
    let holdout = &d["peers"][1];
    assert_eq!(holdout["evidence"], "holdout");
    let descriptions: Vec<&str> = holdout["differences"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|x| x["kind"] == "process")
        .map(|x| x["description"].as_str().unwrap())
        .collect();
    assert!(
        descriptions
            .iter()
            .any(|s| s.contains("holdoutd child-b 13")),
        "{descriptions:?}"
    );
    assert!(
        !descriptions.iter().any(|s| s.contains("counter.py")),
        "only holdout's own processes"
    );
    let (ok, _, err) = run(&["counter", "nope"]);
    assert!(!ok && err.contains("no container named \"nope\""), "{err}");
}
