//! Container metadata of a Podman / CRI-O / containerd checkpoint archive.
//!
//! Reads the JSON members the engines write next to the CRIU images (`config.dump`,
//! `spec.dump`, `network.status`, `bind.mounts`, `pod.dump`, `status`,
//! `checkpoint/descriptors.json`) into one [`ContainerMeta`]: what `checkpointctl inspect
//! --metadata` shows, and more (args, env, mounts, Kubernetes identity). A malformed member
//! becomes a warning, never a failure: the checkpoint still opens.
//!
//! The engine is inferred as checkpointctl infers it (`internal/container.go`,
//! `getContainerInfo`): from `spec.dump`'s `io.container.manager` annotation, `libpod` being
//! Podman, `cri-o` being CRI-O and anything else (absent included) containerd.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

use crate::engine::checkpoint::archive::Archive;

/// Go's zero `time.Time` as encoding/json writes it: "no such time".
const GO_ZERO_TIME: &str = "0001-01-01T00:00:00Z";

/// What a checkpoint archive says about its container.
///
/// Every field is optional or may be empty: bare CRIU image folders have none of it, and
/// each engine writes a different subset.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ContainerMeta {
    /// "Podman", "CRI-O" or "containerd" (checkpointctl's rule); `None` without `spec.dump`.
    pub engine: Option<String>,
    /// Container id (`config.dump` `id`).
    pub id: Option<String>,
    /// Container name: Podman's `config.dump` name, CRI-O's `io.kubernetes.cri-o.Metadata`
    /// name, containerd's `io.kubernetes.cri.container-name` (then the other sources).
    pub name: Option<String>,
    /// Image name (`config.dump` `rootfsImageName`, checkpointctl's "Image").
    pub image: Option<String>,
    /// Image id (Podman `rootfsImageID`; CRI-O/containerd `rootfsImageRef`).
    pub image_id: Option<String>,
    /// The image as the user asked for it (Podman `RawImageName`, CRI-O `rootfsImage`).
    pub image_requested: Option<String>,
    /// Creation time as the archive writes it (RFC 3339, full precision).
    pub created: Option<String>,
    /// Checkpoint time (`config.dump` `checkpointedTime`; CRI-O and containerd write it).
    pub checkpointed: Option<String>,
    /// OCI runtime (`runc`, `crun`, a CRI runtime handler...).
    pub runtime: Option<String>,
    /// `ociVersion` of the runtime spec.
    pub oci_version: Option<String>,
    /// Hostname inside the container (spec `hostname`).
    pub hostname: Option<String>,
    /// The container's command line (spec `process.args`).
    pub args: Vec<String>,
    /// The command that created the container (Podman `CreateCommand`).
    pub create_command: Vec<String>,
    /// Initial environment (spec `process.env`), `KEY=VALUE`.
    pub env: Vec<String>,
    /// Initial working directory (spec `process.cwd`).
    pub cwd: Option<String>,
    /// User id of the container's process (spec `process.user.uid`).
    pub uid: Option<u32>,
    /// Group id of the container's process (spec `process.user.gid`).
    pub gid: Option<u32>,
    /// Mounts of the spec, in order.
    pub mounts: Vec<Mount>,
    /// Kubernetes identity, when the annotations give one.
    pub kubernetes: Option<Kubernetes>,
    /// All spec annotations.
    pub annotations: BTreeMap<String, String>,
    /// Network interfaces (`network.status`; CRI-O: the `io.kubernetes.cri-o.IP.N` annotations).
    pub networks: Vec<NetInterface>,
    /// Bare IP addresses of the container, as checkpointctl lists them.
    pub ip_addresses: Vec<String>,
    /// External bind mounts (CRI-O's `bind.mounts`).
    pub bind_mounts: Vec<BindMount>,
    /// The pod sandbox description of a pod checkpoint (`pod.dump`), as written.
    pub pod: Option<Value>,
    /// containerd's `status` member.
    pub containerd_status: Option<ContainerdStatus>,
    /// Targets of file descriptors 0, 1 and 2 (`checkpoint/descriptors.json`).
    pub stdio: Vec<String>,
}

/// One mount of the runtime spec.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Mount {
    /// Mount point inside the container.
    pub destination: String,
    /// Filesystem type (`bind`, `proc`, `tmpfs`...).
    #[serde(rename = "type")]
    pub kind: String,
    /// Source on the host (or the pseudo filesystem's name).
    pub source: String,
    /// Mount options.
    pub options: Vec<String>,
}

/// Kubernetes identity of a container.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Kubernetes {
    /// Pod name.
    pub pod_name: Option<String>,
    /// Pod namespace.
    pub pod_namespace: Option<String>,
    /// Pod UID.
    pub pod_uid: Option<String>,
    /// Container name within the pod.
    pub container_name: Option<String>,
    /// "container" or "sandbox" (CRI-O `ContainerType`, containerd `container-type`).
    pub container_type: Option<String>,
    /// Id of the pod sandbox.
    pub sandbox_id: Option<String>,
}

/// A network interface of the container.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct NetInterface {
    /// Network name (`podman`, a CNI network, or empty when unknown).
    pub network: String,
    /// Interface name inside the container (`eth0`), empty when unknown.
    pub interface: String,
    /// MAC address.
    pub mac: Option<String>,
    /// Addresses with their prefix length (`10.88.0.2/16`) or bare.
    pub addresses: Vec<String>,
    /// Gateways.
    pub gateways: Vec<String>,
}

/// An external bind mount recorded by CRI-O (`bind.mounts`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct BindMount {
    /// Source on the host.
    pub source: String,
    /// Mount point inside the container.
    pub destination: String,
    /// "file" or "directory".
    pub file_type: String,
    /// Permission bits of the source.
    pub permissions: Option<u32>,
}

/// containerd's `status` member (Go field names, times in nanoseconds since the epoch).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ContainerdStatus {
    /// Creation time, ns.
    pub created_at: Option<i64>,
    /// Start time, ns.
    pub started_at: Option<i64>,
    /// Exit time, ns.
    pub finished_at: Option<i64>,
    /// Exit code.
    pub exit_code: Option<i64>,
    /// Host pid of the init process.
    pub pid: Option<u64>,
    /// Reason of the last state change.
    pub reason: Option<String>,
    /// Message of the last state change.
    pub message: Option<String>,
}

impl ContainerMeta {
    /// A one-line title: `name (image)`, with fallbacks to the short id and "container".
    pub fn title(&self) -> String {
        let name = self
            .name
            .clone()
            .or_else(|| self.id.as_ref().map(|id| id.chars().take(12).collect()))
            .unwrap_or_else(|| "container".to_string());
        let name = match self.kubernetes.as_ref().and_then(|k| k.pod_name.as_ref()) {
            Some(pod) if pod != &name => format!("{pod}/{name}"),
            _ => name,
        };
        match &self.image {
            Some(image) => format!("{name} ({image})"),
            None => name,
        }
    }
}

/// Reads the container metadata of an archive. Missing members are normal (bare image
/// folders have none); malformed ones give a warning naming the member and the position.
pub fn read_container_meta(archive: &Archive) -> (ContainerMeta, Vec<String>) {
    let mut warnings = Vec::new();
    let mut json = |name: &str| parse_member(name, archive.get(name)?, &mut warnings);
    let config = json("config.dump");
    let spec = json("spec.dump");
    let network = json("network.status");
    let bind = json("bind.mounts");
    let pod = json("pod.dump");
    let status = json("status");
    let descriptors = json("checkpoint/descriptors.json");

    let mut meta = ContainerMeta::default();
    let cfg = config.as_ref().unwrap_or(&Value::Null);
    // Podman also embeds the spec in config.dump: use it when spec.dump is missing.
    let spec_v = spec
        .as_ref()
        .or_else(|| cfg.get("spec"))
        .unwrap_or(&Value::Null);
    read_spec(spec_v, &mut meta);
    read_config(cfg, &mut meta);
    if spec.is_some() {
        meta.engine = Some(engine_of(&meta.annotations).to_string());
    }
    read_identity(&mut meta, &mut warnings);
    if let Some(v) = &network {
        meta.networks = parse_network_status(v, &mut warnings);
    }
    collect_ips(&mut meta);
    if let Some(v) = &bind {
        meta.bind_mounts = parse_bind_mounts(v);
    }
    meta.pod = pod;
    meta.containerd_status = status.as_ref().map(parse_containerd_status);
    if let Some(v) = &descriptors {
        meta.stdio = strings(v);
    }
    (meta, warnings)
}

/// checkpointctl's engine rule: the `io.container.manager` annotation of `spec.dump`.
pub fn engine_of(annotations: &BTreeMap<String, String>) -> &'static str {
    match annotations.get("io.container.manager").map(String::as_str) {
        Some("libpod") => "Podman",
        Some("cri-o") => "CRI-O",
        _ => "containerd",
    }
}

fn parse_member(name: &str, bytes: &[u8], warnings: &mut Vec<String>) -> Option<Value> {
    match serde_json::from_slice::<Value>(bytes) {
        Ok(v) => Some(v),
        Err(e) => {
            warnings.push(json_warning(name, &e));
            None
        }
    }
}

/// "`member`: malformed JSON at line L, column C: reason".
pub(crate) fn json_warning(member: &str, e: &serde_json::Error) -> String {
    let (line, column) = (e.line(), e.column());
    let text = e.to_string();
    let reason = text
        .strip_suffix(&format!(" at line {line} column {column}"))
        .unwrap_or(&text);
    format!("{member}: malformed JSON at line {line}, column {column}: {reason}")
}

/// The non-empty string at `path` (object keys).
fn str_at(v: &Value, path: &[&str]) -> Option<String> {
    let mut cur = v;
    for key in path {
        cur = cur.get(key)?;
    }
    cur.as_str().filter(|s| !s.is_empty()).map(str::to_string)
}

/// The strings of an array (other items skipped).
fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

fn strings_at(v: &Value, path: &[&str]) -> Vec<String> {
    let mut cur = v;
    for key in path {
        match cur.get(key) {
            Some(next) => cur = next,
            None => return Vec::new(),
        }
    }
    strings(cur)
}

fn u32_at(v: &Value, path: &[&str]) -> Option<u32> {
    let mut cur = v;
    for key in path {
        cur = cur.get(key)?;
    }
    cur.as_u64().and_then(|n| u32::try_from(n).ok())
}

/// A time string, unless it is Go's zero time.
fn time_at(v: &Value, key: &str) -> Option<String> {
    str_at(v, &[key]).filter(|t| t != GO_ZERO_TIME)
}

fn read_spec(spec: &Value, meta: &mut ContainerMeta) {
    meta.oci_version = str_at(spec, &["ociVersion"]);
    meta.hostname = str_at(spec, &["hostname"]);
    meta.args = strings_at(spec, &["process", "args"]);
    meta.env = strings_at(spec, &["process", "env"]);
    meta.cwd = str_at(spec, &["process", "cwd"]);
    meta.uid = u32_at(spec, &["process", "user", "uid"]);
    meta.gid = u32_at(spec, &["process", "user", "gid"]);
    if let Some(mounts) = spec.get("mounts").and_then(Value::as_array) {
        meta.mounts = mounts
            .iter()
            .map(|m| Mount {
                destination: str_at(m, &["destination"]).unwrap_or_default(),
                kind: str_at(m, &["type"]).unwrap_or_default(),
                source: str_at(m, &["source"]).unwrap_or_default(),
                options: strings_at(m, &["options"]),
            })
            .collect();
    }
    if let Some(map) = spec.get("annotations").and_then(Value::as_object) {
        meta.annotations = map
            .iter()
            .map(|(k, v)| {
                let v = v.as_str().map_or_else(|| v.to_string(), str::to_string);
                (k.clone(), v)
            })
            .collect();
    }
}

fn read_config(cfg: &Value, meta: &mut ContainerMeta) {
    meta.id = str_at(cfg, &["id"]);
    meta.name = str_at(cfg, &["name"]);
    meta.image = str_at(cfg, &["rootfsImageName"]);
    // Podman writes the image id as rootfsImageID; CRI-O and containerd as rootfsImageRef.
    meta.image_id = str_at(cfg, &["rootfsImageID"]).or_else(|| str_at(cfg, &["rootfsImageRef"]));
    meta.image_requested = str_at(cfg, &["RawImageName"]).or_else(|| str_at(cfg, &["rootfsImage"]));
    meta.created = time_at(cfg, "createdTime");
    meta.checkpointed = time_at(cfg, "checkpointedTime");
    meta.runtime = str_at(cfg, &["runtime"]);
    meta.create_command = strings_at(cfg, &["CreateCommand"]);
}

/// Name, creation time, image and Kubernetes identity from the engine's annotations.
fn read_identity(meta: &mut ContainerMeta, warnings: &mut Vec<String>) {
    let ann = &meta.annotations;
    let get = |k: &str| ann.get(k).filter(|v| !v.is_empty()).cloned();
    // CRI-O keeps the pod's labels as a JSON object in one annotation.
    let labels: BTreeMap<String, String> = match ann.get("io.kubernetes.cri-o.Labels") {
        Some(s) => match serde_json::from_str::<BTreeMap<String, Value>>(s) {
            Ok(m) => m
                .into_iter()
                .filter_map(|(k, v)| v.as_str().map(|v| (k, v.to_string())))
                .collect(),
            Err(e) => {
                warnings.push(format!(
                    "spec.dump: annotation io.kubernetes.cri-o.Labels: {e}"
                ));
                BTreeMap::new()
            }
        },
        None => BTreeMap::new(),
    };
    let label = |k: &str| labels.get(k).filter(|v| !v.is_empty()).cloned();
    let crio_name = match ann.get("io.kubernetes.cri-o.Metadata") {
        Some(s) => match serde_json::from_str::<Value>(s) {
            Ok(v) => str_at(&v, &["name"]),
            Err(e) => {
                warnings.push(format!(
                    "spec.dump: annotation io.kubernetes.cri-o.Metadata: {e}"
                ));
                None
            }
        },
        None => None,
    };
    let k8s_container = get("io.kubernetes.container.name")
        .or_else(|| get("io.kubernetes.cri.container-name"))
        .or_else(|| label("io.kubernetes.container.name"))
        .or_else(|| crio_name.clone());
    let k8s = Kubernetes {
        pod_name: get("io.kubernetes.pod.name")
            .or_else(|| get("io.kubernetes.cri.sandbox-name"))
            .or_else(|| label("io.kubernetes.pod.name")),
        pod_namespace: get("io.kubernetes.pod.namespace")
            .or_else(|| get("io.kubernetes.cri.sandbox-namespace"))
            .or_else(|| label("io.kubernetes.pod.namespace")),
        pod_uid: get("io.kubernetes.pod.uid")
            .or_else(|| get("io.kubernetes.cri.sandbox-uid"))
            .or_else(|| label("io.kubernetes.pod.uid")),
        container_name: k8s_container.clone(),
        container_type: get("io.kubernetes.cri-o.ContainerType")
            .or_else(|| get("io.kubernetes.cri.container-type")),
        sandbox_id: get("io.kubernetes.cri-o.SandboxID")
            .or_else(|| get("io.kubernetes.cri.sandbox-id")),
    };
    let crio_created = get("io.kubernetes.cri-o.Created");
    let image_name =
        get("io.kubernetes.cri-o.ImageName").or_else(|| get("io.kubernetes.cri.image-name"));
    let image_ref = get("io.kubernetes.cri-o.ImageRef");
    if k8s != Kubernetes::default() {
        meta.kubernetes = Some(k8s);
    }
    // The name and creation time checkpointctl shows for each engine, then fallbacks.
    match meta.engine.as_deref() {
        Some("CRI-O") => {
            meta.name = crio_name.or(k8s_container).or(meta.name.take());
            meta.created = crio_created.or(meta.created.take());
        }
        Some("containerd") => {
            meta.name = get("io.kubernetes.cri.container-name").or(meta.name.take());
        }
        _ => {}
    }
    meta.image = meta.image.take().or(image_name);
    meta.image_id = meta.image_id.take().or(image_ref);
    if meta.created.is_none() {
        meta.created = get("io.kubernetes.cri-o.Created");
    }
}

/// Parses `network.status`: netavark's map (Podman 4+) or a list of CNI results (older).
fn parse_network_status(v: &Value, warnings: &mut Vec<String>) -> Vec<NetInterface> {
    let mut out = Vec::new();
    match v {
        Value::Object(networks) => {
            // Sorted, as checkpointctl sorts them (serde_json's map is sorted by key).
            for (network, result) in networks {
                let Some(ifaces) = result.get("interfaces").and_then(Value::as_object) else {
                    continue;
                };
                for (name, iface) in ifaces {
                    let subnets = iface.get("subnets").and_then(Value::as_array);
                    let subnets = subnets.map(Vec::as_slice).unwrap_or_default();
                    out.push(NetInterface {
                        network: network.clone(),
                        interface: name.clone(),
                        mac: str_at(iface, &["mac_address"]),
                        addresses: subnets
                            .iter()
                            .filter_map(|s| str_at(s, &["ipnet"]))
                            .collect(),
                        gateways: subnets
                            .iter()
                            .filter_map(|s| str_at(s, &["gateway"]))
                            .collect(),
                    });
                }
            }
        }
        Value::Array(results) => {
            for result in results {
                out.extend(parse_cni_result(result));
            }
        }
        // `--network none`: podman writes `null`.
        Value::Null => {}
        _ => {
            warnings
                .push("network.status: neither a netavark map nor a list of CNI results".into());
        }
    }
    out
}

/// One CNI result: `interfaces` (name, mac, sandbox) and `ips` (address, gateway, interface
/// index). Only interfaces that carry addresses or sit in the container's sandbox are kept.
fn parse_cni_result(result: &Value) -> Vec<NetInterface> {
    let network = str_at(result, &["name"]).unwrap_or_default();
    let ifaces = result.get("interfaces").and_then(Value::as_array);
    let ifaces = ifaces.map(Vec::as_slice).unwrap_or_default();
    let mut out: Vec<NetInterface> = ifaces
        .iter()
        .map(|i| NetInterface {
            network: network.clone(),
            interface: str_at(i, &["name"]).unwrap_or_default(),
            mac: str_at(i, &["mac"]),
            addresses: Vec::new(),
            gateways: Vec::new(),
        })
        .collect();
    let in_sandbox: Vec<bool> = ifaces
        .iter()
        .map(|i| str_at(i, &["sandbox"]).is_some())
        .collect();
    let mut unattached = NetInterface {
        network: network.clone(),
        ..NetInterface::default()
    };
    for ip in result
        .get("ips")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let index = ip.get("interface").and_then(Value::as_u64);
        let target = match index.and_then(|i| usize::try_from(i).ok()) {
            Some(i) if i < out.len() => out.get_mut(i),
            _ => None,
        };
        let target = target.unwrap_or(&mut unattached);
        target.addresses.extend(str_at(ip, &["address"]));
        target.gateways.extend(str_at(ip, &["gateway"]));
    }
    let mut kept: Vec<NetInterface> = out
        .into_iter()
        .zip(in_sandbox)
        .filter(|(i, sandbox)| *sandbox || !i.addresses.is_empty())
        .map(|(i, _)| i)
        .collect();
    if !unattached.addresses.is_empty() {
        kept.push(unattached);
    }
    kept
}

/// Bare IPs from the interfaces, then CRI-O's `io.kubernetes.cri-o.IP.N` annotations.
fn collect_ips(meta: &mut ContainerMeta) {
    let mut ips: Vec<String> = Vec::new();
    for iface in &meta.networks {
        for a in &iface.addresses {
            let ip = a.split('/').next().unwrap_or(a).to_string();
            if !ip.is_empty() && !ips.contains(&ip) {
                ips.push(ip);
            }
        }
    }
    let crio: BTreeMap<u32, &String> = meta
        .annotations
        .iter()
        .filter_map(|(k, v)| Some((k.strip_prefix("io.kubernetes.cri-o.IP.")?.parse().ok()?, v)))
        .collect();
    for ip in crio.into_values() {
        if !ip.is_empty() && !ips.contains(ip) {
            ips.push(ip.clone());
        }
    }
    meta.ip_addresses = ips;
}

fn parse_bind_mounts(v: &Value) -> Vec<BindMount> {
    let items = v.as_array().map(Vec::as_slice).unwrap_or_default();
    items
        .iter()
        .map(|m| BindMount {
            source: str_at(m, &["source"]).unwrap_or_default(),
            destination: str_at(m, &["destination"]).unwrap_or_default(),
            file_type: str_at(m, &["file_type"])
                .or_else(|| str_at(m, &["fileType"]))
                .unwrap_or_default(),
            permissions: u32_at(m, &["permissions"]),
        })
        .collect()
}

fn parse_containerd_status(v: &Value) -> ContainerdStatus {
    let int = |k: &str| v.get(k).and_then(Value::as_i64);
    ContainerdStatus {
        created_at: int("CreatedAt"),
        started_at: int("StartedAt"),
        finished_at: int("FinishedAt"),
        exit_code: int("ExitCode"),
        pid: v.get("Pid").and_then(Value::as_u64),
        reason: str_at(v, &["Reason"]),
        message: str_at(v, &["Message"]),
    }
}

#[cfg(test)]
pub(crate) mod tests;
