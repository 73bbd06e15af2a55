//! Generates the scale evidence of the benchmark (`benches/run.sh` with
//! `PODMORTEM_BENCH_SCALE=1`): a sparse 64 GiB LiME of 2,000 processes with its AVML form
//! and ISF, and a 200-process checkpoint with 4 GiB of pages as `.tar`, `.tar.zst` and a
//! folder, with the planted strings listed in JSON. The generators are the integration
//! tests' (`tests/support/scale`), pulled in with `#[path]`, so the product binary carries
//! none of this.
//!
//! ```text
//! cargo run --release --example gen_evidence -- OUT_DIR [dump|ckpt|all] [--small]
//!     [--phys-gib N] [--processes N] [--vmcoreinfo-at ADDR]
//! ```
//!
//! Writes `OUT_DIR/scale.lime`, `scale.avml`, `scale.isf.json`, `dump-plants.json`,
//! `ckpt.tar`, `ckpt.tar.zst`, `ckpt/` and `ckpt-plants.json`; files already there are
//! replaced.
#![allow(missing_docs)]

// The parts of the tests' support folder the generators use. They name each other as
// `super::x` (siblings at the crate root here) and `crate::support::x`.
#[path = "../tests/support/btf.rs"]
#[allow(dead_code, clippy::all)]
mod btf;
#[path = "../tests/support/ckpt.rs"]
#[allow(dead_code, clippy::all)]
mod ckpt;
#[path = "../tests/support/kallsyms.rs"]
#[allow(dead_code, clippy::all)]
mod kallsyms;
#[path = "../tests/support/kernel_image.rs"]
#[allow(dead_code, clippy::all)]
mod kernel_image;
#[path = "../tests/support/kernel_mem/mod.rs"]
#[allow(dead_code, unused_imports, clippy::all)]
mod kernel_mem;
#[path = "../tests/support/scale/mod.rs"]
#[allow(dead_code, clippy::all)]
mod scale;

/// The support modules at the paths the tests give them.
mod support {
    pub(crate) use crate::{ckpt, kernel_image, kernel_mem};
}

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result, bail};

use scale::{CkptParams, DumpParams, disk_bytes, write_plants};

fn main() -> Result<()> {
    let mut args = std::env::args().skip(1);
    let mut out: Option<PathBuf> = None;
    let mut what = "all".to_string();
    let mut small = false;
    let (mut phys_gib, mut processes, mut vmcoreinfo_at) = (None, None, None);
    while let Some(a) = args.next() {
        let mut value = |name: &str| args.next().with_context(|| format!("{name} needs a value"));
        match a.as_str() {
            "--small" => small = true,
            "--phys-gib" => phys_gib = Some(value("--phys-gib")?.parse::<u64>()?),
            "--processes" => processes = Some(value("--processes")?.parse::<u32>()?),
            "--vmcoreinfo-at" => {
                let v = value("--vmcoreinfo-at")?;
                vmcoreinfo_at = Some(u64::from_str_radix(v.trim_start_matches("0x"), 16)?);
            }
            "dump" | "ckpt" | "all" => what = a,
            _ if out.is_none() && !a.starts_with('-') => out = Some(PathBuf::from(a)),
            _ => bail!("unknown argument {a}"),
        }
    }
    let out = out.context("usage: gen_evidence OUT_DIR [dump|ckpt|all] [--small] ...")?;
    std::fs::create_dir_all(&out)?;
    if what == "dump" || what == "all" {
        let mut p = if small {
            DumpParams::small()
        } else {
            DumpParams::full()
        };
        if let Some(g) = phys_gib {
            p.phys_bytes = g << 30;
        }
        if let Some(n) = processes {
            p.processes = n;
        }
        p.vmcoreinfo_at = vmcoreinfo_at;
        let t = Instant::now();
        let d = scale::dump::Dump::build(&p);
        eprintln!(
            "dump: {} tasks, {} data pages built in {:.1?}",
            d.tasks.len(),
            d.data_pages(),
            t.elapsed()
        );
        std::fs::write(out.join("scale.isf.json"), serde_json::to_vec(&d.isf)?)?;
        write_plants(&out.join("dump-plants.json"), &d.plants);
        for (name, write) in [
            ("scale.lime", scale::lime::write_lime as fn(&_, &_) -> u64),
            ("scale.avml", scale::avml::write_avml),
        ] {
            let t = Instant::now();
            let path = out.join(name);
            let _ = std::fs::remove_file(&path);
            let len = write(&d, &path);
            eprintln!(
                "{name}: {len} bytes ({} on disk) written in {:.1?}",
                disk_bytes(&path),
                t.elapsed()
            );
        }
    }
    if what == "ckpt" || what == "all" {
        let p = if small {
            CkptParams::small()
        } else {
            CkptParams::full()
        };
        let t = Instant::now();
        let dir = out.join("ckpt");
        let _ = std::fs::remove_dir_all(&dir);
        let (tar, zst) = (out.join("ckpt.tar"), out.join("ckpt.tar.zst"));
        let plants = scale::ckpt::write_checkpoint(&p, Some(&tar), Some(&zst), Some(&dir));
        write_plants(&out.join("ckpt-plants.json"), &plants);
        eprintln!(
            "checkpoint: {} processes written in {:.1?}; tar {} bytes ({} on disk), tar.zst {}, \
             folder {} on disk",
            p.processes,
            t.elapsed(),
            std::fs::metadata(&tar)?.len(),
            disk_bytes(&tar),
            std::fs::metadata(&zst)?.len(),
            disk_bytes(&dir)
        );
    }
    Ok(())
}
