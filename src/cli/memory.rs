//! The memory commands: `read` (hexdump or raw) and `search` (regex over captured memory,
//! or over a kernel dump's physical memory).

use std::fmt::Write as _;
use std::io::Write;
use std::sync::atomic::AtomicBool;

use anyhow::{Result, bail};
use serde::Serialize;

use crate::cli::output::Table;
use crate::engine::evidence::{Evidence, PageSource, PartialRead, Pid, SourcedRange, hex};
use crate::engine::findings::hex_string;
use crate::engine::search::{Hit, Pattern, SearchRequest, Sink, Space, search as run_search};
use crate::sanitize::{sanitize, sanitize_bytes};

/// Reads larger than this are refused for the hexdump (use --raw and a pipe).
const MAX_READ: u64 = 1 << 30;
/// Reads larger than this are refused for `--json` (its hex is held in memory).
const MAX_JSON_READ: u64 = 16 << 20;

/// How `podmortem read` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadOutput {
    /// A hexdump (`??` = not captured), then where the bytes came from.
    Hexdump,
    /// The bytes unchanged (uncaptured bytes as zeros).
    Raw,
    /// One JSON object: the bytes in hex and where each range came from.
    Json,
}

/// `podmortem read --json`.
#[derive(Serialize)]
struct ReadJson<'a> {
    /// The process (absent for a read of physical memory).
    #[serde(skip_serializing_if = "Option::is_none")]
    pid: Option<Pid>,
    /// A read of a kernel dump's physical memory (`--physical`).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    physical: bool,
    #[serde(serialize_with = "hex::u64")]
    address: u64,
    len: u64,
    captured: u64,
    /// Where each range came from, covering the read (process reads).
    #[serde(skip_serializing_if = "<[SourcedRange]>::is_empty")]
    sources: &'a [SourcedRange],
    /// The bytes, two hex digits each, `??` where not captured.
    hex: String,
}

/// `podmortem read`.
pub fn read(
    ev: &dyn Evidence,
    pid: Option<Pid>,
    addr: u64,
    len: u64,
    how: ReadOutput,
    out: &mut dyn Write,
) -> Result<()> {
    let raw = how == ReadOutput::Raw;
    if raw && std::io::IsTerminal::is_terminal(&std::io::stdout()) {
        bail!(
            "--raw writes the evidence's bytes unchanged, which must not reach a terminal: \
             redirect it to a file or a pipe (or use `podmortem extract`)"
        );
    }
    if len > MAX_READ {
        bail!("--len {len} is over the {MAX_READ}-byte limit of one read");
    }
    if how == ReadOutput::Json && len > MAX_JSON_READ {
        bail!("--len {len} is over the {MAX_JSON_READ}-byte limit of --json (use --raw)");
    }
    let Some(end) = addr.checked_add(len) else {
        bail!("{addr:#x} + {len} wraps around the address space");
    };
    // A process's memory, or (no pid) the dump's physical memory.
    let phys = match pid {
        Some(_) => None,
        None => Some(ev.physical().ok_or_else(|| {
            anyhow::anyhow!(
                "--physical: not available for this evidence (a kernel memory dump has physical \
                 memory)"
            )
        })?),
    };
    let sources = match pid {
        Some(pid) => ev.memory_sources(pid, addr..end)?,
        None => Vec::new(),
    };
    let mut missing = 0usize;
    let mut done = 0u64;
    let mut hex_text = String::new();
    let mut buf = vec![0u8; len.min(1 << 20) as usize];
    while done < len {
        let n = (len - done).min(buf.len() as u64) as usize;
        let chunk = buf.get_mut(..n).unwrap_or_default();
        let at = addr + done;
        let got = match (pid, phys) {
            (Some(pid), _) => ev.read_memory(pid, at, chunk)?,
            (None, Some(phys)) => phys.read(at, chunk)?,
            (None, None) => bail!("no memory to read"),
        };
        missing += n - got.captured_len();
        match how {
            ReadOutput::Raw => out.write_all(chunk)?,
            ReadOutput::Hexdump => out.write_all(hexdump(at, chunk, &got).as_bytes())?,
            ReadOutput::Json => {
                for (i, b) in chunk.iter().enumerate() {
                    if got.is_captured(i) {
                        let _ = write!(hex_text, "{b:02x}");
                    } else {
                        hex_text.push_str("??");
                    }
                }
            }
        }
        done += n as u64;
    }
    match how {
        ReadOutput::Json => {
            let line = crate::sanitize::json::to_string(&ReadJson {
                pid,
                physical: pid.is_none(),
                address: addr,
                len,
                captured: len - missing as u64,
                sources: &sources,
                hex: hex_text,
            })?;
            writeln!(out, "{line}")?;
            return Ok(());
        }
        // Where the bytes came from, unless all of them are this dump's.
        ReadOutput::Hexdump
            if pid.is_some()
                && !matches!(&sources[..], [s] if s.source == PageSource::ThisDump) =>
        {
            out.write_all(sources_text(&sources).as_bytes())?;
        }
        _ => {}
    }
    if missing > 0 {
        eprintln!(
            "podmortem: {missing} of {len} bytes were not captured{}",
            if raw {
                " (written as zeros)"
            } else {
                " (shown as ??)"
            }
        );
    }
    Ok(())
}

/// The `sources:` block after a hexdump: one line per range.
pub fn sources_text(sources: &[SourcedRange]) -> String {
    let mut s = String::from("sources:\n");
    for r in sources {
        let _ = writeln!(
            s,
            "  {:016x}-{:016x}  {}",
            r.start,
            r.end,
            sanitize(&r.source.describe())
        );
    }
    s
}

/// Formats bytes as a hexdump; uncaptured bytes are `??` (hex) and `?` (text).
pub fn hexdump(addr: u64, bytes: &[u8], got: &PartialRead) -> String {
    let mut s = String::new();
    for (row, chunk) in bytes.chunks(16).enumerate() {
        let base = row * 16;
        let _ = write!(s, "{:016x}  ", addr + base as u64);
        for i in 0..16 {
            match chunk.get(i) {
                Some(b) if got.is_captured(base + i) => {
                    let _ = write!(s, "{b:02x} ");
                }
                Some(_) => s.push_str("?? "),
                None => s.push_str("   "),
            }
            if i == 7 {
                s.push(' ');
            }
        }
        s.push_str(" |");
        for (i, b) in chunk.iter().enumerate() {
            s.push(if !got.is_captured(base + i) {
                '?'
            } else if b.is_ascii_graphic() || *b == b' ' {
                *b as char
            } else {
                '.'
            });
        }
        s.push_str("|\n");
    }
    s
}

/// Options of `podmortem search`.
#[derive(Debug)]
pub struct SearchArgs<'a> {
    /// Pattern and its options.
    pub pattern: Pattern,
    /// Only this process.
    pub pid: Option<Pid>,
    /// Stop after this many hits.
    pub max_hits: Option<usize>,
    /// NDJSON output.
    pub json: bool,
    /// The evidence's path, for messages.
    pub path: &'a std::path::Path,
}

/// One line of `podmortem search --json`: the hit as the engine serialises it, and the
/// matched bytes.
#[derive(Serialize)]
struct HitOut<'a> {
    #[serde(flatten)]
    hit: &'a Hit,
    #[serde(rename = "match")]
    text: String,
    match_hex: String,
}

/// One line of `podmortem search --physical --json`.
#[derive(Serialize)]
struct PhysHitOut<'a> {
    #[serde(serialize_with = "hex::u64")]
    physical_address: u64,
    len: usize,
    #[serde(rename = "match")]
    text: String,
    match_hex: String,
    pid: Option<Pid>,
    comm: Option<&'a str>,
    #[serde(serialize_with = "hex::opt_u64")]
    address: Option<u64>,
}

/// Prints hits of either space: NDJSON lines as they come, or a table at the end.
struct Printer<'a> {
    out: &'a mut dyn Write,
    json: bool,
    max: Option<usize>,
    count: usize,
    table: Table,
    error: Option<std::io::Error>,
}

impl Printer<'_> {
    fn json_line(&mut self, hit: &Hit) -> Result<(), std::io::Error> {
        let text = String::from_utf8_lossy(&hit.bytes).into_owned();
        let match_hex = hex_string(&hit.bytes);
        let line = match &hit.space {
            Space::Process(_) | Space::Saved(_) => crate::sanitize::json::to_string(&HitOut {
                hit,
                text,
                match_hex,
            }),
            Space::Physical { owner } => {
                let owner = owner.as_ref();
                crate::sanitize::json::to_string(&PhysHitOut {
                    physical_address: hit.address,
                    len: hit.len,
                    text,
                    match_hex,
                    pid: owner.map(|o| o.pid),
                    comm: owner.map(|o| o.comm.as_str()),
                    address: owner.map(|o| o.address),
                })
            }
        }
        .map_err(std::io::Error::other)?;
        writeln!(self.out, "{line}")
    }

    fn table_row(&mut self, hit: &Hit) {
        let excerpt = sanitize_bytes(&hit.bytes.iter().take(64).copied().collect::<Vec<_>>());
        let hex = |v: u64| format!("{v:#x}");
        self.table.row(match &hit.space {
            Space::Process(p) => vec![
                p.pid.to_string(),
                p.comm.clone(),
                hex(hit.address),
                p.vma_start.map_or_else(String::new, hex),
                p.vma_perms.map_or_else(String::new, |p| p.to_string()),
                p.path.clone().unwrap_or_default(),
                excerpt,
            ],
            Space::Physical { owner } => {
                let owner = owner.as_ref();
                vec![
                    hex(hit.address),
                    owner.map_or_else(String::new, |o| o.pid.to_string()),
                    owner.map_or_else(String::new, |o| o.comm.clone()),
                    owner.map_or_else(String::new, |o| hex(o.address)),
                    excerpt,
                ]
            }
            // Saved bytes: the offset in the object, its kind, and what it was.
            Space::Saved(o) => vec![
                o.pid.map_or_else(String::new, |p| p.to_string()),
                o.comm.clone().unwrap_or_default(),
                format!("+{:#x}", hit.address),
                String::new(),
                o.kind.short().to_string(),
                o.place(),
                excerpt,
            ],
        });
    }
}

impl Sink for Printer<'_> {
    fn hit(&mut self, hit: Hit) -> bool {
        self.count += 1;
        if self.json {
            if let Err(e) = self.json_line(&hit) {
                self.error = Some(e);
                return false;
            }
        } else {
            self.table_row(&hit);
        }
        self.max.is_none_or(|m| self.count < m)
    }
}

/// `podmortem search` (`physical`: over all of physical memory instead of processes').
pub fn search(
    ev: &dyn Evidence,
    args: &SearchArgs<'_>,
    physical: bool,
    out: &mut dyn Write,
) -> Result<()> {
    let phys = if physical {
        let Some(phys) = ev.physical() else {
            bail!(
                "--physical searches the physical memory of a kernel memory dump; {} is {}, \
                 which has none (search it without --physical)",
                args.path.display(),
                ev.info().kind.describe()
            );
        };
        Some(phys)
    } else {
        None
    };
    let regex = args.pattern.build()?;
    if let Some(pid) = args.pid
        && !ev.processes()?.iter().any(|p| p.pid == pid)
    {
        bail!("no process with pid {pid}");
    }
    let columns: &[&str] = if physical {
        &["PHYSICAL", "PID", "COMM", "ADDRESS", "MATCH"]
    } else {
        &["PID", "COMM", "ADDRESS", "VMA", "PERMS", "PATH", "MATCH"]
    };
    let mut printer = Printer {
        out,
        json: args.json,
        max: args.max_hits,
        count: 0,
        table: Table::new(columns, &["PID"]),
        error: None,
    };
    if args.max_hits == Some(0) {
        return Ok(());
    }
    let cancel = AtomicBool::new(false);
    let summary = match phys {
        Some(phys) => phys.search(&regex, &cancel, &mut printer)?,
        None => {
            let req = SearchRequest {
                regex,
                pids: args.pid.map(|p| vec![p]),
            };
            run_search(ev, &req, &cancel, &mut printer)?
        }
    };
    if let Some(e) = printer.error {
        return Err(e.into());
    }
    if !args.json {
        printer.table.print(printer.out)?;
    }
    eprintln!(
        "podmortem: {} hit(s) in {} bytes of {}",
        summary.hits,
        summary.bytes,
        if physical {
            "physical memory"
        } else if ev.saved_data().is_some() {
            "captured memory and saved bytes (socket queues, deleted files, memfds)"
        } else {
            "captured memory"
        }
    );
    Ok(())
}
