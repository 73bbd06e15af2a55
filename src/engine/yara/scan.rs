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
    let count = (range.end.saturating_sub(range.start)).div_ceil(WINDOW);
    (0..count).map(|k| window(range, k)).collect()
}

/// Window `k` of `range`'s grid.
fn window(range: &Range<u64>, k: u64) -> Window {
    let start = range.start.saturating_add(k.saturating_mul(WINDOW));
    let end = start.saturating_add(WINDOW).min(range.end);
    Window {
        report: start..end,
        read: start..end.saturating_add(OVERLAP).min(range.end),
    }
}

/// The windows of `range`'s grid whose bytes (read range) hold some of `captured` (sorted,
/// disjoint runs inside `range`), in order: as many as the captured bytes need, however
/// large the area says it is (an area's bounds come from the evidence).
fn windows_with_data(range: &Range<u64>, captured: &[Range<u64>]) -> Vec<Window> {
    let mut ks: Vec<u64> = Vec::new();
    for r in captured {
        // Window k reads [start + k·WINDOW, start + (k+1)·WINDOW + OVERLAP).
        let first = r.start.saturating_sub(range.start).saturating_sub(OVERLAP) / WINDOW;
        let last = r.end.saturating_sub(1).saturating_sub(range.start) / WINDOW;
        let from = ks.last().map_or(first, |&k| first.max(k + 1));
        ks.extend(from..=last);
    }
    ks.into_iter().map(|k| window(range, k)).collect()
}

/// Keeps at most [`MAX_PER_AREA`] matches per rule, counting the rest on the last kept:
/// matches are pushed as they are found, so an area (a physical run) full of matches holds
/// no more than the cap.
#[derive(Debug, Default)]
pub struct Cap {
    kept: Vec<Hit>,
    /// For each (namespace, rule): matches kept and the index of the last.
    per_rule: HashMap<(String, String), (usize, usize)>,
}

impl Cap {
    /// Counts `hit`, keeping it while its rule is under the cap.
    pub fn push(&mut self, hit: Hit) {
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
    for w in windows_with_data(&area, &captured) {
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
/// that ends at `run_end`): its matches, uncapped (see [`Cap`]).
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

impl Cap {
    /// The matches kept, in the order they were pushed.
    pub fn into_kept(self) -> Vec<Hit> {
        self.kept
    }
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
    #[allow(clippy::single_range_in_vec_init)]
    fn windows_with_data_are_those_of_the_grid_that_read_captured_bytes() {
        let area = 0x1000..0x1000 + 9 * WINDOW + 77;
        let at = |k: u64, off: u64| 0x1000 + k * WINDOW + off;
        for captured in [
            vec![at(0, 0)..at(0, 10)],
            vec![at(1, WINDOW - 3)..at(2, 5), at(2, 9)..at(2, 10)],
            vec![
                at(3, 5)..at(3, 6),
                at(4, 0) - OVERLAP..at(4, 0) - OVERLAP + 1,
            ],
            vec![at(4, 0)..at(4, 1), at(5, 0)..at(9, 77)],
            vec![at(1, OVERLAP - 1)..at(1, OVERLAP)],
        ] {
            let want: Vec<Window> = windows(&area)
                .into_iter()
                .filter(|w| !clip(&captured, &w.read).is_empty())
                .collect();
            assert_eq!(windows_with_data(&area, &captured), want, "{captured:x?}");
        }
        // An area the evidence says spans the whole address space, with one page captured.
        let huge = 0..u64::MAX;
        let ws = windows_with_data(&huge, &[0x7000_0000..0x7000_1000]);
        assert!(ws.len() <= 2 && ws.iter().any(|w| w.read.contains(&0x7000_0000)));
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
        let mut cap = Cap::default();
        for h in (0..25).map(|i| hit("r", i)).chain([hit("s", 99)]) {
            cap.push(h);
        }
        let kept = cap.into_kept();
        assert_eq!(kept.len(), MAX_PER_AREA + 1);
        assert_eq!(kept[MAX_PER_AREA - 1].left_out, 15);
        assert_eq!(kept[MAX_PER_AREA].rule, "s");
    }
}
