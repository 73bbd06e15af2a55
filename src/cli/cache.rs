//! `podmortem cache`: what the cache folder holds (decompressed checkpoints, symbol
//! indexes, AVML chunk indexes, the demo), and cleaning it.

use std::io::Write;

use anyhow::{Context, Result};

use crate::cli::output::{Table, json};
use crate::engine::cache;
use crate::units::human_size;

/// Lists the cache, or cleans it (`clean`; with `all`, every kind of entry).
pub fn run(clean: bool, all: bool, as_json: bool, out: &mut dyn Write) -> Result<()> {
    let root =
        cache::root().context("no cache folder on this platform (set PODMORTEM_CACHE_DIR)")?;
    if clean {
        let (files, bytes) = cache::clean(&root, all)?;
        if as_json {
            return json(
                &serde_json::json!({"folder": root, "removed_files": files, "removed_bytes": bytes}),
                out,
            );
        }
        writeln!(
            out,
            "removed {files} file(s), {} from {}",
            human_size(bytes),
            root.display()
        )?;
        return Ok(());
    }
    let entries = cache::entries(&root);
    if as_json {
        return json(&entries, out);
    }
    let mut t = Table::new(
        &["KIND", "SIZE", "ON DISK", "LAST USED", "FILE", "SOURCE"],
        &["SIZE", "ON DISK"],
    );
    let mut total = 0;
    for e in &entries {
        total += e.disk_bytes;
        t.row(vec![
            e.kind.to_string(),
            human_size(e.size),
            human_size(e.disk_bytes),
            e.last_used.clone(),
            e.path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            e.source.clone().unwrap_or_default(),
        ]);
    }
    t.print(out)?;
    writeln!(
        out,
        "{} in {} (decompressed checkpoints kept up to {}; `podmortem cache --clean` removes them)",
        human_size(total),
        root.display(),
        human_size(cache::limit())
    )?;
    Ok(())
}
