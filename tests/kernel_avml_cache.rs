//! The AVML chunk index is cached in podmortem's cache folder (`avml/`) once every block is
//! indexed (a read of all of memory, here a physical search): the next open of linux-6.1's
//! dump.avml reads it instead of finding the blocks from the end of the file and answers
//! exactly as the first; a damaged cache file is detected, rebuilt to the same bytes, with
//! the same answers; `podmortem cache` lists the index and `--clean --all` removes it. A file
//! that must be walked from the start (cut short) has its index stored by that walk.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};

use crate::support;
use support::cache_dir::{fresh_cache, run};

const SECRETS: &str = "FORENSIC_SECRET_7f3a9c|RWX_PAYLOAD_SECRET_5e8d21|tok_ABC123XYZ";

fn indexes(cache: &Path) -> Vec<PathBuf> {
    support::cache_dir::cached(cache, "avml", "avmlidx")
}

/// `ps --json` and a physical search of the dump (reads spread over all of its memory), and
/// the two logs.
fn answers(cache: &Path, dump: &Path, isf: &Path) -> (String, String, String) {
    let (d, i) = (dump.to_str().unwrap(), isf.to_str().unwrap());
    let (ps, log) = run(cache, &["ps", "--json", d, "--isf", i]);
    let (hits, search_log) = run(
        cache,
        &[
            "search",
            "--physical",
            "--json",
            "--regex",
            SECRETS,
            d,
            "--isf",
            i,
        ],
    );
    (ps, hits, log + &search_log)
}

#[test]
fn second_open_reads_the_cached_index_and_a_damaged_one_is_rebuilt() {
    let Some(dump) = support::decompressed("linux-6.1", "dump.avml.zst") else {
        return;
    };
    let isf = support::kernel::isf_dir("linux-6.1").unwrap();
    let (_keep, cache) = fresh_cache();

    // The first open finds the blocks from the end of the file and keeps their map; the
    // physical search (the second command) reads them from it, indexes every block and
    // keeps the whole index instead.
    let (ps1, hits1, log1) = answers(&cache, &dump, &isf);
    for said in [
        "blocks found from the end of the file",
        "block map read from the cache",
        "every block indexed: chunk index stored",
    ] {
        assert!(log1.contains(said), "{said}: {log1}");
    }
    assert!(support::cache_dir::cached(&cache, "avml", "avmlblk").is_empty());
    assert!(ps1.contains("\"pid\""), "{ps1}");
    assert!(hits1.contains("FORENSIC_SECRET_7f3a9c"), "{hits1}");
    let files = indexes(&cache);
    assert_eq!(files.len(), 1, "{files:?}");
    let first = std::fs::read(&files[0]).unwrap();
    // A few bytes per chunk: far smaller than the dump.
    assert!((first.len() as u64) < std::fs::metadata(&dump).unwrap().len() / 1000);

    let (ps2, hits2, log2) = answers(&cache, &dump, &isf);
    assert!(log2.contains("chunk index read from the cache"), "{log2}");
    assert!(!log2.contains("blocks found from the end"), "{log2}");
    assert_eq!(ps1, ps2);
    assert_eq!(hits1, hits2);

    // One byte flipped in the middle: refused, scanned again, rewritten identically.
    let mut bad = first.clone();
    let mid = bad.len() / 2;
    bad[mid] ^= 0x40;
    std::fs::write(&files[0], &bad).unwrap();
    let (ps3, hits3, log3) = answers(&cache, &dump, &isf);
    assert!(log3.contains("cached chunk index rejected"), "{log3}");
    assert!(log3.contains("blocks found from the end"), "{log3}");
    assert_eq!(ps1, ps3);
    assert_eq!(hits1, hits3);
    assert_eq!(std::fs::read(&files[0]).unwrap(), first);

    // Cut short: the same.
    std::fs::write(&files[0], &first[..first.len() - 3]).unwrap();
    let (ps4, _, log4) = answers(&cache, &dump, &isf);
    assert!(log4.contains("cached chunk index rejected"), "{log4}");
    assert_eq!(ps1, ps4);
    assert_eq!(std::fs::read(&files[0]).unwrap(), first);

    // Nothing was written next to the evidence.
    let beside: Vec<_> = std::fs::read_dir(dump.parent().unwrap())
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("avmlidx"))
        .collect();
    assert!(beside.is_empty(), "{beside:?}");
}

#[test]
fn cache_lists_and_cleans_the_avml_index() {
    let Some(dump) = support::decompressed("linux-6.1", "dump.avml.zst") else {
        return;
    };
    let isf = support::kernel::isf_dir("linux-6.1").unwrap();
    let (_keep, cache) = fresh_cache();
    // After `ps`, the block map; after a read of every block, the chunk index alone.
    let (d, i) = (dump.to_str().unwrap(), isf.to_str().unwrap());
    run(&cache, &["ps", "--json", d, "--isf", i]);
    let (listed, _) = run(&cache, &["cache", "--json"]);
    assert!(listed.contains("\"avml-blocks\""), "{listed}");
    answers(&cache, &dump, &isf);
    let (listed, _) = run(&cache, &["cache", "--json"]);
    assert!(!listed.contains("\"avml-blocks\""), "{listed}");
    let entries: serde_json::Value = serde_json::from_str(&listed).unwrap();
    let avml: Vec<_> = entries
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "avml-index")
        .collect();
    assert_eq!(avml.len(), 1, "{listed}");
    let source = avml[0]["source"].as_str().unwrap();
    assert_eq!(
        Path::new(source),
        std::fs::canonicalize(&dump).unwrap(),
        "{listed}"
    );

    // Without --all, only decompressed checkpoints go. (The shared ISF cache is unlinked
    // first: `--all` must not empty it.)
    std::fs::remove_file(cache.join("isf")).unwrap();
    run(&cache, &["cache", "--clean"]);
    assert_eq!(indexes(&cache).len(), 1);
    run(&cache, &["cache", "--clean", "--all"]);
    assert!(indexes(&cache).is_empty());
    let left: Vec<_> = std::fs::read_dir(cache.join("avml"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn an_unwritable_cache_is_logged_and_ignored() {
    let Some(dump) = support::decompressed("linux-6.1", "dump.avml.zst") else {
        return;
    };
    let isf = support::kernel::isf_dir("linux-6.1").unwrap();
    let (_keep, cache) = fresh_cache();
    let (expected, hits, _) = answers(&cache, &dump, &isf);
    // `avml` is a file: no folder can be made there.
    std::fs::remove_dir_all(cache.join("avml")).unwrap();
    std::fs::write(cache.join("avml"), b"not a folder").unwrap();
    let (ps, hits2, log) = answers(&cache, &dump, &isf);
    assert!(
        log.contains("cannot write the chunk index to the cache"),
        "{log}"
    );
    assert_eq!(ps, expected);
    assert_eq!(hits, hits2);
}

#[test]
fn a_file_cut_short_is_walked_from_the_start_and_its_index_stored() {
    let Some(dump) = support::decompressed("linux-6.1", "dump.avml.zst") else {
        return;
    };
    let isf = support::kernel::isf_dir("linux-6.1").unwrap();
    let (_keep, cache) = fresh_cache();
    let tmp = tempfile::tempdir().unwrap();
    let cut = tmp.path().join("cut.avml");
    let bytes = std::fs::read(&dump).unwrap();
    std::fs::write(&cut, &bytes[..bytes.len() - 1000]).unwrap();
    let (ps, log) = run(
        &cache,
        &[
            "ps",
            "--json",
            cut.to_str().unwrap(),
            "--isf",
            isf.to_str().unwrap(),
        ],
    );
    assert!(
        log.contains("chunk index built by a scan of the file"),
        "{log}"
    );
    assert!(!log.contains("blocks found from the end"), "{log}");
    assert!(ps.contains("\"pid\""), "{ps}");
    assert_eq!(indexes(&cache).len(), 1);
}
