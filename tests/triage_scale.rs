//! Triage keeps memory flat: the same processes in a dump 16 times larger (sparse, so the
//! test stays small on disk) cost the same peak resident set, for triage (every rule, the
//! memory scan for secrets, YARA and the kernel's module-area scan included) and for a
//! search of all process memory, and scanning adds a bounded amount to listing the
//! processes. Measured on the real binary, which logs its peak (`VmHWM`). The benchmark
//! (`benches/scale.sh`) gives the figures on the 64 GiB dump of 2,040 processes.

use std::path::Path;
use std::process::Command;

use crate::support::scale::dump::Dump;
use crate::support::scale::lime::write_lime;
use crate::support::scale::{DumpParams, PLANT_REGEX};

/// Peak resident set (KiB) of `podmortem ARGS` (caches in `cache`), as the program logs
/// it (`VmHWM`; the `wait4` of this test process would count the memory the child
/// inherited across `vfork`/`exec`).
fn peak_rss_kib(args: &[&str], cache: &Path) -> u64 {
    let log = cache.with_extension("log");
    let _ = std::fs::remove_file(&log);
    let out = Command::new(env!("CARGO_BIN_EXE_podmortem"))
        .args(args)
        .arg("--log")
        .arg(&log)
        .env("PODMORTEM_THREADS", "2")
        .env("PODMORTEM_LOG", "info")
        .env("PODMORTEM_CACHE_DIR", cache)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read_to_string(&log).unwrap();
    text.lines()
        .find_map(|l| l.split("peak_rss_kib=").nth(1))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no peak in the log: {text}"))
}

/// Writes a generated dump of `processes` processes in `phys` bytes of memory into `dir`:
/// (LiME, ISF).
fn dump(dir: &Path, processes: u32, phys: u64, user_lo: u64) -> (String, String) {
    let params = DumpParams {
        processes,
        phys_bytes: phys,
        user_lo,
        ..DumpParams::small()
    };
    let d = Dump::build(&params);
    let lime = dir.join("dump.lime");
    let isf = dir.join("dump.json");
    write_lime(&d, &lime);
    std::fs::write(&isf, serde_json::to_vec(&d.isf).unwrap()).unwrap();
    (lime.display().to_string(), isf.display().to_string())
}

#[test]
fn triage_and_search_memory_does_not_grow_with_the_dump() {
    let tmp = tempfile::tempdir().unwrap();
    let cache = tmp.path().join("cache");
    let mut peaks = Vec::new();
    // The same 200 processes (64 resident pages each) in 1 GiB and in 16 GiB of memory.
    for (name, phys) in [("small", 1u64 << 30), ("large", 16 << 30)] {
        let dir = tmp.path().join(name);
        std::fs::create_dir(&dir).unwrap();
        let (lime, isf) = dump(&dir, 200, phys, 512 << 20);
        let mut row = Vec::new();
        for cmd in [
            vec!["ps", &lime, "--isf", &isf, "--json"],
            vec!["triage", &lime, "--isf", &isf, "--json"],
            vec![
                "search",
                &lime,
                "--isf",
                &isf,
                "--regex",
                PLANT_REGEX,
                "--json",
            ],
        ] {
            row.push(peak_rss_kib(&cmd, &cache));
        }
        peaks.push(row);
        std::fs::remove_dir_all(&dir).unwrap();
    }
    eprintln!(
        "peak RSS (KiB) of ps, triage, search: 1 GiB {:?}, 16 GiB {:?}",
        peaks[0], peaks[1]
    );
    let (small, large) = (&peaks[0], &peaks[1]);
    for (i, what) in ["ps", "triage", "search"].iter().enumerate() {
        // 16 times the dump: at most 8 MiB more (allocator and page-table noise).
        assert!(
            large[i] <= small[i] + 8 * 1024,
            "{what}: peak RSS {} KiB at 16 GiB against {} KiB at 1 GiB",
            large[i],
            small[i]
        );
        assert!(large[i] < 200 * 1024, "{what}: {} KiB", large[i]);
    }
    // Scanning every process's memory (the secrets scan and YARA, the search) costs a
    // bounded amount over listing the processes.
    for (i, what) in [(1, "triage"), (2, "search")] {
        assert!(
            large[i] <= large[0] + 48 * 1024,
            "{what}: {} KiB against ps's {} KiB",
            large[i],
            large[0]
        );
    }
}
