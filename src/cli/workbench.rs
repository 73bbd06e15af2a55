//! The workbench's own options (`podmortem EVIDENCE --yara RULES`, `--no-yara`): what its
//! Triage pane runs, made before the terminal is touched, with the same rule loading as
//! `podmortem triage`.

use anyhow::Result;

use crate::cli::{Cli, Command, triage};

impl Cli {
    /// How the workbench's Triage pane runs triage: with `--yara RULES` the bundled rules
    /// and those, physical memory scanned too (as `podmortem triage --yara`); with
    /// `--no-yara` none; else the bundled ones. A rule file that does not compile is an
    /// error naming the file and line, and the workbench does not open.
    pub fn workbench_triage(&self) -> Result<crate::engine::triage::Options> {
        Ok(crate::engine::triage::Options {
            yara: triage::yara_rules(self.yara.as_deref(), self.no_yara)?,
            yara_physical: self.yara.is_some(),
            ..Default::default()
        })
    }

    /// The workbench's own options given with a command other than `demo`, where nothing
    /// would use them: `--yara` or `--no-yara` (a command's own flags come after its name).
    pub fn misplaced_workbench_flag(&self) -> Option<&'static str> {
        let workbench_only = self.yara.is_some() || self.no_yara;
        match &self.command {
            Some(Command::Demo) | None => None,
            Some(_) if workbench_only => Some(if self.no_yara { "--no-yara" } else { "--yara" }),
            Some(_) => None,
        }
    }
}
