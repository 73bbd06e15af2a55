//! Driving the real binary in a real terminal: a private tmux server per test.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// A tmux server running one podmortem session.
pub struct Tmux {
    socket: PathBuf,
}

impl Tmux {
    /// Whether tmux is installed (required when the fixtures are).
    pub fn available() -> bool {
        let ok = Command::new("tmux")
            .arg("-V")
            .output()
            .is_ok_and(|o| o.status.success());
        if !ok {
            assert!(
                std::env::var("PODMORTEM_REQUIRE_FIXTURES").as_deref() != Ok("1"),
                "tmux is required in CI (.ci/run installs it)"
            );
            eprintln!("skipping: tmux not installed");
        }
        ok
    }

    /// Starts `podmortem ARGS` in `cwd` at 120x36, findings under `data`, the socket in
    /// `sock_dir`.
    pub fn start(sock_dir: &Path, cwd: &Path, env: &[(&str, &Path)], args: &[&str]) -> Tmux {
        Tmux::launch(sock_dir, cwd, env, args, None)
    }

    /// Like [`Tmux::start`], and every byte the program writes to the terminal is copied to
    /// `log` (tmux `pipe-pane -O`), from its first byte on.
    pub fn start_logged(
        sock_dir: &Path,
        cwd: &Path,
        env: &[(&str, &Path)],
        args: &[&str],
        log: &Path,
    ) -> Tmux {
        Tmux::launch(sock_dir, cwd, env, args, Some(log))
    }

    fn launch(
        sock_dir: &Path,
        cwd: &Path,
        env: &[(&str, &Path)],
        args: &[&str],
        log: Option<&Path>,
    ) -> Tmux {
        let socket = sock_dir.join("tmux.sock");
        // With a log, the program starts after a pause so the pipe is there for its first byte.
        let pause = if log.is_some() { "sleep 1 && " } else { "" };
        let mut cmd = format!("cd '{}' && {pause}TERM=xterm-256color", cwd.display());
        for (k, v) in env {
            cmd.push_str(&format!(" {k}='{}'", v.display()));
        }
        cmd.push_str(&format!(" exec {}", env!("CARGO_BIN_EXE_podmortem")));
        for a in args {
            cmd.push_str(&format!(" '{a}'"));
        }
        let st = Command::new("tmux")
            .args([
                "-S",
                socket.to_str().unwrap(),
                "new-session",
                "-d",
                "-x",
                "120",
                "-y",
                "36",
            ])
            .arg(&cmd)
            .status()
            .unwrap();
        assert!(st.success());
        let t = Tmux { socket };
        if let Some(log) = log {
            let st = t.tmux(&["pipe-pane", "-O", &format!("cat > '{}'", log.display())]);
            assert!(st.status.success());
        }
        t
    }

    fn tmux(&self, args: &[&str]) -> std::process::Output {
        Command::new("tmux")
            .arg("-S")
            .arg(&self.socket)
            .args(args)
            .output()
            .unwrap()
    }

    /// Sends keys (tmux names: `Down`, `Enter`, `Escape`, or characters).
    pub fn keys(&self, keys: &[&str]) {
        for k in keys {
            self.tmux(&["send-keys", k]);
            // Escape followed at once by a key reads as Alt+key: pause like a person.
            std::thread::sleep(Duration::from_millis(if *k == "Escape" { 300 } else { 60 }));
        }
    }

    /// Types literal text.
    pub fn text(&self, s: &str) {
        self.tmux(&["send-keys", "-l", s]);
        std::thread::sleep(Duration::from_millis(100));
    }

    /// The visible screen.
    pub fn screen(&self) -> String {
        String::from_utf8_lossy(&self.tmux(&["capture-pane", "-p"]).stdout).into_owned()
    }

    /// Waits up to 20 s for `needle` on the screen.
    pub fn wait_for(&self, needle: &str) -> String {
        let start = Instant::now();
        loop {
            let s = self.screen();
            if s.contains(needle) {
                return s;
            }
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "timed out waiting for {needle:?}; screen:\n{s}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Process id of the program in the pane.
    pub fn pid(&self) -> u32 {
        let out = self.tmux(&["list-panes", "-F", "#{pane_pid}"]);
        String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
    }

    /// The pane's title (what an OSC 0/2 sequence would set).
    pub fn pane_title(&self) -> String {
        let out = self.tmux(&["display-message", "-p", "#{pane_title}"]);
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Whether the session still runs.
    pub fn alive(&self) -> bool {
        self.tmux(&["has-session"]).status.success()
    }

    /// Waits up to 10 s for the program to exit.
    pub fn wait_exit(&self) {
        let start = Instant::now();
        while self.alive() {
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "podmortem did not exit"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.tmux(&["kill-server"]);
    }
}
