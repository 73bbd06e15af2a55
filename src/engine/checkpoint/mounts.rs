//! The container's mounts (`mountpoints-<ns>.img`) and what CRIU and Podman saved of its
//! memory-backed ones: each tmpfs mount's files in `checkpoint/tmpfs-dev-<kdev>.tar.gz.img`
//! (a gzip'd tar, named by the mount's device, major << 20 | minor) and /dev/shm in
//! `devshm-checkpoint.tar` (Podman's own: /dev/shm is an external mount for CRIU). These
//! files lived in RAM only: Kubernetes' service-account tokens and secret volumes are tmpfs,
//! so they are often the most valuable files of a compromised pod.

use std::collections::BTreeMap;
use std::io::Read;

use serde_json::Value;

use crate::engine::checkpoint::archive::Archive;
use crate::engine::checkpoint::image::{decode_all, magic};
use crate::engine::checkpoint::proto::MntEntry;
use crate::engine::checkpoint::proto::mnt::fstype;
use crate::engine::checkpoint::rootfs::{LayerTar, RootfsDiff};
use crate::engine::evidence::Mount;

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
        let mount = clean(&m.mountpoint);
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

/// The container's mounts: the images' (what the namespace held) joined by mount point with
/// the runtime spec's `mounts` (host paths of bind mounts, the options asked for); mounts
/// only the spec names are listed too. Sorted by mount point.
pub fn mount_list(ar: &Archive, mounts: &[MntEntry], spec: Option<&Value>) -> Vec<Mount> {
    let mut spec_mounts: BTreeMap<String, &Value> = BTreeMap::new();
    for m in spec
        .and_then(|s| s.get("mounts"))
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if let Some(d) = m.get("destination").and_then(Value::as_str) {
            spec_mounts.insert(clean(d), m);
        }
    }
    let text = |v: Option<&Value>, k: &str| v.and_then(|v| v.get(k)?.as_str().map(str::to_string));
    let options = |v: Option<&Value>| -> Vec<String> {
        v.and_then(|v| v.get("options")?.as_array())
            .into_iter()
            .flatten()
            .filter_map(|o| o.as_str().map(str::to_string))
            .collect()
    };
    let mut out: Vec<Mount> = Vec::new();
    for m in mounts {
        let point = clean(&m.mountpoint);
        let spec = spec_mounts.remove(&point);
        let saved = if saved_tmpfs(m) {
            Some(tmpfs_member(m)).filter(|t| ar.get(t).is_some())
        } else if point == "/dev/shm" && ar.get(DEVSHM_MEMBER).is_some() {
            Some(DEVSHM_MEMBER.to_string())
        } else if point == "/" && ar.get("rootfs-diff.tar").is_some() {
            Some("rootfs-diff.tar".to_string())
        } else {
            None
        };
        let mut opts: Vec<String> = m
            .options
            .split(',')
            .filter(|o| !o.is_empty())
            .map(str::to_string)
            .collect();
        for o in options(spec) {
            if !opts.contains(&o) {
                opts.push(o);
            }
        }
        out.push(Mount {
            mountpoint: point,
            fstype: match m.fstype {
                fstype::UNSUPPORTED => m
                    .fsname
                    .clone()
                    .or_else(|| text(spec, "type"))
                    .unwrap_or_else(|| "other".to_string()),
                t => fstype::name(t).to_string(),
            },
            source: m.source.clone(),
            host_source: text(spec, "source"),
            root: Some(m.root.clone()),
            options: opts,
            device: Some(m.dev()),
            mount_id: Some(m.mnt_id),
            parent_id: Some(m.parent_mnt_id),
            external: m.ext_key.clone(),
            saved,
        });
    }
    for (point, spec) in spec_mounts {
        out.push(Mount {
            mountpoint: point,
            fstype: text(Some(spec), "type").unwrap_or_default(),
            source: text(Some(spec), "source").unwrap_or_default(),
            host_source: text(Some(spec), "source"),
            root: None,
            options: options(Some(spec)),
            device: None,
            mount_id: None,
            parent_id: None,
            external: None,
            saved: None,
        });
    }
    out.sort_by(|a, b| {
        a.mountpoint
            .cmp(&b.mountpoint)
            .then(a.mount_id.cmp(&b.mount_id))
    });
    out
}

/// A mount point as an absolute path (CRIU 3.x writes `./var/run`, 4.x `/var/run`).
fn clean(p: &str) -> String {
    format!("/{}", p.trim_start_matches('.').trim_matches('/'))
}
