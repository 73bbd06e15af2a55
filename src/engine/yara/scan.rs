//! Scanning with YARA rules: an area (or a physical run) in windows, each window one boreal
//! fragmented scan, its matches kept when they start in it, at most
//! [`MAX_PER_AREA`](super::MAX_PER_AREA) per rule per area.

use std::collections::HashMap;
use std::ops::Range;
use std::sync::atomic::{AtomicBool, Ordering};

use super::memory::{Lend, ProcessBytes, Source, WindowMemory, clip};
use super::{MAX_DATA, MAX_PER_AREA, OVERLAP, Rules, WINDOW};
use crate::engine::capability::PhysicalSpace;

/// One match of a YARA rule's string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hit {
    /// The rule's name.
    pub rule: String,
    /// Its namespace (`podmortem` for the bundled rules, the file's name for the analyst's).
    pub namespace: String,
    /// The string's identifier (`$url`).
    pub string: String,
    /// Where the match starts: a virtual address (process memory) or a physical one.
    pub address: u64,
    /// Its length.
    pub length: usize,
    /// Its first bytes (at most [`MAX_DATA`](super::MAX_DATA)).
    pub data: Vec<u8>,
    /// The rule's `severity` metadata, when it has one.
    pub severity: Option<String>,
    /// The rule's `description` metadata, when it has one.
    pub description: Option<String>,
    /// Further matches of this rule in the same area (physical run) left out by the cap
    /// (at least this many: boreal keeps 1,000 matches per string and window).
    pub left_out: u64,
}

/// What scanning one area found.
#[derive(Debug, Default)]
pub struct AreaHits {
    /// The matches, by address.
    pub hits: Vec<Hit>,
    /// What could not be read or scanned.
    pub problems: Vec<String>,
    /// The cancel flag stopped the scan.
    pub stopped: bool,
}

/// What scanning a physical run found (see [`AreaHits`]).
pub type PhysHits = AreaHits;

/// A window: its matches start in `report`; it reads `read` (`report` and up to
/// [`OVERLAP`] bytes more).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Window {
    report: Range<u64>,
    read: Range<u64>,
}

/// The windows of `range` on a grid of [`WINDOW`] bytes from its start.
fn windows(range: &Range<u64>) -> Vec<Window> {
    let mut out = Vec::new();
    let mut start = range.start;
    while start < range.end {
        let end = start.saturating_add(WINDOW).min(range.end);
        out.push(Window {
            report: start..end,
            read: start..end.saturating_add(OVERLAP).min(range.end),
        });
        start = end;
    }
    out
}

/// Keeps at most [`MAX_PER_AREA`] matches per rule, counting the rest on the last kept.
#[derive(Debug, Default)]
struct Cap {
    kept: Vec<Hit>,
    /// For each (namespace, rule): matches kept and the index of the last.
    per_rule: HashMap<(String, String), (usize, usize)>,
}

impl Cap {
    fn push(&mut self, hit: Hit) {
        let key = (hit.namespace.clone(), hit.rule.clone());
        match self.per_rule.get_mut(&key) {
            Some((n, last)) if *n >= MAX_PER_AREA => {
                if let Some(h) = self.kept.get_mut(*last) {
                    h.left_out += 1;
                }
            }
            Some((n, last)) => {
                *n += 1;
                *last = self.kept.len();
                self.kept.push(hit);
            }
            None => {
                self.per_rule.insert(key, (1, self.kept.len()));
                self.kept.push(hit);
            }
        }
    }
}

/// Scans window `w` made of the captured `regions`: the matches that start in its report
/// range, by address.
fn scan_window(
    rules: &Rules,
    mem: &mut WindowMemory<'_>,
    w: &Window,
    regions: Vec<Range<u64>>,
    problems: &mut Vec<String>,
) -> Vec<Hit> {
    mem.start(regions);
    let result = match rules.scanner().scan_fragmented(Lend(mem)) {
        Ok(r) => r,
        Err((e, partial)) => {
            problems.push(format!(
                "YARA scan of {:#x}-{:#x} stopped: {e}",
                w.read.start, w.read.end
            ));
            partial
        }
    };
    let mut hits = Vec::new();
    let last = w.report.end == w.read.end;
    for r in result.rules.iter().filter(|r| r.matched) {
        let severity = rules.meta(r.metadatas, "severity");
        let description = rules.meta(r.metadatas, "description");
        for s in &r.matches {
            for m in &s.matches {
                let address = (m.base as u64).saturating_add(m.offset as u64);
                if address < w.report.start || (!last && address >= w.report.end) {
                    continue;
                }
                hits.push(Hit {
                    rule: r.name.to_string(),
                    namespace: r.namespace.to_string(),
                    string: format!("${}", s.name),
                    address,
                    length: m.length,
                    data: m.data.get(..MAX_DATA).unwrap_or(&m.data).to_vec(),
                    severity: severity.clone(),
                    description: description.clone(),
                    left_out: 0,
                });
            }
        }
    }
    drop(result);
    mem.end();
    problems.append(&mut mem.problems);
    hits.sort_by(|a, b| {
        (a.address, &a.namespace, &a.rule, &a.string).cmp(&(
            b.address,
            &b.namespace,
            &b.rule,
            &b.string,
        ))
    });
    hits
}

/// Scans the memory area `area` of a process with `rules` (see the module's semantics):
/// window by window, each the captured runs of the area within it. `buf` is the copy
/// buffer, kept between calls.
pub fn scan_area(
    rules: &Rules,
    process: &ProcessBytes<'_>,
    area: Range<u64>,
    cancel: &AtomicBool,
    buf: &mut Vec<u8>,
) -> AreaHits {
    let mut out = AreaHits::default();
    let captured = process.runs_in(&area);
    if captured.is_empty() {
        return out;
    }
    let mut mem = WindowMemory::new(Source::Process(process), std::mem::take(buf));
    let mut cap = Cap::default();
    for w in windows(&area) {
        if cancel.load(Ordering::Relaxed) {
            out.stopped = true;
            break;
        }
        let regions = clip(&captured, &w.read);
        if regions.is_empty() {
            continue;
        }
        for hit in scan_window(rules, &mut mem, &w, regions, &mut out.problems) {
            cap.push(hit);
        }
    }
    *buf = mem.finish();
    out.hits = cap.kept;
    out
}

/// The windows of physical memory: each run of adjacent physical ranges cut on the window
/// grid, as (run index, report start, report end).
pub fn physical_windows(phys: &dyn PhysicalSpace) -> Vec<(usize, Range<u64>)> {
    let mut runs: Vec<Range<u64>> = Vec::new();
    for r in phys.ranges() {
        match runs.last_mut() {
            Some(last) if last.end == r.start => last.end = r.end,
            _ => runs.push(r),
        }
    }
    let mut out = Vec::new();
    for (i, run) in runs.iter().enumerate() {
        out.extend(windows(run).into_iter().map(|w| (i, w.report)));
    }
    out
}

/// Scans one physical window (`report`, reading [`OVERLAP`] bytes past it within the run
/// that ends at `run_end`): its matches, uncapped (see [`cap_physical`]).
pub fn scan_physical_window(
    rules: &Rules,
    phys: &dyn PhysicalSpace,
    report: Range<u64>,
    run_end: u64,
    buf: &mut Vec<u8>,
) -> AreaHits {
    let mut out = AreaHits::default();
    let w = Window {
        read: report.start..report.end.saturating_add(OVERLAP).min(run_end),
        report,
    };
    let mut mem = WindowMemory::new(Source::Physical(phys), std::mem::take(buf));
    let regions = vec![w.read.clone()];
    out.hits = scan_window(rules, &mut mem, &w, regions, &mut out.problems);
    *buf = mem.finish();
    out
}

/// The matches of the windows of one physical run, in order, capped per rule.
pub fn cap_physical(hits: impl IntoIterator<Item = Hit>) -> Vec<Hit> {
    let mut cap = Cap::default();
    for h in hits {
        cap.push(h);
    }
    cap.kept
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;

    #[test]
    fn windows_overlap_and_cover() {
        let ws = windows(&(0x1000..0x1000 + 2 * WINDOW + 5));
        assert_eq!(ws.len(), 3);
        assert_eq!(ws[0].report, 0x1000..0x1000 + WINDOW);
        assert_eq!(ws[0].read, 0x1000..0x1000 + WINDOW + OVERLAP);
        assert_eq!(ws[2].read.end, 0x1000 + 2 * WINDOW + 5);
        assert_eq!(ws[2].report, ws[2].read);
    }

    #[test]
    fn the_cap_counts_what_it_leaves_out() {
        let hit = |rule: &str, address| Hit {
            rule: rule.into(),
            namespace: "n".into(),
            string: "$a".into(),
            address,
            length: 1,
            data: vec![b'a'],
            severity: None,
            description: None,
            left_out: 0,
        };
        let kept = cap_physical((0..25).map(|i| hit("r", i)).chain([hit("s", 99)]));
        assert_eq!(kept.len(), MAX_PER_AREA + 1);
        assert_eq!(kept[MAX_PER_AREA - 1].left_out, 15);
        assert_eq!(kept[MAX_PER_AREA].rule, "s");
    }
}
