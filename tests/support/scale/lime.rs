//! Writes a generated dump as a LiME file: one range header per physical range, the
//! range's bytes after it; only frames that hold data are written, so the file is sparse
//! (its holes are the zero memory).

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::Path;

use super::dump::Dump;

const LIME_MAGIC: u32 = 0x4C69_4D45;
/// Largest write.
const FLUSH: usize = 1 << 20;

/// Writes `dump` as LiME at `path`; returns the file's length.
pub fn write_lime(dump: &Dump, path: &Path) -> u64 {
    let file = File::create(path).unwrap();
    let mut data_at = Vec::new();
    let mut off = 0u64;
    for r in &dump.ranges {
        let mut h = Vec::with_capacity(32);
        h.extend(LIME_MAGIC.to_le_bytes());
        h.extend(1u32.to_le_bytes());
        h.extend(r.start.to_le_bytes());
        h.extend((r.end - 1).to_le_bytes());
        h.extend([0u8; 8]);
        file.write_all_at(&h, off).unwrap();
        data_at.push(off + 32);
        off += 32 + (r.end - r.start);
    }
    // Contiguous frames are gathered into one write.
    let mut pending: (u64, Vec<u8>) = (0, Vec::new());
    let flush = |p: &mut (u64, Vec<u8>)| {
        if !p.1.is_empty() {
            file.write_all_at(&p.1, p.0).unwrap();
            p.1.clear();
        }
    };
    dump.frames(|phys, bytes| {
        if bytes.iter().all(|&b| b == 0) {
            return;
        }
        let i = dump
            .ranges
            .iter()
            .position(|r| r.contains(&phys))
            .unwrap_or_else(|| panic!("frame {phys:#x} outside every range"));
        let at = data_at[i] + (phys - dump.ranges[i].start);
        if pending.0 + pending.1.len() as u64 != at || pending.1.len() >= FLUSH {
            flush(&mut pending);
            pending.0 = at;
        }
        pending.1.extend_from_slice(bytes);
    });
    flush(&mut pending);
    file.set_len(off).unwrap();
    off
}
