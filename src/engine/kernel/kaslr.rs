//! Finding the kernel in physical memory: the KASLR shifts (virtual and physical), the
//! kernel page-table root (DTB) and the paging mode.
//!
//! As Volatility does, VMCOREINFO comes first: the container's note when it has one, else
//! the text the kernel keeps in memory (`OSRELEASE=...`, found by scanning physical
//! memory). From it: `KERNELOFFSET` (virtual shift), `NUMBER(phys_base)`,
//! `SYMBOL(init_top_pgt)` / `SYMBOL(swapper_pg_dir)` (the DTB) and
//! `NUMBER(pgtable_l5_enabled)`. The fallback needs only the ISF: find its exact
//! `linux_banner` bytes in physical memory (physical shift), check that `init_task` there is
//! `swapper/0`, and take the virtual shift from `init_task.files`, which points at
//! `init_files`. Every result is checked by translating `linux_banner`'s virtual address
//! through the page tables found and comparing the bytes with the ISF's.

use regex::bytes::Regex;

use crate::engine::error::{Error, Result};
use crate::engine::kernel::addr::{PhysAddr, VirtAddr};
use crate::engine::kernel::isf::Isf;
use crate::engine::kernel::paging::Paging;
use crate::engine::kernel::physical::PhysicalMemory;

pub use crate::engine::kernel::vmcoreinfo::{Vmcoreinfo, vmcoreinfo_candidates};

/// Virtual address at which the kernel image is linked to physical address 0.
pub const START_KERNEL_MAP: u64 = 0xffff_ffff_8000_0000;
/// At most this many candidates of one kind are examined.
pub(crate) const MAX_CANDIDATES: usize = 64;

/// How the layout was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LayoutSource {
    /// The container's VMCOREINFO note.
    VmcoreinfoNote,
    /// The VMCOREINFO text found in physical memory.
    VmcoreinfoMemory,
    /// The ISF's banner and `init_task` found in physical memory.
    BannerScan,
}

impl LayoutSource {
    /// A short description.
    pub fn describe(self) -> &'static str {
        match self {
            LayoutSource::VmcoreinfoNote => "VMCOREINFO note of the dump file",
            LayoutSource::VmcoreinfoMemory => "VMCOREINFO text in physical memory",
            LayoutSource::BannerScan => "linux_banner and init_task found in physical memory",
        }
    }
}

/// Where the kernel is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KernelLayout {
    /// Add to ISF symbol addresses to get run-time virtual addresses.
    pub virtual_shift: u64,
    /// Physical address of a kernel-image symbol = ISF address − [`START_KERNEL_MAP`] + this.
    pub physical_shift: u64,
    /// Physical address of the kernel's top-level page table (`init_top_pgt`).
    pub dtb: PhysAddr,
    /// 5-level paging.
    pub la57: bool,
    /// How it was found.
    pub source: LayoutSource,
}

/// Scans physical memory for `pattern`, calling `found` with the physical address of each
/// match (in address order) until it returns `false`.
pub fn scan(
    phys: &dyn PhysicalMemory,
    pattern: &Regex,
    found: &mut dyn FnMut(u64) -> bool,
) -> Result<()> {
    // The shared overlapping-window walk of physical search.
    crate::engine::kernel::physical::scan::scan_range(phys, None, pattern, &mut |at| Ok(found(at)))
}

/// Reads at most `max` bytes at `at` up to the first NUL.
pub(crate) fn read_text(phys: &dyn PhysicalMemory, at: u64, max: usize) -> Result<Vec<u8>> {
    let mut buf = vec![0u8; max];
    let got = phys.read_phys(at, &mut buf)?;
    Ok(crate::engine::kernel::memory::cstr_prefix(buf, &got))
}

/// A regex for a literal needle.
pub(crate) fn literal(needle: &[u8]) -> Result<Regex> {
    let escaped: String = needle.iter().map(|&b| format!("\\x{b:02x}")).collect();
    Ok(regex::bytes::RegexBuilder::new(&format!("(?-u){escaped}"))
        .unicode(false)
        .build()?)
}

/// Distinct `Linux version ...` strings in physical memory (the first `max`), up to their
/// NUL or newline: what to show when no ISF is given.
pub fn banner_strings(phys: &dyn PhysicalMemory, max: usize) -> Result<Vec<Vec<u8>>> {
    let re = literal(b"Linux version ")?;
    let mut hits = Vec::new();
    scan(phys, &re, &mut |at| {
        hits.push(at);
        hits.len() < MAX_CANDIDATES
    })?;
    let mut out: Vec<Vec<u8>> = Vec::new();
    for at in hits {
        let text = read_text(phys, at, 512)?;
        let line = text
            .split(|&b| b == b'\n')
            .next()
            .unwrap_or_default()
            .to_vec();
        // A real banner names the build number (`#1 SMP ...`); the kernel image also holds
        // a copy with an empty one (`# SMP`), which is not the banner.
        let numbered = line
            .windows(2)
            .any(|w| w.first() == Some(&b'#') && w.get(1).is_some_and(u8::is_ascii_digit));
        if numbered && !out.contains(&line) {
            out.push(line);
            if out.len() >= max {
                break;
            }
        }
    }
    Ok(out)
}

/// The layout a VMCOREINFO describes (not yet checked).
pub fn layout_from_vmcoreinfo(info: &Vmcoreinfo, isf: &Isf) -> Option<KernelLayout> {
    let virtual_shift = match info.hex("KERNELOFFSET") {
        Some(v) => v,
        None => info
            .hex("SYMBOL(_stext)")?
            .wrapping_sub(isf.symbol_address("_stext")?),
    };
    let phys_base = info.number("NUMBER(phys_base)").unwrap_or(0);
    let root = info
        .hex("SYMBOL(init_top_pgt)")
        .or_else(|| info.hex("SYMBOL(swapper_pg_dir)"))?;
    let dtb = PhysAddr(root.checked_sub(START_KERNEL_MAP)?.checked_add(phys_base)?);
    Some(KernelLayout {
        virtual_shift,
        physical_shift: virtual_shift.wrapping_add(phys_base),
        dtb,
        la57: info.number("NUMBER(pgtable_l5_enabled)") == Some(1),
        source: if info.found_at.is_some() {
            LayoutSource::VmcoreinfoMemory
        } else {
            LayoutSource::VmcoreinfoNote
        },
    })
}

/// The ISF address of the kernel's top-level page table.
fn root_symbol(isf: &Isf) -> Option<u64> {
    isf.symbol_address("init_top_pgt")
        .or_else(|| isf.symbol_address("swapper_pg_dir"))
}

/// Layout candidates from the ISF's banner found in physical memory and `init_task`.
pub fn layouts_from_banner(phys: &dyn PhysicalMemory, isf: &Isf) -> Result<Vec<KernelLayout>> {
    let banner_sym = isf
        .symbol_address("linux_banner")
        .ok_or_else(|| Error::MissingSymbol("ISF symbol linux_banner".into()))?;
    let banner = isf
        .constant_data("linux_banner")
        .map(<[u8]>::to_vec)
        .or_else(|| isf.banner())
        .ok_or_else(|| Error::MissingSymbol("ISF constant data of linux_banner".into()))?;
    let init_task = isf
        .symbol_address("init_task")
        .ok_or_else(|| Error::MissingSymbol("ISF symbol init_task".into()))?;
    let init_files = isf
        .symbol_address("init_files")
        .ok_or_else(|| Error::MissingSymbol("ISF symbol init_files".into()))?;
    let root = root_symbol(isf)
        .ok_or_else(|| Error::MissingSymbol("ISF symbol init_top_pgt or swapper_pg_dir".into()))?;
    let comm_off = isf.offset("task_struct", "comm")?;
    let files_off = isf.offset("task_struct", "files")?;
    let needle = banner.get(..banner.len().min(200)).unwrap_or_default();
    let re = literal(needle)?;
    let mut hits = Vec::new();
    scan(phys, &re, &mut |at| {
        hits.push(at);
        hits.len() < MAX_CANDIDATES
    })?;
    let mut out = Vec::new();
    for at in hits {
        let image_off = banner_sym.wrapping_sub(START_KERNEL_MAP);
        let Some(pshift) = at.checked_sub(image_off) else {
            continue;
        };
        if pshift & 0xfff != 0 {
            continue;
        }
        let task_phys = init_task
            .wrapping_sub(START_KERNEL_MAP)
            .wrapping_add(pshift);
        let comm = read_text(phys, task_phys.wrapping_add(comm_off), 16)?;
        if !comm.starts_with(b"swapper") {
            continue;
        }
        let mut b = [0u8; 8];
        let got = phys.read_phys(task_phys.wrapping_add(files_off), &mut b)?;
        if got.captured_len() != 8 {
            continue;
        }
        let vshift = u64::from_le_bytes(b).wrapping_sub(init_files);
        if vshift & 0xfff != 0 {
            continue;
        }
        let dtb = PhysAddr(root.wrapping_sub(START_KERNEL_MAP).wrapping_add(pshift));
        for la57 in [false, true] {
            out.push(KernelLayout {
                virtual_shift: vshift,
                physical_shift: pshift,
                dtb,
                la57,
                source: LayoutSource::BannerScan,
            });
        }
    }
    Ok(out)
}

/// Checks a layout: `linux_banner`'s run-time virtual address must translate to the ISF's
/// banner bytes.
pub fn verify(phys: &dyn PhysicalMemory, isf: &Isf, layout: &KernelLayout) -> Result<bool> {
    let (Some(sym), Some(banner)) = (
        isf.symbol_address("linux_banner"),
        isf.constant_data("linux_banner")
            .map(<[u8]>::to_vec)
            .or_else(|| isf.banner()),
    ) else {
        return Ok(false);
    };
    let want = banner.get(..banner.len().min(256)).unwrap_or_default();
    let mut got = vec![0u8; want.len()];
    let paging = Paging::new(layout.la57);
    let read = paging.read(
        phys,
        layout.dtb,
        VirtAddr(sym.wrapping_add(layout.virtual_shift)),
        &mut got,
    )?;
    Ok(read.captured_len() == want.len() && got == want)
}

/// [`find_layout`] with the first VMCOREINFO found; when that does not check out, with
/// every VMCOREINFO in memory.
pub fn find_layout_searching(
    phys: &dyn PhysicalMemory,
    isf: &Isf,
    first: &[Vmcoreinfo],
) -> Result<KernelLayout> {
    match find_layout(phys, isf, first) {
        Ok(l) => Ok(l),
        Err(_) => find_layout(phys, isf, &vmcoreinfo_candidates(phys, usize::MAX)?),
    }
}

/// Finds and checks the kernel layout: VMCOREINFO candidates first, then the banner scan.
/// The error says what was tried.
pub fn find_layout(
    phys: &dyn PhysicalMemory,
    isf: &Isf,
    vmcoreinfo: &[Vmcoreinfo],
) -> Result<KernelLayout> {
    let mut tried = Vec::new();
    for info in vmcoreinfo {
        let Some(layout) = layout_from_vmcoreinfo(info, isf) else {
            continue;
        };
        if verify(phys, isf, &layout)? {
            return Ok(layout);
        }
        tried.push(format!(
            "VMCOREINFO at {}: KERNELOFFSET {:#x}, DTB {:#x} do not translate linux_banner to \
             the ISF's banner",
            info.found_at
                .map_or("the dump's note".to_string(), |a| format!("{a:#x}")),
            layout.virtual_shift,
            layout.dtb
        ));
    }
    let candidates = layouts_from_banner(phys, isf)?;
    if candidates.is_empty() {
        tried.push(
            "the ISF's linux_banner followed by a swapper/0 init_task is not in physical memory"
                .into(),
        );
    }
    for layout in candidates {
        if verify(phys, isf, &layout)? {
            return Ok(layout);
        }
    }
    Err(Error::Missing(format!(
        "the kernel of the ISF {} (\"{}\") in this dump: no KASLR shift and page-table root \
         check out; tried: {}. Is the ISF made from this dump's exact kernel build?",
        isf.path().display(),
        String::from_utf8_lossy(&isf.banner().unwrap_or_default()),
        if tried.is_empty() {
            "no VMCOREINFO found; banner scan failed".to_string()
        } else {
            tried.join("; ")
        }
    )))
}
