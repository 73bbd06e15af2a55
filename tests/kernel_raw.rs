//! Raw physical memory images (QEMU `pmemsave`, LiME's padded format): a raw image made from
//! the linux-6.1 LiME fixture (each range at its physical address, holes left as holes)
//! gives the same processes as the LiME, with `--format raw`, with symbols and no magic,
//! and with neither (the kernel is found in it).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use crate::support;

use std::io::{Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

/// Writes the LiME file's ranges at their physical addresses into a sparse raw image.
fn raw_from_lime(lime: &Path, raw: &Path) {
    let data = std::fs::read(lime).unwrap();
    let mut out = std::fs::File::create(raw).unwrap();
    let mut at = 0usize;
    while at + 32 <= data.len() {
        let u32_at = |o: usize| u32::from_le_bytes(data[o..o + 4].try_into().unwrap());
        let u64_at = |o: usize| u64::from_le_bytes(data[o..o + 8].try_into().unwrap());
        assert_eq!(u32_at(at), 0x4C69_4D45, "LiME magic at {at:#x}");
        let (start, end) = (u64_at(at + 8), u64_at(at + 16));
        let len = (end - start + 1) as usize;
        out.seek(SeekFrom::Start(start)).unwrap();
        out.write_all(&data[at + 32..at + 32 + len]).unwrap();
        at += 32 + len;
    }
}

fn podmortem(args: &[&str], cache: &Path) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_podmortem"))
        .args(args)
        .env("PODMORTEM_CACHE_DIR", cache)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

fn setup() -> Option<(tempfile::TempDir, PathBuf, PathBuf, String)> {
    let lime = support::decompressed("linux-6.1", "dump.lime.zst")?;
    let isf = support::fixture("linux-6.1")?.join("symbols");
    let dir = tempfile::tempdir().unwrap();
    let raw = dir.path().join("memory.raw");
    raw_from_lime(&lime, &raw);
    Some((dir, lime, raw, isf.to_str().unwrap().to_string()))
}

#[test]
fn a_raw_image_gives_what_its_lime_gives() {
    let Some((dir, lime, raw, isf)) = setup() else {
        return;
    };
    let cache = dir.path().join("cache");
    let (raw, lime) = (raw.to_str().unwrap(), lime.to_str().unwrap());
    let (ok, want, err) = podmortem(&["--isf", &isf, "ps", "--json", lime], &cache);
    assert!(ok, "{err}");
    let ps: Value = serde_json::from_str(&want).unwrap();
    assert!(ps.as_array().unwrap().len() > 50);
    for args in [
        vec!["--format", "raw", "--isf", &isf, "ps", "--json", raw],
        vec!["--isf", &isf, "ps", "--json", raw],
        vec!["ps", "--json", raw],
    ] {
        let (ok, got, err) = podmortem(&args, &cache);
        assert!(ok, "{args:?}: {err}");
        assert_eq!(got, want, "{args:?}");
    }
    let (ok, info, err) = podmortem(&["--isf", &isf, "info", "--json", raw], &cache);
    assert!(ok, "{err}");
    let info: Value = serde_json::from_str(&info).unwrap();
    assert_eq!(info["format"], "raw");
    // The same bytes searched in physical memory: the same hits, at the same addresses.
    let search = |path: &str| {
        let (ok, out, err) = podmortem(
            &[
                "--isf",
                &isf,
                "search",
                "--physical",
                "--json",
                "--regex",
                "HOME=",
                path,
            ],
            &cache,
        );
        assert!(ok, "{err}");
        out.lines()
            .map(|l| serde_json::from_str::<Value>(l).unwrap()["physical"].clone())
            .collect::<Vec<_>>()
    };
    let hits = search(lime);
    assert!(!hits.is_empty());
    assert_eq!(search(raw), hits);
}

#[test]
fn a_file_that_is_no_memory_image_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let junk = dir.path().join("junk.bin");
    std::fs::write(&junk, vec![0x5au8; 1 << 20]).unwrap();
    let cache = dir.path().join("cache");
    let junk = junk.to_str().unwrap();
    // Forced raw, and plain: no kernel in it, a clear error naming the file, no panic.
    for args in [vec!["--format", "raw", "ps", junk], vec!["ps", junk]] {
        let (ok, _, err) = podmortem(&args, &cache);
        assert!(!ok, "{args:?}");
        assert!(err.contains("junk.bin"), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{err}");
    }
}
