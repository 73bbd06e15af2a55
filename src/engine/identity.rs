//! Who each container of an evidence is: runtime, id, name, pod, namespace, pod UID, QoS
//! class, image, sandbox and monitor processes, with where each fact was read.
//!
//! Everything comes through [`Evidence`]: processes (cgroup paths, command lines), their
//! environment and open files, and the checkpoint's metadata in [`Evidence::info`]. The
//! sources, in the order they are trusted (the first that names a field wins):
//! 1. the cgroup path (`libpod-`/`crio-`/`cri-containerd-`/`docker-` scopes, `/docker/<id>`,
//!    cgroupfs `/kubepods/<qos>/pod<uid>/<id>`, systemd `kubepods-<qos>-pod<uid>.slice`):
//!    id, runtime, pod UID, QoS class ([`cgroup`]);
//! 2. a checkpoint's `config.dump`/`spec.dump` (name, id, image, OCI runtime) and its
//!    `io.kubernetes.*` annotations (pod, namespace, pod UID, sandbox);
//! 3. the pause process (`/pause`, comm `pause`): the pod's sandbox;
//! 4. conmon's arguments (`-c` id, `-n` name or CRI-O's `k8s_<ctr>_<pod>_<ns>_<uid>_<n>`,
//!    `-r`, `-b`, `-l`), containerd-shim's (`-namespace`, `-id`), and the kubelet's log files
//!    `/var/log/pods/<ns>_<pod>_<uid>/<ctr>/N.log` in their arguments or open files
//!    ([`args`]);
//! 5. the environment: `HOSTNAME` is the pod's name only when `KUBERNETES_SERVICE_HOST` is
//!    set.
//!
//! What the evidence does not hold stays `None`: nothing is guessed.

pub mod args;
pub mod cgroup;
mod checkpoint;
pub mod model;
mod node;
pub mod report;

pub use model::{Container, ContainerReport, Endpoint, Member, QosClass, Runtime};
pub use report::report;

use crate::engine::error::Result;
use crate::engine::evidence::{Evidence, EvidenceKind, Process};

/// Every container of `ev`, ordered by its lowest pid (see the [module](self) for the
/// sources).
pub fn containers(ev: &dyn Evidence) -> Result<Vec<Container>> {
    let procs = ev.processes()?;
    Ok(identify(ev, &procs))
}

/// [`containers`] for processes already read from `ev`.
pub fn identify(ev: &dyn Evidence, procs: &[Process]) -> Vec<Container> {
    let info = ev.info();
    let mut cs = node::groups(procs);
    if info.kind == EvidenceKind::Checkpoint {
        checkpoint::from_meta(&info, procs, &mut cs);
    }
    node::pause(procs, &mut cs);
    node::from_monitors(ev, procs, &mut cs);
    node::pause(procs, &mut cs);
    node::environment(ev, procs, &mut cs);
    for c in &mut cs {
        c.pids.sort_unstable();
    }
    cs
}

/// Why containers could not be selected.
#[derive(Debug, thiserror::Error)]
pub enum SelectError {
    /// No container has this name or id.
    #[error("no container named {0:?} (give a name, pod/name, or an id of at least 4 digits)")]
    NotFound(String),
    /// Several containers answer to this name or id prefix.
    #[error("{query:?} names {count} containers: give a longer id")]
    Ambiguous {
        /// What was asked.
        query: String,
        /// How many answered.
        count: usize,
    },
}

/// The containers named by `queries` (a name, `pod/name`, `namespace/pod/name`, a full id or
/// an id prefix of at least 4 digits), in the order asked.
pub fn select<'a>(
    containers: &'a [Container],
    queries: &[String],
) -> std::result::Result<Vec<&'a Container>, SelectError> {
    let mut out = Vec::with_capacity(queries.len());
    for q in queries {
        let found: Vec<&Container> = containers.iter().filter(|c| c.matches(q)).collect();
        match found.as_slice() {
            [one] => out.push(*one),
            [] => return Err(SelectError::NotFound(q.clone())),
            many => {
                return Err(SelectError::Ambiguous {
                    query: q.clone(),
                    count: many.len(),
                });
            }
        }
    }
    Ok(out)
}
