//! The ISF of the fuzzers' synthetic kernel: the integration tests' synthetic ISF
//! (`tests/support/kernel_mem/isf.rs` and its constants, included as they are) extended with
//! the task, credential, namespace, pid and cgroup structures `tasks::read_task` follows, the
//! `mm_struct` fields of the command line and page tables, and `init_task` at [`BASE`], where
//! the fuzzer's memory starts. Offsets are deliberately unlike a real kernel's.
//!
//! [`BASE`]: super::BASE

#[allow(dead_code)]
#[path = "../../tests/support/kernel_mem/consts.rs"]
mod consts;
#[path = "../../tests/support/kernel_mem/isf.rs"]
mod shared;

use serde_json::{Value, json};
use shared::{arr, base, ptr, st, ut, vptr};

/// Adds fields to a struct of the ISF.
fn add_fields(v: &mut Value, name: &str, fields: &[(&str, u64, Value)]) {
    let extra = ut(0, fields);
    if let (Some(to), Some(from)) = (
        v["user_types"][name]["fields"].as_object_mut(),
        extra["fields"].as_object(),
    ) {
        to.extend(from.clone());
    }
}

/// The ISF: the shared synthetic kernel's, as a 6.1 (`list_kernel` false) or pre-6.1 kernel,
/// plus what the task walkers need.
pub fn isf_json(list_kernel: bool) -> Value {
    let ul = || base("long unsigned int");
    let u32t = || base("unsigned int");
    let lh = || st("list_head");
    let mut v = shared::isf_json(list_kernel);
    v["metadata"]["producer"]["name"] = json!("podmortem-fuzz");
    add_fields(
        &mut v,
        "mm_struct",
        &[
            ("pgd", 0x60, vptr()),
            ("arg_start", 0x120, ul()),
            ("arg_end", 0x128, ul()),
            ("env_start", 0x130, ul()),
            ("env_end", 0x138, ul()),
        ],
    );
    add_fields(
        &mut v,
        "task_struct",
        &[
            ("tasks", 0x10, lh()),
            ("pid", 0x20, base("int")),
            ("tgid", 0x24, base("int")),
            ("comm", 0x30, arr(16, base("char"))),
            ("parent", 0x40, ptr(st("task_struct"))),
            ("real_parent", 0x48, ptr(st("task_struct"))),
            ("flags", 0x50, u32t()),
            ("cred", 0x58, ptr(st("cred"))),
            ("__state", 0x60, u32t()),
            ("exit_state", 0x64, base("int")),
            ("mm", 0x68, ptr(st("mm_struct"))),
            ("signal", 0x70, ptr(st("signal_struct"))),
            ("thread_group", 0x78, lh()),
            ("thread_node", 0x88, lh()),
            ("nsproxy", 0x98, vptr()),
            ("thread_pid", 0xa0, ptr(st("pid"))),
            ("start_boottime", 0xa8, ul()),
            ("cgroups", 0xb0, ptr(st("css_set"))),
        ],
    );
    let Some(types) = v["user_types"].as_object_mut() else {
        return v;
    };
    let mut add = |n: &str, t: Value| {
        types.insert(n.into(), t);
    };
    add(
        "list_head",
        ut(0x10, &[("next", 0, vptr()), ("prev", 8, vptr())]),
    );
    add(
        "cred",
        ut(
            0xa0,
            &[
                ("uid", 4, u32t()),
                ("gid", 8, u32t()),
                ("euid", 0x14, u32t()),
                ("user_ns", 0x80, vptr()),
            ],
        ),
    );
    add(
        "signal_struct",
        ut(
            0x100,
            &[("thread_head", 0x10, lh()), ("pids", 0x40, arr(4, vptr()))],
        ),
    );
    add(
        "nsproxy",
        ut(
            0x40,
            &[
                ("uts_ns", 0x8, vptr()),
                ("ipc_ns", 0x10, vptr()),
                ("mnt_ns", 0x18, vptr()),
                ("net_ns", 0x28, vptr()),
                ("time_ns", 0x30, vptr()),
                ("cgroup_ns", 0x38, vptr()),
            ],
        ),
    );
    let ns = |off: u64| ut(0x80, &[("ns", off, st("ns_common"))]);
    for (name, off) in [
        ("uts_namespace", 0x20),
        ("ipc_namespace", 0x8),
        ("mnt_namespace", 0x10),
        ("net", 0x30),
        ("cgroup_namespace", 0x18),
        ("time_namespace", 0x28),
        ("user_namespace", 0x40),
        ("pid_namespace", 0x38),
    ] {
        add(name, ns(off));
    }
    add(
        "ns_common",
        ut(
            0x18,
            &[
                ("stashed", 0, vptr()),
                ("ops", 8, vptr()),
                ("inum", 0x10, u32t()),
            ],
        ),
    );
    add(
        "proc_ns_operations",
        ut(0x40, &[("name", 0, ptr(base("char")))]),
    );
    add(
        "pid",
        ut(
            0x50,
            &[("level", 4, u32t()), ("numbers", 0x40, arr(1, st("upid")))],
        ),
    );
    add(
        "upid",
        ut(0x10, &[("nr", 0, base("int")), ("ns", 8, vptr())]),
    );
    add("css_set", ut(0x80, &[("dfl_cgrp", 0x30, vptr())]));
    add("cgroup", ut(0x80, &[("kn", 0x20, vptr())]));
    add(
        "kernfs_node",
        ut(
            0x80,
            &[("parent", 0x8, vptr()), ("name", 0x10, ptr(base("char")))],
        ),
    );
    v["enums"]["pid_type"] = json!({"size": 4, "base": "unsigned int", "constants":
        {"PIDTYPE_PID": 0, "PIDTYPE_TGID": 1, "PIDTYPE_PGID": 2, "PIDTYPE_SID": 3}});
    v["symbols"]["init_task"] = json!({"address": super::BASE, "type": base("void")});
    v
}
