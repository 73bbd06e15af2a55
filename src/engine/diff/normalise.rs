//! What the peer diff treats as noise, and the identity of a process without its pid.
//!
//! Replicas of one workload differ in their container id and name, hostname, pids, ASLR
//! bases, inode numbers and the order of lists; none of that is a difference. A
//! [`Normaliser`] replaces an evidence's own names (container id, name, hostname, pod UID)
//! in any text by placeholders, and pseudo-file inode numbers (`pipe:[397511]`) by `N`.
//! [`process_tree`] names every process by its path from the root of the tree: the chain
//! of (comm, exe, argv, uid) of its ancestors and itself, never by pid.

use std::collections::{BTreeMap, HashMap};
use std::hash::{DefaultHasher, Hash, Hasher};

use crate::engine::evidence::{EvidenceInfo, Pid, Process, tree_order};

/// Shortest own name replaced (a one-letter hostname would eat every other word).
const MIN_NAME: usize = 4;

/// Longest process label shown in a description or a path.
const LABEL_MAX: usize = 72;

/// Replaces an evidence's own names in text by placeholders.
#[derive(Debug, Clone, Default)]
pub struct Normaliser {
    /// (name, placeholder), longest name first.
    names: Vec<(String, &'static str)>,
}

impl Normaliser {
    /// The names of one evidence: its container's id (and 12-character short id), name and
    /// hostname from [`EvidenceInfo::details`], the UTS nodenames, and the container ids and
    /// pod UIDs of its processes.
    pub fn of(info: &EvidenceInfo, procs: &[Process]) -> Normaliser {
        let mut names: Vec<(String, &'static str)> = Vec::new();
        let mut add = |s: Option<&str>, placeholder: &'static str| {
            if let Some(s) = s.filter(|s| s.len() >= MIN_NAME) {
                names.push((s.to_string(), placeholder));
            }
        };
        let container = info.details.get("container");
        let field = |k: &str| container.and_then(|c| c.get(k)).and_then(|v| v.as_str());
        for id in [field("id")]
            .into_iter()
            .chain(procs.iter().map(|p| p.container_id.as_deref()))
        {
            add(id, "<container-id>");
            add(id.and_then(|id| id.get(..12)), "<container-id>");
        }
        add(field("name"), "<container-name>");
        add(field("hostname"), "<hostname>");
        if let Some(uts) = info.details.get("uts").and_then(|u| u.as_array()) {
            for u in uts {
                add(u.get("nodename").and_then(|n| n.as_str()), "<hostname>");
            }
        }
        for p in procs {
            add(p.pod_uid.as_deref(), "<pod-uid>");
        }
        names.sort_by(|a, b| b.0.len().cmp(&a.0.len()).then_with(|| a.0.cmp(&b.0)));
        names.dedup();
        Normaliser { names }
    }

    /// The same with one more container name (a container of a node dump compared with its
    /// peers).
    pub fn with_name(mut self, name: Option<&str>) -> Normaliser {
        if let Some(n) = name.filter(|n| n.len() >= MIN_NAME) {
            self.names.push((n.to_string(), "<container-name>"));
            self.names
                .sort_by(|a, b| b.0.len().cmp(&a.0.len()).then_with(|| a.0.cmp(&b.0)));
            self.names.dedup();
        }
        self
    }

    /// `text` with the evidence's own names replaced where they stand as words (not inside
    /// a longer run of letters and digits: the name `web` leaves `website` alone).
    pub fn text(&self, text: &str) -> String {
        let mut out = text.to_string();
        for (name, placeholder) in &self.names {
            if out.contains(name.as_str()) {
                out = replace_words(&out, name, placeholder);
            }
        }
        out
    }

    /// A file path with the evidence's names replaced and the inode number of a pseudo file
    /// (`pipe:[397511]`, `socket:[5]`) made `N`.
    pub fn path(&self, path: &str) -> String {
        pseudo_inode(&self.text(path))
    }
}

/// `text` with each occurrence of `word` that is not part of a longer alphanumeric run
/// replaced by `by`.
fn replace_words(text: &str, word: &str, by: &str) -> String {
    let alnum = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric());
    let mut out = String::with_capacity(text.len());
    let mut rest = 0;
    for (at, _) in text.match_indices(word) {
        if at < rest {
            continue;
        }
        let before = text.get(..at).and_then(|t| t.chars().next_back());
        let after = text.get(at + word.len()..).and_then(|t| t.chars().next());
        if alnum(before) || alnum(after) {
            continue;
        }
        out.push_str(text.get(rest..at).unwrap_or_default());
        out.push_str(by);
        rest = at + word.len();
    }
    out.push_str(text.get(rest..).unwrap_or_default());
    out
}

/// `pipe:[397511]` → `pipe:[N]`; anything else unchanged.
pub fn pseudo_inode(path: &str) -> String {
    match path.split_once(":[") {
        Some((head, tail))
            if !head.contains('/')
                && tail
                    .strip_suffix(']')
                    .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit())) =>
        {
            format!("{head}:[N]")
        }
        _ => path.to_string(),
    }
}

/// One process of the tree, named without its pid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcNode {
    /// Its pid in this evidence.
    pub pid: Pid,
    /// The normalised path from the root: what is compared across peers.
    pub key: String,
    /// The path for people: each ancestor's command line, ` > ` between them (as the
    /// evidence holds them, not normalised).
    pub label: String,
    /// Its own command line for people (with the comm when `argv[0]` names another program).
    pub name: String,
    /// Its parent, an index into the same list.
    pub parent: Option<usize>,
    /// The executable path, normalised (compared), when known.
    pub exe: Option<String>,
    /// The executable path as the evidence holds it (shown), when known.
    pub exe_raw: Option<String>,
    /// The real user id, when known.
    pub uid: Option<u32>,
    /// The comm, as the evidence holds it.
    pub comm: String,
    /// `argv[0]` names another program than comm and exe (a busybox applet, `exec -a`).
    pub masquerade: bool,
}

/// A process's own identity, normalised: `comm(exe) argv... uid=N`, arguments quoted as a
/// shell would need them (`sh(/bin/busybox) /bin/sh -c 'sleep 1' uid=0`).
fn node_id(p: &Process, norm: &Normaliser) -> String {
    let argv: Vec<String> = p.cmdline.iter().map(|a| quote(&norm.text(a))).collect();
    format!(
        "{}({}) {} uid={}",
        norm.text(&p.comm),
        p.exe.as_deref().map(|e| norm.path(e)).unwrap_or_default(),
        argv.join(" "),
        p.uid.map_or_else(|| "?".to_string(), |u| u.to_string())
    )
}

/// `arg`, in single quotes when empty or holding blanks, quotes or shell punctuation.
fn quote(arg: &str) -> String {
    let plain = !arg.is_empty()
        && arg
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:,+@%".contains(c));
    if plain {
        arg.to_string()
    } else {
        format!("'{}'", arg.replace('\'', "'\\''"))
    }
}

/// Cuts a label to [`LABEL_MAX`] characters.
fn cut(s: String) -> String {
    if s.chars().count() <= LABEL_MAX {
        return s;
    }
    let mut out: String = s.chars().take(LABEL_MAX - 1).collect();
    out.push('…');
    out
}

/// The process's own command line for people, as the evidence holds it (not normalised).
fn node_name(p: &Process, masquerade: bool) -> String {
    if p.cmdline.is_empty() {
        return format!("[{}]", p.comm);
    }
    let cmd = cut(p.cmdline.join(" "));
    if masquerade {
        format!("{cmd} (comm {})", p.comm)
    } else {
        cmd
    }
}

/// The user processes of `procs` as a tree, each named by its path from the root, parents
/// before children. Kernel threads are left out (they are the kernel's, not the workload's).
///
/// Siblings with the same identity (two workers started alike) get `#2`, `#3`... in the
/// order of what runs under them, then of their pids, so that the same subtree gets the
/// same name in every peer.
pub fn process_tree(procs: &[Process], norm: &Normaliser) -> Vec<ProcNode> {
    let user: Vec<Process> = procs.iter().filter(|p| !p.kernel_thread).cloned().collect();
    let order = tree_order(&user);
    // Parent of each entry of `order`, from the depths.
    let mut parent: Vec<Option<usize>> = Vec::with_capacity(order.len());
    let mut stack: Vec<(usize, usize)> = Vec::new();
    for (i, (depth, _)) in order.iter().enumerate() {
        while stack.last().is_some_and(|&(d, _)| d >= *depth) {
            stack.pop();
        }
        parent.push(stack.last().map(|&(_, j)| j));
        stack.push((*depth, i));
    }
    let ids: Vec<String> = order.iter().map(|(_, p)| node_id(p, norm)).collect();
    // A hash of each subtree (own id and children's hashes, sorted), children first.
    let mut kids: Vec<Vec<u64>> = vec![Vec::new(); order.len()];
    let mut sig: Vec<u64> = vec![0; order.len()];
    for i in (0..order.len()).rev() {
        let mut h = DefaultHasher::new();
        ids.get(i).hash(&mut h);
        if let Some(k) = kids.get_mut(i) {
            k.sort_unstable();
            k.hash(&mut h);
        }
        let s = h.finish();
        if let Some(slot) = sig.get_mut(i) {
            *slot = s;
        }
        if let Some(k) = parent
            .get(i)
            .copied()
            .flatten()
            .and_then(|p| kids.get_mut(p))
        {
            k.push(s);
        }
    }
    // Ordinals among siblings of the same identity.
    let mut groups: BTreeMap<(Option<usize>, &str), Vec<usize>> = BTreeMap::new();
    for i in 0..order.len() {
        if let (Some(par), Some(id)) = (parent.get(i), ids.get(i)) {
            groups.entry((*par, id.as_str())).or_default().push(i);
        }
    }
    let mut ordinal: HashMap<usize, usize> = HashMap::new();
    for members in groups.values_mut() {
        members.sort_by_key(|&i| {
            (
                sig.get(i).copied().unwrap_or(0),
                order.get(i).map_or(0, |(_, p)| p.pid),
            )
        });
        for (n, &i) in members.iter().enumerate() {
            ordinal.insert(i, n + 1);
        }
    }
    let mut out: Vec<ProcNode> = Vec::with_capacity(order.len());
    for (i, (_, p)) in order.iter().enumerate() {
        let par = parent.get(i).copied().flatten();
        let n = ordinal.get(&i).copied().unwrap_or(1);
        let own = ids.get(i).cloned().unwrap_or_default();
        let own = if n > 1 { format!("{own}#{n}") } else { own };
        let masquerade = crate::engine::triage::process::masquerades(p);
        let name = node_name(p, masquerade);
        let name = if n > 1 { format!("{name} #{n}") } else { name };
        let (key, label) = match par.and_then(|j| out.get(j)) {
            Some(up) => (
                format!("{} > {own}", up.key),
                format!("{} > {name}", up.label),
            ),
            None => (own, name.clone()),
        };
        out.push(ProcNode {
            pid: p.pid,
            key,
            label,
            name,
            parent: par,
            exe: p.exe.as_deref().map(|e| norm.path(e)),
            exe_raw: p.exe.clone(),
            uid: p.uid,
            comm: p.comm.clone(),
            masquerade,
        });
    }
    out
}
