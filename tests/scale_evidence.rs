//! The scale generators (`support::scale`) at CI size: the generated LiME and AVML dumps
//! and the checkpoint as `.tar`, `.tar.zst` and folder hold every planted string at its
//! known address, those across page, AVML chunk, pagemap entry and search window
//! boundaries included, and nothing else matches. `examples/gen_evidence.rs` makes the big
//! ones for the benchmark.

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::atomic::AtomicBool;

use podmortem::engine::evidence::Evidence;
use podmortem::engine::kernel::dump::KernelDump;
use podmortem::engine::kernel::isf::CacheDir;
use podmortem::engine::open::{OpenOptions, open_evidence};
use podmortem::engine::search::{Collect, SearchRequest, search};
use regex::bytes::Regex;

use crate::support::scale::avml::write_avml;
use crate::support::scale::ckpt::write_checkpoint;
use crate::support::scale::dump::Dump;
use crate::support::scale::lime::write_lime;
use crate::support::scale::{CkptParams, DumpParams, PLANT_REGEX, Plant, disk_bytes};

/// (pid, address) of every process-memory hit of the plant regex in `ev`.
fn process_hits(ev: &dyn Evidence) -> BTreeSet<(u32, u64)> {
    let req = SearchRequest {
        regex: Regex::new(PLANT_REGEX).unwrap(),
        pids: None,
    };
    let mut sink = Collect::default();
    search(ev, &req, &AtomicBool::new(false), &mut sink).unwrap();
    sink.hits
        .iter()
        .map(|h| h.in_process().expect("a process hit"))
        .collect()
}

/// Every plant reads back at its address, and the search finds exactly the plants.
fn check_plants(ev: &dyn Evidence, plants: &[Plant], what: &str) {
    for p in plants {
        let mut buf = vec![0u8; p.text.len()];
        let got = ev.read_memory(p.pid, p.vaddr, &mut buf).unwrap();
        assert_eq!(got.captured_len(), buf.len(), "{what}: {p:?} not captured");
        assert_eq!(String::from_utf8_lossy(&buf), p.text, "{what}: {p:?}");
    }
    let want: BTreeSet<(u32, u64)> = plants.iter().map(|p| (p.pid, p.vaddr)).collect();
    assert_eq!(process_hits(ev), want, "{what}: process search");
}

/// Generates the small dump in `dir`: (lime, avml, isf, dump).
fn small_dump(
    dir: &Path,
) -> (
    std::path::PathBuf,
    std::path::PathBuf,
    std::path::PathBuf,
    Dump,
) {
    let d = Dump::build(&DumpParams::small());
    let (lime, avml, isf) = (
        dir.join("scale.lime"),
        dir.join("scale.avml"),
        dir.join("scale.json"),
    );
    write_lime(&d, &lime);
    write_avml(&d, &avml);
    std::fs::write(&isf, serde_json::to_vec(&d.isf).unwrap()).unwrap();
    (lime, avml, isf, d)
}

#[test]
fn generated_dump_holds_its_plants_in_lime_and_avml() {
    let tmp = tempfile::tempdir().unwrap();
    let (lime, avml, isf, d) = small_dump(tmp.path());
    // Sparse: the LiME's holes are the zero memory.
    let lime_len = std::fs::metadata(&lime).unwrap().len();
    assert!(disk_bytes(&lime) < lime_len / 8, "the LiME is not sparse");
    // Under the AVML index cache's threshold: nothing is written to the cache folder.
    assert!(std::fs::metadata(&avml).unwrap().len() < 16 << 20);
    let kinds: BTreeSet<&str> = d.plants.iter().map(|p| p.kind).collect();
    assert_eq!(
        kinds,
        BTreeSet::from(["chunk", "mid", "page", "split", "window"])
    );
    let cache = CacheDir::At(tmp.path().join("isf-cache"));
    let re = Regex::new(PLANT_REGEX).unwrap();
    for path in [&lime, &avml] {
        let what = path.display().to_string();
        let dump = KernelDump::open_with(path, &isf, &cache).unwrap();
        let procs = dump.processes().unwrap();
        assert_eq!(procs.len(), d.tasks.len(), "{what}");
        let user = procs.iter().find(|p| p.pid == 1).unwrap();
        assert_eq!(user.comm, "systemd");
        assert_eq!(user.cmdline, ["/usr/bin/systemd", "--instance", "1"]);
        assert_eq!(dump.maps(1).unwrap().items.len(), 100, "{what}");
        assert!(dump.files(1).unwrap().items.len() >= 5, "{what}");
        check_plants(&dump, &d.plants, &what);
        // Physical search: the plants whose bytes are contiguous in physical memory, at
        // their physical addresses.
        let phys = dump.physical().unwrap();
        if path == &avml {
            // As `avml` writes it: blocks of at most 16 MiB, blocks of zeros left out.
            let blocks = phys.ranges();
            assert!(blocks.len() > 1, "{blocks:?}");
            assert!(
                blocks.iter().all(|b| b.end - b.start <= 16 << 20),
                "{blocks:?}"
            );
            let slots: u64 = d
                .ranges
                .iter()
                .map(|r| (r.end - r.start).div_ceil(16 << 20))
                .sum();
            assert!((blocks.len() as u64) < slots, "no block of zeros left out");
        }
        let mut sink = Collect::default();
        phys.search(&re, &AtomicBool::new(false), &mut sink)
            .unwrap();
        let found: BTreeSet<u64> = sink.hits.iter().map(|h| h.address).collect();
        let want: BTreeSet<u64> = d.plants.iter().filter_map(|p| p.phys).collect();
        assert_eq!(found, want, "{what}: physical search");
    }
}

#[test]
fn generated_checkpoint_holds_its_plants_in_every_form() {
    let tmp = tempfile::tempdir().unwrap();
    let (tar, zst, dir) = (
        tmp.path().join("ckpt.tar"),
        tmp.path().join("ckpt.tar.zst"),
        tmp.path().join("ckpt"),
    );
    let p = CkptParams::small();
    let plants = write_checkpoint(&p, Some(&tar), Some(&zst), Some(&dir));
    let kinds: BTreeSet<&str> = plants.iter().map(|p| p.kind).collect();
    assert_eq!(kinds, BTreeSet::from(["entry", "mid", "page", "window"]));
    let tar_len = std::fs::metadata(&tar).unwrap().len();
    assert!(tar_len > u64::from(p.processes) * p.bytes_per_process);
    assert!(disk_bytes(&tar) < tar_len / 4, "the tar is not sparse");
    for path in [&tar, &dir] {
        let what = path.display().to_string();
        let ev = open_evidence(path, &OpenOptions::default()).unwrap();
        let procs = ev.processes().unwrap();
        assert_eq!(procs.len(), p.processes as usize, "{what}");
        assert_eq!(
            procs[0].cmdline,
            ["/usr/bin/worker", "--id", "100"],
            "{what}"
        );
        check_plants(&*ev, &plants, &what);
    }
    // The .tar.zst through the CLI, with a cache folder of the test's own (its decompressed
    // copy goes there).
    let cache = tmp.path().join("cache");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_podmortem"))
        .args(["search", "--json", "--regex", PLANT_REGEX])
        .arg(&zst)
        .env("PODMORTEM_CACHE_DIR", &cache)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let found: BTreeSet<(u32, u64)> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            let addr = v["address"].as_str().unwrap().trim_start_matches("0x");
            (
                v["pid"].as_u64().unwrap() as u32,
                u64::from_str_radix(addr, 16).unwrap(),
            )
        })
        .collect();
    let want: BTreeSet<(u32, u64)> = plants.iter().map(|p| (p.pid, p.vaddr)).collect();
    assert_eq!(found, want, "{}: CLI search", zst.display());
}
