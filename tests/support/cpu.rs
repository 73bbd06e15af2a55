//! Time limits on CPU time, not wall time: a loaded machine (CI, two cores, other tests
//! running beside) slows a test down but does not make it use more CPU, so a limit on CPU
//! time fails only on real loops. A generous wall-clock backstop still catches a thread
//! blocked forever.

use std::path::PathBuf;
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Ticks per second of `/proc/*/stat` times (`USER_HZ`, 100 on Linux).
const USER_HZ: u64 = 100;

/// The wall-clock backstop: this many times the CPU limit (at least two minutes).
const WALL_FACTOR: u32 = 10;

/// User plus system CPU time in a `/proc/.../stat` file, or `None` when unreadable.
pub fn stat_cpu(stat: &std::path::Path) -> Option<Duration> {
    let text = std::fs::read_to_string(stat).ok()?;
    // Fields after the command name (which may hold spaces) in parentheses.
    let rest = text.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(Duration::from_millis((utime + stime) * 1000 / USER_HZ))
}

/// CPU time used so far by a process (all its threads).
pub fn process_cpu(pid: u32) -> Option<Duration> {
    stat_cpu(&PathBuf::from(format!("/proc/{pid}/stat")))
}

/// The `/proc` stat file of the calling thread.
pub fn this_thread_stat() -> Option<PathBuf> {
    let link = std::fs::read_link("/proc/thread-self").ok()?;
    Some(PathBuf::from("/proc").join(link).join("stat"))
}

/// Runs `f` on its own thread; fails the test if that thread uses more than `secs` seconds
/// of CPU (a loop), or makes no end within the wall-clock backstop (blocked).
pub fn within_cpu<T: Send + 'static>(secs: u64, f: impl FnOnce() -> T + Send + 'static) -> T {
    try_within_cpu(secs, f).unwrap_or_else(|why| panic!("{why}"))
}

/// Runs `f` on its own thread; `Err` says why when that thread used more than `secs`
/// seconds of CPU or made no end within the wall-clock backstop (the thread is left
/// behind: it cannot be stopped).
pub fn try_within_cpu<T: Send + 'static>(
    secs: u64,
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, String> {
    let limit = Duration::from_secs(secs);
    let backstop = (limit * WALL_FACTOR).max(Duration::from_secs(120));
    let (tx_stat, rx_stat) = mpsc::channel();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx_stat.send(this_thread_stat());
        let _ = tx.send(f());
    });
    let stat = rx_stat.recv().ok().flatten();
    let start = Instant::now();
    loop {
        match rx.recv_timeout(Duration::from_millis(100)) {
            Ok(v) => return Ok(v),
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                return Err("the thread panicked".into());
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {}
        }
        let cpu = stat.as_deref().and_then(stat_cpu);
        if let Some(cpu) = cpu
            && cpu > limit
        {
            return Err(format!(
                "used more than {secs} s of CPU ({cpu:.1?}): a loop?"
            ));
        }
        if start.elapsed() > backstop {
            return Err(format!(
                "no end within {backstop:?} of wall time ({cpu:?} of CPU): blocked?"
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_this_threads_cpu() {
        let stat = this_thread_stat().unwrap();
        let before = stat_cpu(&stat).unwrap();
        let t = Instant::now();
        let mut x = 0u64;
        while t.elapsed() < Duration::from_millis(300) {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1);
        }
        std::hint::black_box(x);
        let after = stat_cpu(&stat).unwrap();
        assert!(after > before, "{before:?} -> {after:?}");
    }

    #[test]
    fn a_sleeping_thread_uses_no_cpu() {
        let v = within_cpu(1, || {
            std::thread::sleep(Duration::from_millis(1500));
            7
        });
        assert_eq!(v, 7, "1.5 s of sleep is within a 1 s CPU limit");
    }
}
