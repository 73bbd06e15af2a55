//! x86-64 paging: virtual to physical translation through 4-level or 5-level (LA57) page
//! tables read from a physical memory source.
//!
//! Entries are decoded as the MMU does: bit 0 present, bit 7 (PS) a 1 GiB page at the PDPT
//! level or a 2 MiB page at the PD level, the frame address in bits 51..12 (51..30 and 51..21
//! for large pages); NX (bit 63) and the protection-key bits are ignored. A non-present entry
//! (swapped, PROT_NONE or transition pages included) is reported as not present: nothing is
//! guessed. A page-table page missing from the dump is also "not present".
//!
//! Translations of 4 KiB pages are kept in a small bounded cache shared by every thread
//! (`Mutex`), keyed by (page-table root, virtual page).

use std::collections::HashMap;
use std::ops::Range;
use std::sync::Mutex;

use crate::engine::error::Result;
use crate::engine::evidence::PartialRead;
use crate::engine::kernel::addr::{PhysAddr, VirtAddr};
use crate::engine::kernel::physical::PhysicalMemory;

/// Size of a base page.
pub const PAGE_SIZE: u64 = 4096;
/// Present bit of a page-table entry.
const PRESENT: u64 = 1;
/// Page-size bit (large page) at the PDPT and PD levels.
const PS: u64 = 1 << 7;
/// Physical address bits 51..12 of an entry.
const ADDR_MASK: u64 = 0x000F_FFFF_FFFF_F000;
/// At most this many page-table pages are read by one [`Paging::mapped`] walk: a real
/// process has a few hundred; corrupt tables (every entry present) must not make it endless.
const TABLE_BUDGET: u32 = 1 << 16;
/// Entries cached before the cache is emptied and refilled.
const CACHE_LIMIT: usize = 1 << 16;

/// One translated page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Translation {
    /// Physical address of the translated virtual address.
    pub phys: PhysAddr,
    /// Size of the page that maps it (4 KiB, 2 MiB or 1 GiB).
    pub page_size: u64,
}

/// The paging mode and a translation cache; the page-table root is given per call so that
/// one instance serves the kernel and every process.
#[derive(Debug)]
pub struct Paging {
    la57: bool,
    cache: Mutex<HashMap<(u64, u64), u64>>,
}

impl Paging {
    /// 4-level paging (`la57` false) or 5-level paging (`la57` true).
    pub fn new(la57: bool) -> Paging {
        Paging {
            la57,
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// True for 5-level paging.
    pub fn la57(&self) -> bool {
        self.la57
    }

    /// Number of virtual address bits (48 or 57).
    pub fn va_bits(&self) -> u32 {
        if self.la57 { 57 } else { 48 }
    }

    /// One past the last user-space (lower half) address.
    pub fn user_end(&self) -> u64 {
        1u64 << (self.va_bits() - 1)
    }

    /// True when `vaddr` is canonical (bits above the top one copy it).
    pub fn is_canonical(&self, vaddr: u64) -> bool {
        let shift = self.va_bits() - 1;
        let top = vaddr >> shift;
        top == 0 || top == (u64::MAX >> shift)
    }

    /// Translates `vaddr` through the tables rooted at physical address `root`; `None` when
    /// not present (or a table is not in the dump).
    pub fn translate(
        &self,
        phys: &dyn PhysicalMemory,
        root: PhysAddr,
        vaddr: VirtAddr,
    ) -> Result<Option<Translation>> {
        let (root, vaddr) = (root.get(), vaddr.get());
        let page = vaddr >> 12;
        if let Ok(cache) = self.cache.lock()
            && let Some(frame) = cache.get(&(root, page))
        {
            return Ok(Some(Translation {
                phys: PhysAddr(frame | (vaddr & 0xfff)),
                page_size: PAGE_SIZE,
            }));
        }
        let Some(t) = self.walk(phys, root, vaddr)? else {
            return Ok(None);
        };
        if let Ok(mut cache) = self.cache.lock() {
            if cache.len() >= CACHE_LIMIT {
                cache.clear();
            }
            cache.insert((root, page), t.phys.get() & !0xfff);
        }
        Ok(Some(t))
    }

    /// The uncached page walk.
    fn walk(
        &self,
        phys: &dyn PhysicalMemory,
        root: u64,
        vaddr: u64,
    ) -> Result<Option<Translation>> {
        if !self.is_canonical(vaddr) {
            return Ok(None);
        }
        let mut table = root & ADDR_MASK;
        let levels: u32 = if self.la57 { 5 } else { 4 };
        for level in (1..=levels).rev() {
            let shift = 12 + 9 * (level - 1);
            let index = (vaddr >> shift) & 0x1ff;
            let Some(entry) = read_entry(phys, table + index * 8)? else {
                return Ok(None);
            };
            if entry & PRESENT == 0 {
                return Ok(None);
            }
            if (level == 3 || level == 2) && entry & PS != 0 {
                let size = 1u64 << shift;
                let base = entry & ADDR_MASK & !(size - 1);
                return Ok(Some(Translation {
                    phys: PhysAddr(base | (vaddr & (size - 1))),
                    page_size: size,
                }));
            }
            table = entry & ADDR_MASK;
        }
        Ok(Some(Translation {
            phys: PhysAddr(table | (vaddr & 0xfff)),
            page_size: PAGE_SIZE,
        }))
    }

    /// Reads virtual memory: bytes of pages that do not translate, or whose frames are not
    /// in the dump, are zeroed and left out of the result.
    pub fn read(
        &self,
        phys: &dyn PhysicalMemory,
        root: PhysAddr,
        vaddr: VirtAddr,
        buf: &mut [u8],
    ) -> Result<PartialRead> {
        let vaddr = vaddr.get();
        self.prefetch(phys, root, vaddr, buf.len())?;
        let mut out = PartialRead::default();
        let mut done = 0usize;
        while done < buf.len() {
            let Some(addr) = vaddr.checked_add(done as u64) else {
                break;
            };
            let in_page = (PAGE_SIZE - (addr & 0xfff)) as usize;
            let n = in_page.min(buf.len() - done);
            let Some(dst) = buf.get_mut(done..done + n) else {
                break;
            };
            match self.translate(phys, root, VirtAddr(addr))? {
                Some(t) => {
                    let got = phys.read_phys(t.phys.get(), dst)?;
                    for r in got.captured {
                        out.push(r.start + done..r.end + done);
                    }
                }
                None => dst.fill(0),
            }
            done += n;
        }
        if let Some(rest) = buf.get_mut(done..) {
            rest.fill(0);
        }
        Ok(out)
    }

    /// Before a read of `len` bytes at `vaddr` spanning several pages: asks `phys` to read
    /// ahead each run of pages that are contiguous in physical memory too, so that a cold
    /// read costs one request per run rather than one per page.
    fn prefetch(
        &self,
        phys: &dyn PhysicalMemory,
        root: PhysAddr,
        vaddr: u64,
        len: usize,
    ) -> Result<()> {
        let first = vaddr & !0xfff;
        let Some(last) = vaddr.checked_add(len as u64) else {
            return Ok(());
        };
        if last.saturating_sub(first) <= PAGE_SIZE {
            return Ok(());
        }
        let mut run: Option<(u64, u64)> = None;
        let mut page = first;
        while page < last {
            let t = self.translate(phys, root, VirtAddr(page))?;
            let frame = t.map(|t| t.phys.get() & !0xfff);
            run = match (run, frame) {
                (Some((start, n)), Some(f)) if start.saturating_add(n) == f => {
                    Some((start, n + PAGE_SIZE))
                }
                (prev, next) => {
                    if let Some((start, n)) = prev {
                        phys.prefetch(start, n);
                    }
                    next.map(|f| (f, PAGE_SIZE))
                }
            };
            let Some(next) = page.checked_add(PAGE_SIZE) else {
                break;
            };
            page = next;
        }
        if let Some((start, n)) = run {
            phys.prefetch(start, n);
        }
        Ok(())
    }

    /// The mapped pages of the lower (user) half within `range`, as (virtual range, physical
    /// start) runs in address order. Whole non-present upper-level entries are skipped, so
    /// the cost follows the number of present entries, not the size of `range`.
    pub fn mapped(
        &self,
        phys: &dyn PhysicalMemory,
        root: PhysAddr,
        range: Range<u64>,
    ) -> Result<Vec<(Range<u64>, u64)>> {
        let root = root.get();
        let range = range.start..range.end.min(self.user_end());
        let mut out = Vec::new();
        if range.start < range.end {
            let levels: u32 = if self.la57 { 5 } else { 4 };
            let mut budget = TABLE_BUDGET;
            self.mapped_level(
                phys,
                root & ADDR_MASK,
                levels,
                0,
                &range,
                &mut budget,
                &mut out,
            )?;
        }
        Ok(out)
    }

    /// The mapped pages of the upper (kernel) half within `range` (both ends in the upper
    /// half), as [`Paging::mapped`] gives them for the lower half: (virtual range, physical
    /// start) runs in address order, with the same bound on the tables read.
    pub fn mapped_kernel(
        &self,
        phys: &dyn PhysicalMemory,
        root: PhysAddr,
        range: Range<u64>,
    ) -> Result<Vec<(Range<u64>, u64)>> {
        let bits = self.va_bits();
        let low = u64::MAX >> (64 - bits);
        let high = !low;
        let kernel_start = high | self.user_end();
        let start = range.start.max(kernel_start);
        if start >= range.end {
            return Ok(Vec::new());
        }
        // The walk indexes tables with the low `bits` bits; the result is sign-extended back.
        let folded = (start & low)..((range.end - 1) & low) + 1;
        let levels: u32 = if self.la57 { 5 } else { 4 };
        let mut budget = TABLE_BUDGET;
        let mut out = Vec::new();
        self.mapped_level(
            phys,
            root.get() & ADDR_MASK,
            levels,
            0,
            &folded,
            &mut budget,
            &mut out,
        )?;
        Ok(out
            .into_iter()
            .map(|(r, p)| {
                let s = r.start | high;
                (s..s.saturating_add(r.end - r.start), p)
            })
            .collect())
    }

    /// Walks one table whose first entry maps virtual address `base`.
    #[allow(clippy::too_many_arguments)]
    fn mapped_level(
        &self,
        phys: &dyn PhysicalMemory,
        table: u64,
        level: u32,
        base: u64,
        range: &Range<u64>,
        budget: &mut u32,
        out: &mut Vec<(Range<u64>, u64)>,
    ) -> Result<()> {
        if *budget == 0 {
            return Ok(());
        }
        *budget -= 1;
        let shift = 12 + 9 * (level - 1);
        let span = 1u64 << shift;
        let mut entries = [0u8; PAGE_SIZE as usize];
        let got = phys.read_phys(table, &mut entries)?;
        let first = (range.start.saturating_sub(base) >> shift).min(511);
        for index in first..512 {
            let start = base + index * span;
            if start >= range.end {
                break;
            }
            let end = start + span;
            if end <= range.start {
                continue;
            }
            let at = (index * 8) as usize;
            if !got.is_captured(at) {
                continue;
            }
            let entry = entries
                .get(at..at + 8)
                .and_then(|b| b.try_into().ok())
                .map_or(0, u64::from_le_bytes);
            if entry & PRESENT == 0 {
                continue;
            }
            let leaf = level == 1 || ((level == 3 || level == 2) && entry & PS != 0);
            if leaf {
                let frame = entry & ADDR_MASK & !(span - 1);
                let lo = start.max(range.start);
                let hi = end.min(range.end);
                let p = frame + (lo - start);
                match out.last_mut() {
                    Some((r, pstart)) if r.end == lo && *pstart + (r.end - r.start) == p => {
                        r.end = hi;
                    }
                    _ => out.push((lo..hi, p)),
                }
            } else {
                let next = entry & ADDR_MASK;
                self.mapped_level(phys, next, level - 1, start, range, budget, out)?;
            }
        }
        Ok(())
    }
}

/// Reads one 8-byte entry; `None` when the dump does not hold it.
fn read_entry(phys: &dyn PhysicalMemory, at: u64) -> Result<Option<u64>> {
    let mut b = [0u8; 8];
    let got = phys.read_phys(at, &mut b)?;
    Ok((got.captured_len() == 8).then(|| u64::from_le_bytes(b)))
}
