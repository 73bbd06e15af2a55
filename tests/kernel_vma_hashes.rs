//! Every VMA that Volatility 3's `linux.proc.Maps --dump` extracted from the fixture dumps
//! (`golden/<dump>/vma_dumps.json`), read back through [`Evidence::read_memory`] and hashed.
//!
//! Volatility writes each VMA with `proc_layer.read(offset, len, pad=True)`: pages that do not
//! translate, or whose frames the dump does not hold, come out as zeros. `read_memory` zeroes
//! the same bytes (and leaves them out of its `PartialRead`), so the SHA-256 of the buffer is
//! the SHA-256 of Volatility's file.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use crate::support;

use podmortem::engine::Evidence;
use podmortem::engine::findings::hex_string;
use podmortem::engine::kernel::dump::KernelDump;
use serde_json::Value;
use sha2::{Digest, Sha256};

/// The dumps that have a `vma_dumps.json` golden (linux-6.1-node ships none), with their
/// ISF and with their own BTF and kallsyms.
fn dumps() -> Vec<(&'static KernelDump, &'static str, &'static str)> {
    support::kernel::all_dumps()
        .into_iter()
        .filter(|(_, fixture, _, _)| *fixture == "linux-6.1")
        .map(|(d, fixture, golden, _)| (d, fixture, golden))
        .collect()
}

fn hex_u64(v: &Value) -> u64 {
    match v {
        Value::String(s) => u64::from_str_radix(s.trim_start_matches("0x"), 16).unwrap(),
        _ => v.as_u64().unwrap(),
    }
}

/// SHA-256 of `pid`'s memory `start..end` as Volatility pads it, and how many bytes were
/// captured.
fn vma_sha256(ev: &dyn Evidence, pid: u32, start: u64, end: u64) -> (String, usize) {
    let mut h = Sha256::new();
    let mut captured = 0;
    let mut buf = vec![0u8; 1 << 20];
    let mut at = start;
    while at < end {
        let n = ((end - at) as usize).min(buf.len());
        let got = ev.read_memory(pid, at, &mut buf[..n]).unwrap();
        captured += got.captured_len();
        h.update(&buf[..n]);
        at += n as u64;
    }
    (hex_string(&h.finalize()), captured)
}

#[test]
fn vma_bytes_hash_as_volatility_dumped_them() {
    for (d, fixture, dump) in dumps() {
        let golden = support::golden_json(fixture, &format!("{dump}/vma_dumps.json"));
        let files = golden["files"].as_array().unwrap();
        assert!(!files.is_empty(), "{fixture}/{dump}: no VMAs in the golden");
        let mut mismatches = Vec::new();
        let (mut total, mut captured_total) = (0u64, 0u64);
        for f in files {
            let pid = f["pid"].as_u64().unwrap() as u32;
            let (start, end) = (hex_u64(&f["start"]), hex_u64(&f["end"]));
            assert_eq!(end - start, f["size"].as_u64().unwrap(), "{f}");
            // The VMA is one of the process's memory areas as podmortem lists them.
            let maps = d.maps(pid).unwrap();
            assert!(
                maps.iter().any(|v| v.start == start && v.end == end),
                "{fixture}/{dump}: pid {pid} has no VMA {start:#x}-{end:#x}"
            );
            let (sha, captured) = vma_sha256(d, pid, start, end);
            total += end - start;
            captured_total += captured as u64;
            if sha != f["sha256"].as_str().unwrap() {
                mismatches.push(format!(
                    "pid {pid} {start:#x}-{end:#x} ({captured} of {} bytes captured): \
                     {sha} != {}",
                    end - start,
                    f["sha256"]
                ));
            }
        }
        eprintln!(
            "{fixture}/{dump}: {} VMAs, {captured_total} of {total} bytes captured",
            files.len()
        );
        // Most of these VMAs were never faulted in: the zero padding is exercised.
        assert!(captured_total > 0 && captured_total < total);
        assert!(
            mismatches.is_empty(),
            "{fixture}/{dump}: {} of {} VMAs differ from Volatility's dump:\n{}",
            mismatches.len(),
            files.len(),
            mismatches.join("\n")
        );
    }
}
