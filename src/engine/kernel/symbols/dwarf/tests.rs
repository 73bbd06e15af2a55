//! Unit tests of the DWARF producer: one C source compiled as DWARF 5 and 4, with type
//! units, with compressed sections (zlib, zstd, legacy `.zdebug`) must give the same
//! index; bitfield positions from `DW_AT_bit_offset` and `DW_AT_data_bit_offset`; the
//! System.map reader; damaged objects never panic. The compiled cases need gcc (and
//! objcopy) and are skipped, saying so, where they are absent.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use super::build_index;
use super::gotype::plus_uconst;
use super::names::unnamed;
use crate::engine::kernel::isf::{Isf, SymbolSource};

const SOURCE: &str = r#"
enum mode { M_OFF, M_ON = 3, M_NEG = -7 };
typedef unsigned int u32;
typedef struct { u32 lo, hi; } pair_t;
struct bits {
    unsigned a : 3;
    unsigned b : 10;
    unsigned c : 19;
    unsigned long d : 40;
    unsigned char e : 2;
    int f;
    signed int g : 7;
};
struct node { struct node *next; void (*fn)(struct node *, int, ...); };
struct holder {
    int n;
    struct bits b;
    enum mode m;
    pair_t p;
    union { long x; struct { short lo, hi; } parts; };
    struct { enum { K_A, K_B } kind; const volatile u32 *cv; };
    int grid[2][3];
    struct opaque *op;
    char tail[];
};
struct bits g_bits;
struct holder *g_holder;
struct node g_nodes[4];
pair_t g_pair;
const char linux_banner[] = "Linux version 9.9.9-test\n";
int g_count = 5;
int use(struct holder *h) { static int calls; calls++; return h->n + calls; }
"#;

/// Compiles [`SOURCE`] with `args` (then `objcopy` with `objcopy` when given) in `dir`;
/// `None` when gcc or objcopy is missing.
fn compile(dir: &Path, tag: &str, args: &[&str], objcopy: Option<&str>) -> Option<PathBuf> {
    let src = dir.join("t.c");
    std::fs::write(&src, SOURCE).unwrap();
    let out = dir.join(format!("{tag}.o"));
    let ok = Command::new("gcc")
        .args(args)
        .arg("-O0")
        .arg("-c")
        .arg(&src)
        .arg("-o")
        .arg(&out)
        .status()
        .ok()?
        .success();
    assert!(ok, "gcc {args:?} failed");
    if let Some(how) = objcopy {
        let z = dir.join(format!("{tag}-z.o"));
        let ok = Command::new("objcopy")
            .arg(format!("--compress-debug-sections={how}"))
            .arg(&out)
            .arg(&z)
            .status()
            .ok()?
            .success();
        return ok.then_some(z);
    }
    Some(out)
}

/// The ISF (as JSON) of an object file.
fn isf_json(path: &Path, map: Option<&Path>) -> Value {
    let bytes = std::fs::read(path).unwrap();
    let index = build_index(&bytes, &path.display().to_string(), map).unwrap();
    let isf = Isf::from_index(
        index,
        [0; 32],
        path,
        SymbolSource::Vmlinux {
            path: path.to_path_buf(),
            system_map: None,
        },
    );
    let mut out = Vec::new();
    isf.write_json(&mut out, &[]).unwrap();
    serde_json::from_slice(&out).unwrap()
}

fn have_gcc() -> bool {
    let ok = Command::new("gcc")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        eprintln!("skipping: gcc is not installed");
    }
    ok
}

#[test]
fn every_encoding_of_the_same_source_gives_the_same_index() {
    if !have_gcc() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let reference = isf_json(&compile(d, "d5", &["-g", "-gdwarf-5"], None).unwrap(), None);
    let variants: [(&str, &[&str], Option<&str>); 7] = [
        ("d4", &["-g", "-gdwarf-4"], None),
        ("d4t", &["-g", "-gdwarf-4", "-fdebug-types-section"], None),
        ("d5t", &["-g", "-gdwarf-5", "-fdebug-types-section"], None),
        ("gz", &["-g", "-gdwarf-5", "-gz=zlib"], None),
        ("zstd", &["-g", "-gdwarf-5"], Some("zstd")),
        ("zgnu", &["-g", "-gdwarf-4"], Some("zlib-gnu")),
        ("d4z", &["-g", "-gdwarf-4"], Some("zlib")),
    ];
    for (tag, args, objcopy) in variants {
        let Some(obj) = compile(d, tag, args, objcopy) else {
            eprintln!("skipping {tag}: objcopy missing or refused");
            continue;
        };
        let mut got = isf_json(&obj, None);
        for section in ["base_types", "user_types"] {
            assert_eq!(got[section], reference[section], "{tag}: {section} differ");
        }
        // An enum's base is the first matching base type dwarf2json has seen when it
        // meets the enum, so it follows the order of the entries: compare the rest.
        let mut want = reference["enums"].clone();
        for e in [&mut got["enums"], &mut want] {
            for v in e.as_object_mut().unwrap().values_mut() {
                v.as_object_mut().unwrap().remove("base");
            }
        }
        assert_eq!(got["enums"], want, "{tag}: enums differ");
        for sym in [
            "g_bits",
            "g_holder",
            "g_nodes",
            "g_pair",
            "linux_banner",
            "g_count",
            "use",
        ] {
            assert_eq!(
                got["symbols"][sym], reference["symbols"][sym],
                "{tag}: symbol {sym}"
            );
        }
    }
}

#[test]
fn bitfields_count_from_the_byte_of_their_lowest_bit() {
    if !have_gcc() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    for (tag, version) in [("v4", "-gdwarf-4"), ("v5", "-gdwarf-5")] {
        let obj = compile(dir.path(), tag, &["-g", version], None).unwrap();
        let isf = isf_json(&obj, None);
        let fields = &isf["user_types"]["bits"]["fields"];
        let bit = |name: &str| {
            let f = &fields[name];
            (
                f["offset"].as_u64().unwrap(),
                f["type"]["bit_position"].as_u64().unwrap(),
                f["type"]["bit_length"].as_u64().unwrap(),
            )
        };
        // a: bits 0-2, b: 3-12, c: 13-31 of the first unsigned int (little-endian).
        assert_eq!(bit("a"), (0, 0, 3), "{tag}");
        assert_eq!(bit("b"), (0, 3, 10), "{tag}");
        assert_eq!(bit("c"), (1, 5, 19), "{tag}");
        // d cannot share the first long's upper half with c's unit: bits 32-71 would
        // straddle, so gcc puts it at bit 32 of an 8-byte unit only if it fits.
        let (d_off, d_pos, d_len) = bit("d");
        assert_eq!(d_len, 40, "{tag}");
        assert!(d_off * 8 + d_pos >= 32, "{tag}: d at {d_off}.{d_pos}");
        assert_eq!(
            fields["f"]["type"],
            serde_json::json!({"kind": "base", "name": "int"})
        );
        assert_eq!(
            fields["g"]["type"]["type"],
            serde_json::json!({"kind": "base", "name": "int"}),
            "{tag}: a signed bitfield keeps its signed base type"
        );
    }
}

#[test]
fn typedefs_type_units_and_flexible_arrays_read_as_dwarf2json_reads_them() {
    if !have_gcc() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let obj = compile(
        dir.path(),
        "t",
        &["-g", "-gdwarf-4", "-fdebug-types-section"],
        None,
    )
    .unwrap();
    let isf = isf_json(&obj, None);
    let u = &isf["user_types"];
    // A typedef of an anonymous struct is a user type of the typedef's name.
    assert_eq!(u["pair_t"]["fields"]["hi"]["offset"], 4);
    let holder = &u["holder"]["fields"];
    assert_eq!(
        holder["p"]["type"],
        serde_json::json!({"kind": "struct", "name": "pair_t"})
    );
    assert_eq!(holder["tail"]["type"]["count"], 0);
    assert_eq!(holder["grid"]["type"]["subtype"]["count"], 3);
    assert_eq!(holder["unnamed_field_0"]["anonymous"], true);
    assert_eq!(
        holder["op"]["type"],
        serde_json::json!({"kind": "pointer", "subtype": {"kind": "struct", "name": "opaque"}})
    );
    assert!(
        u.get("opaque").is_none(),
        "a declared-only struct is absent"
    );
    assert_eq!(
        u["node"]["fields"]["fn"]["type"],
        serde_json::json!({"kind": "pointer", "subtype": {"kind": "function"}})
    );
    assert_eq!(isf["enums"]["mode"]["constants"]["M_NEG"], -7);
    assert_eq!(isf["enums"]["mode"]["base"], "int");
    // linux_banner's bytes come from .rodata (a relocatable object's section offsets).
    let banner = isf["symbols"]["linux_banner"]["constant_data"]
        .as_str()
        .unwrap();
    assert_eq!(banner, "TGludXggdmVyc2lvbiA5LjkuOS10ZXN0CgA=");
}

#[test]
fn system_map_sets_addresses_and_bad_lines_name_the_file() {
    if !have_gcc() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let obj = compile(dir.path(), "m", &["-g"], None).unwrap();
    let map = dir.path().join("System.map-test");
    std::fs::write(
        &map,
        "ffffffff81000000 T _stext\n\nffffffff82000010 D g_count\nffffffff82000020 b calls.0\n",
    )
    .unwrap();
    let isf = isf_json(&obj, Some(&map));
    assert_eq!(
        isf["symbols"]["_stext"]["address"],
        0xffff_ffff_8100_0000_u64
    );
    assert_eq!(isf["symbols"]["_stext"]["type"]["name"], "void");
    assert_eq!(
        isf["symbols"]["g_count"]["address"],
        0xffff_ffff_8200_0010_u64
    );
    assert_eq!(isf["symbols"]["g_count"]["type"]["name"], "int");
    std::fs::write(&map, "ffffffff81000000 T _stext\nnot-hex T x\n").unwrap();
    let bytes = std::fs::read(&obj).unwrap();
    let e = build_index(&bytes, "m.o", Some(&map))
        .unwrap_err()
        .to_string();
    assert!(e.contains("System.map-test") && e.contains("line 2"), "{e}");
}

#[test]
fn damaged_objects_never_panic() {
    let fixture =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/fixtures/isf-small/small.o");
    let Ok(good) = std::fs::read(&fixture) else {
        eprintln!("skipping: {} absent", fixture.display());
        return;
    };
    assert!(build_index(&good, "small.o", None).is_ok());
    for len in (0..good.len()).step_by(97) {
        let _ = build_index(good.get(..len).unwrap(), "small.o", None);
    }
    for at in (0..good.len()).step_by(3) {
        for v in [0x00, 0xff, 0x80] {
            let mut bad = good.clone();
            bad[at] ^= v;
            if bad[at] == good[at] {
                bad[at] = 0x7f;
            }
            let _ = build_index(&bad, "small.o", None);
        }
    }
}

#[test]
fn anonymous_names_hash_go_descriptions() {
    assert_eq!(
        unnamed(b"struct {uid uint32_t@0; gid uint32_t@4}"),
        "unnamed_2759d6f98ce17191"
    );
    assert_eq!(plus_uconst(&[0x23, 0x90, 0x01]), Some(144));
    assert_eq!(plus_uconst(&[0x10, 0x01]), None);
    assert_eq!(plus_uconst(&[0x23, 0x80]), None);
}
