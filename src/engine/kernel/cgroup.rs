//! A task's cgroup (v2: `task->cgroups->dfl_cgrp`) as a path. What container runtimes write
//! into cgroup paths is read by [`crate::engine::identity::cgroup`].

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
