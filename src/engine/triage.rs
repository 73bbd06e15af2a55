//! Triage: "what stands out here?", answered by rules over the [`Evidence`] interface and
//! ranked by severity.
//!
//! Each rule family has its file ([`memory`], [`process`], [`credentials`], [`network`],
//! [`yara`]);
//! each rule is documented where it is written (what it looks for, why it matters, its
//! known false positives) and returns [`Detection`]s: finding candidates with a rule id,
//! a [`Severity`], a one-line reason and the identifiers of their object. [`triage`] runs
//! them all, with progress and a cancel flag, and ranks the results. The process tree's
//! `!` marks and the maps' `!` use [`memory::area_rule`], the test behind `memory.rwx` and
//! `memory.anon_exec`.

pub mod credentials;
pub mod kernel;
pub mod memory;
pub mod model;
pub mod network;
pub mod process;
pub mod yara;

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};

pub use model::{Detection, HeadClass, Report, Rule, Severity, YaraMatch, rank};
pub use yara::YaraRules;

use crate::engine::error::Result;
use crate::engine::evidence::{Evidence, EvidenceKind, OpenFile, Process, Vma};

/// What one process offers the rules: its facts, memory areas, environment and files.
#[derive(Debug, Clone, Copy)]
pub struct Subject<'a> {
    /// The process.
    pub process: &'a Process,
    /// Its memory areas.
    pub maps: &'a [Vma],
    /// Its environment (`KEY=VALUE`).
    pub env: &'a [String],
    /// Its open files and sockets.
    pub files: &'a [OpenFile],
    /// It runs inside a container (a checkpoint's process, or a container id from its
    /// cgroup).
    pub in_container: bool,
}

/// How to run triage.
#[derive(Debug, Clone)]
pub struct Options {
    /// Show secrets' values whole (masked by default: first 4 characters and the length).
    pub show_secrets: bool,
    /// Scan processes' memory for secret-shaped strings (`credentials.memory`).
    pub scan_memory: bool,
    /// Leave out detections below this severity.
    pub min_severity: Severity,
    /// The YARA rules run over processes' memory areas (`yara`): the bundled ones by default.
    pub yara: YaraRules,
    /// Also run the YARA rules over physical memory (kernel dumps).
    pub yara_physical: bool,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            show_secrets: false,
            scan_memory: true,
            min_severity: Severity::Info,
            yara: YaraRules::Bundled,
            yara_physical: false,
        }
    }
}

/// Share of the progress (percent) given to the per-process rules; the memory scan gets
/// the rest.
const PROCESS_SHARE: u64 = 40;
/// Processes whose reads of mapped evidence stay resident before they are released (see
/// [`crate::engine::mapped::release_all`]).
const RELEASE_EVERY: usize = 32;
/// Where the YARA scan's share of the progress starts, when it runs.
const YARA_FROM: u64 = 70;

/// Runs every rule of this step on `ev`: per process the memory, process, network and
/// environment rules, then the container's credential files, then the memory scan for
/// secrets, then the YARA rules. `progress` gets a percentage (0-100) when it changes;
/// `cancel` stops the run between processes and during the memory and YARA scans (the
/// report then says `stopped`).
pub fn triage(
    ev: &dyn Evidence,
    opts: &Options,
    cancel: &AtomicBool,
    progress: &mut dyn FnMut(u8),
) -> Result<Report> {
    let patterns = credentials::Patterns::new()?;
    let procs = ev.processes()?;
    let checkpoint = ev.info().kind == EvidenceKind::Checkpoint;
    let mut report = Report::default();
    let mut out = Vec::new();
    let mut seen: HashSet<(crate::engine::evidence::Pid, String)> = HashSet::new();
    let mut last = u8::MAX;
    let mut tell = |pct: u64| {
        let pct = u8::try_from(pct.min(100)).unwrap_or(100);
        if pct != last {
            last = pct;
            progress(pct);
        }
    };
    tell(0);
    let total = procs.len().max(1) as u64;
    for (i, p) in procs.iter().enumerate() {
        if cancel.load(Ordering::Relaxed) {
            report.stopped = true;
            break;
        }
        tell(i as u64 * PROCESS_SHARE / total);
        // The dump's pages read for the processes so far leave the resident set.
        if i % RELEASE_EVERY == RELEASE_EVERY - 1 {
            crate::engine::mapped::release_all();
        }
        if p.kernel_thread {
            continue;
        }
        let maps = match ev.maps(p.pid) {
            Ok(w) => {
                let pid = p.pid;
                report
                    .problems
                    .extend(w.problems.iter().map(|m| format!("pid {pid}: {m}")));
                w.items
            }
            Err(e) => {
                report
                    .problems
                    .push(format!("pid {}: memory areas: {e}", p.pid));
                Vec::new()
            }
        };
        let env = ev.environment(p.pid).unwrap_or_else(|e| {
            report
                .problems
                .push(format!("pid {}: environment: {e}", p.pid));
            Vec::new()
        });
        let files = ev.files(p.pid).map_or_else(
            |e| {
                report.problems.push(format!("pid {}: files: {e}", p.pid));
                Vec::new()
            },
            |w| w.items,
        );
        let s = Subject {
            process: p,
            maps: &maps,
            env: &env,
            files: &files,
            in_container: checkpoint || p.container_id.is_some(),
        };
        let problems = memory::injected_code(ev, &s, &mut out);
        report.problems.extend(problems);
        memory::fileless(&s, &mut out);
        memory::exe_path(&s, &mut out);
        process::spoofed_name(&s, &mut out);
        process::fake_kernel_thread(&s, &mut out);
        process::preload(&s, &mut out);
        network::listeners(&s, &mut out);
        network::established(&s, &mut out);
        credentials::env_secrets(&patterns, &s, opts.show_secrets, &mut seen, &mut out);
    }
    crate::engine::mapped::release_all();
    if let Some(fs) = ev.container_fs()
        && let Err(e) = credentials::service_accounts(fs, &mut out)
    {
        report.problems.push(format!("container files: {e}"));
    }
    if !report.stopped {
        report.problems.extend(kernel::kernel_rules(ev, &mut out));
    }
    tell(PROCESS_SHARE);
    let yara_rules = opts.yara.resolve(&mut report.problems);
    let scan_end = if yara_rules.is_some() { YARA_FROM } else { 100 };
    if opts.scan_memory && !report.stopped {
        let comms: HashMap<_, _> = procs.iter().map(|p| (p.pid, p.comm.clone())).collect();
        let mut scan_progress = |done: u64, all: u64| {
            let share = done
                .saturating_mul(scan_end - PROCESS_SHARE)
                .checked_div(all);
            tell(PROCESS_SHARE + share.unwrap_or(0));
        };
        let (problems, stopped) = credentials::memory_secrets(
            ev,
            &patterns,
            &comms,
            opts.show_secrets,
            &mut seen,
            cancel,
            &mut scan_progress,
            &mut out,
        )?;
        report.problems.extend(problems);
        report.stopped |= stopped;
    }
    if let Some(rules) = yara_rules
        && !report.stopped
    {
        tell(scan_end);
        let mut yara_progress = |done: u64, all: u64| {
            let share = done.saturating_mul(100 - YARA_FROM).checked_div(all);
            tell(YARA_FROM + share.unwrap_or(0));
        };
        let found = yara::scan(
            ev,
            &rules,
            &procs,
            opts.yara_physical,
            cancel,
            &mut yara_progress,
        );
        out.extend(found.detections);
        report.problems.extend(found.problems);
        report.stopped |= found.stopped;
    }
    out.retain(|d| d.severity >= opts.min_severity);
    rank(&mut out);
    report.detections = out;
    tell(100);
    Ok(report)
}
