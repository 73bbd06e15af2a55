//! The Linux kernel memory dump back end: physical memory sources (LiME, AVML, ELF core,
//! raw), Volatility 3 ISF symbols, the kernel's address spaces and its process model.

pub mod addr;
pub mod bpf;
pub mod cgroup;
pub mod clock;
pub mod dpath;
pub mod dump;
pub mod files;
pub mod hidden;
pub mod isf;
pub mod kaslr;
mod layout_cache;
pub mod maple;
pub mod memory;
pub mod modules;
pub mod paging;
pub mod phys_search;
pub mod physical;
pub mod ptrace;
pub mod sockets;
pub mod space;
pub mod structs;
pub mod symbols;
pub mod syscalls;
mod task_cache;
pub mod tasks;
pub mod vmas;
pub mod vmcoreinfo;
pub mod xarray;

/// Problems a walk lists before it only says that more were met: a smeared fd table or
/// maple tree must not turn into a million messages.
pub const MAX_PROBLEMS: usize = 100;

/// Adds a walk problem to `list`, up to [`MAX_PROBLEMS`]; past that, one last line says the
/// rest were not listed (and the message is never built).
pub fn note_problem(list: &mut Vec<String>, message: impl FnOnce() -> String) {
    match list.len() {
        n if n < MAX_PROBLEMS => list.push(message()),
        MAX_PROBLEMS => list.push("further problems not listed".into()),
        _ => {}
    }
}
