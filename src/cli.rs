//! The scriptable command line: a thin client of [`crate::engine::Evidence`].
//!
//! Every command prints a human table by default and JSON with `--json` (addresses as
//! `"0x..."` strings, ids and counts as numbers). Human output passes every evidence string
//! through [`crate::sanitize`].

mod cache;
mod containers;
mod diff;
mod extract;
mod isf;
mod kernel;
mod memory;
mod output;
mod tables;
mod triage;
mod workbench;

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::{Args, Parser, Subcommand};

use crate::engine::evidence::Evidence;
use crate::engine::open::{OpenOptions, open_evidence};

/// podmortem: post-mortem forensics of Linux hosts and containers.
#[derive(Debug, Parser)]
#[command(name = "podmortem", version, about, long_about = None)]
pub struct Cli {
    /// The command; without one, EVIDENCE is opened in the workbench.
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Evidence to open in the workbench (checkpoint archive or folder, memory dump); with
    /// several, the first is opened and all are compared in the Diff pane (as `diff` does).
    pub evidence: Vec<PathBuf>,
    /// Volatility 3 ISF symbols for a kernel memory dump (file or folder). Without it (and
    /// without --vmlinux) a dump's symbols come from its own BTF and kallsyms.
    #[arg(long, global = true)]
    pub isf: Option<PathBuf>,
    /// A vmlinux with debugging information (DWARF) for a kernel memory dump, instead of an
    /// ISF.
    #[arg(long, global = true, conflicts_with = "isf")]
    pub vmlinux: Option<PathBuf>,
    /// The System.map of --vmlinux's kernel (symbols the vmlinux lacks).
    #[arg(long, global = true, requires = "vmlinux")]
    pub system_map: Option<PathBuf>,
    /// Open the evidence as a memory dump of this format, whatever its first bytes say:
    /// `raw` is physical memory from address 0 (QEMU `pmemsave`, LiME's padded format).
    /// Without it the format is detected (a file with no known magic opens as raw when
    /// symbols are given or a kernel is found in it).
    #[arg(long, global = true, value_parser = ["raw", "lime", "avml", "elf"])]
    pub format: Option<String>,
    /// Write a diagnostic log to FILE (level from `PODMORTEM_LOG`, default debug). With only
    /// `PODMORTEM_LOG` set, the log goes to the XDG state folder. Never to the terminal.
    #[arg(long, global = true, value_name = "FILE")]
    pub log: Option<PathBuf>,
    /// The workbench: YARA rules for the Triage pane as well as the bundled ones, a
    /// .yar/.yara file or a folder of them, over every process's memory areas and, on a
    /// kernel dump, physical memory. A rule file that does not compile stops podmortem
    /// before the workbench opens. (`podmortem triage` takes its own --yara.)
    #[arg(long, value_name = "RULES", conflicts_with = "no_yara")]
    pub yara: Option<PathBuf>,
    /// The workbench: the Triage pane runs no YARA rules (not even the bundled ones).
    #[arg(long)]
    pub no_yara: bool,
}

/// The evidence argument shared by every command.
#[derive(Debug, Args)]
pub struct Target {
    /// Checkpoint (.tar, .tar.zst, .tar.gz, extracted folder, CRIU images folder).
    pub evidence: PathBuf,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// The non-interactive commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Describe the evidence: kind, format, engine, container, image, times, statistics.
    Info(Target),
    /// List processes.
    Ps {
        /// Evidence and output format.
        #[command(flatten)]
        target: Target,
        /// Show one line per thread.
        #[arg(long)]
        threads: bool,
    },
    /// List a process's memory areas.
    Maps {
        /// Evidence and output format.
        #[command(flatten)]
        target: Target,
        /// Process id.
        #[arg(long)]
        pid: u32,
    },
    /// Show processes' environment variables.
    Env {
        /// Evidence and output format.
        #[command(flatten)]
        target: Target,
        /// Only this process.
        #[arg(long)]
        pid: Option<u32>,
    },
    /// List open files, sockets, cwd and root.
    Files {
        /// Evidence and output format.
        #[command(flatten)]
        target: Target,
        /// Only this process.
        #[arg(long)]
        pid: Option<u32>,
    },
    /// Read process memory as a hexdump (`??` = not captured) or raw bytes.
    Read {
        /// Checkpoint or dump.
        evidence: PathBuf,
        /// Process id.
        #[arg(long, required_unless_present = "physical")]
        pid: Option<u32>,
        /// Read a kernel dump's physical memory instead (`--addr` is a physical address,
        /// as `search --physical` and triage's `phys_address` give).
        #[arg(long, conflicts_with = "pid")]
        physical: bool,
        /// Virtual address (hex with 0x, or decimal).
        #[arg(long, value_parser = parse_u64)]
        addr: u64,
        /// Number of bytes.
        #[arg(long, value_parser = parse_u64)]
        len: u64,
        /// Write exactly LEN raw bytes to stdout (uncaptured bytes as zeros).
        #[arg(long, conflicts_with = "json")]
        raw: bool,
        /// Print JSON: the bytes in hex (`??` where not captured) and where each range
        /// came from (this dump, a parent image, not captured).
        #[arg(long)]
        json: bool,
    },
    /// Search process memory (or a dump's physical memory) with a regular expression.
    Search {
        /// Evidence and output format (`--json` prints one JSON object per hit).
        #[command(flatten)]
        target: Target,
        /// The pattern (Rust regex syntax, matched against bytes).
        #[arg(long)]
        regex: String,
        /// Only this process.
        #[arg(long)]
        pid: Option<u32>,
        /// Search all of a kernel dump's physical memory (freed pages, page cache, kernel
        /// buffers too); hits carry physical addresses and, when a process maps the page,
        /// its pid and virtual address.
        #[arg(long, conflicts_with = "pid")]
        physical: bool,
        /// Stop after this many hits.
        #[arg(long)]
        max_hits: Option<usize>,
        /// Case-insensitive match.
        #[arg(long, short = 'i')]
        ignore_case: bool,
        /// Search for the text encoded as UTF-16LE, taken literally (not a regex), as the
        /// workbench's `u` toggle does.
        #[arg(long)]
        utf16le: bool,
    },
    /// List the container's filesystem changes, or print one file.
    Rootfs {
        /// Evidence and output format.
        #[command(flatten)]
        target: Target,
        /// Print this file's bytes instead of the list.
        #[arg(long)]
        cat: Option<String>,
    },
    /// List the container's mounts: mount point, type, source (the host path of a bind
    /// mount), options, and where the evidence holds what it contained (tmpfs images,
    /// /dev/shm, the rootfs diff) or that the runtime keeps it outside (external).
    Mounts(Target),
    /// List the containers: runtime, id, name, pod, namespace, pod UID, QoS class, image,
    /// sandbox and monitor (conmon, containerd-shim) with where each was read, their
    /// processes (with the tree's `!` marks), listeners, connections and mounts.
    Containers(Target),
    /// Copy rootfs-diff files or process memory into a folder you name (never next to or
    /// inside the evidence; nothing overwritten without --force; memory written sparse, named
    /// like Volatility's `pid.N.vma.0xSTART-0xEND.dmp`).
    Extract {
        /// Evidence and output format.
        #[command(flatten)]
        target: Target,
        /// The folder to write into (created if missing).
        #[arg(long, short = 'o')]
        out: PathBuf,
        /// Overwrite files that already exist.
        #[arg(long)]
        force: bool,
        /// A rootfs-diff file to extract (repeatable); written under OUT/rootfs/.
        #[arg(long = "file", value_name = "PATH")]
        files: Vec<String>,
        /// Every regular file of the rootfs diff.
        #[arg(long)]
        all_files: bool,
        /// The process whose memory to extract.
        #[arg(long)]
        pid: Option<u32>,
        /// First address of a memory range (with --len).
        #[arg(long, value_parser = parse_u64, requires = "len")]
        addr: Option<u64>,
        /// Length of the memory range.
        #[arg(long, value_parser = parse_u64, requires = "addr")]
        len: Option<u64>,
        /// The whole memory area containing this address.
        #[arg(long, value_parser = parse_u64)]
        vma: Option<u64>,
        /// Every memory area of the process.
        #[arg(long)]
        all_vmas: bool,
        /// Every object a checkpoint saved beyond memory (socket queues, files deleted while
        /// open, memfd contents), under OUT/saved/; with --pid, those that process held.
        #[arg(long)]
        saved: bool,
    },
    /// Compare replicas of one workload (two or more checkpoints or dumps): the baseline
    /// (what the majority has) and, per evidence, what it has that the others lack or lacks
    /// that they have, rarest first; pids, addresses, ids, inode numbers, timestamps and
    /// list order are left out. With two, each lists what the other lacks.
    Diff {
        /// The evidences (at least two; one with --peers).
        #[arg(required = true, num_args = 1..)]
        evidences: Vec<PathBuf>,
        /// Compare these containers of the one evidence (a node dump) as peers, each by its
        /// own processes: names, pod/name, full ids or id prefixes (see `containers`).
        #[arg(long, num_args = 2.., value_name = "NAME|ID")]
        peers: Vec<String>,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// List the kernel modules of a memory dump (as Volatility's linux.lsmod): name, state,
    /// code base and size, taints, load parameters.
    Modules(Target),
    /// What stands out: kernel, memory, process, credential, network and YARA rules over the evidence,
    /// ranked by severity then rule (README "Triage"). Secrets are masked unless
    /// --show-secrets.
    Triage {
        /// Evidence and output format.
        #[command(flatten)]
        target: Target,
        /// Show secrets' values whole (default: their first 4 characters and length).
        #[arg(long)]
        show_secrets: bool,
        /// Leave out results below this severity (info, low, medium, high, critical).
        #[arg(long, value_name = "S", default_value = "info")]
        min_severity: crate::engine::triage::Severity,
        /// YARA rules to run as well as the bundled ones: a .yar/.yara file or a folder of
        /// them, over every process's memory areas and, on a kernel dump, physical memory.
        #[arg(long, value_name = "RULES", conflicts_with = "no_yara")]
        yara: Option<PathBuf>,
        /// Run no YARA rules (not even the bundled ones).
        #[arg(long)]
        no_yara: bool,
    },
    /// Export the saved findings of the evidence as JSON (the workbench's `e`).
    Export {
        /// The evidence whose findings to export.
        evidence: PathBuf,
        /// Output file (`-` for stdout).
        #[arg(short, long)]
        output: PathBuf,
    },
    /// Write a Volatility 3 ISF (dwarf2json's format) of a memory dump's kernel, made from
    /// the dump's own BTF and kallsyms (Volatility then needs no symbol hunt), or of a
    /// vmlinux's DWARF with --vmlinux (what dwarf2json does, in-process).
    Isf {
        /// The kernel memory dump (not with --vmlinux).
        #[arg(required_unless_present = "vmlinux")]
        dump: Option<PathBuf>,
        /// The ISF to write (`.json`, or `.json.xz` to compress).
        #[arg(long, short = 'o')]
        out: PathBuf,
        /// Replace OUT if it exists.
        #[arg(long)]
        force: bool,
    },
    /// Open the bundled demo evidence in the workbench.
    Demo,
    /// List podmortem's cache folder (decompressed checkpoints, symbol indexes), or clean
    /// it.
    Cache {
        /// Remove the decompressed checkpoints (with --all, every cache file).
        #[arg(long)]
        clean: bool,
        /// With --clean: remove symbol indexes and the demo too.
        #[arg(long, requires = "clean")]
        all: bool,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
}

/// Parses `0x`-prefixed hex or decimal.
pub fn parse_u64(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let r = match t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        Some(h) => u64::from_str_radix(&h.replace('_', ""), 16),
        None => t.replace('_', "").parse(),
    };
    r.map_err(|e| format!("{s:?}: {e}"))
}

/// An error and its causes on one line, `a: b: c`, leaving out a cause whose text the line
/// already holds (engine errors often repeat their source in their own message).
pub fn error_text(e: &anyhow::Error) -> String {
    let mut text = String::new();
    for cause in e.chain() {
        let c = cause.to_string();
        if text.contains(&c) {
            continue;
        }
        if !text.is_empty() {
            text.push_str(": ");
        }
        text.push_str(&c);
    }
    text
}

/// The bundled demo checkpoint, built into the binary (so `demo` works from any folder and
/// after `cargo install`).
const DEMO: &[u8] = include_bytes!("../assets/demo-checkpoint.tar");

/// Path of the bundled demo evidence: the binary's own copy, written once into podmortem's
/// cache folder (`$PODMORTEM_CACHE_DIR/demo`, else the XDG cache), atomically, and reused
/// while its bytes are the binary's.
pub fn demo_path() -> Result<PathBuf> {
    let dir = crate::engine::cache::root()
        .context("no cache folder for the demo evidence (set PODMORTEM_CACHE_DIR)")?
        .join("demo");
    let path = dir.join("demo-checkpoint.tar");
    if std::fs::read(&path).ok().as_deref() != Some(DEMO) {
        crate::engine::findings::write_atomic(&path, DEMO)
            .with_context(|| format!("cannot write the demo evidence to {}", path.display()))?;
    }
    Ok(path)
}

/// Opens evidence with the CLI's options.
pub fn open(path: &std::path::Path, cli: &Cli) -> Result<Box<dyn Evidence>> {
    let opts = OpenOptions {
        isf: cli.isf.clone(),
        vmlinux: cli.vmlinux.clone(),
        system_map: cli.system_map.clone(),
        format: cli.format.clone(),
    };
    let started = std::time::Instant::now();
    tracing::debug!(path = %path.display(), ?opts, "opening evidence");
    let ev =
        open_evidence(path, &opts).with_context(|| format!("cannot open {}", path.display()))?;
    let info = ev.info();
    tracing::debug!(
        kind = ?info.kind,
        format = %info.format,
        warnings = info.warnings.len(),
        elapsed_ms = started.elapsed().as_millis() as u64,
        "evidence open"
    );
    Ok(ev)
}

/// Runs a non-interactive command.
pub fn run(cli: &Cli, command: &Command) -> Result<()> {
    tracing::debug!(?command, "command");
    let result = run_command(cli, command);
    // A file that shrank under its memory map read as zeros: whatever the command made of
    // them, the analyst is told, and the exit status says it failed.
    let result = match crate::engine::mapped::check() {
        Ok(()) => result,
        Err(changed) => Err(anyhow::Error::new(changed)),
    };
    // Errors met after opening (no such pid, a damaged member read later) name the evidence;
    // YARA rules that do not compile name their own file.
    match (result, command.evidence()) {
        (Err(e), Some(path))
            if !error_text(&e).contains(&*path.to_string_lossy())
                && e.downcast_ref::<crate::engine::yara::YaraError>().is_none() =>
        {
            Err(e.context(path.display().to_string()))
        }
        (r, _) => r,
    }
}

impl Command {
    /// The evidence a command reads, if any.
    pub fn evidence(&self) -> Option<&std::path::Path> {
        match self {
            Command::Info(t)
            | Command::Ps { target: t, .. }
            | Command::Maps { target: t, .. }
            | Command::Env { target: t, .. }
            | Command::Files { target: t, .. }
            | Command::Search { target: t, .. }
            | Command::Rootfs { target: t, .. }
            | Command::Mounts(t)
            | Command::Containers(t)
            | Command::Modules(t)
            | Command::Extract { target: t, .. }
            | Command::Triage { target: t, .. } => Some(&t.evidence),
            Command::Read { evidence, .. } | Command::Export { evidence, .. } => Some(evidence),
            Command::Isf { dump, .. } => dump.as_deref(),
            // Errors of a diff name their evidence themselves.
            Command::Diff { .. } => None,
            Command::Demo | Command::Cache { .. } => None,
        }
    }
}

fn run_command(cli: &Cli, command: &Command) -> Result<()> {
    let mut out = std::io::stdout().lock();
    match command {
        Command::Info(t) => tables::info(&*open(&t.evidence, cli)?, t.json, &mut out),
        Command::Ps { target, threads } => tables::ps(
            &*open(&target.evidence, cli)?,
            *threads,
            target.json,
            &mut out,
        ),
        Command::Maps { target, pid } => {
            tables::maps(&*open(&target.evidence, cli)?, *pid, target.json, &mut out)
        }
        Command::Env { target, pid } => {
            tables::env(&*open(&target.evidence, cli)?, *pid, target.json, &mut out)
        }
        Command::Files { target, pid } => {
            tables::files(&*open(&target.evidence, cli)?, *pid, target.json, &mut out)
        }
        Command::Read {
            evidence,
            pid,
            physical: _,
            addr,
            len,
            raw,
            json,
        } => {
            let how = if *raw {
                memory::ReadOutput::Raw
            } else if *json {
                memory::ReadOutput::Json
            } else {
                memory::ReadOutput::Hexdump
            };
            memory::read(&*open(evidence, cli)?, *pid, *addr, *len, how, &mut out)
        }
        Command::Search {
            target,
            regex,
            pid,
            physical,
            max_hits,
            ignore_case,
            utf16le,
        } => {
            let ev = open(&target.evidence, cli)?;
            let opts = memory::SearchArgs {
                pattern: crate::engine::search::Pattern {
                    text: regex.clone(),
                    ignore_case: *ignore_case,
                    utf16le: *utf16le,
                },
                pid: *pid,
                max_hits: *max_hits,
                json: target.json,
                path: &target.evidence,
            };
            memory::search(&*ev, &opts, *physical, &mut out)
        }
        Command::Mounts(t) => tables::mounts(&*open(&t.evidence, cli)?, t.json, &mut out),
        Command::Containers(t) => {
            containers::containers(&*open(&t.evidence, cli)?, t.json, &mut out)
        }
        Command::Rootfs { target, cat } => tables::rootfs(
            &*open(&target.evidence, cli)?,
            cat.as_deref(),
            target.json,
            &mut out,
        ),
        Command::Extract {
            target,
            out: dir,
            force,
            files,
            all_files,
            pid,
            addr,
            len,
            vma,
            all_vmas,
            saved,
        } => extract::extract(
            &*open(&target.evidence, cli)?,
            &target.evidence,
            &extract::ExtractArgs {
                out: dir,
                force: *force,
                files,
                all_files: *all_files,
                pid: *pid,
                addr: *addr,
                len: *len,
                vma: *vma,
                all_vmas: *all_vmas,
                saved: *saved,
                json: target.json,
            },
            &mut out,
        ),
        Command::Diff {
            evidences,
            json,
            peers,
        } => diff::diff(cli, evidences, peers, *json, &mut out),
        Command::Modules(t) => kernel::modules(&*open(&t.evidence, cli)?, t.json, &mut out),
        Command::Triage {
            target,
            show_secrets,
            min_severity,
            yara,
            no_yara,
        } => {
            // Rules first: a rule file that does not compile fails before the evidence opens.
            let rules = triage::yara_rules(yara.as_deref(), *no_yara)?;
            triage::triage(
                &*open(&target.evidence, cli)?,
                &crate::engine::triage::Options {
                    show_secrets: *show_secrets,
                    min_severity: *min_severity,
                    yara: rules,
                    yara_physical: yara.is_some(),
                    ..Default::default()
                },
                target.json,
                &mut out,
            )
        }
        Command::Export { evidence, output } => export(&*open(evidence, cli)?, evidence, output),
        Command::Isf { dump, out, force } => {
            if cli.isf.is_some() {
                anyhow::bail!("`isf` makes an ISF from a dump or a vmlinux: --isf is not used");
            }
            match (&cli.vmlinux, dump) {
                (Some(vmlinux), None) => {
                    isf::isf_from_vmlinux(vmlinux, cli.system_map.as_deref(), out, *force)
                }
                (None, Some(dump)) => isf::isf_from_dump(dump, out, *force),
                _ => anyhow::bail!("give either a dump or --vmlinux, not both"),
            }
        }
        Command::Demo => tables::info(&*open(&demo_path()?, cli)?, false, &mut out),
        Command::Cache { clean, all, json } => cache::run(*clean, *all, *json, &mut out),
    }
}

/// `podmortem export`: the saved session of this evidence as the findings JSON document.
fn export(ev: &dyn Evidence, path: &std::path::Path, output: &std::path::Path) -> Result<()> {
    use crate::engine::findings::{Session, SessionStore, evidence_identity, export, write_atomic};
    let id = evidence_identity(path)?;
    let store = SessionStore::for_evidence(&id, None)?;
    let session = store
        .load()?
        .unwrap_or_else(|| Session::new(id, path.display().to_string()));
    let sha = match crate::jobs::sha256_file(path) {
        Ok(sha) => Some(sha),
        Err(e) => {
            // A folder has no single hash; anything else is worth a log line.
            if !path.is_dir() {
                tracing::warn!("export without the evidence's SHA-256: {e}");
            }
            None
        }
    };
    let doc = export(ev, &session, sha);
    let mut bytes = Vec::new();
    crate::sanitize::json::to_writer_pretty(&mut bytes, &doc)?;
    if output.as_os_str() == "-" {
        use std::io::Write;
        let mut o = std::io::stdout().lock();
        o.write_all(&bytes)?;
        writeln!(o)?;
    } else {
        write_atomic(output, &bytes)?;
        eprintln!(
            "podmortem: {} finding(s) written to {}",
            doc.findings.len(),
            output.display()
        );
    }
    Ok(())
}
