//! Stacks the artifacts of N profiles (how many peers have each one), takes the baseline
//! (what more than half of them have) and lists, per peer, what it has that the baseline
//! lacks and what it lacks of the baseline, ranked rarest first.
//!
//! The artifacts of a process that is itself not in the baseline (an extra process, or a
//! missing one) are not listed one by one: its own difference says it. Of them, only what
//! appears nowhere on the other side is listed (a listener on a new port, a variable no
//! baseline process has, a file no baseline process opens).

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use crate::engine::diff::collect::{Artifact, Profile};
use crate::engine::diff::model::{
    Baseline, CodePages, DiffReport, Difference, Direction, Kind, Locator, PeerDiff,
};
use crate::engine::findings::hex_string;

/// The identity of an artifact across peers.
fn key(p: &Profile, a: &Artifact) -> String {
    let owner = owner_key(p, a.owner);
    let n = if a.ordinal > 1 {
        format!(" #{}", a.ordinal)
    } else {
        String::new()
    };
    if a.kind == Kind::Process {
        return format!("process {owner}{n}");
    }
    match owner {
        "" => format!("{} {}{n}", a.kind.name(), a.content),
        owner => format!("{} {owner} :: {}{n}", a.kind.name(), a.content),
    }
}

fn owner_key(p: &Profile, owner: Option<usize>) -> &str {
    owner
        .and_then(|o| p.processes.get(o))
        .map_or("", |n| n.key.as_str())
}

fn owner_label(p: &Profile, owner: Option<usize>) -> Option<String> {
    owner
        .and_then(|o| p.processes.get(o))
        .map(|n| n.label.clone())
}

/// The stacked artifacts of all peers.
struct Stack<'a> {
    profiles: &'a [Profile],
    /// Each profile's artifact keys, parallel to its artifacts.
    keys: Vec<Vec<String>>,
    /// How many profiles have each key.
    count: HashMap<String, usize>,
    /// A profile and artifact index holding each key (the first).
    first: HashMap<String, (usize, usize)>,
    /// More than half of the peers.
    majority: usize,
}

impl<'a> Stack<'a> {
    fn new(profiles: &'a [Profile]) -> Stack<'a> {
        let mut keys = Vec::with_capacity(profiles.len());
        let mut count: HashMap<String, usize> = HashMap::new();
        let mut first = HashMap::new();
        for (pi, p) in profiles.iter().enumerate() {
            let ks: Vec<String> = p.artifacts.iter().map(|a| key(p, a)).collect();
            let unique: HashSet<&String> = ks.iter().collect();
            for k in unique {
                *count.entry(k.clone()).or_insert(0) += 1;
            }
            for (ai, k) in ks.iter().enumerate() {
                first.entry(k.clone()).or_insert((pi, ai));
            }
            keys.push(ks);
        }
        Stack {
            profiles,
            keys,
            count,
            first,
            majority: profiles.len() / 2 + 1,
        }
    }

    fn count(&self, key: &str) -> usize {
        self.count.get(key).copied().unwrap_or(0)
    }

    fn in_baseline(&self, key: &str) -> bool {
        self.count(key) >= self.majority
    }

    fn artifact(&self, at: (usize, usize)) -> Option<(&'a Profile, &'a Artifact)> {
        let p = self.profiles.get(at.0)?;
        Some((p, p.artifacts.get(at.1)?))
    }

    /// The baseline's keys, sorted.
    fn baseline_keys(&self) -> BTreeSet<&str> {
        self.count
            .iter()
            .filter(|(_, c)| **c >= self.majority)
            .map(|(k, _)| k.as_str())
            .collect()
    }
}

/// Compares profiles; `labels` name them in the report (one per profile, in order).
pub(crate) fn stack(profiles: &[Profile], labels: &[String]) -> DiffReport {
    let s = Stack::new(profiles);
    let n = profiles.len();
    let baseline_keys = s.baseline_keys();
    // What the baseline holds, by kind, as compared when a process is not matched.
    let mut baseline_folds: HashSet<(Kind, &str)> = HashSet::new();
    for k in &baseline_keys {
        if let Some((_, a)) = s.first.get(*k).and_then(|at| s.artifact(*at))
            && let Some(f) = &a.fold
        {
            baseline_folds.insert((a.kind, f.as_str()));
        }
    }
    // Every (kind, owner, ident) with the keys that hold it: the forms of one thing.
    let mut forms: HashMap<(Kind, &str, &str), BTreeSet<&str>> = HashMap::new();
    for (pi, p) in profiles.iter().enumerate() {
        for (ai, a) in p.artifacts.iter().enumerate() {
            if let (Some(id), Some(k)) = (&a.ident, s.keys.get(pi).and_then(|ks| ks.get(ai))) {
                forms
                    .entry((a.kind, owner_key(p, a.owner), id.as_str()))
                    .or_default()
                    .insert(k.as_str());
            }
        }
    }
    let code = code_differences(profiles, s.majority);
    let mut peers = Vec::with_capacity(n);
    for (pi, p) in profiles.iter().enumerate() {
        let own: HashSet<&str> = s
            .keys
            .get(pi)
            .map(|ks| ks.iter().map(String::as_str).collect())
            .unwrap_or_default();
        let own_procs: HashMap<&str, u32> = p
            .processes
            .iter()
            .map(|node| (node.key.as_str(), node.pid))
            .collect();
        let own_folds: HashSet<(Kind, &str)> = p
            .artifacts
            .iter()
            .filter_map(|a| a.fold.as_deref().map(|f| (a.kind, f)))
            .collect();
        let mut extra: Vec<Difference> = Vec::new();
        let mut merged: HashSet<&str> = HashSet::new();
        for (ai, a) in p.artifacts.iter().enumerate() {
            let Some(k) = s.keys.get(pi).and_then(|ks| ks.get(ai)) else {
                continue;
            };
            if s.in_baseline(k) {
                continue;
            }
            let okey = owner_key(p, a.owner);
            let unmatched = a.kind != Kind::Process
                && !okey.is_empty()
                && !s.in_baseline(&format!("process {okey}"));
            if unmatched && !new_to(a, &baseline_folds) {
                continue;
            }
            // The form the others hold of the same thing (a variable's other value).
            let instead = a.ident.as_deref().and_then(|id| {
                forms
                    .get(&(a.kind, okey, id))?
                    .iter()
                    .filter(|f| !own.contains(**f) && !merged.contains(**f))
                    .max_by_key(|f| (s.count(f), std::cmp::Reverse(**f)))
                    .copied()
            });
            let instead_of = instead.and_then(|f| {
                merged.insert(f);
                let (_, other) = s.artifact(*s.first.get(f)?)?;
                Some(other.short.clone())
            });
            extra.push(Difference {
                kind: a.kind,
                direction: Direction::Extra,
                description: a.description.clone(),
                present_in: s.count(k),
                peers: n,
                suspicious: a.suspicious,
                process: owner_label(p, a.owner),
                instead_of,
                at: a.at.clone(),
                key: k.clone(),
            });
        }
        let mut missing: Vec<Difference> = Vec::new();
        for k in &baseline_keys {
            if own.contains(k) || merged.contains(k) {
                continue;
            }
            let Some((q, a)) = s.first.get(*k).and_then(|at| s.artifact(*at)) else {
                continue;
            };
            let okey = owner_key(q, a.owner);
            let here = own_procs.get(okey).copied();
            let unmatched = a.kind != Kind::Process && !okey.is_empty() && here.is_none();
            if unmatched && !new_to(a, &own_folds) {
                continue;
            }
            // Identifiers of the thing itself, and this peer's pid of its process.
            let at = Locator {
                pid: here.filter(|_| a.kind != Kind::Process),
                path: a.at.path.clone(),
                port: a.at.port,
                variable: a.at.variable.clone(),
                ..Locator::default()
            };
            missing.push(Difference {
                kind: a.kind,
                direction: Direction::Missing,
                description: format!("lacks {}", a.description),
                present_in: s.count(k),
                peers: n,
                suspicious: a.suspicious,
                process: owner_label(q, a.owner),
                instead_of: None,
                at,
                key: (*k).to_string(),
            });
        }
        let mut differences = extra;
        differences.append(&mut missing);
        differences.extend(code.get(&pi).cloned().unwrap_or_default());
        rank(&mut differences);
        peers.push(PeerDiff {
            evidence: labels
                .get(pi)
                .cloned()
                .unwrap_or_else(|| format!("peer {}", pi + 1)),
            differences,
            warnings: p.warnings.clone(),
        });
    }
    let baseline = baseline_summary(&s, &baseline_keys, code.compared());
    DiffReport { peers, baseline }
}

/// True when what `a` holds (as compared for an unmatched process) is nowhere in `other`:
/// then it is listed although its process's own difference covers it.
fn new_to(a: &Artifact, other: &HashSet<(Kind, &str)>) -> bool {
    match &a.fold {
        Some(f) => !other.contains(&(a.kind, f.as_str())),
        None => false,
    }
}

/// Rarest first; then what is suspicious, then by kind, direction and text.
fn rank(d: &mut [Difference]) {
    d.sort_by(|a, b| {
        let order = |d: &Difference| (d.shared_by(), !d.suspicious, d.kind, d.direction);
        order(a)
            .cmp(&order(b))
            .then_with(|| a.description.cmp(&b.description))
            .then_with(|| a.key.cmp(&b.key))
    });
}

fn baseline_summary(s: &Stack<'_>, keys: &BTreeSet<&str>, code_pages: CodePages) -> Baseline {
    let mut processes = Vec::new();
    let mut seen = HashSet::new();
    for p in s.profiles {
        for node in &p.processes {
            let k = format!("process {}", node.key);
            if s.in_baseline(&k) && seen.insert(k) {
                processes.push(node.label.clone());
            }
        }
    }
    let mut artifacts: BTreeMap<Kind, usize> = Kind::ALL
        .iter()
        .filter(|k| **k != Kind::Code)
        .map(|k| (*k, 0))
        .collect();
    let mut listeners = Vec::new();
    for k in keys {
        let Some((p, a)) = s.first.get(*k).and_then(|at| s.artifact(*at)) else {
            continue;
        };
        *artifacts.entry(a.kind).or_insert(0) += 1;
        if a.kind == Kind::Socket && a.content.contains(" LISTEN") {
            let who = owner_label(p, a.owner).unwrap_or_default();
            listeners.push(format!("{} ({who})", a.short));
        }
    }
    artifacts.insert(Kind::Code, code_pages.compared);
    Baseline {
        peers: s.profiles.len(),
        majority: s.majority,
        processes,
        listeners,
        artifacts,
        code_pages,
    }
}

/// Code differences by peer index, and the counts.
struct CodeResult {
    by_peer: HashMap<usize, Vec<Difference>>,
    pages: CodePages,
}

impl CodeResult {
    fn get(&self, peer: &usize) -> Option<&Vec<Difference>> {
        self.by_peer.get(peer)
    }

    fn compared(&self) -> CodePages {
        self.pages
    }
}

/// Compares the code pages every peer captured: a peer whose bytes fewer than a majority
/// share has a `code` difference.
fn code_differences(profiles: &[Profile], majority: usize) -> CodeResult {
    let n = profiles.len();
    type Page<'p> = (&'p str, &'p str, u64);
    let mut pages: HashMap<Page<'_>, Vec<(usize, usize)>> = HashMap::new();
    for (pi, p) in profiles.iter().enumerate() {
        for (ci, c) in p.code.iter().enumerate() {
            let slot = pages
                .entry((owner_key(p, Some(c.owner)), c.path.as_str(), c.offset))
                .or_default();
            // One page per peer (a module mapped twice at the same offset counts once).
            if !slot.iter().any(|(q, _)| *q == pi) {
                slot.push((pi, ci));
            }
        }
    }
    let mut out = CodeResult {
        by_peer: HashMap::new(),
        pages: CodePages::default(),
    };
    for ((okey, path, offset), holders) in &pages {
        if holders.len() < n {
            continue;
        }
        out.pages.compared += 1;
        let hash_of = |&(pi, ci): &(usize, usize)| {
            profiles
                .get(pi)
                .and_then(|p| p.code.get(ci))
                .map(|c| c.hash)
        };
        let mut by_hash: HashMap<[u8; 32], usize> = HashMap::new();
        for h in holders.iter().filter_map(hash_of) {
            *by_hash.entry(h).or_insert(0) += 1;
        }
        if by_hash.len() < 2 {
            continue;
        }
        out.pages.differing += 1;
        let common = by_hash
            .iter()
            .max_by_key(|(h, c)| (**c, std::cmp::Reverse(**h)))
            .map(|(h, c)| (*h, *c));
        for holder in holders {
            let (Some(h), Some(p)) = (hash_of(holder), profiles.get(holder.0)) else {
                continue;
            };
            let present = by_hash.get(&h).copied().unwrap_or(0);
            if present >= majority {
                continue;
            }
            let Some(c) = p.code.get(holder.1) else {
                continue;
            };
            let name = c.owner;
            let who = p.processes.get(name).map_or("?", |node| node.name.as_str());
            let others = match common.filter(|(ch, _)| *ch != h) {
                Some((ch, cc)) => format!("{cc} of {n} peers have sha256 {}", short(&ch)),
                None => "every peer has other bytes".to_string(),
            };
            out.by_peer.entry(holder.0).or_default().push(Difference {
                kind: Kind::Code,
                direction: Direction::Extra,
                description: format!(
                    "code page of {path} at file offset {offset:#x} in {who} differs (sha256 {}; {others})",
                    short(&h)
                ),
                present_in: present,
                peers: n,
                suspicious: true,
                process: owner_label(p, Some(name)),
                instead_of: common.filter(|(ch, _)| *ch != h).map(|(ch, _)| format!("sha256 {}", hex_string(&ch))),
                at: c.at.clone(),
                key: format!("code {okey} :: {path} offset {offset:#x}"),
            });
        }
    }
    out
}

fn short(h: &[u8; 32]) -> String {
    hex_string(h.get(..8).unwrap_or(h))
}
