//! Process-memory search over a dump that lends its bytes (LiME: each physically contiguous
//! piece searched in place, windows that span pieces copied) finds exactly what the same
//! search finds through page-by-page reads (the same memory as AVML compressed LiME, which
//! lends nothing): same hits, same order, same bytes, matches across piece boundaries
//! included.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::atomic::AtomicBool;

use podmortem::engine::evidence::Evidence;
use podmortem::engine::search::{Collect, SearchRequest, search};

use crate::support;

#[test]
fn lent_pieces_find_what_reads_find() {
    let (Some(lime), Some(avml)) = (support::kernel::lime(), support::kernel::avml()) else {
        return;
    };
    // Piece boundaries (virtually adjacent, physically apart) of every process.
    let mut boundaries = Vec::new();
    for p in lime.processes().unwrap() {
        let pieces = lime.captured_slices(p.pid, 0..u64::MAX).unwrap().unwrap();
        if !pieces.is_empty() {
            assert!(avml.captured_slices(p.pid, 0..u64::MAX).unwrap().is_none());
        }
        for w in pieces.windows(2) {
            let end = w[0].0 + w[0].1.len() as u64;
            if end == w[1].0 {
                boundaries.push((p.pid, end));
            }
        }
    }
    assert!(boundaries.len() > 100, "{}", boundaries.len());
    for pattern in [
        "HOME=",
        "FORENSIC_SECRET_[0-9a-f]+",
        "[ -~]{12,}",
        "\\x00\\x00[^\\x00]",
    ] {
        let req = SearchRequest {
            regex: regex::bytes::Regex::new(pattern).unwrap(),
            pids: None,
        };
        let run = |ev: &dyn Evidence| {
            let mut sink = Collect::default();
            let s = search(ev, &req, &AtomicBool::new(false), &mut sink).unwrap();
            (sink.hits, s.hits, s.bytes)
        };
        let (a, b) = (run(lime), run(avml));
        assert_eq!(a.1, b.1, "{pattern}");
        assert_eq!(a.2, b.2, "{pattern}");
        assert!(a.0 == b.0, "{pattern}: hits differ");
        if pattern.starts_with("[ -~]") {
            let across =
                a.0.iter()
                    .filter(|h| {
                        let (pid, end) = (h.pid().unwrap(), h.address + h.len as u64);
                        boundaries
                            .iter()
                            .any(|&(p, b)| p == pid && h.address < b && b < end)
                    })
                    .count();
            assert!(across > 0, "no match across a piece boundary to check");
        }
    }
}
