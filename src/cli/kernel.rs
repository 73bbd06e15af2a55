//! `podmortem modules`: the kernel modules of a memory dump, as a table or JSON.

use std::io::Write;

use anyhow::Result;

use crate::cli::output::{Table, json};
use crate::cli::tables::warn;
use crate::engine::capability;
use crate::engine::evidence::Evidence;

/// `podmortem modules`: the modules on the kernel's module list, newest first (JSON: the
/// list of [`Module`](crate::engine::kernel::modules::Module)s). The walk's damage goes to
/// stderr.
pub fn modules(ev: &dyn Evidence, as_json: bool, out: &mut dyn Write) -> Result<()> {
    let walk = capability::kernel(ev)?.modules()?;
    warn(&walk.problems);
    if as_json {
        return json(&walk.items, out);
    }
    let mut t = Table::new(
        &[
            "ADDRESS",
            "NAME",
            "STATE",
            "BASE",
            "SIZE",
            "TAINTS",
            "PARAMETERS",
        ],
        &["SIZE"],
    );
    for m in &walk.items {
        t.row(vec![
            format!("{:#x}", m.address),
            m.name.clone(),
            m.state.clone(),
            format!("{:#x}", m.base),
            m.size.to_string(),
            m.taints.clone(),
            m.parameters.join(","),
        ]);
    }
    t.print(out)
}
