//! What runtime monitors' command lines and the kubelet's naming conventions say: conmon's
//! options, containerd-shim's options, `k8s_` container names, `/var/log/pods` paths.

/// conmon's options that take a value (the others are switches).
const CONMON_VALUES: &[&str] = &[
    "-c",
    "--cid",
    "-u",
    "--cuuid",
    "-n",
    "--name",
    "-r",
    "--runtime",
    "-b",
    "--bundle",
    "-p",
    "--container-pidfile",
    "-l",
    "--log-path",
    "-P",
    "--conmon-pidfile",
    "--exit-dir",
    "--exit-command",
    "--exit-command-arg",
    "--exit-delay",
    "--socket-dir-path",
    "--log-level",
    "--log-tag",
    "--log-size-max",
    "--log-global-size-max",
    "--runtime-arg",
    "--runtime-opt",
    "--api-version",
    "-T",
    "--timeout",
    "--persist-dir",
    "--restore",
    "--seccomp-notify-socket",
    "--seccomp-notify-plugins",
    "-i",
    "--sdnotify-socket",
    "--log-label",
];

/// What conmon's command line says about its container.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConmonArgs {
    /// `-c`/`--cid`: the container id.
    pub cid: Option<String>,
    /// `-n`/`--name`: the container's name (CRI-O: `k8s_<container>_<pod>_<ns>_<uid>_<n>`).
    pub name: Option<String>,
    /// `-r`/`--runtime`: the OCI runtime.
    pub runtime: Option<String>,
    /// `-b`/`--bundle`: the OCI bundle folder.
    pub bundle: Option<String>,
    /// `-l`/`--log-path` values (`k8s-file:` prefix removed; `journald`, `passthrough`).
    pub log_paths: Vec<String>,
    /// `--exit-command`: Podman's cleanup command.
    pub exit_command: Option<String>,
    /// `--exit-dir`.
    pub exit_dir: Option<String>,
}

/// True if `argv` is conmon's.
pub fn is_conmon(comm: &str, argv: &[String]) -> bool {
    comm == "conmon" || argv.first().is_some_and(|a| basename(a) == "conmon")
}

/// The program name of `argv[0]` if it is a containerd shim (`containerd-shim-runc-v2`,
/// `containerd-shim`).
pub fn shim_name<'a>(comm: &'a str, argv: &'a [String]) -> Option<&'a str> {
    let prog = argv.first().map_or(comm, |a| basename(a));
    (prog.starts_with("containerd-shim") || comm.starts_with("containerd-shim")).then_some(prog)
}

fn basename(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

/// Splits `--opt=value` and pairs options with their values (`values` lists the options
/// that take one); switches get `None`.
fn options<'a>(argv: &'a [String], values: &[&str]) -> Vec<(&'a str, Option<&'a str>)> {
    let mut out = Vec::new();
    let mut it = argv.iter().skip(1);
    while let Some(a) = it.next() {
        if let Some((k, v)) = a.split_once('=')
            && k.starts_with('-')
        {
            out.push((k, Some(v)));
        } else if values.contains(&a.as_str()) {
            out.push((a.as_str(), it.next().map(String::as_str)));
        } else {
            out.push((a.as_str(), None));
        }
    }
    out
}

/// Parses conmon's command line.
pub fn conmon_args(argv: &[String]) -> ConmonArgs {
    let mut c = ConmonArgs::default();
    let some = |v: Option<&str>| v.filter(|v| !v.is_empty()).map(str::to_string);
    for (k, v) in options(argv, CONMON_VALUES) {
        match k {
            "-c" | "--cid" => c.cid = c.cid.take().or(some(v)),
            "-n" | "--name" => c.name = c.name.take().or(some(v)),
            "-r" | "--runtime" => c.runtime = c.runtime.take().or(some(v)),
            "-b" | "--bundle" => c.bundle = c.bundle.take().or(some(v)),
            "-l" | "--log-path" => {
                if let Some(v) = some(v) {
                    let v = v
                        .strip_prefix("k8s-file:")
                        .map_or(v.clone(), str::to_string);
                    c.log_paths.push(v);
                }
            }
            "--exit-command" => c.exit_command = c.exit_command.take().or(some(v)),
            "--exit-dir" => c.exit_dir = c.exit_dir.take().or(some(v)),
            _ => {}
        }
    }
    c
}

/// What a containerd shim's command line says.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ShimArgs {
    /// `-namespace`: `k8s.io` (Kubernetes' CRI), `moby` (Docker), `default` (ctr)...
    pub namespace: Option<String>,
    /// `-id`: the container (or, for a pod's shim, the sandbox) it was started for.
    pub id: Option<String>,
}

/// Parses a containerd shim's command line (`-namespace k8s.io -id <id> -address ...`).
pub fn shim_args(argv: &[String]) -> ShimArgs {
    let values = [
        "-namespace",
        "--namespace",
        "-id",
        "--id",
        "-address",
        "--address",
        "-publish-binary",
        "-bundle",
        "-socket",
    ];
    let mut s = ShimArgs::default();
    for (k, v) in options(argv, &values) {
        let v = v.filter(|v| !v.is_empty()).map(str::to_string);
        match k {
            "-namespace" | "--namespace" => s.namespace = s.namespace.take().or(v),
            "-id" | "--id" => s.id = s.id.take().or(v),
            _ => {}
        }
    }
    s
}

/// A Kubernetes container name as CRI-O's conmon (`-n`) and dockershim/cri-dockerd's Docker
/// names spell it: `k8s_<container>_<pod>_<namespace>_<uid>_<attempt>` (`POD` for the
/// sandbox).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct K8sName {
    /// The container's name (`POD` for the sandbox).
    pub container: String,
    /// The pod's name.
    pub pod: String,
    /// The namespace.
    pub namespace: String,
    /// The pod UID.
    pub uid: String,
}

/// Parses a `k8s_` name; `None` for anything else (pod, namespace and container names
/// cannot hold `_`, so the name has exactly six parts).
pub fn k8s_name(name: &str) -> Option<K8sName> {
    let rest = name
        .strip_prefix('/')
        .unwrap_or(name)
        .strip_prefix("k8s_")?;
    let parts: Vec<&str> = rest.split('_').collect();
    let [container, pod, namespace, uid, attempt] = parts.as_slice() else {
        return None;
    };
    if [container, pod, namespace, uid]
        .iter()
        .any(|s| s.is_empty())
        || !attempt.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    Some(K8sName {
        container: (*container).to_string(),
        pod: (*pod).to_string(),
        namespace: (*namespace).to_string(),
        uid: (*uid).to_string(),
    })
}

/// What the kubelet's log path convention says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodLog {
    /// The namespace.
    pub namespace: String,
    /// The pod's name.
    pub pod: String,
    /// The pod UID.
    pub uid: String,
    /// The container's name.
    pub container: String,
}

/// Parses `/var/log/pods/<namespace>_<pod>_<uid>/<container>/<N>.log`; `None` otherwise.
pub fn pod_log(path: &str) -> Option<PodLog> {
    let rest = path.strip_prefix("/var/log/pods/")?;
    let mut parts = rest.split('/');
    let pod_dir = parts.next()?;
    let container = parts.next().filter(|c| !c.is_empty())?;
    let file = parts.next()?;
    if parts.next().is_some() || !file.ends_with(".log") {
        return None;
    }
    let mut fields = pod_dir.splitn(3, '_');
    let (namespace, pod, uid) = (fields.next()?, fields.next()?, fields.next()?);
    if namespace.is_empty() || pod.is_empty() || uid.is_empty() {
        return None;
    }
    Some(PodLog {
        namespace: namespace.to_string(),
        pod: pod.to_string(),
        uid: uid.to_string(),
        container: container.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(s: &str) -> Vec<String> {
        s.split(' ').map(str::to_string).collect()
    }

    #[test]
    fn conmon_podman() {
        let a = argv(
            "/usr/bin/conmon --api-version 1 -c abc -u abc -r /usr/bin/runc -b /b -n counter \
             --exit-dir /run/libpod/exits --full-attach -s -l journald --runtime-arg \
             --log-format=json --exit-command /usr/bin/podman --exit-command-arg -n \
             --exit-command-arg other",
        );
        let c = conmon_args(&a);
        assert_eq!(c.cid.as_deref(), Some("abc"));
        assert_eq!(c.name.as_deref(), Some("counter"));
        assert_eq!(c.runtime.as_deref(), Some("/usr/bin/runc"));
        assert_eq!(c.bundle.as_deref(), Some("/b"));
        assert_eq!(c.log_paths, vec!["journald".to_string()]);
        assert_eq!(c.exit_command.as_deref(), Some("/usr/bin/podman"));
    }

    #[test]
    fn k8s_names_and_logs() {
        let n = k8s_name("k8s_web_web-7d9f_shop_0b1c2d3e-aaaa-bbbb-cccc-0123456789ab_0");
        assert_eq!(n.as_ref().map(|n| n.pod.as_str()), Some("web-7d9f"));
        assert_eq!(n.as_ref().map(|n| n.namespace.as_str()), Some("shop"));
        assert_eq!(k8s_name("counter"), None);
        assert_eq!(k8s_name("k8s_a_b_c"), None);
        let l = pod_log("/var/log/pods/shop_web-7d9f_0b1c2d3e-aaaa/web/0.log");
        assert_eq!(
            l.map(|l| (l.namespace, l.container)),
            Some(("shop".into(), "web".into()))
        );
        assert_eq!(pod_log("/var/log/messages"), None);
    }

    #[test]
    fn shims() {
        let a =
            argv("/usr/bin/containerd-shim-runc-v2 -namespace k8s.io -id abc -address /run/c.sock");
        assert_eq!(
            shim_name("containerd-shim", &a),
            Some("containerd-shim-runc-v2")
        );
        let s = shim_args(&a);
        assert_eq!(
            (s.namespace.as_deref(), s.id.as_deref()),
            (Some("k8s.io"), Some("abc"))
        );
    }
}
