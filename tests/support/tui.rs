//! Test support for the workbench: an App over evidence with inline jobs and a private data
//! folder, key injection through the real keymap, and rendering into a TestBackend.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::sync::{Arc, Mutex};

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use podmortem::jobs::{Emitter, JobEvent, Jobs};
use podmortem::tui::action::Action;
use podmortem::tui::app::{App, SessionOptions};
use podmortem::tui::{keymap, ui};
use ratatui::Terminal;
use ratatui::backend::TestBackend;

/// An app plus the queue its inline jobs report into.
pub struct Harness {
    /// The app.
    pub app: App,
    queue: Arc<Mutex<Vec<JobEvent>>>,
}

impl Harness {
    /// Opens evidence in an app of the given size, findings kept under `data_dir`.
    pub fn open(path: &Path, data_dir: &Path, size: (u16, u16)) -> Harness {
        Self::open_with(path, None, data_dir, size)
    }

    /// Opens evidence with symbols (kernel dumps).
    pub fn open_with(
        path: &Path,
        isf: Option<std::path::PathBuf>,
        data_dir: &Path,
        size: (u16, u16),
    ) -> Harness {
        let opts = podmortem::engine::open::OpenOptions {
            isf,
            ..Default::default()
        };
        let ev = podmortem::engine::open::open_evidence(path, &opts).unwrap();
        Self::from_evidence(Arc::from(ev), data_dir, size)
    }

    /// An app over evidence already open (a kernel dump opened with a private ISF cache).
    pub fn from_evidence(
        ev: Arc<dyn podmortem::engine::Evidence>,
        data_dir: &Path,
        size: (u16, u16),
    ) -> Harness {
        let queue: Arc<Mutex<Vec<JobEvent>>> = Arc::default();
        let q = queue.clone();
        let emit: Emitter = Arc::new(move |e| q.lock().unwrap().push(e));
        let opts = SessionOptions {
            data_dir: Some(data_dir.to_path_buf()),
        };
        let mut app = App::new(ev, Jobs::inline(emit), &opts);
        app.update(Action::Resize(size.0, size.1));
        let mut h = Harness { app, queue };
        h.drain();
        h
    }

    /// Delivers job messages to the app.
    pub fn drain(&mut self) {
        loop {
            let batch: Vec<JobEvent> = std::mem::take(&mut *self.queue.lock().unwrap());
            if batch.is_empty() {
                break;
            }
            for e in batch {
                self.app.update(Action::Job(e));
            }
        }
    }

    /// Presses a key through the real keymap.
    pub fn key(&mut self, code: KeyCode) {
        self.key_mod(code, KeyModifiers::NONE);
    }

    /// Presses a key with modifiers.
    pub fn key_mod(&mut self, code: KeyCode, m: KeyModifiers) {
        if let Some(a) = keymap::action_for(&self.app, KeyEvent::new(code, m)) {
            self.app.update(a);
        }
        self.drain();
    }

    /// Types text.
    pub fn typing(&mut self, text: &str) {
        for c in text.chars() {
            self.key(KeyCode::Char(c));
        }
    }

    /// Renders the screen.
    pub fn render(&self) -> Terminal<TestBackend> {
        let (w, h) = self.app.size;
        let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
        t.draw(|f| ui::draw(f, &self.app)).unwrap();
        t
    }

    /// The screen as text, one line per row.
    pub fn screen(&self) -> String {
        let t = self.render();
        let buf = t.backend().buffer();
        let mut out = String::new();
        for y in 0..buf.area.height {
            let mut line = String::new();
            for x in 0..buf.area.width {
                line.push_str(buf[(x, y)].symbol());
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
        out
    }
}
