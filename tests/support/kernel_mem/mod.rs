//! A synthetic kernel for the kernel walkers: sparse kernel memory (page -> bytes) that
//! implements `KernelMemory`, an in-code ISF (ISF 6.2 JSON built with `json!`) that declares
//! exactly the structures and fields the walkers use, at offsets deliberately unlike a real
//! kernel's (so nothing can be hard-coded), and builders for tasks, memory maps (maple tree or
//! the pre-6.1 `mmap` list), files, mounts and sockets, plus corruption helpers.
//!
//! Layout: `consts` (shift, symbols, flag and mode bits), `isf` (the ISF), `memory` (pages,
//! allocation, typed writes), `vfs` (filesystems, files, sockets), `task` (tasks, VMAs, maple
//! trees), `damage` (corruption helpers).
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod consts;
mod damage;
mod isf;
mod memory;
mod task;
mod vfs;

// Each test binary compiles `mod support;` and uses only part of it, so some of these
// public paths go unused in any one binary (as items do, hence `dead_code` allowed).
#[allow(unused_imports)]
pub use self::{
    consts::{
        S_IFCHR, S_IFDIR, S_IFIFO, S_IFREG, S_IFSOCK, SHIFT, SYMBOLS, VM_EXEC, VM_READ, VM_SHARED,
        VM_WRITE,
    },
    isf::isf_json,
    memory::SynthKernel,
    task::{Internal, MmInfo, VmaSpec},
    vfs::Mnt,
};
