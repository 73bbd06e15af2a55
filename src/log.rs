//! Diagnostic logs: `tracing` events written to a file, never to the terminal.
//!
//! Off unless asked for: `PODMORTEM_LOG` gives the filter (`debug`, `info`,
//! `podmortem::engine=trace`, ...) and `--log FILE` the file. With only `PODMORTEM_LOG`, the
//! file is `podmortem.log` in the XDG state folder (`$XDG_STATE_HOME/podmortem`, usually
//! `~/.local/state/podmortem`); with only `--log`, the filter is `debug`. Lines are appended,
//! without colour codes.

use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};

use tracing_subscriber::EnvFilter;

/// The environment variable that turns logging on and gives its filter.
pub const ENV: &str = "PODMORTEM_LOG";

/// The default log file: `podmortem.log` in the XDG state folder (or, where the platform
/// has none, the data folder).
pub fn default_log_file() -> Option<PathBuf> {
    let dirs = directories::ProjectDirs::from("", "", "podmortem")?;
    let dir = dirs
        .state_dir()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| dirs.data_local_dir().to_path_buf());
    Some(dir.join("podmortem.log"))
}

/// Starts logging when `PODMORTEM_LOG` or `file` asks for it; returns the log file in use.
///
/// Fails (and logs nothing) when the filter is not valid or the file cannot be opened: the
/// caller reports that once, before any screen is drawn.
pub fn init(file: Option<&Path>) -> Result<Option<PathBuf>, String> {
    let filter = std::env::var(ENV).ok().filter(|v| !v.trim().is_empty());
    let (filter, path) = match (filter, file) {
        (None, None) => return Ok(None),
        (filter, Some(path)) => (filter.unwrap_or_else(|| "debug".into()), path.to_path_buf()),
        (Some(filter), None) => (
            filter,
            default_log_file().ok_or("no state folder for the log file (use --log FILE)")?,
        ),
    };
    let filter = EnvFilter::try_new(&filter).map_err(|e| format!("{ENV}={filter:?}: {e}"))?;
    let out = open_log(&path).map_err(|e| format!("log file {}: {e}", path.display()))?;
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::sync::Mutex::new(out))
        .with_ansi(false)
        .with_thread_names(true)
        .try_init()
        .map_err(|e| e.to_string())?;
    tracing::info!(
        version = env!("CARGO_PKG_VERSION"),
        pid = std::process::id(),
        "podmortem started"
    );
    Ok(Some(path))
}

fn open_log(path: &Path) -> std::io::Result<File> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    OpenOptions::new().create(true).append(true).open(path)
}

/// Logs the process's peak resident set (`VmHWM` of `/proc/self/status`, in KiB) when a log
/// is being written: what the memory tests and the benchmark read to check that memory
/// stays bounded (the parent's `wait4` counts the memory a child inherited across
/// `vfork`/`exec`, so it cannot tell).
pub fn peak_memory() {
    if !tracing::enabled!(tracing::Level::INFO) {
        return;
    }
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kib = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok());
    if let Some(kib) = kib {
        tracing::info!(peak_rss_kib = kib, "peak resident set");
    }
}
