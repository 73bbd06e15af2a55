//! Tests of the container reader.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use serde_json::json;

use super::*;
use crate::engine::mapped::Blob;

/// The fixtures root, or `None` (after saying so) when absent and not required.
pub(crate) fn fixtures_root() -> Option<PathBuf> {
    let root = std::env::var_os("PODMORTEM_FIXTURES")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/fixtures"));
    if root.join("criu-counter").is_dir() {
        return Some(root);
    }
    if std::env::var("PODMORTEM_REQUIRE_FIXTURES").as_deref() == Ok("1") {
        panic!("fixtures not found under {}", root.display());
    }
    println!("skipping: fixtures not found");
    None
}

/// The uncompressed archive of a fixture, decompressed once into target/fixture-cache.
pub(crate) fn fixture_archive(fixture: &str) -> Option<(PathBuf, Archive)> {
    static SEQ: AtomicUsize = AtomicUsize::new(0);
    let dir = fixtures_root()?.join(fixture);
    let cache = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("target/fixture-cache")
        .join(fixture);
    let tar = cache.join("checkpoint-counter.tar");
    if !tar.exists() {
        std::fs::create_dir_all(&cache).unwrap();
        let seq = SEQ.fetch_add(1, Ordering::Relaxed);
        let tmp = cache.join(format!(
            "checkpoint-counter.tar.{}.{seq}.tmp",
            std::process::id()
        ));
        let input = std::fs::File::open(dir.join("checkpoint-counter.tar.zst")).unwrap();
        let mut out = std::fs::File::create(&tmp).unwrap();
        zstd::stream::copy_decode(input, &mut out).unwrap();
        drop(out);
        std::fs::rename(&tmp, &tar).unwrap();
    }
    Some((dir, Archive::open(&tar).unwrap()))
}

fn archive_of(members: &[(&str, Vec<u8>)]) -> Archive {
    let mut b = tar::Builder::new(Vec::new());
    for (name, data) in members {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o600);
        h.set_cksum();
        b.append_data(&mut h, name, data.as_slice()).unwrap();
    }
    let bytes = b.into_inner().unwrap();
    let len = bytes.len() as u64;
    Archive::from_tar(Path::new("synthetic.tar"), "tar", len, Blob::Owned(bytes)).unwrap()
}

fn spec_with(annotations: Value) -> Vec<u8> {
    json!({
        "ociVersion": "1.0.2-dev",
        "process": {"args": ["/bin/sh", "-c", "sleep 1"], "env": ["A=1"], "cwd": "/",
                    "user": {"uid": 1000, "gid": 1000}},
        "hostname": "pod-host",
        "mounts": [{"destination": "/proc", "type": "proc", "source": "proc"}],
        "annotations": annotations,
    })
    .to_string()
    .into_bytes()
}

#[test]
fn crio_spec() {
    let spec = spec_with(json!({
        "io.container.manager": "cri-o",
        "io.kubernetes.cri-o.ContainerType": "container",
        "io.kubernetes.cri-o.Created": "2024-01-02T03:04:05.123456789Z",
        "io.kubernetes.cri-o.IP.0": "10.85.0.7",
        "io.kubernetes.cri-o.Metadata": "{\"name\":\"counter\",\"attempt\":0}",
        "io.kubernetes.cri-o.Labels": "{\"io.kubernetes.pod.uid\":\"u-1\",\"io.kubernetes.container.name\":\"counter\"}",
        "io.kubernetes.cri-o.SandboxID": "abc",
        "io.kubernetes.pod.name": "counters",
        "io.kubernetes.pod.namespace": "default",
    }));
    let config = json!({"id": "f00", "name": "k8s_counter_counters_default_u-1_0",
        "rootfsImageName": "quay.io/x/counter:latest", "rootfsImageRef": "sha256:1",
        "runtime": "crun", "createdTime": "2024-01-02T03:04:05Z",
        "checkpointedTime": "2024-01-02T04:00:00Z"});
    let bind = json!([{"source": "/etc/hosts", "destination": "/etc/hosts",
        "file_type": "file", "permissions": 420}]);
    let a = archive_of(&[
        ("spec.dump", spec),
        ("config.dump", config.to_string().into_bytes()),
        ("bind.mounts", bind.to_string().into_bytes()),
    ]);
    let (m, w) = read_container_meta(&a);
    assert!(w.is_empty(), "{w:?}");
    assert_eq!(m.engine.as_deref(), Some("CRI-O"));
    assert_eq!(m.name.as_deref(), Some("counter"));
    assert_eq!(m.created.as_deref(), Some("2024-01-02T03:04:05.123456789Z"));
    assert_eq!(m.checkpointed.as_deref(), Some("2024-01-02T04:00:00Z"));
    assert_eq!(m.ip_addresses, ["10.85.0.7"]);
    assert_eq!(m.runtime.as_deref(), Some("crun"));
    assert_eq!(m.image_id.as_deref(), Some("sha256:1"));
    assert_eq!((m.uid, m.gid), (Some(1000), Some(1000)));
    let k = m.kubernetes.clone().unwrap();
    assert_eq!(k.pod_name.as_deref(), Some("counters"));
    assert_eq!(k.pod_namespace.as_deref(), Some("default"));
    assert_eq!(k.pod_uid.as_deref(), Some("u-1"));
    assert_eq!(k.container_type.as_deref(), Some("container"));
    assert_eq!(k.sandbox_id.as_deref(), Some("abc"));
    assert_eq!(m.bind_mounts[0].permissions, Some(420));
    assert_eq!(m.title(), "counters/counter (quay.io/x/counter:latest)");
}

#[test]
fn containerd_spec() {
    let spec = spec_with(json!({
        "io.kubernetes.cri.container-name": "web",
        "io.kubernetes.cri.container-type": "container",
        "io.kubernetes.cri.sandbox-name": "web-pod",
        "io.kubernetes.cri.sandbox-namespace": "prod",
        "io.kubernetes.cri.sandbox-uid": "u-2",
        "io.kubernetes.cri.image-name": "docker.io/library/nginx:1",
    }));
    let status = br#"{"CreatedAt": 1700000000000000000, "Pid": 4242, "ExitCode": 0}"#.to_vec();
    let a = archive_of(&[("spec.dump", spec), ("status", status)]);
    let (m, w) = read_container_meta(&a);
    assert!(w.is_empty(), "{w:?}");
    assert_eq!(m.engine.as_deref(), Some("containerd"));
    assert_eq!(m.name.as_deref(), Some("web"));
    assert_eq!(m.image.as_deref(), Some("docker.io/library/nginx:1"));
    let k = m.kubernetes.clone().unwrap();
    assert_eq!(k.pod_name.as_deref(), Some("web-pod"));
    assert_eq!(k.pod_namespace.as_deref(), Some("prod"));
    assert_eq!(k.pod_uid.as_deref(), Some("u-2"));
    assert_eq!(m.containerd_status.as_ref().unwrap().pid, Some(4242));
    assert_eq!(m.args, ["/bin/sh", "-c", "sleep 1"]);
}

#[test]
fn malformed_members_warn() {
    let a = archive_of(&[
        ("spec.dump", b"{\n  \"process\": [1,\n}".to_vec()),
        ("network.status", b"42".to_vec()),
    ]);
    let (m, w) = read_container_meta(&a);
    assert_eq!(m.engine, None);
    assert!(
        w[0].starts_with("spec.dump: malformed JSON at line 3, column 1: expected value"),
        "{w:?}"
    );
    assert!(w[1].starts_with("network.status"), "{w:?}");
    assert_eq!(m.title(), "container");
    let (m, w) = read_container_meta(&archive_of(&[]));
    assert!(w.is_empty() && m.engine.is_none());
}

#[test]
fn cni_network_status() {
    let v = json!([{"cniVersion": "0.4.0", "interfaces": [
        {"name": "cni-podman0", "mac": "aa"}, {"name": "vethX", "mac": "bb"},
        {"name": "eth0", "mac": "cc", "sandbox": "/run/netns/x"}],
        "ips": [{"version": "4", "interface": 2, "address": "10.88.0.5/16", "gateway": "10.88.0.1"}]}]);
    let n = parse_network_status(&v, &mut Vec::new());
    assert_eq!(n.len(), 1);
    assert_eq!(n[0].interface, "eth0");
    assert_eq!(n[0].addresses, ["10.88.0.5/16"]);
}

/// RFC 3339 without the fraction of a second, as Go's `time.RFC3339` prints it.
fn seconds(t: &str) -> String {
    match t.split_once('.') {
        Some((head, rest)) => {
            let zone = rest.trim_start_matches(|c: char| c.is_ascii_digit());
            format!("{head}{zone}")
        }
        None => t.to_string(),
    }
}

#[test]
fn fixtures_match_checkpointctl() {
    for fixture in ["criu-counter", "criu-counter-criu42"] {
        let Some((dir, archive)) = fixture_archive(fixture) else {
            return;
        };
        let (m, w) = read_container_meta(&archive);
        assert!(w.is_empty(), "{w:?}");
        let golden = dir.join("golden/checkpointctl/inspect_--all_--format_json.json");
        let golden: Value = serde_json::from_slice(&std::fs::read(golden).unwrap()).unwrap();
        let g = &golden[0];
        let s = |k: &str| g[k].as_str().unwrap().to_string();
        assert_eq!(m.engine.as_deref(), Some("Podman"));
        assert_eq!(m.engine, Some(s("engine")));
        assert_eq!(m.name, Some(s("container_name")));
        assert_eq!(m.name.as_deref(), Some("counter"));
        assert_eq!(m.image, Some(s("image")));
        assert_eq!(m.image.as_deref(), Some("localhost/counter:blog"));
        assert_eq!(m.id, Some(s("id")));
        assert_eq!(m.runtime, Some(s("runtime")));
        assert_eq!(seconds(m.created.as_deref().unwrap()), s("created"));
        assert_eq!(m.ip_addresses.join(", "), s("ip"));
        let macs: Vec<_> = m.networks.iter().filter_map(|n| n.mac.clone()).collect();
        assert_eq!(macs.join(", "), s("mac"));
        let net = &g["networks"][0];
        let iface = &m.networks[0];
        assert_eq!(net["name"], iface.network.as_str());
        let gi = &net["interfaces"][iface.interface.as_str()];
        assert_eq!(gi["ip"], iface.addresses.last().unwrap().as_str());
        assert_eq!(gi["gateway"], iface.gateways.last().unwrap().as_str());
        let ann: BTreeMap<String, String> =
            serde_json::from_value(g["metadata"]["annotations"].clone()).unwrap();
        assert_eq!(m.annotations, ann);
        let mounts: Vec<_> = g["mounts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| (s2(&x["destination"]), s2(&x["type"]), s2(&x["source"])))
            .collect();
        let ours: Vec<_> = m
            .mounts
            .iter()
            .map(|x| (x.destination.clone(), x.kind.clone(), x.source.clone()))
            .collect();
        assert_eq!(ours, mounts);
        // podman inspect, captured in the VM before the dump.
        let inspect = dir.join("extras/podman-inspect.json");
        let inspect: Value = serde_json::from_slice(&std::fs::read(inspect).unwrap()).unwrap();
        let i = &inspect[0];
        assert_eq!(m.image_id.as_deref(), i["Image"].as_str());
        assert_eq!(m.created.as_deref(), i["Created"].as_str());
        assert_eq!(m.hostname.as_deref(), i["Config"]["Hostname"].as_str());
        assert_eq!(m.cwd.as_deref(), i["Config"]["WorkingDir"].as_str());
        assert_eq!(json!(m.env), i["Config"]["Env"]);
        assert_eq!(m.args[0], i["Path"].as_str().unwrap());
        assert_eq!(json!(m.args[1..]), i["Args"]);
        assert_eq!(m.stdio.len(), 3);
        assert_eq!(m.stdio[0], "/dev/null");
        assert_eq!(m.title(), "counter (localhost/counter:blog)");
    }
}

fn s2(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_string()
}
