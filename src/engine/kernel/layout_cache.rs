//! The on-disk cache of where a dump's kernel is: the VMCOREINFO texts an open found in
//! physical memory and the kernel layout (KASLR shifts, page-table root) that checked out
//! with a given ISF. Finding them scans physical memory (about 10 ms and tens of MiB of page
//! faults on a 150 MB dump, a full pass when no VMCOREINFO is there); the next open of the
//! same dump reads a few hundred bytes instead.
//!
//! Location: `kernel/` in podmortem's cache folder ([`crate::engine::cache::root`]), never
//! next to the evidence; only opens through the default cache ([`CacheDir::Default`]) use
//! it, and only for dumps of at least [`MIN_SIZE`] bytes (below it the scan is as cheap as
//! the key). One JSON file per dump, named by the dump's identity
//! ([`crate::engine::cache::identity_with_edges`]: device, inode, size, modification time,
//! first and last 64 KiB): `<identity>.v<FORMAT_VERSION>.layout`, written atomically.
//!
//! Nothing read from it is trusted: the VMCOREINFO texts go through the same checks as
//! texts found by a scan (a layout is used only once `linux_banner` translates to the ISF's
//! banner), and a cached layout is used only for the ISF it was found with (by content
//! hash) and after the same check. Anything unreadable or stale counts as absent.

use std::fs;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::engine::cache;
use crate::engine::kernel::addr::PhysAddr;
use crate::engine::kernel::isf::CacheDir;
use crate::engine::kernel::kaslr::{KernelLayout, LayoutSource};
use crate::engine::kernel::vmcoreinfo::Vmcoreinfo;
use crate::engine::mapped::Blob;

/// Smallest dump whose layout is cached.
pub(crate) const MIN_SIZE: u64 = 16 << 20;
/// Bumped whenever the layout or the meaning of the file changes.
pub(crate) const FORMAT_VERSION: u32 = 1;
/// Bytes hashed at each end of the dump for its identity.
const EDGE: usize = 64 << 10;
/// Longest cache file read.
const MAX_FILE: u64 = 1 << 20;
/// What the file's `magic` says.
const MAGIC: &str = "podmortem-kernel-layout";

/// Where the cached layout of one dump lives.
#[derive(Debug, Clone)]
pub(crate) struct Location {
    file: PathBuf,
    key: String,
    size: u64,
}

impl Location {
    /// Another cache file of the same dump, `<identity>.<ext>` beside the layout's.
    pub(crate) fn sibling(&self, ext: &str) -> PathBuf {
        self.file.with_file_name(format!("{}.{ext}", self.key))
    }

    /// The dump's identity.
    pub(crate) fn key(&self) -> &str {
        &self.key
    }

    /// The dump's size in bytes.
    pub(crate) fn size(&self) -> u64 {
        self.size
    }
}

/// What a previous open found.
#[derive(Debug, Clone)]
pub(crate) struct Known {
    /// The VMCOREINFO candidates, as [`crate::engine::kernel::kaslr::vmcoreinfo_candidates`]
    /// gave them.
    pub vmcoreinfo: Vec<Vmcoreinfo>,
    /// The layout found, and the content hash (hex) of the ISF it was checked with.
    layout: Option<(String, KernelLayout)>,
}

impl Known {
    /// The cached layout when it was found with the ISF of content hash `isf_hash` (hex).
    pub fn layout_for(&self, isf_hash: &str) -> Option<KernelLayout> {
        self.layout
            .as_ref()
            .filter(|(h, _)| h == isf_hash)
            .map(|(_, l)| *l)
    }
}

#[derive(Serialize, Deserialize)]
struct Stored {
    magic: String,
    version: u32,
    identity: String,
    size: u64,
    vmcoreinfo: Vec<StoredText>,
    layout: Option<StoredLayout>,
}

#[derive(Serialize, Deserialize)]
struct StoredText {
    found_at: Option<u64>,
    text: String,
}

#[derive(Serialize, Deserialize)]
struct StoredLayout {
    isf: String,
    virtual_shift: u64,
    physical_shift: u64,
    dtb: u64,
    la57: bool,
    source: String,
}

fn source_name(s: LayoutSource) -> &'static str {
    match s {
        LayoutSource::VmcoreinfoNote => "note",
        LayoutSource::VmcoreinfoMemory => "memory",
        LayoutSource::BannerScan => "banner",
    }
}

fn source_of(name: &str) -> Option<LayoutSource> {
    Some(match name {
        "note" => LayoutSource::VmcoreinfoNote,
        "memory" => LayoutSource::VmcoreinfoMemory,
        "banner" => LayoutSource::BannerScan,
        _ => return None,
    })
}

/// The cache file for the dump at `path` (`size` bytes); `None` when `cache` is not the
/// default one, without a cache folder, for small dumps, or when the dump's identity cannot
/// be read (logged).
pub(crate) fn location(path: &Path, size: u64, cache: &CacheDir) -> Option<Location> {
    if *cache != CacheDir::Default || size < MIN_SIZE {
        return None;
    }
    let dir = cache::root()?.join(cache::KERNEL);
    let key = Blob::map(path).and_then(|b| cache::identity_with_edges(path, &b, EDGE));
    match key {
        Ok(key) => Some(Location {
            file: dir.join(format!("{key}.v{FORMAT_VERSION}.layout")),
            key,
            size,
        }),
        Err(e) => {
            tracing::warn!("no cached kernel layout (dump identity unreadable): {e}");
            None
        }
    }
}

/// What the cache file at `loc` holds; `None` when absent, damaged or not for this dump.
pub(crate) fn load(loc: &Location) -> Option<Known> {
    let len = fs::metadata(&loc.file).ok()?.len();
    if len > MAX_FILE {
        return None;
    }
    let data = fs::read(&loc.file).ok()?;
    let known = decode(&data, loc);
    if known.is_none() {
        tracing::debug!(cache = %loc.file.display(), "cached kernel layout rejected");
    }
    known
}

fn decode(data: &[u8], loc: &Location) -> Option<Known> {
    let s: Stored = serde_json::from_slice(data).ok()?;
    if s.magic != MAGIC
        || s.version != FORMAT_VERSION
        || s.identity != loc.key
        || s.size != loc.size
    {
        return None;
    }
    let vmcoreinfo = s
        .vmcoreinfo
        .iter()
        .map(|t| Vmcoreinfo::parse(&t.text, t.found_at))
        .collect();
    let layout = match s.layout {
        None => None,
        Some(l) => Some((
            l.isf,
            KernelLayout {
                virtual_shift: l.virtual_shift,
                physical_shift: l.physical_shift,
                dtb: PhysAddr(l.dtb),
                la57: l.la57,
                source: source_of(&l.source)?,
            },
        )),
    };
    Some(Known { vmcoreinfo, layout })
}

/// Writes what this open found to `loc`, atomically: the VMCOREINFO candidates and the
/// layout that checked out with the ISF of content hash `isf_hash` (hex). Errors are for
/// the caller to log: a cache that cannot be written only costs time.
pub(crate) fn store(
    loc: &Location,
    vmcoreinfo: &[Vmcoreinfo],
    isf_hash: &str,
    layout: &KernelLayout,
) -> std::io::Result<()> {
    let stored = Stored {
        magic: MAGIC.into(),
        version: FORMAT_VERSION,
        identity: loc.key.clone(),
        size: loc.size,
        vmcoreinfo: vmcoreinfo
            .iter()
            .map(|v| StoredText {
                found_at: v.found_at,
                text: v.text(),
            })
            .collect(),
        layout: Some(StoredLayout {
            isf: isf_hash.into(),
            virtual_shift: layout.virtual_shift,
            physical_shift: layout.physical_shift,
            dtb: layout.dtb.get(),
            la57: layout.la57,
            source: source_name(layout.source).into(),
        }),
    };
    let bytes = serde_json::to_vec(&stored).map_err(std::io::Error::other)?;
    cache::write_file(&loc.file, &bytes)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;

    fn loc() -> Location {
        Location {
            file: PathBuf::from("x.layout"),
            key: "k".into(),
            size: 99,
        }
    }

    #[test]
    fn round_trip_and_refusals() {
        let info = Vmcoreinfo::parse(
            "OSRELEASE=6.1\nKERNELOFFSET=6c00000\nSYMBOL(a)=ff\n",
            Some(7),
        );
        let layout = KernelLayout {
            virtual_shift: 0x6c0_0000,
            physical_shift: 0xac0_0000,
            dtb: PhysAddr(0xd61_0000),
            la57: false,
            source: LayoutSource::VmcoreinfoMemory,
        };
        let stored = Stored {
            magic: MAGIC.into(),
            version: FORMAT_VERSION,
            identity: "k".into(),
            size: 99,
            vmcoreinfo: vec![StoredText {
                found_at: info.found_at,
                text: info.text(),
            }],
            layout: Some(StoredLayout {
                isf: "abc".into(),
                virtual_shift: layout.virtual_shift,
                physical_shift: layout.physical_shift,
                dtb: layout.dtb.get(),
                la57: false,
                source: source_name(layout.source).into(),
            }),
        };
        let bytes = serde_json::to_vec(&stored).unwrap();
        let known = decode(&bytes, &loc()).unwrap();
        assert_eq!(known.vmcoreinfo, [info]);
        assert_eq!(known.layout_for("abc"), Some(layout));
        assert_eq!(known.layout_for("other"), None, "another ISF's layout");
        let other_dump = Location { size: 100, ..loc() };
        assert!(decode(&bytes, &other_dump).is_none());
        assert!(decode(&bytes[..bytes.len() - 1], &loc()).is_none());
        assert!(decode(b"{}", &loc()).is_none());
    }
}
