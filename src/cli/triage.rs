//! `podmortem triage`: the engine's triage rules, ranked, as a table or JSON.

use std::io::Write;
use std::sync::atomic::AtomicBool;

use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, Result};

use crate::cli::output::{Table, json};
use crate::cli::tables::warn;
use crate::engine::evidence::Evidence;
use crate::engine::triage::{Detection, Options, YaraRules, triage as run};
use crate::engine::yara::Rules;
use crate::sanitize::sanitize;

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

/// The YARA rules of `podmortem triage`: none with `--no-yara`, the bundled ones and those
/// of `--yara RULES` (compile errors name the file and line), or the bundled ones.
pub fn yara_rules(path: Option<&Path>, off: bool) -> Result<YaraRules> {
    if off {
        return Ok(YaraRules::Off);
    }
    let Some(path) = path else {
        return Ok(YaraRules::Bundled);
    };
    let rules = Rules::compile(true, Some(path)).context("YARA rules")?;
    let mut err = std::io::stderr().lock();
    for w in rules.warnings() {
        let _ = writeln!(err, "podmortem: warning: {}", sanitize(w));
    }
    Ok(YaraRules::Rules(Arc::new(rules)))
}

/// The object of a detection in a few words: its module, range, address, port or path.
fn object(d: &Detection) -> String {
    if let Some(m) = &d.module {
        return match d.address {
            Some(a) => format!("module {m} {a:#x}"),
            None => format!("module {m}"),
        };
    }
    if let Some(p) = d.bpf_program.as_deref().filter(|p| !p.is_empty()) {
        return match d.address {
            Some(a) => format!("bpf {p} {a:#x}"),
            None => format!("bpf {p}"),
        };
    }
    if let Some(a) = d.phys_address {
        return format!("phys {a:#x}");
    }
    // A YARA match: its address (the area is in the JSON).
    if d.yara.is_some()
        && let Some(a) = d.address
    {
        return format!("{a:#x}");
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
