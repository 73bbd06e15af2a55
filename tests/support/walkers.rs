//! Helpers of the kernel-walker tests: a time bound on a walk (corruption must end in an
//! error or a partial answer, never a hang) and an open file found by its descriptor.

use std::sync::mpsc;
use std::time::Duration;

use podmortem::engine::evidence::OpenFile;

/// Runs `f` on its own thread and fails the test if it takes longer than 20 s.
pub fn within<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    within_secs(20, f)
}

/// Runs `f` on its own thread and fails the test if it takes longer than `secs`.
pub fn within_secs<T: Send + 'static>(secs: u64, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(Duration::from_secs(secs))
        .unwrap_or_else(|_| panic!("did not finish within {secs} s (a loop? a hang?)"))
}

/// The open file with descriptor `fd` (panics if there is none).
pub fn by_fd(files: &[OpenFile], fd: i64) -> &OpenFile {
    files.iter().find(|f| f.fd == Some(fd)).unwrap()
}
