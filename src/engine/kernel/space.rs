//! The kernel's address space over a physical memory source: [`KernelSpace`] implements
//! [`KernelMemory`] by translating kernel virtual addresses through the kernel page tables,
//! and reads process memory through a process's own page tables.

use std::ops::Range;

use crate::engine::error::Result;
use crate::engine::evidence::{PartialRead, Slices};
use crate::engine::kernel::addr::{PhysAddr, VirtAddr};
use crate::engine::kernel::isf::Isf;
use crate::engine::kernel::kaslr::KernelLayout;
use crate::engine::kernel::memory::KernelMemory;
use crate::engine::kernel::paging::Paging;
use crate::engine::kernel::physical::PhysicalMemory;
use crate::engine::kernel::structs::Structs;

/// A physical memory source, its symbols and where the kernel is in it.
#[derive(Debug)]
pub struct KernelSpace {
    phys: Box<dyn PhysicalMemory>,
    isf: Isf,
    layout: KernelLayout,
    paging: Paging,
    /// The walkers' structure layouts, resolved once.
    structs: Structs,
}

impl KernelSpace {
    /// Ties the parts together (the layout is assumed checked, see
    /// [`kaslr::find_layout`](crate::engine::kernel::kaslr::find_layout)).
    pub fn new(phys: Box<dyn PhysicalMemory>, isf: Isf, layout: KernelLayout) -> KernelSpace {
        KernelSpace {
            phys,
            structs: Structs::resolve(&isf),
            isf,
            paging: Paging::new(layout.la57),
            layout,
        }
    }

    /// The physical memory source.
    pub fn phys(&self) -> &dyn PhysicalMemory {
        &*self.phys
    }

    /// Where the kernel is.
    pub fn layout(&self) -> &KernelLayout {
        &self.layout
    }

    /// The paging mode and translation cache.
    pub fn paging(&self) -> &Paging {
        &self.paging
    }

    /// The physical address of a kernel virtual address, if it is mapped.
    pub fn kernel_to_phys(&self, vaddr: VirtAddr) -> Result<Option<PhysAddr>> {
        Ok(self
            .paging
            .translate(&*self.phys, self.layout.dtb, vaddr)?
            .map(|t| t.phys))
    }

    /// Reads the memory of the address space rooted at physical `root` (a process's page
    /// table).
    pub fn read_user(
        &self,
        root: PhysAddr,
        vaddr: VirtAddr,
        buf: &mut [u8],
    ) -> Result<PartialRead> {
        self.paging.read(&*self.phys, root, vaddr, buf)
    }

    /// The lower-half virtual ranges within `range` that are mapped by the tables at `root`
    /// and whose frames are in the dump; sorted and coalesced.
    pub fn user_captured(&self, root: PhysAddr, range: Range<u64>) -> Result<Vec<Range<u64>>> {
        let mut out: Vec<Range<u64>> = Vec::new();
        for (v, _) in self.user_pieces(root, range)? {
            match out.last_mut() {
                Some(last) if last.end == v.start => last.end = v.end,
                _ => out.push(v),
            }
        }
        Ok(out)
    }

    /// The captured memory of `areas` (sorted, disjoint) of the address space at `root` as
    /// bytes of the dump file, piece by piece (see [`KernelSpace::user_pieces`]); `None` when
    /// a piece is not stored as is (compressed, or past a truncated range's end).
    pub fn user_slices(&self, root: PhysAddr, areas: &[Range<u64>]) -> Result<Option<Slices<'_>>> {
        let mut out = Vec::new();
        for area in areas {
            for (v, p) in self.user_pieces(root, area.clone())? {
                let len = usize::try_from(v.end - v.start).ok();
                match len.and_then(|n| self.phys.slice(p, n)) {
                    Some(bytes) => out.push((v.start, bytes)),
                    None => return Ok(None),
                }
            }
        }
        Ok(Some(out))
    }

    /// The pieces of [`KernelSpace::user_captured`] before they are coalesced: (virtual
    /// range, physical start), each physically contiguous and within one physical range of
    /// the dump, in address order.
    pub fn user_pieces(&self, root: PhysAddr, range: Range<u64>) -> Result<Vec<(Range<u64>, u64)>> {
        let runs = self.paging.mapped(&*self.phys, root, range)?;
        Ok(self.held(runs))
    }

    /// The kernel-half virtual ranges within `range` that the kernel's page tables map and
    /// whose frames are in the dump; sorted and coalesced.
    pub fn kernel_pieces(&self, range: Range<u64>) -> Result<Vec<Range<u64>>> {
        let runs = self
            .paging
            .mapped_kernel(&*self.phys, self.layout.dtb, range)?;
        let mut out: Vec<Range<u64>> = Vec::new();
        for (v, _) in self.held(runs) {
            match out.last_mut() {
                Some(last) if last.end == v.start => last.end = v.end,
                _ => out.push(v),
            }
        }
        Ok(out)
    }

    /// Mapped runs (virtual range, physical start) cut to the physical ranges the dump
    /// holds.
    fn held(&self, runs: Vec<(Range<u64>, u64)>) -> Vec<(Range<u64>, u64)> {
        let ranges = self.phys.ranges();
        let mut out = Vec::new();
        for (virt, pstart) in runs {
            // Clip each run to the physical ranges the dump holds.
            let pend = pstart + (virt.end - virt.start);
            let first = ranges.partition_point(|r| r.end <= pstart);
            for r in ranges.get(first..).unwrap_or_default() {
                if r.start >= pend {
                    break;
                }
                let lo = r.start.max(pstart);
                let hi = r.end.min(pend);
                if lo >= hi {
                    continue;
                }
                out.push((virt.start + (lo - pstart)..virt.start + (hi - pstart), lo));
            }
        }
        out
    }
}

impl KernelMemory for KernelSpace {
    fn isf(&self) -> &Isf {
        &self.isf
    }

    fn read_kernel(&self, vaddr: u64, buf: &mut [u8]) -> Result<PartialRead> {
        self.paging
            .read(&*self.phys, self.layout.dtb, VirtAddr(vaddr), buf)
    }

    fn virtual_shift(&self) -> u64 {
        self.layout.virtual_shift
    }

    fn structs(&self) -> Structs {
        self.structs
    }

    fn kernel_captured(&self, range: Range<u64>) -> Result<Vec<Range<u64>>> {
        self.kernel_pieces(range)
    }
}
