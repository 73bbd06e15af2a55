//! The listing commands: info, ps, maps, env, files, rootfs.

use std::io::Write;

use anyhow::{Context, Result};
use serde::Serialize;

use crate::cli::output::{Table, json, opt};
use crate::engine::capability::container_fs;
use crate::engine::evidence::{Evidence, FileType, Pid, Process, tree_order};
use crate::engine::time::format_time;
use crate::sanitize::{sanitize, sanitize_bytes};
use crate::units::human_size;

/// `podmortem info`.
pub fn info(ev: &dyn Evidence, as_json: bool, out: &mut dyn Write) -> Result<()> {
    let info = ev.info();
    if as_json {
        return json(&info, out);
    }
    writeln!(
        out,
        "evidence:  {}",
        sanitize(&info.path.display().to_string())
    )?;
    writeln!(
        out,
        "kind:      {}",
        serde_json::to_value(info.kind)?.as_str().unwrap_or("?")
    )?;
    writeln!(out, "format:    {}", info.format)?;
    if info.size > 0 {
        writeln!(out, "size:      {} bytes", info.size)?;
    }
    writeln!(
        out,
        "engine:    {}",
        sanitize(info.engine.as_deref().unwrap_or("-"))
    )?;
    writeln!(out, "title:     {}", sanitize(&info.title))?;
    for (k, v) in &info.details {
        print_detail(out, k, v, 0)?;
    }
    for w in &info.warnings {
        writeln!(out, "warning:   {}", sanitize(w))?;
    }
    Ok(())
}

fn print_detail(out: &mut dyn Write, key: &str, v: &serde_json::Value, depth: usize) -> Result<()> {
    let pad = "  ".repeat(depth);
    match v {
        serde_json::Value::Null => Ok(()),
        serde_json::Value::Object(map) if map.is_empty() => Ok(()),
        serde_json::Value::Array(a) if a.is_empty() => Ok(()),
        serde_json::Value::Object(map) => {
            writeln!(out, "{pad}{}:", sanitize(key))?;
            for (k, v) in map {
                print_detail(out, k, v, depth + 1)?;
            }
            Ok(())
        }
        serde_json::Value::Array(a) if a.iter().all(|x| !x.is_object() && !x.is_array()) => {
            let items: Vec<String> = a.iter().map(scalar).collect();
            writeln!(
                out,
                "{pad}{}: {}",
                sanitize(key),
                sanitize(&items.join(" "))
            )?;
            Ok(())
        }
        serde_json::Value::Array(a) => {
            writeln!(out, "{pad}{}:", sanitize(key))?;
            for (i, x) in a.iter().enumerate() {
                print_detail(out, &format!("[{i}]"), x, depth + 1)?;
            }
            Ok(())
        }
        other => {
            writeln!(out, "{pad}{}: {}", sanitize(key), sanitize(&scalar(other)))?;
            Ok(())
        }
    }
}

fn scalar(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// `podmortem ps`.
pub fn ps(ev: &dyn Evidence, threads: bool, as_json: bool, out: &mut dyn Write) -> Result<()> {
    let procs = ev.processes()?;
    if as_json {
        return json(&procs, out);
    }
    let mut t = Table::new(
        &[
            "PID", "PPID", "PGID", "SID", "UID", "GID", "THR", "STATE", "COMM", "CMDLINE",
        ],
        &["PID", "PPID", "PGID", "SID", "UID", "GID", "THR"],
    );
    for (depth, p) in tree_order(&procs) {
        t.row(vec![
            p.pid.to_string(),
            p.ppid.to_string(),
            p.pgid.to_string(),
            p.sid.to_string(),
            opt(p.uid),
            opt(p.gid),
            p.threads.len().to_string(),
            p.state.clone(),
            format!("{}{}", "  ".repeat(depth), p.comm),
            p.cmdline.join(" "),
        ]);
        if threads {
            for th in &p.threads {
                t.row(vec![
                    format!("{}", th.tid),
                    p.pid.to_string(),
                    String::new(),
                    String::new(),
                    String::new(),
                    String::new(),
                    String::new(),
                    String::new(),
                    format!("{}  [thread] {}", "  ".repeat(depth), th.comm),
                    String::new(),
                ]);
            }
        }
    }
    t.print(out)
}

/// `podmortem maps`.
pub fn maps(ev: &dyn Evidence, pid: Pid, as_json: bool, out: &mut dyn Write) -> Result<()> {
    let maps = ev.maps(pid)?;
    warn(&maps.problems);
    if as_json {
        return json(&maps.items, out);
    }
    let mut t = Table::new(
        &["START", "END", "PERMS", "PGOFF", "SIZE", "KIND", "PATH"],
        &["PGOFF", "SIZE"],
    );
    for v in &maps {
        let kind = serde_json::to_value(v.kind)?
            .as_str()
            .unwrap_or("?")
            .to_string();
        let flag = if v.is_suspicious() { " !" } else { "" };
        t.row(vec![
            format!("{:016x}", v.start),
            format!("{:016x}", v.end),
            format!("{}{flag}", v.perms),
            format!("{:x}", v.pgoff),
            human_size(v.size()),
            kind,
            v.path.clone().unwrap_or_default(),
        ]);
    }
    t.print(out)
}

#[derive(Serialize)]
struct EnvOut {
    pid: Pid,
    comm: String,
    env: Vec<String>,
}

fn selected(ev: &dyn Evidence, pid: Option<Pid>) -> Result<Vec<Process>> {
    let procs = ev.processes()?;
    match pid {
        None => Ok(procs),
        Some(pid) => {
            let p = procs.into_iter().find(|p| p.pid == pid);
            Ok(vec![
                p.with_context(|| format!("no process with pid {pid}"))?,
            ])
        }
    }
}

/// `podmortem env`.
pub fn env(ev: &dyn Evidence, pid: Option<Pid>, as_json: bool, out: &mut dyn Write) -> Result<()> {
    let mut all = Vec::new();
    for p in selected(ev, pid)? {
        let env = ev.environment(p.pid)?;
        all.push(EnvOut {
            pid: p.pid,
            comm: p.comm,
            env,
        });
    }
    if as_json {
        return json(&all, out);
    }
    let mut t = Table::new(&["PID", "COMM", "VARIABLE"], &["PID"]);
    for e in &all {
        for v in &e.env {
            t.row(vec![e.pid.to_string(), e.comm.clone(), v.clone()]);
        }
    }
    t.print(out)
}

/// `podmortem files`.
pub fn files(
    ev: &dyn Evidence,
    pid: Option<Pid>,
    as_json: bool,
    out: &mut dyn Write,
) -> Result<()> {
    let mut all = Vec::new();
    for p in selected(ev, pid)? {
        let files = ev.files(p.pid)?;
        warn(&files.problems);
        all.extend(files);
    }
    if as_json {
        return json(&all, out);
    }
    let mut t = Table::new(&["PID", "FD", "TYPE", "PATH", "DETAILS"], &["PID", "FD"]);
    for f in &all {
        let details: Vec<String> = f
            .details
            .entries()
            .iter()
            .map(|(k, v)| match *k {
                // Queued or kept bytes: the start here, all of them (up to 4 KiB) in --json.
                "recv_queue" | "send_queue" | "contents" => {
                    let hex = v.to_string();
                    match hex.get(..64).filter(|_| hex.len() > 64) {
                        Some(head) => format!("{k}={head}..."),
                        None => format!("{k}={hex}"),
                    }
                }
                _ => format!("{k}={v}"),
            })
            .collect();
        t.row(vec![
            f.pid.to_string(),
            f.fd.map_or_else(|| f.kind.clone(), |fd| fd.to_string()),
            f.kind.clone(),
            f.path.clone(),
            details.join(" "),
        ]);
    }
    t.print(out)
}

/// Says on stderr that a list may be incomplete, and why (stdout stays clean for `jq`).
pub(super) fn warn(warnings: &[String]) {
    let mut err = std::io::stderr().lock();
    for w in warnings {
        let _ = writeln!(
            err,
            "podmortem: warning: {} (the list may be incomplete)",
            sanitize(w)
        );
    }
}

/// `podmortem rootfs`.
/// `podmortem mounts`: the container's mounts (images joined with the spec).
pub fn mounts(ev: &dyn Evidence, as_json: bool, out: &mut dyn Write) -> Result<()> {
    let mounts = container_fs(ev)?.mounts();
    if as_json {
        return json(&mounts, out);
    }
    let mut t = Table::new(
        &["MOUNTPOINT", "TYPE", "CONTENTS", "SOURCE", "OPTIONS"],
        &[],
    );
    for m in &mounts {
        let source = match (&m.host_source, m.root.as_deref()) {
            (Some(h), _) if h != &m.source => h.clone(),
            (_, Some(r)) if r != "/" => format!("{}:{r}", m.source),
            _ => m.source.clone(),
        };
        let contents = match (&m.saved, &m.external) {
            (Some(s), _) => format!("saved: {}", s.rsplit('/').next().unwrap_or(s)),
            (None, Some(_)) => "external".to_string(),
            (None, None) => "-".to_string(),
        };
        t.row(vec![
            m.mountpoint.clone(),
            m.fstype.clone(),
            contents,
            source,
            m.options.join(","),
        ]);
    }
    t.print(out)
}

pub fn rootfs(
    ev: &dyn Evidence,
    cat: Option<&str>,
    as_json: bool,
    out: &mut dyn Write,
) -> Result<()> {
    if let Some(path) = cat {
        let bytes = container_fs(ev)?.read_file(path)?;
        if as_json {
            return json(
                &serde_json::json!({"path": path, "size": bytes.len(), "text": String::from_utf8_lossy(&bytes)}),
                out,
            );
        }
        // Raw bytes when redirected, sanitised text on a terminal.
        if std::io::IsTerminal::is_terminal(&std::io::stdout()) {
            write!(
                out,
                "{}",
                sanitize_bytes(&bytes)
                    .replace("\\x0a", "\n")
                    .replace("\\x09", "\t")
            )?;
        } else {
            out.write_all(&bytes)?;
        }
        return Ok(());
    }
    let entries = container_fs(ev)?.entries()?;
    if as_json {
        return json(&entries, out);
    }
    let mut t = Table::new(
        &["TYPE", "MODE", "UID", "GID", "SIZE", "MTIME", "IN", "PATH"],
        &["SIZE", "UID", "GID"],
    );
    for e in &entries {
        let kind = if e.deleted {
            "deleted".to_string()
        } else {
            serde_json::to_value(e.kind)?
                .as_str()
                .unwrap_or("?")
                .to_string()
        };
        let mut path = e.path.clone();
        if let Some(l) = &e.link {
            path.push_str(if e.kind == FileType::Hardlink {
                " link to "
            } else {
                " -> "
            });
            path.push_str(l);
        }
        if e.credential {
            path.push_str("  [credential]");
        }
        t.row(vec![
            kind,
            format!("{:04o}", e.mode & 0o7777),
            e.uid.to_string(),
            e.gid.to_string(),
            e.size.to_string(),
            format_time(e.mtime),
            e.layer().to_string(),
            path,
        ]);
    }
    t.print(out)
}
