//! `podmortem triage`: the engine's triage rules, ranked, as a table or JSON.

use std::io::Write;
use std::sync::atomic::AtomicBool;

use anyhow::Result;

use crate::cli::output::{Table, json};
use crate::cli::tables::warn;
use crate::engine::evidence::Evidence;
use crate::engine::triage::{Detection, Options, triage as run};

/// `podmortem triage`: runs every rule, prints the detections ranked by severity then rule
/// (JSON: the list of [`Detection`]s).
pub fn triage(ev: &dyn Evidence, opts: &Options, as_json: bool, out: &mut dyn Write) -> Result<()> {
    let cancel = AtomicBool::new(false);
    let report = run(ev, opts, &cancel, &mut |_| {})?;
    warn(&report.problems);
    if as_json {
        return json(&report.detections, out);
    }
    if report.detections.is_empty() {
        writeln!(
            out,
            "nothing stands out (at or above {})",
            opts.min_severity
        )?;
        return Ok(());
    }
    let mut t = Table::new(
        &["SEVERITY", "RULE", "PID", "COMM", "OBJECT", "REASON"],
        &["PID"],
    );
    for d in &report.detections {
        t.row(vec![
            d.severity.to_string(),
            d.rule.to_string(),
            d.pid.map_or_else(|| "-".to_string(), |p| p.to_string()),
            d.comm.clone().unwrap_or_else(|| "-".to_string()),
            object(d),
            d.reason.clone(),
        ]);
    }
    t.print(out)
}

/// The object of a detection in a few words: its module, range, address, port or path.
fn object(d: &Detection) -> String {
    if let Some(m) = &d.module {
        return match d.address {
            Some(a) => format!("module {m} {a:#x}"),
            None => format!("module {m}"),
        };
    }
    if let (Some(s), Some(e)) = (d.start, d.end) {
        return format!("{s:#x}-{e:#x}");
    }
    if let Some(a) = d.address {
        return format!("{a:#x}");
    }
    if let Some(p) = d.port {
        return match d.fd {
            Some(fd) => format!("port {p} fd {fd}"),
            None => format!("port {p}"),
        };
    }
    if let Some(v) = &d.variable {
        return format!("${v}");
    }
    d.path.clone().unwrap_or_else(|| "-".to_string())
}
