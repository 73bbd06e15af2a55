//! The physical memory layer on the real dumps: `linux-6.1` (LiME and AVML of the same
//! memory: ranges, planted secrets, AVML equal to LiME byte for byte) and `linux-6.1-node`
//! (QEMU ELF core). Sources built in code are in `kernel_physical.rs`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::single_range_in_vec_init
)]

use crate::support;

use std::ops::Range;
use std::time::Instant;

use podmortem::engine::kernel::physical::{PhysicalMemory, open_physical};
use support::physical::read;

const MIB: u64 = 1 << 20;

/// The table in linux-6.1/README.md (end inclusive there).
const LINUX61_RANGES: [(u64, u64); 10] = [
    (0x1000, 0x9efff),
    (0x100000, 0x10fffff),
    (0x1100000, 0x20fffff),
    (0x2100000, 0x30fffff),
    (0x3100000, 0x40fffff),
    (0xb100000, 0xc0fffff),
    (0xc100000, 0xd0fffff),
    (0xd100000, 0xe0fffff),
    (0xe100000, 0xf0fffff),
    (0xf100000, 0xffd9fff),
];

fn linux61_ranges() -> Vec<Range<u64>> {
    LINUX61_RANGES.iter().map(|&(s, e)| s..e + 1).collect()
}

/// (physical address, planted string) of every `dump.lime` hit in linux-6.1/secrets.json.
fn linux61_secrets() -> Vec<(u64, String)> {
    let dir = support::fixture("linux-6.1").unwrap();
    let v: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("secrets.json")).unwrap()).unwrap();
    v["dump.lime"]["hits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| {
            let addr = h["phys_addr"].as_str().unwrap().trim_start_matches("0x");
            let addr = u64::from_str_radix(addr, 16).unwrap();
            (addr, h["match"].as_str().unwrap().to_string())
        })
        .collect()
}

fn check_secrets(mem: &dyn PhysicalMemory, secrets: &[(u64, String)]) {
    assert!(!secrets.is_empty());
    for (addr, text) in secrets {
        let (buf, cap) = read(mem, *addr, text.len());
        assert_eq!(cap, vec![0..text.len()], "{text} at {addr:#x}");
        assert_eq!(String::from_utf8_lossy(&buf), *text, "at {addr:#x}");
    }
}

#[test]
fn linux61_lime_ranges_and_secrets() {
    let Some(path) = support::decompressed("linux-6.1", "dump.lime.zst") else {
        return;
    };
    let mem = open_physical(&path).unwrap();
    assert_eq!(mem.format(), "lime");
    assert_eq!(mem.ranges(), &linux61_ranges()[..]);
    assert!(mem.warnings().is_empty(), "{:?}", mem.warnings());
    assert_eq!(mem.vmcoreinfo(), None);
    check_secrets(mem.as_ref(), &linux61_secrets());
    let total: u64 = mem.ranges().iter().map(|r| r.end - r.start).sum();
    assert_eq!(total + 32 * 10, 150_438_208);
}

/// Compares AVML against LiME over `[addr, addr + len)`.
fn same(lime: &dyn PhysicalMemory, avml: &dyn PhysicalMemory, addr: u64, len: usize) {
    let (a, ca) = read(lime, addr, len);
    let (b, cb) = read(avml, addr, len);
    assert_eq!(ca, cb, "captured at {addr:#x}+{len:#x}");
    assert!(a == b, "bytes differ at {addr:#x}+{len:#x}");
}

fn open_linux61_pair() -> Option<(Box<dyn PhysicalMemory>, Box<dyn PhysicalMemory>)> {
    let lime = support::decompressed("linux-6.1", "dump.lime.zst")?;
    let avml = support::decompressed("linux-6.1", "dump.avml.zst")?;
    let t = Instant::now();
    let avml = open_physical(&avml).unwrap();
    eprintln!("opening dump.avml (chunk index): {:?}", t.elapsed());
    Some((open_physical(&lime).unwrap(), avml))
}

#[test]
fn linux61_avml_equals_lime_sampled() {
    let Some((lime, avml)) = open_linux61_pair() else {
        return;
    };
    assert_eq!(avml.format(), "avml");
    assert_eq!(avml.ranges(), lime.ranges());
    assert!(avml.warnings().is_empty(), "{:?}", avml.warnings());
    check_secrets(avml.as_ref(), &linux61_secrets());
    let t = Instant::now();
    // Every 7th MiB of the physical address space...
    let top = lime.ranges().last().unwrap().end;
    for addr in (0..top).step_by(7 * MIB as usize) {
        same(lime.as_ref(), avml.as_ref(), addr, MIB as usize);
    }
    // ...and every range's edges, including reads across the edges and odd alignments.
    for r in lime.ranges() {
        for addr in [
            r.start.saturating_sub(0x800),
            r.end - 0x800,
            r.start + 0xfff3,
        ] {
            same(lime.as_ref(), avml.as_ref(), addr, 0x1001);
        }
    }
    eprintln!("sampled comparison: {:?}", t.elapsed());
}

/// Every byte of dump.avml against dump.lime, with timings of a full sequential read (about
/// 0.3 s in a debug build: the decompression runs in the optimised `snap` crate).
#[test]
fn linux61_avml_equals_lime_full() {
    let Some((lime, avml)) = open_linux61_pair() else {
        return;
    };
    let mut a = vec![0u8; 4 * MIB as usize];
    let mut b = vec![0u8; 4 * MIB as usize];
    let (mut ta, mut tb) = (std::time::Duration::ZERO, std::time::Duration::ZERO);
    let mut total = 0u64;
    for r in lime.ranges().to_vec() {
        let mut addr = r.start;
        while addr < r.end {
            let n = (r.end - addr).min(a.len() as u64) as usize;
            let t = Instant::now();
            lime.read_phys(addr, &mut a[..n]).unwrap();
            ta += t.elapsed();
            let t = Instant::now();
            avml.read_phys(addr, &mut b[..n]).unwrap();
            tb += t.elapsed();
            assert!(a[..n] == b[..n], "bytes differ in {addr:#x}+{n:#x}");
            addr += n as u64;
            total += n as u64;
        }
    }
    eprintln!("full sequential read of {total} bytes: lime {ta:?}, avml {tb:?}");
}

#[test]
fn linux61_node_elf_ranges_and_secrets() {
    let Some(path) = support::decompressed("linux-6.1-node", "dump.elf.zst") else {
        return;
    };
    let mem = open_physical(&path).unwrap();
    assert_eq!(mem.format(), "elf");
    assert!(mem.warnings().is_empty(), "{:?}", mem.warnings());
    // README: 0x0-0x9ffff, 0xa0000-0xaffff, 0xc0000-0x2fffffff, 0xfd000000-0xfdffffff,
    // 0xfffc0000-0xffffffff.
    assert_eq!(
        mem.ranges(),
        &[
            0..0xa0000,
            0xa0000..0xb0000,
            0xc0000..0x3000_0000,
            0xfd00_0000..0xfe00_0000,
            0xfffc_0000..0x1_0000_0000
        ]
    );
    // QEMU's note segment holds CPU state only (the guest had no vmcoreinfo device).
    assert_eq!(mem.vmcoreinfo(), None);
    let dir = support::fixture("linux-6.1-node").unwrap();
    let v: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("acquisition/secrets.json")).unwrap())
            .unwrap();
    let secrets: Vec<(u64, String)> = v["hits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| {
            (
                h["phys"].as_u64().unwrap(),
                h["text"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert_eq!(secrets.len(), 15);
    check_secrets(mem.as_ref(), &secrets);
    for (addr, text) in &secrets {
        assert_eq!(mem.slice(*addr, text.len()), Some(text.as_bytes()));
    }
}
