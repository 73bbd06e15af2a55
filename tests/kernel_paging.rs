//! x86-64 paging over synthetic page tables written into a raw image: 4- and 5-level walks,
//! 2 MiB and 1 GiB pages, absent entries, non-canonical addresses, reads that stop at an
//! absent page or a frame beyond the image, the mapped walk, and a cycle of tables that must
//! not hang. The real dumps are in `kernel_dump.rs`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::path::PathBuf;

use podmortem::engine::kernel::addr::{PhysAddr, VirtAddr};
use podmortem::engine::kernel::paging::{Paging, Translation};

/// The page-table root of every test image.
const ROOT: PhysAddr = PhysAddr(0x1000);
use podmortem::engine::kernel::physical::open_raw;

const P: u64 = 1; // present
const RW: u64 = 2;
const PS: u64 = 1 << 7;
const NX: u64 = 1 << 63;

/// A raw physical image of `size` bytes with the given u64 entries written in.
fn image(size: usize, entries: &[(u64, u64)], data: &[(u64, &[u8])]) -> PathBuf {
    let mut mem = vec![0u8; size];
    for &(at, v) in entries {
        mem[at as usize..at as usize + 8].copy_from_slice(&v.to_le_bytes());
    }
    for &(at, bytes) in data {
        mem[at as usize..at as usize + bytes.len()].copy_from_slice(bytes);
    }
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/test-tmp/kernel_dump");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("pt-{}-{}", std::process::id(), entries.len()));
    std::fs::write(&path, mem).unwrap();
    path
}

fn idx(va: u64, level: u32) -> u64 {
    (va >> (12 + 9 * (level - 1))) & 0x1ff
}

#[test]
fn four_level_pages_large_pages_and_absent_entries() {
    // PML4 0x1000 -> PDPT 0x2000 -> PD 0x3000 -> PT 0x4000 -> frame 0x10000.
    let va = 0x0000_7f12_3456_7000u64;
    let big2m = va & !0x3f_ffff ^ 0x20_0000; // a neighbouring 2 MiB slot of the same PD
    let big1g = 0x0000_7f00_0000_0000u64; // another PDPT slot
    let entries = [
        (0x1000 + idx(va, 4) * 8, 0x2000 | P | RW),
        (0x2000 + idx(va, 3) * 8, 0x3000 | P | RW),
        (0x2000 + idx(big1g, 3) * 8, 0x4000_0000 | P | PS | NX),
        (0x3000 + idx(va, 2) * 8, 0x4000 | P | RW | NX),
        (0x3000 + idx(big2m, 2) * 8, 0x20_0000 | P | PS),
        (0x4000 + idx(va, 1) * 8, 0x10000 | P | (0x7f << 52)), // protection-key bits
        (0x4000 + idx(va + 0x1000, 1) * 8, 0x11000),           // not present (swapped / PROT_NONE)
    ];
    let path = image(
        4 << 20,
        &entries,
        &[(0x10000, b"hello kernel"), (0x20_0123, b"2M")],
    );
    let phys = open_raw(&path).unwrap();
    let pg = Paging::new(false);
    assert_eq!(
        pg.translate(&*phys, ROOT, VirtAddr(va + 5)).unwrap(),
        Some(Translation {
            phys: PhysAddr(0x10005),
            page_size: 4096
        })
    );
    assert_eq!(
        pg.translate(&*phys, ROOT, VirtAddr(va + 0x1000)).unwrap(),
        None
    );
    assert_eq!(
        pg.translate(&*phys, ROOT, VirtAddr(big2m + 0x123)).unwrap(),
        Some(Translation {
            phys: PhysAddr(0x20_0123),
            page_size: 2 << 20
        })
    );
    assert_eq!(
        pg.translate(&*phys, ROOT, VirtAddr(big1g + 0x1234_5678))
            .unwrap(),
        Some(Translation {
            phys: PhysAddr(0x5234_5678),
            page_size: 1 << 30
        })
    );
    assert_eq!(pg.translate(&*phys, ROOT, VirtAddr(0x1000)).unwrap(), None);
    // Non-canonical.
    assert_eq!(
        pg.translate(&*phys, ROOT, VirtAddr(0x0001_0000_0000_0000))
            .unwrap(),
        None
    );
    // A read across the present page into the absent one: only the first page is captured.
    let mut buf = vec![0xAAu8; 0x1010];
    let got = pg.read(&*phys, ROOT, VirtAddr(va), &mut buf).unwrap();
    assert_eq!(got.captured, vec![0..0x1000]);
    assert_eq!(&buf[..12], b"hello kernel");
    assert!(buf[0x1000..].iter().all(|&b| b == 0));
    // The 1 GiB page's frame is beyond the image: translated but not captured.
    let mut b = [0u8; 4];
    assert!(
        pg.read(&*phys, ROOT, VirtAddr(big1g), &mut b)
            .unwrap()
            .captured
            .is_empty()
    );
    // The mapped walk: the 1 GiB page, the 2 MiB page and the one 4 KiB page.
    let m = pg.mapped(&*phys, ROOT, 0..u64::MAX).unwrap();
    let virt: Vec<_> = m.iter().map(|(r, _)| r.clone()).collect();
    let mut want = vec![
        big1g..big1g + (1 << 30),
        big2m..big2m + (2 << 20),
        va..va + 0x1000,
    ];
    want.sort_by_key(|r| r.start);
    assert_eq!(virt, want);
    // Clipped to a sub-range.
    let m = pg.mapped(&*phys, ROOT, va + 0x10..va + 0x20).unwrap();
    assert_eq!(m, vec![(va + 0x10..va + 0x20, 0x10010)]);
}

#[test]
fn five_level_paging() {
    // PML5 0x1000 -> PML4 0x2000 -> PDPT 0x3000 -> PD 0x4000 -> PT 0x5000 -> 0x10000.
    let va = 0x00ab_cdef_1234_5000u64; // needs bits above 47: only valid with LA57
    let entries = [
        (0x1000 + idx(va, 5) * 8, 0x2000 | P),
        (0x2000 + idx(va, 4) * 8, 0x3000 | P),
        (0x3000 + idx(va, 3) * 8, 0x4000 | P),
        (0x4000 + idx(va, 2) * 8, 0x5000 | P),
        (0x5000 + idx(va, 1) * 8, 0x10000 | P | NX),
    ];
    let path = image(1 << 20, &entries, &[(0x10000, b"LA57")]);
    let phys = open_raw(&path).unwrap();
    let five = Paging::new(true);
    assert_eq!(five.va_bits(), 57);
    assert_eq!(
        five.translate(&*phys, ROOT, VirtAddr(va + 1))
            .unwrap()
            .map(|t| t.phys),
        Some(PhysAddr(0x10001))
    );
    let mut b = [0u8; 4];
    assert_eq!(
        five.read(&*phys, ROOT, VirtAddr(va), &mut b)
            .unwrap()
            .captured,
        vec![0..4]
    );
    assert_eq!(&b, b"LA57");
    assert_eq!(
        five.mapped(&*phys, ROOT, 0..u64::MAX).unwrap(),
        vec![(va..va + 0x1000, 0x10000)]
    );
    // The same address is not canonical with 4-level paging.
    assert_eq!(
        Paging::new(false)
            .translate(&*phys, ROOT, VirtAddr(va))
            .unwrap(),
        None
    );
}

#[test]
fn corrupt_tables_do_not_hang() {
    // Every entry of the root points back at the root itself: a cycle of present tables.
    let entries: Vec<(u64, u64)> = (0..512).map(|i| (0x1000 + i * 8, 0x1000 | P)).collect();
    let path = image(1 << 16, &entries, &[]);
    let phys = open_raw(&path).unwrap();
    crate::support::cpu::within_cpu(20, move || {
        let _ = Paging::new(false)
            .mapped(&*phys, ROOT, 0..u64::MAX)
            .unwrap();
    });
}
