//! Reads one evidence into a [`Profile`]: every artifact the peer diff compares, normalised,
//! with where it is in this evidence. Everything comes through [`Evidence`] and its
//! capabilities (processes, environment, maps, files, the container filesystem, mounts);
//! no format is parsed here.

use std::collections::{BTreeSet, HashMap};

use sha2::{Digest, Sha256};

use crate::engine::capability::ContainerFs;
use crate::engine::diff::code::{CodePage, code_pages};
use crate::engine::diff::model::{Kind, Locator};
use crate::engine::diff::normalise::{Normaliser, ProcNode, process_tree};
use crate::engine::error::Result;
use crate::engine::evidence::{Evidence, FileEntry, FileType, OpenFile, Process, Vma, VmaKind};
use crate::engine::file_details::SocketDetails;
use crate::engine::findings::hex_string;
use crate::engine::identity::Container;
use crate::units::human_size;

/// One artifact of one evidence.
#[derive(Debug, Clone)]
pub(crate) struct Artifact {
    /// What it is.
    pub kind: Kind,
    /// The process it belongs to (an index into [`Profile::processes`]).
    pub owner: Option<usize>,
    /// The normalised text compared across peers (with `owner`'s path and `ordinal`).
    pub content: String,
    /// 1 for the first artifact of this evidence with the same kind, owner and content,
    /// 2 for the second...
    pub ordinal: usize,
    /// What stays the same when the content changes (a variable's name, a path): an extra
    /// and a missing artifact with the same one are one change.
    pub ident: Option<String>,
    /// What is compared when the owner process itself is not in the other peers: `None`
    /// when the process's own difference says it already (its executable's mappings).
    pub fold: Option<String>,
    /// One line for people, with this evidence's own names (not normalised).
    pub description: String,
    /// The artifact in a few words, as this evidence holds it (`APP_MODE=prod`): what a peer
    /// that holds another form of it is told it has instead.
    pub short: String,
    /// Where it is in this evidence.
    pub at: Locator,
    /// Worth a look whatever its rarity (RWX memory, a masquerading process).
    pub suspicious: bool,
}

/// What one evidence holds, normalised: the input of [`crate::engine::diff::compare`].
/// Made by [`profile`]; the evidence can be closed afterwards (a fleet of hundreds is
/// profiled one by one).
#[derive(Debug, Clone, Default)]
pub struct Profile {
    /// Its processes, named by their path in the tree.
    pub(crate) processes: Vec<ProcNode>,
    /// Every artifact but code pages.
    pub(crate) artifacts: Vec<Artifact>,
    /// The captured pages of file-backed executable areas.
    pub(crate) code: Vec<CodePage>,
    /// What could not be read.
    pub(crate) warnings: Vec<String>,
}

impl Profile {
    /// What could not be read from the evidence (the comparison may be incomplete).
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// How many processes, artifacts and code pages it holds.
    pub fn counts(&self) -> (usize, usize, usize) {
        (self.processes.len(), self.artifacts.len(), self.code.len())
    }
}

/// Reads every artifact of `ev` (see the [module](crate::engine::diff) for what and how it
/// is normalised). Only the process list is required; what else cannot be read becomes a
/// warning of the profile.
pub fn profile(ev: &dyn Evidence) -> Result<Profile> {
    let procs = ev.processes()?;
    let norm = Normaliser::of(&ev.info(), &procs);
    profile_procs(ev, &procs, &norm, true)
}

/// The profile of one container of `ev` (see [`crate::engine::identity`]): its processes
/// only, its name normalised as a container's name; the evidence's filesystem changes and
/// mounts are left out (they are the evidence's, not the container's).
pub fn container_profile(ev: &dyn Evidence, container: &Container) -> Result<Profile> {
    let procs: Vec<Process> = ev
        .processes()?
        .into_iter()
        .filter(|p| container.pids.binary_search(&p.pid).is_ok())
        .collect();
    let norm = Normaliser::of(&ev.info(), &procs).with_name(container.name.as_deref());
    profile_procs(ev, &procs, &norm, false)
}

/// Reads the artifacts of `procs` (and, with `container`, the evidence's filesystem changes
/// and mounts).
fn profile_procs(
    ev: &dyn Evidence,
    procs: &[Process],
    norm: &Normaliser,
    container: bool,
) -> Result<Profile> {
    let nodes = process_tree(procs, norm);
    let mut p = Profile {
        processes: nodes,
        ..Profile::default()
    };
    let mut files: Vec<(usize, OpenFile)> = Vec::new();
    for i in 0..p.processes.len() {
        let Some(node) = p.processes.get(i).cloned() else {
            continue;
        };
        process_artifact(&mut p, i, &node);
        let dead = procs
            .iter()
            .any(|q| q.pid == node.pid && matches!(q.state.as_str(), "dead" | "zombie"));
        if dead {
            continue;
        }
        match ev.environment(node.pid) {
            Ok(env) => env_artifacts(&mut p, i, &node, &env, norm),
            Err(e) => p
                .warnings
                .push(format!("pid {}: environment: {e}", node.pid)),
        }
        match ev.maps(node.pid) {
            Ok(maps) => {
                for w in &maps.problems {
                    p.warnings.push(format!("pid {}: maps: {w}", node.pid));
                }
                for v in maps.iter() {
                    map_artifact(&mut p, i, &node, v, norm);
                }
                code_pages(ev, i, &node, &maps, norm, &mut p.code, &mut p.warnings);
            }
            Err(e) => p.warnings.push(format!("pid {}: maps: {e}", node.pid)),
        }
        match ev.files(node.pid) {
            Ok(walk) => {
                for w in &walk.problems {
                    p.warnings.push(format!("pid {}: files: {w}", node.pid));
                }
                files.extend(walk.into_items().into_iter().map(|f| (i, f)));
            }
            Err(e) => p.warnings.push(format!("pid {}: files: {e}", node.pid)),
        }
    }
    file_artifacts(&mut p, &files, norm);
    if container {
        container_artifacts(&mut p, ev, norm);
    }
    number(&mut p.artifacts);
    Ok(p)
}

/// Gives each artifact its ordinal among those of the same kind, owner and content.
fn number(artifacts: &mut [Artifact]) {
    let mut seen: HashMap<(Kind, Option<usize>, String), usize> = HashMap::new();
    for a in artifacts {
        let n = seen
            .entry((a.kind, a.owner, a.content.clone()))
            .or_insert(0);
        *n += 1;
        a.ordinal = *n;
    }
}

/// Adds an artifact (compared as `content`, shown as `short` and `description`) and lends
/// it back to set its locator and identity.
fn push(
    p: &mut Profile,
    kind: Kind,
    owner: Option<usize>,
    content: String,
    short: String,
    description: String,
) -> Option<&mut Artifact> {
    p.artifacts.push(Artifact {
        kind,
        owner,
        fold: Some(content.clone()),
        content,
        ordinal: 1,
        ident: None,
        description,
        short,
        at: Locator::default(),
        suspicious: false,
    });
    p.artifacts.last_mut()
}

fn process_artifact(p: &mut Profile, i: usize, node: &ProcNode) {
    let parent = node.parent.and_then(|j| p.processes.get(j)).map_or_else(
        || "the root of the tree".to_string(),
        |up| format!("child of {}", up.name),
    );
    let mut d = format!(
        "{} (exe {}, uid {}), {parent}",
        node.name,
        node.exe_raw.as_deref().unwrap_or("unknown"),
        node.uid
            .map_or_else(|| "unknown".to_string(), |u| u.to_string()),
    );
    if node.masquerade {
        d.push_str(&format!(
            "; its argv[0] names another program than its comm {:?} and exe",
            node.comm
        ));
    }
    let short = node.name.clone();
    if let Some(a) = push(p, Kind::Process, Some(i), String::new(), short, d) {
        a.fold = None;
        a.suspicious = node.masquerade;
        a.at.pid = Some(node.pid);
        a.at.path = node.exe_raw.clone();
    }
}

fn env_artifacts(p: &mut Profile, i: usize, node: &ProcNode, env: &[String], norm: &Normaliser) {
    let set: BTreeSet<(String, &String)> = env.iter().map(|v| (norm.text(v), v)).collect();
    let mut seen = BTreeSet::new();
    for (var, raw) in set {
        if !seen.insert(var.clone()) {
            continue;
        }
        let name = raw
            .split_once('=')
            .map_or(raw.as_str(), |(k, _)| k)
            .to_string();
        let d = format!("environment variable {raw} of {}", node.name);
        if let Some(a) = push(p, Kind::Env, Some(i), var, raw.clone(), d) {
            a.ident = Some(name.clone());
            a.at.pid = Some(node.pid);
            a.at.variable = Some(name);
        }
    }
}

fn map_artifact(p: &mut Profile, i: usize, node: &ProcNode, v: &Vma, norm: &Normaliser) {
    let perms = v.perms.to_string();
    let flag = if v.perms.write && v.perms.exec {
        ", writable and executable"
    } else if v.is_suspicious() {
        ", anonymous and executable"
    } else {
        ""
    };
    let size = human_size(v.size());
    let (content, ident, fold, what) = match v.kind {
        VmaKind::File => {
            let raw = v.path.as_deref().unwrap_or("?");
            let path = norm.path(raw);
            let content = format!("{path} {perms} size {:#x} offset {:#x}", v.size(), v.pgoff);
            // The process's difference names its executable already.
            let fold =
                (node.exe.as_deref() != Some(path.as_str())).then(|| format!("module {path}"));
            let what = format!(
                "module {raw} {perms} ({size} at offset {:#x}{flag})",
                v.pgoff
            );
            (content, Some(path), fold, what)
        }
        VmaKind::Anon => {
            let content = format!("anonymous {perms}");
            let what = format!("anonymous {perms} area ({size}{flag})");
            (content.clone(), None, Some(content), what)
        }
        VmaKind::Shmem => {
            let raw = v.path.as_deref().unwrap_or("anonymous");
            let content = format!("shared {} {perms}", norm.path(raw));
            let what = format!("shared memory {raw} {perms} ({size}{flag})");
            (content.clone(), None, Some(content), what)
        }
        _ => {
            let name = v.path.clone().unwrap_or_else(|| format!("{:?}", v.kind));
            let content = format!("{name} {perms}");
            let what = format!("{name} {perms} ({size}{flag})");
            (content.clone(), None, Some(content), what)
        }
    };
    let d = format!("{what} in {}", node.name);
    if let Some(a) = push(p, Kind::Map, Some(i), content, what, d) {
        a.ident = ident;
        a.fold = fold;
        a.suspicious = !flag.is_empty();
        a.at.pid = Some(node.pid);
        a.at.start = Some(v.start);
        a.at.end = Some(v.end);
        a.at.path = v.path.clone();
    }
}

/// Descriptors, cwd, root and the executable as files; sockets and listeners.
fn file_artifacts(p: &mut Profile, files: &[(usize, OpenFile)], norm: &Normaliser) {
    // Listening (protocol, port)s: a connection to one of them is an accepted one, whose
    // peer port is ephemeral.
    let listening: BTreeSet<(String, u64)> = files
        .iter()
        .filter_map(|(_, f)| match &f.details.socket {
            Some(SocketDetails::Inet(s)) if s.state == "LISTEN" => {
                Some((s.protocol.clone(), s.src_port))
            }
            _ => None,
        })
        .collect();
    for i in 0..p.processes.len() {
        let Some(node) = p.processes.get(i).cloned() else {
            continue;
        };
        if let (Some(exe), Some(raw)) = (&node.exe, &node.exe_raw) {
            let d = format!("executable {raw} of {}", node.name);
            let content = format!("exe {exe}");
            if let Some(a) = push(p, Kind::File, Some(i), content, format!("exe {raw}"), d) {
                a.at.pid = Some(node.pid);
                a.at.path = Some(raw.clone());
            }
        }
    }
    for (i, f) in files {
        let Some(node) = p.processes.get(*i).cloned() else {
            continue;
        };
        let fd = f.fd.map_or_else(|| f.kind.clone(), |fd| format!("fd {fd}"));
        let is_socket = f.details.socket.is_some() || f.kind == "socket";
        let (kind, content, short, port, path) = if is_socket {
            let (content, what, port) = socket(f, &listening, norm);
            (Kind::Socket, content, what, port, None)
        } else {
            let content = format!("{} {}", f.kind, norm.path(&f.path));
            let short = format!("{} {}", f.kind, f.path);
            (Kind::File, content, short, None, Some(f.path.clone()))
        };
        let d = if is_socket {
            format!("{short} of {} ({fd})", node.name)
        } else {
            format!("open {short} of {} ({fd})", node.name)
        };
        if let Some(a) = push(p, kind, Some(*i), content, short, d) {
            // A process has one cwd and one root: another one is a change of it.
            if !is_socket && f.fd.is_none() {
                a.ident = Some(f.kind.clone());
            }
            a.at.pid = Some(node.pid);
            a.at.fd = f.fd;
            a.at.port = port;
            a.at.path = path;
        }
    }
}

/// A socket's compared text, its description and its local port.
fn socket(
    f: &OpenFile,
    listening: &BTreeSet<(String, u64)>,
    norm: &Normaliser,
) -> (String, String, Option<u64>) {
    match &f.details.socket {
        Some(SocketDetails::Inet(s)) => {
            let proto = s.protocol.to_uppercase();
            // The container's own address differs between replicas; a wildcard or loopback
            // bind does not.
            let local = if s.src.is_unspecified() || s.src.is_loopback() {
                s.src.to_string()
            } else {
                "*".to_string()
            };
            if s.state == "LISTEN" || (s.dst.is_unspecified() && s.dst_port == 0) {
                let what = if s.state == "LISTEN" {
                    "listener"
                } else {
                    "socket bound"
                };
                let content = format!("{} {} {local} port {}", s.protocol, s.state, s.src_port);
                let d = format!("{proto} {what} on {local} port {}", s.src_port);
                return (content, d, Some(s.src_port));
            }
            let accepted = listening.contains(&(s.protocol.clone(), s.src_port));
            let (lport, rport) = if accepted {
                (s.src_port.to_string(), "*".to_string())
            } else {
                ("*".to_string(), s.dst_port.to_string())
            };
            let content = format!(
                "{} {} {local} port {lport} peer {} port {rport}",
                s.protocol, s.state, s.dst
            );
            let d = format!(
                "{proto} {} connection {}:{} -> {}:{}",
                s.state, s.src, s.src_port, s.dst, s.dst_port
            );
            (content, d, Some(s.src_port))
        }
        Some(SocketDetails::Unix(u)) => {
            let name = if u.name.is_empty() {
                "(unnamed)".to_string()
            } else {
                norm.path(&u.name)
            };
            let content = format!("unix {} {} {name}", u.kind, u.state);
            (
                content,
                format!("unix {} socket {name} ({})", u.kind, u.state),
                None,
            )
        }
        Some(SocketDetails::Other {
            family,
            kind,
            protocol,
        }) => {
            let content = format!("{family} {kind} protocol {protocol}");
            (content.clone(), format!("{content} socket"), None)
        }
        Some(SocketDetails::Unconnected) | None => (
            "unconnected".to_string(),
            "unconnected socket".to_string(),
            None,
        ),
    }
}

/// The container's filesystem changes (path, type, mode, size, content's SHA-256) and mounts
/// (mount point, type, source).
fn container_artifacts(p: &mut Profile, ev: &dyn Evidence, norm: &Normaliser) {
    let Some(fs) = ev.container_fs() else {
        return;
    };
    match fs.entries() {
        Ok(entries) => {
            for e in entries {
                rootfs_artifact(p, fs, &e, norm);
            }
        }
        Err(e) => p.warnings.push(format!("rootfs: {e}")),
    }
    for m in fs.mounts() {
        let source = match (&m.host_source, m.root.as_deref()) {
            (Some(h), _) if h != &m.source => h.clone(),
            (_, Some(r)) if r != "/" => format!("{}:{r}", m.source),
            _ => m.source.clone(),
        };
        let content = format!("{} {} {}", m.mountpoint, m.fstype, norm.path(&source));
        let short = format!("{} {} from {source}", m.mountpoint, m.fstype);
        let d = format!("mount {short}");
        if let Some(a) = push(p, Kind::Mount, None, content, short, d) {
            a.ident = Some(norm.path(&m.mountpoint));
            a.at.path = Some(m.mountpoint.clone());
        }
    }
}

fn rootfs_artifact(p: &mut Profile, fs: &dyn ContainerFs, e: &FileEntry, norm: &Normaliser) {
    let kind = format!("{:?}", e.kind).to_lowercase();
    let (what, short) = if e.kind == FileType::File && !e.deleted {
        match fs.read_file(&e.path) {
            Ok(bytes) => {
                let sha = hex_string(&Sha256::digest(&bytes));
                let short = format!("sha256 {}…", sha.get(..16).unwrap_or(&sha));
                (format!("sha256 {sha}"), short)
            }
            Err(err) => {
                p.warnings.push(format!("rootfs {}: {err}", e.path));
                ("unreadable".to_string(), "unreadable".to_string())
            }
        }
    } else {
        match &e.link {
            Some(l) => (format!("-> {}", norm.path(l)), format!("-> {l}")),
            None => (String::new(), String::new()),
        }
    };
    let state = if e.deleted { "deleted" } else { e.layer() };
    let place = match (e.deleted, e.layer(), e.mount.as_deref()) {
        (true, _, _) => "deleted from the image".to_string(),
        (_, "ghost", _) => "deleted while open (a ghost file)".to_string(),
        (_, _, Some(m)) => format!("on the memory-backed mount {m}"),
        _ => "in the rootfs diff".to_string(),
    };
    let mode = e.mode & 0o7777;
    let content = format!(
        "{state} {} {kind} mode {mode:o} size {} {what}",
        norm.path(&e.path),
        e.size
    );
    let facts = if short.is_empty() {
        format!("{} bytes, mode {mode:04o}", e.size)
    } else {
        format!("{} bytes, mode {mode:04o}, {short}", e.size)
    };
    let d = format!("{kind} /{} {place} ({facts})", e.path);
    if let Some(a) = push(p, Kind::Rootfs, None, content, facts, d) {
        a.ident = Some(norm.path(&e.path));
        a.at.path = Some(e.path.clone());
    }
}
