//! Walking a kernel XArray (`struct xarray`, 4.20+; what an IDR such as `prog_idr` is built
//! on) or the radix tree an IDR was built on before (`struct radix_tree_root`, 4.11-4.19).
//! Layouts come from the symbols: `xarray.xa_head` / `radix_tree_root.rnode`,
//! `xa_node` / `radix_tree_node` `.shift` and `.slots` (its length is the chunk size).
//!
//! Encoding (include/linux/xarray.h): an entry with low bits `10` is internal; above 4096 it
//! is a node (`entry - 2`), below it a retry, zero or sibling marker; low bit `1` is a value,
//! not a pointer. In the radix tree (include/linux/radix-tree.h before 4.20) an internal
//! entry has low bits `01` instead: a node (`entry - 1`), the retry marker (1), or a sibling
//! (a pointer into its own node's slots, skipped); low bits `10` are an exceptional entry. A
//! node's slot `i` covers indexes `base + i << shift`. The walk keeps every node it has
//! read, requires a child's shift to be below its parent's and bounds nodes and entries, so
//! loops and garbage end a subtree with a problem.

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

/// Where a node's fields are, and how an entry says it is a node.
struct Layout {
    shift: u64,
    slots: u64,
    chunk: u64,
    /// The low bits of an entry that points to a node (2 in an xarray, 1 in a radix tree).
    tag: u64,
}

impl Layout {
    /// The node an entry points to, if it is one.
    fn node(&self, e: u64) -> Option<u64> {
        (e & 3 == self.tag && e > 4096).then(|| e - self.tag)
    }
}

/// True for a pointer entry (not internal, not a value, not NULL).
fn is_pointer(e: u64) -> bool {
    e != 0 && e & 3 == 0
}

/// The pointers of the xarray at `xa`.
pub fn walk_xarray(k: &dyn KernelMemory, xa: u64) -> Result<XaWalk> {
    let head = xa.wrapping_add(k.isf().offset("xarray", "xa_head")?);
    walk(k, head, "xa_node", 2)
}

/// The pointers of the radix tree whose root (`struct radix_tree_root`) is at `root`.
pub fn walk_radix_tree(k: &dyn KernelMemory, root: u64) -> Result<XaWalk> {
    let head = root.wrapping_add(k.isf().offset("radix_tree_root", "rnode")?);
    walk(k, head, "radix_tree_node", 1)
}

/// The pointers of the IDR at `idr`: its `idr_rt` is an xarray since 4.20, a radix tree
/// before (whichever the symbols have).
pub fn walk_idr(k: &dyn KernelMemory, idr: u64) -> Result<XaWalk> {
    let isf = k.isf();
    let rt = idr.wrapping_add(isf.offset("idr", "idr_rt")?);
    if isf.field("xarray", "xa_head").is_some() {
        walk_xarray(k, rt)
    } else {
        walk_radix_tree(k, rt)
    }
}

/// The walk of a tree whose head pointer is at `head_at`, of nodes of type `node_type`
/// whose entries pointing to nodes have low bits `tag`.
fn walk(k: &dyn KernelMemory, head_at: u64, node_type: &str, tag: u64) -> Result<XaWalk> {
    let isf = k.isf();
    let head = k.read_u64(head_at)?;
    let slots = isf
        .field(node_type, "slots")
        .ok_or_else(|| Error::MissingSymbol(format!("ISF field {node_type}.slots")))?;
    let chunk = match slots.kind {
        TypeRef::Array { count, .. } if (1..=256).contains(&count) => count,
        _ => {
            return Err(Error::MissingSymbol(format!(
                "the length of {node_type}.slots"
            )));
        }
    };
    let l = Layout {
        shift: isf.offset(node_type, "shift")?,
        slots: slots.offset,
        chunk,
        tag,
    };
    let mut w = XaWalk::default();
    if let Some(root) = l.node(head) {
        let mut seen = HashSet::new();
        node(k, &l, root, 0, u64::from(u8::MAX), &mut seen, &mut w);
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
    // A radix tree's sibling entries point into the node's own slots.
    let own_slots = at.wrapping_add(l.slots)..at.wrapping_add(l.slots + l.chunk * 8);
    for (i, word) in (0u64..).zip(raw.chunks_exact(8)) {
        let e = word.try_into().map_or(0, u64::from_le_bytes);
        let index = base.wrapping_add(i.checked_shl(shift as u32).unwrap_or(0));
        if let Some(child) = l.node(e).filter(|c| !own_slots.contains(c)) {
            if shift > 0 {
                node(k, l, child, index, shift, seen, w);
            }
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
