//! `yara`: YARA rules over every process's memory areas and, when asked, a kernel dump's
//! physical memory ([`crate::engine::yara`] for how memory is scanned). Each match is a
//! detection: rule `yara`, the YARA rule's name, namespace and string in `yara_*` keys, its
//! severity from the rule's `severity` metadata (high when it has none or an unknown one).
//! Why: known-bad strings (miner pools, reverse-shell one-liners, web shells, the analyst's
//! own indicators) in memory are evidence whatever the process calls itself. False
//! positives: those of each rule (README "YARA"); a string a process holds only to look for
//! it (a security tool's signatures).

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::engine::evidence::{Evidence, Process, Vma};
use crate::engine::triage::model::{Detection, Rule, Severity, YaraMatch};
use crate::engine::yara::{self, Hit, ProcessBytes, Rules};

/// Which YARA rules triage runs.
#[derive(Debug, Clone, Default)]
pub enum YaraRules {
    /// None.
    Off,
    /// The bundled rules ([`Rules::bundled`]).
    #[default]
    Bundled,
    /// These rules (the analyst's, with or without the bundled ones).
    Rules(Arc<Rules>),
}

impl YaraRules {
    /// The rules to run, if any; a bundled set that does not compile is a problem.
    pub fn resolve(&self, problems: &mut Vec<String>) -> Option<Arc<Rules>> {
        match self {
            YaraRules::Off => None,
            YaraRules::Rules(r) => Some(r.clone()),
            YaraRules::Bundled => match Rules::bundled() {
                Ok(r) => Some(r),
                Err(e) => {
                    problems.push(format!("bundled YARA rules: {e}"));
                    None
                }
            },
        }
    }
}

/// Processes (physical windows) handed to the cores between two progress reports.
const BATCH: usize = 8;

/// What the YARA step found.
#[derive(Debug, Default)]
pub struct Outcome {
    /// The detections, processes in pid order, then physical memory.
    pub detections: Vec<Detection>,
    /// What could not be scanned.
    pub problems: Vec<String>,
    /// The cancel flag stopped it.
    pub stopped: bool,
}

/// The severity a rule asks for in its `severity` metadata; high otherwise.
fn severity(hit: &Hit) -> Severity {
    hit.severity
        .as_deref()
        .and_then(|s| s.parse().ok())
        .unwrap_or(Severity::High)
}

/// Matched bytes as text: printable ASCII kept, the rest escaped (`\x00`, `\n`).
fn escape(data: &[u8]) -> String {
    data.escape_ascii().to_string()
}

/// A hit as a detection (identifiers other than the YARA match set by the caller).
fn detection(hit: Hit, place: &str) -> Detection {
    let data = escape(&hit.data);
    let more = if hit.left_out > 0 {
        format!(" ({} more matches of the rule here left out)", hit.left_out)
    } else {
        String::new()
    };
    let mut d = Detection::new(
        Rule::Yara,
        severity(&hit),
        format!(
            "YARA {}:{} matched {} \"{data}\" {place}{more}",
            hit.namespace, hit.rule, hit.string
        ),
    );
    d.yara = Some(YaraMatch {
        rule: hit.rule,
        namespace: hit.namespace,
        string: hit.string,
        data,
        length: hit.length,
        left_out: hit.left_out,
    });
    d
}

/// What scanning one process gave.
struct Scanned {
    detections: Vec<Detection>,
    problems: Vec<String>,
    stopped: bool,
}

/// Scans every memory area of `p`, area by area.
fn scan_process(ev: &dyn Evidence, rules: &Rules, p: &Process, cancel: &AtomicBool) -> Scanned {
    let mut out = Scanned {
        detections: Vec::new(),
        problems: Vec::new(),
        stopped: false,
    };
    // Unreadable memory areas are reported by the per-process rules, which read them too.
    let maps: Vec<Vma> = ev.maps(p.pid).map(|w| w.items).unwrap_or_default();
    let bytes = match ProcessBytes::of(ev, p.pid) {
        Ok(b) => b,
        Err(e) => {
            out.problems
                .push(format!("pid {}: YARA: captured memory: {e}", p.pid));
            return out;
        }
    };
    let mut buf = Vec::new();
    for v in &maps {
        let found = yara::scan_area(rules, &bytes, v.start..v.end, cancel, &mut buf);
        out.problems.extend(
            found
                .problems
                .into_iter()
                .map(|m| format!("pid {}: YARA: {m}", p.pid)),
        );
        let place = match &v.path {
            Some(path) => format!("in {path}"),
            None => format!("in {:#x}-{:#x}", v.start, v.end),
        };
        for hit in found.hits {
            let address = hit.address;
            let mut d = detection(hit, &place).process(p.pid, &p.comm);
            d.address = Some(address);
            d.start = Some(v.start);
            d.end = Some(v.end);
            d.path = v.path.clone();
            out.detections.push(d);
        }
        if found.stopped {
            out.stopped = true;
            break;
        }
    }
    out
}

/// Runs `rules` over the memory areas of every process of `procs` (kernel threads left
/// out) on every core, then, when `physical`, over the evidence's physical memory. Results in pid
/// order, each process's by area and address. `progress` gets (done, total) between
/// batches; `cancel` stops between windows.
pub fn scan(
    ev: &dyn Evidence,
    rules: &Rules,
    procs: &[Process],
    physical: bool,
    cancel: &AtomicBool,
    progress: &mut dyn FnMut(u64, u64),
) -> Outcome {
    let mut out = Outcome::default();
    let windows = match ev.physical() {
        Some(phys) if physical => yara::physical_windows(phys),
        _ => Vec::new(),
    };
    let procs: Vec<&Process> = procs.iter().filter(|p| !p.kernel_thread).collect();
    let total = (procs.len() + windows.len()) as u64;
    let mut done = 0u64;
    for batch in procs.chunks(BATCH * crate::engine::search::threads().max(1)) {
        if cancel.load(Ordering::Relaxed) {
            out.stopped = true;
            break;
        }
        let scanned =
            crate::engine::par::map_ordered(batch, 2, None, |p| scan_process(ev, rules, p, cancel));
        for s in scanned {
            out.detections.extend(s.detections);
            out.problems.extend(s.problems);
            out.stopped |= s.stopped;
        }
        crate::engine::mapped::release_all();
        done += batch.len() as u64;
        progress(done, total);
    }
    if let Some(phys) = ev.physical()
        && physical
        && !out.stopped
    {
        scan_physical(phys, rules, &windows, cancel, &mut out, &mut |n| {
            done += n;
            progress(done, total);
        });
    }
    out
}

/// Scans the physical `windows` (run index, report range) on every core, capping matches
/// per rule and run.
fn scan_physical(
    phys: &dyn crate::engine::capability::PhysicalSpace,
    rules: &Rules,
    windows: &[(usize, std::ops::Range<u64>)],
    cancel: &AtomicBool,
    out: &mut Outcome,
    progress: &mut dyn FnMut(u64),
) {
    // Where each run ends (windows of one run are consecutive).
    let mut run_end: HashMap<usize, u64> = HashMap::new();
    for (run, w) in windows {
        let e = run_end.entry(*run).or_insert(w.end);
        *e = (*e).max(w.end);
    }
    // The matches of the current run, capped as they come; those of the runs done.
    let mut per_run = yara::Cap::default();
    let mut current = None;
    let mut kept = Vec::new();
    for batch in windows.chunks(2 * crate::engine::search::threads().max(1)) {
        if cancel.load(Ordering::Relaxed) {
            out.stopped = true;
            break;
        }
        let found = crate::engine::par::map_ordered(batch, 2, None, |(run, w)| {
            let mut buf = Vec::new();
            let end = run_end.get(run).copied().unwrap_or(w.end);
            yara::scan_physical_window(rules, phys, w.clone(), end, &mut buf)
        });
        for ((run, _), f) in batch.iter().zip(found) {
            if current != Some(*run) {
                kept.extend(std::mem::take(&mut per_run).into_kept());
                current = Some(*run);
            }
            for hit in f.hits {
                per_run.push(hit);
            }
            out.problems.extend(f.problems);
        }
        crate::engine::mapped::release_all();
        progress(batch.len() as u64);
    }
    kept.extend(per_run.into_kept());
    // The process that maps each match, from one walk of every process's page tables.
    let addrs: Vec<u64> = kept.iter().map(|h| h.address).collect();
    let owners = phys.owners(&addrs);
    for (hit, owner) in kept
        .into_iter()
        .zip(owners.into_iter().chain(std::iter::repeat(None)))
    {
        let address = hit.address;
        let mut place = format!("in physical memory at {address:#x}");
        if let Some(o) = &owner {
            place += &format!(", mapped by pid {} ({}) at {:#x}", o.pid, o.comm, o.address);
        }
        let mut d = detection(hit, &place);
        d.phys_address = Some(address);
        if let Some(o) = owner {
            d.address = Some(o.address);
            d = d.process(o.pid, &o.comm);
        }
        out.detections.push(d);
    }
}
