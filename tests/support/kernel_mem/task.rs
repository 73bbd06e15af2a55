//! Task and memory-map builders of the synthetic kernel: tasks with their descriptor table,
//! cwd and root, VMAs, and mms whose VMAs are a `mmap` list (pre-6.1) or a maple tree.

use podmortem::engine::kernel::isf::TypeRef;
use podmortem::engine::kernel::memory::KernelMemory;

use super::memory::SynthKernel;
use super::vfs::Mnt;

/// One VMA to build.
#[derive(Debug, Clone, Default)]
pub struct VmaSpec {
    /// Start.
    pub start: u64,
    /// End.
    pub end: u64,
    /// `vm_flags`.
    pub flags: u64,
    /// `vm_pgoff` (pages).
    pub pgoff: u64,
    /// `struct file *` or 0.
    pub file: u64,
    /// A special mapping name (`[vvar]`).
    pub special: Option<&'static str>,
}

/// What the mm's naming fields hold.
#[derive(Debug, Clone, Copy, Default)]
pub struct MmInfo {
    /// `start_brk`, `brk`.
    pub brk: (u64, u64),
    /// `start_stack`.
    pub start_stack: u64,
    /// `context.vdso`.
    pub vdso: u64,
}

/// Which internal node type a built maple tree uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Internal {
    /// `maple_range_64` (16 slots).
    Range,
    /// `maple_arange_64` (10 slots), as `mm_mt` uses.
    Arange,
}

impl SynthKernel {
    /// A task with descriptors `fds` (fd, file), a table of `max_fds`, cwd and root.
    pub fn add_task(
        &mut self,
        fds: &[(u64, u64)],
        max_fds: u64,
        cwd: Option<(Mnt, u64)>,
        root: Option<(Mnt, u64)>,
    ) -> u64 {
        let t = self.alloc_struct("task_struct");
        let files = self.alloc_struct("files_struct");
        let fdt = self.alloc_struct("fdtable");
        let arr = self.alloc(max_fds.min(4096) * 8, 64);
        for (fd, file) in fds {
            self.w64(arr + fd * 8, *file);
        }
        self.set(fdt, "fdtable", "max_fds", max_fds);
        self.set(fdt, "fdtable", "fd", arr);
        self.set(files, "files_struct", "fdt", fdt);
        self.set(t, "task_struct", "files", files);
        if cwd.is_some() || root.is_some() {
            let fs = self.alloc_struct("fs_struct");
            for (field, p) in [("pwd", cwd), ("root", root)] {
                if let Some((m, d)) = p {
                    let a = fs + self.off("fs_struct", field);
                    self.set(a, "path", "mnt", m.vfsmount);
                    self.set(a, "path", "dentry", d);
                }
            }
            self.set(t, "task_struct", "fs", fs);
        }
        t
    }

    /// One vm_area_struct.
    pub fn add_vma(&mut self, s: &VmaSpec) -> u64 {
        let v = self.alloc_struct("vm_area_struct");
        self.set(v, "vm_area_struct", "vm_start", s.start);
        self.set(v, "vm_area_struct", "vm_end", s.end);
        self.set(v, "vm_area_struct", "vm_flags", s.flags);
        self.set(v, "vm_area_struct", "vm_pgoff", s.pgoff);
        self.set(v, "vm_area_struct", "vm_file", s.file);
        if let Some(name) = s.special {
            let sm = self.alloc_struct("vm_special_mapping");
            let n = self.string(name.as_bytes());
            self.set(sm, "vm_special_mapping", "name", n);
            let ops = self.sym("special_mapping_vmops");
            self.set(v, "vm_area_struct", "vm_ops", ops);
            self.set(v, "vm_area_struct", "vm_private_data", sm);
        }
        v
    }

    fn add_mm(&mut self, info: &MmInfo) -> u64 {
        let mm = self.alloc_struct("mm_struct");
        self.set(mm, "mm_struct", "start_brk", info.brk.0);
        self.set(mm, "mm_struct", "brk", info.brk.1);
        self.set(mm, "mm_struct", "start_stack", info.start_stack);
        let ctx = mm + self.off("mm_struct", "context");
        self.set(ctx, "mm_context_t", "vdso", info.vdso);
        mm
    }

    /// An mm whose VMAs are linked through `mmap`/`vm_next` (pre-6.1). Returns (mm, vmas).
    pub fn add_mm_list(&mut self, vmas: &[VmaSpec], info: &MmInfo) -> (u64, Vec<u64>) {
        let mm = self.add_mm(info);
        let ptrs: Vec<u64> = vmas.iter().map(|s| self.add_vma(s)).collect();
        for w in ptrs.windows(2) {
            self.set(w[0], "vm_area_struct", "vm_next", w[1]);
        }
        self.set(mm, "mm_struct", "mmap", ptrs.first().copied().unwrap_or(0));
        (mm, ptrs)
    }

    /// An mm whose VMAs are in a maple tree: leaves of up to `leaf_n` entries (VMAs and the
    /// NULL gaps between them), internal nodes of `internal` type. Returns (mm, vmas).
    pub fn add_mm_maple(
        &mut self,
        vmas: &[VmaSpec],
        info: &MmInfo,
        internal: Internal,
        leaf_n: usize,
    ) -> (u64, Vec<u64>) {
        let mm = self.add_mm(info);
        let ptrs: Vec<u64> = vmas.iter().map(|s| self.add_vma(s)).collect();
        // Entries covering 0..=MAX: (last, value).
        let mut entries: Vec<(u64, u64)> = Vec::new();
        let mut next = 0u64;
        for (s, p) in vmas.iter().zip(&ptrs) {
            if s.start > next {
                entries.push((s.start - 1, 0));
            }
            entries.push((s.end - 1, *p));
            next = s.end;
        }
        if next != 0 {
            entries.push((u64::MAX, 0));
        }
        let tree = mm + self.off("mm_struct", "mm_mt");
        self.maple_nodes.clear();
        // Level 0: leaves (type 1). Each item: (encoded entry, max, node).
        let mut level: Vec<(u64, u64, u64)> = Vec::new();
        for chunk in entries.chunks(leaf_n) {
            let node = self.maple_node("maple_range_64", 1, chunk);
            level.push((node | (1 << 3) | 4, chunk.last().unwrap().0, node));
        }
        let (ty_name, ty, fan) = match internal {
            Internal::Range => ("maple_range_64", 2u64, 16usize),
            Internal::Arange => ("maple_arange_64", 3, 10),
        };
        while level.len() > 1 {
            let mut up = Vec::new();
            for chunk in level.chunks(fan) {
                let items: Vec<(u64, u64)> = chunk.iter().map(|(e, max, _)| (*max, *e)).collect();
                let node = self.maple_node(ty_name, ty, &items);
                for (slot, (_, _, child)) in chunk.iter().enumerate() {
                    let po = self.parent_off(*child);
                    self.w64(child + po, node | ((slot as u64) << 3) | 6);
                }
                up.push((node | (ty << 3) | 4, chunk.last().unwrap().1, node));
            }
            level = up;
        }
        if let Some((e, _, node)) = level.first().copied() {
            let po = self.parent_off(node);
            self.w64(node + po, tree | 1);
            self.set(tree, "maple_tree", "ma_root", (e & !0x7) | 2);
        }
        (mm, ptrs)
    }

    /// Offset of `parent` in a built node (by the type it was built as).
    pub fn parent_off(&self, node: u64) -> u64 {
        let ty = self
            .maple_nodes
            .iter()
            .find(|(n, _)| *n == node)
            .map_or(1, |(_, t)| *t);
        self.off(
            if ty == 3 {
                "maple_arange_64"
            } else {
                "maple_range_64"
            },
            "parent",
        )
    }

    /// One node of type `st` (type number `ty`) holding (last, value) items.
    fn maple_node(&mut self, st: &str, ty: u64, items: &[(u64, u64)]) -> u64 {
        let node = self.alloc(256, 256);
        let (pivot, slot) = (self.off(st, "pivot"), self.off(st, "slot"));
        let pivots = match self.isf.field(st, "pivot").unwrap().kind {
            TypeRef::Array { count, .. } => count as usize,
            _ => unreachable!(),
        };
        for (i, (last, value)) in items.iter().enumerate() {
            if i < pivots {
                self.w64(node + pivot + 8 * i as u64, *last);
            }
            self.w64(node + slot + 8 * i as u64, *value);
        }
        self.maple_nodes.push((node, ty));
        node
    }

    /// The root maple node of `mm` and its encoded root entry.
    pub fn maple_root(&self, mm: u64) -> (u64, u64) {
        let tree = mm + self.off("mm_struct", "mm_mt");
        let e = self.read_field_u64(tree, "maple_tree", "ma_root").unwrap();
        (e & !0xff, e)
    }

    /// An mm whose tree is a chain of `depth` single-child `maple_range_64` nodes above one
    /// leaf holding `vma` (a tree deeper than any real one).
    pub fn add_mm_maple_chain(&mut self, depth: usize, vma: &VmaSpec) -> u64 {
        let mm = self.add_mm(&MmInfo::default());
        let v = self.add_vma(vma);
        let tree = mm + self.off("mm_struct", "mm_mt");
        let leaf = self.maple_node(
            "maple_range_64",
            1,
            &[(vma.start - 1, 0), (vma.end - 1, v), (u64::MAX, 0)],
        );
        let mut child = (leaf, leaf | (1 << 3) | 4);
        for _ in 0..depth {
            let node = self.maple_node("maple_range_64", 2, &[(u64::MAX, child.1)]);
            let po = self.parent_off(child.0);
            self.w64(child.0 + po, node | 6);
            child = (node, node | (2 << 3) | 4);
        }
        let po = self.parent_off(child.0);
        self.w64(child.0 + po, tree | 1);
        self.set(tree, "maple_tree", "ma_root", (child.1 & !0x7) | 2);
        mm
    }

    /// Slot `i` of a built maple node.
    pub fn maple_slot_addr(&self, node: u64, i: u64) -> u64 {
        let ty = self
            .maple_nodes
            .iter()
            .find(|(n, _)| *n == node)
            .map_or(1, |(_, t)| *t);
        let st = if ty == 3 {
            "maple_arange_64"
        } else {
            "maple_range_64"
        };
        node + self.off(st, "slot") + 8 * i
    }
}
