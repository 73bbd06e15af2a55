//! The interactive workbench: a ratatui application over [`crate::engine::Evidence`].
//!
//! The Elm architecture: keys become [`action::Action`]s through the [`keymap`], only
//! [`app::App::update`] changes state, and [`ui::draw`] is a pure function of the state.
//! One channel carries terminal events, job messages and signals; the loop draws, blocks
//! for one event, drains the rest, and repeats (no ticks: idle means asleep; only a watchdog
//! thread wakes twice a second to notice a terminal that vanished without a signal).

pub mod action;
pub mod app;
pub mod command;
pub mod keymap;
pub mod layout;
pub mod list;
pub mod panes;
pub mod paths;
pub mod strings;
pub mod theme;
pub mod ui;

use std::sync::Arc;
use std::sync::mpsc;

use anyhow::{Context, Result};
use crossterm::event::{Event as TermEvent, KeyEvent};

use crate::engine::evidence::Evidence;
use crate::engine::triage::Options as TriageOptions;
use crate::jobs::{Emitter, JobEvent, Jobs};
use crate::tui::action::Action;
use crate::tui::app::{App, SessionOptions};

enum Event {
    Key(KeyEvent),
    Resize(u16, u16),
    Job(JobEvent),
    Quit,
    /// A memory-mapped evidence file shrank while read (see `engine::mapped::guard`).
    EvidenceChanged,
}

/// Runs the workbench on evidence until the analyst quits (or SIGTERM/SIGHUP arrives).
pub fn run(ev: Arc<dyn Evidence>) -> Result<()> {
    run_with_peers(ev, Vec::new(), TriageOptions::default())
}

/// Runs the workbench on evidence, compared with `peers` (label, evidence) in the Diff
/// pane, its Triage pane running triage with `triage` (the YARA rules of `--yara`), until
/// the analyst quits.
pub fn run_with_peers(
    ev: Arc<dyn Evidence>,
    peers: Vec<(String, Arc<dyn Evidence>)>,
    triage: TriageOptions,
) -> Result<()> {
    let (tx, rx) = mpsc::channel::<Event>();
    let emit: Emitter = {
        let tx = tx.clone();
        Arc::new(move |e| {
            let _ = tx.send(Event::Job(e));
        })
    };
    let mut signals = signal_hook::iterator::Signals::new([
        signal_hook::consts::SIGTERM,
        signal_hook::consts::SIGHUP,
        signal_hook::consts::SIGQUIT,
    ])
    .context("cannot install signal handlers")?;
    {
        let tx = tx.clone();
        std::thread::spawn(move || {
            if signals.forever().next().is_some() {
                let _ = tx.send(Event::Quit);
            }
        });
    }
    let mut app = App::new(ev, Jobs::threaded(emit), &SessionOptions::default());
    app.triage_options = triage;
    app.compare_with(peers);
    let mut terminal = ratatui::init();
    {
        let tx = tx.clone();
        std::thread::spawn(move || {
            loop {
                let sent = match crossterm::event::read() {
                    Ok(TermEvent::Key(k)) => tx.send(Event::Key(k)),
                    Ok(TermEvent::Resize(w, h)) => tx.send(Event::Resize(w, h)),
                    Ok(_) => Ok(()),
                    Err(_) => tx.send(Event::Quit),
                };
                if sent.is_err() {
                    break;
                }
            }
        });
    }
    // A hung-up terminal (dropped SSH line) may not reach us as SIGHUP, and reads from it
    // may just return nothing forever: notice that the terminal is gone and end.
    {
        let tx = tx.clone();
        std::thread::spawn(move || {
            use std::io::IsTerminal;
            loop {
                std::thread::sleep(std::time::Duration::from_millis(500));
                // A read of evidence that shrank (in a job, between keys) is noticed here too.
                if crate::engine::mapped::guard::faulted() {
                    let _ = tx.send(Event::EvidenceChanged);
                    break;
                }
                if !std::io::stdin().is_terminal() || !std::io::stdout().is_terminal() {
                    let _ = tx.send(Event::Quit);
                    break;
                }
            }
        });
    }
    let run_loop = || -> Result<()> {
        let size = terminal.size()?;
        app.update(Action::Resize(size.width, size.height));
        let mut first_frame = true;
        loop {
            terminal.draw(|f| ui::draw(f, &app))?;
            if std::mem::take(&mut first_frame) {
                app.after_first_frame();
                continue;
            }
            // Sleep until something happens, unless a pane has work left in steps: then
            // tick (the workbench idles at 0% CPU otherwise).
            let first = if app.busy() {
                match rx.recv_timeout(std::time::Duration::from_millis(5)) {
                    Ok(e) => Some(e),
                    Err(mpsc::RecvTimeoutError::Timeout) => None,
                    Err(mpsc::RecvTimeoutError::Disconnected) => break,
                }
            } else {
                let Ok(e) = rx.recv() else { break };
                Some(e)
            };
            match first {
                Some(e) => handle(&mut app, e),
                None => app.update(Action::Tick),
            }
            while let Ok(e) = rx.try_recv() {
                handle(&mut app, e);
            }
            // The evidence shrank under its map: what it shows now may be zeros. End the
            // session like a hang-up (findings saved, terminal restored) and say why.
            crate::engine::mapped::check()?;
            if app.should_quit {
                break;
            }
        }
        Ok(())
    };
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(run_loop));
    // Findings first, before touching a terminal that may be gone: a note being typed when
    // the session ended (dropped SSH, SIGTERM, a panic) is kept as a draft.
    app.keep_draft();
    app.save_findings();
    // Errors are ignored: a hung-up terminal cannot be restored, and saying so would fail too.
    let _ = ratatui::try_restore();
    match result {
        Ok(r) => r,
        Err(panic) => std::panic::resume_unwind(panic),
    }
}

fn handle(app: &mut App, e: Event) {
    match e {
        Event::Key(k) => {
            // Debug builds only: a key that panics, so tests can check that a panic still
            // saves the findings and restores the terminal.
            #[cfg(debug_assertions)]
            if k.code == crossterm::event::KeyCode::F(12)
                && std::env::var_os("PODMORTEM_TEST_PANIC_KEY").is_some()
            {
                panic!("test panic (F12 with PODMORTEM_TEST_PANIC_KEY set)");
            }
            if let Some(a) = keymap::action_for(app, k) {
                app.update(a);
            }
        }
        Event::Resize(w, h) => app.update(Action::Resize(w, h)),
        Event::Job(j) => app.update(Action::Job(j)),
        Event::Quit => app.should_quit = true,
        // Reported by the loop's check after this batch of events.
        Event::EvidenceChanged => {}
    }
}
