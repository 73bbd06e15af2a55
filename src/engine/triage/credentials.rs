//! Credential rules: secret-shaped environment values and memory strings, Kubernetes
//! service-account tokens in the container's files. Values are masked unless asked.

use std::collections::HashSet;
use std::sync::atomic::AtomicBool;

use regex::bytes::Regex;

use crate::engine::capability::ContainerFs;
use crate::engine::error::Result;
use crate::engine::evidence::{Evidence, FileType, Pid};
use crate::engine::search::{Hit, SearchRequest, Sink, Summary, search};
use crate::engine::triage::Subject;
use crate::engine::triage::model::{Detection, Rule, Severity};

/// At most this many memory matches are looked at in one run (the scan then stops and says
/// so): a dump full of one token cannot make triage unbounded.
pub const MEMORY_HIT_CAP: usize = 20_000;

/// Secret shapes recognised in values, strongest first: (name, regex over the whole value).
const SHAPES: [(&str, &str); 6] = [
    ("AWS access key", r"^(?:AKIA|ASIA)[0-9A-Z]{16}$"),
    (
        "GitHub token",
        r"^(?:(?:ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9]{6,}|github_pat_[A-Za-z0-9_]{20,})$",
    ),
    ("Slack token", r"^xox[abposr]-[A-Za-z0-9-]{10,}$"),
    (
        "JWT",
        r"^eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}$",
    ),
    (
        "private key",
        r"^-----BEGIN (?:RSA |EC |DSA |OPENSSH |ENCRYPTED )?PRIVATE KEY-----",
    ),
    ("Kubernetes token", r"^eyJhbGciOi[A-Za-z0-9_-]{20,}\."),
];

/// Variable names that say their value is a secret (`*_TOKEN`, `*_SECRET`, `*_PASSWORD`,
/// `*_KEY`...).
const NAME: &str = r"(?i)(?:^|_)(?:TOKEN|SECRET|PASSWORD|PASSWD|PASS|PWD|API_?KEY|ACCESS_?KEY|PRIVATE_?KEY|KEY|CREDENTIALS?)$";

/// What memory is scanned for: the strict shapes anywhere, and `NAME=value` assignments.
const MEMORY: &str = concat!(
    r"(?-u)(?:AKIA|ASIA)[0-9A-Z]{16}",
    r"|(?:ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9]{36}",
    r"|github_pat_[A-Za-z0-9_]{22,255}",
    r"|xox[abposr]-[A-Za-z0-9-]{10,200}",
    r"|eyJ[A-Za-z0-9_-]{10,2000}\.eyJ[A-Za-z0-9_-]{10,4000}\.[A-Za-z0-9_-]{10,2000}",
    r"|-----BEGIN (?:RSA |EC |DSA |OPENSSH |ENCRYPTED )?PRIVATE KEY-----",
    r"|\b[A-Z][A-Z0-9_]{0,48}(?:TOKEN|SECRET|PASSWORD|PASSWD|API_KEY|ACCESS_KEY|PRIVATE_KEY|_KEY)",
    r"=[\x21\x23-\x26\x28-\x3a\x3c-\x5f\x61-\x7e]{6,256}",
);

/// The compiled patterns (built once per run).
#[derive(Debug)]
pub struct Patterns {
    shapes: Vec<(&'static str, regex::Regex)>,
    name: regex::Regex,
    memory: Regex,
}

impl Patterns {
    /// Compiles the patterns.
    pub fn new() -> Result<Patterns> {
        let mut shapes = Vec::with_capacity(SHAPES.len());
        for (kind, re) in SHAPES {
            shapes.push((kind, regex::Regex::new(re)?));
        }
        Ok(Patterns {
            shapes,
            name: regex::Regex::new(NAME)?,
            memory: Regex::new(MEMORY)?,
        })
    }

    /// What `value` (of variable `name`, when it has one) looks like, if a secret: its
    /// kind and severity. A known shape is high; a non-trivial value of a secret-named
    /// variable is medium ("generic").
    pub fn classify(&self, name: Option<&str>, value: &str) -> Option<(&'static str, Severity)> {
        if let Some((kind, _)) = self.shapes.iter().find(|(_, re)| re.is_match(value)) {
            return Some((kind, Severity::High));
        }
        let named = name.is_some_and(|n| self.name.is_match(n));
        (named && non_trivial(value)).then_some(("generic", Severity::Medium))
    }
}

/// A value worth calling a secret: 6 characters or more, not a path, a number, a boolean,
/// a placeholder or one character repeated.
fn non_trivial(v: &str) -> bool {
    const PLACEHOLDERS: [&str; 10] = [
        "true", "false", "yes", "none", "null", "changeme", "password", "secret", "xxxxxx",
        "redacted",
    ];
    let v = v.trim();
    let first = v.chars().next();
    v.chars().count() >= 6
        && !v.starts_with('/')
        && !v.starts_with("${")
        && !v.chars().all(|c| c.is_ascii_digit())
        && !v.chars().all(|c| Some(c) == first)
        && !PLACEHOLDERS.iter().any(|p| v.eq_ignore_ascii_case(p))
}

/// `value` as shown: its first 4 characters and its length, unless `show`.
pub fn mask(value: &str, show: bool) -> String {
    if show {
        return value.to_string();
    }
    let head: String = value.chars().take(4).collect();
    format!("{head}… ({} chars)", value.chars().count())
}

/// `credentials.env`: an environment variable whose value has a secret's shape (AWS
/// access key, GitHub or Slack token, JWT, private key: high) or whose name says secret
/// (`*_TOKEN`, `*_SECRET`, `*_PASSWORD`, `*_KEY` with a non-trivial value: medium). Why:
/// whoever holds the dump holds the credential; a stolen token in a shell's environment
/// tells what was taken. False positives: test and placeholder values; public keys in
/// `*_KEY` variables.
pub fn env_secrets(
    pat: &Patterns,
    s: &Subject<'_>,
    show: bool,
    seen: &mut HashSet<(Pid, String)>,
    out: &mut Vec<Detection>,
) {
    let p = s.process;
    for var in s.env {
        let Some((name, value)) = var.split_once('=') else {
            continue;
        };
        let Some((kind, severity)) = pat.classify(Some(name), value) else {
            continue;
        };
        if !seen.insert((p.pid, value.to_string())) {
            continue;
        }
        let shown = mask(value, show);
        let mut d = Detection::new(
            Rule::EnvSecret,
            severity,
            format!("{name}={shown} in the environment ({kind})"),
        )
        .process(p.pid, &p.comm);
        d.variable = Some(name.to_string());
        d.secret = Some(shown);
        d.secret_kind = Some(kind);
        out.push(d);
    }
}

/// Collects the memory matches, stopping at the cap, relaying progress.
struct Matches<'a> {
    hits: Vec<Hit>,
    progress: &'a mut dyn FnMut(u64, u64),
    capped: bool,
}

impl Sink for Matches<'_> {
    fn hit(&mut self, hit: Hit) -> bool {
        self.hits.push(hit);
        self.capped = self.hits.len() >= MEMORY_HIT_CAP;
        !self.capped
    }

    fn progress(&mut self, done: u64, total: u64) {
        (self.progress)(done, total);
    }
}

/// `credentials.memory`: secret-shaped strings in processes' writable memory (heap, stack,
/// environment, anonymous areas): the strict shapes anywhere, `NAME=value` assignments
/// whose name says secret. One detection per process and value, at its first address;
/// values already reported from the environment are left out. Bounded by
/// [`MEMORY_HIT_CAP`] matches and the cancel flag. Why: secrets read from files, requests
/// or other processes stay in memory after use. False positives: as `credentials.env`, and
/// strings of a program's own help text copied to the heap.
///
/// Returns the problems met (a capped scan says so) and whether it was stopped.
#[allow(clippy::too_many_arguments)]
pub fn memory_secrets(
    ev: &dyn Evidence,
    pat: &Patterns,
    comms: &std::collections::HashMap<Pid, String>,
    show: bool,
    seen: &mut HashSet<(Pid, String)>,
    cancel: &AtomicBool,
    progress: &mut dyn FnMut(u64, u64),
    out: &mut Vec<Detection>,
) -> Result<(Vec<String>, bool)> {
    let req = SearchRequest {
        regex: pat.memory.clone(),
        pids: None,
    };
    let mut sink = Matches {
        hits: Vec::new(),
        progress,
        capped: false,
    };
    let summary: Summary = search(ev, &req, cancel, &mut sink)?;
    let mut problems = Vec::new();
    if sink.capped {
        problems.push(format!(
            "memory secrets: stopped after {MEMORY_HIT_CAP} matches; the rest of memory was not scanned"
        ));
    }
    for hit in &sink.hits {
        let Some(inp) = hit.process() else {
            continue;
        };
        if inp.vma_perms.is_some_and(|p| !p.write) {
            continue;
        }
        let text = String::from_utf8_lossy(&hit.bytes);
        let (name, value) = match text.split_once('=') {
            Some((n, v)) if !n.contains('-') => (Some(n), v),
            _ => (None, text.as_ref()),
        };
        let Some((kind, severity)) = pat.classify(name, value) else {
            continue;
        };
        if !seen.insert((inp.pid, value.to_string())) {
            continue;
        }
        let shown = mask(value, show);
        let what = name
            .map(|n| format!("{n}={shown}"))
            .unwrap_or(shown.clone());
        let comm = comms
            .get(&inp.pid)
            .map_or(inp.comm.as_str(), String::as_str);
        let mut d = Detection::new(
            Rule::MemorySecret,
            severity,
            format!("{what} in memory ({kind})"),
        )
        .process(inp.pid, comm);
        d.address = Some(hit.address);
        d.path = inp.path.clone();
        d.variable = name.map(str::to_string);
        d.secret = Some(shown);
        d.secret_kind = Some(kind);
        out.push(d);
    }
    Ok((problems, summary.stopped && !sink.capped))
}

/// `credentials.service_account`: files of the container flagged as credentials (under
/// `/var/run/secrets` or `/run/secrets`: Kubernetes service-account tokens, mounted
/// secrets). Why: a service-account token lets its holder call the cluster's API as the
/// pod. False positives: every pod has one unless `automountServiceAccountToken` is off.
/// The account's `namespace` and `ca.crt` are left out (not secrets).
pub fn service_accounts(fs: &dyn ContainerFs, out: &mut Vec<Detection>) -> Result<()> {
    for e in fs.entries()? {
        let name = crate::engine::triage::process::basename(&e.path);
        // A service account's namespace and CA certificate are not secrets.
        if !e.credential
            || e.deleted
            || e.kind != FileType::File
            || name == "namespace"
            || name == "ca.crt"
        {
            continue;
        }
        let what = if name == "token" && e.path.contains("serviceaccount") {
            "Kubernetes service-account token"
        } else {
            "mounted secret"
        };
        let mut d = Detection::new(
            Rule::ServiceAccount,
            Severity::Medium,
            format!("{what} /{} ({} bytes)", e.path, e.size),
        );
        d.path = Some(format!("/{}", e.path));
        out.push(d);
    }
    Ok(())
}
