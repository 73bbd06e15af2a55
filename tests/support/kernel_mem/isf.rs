//! The synthetic kernel's ISF: ISF 6.2 JSON built with `json!`, declaring exactly the
//! structures and fields the walkers use, at offsets unlike a real kernel's ([`isf_json`]).
//! The fuzz crate includes this file as is (`fuzz/src/kernel_isf.rs`) and extends it: keep it
//! free of other test-support dependencies but `super::consts`.

use serde_json::{Value, json};

use super::consts::SYMBOLS;

/// A base type.
pub fn base(n: &str) -> Value {
    json!({"kind": "base", "name": n})
}
/// A pointer to `sub`.
pub fn ptr(sub: Value) -> Value {
    json!({"kind": "pointer", "subtype": sub})
}
/// `void *`.
pub fn vptr() -> Value {
    ptr(base("void"))
}
/// A struct by name.
pub fn st(n: &str) -> Value {
    json!({"kind": "struct", "name": n})
}
/// An array of `count` `sub`.
pub fn arr(count: u64, sub: Value) -> Value {
    json!({"kind": "array", "count": count, "subtype": sub})
}
/// A bitfield of `len` bits at `pos` in `sub`.
pub fn bits(pos: u32, len: u32, sub: Value) -> Value {
    json!({"kind": "bitfield", "bit_position": pos, "bit_length": len, "type": sub})
}
/// A user type of `size` bytes with `(name, offset, type)` fields.
pub fn ut(size: u64, fields: &[(&str, u64, Value)]) -> Value {
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
