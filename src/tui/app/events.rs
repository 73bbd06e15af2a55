//! What the workbench does with the messages of background jobs: each goes to the pane
//! (or the field) that asked, stale generations dropped there.

use crate::jobs::JobEvent;
use crate::tui::app::App;
use crate::tui::panes::{diff, processes, rootfs, search, triage};

impl App {
    /// Hands a job's message to the pane (or the field) that asked for it.
    pub(super) fn on_job(&mut self, ev: JobEvent) {
        match ev {
            JobEvent::Hashed { result } => match result {
                Ok(h) => self.evidence_sha256 = Some(h),
                Err(e) => self.error_msg(format!("evidence sha256: {e}")),
            },
            JobEvent::Extracted { result } => self.extracted(result),
            JobEvent::Marks { counts } => {
                for (pid, n) in counts {
                    self.processes
                        .marks
                        .insert(pid, processes::Marks { suspicious_vmas: n });
                }
            }
            JobEvent::Containers { containers } => {
                self.processes.containers = containers
                    .iter()
                    .filter_map(|c| Some((c.id.clone()?, c.describe())))
                    .collect();
            }
            JobEvent::Preview { generation, result } => {
                rootfs::on_preview(&mut self.rootfs, generation, result)
            }
            JobEvent::TriageProgress {
                generation,
                percent,
            } => triage::on_progress(&mut self.triage, generation, percent),
            JobEvent::Triage { generation, result } => {
                let cmds = triage::finished(&mut self.triage, generation, result);
                self.apply_all(cmds);
                // The end of a run is news only when nothing else is being said (the saved
                // findings loaded on open stay readable); the tab counts the results.
                if self.status.is_none()
                    && let Some(m) = triage::done_message(&self.triage)
                {
                    self.info_msg(m);
                }
            }
            JobEvent::Diff { result } => {
                let cmds = diff::finished(&mut self.diff, result);
                self.apply_all(cmds);
            }
            other => {
                let cmds = search::on_job(&mut self.search, other);
                self.apply_all(cmds);
            }
        }
    }
}
