//! The synthetic kernel of [`kernel_mem`](super::kernel_mem) written out as a real dump, so
//! that `KernelDump::open` and the CLI run on it: a LiME file whose memory holds the
//! [`SynthKernel`]'s pages mapped by 4-level page tables built here, a VMCOREINFO text, the
//! banner at `linux_banner` and `init_task`; plus the ISF JSON file that describes it (the
//! walkers' ISF extended with the task-list fields).
//!
//! Physical layout (phys_base 0): kernel-image pages at `va - START_KERNEL_MAP`, VMCOREINFO at
//! [`VMCOREINFO_AT`], page tables from [`TABLES`], and the direct map (every structure the
//! builders allocate, task_structs included) at [`DIRECT_PHYS`] and up, the last range of
//! the file, so that cutting the file short loses task_structs and nothing else.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde_json::{Value, json};

use super::kernel_mem::{SHIFT, SynthKernel, isf_json};

/// Virtual address at which the kernel image is linked to physical address 0.
pub const START_KERNEL_MAP: u64 = 0xffff_ffff_8000_0000;
/// The direct map's base (where `kernel_mem` allocates).
const DIRECT_MAP: u64 = 0xffff_8880_0000_0000;
/// Physical address of direct-map address [`DIRECT_MAP`].
pub const DIRECT_PHYS: u64 = 0x1000_0000;
/// First physical frame of the page tables.
pub const TABLES: u64 = 0x80_0000;
/// Physical bytes reserved for the page tables.
const TABLES_SPAN: u64 = 0x100_0000;
/// Physical address of the VMCOREINFO text.
pub const VMCOREINFO_AT: u64 = 0x7f_0000;
/// Unslid ISF addresses of the symbols the open needs.
const LINUX_BANNER: u64 = 0xffff_ffff_8200_0000;
const INIT_TOP_PGT: u64 = 0xffff_ffff_8240_0000;
const INIT_TASK: u64 = 0xffff_ffff_8260_0000;
/// `linux_banner`, as the ISF's constant data and in memory.
pub const BANNER: &[u8] =
    b"Linux version 6.1.0-synthetic (podmortem@tests) (gcc 12.2.0) #1 SMP PREEMPT_DYNAMIC\n\0";

const LIME: u32 = 0x4C69_4D45;
const PAGE: u64 = 4096;

fn base64(bytes: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut s = String::new();
    for c in bytes.chunks(3) {
        let n = (u32::from(c[0]) << 16)
            | (u32::from(*c.get(1).unwrap_or(&0)) << 8)
            | u32::from(*c.get(2).unwrap_or(&0));
        for i in 0..4 {
            if i <= c.len() {
                s.push(A[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                s.push('=');
            }
        }
    }
    s
}

/// The walkers' ISF plus `task_struct`'s task-list fields, `list_head` and the symbols
/// `linux_banner` (with its constant data), `init_top_pgt` and `init_task`.
pub fn image_isf_json() -> Value {
    let mut v = isf_json(false);
    let base = |n: &str| json!({"kind": "base", "name": n});
    let field = |off: u64, ty: Value| json!({"offset": off, "type": ty});
    let task = &mut v["user_types"]["task_struct"]["fields"];
    let list = json!({"kind": "struct", "name": "list_head"});
    let task_ptr = json!({"kind": "pointer", "subtype": {"kind": "struct", "name": "task_struct"}});
    task["tasks"] = field(0x20, list.clone());
    task["flags"] = field(0x30, base("unsigned int"));
    task["pid"] = field(0x38, base("int"));
    task["tgid"] = field(0x3c, base("int"));
    task["parent"] = field(0x48, task_ptr);
    task["comm"] = field(
        0x50,
        json!({"kind": "array", "count": 16, "subtype": base("char")}),
    );
    task["thread_group"] = field(0x70, list);
    let mm_ptr = json!({"kind": "pointer", "subtype": {"kind": "struct", "name": "mm_struct"}});
    task["mm"] = field(0x80, mm_ptr.clone());
    task["active_mm"] = field(0x88, mm_ptr);
    let vptr = json!({"kind": "pointer", "subtype": base("void")});
    v["user_types"]["list_head"] = json!({"kind": "struct", "size": 16, "fields": {
        "next": {"offset": 0, "type": vptr}, "prev": {"offset": 8, "type": vptr}}});
    let syms = &mut v["symbols"];
    syms["linux_banner"] = json!({"address": LINUX_BANNER,
        "type": {"kind": "array", "count": BANNER.len(), "subtype": base("char")},
        "constant_data": base64(BANNER)});
    syms["init_top_pgt"] = json!({"address": INIT_TOP_PGT, "type": base("void")});
    syms["init_task"] = json!({"address": INIT_TASK,
        "type": {"kind": "struct", "name": "task_struct"}});
    v
}

/// A synthetic kernel with a task list, to be written as a LiME dump.
pub struct TaskImage {
    /// The kernel memory (add anything with its builders).
    pub k: SynthKernel,
    /// The tasks added, in list order.
    pub tasks: Vec<u64>,
    /// Put the kernel's own BTF and kallsyms (in this layout) in its memory.
    pub own_symbols: Option<super::kallsyms::Layout>,
    /// Extra physical memory (address, bytes), e.g. a second BTF blob.
    pub extra: Vec<(u64, Vec<u8>)>,
    /// The ISF it was built with (written beside the dump).
    pub isf: Value,
}

/// Physical address of the kernel's BTF blob and kallsyms tables when it carries them.
pub const BTF_AT: u64 = 0x800_0000;
/// Physical address of the kallsyms tables.
pub const KALLSYMS_AT: u64 = 0x900_0000;

/// The kallsyms of the image's ISF symbols at their run-time addresses, `_text`, and filler
/// functions so that the table spans several markers.
pub fn image_kallsyms() -> Vec<(String, u8, u64)> {
    let isf = image_isf_json();
    let text = START_KERNEL_MAP + 0x100_0000 + SHIFT;
    let mut v = vec![
        ("_text".to_string(), b'T', text),
        ("_stext".to_string(), b'T', text),
    ];
    for (name, s) in isf["symbols"].as_object().unwrap() {
        v.push((name.clone(), b'D', s["address"].as_u64().unwrap() + SHIFT));
    }
    for i in 0..700u64 {
        v.push((
            format!("filler_function_{i:04}"),
            b't',
            text + 0x1000 + i * 0x40,
        ));
    }
    v
}

impl Default for TaskImage {
    fn default() -> Self {
        TaskImage::new()
    }
}

impl TaskImage {
    /// A kernel whose task list holds only `init_task` (pid 0, `swapper/0`).
    pub fn new() -> TaskImage {
        TaskImage::with_isf(&image_isf_json())
    }

    /// [`TaskImage::new`] with an ISF that extends [`image_isf_json`].
    pub fn with_isf(isf: &Value) -> TaskImage {
        let mut k = SynthKernel::with_isf(isf);
        k.write(k.sym("linux_banner"), BANNER);
        let init = k.sym("init_task");
        k.write(init, &[0u8; 0x400]);
        let mut img = TaskImage {
            k,
            tasks: Vec::new(),
            own_symbols: None,
            extra: Vec::new(),
            isf: isf.clone(),
        };
        img.init_fields(init, 0, "swapper/0", 0);
        let head = init + img.k.off("task_struct", "tasks");
        img.k.w64(head, head);
        img.k.w64(head + 8, head);
        img
    }

    fn init_fields(&mut self, t: u64, pid: u64, comm: &str, parent: u64) {
        let k = &mut self.k;
        k.set(t, "task_struct", "pid", pid);
        k.set(t, "task_struct", "tgid", pid);
        k.set(t, "task_struct", "parent", parent);
        let mut name = [0u8; 16];
        name[..comm.len().min(15)].copy_from_slice(&comm.as_bytes()[..comm.len().min(15)]);
        k.write(t + k.off("task_struct", "comm"), &name);
        let group = t + k.off("task_struct", "thread_group");
        k.w64(group, group);
        k.w64(group + 8, group);
    }

    /// The run-time address of `init_task`.
    pub fn init_task(&self) -> u64 {
        self.k.sym("init_task")
    }

    /// Adds a process at the tail of `init_task.tasks`; `parent` is a task address (0: none).
    pub fn add_task(&mut self, pid: u64, comm: &str, parent: u64) -> u64 {
        let t = self.k.alloc_struct("task_struct");
        self.link_task(t, pid, comm, parent);
        t
    }

    /// Fills the task-list fields of the task at `t` (allocated by the caller, e.g. with
    /// its files by `SynthKernel::add_task`) and adds it at the tail of `init_task.tasks`.
    pub fn link_task(&mut self, t: u64, pid: u64, comm: &str, parent: u64) {
        self.init_fields(t, pid, comm, parent);
        let off = self.k.off("task_struct", "tasks");
        let head = self.init_task() + off;
        let node = t + off;
        let mut prev = [0u8; 8];
        podmortem::engine::kernel::memory::KernelMemory::read_kernel(&self.k, head + 8, &mut prev)
            .unwrap();
        let prev = u64::from_le_bytes(prev);
        self.k.w64(prev, node); // prev->next
        self.k.w64(node, head); // node->next
        self.k.w64(node + 8, prev); // node->prev
        self.k.w64(head + 8, node); // head->prev
        self.tasks.push(t);
    }

    /// Adds a thread `tid` named `comm` to the process whose leader is at `leader` (on its
    /// `thread_group` list, not on the process list); returns its `task_struct`.
    pub fn add_thread(&mut self, leader: u64, tid: u64, comm: &str) -> u64 {
        let t = self.k.alloc_struct("task_struct");
        let mut tgid = [0u8; 4];
        let at = leader + self.k.off("task_struct", "tgid");
        podmortem::engine::kernel::memory::KernelMemory::read_kernel(&self.k, at, &mut tgid)
            .unwrap();
        self.init_fields(t, tid, comm, 0);
        self.k.set(
            t,
            "task_struct",
            "tgid",
            u64::from(u32::from_le_bytes(tgid)),
        );
        let off = self.k.off("task_struct", "thread_group");
        let (head, node) = (leader + off, t + off);
        let mut prev = [0u8; 8];
        podmortem::engine::kernel::memory::KernelMemory::read_kernel(&self.k, head + 8, &mut prev)
            .unwrap();
        let prev = u64::from_le_bytes(prev);
        self.k.w64(prev, node);
        self.k.w64(node, head);
        self.k.w64(node + 8, prev);
        self.k.w64(head + 8, node);
        t
    }

    /// Points `from`'s `tasks.next` at `to`'s `tasks` (a loop when `to` comes earlier).
    pub fn link_next(&mut self, from: u64, to: u64) {
        let off = self.k.off("task_struct", "tasks");
        self.k.w64(from + off, to + off);
    }

    /// The physical address of a kernel virtual address of this image.
    pub fn phys_of(va: u64) -> u64 {
        if va >= START_KERNEL_MAP {
            va - START_KERNEL_MAP
        } else {
            assert!(
                (DIRECT_MAP..DIRECT_MAP + (1 << 30)).contains(&va),
                "{va:#x}"
            );
            va - DIRECT_MAP + DIRECT_PHYS
        }
    }

    /// The physical memory: every page of the kernel, the page tables and VMCOREINFO, by
    /// physical frame; and the DTB.
    pub fn physical(&self) -> (BTreeMap<u64, Vec<u8>>, u64) {
        let mut frames: BTreeMap<u64, Vec<u8>> = BTreeMap::new();
        let dtb = Self::phys_of(self.k.sym("init_top_pgt"));
        let mut tables: BTreeMap<u64, [u64; 512]> = BTreeMap::new();
        tables.insert(dtb, [0; 512]);
        let mut next_table = TABLES;
        for (va, bytes) in self.k.pages() {
            let phys = Self::phys_of(va);
            assert!(
                !(VMCOREINFO_AT..TABLES + TABLES_SPAN).contains(&phys),
                "{va:#x} -> {phys:#x} overlaps the page tables"
            );
            frames.insert(phys, bytes.to_vec());
            let mut table = dtb;
            for level in (2..=4).rev() {
                let i = ((va >> (12 + 9 * (level - 1))) & 0x1ff) as usize;
                let entry = tables.get(&table).unwrap()[i];
                table = if entry & 1 == 0 {
                    let t = next_table;
                    next_table += PAGE;
                    assert!(next_table <= TABLES + TABLES_SPAN);
                    tables.insert(t, [0; 512]);
                    tables.get_mut(&table).unwrap()[i] = t | 3;
                    t
                } else {
                    entry & 0x000f_ffff_ffff_f000
                };
            }
            tables.get_mut(&table).unwrap()[((va >> 12) & 0x1ff) as usize] = phys | 3;
        }
        for (at, entries) in tables {
            frames.insert(at, entries.iter().flat_map(|e| e.to_le_bytes()).collect());
        }
        let text = format!(
            "OSRELEASE=6.1.0-synthetic\nPAGESIZE=4096\nSYMBOL(init_top_pgt)={:x}\n\
             NUMBER(phys_base)=0\nKERNELOFFSET={SHIFT:x}\nNUMBER(pgtable_l5_enabled)=0\n",
            self.k.sym("init_top_pgt")
        );
        let mut page = text.into_bytes();
        page.resize(PAGE as usize, 0);
        frames.insert(VMCOREINFO_AT, page);
        let mut extra = self.extra.clone();
        if let Some(layout) = self.own_symbols {
            extra.push((BTF_AT, super::btf::btf_from_isf(&image_isf_json())));
            let (tables, _) = super::kallsyms::kallsyms_blob(&image_kallsyms(), layout);
            extra.push((KALLSYMS_AT, tables));
        }
        for (at, bytes) in extra {
            for (i, chunk) in bytes.chunks(PAGE as usize).enumerate() {
                let mut page = chunk.to_vec();
                page.resize(PAGE as usize, 0);
                let frame = at + i as u64 * PAGE;
                assert!(!frames.contains_key(&frame), "{frame:#x} taken");
                frames.insert(frame, page);
            }
        }
        (frames, dtb)
    }

    /// The LiME file: one range per run of adjacent frames, in address order.
    pub fn lime_bytes(&self) -> Vec<u8> {
        let (frames, _) = self.physical();
        let mut runs: Vec<(u64, Vec<u8>)> = Vec::new();
        for (at, bytes) in frames {
            match runs.last_mut() {
                Some((start, data)) if *start + data.len() as u64 == at => data.extend(bytes),
                _ => runs.push((at, bytes)),
            }
        }
        let mut out = Vec::new();
        for (start, data) in runs {
            out.extend(LIME.to_le_bytes());
            out.extend(1u32.to_le_bytes());
            out.extend(start.to_le_bytes());
            out.extend((start + data.len() as u64 - 1).to_le_bytes());
            out.extend([0u8; 8]);
            out.extend(data);
        }
        out
    }

    /// Writes `<name>.lime` (cut to `keep` bytes when given) and `<name>.json` (the ISF)
    /// under `target/test-tmp/kernel_image`; returns their paths.
    pub fn write(&self, name: &str, keep: Option<usize>) -> (PathBuf, PathBuf) {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/test-tmp/kernel_image");
        std::fs::create_dir_all(&dir).unwrap();
        let tag = format!("{name}-{}", std::process::id());
        let dump = dir.join(format!("{tag}.lime"));
        let isf = dir.join(format!("{tag}.json"));
        let mut bytes = self.lime_bytes();
        if let Some(n) = keep {
            bytes.truncate(n);
        }
        std::fs::write(&dump, bytes).unwrap();
        std::fs::write(&isf, serde_json::to_vec(&self.isf).unwrap()).unwrap();
        (dump, isf)
    }
}
