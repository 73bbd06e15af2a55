//! Reading kernel structures: the interface the kernel walkers (tasks, memory areas, files,
//! sockets) use, whatever provides the memory. The real provider translates kernel virtual
//! addresses through the kernel's page tables over a physical memory source; tests provide
//! sparse synthetic memory. Layouts always come from the ISF: walkers read
//! `read_field_u64(task, "task_struct", "mm")`, never fixed offsets.

use std::ops::Range;

use crate::engine::error::{Error, Result};
use crate::engine::evidence::PartialRead;
use crate::engine::kernel::isf::Isf;
use crate::engine::kernel::structs::Structs;

/// A page of kernel memory.
const PAGE: u64 = 4096;
/// Most pages the default [`KernelMemory::kernel_captured`] probes.
pub const PROBE_PAGES: u64 = 1 << 16;

/// Kernel memory and the symbols that describe it.
pub trait KernelMemory: Send + Sync {
    /// The symbols.
    fn isf(&self) -> &Isf;

    /// Reads kernel virtual memory; bytes that do not translate or are not in the dump are
    /// zeroed and left out of the result.
    fn read_kernel(&self, vaddr: u64, buf: &mut [u8]) -> Result<PartialRead>;

    /// The KASLR virtual shift to add to ISF symbol addresses.
    fn virtual_shift(&self) -> u64;

    /// The structure layouts the task walker reads: resolved once per open by the real
    /// provider, on each call by others.
    fn structs(&self) -> Structs {
        Structs::resolve(self.isf())
    }

    /// The kernel virtual ranges within `range` that are mapped and in the dump, sorted and
    /// coalesced. The real provider walks the kernel's page tables; this default probes one
    /// byte per page, at most [`PROBE_PAGES`] pages (for small synthetic memories).
    fn kernel_captured(&self, range: Range<u64>) -> Result<Vec<Range<u64>>> {
        let mut out: Vec<Range<u64>> = Vec::new();
        let mut page = range.start & !(PAGE - 1);
        let mut probes = 0u64;
        while page < range.end && probes < PROBE_PAGES {
            probes += 1;
            let mut b = [0u8; 1];
            if self.read_kernel(page, &mut b)?.captured_len() == 1 {
                let (lo, hi) = (
                    page.max(range.start),
                    page.saturating_add(PAGE).min(range.end),
                );
                match out.last_mut() {
                    Some(last) if last.end == lo => last.end = hi,
                    _ => out.push(lo..hi),
                }
            }
            let Some(next) = page.checked_add(PAGE) else {
                break;
            };
            page = next;
        }
        Ok(out)
    }

    /// Reads a u64 at `offset` into the structure at `base`.
    fn u64_at(&self, base: u64, offset: u64) -> Result<u64> {
        self.read_u64(base.wrapping_add(offset))
    }

    /// Reads a u32 at `offset` into the structure at `base`.
    fn u32_at(&self, base: u64, offset: u64) -> Result<u32> {
        self.read_u32(base.wrapping_add(offset))
    }

    /// Reads exactly `buf.len()` bytes, or fails naming the address.
    fn read_exact(&self, vaddr: u64, buf: &mut [u8]) -> Result<()> {
        let got = self.read_kernel(vaddr, buf)?;
        if got.captured_len() == buf.len() {
            Ok(())
        } else {
            Err(Error::Corrupt {
                file: "kernel memory".into(),
                at: vaddr,
                reason: format!(
                    "{} of {} bytes not in the dump",
                    buf.len() - got.captured_len(),
                    buf.len()
                ),
            })
        }
    }

    /// Reads a little-endian u64.
    fn read_u64(&self, vaddr: u64) -> Result<u64> {
        let mut b = [0u8; 8];
        self.read_exact(vaddr, &mut b)?;
        Ok(u64::from_le_bytes(b))
    }

    /// Reads a little-endian u32.
    fn read_u32(&self, vaddr: u64) -> Result<u32> {
        let mut b = [0u8; 4];
        self.read_exact(vaddr, &mut b)?;
        Ok(u32::from_le_bytes(b))
    }

    /// Address of `field` of the `struct_name` at `base`.
    fn field_addr(&self, base: u64, struct_name: &str, field: &str) -> Result<u64> {
        let off = self.isf().offset(struct_name, field)?;
        base.checked_add(off).ok_or_else(|| Error::Corrupt {
            file: "kernel memory".into(),
            at: base,
            reason: format!("{struct_name}.{field} address overflows"),
        })
    }

    /// Reads a u64 (or pointer) field.
    fn read_field_u64(&self, base: u64, struct_name: &str, field: &str) -> Result<u64> {
        self.read_u64(self.field_addr(base, struct_name, field)?)
    }

    /// Reads a u32 field.
    fn read_field_u32(&self, base: u64, struct_name: &str, field: &str) -> Result<u32> {
        self.read_u32(self.field_addr(base, struct_name, field)?)
    }

    /// Reads a NUL-terminated string of at most `max` bytes.
    fn read_cstr(&self, vaddr: u64, max: usize) -> Result<Vec<u8>> {
        let mut buf = vec![0u8; max];
        let got = self.read_kernel(vaddr, &mut buf)?;
        Ok(cstr_prefix(buf, &got))
    }

    /// The run-time (KASLR-shifted) address of a symbol.
    fn symbol(&self, name: &str) -> Result<u64> {
        let a = self
            .isf()
            .symbol_address(name)
            .ok_or_else(|| Error::MissingSymbol(format!("ISF symbol {name}")))?;
        Ok(a.wrapping_add(self.virtual_shift()))
    }
}

/// The captured leading bytes of a read, cut at the first NUL: a C string read from memory.
pub fn cstr_prefix(mut buf: Vec<u8>, got: &PartialRead) -> Vec<u8> {
    let captured = got
        .captured
        .first()
        .filter(|r| r.start == 0)
        .map_or(0, |r| r.end);
    buf.truncate(captured);
    if let Some(nul) = buf.iter().position(|&b| b == 0) {
        buf.truncate(nul);
    }
    buf
}
