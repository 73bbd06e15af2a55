//! Background jobs: the one place that spawns threads.
//!
//! A job runs on its own thread, reports through an emitter (the TUI's event channel), sends
//! progress as a percentage only when it changes, publishes results in growing batches, and
//! checks a cancel flag. Every job carries a generation id: a new search cancels the old one,
//! and the app drops messages whose generation is stale. For tests, an inline runner runs
//! jobs on the calling thread so that no test sleeps.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use regex::bytes::Regex;
use sha2::{Digest, Sha256};

use crate::engine::evidence::{Evidence, Pid, Process};
use crate::engine::search::{Hit, SearchRequest, Sink, Summary, search};

/// Messages from jobs.
#[derive(Debug, Clone)]
pub enum JobEvent {
    /// New search hits.
    SearchHits {
        /// Generation of the search.
        generation: u64,
        /// The hits, in order.
        hits: Vec<Hit>,
    },
    /// Search progress, 0-100.
    SearchProgress {
        /// Generation of the search.
        generation: u64,
        /// Percent done.
        percent: u8,
    },
    /// The search ended.
    SearchDone {
        /// Generation of the search.
        generation: u64,
        /// How it ended.
        summary: Summary,
    },
    /// The search failed.
    SearchFailed {
        /// Generation of the search.
        generation: u64,
        /// Why.
        error: String,
    },
    /// The evidence file's SHA-256 is known.
    Hashed {
        /// Lower-case hex, or the error.
        result: Result<String, String>,
    },
    /// A memory extraction ended.
    Extracted {
        /// The file written, or the error.
        result: Result<crate::engine::extract::Extracted, String>,
    },
    /// Suspicious memory areas counted for some processes (sent in batches).
    Marks {
        /// (pid, number of writable+executable or anonymous executable areas).
        counts: Vec<(Pid, usize)>,
    },
    /// Who the evidence's containers are ([`crate::engine::identity::identify`]).
    Containers {
        /// One record per container.
        containers: Vec<crate::engine::identity::Container>,
    },
    /// The peer diff of the workbench's evidence and the other evidences given.
    Diff {
        /// The report (peer 0 is the workbench's evidence), or why it could not be made.
        result: Result<Box<crate::engine::diff::DiffReport>, String>,
    },
    /// Triage progress, 0-100.
    TriageProgress {
        /// Generation of the run.
        generation: u64,
        /// Percent done.
        percent: u8,
    },
    /// A triage run ended (cancelled runs too: the report then says `stopped`).
    Triage {
        /// Generation of the run.
        generation: u64,
        /// The ranked report, or why triage could not run.
        result: Result<Box<crate::engine::triage::Report>, String>,
    },
    /// A rootfs file was read and hashed for its preview.
    Preview {
        /// Generation of the request.
        generation: u64,
        /// The preview, or why the file could not be read.
        result: Result<FilePreview, String>,
    },
}

/// At most this many bytes of a file are kept for a preview.
pub const PREVIEW_CAP: usize = 64 << 10;

/// The head and hash of a rootfs file, for the preview.
#[derive(Debug, Clone, Default)]
pub struct FilePreview {
    /// The file.
    pub path: String,
    /// Its size in bytes.
    pub size: u64,
    /// SHA-256 of all its bytes, lower-case hex.
    pub sha256: String,
    /// Its first [`PREVIEW_CAP`] bytes.
    pub head: Vec<u8>,
}

/// Where jobs send their messages.
pub type Emitter = Arc<dyn Fn(JobEvent) + Send + Sync>;

/// Starts and cancels jobs.
pub struct Jobs {
    emit: Emitter,
    inline: bool,
    generation: u64,
    search_cancel: Option<Arc<AtomicBool>>,
    triage_cancel: Option<Arc<AtomicBool>>,
}

impl std::fmt::Debug for Jobs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Jobs")
            .field("inline", &self.inline)
            .field("generation", &self.generation)
            .finish()
    }
}

/// Hits are published at least this often while a search runs.
const FLUSH_EVERY: Duration = Duration::from_millis(100);

struct Batcher {
    emit: Emitter,
    generation: u64,
    pending: Vec<Hit>,
    last_flush: Instant,
    percent: u8,
    cancel: Arc<AtomicBool>,
}

impl Batcher {
    fn flush(&mut self) {
        if !self.pending.is_empty() {
            let hits = std::mem::take(&mut self.pending);
            (self.emit)(JobEvent::SearchHits {
                generation: self.generation,
                hits,
            });
        }
        self.last_flush = Instant::now();
    }
}

impl Sink for Batcher {
    fn hit(&mut self, hit: Hit) -> bool {
        self.pending.push(hit);
        if self.pending.len() >= 256 || self.last_flush.elapsed() >= FLUSH_EVERY {
            self.flush();
        }
        !self.cancel.load(Ordering::Relaxed)
    }

    fn progress(&mut self, done: u64, total: u64) {
        let percent = done
            .saturating_mul(100)
            .checked_div(total)
            .map_or(100, |p| p.min(100) as u8);
        if percent != self.percent {
            self.percent = percent;
            (self.emit)(JobEvent::SearchProgress {
                generation: self.generation,
                percent,
            });
        }
        if self.last_flush.elapsed() >= FLUSH_EVERY {
            self.flush();
        }
    }
}

impl Jobs {
    /// Jobs on background threads.
    pub fn threaded(emit: Emitter) -> Jobs {
        Jobs {
            emit,
            inline: false,
            generation: 0,
            search_cancel: None,
            triage_cancel: None,
        }
    }

    /// Jobs run on the calling thread (tests).
    pub fn inline(emit: Emitter) -> Jobs {
        Jobs {
            emit,
            inline: true,
            generation: 0,
            search_cancel: None,
            triage_cancel: None,
        }
    }

    fn run(&self, f: impl FnOnce() + Send + 'static) {
        if self.inline {
            f();
        } else {
            std::thread::spawn(f);
        }
    }

    /// Starts a search, cancelling the previous one; returns its generation.
    pub fn start_search(&mut self, ev: Arc<dyn Evidence>, req: SearchRequest) -> u64 {
        self.start_scan(move |cancel, sink| search(&*ev, &req, cancel, sink))
    }

    /// Starts a search of all physical memory (evidence with the capability), cancelling
    /// the previous search; returns its generation.
    pub fn start_physical_search(&mut self, ev: Arc<dyn Evidence>, regex: Regex) -> u64 {
        self.start_scan(move |cancel, sink| match ev.physical() {
            Some(space) => space.search(&regex, cancel, sink),
            None => Err(crate::engine::Error::Unsupported("physical search")),
        })
    }

    fn start_scan(
        &mut self,
        scan: impl FnOnce(&AtomicBool, &mut dyn Sink) -> crate::engine::Result<Summary> + Send + 'static,
    ) -> u64 {
        self.cancel_search();
        self.generation += 1;
        let generation = self.generation;
        let cancel = Arc::new(AtomicBool::new(false));
        self.search_cancel = Some(cancel.clone());
        let emit = self.emit.clone();
        self.run(move || {
            let mut sink = Batcher {
                emit: emit.clone(),
                generation,
                pending: Vec::new(),
                last_flush: Instant::now(),
                percent: 0,
                cancel: cancel.clone(),
            };
            let started = Instant::now();
            let result = scan(&cancel, &mut sink);
            sink.flush();
            tracing::debug!(
                generation,
                elapsed_ms = started.elapsed().as_millis() as u64,
                ok = result.is_ok(),
                "search ended"
            );
            match result {
                Ok(summary) => emit(JobEvent::SearchDone {
                    generation,
                    summary,
                }),
                Err(e) => emit(JobEvent::SearchFailed {
                    generation,
                    error: e.to_string(),
                }),
            }
        });
        generation
    }

    /// Cancels the running search, if any.
    pub fn cancel_search(&mut self) {
        if let Some(c) = self.search_cancel.take() {
            c.store(true, Ordering::Relaxed);
        }
    }

    /// Starts triage of the evidence ([`crate::engine::triage::triage`] with `opts`: secrets
    /// masked unless they say otherwise, their YARA rules), cancelling the previous run;
    /// returns its generation. Progress comes as [`JobEvent::TriageProgress`] when it
    /// changes, the ranked report as one [`JobEvent::Triage`] at the end.
    pub fn start_triage(
        &mut self,
        ev: Arc<dyn Evidence>,
        opts: crate::engine::triage::Options,
    ) -> u64 {
        self.cancel_triage();
        self.generation += 1;
        let generation = self.generation;
        let cancel = Arc::new(AtomicBool::new(false));
        self.triage_cancel = Some(cancel.clone());
        let emit = self.emit.clone();
        self.run(move || {
            let started = Instant::now();
            let mut progress = |percent| {
                emit(JobEvent::TriageProgress {
                    generation,
                    percent,
                })
            };
            let result = crate::engine::triage::triage(&*ev, &opts, &cancel, &mut progress)
                .map(Box::new)
                .map_err(|e| e.to_string());
            tracing::debug!(
                generation,
                elapsed_ms = started.elapsed().as_millis() as u64,
                ok = result.is_ok(),
                "triage ended"
            );
            emit(JobEvent::Triage { generation, result });
        });
        generation
    }

    /// Cancels the running triage, if any (it ends with the detections found so far).
    pub fn cancel_triage(&mut self) {
        if let Some(c) = self.triage_cancel.take() {
            c.store(true, Ordering::Relaxed);
        }
    }

    /// Writes a process's memory range into a folder in the background
    /// ([`crate::engine::extract::extract_memory`]).
    pub fn extract_memory(
        &self,
        ev: Arc<dyn Evidence>,
        pid: crate::engine::evidence::Pid,
        range: std::ops::Range<u64>,
        dir: PathBuf,
    ) {
        let emit = self.emit.clone();
        self.run(move || {
            let result = crate::engine::extract::extract_memory(&*ev, pid, range, &dir, false)
                .map_err(|e| e.to_string());
            emit(JobEvent::Extracted { result });
        });
    }

    /// Counts the suspicious memory areas of processes in the background, after the first
    /// frame; results come in batches so the tree fills in as they arrive.
    pub fn scan_marks(&self, ev: Arc<dyn Evidence>, pids: Vec<Pid>) {
        let emit = self.emit.clone();
        self.run(move || {
            let started = Instant::now();
            let mut counts = Vec::new();
            let mut last = Instant::now();
            for pid in pids {
                match crate::engine::evidence::suspicious_areas(&*ev, pid) {
                    Ok(n) => counts.push((pid, n)),
                    Err(e) => tracing::debug!(pid, "marks: memory areas unreadable: {e}"),
                }
                if last.elapsed() >= FLUSH_EVERY {
                    emit(JobEvent::Marks {
                        counts: std::mem::take(&mut counts),
                    });
                    last = Instant::now();
                }
            }
            emit(JobEvent::Marks { counts });
            tracing::debug!(
                elapsed_ms = started.elapsed().as_millis() as u64,
                "marks done"
            );
        });
    }

    /// Names the containers of the processes in the background (conmon's and the shims'
    /// open files and one environment per container are read).
    pub fn containers(&self, ev: Arc<dyn Evidence>, procs: Vec<Process>) {
        let emit = self.emit.clone();
        self.run(move || {
            let started = Instant::now();
            let containers = crate::engine::identity::identify(&*ev, &procs);
            tracing::debug!(
                elapsed_ms = started.elapsed().as_millis() as u64,
                n = containers.len(),
                "containers named"
            );
            emit(JobEvent::Containers { containers });
        });
    }

    /// Compares evidences in the background ([`crate::engine::diff::diff`]), each named by
    /// the label at the same index.
    pub fn diff(&self, evidences: Vec<Arc<dyn Evidence>>, labels: Vec<String>) {
        let emit = self.emit.clone();
        self.run(move || {
            let started = Instant::now();
            let refs: Vec<&dyn Evidence> = evidences.iter().map(|e| &**e).collect();
            let names: Vec<&str> = labels.iter().map(String::as_str).collect();
            let result = crate::engine::diff::diff(&refs, &names)
                .map(Box::new)
                .map_err(|e| e.to_string());
            tracing::debug!(
                peers = labels.len(),
                elapsed_ms = started.elapsed().as_millis() as u64,
                ok = result.is_ok(),
                "diff done"
            );
            emit(JobEvent::Diff { result });
        });
    }

    /// Reads and hashes a rootfs file in the background for its preview.
    pub fn preview_file(&self, ev: Arc<dyn Evidence>, path: String, generation: u64) {
        let emit = self.emit.clone();
        self.run(move || {
            let result = crate::engine::capability::container_fs(&*ev)
                .and_then(|fs| fs.read_file(&path))
                .map(|bytes| FilePreview {
                    size: bytes.len() as u64,
                    sha256: crate::engine::findings::hex_string(&Sha256::digest(&bytes)),
                    head: bytes.get(..PREVIEW_CAP).unwrap_or(&bytes).to_vec(),
                    path,
                })
                .map_err(|e| e.to_string());
            emit(JobEvent::Preview { generation, result });
        });
    }

    /// Computes the SHA-256 of a file in the background (folders report an error).
    pub fn hash_file(&self, path: PathBuf) {
        let emit = self.emit.clone();
        self.run(move || {
            let result = sha256_file(&path).map_err(|e| e.to_string());
            emit(JobEvent::Hashed { result });
        });
    }
}

/// SHA-256 of a file, streamed.
pub fn sha256_file(path: &std::path::Path) -> std::io::Result<String> {
    use std::io::Read;
    let mut f = std::fs::File::open(path)?;
    if f.metadata()?.is_dir() {
        return Err(std::io::Error::other("a folder has no single hash"));
    }
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(buf.get(..n).unwrap_or_default());
    }
    Ok(crate::engine::findings::hex_string(&h.finalize()))
}
