//! What a generated user page holds: 64-byte text lines naming the process and the address
//! (compressible, as real memory mostly is, and never containing a planted string), with
//! overlays (planted strings, argument and environment blocks) written on top.

use std::collections::HashMap;

/// Page size.
pub const PAGE: u64 = 4096;

/// Pieces of bytes written over one page: (offset in page, bytes).
type Pieces = Vec<(usize, Vec<u8>)>;

/// Bytes written over generated pages, by (pid, page address).
#[derive(Debug, Default)]
pub struct Overlays {
    by_page: HashMap<(u32, u64), Pieces>,
}

impl Overlays {
    /// Places `bytes` at `vaddr` of `pid` (split across pages as needed).
    pub fn put(&mut self, pid: u32, vaddr: u64, bytes: &[u8]) {
        let mut done = 0usize;
        while done < bytes.len() {
            let a = vaddr + done as u64;
            let page = a & !(PAGE - 1);
            let off = (a - page) as usize;
            let n = (PAGE as usize - off).min(bytes.len() - done);
            self.by_page
                .entry((pid, page))
                .or_default()
                .push((off, bytes[done..done + n].to_vec()));
            done += n;
        }
    }

    /// Writes the overlays of (pid, page) into `out`.
    pub fn apply(&self, pid: u32, page: u64, out: &mut [u8]) {
        if let Some(list) = self.by_page.get(&(pid, page)) {
            for (off, bytes) in list {
                out[*off..*off + bytes.len()].copy_from_slice(bytes);
            }
        }
    }

    /// True when (pid, page) has overlays.
    pub fn touches(&self, pid: u32, page: u64) -> bool {
        self.by_page.contains_key(&(pid, page))
    }
}

const HEX: &[u8; 16] = b"0123456789abcdef";

fn hex_into(out: &mut [u8], mut v: u64) {
    for b in out.iter_mut().rev() {
        *b = HEX[(v & 15) as usize];
        v >>= 4;
    }
}

/// Fills `out` (one page) with the filler of `pid`'s page at `vaddr`: lines of
/// `"pid 0000002a va 00007f0000001000 ln 00 .... filler ...\n"`.
pub fn filler(pid: u32, vaddr: u64, out: &mut [u8]) {
    const LINE: &[u8; 64] = b"pid ________ va ________________ ln __ generated memory data ..\n";
    for (i, line) in out.chunks_mut(64).enumerate() {
        line.copy_from_slice(&LINE[..line.len()]);
        hex_into(&mut line[4..12], u64::from(pid));
        hex_into(&mut line[16..32], vaddr);
        hex_into(&mut line[36..38], i as u64);
    }
}
