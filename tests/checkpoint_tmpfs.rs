//! What a container held in memory-backed filesystems: ../shared/fixtures/criu-tmpfs
//! (podman, CRIU 4.2) has a fake Kubernetes service-account token on a tmpfs mount (only in
//! CRIU's `tmpfs-dev-49.tar.gz.img`), a file in /dev/shm (only in Podman's
//! `devshm-checkpoint.tar`) and one in the rootfs diff. All three appear under their paths
//! with where they came from, read back byte for byte, and the token is a credential.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use crate::support;

use std::process::Command;

use podmortem::engine::capability::container_fs;
use podmortem::engine::checkpoint::Checkpoint;
use podmortem::engine::evidence::Evidence;
use serde_json::Value;

const TOKEN: &str = "var/run/secrets/kubernetes.io/serviceaccount/token";
const NAMESPACE: &str = "var/run/secrets/kubernetes.io/serviceaccount/namespace";
const SHM: &str = "dev/shm/shm-note.txt";
const ROOTFS: &str = "tmp/rootfs-note.txt";

fn archive() -> Option<std::path::PathBuf> {
    Some(support::fixture("criu-tmpfs")?.join("tmpfs-sa-token.tar"))
}

#[test]
fn tmpfs_and_devshm_files_appear_with_their_origin() {
    let Some(tar) = archive() else { return };
    let ck = Checkpoint::open(&tar).unwrap();
    let fs = container_fs(&ck).unwrap();
    let entries = fs.entries().unwrap();
    let find = |p: &str| {
        entries
            .iter()
            .find(|e| e.path == p)
            .unwrap_or_else(|| panic!("{p} not listed"))
    };
    let token = find(TOKEN);
    assert_eq!(token.origin, "checkpoint/tmpfs-dev-49.tar.gz.img");
    assert_eq!(
        token.mount.as_deref(),
        Some("/var/run/secrets/kubernetes.io/serviceaccount")
    );
    assert!(token.credential);
    assert_eq!(token.size, 34);
    assert!(find(NAMESPACE).credential);
    let shm = find(SHM);
    assert_eq!(shm.origin, "devshm-checkpoint.tar");
    assert_eq!(shm.mount.as_deref(), Some("/dev/shm"));
    assert!(!shm.credential);
    let note = find(ROOTFS);
    assert_eq!(note.origin, "rootfs-diff.tar");
    assert_eq!(note.mount, None);
    // /dev's tmpfs (device nodes) is there too, from its own image.
    assert_eq!(
        find("dev/null").origin,
        "checkpoint/tmpfs-dev-45.tar.gz.img"
    );
    // The bytes, as the README says they were written.
    let read = |p: &str| fs.read_file(p).unwrap().into_owned();
    assert_eq!(read(TOKEN), b"eyJhbGciOiJSUzI1NiJ9.fake-sa-token");
    assert_eq!(read(&format!("/{NAMESPACE}")), b"default");
    assert_eq!(read(SHM), b"DEVSHM_MARKER_5c1e\n");
    assert_eq!(read(ROOTFS), b"ROOTFS_MARKER_tmpfs_case\n");
    // Nothing to warn about in this archive.
    assert!(ck.info().warnings.is_empty(), "{:?}", ck.info().warnings);
}

#[test]
fn the_cli_lists_cats_and_extracts_them() {
    let Some(tar) = archive() else { return };
    let run = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_podmortem"))
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out.stdout
    };
    let t = tar.to_str().unwrap();
    let list: Value = serde_json::from_slice(&run(&["rootfs", "--json", t])).unwrap();
    let token = list
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["path"] == TOKEN)
        .unwrap();
    assert_eq!(token["credential"], true);
    assert_eq!(
        token["mount"],
        "/var/run/secrets/kubernetes.io/serviceaccount"
    );
    let table = String::from_utf8(run(&["rootfs", t])).unwrap();
    let line = table.lines().find(|l| l.contains(TOKEN)).unwrap();
    assert!(
        line.contains("tmpfs") && line.ends_with("[credential]"),
        "{line}"
    );
    assert_eq!(
        run(&["rootfs", "--cat", &format!("/{TOKEN}"), t]),
        b"eyJhbGciOiJSUzI1NiJ9.fake-sa-token"
    );
    assert_eq!(run(&["rootfs", "--cat", SHM, t]), b"DEVSHM_MARKER_5c1e\n");
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    run(&["extract", t, "-o", out.to_str().unwrap(), "--file", TOKEN]);
    assert_eq!(
        std::fs::read(out.join("rootfs").join(TOKEN)).unwrap(),
        b"eyJhbGciOiJSUzI1NiJ9.fake-sa-token"
    );
}

#[test]
fn mounts_equal_crits_mountpoints_joined_with_the_spec() {
    let Some(tar) = archive() else { return };
    let dir = support::fixture("criu-tmpfs").unwrap();
    let golden: Value =
        serde_json::from_slice(&std::fs::read(dir.join("golden/mountpoints-13.json")).unwrap())
            .unwrap();
    let ck = Checkpoint::open(&tar).unwrap();
    let mounts = container_fs(&ck).unwrap().mounts();
    let entries = golden["entries"].as_array().unwrap();
    assert_eq!(mounts.len(), entries.len());
    for e in entries {
        let id = e["mnt_id"].as_u64().unwrap() as u32;
        let m = mounts
            .iter()
            .find(|m| m.mount_id == Some(id))
            .unwrap_or_else(|| panic!("mount {id} missing"));
        assert_eq!(m.mountpoint, e["mountpoint"].as_str().unwrap());
        assert_eq!(m.parent_id, e["parent_mnt_id"].as_u64().map(|p| p as u32));
        assert_eq!(m.device.as_deref(), e["root_dev"].as_str());
        assert_eq!(m.root.as_deref(), e["root"].as_str());
        assert_eq!(m.source, e["source"].as_str().unwrap());
        assert_eq!(
            m.external.as_deref(),
            e.get("ext_key").and_then(Value::as_str)
        );
    }
    let at = |p: &str| mounts.iter().find(|m| m.mountpoint == p).unwrap();
    let sa = at("/var/run/secrets/kubernetes.io/serviceaccount");
    assert_eq!(sa.fstype, "tmpfs");
    assert_eq!(
        sa.saved.as_deref(),
        Some("checkpoint/tmpfs-dev-49.tar.gz.img")
    );
    // The spec's options follow the image's.
    assert!(
        sa.options.iter().any(|o| o == "tmpcopyup"),
        "{:?}",
        sa.options
    );
    assert_eq!(
        at("/dev/shm").saved.as_deref(),
        Some("devshm-checkpoint.tar")
    );
    assert_eq!(at("/").saved.as_deref(), Some("rootfs-diff.tar"));
    // A bind mount from the host: its host path from the spec, its contents not saved.
    let hosts = at("/etc/hosts");
    assert_eq!(hosts.fstype, "bind");
    assert!(
        hosts
            .host_source
            .as_deref()
            .unwrap()
            .ends_with("/userdata/hosts")
    );
    assert_eq!(hosts.saved, None);
    assert!(
        mounts
            .windows(2)
            .all(|w| w[0].mountpoint <= w[1].mountpoint)
    );
}

#[test]
fn the_workbench_shows_the_mounts_in_the_evidence_popup() {
    let Some(tar) = archive() else { return };
    let dir = tempfile::tempdir().unwrap();
    let mut h = support::tui::Harness::open(&tar, dir.path(), (160, 60));
    h.key(crossterm::event::KeyCode::Char('I'));
    let screen = h.screen();
    assert!(screen.contains("Evidence"), "{screen}");
    for _ in 0..60 {
        h.key(crossterm::event::KeyCode::Down);
        if h.screen().contains("mounts (30)") {
            break;
        }
    }
    let screen = h.screen();
    assert!(screen.contains("mounts (30)"), "{screen}");
    assert!(
        screen.contains("saved in checkpoint/tmpfs-dev-49.tar.gz.img"),
        "{screen}"
    );
    h.key(crossterm::event::KeyCode::Esc);
    assert!(!h.screen().contains("mounts (30)"));
}
