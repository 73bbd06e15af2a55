//! Evidence is never modified: the SHA-256 of every evidence file, and the listing of the
//! folders holding copies of the small evidence, are the same before and after every CLI
//! command and a whole scripted workbench session in tmux (every pane, search, bookmark,
//! export, extraction of a rootfs file), and `extract` of files and memory.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use crate::support;

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;

use sha2::{Digest, Sha256};
use support::tmux::Tmux;

fn sha256(path: &Path) -> String {
    let mut f = std::fs::File::open(path).unwrap();
    let mut h = Sha256::new();
    let mut buf = vec![0; 1 << 20];
    loop {
        let n = f.read(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// Every file under `root` (recursively) with its size, mtime and hash.
fn snapshot(root: &Path) -> BTreeMap<PathBuf, (u64, std::time::SystemTime, String)> {
    let mut out = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let e = e.unwrap();
            let md = e.metadata().unwrap();
            if md.is_dir() {
                out.insert(e.path(), (0, md.modified().unwrap(), "dir".to_string()));
                stack.push(e.path());
            } else {
                out.insert(
                    e.path(),
                    (md.len(), md.modified().unwrap(), sha256(&e.path())),
                );
            }
        }
    }
    out
}

fn hashes(files: &[PathBuf]) -> Vec<(PathBuf, String)> {
    files.iter().map(|f| (f.clone(), sha256(f))).collect()
}

fn cli(cwd: &Path, env: &[(&str, &Path)], args: &[&str]) -> std::process::Output {
    let out = Command::new(env!("CARGO_BIN_EXE_podmortem"))
        .current_dir(cwd)
        .envs(env.iter().map(|(k, v)| (*k, *v)))
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Every command on a piece of evidence, run from its own folder so a stray write there
/// would show in the listing.
struct Target<'a> {
    ev: &'a Path,
    isf: Option<&'a Path>,
    pid: &'a str,
    addr: &'a str,
    /// A rootfs file (checkpoints).
    cat: Option<&'a str>,
}

fn all_commands(t: &Target, out_dir: &Path, env: &[(&str, &Path)]) {
    let (ev, isf, pid, addr) = (t.ev, t.isf, t.pid, t.addr);
    let cwd = ev.parent().unwrap();
    let e = ev.to_str().unwrap();
    let export = out_dir.join(format!(
        "export-{}.json",
        ev.file_name().unwrap().to_string_lossy()
    ));
    let mut cmds: Vec<Vec<&str>> = vec![
        vec!["info", e],
        vec!["info", "--json", e],
        vec!["ps", "--threads", e],
        vec!["ps", "--json", e],
        vec!["maps", "--pid", pid, e],
        vec!["env", e],
        vec!["files", "--json", e],
        vec!["read", "--pid", pid, "--addr", addr, "--len", "4096", e],
        vec![
            "read", "--pid", pid, "--addr", addr, "--len", "64", "--raw", e,
        ],
        vec!["search", "--regex", "RANDOM_[0-9]+_KEY", "--json", e],
        vec!["export", e, "-o", export.to_str().unwrap()],
    ];
    let extract_dir = out_dir.join(format!(
        "extract-{}",
        ev.file_name().unwrap().to_string_lossy()
    ));
    let x = extract_dir.to_str().unwrap();
    cmds.push(vec![
        "extract", e, "-o", x, "--pid", pid, "--vma", addr, "--force",
    ]);
    if let Some(cat) = t.cat {
        cmds.push(vec!["rootfs", "--json", e]);
        cmds.push(vec!["rootfs", "--cat", cat, e]);
        cmds.push(vec!["extract", e, "-o", x, "--all-files", "--force"]);
    }
    for mut c in cmds {
        if let Some(isf) = isf {
            c.push("--isf");
            c.push(isf.to_str().unwrap());
        }
        cli(cwd, env, &c);
    }
}

#[test]
fn evidence_is_never_modified() {
    let Some(tar) = support::decompressed("criu-counter", "checkpoint-counter.tar.zst") else {
        return;
    };
    let lime = support::decompressed("linux-6.1", "dump.lime.zst").unwrap();
    let avml = support::decompressed("linux-6.1", "dump.avml.zst").unwrap();
    let elf = support::decompressed("linux-6.1-node", "dump.elf.zst").unwrap();
    let isf_61 = support::kernel::isf_dir("linux-6.1").unwrap();
    let isf_node = support::kernel::isf_dir("linux-6.1-node").unwrap();
    let demo = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/demo-checkpoint.tar");

    // Copies of the small evidence, each in a folder of its own.
    let tmp = tempfile::tempdir().unwrap();
    let ev_dir = tmp.path().join("evidence");
    let folder_dir = tmp.path().join("evidence-folder");
    std::fs::create_dir_all(&ev_dir).unwrap();
    let tar_copy = ev_dir.join("checkpoint-counter.tar");
    let demo_copy = ev_dir.join("demo-checkpoint.tar");
    std::fs::copy(&tar, &tar_copy).unwrap();
    std::fs::copy(&demo, &demo_copy).unwrap();
    let mut ar = tar::Archive::new(std::fs::File::open(&tar).unwrap());
    ar.unpack(&folder_dir).unwrap();
    let work = tmp.path().join("work");
    let data = tmp.path().join("data");
    let out_dir = tmp.path().join("out");
    std::fs::create_dir_all(&work).unwrap();
    std::fs::create_dir_all(&out_dir).unwrap();
    let cache = support::kernel::cache_root();
    let env: [(&str, &Path); 2] = [
        ("PODMORTEM_DATA_DIR", &data),
        ("PODMORTEM_CACHE_DIR", &cache),
    ];

    let big: Vec<PathBuf> = vec![
        lime.clone(),
        avml.clone(),
        elf.clone(),
        isf_61.join("linux-6.1.0-56-amd64.json.xz"),
        isf_node.join("linux-6.1.0-50-amd64.json.xz"),
        demo.clone(),
    ];
    let big_before = hashes(&big);
    let ev_before = snapshot(&ev_dir);
    let folder_before = snapshot(&folder_dir);

    let counter = |ev| Target {
        ev,
        isf: None,
        pid: "6",
        addr: "0x7f184469f2a0",
        cat: Some("home/counter/logfile"),
    };
    let dump = |ev, isf, pid| Target {
        ev,
        isf: Some(isf),
        pid,
        addr: "0x400000",
        cat: None,
    };
    let targets = [
        counter(&tar_copy),
        counter(&folder_dir),
        Target {
            ev: &demo_copy,
            isf: None,
            pid: "7",
            addr: "0x560000003000",
            cat: Some("etc/passwd"),
        },
        dump(&lime, &isf_61, "102"),
        dump(&avml, &isf_61, "102"),
        dump(&elf, &isf_node, "516"),
    ];
    for t in &targets {
        all_commands(t, &out_dir, &env);
    }

    if Tmux::available() {
        workbench_session(tmp.path(), &work, &env, &tar_copy);
        // The files the session was asked to write are where it was told, not next to the
        // evidence.
        let names: Vec<String> = std::fs::read_dir(&work)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert!(
            names.iter().any(|n| n.starts_with("findings-")),
            "{names:?}"
        );
        assert_eq!(
            std::fs::read(work.join("podmortem-extract/home/counter/test-file")).unwrap(),
            b"test-file"
        );
    }

    assert_eq!(snapshot(&ev_dir), ev_before, "evidence folder changed");
    assert_eq!(
        snapshot(&folder_dir),
        folder_before,
        "extracted folder changed"
    );
    assert_eq!(hashes(&big), big_before, "a dump, ISF or the demo changed");
}

/// Open, every pane, details, maps, hex, search, bookmark, findings, export, rootfs extract,
/// quit.
fn workbench_session(sock_dir: &Path, work: &Path, env: &[(&str, &Path)], ev: &Path) {
    let t = Tmux::start(sock_dir, work, env, &[ev.to_str().unwrap()]);
    t.wait_for("Processes (3)");
    t.keys(&["Down", "Enter"]);
    t.wait_for("Threads");
    t.keys(&["Escape", "m"]);
    t.wait_for("Maps: 6");
    t.keys(&["Down", "Enter"]);
    t.wait_for("Hex: 6");
    t.keys(&["PageDown", "Right", "v", "Right", "Right"]);
    t.keys(&["4", "/"]);
    t.text("RANDOM_[0-9]+_KEY");
    t.keys(&["Enter"]);
    t.wait_for("search done: 2 hit(s)");
    t.keys(&["Enter"]);
    t.wait_for("Hex: 6 counter.py │ 0x7f184469f2ad");
    t.keys(&["b"]);
    t.text("the secret #blog");
    t.keys(&["Enter"]);
    t.wait_for("finding #1 saved");
    t.keys(&["5"]);
    t.wait_for("test-file");
    // Select home/counter/test-file: the tree shows folders first (dev/, from the /dev
    // tmpfs, then home/); walk down to it.
    let mut found = false;
    for _ in 0..40 {
        t.keys(&["Down"]);
        let s = t.screen();
        if s.contains("9 bytes  sha256") {
            found = true;
            break;
        }
    }
    assert!(found, "could not select test-file:\n{}", t.screen());
    t.keys(&["x"]);
    t.wait_for("into folder");
    t.keys(&["Enter"]);
    t.wait_for("extracted to");
    t.keys(&["b"]);
    t.text("a file");
    t.keys(&["Enter"]);
    t.wait_for("finding #2 saved");
    t.keys(&["6"]);
    t.wait_for("Findings (2)");
    t.keys(&["Down", "Up", "2", "3", "1", "Tab", "BTab"]);
    t.keys(&["e"]);
    t.wait_for("export findings to");
    t.keys(&["Enter"]);
    t.wait_for("finding(s) exported to");
    t.keys(&["?"]);
    t.keys(&["Escape", "q"]);
    t.wait_exit();
}
