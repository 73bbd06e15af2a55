//! The real binary in a real pseudo-terminal (util-linux `script`), and the check that what
//! it wrote there holds nothing from evidence a terminal would act on.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Whether `script` (util-linux) is installed (required when the fixtures are).
pub fn pty_available() -> bool {
    let ok = Command::new("script")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        assert!(
            std::env::var("PODMORTEM_REQUIRE_FIXTURES").as_deref() != Ok("1"),
            "script (util-linux) is required in CI"
        );
        eprintln!("skipping: script (util-linux) not installed");
    }
    ok
}

/// What a program wrote to its terminal, and how it ended.
pub struct PtyRun {
    /// Every byte written to the terminal (the `script` header and trailer removed).
    pub output: Vec<u8>,
    /// Exit code of the program.
    pub code: Option<i32>,
}

/// Runs `podmortem ARGS` in a 100x30 pseudo-terminal in `cwd` with `env`, typing `keys`
/// (each after its pause), and waits up to 30 s for it to end.
pub fn run_in_pty(
    cwd: &Path,
    env: &[(&str, &Path)],
    args: &[&str],
    keys: &[(u64, &[u8])],
) -> PtyRun {
    let mut s = PtySession::spawn(cwd, env, args);
    s.keys(keys);
    s.finish()
}

/// podmortem running in a pseudo-terminal, driven step by step.
pub struct PtySession {
    child: std::process::Child,
    stdin: Option<std::process::ChildStdin>,
    log: PathBuf,
    args: Vec<String>,
}

impl PtySession {
    /// Starts `podmortem ARGS` in a 100x30 pseudo-terminal in `cwd` with `env`.
    pub fn spawn(cwd: &Path, env: &[(&str, &Path)], args: &[&str]) -> PtySession {
        let log = cwd.join(format!("pty-{}-{}.log", std::process::id(), unique()));
        let mut cmd = String::from("stty rows 30 cols 100; exec env TERM=xterm-256color");
        for (k, v) in env {
            cmd.push_str(&format!(" {k}='{}'", v.display()));
        }
        cmd.push_str(&format!(" '{}'", env!("CARGO_BIN_EXE_podmortem")));
        for a in args {
            cmd.push_str(&format!(" '{a}'"));
        }
        let mut child = Command::new("script")
            .args(["-q", "-e", "-f", "-c", &cmd])
            .arg(&log)
            .current_dir(cwd)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdin = child.stdin.take();
        PtySession {
            child,
            stdin,
            log,
            args: args.iter().map(|a| a.to_string()).collect(),
        }
    }

    /// Types keys, each after its pause (ms).
    pub fn keys(&mut self, keys: &[(u64, &[u8])]) {
        for (pause, k) in keys {
            std::thread::sleep(Duration::from_millis(*pause));
            if let Some(stdin) = self.stdin.as_mut() {
                let _ = stdin.write_all(k);
                let _ = stdin.flush();
            }
        }
    }

    /// The pid of podmortem itself (the terminal's session leader, under `script`).
    pub fn program_pid(&self) -> u32 {
        let start = Instant::now();
        loop {
            for e in std::fs::read_dir("/proc").unwrap().flatten() {
                let Some(pid) = e.file_name().to_str().and_then(|p| p.parse::<u32>().ok()) else {
                    continue;
                };
                let cmdline = std::fs::read(e.path().join("cmdline")).unwrap_or_default();
                let stat = std::fs::read_to_string(e.path().join("stat")).unwrap_or_default();
                let ppid = stat
                    .rsplit(')')
                    .next()
                    .and_then(|r| r.split_whitespace().nth(1));
                if ppid == Some(&self.child.id().to_string())
                    && cmdline.starts_with(env!("CARGO_BIN_EXE_podmortem").as_bytes())
                {
                    return pid;
                }
            }
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "podmortem not found"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Hangs up the terminal as a dropped SSH connection does: the emulator (`script`)
    /// dies and the pseudo-terminal's master side closes; the kernel sends SIGHUP.
    pub fn hang_up(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Waits up to 30 s for the program to end; what it wrote, and its exit code.
    pub fn finish(mut self) -> PtyRun {
        let start = Instant::now();
        let status = loop {
            if let Some(st) = self.child.try_wait().unwrap() {
                break st;
            }
            if start.elapsed() > Duration::from_secs(30) {
                let _ = self.child.kill();
                panic!("podmortem {:?} did not end in a pty", self.args);
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        drop(self.stdin.take());
        let raw = std::fs::read(&self.log).unwrap();
        let _ = std::fs::remove_file(&self.log);
        // `script` frames the capture with a header line and, at the end, a trailer line.
        let body = match raw.iter().position(|&b| b == b'\n') {
            Some(i) if raw.starts_with(b"Script started") => raw.get(i + 1..).unwrap_or_default(),
            _ => &raw[..],
        };
        let body = match find_last(body, b"\nScript done") {
            Some(i) => body.get(..i + 1).unwrap_or_default(),
            None => body,
        };
        PtyRun {
            output: body.to_vec(),
            code: status.code(),
        }
    }
}

fn unique() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    N.fetch_add(1, Ordering::Relaxed)
}

fn find_last(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).rposition(|w| w == needle)
}

/// Final bytes of the CSI sequences the workbench itself draws with (cursor moves, colours,
/// erase, modes). Queries (`n`, `c`, `t`) and anything else are refused.
const CSI_FINALS: &[u8] = b"mHJKhlABCDGdfrXSTL@PMEF";

/// Checks bytes written to a terminal: valid UTF-8; no C0 control but CR, LF and TAB; no
/// DEL, no C1 control, no bidirectional or invisible format character; and ESC only as the
/// start of a CSI sequence with a drawing final byte when `allow_csi` (the workbench), never
/// otherwise (the CLI). No OSC, DCS, APC, PM or SOS string at all.
pub fn check_terminal_bytes(out: &[u8], allow_csi: bool) -> Result<(), String> {
    let text = std::str::from_utf8(out).map_err(|e| {
        let at = e.valid_up_to();
        let ctx = out
            .get(at.saturating_sub(40)..(at + 8).min(out.len()))
            .unwrap_or_default();
        format!(
            "invalid UTF-8 at byte {at}: {:?}",
            String::from_utf8_lossy(ctx)
        )
    })?;
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    let mut i = 0;
    while let Some(&(at, c)) = chars.get(i) {
        let ctx = || {
            let s = at.saturating_sub(60);
            format!(
                "{:?}",
                text.get(s..(at + 20).min(text.len())).unwrap_or("?")
            )
        };
        if c == '\x1b' {
            if !allow_csi {
                return Err(format!("ESC at byte {at}: {}", ctx()));
            }
            // CSI: ESC [ parameters (0-9 ; ? < = >) intermediates? final.
            if chars.get(i + 1).map(|x| x.1) != Some('[') {
                return Err(format!("ESC not starting a CSI at byte {at}: {}", ctx()));
            }
            let mut j = i + 2;
            while chars
                .get(j)
                .is_some_and(|x| x.1.is_ascii_digit() || ";?<=>:".contains(x.1))
            {
                j += 1;
            }
            match chars.get(j).map(|x| x.1) {
                Some(f) if f.is_ascii() && CSI_FINALS.contains(&(f as u8)) => {}
                other => {
                    return Err(format!("CSI with final {other:?} at byte {at}: {}", ctx()));
                }
            }
            i = j + 1;
            continue;
        }
        if matches!(c, '\r' | '\n' | '\t') {
            i += 1;
            continue;
        }
        if podmortem::sanitize::is_unsafe(c) {
            return Err(format!(
                "raw {c:?} (U+{:04X}) at byte {at}: {}",
                c as u32,
                ctx()
            ));
        }
        i += 1;
    }
    Ok(())
}
