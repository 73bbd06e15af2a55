//! Text prompts and what they start: findings (new, edited, drafts kept on exit), export,
//! extraction.

use std::path::PathBuf;

use crate::engine::capability::container_fs;
use crate::engine::evidence::Pid;
use crate::engine::extract::Extracted;
use crate::engine::findings::export;
use crate::sanitize::sanitize;
use crate::tui::app::{App, Ctx, Level, Overlay, PromptKind};
use crate::tui::panes::{hex, processes};
use crate::tui::strings::msg;
use crate::units::human_size;

impl App {
    /// Saves the findings now (atomic); reports failures in the status line.
    pub fn save_findings(&mut self) {
        if let Some(store) = &self.store
            && let Err(e) = store.save(&self.session)
        {
            // The reason first: a long path must not push it off an 80-column status line.
            let msg = match e {
                crate::engine::error::Error::Io { path, source } => {
                    msg::not_saved(source, Some(&path))
                }
                other => msg::not_saved(other, None),
            };
            self.error_msg(msg);
        }
    }

    /// Keeps a finding note still being typed (the workbench is ending: a signal, a lost
    /// terminal) as a finding tagged `draft`, so no words the analyst typed are lost.
    pub fn keep_draft(&mut self) {
        let Some(Overlay::Prompt(prompt)) = self.overlay.take() else {
            return;
        };
        let text = prompt.text();
        let id = match prompt.kind {
            PromptKind::NewFinding(target) => {
                let (note, tags) = split_tags(&text);
                self.session.add(target, note, tags)
            }
            PromptKind::EditNote(id) if !text.trim().is_empty() => {
                let (note, _) = split_tags(&text);
                match self.session.get_mut(id) {
                    Some(f) => f.note = note,
                    None => return,
                }
                id
            }
            _ => return,
        };
        if let Some(f) = self.session.get_mut(id) {
            if !f.tags.iter().any(|t| t == "draft") {
                f.tags.push("draft".into());
            }
            f.updated = crate::engine::time::now_rfc3339();
        }
    }

    pub(super) fn submit_prompt(&mut self, kind: PromptKind, text: String) {
        match kind {
            PromptKind::Filter => processes::set_filter(&mut self.processes, text),
            PromptKind::Goto => {
                let sel = self.selected_process().map(|p| p.pid);
                let cx = ctx!(self, sel, &self.search.hits, &self.search.last_pattern);
                let cmds = hex::goto(&mut self.hex, &cx, &text);
                for c in cmds {
                    self.apply(c);
                }
            }
            PromptKind::NewFinding(target) => {
                let (note, tags) = split_tags(&text);
                let id = self.session.add(target, note, tags);
                self.save_findings();
                if !matches!(self.status, Some((_, Level::Error))) {
                    self.info_msg(msg::finding_saved(id, self.session.findings.len()));
                }
            }
            PromptKind::EditNote(id) => {
                let (note, tags) = split_tags(&text);
                if let Some(f) = self.session.get_mut(id) {
                    f.note = note;
                    for t in tags {
                        if !f.tags.contains(&t) {
                            f.tags.push(t);
                        }
                    }
                    f.updated = crate::engine::time::now_rfc3339();
                }
                self.save_findings();
            }
            PromptKind::EditTags(id) => {
                if let Some(f) = self.session.get_mut(id) {
                    f.tags = text
                        .split([',', ' '])
                        .map(|t| t.trim().trim_start_matches('#').to_string())
                        .filter(|t| !t.is_empty())
                        .collect();
                    f.updated = crate::engine::time::now_rfc3339();
                }
                self.save_findings();
            }
            PromptKind::ExportPath => self.export_to(PathBuf::from(text.trim())),
            PromptKind::ExtractDir(path) => self.extract_file(&path, text.trim()),
            PromptKind::ExtractVma { pid, range } => self.extract_vma(pid, range, text.trim()),
        }
    }

    /// Writes the findings export to `path`.
    pub fn export_to(&mut self, path: PathBuf) {
        if path.as_os_str().is_empty() {
            return self.error_msg(msg::NO_PATH);
        }
        let doc = export(&*self.ev, &self.session, self.evidence_sha256.clone());
        let mut bytes = Vec::new();
        let result = crate::sanitize::json::to_writer_pretty(&mut bytes, &doc)
            .map_err(|e| e.to_string())
            .and_then(|()| {
                crate::engine::findings::write_atomic(&path, &bytes).map_err(|e| e.to_string())
            });
        match result {
            Ok(()) => self.info_msg(msg::exported(
                doc.findings.len(),
                &path,
                doc.evidence.sha256.is_none(),
            )),
            Err(e) => self.error_msg(msg::failed("export", e)),
        }
    }

    /// Extracts a rootfs file into a folder (names cannot escape it; nothing is overwritten).
    fn extract_file(&mut self, path: &str, dir: &str) {
        if dir.is_empty() {
            return self.error_msg(msg::NO_FOLDER);
        }
        let bytes = match container_fs(&*self.ev).and_then(|fs| fs.read_file(path)) {
            Ok(b) => b,
            Err(e) => return self.error_msg(format!("cannot read {}: {e}", sanitize(path))),
        };
        let dir = std::path::Path::new(dir);
        let written = crate::engine::extract::ensure_outside_evidence(&self.info.path, dir)
            .and_then(|()| crate::engine::extract::extract_to(dir, path, &bytes, false));
        match written {
            Ok(p) => self.info_msg(format!(
                "extracted to {}",
                sanitize(&p.display().to_string())
            )),
            Err(e) => self.error_msg(msg::refused(e)),
        }
    }

    /// Starts writing a memory area into a folder (never into the evidence), in the
    /// background.
    fn extract_vma(&mut self, pid: Pid, range: std::ops::Range<u64>, dir: &str) {
        if dir.is_empty() {
            return self.error_msg(msg::NO_FOLDER);
        }
        let dir = std::path::PathBuf::from(dir);
        if let Err(e) = crate::engine::extract::ensure_outside_evidence(&self.info.path, &dir) {
            return self.error_msg(msg::refused(e));
        }
        self.info_msg(format!(
            "extracting pid {pid} {:#x}-{:#x}…",
            range.start, range.end
        ));
        self.jobs.extract_memory(self.ev.clone(), pid, range, dir);
    }

    /// Reports a finished memory extraction.
    pub(super) fn extracted(&mut self, result: Result<Extracted, String>) {
        match result {
            Ok(x) => self.info_msg(format!(
                "extracted to {} ({}, {} captured{})",
                x.path.display(),
                human_size(x.size),
                human_size(x.captured),
                x.sha256
                    .map(|h| format!(", sha256 {}", h.get(..16).unwrap_or_default()))
                    .unwrap_or_default()
            )),
            Err(e) => self.error_msg(msg::failed("extraction", e)),
        }
    }
}

/// Splits `#tags` out of a note.
pub fn split_tags(text: &str) -> (String, Vec<String>) {
    let mut tags = Vec::new();
    for word in text.split_whitespace() {
        if let Some(t) = word.strip_prefix('#')
            && !t.is_empty()
            && !tags.iter().any(|x: &String| x == t)
        {
            tags.push(t.to_string());
        }
    }
    (text.trim().to_string(), tags)
}
