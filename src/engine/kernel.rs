//! The Linux kernel memory dump back end: physical memory sources (LiME, AVML, ELF core,
//! raw), Volatility 3 ISF symbols, the kernel's address spaces and its process model.

pub mod cgroup;
pub mod clock;
pub mod dpath;
pub mod dump;
pub mod files;
pub mod isf;
pub mod kaslr;
pub mod maple;
pub mod memory;
pub mod paging;
pub mod phys_search;
pub mod physical;
pub mod sockets;
pub mod space;
pub mod tasks;
pub mod vmas;
