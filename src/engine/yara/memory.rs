//! The bytes a YARA scan reads: a process's captured memory (lent by the evidence piece by
//! piece, or read through it) or physical memory, offered to boreal as fragmented memory
//! whose regions are runs of contiguous captured bytes at their own addresses.

use std::ops::Range;

use boreal::memory::{FragmentedMemory, MemoryParams, Region, RegionDescription};

use crate::engine::capability::PhysicalSpace;
use crate::engine::error::Result;
use crate::engine::evidence::{Evidence, Pid};

/// A process's captured memory: its runs of captured bytes and, when the evidence lends
/// them, the pieces they are made of.
pub struct ProcessBytes<'e> {
    ev: &'e dyn Evidence,
    pid: Pid,
    /// Runs of virtually contiguous captured bytes, sorted, coalesced.
    runs: Vec<Range<u64>>,
    /// The pieces the evidence lends (virtual address, bytes), sorted; empty when it lends
    /// none (then bytes are read through [`Evidence::read_memory`]).
    pieces: Vec<(u64, &'e [u8])>,
}

impl std::fmt::Debug for ProcessBytes<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProcessBytes")
            .field("pid", &self.pid)
            .field("runs", &self.runs.len())
            .field("pieces", &self.pieces.len())
            .finish()
    }
}

impl<'e> ProcessBytes<'e> {
    /// The captured memory of process `pid`.
    pub fn of(ev: &'e dyn Evidence, pid: Pid) -> Result<ProcessBytes<'e>> {
        let (runs, pieces) = match ev.captured_slices(pid, 0..u64::MAX)? {
            Some(pieces) => {
                let mut runs: Vec<Range<u64>> = Vec::new();
                for (at, b) in &pieces {
                    let end = at.saturating_add(b.len() as u64);
                    match runs.last_mut() {
                        Some(last) if last.end == *at => last.end = end,
                        _ => runs.push(*at..end),
                    }
                }
                (runs, pieces)
            }
            None => {
                let mut runs: Vec<Range<u64>> = Vec::new();
                for r in ev.captured_ranges(pid, 0..u64::MAX)? {
                    match runs.last_mut() {
                        Some(last) if last.end >= r.start => last.end = last.end.max(r.end),
                        _ => runs.push(r),
                    }
                }
                (runs, Vec::new())
            }
        };
        Ok(ProcessBytes {
            ev,
            pid,
            runs,
            pieces,
        })
    }

    /// The captured runs within `range`, clipped to it.
    pub fn runs_in(&self, range: &Range<u64>) -> Vec<Range<u64>> {
        clip(&self.runs, range)
    }
}

/// The parts of sorted, disjoint `runs` inside `range`.
pub fn clip(runs: &[Range<u64>], range: &Range<u64>) -> Vec<Range<u64>> {
    let i = runs.partition_point(|r| r.end <= range.start);
    runs.get(i..)
        .unwrap_or_default()
        .iter()
        .take_while(|r| r.start < range.end)
        .map(|r| r.start.max(range.start)..r.end.min(range.end))
        .filter(|r| r.start < r.end)
        .collect()
}

/// Where a window's bytes come from.
#[derive(Clone, Copy)]
pub enum Source<'a> {
    /// A process's captured memory.
    Process(&'a ProcessBytes<'a>),
    /// Physical memory (every byte of a run is captured).
    Physical(&'a dyn PhysicalSpace),
}

/// One window of memory as boreal's fragmented memory: `regions` (captured runs, at their
/// addresses) read one at a time, lent when the evidence stores one in one piece, else
/// copied into `buf`.
pub struct WindowMemory<'a> {
    source: Source<'a>,
    regions: Vec<Range<u64>>,
    /// Regions listed so far (the current one is the last listed).
    listed: usize,
    buf: Vec<u8>,
    /// Bytes lent during the scan, dropped from the resident set after it.
    lent: Vec<&'a [u8]>,
    /// Regions that could not be read.
    pub problems: Vec<String>,
}

impl std::fmt::Debug for WindowMemory<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WindowMemory")
            .field("regions", &self.regions)
            .field("listed", &self.listed)
            .finish()
    }
}

impl<'a> WindowMemory<'a> {
    /// A reader of `source` reusing `buf` (taken back with [`WindowMemory::finish`]).
    pub fn new(source: Source<'a>, buf: Vec<u8>) -> WindowMemory<'a> {
        WindowMemory {
            source,
            regions: Vec::new(),
            listed: 0,
            buf,
            lent: Vec::new(),
            problems: Vec::new(),
        }
    }

    /// Starts a window made of `regions`.
    pub fn start(&mut self, regions: Vec<Range<u64>>) {
        self.regions = regions;
        self.listed = 0;
    }

    /// Ends a window: the bytes lent are dropped from the resident set.
    pub fn end(&mut self) {
        for b in self.lent.drain(..) {
            crate::engine::mapped::release(b);
        }
    }

    /// The buffer, for the next reader.
    pub fn finish(mut self) -> Vec<u8> {
        self.end();
        std::mem::take(&mut self.buf)
    }

    /// The bytes of `r` (captured), lent or copied into `buf`; `None` when unreadable.
    fn bytes(&mut self, r: Range<u64>) -> Option<&[u8]> {
        let len = usize::try_from(r.end - r.start).ok()?;
        match self.source {
            Source::Process(p) if !p.pieces.is_empty() => {
                let i = p
                    .pieces
                    .partition_point(|(at, b)| at.saturating_add(b.len() as u64) <= r.start);
                let mut parts = Vec::new();
                let mut at = r.start;
                for &(start, b) in p.pieces.get(i..).unwrap_or_default() {
                    if at >= r.end {
                        break;
                    }
                    let (Some(lo), Some(hi)) = (
                        usize::try_from(at.checked_sub(start)?).ok(),
                        usize::try_from(r.end.min(start.saturating_add(b.len() as u64)) - start)
                            .ok(),
                    ) else {
                        return None;
                    };
                    parts.push(b.get(lo..hi)?);
                    at = start.saturating_add(hi as u64);
                }
                if let [one] = parts[..] {
                    self.lent.push(one);
                    return Some(one);
                }
                self.buf.clear();
                self.buf.reserve(len);
                for part in parts {
                    self.buf.extend_from_slice(part);
                    crate::engine::mapped::release(part);
                }
                (self.buf.len() == len).then_some(self.buf.as_slice())
            }
            Source::Process(p) => {
                if let Some(s) = p.ev.memory_slice(p.pid, r.start, len) {
                    self.lent.push(s);
                    return Some(s);
                }
                self.buf.clear();
                self.buf.resize(len, 0);
                match p.ev.read_memory(p.pid, r.start, &mut self.buf) {
                    Ok(_) => Some(self.buf.as_slice()),
                    Err(e) => {
                        self.problems
                            .push(format!("{:#x}-{:#x}: {e}", r.start, r.end));
                        None
                    }
                }
            }
            Source::Physical(phys) => {
                if let Some(s) = phys.slice(r.start, len) {
                    self.lent.push(s);
                    return Some(s);
                }
                // Across the edges of the evidence's ranges: copied range by range, from
                // the bytes lent where they are.
                self.buf.clear();
                self.buf.reserve(len);
                for part in clip(&phys.ranges(), &r) {
                    let n = usize::try_from(part.end - part.start).ok()?;
                    if let Some(s) = phys.slice(part.start, n) {
                        self.buf.extend_from_slice(s);
                        crate::engine::mapped::release(s);
                        continue;
                    }
                    let at = self.buf.len();
                    self.buf.resize(at + n, 0);
                    if let Err(e) = phys.read(part.start, self.buf.get_mut(at..)?) {
                        self.problems
                            .push(format!("physical {:#x}-{:#x}: {e}", part.start, part.end));
                        return None;
                    }
                }
                (self.buf.len() == len).then_some(self.buf.as_slice())
            }
        }
    }
}

/// A [`WindowMemory`] lent to one boreal scan.
#[derive(Debug)]
pub struct Lend<'m, 'a>(pub &'m mut WindowMemory<'a>);

impl FragmentedMemory for Lend<'_, '_> {
    fn next(&mut self, _: &MemoryParams) -> Option<RegionDescription> {
        let r = self.0.regions.get(self.0.listed)?;
        self.0.listed += 1;
        Some(RegionDescription {
            start: usize::try_from(r.start).ok()?,
            length: usize::try_from(r.end - r.start).ok()?,
        })
    }

    fn fetch(&mut self, _: &MemoryParams) -> Option<Region<'_>> {
        let r = self.0.regions.get(self.0.listed.checked_sub(1)?)?.clone();
        let start = usize::try_from(r.start).ok()?;
        let mem = self.0.bytes(r)?;
        Some(Region { start, mem })
    }

    fn reset(&mut self) {
        self.0.listed = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clip_keeps_the_parts_inside() {
        let runs = [0x1000..0x3000, 0x5000..0x6000, 0x8000..0x9000];
        assert_eq!(
            clip(&runs, &(0x2000..0x8800)),
            [0x2000..0x3000, 0x5000..0x6000, 0x8000..0x8800]
        );
        assert!(clip(&runs, &(0x3000..0x5000)).is_empty());
    }
}
