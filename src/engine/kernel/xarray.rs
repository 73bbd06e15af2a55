//! Walking a kernel XArray (`struct xarray`, 4.20+; what an IDR such as `prog_idr` is built
//! on). Layouts come from the symbols: `xarray.xa_head`, `xa_node.shift` and
//! `xa_node.slots` (its length is the chunk size).
//!
//! Encoding (include/linux/xarray.h): an entry with low bits `10` is internal; above 4096 it
//! is a node (`entry - 2`), below it a retry, zero or sibling marker; low bit `1` is a value,
//! not a pointer. A node's slot `i` covers indexes `base + i << shift`. The walk keeps every
//! node it has read, requires a child's shift to be below its parent's and bounds nodes and
//! entries, so loops and garbage end a subtree with a problem.

use std::collections::HashSet;

use crate::engine::error::{Error, Result};
use crate::engine::kernel::isf::TypeRef;
use crate::engine::kernel::memory::KernelMemory;
use crate::engine::kernel::note_problem;

/// Most nodes one walk reads.
pub const MAX_NODES: usize = 100_000;
/// Most entries one walk returns.
pub const MAX_ENTRIES: usize = 1 << 20;

/// The pointers stored in an xarray: (index, pointer), and the damage met.
#[derive(Debug, Clone, Default)]
pub struct XaWalk {
    /// Stored pointers with their index, in index order for a sound tree.
    pub entries: Vec<(u64, u64)>,
    /// What was skipped and why.
    pub problems: Vec<String>,
}

/// Where an `xa_node`'s fields are.
struct Layout {
    shift: u64,
    slots: u64,
    chunk: u64,
}

/// True for an internal entry that is a node.
fn is_node(e: u64) -> bool {
    e & 3 == 2 && e > 4096
}

/// True for a pointer entry (not internal, not a value, not NULL).
fn is_pointer(e: u64) -> bool {
    e != 0 && e & 3 == 0
}

/// The pointers of the xarray at `xa`.
pub fn walk_xarray(k: &dyn KernelMemory, xa: u64) -> Result<XaWalk> {
    let isf = k.isf();
    let head = k.read_u64(xa.wrapping_add(isf.offset("xarray", "xa_head")?))?;
    let slots = isf
        .field("xa_node", "slots")
        .ok_or_else(|| Error::MissingSymbol("ISF field xa_node.slots".into()))?;
    let chunk = match slots.kind {
        TypeRef::Array { count, .. } if (1..=256).contains(&count) => count,
        _ => return Err(Error::MissingSymbol("the length of xa_node.slots".into())),
    };
    let l = Layout {
        shift: isf.offset("xa_node", "shift")?,
        slots: slots.offset,
        chunk,
    };
    let mut w = XaWalk::default();
    if is_node(head) {
        let mut seen = HashSet::new();
        node(k, &l, head - 2, 0, u64::from(u8::MAX), &mut seen, &mut w);
    } else if is_pointer(head) {
        w.entries.push((0, head));
    }
    Ok(w)
}

/// Walks the node at `at` covering indexes from `base`; its shift must be below `limit`.
fn node(
    k: &dyn KernelMemory,
    l: &Layout,
    at: u64,
    base: u64,
    limit: u64,
    seen: &mut HashSet<u64>,
    w: &mut XaWalk,
) {
    if seen.len() >= MAX_NODES {
        note_problem(&mut w.problems, || {
            format!("more than {MAX_NODES} xarray nodes; the rest is not read")
        });
        return;
    }
    if !seen.insert(at) {
        note_problem(&mut w.problems, || {
            format!("xarray node {at:#x} is reached twice (a loop); skipped")
        });
        return;
    }
    let mut b = [0u8; 1];
    if let Err(e) = k.read_exact(at.wrapping_add(l.shift), &mut b) {
        note_problem(&mut w.problems, || format!("xarray node {at:#x}: {e}"));
        return;
    }
    let shift = u64::from(b[0]);
    if shift >= limit || shift >= 64 {
        note_problem(&mut w.problems, || {
            format!("xarray node {at:#x} has shift {shift} under a node of shift {limit}; skipped")
        });
        return;
    }
    let mut raw = vec![0u8; usize::try_from(l.chunk * 8).unwrap_or(0)];
    if let Err(e) = k.read_exact(at.wrapping_add(l.slots), &mut raw) {
        note_problem(&mut w.problems, || format!("xarray node {at:#x}: {e}"));
        return;
    }
    for (i, word) in (0u64..).zip(raw.chunks_exact(8)) {
        let e = word.try_into().map_or(0, u64::from_le_bytes);
        let index = base.wrapping_add(i.checked_shl(shift as u32).unwrap_or(0));
        if is_node(e) && shift > 0 {
            node(k, l, e - 2, index, shift, seen, w);
        } else if is_pointer(e) {
            if w.entries.len() >= MAX_ENTRIES {
                note_problem(&mut w.problems, || {
                    format!("more than {MAX_ENTRIES} xarray entries; cut")
                });
                return;
            }
            w.entries.push((index, e));
        }
    }
}
