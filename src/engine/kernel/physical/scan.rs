//! Physical memory as a search [`Haystack`]: every physical search (the analyst's
//! `search --physical`, finding VMCOREINFO, the banner, the kernel's BTF and kallsyms) is the
//! one window/overlap walk of [`crate::engine::search::scan`] over it. Adjacent ranges are
//! joined, so a match may span them.

use std::ops::Range;
use std::sync::atomic::AtomicBool;

use regex::bytes::Regex;

use crate::engine::error::{Error, Result};
use crate::engine::kernel::physical::PhysicalMemory;
use crate::engine::search::{Haystack, Hit, PhysOwner, Sink, Space, Summary, scan};

/// Finds the process that maps a physical address (see
/// [`OwnerMap`](crate::engine::kernel::phys_search::OwnerMap)).
pub type OwnerLookup<'a> = &'a (dyn Fn(u64) -> Option<PhysOwner> + Sync);

/// Physical memory as a [`Haystack`]; hits are in [`Space::Physical`].
pub struct PhysHaystack<'a> {
    phys: &'a dyn PhysicalMemory,
    runs: Vec<Range<u64>>,
    owner: Option<OwnerLookup<'a>>,
}

impl std::fmt::Debug for PhysHaystack<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PhysHaystack")
            .field("runs", &self.runs)
            .field("owners", &self.owner.is_some())
            .finish()
    }
}

impl<'a> PhysHaystack<'a> {
    /// All of `phys`, or only what lies `within` a range; hits have no owner.
    pub fn new(phys: &'a dyn PhysicalMemory, within: Option<Range<u64>>) -> PhysHaystack<'a> {
        let runs = joined(phys.ranges())
            .into_iter()
            .filter_map(|r| match &within {
                None => Some(r),
                Some(w) => {
                    let (s, e) = (r.start.max(w.start), r.end.min(w.end));
                    (s < e).then_some(s..e)
                }
            })
            .collect();
        PhysHaystack {
            phys,
            runs,
            owner: None,
        }
    }

    /// Hits name the process that maps them, found by `lookup`.
    pub fn with_owners(mut self, lookup: OwnerLookup<'a>) -> PhysHaystack<'a> {
        self.owner = Some(lookup);
        self
    }
}

impl PhysHaystack<'_> {
    /// Copies `len` bytes at `addr`, which span adjacent physical ranges, into `buf` range
    /// by range from the bytes the source lends (no zero-filling first), dropping the pages
    /// copied from the resident set; false when a part is not lent (then `buf` is left to
    /// be overwritten).
    fn copy_ranges(&self, addr: u64, len: usize, buf: &mut Vec<u8>) -> bool {
        let Some(end) = addr.checked_add(len as u64) else {
            return false;
        };
        let ranges = self.phys.ranges();
        let mut at = addr;
        let mut i = ranges.partition_point(|r| r.end <= at);
        buf.clear();
        while at < end {
            let Some(r) = ranges.get(i).filter(|r| r.start <= at) else {
                return false;
            };
            let upto = r.end.min(end);
            let part = usize::try_from(upto - at)
                .ok()
                .and_then(|n| self.phys.slice(at, n));
            let Some(part) = part else { return false };
            buf.extend_from_slice(part);
            crate::engine::mapped::release(part);
            at = upto;
            i += 1;
        }
        true
    }
}

impl Haystack for PhysHaystack<'_> {
    fn runs(&self) -> &[Range<u64>] {
        &self.runs
    }

    fn read<'b>(
        &'b self,
        _run: usize,
        addr: u64,
        len: usize,
        buf: &'b mut Vec<u8>,
    ) -> Result<&'b [u8]> {
        // This window and the next are read in order: read them ahead.
        self.phys.prefetch(addr, 2 * len as u64);
        if let Some(s) = self.phys.slice(addr, len) {
            return Ok(s);
        }
        if self.copy_ranges(addr, len, buf) {
            return Ok(buf);
        }
        buf.resize(len, 0);
        self.phys.read_phys(addr, buf)?;
        Ok(buf)
    }

    fn pieces<'b>(&'b self, _run: usize, addr: u64, len: usize, out: &mut Vec<&'b [u8]>) -> bool {
        let Some(end) = addr.checked_add(len as u64) else {
            return false;
        };
        self.phys.prefetch(addr, 2 * len as u64);
        let ranges = self.phys.ranges();
        let mut at = addr;
        let mut i = ranges.partition_point(|r| r.end <= at);
        while at < end {
            let Some(r) = ranges.get(i).filter(|r| r.start <= at) else {
                return false;
            };
            let upto = r.end.min(end);
            let part = usize::try_from(upto - at)
                .ok()
                .and_then(|n| self.phys.slice(at, n));
            let Some(part) = part else { return false };
            out.push(part);
            at = upto;
            i += 1;
        }
        true
    }

    fn space(&self, _run: usize, address: u64) -> Space {
        Space::Physical {
            owner: self.owner.and_then(|lookup| lookup(address)),
        }
    }
}

/// The physical ranges with adjacent ones joined, so a match may span them.
fn joined(ranges: &[Range<u64>]) -> Vec<Range<u64>> {
    let mut out: Vec<Range<u64>> = Vec::new();
    for r in ranges {
        match out.last_mut() {
            Some(last) if last.end == r.start => last.end = r.end,
            _ => out.push(r.clone()),
        }
    }
    out
}

/// Searches every physical range of `phys`; hits have no owner (see
/// [`search_with_owners`](crate::engine::kernel::phys_search::search_with_owners)).
pub fn search_physical(
    phys: &dyn PhysicalMemory,
    regex: &Regex,
    cancel: &AtomicBool,
    sink: &mut dyn Sink,
) -> Result<Summary> {
    scan(&PhysHaystack::new(phys, None), regex, cancel, sink)
}

/// Calls `found` with the physical address of each match of `re` that starts in `within`
/// (all of memory when `None`), in address order, until it returns `Ok(false)` or an error.
pub fn scan_range(
    phys: &dyn PhysicalMemory,
    within: Option<Range<u64>>,
    re: &Regex,
    found: &mut dyn FnMut(u64) -> Result<bool>,
) -> Result<()> {
    /// Passes addresses on and keeps the first error.
    struct Addresses<'f> {
        found: &'f mut dyn FnMut(u64) -> Result<bool>,
        failure: Option<Error>,
    }
    impl Sink for Addresses<'_> {
        fn hit(&mut self, hit: Hit) -> bool {
            match (self.found)(hit.address) {
                Ok(go_on) => go_on,
                Err(e) => {
                    self.failure = Some(e);
                    false
                }
            }
        }
    }
    let mut sink = Addresses {
        found,
        failure: None,
    };
    let never = AtomicBool::new(false);
    scan(&PhysHaystack::new(phys, within), re, &never, &mut sink)?;
    sink.failure.map_or(Ok(()), Err)
}
