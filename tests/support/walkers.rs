//! Helpers of the kernel-walker tests: a CPU-time bound on a walk (corruption must end in an
//! error or a partial answer, never a hang) and an open file found by its descriptor.

use podmortem::engine::evidence::OpenFile;

/// Runs `f` on its own thread and fails the test if it uses more than 20 s of CPU.
pub fn within<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    within_secs(20, f)
}

/// Runs `f` on its own thread and fails the test if it uses more than `secs` of CPU time
/// (see [`super::cpu::within_cpu`]).
pub fn within_secs<T: Send + 'static>(secs: u64, f: impl FnOnce() -> T + Send + 'static) -> T {
    super::cpu::within_cpu(secs, f)
}

/// The open file with descriptor `fd` (panics if there is none).
pub fn by_fd(files: &[OpenFile], fd: i64) -> &OpenFile {
    files.iter().find(|f| f.fd == Some(fd)).unwrap()
}
