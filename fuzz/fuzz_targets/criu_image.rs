//! CRIU image framing and the protobuf decoding of every image type podmortem reads.
//!
//! Input: one selector byte, then the image file. The selector's low bits pick the message
//! type; with its top bit set the image's magic words are prepended, so the fuzzer can
//! spend its effort on the entries.
#![no_main]

use libfuzzer_sys::fuzz_target;
use podmortem::engine::checkpoint::image::{
    IMG_COMMON, IMG_SERVICE, ImageReader, decode_all, decode_first, decode_lenient, magic,
};
use podmortem::engine::checkpoint::pagemap::{PageIndex, RawEntry};
use podmortem::engine::checkpoint::proto;
use podmortem::engine::checkpoint::tasks::vmas_of;

const KINDS: [(u32, &str); 11] = [
    (magic::PSTREE, "pstree"),
    (magic::CORE, "core"),
    (magic::MM, "mm"),
    (magic::PAGEMAP, "pagemap"),
    (magic::FILES, "files"),
    (magic::FDINFO, "fdinfo"),
    (magic::FS, "fs"),
    (magic::IDS, "ids"),
    (magic::UTSNS, "utsns"),
    (magic::STATS, "stats"),
    (magic::INVENTORY, "inventory"),
];

fuzz_target!(|data: &[u8]| {
    let Some((&sel, rest)) = data.split_first() else {
        return;
    };
    let (want, what) = KINDS[usize::from(sel & 0x7f) % KINDS.len()];
    let owned;
    let image: &[u8] = if sel & 0x80 != 0 {
        let mut v = Vec::with_capacity(rest.len() + 8);
        match want {
            magic::INVENTORY => {}
            magic::STATS => v.extend(IMG_SERVICE.to_le_bytes()),
            _ => v.extend(IMG_COMMON.to_le_bytes()),
        }
        v.extend(want.to_le_bytes());
        v.extend_from_slice(rest);
        owned = v;
        &owned
    } else {
        rest
    };
    let file = "fuzz.img";
    // The framing alone, entry by entry.
    if let Ok(mut r) = ImageReader::new(file, image) {
        let _ = r.magic();
        while let Ok(Some(e)) = r.next_entry() {
            assert!(e.bytes.len() <= image.len());
        }
    }
    match want {
        magic::PSTREE => drop(decode_all::<proto::PstreeEntry>(file, image, want, what)),
        magic::CORE => drop(decode_all::<proto::CoreEntry>(file, image, want, what)),
        magic::MM => {
            if let Ok((mms, _)) = decode_all::<proto::MmEntry>(file, image, want, what) {
                for mm in &mms {
                    let vmas = vmas_of(mm, &|id| (id % 3 == 0).then(|| format!("/f{id}")));
                    for v in &vmas {
                        let _ = (v.size(), v.is_suspicious(), v.contains(v.start));
                    }
                }
            }
        }
        magic::PAGEMAP => pagemap(file, image),
        magic::FILES => drop(decode_all::<proto::FileEntry>(file, image, want, what)),
        magic::FDINFO => drop(decode_all::<proto::FdinfoEntry>(file, image, want, what)),
        magic::FS => drop(decode_first::<proto::FsEntry>(file, image, want, what)),
        magic::IDS => drop(decode_first::<proto::TaskKobjIdsEntry>(
            file, image, want, what,
        )),
        magic::UTSNS => drop(decode_first::<proto::UtsnsEntry>(file, image, want, what)),
        magic::STATS => drop(decode_first::<proto::StatsEntry>(file, image, want, what)),
        _ => drop(decode_first::<proto::InventoryEntry>(
            file, image, want, what,
        )),
    }
});

/// What `tasks::read_pagemap` does with a pagemap image: the head, the entries, the index.
fn pagemap(file: &str, image: &[u8]) {
    let Ok(mut r) = ImageReader::expect(file, image, magic::PAGEMAP, "pagemap") else {
        return;
    };
    let Ok(Some(head)) = r.next_entry() else {
        return;
    };
    let (head, _) = decode_lenient::<proto::PagemapHead>(file, head, "pagemap_head");
    let mut raw = Vec::new();
    while let Ok(Some(entry)) = r.next_entry() {
        let (pe, _) = decode_lenient::<proto::PagemapEntry>(file, entry, "pagemap");
        raw.push(RawEntry {
            vaddr: pe.vaddr,
            nr_pages: pe
                .nr_pages
                .unwrap_or_else(|| u64::from(pe.compat_nr_pages.unwrap_or(0))),
            flags: pe.flags,
            in_parent: pe.in_parent,
            offset: entry.offset,
        });
    }
    let pages_len = u64::from(head.pages_id % 64) * 4096;
    let (index, _) = PageIndex::build(file, &raw, pages_len);
    let _ = index.present_pages();
    let _ = index.captured(0..u64::MAX);
}
