//! The physical memory layer on sources built in code: LiME, AVML, ELF core and raw (gaps,
//! edges, spanning reads, corrupt CRCs, truncation, bogus headers). The real dumps of
//! `linux-6.1` (LiME and AVML of the same memory) and `linux-6.1-node` (QEMU ELF core) are in
//! `kernel_physical_fixtures.rs`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::single_range_in_vec_init
)]

use crate::support;

use std::io::Write;
use std::ops::Range;
use std::path::PathBuf;

use podmortem::engine::Error;
use podmortem::engine::kernel::physical::{PhysicalMemory, open_physical, open_raw, sniff};
use support::physical::read;

const LIME: u32 = 0x4C69_4D45;
const AVML: u32 = 0x4C4D_5641;

// ---------------------------------------------------------------------------------------
// Builders

/// A fresh file under target/ holding `bytes`.
fn write_tmp(name: &str, bytes: &[u8]) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/test-tmp/kernel_physical");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("{name}-{}", std::process::id()));
    std::fs::write(&path, bytes).unwrap();
    path
}

fn header(magic: u32, version: u32, start: u64, end_inclusive: u64) -> Vec<u8> {
    let mut h = Vec::with_capacity(32);
    h.extend(magic.to_le_bytes());
    h.extend(version.to_le_bytes());
    h.extend(start.to_le_bytes());
    h.extend(end_inclusive.to_le_bytes());
    h.extend([0u8; 8]);
    h
}

/// Deterministic test memory: text, zero runs and pseudo-random (incompressible) stretches,
/// so AVML streams get both compressed and uncompressed chunks.
fn memory(start: u64, len: usize) -> Vec<u8> {
    let mut x = start ^ 0x9e37_79b9_7f4a_7c15;
    (0..len as u64)
        .map(|i| {
            let a = start + i;
            match (a / 0x3000) % 3 {
                0 => b"podmortem physical memory "[(a % 26) as usize],
                1 => 0,
                _ => {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    x as u8
                }
            }
        })
        .collect()
}

fn lime_file(ranges: &[(u64, Vec<u8>)]) -> Vec<u8> {
    let mut f = Vec::new();
    for (start, data) in ranges {
        f.extend(header(LIME, 1, *start, start + data.len() as u64 - 1));
        f.extend(data);
    }
    f
}

/// A snappy framing-format stream of `data`, as AVML writes it.
fn snappy_stream(data: &[u8]) -> Vec<u8> {
    let mut enc = snap::write::FrameEncoder::new(Vec::new());
    enc.write_all(data).unwrap();
    enc.into_inner().unwrap()
}

fn avml_block(start: u64, data: &[u8], stream: &[u8]) -> Vec<u8> {
    let mut f = header(AVML, 2, start, start + data.len() as u64 - 1);
    f.extend(stream);
    f.extend((stream.len() as u64).to_le_bytes());
    f
}

fn avml_file(ranges: &[(u64, Vec<u8>)]) -> Vec<u8> {
    let mut f = Vec::new();
    for (start, data) in ranges {
        f.extend(avml_block(*start, data, &snappy_stream(data)));
    }
    f
}

/// (file offset, type, body length) of every chunk of the stream starting at `at`.
fn chunk_headers(stream: &[u8]) -> Vec<(usize, u8, usize)> {
    let mut out = Vec::new();
    let mut p = 0;
    while p + 4 <= stream.len() {
        let len = u32::from_le_bytes([stream[p + 1], stream[p + 2], stream[p + 3], 0]) as usize;
        out.push((p, stream[p], len));
        p += 4 + len;
    }
    out
}

/// The synthetic layout used by several tests: a gap, adjacent ranges, a chunk-crossing size.
fn layout() -> Vec<(u64, Vec<u8>)> {
    vec![
        (0x1000, memory(0x1000, 0x9f000)),
        (0x10_0000, memory(0x10_0000, 0x2_3456)),
        (0x12_3456, memory(0x12_3456, 0x1_0000)),
        (0x40_0000, memory(0x40_0000, 0x11_0000)),
    ]
}

fn expect_corrupt_at<T: std::fmt::Debug>(r: Result<T, Error>, want_at: u64) -> String {
    match r {
        Err(e @ Error::Corrupt { at, .. }) if at == want_at => e.to_string(),
        other => panic!("expected Corrupt at {want_at:#x}, got {other:?}"),
    }
}

/// The image at `path` opens, and reading its first block fails at `want_at`.
fn expect_corrupt_on_read(path: &std::path::Path, want_at: u64) -> String {
    let mem = open_physical(path).unwrap();
    let start = mem.ranges()[0].start;
    let mut buf = vec![0u8; 0x100];
    expect_corrupt_at(mem.read_phys(start, &mut buf), want_at)
}

// ---------------------------------------------------------------------------------------
// Synthetic sources

/// Checks reads across gaps, adjacent ranges and edges against the layout.
fn check_layout_reads(mem: &dyn PhysicalMemory) {
    let l = layout();
    let want: Vec<Range<u64>> = l.iter().map(|(s, d)| *s..s + d.len() as u64).collect();
    assert_eq!(mem.ranges(), &want[..]);
    // Every range whole.
    for (start, data) in &l {
        let (buf, cap) = read(mem, *start, data.len());
        assert_eq!(&buf, data, "range at {start:#x}");
        assert_eq!(cap, vec![0..data.len()]);
    }
    // Edges: one byte before the first range, the first byte, the last byte, one past.
    let (buf, cap) = read(mem, 0xfff, 2);
    assert_eq!((buf, cap), (vec![0, l[0].1[0]], vec![1..2]));
    let (buf, cap) = read(mem, 0x9_ffff, 2);
    assert_eq!((buf, cap), (vec![*l[0].1.last().unwrap(), 0], vec![0..1]));
    let (buf, cap) = read(mem, 0xa_0000, 16);
    assert_eq!((buf, cap), (vec![0; 16], vec![]));
    // Spanning a gap: end of range 0, the hole, start of range 1.
    let (buf, cap) = read(mem, 0x9_f000, 0x6_2000);
    assert_eq!(cap, vec![0..0x1000, 0x6_1000..0x6_2000]);
    assert_eq!(&buf[..0x1000], &l[0].1[0x9_e000..]);
    assert!(buf[0x1000..0x6_1000].iter().all(|&b| b == 0));
    assert_eq!(&buf[0x6_1000..], &l[1].1[..0x1000]);
    // Spanning two adjacent ranges: one captured run.
    let (buf, cap) = read(mem, 0x12_3000, 0x1000);
    assert_eq!(cap, vec![0..0x1000]);
    assert_eq!(&buf[..0x456], &l[1].1[0x2_3000..]);
    assert_eq!(&buf[0x456..], &l[2].1[..0x1000 - 0x456]);
    // Everything at once, from 0 to past the end.
    let (buf, cap) = read(mem, 0, 0x60_0000);
    assert_eq!(cap.len(), 3, "{cap:x?}");
    for (start, data) in &l {
        assert_eq!(
            &buf[*start as usize..*start as usize + data.len()],
            &data[..]
        );
    }
    assert!(buf[0x51_0000..].iter().all(|&b| b == 0));
    // Top of the address space.
    let (buf, cap) = read(mem, u64::MAX - 3, 8);
    assert_eq!((buf, cap), (vec![0; 8], vec![]));
    // Small reads inside one chunk, across chunk boundaries (AVML: 64 KiB), repeated.
    for addr in [0x40_fff0u64, 0x41_0000, 0x40_fff0, 0x4a_ab00, 0x50_fffe] {
        let (buf, cap) = read(mem, addr, 0x40);
        let off = (addr - 0x40_0000) as usize;
        let n = (0x51_0000 - addr).min(0x40) as usize;
        assert_eq!(&buf[..n], &l[3].1[off..off + n]);
        assert_eq!(cap, vec![0..n]);
    }
}

#[test]
fn lime_gaps_edges_and_spanning_reads() {
    let path = write_tmp("layout.lime", &lime_file(&layout()));
    let mem = open_physical(&path).unwrap();
    assert_eq!(mem.format(), "lime");
    assert!(mem.warnings().is_empty(), "{:?}", mem.warnings());
    check_layout_reads(mem.as_ref());
    let l = layout();
    assert_eq!(mem.slice(0x40_0010, 16), Some(&l[3].1[0x10..0x20]));
    assert_eq!(mem.slice(0x12_3450, 16), None, "crosses two stored ranges");
    assert_eq!(mem.slice(0xa_0000, 1), None);
    assert_eq!(mem.vmcoreinfo(), None);
}

#[test]
fn avml_decodes_like_lime() {
    let path = write_tmp("layout.avml", &avml_file(&layout()));
    let mem = open_physical(&path).unwrap();
    assert_eq!(mem.format(), "avml");
    assert!(mem.warnings().is_empty(), "{:?}", mem.warnings());
    check_layout_reads(mem.as_ref());
    assert_eq!(mem.slice(0x40_0010, 16), None);
}

#[test]
fn avml_uncompressed_chunks() {
    let mut x = 0x2545_f491_4f6c_dd1du64;
    let mut data: Vec<u8> = (0..0x2_8000)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect();
    data.extend(memory(0x2_9000, 0x1_8000));
    let stream = snappy_stream(&data);
    let kinds: Vec<u8> = chunk_headers(&stream).iter().map(|c| c.1).collect();
    assert_eq!(kinds, [0xff, 1, 1, 0, 0], "both chunk kinds");
    let mem = open_physical(&write_tmp(
        "raw-chunks.avml",
        &avml_block(0x1000, &data, &stream),
    ))
    .unwrap();
    assert_eq!(read(mem.as_ref(), 0x1000, data.len()).0, data);
    assert_eq!(
        read(mem.as_ref(), 0x1_0ff0, 0x20).0,
        &data[0xfff0..0x1_0010]
    );
}

#[test]
fn avml_skips_padding_and_skippable_chunks() {
    let data = memory(0x2000, 0x2_0000);
    let stream = snappy_stream(&data);
    let chunks = chunk_headers(&stream);
    let split = chunks[2].0;
    let mut s = stream[..split].to_vec();
    s.extend([0xfe, 3, 0, 0, 0, 0, 0]); // padding
    s.extend([0x80, 1, 0, 0, 7]); // skippable
    s.extend(&stream[split..]);
    s.extend([0xfe, 0, 0, 0]); // padding after the last data chunk
    let mut f = avml_block(0x2000, &data, &s);
    let path = write_tmp("skippable.avml", &f);
    let mem = open_physical(&path).unwrap();
    assert!(mem.warnings().is_empty(), "{:?}", mem.warnings());
    assert_eq!(read(mem.as_ref(), 0x2000, data.len()).0, data);
    // Zero padding after the last block (a raw disk cut at a block boundary): a warning.
    f.resize(f.len() + 4096, 0);
    let mem = open_physical(&write_tmp("padded.avml", &f)).unwrap();
    assert_eq!(mem.ranges(), &[0x2000..0x2_2000]);
    assert!(
        mem.warnings()[0].contains("zero padding"),
        "{:?}",
        mem.warnings()
    );
}

#[test]
fn avml_bad_crc_fails_only_reads_touching_the_chunk() {
    let data = memory(0x10_0000, 0x4_0000);
    let stream = snappy_stream(&data);
    let mut file = avml_block(0x10_0000, &data, &stream);
    // The second data chunk (after the stream identifier and the first one).
    let (at, kind, _) = chunk_headers(&stream)[2];
    assert!(kind <= 1);
    let chunk_at = 32 + at;
    file[chunk_at + 4] ^= 0x55;
    let path = write_tmp("badcrc.avml", &file);
    let mem = open_physical(&path).unwrap();
    let mut buf = vec![0u8; 0x100];
    // First chunk fine; the second fails with its offset; the third fine again.
    assert!(mem.read_phys(0x10_0000, &mut buf).is_ok());
    let msg = expect_corrupt_at(mem.read_phys(0x11_0010, &mut buf), chunk_at as u64);
    assert!(msg.contains("CRC-32C mismatch"), "{msg}");
    let mut big = vec![0u8; 0x4_0000];
    expect_corrupt_at(mem.read_phys(0x10_0000, &mut big), chunk_at as u64);
    let (buf, _) = read(mem.as_ref(), 0x12_0000, 0x100);
    assert_eq!(&buf[..], &data[0x2_0000..0x2_0100]);
}

#[test]
fn avml_truncated_stream_is_clamped_with_a_warning() {
    let l = layout();
    let file = avml_file(&l);
    let last_block_at = avml_file(&l[..3]).len();
    let stream = snappy_stream(&l[3].1);
    let chunks = chunk_headers(&stream);
    // Cut in the middle of the fourth chunk's body.
    let (at, _, len) = chunks[4];
    let cut = last_block_at + 32 + at + 4 + len / 2;
    let path = write_tmp("truncated.avml", &file[..cut]);
    let mem = open_physical(&path).unwrap();
    assert_eq!(mem.warnings().len(), 1, "{:?}", mem.warnings());
    assert!(
        mem.warnings()[0].contains("truncated"),
        "{:?}",
        mem.warnings()
    );
    // Three complete 64 KiB data chunks (the first entry is the stream identifier).
    let indexed = 0x40_0000..0x40_0000 + 3 * 0x1_0000;
    assert_eq!(mem.ranges().last(), Some(&indexed));
    let (buf, cap) = read(mem.as_ref(), 0x42_fff0, 0x20);
    assert_eq!(cap, vec![0..0x10]);
    assert_eq!(&buf[..0x10], &l[3].1[0x2_fff0..0x3_0000]);
    // Cut inside a chunk header, and right after the stream (no trailer): still opens.
    for cut in [last_block_at + 32 + at + 2, file.len() - 8] {
        let path = write_tmp("truncated2.avml", &file[..cut]);
        let mem = open_physical(&path).unwrap();
        assert_eq!(mem.warnings().len(), 1, "{:?}", mem.warnings());
    }
}

#[test]
fn avml_bogus_streams_are_errors_with_offsets() {
    let data = memory(0x1000, 0x1_8000);
    let stream = snappy_stream(&data);
    let good = avml_block(0x1000, &data, &stream);
    let chunks = chunk_headers(&stream);
    // A reserved unskippable chunk type. The blocks are found from the end of the file
    // (every trailer and header reads right): the file opens, and reading the damaged
    // block fails.
    let mut f = good.clone();
    f[32 + chunks[1].0] = 0x05;
    let msg = expect_corrupt_on_read(&write_tmp("b1.avml", &f), 32 + chunks[1].0 as u64);
    assert!(msg.contains("reserved"), "{msg}");
    // Wrong trailer.
    let mut f = good.clone();
    let n = f.len();
    f[n - 8..].copy_from_slice(&16u64.to_le_bytes());
    expect_corrupt_at(open_physical(&write_tmp("b2.avml", &f)), n as u64 - 8);
    // The header declares fewer bytes than the stream holds.
    let mut f = avml_block(0x1000, &data[..0x1_0000], &stream);
    let last = 32 + chunks.last().unwrap().0 as u64;
    expect_corrupt_on_read(&write_tmp("b3.avml", &f), last);
    // End below start, and an end beyond 52-bit physical addresses.
    f[16..24].copy_from_slice(&0x10u64.to_le_bytes());
    expect_corrupt_at(open_physical(&write_tmp("b4.avml", &f)), 16);
    f[16..24].copy_from_slice(&u64::MAX.to_le_bytes());
    expect_corrupt_at(open_physical(&write_tmp("b5.avml", &f)), 16);
    // A data chunk before the stream identifier.
    let mut f = header(AVML, 2, 0x1000, 0x1000 + data.len() as u64 - 1);
    f.extend(&stream[10..]);
    f.extend((stream.len() as u64 - 10).to_le_bytes());
    expect_corrupt_at(open_physical(&write_tmp("b6.avml", &f)), 32);
    // A second block with a LiME header inside an AVML file.
    let mut f = good.clone();
    f.extend(lime_file(&[(0x10_0000, vec![1; 16])]));
    match open_physical(&write_tmp("b7.avml", &f)) {
        Err(Error::BadMagic { at, .. }) => assert_eq!(at, good.len() as u64),
        other => panic!("{other:?}"),
    }
}

#[test]
fn lime_truncated_last_range_is_clamped_with_a_warning() {
    let l = layout();
    let file = lime_file(&l);
    let path = write_tmp("truncated.lime", &file[..file.len() - 0x1234]);
    let mem = open_physical(&path).unwrap();
    assert_eq!(mem.ranges().last(), Some(&(0x40_0000..0x51_0000 - 0x1234)));
    assert_eq!(mem.warnings().len(), 1);
    assert!(
        mem.warnings()[0].contains("truncated"),
        "{:?}",
        mem.warnings()
    );
    let (buf, cap) = read(mem.as_ref(), 0x51_0000 - 0x1240, 0x20);
    assert_eq!(cap, vec![0..0xc]);
    assert_eq!(&buf[..0xc], &l[3].1[0x11_0000 - 0x1240..0x11_0000 - 0x1234]);
}

#[test]
fn lime_bogus_headers_are_errors_with_offsets() {
    let l = layout();
    let second = 32 + l[0].1.len() as u64;
    let mut f = lime_file(&l);
    let h = second as usize;
    // End below start.
    f[h + 16..h + 24].copy_from_slice(&0x10u64.to_le_bytes());
    let msg = expect_corrupt_at(open_physical(&write_tmp("l1.lime", &f)), second + 16);
    assert!(msg.contains("below its start"), "{msg}");
    // A huge size: end far beyond any physical address.
    f[h + 16..h + 24].copy_from_slice(&(1u64 << 60).to_le_bytes());
    let msg = expect_corrupt_at(open_physical(&write_tmp("l2.lime", &f)), second + 16);
    assert!(msg.contains("52-bit"), "{msg}");
    f[h + 16..h + 24].copy_from_slice(&u64::MAX.to_le_bytes());
    expect_corrupt_at(open_physical(&write_tmp("l3.lime", &f)), second + 16);
    // Bad magic in a later header; bad version.
    let mut f = lime_file(&l);
    f[h] = b'X';
    match open_physical(&write_tmp("l4.lime", &f)) {
        Err(Error::BadMagic { at, .. }) => assert_eq!(at, second),
        other => panic!("{other:?}"),
    }
    let mut f = lime_file(&l);
    f[h + 4] = 7;
    expect_corrupt_at(open_physical(&write_tmp("l5.lime", &f)), second + 4);
    // Overlapping ranges: trimmed with a warning.
    let f = lime_file(&[(0x1000, vec![1; 0x2000]), (0x2000, vec![2; 0x2000])]);
    let mem = open_physical(&write_tmp("l6.lime", &f)).unwrap();
    assert_eq!(mem.ranges(), &[0x1000..0x3000, 0x3000..0x4000]);
    assert_eq!(mem.warnings().len(), 1);
    assert_eq!(read(mem.as_ref(), 0x2fff, 2).0, vec![1, 2]);
}

/// An ELF64 core: a note segment, then PT_LOADs (paddr, filesz, memsz, bytes).
fn elf_core(notes: &[(&[u8], u32, &[u8])], loads: &[(u64, u64, u64, Vec<u8>)]) -> Vec<u8> {
    let mut note = Vec::new();
    for (name, kind, desc) in notes {
        note.extend((name.len() as u32).to_le_bytes());
        note.extend((desc.len() as u32).to_le_bytes());
        note.extend(kind.to_le_bytes());
        note.extend(*name);
        note.resize(note.len().div_ceil(4) * 4, 0);
        note.extend(*desc);
        note.resize(note.len().div_ceil(4) * 4, 0);
    }
    let phnum = 1 + loads.len();
    let mut f = vec![0x7f, b'E', b'L', b'F', 2, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0];
    f.extend(4u16.to_le_bytes()); // ET_CORE
    f.extend(62u16.to_le_bytes()); // EM_X86_64
    f.extend(1u32.to_le_bytes());
    f.extend(0u64.to_le_bytes()); // entry
    f.extend(64u64.to_le_bytes()); // phoff
    f.extend(0u64.to_le_bytes()); // shoff
    f.extend(0u32.to_le_bytes());
    f.extend(8u16.to_le_bytes()); // e_ehsize as QEMU 7.2 writes it
    f.extend(56u16.to_le_bytes());
    f.extend((phnum as u16).to_le_bytes());
    f.extend([0u8; 6]);
    let mut offset = 64 + 56 * phnum as u64;
    let mut phdr = |kind: u32, off: u64, paddr: u64, filesz: u64, memsz: u64| {
        for v in [u64::from(kind), off, paddr, paddr, filesz, memsz, 0] {
            f.extend(v.to_le_bytes());
        }
    };
    phdr(4, offset, 0, note.len() as u64, 0);
    offset += note.len() as u64;
    for (paddr, filesz, memsz, _) in loads {
        phdr(1, offset, *paddr, *filesz, *memsz);
        offset += filesz;
    }
    // p_type and p_flags share the first u64 above (flags 0).
    f.extend(note);
    for (_, _, _, bytes) in loads {
        f.extend(bytes);
    }
    f
}

#[test]
fn elf_core_loads_notes_and_zero_tails() {
    let low = memory(0, 0x2000);
    let high = memory(0x10_0000, 0x8000);
    let vmci = b"OSRELEASE=6.1.0\nPAGESIZE=4096\nKERNELOFFSET=6c00000\n\0";
    let f = elf_core(
        &[(b"CORE\0", 1, &[0u8; 0x150]), (b"VMCOREINFO\0", 0, vmci)],
        &[
            (0, 0x2000, 0x3000, low.clone()),
            (0x10_0000, 0x8000, 0x8000, high.clone()),
            // kdump's kernel-text segment repeating part of RAM.
            (0x10_2000, 0x1000, 0x1000, high[0x2000..0x3000].to_vec()),
        ],
    );
    let path = write_tmp("core.elf", &f);
    assert_eq!(sniff(&f), Some("elf"));
    let mem = open_physical(&path).unwrap();
    assert_eq!(mem.format(), "elf");
    assert_eq!(mem.ranges(), &[0..0x3000, 0x10_0000..0x10_8000]);
    assert_eq!(
        mem.vmcoreinfo(),
        Some("OSRELEASE=6.1.0\nPAGESIZE=4096\nKERNELOFFSET=6c00000\n")
    );
    // memsz beyond filesz: present zeros.
    let (buf, cap) = read(mem.as_ref(), 0x1ff0, 0x2000);
    assert_eq!(cap, vec![0..0x1010]);
    assert_eq!(&buf[..0x10], &low[0x1ff0..]);
    assert!(buf[0x10..].iter().all(|&b| b == 0));
    assert_eq!(mem.slice(0x1ff0, 0x10), Some(&low[0x1ff0..]));
    assert_eq!(mem.slice(0x1ff0, 0x11), None);
    assert_eq!(read(mem.as_ref(), 0x10_0000, 0x8000).0, high);
    // Truncated: the last segment is clamped with a warning.
    let f2 = elf_core(
        &[],
        &[
            (0, 0x2000, 0x3000, low.clone()),
            (0x10_0000, 0x8000, 0x8000, high),
        ],
    );
    let mem = open_physical(&write_tmp("core2.elf", &f2[..f2.len() - 0x1800])).unwrap();
    assert_eq!(mem.ranges(), &[0..0x3000, 0x10_0000..0x10_6800]);
    assert_eq!(mem.warnings().len(), 1, "{:?}", mem.warnings());
    // Not a core, and a program header table beyond the file.
    let mut exe = f.clone();
    exe[16] = 2;
    assert!(matches!(
        open_physical(&write_tmp("exe.elf", &exe)),
        Err(Error::Unrecognised { .. })
    ));
    match open_physical(&write_tmp("core3.elf", &f[..100])) {
        Err(Error::Truncated { at: 64, .. }) => {}
        other => panic!("{other:?}"),
    }
}

#[test]
fn raw_and_unknown() {
    let data = memory(0, 0x3000);
    let path = write_tmp("mem.raw", &data);
    assert!(matches!(
        open_physical(&path),
        Err(Error::Unrecognised { .. })
    ));
    let mem = open_raw(&path).unwrap();
    assert_eq!(mem.format(), "raw");
    assert_eq!(mem.ranges(), &[0..0x3000]);
    assert_eq!(read(mem.as_ref(), 0x2ff0, 0x20).0[..0x10], data[0x2ff0..]);
    assert_eq!(mem.slice(0x100, 4), Some(&data[0x100..0x104]));
}

#[test]
fn physical_search_across_adjacent_ranges_matches_the_read_path() {
    use podmortem::engine::kernel::phys_search::search_physical;
    use podmortem::engine::search::Collect;
    use std::sync::atomic::AtomicBool;
    // Two adjacent ranges (one run: its windows are copied range by range from the map),
    // then a gap and a third range; needles across the adjacent edge and inside ranges.
    let mut ranges = vec![
        (0u64, memory(0, 0x10_0000)),
        (0x10_0000, memory(0x10_0000, 0x20_0000)),
        (0x80_0000, memory(0x80_0000, 0x1_0000)),
    ];
    let put = |ranges: &mut Vec<(u64, Vec<u8>)>, at: u64, needle: &[u8]| {
        for (start, data) in ranges.iter_mut() {
            for (i, b) in needle.iter().enumerate() {
                let a = at + i as u64;
                if a >= *start && a < *start + data.len() as u64 {
                    data[(a - *start) as usize] = *b;
                }
            }
        }
    };
    for at in [0x10_0000 - 5, 0x1234, 0x2f_fff0, 0x80_0100] {
        put(&mut ranges, at, b"NEEDLE_0123");
    }
    let lime = open_physical(&write_tmp("adjacent.lime", &lime_file(&ranges))).unwrap();
    let avml = open_physical(&write_tmp("adjacent.avml", &avml_file(&ranges))).unwrap();
    assert!(
        lime.slice(0x10_0000 - 5, 11).is_none(),
        "the edge is not lent whole"
    );
    let re = regex::bytes::Regex::new("NEEDLE_[0-9]+|physical [a-z]+").unwrap();
    let hits = |mem: &dyn PhysicalMemory| {
        let mut sink = Collect::default();
        search_physical(mem, &re, &AtomicBool::new(false), &mut sink).unwrap();
        sink.hits
            .iter()
            .map(|h| (h.address, h.bytes.clone()))
            .collect::<Vec<_>>()
    };
    let (a, b) = (hits(lime.as_ref()), hits(avml.as_ref()));
    assert_eq!(a, b);
    let needles: Vec<u64> = a
        .iter()
        .filter(|(_, m)| m.starts_with(b"NEEDLE"))
        .map(|(at, _)| *at)
        .collect();
    assert_eq!(needles, [0x1234, 0x10_0000 - 5, 0x2f_fff0, 0x80_0100]);
}
