//! Compressed checkpoints are decompressed once into podmortem's cache folder and mapped like
//! a `.tar` afterwards: the same answers as the `.tar`, nothing next to the evidence, one
//! cached file however often it is opened, the cache's size limit, `podmortem cache`, and a
//! fallback to memory when the cache cannot be used.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::support;

fn run(cache: &Path, extra_env: &[(&str, &str)], args: &[&str]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_podmortem"));
    cmd.args(args).env("PODMORTEM_CACHE_DIR", cache);
    for (k, v) in extra_env {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

fn ok(out: Output) -> String {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn cached_tars(cache: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(cache.join("checkpoints"))
        .map(|r| r.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    v.retain(|p| {
        p.extension().is_some_and(|x| x == "tar") || p.to_string_lossy().contains(".part-")
    });
    v.sort();
    v
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// The demo checkpoint compressed with zstd and gzip into `dir`.
fn compressed_demos(dir: &Path) -> (PathBuf, PathBuf) {
    let tar =
        std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/demo-checkpoint.tar"))
            .unwrap();
    let zst = dir.join("demo.tar.zst");
    std::fs::write(&zst, zstd::encode_all(&tar[..], 3).unwrap()).unwrap();
    let gz = dir.join("demo.tar.gz");
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(&tar).unwrap();
    std::fs::write(&gz, enc.finish().unwrap()).unwrap();
    (zst, gz)
}

#[test]
fn a_compressed_checkpoint_is_decompressed_once_and_answers_as_the_tar() {
    let Some(zst) = support::fixture("criu-counter").map(|d| d.join("checkpoint-counter.tar.zst"))
    else {
        return;
    };
    let tar = support::decompressed("criu-counter", "checkpoint-counter.tar.zst").unwrap();
    let cache = tempfile::tempdir().unwrap();
    for cmd in [
        ["ps", "--json"],
        ["maps", "--json"],
        ["files", "--json"],
        ["rootfs", "--json"],
    ] {
        let mut args = vec![cmd[0]];
        if cmd[0] == "maps" {
            args.extend(["--pid", "6"]);
        }
        args.push(cmd[1]);
        let from_zst = ok(run(cache.path(), &[], &[&args[..], &[s(&zst)]].concat()));
        let from_tar = ok(run(cache.path(), &[], &[&args[..], &[s(&tar)]].concat()));
        assert_eq!(from_zst, from_tar, "{cmd:?}");
    }
    let tars = cached_tars(cache.path());
    assert_eq!(tars.len(), 1, "one decompressed copy: {tars:?}");
    let meta = std::fs::metadata(&tars[0]).unwrap();
    assert_eq!(meta.len(), std::fs::metadata(&tar).unwrap().len());
    assert_eq!(
        std::fs::read(&tars[0]).unwrap(),
        std::fs::read(&tar).unwrap()
    );
    // Reused, not rewritten.
    let inode = |p: &Path| std::os::unix::fs::MetadataExt::ino(&std::fs::metadata(p).unwrap());
    let before = inode(&tars[0]);
    ok(run(cache.path(), &[], &["info", s(&zst)]));
    assert_eq!(inode(&tars[0]), before);
    // Listed, then cleaned.
    let list: serde_json::Value =
        serde_json::from_str(&ok(run(cache.path(), &[], &["cache", "--json"]))).unwrap();
    let entry = list
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["kind"] == "checkpoint")
        .unwrap();
    assert!(
        entry["source"]
            .as_str()
            .unwrap()
            .ends_with("checkpoint-counter.tar.zst")
    );
    assert!(entry["size"].is_u64() && entry["disk_bytes"].is_u64());
    ok(run(cache.path(), &[], &["cache", "--clean"]));
    assert!(cached_tars(cache.path()).is_empty());
}

#[test]
fn gzip_too_and_the_size_limit_keeps_the_latest() {
    let dir = tempfile::tempdir().unwrap();
    let (zst, gz) = compressed_demos(dir.path());
    let cache = tempfile::tempdir().unwrap();
    let limit = [("PODMORTEM_CACHE_LIMIT", "1")];
    let a = ok(run(cache.path(), &limit, &["ps", "--json", s(&zst)]));
    assert_eq!(cached_tars(cache.path()).len(), 1);
    let b = ok(run(cache.path(), &limit, &["ps", "--json", s(&gz)]));
    assert_eq!(a, b);
    assert_eq!(
        cached_tars(cache.path()).len(),
        1,
        "over the limit: the older one went"
    );
    let c = ok(run(cache.path(), &[], &["ps", "--json", s(&zst)]));
    assert_eq!(a, c);
    assert_eq!(
        cached_tars(cache.path()).len(),
        2,
        "under the default limit both stay"
    );
    // Nothing was written next to the evidence.
    let mut names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["demo.tar.gz", "demo.tar.zst"]);
}

#[test]
fn a_truncated_archive_is_an_error_and_leaves_nothing_behind() {
    let dir = tempfile::tempdir().unwrap();
    let (zst, _) = compressed_demos(dir.path());
    let bytes = std::fs::read(&zst).unwrap();
    let cut = dir.path().join("cut.tar.zst");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    let cache = tempfile::tempdir().unwrap();
    let out = run(cache.path(), &[], &["ps", s(&cut)]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("cut.tar.zst") && err.contains("decompression failed"),
        "{err}"
    );
    assert!(cached_tars(cache.path()).is_empty(), "no partial file kept");
}

#[test]
fn without_a_usable_cache_it_decompresses_into_memory() {
    let dir = tempfile::tempdir().unwrap();
    let (zst, _) = compressed_demos(dir.path());
    let blocker = dir.path().join("not-a-folder");
    std::fs::write(&blocker, b"x").unwrap();
    let cache = blocker.join("cache");
    let a = ok(run(&cache, &[], &["ps", "--json", s(&zst)]));
    let good = tempfile::tempdir().unwrap();
    let b = ok(run(good.path(), &[], &["ps", "--json", s(&zst)]));
    assert_eq!(a, b);
}
