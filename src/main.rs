//! The `podmortem` binary: parses the command line and hands off to the CLI or the workbench.

use std::process::ExitCode;

use clap::Parser;
use podmortem::cli::{Cli, Command, run};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match (&cli.command, &cli.evidence) {
        (Some(cmd), _) => run(&cli, cmd),
        (None, Some(path)) => run(
            &cli,
            &Command::Info(podmortem::cli::Target {
                evidence: path.clone(),
                json: false,
            }),
        ),
        (None, None) => {
            eprintln!("podmortem: give a command or EVIDENCE (see --help)");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            if is_broken_pipe(&e) {
                return ExitCode::SUCCESS;
            }
            eprintln!(
                "podmortem: error: {}",
                podmortem::sanitize::sanitize(&format!("{e:#}"))
            );
            ExitCode::FAILURE
        }
    }
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
            || c.downcast_ref::<serde_json::Error>()
                .is_some_and(|j| j.io_error_kind() == Some(std::io::ErrorKind::BrokenPipe))
    })
}
