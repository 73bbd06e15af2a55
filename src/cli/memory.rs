//! The memory commands: `read` (hexdump or raw) and `search` (regex over captured memory,
//! or over a kernel dump's physical memory).

use std::fmt::Write as _;
use std::io::Write;
use std::sync::atomic::AtomicBool;

use anyhow::{Result, bail};
use serde::Serialize;

use crate::cli::output::Table;
use crate::engine::evidence::{Evidence, EvidenceKind, PartialRead, Pid, hex};
use crate::engine::findings::hex_string;
use crate::engine::search::{Hit, SearchRequest, Sink, search as run_search};
use crate::sanitize::sanitize_bytes;

/// Reads larger than this are refused for the hexdump (use --raw and a pipe).
const MAX_READ: u64 = 1 << 30;

/// `podmortem read`.
pub fn read(
    ev: &dyn Evidence,
    pid: Pid,
    addr: u64,
    len: u64,
    raw: bool,
    out: &mut dyn Write,
) -> Result<()> {
    if raw && std::io::IsTerminal::is_terminal(&std::io::stdout()) {
        bail!(
            "--raw writes the evidence's bytes unchanged, which must not reach a terminal: \
             redirect it to a file or a pipe (or use `podmortem extract`)"
        );
    }
    if len > MAX_READ {
        bail!("--len {len} is over the {MAX_READ}-byte limit of one read");
    }
    if addr.checked_add(len).is_none() {
        bail!("{addr:#x} + {len} wraps around the address space");
    }
    let mut missing = 0usize;
    let mut done = 0u64;
    let mut buf = vec![0u8; len.min(1 << 20) as usize];
    while done < len {
        let n = (len - done).min(buf.len() as u64) as usize;
        let chunk = buf.get_mut(..n).unwrap_or_default();
        let at = addr + done;
        let got = ev.read_memory(pid, at, chunk)?;
        missing += n - got.captured_len();
        if raw {
            out.write_all(chunk)?;
        } else {
            out.write_all(hexdump(at, chunk, &got).as_bytes())?;
        }
        done += n as u64;
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
    /// Pattern.
    pub regex: &'a str,
    /// Only this process.
    pub pid: Option<Pid>,
    /// Stop after this many hits.
    pub max_hits: Option<usize>,
    /// Case-insensitive.
    pub ignore_case: bool,
    /// NDJSON output.
    pub json: bool,
}

#[derive(Serialize)]
struct HitOut<'a> {
    pid: Pid,
    comm: &'a str,
    #[serde(serialize_with = "hex::u64")]
    address: u64,
    #[serde(serialize_with = "hex::opt_u64")]
    vma_start: Option<u64>,
    vma_perms: Option<String>,
    path: Option<&'a str>,
    len: usize,
    #[serde(rename = "match")]
    text: String,
    match_hex: String,
}

struct Printer<'a> {
    out: &'a mut dyn Write,
    json: bool,
    max: Option<usize>,
    count: usize,
    table: Table,
    error: Option<std::io::Error>,
}

impl Sink for Printer<'_> {
    fn hit(&mut self, hit: Hit) -> bool {
        self.count += 1;
        if self.json {
            let line = HitOut {
                pid: hit.pid,
                comm: &hit.comm,
                address: hit.address,
                vma_start: hit.vma_start,
                vma_perms: hit.vma_perms.map(|p| p.to_string()),
                path: hit.path.as_deref(),
                len: hit.len,
                text: String::from_utf8_lossy(&hit.bytes).into_owned(),
                match_hex: hit.bytes.iter().fold(String::new(), |mut s, b| {
                    let _ = write!(s, "{b:02x}");
                    s
                }),
            };
            let res = crate::sanitize::json::to_string(&line)
                .map_err(std::io::Error::other)
                .and_then(|l| writeln!(self.out, "{l}"));
            if let Err(e) = res {
                self.error = Some(e);
                return false;
            }
        } else {
            self.table.row(vec![
                hit.pid.to_string(),
                hit.comm.clone(),
                format!("{:#x}", hit.address),
                hit.vma_start
                    .map_or_else(String::new, |v| format!("{v:#x}")),
                hit.vma_perms.map_or_else(String::new, |p| p.to_string()),
                hit.path.clone().unwrap_or_default(),
                sanitize_bytes(&hit.bytes.iter().take(64).copied().collect::<Vec<_>>()),
            ]);
        }
        self.max.is_none_or(|m| self.count < m)
    }
}

/// The byte regex of the search options.
fn build_regex(args: &SearchArgs<'_>) -> Result<regex::bytes::Regex> {
    Ok(regex::bytes::RegexBuilder::new(args.regex)
        .case_insensitive(args.ignore_case)
        .unicode(false)
        .build()?)
}

/// `podmortem search`.
pub fn search(ev: &dyn Evidence, args: &SearchArgs<'_>, out: &mut dyn Write) -> Result<()> {
    let regex = build_regex(args)?;
    if let Some(pid) = args.pid
        && !ev.processes()?.iter().any(|p| p.pid == pid)
    {
        bail!("no process with pid {pid}");
    }
    let req = SearchRequest {
        regex,
        pids: args.pid.map(|p| vec![p]),
    };
    let mut printer = Printer {
        out,
        json: args.json,
        max: args.max_hits,
        count: 0,
        table: Table::new(
            &["PID", "COMM", "ADDRESS", "VMA", "PERMS", "PATH", "MATCH"],
            &["PID"],
        ),
        error: None,
    };
    if args.max_hits == Some(0) {
        return Ok(());
    }
    let cancel = AtomicBool::new(false);
    let summary = run_search(ev, &req, &cancel, &mut printer)?;
    if let Some(e) = printer.error {
        return Err(e.into());
    }
    if !args.json {
        printer.table.print(printer.out)?;
    }
    eprintln!(
        "podmortem: {} hit(s) in {} bytes of captured memory",
        summary.hits, summary.bytes
    );
    Ok(())
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

/// `podmortem search --physical`: the regex over all of a kernel dump's physical memory.
pub fn search_physical(
    ev: &dyn Evidence,
    args: &SearchArgs<'_>,
    out: &mut dyn Write,
) -> Result<()> {
    let info = ev.info();
    if info.kind != EvidenceKind::KernelDump {
        bail!(
            "--physical searches the physical memory of a kernel memory dump; {} is a \
             container checkpoint, which has none (search it without --physical)",
            info.path.display()
        );
    }
    let regex = build_regex(args)?;
    if args.max_hits == Some(0) {
        return Ok(());
    }
    let mut table = Table::new(&["PHYSICAL", "PID", "COMM", "ADDRESS", "MATCH"], &["PID"]);
    let mut count = 0usize;
    let mut error: Option<std::io::Error> = None;
    let cancel = AtomicBool::new(false);
    let summary = ev.search_physical(&regex, &cancel, &mut |hit| {
        count += 1;
        let owner = hit.owner.as_ref();
        if args.json {
            let line = PhysHitOut {
                physical_address: hit.physical,
                len: hit.len,
                text: String::from_utf8_lossy(&hit.bytes).into_owned(),
                match_hex: hex_string(&hit.bytes),
                pid: owner.map(|o| o.pid),
                comm: owner.map(|o| o.comm.as_str()),
                address: owner.map(|o| o.address),
            };
            let res = crate::sanitize::json::to_string(&line)
                .map_err(std::io::Error::other)
                .and_then(|l| writeln!(out, "{l}"));
            if let Err(e) = res {
                error = Some(e);
                return false;
            }
        } else {
            table.row(vec![
                format!("{:#x}", hit.physical),
                owner.map_or_else(String::new, |o| o.pid.to_string()),
                owner.map_or_else(String::new, |o| o.comm.clone()),
                owner.map_or_else(String::new, |o| format!("{:#x}", o.address)),
                sanitize_bytes(&hit.bytes.iter().take(64).copied().collect::<Vec<_>>()),
            ]);
        }
        args.max_hits.is_none_or(|m| count < m)
    })?;
    if let Some(e) = error {
        return Err(e.into());
    }
    if !args.json {
        table.print(out)?;
    }
    eprintln!(
        "podmortem: {} hit(s) in {} bytes of physical memory",
        summary.hits, summary.bytes
    );
    Ok(())
}
