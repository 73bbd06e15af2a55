//! The identity of a container: who runs it, what Kubernetes calls it, and where each fact
//! was read.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::engine::evidence::{Mount, Pid};

/// The container engine that created a container.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub enum Runtime {
    /// containerd (its CRI plugin under Kubernetes, or `ctr`/nerdctl).
    #[serde(rename = "containerd")]
    Containerd,
    /// CRI-O.
    #[serde(rename = "cri-o")]
    CriO,
    /// Podman (libpod).
    #[serde(rename = "podman")]
    Podman,
    /// Docker (moby), also under dockershim or cri-dockerd.
    #[serde(rename = "docker")]
    Docker,
}

impl Runtime {
    /// The runtime's name as the JSON writes it (`cri-o`).
    pub fn name(self) -> &'static str {
        match self {
            Runtime::Containerd => "containerd",
            Runtime::CriO => "cri-o",
            Runtime::Podman => "podman",
            Runtime::Docker => "docker",
        }
    }
}

/// A Kubernetes pod's quality-of-service class, from its cgroup parent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum QosClass {
    /// Requests equal limits: the pod sits right under `kubepods`.
    Guaranteed,
    /// `kubepods-burstable` / `/kubepods/burstable`.
    Burstable,
    /// `kubepods-besteffort` / `/kubepods/besteffort`.
    #[serde(rename = "besteffort")]
    BestEffort,
}

impl QosClass {
    /// The class as the JSON writes it.
    pub fn name(self) -> &'static str {
        match self {
            QosClass::Guaranteed => "guaranteed",
            QosClass::Burstable => "burstable",
            QosClass::BestEffort => "besteffort",
        }
    }
}

/// One container of an evidence and what the evidence says about who it is. A field the
/// evidence does not hold is `None` (JSON `null`), never guessed; every field that is set has
/// an entry in [`Container::sources`] naming where it was read.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Container {
    /// The container id (64 hex digits for every runtime named here).
    pub id: Option<String>,
    /// The container's name (Podman/Docker name, or the Kubernetes container name).
    pub name: Option<String>,
    /// The container engine.
    pub runtime: Option<Runtime>,
    /// The OCI runtime that started it (`/usr/bin/runc`, `crun`).
    pub oci_runtime: Option<String>,
    /// The image, when the evidence names it (checkpoints).
    pub image: Option<String>,
    /// The Kubernetes pod's name.
    pub pod: Option<String>,
    /// The Kubernetes namespace.
    pub namespace: Option<String>,
    /// The Kubernetes pod UID.
    pub pod_uid: Option<String>,
    /// The pod's QoS class.
    pub qos: Option<QosClass>,
    /// This container is a pod's sandbox (the pause/infra container).
    pub sandbox: bool,
    /// The id of the pod's sandbox container.
    pub sandbox_id: Option<String>,
    /// The pod's pause process.
    pub sandbox_pid: Option<Pid>,
    /// The monitor process (conmon, containerd-shim).
    pub monitor_pid: Option<Pid>,
    /// The monitor's program name (`conmon`, `containerd-shim-runc-v2`).
    pub monitor: Option<String>,
    /// The OCI bundle folder.
    pub bundle: Option<String>,
    /// The container's log file (`/var/log/pods/...`, a `k8s-file` path) or log driver.
    pub log_path: Option<String>,
    /// The container's processes (thread-group leaders), sorted.
    pub pids: Vec<Pid>,
    /// Where each set field was read, by field name (`"name": "conmon -n (pid 490)"`).
    pub sources: BTreeMap<String, String>,
}

impl Container {
    /// A short label for people: `namespace/pod/name`, the name, or the 12-digit short id.
    pub fn label(&self) -> String {
        let short = self.id.as_deref().map(|id| id.get(..12).unwrap_or(id));
        let name = self.name.as_deref().or(short).unwrap_or("container");
        match (&self.namespace, &self.pod) {
            (Some(ns), Some(pod)) => format!("{ns}/{pod}/{name}"),
            (None, Some(pod)) => format!("{pod}/{name}"),
            _ => name.to_string(),
        }
    }

    /// The label with the runtime and QoS class: `shop/web-0/nginx · containerd ·
    /// burstable`, `counter · podman`.
    pub fn describe(&self) -> String {
        let mut s = self.label();
        if self.sandbox && self.name.is_none() {
            s.push_str(" sandbox");
        }
        for part in [
            self.runtime.map(Runtime::name),
            self.qos.map(QosClass::name),
        ]
        .into_iter()
        .flatten()
        {
            s.push_str(" · ");
            s.push_str(part);
        }
        s
    }

    /// True if `query` names this container: its name, pod/name, full id, or an id prefix
    /// of at least 4 digits.
    pub fn matches(&self, query: &str) -> bool {
        let id = self.id.as_deref().unwrap_or_default();
        self.name.as_deref() == Some(query)
            || self.label() == query
            || (query.len() >= 4 && id.starts_with(query))
    }

    /// Sets a field's value and its source, unless it is set already (the first source
    /// read, the most direct, wins).
    pub(crate) fn set<T>(
        field: &mut Option<T>,
        sources: &mut BTreeMap<String, String>,
        key: &str,
        value: Option<T>,
        source: impl FnOnce() -> String,
    ) {
        if field.is_none()
            && let Some(v) = value
        {
            *field = Some(v);
            sources.insert(key.to_string(), source());
        }
    }
}

/// A listening or connected socket of a container's process.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Endpoint {
    /// The process holding it.
    pub pid: Pid,
    /// Its descriptor.
    pub fd: Option<i64>,
    /// `tcp`, `udp`, `unix`...
    pub protocol: String,
    /// The socket's state (`LISTEN`, `ESTABLISHED`).
    pub state: String,
    /// Local address and port (`0.0.0.0:8088`), or a unix socket's path.
    pub local: String,
    /// The peer's address and port (connections only).
    pub remote: Option<String>,
}

/// One process of a container, with the marks the process tree shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Member {
    /// Process id.
    pub pid: Pid,
    /// Parent's pid.
    pub ppid: Pid,
    /// Short name.
    pub comm: String,
    /// Writable+executable or anonymous executable memory areas (the tree's `!`); `None`
    /// when its memory areas could not be read.
    pub suspicious_vmas: Option<usize>,
}

/// A container with what its processes hold: `podmortem containers`' row.
#[derive(Debug, Clone, Serialize)]
pub struct ContainerReport {
    /// Who it is.
    #[serde(flatten)]
    pub container: Container,
    /// Its processes.
    pub processes: Vec<Member>,
    /// Listening sockets (TCP LISTEN, bound UDP, listening unix sockets).
    pub listeners: Vec<Endpoint>,
    /// Connected inet sockets.
    pub connections: Vec<Endpoint>,
    /// Its mounts, when the evidence records them (checkpoints); `None` otherwise.
    pub mounts: Option<Vec<Mount>>,
    /// What could not be read.
    pub warnings: Vec<String>,
}
