//! What container runtimes and the kubelet write into cgroup paths: the container id, the
//! runtime (from the scope's prefix), the Kubernetes pod UID and QoS class.
//!
//! systemd driver: `/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod<UID
//! with _>.slice/cri-containerd-<id>.scope`, `/machine.slice/libpod-<id>.scope`,
//! `/system.slice/docker-<id>.scope`. cgroupfs driver: `/kubepods/burstable/pod<UID>/<id>`,
//! `/docker/<id>`. A Guaranteed pod has no QoS level: `kubepods-pod<UID>.slice`,
//! `/kubepods/pod<UID>`.

use crate::engine::identity::model::{QosClass, Runtime};

/// Scope prefixes and the runtime that writes them (`libpod-conmon-` is conmon's own scope,
/// not the container: its id is not 64 hex digits after the prefix).
const SCOPES: [(&str, Runtime); 4] = [
    ("libpod-", Runtime::Podman),
    ("cri-containerd-", Runtime::Containerd),
    ("crio-", Runtime::CriO),
    ("docker-", Runtime::Docker),
];

/// True for a 64-character lower-case hexadecimal id.
pub fn is_hex64(s: &str) -> bool {
    s.len() == 64
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// The container id a cgroup path names and the runtime its scope's prefix tells (`None`
/// for a bare 64-hex component of the cgroupfs driver, except under `/docker/`); the
/// deepest one wins. `None` for host paths.
pub fn container_scope(path: &str) -> Option<(String, Option<Runtime>)> {
    let parts: Vec<&str> = path.split('/').collect();
    parts.iter().enumerate().rev().find_map(|(i, c)| {
        let c = c.strip_suffix(".scope").unwrap_or(c);
        for (prefix, runtime) in SCOPES {
            if let Some(id) = c.strip_prefix(prefix)
                && is_hex64(id)
            {
                return Some((id.to_string(), Some(runtime)));
            }
        }
        if !is_hex64(c) {
            return None;
        }
        let parent = i.checked_sub(1).and_then(|j| parts.get(j)).copied();
        let runtime = (parent == Some("docker")).then_some(Runtime::Docker);
        Some((c.to_string(), runtime))
    })
}

/// The container id a cgroup path names (see [`container_scope`]).
pub fn container_id(path: &str) -> Option<String> {
    container_scope(path).map(|(id, _)| id)
}

/// The Kubernetes pod UID of a `kubepods` cgroup path: systemd driver
/// `kubepods-burstable-pod<uid>.slice` (with `_` for `-`), or cgroupfs driver
/// `/kubepods/burstable/pod<uid>`.
pub fn pod_uid(path: &str) -> Option<String> {
    pod_slice(path).map(|(uid, _)| uid)
}

/// The pod's QoS class from a `kubepods` cgroup path: the `burstable`/`besteffort` level
/// above the pod, or none (Guaranteed) when the pod sits right under `kubepods`.
pub fn qos(path: &str) -> Option<QosClass> {
    pod_slice(path).map(|(_, qos)| qos)
}

/// The pod UID and QoS class of the deepest pod component of a kubepods path.
fn pod_slice(path: &str) -> Option<(String, QosClass)> {
    if !path.contains("kubepods") {
        return None;
    }
    let parts: Vec<&str> = path.split('/').collect();
    parts.iter().enumerate().rev().find_map(|(i, c)| {
        let c = c.strip_suffix(".slice").unwrap_or(c);
        let at = c.rfind("pod")?;
        let uid = c.get(at + 3..)?.replace('_', "-");
        let ok = uid.len() == 36 && uid.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-');
        if !ok {
            return None;
        }
        // systemd: the pod slice's own name holds the level (`kubepods-burstable-pod..`);
        // cgroupfs: the component above it does (`/kubepods/burstable/pod..`).
        let head = c.get(..at).unwrap_or_default();
        let level = if head.starts_with("kubepods") {
            head.trim_end_matches('-')
                .strip_prefix("kubepods")
                .map(|l| l.trim_start_matches('-'))
        } else {
            let parent = i.checked_sub(1).and_then(|j| parts.get(j)).copied()?;
            match parent {
                "kubepods" => Some(""),
                "burstable" | "besteffort" => Some(parent),
                _ => None,
            }
        };
        let qos = match level? {
            "" => QosClass::Guaranteed,
            "burstable" => QosClass::Burstable,
            "besteffort" => QosClass::BestEffort,
            _ => return None,
        };
        Some((uid, qos))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "c6916fe69ea374cdb0f1bd2efff7beee578da01cd5da9b86144622606ea43123";
    const UID: &str = "3f1c2b4a-1d2e-4f5a-8b9c-0d1e2f3a4b5c";

    #[test]
    fn container_ids_and_runtimes() {
        let scope = |p: &str| container_scope(p);
        assert_eq!(
            scope(&format!("/machine.slice/libpod-{ID}.scope")),
            Some((ID.into(), Some(Runtime::Podman)))
        );
        assert_eq!(
            scope(&format!("/system.slice/crio-{ID}.scope/container")),
            Some((ID.into(), Some(Runtime::CriO)))
        );
        assert_eq!(
            scope(&format!("/docker/{ID}")),
            Some((ID.into(), Some(Runtime::Docker)))
        );
        assert_eq!(
            scope(&format!("/kubepods/besteffort/pod{UID}/{ID}")),
            Some((ID.into(), None))
        );
        assert_eq!(
            container_id(&format!("/machine.slice/libpod-conmon-{ID}.scope")),
            None
        );
        assert_eq!(container_id("/system.slice/cron.service"), None);
        assert_eq!(container_id("/"), None);
    }

    #[test]
    fn pod_uids_and_qos() {
        let u = UID.replace('-', "_");
        let p = format!(
            "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod{u}.slice/cri-containerd-{ID}.scope"
        );
        assert_eq!(pod_uid(&p).as_deref(), Some(UID));
        assert_eq!(qos(&p), Some(QosClass::Burstable));
        let g = format!("/kubepods.slice/kubepods-pod{u}.slice/crio-{ID}.scope");
        assert_eq!(qos(&g), Some(QosClass::Guaranteed));
        let b = format!("/kubepods/besteffort/pod{UID}/{ID}");
        assert_eq!(pod_uid(&b).as_deref(), Some(UID));
        assert_eq!(qos(&b), Some(QosClass::BestEffort));
        assert_eq!(
            qos(&format!("/kubepods/pod{UID}/{ID}")),
            Some(QosClass::Guaranteed)
        );
        assert_eq!(pod_uid("/machine.slice/libpod-x.scope"), None);
        assert_eq!(qos("/machine.slice/libpod-x.scope"), None);
    }
}
