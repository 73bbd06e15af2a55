//! The `podmortem` binary: parses the command line and hands off to the CLI or the workbench.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser;
use podmortem::cli::{Cli, Command, demo_path, open, run};

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Some(flag) = cli.misplaced_workbench_flag() {
        eprintln!(
            "podmortem: {flag} before a command is the workbench's (podmortem EVIDENCE {flag}); \
             a command takes its own after its name (podmortem triage EVIDENCE {flag})"
        );
        return ExitCode::from(2);
    }
    if let Err(e) = podmortem::log::init(cli.log.as_deref()) {
        let _ = writeln!(std::io::stderr(), "podmortem: warning: no log: {e}");
    }
    let result = match (&cli.command, cli.evidence.split_first()) {
        (Some(Command::Demo), _) => demo_path().and_then(|p| workbench(&cli, &p, &[])),
        (Some(cmd), _) => run(&cli, cmd),
        (None, Some((path, peers))) => workbench(&cli, path, peers),
        (None, None) => {
            eprintln!("podmortem: give EVIDENCE to open the workbench, or a command (see --help)");
            return ExitCode::from(2);
        }
    };
    podmortem::log::peak_memory();
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e:#}");
            if is_broken_pipe(&e) {
                return ExitCode::SUCCESS;
            }
            // Not eprintln!: it panics when stderr is gone (a hung-up terminal).
            let _ = writeln!(
                std::io::stderr(),
                "podmortem: error: {}",
                podmortem::sanitize::sanitize(&podmortem::cli::error_text(&e))
            );
            ExitCode::FAILURE
        }
    }
}

/// Opens the interactive workbench on `path`, compared with `peers` in its Diff pane (or,
/// without a terminal, prints `info`, or with peers the `diff`).
fn workbench(cli: &Cli, path: &std::path::Path, peers: &[PathBuf]) -> anyhow::Result<()> {
    // Rules first: a rule file that does not compile fails before the evidence opens and
    // before the terminal is put in raw mode.
    let triage = cli.workbench_triage()?;
    if !std::io::stdout().is_terminal() || !std::io::stdin().is_terminal() {
        if !peers.is_empty() {
            eprintln!(
                "podmortem: not a terminal: printing `diff` instead of opening the workbench"
            );
            let mut evidences = vec![path.to_path_buf()];
            evidences.extend(peers.iter().cloned());
            return run(
                cli,
                &Command::Diff {
                    evidences,
                    json: false,
                    peers: Vec::new(),
                },
            );
        }
        eprintln!("podmortem: not a terminal: printing `info` instead of opening the workbench");
        return run(
            cli,
            &Command::Info(podmortem::cli::Target {
                evidence: path.to_path_buf(),
                json: false,
            }),
        );
    }
    let ev = open(path, cli)?;
    let mut others = Vec::with_capacity(peers.len());
    for p in peers {
        others.push((p.display().to_string(), Arc::from(open(p, cli)?)));
    }
    podmortem::tui::run_with_peers(Arc::from(ev), others, triage)
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
            || c.downcast_ref::<serde_json::Error>()
                .is_some_and(|j| j.io_error_kind() == Some(std::io::ErrorKind::BrokenPipe))
    })
}
