//! The on-disk cache of a dump's walked process list: every task's facts, page-table root,
//! root folder, command line and executable, as the first open read them. Walking the list
//! reads a few scattered pages per task; on a node's AVML dump (thousands of tasks, each
//! page in a different compressed chunk) that is most of an open's time, and the dump does
//! not change. The next open of the same dump with the same symbols and layout reads one
//! file instead.
//!
//! Location: beside the kernel layout cache ([`layout_cache`]), named by the dump's
//! identity, only for dumps the layout cache keeps; written atomically. The key holds the
//! ISF's content hash, the layout, this file format's version and the identity of the
//! podmortem executable that walked it (a rebuilt podmortem walks again: a fixed walker is
//! never hidden behind an old result).
//!
//! Nothing read from it is trusted blindly: a sample of the cached tasks (the first, the
//! last and some between) is read again from the dump and must agree (pid, parent, name);
//! anything unreadable, stale or disagreeing counts as absent and the list is walked.

use std::fs;

use serde::{Deserialize, Serialize};

use crate::engine::cache;
use crate::engine::kernel::addr::PhysAddr;
use crate::engine::kernel::dpath::PathRef;
use crate::engine::kernel::kaslr::KernelLayout;
use crate::engine::kernel::layout_cache::Location;
use crate::engine::kernel::memory::KernelMemory;
use crate::engine::kernel::tasks::{TaskInfo, read_task};

/// Bumped whenever the file or the meaning of a walked field changes.
const FORMAT_VERSION: u32 = 1;
/// What the file's `magic` says.
const MAGIC: &str = "podmortem-kernel-tasks";
/// Longest cache file read (a node of 100,000 tasks stays well under it).
const MAX_FILE: u64 = 256 << 20;
/// Tasks read again from the dump to check a cached list.
const SAMPLE: usize = 16;

/// One task as an open walked it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct WalkedTask {
    /// What the kernel says.
    pub info: TaskInfo,
    /// Physical address of its top-level page table.
    pub root: Option<u64>,
    /// `fs->root` as (mount, dentry).
    pub fs_root: Option<(u64, u64)>,
    /// Its command line.
    pub cmdline: Vec<String>,
    /// `mm->exe_file`'s path.
    pub exe: Option<String>,
}

impl WalkedTask {
    /// The page-table root as an address.
    pub fn root(&self) -> Option<PhysAddr> {
        self.root.map(PhysAddr)
    }

    /// The root folder as a `struct path`.
    pub fn fs_root(&self) -> Option<PathRef> {
        self.fs_root.map(|(mnt, dentry)| PathRef { mnt, dentry })
    }
}

/// A walked process list and the warnings the walk gave.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Walked {
    /// The tasks, in list order.
    pub tasks: Vec<WalkedTask>,
    /// The walk's warnings.
    pub warnings: Vec<String>,
}

#[derive(Serialize, Deserialize)]
struct Stored {
    magic: String,
    key: String,
    walked: Walked,
}

/// Everything the cached list depends on besides the dump's identity.
fn key(loc: &Location, isf_hash: &str, layout: &KernelLayout) -> String {
    let exe = std::env::current_exe()
        .ok()
        .and_then(|p| fs::metadata(p).ok())
        .map(|m| {
            use std::os::unix::fs::MetadataExt;
            format!("{}:{}:{}.{}", m.ino(), m.len(), m.mtime(), m.mtime_nsec())
        })
        .unwrap_or_default();
    format!(
        "v{FORMAT_VERSION} {} {} dump={} size={} isf={isf_hash} shifts={:#x}/{:#x} dtb={:#x} la57={} exe={exe}",
        env!("CARGO_PKG_NAME"),
        env!("CARGO_PKG_VERSION"),
        loc.key(),
        loc.size(),
        layout.virtual_shift,
        layout.physical_shift,
        layout.dtb.0,
        layout.la57,
    )
}

/// The process list cached for this dump, symbols and layout, once a sample of it read
/// again from `k` agrees; `None` otherwise.
pub(crate) fn load(
    loc: &Location,
    isf_hash: &str,
    layout: &KernelLayout,
    k: &dyn KernelMemory,
) -> Option<Walked> {
    let file = loc.sibling("tasks");
    if fs::metadata(&file).ok()?.len() > MAX_FILE {
        return None;
    }
    let data = fs::read(&file).ok()?;
    let stored: Stored = serde_json::from_slice(&data).ok()?;
    if stored.magic != MAGIC || stored.key != key(loc, isf_hash, layout) {
        tracing::debug!(cache = %file.display(), "cached process list is for another open");
        return None;
    }
    if !agrees(&stored.walked, k) {
        tracing::warn!(cache = %file.display(), "cached process list disagrees with the dump");
        return None;
    }
    Some(stored.walked)
}

/// A sample of the cached tasks read again: same pid, parent and name.
fn agrees(walked: &Walked, k: &dyn KernelMemory) -> bool {
    let n = walked.tasks.len();
    if n == 0 {
        return false;
    }
    let step = n.div_ceil(SAMPLE).max(1);
    let picks = (0..n).step_by(step).chain(std::iter::once(n - 1));
    picks.into_iter().all(|i| {
        walked.tasks.get(i).is_some_and(|t| {
            read_task(k, t.info.task).is_ok_and(|again| {
                again.pid == t.info.pid && again.ppid == t.info.ppid && again.comm == t.info.comm
            })
        })
    })
}

/// Writes the walked list for the next open, atomically. Errors are for the caller to log:
/// a cache that cannot be written only costs time.
pub(crate) fn store(
    loc: &Location,
    isf_hash: &str,
    layout: &KernelLayout,
    walked: &Walked,
) -> std::io::Result<()> {
    let stored = Stored {
        magic: MAGIC.into(),
        key: key(loc, isf_hash, layout),
        walked: walked.clone(),
    };
    let bytes = serde_json::to_vec(&stored).map_err(std::io::Error::other)?;
    cache::write_file(&loc.sibling("tasks"), &bytes)
}
