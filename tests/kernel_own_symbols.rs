//! Symbols from a kernel's own BTF and kallsyms on synthetic evidence: every BTF kind, both
//! byte orders, damaged blobs; kallsyms in the 6.1, 6.4 and absolute layouts; and a
//! synthetic kernel (struct layouts unlike any real kernel's) that opens with no ISF and
//! gives what it gives with its ISF, whichever kallsyms layout it carries.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use crate::support;

use podmortem::engine::Evidence;
use podmortem::engine::kernel::dump::KernelDump;
use podmortem::engine::kernel::isf::{CacheDir, TypeRef};
use podmortem::engine::kernel::memory::KernelMemory;
use podmortem::engine::kernel::symbols::btf::Btf;
use podmortem::engine::kernel::symbols::kallsyms::{self, AddressForm};
use podmortem::engine::kernel::symbols::types_from_btf;
use support::btf::{BtfWriter, kind};
use support::kallsyms::{Layout, kallsyms_blob};
use support::kernel_image::{BTF_AT, TaskImage, image_kallsyms};

fn base(name: &str) -> TypeRef {
    TypeRef::Base { name: name.into() }
}

/// A blob with every kind of BTF type.
fn every_kind(big_endian: bool) -> Vec<u8> {
    let mut w = BtfWriter::new();
    w.big_endian = big_endian;
    let int = w.int("int", 4, 1); // 1
    let ulong = w.int("long unsigned int", 8, 0); // 2
    let char_ = w.int("char", 1, 3); // 3
    let bool_ = w.int("_Bool", 1, 4); // 4
    let dbl = w.head("double", kind::FLOAT, 0, false, 8); // 5
    let tag = w.refer("user", kind::TYPE_TAG, int); // 6
    let cv = w.refer("", kind::CONST, tag); // 7
    let vol = w.refer("", kind::VOLATILE, cv); // 8
    let ptr_tagged = w.ptr(vol); // 9
    let arr = w.array(char_, int, 16); // 10
    let fwd = w.refer("opaque", kind::FWD, 0); // 11
    let ptr_fwd = w.ptr(fwd); // 12
    let inner_anon = w.composite("", false, 16, &[("lo", ulong, 0, 0), ("hi", ulong, 64, 0)]); // 13
    let anon_union = w.composite(
        "",
        true,
        16,
        &[("whole", inner_anon, 0, 0), ("raw", arr, 0, 0)],
    ); // 14
    let e = w.enum32("state", 4, true, &[("IDLE", 0), ("NEG", -2)]); // 15
    let e64 = w.enum64("big", false, &[("SMALL", 1), ("HUGE", 0x1_0000_0000)]); // 16
    let proto = w.func_proto(int, &[("a", int)]); // 17
    let fptr = w.ptr(proto); // 18
    let outer = w.composite(
        "outer",
        false,
        72,
        &[
            ("count", int, 0, 0),
            ("flag", int, 32, 3),
            ("mode", int, 35, 4),
            ("", anon_union, 64, 0),
            ("tagged", ptr_tagged, 192, 0),
            ("opaque", ptr_fwd, 256, 0),
            ("st", e, 320, 0),
            ("wide", e64, 384, 0),
            ("cb", fptr, 448, 0),
            ("ok", bool_, 512, 0),
            ("ratio", dbl, 520, 0),
        ],
    ); // 19
    let anon_pair = w.composite("", false, 8, &[("v", ulong, 0, 0)]); // 20
    w.refer("pair_t", kind::TYPEDEF, anon_pair); // 21
    let restrict = w.refer("", kind::RESTRICT, outer); // 22
    let td_outer = w.refer("outer_t", kind::TYPEDEF, restrict); // 23
    w.head("do_thing", kind::FUNC, 0, false, proto); // 24
    let v = w.var("per_cpu_counter", ulong); // 25
    w.datasec(".data..percpu", &[(v, 0, 8)]); // 26
    w.decl_tag("kfunc", outer, -1); // 27
    let _ = td_outer;
    w.finish()
}

#[test]
fn every_btf_kind_reads_into_the_index() {
    for big_endian in [false, true] {
        let blob = every_kind(big_endian);
        let btf = Btf::parse(&blob, "test", 0).unwrap();
        assert_eq!(btf.types.len(), 28);
        assert_eq!(btf.little_endian, !big_endian);
        let isf = types_from_btf(&blob, "test").unwrap();
        assert_eq!(isf.struct_size("outer"), Some(72));
        assert_eq!(isf.field("outer", "count").unwrap().kind, base("int"));
        // A bitfield: the byte its first bit is in, and the bit within that byte.
        assert_eq!(
            isf.field("outer", "mode").unwrap(),
            podmortem::engine::kernel::isf::Field {
                offset: 4,
                kind: TypeRef::Bitfield {
                    bit_position: 3,
                    bit_length: 4,
                    subtype: Box::new(base("int")),
                },
            }
        );
        // Qualifiers and type tags resolved away.
        assert_eq!(
            isf.field("outer", "tagged").unwrap().kind,
            TypeRef::Pointer {
                subtype: Box::new(base("int"))
            }
        );
        // A forward declaration stays a named struct without a definition.
        assert_eq!(
            isf.field("outer", "opaque").unwrap().kind,
            TypeRef::Pointer {
                subtype: Box::new(TypeRef::Struct {
                    name: "opaque".into()
                })
            }
        );
        assert_eq!(isf.struct_size("opaque"), None);
        // Anonymous members: unnamed_field_0, their fields lifted with absolute offsets.
        assert_eq!(isf.field("outer", "unnamed_field_0").unwrap().offset, 8);
        assert_eq!(isf.field("outer", "whole").unwrap().offset, 8);
        assert_eq!(isf.field("outer", "raw").unwrap().offset, 8);
        // Enums, signed and 64-bit.
        assert_eq!(isf.enum_value("state", "NEG"), Some(-2));
        assert_eq!(isf.enum_value("big", "HUGE"), Some(0x1_0000_0000));
        assert_eq!(isf.enum_size("big"), Some(8));
        assert_eq!(
            isf.field("outer", "cb").unwrap().kind,
            TypeRef::Pointer {
                subtype: Box::new(TypeRef::Function)
            }
        );
        assert_eq!(isf.base_size("double"), Some(8));
        assert_eq!(isf.base_size("pointer"), Some(8));
        // A typedef of an anonymous struct is a type of the typedef's name; a typedef of
        // a named struct is one too (dwarf2json's naming).
        assert_eq!(isf.struct_size("pair_t"), Some(8));
        assert_eq!(isf.struct_size("outer_t"), Some(72));
    }
}

#[test]
fn damaged_btf_is_an_error_not_a_panic() {
    let blob = every_kind(false);
    for cut in 0..blob.len() {
        let _ = Btf::parse(&blob[..cut], "cut", 0x1000);
        let _ = types_from_btf(&blob[..cut], "cut");
    }
    let err = Btf::parse(&blob[..blob.len() - 40], "cut", 0x1000)
        .unwrap_err()
        .to_string();
    assert!(err.contains("cut"), "{err}");
    // An unknown kind names where it is.
    let mut bad = blob.clone();
    bad[24 + 7] = 0x1f; // first type's kind byte (little-endian info, high byte)
    let err = Btf::parse(&bad, "bad", 0x1000).unwrap_err().to_string();
    assert!(err.contains("unknown BTF kind 31"), "{err}");
    assert!(err.contains("0x1018"), "{err}");
    // Every byte flipped, one at a time: never a panic.
    for i in 0..blob.len() {
        let mut b = blob.clone();
        b[i] ^= 0xff;
        let _ = types_from_btf(&b, "flip");
    }
}

fn symbols() -> Vec<(String, u8, u64)> {
    let text = 0xffff_ffff_8a00_0000u64;
    let mut v = vec![
        ("_text".to_string(), b'T', text),
        ("fixed_percpu_data".to_string(), b'A', 0),
        ("cpu_tss_rw".to_string(), b'A', 0x6000),
    ];
    for i in 0..1000u64 {
        v.push((format!("function_number_{i}"), b't', text + 0x100 + i * 16));
    }
    // A name longer than 127 compressed bytes (two-byte length since 6.1).
    v.push(("Z".repeat(300), b'T', text + 0x10_0000));
    v.push(("linux_banner".into(), b'D', text + 0x20_0000));
    v
}

#[test]
fn kallsyms_layouts_decode_exactly() {
    let mut want = symbols();
    want.sort_by_key(|s| s.2);
    for (layout, form) in [
        (Layout::V61, AddressForm::AbsolutePercpu),
        (Layout::V64, AddressForm::Relative),
        (Layout::Absolute, AddressForm::Absolute),
    ] {
        let syms: Vec<_> = if layout == Layout::V61 {
            want.clone()
        } else {
            // Without absolute per-CPU symbols (their form has none).
            want.iter().filter(|s| s.1 != b'A').cloned().collect()
        };
        let (mut bytes, tt) = kallsyms_blob(&syms, layout);
        // Garbage before and after, as other .rodata is.
        let mut w: Vec<u8> = (0..4096u32).map(|i| (i * 7 + 3) as u8).collect();
        let shift = w.len();
        w.append(&mut bytes);
        w.extend((0..4096u32).map(|i| (i * 13) as u8));
        let k = kallsyms::decode(&w, tt + shift, None).unwrap_or_else(|| panic!("{layout:?}"));
        assert_eq!(k.form, form, "{layout:?}");
        let got: Vec<(String, u8, u64)> = k
            .symbols
            .iter()
            .map(|s| (s.name.clone(), s.kind, s.address))
            .collect();
        assert_eq!(got, syms, "{layout:?}");
        // The token table is found from its digit run too.
        let digits = w
            .windows(20)
            .position(|x| x == b"0\x001\x002\x003\x004\x005\x006\x007\x008\x009\x00")
            .unwrap();
        assert_eq!(
            kallsyms::token_table_before_digits(&w, digits),
            Some(tt + shift)
        );
        // Damage: no table, no panic.
        for i in (0..w.len()).step_by(97) {
            let mut d = w.clone();
            d[i] ^= 0x5a;
            let _ = kallsyms::decode(&d, tt + shift, None);
        }
        let _ = kallsyms::decode(&w[..tt + shift + 300], tt + shift, None);
    }
}

fn processes(d: &KernelDump) -> Vec<(u32, u32, String)> {
    d.processes()
        .unwrap()
        .into_iter()
        .map(|p| (p.pid, p.ppid, p.comm))
        .collect()
}

fn image() -> TaskImage {
    let mut img = TaskImage::new();
    let init = img.add_task(1, "init", 0);
    let sh = img.add_task(40, "sh", init);
    img.add_task(41, "sleep", sh);
    img
}

#[test]
fn synthetic_kernel_opens_without_isf_in_every_kallsyms_layout() {
    for layout in [Layout::V61, Layout::V64, Layout::Absolute] {
        let mut img = image();
        img.own_symbols = Some(layout);
        let (dump, isf) = img.write(&format!("own-{layout:?}"), None);
        let with = KernelDump::open_with(&dump, &isf, &CacheDir::Off).unwrap();
        let own = KernelDump::open_auto(&dump, None, &CacheDir::Off)
            .unwrap_or_else(|e| panic!("{layout:?}: {e}"));
        assert_eq!(processes(&own), processes(&with), "{layout:?}");
        assert_eq!(processes(&own).len(), 3);
        assert_eq!(own.layout(), with.layout());
        let info = own.info();
        assert_eq!(info.details["symbols"]["source"], "btf+kallsyms");
        assert_eq!(
            info.details["symbols"]["btf_physical"],
            format!("{BTF_AT:#x}")
        );
        // The symbols are the ISF's, unslid.
        let (a, b) = (own.space().isf(), with.space().isf());
        for name in ["init_task", "linux_banner", "init_top_pgt"] {
            assert_eq!(a.symbol_address(name), b.symbol_address(name), "{name}");
        }
        assert_eq!(a.banner(), b.banner());
        assert_eq!(a.symbol_count(), image_kallsyms().len());
    }
}

#[test]
fn a_module_blob_and_a_damaged_copy_before_the_kernels_blob_are_passed_over() {
    let mut img = image();
    img.own_symbols = Some(Layout::V61);
    // A module's blob: types, but no task_struct.
    let mut m = BtfWriter::new();
    let int = m.int("int", 4, 1);
    m.composite("virtio_driver", false, 4, &[("feature", int, 0, 0)]);
    img.extra.push((0x600_0000, m.finish()));
    // A copy of the kernel's blob cut short.
    let blob = support::btf::btf_from_isf(&support::kernel_image::image_isf_json());
    img.extra
        .push((0x700_0000, blob[..blob.len() / 2].to_vec()));
    let (dump, _) = img.write("own-candidates", None);
    let own = KernelDump::open_auto(&dump, None, &CacheDir::Off).unwrap();
    assert_eq!(
        own.info().details["symbols"]["btf_physical"],
        format!("{BTF_AT:#x}")
    );
    assert_eq!(processes(&own).len(), 3);
}

#[test]
fn a_kernel_without_btf_says_what_to_give() {
    let img = image();
    let (dump, _) = img.write("own-none", None);
    let err = KernelDump::open_auto(&dump, None, &CacheDir::Off)
        .unwrap_err()
        .to_string();
    assert!(err.contains("BTF"), "{err}");
    assert!(err.contains("--isf"), "{err}");
    assert!(err.contains("Linux version 6.1.0-synthetic"), "{err}");
}

#[test]
fn the_index_made_from_a_dump_is_cached() {
    let mut img = image();
    img.own_symbols = Some(Layout::V64);
    let (dump, _) = img.write("own-cache", None);
    let dir = tempfile::tempdir().unwrap();
    let cache = CacheDir::At(dir.path().to_path_buf());
    let first = KernelDump::open_auto(&dump, None, &cache).unwrap();
    assert_eq!(first.info().details["symbols"]["from_cache"], false);
    let second = KernelDump::open_auto(&dump, None, &cache).unwrap();
    assert_eq!(second.info().details["symbols"]["from_cache"], true);
    assert_eq!(processes(&first), processes(&second));
    assert_eq!(first.space().isf(), second.space().isf());
}

#[test]
fn symbols_without_a_field_every_kernel_has_fail_at_open_naming_it() {
    let img = image();
    let (dump, isf) = img.write("own-missing-field", None);
    let mut doc: serde_json::Value = serde_json::from_slice(&std::fs::read(&isf).unwrap()).unwrap();
    doc["user_types"]["task_struct"]["fields"]
        .as_object_mut()
        .unwrap()
        .remove("comm");
    std::fs::write(&isf, serde_json::to_vec(&doc).unwrap()).unwrap();
    let err = KernelDump::open_with(&dump, &isf, &CacheDir::Off)
        .unwrap_err()
        .to_string();
    assert!(err.contains("task_struct.comm"), "{err}");
    assert!(err.contains("isf"), "{err}");
}
