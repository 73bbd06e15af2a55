//! The peer diff: N evidences of one workload (replicas of a Deployment, containers of one
//! image) compared artifact by artifact, with what is only noise between replicas left
//! out. Result: the baseline (what the majority has) and, per peer, what it has that the
//! others lack or lacks that they have, ranked by rarity (how many of the N peers share it),
//! as memory baselining stacks artifacts across many images.
//!
//! Compared (each artifact named without pids or addresses, see [`normalise`]):
//! - **process**: the tree's shape. A process is its path from the root: the chain of
//!   (comm, exe, argv, uid) of its ancestors and itself. Kernel threads are left out.
//! - **env**: each process's environment as a set of `KEY=VALUE` (order ignored).
//! - **map**: file-backed areas by path, permissions, size and file offset; anonymous areas
//!   by permissions, counted (heap growth changes sizes, not counts); `[heap]`, `[stack]`,
//!   `[vdso]` by permissions. Writable-and-executable and anonymous executable areas are
//!   counted the same way and flagged in the description.
//! - **code**: the pages of file-backed executable areas, hashed; only pages every peer
//!   captured are compared.
//! - **file**: open descriptors (kind and path, pipe and socket inode numbers dropped), cwd,
//!   root and the executable.
//! - **socket**: listeners by protocol, state, bind address (wildcard or loopback, else `*`)
//!   and port; connections by protocol, state, peer address and the port that is not
//!   ephemeral.
//! - **rootfs**: the container's filesystem changes by path, type, mode, size and SHA-256.
//! - **mount**: mount point, type and source.
//!
//! Normalised away: pids, ASLR bases, container ids and names, hostnames and pod UIDs (in
//! every text, see [`normalise::Normaliser`]), inode numbers, timestamps, counters, memory
//! contents outside code pages, and the order of every list. Two of the same (two equal
//! workers, three `/dev/null` descriptors) are counted (`#2`, `#3`).
//!
//! Within one node dump, [`peers`] compares containers (the replicas of one image or
//! name), each by its own processes.
//!
//! The baseline holds what more than half of the peers have. With two peers there is no
//! majority: the baseline is what both have, and each peer lists what it has that the other
//! lacks (both directions, as two `extra` lists; no `missing`).

pub mod code;
pub mod collect;
pub mod model;
pub mod normalise;
mod stack;

pub use collect::{Profile, container_profile, profile};
pub use model::{
    Baseline, CodePages, DiffError, DiffReport, Difference, Direction, Kind, Locator, PeerDiff,
};

use crate::engine::evidence::Evidence;
use crate::engine::identity::Container;

/// Compares `evidences` (N ≥ 2), each named by the label at the same index.
pub fn diff(evidences: &[&dyn Evidence], labels: &[&str]) -> Result<DiffReport, DiffError> {
    if evidences.len() != labels.len() {
        return Err(DiffError::Labels {
            evidences: evidences.len(),
            labels: labels.len(),
        });
    }
    if evidences.len() < 2 {
        return Err(DiffError::TooFewPeers {
            given: evidences.len(),
        });
    }
    let mut profiles = Vec::with_capacity(evidences.len());
    for (ev, label) in evidences.iter().zip(labels) {
        profiles.push(profile(*ev).map_err(|source| DiffError::Evidence {
            label: (*label).to_string(),
            source,
        })?);
    }
    let labels: Vec<String> = labels.iter().map(|l| (*l).to_string()).collect();
    compare(&profiles, &labels)
}

/// Compares containers of one evidence (a node dump) as peers: each one's processes only
/// ([`container_profile`]), named by its label (`counter`, `shop/web-0/nginx`).
pub fn peers(ev: &dyn Evidence, containers: &[&Container]) -> Result<DiffReport, DiffError> {
    let mut profiles = Vec::with_capacity(containers.len());
    let mut labels = Vec::with_capacity(containers.len());
    for c in containers {
        let label = c.label();
        profiles.push(
            container_profile(ev, c).map_err(|source| DiffError::Evidence {
                label: label.clone(),
                source,
            })?,
        );
        labels.push(label);
    }
    compare(&profiles, &labels)
}

/// Compares profiles made by [`profile`] (N ≥ 2), each named by the label at the same index:
/// what [`diff`] does once the evidences are read, for a caller that profiles a fleet one
/// evidence at a time.
pub fn compare(profiles: &[Profile], labels: &[String]) -> Result<DiffReport, DiffError> {
    if profiles.len() != labels.len() {
        return Err(DiffError::Labels {
            evidences: profiles.len(),
            labels: labels.len(),
        });
    }
    if profiles.len() < 2 {
        return Err(DiffError::TooFewPeers {
            given: profiles.len(),
        });
    }
    Ok(stack::stack(profiles, labels))
}
