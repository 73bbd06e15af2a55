//! A task's cgroup (v2: `task->cgroups->dfl_cgrp`) as a path, and what container runtimes
//! write into cgroup paths: the container id and the Kubernetes pod UID.

use crate::engine::error::Result;
use crate::engine::kernel::memory::KernelMemory;

/// Deepest cgroup hierarchy followed.
const MAX_DEPTH: usize = 64;
/// Longest cgroup name read.
const MAX_NAME: usize = 256;

/// The default-hierarchy cgroup path of the task at `task` (`/` for the root cgroup);
/// `None` when the task has no css_set (an exiting task).
pub fn cgroup_path(k: &dyn KernelMemory, task: u64) -> Result<Option<String>> {
    let css_set = k.read_field_u64(task, "task_struct", "cgroups")?;
    if css_set == 0 {
        return Ok(None);
    }
    let cgrp = k.read_field_u64(css_set, "css_set", "dfl_cgrp")?;
    if cgrp == 0 {
        return Ok(None);
    }
    let mut kn = k.read_field_u64(cgrp, "cgroup", "kn")?;
    let parent_field = if k.isf().has_field("kernfs_node", "parent") {
        "parent"
    } else {
        "__parent"
    };
    let mut names = Vec::new();
    let mut seen = Vec::new();
    while kn != 0 && names.len() < MAX_DEPTH && !seen.contains(&kn) {
        seen.push(kn);
        let parent = k.read_field_u64(kn, "kernfs_node", parent_field)?;
        if parent == 0 {
            break; // the root's name is the hierarchy's, not part of the path
        }
        let name_ptr = k.read_field_u64(kn, "kernfs_node", "name")?;
        let name = k.read_cstr(name_ptr, MAX_NAME)?;
        names.push(String::from_utf8_lossy(&name).into_owned());
        kn = parent;
    }
    names.reverse();
    Ok(Some(format!("/{}", names.join("/"))))
}

/// True for a 64-character lower-case hexadecimal id.
fn is_hex64(s: &str) -> bool {
    s.len() == 64
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// The container id a cgroup path names: `libpod-<id>.scope`, `cri-containerd-<id>.scope`,
/// `crio-<id>.scope`, `docker-<id>.scope`, or a path component that is a 64-hex id (the
/// cgroupfs driver); the deepest one wins. `None` for host paths (and conmon's
/// `libpod-conmon-<id>.scope`, which is not the container).
pub fn container_id(path: &str) -> Option<String> {
    path.split('/').rev().find_map(|c| {
        let c = c.strip_suffix(".scope").unwrap_or(c);
        let id = ["libpod-", "cri-containerd-", "crio-", "docker-"]
            .iter()
            .find_map(|p| c.strip_prefix(p))
            .unwrap_or(c);
        is_hex64(id).then(|| id.to_string())
    })
}

/// The Kubernetes pod UID of a `kubepods` cgroup path: systemd driver
/// `kubepods-burstable-pod<uid>.slice` (with `_` for `-`), or cgroupfs driver
/// `/kubepods/burstable/pod<uid>`.
pub fn pod_uid(path: &str) -> Option<String> {
    if !path.contains("kubepods") {
        return None;
    }
    path.split('/').rev().find_map(|c| {
        let c = c.strip_suffix(".slice").unwrap_or(c);
        let at = c.rfind("pod")?;
        let uid = c.get(at + 3..)?.replace('_', "-");
        let ok = uid.len() == 36 && uid.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-');
        ok.then_some(uid)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn container_ids() {
        let id = "c6916fe69ea374cdb0f1bd2efff7beee578da01cd5da9b86144622606ea43123";
        assert_eq!(
            container_id(&format!("/machine.slice/libpod-{id}.scope")).as_deref(),
            Some(id)
        );
        assert_eq!(
            container_id(&format!("/system.slice/crio-{id}.scope/container")).as_deref(),
            Some(id)
        );
        assert_eq!(container_id(&format!("/docker/{id}")).as_deref(), Some(id));
        assert_eq!(
            container_id(&format!("/machine.slice/libpod-conmon-{id}.scope")),
            None
        );
        assert_eq!(container_id("/system.slice/cron.service"), None);
        assert_eq!(container_id("/"), None);
    }

    #[test]
    fn pod_uids() {
        let p = "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod3f1c2b4a_1d2e_4f5a_8b9c_0d1e2f3a4b5c.slice/cri-containerd-ab.scope";
        assert_eq!(
            pod_uid(p).as_deref(),
            Some("3f1c2b4a-1d2e-4f5a-8b9c-0d1e2f3a4b5c")
        );
        assert_eq!(
            pod_uid("/kubepods/besteffort/pod3f1c2b4a-1d2e-4f5a-8b9c-0d1e2f3a4b5c/abc").as_deref(),
            Some("3f1c2b4a-1d2e-4f5a-8b9c-0d1e2f3a4b5c")
        );
        assert_eq!(pod_uid("/machine.slice/libpod-x.scope"), None);
    }
}
