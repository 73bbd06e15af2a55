//! `podmortem diff A B [C ...]`: the engine's peer diff, printed as text or JSON.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, Result};

use crate::cli::output::json;
use crate::cli::tables::warn;
use crate::cli::{Cli, open};
use crate::engine::diff::{DiffReport, Direction};
use crate::engine::evidence::Evidence;
use crate::sanitize::sanitize;

/// `podmortem diff`: opens every evidence, compares them (or, with `peers`, the named
/// containers of the one evidence), prints the report.
pub fn diff(
    cli: &Cli,
    paths: &[PathBuf],
    peers: &[String],
    as_json: bool,
    out: &mut dyn Write,
) -> Result<()> {
    let report = if peers.is_empty() {
        evidences(cli, paths)?
    } else {
        let [path] = paths else {
            anyhow::bail!(
                "--peers compares containers of one evidence: give one, not {}",
                paths.len()
            );
        };
        let ev = open(path, cli)?;
        let containers = crate::engine::identity::containers(&*ev)
            .with_context(|| path.display().to_string())?;
        let chosen = crate::engine::identity::select(&containers, peers)?;
        crate::engine::diff::peers(&*ev, &chosen).with_context(|| path.display().to_string())?
    };
    for peer in &report.peers {
        let named: Vec<String> = peer
            .warnings
            .iter()
            .map(|w| format!("{}: {w}", peer.evidence))
            .collect();
        warn(&named);
    }
    if as_json {
        return json(&report, out);
    }
    print(&report, out)
}

/// Opens and compares evidences.
fn evidences(cli: &Cli, paths: &[PathBuf]) -> Result<DiffReport> {
    if paths.len() < 2 {
        anyhow::bail!("a diff needs at least two evidences (or one with --peers)");
    }
    let mut evidences: Vec<Box<dyn Evidence>> = Vec::with_capacity(paths.len());
    for p in paths {
        evidences.push(open(p, cli)?);
    }
    let refs: Vec<&dyn Evidence> = evidences.iter().map(|e| &**e).collect();
    let labels: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
    let label_refs: Vec<&str> = labels.iter().map(String::as_str).collect();
    Ok(crate::engine::diff::diff(&refs, &label_refs)?)
}

/// The report as text: the baseline in short, then each peer's differences, rarest first.
fn print(r: &DiffReport, out: &mut dyn Write) -> Result<()> {
    let b = &r.baseline;
    let rule = if b.peers == 2 {
        "what both have (two peers: no majority)".to_string()
    } else {
        format!("what at least {} of {} have", b.majority, b.peers)
    };
    writeln!(out, "baseline: {rule}")?;
    writeln!(out, "  processes:")?;
    for p in &b.processes {
        writeln!(out, "    {}", sanitize(p))?;
    }
    if !b.listeners.is_empty() {
        writeln!(out, "  listeners: {}", sanitize(&b.listeners.join(", ")))?;
    }
    let counts: Vec<String> = b
        .artifacts
        .iter()
        .map(|(k, n)| format!("{n} {}", k.name()))
        .collect();
    writeln!(out, "  artifacts: {}", counts.join(", "))?;
    writeln!(
        out,
        "  code pages captured in every peer: {} compared, {} differ",
        b.code_pages.compared, b.code_pages.differing
    )?;
    for peer in &r.peers {
        writeln!(out)?;
        let n = peer.differences.len();
        if n == 0 {
            writeln!(out, "{}: no differences", sanitize(&peer.evidence))?;
            continue;
        }
        writeln!(
            out,
            "{}: {n} difference{}",
            sanitize(&peer.evidence),
            if n == 1 { "" } else { "s" }
        )?;
        for d in &peer.differences {
            let sign = match d.direction {
                Direction::Extra => '+',
                Direction::Missing => '-',
            };
            writeln!(
                out,
                "  {}/{} {sign} {:<7} {}",
                d.present_in,
                d.peers,
                d.kind.name(),
                sanitize(&d.description)
            )?;
            if let Some(i) = &d.instead_of {
                writeln!(out, "              instead of: {}", sanitize(i))?;
            }
        }
    }
    Ok(())
}
