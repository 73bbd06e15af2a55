//! Bytes saved beyond memory (socket queues, ghost files, memfds) as a [`Haystack`], and
//! [`Chain`]: two haystacks searched as one, so a search of processes goes on into what
//! they held with one progress and one stop.

use std::ops::Range;

use super::Space;
use super::scan::Haystack;
use crate::engine::error::Result;
use crate::engine::evidence::{Evidence, Pid};
use crate::engine::saved::Saved;

/// The saved objects of some processes: run `i` is object `i`'s bytes at offsets
/// `0..len`, every hit in [`Space::Saved`] with that object.
#[derive(Debug, Default)]
pub struct SavedBytes<'e> {
    objects: Vec<Saved<'e>>,
    runs: Vec<Range<u64>>,
}

impl<'e> SavedBytes<'e> {
    /// The objects of `ev` held by `pids` (all when `None`); none when the evidence saves
    /// nothing beyond memory. What could not be read is logged.
    pub fn of(ev: &'e dyn Evidence, pids: Option<&[Pid]>) -> SavedBytes<'e> {
        let Some(data) = ev.saved_data() else {
            return SavedBytes::default();
        };
        let walk = data.saved(pids);
        for p in &walk.problems {
            tracing::warn!("saved bytes not searched: {p}");
        }
        let objects: Vec<Saved<'e>> = walk
            .items
            .into_iter()
            .filter(|s| !s.bytes.is_empty())
            .collect();
        let runs = objects.iter().map(|s| 0..s.bytes.len() as u64).collect();
        SavedBytes { objects, runs }
    }

    /// True when there is nothing to search.
    pub fn is_empty(&self) -> bool {
        self.objects.is_empty()
    }
}

impl Haystack for SavedBytes<'_> {
    fn runs(&self) -> &[Range<u64>] {
        &self.runs
    }

    fn read<'a>(
        &'a self,
        run: usize,
        addr: u64,
        len: usize,
        _buf: &'a mut Vec<u8>,
    ) -> Result<&'a [u8]> {
        let Some(s) = self.objects.get(run) else {
            return Ok(&[]);
        };
        let from = usize::try_from(addr).unwrap_or(usize::MAX);
        Ok(s.bytes
            .get(from..)
            .map_or(&[][..], |rest| rest.get(..len).unwrap_or(rest)))
    }

    fn space(&self, run: usize, _address: u64) -> Space {
        match self.objects.get(run) {
            Some(s) => Space::Saved(s.object.clone()),
            // Not reached: every run is an object.
            None => Space::Physical { owner: None },
        }
    }
}

/// Two haystacks as one: the runs of `first`, then those of `second`.
pub struct Chain<'a> {
    first: &'a dyn Haystack,
    second: &'a dyn Haystack,
    runs: Vec<Range<u64>>,
}

impl<'a> Chain<'a> {
    /// `first`, then `second`.
    pub fn new(first: &'a dyn Haystack, second: &'a dyn Haystack) -> Chain<'a> {
        let runs = first.runs().iter().chain(second.runs()).cloned().collect();
        Chain {
            first,
            second,
            runs,
        }
    }

    /// The haystack of run `run` and the run's index in it.
    fn part(&self, run: usize) -> (&'a dyn Haystack, usize) {
        let split = self.first.runs().len();
        match run.checked_sub(split) {
            Some(i) => (self.second, i),
            None => (self.first, run),
        }
    }
}

impl Haystack for Chain<'_> {
    fn runs(&self) -> &[Range<u64>] {
        &self.runs
    }

    fn read<'b>(
        &'b self,
        run: usize,
        addr: u64,
        len: usize,
        buf: &'b mut Vec<u8>,
    ) -> Result<&'b [u8]> {
        let (hay, i) = self.part(run);
        hay.read(i, addr, len, buf)
    }

    fn pieces<'b>(&'b self, run: usize, addr: u64, len: usize, out: &mut Vec<&'b [u8]>) -> bool {
        let (hay, i) = self.part(run);
        hay.pieces(i, addr, len, out)
    }

    fn space(&self, run: usize, address: u64) -> Space {
        let (hay, i) = self.part(run);
        hay.space(i, address)
    }
}
