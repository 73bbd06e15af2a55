//! Symbols from a dump's own BTF and kallsyms against the dwarf2json ISF of the same kernel:
//! every struct and union has the same size and every field the same offset and type, every
//! enum the same constants, every kallsyms symbol the same (unslid) address; the written ISF
//! reads back to the same index. The few differences BTF cannot avoid are named here.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use crate::support;

use podmortem::engine::kernel::isf::{Isf, SymbolSource, TypeRef};
use podmortem::engine::kernel::memory::KernelMemory;
use support::kernel::Symbols;

/// Struct names that two different kernel structs share (`struct controller` of two
/// drivers, ...): the ISF keeps one, BTF the other.
const SHARED_NAMES: &[&str] = &[
    "controller",
    "d_partition",
    "disklabel",
    "dma_chan",
    "elf_note_info",
    "elf_thread_core_info",
    "irte",
    "netlbl_domhsh_walk_arg",
];

/// An anonymous type's name is the producer's own hash: compare the rest.
fn shape(t: &TypeRef) -> String {
    let s = format!("{t:?}");
    let mut out = String::new();
    let mut rest = s.as_str();
    while let Some(i) = rest.find("unnamed_") {
        out.push_str(&rest[..i]);
        out.push_str("unnamed");
        let tail = &rest[i + 8..];
        let end = tail
            .find(|c: char| !c.is_ascii_hexdigit())
            .unwrap_or(tail.len());
        rest = &tail[end..];
    }
    out.push_str(rest);
    out
}

/// True for a multi-dimensional array, which BTF stores flattened (`u32 a[12][13]` is one
/// array of 156).
fn multi_dimensional(t: &TypeRef) -> bool {
    matches!(t, TypeRef::Array { subtype, .. } if matches!(**subtype, TypeRef::Array { .. }))
}

fn both() -> Option<(&'static Isf, &'static Isf)> {
    let isf = support::kernel::lime_with(Symbols::Isf)?.space().isf();
    let own = support::kernel::lime_with(Symbols::Own)?.space().isf();
    Some((isf, own))
}

#[test]
fn btf_layouts_equal_the_isf() {
    let Some((isf, own)) = both() else {
        return;
    };
    assert!(matches!(own.source(), SymbolSource::DumpBtf { .. }));
    let mut compared = 0;
    let mut type_differences = 0;
    for name in isf.user_type_names() {
        if name.starts_with("unnamed_") || SHARED_NAMES.contains(&name) {
            continue;
        }
        let Some(size) = own.struct_size(name) else {
            panic!("{name} missing from BTF");
        };
        assert_eq!(Some(size), isf.struct_size(name), "size of {name}");
        for field in isf.field_names(name).unwrap() {
            let want = isf.field(name, field).unwrap();
            if field.starts_with("unnamed_field_") {
                // Position of an anonymous member; its contents are lifted and compared.
                continue;
            }
            let got = own
                .field(name, field)
                .unwrap_or_else(|| panic!("{name}.{field} missing from BTF"));
            assert_eq!(got.offset, want.offset, "offset of {name}.{field}");
            if !multi_dimensional(&want.kind) && shape(&got.kind) != shape(&want.kind) {
                eprintln!("type of {name}.{field}: {:?} vs {:?}", got.kind, want.kind);
                type_differences += 1;
            }
            compared += 1;
        }
    }
    assert!(compared > 50_000, "{compared} fields compared");
    assert_eq!(type_differences, 0);
}

#[test]
fn btf_enums_and_kallsyms_equal_the_isf() {
    let Some((isf, own)) = both() else {
        return;
    };
    assert_eq!(own.enum_count(), isf.enum_count());
    for (e, constant) in [
        ("pid_type", "PIDTYPE_TGID"),
        ("maple_type", "maple_range_64"),
        ("sock_type", "SOCK_STREAM"),
    ] {
        assert_eq!(own.enum_value(e, constant), isf.enum_value(e, constant));
    }
    // Every symbol the walkers read, at the ISF's unslid address and with its type.
    for name in [
        "init_task",
        "init_files",
        "init_uts_ns",
        "linux_banner",
        "page_offset_base",
        "init_top_pgt",
        "special_mapping_vmops",
        "tk_core",
        "modules",
        "_stext",
    ] {
        let (a, b) = (own.symbol(name), isf.symbol(name));
        let (a, b) = (
            a.unwrap_or_else(|| panic!("{name}")),
            b.unwrap_or_else(|| panic!("{name}")),
        );
        assert_eq!(a.address, b.address, "{name}");
        if name != "_stext" && name != "tk_core" {
            assert_eq!(a.type_ref, b.type_ref, "type of {name}");
        }
    }
    assert_eq!(
        own.constant_data("linux_banner"),
        isf.constant_data("linux_banner")
    );
    assert_eq!(own.banner(), isf.banner());
    // The timekeeper's holder: the same offset of timekeeper as DWARF's anonymous struct.
    let holder = |i: &Isf| i.symbol("tk_core").unwrap().type_name.unwrap();
    assert_eq!(
        own.field(&holder(own), "timekeeper").unwrap().offset,
        isf.field(&holder(isf), "timekeeper").unwrap().offset
    );
    assert!(own.symbol_count() > 80_000, "{}", own.symbol_count());
}

#[test]
fn written_isf_reads_back_the_same() {
    let Some((_, own)) = both() else {
        return;
    };
    let mut json = Vec::new();
    own.write_json(&mut json, &[]).unwrap();
    let back = Isf::from_bytes(&json, "own.json").unwrap();
    assert_eq!(back.user_type_count(), own.user_type_count());
    assert_eq!(back.symbol_count(), own.symbol_count());
    assert_eq!(back.enum_count(), own.enum_count());
    assert_eq!(back.banner(), own.banner());
    for name in own.user_type_names() {
        assert_eq!(back.struct_size(name), own.struct_size(name), "{name}");
        for f in own.field_names(name).unwrap() {
            assert_eq!(back.field(name, f), own.field(name, f), "{name}.{f}");
        }
    }
    assert_eq!(back.symbol("init_task"), own.symbol("init_task"));
}
