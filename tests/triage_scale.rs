//! Triage keeps memory flat: ten times the processes and their memory in a dump 16 times
//! larger (sparse, so the test stays small on disk) cost about the same peak resident set, for triage (every rule, the
//! memory scan for secrets and the kernel's module-area scan included) and for a search of
//! all process memory. Measured on the real binary, which logs its peak (`VmHWM`). The
//! benchmark (`benches/scale.sh`) gives the same figures on the 64 GiB dump of 2,040
//! processes.

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
    assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
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
    // Processes hold 64 resident pages each: 10 and 100 MiB of process memory scanned.
    for (name, processes, phys, user_lo) in [
        ("small", 40, 320u64 << 20, 0x1100_0000),
        ("large", 400, 5 << 30, 1 << 30),
    ] {
        let dir = tmp.path().join(name);
        std::fs::create_dir(&dir).unwrap();
        let (lime, isf) = dump(&dir, processes, phys, user_lo);
        let mut row = Vec::new();
        for cmd in [
            vec!["triage", &lime, "--isf", &isf, "--json"],
            vec!["search", &lime, "--isf", &isf, "--regex", PLANT_REGEX, "--json"],
        ] {
            row.push(peak_rss_kib(&cmd, &cache));
        }
        peaks.push((name, row));
        std::fs::remove_dir_all(&dir).unwrap();
    }
    let [(_, small), (_, large)] = &peaks[..] else {
        unreachable!()
    };
    eprintln!("peak RSS (KiB), triage and search: 320 MiB {small:?}, 5 GiB {large:?}");
    for (i, what) in ["triage", "search"].iter().enumerate() {
        // 16 times the dump, 10 times the memory scanned: at most 16 MiB more (the
        // processes' own records, allocator and page-table noise).
        assert!(
            large[i] <= small[i] + 16 * 1024,
            "{what}: peak RSS {} KiB at 5 GiB (400 processes) against {} KiB at 320 MiB (40)",
            large[i],
            small[i]
        );
        assert!(large[i] < 200 * 1024, "{what}: {} KiB", large[i]);
    }
}
