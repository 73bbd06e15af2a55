//! Hostile evidence for the terminal-safety tests: a checkpoint whose every string an
//! attacker controls (process and thread names, command lines, environment values, file
//! paths, rootfs-diff names and contents, container metadata, memory) carries terminal
//! escape sequences (CSI, OSC, DCS, APC), BEL, C1 controls (UTF-8 encoded and raw 8-bit),
//! bidirectional overrides and invalid UTF-8.
#![allow(dead_code, clippy::unwrap_used)]

use podmortem::engine::checkpoint::proto::{self, FdTypes};
use serde_json::json;

use super::ckpt::{Checkpoint, reg_file};
use super::demo::process;

/// The attacks, each a byte string a terminal would act on if it got through raw.
pub const PAYLOADS: &[&[u8]] = &[
    b"\x1b]0;PWNED-TITLE\x07",   // OSC: set the window title (BEL-terminated)
    b"\x1b]52;c;UFdORUQ=\x1b\\", // OSC 52: write the clipboard (ST-terminated)
    b"\x1b[2J\x1b[H",            // CSI: clear the screen, home
    b"\x1b[6n",                  // CSI DSR: makes the terminal type an answer
    b"\x1bP+q544e\x1b\\",        // DCS XTGETTCAP query
    b"\x1b_APC\x1b\\",           // APC string
    b"\x07",                     // BEL
    "\u{9b}31m".as_bytes(),      // C1 CSI, UTF-8 encoded
    "\u{9d}0;C1-TITLE\u{9c}".as_bytes(), // C1 OSC .. ST, UTF-8 encoded
    b"\x9b6n",                   // raw 8-bit C1 CSI (invalid UTF-8)
    "\u{202e}fdp.exe".as_bytes(), // right-to-left override
    "\u{2067}isolate\u{2069}".as_bytes(), // bidi isolate
    b"\xff\xfe-bad-utf8",        // invalid UTF-8
    b"\r\x08\x7f",               // CR, backspace, DEL
];

/// Text that marks where the hostile strings are (shown, escaped, on the screen).
pub const MARK: &str = "EVIL";

/// `MARK` + a tag + every payload.
pub fn hostile(tag: &str) -> Vec<u8> {
    let mut out = format!("{MARK}-{tag}").into_bytes();
    for p in PAYLOADS {
        out.extend_from_slice(p);
    }
    out
}

/// `hostile(tag)` as text (invalid UTF-8 replaced), for JSON metadata.
pub fn hostile_text(tag: &str) -> String {
    String::from_utf8_lossy(&hostile(tag)).into_owned()
}

fn reg_file_raw(id: u32, name: Vec<u8>, mode: u32) -> proto::FileEntry {
    let mut f = reg_file(id, "x", mode);
    if let Some(r) = f.reg.as_mut() {
        r.name = name;
    }
    f
}

/// Address of the hostile bytes in pid 1's memory.
pub const MEM_ADDR: u64 = 0x5600_0000_0100;

/// Builds the hostile checkpoint: one process (pid 1) with a hostile thread (pid 2).
pub fn checkpoint() -> Checkpoint {
    let mut p = process(1, 0, "x", 1, 0x5555_0000_0000, 0x7ffd_0000_0000);
    p.comm_raw = Some(hostile("comm"));
    p.cwd_root = (5, 2);
    p.threads = vec![(1, "x".into()), (2, "thread".into())];
    let mut block = Vec::new();
    for item in [b"/bin/sh".to_vec(), hostile("argv")] {
        block.extend_from_slice(&item);
        block.push(0);
    }
    let arg = 0x7ffd_0000_0000 - 0x800;
    p.poke(arg, &block);
    p.arg = (arg, arg + block.len() as u64);
    let mut env = b"PATH=/bin\0HOSTILE=".to_vec();
    env.extend_from_slice(&hostile("env"));
    env.push(0);
    let envp = 0x7ffd_0000_0000 - 0x600;
    p.poke(envp, &env);
    p.env = (envp, envp + env.len() as u64);
    // Something for the search to find and show in context.
    let heap = 0x5600_0000_0000;
    p.vmas.push(super::ckpt::vma(
        heap,
        heap + 0x2000,
        3,
        proto::mm::MAP_PRIVATE | proto::mm::MAP_ANONYMOUS,
        proto::mm::VMA_AREA_REGULAR | proto::mm::VMA_ANON_PRIVATE | proto::mm::VMA_AREA_HEAP,
        0,
        0,
    ));
    p.poke(MEM_ADDR, &hostile("memory"));
    p.fds = vec![(0, 3, FdTypes::Reg), (1, 4, FdTypes::Reg)];
    let mut exe = b"/usr/bin/".to_vec();
    exe.extend_from_slice(&hostile("exe"));
    let mut log = b"/var/log/".to_vec();
    log.extend_from_slice(&hostile("fd"));
    let mut cwd = b"/".to_vec();
    cwd.extend_from_slice(&hostile("cwd"));

    let mut text = b"line one\n".to_vec();
    text.extend_from_slice(&hostile("preview"));
    text.extend_from_slice(b"\nlast line\n");
    let mut rootfs_name = b"a-".to_vec();
    rootfs_name.extend_from_slice(&hostile("rootfs"));
    let evil = hostile_text("meta");
    Checkpoint {
        procs: vec![p],
        files: vec![
            reg_file_raw(1, exe, 0o100755),
            reg_file(2, "/", 0o040755),
            reg_file_raw(3, log, 0o100644),
            reg_file(4, "/dev/null", 0o020666),
            reg_file_raw(5, cwd, 0o040755),
        ],
        rootfs_raw: vec![
            (rootfs_name, text, 0o644),
            (b"b-binary".to_vec(), hostile("binary"), 0o755),
        ],
        deleted: vec![hostile_text("deleted")],
        config_dump: Some(json!({
            "id": "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
            "name": evil,
            "rootfsImageName": hostile_text("image"),
            "runtime": "runc",
            "createdTime": "2026-11-20T09:00:00.000000000Z",
            "checkpointedTime": "2026-11-20T09:30:00.000000000Z",
        })),
        spec_dump: Some(json!({
            "ociVersion": "1.0.2-dev",
            "hostname": hostile_text("hostname"),
            "process": {"args": ["/bin/sh"], "env": [hostile_text("specenv")], "cwd": "/"},
            "annotations": {
                "io.kubernetes.pod.name": hostile_text("pod"),
                "io.kubernetes.pod.namespace": "default",
                "io.kubernetes.container.name": hostile_text("container")
            }
        })),
        hostname: hostile_text("uts"),
        ..Default::default()
    }
}
