//! The DWARF producer of the symbol index (`--vmlinux`) against dwarf2json 0.9.0: the ISF
//! written from `isf-small/small.o` must equal dwarf2json's `small.json` in every base
//! type, user type, enum and symbol. An ignored test does the same for a real Debian 6.1
//! vmlinux and System.map (paths from `PODMORTEM_VMLINUX` / `PODMORTEM_SYSTEM_MAP`)
//! against the `linux-6.1` fixture ISF, reporting time and differences.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use crate::support;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Instant;

use podmortem::engine::kernel::isf::{Isf, SymbolSource};
use podmortem::engine::kernel::symbols::dwarf::symbols_from_vmlinux;
use serde_json::Value;

const SECTIONS: [&str; 4] = ["base_types", "user_types", "enums", "symbols"];

fn to_json(isf: &Isf, name: &str) -> Value {
    let sources = vec![("dwarf".to_owned(), name.to_owned(), isf.content_hash_hex())];
    let mut out = Vec::new();
    isf.write_json(&mut out, &sources).unwrap();
    serde_json::from_slice(&out).unwrap()
}

/// Names whose entries differ between `ours` and `theirs` in one section, with examples.
fn differences(section: &str, ours: &Value, theirs: &Value) -> (usize, Vec<String>) {
    let (a, b) = (
        ours[section].as_object().unwrap(),
        theirs[section].as_object().unwrap(),
    );
    let mut n = 0;
    let mut examples = Vec::new();
    for (k, v) in b {
        let mine = a.get(k);
        if mine != Some(v) {
            n += 1;
            if examples.len() < 8 {
                let show = |v: Option<&Value>| {
                    let s = v.map_or("(absent)".to_owned(), Value::to_string);
                    s.chars().take(600).collect::<String>()
                };
                examples.push(format!(
                    "{section}.{k}:\n  ours:   {}\n  theirs: {}",
                    show(mine),
                    show(Some(v))
                ));
            }
        }
    }
    for k in a.keys().filter(|k| !b.contains_key(*k)) {
        n += 1;
        if examples.len() < 8 {
            examples.push(format!("{section}.{k}: only ours"));
        }
    }
    (n, examples)
}

#[test]
fn small_object_equals_dwarf2json() {
    let Some(dir) = support::fixture("isf-small") else {
        return;
    };
    let isf = symbols_from_vmlinux(&dir.join("small.o"), None).unwrap();
    assert!(matches!(
        isf.source(),
        SymbolSource::Vmlinux {
            system_map: None,
            ..
        }
    ));
    let ours = to_json(&isf, "small.o");
    let theirs: Value =
        serde_json::from_slice(&std::fs::read(dir.join("small.json")).unwrap()).unwrap();
    let mut report = Vec::new();
    for s in SECTIONS {
        let (n, ex) = differences(s, &ours, &theirs);
        if n > 0 {
            report.push(format!("{n} differences in {s}:\n{}", ex.join("\n")));
        }
        assert_eq!(ours[s], theirs[s], "{}", report.join("\n"));
    }
    // The index answers what the walkers ask of it.
    assert_eq!(isf.offset("fx_task", "uid").unwrap(), 224);
    assert_eq!(isf.offset("fx_task", "raw").unwrap(), 232);
    assert_eq!(isf.struct_size("fx_task"), Some(248));
    assert_eq!(isf.enum_value("fx_state", "FX_NEGATIVE"), Some(-2));
    assert!(isf.struct_size("fx_opaque").is_none());
}

#[test]
fn not_an_elf_is_an_error_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("vmlinux-bogus");
    std::fs::write(&p, b"this is not an ELF file at all").unwrap();
    let e = symbols_from_vmlinux(&p, None).unwrap_err().to_string();
    assert!(e.contains("vmlinux-bogus"), "{e}");
}

fn env_path(var: &str) -> Option<PathBuf> {
    std::env::var_os(var)
        .map(PathBuf::from)
        .filter(|p| p.exists())
}

fn read_xz(p: &Path) -> Vec<u8> {
    let mut out = Vec::new();
    liblzma::read::XzDecoder::new(std::fs::File::open(p).unwrap())
        .read_to_end(&mut out)
        .unwrap();
    out
}

/// Only builds the index of `PODMORTEM_VMLINUX` (for time and peak memory: run it under
/// `/usr/bin/time -v`); writes the ISF to `PODMORTEM_ISF_OUT` when set.
#[test]
#[ignore = "needs a vmlinux with DWARF (PODMORTEM_VMLINUX)"]
fn vmlinux_build_only() {
    let Some(vmlinux) = env_path("PODMORTEM_VMLINUX") else {
        eprintln!("skipping: PODMORTEM_VMLINUX not set");
        return;
    };
    let map = env_path("PODMORTEM_SYSTEM_MAP");
    let t = Instant::now();
    let isf = symbols_from_vmlinux(&vmlinux, map.as_deref()).unwrap();
    eprintln!(
        "built in {:.1?}: {} user types, {} symbols, banner {:?}",
        t.elapsed(),
        isf.user_type_count(),
        isf.symbol_count(),
        isf.banner()
            .map(|b| String::from_utf8_lossy(&b).into_owned())
    );
    if let Ok(status) = std::fs::read_to_string("/proc/self/status") {
        for l in status
            .lines()
            .filter(|l| l.starts_with("Vm") || l.starts_with("Rss"))
        {
            eprintln!("{l}");
        }
    }
    if let Some(out) = std::env::var_os("PODMORTEM_ISF_OUT") {
        let mut f = std::io::BufWriter::new(std::fs::File::create(out).unwrap());
        isf.write_json(&mut f, &[]).unwrap();
    }
}

/// Run with `PODMORTEM_VMLINUX=.../vmlinux-6.1.0-56-amd64` (and `PODMORTEM_SYSTEM_MAP`)
/// `cargo test --release --test integration isf_dwarf:: -- --ignored --nocapture`.
#[test]
#[ignore = "needs the Debian linux-image-6.1.0-56-amd64-dbg vmlinux (PODMORTEM_VMLINUX)"]
fn debian_61_vmlinux_equals_dwarf2json() {
    let Some(vmlinux) = env_path("PODMORTEM_VMLINUX") else {
        eprintln!("skipping: PODMORTEM_VMLINUX not set");
        return;
    };
    let Some(dir) = support::fixture("linux-6.1") else {
        return;
    };
    let map = env_path("PODMORTEM_SYSTEM_MAP");
    let t = Instant::now();
    let isf = symbols_from_vmlinux(&vmlinux, map.as_deref()).unwrap();
    eprintln!(
        "built in {:.1?}: {} base types, {} user types, {} enums, {} symbols",
        t.elapsed(),
        isf.base_type_count(),
        isf.user_type_count(),
        isf.enum_count(),
        isf.symbol_count()
    );
    let ours = to_json(&isf, "vmlinux");
    drop(isf);
    let theirs: Value = serde_json::from_slice(&read_xz(
        &dir.join("symbols/linux/linux-6.1.0-56-amd64.json.xz"),
    ))
    .unwrap();
    let mut total = 0;
    for s in SECTIONS {
        let (n, ex) = differences(s, &ours, &theirs);
        eprintln!(
            "{s}: {} theirs, {} ours, {n} differ",
            theirs[s].as_object().unwrap().len(),
            ours[s].as_object().unwrap().len()
        );
        for e in ex {
            eprintln!("{e}");
        }
        total += n;
    }
    assert_eq!(total, 0, "differences from dwarf2json's ISF");
}
