//! `podmortem extract`: rootfs-diff files and process memory into a folder the analyst
//! names. Bytes equal what `rootfs --cat` / `read --raw` give; memory dumps are named and
//! hashed exactly as Volatility 3's `linux.proc.Maps --dump` wrote them for the same dump;
//! holes stay sparse; names from evidence cannot escape the folder; nothing is overwritten
//! without `--force`; an evidence folder is never written into.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use crate::support;

use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::process::{Command, Output};

use podmortem::engine::checkpoint::pagemap::PAGE_SIZE;
use podmortem::engine::checkpoint::proto::mm as vm;
use podmortem::engine::findings::hex_string;
use serde_json::Value;
use sha2::{Digest, Sha256};

fn podmortem(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_podmortem"))
        .args(args)
        .env("PODMORTEM_CACHE_DIR", support::kernel::cache_root())
        .output()
        .unwrap()
}

fn ok_json(args: &[&str]) -> Value {
    let out = podmortem(args);
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn sha(bytes: &[u8]) -> String {
    hex_string(&Sha256::digest(bytes))
}

#[test]
fn rootfs_files_and_memory_of_the_demo() {
    let dir = tempfile::tempdir().unwrap();
    let demo = env!("CARGO_MANIFEST_DIR").to_string() + "/assets/demo-checkpoint.tar";
    let out = dir.path().join("out");
    let o = out.to_str().unwrap();
    let done = ok_json(&["extract", &demo, "-o", o, "--all-files", "--json"]);
    let done = done.as_array().unwrap();
    assert_eq!(done.len(), 4, "{done:?}");
    for d in done {
        let src = d["source"].as_str().unwrap();
        let path = Path::new(d["path"].as_str().unwrap());
        assert!(path.starts_with(out.join("rootfs")), "{path:?}");
        let bytes = std::fs::read(path).unwrap();
        let cat = podmortem(&["rootfs", &demo, "--cat", src]).stdout;
        assert_eq!(bytes, cat, "{src}");
        assert_eq!(d["sha256"], sha(&bytes));
        assert_eq!(d["size"], bytes.len());
    }

    // The heap holding the secret, as one Volatility-named file; bytes as `read --raw`.
    let secret = format!("{:#x}", support::demo::SECRET_ADDR);
    let done = ok_json(&[
        "extract", &demo, "-o", o, "--pid", "7", "--vma", &secret, "--json",
    ]);
    let d = &done[0];
    assert_eq!(d["kind"], "memory");
    assert_eq!(d["pid"], 7);
    let (start, end) = (0x5600_0000_0000u64, 0x5600_0000_8000u64);
    let file = out.join(format!("pid.7.vma.{start:#x}-{end:#x}.dmp"));
    assert_eq!(Path::new(d["path"].as_str().unwrap()), file);
    let bytes = std::fs::read(&file).unwrap();
    let raw = podmortem(&[
        "read",
        &demo,
        "--pid",
        "7",
        "--addr",
        &format!("{start:#x}"),
        "--len",
        &(end - start).to_string(),
        "--raw",
    ])
    .stdout;
    assert_eq!(bytes, raw);
    assert_eq!(d["sha256"], sha(&bytes));
    // Pages 4 and 7 were never touched (not dumped), page 6 is lazy: 5 of 8 captured.
    assert_eq!(d["size"], 8 * PAGE_SIZE);
    assert_eq!(d["captured"], 5 * PAGE_SIZE);
    let at = (support::demo::SECRET_ADDR - start) as usize;
    assert_eq!(
        &bytes[at..at + support::demo::SECRET.len()],
        support::demo::SECRET.as_bytes()
    );

    // No overwriting without --force; with it, the file is rewritten.
    let again = podmortem(&["extract", &demo, "-o", o, "--file", "etc/passwd"]);
    assert_eq!(again.status.code(), Some(1));
    let err = String::from_utf8_lossy(&again.stderr);
    assert!(
        err.contains("already exists (use --force to overwrite)"),
        "{err}"
    );
    std::fs::write(out.join("rootfs/etc/passwd"), b"changed").unwrap();
    ok_json(&[
        "extract",
        &demo,
        "-o",
        o,
        "--file",
        "etc/passwd",
        "--force",
        "--json",
    ]);
    assert!(
        std::fs::read(out.join("rootfs/etc/passwd"))
            .unwrap()
            .starts_with(b"root:")
    );

    // Nothing to do, or a range without --pid: a usage error, not a silent success.
    assert_eq!(
        podmortem(&["extract", &demo, "-o", o]).status.code(),
        Some(1)
    );
    assert_ne!(
        podmortem(&["extract", &demo, "-o", o, "--addr", "0x1"])
            .status
            .code(),
        Some(0)
    );
}

#[test]
fn never_outside_the_folder_never_into_the_evidence() {
    let dir = tempfile::tempdir().unwrap();
    // Hostile names (escape sequences, invalid UTF-8) stay inside, made harmless.
    let ev = dir.path().join("hostile.tar");
    std::fs::write(&ev, support::hostile::checkpoint().to_tar()).unwrap();
    let out = dir.path().join("out");
    let done = ok_json(&[
        "extract",
        ev.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
        "--all-files",
        "--json",
    ]);
    assert_eq!(done.as_array().unwrap().len(), 2);
    for entry in walk(&out) {
        let name = entry.file_name().unwrap().to_str().expect("UTF-8 name");
        assert!(
            !name.chars().any(podmortem::sanitize::is_unsafe),
            "{name:?}"
        );
    }

    // A symlink planted in the output folder is not followed.
    let out2 = dir.path().join("out2");
    std::fs::create_dir_all(&out2).unwrap();
    let elsewhere = dir.path().join("elsewhere");
    std::fs::create_dir_all(&elsewhere).unwrap();
    std::os::unix::fs::symlink(&elsewhere, out2.join("rootfs")).unwrap();
    let demo = env!("CARGO_MANIFEST_DIR").to_string() + "/assets/demo-checkpoint.tar";
    let r = podmortem(&[
        "extract",
        &demo,
        "-o",
        out2.to_str().unwrap(),
        "--all-files",
    ]);
    assert_eq!(r.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&r.stderr).contains("symbolic link"));
    assert_eq!(std::fs::read_dir(&elsewhere).unwrap().count(), 0);

    // An extracted checkpoint folder is evidence: nothing is written inside it.
    let folder = dir.path().join("extracted");
    support::demo::demo().write_dir(&folder);
    let before = walk(&folder);
    for o in [folder.join("out"), folder.join("checkpoint/x/../y")] {
        let r = podmortem(&[
            "extract",
            folder.to_str().unwrap(),
            "-o",
            o.to_str().unwrap(),
            "--all-files",
        ]);
        assert_eq!(r.status.code(), Some(1));
        assert!(String::from_utf8_lossy(&r.stderr).contains("refusing to write into the evidence"));
    }
    assert_eq!(walk(&folder), before);
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() && !p.is_symlink() {
            out.extend(walk(&p));
        }
        out.push(p);
    }
    out.sort();
    out
}

#[test]
fn huge_uncaptured_area_is_written_sparse() {
    // A 256 MiB anonymous area of which one page was dumped.
    let mut ck = support::demo::demo();
    let p = &mut ck.procs[1];
    let big = 0x7e00_0000_0000u64;
    let size = 256u64 << 20;
    p.vmas.push(support::ckpt::vma(
        big,
        big + size,
        3,
        vm::MAP_PRIVATE | vm::MAP_ANONYMOUS,
        vm::VMA_AREA_REGULAR | vm::VMA_ANON_PRIVATE,
        0,
        0,
    ));
    p.pagemap = None;
    p.poke(big + size / 2, b"NEEDLE-IN-THE-MIDDLE");
    let dir = tempfile::tempdir().unwrap();
    let ev = dir.path().join("big.tar");
    std::fs::write(&ev, ck.to_tar()).unwrap();
    let out = dir.path().join("out");
    let done = ok_json(&[
        "extract",
        ev.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
        "--pid",
        "7",
        "--vma",
        &format!("{big:#x}"),
        "--json",
    ]);
    let d = &done[0];
    assert_eq!(d["size"], size);
    assert_eq!(d["captured"], PAGE_SIZE);
    let file = Path::new(d["path"].as_str().unwrap());
    let meta = std::fs::metadata(file).unwrap();
    assert_eq!(meta.len(), size);
    assert!(
        meta.blocks() * 512 < 16 << 20,
        "{} bytes on disk",
        meta.blocks() * 512
    );
    let mut expected = vec![0u8; size as usize];
    let at = (size / 2) as usize;
    expected[at..at + 20].copy_from_slice(b"NEEDLE-IN-THE-MIDDLE");
    assert_eq!(d["sha256"], sha(&expected));
    assert_eq!(std::fs::read(file).unwrap(), expected);
}

#[test]
fn kernel_vmas_named_and_hashed_as_volatility_dumped_them() {
    let (Some(dump), Some(isf)) = (
        support::decompressed("linux-6.1", "dump.lime.zst"),
        support::kernel::isf_dir("linux-6.1"),
    ) else {
        return;
    };
    let golden = support::golden_json("linux-6.1", "dump.lime/vma_dumps.json");
    let files = golden["files"].as_array().unwrap();
    let dir = tempfile::tempdir().unwrap();
    for pid in ["102", "107", "108"] {
        let done = ok_json(&[
            "extract",
            dump.to_str().unwrap(),
            "--isf",
            isf.to_str().unwrap(),
            "-o",
            dir.path().to_str().unwrap(),
            "--pid",
            pid,
            "--all-vmas",
            "--json",
        ]);
        let ours: std::collections::BTreeMap<String, String> = done
            .as_array()
            .unwrap()
            .iter()
            .map(|d| {
                let p = Path::new(d["path"].as_str().unwrap());
                let name = p.file_name().unwrap().to_str().unwrap().to_string();
                (name, d["sha256"].as_str().unwrap().to_string())
            })
            .collect();
        let theirs: std::collections::BTreeMap<String, String> = files
            .iter()
            .filter(|f| f["pid"].as_u64().map(|p| p.to_string()).as_deref() == Some(pid))
            .map(|f| {
                (
                    f["file"].as_str().unwrap().to_string(),
                    f["sha256"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        assert_eq!(ours, theirs, "pid {pid}");
    }
}

#[test]
fn the_workbench_extracts_a_memory_area_like_the_cli() {
    use crossterm::event::KeyCode;
    let dir = tempfile::tempdir().unwrap();
    let demo = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/demo-checkpoint.tar");
    let mut h = support::tui::Harness::open(&demo, &dir.path().join("data"), (100, 30));
    // server.py (pid 7), its maps, the heap (4th area).
    h.key(KeyCode::Down);
    h.key(KeyCode::Char('m'));
    for _ in 0..3 {
        h.key(KeyCode::Down);
    }
    h.key(KeyCode::Char('x'));
    let screen = h.screen();
    assert!(
        screen.contains("extract pid 7 0x560000000000-0x560000008000 (32K) into folder"),
        "{screen}"
    );
    for _ in 0..200 {
        h.key(KeyCode::Backspace);
    }
    let out = dir.path().join("tui-out");
    h.typing(out.to_str().unwrap());
    h.key(KeyCode::Enter);
    let screen = h.screen();
    assert!(screen.contains("extracted to"), "{screen}");
    let file = out.join("pid.7.vma.0x560000000000-0x560000008000.dmp");
    let cli_out = dir.path().join("cli-out");
    let done = ok_json(&[
        "extract",
        demo.to_str().unwrap(),
        "-o",
        cli_out.to_str().unwrap(),
        "--pid",
        "7",
        "--vma",
        "0x560000000000",
        "--json",
    ]);
    let cli_file = Path::new(done[0]["path"].as_str().unwrap());
    assert_eq!(
        std::fs::read(&file).unwrap(),
        std::fs::read(cli_file).unwrap()
    );
    // A second time: refused, nothing overwritten.
    h.key(KeyCode::Char('x'));
    for _ in 0..200 {
        h.key(KeyCode::Backspace);
    }
    h.typing(out.to_str().unwrap());
    h.key(KeyCode::Enter);
    let screen = h.screen();
    assert!(screen.contains("extraction failed"), "{screen}");
}
