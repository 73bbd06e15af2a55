//! A window whose bytes the haystack lends as several pieces is searched in place (patterns
//! with a short longest match; unbounded ones without look-around, with the pieces a match
//! may join copied together) and finds exactly what one contiguous copy finds: matches across
//! piece edges, across window edges and across both found once, same order, same bytes, on
//! one thread and two.
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::single_range_in_vec_init
)]

use std::ops::Range;
use std::sync::atomic::AtomicBool;

use podmortem::engine::error::Result;
use podmortem::engine::search::{
    Buffers, Collect, Haystack, Hit, OVERLAP, Space, WINDOW, scan_with,
};
use regex::bytes::Regex;

/// One run lent as pieces cut at `cuts` (addresses relative to the run).
struct Pieces<'m> {
    runs: Vec<Range<u64>>,
    mem: &'m [u8],
    cuts: Vec<u64>,
}

impl Haystack for Pieces<'_> {
    fn runs(&self) -> &[Range<u64>] {
        &self.runs
    }
    fn read<'a>(&'a self, _: usize, addr: u64, len: usize, _: &'a mut Vec<u8>) -> Result<&'a [u8]> {
        Ok(&self.mem[addr as usize..addr as usize + len])
    }
    fn pieces<'a>(&'a self, _: usize, addr: u64, len: usize, out: &mut Vec<&'a [u8]>) -> bool {
        let end = addr + len as u64;
        let mut at = addr;
        for &c in self
            .cuts
            .iter()
            .filter(|&&c| c > addr && c < end)
            .chain([&end])
        {
            out.push(&self.mem[at as usize..c as usize]);
            at = c;
        }
        true
    }
    fn space(&self, _: usize, _: u64) -> Space {
        Space::Physical { owner: None }
    }
}

fn hits(hay: &dyn Haystack, re: &Regex, threads: usize) -> Vec<Hit> {
    let mut sink = Collect::default();
    scan_with(hay, re, &AtomicBool::new(false), &mut sink, threads).unwrap();
    sink.hits
}

#[test]
fn pieces_find_what_one_copy_finds() {
    let len = 2 * WINDOW as usize + 5000;
    let mut x = 0x2545_f491_4f6c_dd1du64;
    let mut mem: Vec<u8> = (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            b"ab\x00 .FORENSIC_SECRET_0f\n"[(x % 24) as usize]
        })
        .collect();
    let mut cuts: Vec<u64> = (1..len as u64 / 4096).map(|k| k * 4096 + (k % 5)).collect();
    // Needles across a piece edge, a window edge, and both at once.
    for at in [4096 * 7 - 5, WINDOW as usize - 4, 2 * WINDOW as usize - 9] {
        mem[at..at + 24].copy_from_slice(b"FORENSIC_SECRET_0123abcd");
    }
    cuts.push(2 * WINDOW - 2);
    cuts.push(WINDOW + OVERLAP - 3);
    cuts.sort_unstable();
    let copy = Buffers::new(Space::Physical { owner: None }, [(0, &mem[..])]);
    let lent = Pieces {
        runs: vec![0..len as u64],
        mem: &mem,
        cuts,
    };
    let patterns = [
        "FORENSIC_SECRET_[0-9a-f]+",
        r"\bab\b",
        "a{2,5}b?",
        "(?m)^a.",
        "[a-z]{4,}",
        "[^\\x00]{30,}",
        "b?",
        "SECRET_0123",
    ];
    for p in patterns {
        let re = Regex::new(p).unwrap();
        let want = hits(&copy, &re, 1);
        assert!(!want.is_empty(), "{p}");
        for threads in [1, 2] {
            assert_eq!(hits(&lent, &re, threads), want, "{p} on {threads} threads");
        }
    }
    let secrets = hits(&lent, &Regex::new("FORENSIC_SECRET_0123abcd").unwrap(), 2);
    let at: Vec<u64> = secrets.iter().map(|h| h.address).collect();
    assert_eq!(at, [4096 * 7 - 5, WINDOW - 4, 2 * WINDOW - 9]);
}
