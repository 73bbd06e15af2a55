//! The ISF loader against real dwarf2json output: the small test object of `isf-small`
//! (every layout checked against what small.c implies) and the two Debian 6.1 kernel ISFs
//! (counts, banner, the offsets the kernel walkers need), plus the on-disk cache (warm load
//! identical and faster, corrupt cache ignored) and ISF selection by banner.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use crate::support;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use podmortem::engine::kernel::isf::{self, CacheDir, Isf, TypeRef};

const L61_BANNER: &str = "Linux version 6.1.0-56-amd64 (debian-kernel@lists.debian.org) (gcc-12 (Debian 12.2.0-14+deb12u1) 12.2.0, GNU ld (GNU Binutils for Debian) 2.40) #1 SMP PREEMPT_DYNAMIC Debian 6.1.192-2 (2026-11-16)";
const NODE_BANNER: &str = "Linux version 6.1.0-50-amd64 (debian-kernel@lists.debian.org) (gcc-12 (Debian 12.2.0-14+deb12u1) 12.2.0, GNU ld (GNU Binutils for Debian) 2.40) #1 SMP PREEMPT_DYNAMIC Debian 6.1.176-1 (2026-07-02)";

fn small_json() -> Option<PathBuf> {
    Some(support::fixture("isf-small")?.join("small.json"))
}

fn l61_isf() -> Option<PathBuf> {
    Some(support::fixture("linux-6.1")?.join("symbols/linux/linux-6.1.0-56-amd64.json.xz"))
}

fn node_isf() -> Option<PathBuf> {
    Some(support::fixture("linux-6.1-node")?.join("symbols/linux/linux-6.1.0-50-amd64.json.xz"))
}

fn base(name: &str) -> TypeRef {
    TypeRef::Base { name: name.into() }
}

fn ptr(t: TypeRef) -> TypeRef {
    TypeRef::Pointer {
        subtype: Box::new(t),
    }
}

fn arr(count: u64, t: TypeRef) -> TypeRef {
    TypeRef::Array {
        count,
        subtype: Box::new(t),
    }
}

fn st(name: &str) -> TypeRef {
    TypeRef::Struct { name: name.into() }
}

fn off(isf: &Isf, s: &str, f: &str) -> u64 {
    isf.offset(s, f).unwrap()
}

fn check_small(isf: &Isf) {
    assert_eq!(isf.format().0, "6.2.0");
    assert_eq!(isf.pointer_size(), 8);
    assert_eq!(isf.base_size("long unsigned int"), Some(8));
    assert_eq!(isf.base_size("void"), Some(0));
    assert_eq!(isf.base_signed("int"), Some(true));
    assert_eq!((isf.user_type_count(), isf.enum_count()), (8, 1));
    assert_eq!(isf.base_type_count(), 11);
    assert_eq!(isf.symbol_count(), 9);

    assert_eq!(isf.struct_size("fx_task"), Some(248));
    assert_eq!(isf.struct_size("fx_inner"), Some(24)); // u16, pad, u64, char[6], pad
    assert_eq!(isf.struct_size("fx_value"), Some(8));
    assert_eq!(isf.struct_size("fx_flags"), Some(8));
    assert_eq!(isf.struct_size("fx_list_head"), Some(16));
    assert_eq!(isf.struct_size("fx_opaque"), None); // incomplete type

    // Plain fields, in declaration order with C alignment.
    for (f, o) in [
        ("pid", 0),
        ("state", 4),
        ("comm", 8),
        ("inner", 24),
        ("inners", 48),
        ("matrix", 96),
        ("value", 144),
        ("flags", 152),
        ("tasks", 160),
        ("parent", 176),
        ("children", 184),
        ("opaque", 192),
        ("counter", 200),
        ("callback", 208),
        ("on_exit", 216),
        ("unknown", 240),
        ("data", 248),
    ] {
        assert_eq!(isf.offset("fx_task", f).unwrap(), o, "fx_task.{f}");
    }
    assert_eq!(off(isf, "fx_inner", "b"), 8);
    assert_eq!(off(isf, "fx_inner", "tag"), 16);

    let k = |f: &str| isf.field("fx_task", f).unwrap().kind;
    assert_eq!(
        k("state"),
        TypeRef::Enum {
            name: "fx_state".into()
        }
    );
    assert_eq!(k("comm"), arr(16, base("char")));
    assert_eq!(k("inners"), arr(2, st("fx_inner")));
    assert_eq!(k("matrix"), arr(3, arr(4, base("int"))));
    assert_eq!(
        k("value"),
        TypeRef::Union {
            name: "fx_value".into()
        }
    );
    assert_eq!(k("parent"), ptr(st("fx_task")));
    assert_eq!(k("children"), ptr(ptr(st("fx_task"))));
    assert_eq!(k("opaque"), ptr(base("void")));
    assert_eq!(k("counter"), base("long unsigned int")); // const volatile typedef resolved
    assert_eq!(k("callback"), ptr(TypeRef::Function));
    assert_eq!(k("on_exit"), ptr(TypeRef::Function));
    assert_eq!(k("unknown"), ptr(st("fx_opaque")));
    assert_eq!(k("data"), arr(0, base("unsigned char"))); // flexible array
    assert_eq!(isf.type_size(&k("matrix")), Some(48));
    assert_eq!(isf.type_size(&k("inners")), Some(48));
    assert_eq!(isf.type_size(&k("callback")), Some(8));
    assert_eq!(isf.type_size(&k("unknown")), Some(8));
    assert_eq!(isf.type_size(&TypeRef::Function), None);

    // Union members all at 0.
    for f in ["u32", "i64", "bytes", "inner_ptr"] {
        assert_eq!(off(isf, "fx_value", f), 0);
    }
    assert_eq!(
        isf.field("fx_value", "inner_ptr").unwrap().kind,
        ptr(st("fx_inner"))
    );

    // Bitfields: storage-unit offset, bit position and length; zero-width forces `high` on.
    let bf = |f: &str| match isf.field("fx_flags", f).unwrap() {
        isf::Field {
            offset,
            kind:
                TypeRef::Bitfield {
                    bit_position,
                    bit_length,
                    subtype,
                },
        } => (
            offset,
            bit_position,
            bit_length,
            subtype.name().unwrap().to_owned(),
        ),
        other => panic!("{f}: {other:?}"),
    };
    assert_eq!(bf("readable"), (0, 0, 1, "unsigned int".into()));
    assert_eq!(bf("writable"), (0, 1, 1, "unsigned int".into()));
    assert_eq!(bf("executable"), (0, 2, 1, "unsigned int".into()));
    assert_eq!(bf("mode"), (0, 3, 4, "unsigned int".into()));
    assert_eq!(bf("delta"), (0, 7, 5, "int".into()));
    assert_eq!(bf("high"), (4, 0, 3, "unsigned int".into()));
    assert_eq!(off(isf, "fx_flags", "tail"), 5);

    // Anonymous members: kept as unnamed_field_N and lifted into fx_task.
    assert!(isf.has_field("fx_task", "unnamed_field_0"));
    assert_eq!(off(isf, "fx_task", "unnamed_field_1"), 232);
    assert_eq!(off(isf, "fx_task", "uid"), 224);
    assert_eq!(off(isf, "fx_task", "gid"), 228);
    assert_eq!(off(isf, "fx_task", "raw"), 232);
    assert_eq!(off(isf, "fx_task", "parts"), 232);
    let parts = isf.field("fx_task", "parts").unwrap().kind;
    let parts_name = parts.name().unwrap();
    assert!(parts_name.starts_with("unnamed_"), "{parts_name}");
    assert_eq!(off(isf, parts_name, "hi"), 4);
    assert!(!isf.has_field("fx_task", "lo")); // `parts` is named: not lifted

    // Enum with a negative constant.
    assert_eq!(isf.enum_value("fx_state", "FX_IDLE"), Some(0));
    assert_eq!(isf.enum_value("fx_state", "FX_STOPPED"), Some(5));
    assert_eq!(isf.enum_value("fx_state", "FX_NEGATIVE"), Some(-2));
    assert_eq!(isf.enum_value("fx_state", "FX_NONE"), None);
    assert_eq!(isf.enum_name("fx_state", 1), Some("FX_RUNNING"));
    assert_eq!(isf.enum_size("fx_state"), Some(4));

    // Symbols: section offsets of a relocatable object.
    let s = isf.symbol("fx_global_state").unwrap();
    assert_eq!((s.address, s.type_name.as_deref()), (248, Some("fx_state")));
    let s = isf.symbol("fx_hook").unwrap();
    assert_eq!(s.address, 32);
    assert_eq!(
        (s.type_name, s.type_ref),
        (None, Some(ptr(TypeRef::Function)))
    );
    assert_eq!(
        isf.symbol("fx_init_task").unwrap().type_name.as_deref(),
        Some("fx_task")
    );
    assert_eq!(
        isf.symbol("fx_banner").unwrap().type_ref,
        Some(arr(25, base("char")))
    );
    assert_eq!(
        isf.symbol("fx_values").unwrap().type_ref,
        Some(arr(
            4,
            TypeRef::Union {
                name: "fx_value".into()
            }
        ))
    );
    assert_eq!(isf.symbol("").unwrap().type_name.as_deref(), Some("void"));
    assert!(isf.symbol("small.c").is_some());
    assert!(isf.symbol("nope").is_none());
    assert_eq!(isf.banner(), None);

    let err = isf.offset("fx_task", "tasks_x").unwrap_err().to_string();
    assert!(err.contains("fx_task.tasks_x"), "{err}");
    let err = isf.offset("task_struct", "tasks").unwrap_err().to_string();
    assert!(err.contains("task_struct.tasks"), "{err}");
}

#[test]
fn small_isf_layouts() {
    let Some(path) = small_json() else { return };
    let dir = tempfile::tempdir().unwrap();
    let cache = CacheDir::At(dir.path().to_path_buf());
    let cold = Isf::load_with(&path, &cache).unwrap();
    assert!(!cold.from_cache());
    check_small(&cold);
    let warm = Isf::load_with(&path, &cache).unwrap();
    assert!(warm.from_cache());
    check_small(&warm);
    assert_eq!(cold, warm);

    // Garbage or a truncated cache file is ignored and replaced.
    let file = cache.file_for(&cold.content_hash()).unwrap();
    let good = std::fs::read(&file).unwrap();
    for bad in [&b"PMISFIDX garbage"[..], &good[..good.len() - 3], &[]] {
        std::fs::write(&file, bad).unwrap();
        let again = Isf::load_with(&path, &cache).unwrap();
        assert!(!again.from_cache());
        assert_eq!(again, cold);
        assert!(Isf::load_with(&path, &cache).unwrap().from_cache());
    }
}

#[test]
fn small_isf_compressed_detected_by_magic() {
    let Some(path) = small_json() else { return };
    let json = std::fs::read(&path).unwrap();
    let dir = tempfile::tempdir().unwrap();

    let mut xz = liblzma::write::XzEncoder::new(Vec::new(), 6);
    xz.write_all(&json).unwrap();
    let xz = xz.finish().unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&json).unwrap();
    let gz = gz.finish().unwrap();

    // Misleading names on purpose: the container is recognised by its magic.
    for (name, bytes) in [("a.json", &xz), ("b.json.xz", &gz), ("c.json.gz", &json)] {
        let p = dir.path().join(name);
        std::fs::write(&p, bytes).unwrap();
        let isf = Isf::load_with(&p, &CacheDir::Off).unwrap();
        check_small(&isf);
    }

    // A truncated xz stream is an error naming the file, not a panic.
    let p = dir.path().join("truncated.json.xz");
    std::fs::write(&p, &xz[..xz.len() / 2]).unwrap();
    let err = Isf::load_with(&p, &CacheDir::Off).unwrap_err().to_string();
    assert!(err.contains("truncated.json.xz"), "{err}");
}

fn check_kernel_common(isf: &Isf) {
    assert_eq!(isf.pointer_size(), 8);
    for f in [
        "tasks",
        "pid",
        "tgid",
        "comm",
        "mm",
        "active_mm",
        "real_parent",
        "parent",
        "cred",
        "thread_group",
        "thread_node",
        "signal",
    ] {
        assert!(isf.has_field("task_struct", f), "task_struct.{f}");
    }
    assert_eq!(off(isf, "task_struct", "tasks"), 2192);
    assert_eq!(off(isf, "task_struct", "pid"), 2416);
    assert_eq!(off(isf, "task_struct", "tgid"), 2420);
    assert_eq!(off(isf, "task_struct", "comm"), 2976);
    assert_eq!(off(isf, "task_struct", "mm"), 2272);
    assert_eq!(off(isf, "task_struct", "real_parent"), 2432);
    assert_eq!(isf.struct_size("task_struct"), Some(9792));
    assert_eq!(
        isf.field("task_struct", "comm").unwrap().kind,
        arr(16, base("char"))
    );
    assert_eq!(off(isf, "signal_struct", "thread_head"), 16);

    // mm_struct keeps everything inside an anonymous struct: lifted.
    assert!(!isf.has_field("mm_struct", "mmap"));
    assert_eq!(off(isf, "mm_struct", "mm_mt"), 0);
    assert_eq!(
        isf.field("mm_struct", "mm_mt").unwrap().kind,
        st("maple_tree")
    );
    assert_eq!(off(isf, "mm_struct", "pgd"), 72);
    assert!(isf.has_field("mm_struct", "arg_start"));
    assert!(isf.has_field("mm_struct", "env_end"));
    assert_eq!(off(isf, "maple_tree", "ma_root"), 8);

    // Maple tree nodes.
    let void_ptr = ptr(base("void"));
    let ulong = base("long unsigned int");
    assert_eq!(isf.struct_size("maple_node"), Some(256));
    assert_eq!(off(isf, "maple_node", "mr64"), 0);
    assert_eq!(off(isf, "maple_node", "ma64"), 0);
    assert_eq!(off(isf, "maple_node", "parent"), 0);
    let f = |s: &str, n: &str| isf.field(s, n).unwrap();
    assert_eq!(f("maple_node", "slot").offset, 8);
    assert_eq!(f("maple_node", "slot").kind, arr(31, void_ptr.clone()));
    assert_eq!(f("maple_range_64", "pivot").offset, 8);
    assert_eq!(f("maple_range_64", "pivot").kind, arr(15, ulong.clone()));
    assert_eq!(f("maple_range_64", "slot").offset, 128);
    assert_eq!(f("maple_range_64", "slot").kind, arr(16, void_ptr.clone()));
    assert_eq!(f("maple_arange_64", "pivot").kind, arr(9, ulong.clone()));
    assert_eq!(f("maple_arange_64", "slot").offset, 80);
    assert_eq!(f("maple_arange_64", "slot").kind, arr(10, void_ptr));
    assert_eq!(f("maple_arange_64", "gap").offset, 160);
    assert_eq!(f("maple_arange_64", "gap").kind, arr(10, ulong));
    assert_eq!(isf.enum_value("maple_type", "maple_range_64"), Some(2));
    assert_eq!(isf.enum_value("maple_type", "maple_arange_64"), Some(3));

    for (name, o) in [
        ("vm_start", 0),
        ("vm_end", 8),
        ("vm_mm", 16),
        ("vm_flags", 32),
        ("vm_pgoff", 104),
        ("vm_file", 112),
    ] {
        assert_eq!(isf.offset("vm_area_struct", name).unwrap(), o, "{name}");
    }
    let s = isf.symbol("init_task").unwrap();
    assert_eq!(
        (s.address, s.type_name.as_deref()),
        (0xffffffff82a1aa40, Some("task_struct"))
    );
    assert!(isf.symbol("swapper_pg_dir").is_some() || isf.symbol("init_top_pgt").is_some());
    let err = isf
        .offset("task_struct", "no_such")
        .unwrap_err()
        .to_string();
    assert!(err.contains("task_struct.no_such"), "{err}");
}

/// Cold load into a fresh cache, then warm load: identical, faster. Prints both times.
fn cold_then_warm(path: &Path, label: &str) -> (Isf, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let cache = CacheDir::At(dir.path().to_path_buf());
    let t = Instant::now();
    let cold = Isf::load_with(path, &cache).unwrap();
    let cold_t = t.elapsed();
    let t = Instant::now();
    let warm = Isf::load_with(path, &cache).unwrap();
    let warm_t = t.elapsed();
    eprintln!("{label}: cold load (parse + cache write) {cold_t:?}, warm load (cache) {warm_t:?}");
    assert!(!cold.from_cache() && warm.from_cache());
    assert!(cold == warm, "the cached index differs from the parsed one");
    assert!(
        warm_t < cold_t,
        "warm {warm_t:?} not faster than cold {cold_t:?}"
    );
    (warm, dir)
}

#[test]
fn linux_61_isf() {
    let Some(path) = l61_isf() else { return };
    let (isf, dir) = cold_then_warm(&path, "linux-6.1");
    assert_eq!(isf.format(), ("6.2.0", "dwarf2json", "0.9.0"));
    assert_eq!(isf.user_type_count(), 10318);
    assert_eq!(isf.enum_count(), 1855);
    assert_eq!(isf.base_type_count(), 19);
    assert_eq!(isf.symbol_count(), 160837);
    assert_eq!(
        isf.symbol("linux_banner").unwrap().address,
        0xffffffff82161900
    );
    assert_eq!(isf.banner().unwrap(), L61_BANNER.as_bytes());
    assert!(
        isf.constant_data("linux_banner")
            .unwrap()
            .ends_with(b")\n\0")
    );
    check_kernel_common(&isf);

    // A corrupt cache file is ignored and rewritten.
    let cache = CacheDir::At(dir.path().to_path_buf());
    let file = cache.file_for(&isf.content_hash()).unwrap();
    let mut bytes = std::fs::read(&file).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x55;
    // Replaced, not written in place: `isf` maps the cache file it was loaded from (podmortem
    // itself only ever replaces cache files, by rename).
    let tmp = file.with_extension("tmp");
    std::fs::write(&tmp, &bytes).unwrap();
    std::fs::rename(&tmp, &file).unwrap();
    let again = Isf::load_with(&path, &cache).unwrap();
    assert!(!again.from_cache());
    assert!(again == isf);
    assert!(Isf::load_with(&path, &cache).unwrap().from_cache());
}

#[test]
fn linux_61_node_isf() {
    let Some(path) = node_isf() else { return };
    let (isf, _dir) = cold_then_warm(&path, "linux-6.1-node");
    assert_eq!(isf.user_type_count(), 10298);
    assert_eq!(isf.enum_count(), 1850);
    assert_eq!(isf.symbol_count(), 160488);
    assert_eq!(
        isf.symbol("linux_banner").unwrap().address,
        0xffffffff821613e0
    );
    assert_eq!(isf.banner().unwrap(), NODE_BANNER.as_bytes());
    check_kernel_common(&isf);
}

#[test]
fn select_by_banner() {
    let (Some(a), Some(b)) = (l61_isf(), node_isf()) else {
        return;
    };
    // A symbols folder with both kernels (and a non-ISF file) in subfolders.
    let syms = tempfile::tempdir().unwrap();
    let cache_dir = tempfile::tempdir().unwrap();
    let cache = CacheDir::At(cache_dir.path().to_path_buf());
    for (p, sub) in [(&a, "linux"), (&b, "linux/node")] {
        let d = syms.path().join(sub);
        std::fs::create_dir_all(&d).unwrap();
        std::fs::copy(p, d.join(p.file_name().unwrap())).unwrap();
    }
    std::fs::write(syms.path().join("README.txt"), "not an ISF").unwrap();

    let banners = isf::banners_in_with(syms.path(), &cache).unwrap();
    assert_eq!(banners.len(), 2);
    assert!(banners.iter().any(|(_, b)| b == L61_BANNER.as_bytes()));
    assert!(banners.iter().any(|(_, b)| b == NODE_BANNER.as_bytes()));

    // The dump's banner as found in memory: with newline and NUL, or cut at the newline.
    let found = format!("{NODE_BANNER}\n\0junk");
    let isf = isf::select_with(syms.path(), Some(found.as_bytes()), &cache).unwrap();
    assert_eq!(isf.banner().unwrap(), NODE_BANNER.as_bytes());
    let isf = isf::select_with(syms.path(), Some(L61_BANNER.as_bytes()), &cache).unwrap();
    assert_eq!(isf.symbol_count(), 160837);

    // A file path is a single candidate.
    let isf = isf::select_with(&a, None, &cache).unwrap();
    assert_eq!(isf.symbol_count(), 160837);

    // No banner and two candidates: ambiguous.
    let err = isf::select_with(syms.path(), None, &cache)
        .unwrap_err()
        .to_string();
    assert!(err.contains("banner"), "{err}");

    // No match: the error names the dump's banner, what is needed, and the candidates.
    let other = "Linux version 6.12.0-1-amd64 (x) #1 SMP";
    let err = isf::select_with(syms.path(), Some(other.as_bytes()), &cache)
        .unwrap_err()
        .to_string();
    assert!(err.contains(other), "{err}");
    assert!(err.contains("vmlinux"), "{err}");
    assert!(
        err.contains(L61_BANNER) && err.contains(NODE_BANNER),
        "{err}"
    );

    let empty = tempfile::tempdir().unwrap();
    assert!(isf::select_with(empty.path(), None, &cache).is_err());
}

/// Manual measurement (`--ignored`): one load of `$PODMORTEM_ISF_MEASURE` through the
/// default cache (set `PODMORTEM_CACHE_DIR`), for timing and peak RSS under `/usr/bin/time -v`.
#[test]
#[ignore]
fn measure_one_load() {
    let Some(path) = std::env::var_os("PODMORTEM_ISF_MEASURE") else {
        return;
    };
    let t = Instant::now();
    let isf = Isf::load(Path::new(&path)).unwrap();
    eprintln!(
        "{}: {:?} (from cache: {}), {} symbols",
        Path::new(&path).display(),
        t.elapsed(),
        isf.from_cache(),
        isf.symbol_count()
    );
}

/// An unchanged ISF file is not hashed again (its `.isfkey` names its content hash); a
/// rewritten one is (another identity), and the index follows its new content.
#[test]
fn isf_key_follows_the_file() {
    let Some(small) = small_json() else { return };
    let dir = tempfile::tempdir().unwrap();
    let cache_dir = tempfile::tempdir().unwrap();
    let cache = CacheDir::At(cache_dir.path().to_path_buf());
    let path = dir.path().join("small.json");
    let json = std::fs::read_to_string(&small).unwrap();
    std::fs::write(&path, &json).unwrap();
    let keys = || {
        std::fs::read_dir(cache_dir.path())
            .unwrap()
            .flatten()
            .filter(|e| e.path().extension().is_some_and(|x| x == "isfkey"))
            .count()
    };
    let cold = Isf::load_with(&path, &cache).unwrap();
    assert!(!cold.from_cache());
    assert_eq!(keys(), 1);
    let warm = Isf::load_with(&path, &cache).unwrap();
    assert!(warm.from_cache());
    assert_eq!(warm, cold);

    // Rewritten in place with other content: a new identity, hashed, parsed.
    let changed = json.replacen("\"size\": 4", "\"size\": 44", 1);
    assert_ne!(changed, json);
    std::fs::write(&path, &changed).unwrap();
    let again = Isf::load_with(&path, &cache).unwrap();
    assert!(!again.from_cache());
    assert_ne!(again.content_hash(), cold.content_hash());
    assert_ne!(again, cold);
    assert_eq!(keys(), 2);
    assert!(Isf::load_with(&path, &cache).unwrap().from_cache());

    // A damaged key file is ignored (the file is hashed) and rewritten.
    for e in std::fs::read_dir(cache_dir.path()).unwrap().flatten() {
        if e.path().extension().is_some_and(|x| x == "isfkey") {
            std::fs::write(e.path(), b"PMISFKEY garbage").unwrap();
        }
    }
    let fixed = Isf::load_with(&path, &cache).unwrap();
    assert!(fixed.from_cache());
    assert_eq!(fixed, again);
}
