//! Identity from processes: cgroup paths, the monitors' (conmon, containerd-shim) command
//! lines and open log files, the pause process, the environment.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use crate::engine::evidence::{Evidence, Pid, Process};
use crate::engine::identity::args::{
    ConmonArgs, K8sName, PodLog, conmon_args, is_conmon, k8s_name, pod_log, shim_args, shim_name,
};
use crate::engine::identity::cgroup::{container_scope, pod_uid, qos};
use crate::engine::identity::model::{Container, Runtime};

/// Sets `c.$field` to `$value` with `$source` unless set (see [`Container::set`]).
macro_rules! set {
    ($c:expr, $field:ident, $value:expr, $source:expr) => {
        Container::set(
            &mut $c.$field,
            &mut $c.sources,
            stringify!($field),
            $value,
            || $source,
        )
    };
}

/// One container per container id of the processes (ordered by their first pid), with its
/// members and what their cgroup paths say.
pub(crate) fn groups(procs: &[Process]) -> Vec<Container> {
    let mut out: Vec<Container> = Vec::new();
    let mut at: HashMap<&str, usize> = HashMap::new();
    for p in procs {
        let Some(id) = p.container_id.as_deref() else {
            continue;
        };
        let i = *at.entry(id).or_insert_with(|| {
            out.push(Container {
                id: Some(id.to_string()),
                ..Container::default()
            });
            out.len() - 1
        });
        let Some(c) = out.get_mut(i) else { continue };
        c.pids.push(p.pid);
        if let Some(cg) = p.cgroup.as_deref()
            && !c.sources.contains_key("id")
        {
            from_cgroup(c, cg);
        }
    }
    out
}

/// What one member's cgroup path says.
fn from_cgroup(c: &mut Container, cg: &str) {
    let Some((id, runtime)) = container_scope(cg) else {
        return;
    };
    if c.id.as_deref() != Some(id.as_str()) {
        return;
    }
    let src = format!("cgroup {cg}");
    c.sources.insert("id".into(), src.clone());
    set!(c, runtime, runtime, src.clone());
    set!(c, pod_uid, pod_uid(cg), src.clone());
    set!(c, qos, qos(cg), src);
}

/// Ties conmon and containerd shims to their containers and reads their arguments and open
/// log files.
pub(crate) fn from_monitors(ev: &dyn Evidence, procs: &[Process], cs: &mut [Container]) {
    let member_of: HashMap<Pid, usize> = cs
        .iter()
        .enumerate()
        .flat_map(|(i, c)| c.pids.iter().map(move |p| (*p, i)))
        .collect();
    // The containers each process is the parent of a member of.
    let mut children: HashMap<Pid, BTreeSet<usize>> = HashMap::new();
    for p in procs {
        if let Some(i) = member_of.get(&p.pid)
            && !member_of.contains_key(&p.ppid)
        {
            children.entry(p.ppid).or_default().insert(*i);
        }
    }
    for m in procs.iter().filter(|p| !member_of.contains_key(&p.pid)) {
        if is_conmon(&m.comm, &m.cmdline) {
            let a = conmon_args(&m.cmdline);
            let by_id = a
                .cid
                .as_deref()
                .and_then(|cid| cs.iter().position(|c| c.id.as_deref() == Some(cid)));
            let tied = by_id.or_else(|| {
                let kids = children.get(&m.pid)?;
                (kids.len() == 1).then(|| kids.first().copied()).flatten()
            });
            if let Some(c) = tied.and_then(|i| cs.get_mut(i)) {
                let how = if by_id.is_some() { "-c" } else { "parent" };
                conmon(ev, c, m, &a, how);
            }
        } else if let Some(prog) = shim_name(&m.comm, &m.cmdline) {
            let tied: Vec<usize> = children
                .get(&m.pid)
                .map(|k| k.iter().copied().collect())
                .unwrap_or_default();
            shim(ev, cs, m, prog, &tied);
        }
    }
}

/// What conmon (pid `m`) says about the container it monitors.
fn conmon(ev: &dyn Evidence, c: &mut Container, m: &Process, a: &ConmonArgs, how: &str) {
    let pid = m.pid;
    let src = |opt: &str| format!("conmon {opt} (pid {pid})");
    set!(c, monitor_pid, Some(pid), src(how));
    set!(c, monitor, Some("conmon".to_string()), src(how));
    set!(c, oci_runtime, a.runtime.clone(), src("-r"));
    set!(c, bundle, a.bundle.clone(), src("-b"));
    set!(c, log_path, a.log_paths.first().cloned(), src("-l"));
    match a.name.as_deref().map(|n| (n, k8s_name(n))) {
        Some((_, Some(k))) => {
            set!(c, runtime, Some(Runtime::CriO), src("-n k8s_ name"));
            k8s(c, &k, &src("-n"));
        }
        Some((n, None)) => set!(c, name, Some(n.to_string()), src("-n")),
        None => {}
    }
    let exit = a
        .exit_command
        .as_deref()
        .map(|e| e.rsplit('/').next().unwrap_or(e));
    if exit == Some("podman") {
        set!(c, runtime, Some(Runtime::Podman), src("--exit-command"));
    } else if a.exit_dir.as_deref().is_some_and(|d| d.contains("crio")) {
        set!(c, runtime, Some(Runtime::CriO), src("--exit-dir"));
    }
    for path in &a.log_paths {
        if let Some(l) = pod_log(path) {
            pod_log_fields(c, &l, true, &src("-l"));
        }
    }
    for l in open_pod_logs(ev, pid) {
        pod_log_fields(c, &l, true, &format!("conmon's open file (pid {pid})"));
    }
}

/// What a containerd shim (pid `m`) says about the containers whose processes it started.
fn shim(ev: &dyn Evidence, cs: &mut [Container], m: &Process, prog: &str, tied: &[usize]) {
    let a = shim_args(&m.cmdline);
    let pid = m.pid;
    let src = |opt: &str| format!("{prog} {opt} (pid {pid})");
    let runtime = match a.namespace.as_deref() {
        Some("moby") => Some(Runtime::Docker),
        Some(_) => Some(Runtime::Containerd),
        None => None,
    };
    let cri = a.namespace.as_deref() == Some("k8s.io");
    let logs = open_pod_logs(ev, pid);
    let dirs: BTreeSet<&str> = logs.iter().map(|l| l.container.as_str()).collect();
    let apps = tied
        .iter()
        .filter(|i| cs.get(**i).is_some_and(|c| !c.sandbox))
        .count();
    for i in tied {
        let Some(c) = cs.get_mut(*i) else { continue };
        set!(
            c,
            monitor_pid,
            Some(pid),
            format!("parent of the container's init ({prog}, pid {pid})")
        );
        set!(c, monitor, Some(prog.to_string()), src("(parent)"));
        set!(c, runtime, runtime, src("-namespace"));
        // Under the CRI, one shim serves a pod: it was started for the sandbox.
        if cri && c.id != a.id {
            set!(c, sandbox_id, a.id.clone(), src("-id"));
        }
        let one = !c.sandbox && apps == 1 && dirs.len() == 1;
        for l in &logs {
            if c.pod_uid.is_none() || c.pod_uid.as_deref() == Some(l.uid.as_str()) {
                pod_log_fields(c, l, one, &format!("{prog}'s open file (pid {pid})"));
            }
        }
    }
}

/// The `/var/log/pods/...` files process `pid` holds open.
fn open_pod_logs(ev: &dyn Evidence, pid: Pid) -> Vec<PodLog> {
    match ev.files(pid) {
        Ok(walk) => walk.iter().filter_map(|f| pod_log(&f.path)).collect(),
        Err(e) => {
            tracing::warn!(pid, "identity: open files unreadable: {e}");
            Vec::new()
        }
    }
}

/// Pod fields of a `k8s_` name; the sandbox's (`POD`) names no container.
fn k8s(c: &mut Container, k: &K8sName, src: &str) {
    if k.container == "POD" {
        c.sandbox = true;
        c.sources.insert("sandbox".into(), format!("{src} (POD)"));
    } else {
        set!(c, name, Some(k.container.clone()), src.to_string());
    }
    set!(c, pod, Some(k.pod.clone()), src.to_string());
    set!(c, namespace, Some(k.namespace.clone()), src.to_string());
    set!(c, pod_uid, Some(k.uid.clone()), src.to_string());
}

/// Pod fields of a kubelet log path; the container's name only when the path is this
/// container's (`own`).
fn pod_log_fields(c: &mut Container, l: &PodLog, own: bool, src: &str) {
    let src = format!(
        "{src}: /var/log/pods/{}_{}_{}/{}/",
        l.namespace, l.pod, l.uid, l.container
    );
    if own {
        set!(c, name, Some(l.container.clone()), src.clone());
    }
    set!(c, pod, Some(l.pod.clone()), src.clone());
    set!(c, namespace, Some(l.namespace.clone()), src.clone());
    set!(c, pod_uid, Some(l.uid.clone()), src);
}

/// The pause process makes its container the pod's sandbox; the pod's other containers (same
/// pod UID) get its id and pid.
pub(crate) fn pause(procs: &[Process], cs: &mut [Container]) {
    let by_pid: HashMap<Pid, &Process> = procs.iter().map(|p| (p.pid, p)).collect();
    let mut sandboxes: BTreeMap<String, (Option<String>, Pid)> = BTreeMap::new();
    for c in cs.iter_mut() {
        let pause = c.pids.iter().filter_map(|p| by_pid.get(p)).find(|p| {
            p.comm == "pause"
                || p.cmdline
                    .first()
                    .is_some_and(|a| a == "/pause" || a.ends_with("/pause"))
        });
        let Some(p) = pause else { continue };
        c.sandbox = true;
        let src = format!("pause process (pid {})", p.pid);
        c.sources
            .entry("sandbox".into())
            .or_insert_with(|| src.clone());
        set!(c, sandbox_pid, Some(p.pid), src);
        if let Some(uid) = &c.pod_uid {
            sandboxes.insert(uid.clone(), (c.id.clone(), p.pid));
        }
    }
    for c in cs.iter_mut().filter(|c| !c.sandbox) {
        let Some((id, pid)) = c.pod_uid.as_ref().and_then(|u| sandboxes.get(u)) else {
            continue;
        };
        let src = format!("pause process (pid {pid}) of the same pod UID");
        set!(c, sandbox_id, id.clone(), src.clone());
        set!(c, sandbox_pid, Some(*pid), src);
    }
}

/// Under Kubernetes (`KUBERNETES_SERVICE_HOST` set), `HOSTNAME` of the container's first
/// process is the pod's name (unless the pod sets `hostname`, which the kubelet then also
/// writes: read only when no other source named the pod).
pub(crate) fn environment(ev: &dyn Evidence, procs: &[Process], cs: &mut [Container]) {
    let by_pid: HashMap<Pid, &Process> = procs.iter().map(|p| (p.pid, p)).collect();
    for c in cs.iter_mut().filter(|c| c.pod.is_none() && !c.sandbox) {
        let init =
            c.pids.iter().filter_map(|p| by_pid.get(p)).find(|p| {
                !c.pids.contains(&p.ppid) && !matches!(p.state.as_str(), "dead" | "zombie")
            });
        let Some(init) = init else { continue };
        let env = match ev.environment(init.pid) {
            Ok(env) => env,
            Err(e) => {
                tracing::warn!(pid = init.pid, "identity: environment unreadable: {e}");
                continue;
            }
        };
        let var = |k: &str| {
            env.iter()
                .find_map(|e| e.strip_prefix(k).and_then(|v| v.strip_prefix('=')))
        };
        if var("KUBERNETES_SERVICE_HOST").is_some()
            && let Some(host) = var("HOSTNAME").filter(|h| !h.is_empty())
        {
            let src = format!(
                "environment HOSTNAME of pid {} (KUBERNETES_SERVICE_HOST set)",
                init.pid
            );
            set!(c, pod, Some(host.to_string()), src);
        }
    }
}
