//! `podmortem extract`: copies rootfs-diff files, process memory and what a checkpoint saved
//! beyond memory (socket queues, deleted-but-open files, memfds) out of the evidence into a
//! folder the analyst names, never elsewhere (see [`crate::engine::extract`]): names are
//! made safe, nothing is overwritten without `--force`, and the folder may not lie inside an
//! evidence folder. Memory is written sparse (uncaptured pages are holes that read as zeros),
//! so a huge, mostly uncaptured mapping costs only what was captured.

use std::io::Write;
use std::ops::Range;
use std::path::Path;

use anyhow::{Context, Result, bail};
use sha2::{Digest, Sha256};

use crate::cli::output::{Table, json};
use crate::engine::capability::container_fs;
use crate::engine::evidence::{Evidence, FileType, Pid, Vma};
use crate::engine::extract::{Extracted, ensure_outside_evidence, extract_memory, extract_to};
use crate::engine::findings::hex_string;

/// What to extract.
#[derive(Debug)]
pub struct ExtractArgs<'a> {
    /// The folder to write into.
    pub out: &'a Path,
    /// Overwrite existing files.
    pub force: bool,
    /// rootfs-diff files by path.
    pub files: &'a [String],
    /// Every regular file of the rootfs diff.
    pub all_files: bool,
    /// The process whose memory to extract.
    pub pid: Option<Pid>,
    /// A range: first address.
    pub addr: Option<u64>,
    /// A range: length.
    pub len: Option<u64>,
    /// The memory area containing this address.
    pub vma: Option<u64>,
    /// Every memory area of the process.
    pub all_vmas: bool,
    /// The objects saved beyond memory (of `pid` when given).
    pub saved: bool,
    /// Print JSON.
    pub json: bool,
}

/// Runs `podmortem extract`.
pub fn extract(
    ev: &dyn Evidence,
    evidence: &Path,
    args: &ExtractArgs<'_>,
    out: &mut dyn Write,
) -> Result<()> {
    let wants_memory = args.addr.is_some() || args.vma.is_some() || args.all_vmas;
    if args.files.is_empty() && !args.all_files && !wants_memory && !args.saved {
        bail!(
            "nothing to extract: give --file PATH, --all-files, --saved, or --pid with --addr/--len, --vma or --all-vmas"
        );
    }
    if wants_memory && args.pid.is_none() {
        bail!("--addr, --vma and --all-vmas need --pid");
    }
    if args.addr.is_some() != args.len.is_some() {
        bail!("--addr and --len go together");
    }
    ensure_outside_evidence(evidence, args.out)?;

    let mut done = Vec::new();
    let mut names: Vec<String> = args.files.to_vec();
    if args.all_files {
        let mut seen: std::collections::HashSet<String> = names.iter().cloned().collect();
        for e in container_fs(ev)?.entries()? {
            if e.kind == FileType::File && !e.deleted && seen.insert(e.path.clone()) {
                names.push(e.path);
            }
        }
    }
    for name in &names {
        let bytes = container_fs(ev)?.read_file(name)?;
        let rel = format!("rootfs/{name}");
        let path = extract_to(args.out, &rel, &bytes, args.force)?;
        done.push(Extracted {
            kind: "rootfs",
            source: name.clone(),
            pid: None,
            path,
            size: bytes.len() as u64,
            captured: bytes.len() as u64,
            sha256: Some(hex_string(&Sha256::digest(&bytes))),
        });
    }
    if let Some(pid) = args.pid.filter(|_| wants_memory) {
        for r in memory_ranges(ev, pid, args)? {
            done.push(extract_memory(ev, pid, r, args.out, args.force)?);
        }
    }
    if args.saved {
        done.extend(extract_saved(ev, args)?);
    }

    if args.json {
        return json(&done, out);
    }
    let mut t = Table::new(
        &["SIZE", "CAPTURED", "SHA256", "FILE", "FROM"],
        &["SIZE", "CAPTURED"],
    );
    for d in &done {
        t.row(vec![
            d.size.to_string(),
            d.captured.to_string(),
            d.sha256.clone().unwrap_or_else(|| "-".into()),
            d.path.display().to_string(),
            match d.pid {
                Some(p) => format!("pid {p} {}", d.source),
                None => d.source.clone(),
            },
        ]);
    }
    t.print(out)
}

/// Writes the objects saved beyond memory as `saved/NN-KIND-pidP-fdF[-QUEUE].bin` (`mapped`
/// for a file only mapped; `NN` keeps the names apart).
fn extract_saved(ev: &dyn Evidence, args: &ExtractArgs<'_>) -> Result<Vec<Extracted>> {
    let Some(data) = ev.saved_data() else {
        bail!(
            "--saved extracts what a checkpoint saved beyond memory; {} has none",
            ev.info().kind.describe()
        );
    };
    let pids = args.pid.map(|p| vec![p]);
    let walk = data.saved(pids.as_deref());
    super::tables::warn(&walk.problems);
    let mut done = Vec::new();
    for (i, s) in walk.items.iter().enumerate() {
        let o = &s.object;
        let kind = serde_json::to_value(o.kind)?;
        let mut name = format!("saved/{:02}-{}", i + 1, kind.as_str().unwrap_or("saved"));
        if let Some(pid) = o.pid {
            name.push_str(&format!("-pid{pid}"));
            match o.fd {
                Some(fd) => name.push_str(&format!("-fd{fd}")),
                None => name.push_str("-mapped"),
            }
        }
        if let Some(q) = o.queue {
            name.push_str(&format!(
                "-{}",
                serde_json::to_value(q)?.as_str().unwrap_or("")
            ));
        }
        name.push_str(".bin");
        let path = extract_to(args.out, &name, &s.bytes, args.force)?;
        done.push(Extracted {
            kind: "saved",
            source: o.place(),
            pid: o.pid,
            path,
            size: s.bytes.len() as u64,
            captured: s.bytes.len() as u64,
            sha256: Some(hex_string(&Sha256::digest(&s.bytes))),
        });
    }
    Ok(done)
}

/// The memory ranges asked for.
fn memory_ranges(ev: &dyn Evidence, pid: Pid, args: &ExtractArgs<'_>) -> Result<Vec<Range<u64>>> {
    let mut out = Vec::new();
    if let (Some(addr), Some(len)) = (args.addr, args.len) {
        if len == 0 {
            bail!("--len is 0");
        }
        let end = addr
            .checked_add(len)
            .with_context(|| format!("{addr:#x} + {len} wraps around the address space"))?;
        out.push(addr..end);
    }
    if args.vma.is_some() || args.all_vmas {
        let walk = ev.maps(pid)?;
        super::tables::warn(&walk.problems);
        let vmas: Vec<Vma> = walk.into_items();
        if let Some(a) = args.vma {
            let v = vmas
                .iter()
                .find(|v| v.contains(a))
                .with_context(|| format!("no memory area of pid {pid} contains {a:#x}"))?;
            out.push(v.start..v.end);
        }
        if args.all_vmas {
            out.extend(vmas.iter().map(|v| v.start..v.end));
        }
    }
    out.dedup();
    Ok(out)
}
