//! The container's mounts (`mountpoints-<ns>.img`) and what CRIU and Podman saved of its
//! memory-backed ones: each tmpfs mount's files in `checkpoint/tmpfs-dev-<kdev>.tar.gz.img`
//! (a gzip'd tar, named by the mount's device, major << 20 | minor) and /dev/shm in
//! `devshm-checkpoint.tar` (Podman's own: /dev/shm is an external mount for CRIU). These
//! files lived in RAM only: Kubernetes' service-account tokens and secret volumes are tmpfs,
//! so they are often the most valuable files of a compromised pod.

use std::io::Read;

use crate::engine::checkpoint::archive::Archive;
use crate::engine::checkpoint::image::{decode_all, magic};
use crate::engine::checkpoint::proto::MntEntry;
use crate::engine::checkpoint::proto::mnt::fstype;
use crate::engine::checkpoint::rootfs::{LayerTar, RootfsDiff};

/// A tmpfs image decompresses to at most this much (a bound on hostile gzip bombs).
const MAX_TMPFS_BYTES: u64 = 1 << 30;

/// Where Podman's /dev/shm lives.
pub const DEVSHM_MEMBER: &str = "devshm-checkpoint.tar";

/// The mounts of every `mountpoints-*.img`, in image order.
pub fn read_mounts(ar: &Archive, warnings: &mut Vec<String>) -> Vec<MntEntry> {
    let names: Vec<String> = ar
        .image_names()
        .filter(|n| n.starts_with("mountpoints-") && n.ends_with(".img"))
        .map(str::to_string)
        .collect();
    let mut out = Vec::new();
    for name in names {
        let member = format!("checkpoint/{name}");
        let Some(data) = ar.get(&member) else {
            continue;
        };
        match decode_all::<MntEntry>(&ar.display_name(&member), data, magic::MNTS, "mnt") {
            Ok((entries, errs)) => {
                warnings.extend(errs.into_iter().map(|e| e.to_string()));
                out.extend(entries);
            }
            Err(e) => warnings.push(e.to_string()),
        }
    }
    out
}

/// The member holding a tmpfs mount's files, by CRIU's naming.
pub fn tmpfs_member(m: &MntEntry) -> String {
    format!("checkpoint/tmpfs-dev-{}.tar.gz.img", m.root_dev)
}

/// Whether the images hold this mount's contents: a tmpfs mounted from its root that is not
/// external (an external mount's contents stay on the host).
fn saved_tmpfs(m: &MntEntry) -> bool {
    m.fstype == fstype::TMPFS && m.root == "/" && m.ext_key.is_none() && m.ext_mount != Some(true)
}

/// Adds the memory-backed mounts' files to `fs`, each under its mount point, shallower
/// mounts first (a deeper mount hides what is under it), then /dev/shm.
pub fn add_memory_layers(
    ar: &Archive,
    mounts: &[MntEntry],
    fs: &mut RootfsDiff,
    warnings: &mut Vec<String>,
) {
    let mut tmpfs: Vec<&MntEntry> = mounts.iter().filter(|m| saved_tmpfs(m)).collect();
    tmpfs.sort_by_key(|m| (m.mountpoint.matches('/').count(), m.mountpoint.clone()));
    tmpfs.dedup_by_key(|m| m.root_dev);
    for m in tmpfs {
        let member = tmpfs_member(m);
        let Some(gz) = ar.get(&member) else {
            continue;
        };
        let mut tar = Vec::new();
        let read = flate2::read::GzDecoder::new(gz)
            .take(MAX_TMPFS_BYTES + 1)
            .read_to_end(&mut tar);
        if let Err(e) = read {
            warnings.push(format!(
                "{}: not a gzip'd tar: {e}{}",
                ar.display_name(&member),
                if tar.is_empty() {
                    ""
                } else {
                    " (the part read is shown)"
                }
            ));
            if tar.is_empty() {
                continue;
            }
        }
        if tar.len() as u64 > MAX_TMPFS_BYTES {
            warnings.push(format!(
                "{}: more than {MAX_TMPFS_BYTES} bytes decompressed: the rest is not shown",
                ar.display_name(&member)
            ));
            tar.truncate(MAX_TMPFS_BYTES as usize);
        }
        let mount = format!("/{}", m.mountpoint.trim_start_matches(['.', '/']));
        fs.add_layer(&member, Some(&mount), LayerTar::Owned(tar), warnings);
    }
    if let Some(shm) = ar.get(DEVSHM_MEMBER)
        && !shm.is_empty()
    {
        fs.add_layer(
            DEVSHM_MEMBER,
            Some("/dev/shm"),
            LayerTar::Member(shm),
            warnings,
        );
    }
}
