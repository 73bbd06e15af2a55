//! Test support: locating the shared fixtures (with the skip/require convention) and
//! preparing decompressed / extracted copies of them in a cache under `target/`.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

pub mod btf;
pub mod cache_dir;
pub mod ckpt;
pub mod corrupt;
pub mod cpu;
pub mod demo;
pub mod hostile;
pub mod kallsyms;
pub mod kernel;
pub mod kernel_image;
pub mod kernel_mem;
pub mod kernel_objects;
pub mod physical;
pub mod replicas;
pub mod scale;
pub mod terminal;
pub mod tmux;
pub mod triage_ev;
pub mod tui;
pub mod walkers;

use std::path::{Path, PathBuf};
use std::sync::Mutex;

static LOCK: Mutex<()> = Mutex::new(());

/// The fixtures root, or `None` (after saying so) when absent and not required.
pub fn fixtures_root() -> Option<PathBuf> {
    let root = std::env::var_os("PODMORTEM_FIXTURES")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/fixtures"));
    if root.is_dir() {
        return Some(root);
    }
    if std::env::var("PODMORTEM_REQUIRE_FIXTURES").as_deref() == Ok("1") {
        panic!(
            "fixtures not found at {} and PODMORTEM_REQUIRE_FIXTURES=1",
            root.display()
        );
    }
    eprintln!(
        "skipping: fixtures not found at {} (set PODMORTEM_FIXTURES)",
        root.display()
    );
    None
}

/// One fixture folder, or `None` when fixtures are absent (see [`fixtures_root`]).
pub fn fixture(name: &str) -> Option<PathBuf> {
    let dir = fixtures_root()?.join(name);
    assert!(
        dir.is_dir(),
        "fixture {name} missing from {}",
        dir.display()
    );
    Some(dir)
}

/// The cache folder for derived copies of a fixture.
pub fn cache_dir(name: &str) -> PathBuf {
    let d = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("target/fixture-cache")
        .join(name);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// `fixture/<file>.zst` decompressed into the cache (made once, atomically).
pub fn decompressed(name: &str, file_zst: &str) -> Option<PathBuf> {
    let src = fixture(name)?.join(file_zst);
    let out = cache_dir(name).join(file_zst.trim_end_matches(".zst"));
    let _g = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    if !out.exists() {
        let tmp = out.with_extension(format!("tmp{}", std::process::id()));
        let mut dec = zstd::stream::read::Decoder::new(std::fs::File::open(&src).unwrap()).unwrap();
        let mut f = std::fs::File::create(&tmp).unwrap();
        std::io::copy(&mut dec, &mut f).unwrap();
        drop(f);
        std::fs::rename(&tmp, &out).unwrap();
    }
    Some(out)
}

/// A tar from the cache extracted into `<cache>/<subdir>` (made once, atomically).
pub fn extracted(name: &str, tar_path: &Path, subdir: &str) -> PathBuf {
    let out = cache_dir(name).join(subdir);
    let _g = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    if !out.exists() {
        let tmp = cache_dir(name).join(format!("{subdir}.tmp{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&tmp);
        std::fs::create_dir_all(&tmp).unwrap();
        let mut ar = tar::Archive::new(std::fs::File::open(tar_path).unwrap());
        ar.unpack(&tmp).unwrap();
        std::fs::rename(&tmp, &out).unwrap();
    }
    out
}

/// Reads a golden JSON file of a fixture.
pub fn golden_json(name: &str, rel: &str) -> serde_json::Value {
    let p = fixture(name).unwrap().join("golden").join(rel);
    serde_json::from_slice(&std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display())))
        .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// Reads a golden text file of a fixture.
pub fn golden_text(name: &str, rel: &str) -> String {
    let p = fixture(name).unwrap().join("golden").join(rel);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}
