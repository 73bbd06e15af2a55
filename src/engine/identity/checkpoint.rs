//! Identity from a checkpoint's container metadata (`config.dump`, `spec.dump` and its
//! `io.kubernetes.*` annotations), as the back end reports it in
//! [`EvidenceInfo::details`]`["container"]`.

use serde_json::Value;

use crate::engine::evidence::{EvidenceInfo, Process};
use crate::engine::identity::model::{Container, Runtime};

/// Annotation keys that may hold each Kubernetes field, in the order the checkpoint reader
/// tries them.
const POD: &[&str] = &["io.kubernetes.pod.name", "io.kubernetes.cri.sandbox-name"];
const NAMESPACE: &[&str] = &[
    "io.kubernetes.pod.namespace",
    "io.kubernetes.cri.sandbox-namespace",
];
const POD_UID: &[&str] = &["io.kubernetes.pod.uid", "io.kubernetes.cri.sandbox-uid"];
const NAME: &[&str] = &[
    "io.kubernetes.cri.container-name",
    "io.kubernetes.container.name",
];
const SANDBOX: &[&str] = &[
    "io.kubernetes.cri-o.SandboxID",
    "io.kubernetes.cri.sandbox-id",
];
const IMAGE: &[&str] = &[
    "io.kubernetes.cri-o.ImageName",
    "io.kubernetes.cri.image-name",
];

/// Fills the checkpoint's container (made if its processes carry no id) from the metadata.
pub(crate) fn from_meta(info: &EvidenceInfo, procs: &[Process], cs: &mut Vec<Container>) {
    let Some(meta) = info.details.get("container") else {
        return;
    };
    let text = |k: &str| {
        meta.get(k)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
    };
    let id = text("id");
    if cs.is_empty() {
        cs.push(Container {
            id: id.map(str::to_string),
            pids: procs
                .iter()
                .filter(|p| !p.kernel_thread)
                .map(|p| p.pid)
                .collect(),
            ..Container::default()
        });
    }
    let Some(c) = cs.iter_mut().find(|c| c.id.as_deref() == id) else {
        return;
    };
    let ann = meta.get("annotations");
    let annotation = |k: &str| ann.and_then(|a| a.get(k)).and_then(Value::as_str);
    // The annotation among `keys` that holds `value`, or `fallback`.
    let source = |value: &str, keys: &[&str], fallback: &str| {
        keys.iter()
            .find(|k| annotation(k) == Some(value))
            .map_or_else(
                || fallback.to_string(),
                |k| format!("spec.dump annotation {k}"),
            )
    };
    if id.is_some() {
        c.sources.insert("id".into(), "config.dump id".into());
    }
    let meta_name = text("name").map(str::to_string);
    let name_src = meta_name.as_deref().map(|n| {
        if annotation("io.kubernetes.cri-o.Metadata").is_some_and(|m| m.contains(n)) {
            "spec.dump annotation io.kubernetes.cri-o.Metadata (name)".to_string()
        } else {
            source(n, NAME, "config.dump name")
        }
    });
    if let (Some(n), Some(s)) = (meta_name, name_src) {
        Container::set(&mut c.name, &mut c.sources, "name", Some(n), || s);
    }
    if let Some(img) = text("image") {
        let s = source(img, IMAGE, "config.dump rootfsImageName");
        Container::set(
            &mut c.image,
            &mut c.sources,
            "image",
            Some(img.to_string()),
            || s,
        );
    }
    if let Some(r) = text("runtime") {
        let v = Some(r.to_string());
        Container::set(&mut c.oci_runtime, &mut c.sources, "oci_runtime", v, || {
            "config.dump runtime".into()
        });
    }
    let runtime = match annotation("io.container.manager") {
        Some("libpod") => Some((Runtime::Podman, "spec.dump annotation io.container.manager")),
        Some("cri-o") => Some((Runtime::CriO, "spec.dump annotation io.container.manager")),
        _ if ann
            .and_then(Value::as_object)
            .is_some_and(|a| a.keys().any(|k| k.starts_with("io.kubernetes.cri."))) =>
        {
            Some((
                Runtime::Containerd,
                "spec.dump annotations io.kubernetes.cri.*",
            ))
        }
        _ => None,
    };
    if let Some((r, s)) = runtime {
        Container::set(&mut c.runtime, &mut c.sources, "runtime", Some(r), || {
            s.into()
        });
    }
    let Some(k8s) = meta.get("kubernetes") else {
        return;
    };
    let labels = "spec.dump annotation io.kubernetes.cri-o.Labels";
    let field = |k: &str| k8s.get(k).and_then(Value::as_str).filter(|s| !s.is_empty());
    for (key, json, keys) in [
        ("pod", "pod_name", POD),
        ("namespace", "pod_namespace", NAMESPACE),
        ("pod_uid", "pod_uid", POD_UID),
        ("sandbox_id", "sandbox_id", SANDBOX),
    ] {
        let Some(v) = field(json) else { continue };
        let s = source(v, keys, labels);
        let slot = match key {
            "pod" => &mut c.pod,
            "namespace" => &mut c.namespace,
            "pod_uid" => &mut c.pod_uid,
            _ => &mut c.sandbox_id,
        };
        Container::set(slot, &mut c.sources, key, Some(v.to_string()), || s);
    }
    if field("container_type") == Some("sandbox") {
        c.sandbox = true;
        let key = [
            "io.kubernetes.cri-o.ContainerType",
            "io.kubernetes.cri.container-type",
        ]
        .into_iter()
        .find(|k| annotation(k) == Some("sandbox"))
        .unwrap_or("io.kubernetes.cri-o.ContainerType");
        c.sources
            .insert("sandbox".into(), format!("spec.dump annotation {key}"));
        // A sandbox's id is its own.
        if c.sandbox_id.is_none() {
            c.sandbox_id = c.id.clone();
        }
    }
}
