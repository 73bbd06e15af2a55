//! Evidence generators for scale: a sparse LiME dump of a many-process synthetic kernel (and
//! its AVML-compressed form) and a many-process CRIU checkpoint (as `.tar`, `.tar.zst` and
//! a folder), each with strings planted at known addresses, some across page, AVML chunk
//! and search-window boundaries. The integration tests run them small
//! (`tests/scale_evidence.rs`); `examples/gen_evidence.rs` runs them big for the benchmark
//! (`benches/run.sh` with `PODMORTEM_BENCH_SCALE=1`).
//!
//! Layout: `dump` (the kernel, its processes and where their pages are), `content` (what a
//! user page holds), `lime` and `avml` (the two containers, written sparse), `ckpt` (the
//! checkpoint, written as a stream). Holes stay holes: zero pages are never written.
//!
//! This file is a `mod.rs` so that the example can pull the folder in with `#[path]` and
//! its modules resolve the same way.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

pub mod avml;
pub mod ckpt;
pub mod content;
pub mod dump;
pub mod lime;

use std::path::Path;

use serde::Serialize;

/// How big a generated dump is.
#[derive(Debug, Clone)]
pub struct DumpParams {
    /// User processes (each with 100 memory areas); kernel threads come on top.
    pub processes: u32,
    /// Kernel threads.
    pub kthreads: u32,
    /// Physical memory in bytes (the LiME's ranges add up to about this).
    pub phys_bytes: u64,
    /// Where the VMCOREINFO text is (`None`: low memory, where the tests' images put it).
    pub vmcoreinfo_at: Option<u64>,
    /// First physical address of user frames (above the kernel's direct-map data, which
    /// starts at 256 MiB).
    pub user_lo: u64,
}

impl DumpParams {
    /// The CI size: a handful of processes in 320 MiB of (sparse) memory, so that its AVML
    /// form stays under the size whose chunk index is cached (nothing is written to the
    /// cache folder by the tests).
    pub fn small() -> DumpParams {
        DumpParams {
            processes: 6,
            kthreads: 2,
            phys_bytes: 0x1400_0000,
            vmcoreinfo_at: None,
            user_lo: 0x1100_0000,
        }
    }

    /// The benchmark size: 2,000 processes in 64 GiB.
    pub fn full() -> DumpParams {
        DumpParams {
            processes: 2000,
            kthreads: 40,
            phys_bytes: 64 << 30,
            vmcoreinfo_at: None,
            user_lo: 0x4000_0000,
        }
    }
}

/// How big a generated checkpoint is.
#[derive(Debug, Clone)]
pub struct CkptParams {
    /// Processes.
    pub processes: u32,
    /// Bytes of pages per process (a multiple of 4 KiB).
    pub bytes_per_process: u64,
    /// One page in this many holds data; the others are zero (and holes on disk).
    pub data_every: u64,
}

impl CkptParams {
    /// The CI size: 4 processes of 12 MiB.
    pub fn small() -> CkptParams {
        CkptParams {
            processes: 4,
            bytes_per_process: 12 << 20,
            data_every: 16,
        }
    }

    /// The benchmark size: 200 processes, 4 GiB of pages.
    pub fn full() -> CkptParams {
        CkptParams {
            processes: 200,
            bytes_per_process: (4 << 30) / 200 / 4096 * 4096,
            data_every: 16,
        }
    }
}

/// A string planted in a process's memory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Plant {
    /// The process.
    pub pid: u32,
    /// Its virtual address.
    pub vaddr: u64,
    /// Its physical address when its bytes are contiguous in physical memory (dumps only).
    pub phys: Option<u64>,
    /// What boundary it straddles: `mid` (none), `page` (a page, physically contiguous),
    /// `chunk` (a page and an AVML chunk; `window` too when it also straddles a physical
    /// search window), `split` (two pages far apart physically), `entry` (two pagemap
    /// entries of a checkpoint).
    pub kind: &'static str,
    /// The text.
    pub text: String,
}

/// The regex that finds every planted string (and nothing else of the generated memory).
pub const PLANT_REGEX: &str = "PMSCALE-[a-z]+-[0-9]+-[0-9a-f]+;";

/// The text planted for `pid` at `vaddr` with `kind` (matches [`PLANT_REGEX`]).
pub fn plant_text(kind: &str, pid: u32, vaddr: u64) -> String {
    format!("PMSCALE-{kind}-{pid}-{vaddr:x};")
}

/// Writes the plants as JSON to `path` (for the benchmark).
pub fn write_plants(path: &Path, plants: &[Plant]) {
    std::fs::write(path, serde_json::to_vec_pretty(plants).unwrap()).unwrap();
}

/// The real disk use of a file or a folder (allocated blocks), in bytes.
pub fn disk_bytes(path: &Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::symlink_metadata(path).unwrap();
    if meta.is_dir() {
        std::fs::read_dir(path)
            .unwrap()
            .map(|e| disk_bytes(&e.unwrap().path()))
            .sum::<u64>()
            + meta.blocks() * 512
    } else {
        meta.blocks() * 512
    }
}
