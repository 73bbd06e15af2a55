//! Walking a kernel maple tree (`struct maple_tree`, Linux >= 6.1: `mm_struct.mm_mt` holds a
//! process's VMAs). Node layouts (pivot and slot arrays and their lengths) come from the ISF's
//! `maple_range_64`, `maple_arange_64` and `maple_node`; the node type numbers from its
//! `maple_type` enum.
//!
//! Encoding (include/linux/maple_tree.h, lib/maple_tree.c): `ma_root` is NULL, a single entry
//! for index 0, or an encoded node (`xa_is_node`: low bits `10` and above 4096). An encoded
//! node is `node | type << 3 | flags`: the node is at `entry & ~0xFF`, its type is
//! `(entry >> 3) & 0xF`; types below `maple_range_64` are leaves. A node's slot `i` covers
//! `(pivot[i-1] + 1) ..= pivot[i]` (the node's own max for the last slot); a pivot of 0 after
//! the first slot ends the data, as does reaching the node's max. Each node's `parent` (low 8
//! bits masked) names its parent node, or the tree itself for the root node; a removed node
//! points to itself. The walk checks that link, remembers every node and bounds depth and
//! node count, so loops and garbage end the walk of that subtree with a recorded problem.

use std::collections::HashSet;

use crate::engine::error::Result;
use crate::engine::kernel::isf::{Isf, TypeRef};
use crate::engine::kernel::memory::KernelMemory;
use crate::engine::kernel::note_problem;

/// Deepest tree walked (the kernel's `MAPLE_HEIGHT_MAX` is 31).
pub const MAX_DEPTH: usize = 31;

/// Most nodes one walk reads (65530 VMAs, the default `max_map_count`, need about 10000).
pub const MAX_NODES: usize = 100_000;

/// Low bits of an encoded node that are not address (`MAPLE_NODE_MASK`).
const NODE_MASK: u64 = 0xFF;

/// One entry of the tree: the index range it covers and the stored pointer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MapleEntry {
    /// First index covered.
    pub first: u64,
    /// Last index covered (inclusive).
    pub last: u64,
    /// The stored value (for `mm_mt`: a `struct vm_area_struct *`).
    pub value: u64,
}

/// The result of a walk: the entries found, and what was wrong on the way.
#[derive(Debug, Clone, Default)]
pub struct MapleWalk {
    /// Entries in walk order (ascending index for a sound tree).
    pub entries: Vec<MapleEntry>,
    /// Damage met: a subtree skipped, a bound hit.
    pub problems: Vec<String>,
    /// Nodes read.
    pub nodes: usize,
}

/// Where the arrays of one node type lie.
#[derive(Debug, Clone, Copy)]
struct Layout {
    parent: u64,
    pivot: u64,
    pivots: u64,
    slot: u64,
    slots: u64,
}

/// The node type numbers (from the ISF's `enum maple_type`, else the kernel's values).
#[derive(Debug, Clone, Copy)]
struct Types {
    dense: u64,
    leaf: u64,
    range: u64,
    arange: u64,
}

fn array(isf: &Isf, st: &str, field: &str) -> Result<(u64, u64)> {
    let off = isf.offset(st, field)?;
    let count = match isf.field(st, field).map(|f| f.kind) {
        Some(TypeRef::Array { count, .. }) => count,
        _ => 0,
    };
    if count == 0 {
        return Err(crate::engine::error::Error::MissingSymbol(format!(
            "ISF array {st}.{field}"
        )));
    }
    Ok((off, count))
}

fn layout(isf: &Isf, st: &str) -> Result<Layout> {
    let (pivot, pivots) = array(isf, st, "pivot")?;
    let (slot, slots) = array(isf, st, "slot")?;
    Ok(Layout {
        parent: isf.offset(st, "parent")?,
        pivot,
        pivots,
        slot,
        slots,
    })
}

fn types(isf: &Isf) -> Types {
    let v = |name: &str, default: u64| {
        isf.enum_value("maple_type", name)
            .and_then(|v| u64::try_from(v).ok())
            .unwrap_or(default)
    };
    Types {
        dense: v("maple_dense", 0),
        leaf: v("maple_leaf_64", 1),
        range: v("maple_range_64", 2),
        arange: v("maple_arange_64", 3),
    }
}

/// A pending node: its encoded entry, index range, depth and the parent it must name.
struct Pending {
    entry: u64,
    min: u64,
    max: u64,
    depth: usize,
    parent: u64,
}

/// Walks the maple tree at `tree` (a `struct maple_tree *`) and returns its non-NULL entries.
/// Fails only when the tree's root cannot be read or the ISF lacks the node layouts.
pub fn walk(k: &dyn KernelMemory, tree: u64) -> Result<MapleWalk> {
    let isf = k.isf();
    let root = k.read_field_u64(tree, "maple_tree", "ma_root")?;
    let mut out = MapleWalk::default();
    if root == 0 {
        return Ok(out);
    }
    if !(root & 3 == 2 && root > 4096) {
        // Not a node: a single entry for index 0 (or a reserved value, skipped).
        if root & 3 == 0 {
            out.entries.push(MapleEntry {
                first: 0,
                last: 0,
                value: root,
            });
        }
        return Ok(out);
    }
    let range = layout(isf, "maple_range_64")?;
    let arange = layout(isf, "maple_arange_64")?;
    let dense = if isf.has_field("maple_node", "slot") {
        Some(array(isf, "maple_node", "slot")?)
    } else {
        None
    };
    let types = types(isf);
    let node_size = isf.struct_size("maple_node").unwrap_or(256).clamp(64, 4096);
    let mut buf = vec![0u8; usize::try_from(node_size).unwrap_or(256)];
    let mut seen = HashSet::new();
    let mut stack = vec![Pending {
        entry: root,
        min: 0,
        max: u64::MAX,
        depth: 1,
        parent: tree & !NODE_MASK,
    }];
    while let Some(p) = stack.pop() {
        let node = p.entry & !NODE_MASK;
        let ty = (p.entry >> 3) & 0xF;
        if p.depth > MAX_DEPTH {
            note_problem(&mut out.problems, || {
                format!("maple node {node:#x}: deeper than {MAX_DEPTH} levels")
            });
            continue;
        }
        if out.nodes >= MAX_NODES {
            note_problem(&mut out.problems, || {
                format!("maple tree {tree:#x}: more than {MAX_NODES} nodes; walk stopped")
            });
            break;
        }
        if node == 0 || !seen.insert(node) {
            note_problem(&mut out.problems, || {
                format!("maple node {node:#x}: NULL or already visited (loop)")
            });
            continue;
        }
        out.nodes += 1;
        if let Err(e) = k.read_exact(node, &mut buf) {
            note_problem(&mut out.problems, || format!("maple node {node:#x}: {e}"));
            continue;
        }
        let u64_at = |off: u64| -> Option<u64> {
            let s = usize::try_from(off).ok()?;
            let b = buf.get(s..s.checked_add(8)?)?;
            Some(u64::from_le_bytes(b.try_into().ok()?))
        };
        let lay = if ty == types.leaf || ty == types.range {
            range
        } else if ty == types.arange {
            arange
        } else if ty == types.dense {
            if let Some((slot, slots)) = dense {
                walk_dense(&u64_at, slot, slots, p.min, p.max, &mut out);
            }
            continue;
        } else {
            note_problem(&mut out.problems, || {
                format!("maple node {node:#x}: unknown type {ty}")
            });
            continue;
        };
        let parent = u64_at(lay.parent).unwrap_or(0) & !NODE_MASK;
        if parent != p.parent {
            note_problem(&mut out.problems, || {
                format!(
                    "maple node {node:#x}: parent {parent:#x}, expected {:#x}; subtree skipped",
                    p.parent
                )
            });
            continue;
        }
        let is_leaf = ty == types.leaf;
        let mut children = Vec::new();
        let mut first = p.min;
        for i in 0..lay.slots {
            let last = if i < lay.pivots {
                match u64_at(lay.pivot + i * 8) {
                    Some(v) => v,
                    None => break,
                }
            } else {
                p.max
            };
            if last == 0 && i > 0 {
                break;
            }
            if last < first || last > p.max {
                note_problem(&mut out.problems, || {
                    format!(
                        "maple node {node:#x}: pivot {i} = {last:#x} outside {first:#x}..={:#x}",
                        p.max
                    )
                });
                break;
            }
            let value = u64_at(lay.slot + i * 8).unwrap_or(0);
            if is_leaf {
                // NULL is a gap; low bits 1 (value) or 10 (internal: zero/retry entries)
                // are not pointers.
                if value != 0 && value & 3 == 0 {
                    out.entries.push(MapleEntry { first, last, value });
                }
            } else if value & !NODE_MASK != 0 {
                children.push(Pending {
                    entry: value,
                    min: first,
                    max: last,
                    depth: p.depth + 1,
                    parent: node,
                });
            }
            if last == p.max {
                break;
            }
            first = last.saturating_add(1);
        }
        // Depth first, lowest index first.
        stack.extend(children.into_iter().rev());
    }
    Ok(out)
}

/// A dense node: slot `i` holds index `min + i`.
fn walk_dense(
    u64_at: &dyn Fn(u64) -> Option<u64>,
    slot: u64,
    slots: u64,
    min: u64,
    max: u64,
    out: &mut MapleWalk,
) {
    for i in 0..slots {
        let Some(index) = min.checked_add(i).filter(|x| *x <= max) else {
            break;
        };
        let value = u64_at(slot + i * 8).unwrap_or(0);
        if value != 0 && value & 3 == 0 {
            out.entries.push(MapleEntry {
                first: index,
                last: index,
                value,
            });
        }
    }
}
