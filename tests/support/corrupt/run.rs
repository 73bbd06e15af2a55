//! Running the binary on a mutation: the [`Outcome`] of a run and its [`Run`] record,
//! [`classify`], [`run_limited`] (timeout and address-space limit) and the counts [`table`].

use std::collections::BTreeMap;
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// What one run of the binary did.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Outcome {
    /// Exit 0.
    Ok,
    /// Exit 1, the error names the file and where (an offset, a structure, the ISF).
    CleanError,
    /// Exit 1 naming the file but no offset or structure.
    ErrorNoLocation,
    /// Exit 1 without naming the file.
    ErrorUnnamed,
    /// A panic (exit 101), a stack overflow or another crash.
    Panic,
    /// Killed after the timeout.
    Hang,
    /// An allocation failure under the address-space limit (abort).
    OverAllocation,
    /// Anything else (usage error...).
    Other,
}

impl Outcome {
    /// Column names of the counts table.
    pub const ALL: [Outcome; 8] = [
        Outcome::Ok,
        Outcome::CleanError,
        Outcome::ErrorNoLocation,
        Outcome::ErrorUnnamed,
        Outcome::Panic,
        Outcome::Hang,
        Outcome::OverAllocation,
        Outcome::Other,
    ];

    /// A short label.
    pub fn label(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::CleanError => "clean error",
            Outcome::ErrorNoLocation => "error (no offset)",
            Outcome::ErrorUnnamed => "error (no file)",
            Outcome::Panic => "panic",
            Outcome::Hang => "hang",
            Outcome::OverAllocation => "over-allocation",
            Outcome::Other => "other",
        }
    }

    /// Whether this outcome is a bug.
    pub fn is_bug(self) -> bool {
        matches!(
            self,
            Outcome::Panic | Outcome::Hang | Outcome::OverAllocation | Outcome::Other
        )
    }
}

/// One run's record.
#[derive(Clone, Debug)]
pub struct Run {
    /// The mutation's name.
    pub mutation: String,
    /// The mutation's class.
    pub class: &'static str,
    /// The command line (without the binary).
    pub args: Vec<String>,
    /// The outcome.
    pub outcome: Outcome,
    /// The tail of stderr.
    pub stderr: String,
    /// Wall time.
    pub elapsed: Duration,
}

/// Words that say where in the evidence an error is.
const LOCATION_WORDS: &[&str] = &[
    "offset",
    "at 0x",
    "ISF",
    "isf",
    "task_struct",
    "mm_struct",
    "maple",
    "vm_area_struct",
    "page table",
    "dtb",
    "DTB",
    "linux_banner",
    "init_task",
    "symbol",
    "LiME",
    "AVML",
    "ELF",
    "snappy",
    "program header",
    "member",
    "entry",
    "pid",
    "missing",
    ".img",
];

/// Classifies a finished (or killed) run.
pub fn classify(
    status: Option<std::process::ExitStatus>,
    stderr: &str,
    names: &[String],
) -> Outcome {
    use std::os::unix::process::ExitStatusExt;
    let Some(status) = status else {
        return Outcome::Hang;
    };
    if stderr.contains("memory allocation of")
        || stderr.contains("capacity overflow") && !stderr.contains("panicked")
    {
        return Outcome::OverAllocation;
    }
    if stderr.contains("panicked")
        || stderr.contains("overflowed its stack")
        || status.code() == Some(101)
    {
        return Outcome::Panic;
    }
    if status.signal() == Some(6) || status.code() == Some(134) {
        return Outcome::OverAllocation;
    }
    match status.code() {
        Some(0) => Outcome::Ok,
        Some(1) => {
            if !names.iter().any(|n| stderr.contains(n.as_str())) {
                Outcome::ErrorUnnamed
            } else if LOCATION_WORDS.iter().any(|w| stderr.contains(w)) {
                Outcome::CleanError
            } else {
                Outcome::ErrorNoLocation
            }
        }
        None => Outcome::Panic, // killed by another signal (SIGSEGV...)
        _ => Outcome::Other,
    }
}

/// Runs `bin args` with a CPU-time limit of `timeout` (RLIMIT_CPU: the kernel stops it with
/// SIGXCPU; a loaded machine does not count) and an address-space limit; a wall-clock
/// backstop of six times `timeout` catches a process blocked without using CPU. Returns the
/// status (`None` when a limit of time stopped it) and stderr.
pub fn run_limited(
    bin: &Path,
    args: &[String],
    as_limit: u64,
    timeout: Duration,
    env: &[(String, PathBuf)],
    scratch: &Path,
) -> (Option<std::process::ExitStatus>, String, Duration) {
    let err_path = scratch.join("stderr.txt");
    let err_file = fs::File::create(&err_path).unwrap();
    let mut cmd = if Path::new("/usr/bin/prlimit").exists() || which("prlimit") {
        let mut c = Command::new("prlimit");
        c.arg(format!("--as={as_limit}"))
            .arg(format!("--cpu={}", timeout.as_secs().max(1)))
            .arg("--")
            .arg(bin)
            .args(args);
        c
    } else {
        let mut c = Command::new("sh");
        c.arg("-c")
            .arg(format!(
                "ulimit -v {} && ulimit -t {} && exec \"$0\" \"$@\"",
                as_limit / 1024,
                timeout.as_secs().max(1)
            ))
            .arg(bin)
            .args(args);
        c
    };
    cmd.stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(err_file);
    cmd.envs(env.iter().map(|(k, v)| (k, v)));
    cmd.env("RUST_BACKTRACE", "0");
    let start = Instant::now();
    let mut child = cmd.spawn().unwrap();
    let status = loop {
        if let Some(st) = child.try_wait().unwrap() {
            // SIGXCPU: the CPU-time limit stopped it.
            use std::os::unix::process::ExitStatusExt;
            break (st.signal() != Some(24)).then_some(st);
        }
        if start.elapsed() > timeout * 6 {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let elapsed = start.elapsed();
    let mut s = String::new();
    let _ = fs::File::open(&err_path).and_then(|mut f| f.read_to_string(&mut s));
    if s.len() > 2000 {
        let cut = s.len() - 2000;
        let cut = (cut..s.len())
            .find(|&i| s.is_char_boundary(i))
            .unwrap_or(s.len());
        s = s[cut..].to_string();
    }
    (status, s, elapsed)
}

fn which(tool: &str) -> bool {
    Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {tool} >/dev/null"))
        .status()
        .is_ok_and(|s| s.success())
}

/// Counts per class and outcome, printed as a table.
pub fn table(runs: &[Run]) -> String {
    let mut classes: BTreeMap<&str, BTreeMap<Outcome, usize>> = BTreeMap::new();
    for r in runs {
        *classes
            .entry(r.class)
            .or_default()
            .entry(r.outcome)
            .or_default() += 1;
        *classes
            .entry("TOTAL")
            .or_default()
            .entry(r.outcome)
            .or_default() += 1;
    }
    let mut s = format!("{:<14}", "class");
    for o in Outcome::ALL {
        s.push_str(&format!("{:>18}", o.label()));
    }
    s.push('\n');
    let mut rows: Vec<_> = classes.into_iter().collect();
    rows.sort_by_key(|(c, _)| *c == "TOTAL");
    for (c, counts) in rows {
        s.push_str(&format!("{c:<14}"));
        for o in Outcome::ALL {
            s.push_str(&format!("{:>18}", counts.get(&o).copied().unwrap_or(0)));
        }
        s.push('\n');
    }
    s
}
