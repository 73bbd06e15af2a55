//! The kernel's own objects in the synthetic kernel of [`kernel_image`](super::kernel_image):
//! the ISF of `struct module` (6.1's `core_layout`, or 6.4's `mem[]`), `kernel_param`,
//! `mod_tree`, the system-call table and the kernel's text bounds, `prog_idr` (an IDR over
//! an xarray) with `bpf_prog`s, and `task_struct.ptrace`/`real_parent`; and builders: modules
//! on the list or only in the modules' memory, a system-call table, eBPF programs at any
//! IDR index, traced tasks. Offsets are unlike a real kernel's.

use podmortem::engine::kernel::memory::KernelMemory;
use serde_json::{Value, json};

use super::kernel_image::{TaskImage, image_isf_json};
use super::kernel_mem::SHIFT;
use super::kernel_mem::SynthKernel;

/// Unslid addresses of the symbols added.
const MODULES: u64 = 0xffff_ffff_8270_0000;
const MOD_TREE: u64 = 0xffff_ffff_8270_0100;
const PROG_IDR: u64 = 0xffff_ffff_8270_0200;
const SYS_CALL_TABLE: u64 = 0xffff_ffff_8280_0000;
/// Entries of the synthetic system-call table (then 8 bytes of padding, then a symbol).
pub const SYSCALLS: u64 = 16;
/// Unslid `_stext` and `_etext`.
const STEXT: u64 = 0xffff_ffff_8100_0000;
const ETEXT: u64 = 0xffff_ffff_8180_0000;
/// Where modules are loaded (not shifted by KASLR, as on x86-64).
pub const MODULES_AREA: u64 = 0xffff_ffff_c010_0000;
/// `enum module_state` values.
pub const LIVE: u64 = 0;
/// Loading.
pub const COMING: u64 = 1;

/// The run-time address of kernel code at `offset` into `_stext`.
pub fn text(offset: u64) -> u64 {
    STEXT + SHIFT + offset
}

fn base(n: &str) -> Value {
    json!({"kind": "base", "name": n})
}
fn ptr(sub: Value) -> Value {
    json!({"kind": "pointer", "subtype": sub})
}
fn st(n: &str) -> Value {
    json!({"kind": "struct", "name": n})
}
fn en(n: &str) -> Value {
    json!({"kind": "enum", "name": n})
}
fn arr(count: u64, sub: Value) -> Value {
    json!({"kind": "array", "count": count, "subtype": sub})
}
fn ut(size: u64, fields: &[(&str, u64, Value)]) -> Value {
    let mut f = serde_json::Map::new();
    for (name, off, ty) in fields {
        f.insert((*name).into(), json!({"type": ty, "offset": off}));
    }
    json!({"size": size, "fields": f, "kind": "struct"})
}
fn consts(names: &[(&str, i64)]) -> Value {
    let c: serde_json::Map<String, Value> =
        names.iter().map(|(n, v)| ((*n).into(), json!(v))).collect();
    json!({"size": 4, "base": "unsigned int", "constants": c})
}

/// Turns an [`objects_isf_json`] into a 4.13-4.19 kernel's: `prog_idr.idr_rt` a
/// `radix_tree_root` (`rnode`) of `radix_tree_node`s; no xarray.
pub fn radix_tree_idr(isf: &mut Value) {
    let t = isf["user_types"].as_object_mut().unwrap();
    t.remove("xarray");
    t.remove("xa_node");
    let uchar = || base("unsigned char");
    t.insert(
        "idr".into(),
        ut(
            0x18,
            &[
                ("idr_rt", 0x0, st("radix_tree_root")),
                ("idr_base", 0x10, base("unsigned int")),
                ("idr_next", 0x14, base("unsigned int")),
            ],
        ),
    );
    t.insert(
        "radix_tree_root".into(),
        ut(
            0x10,
            &[
                ("gfp_mask", 0x0, base("unsigned int")),
                ("rnode", 0x8, ptr(st("radix_tree_node"))),
            ],
        ),
    );
    t.insert(
        "radix_tree_node".into(),
        ut(
            0x240,
            &[
                ("shift", 0x0, uchar()),
                ("offset", 0x1, uchar()),
                ("count", 0x2, uchar()),
                ("exceptional", 0x3, uchar()),
                ("parent", 0x8, ptr(st("radix_tree_node"))),
                ("root", 0x10, ptr(st("radix_tree_root"))),
                ("slots", 0x28, arr(64, ptr(base("void")))),
                ("tags", 0x228, arr(3, base("long unsigned int"))),
            ],
        ),
    );
}

/// The task-list ISF of [`image_isf_json`] plus the kernel objects: modules described by
/// `core_layout` (6.1) or by `mem[]` (6.4+, `mem_array`).
pub fn objects_isf_json(mem_array: bool) -> Value {
    let mut v = image_isf_json();
    let ul = || base("long unsigned int");
    let u32t = || base("unsigned int");
    let task = &mut v["user_types"]["task_struct"]["fields"];
    task["ptrace"] = json!({"offset": 0x14, "type": u32t()});
    task["real_parent"] = json!({"offset": 0x40, "type": ptr(st("task_struct"))});
    let t = v["user_types"].as_object_mut().unwrap();
    let mut module = vec![
        ("state", 0x10, en("module_state")),
        ("list", 0x20, st("list_head")),
        ("name", 0x40, arr(56, base("char"))),
        ("mkobj", 0xa0, st("module_kobject")),
        ("kp", 0x110, ptr(st("kernel_param"))),
        ("num_kp", 0x118, u32t()),
        ("taints", 0x300, ul()),
        ("args", 0x310, ptr(base("char"))),
    ];
    if mem_array {
        module.push(("mem", 0x140, arr(7, st("module_memory"))));
        t.insert(
            "module_memory".into(),
            ut(
                0x28,
                &[("base", 0x0, ptr(base("void"))), ("size", 0x8, u32t())],
            ),
        );
    } else {
        module.push(("core_layout", 0x140, st("module_layout")));
        module.push(("init_layout", 0x1a0, st("module_layout")));
        t.insert(
            "module_layout".into(),
            ut(
                0x50,
                &[
                    ("base", 0x8, ptr(base("void"))),
                    ("size", 0x10, u32t()),
                    ("text_size", 0x14, u32t()),
                ],
            ),
        );
    }
    t.insert("module".into(), ut(0x380, &module));
    t.insert(
        "module_kobject".into(),
        ut(0x60, &[("mod", 0x48, ptr(st("module")))]),
    );
    t.insert(
        "kernel_param".into(),
        ut(0x28, &[("name", 0x10, ptr(base("char")))]),
    );
    t.insert(
        "mod_tree_root".into(),
        ut(0x30, &[("addr_min", 0x18, ul()), ("addr_max", 0x20, ul())]),
    );
    t.insert(
        "idr".into(),
        ut(
            0x20,
            &[("idr_rt", 0x8, st("xarray")), ("idr_base", 0x0, u32t())],
        ),
    );
    t.insert(
        "xarray".into(),
        ut(0x18, &[("xa_head", 0x10, ptr(base("void")))]),
    );
    t.insert(
        "xa_node".into(),
        ut(
            0x240,
            &[
                ("shift", 0x0, base("unsigned char")),
                ("parent", 0x8, ptr(st("xa_node"))),
                ("slots", 0x28, arr(64, ptr(base("void")))),
            ],
        ),
    );
    t.insert(
        "bpf_prog".into(),
        ut(
            0x60,
            &[
                ("type", 0x8, en("bpf_prog_type")),
                ("tag", 0x14, arr(8, base("unsigned char"))),
                ("aux", 0x30, ptr(st("bpf_prog_aux"))),
            ],
        ),
    );
    t.insert(
        "bpf_prog_aux".into(),
        ut(
            0x400,
            &[
                ("id", 0x10, u32t()),
                ("name", 0x100, arr(16, base("char"))),
                ("attach_func_name", 0x180, ptr(base("char"))),
            ],
        ),
    );
    let e = v["enums"].as_object_mut().unwrap();
    e.insert(
        "module_state".into(),
        consts(&[
            ("MODULE_STATE_LIVE", 0),
            ("MODULE_STATE_COMING", 1),
            ("MODULE_STATE_GOING", 2),
            ("MODULE_STATE_UNFORMED", 3),
        ]),
    );
    e.insert(
        "bpf_prog_type".into(),
        consts(&[
            ("BPF_PROG_TYPE_UNSPEC", 0),
            ("BPF_PROG_TYPE_SOCKET_FILTER", 1),
            ("BPF_PROG_TYPE_KPROBE", 2),
            ("BPF_PROG_TYPE_XDP", 6),
            ("BPF_PROG_TYPE_CGROUP_DEVICE", 15),
        ]),
    );
    if mem_array {
        e.insert(
            "mod_mem_type".into(),
            consts(&[
                ("MOD_TEXT", 0),
                ("MOD_DATA", 1),
                ("MOD_RODATA", 2),
                ("MOD_RO_AFTER_INIT", 3),
                ("MOD_INIT_TEXT", 4),
                ("MOD_INIT_DATA", 5),
                ("MOD_INIT_RODATA", 6),
                ("MOD_MEM_NUM_TYPES", 7),
            ]),
        );
    }
    let s = v["symbols"].as_object_mut().unwrap();
    let chars = || arr(0, base("char"));
    for (name, addr, ty) in [
        ("modules", MODULES, st("list_head")),
        ("mod_tree", MOD_TREE, st("mod_tree_root")),
        ("prog_idr", PROG_IDR, st("idr")),
        (
            "sys_call_table",
            SYS_CALL_TABLE,
            arr(0, ptr(json!({"kind": "function"}))),
        ),
        (
            "vdso_mapping",
            SYS_CALL_TABLE + (SYSCALLS + 1) * 8,
            base("void"),
        ),
        ("_stext", STEXT, chars()),
        ("_etext", ETEXT, chars()),
    ] {
        s.insert(name.into(), json!({"address": addr, "type": ty}));
    }
    v
}

/// One module to build.
#[derive(Debug, Clone)]
pub struct ModSpec {
    /// Its name.
    pub name: &'static str,
    /// `enum module_state` value.
    pub state: u64,
    /// Bytes of code (whole pages).
    pub text: u64,
    /// Its parameters' names.
    pub params: Vec<&'static str>,
    /// Taint bits (`1 << 12` out-of-tree, `1 << 13` unsigned).
    pub taints: u64,
}

impl ModSpec {
    /// A live module with `pages` pages of code, no parameters, untainted.
    pub fn new(name: &'static str, pages: u64) -> ModSpec {
        ModSpec {
            name,
            state: LIVE,
            text: pages * 4096,
            params: Vec::new(),
            taints: 0,
        }
    }
}

/// What [`TaskImage::add_module`] built.
#[derive(Debug, Clone, Copy)]
pub struct Built {
    /// The `struct module`.
    pub module: u64,
    /// Its code.
    pub base: u64,
    /// Code plus the data page holding the `struct module`.
    pub core: u64,
}

impl TaskImage {
    /// A kernel with the objects' symbols in place: an empty module list, `mod_tree`
    /// covering the modules' area, an empty `prog_idr`, a system-call table whose entries
    /// all point into the kernel's code.
    pub fn with_objects(mem_array: bool) -> TaskImage {
        TaskImage::with_objects_isf(&objects_isf_json(mem_array))
    }

    /// [`TaskImage::with_objects`] with the ISF `isf` (an [`objects_isf_json`] changed by
    /// the test).
    pub fn with_objects_isf(isf: &Value) -> TaskImage {
        let mut img = TaskImage::with_isf(isf);
        let head = img.k.sym("modules");
        img.k.w64(head, head);
        img.k.w64(head + 8, head);
        let tree = img.k.sym("mod_tree");
        img.k.set(tree, "mod_tree_root", "addr_min", MODULES_AREA);
        img.k
            .set(tree, "mod_tree_root", "addr_max", MODULES_AREA + 0x100_0000);
        let idr = img.k.sym("prog_idr");
        img.k.write(idr, &[0u8; 0x20]);
        let entries: Vec<u64> = (0..SYSCALLS).map(|i| text(0x1000 + i * 0x40)).collect();
        img.set_syscalls(&entries);
        img
    }

    /// Writes the system-call table's entries (and the zero padding after them).
    pub fn set_syscalls(&mut self, entries: &[u64]) {
        let at = self.k.sym("sys_call_table");
        for (i, e) in entries.iter().enumerate() {
            self.k.w64(at + 8 * i as u64, *e);
        }
        self.k.w64(at + 8 * entries.len() as u64, 0);
    }

    /// Builds module number `slot` (1 MiB apart in the modules' area): its code pages, then
    /// its `struct module` in the page after; on the module list (at its tail) when
    /// `listed`, else unlinked as `list_del_init` leaves it (pointing at itself).
    pub fn add_module(&mut self, slot: u64, spec: &ModSpec, listed: bool) -> Built {
        let base = MODULES_AREA + slot * 0x10_0000;
        let k = &mut self.k;
        k.write(base, &vec![0xcc; spec.text as usize]);
        let m = base + spec.text + 0x40;
        k.write(m, &[0u8; 0x380]);
        k.set(m, "module", "state", spec.state);
        let mut name = [0u8; 56];
        name[..spec.name.len()].copy_from_slice(spec.name.as_bytes());
        k.write(m + k.off("module", "name"), &name);
        let mkobj = m + k.off("module", "mkobj");
        k.set(mkobj, "module_kobject", "mod", m);
        let core = spec.text + 0x1000;
        if KernelMemory::isf(k).has_field("module", "mem") {
            let mem = m + k.off("module", "mem");
            k.set(mem, "module_memory", "base", base);
            k.set(mem, "module_memory", "size", spec.text);
            let data = mem + 0x28;
            k.set(data, "module_memory", "base", base + spec.text);
            k.set(data, "module_memory", "size", 0x1000);
        } else {
            let l = m + k.off("module", "core_layout");
            k.set(l, "module_layout", "base", base);
            k.set(l, "module_layout", "size", core);
            k.set(l, "module_layout", "text_size", spec.text);
        }
        if !spec.params.is_empty() {
            let arr = k.alloc(0x28 * spec.params.len() as u64, 64);
            for (i, p) in spec.params.iter().enumerate() {
                let s = k.string(p.as_bytes());
                k.set(arr + 0x28 * i as u64, "kernel_param", "name", s);
            }
            k.set(m, "module", "kp", arr);
            k.set(m, "module", "num_kp", spec.params.len() as u64);
        }
        k.set(m, "module", "taints", spec.taints);
        let node = m + k.off("module", "list");
        if listed {
            let head = k.sym("modules");
            let prev = k.read_u64(head + 8).unwrap();
            k.w64(prev, node);
            k.w64(node, head);
            k.w64(node + 8, prev);
            k.w64(head + 8, node);
        } else {
            k.w64(node, node);
            k.w64(node + 8, node);
        }
        Built {
            module: m,
            base,
            core,
        }
    }

    /// Points `from`'s `list.next` at `to`'s list node (a loop when `to` comes earlier).
    pub fn link_module(&mut self, from: u64, to: u64) {
        let off = self.k.off("module", "list");
        self.k.w64(from + off, to + off);
    }

    /// Stores an eBPF program at IDR index `index` (a two-level xarray, or radix tree with
    /// [`radix_tree_idr`]: a root of shift 6 and leaves; built on first use). Returns the
    /// `bpf_prog`.
    pub fn add_bpf(&mut self, index: u64, prog_type: u64, name: &str, attach: Option<&str>) -> u64 {
        let k = &mut self.k;
        let prog = k.alloc_struct("bpf_prog");
        let aux = k.alloc_struct("bpf_prog_aux");
        k.set(prog, "bpf_prog", "type", prog_type);
        k.write(
            prog + k.off("bpf_prog", "tag"),
            &[0xa5, 0x5a, 0, 1, 2, 3, 4, index as u8],
        );
        k.set(prog, "bpf_prog", "aux", aux);
        k.set(aux, "bpf_prog_aux", "id", index);
        k.write(aux + k.off("bpf_prog_aux", "name"), name.as_bytes());
        if let Some(a) = attach {
            let s = k.string(a.as_bytes());
            k.set(aux, "bpf_prog_aux", "attach_func_name", s);
        }
        let (head_at, node_type, tag) = idr_tree(k);
        let mut head = [0u8; 8];
        k.read_kernel(head_at, &mut head).unwrap();
        let mut root = u64::from_le_bytes(head);
        let slots = k.off(node_type, "slots");
        if root == 0 {
            let node = k.alloc_struct(node_type);
            k.set(node, node_type, "shift", 6);
            root = node | tag;
            k.w64(head_at, root);
        }
        let root = root - tag;
        let slot = root + slots + 8 * (index >> 6);
        let mut leaf = [0u8; 8];
        k.read_kernel(slot, &mut leaf).unwrap();
        let mut leaf = u64::from_le_bytes(leaf);
        if leaf == 0 {
            let node = k.alloc_struct(node_type);
            k.set(node, node_type, "parent", root);
            leaf = node | tag;
            k.w64(slot, leaf);
        }
        k.w64(leaf - tag + slots + 8 * (index & 63), prog);
        prog
    }

    /// Marks the task at `task` traced (`ptrace` flags) by the task at `tracer`, forked by
    /// the task at `real_parent`.
    pub fn trace(&mut self, task: u64, tracer: u64, real_parent: u64, flags: u64) {
        self.k.set(task, "task_struct", "ptrace", flags);
        self.k.set(task, "task_struct", "parent", tracer);
        self.k.set(task, "task_struct", "real_parent", real_parent);
    }
}

/// Where `prog_idr`'s head pointer is in `k`, its nodes' type and the low bits of an entry
/// pointing to a node: an xarray's, or a radix tree's ([`radix_tree_idr`]).
pub fn idr_tree(k: &SynthKernel) -> (u64, &'static str, u64) {
    let rt = k.sym("prog_idr") + k.off("idr", "idr_rt");
    let isf = k.isf();
    if isf.field("xarray", "xa_head").is_some() {
        (rt + k.off("xarray", "xa_head"), "xa_node", 2)
    } else {
        (rt + k.off("radix_tree_root", "rnode"), "radix_tree_node", 1)
    }
}
