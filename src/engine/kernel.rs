//! The Linux kernel memory dump back end: physical memory sources (LiME, AVML, ELF core,
//! raw), Volatility 3 ISF symbols, the kernel's address spaces and its process model.

pub mod isf;
pub mod memory;
pub mod physical;
