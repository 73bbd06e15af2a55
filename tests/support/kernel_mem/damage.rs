//! Corruption helpers of the synthetic kernel: maple trees and VMA lists that loop or point
//! at garbage, dentries that are each other's parent, a damaged `max_fds`.

use podmortem::engine::kernel::memory::KernelMemory;

use super::memory::SynthKernel;

impl SynthKernel {
    /// Corruption: the root node's slot `i` points back at the root node itself.
    pub fn maple_self_loop(&mut self, mm: u64, i: u64) {
        let (node, e) = self.maple_root(mm);
        let a = self.maple_slot_addr(node, i);
        self.w64(a, (e & !0x7) | 4);
    }

    /// Corruption: the root node's slot `i` points at an unmapped "node".
    pub fn maple_garbage_child(&mut self, mm: u64, i: u64) {
        let (node, _) = self.maple_root(mm);
        let a = self.maple_slot_addr(node, i);
        self.w64(a, 0xffff_c900_dead_0000 | (1 << 3) | 4);
    }

    /// Corruption: the `vm_next` of `from` points back at `to`.
    pub fn vma_list_loop(&mut self, from: u64, to: u64) {
        self.set(from, "vm_area_struct", "vm_next", to);
    }

    /// Corruption: `a` and `b` are each other's `d_parent`.
    pub fn dentry_loop(&mut self, a: u64, b: u64) {
        self.set(a, "dentry", "d_parent", b);
        self.set(b, "dentry", "d_parent", a);
    }

    /// Corruption: a task's `fdt->max_fds`.
    pub fn set_max_fds(&mut self, task: u64, max_fds: u64) {
        let files = self.read_field_u64(task, "task_struct", "files").unwrap();
        let fdt = self.read_field_u64(files, "files_struct", "fdt").unwrap();
        self.set(fdt, "fdtable", "max_fds", max_fds);
    }
}
