//! `podmortem containers`: each container's identity (with where each field was read), its
//! processes with the tree's marks, listeners, connections and mounts.

use std::io::Write;

use anyhow::Result;

use crate::cli::output::{Table, json, opt};
use crate::cli::tables::warn;
use crate::engine::evidence::Evidence;
use crate::engine::identity::{ContainerReport, Endpoint, report};
use crate::sanitize::sanitize;

/// `podmortem containers`: JSON is the array of containers; the text is a table, the host's
/// process count, then a block per container.
pub fn containers(ev: &dyn Evidence, as_json: bool, out: &mut dyn Write) -> Result<()> {
    let (rows, host) = report(ev)?;
    for r in &rows {
        let label = r.container.label();
        let named: Vec<String> = r.warnings.iter().map(|w| format!("{label}: {w}")).collect();
        warn(&named);
    }
    if as_json {
        return json(&rows, out);
    }
    let mut t = Table::new(
        &[
            "NAME",
            "RUNTIME",
            "POD",
            "NAMESPACE",
            "QOS",
            "ID",
            "MONITOR",
            "PROCS",
            "!",
        ],
        &["PROCS", "!"],
    );
    for r in &rows {
        let c = &r.container;
        let flagged = r
            .processes
            .iter()
            .filter(|p| p.suspicious_vmas.unwrap_or(0) > 0)
            .count();
        t.row(vec![
            c.name.clone().unwrap_or_else(|| "-".into()),
            opt(c.runtime.map(|r| r.name())),
            opt(c.pod.as_deref()),
            opt(c.namespace.as_deref()),
            opt(c.qos.map(|q| q.name())),
            opt(c.id.as_deref().map(|id| id.get(..12).unwrap_or(id))),
            match (&c.monitor, c.monitor_pid) {
                (Some(m), Some(p)) => format!("{m} {p}"),
                _ => "-".into(),
            },
            r.processes.len().to_string(),
            if flagged > 0 {
                flagged.to_string()
            } else {
                String::new()
            },
        ]);
    }
    t.print(out)?;
    writeln!(out, "host: {} processes in no container", host.len())?;
    for r in &rows {
        block(r, out)?;
    }
    Ok(())
}

/// One container in detail.
fn block(r: &ContainerReport, out: &mut dyn Write) -> Result<()> {
    let c = &r.container;
    writeln!(out)?;
    writeln!(out, "{}", sanitize(&c.label()))?;
    let field = |k: &str, v: Option<String>, out: &mut dyn Write| -> Result<()> {
        if let Some(v) = v {
            let src = c
                .sources
                .get(k)
                .map(|s| format!("  ({s})"))
                .unwrap_or_default();
            writeln!(out, "  {k:<12} {}{}", sanitize(&v), sanitize(&src))?;
        }
        Ok(())
    };
    field("id", c.id.clone(), out)?;
    field("name", c.name.clone(), out)?;
    field("runtime", c.runtime.map(|r| r.name().to_string()), out)?;
    field("oci_runtime", c.oci_runtime.clone(), out)?;
    field("image", c.image.clone(), out)?;
    field("pod", c.pod.clone(), out)?;
    field("namespace", c.namespace.clone(), out)?;
    field("pod_uid", c.pod_uid.clone(), out)?;
    field("qos", c.qos.map(|q| q.name().to_string()), out)?;
    field("sandbox", c.sandbox.then(|| "yes".to_string()), out)?;
    field("sandbox_id", c.sandbox_id.clone(), out)?;
    field("sandbox_pid", c.sandbox_pid.map(|p| p.to_string()), out)?;
    field("monitor_pid", c.monitor_pid.map(|p| p.to_string()), out)?;
    field("bundle", c.bundle.clone(), out)?;
    field("log_path", c.log_path.clone(), out)?;
    let procs: Vec<String> = r
        .processes
        .iter()
        .map(|p| {
            let mark = if p.suspicious_vmas.unwrap_or(0) > 0 {
                " !"
            } else {
                ""
            };
            format!("{} {}{mark}", p.pid, p.comm)
        })
        .collect();
    writeln!(out, "  processes    {}", sanitize(&procs.join(", ")))?;
    endpoints("listeners", &r.listeners, out)?;
    endpoints("connections", &r.connections, out)?;
    if let Some(mounts) = &r.mounts {
        let m: Vec<String> = mounts
            .iter()
            .map(|m| format!("{} ({})", m.mountpoint, m.fstype))
            .collect();
        writeln!(out, "  mounts       {}", sanitize(&m.join(", ")))?;
    }
    Ok(())
}

fn endpoints(what: &str, list: &[Endpoint], out: &mut dyn Write) -> Result<()> {
    if list.is_empty() {
        return Ok(());
    }
    let items: Vec<String> = list
        .iter()
        .map(|e| {
            let remote = e
                .remote
                .as_deref()
                .map(|r| format!(" -> {r}"))
                .unwrap_or_default();
            format!(
                "{} {}{remote} {} (pid {})",
                e.protocol, e.local, e.state, e.pid
            )
        })
        .collect();
    writeln!(out, "  {what:<12} {}", sanitize(&items.join(", ")))?;
    Ok(())
}
