//! A synthetic kernel for the kernel walkers: sparse kernel memory (page -> bytes) that
//! implements `KernelMemory`, an in-code ISF (ISF 6.2 JSON built with `json!`) that declares
//! exactly the structures and fields the walkers use, at offsets deliberately unlike a real
//! kernel's (so nothing can be hard-coded), and builders for tasks, memory maps (maple tree or
//! the pre-6.1 `mmap` list), files, mounts and sockets, plus corruption helpers.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};

use podmortem::engine::error::Result;
use podmortem::engine::evidence::PartialRead;
use podmortem::engine::kernel::isf::{Isf, TypeRef};
use podmortem::engine::kernel::memory::KernelMemory;
use serde_json::{Value, json};

const PAGE: u64 = 4096;
/// The KASLR shift of the synthetic kernel.
pub const SHIFT: u64 = 0x2a0_0000;
/// Where allocations start.
const HEAP: u64 = 0xffff_8880_0010_0000;

/// Symbols the walkers compare against (unslid addresses).
pub const SYMBOLS: [(&str, u64); 5] = [
    ("special_mapping_vmops", 0xffff_ffff_81a0_0000),
    ("sockfs_dname", 0xffff_ffff_8110_0000),
    ("pipefs_dname", 0xffff_ffff_8110_0100),
    ("anon_inodefs_dname", 0xffff_ffff_8110_0200),
    ("simple_dname", 0xffff_ffff_8110_0300),
];

/// `vm_flags` bits.
pub const VM_READ: u64 = 1;
/// Writable.
pub const VM_WRITE: u64 = 2;
/// Executable.
pub const VM_EXEC: u64 = 4;
/// Shared.
pub const VM_SHARED: u64 = 8;

/// Mode bits.
pub const S_IFREG: u64 = 0o100000;
/// Directory.
pub const S_IFDIR: u64 = 0o040000;
/// Char device.
pub const S_IFCHR: u64 = 0o020000;
/// FIFO.
pub const S_IFIFO: u64 = 0o010000;
/// Socket.
pub const S_IFSOCK: u64 = 0o140000;

fn base(n: &str) -> Value {
    json!({"kind": "base", "name": n})
}
fn ptr(sub: Value) -> Value {
    json!({"kind": "pointer", "subtype": sub})
}
fn vptr() -> Value {
    ptr(base("void"))
}
fn st(n: &str) -> Value {
    json!({"kind": "struct", "name": n})
}
fn arr(count: u64, sub: Value) -> Value {
    json!({"kind": "array", "count": count, "subtype": sub})
}
fn bits(pos: u32, len: u32, sub: Value) -> Value {
    json!({"kind": "bitfield", "bit_position": pos, "bit_length": len, "type": sub})
}
fn ut(size: u64, fields: &[(&str, u64, Value)]) -> Value {
    let mut f = serde_json::Map::new();
    for (name, off, ty) in fields {
        f.insert((*name).into(), json!({"type": ty, "offset": off}));
    }
    json!({"size": size, "fields": f, "kind": "struct"})
}

/// The ISF of the synthetic kernel: `list_kernel` declares `mm_struct.mmap`/`vm_next` and
/// bitfield `sk_type`/`sk_protocol` (pre-6.1 style) instead of `mm_mt`.
pub fn isf_json(list_kernel: bool) -> Value {
    let ul = || base("long unsigned int");
    let u32t = || base("unsigned int");
    let u16t = || base("short unsigned int");
    let mut types = serde_json::Map::new();
    let mut add = |n: &str, v: Value| {
        types.insert(n.into(), v);
    };
    let mut mm = vec![
        ("start_brk", 0x100, ul()),
        ("brk", 0x108, ul()),
        ("start_stack", 0x110, ul()),
        ("context", 0x200, st("mm_context_t")),
    ];
    let mut vma = vec![
        ("vm_start", 0x18, ul()),
        ("vm_end", 0x30, ul()),
        ("vm_flags", 0x48, ul()),
        ("vm_pgoff", 0x58, ul()),
        ("vm_file", 0x60, ptr(st("file"))),
        ("vm_ops", 0x70, vptr()),
        ("vm_private_data", 0x78, vptr()),
    ];
    let mut sock = vec![
        ("__sk_common", 0x20, st("sock_common")),
        ("sk_socket", 0x108, ptr(st("socket"))),
    ];
    if list_kernel {
        mm.push(("mmap", 0x8, ptr(st("vm_area_struct"))));
        vma.push(("vm_next", 0x10, ptr(st("vm_area_struct"))));
        sock.push(("sk_protocol", 0x100, bits(8, 8, u32t())));
        sock.push(("sk_type", 0x100, bits(16, 16, u32t())));
    } else {
        mm.push(("mm_mt", 0x40, st("maple_tree")));
        sock.push(("sk_type", 0x100, u16t()));
        sock.push(("sk_protocol", 0x102, u16t()));
    }
    add("mm_struct", ut(0x300, &mm));
    add("vm_area_struct", ut(0xa0, &vma));
    add("sock", ut(0x300, &sock));
    add("mm_context_t", ut(0x80, &[("vdso", 0x28, vptr())]));
    add(
        "maple_tree",
        ut(0x18, &[("ma_flags", 0, u32t()), ("ma_root", 8, vptr())]),
    );
    add(
        "maple_node",
        ut(256, &[("parent", 0, vptr()), ("slot", 8, arr(31, vptr()))]),
    );
    add(
        "maple_range_64",
        ut(
            256,
            &[
                ("pivot", 0, arr(15, ul())),
                ("slot", 0x78, arr(16, vptr())),
                ("parent", 0xf8, vptr()),
            ],
        ),
    );
    add(
        "maple_arange_64",
        ut(
            256,
            &[
                ("pivot", 0, arr(9, ul())),
                ("slot", 0x48, arr(10, vptr())),
                ("gap", 0x98, arr(10, ul())),
                ("parent", 0xf0, vptr()),
            ],
        ),
    );
    add(
        "vm_special_mapping",
        ut(0x20, &[("name", 0, ptr(base("char")))]),
    );
    add(
        "file",
        ut(
            0x100,
            &[
                ("f_inode", 0x10, ptr(st("inode"))),
                ("f_path", 0x30, st("path")),
                ("f_flags", 0x48, u32t()),
                ("f_pos", 0x50, base("long long int")),
            ],
        ),
    );
    add(
        "path",
        ut(
            0x10,
            &[
                ("dentry", 0, ptr(st("dentry"))),
                ("mnt", 8, ptr(st("vfsmount"))),
            ],
        ),
    );
    add(
        "dentry",
        ut(
            0xc0,
            &[
                ("d_parent", 0x8, ptr(st("dentry"))),
                ("d_name", 0x10, st("qstr")),
                ("d_inode", 0x28, ptr(st("inode"))),
                ("d_op", 0x30, ptr(st("dentry_operations"))),
                ("d_sb", 0x38, ptr(st("super_block"))),
                ("d_hash", 0x40, st("hlist_bl_node")),
            ],
        ),
    );
    add(
        "qstr",
        ut(
            0x10,
            &[("name", 0, ptr(base("unsigned char"))), ("len", 8, u32t())],
        ),
    );
    add(
        "hlist_bl_node",
        ut(0x10, &[("next", 0, vptr()), ("pprev", 8, vptr())]),
    );
    add("dentry_operations", ut(0x80, &[("d_dname", 0x18, vptr())]));
    add(
        "vfsmount",
        ut(
            0x20,
            &[
                ("mnt_root", 0x8, ptr(st("dentry"))),
                ("mnt_sb", 0x10, vptr()),
            ],
        ),
    );
    add(
        "mount",
        ut(
            0x80,
            &[
                ("mnt_parent", 0x10, ptr(st("mount"))),
                ("mnt_mountpoint", 0x20, ptr(st("dentry"))),
                ("mnt", 0x40, st("vfsmount")),
            ],
        ),
    );
    add(
        "inode",
        ut(
            0x100,
            &[
                ("i_sb", 0x8, ptr(st("super_block"))),
                ("i_mode", 0x10, u16t()),
                ("i_ino", 0x28, ul()),
                ("i_size", 0x30, base("long long int")),
                ("i_nlink", 0x40, u32t()),
            ],
        ),
    );
    add(
        "super_block",
        ut(0x100, &[("s_type", 0x8, vptr()), ("s_dev", 0x20, u32t())]),
    );
    add(
        "file_system_type",
        ut(0x40, &[("name", 0, ptr(base("char")))]),
    );
    add(
        "task_struct",
        ut(0x400, &[("fs", 0x100, vptr()), ("files", 0x108, vptr())]),
    );
    add("files_struct", ut(0x100, &[("fdt", 0x18, vptr())]));
    add(
        "fdtable",
        ut(0x40, &[("max_fds", 0, u32t()), ("fd", 0x10, vptr())]),
    );
    add(
        "fs_struct",
        ut(
            0x40,
            &[("root", 0x10, st("path")), ("pwd", 0x20, st("path"))],
        ),
    );
    add(
        "socket_alloc",
        ut(
            0x280,
            &[
                ("vfs_inode", 0, st("inode")),
                ("socket", 0x200, st("socket")),
            ],
        ),
    );
    add(
        "socket",
        ut(
            0x40,
            &[("type", 0, base("short int")), ("sk", 0x8, ptr(st("sock")))],
        ),
    );
    add(
        "sock_common",
        ut(
            0x90,
            &[
                ("skc_daddr", 0x0, u32t()),
                ("skc_rcv_saddr", 0x4, u32t()),
                ("skc_dport", 0x8, u16t()),
                ("skc_num", 0xa, u16t()),
                ("skc_family", 0x10, u16t()),
                ("skc_state", 0x12, base("unsigned char")),
                ("skc_v6_daddr", 0x30, st("in6_addr")),
                ("skc_v6_rcv_saddr", 0x40, st("in6_addr")),
            ],
        ),
    );
    add(
        "in6_addr",
        ut(16, &[("s6_addr", 0, arr(16, base("unsigned char")))]),
    );
    add(
        "unix_sock",
        ut(
            0x340,
            &[
                ("sk", 0x10, st("sock")),
                ("addr", 0x320, vptr()),
                ("peer", 0x328, ptr(st("sock"))),
            ],
        ),
    );
    add(
        "unix_address",
        ut(
            8,
            &[
                ("len", 4, base("int")),
                ("name", 8, arr(0, st("sockaddr_un"))),
            ],
        ),
    );
    add(
        "sockaddr_un",
        ut(
            110,
            &[
                ("sun_family", 0, u16t()),
                ("sun_path", 2, arr(108, base("char"))),
            ],
        ),
    );
    let mut symbols = serde_json::Map::new();
    for (name, addr) in SYMBOLS {
        symbols.insert(name.into(), json!({"address": addr, "type": base("void")}));
    }
    let mut base_types = serde_json::Map::new();
    for (n, size, signed) in [
        ("char", 1, true),
        ("unsigned char", 1, false),
        ("short int", 2, true),
        ("short unsigned int", 2, false),
        ("int", 4, true),
        ("unsigned int", 4, false),
        ("long long int", 8, true),
        ("long unsigned int", 8, false),
        ("pointer", 8, false),
        ("void", 0, false),
    ] {
        base_types.insert(
            n.into(),
            json!({"size": size, "signed": signed, "kind": if n == "void" {"void"} else {"int"}, "endian": "little"}),
        );
    }
    json!({
        "metadata": {"producer": {"name": "podmortem-tests", "version": "1"}, "format": "6.2.0"},
        "base_types": base_types,
        "user_types": types,
        "enums": {
            "maple_type": {"size": 4, "base": "unsigned int", "constants":
                {"maple_dense": 0, "maple_leaf_64": 1, "maple_range_64": 2, "maple_arange_64": 3}},
            "sock_type": {"size": 4, "base": "unsigned int", "constants":
                {"SOCK_STREAM": 1, "SOCK_DGRAM": 2, "SOCK_RAW": 3, "SOCK_SEQPACKET": 5}}
        },
        "symbols": symbols
    })
}

/// A mount: its `struct mount` and the `struct vfsmount` inside.
#[derive(Debug, Clone, Copy)]
pub struct Mnt {
    /// `struct mount *`.
    pub mount: u64,
    /// `struct vfsmount *` (inside the mount).
    pub vfsmount: u64,
}

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

/// The synthetic kernel.
pub struct SynthKernel {
    isf: Isf,
    pages: BTreeMap<u64, Vec<u8>>,
    next: u64,
    /// Calls to `read_kernel` (to prove walks are bounded).
    pub reads: AtomicU64,
    /// The root mount.
    pub root_mnt: Mnt,
    /// The root dentry.
    pub root_dentry: u64,
    /// The root filesystem's superblock.
    pub root_sb: u64,
    dentries: HashMap<(u64, String), u64>,
    pseudo: HashMap<&'static str, (Mnt, u64, u64)>,
    strings: HashMap<Vec<u8>, u64>,
    /// Maple nodes built by the last `add_mm_maple`, leaves first, root last.
    pub maple_nodes: Vec<(u64, u64)>,
}

impl KernelMemory for SynthKernel {
    fn isf(&self) -> &Isf {
        &self.isf
    }

    fn read_kernel(&self, vaddr: u64, buf: &mut [u8]) -> Result<PartialRead> {
        self.reads.fetch_add(1, Ordering::Relaxed);
        let mut got = PartialRead::default();
        let mut done = 0usize;
        while done < buf.len() {
            let Some(addr) = vaddr.checked_add(done as u64) else {
                break;
            };
            let page = addr & !(PAGE - 1);
            let off = (addr - page) as usize;
            let n = (PAGE as usize - off).min(buf.len() - done);
            let dst = &mut buf[done..done + n];
            match self.pages.get(&page) {
                Some(p) => {
                    dst.copy_from_slice(&p[off..off + n]);
                    got.push(done..done + n);
                }
                None => dst.fill(0),
            }
            done += n;
        }
        Ok(got)
    }

    fn virtual_shift(&self) -> u64 {
        SHIFT
    }
}

impl SynthKernel {
    /// A kernel with a root filesystem ("/" on a rootfs superblock, device 0:2).
    pub fn new(list_kernel: bool) -> SynthKernel {
        SynthKernel::with_isf(&isf_json(list_kernel))
    }

    /// A kernel with a root filesystem and the given ISF (one that extends [`isf_json`]).
    pub fn with_isf(isf: &Value) -> SynthKernel {
        let bytes = serde_json::to_vec(isf).unwrap();
        let isf = Isf::from_bytes(&bytes, "synthetic.json").unwrap();
        let mut k = SynthKernel {
            isf,
            pages: BTreeMap::new(),
            next: HEAP,
            reads: AtomicU64::new(0),
            root_mnt: Mnt {
                mount: 0,
                vfsmount: 0,
            },
            root_dentry: 0,
            root_sb: 0,
            dentries: HashMap::new(),
            pseudo: HashMap::new(),
            strings: HashMap::new(),
            maple_nodes: Vec::new(),
        };
        let sb = k.add_sb("rootfs", 2);
        let inode = k.add_inode(sb, S_IFDIR | 0o755, 1);
        let d = k.add_dentry(None, "/", inode, sb, 0);
        let m = k.add_mount(None, 0, d, sb);
        k.root_mnt = m;
        k.root_dentry = d;
        k.root_sb = sb;
        k
    }

    /// The pages written so far: (kernel virtual address, 4096 bytes), in address order.
    pub fn pages(&self) -> impl Iterator<Item = (u64, &[u8])> {
        self.pages.iter().map(|(a, p)| (*a, p.as_slice()))
    }

    /// Read calls so far.
    pub fn reads(&self) -> u64 {
        self.reads.load(Ordering::Relaxed)
    }

    /// Offset of a field.
    pub fn off(&self, s: &str, f: &str) -> u64 {
        self.isf.offset(s, f).unwrap()
    }

    /// The run-time address of a symbol.
    pub fn sym(&self, name: &str) -> u64 {
        self.isf.symbol_address(name).unwrap() + SHIFT
    }

    /// Allocates zeroed memory.
    pub fn alloc(&mut self, size: u64, align: u64) -> u64 {
        let a = self.next.div_ceil(align) * align;
        self.next = a + size.max(8);
        self.write(a, &vec![0u8; size as usize]);
        a
    }

    /// Allocates a struct of the ISF.
    pub fn alloc_struct(&mut self, name: &str) -> u64 {
        let size = self.isf.struct_size(name).unwrap();
        self.alloc(size, 64)
    }

    /// Writes bytes (creating pages).
    pub fn write(&mut self, addr: u64, bytes: &[u8]) {
        for (i, b) in bytes.iter().enumerate() {
            let a = addr + i as u64;
            let page = self
                .pages
                .entry(a & !(PAGE - 1))
                .or_insert_with(|| vec![0; PAGE as usize]);
            page[(a & (PAGE - 1)) as usize] = *b;
        }
    }

    /// Removes the page holding `addr` from the dump.
    pub fn unmap(&mut self, addr: u64) {
        self.pages.remove(&(addr & !(PAGE - 1)));
    }

    /// Writes a u64.
    pub fn w64(&mut self, addr: u64, v: u64) {
        self.write(addr, &v.to_le_bytes());
    }

    /// Writes a field with its ISF width (bitfields read-modify-write).
    pub fn set(&mut self, base: u64, s: &str, f: &str, v: u64) {
        let field = self.isf.field(s, f).unwrap();
        let addr = base + field.offset;
        let (storage, bf) = match &field.kind {
            TypeRef::Bitfield {
                bit_position,
                bit_length,
                subtype,
            } => (subtype.as_ref().clone(), Some((*bit_position, *bit_length))),
            other => (other.clone(), None),
        };
        let size = self.isf.type_size(&storage).unwrap().min(8) as usize;
        let mut cur = [0u8; 8];
        self.read_kernel(addr, &mut cur[..size]).unwrap();
        let mut val = u64::from_le_bytes(cur);
        match bf {
            Some((pos, len)) => {
                let mask = ((1u64 << len) - 1) << pos;
                val = (val & !mask) | ((v << pos) & mask);
            }
            None => val = v,
        }
        self.write(addr, &val.to_le_bytes()[..size]);
    }

    /// A NUL-terminated string in kernel memory (shared).
    pub fn string(&mut self, s: &[u8]) -> u64 {
        if let Some(a) = self.strings.get(s) {
            return *a;
        }
        let a = self.alloc(s.len() as u64 + 1, 8);
        self.write(a, s);
        self.strings.insert(s.to_vec(), a);
        a
    }

    /// A superblock of filesystem type `fstype` and device `dev` (kernel dev_t).
    pub fn add_sb(&mut self, fstype: &str, dev: u64) -> u64 {
        let ty = self.alloc_struct("file_system_type");
        let name = self.string(fstype.as_bytes());
        self.set(ty, "file_system_type", "name", name);
        let sb = self.alloc_struct("super_block");
        self.set(sb, "super_block", "s_type", ty);
        self.set(sb, "super_block", "s_dev", dev);
        sb
    }

    /// An inode.
    pub fn add_inode(&mut self, sb: u64, mode: u64, ino: u64) -> u64 {
        let i = self.alloc_struct("inode");
        self.init_inode(i, sb, mode, ino);
        i
    }

    fn init_inode(&mut self, i: u64, sb: u64, mode: u64, ino: u64) {
        self.set(i, "inode", "i_sb", sb);
        self.set(i, "inode", "i_mode", mode);
        self.set(i, "inode", "i_ino", ino);
        self.set(i, "inode", "i_nlink", 1);
    }

    /// A hashed dentry named `name` under `parent` (`None`: a root, its own parent).
    pub fn add_dentry(
        &mut self,
        parent: Option<u64>,
        name: &str,
        inode: u64,
        sb: u64,
        d_op: u64,
    ) -> u64 {
        let d = self.alloc_struct("dentry");
        self.set(d, "dentry", "d_parent", parent.unwrap_or(d));
        let qstr = d + self.off("dentry", "d_name");
        let n = self.string(name.as_bytes());
        self.set(qstr, "qstr", "name", n);
        self.set(qstr, "qstr", "len", name.len() as u64);
        self.set(d, "dentry", "d_inode", inode);
        self.set(d, "dentry", "d_sb", sb);
        self.set(d, "dentry", "d_op", d_op);
        if parent.is_some() {
            let hash = d + self.off("dentry", "d_hash");
            self.set(hash, "hlist_bl_node", "pprev", 0xffff_8880_dead_0000);
        }
        d
    }

    /// Marks a dentry unlinked (unhashed), as `d_delete` leaves an open, unlinked file.
    pub fn unlink(&mut self, dentry: u64) {
        let hash = dentry + self.off("dentry", "d_hash");
        self.set(hash, "hlist_bl_node", "pprev", 0);
        let inode = self.read_field_u64(dentry, "dentry", "d_inode").unwrap();
        self.set(inode, "inode", "i_nlink", 0);
    }

    /// A mount of `root_dentry` on `mountpoint` of `parent` (`None`: the top mount).
    pub fn add_mount(
        &mut self,
        parent: Option<&Mnt>,
        mountpoint: u64,
        root_dentry: u64,
        sb: u64,
    ) -> Mnt {
        let m = self.alloc_struct("mount");
        let v = m + self.off("mount", "mnt");
        self.set(m, "mount", "mnt_parent", parent.map_or(m, |p| p.mount));
        self.set(
            m,
            "mount",
            "mnt_mountpoint",
            if parent.is_some() {
                mountpoint
            } else {
                root_dentry
            },
        );
        self.set(v, "vfsmount", "mnt_root", root_dentry);
        self.set(v, "vfsmount", "mnt_sb", sb);
        Mnt {
            mount: m,
            vfsmount: v,
        }
    }

    /// The dentry of `components` below `from` (directories made as needed); the last one gets
    /// `mode` and `ino`.
    pub fn add_path(
        &mut self,
        from: u64,
        sb: u64,
        components: &[&str],
        mode: u64,
        ino: u64,
    ) -> u64 {
        let mut d = from;
        for (i, c) in components.iter().enumerate() {
            let last = i + 1 == components.len();
            if !last && let Some(x) = self.dentries.get(&(d, (*c).to_string())) {
                d = *x;
                continue;
            }
            let (m, n) = if last {
                (mode, ino)
            } else {
                (S_IFDIR | 0o755, 1000 + self.dentries.len() as u64)
            };
            let inode = self.add_inode(sb, m, n);
            let nd = self.add_dentry(Some(d), c, inode, sb, 0);
            self.dentries.insert((d, (*c).to_string()), nd);
            d = nd;
        }
        d
    }

    /// A `struct file` open on (mnt, dentry).
    pub fn file_at(&mut self, mnt: &Mnt, dentry: u64, flags: u64, pos: u64) -> u64 {
        let f = self.alloc_struct("file");
        let p = f + self.off("file", "f_path");
        self.set(p, "path", "mnt", mnt.vfsmount);
        self.set(p, "path", "dentry", dentry);
        let inode = self.read_field_u64(dentry, "dentry", "d_inode").unwrap();
        self.set(f, "file", "f_inode", inode);
        self.set(f, "file", "f_flags", flags);
        self.set(f, "file", "f_pos", pos);
        f
    }

    /// A file at `/components...` on the root filesystem.
    pub fn add_file(&mut self, components: &[&str], mode: u64, ino: u64) -> u64 {
        let d = self.add_path(self.root_dentry, self.root_sb, components, mode, ino);
        let m = self.root_mnt;
        self.file_at(&m, d, 0o100002, 0)
    }

    /// The (mount, root dentry, dentry_operations) of a pseudo filesystem.
    fn pseudo_fs(&mut self, fstype: &'static str, dname: &str) -> (Mnt, u64, u64) {
        if let Some(x) = self.pseudo.get(fstype) {
            return *x;
        }
        let sb = self.add_sb(fstype, 8);
        let ops = self.alloc_struct("dentry_operations");
        let f = self.sym(dname);
        self.set(ops, "dentry_operations", "d_dname", f);
        let inode = self.add_inode(sb, S_IFDIR, 1);
        let root = self.add_dentry(None, "/", inode, sb, ops);
        let m = self.add_mount(None, 0, root, sb);
        self.pseudo.insert(fstype, (m, root, ops));
        (m, root, ops)
    }

    /// A pipe end (`pipe:[ino]`).
    pub fn add_pipe(&mut self, ino: u64) -> u64 {
        let (m, root, ops) = self.pseudo_fs("pipefs", "pipefs_dname");
        let sb = self.read_field_u64(root, "dentry", "d_sb").unwrap();
        let inode = self.add_inode(sb, S_IFIFO | 0o600, ino);
        let d = self.add_dentry(Some(root), "", inode, sb, ops);
        self.file_at(&m, d, 0, 0)
    }

    /// An anonymous-inode file such as `[eventfd]`.
    pub fn add_anon(&mut self, name: &str) -> u64 {
        let (m, root, ops) = self.pseudo_fs("anon_inodefs", "anon_inodefs_dname");
        let sb = self.read_field_u64(root, "dentry", "d_sb").unwrap();
        let inode = self.add_inode(sb, 0o600, 1);
        let d = self.add_dentry(Some(root), name, inode, sb, ops);
        self.file_at(&m, d, 0, 0)
    }

    /// An internal shmem file (`/dev/zero (deleted)` for shared anonymous memory).
    pub fn add_shmem(&mut self, name: &str, ino: u64) -> u64 {
        let (m, root, ops) = self.pseudo_fs("tmpfs", "simple_dname");
        let sb = self.read_field_u64(root, "dentry", "d_sb").unwrap();
        let inode = self.add_inode(sb, S_IFREG | 0o777, ino);
        let d = self.add_dentry(Some(root), name, inode, sb, ops);
        self.file_at(&m, d, 0, 0)
    }

    /// A socket file; returns (file, struct sock *). `sk_at` places the sock inside a larger
    /// struct (unix_sock) at that offset.
    fn add_socket_file(
        &mut self,
        ino: u64,
        family: u64,
        ty: u64,
        proto: u64,
        state: u64,
        outer: Option<(&str, &str)>,
    ) -> (u64, u64) {
        let (m, root, ops) = self.pseudo_fs("sockfs", "sockfs_dname");
        let sb = self.read_field_u64(root, "dentry", "d_sb").unwrap();
        let alloc = self.alloc_struct("socket_alloc");
        let inode = alloc + self.off("socket_alloc", "vfs_inode");
        self.init_inode(inode, sb, S_IFSOCK | 0o777, ino);
        let socket = alloc + self.off("socket_alloc", "socket");
        self.set(socket, "socket", "type", ty);
        let sk = match outer {
            Some((s, f)) => self.alloc_struct(s) + self.off(s, f),
            None => self.alloc_struct("sock"),
        };
        self.set(socket, "socket", "sk", sk);
        self.set(sk, "sock", "sk_socket", socket);
        self.set(sk, "sock", "sk_type", ty);
        self.set(sk, "sock", "sk_protocol", proto);
        let c = sk + self.off("sock", "__sk_common");
        self.set(c, "sock_common", "skc_family", family);
        self.set(c, "sock_common", "skc_state", state);
        let d = self.add_dentry(Some(root), "", inode, sb, ops);
        (self.file_at(&m, d, 0o2, 0), sk)
    }

    /// A TCP (or UDP) socket: `src`/`dst` are 4 or 16 address bytes.
    #[allow(clippy::too_many_arguments)]
    pub fn add_inet_socket(
        &mut self,
        ino: u64,
        proto: u64,
        state: u64,
        src: &[u8],
        sport: u16,
        dst: &[u8],
        dport: u16,
    ) -> u64 {
        let v6 = src.len() == 16;
        let ty = if proto == 17 { 2 } else { 1 };
        let (f, sk) = self.add_socket_file(ino, if v6 { 10 } else { 2 }, ty, proto, state, None);
        let c = sk + self.off("sock", "__sk_common");
        if v6 {
            let a = c + self.off("sock_common", "skc_v6_rcv_saddr");
            self.write(a, src);
            let a = c + self.off("sock_common", "skc_v6_daddr");
            self.write(a, dst);
        } else {
            let a = c + self.off("sock_common", "skc_rcv_saddr");
            self.write(a, src);
            let a = c + self.off("sock_common", "skc_daddr");
            self.write(a, dst);
        }
        self.set(c, "sock_common", "skc_num", u64::from(sport));
        let a = c + self.off("sock_common", "skc_dport");
        self.write(a, &dport.to_be_bytes());
        f
    }

    /// A unix socket bound to `name` (empty: unbound); returns (file, sock).
    pub fn add_unix_socket(&mut self, ino: u64, ty: u64, state: u64, name: &[u8]) -> (u64, u64) {
        let (f, sk) = self.add_socket_file(ino, 1, ty, 0, state, Some(("unix_sock", "sk")));
        let us = sk - self.off("unix_sock", "sk");
        if !name.is_empty() {
            let path_off = self.off("sockaddr_un", "sun_path");
            let a = self.alloc(0x100, 8);
            self.set(
                a,
                "unix_address",
                "len",
                path_off + name.len() as u64 + u64::from(name[0] != 0),
            );
            let sun = a + self.off("unix_address", "name");
            self.set(sun, "sockaddr_un", "sun_family", 1);
            self.write(sun + path_off, name);
            self.set(us, "unix_sock", "addr", a);
        }
        (f, sk)
    }

    /// Connects two unix socks (`peer` pointers).
    pub fn connect_unix(&mut self, a: u64, b: u64) {
        let us_a = a - self.off("unix_sock", "sk");
        let us_b = b - self.off("unix_sock", "sk");
        self.set(us_a, "unix_sock", "peer", b);
        self.set(us_b, "unix_sock", "peer", a);
    }

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
