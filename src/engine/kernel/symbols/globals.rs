//! The types of the few global variables the walkers read, for symbols that come from the
//! dump's own kallsyms: BTF describes per-CPU variables only, so a kernel's BTF says
//! nothing of `init_task`'s type. This table is the one place such knowledge lives; every
//! other symbol keeps no type, as it would in an ISF made from System.map alone. Each entry
//! names C types that every kernel since 4.x declares the variable with.

use crate::engine::kernel::isf::index::{Builder, FieldRec, Node, UserRec};

/// How a global variable is declared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Declared {
    /// `struct NAME var;`
    Struct(&'static str),
    /// A base type (`unsigned long var;`).
    Base(&'static str),
    /// `TYPE var[];` of a struct or typedef'd struct (`pgd_t init_top_pgt[]`).
    StructArray(&'static str),
    /// `char var[];`
    CharArray,
    /// The timekeeper's holder: `struct tk_data` (6.13 and later) or, before, an anonymous
    /// `static struct { seqcount_raw_spinlock_t seq; struct timekeeper timekeeper; }`.
    TimekeeperHolder,
}

/// The globals the walkers read and their declarations.
pub const GLOBALS: &[(&str, Declared)] = &[
    ("init_task", Declared::Struct("task_struct")),
    ("init_files", Declared::Struct("files_struct")),
    ("init_uts_ns", Declared::Struct("uts_namespace")),
    ("linux_banner", Declared::CharArray),
    ("page_offset_base", Declared::Base("long unsigned int")),
    ("init_top_pgt", Declared::StructArray("pgd_t")),
    ("swapper_pg_dir", Declared::StructArray("pgd_t")),
    (
        "special_mapping_vmops",
        Declared::Struct("vm_operations_struct"),
    ),
    (
        "legacy_special_mapping_vmops",
        Declared::Struct("vm_operations_struct"),
    ),
    ("modules", Declared::Struct("list_head")),
    ("tk_core", Declared::TimekeeperHolder),
];

/// Name given to the synthesised holder of `tk_core` on kernels before `struct tk_data`.
pub const TK_CORE_HOLDER: &str = "unnamed_tk_core";

/// The type node of a declaration, adding the timekeeper holder's type when needed.
/// `size_of` gives a struct's size from the index being built (for the holder's layout).
pub(crate) fn declare(
    b: &mut Builder,
    d: Declared,
    size_of: &dyn Fn(&str) -> Option<u64>,
) -> Option<u32> {
    let node = match d {
        Declared::Struct(name) => Node::Struct(b.intern(name)?),
        Declared::Base(name) => Node::Base(b.intern(name)?),
        Declared::StructArray(name) => {
            let sub = {
                let s = b.intern(name)?;
                b.node(Node::Struct(s))?
            };
            Node::Array { count: 0, sub }
        }
        Declared::CharArray => {
            let sub = {
                let s = b.intern("char")?;
                b.node(Node::Base(s))?
            };
            Node::Array { count: 0, sub }
        }
        Declared::TimekeeperHolder => {
            if size_of("tk_data").is_some() {
                Node::Struct(b.intern("tk_data")?)
            } else {
                Node::Struct(timekeeper_holder(b, size_of)?)
            }
        }
    };
    b.node(node)
}

/// Adds the anonymous holder of `tk_core`: the sequence count, then `struct timekeeper`
/// at the next 8-byte boundary (its first members are 64-bit).
fn timekeeper_holder(
    b: &mut Builder,
    size_of: &dyn Fn(&str) -> Option<u64>,
) -> Option<crate::engine::kernel::isf::index::Str> {
    let seq_name = "seqcount_raw_spinlock_t";
    let seq_size = size_of(seq_name).unwrap_or(4);
    let tk_size = size_of("timekeeper")?;
    let tk_offset = seq_size.div_ceil(8) * 8;
    let name = b.intern(TK_CORE_HOLDER)?;
    let seq_ty = {
        let s = b.intern(seq_name)?;
        b.node(Node::Struct(s))?
    };
    let tk_ty = {
        let s = b.intern("timekeeper")?;
        b.node(Node::Struct(s))?
    };
    let first = b.field_mark();
    for (field, offset, ty) in [("seq", 0, seq_ty), ("timekeeper", tk_offset, tk_ty)] {
        let fname = b.intern(field)?;
        b.add_field(FieldRec {
            name: fname,
            offset,
            ty,
            anonymous: false,
            lifted: false,
        });
    }
    b.add_user(UserRec {
        name,
        size: tk_offset + tk_size,
        kind: 0,
        first: u32::try_from(first).ok()?,
        count: 2,
    });
    Some(name)
}
