//! A private podmortem cache folder for a test, and the CLI run against it with a debug log
//! (to see what came from the cache).
#![allow(dead_code, clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::Command;

/// A fresh cache folder whose `isf/` is the tests' shared ISF cache (so only what the test
/// looks at starts cold).
pub fn fresh_cache() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let isf = super::kernel::cache_root().join("isf");
    std::fs::create_dir_all(&isf).unwrap();
    std::os::unix::fs::symlink(&isf, dir.path().join("isf")).unwrap();
    let root = dir.path().to_path_buf();
    (dir, root)
}

/// Runs podmortem with `cache` as its cache folder and a debug log; (stdout, log).
pub fn run(cache: &Path, args: &[&str]) -> (String, String) {
    let log = cache.join("run.log");
    let _ = std::fs::remove_file(&log);
    let out = Command::new(env!("CARGO_BIN_EXE_podmortem"))
        .args(args)
        .arg("--log")
        .arg(&log)
        .env("PODMORTEM_CACHE_DIR", cache)
        .env("PODMORTEM_LOG", "podmortem=debug")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    (
        String::from_utf8(out.stdout).unwrap(),
        std::fs::read_to_string(&log).unwrap_or_default(),
    )
}

/// The files with extension `ext` in the cache's `sub` folder.
pub fn cached(cache: &Path, sub: &str, ext: &str) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(cache.join(sub))
        .map(|r| r.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    v.retain(|p| p.extension().is_some_and(|x| x == ext));
    v
}
