//! The kernel walkers (task list, tasks, threads, namespaces, cgroups, memory areas through
//! the maple tree or the `vm_next` list, open files and sockets, `d_path`) over a synthetic
//! kernel whose memory is the fuzzer's input (see `podmortem_fuzz::FuzzKernel`).
//!
//! Input: one flags byte (bit 0: a pre-6.1 kernel with `mm->mmap` lists), then the memory,
//! mapped at `podmortem_fuzz::BASE` and repeating (`init_task` is at its first byte). The
//! walkers also start from fixed spots: an `mm_struct` at +0x400, a `struct path` at +0x800,
//! a `task_struct` at +0xc00 (modulo the memory's length).
#![no_main]

use libfuzzer_sys::fuzz_target;
use podmortem::engine::kernel::dpath::{PathRef, d_path};
use podmortem::engine::kernel::files::walk_open_files;
use podmortem::engine::kernel::memory::KernelMemory;
use podmortem::engine::kernel::tasks::{read_task, task_list};
use podmortem::engine::kernel::vmas::walk_vmas;
use podmortem_fuzz::{BASE, FuzzKernel};

fuzz_target!(|data: &[u8]| {
    let Some((&flags, memory)) = data.split_first() else {
        return;
    };
    if memory.len() < 8 {
        return;
    }
    let k = FuzzKernel::new(memory, flags & 1 != 0);
    let k: &dyn KernelMemory = &k;
    let mut tasks = vec![BASE + 0xc00];
    if let Ok((list, _warnings)) = task_list(k) {
        tasks.extend(list);
    }
    for &task in tasks.iter().take(64) {
        let Ok(info) = read_task(k, task) else {
            continue;
        };
        let root = k
            .read_field_u64(task, "task_struct", "fs")
            .and_then(|fs| PathRef::read(k, k.field_addr(fs, "fs_struct", "root")?))
            .ok();
        if info.mm != 0 {
            let _ = walk_vmas(k, info.mm, root);
        }
        let _ = walk_open_files(k, info.pid, task);
    }
    let _ = walk_vmas(k, BASE + 0x400, None);
    let path = BASE + 0x800;
    let root = PathRef::read(k, path + 0x10).ok();
    let _ = d_path(k, path, None);
    let _ = d_path(k, path, root);
});
