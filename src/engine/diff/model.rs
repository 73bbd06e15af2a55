//! The peer diff's result types: what the majority has ([`Baseline`]) and, per peer, its
//! [`Difference`]s, ranked. They serialise to `podmortem diff --json`: addresses as `"0x..."`
//! strings, pids, ports and counts as numbers, absent identifiers left out.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::engine::evidence::{Pid, hex};

/// What kind of artifact a difference is about.
///
/// The order is the tie-break of the ranking: among equally rare differences, injected code
/// and unexpected processes come before environment and files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// A process of the tree (name, executable, arguments, user, parent).
    Process,
    /// A page of a file-backed executable mapping whose bytes differ.
    Code,
    /// A memory area (a module, an anonymous area, RWX memory).
    Map,
    /// A socket or listener.
    Socket,
    /// An environment variable of a process.
    Env,
    /// An open file (descriptor, cwd, root, executable).
    File,
    /// An entry of the container's filesystem changes.
    Rootfs,
    /// A mount of the container.
    Mount,
}

impl Kind {
    /// Every kind, in ranking order.
    pub const ALL: [Kind; 8] = [
        Kind::Process,
        Kind::Code,
        Kind::Map,
        Kind::Socket,
        Kind::Env,
        Kind::File,
        Kind::Rootfs,
        Kind::Mount,
    ];

    /// The kind as the JSON writes it (`"process"`, `"env"`...).
    pub fn name(self) -> &'static str {
        match self {
            Kind::Process => "process",
            Kind::Code => "code",
            Kind::Map => "map",
            Kind::Socket => "socket",
            Kind::Env => "env",
            Kind::File => "file",
            Kind::Rootfs => "rootfs",
            Kind::Mount => "mount",
        }
    }
}

/// Which way a peer differs from the others.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// The peer has it and the majority does not.
    Extra,
    /// The majority has it and the peer does not.
    Missing,
}

/// Where an artifact is in one evidence: the identifiers a client needs to show it (the
/// workbench jumps to `pid` and `address`/`start`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Locator {
    /// The process the artifact belongs to, in this evidence.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pid: Option<Pid>,
    /// First address of the memory area.
    #[serde(
        serialize_with = "hex::opt_u64",
        skip_serializing_if = "Option::is_none"
    )]
    pub start: Option<u64>,
    /// One past the last address of the memory area.
    #[serde(
        serialize_with = "hex::opt_u64",
        skip_serializing_if = "Option::is_none"
    )]
    pub end: Option<u64>,
    /// The address of a code page.
    #[serde(
        serialize_with = "hex::opt_u64",
        skip_serializing_if = "Option::is_none"
    )]
    pub address: Option<u64>,
    /// A file's, module's, mount point's or rootfs entry's path.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// A socket's local port.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub port: Option<u64>,
    /// A descriptor number.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fd: Option<i64>,
    /// An environment variable's name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub variable: Option<String>,
}

/// One way a peer differs from the baseline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Difference {
    /// What kind of artifact.
    pub kind: Kind,
    /// The peer has it and the others lack it (`extra`), or the reverse (`missing`).
    pub direction: Direction,
    /// One line a person reads.
    pub description: String,
    /// How many of the peers have the artifact (for `missing`: how many have what this peer
    /// lacks).
    pub present_in: usize,
    /// How many peers were compared.
    pub peers: usize,
    /// Worth a look whatever its rarity: a writable-and-executable or anonymous executable
    /// area, a process whose `argv[0]` names another program than its executable, a code
    /// page that differs (JSON: present only when true). Ranked first among equally rare
    /// differences.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub suspicious: bool,
    /// The process the artifact belongs to, as its normalised path from the root of the tree
    /// (`sh -c ... > nc -l -p 4444`); absent for the container's files and mounts.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub process: Option<String>,
    /// For an artifact that the peer holds in another form (a variable's value, a file's
    /// content, a code page's bytes): the form the baseline holds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instead_of: Option<String>,
    /// Where the artifact is in this peer (for `missing`: the process it is missing from,
    /// when this peer has that process).
    #[serde(flatten)]
    pub at: Locator,
    /// The normalised identity compared across peers: the same text in every peer that has
    /// the artifact (group by it with `jq`).
    pub key: String,
}

impl Difference {
    /// How many peers share this peer's side of the difference: `present_in` for an extra,
    /// the peers that lack it for a missing one. The ranking sorts by it, rarest first.
    pub fn shared_by(&self) -> usize {
        match self.direction {
            Direction::Extra => self.present_in,
            Direction::Missing => self.peers.saturating_sub(self.present_in),
        }
    }
}

/// One peer's differences, ranked (most unusual first).
#[derive(Debug, Clone, Serialize)]
pub struct PeerDiff {
    /// The peer's label (the evidence path on the command line).
    pub evidence: String,
    /// Its differences; empty for a peer that matches the baseline.
    pub differences: Vec<Difference>,
    /// What could not be read from this peer (the comparison may be incomplete there).
    pub warnings: Vec<String>,
}

/// What the majority of the peers has.
#[derive(Debug, Clone, Serialize)]
pub struct Baseline {
    /// How many peers were compared.
    pub peers: usize,
    /// How many peers must have an artifact for it to be in the baseline: more than half
    /// (with two peers: both).
    pub majority: usize,
    /// The processes of the baseline, as normalised paths from the root, in tree order.
    pub processes: Vec<String>,
    /// The listeners of the baseline (`tcp :8080`).
    pub listeners: Vec<String>,
    /// How many artifacts of each kind the baseline holds.
    pub artifacts: BTreeMap<Kind, usize>,
    /// Code pages compared (captured in every peer) and how many of them differ somewhere.
    pub code_pages: CodePages,
}

/// The code pages the diff could compare.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct CodePages {
    /// Pages of file-backed executable areas captured in every peer.
    pub compared: usize,
    /// Of those, pages whose bytes are not the same in every peer.
    pub differing: usize,
}

/// The result of a peer diff.
#[derive(Debug, Clone, Serialize)]
pub struct DiffReport {
    /// One entry per peer, in the order given.
    pub peers: Vec<PeerDiff>,
    /// What the majority has.
    pub baseline: Baseline,
}

/// Why a diff could not be made.
#[derive(Debug, thiserror::Error)]
pub enum DiffError {
    /// Fewer than two evidences.
    #[error("a diff needs at least two evidences, {given} given")]
    TooFewPeers {
        /// How many were given.
        given: usize,
    },
    /// Not one label per evidence.
    #[error("{evidences} evidences but {labels} labels")]
    Labels {
        /// Evidences given.
        evidences: usize,
        /// Labels given.
        labels: usize,
    },
    /// An evidence could not be read.
    #[error("{label}: {source}")]
    Evidence {
        /// The peer's label.
        label: String,
        /// What went wrong.
        #[source]
        source: crate::engine::Error,
    },
}
