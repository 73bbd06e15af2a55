//! `PageIndex::build` from arbitrary pagemap entries, then lookups and reads through
//! `ProcessMemory`, checking that what is reported captured really is.
//!
//! Input: a u16 (the pages file's length in bytes, times 64), then 21-byte entries: vaddr
//! u64, nr_pages u64 (its top byte cleared when the entry's mode byte says so, to keep runs
//! plausible), mode u8 (flags present / which flags / in_parent).
#![no_main]

use libfuzzer_sys::fuzz_target;
use podmortem::engine::checkpoint::memory::ProcessMemory;
use podmortem::engine::checkpoint::pagemap::{PAGE_SIZE, PageIndex, PageState, RawEntry};

fuzz_target!(|data: &[u8]| {
    let Some((len, rest)) = data.split_first_chunk::<2>() else {
        return;
    };
    let pages_len = u64::from(u16::from_le_bytes(*len)) * 64;
    let entries: Vec<RawEntry> = rest
        .chunks_exact(17)
        .enumerate()
        .map(|(i, c)| {
            let vaddr = u64::from_le_bytes(c[0..8].try_into().unwrap());
            let mut nr = u64::from_le_bytes(c[8..16].try_into().unwrap());
            let mode = c[16];
            if mode & 0x80 == 0 {
                nr &= 0xffff;
            }
            RawEntry {
                vaddr: if mode & 0x40 == 0 {
                    vaddr & !0xfff
                } else {
                    vaddr
                },
                nr_pages: nr,
                flags: (mode & 0x08 != 0).then_some(u32::from(mode & 0x07)),
                in_parent: (mode & 0x10 != 0).then_some(mode & 0x20 != 0),
                offset: i as u64 * 17,
            }
        })
        .collect();
    let (index, _) = PageIndex::build("fuzz", &entries, pages_len);
    let runs = index.runs().to_vec();
    for w in runs.windows(2) {
        assert!(w[0].end <= w[1].start, "runs overlap: {:x?}", &w);
    }
    for r in &runs {
        assert!(r.start < r.end);
        if let PageState::Present { file_offset } = r.state {
            assert!(
                file_offset + (r.end - r.start) <= pages_len,
                "run beyond the pages"
            );
        }
        assert_eq!(index.find(r.start), Some(r));
        assert_eq!(index.find(r.end - 1), Some(r));
    }
    let pages: Vec<u8> = (0..pages_len)
        .map(|i| (i / PAGE_SIZE) as u8 ^ i as u8)
        .collect();
    let memory = ProcessMemory {
        pages_member: "pages".into(),
        index,
        parent: None,
    };
    let _ = memory.index.present_pages();
    let probes = runs
        .iter()
        .take(32)
        .flat_map(|r| [r.start.saturating_sub(100), r.end.saturating_sub(50)]);
    let mut buf = vec![0u8; 9000];
    for addr in probes.chain([0, u64::MAX - 100]) {
        let got = memory.read(&pages, addr, &mut buf);
        podmortem_fuzz::check_partial(&got, buf.len());
        let captured = memory.captured(addr..addr.saturating_add(buf.len() as u64));
        let total: u64 = captured.iter().map(|r| r.end - r.start).sum();
        assert_eq!(
            total as usize,
            got.captured_len(),
            "read and captured() disagree"
        );
        if let Some(s) = memory.slice(&pages, addr, 100) {
            let got = memory.read(&pages, addr, &mut buf[..100]);
            assert_eq!(got.captured_len(), 100);
            assert_eq!(s, &buf[..100]);
        }
    }
});
