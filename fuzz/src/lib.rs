//! Helpers shared by the fuzz targets: driving a physical memory source through its whole
//! interface, and a synthetic kernel whose memory is the fuzzer's input.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

pub mod kernel_isf;

use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

use podmortem::engine::error::Result;
use podmortem::engine::evidence::PartialRead;
use podmortem::engine::kernel::isf::Isf;
use podmortem::engine::kernel::memory::KernelMemory;
use podmortem::engine::mapped::Blob;

/// Where the synthetic kernel's memory (the fuzz input) is mapped; `init_task` is here.
pub const BASE: u64 = 0xffff_8880_0000_0000;

/// Parses `data` as a physical memory image of `format` and reads it through every method
/// of [`PhysicalMemory`] with bounded reads, checking the trait's promises.
pub fn physical(format: &str, data: &[u8]) {
    let Ok(mem) = podmortem::engine::kernel::physical::from_blob(
        format,
        Blob::Owned(data.to_vec()),
        format!("fuzz.{format}"),
    ) else {
        return;
    };
    let _ = format!("{mem:?}");
    let _ = mem.vmcoreinfo();
    let _ = mem.warnings();
    let ranges = mem.ranges().to_vec();
    for w in ranges.windows(2) {
        assert!(
            w[0].end <= w[1].start,
            "ranges overlap or unsorted: {ranges:x?}"
        );
    }
    let mut buf = vec![0u8; 4096];
    for r in ranges.iter().take(64) {
        assert!(r.start < r.end, "empty range {r:x?}");
        for (addr, len) in [
            (r.start, 64usize),
            (r.start.saturating_sub(7), 4096),
            (r.end.saturating_sub(33), 100),
            (r.start + (r.end - r.start) / 2, 300),
        ] {
            let buf = &mut buf[..len];
            buf.fill(0xaa);
            if let Ok(got) = mem.read_phys(addr, buf) {
                check_partial(&got, len);
                for (i, b) in buf.iter().enumerate() {
                    assert!(got.is_captured(i) || *b == 0, "uncaptured byte not zeroed");
                }
            }
            if let Some(s) = mem.slice(addr, len) {
                assert_eq!(s.len(), len);
            }
        }
    }
    let mut top = [0xaau8; 16];
    if let Ok(got) = mem.read_phys(u64::MAX - 7, &mut top) {
        check_partial(&got, 16);
    }
}

/// The captured ranges of a partial read are sorted, disjoint and within the buffer.
pub fn check_partial(got: &PartialRead, len: usize) {
    let mut end = 0;
    for r in &got.captured {
        assert!(
            r.start >= end && r.start < r.end && r.end <= len,
            "{:?}",
            got.captured
        );
        end = r.end;
    }
}

/// The synthetic kernel's ISF (both flavours, parsed once).
pub fn kernel_isf(list_kernel: bool) -> &'static Isf {
    static ISF: [OnceLock<Isf>; 2] = [OnceLock::new(), OnceLock::new()];
    ISF[usize::from(list_kernel)].get_or_init(|| {
        let json = serde_json::to_vec(&kernel_isf::isf_json(list_kernel)).unwrap();
        Isf::from_bytes(&json, "fuzz-kernel.json").unwrap()
    })
}

/// Kernel memory made of the fuzzer's bytes. Every address at or above 64 KiB is mapped
/// (the bytes repeat: address `a` reads `memory[(a - BASE) mod len]`), so any pointer value
/// the fuzzer writes leads somewhere and the walkers' loop guards and bounds get exercised;
/// the first 64 KiB are unmapped, as in a real kernel (NULL and small offsets from it).
///
/// The repetition would let a few bytes stand for gigabytes of kernel memory (a 2^20-slot fd
/// table of valid pointers from a 72-byte input), so the kernel serves at most
/// [`READ_BUDGET`] bytes per input and then reads as "not in the dump", as a real dump of
/// that size would. A walker that loops without regard to failed reads still hangs.
pub struct FuzzKernel<'a> {
    /// The memory.
    pub memory: &'a [u8],
    /// The symbols.
    pub isf: &'static Isf,
    /// Bytes served so far.
    pub served: AtomicUsize,
}

/// Bytes of memory a [`FuzzKernel`] serves per input.
pub const READ_BUDGET: usize = 256 << 10;

impl<'a> FuzzKernel<'a> {
    /// A kernel over `memory` with the ISF of the given flavour.
    pub fn new(memory: &'a [u8], list_kernel: bool) -> Self {
        FuzzKernel {
            memory,
            isf: kernel_isf(list_kernel),
            served: AtomicUsize::new(0),
        }
    }
}

impl KernelMemory for FuzzKernel<'_> {
    fn isf(&self) -> &Isf {
        self.isf
    }

    fn read_kernel(&self, vaddr: u64, buf: &mut [u8]) -> Result<PartialRead> {
        let mut out = PartialRead::default();
        let len = self.memory.len();
        if self.served.fetch_add(buf.len(), Ordering::Relaxed) > READ_BUDGET {
            buf.fill(0);
            return Ok(out);
        }
        let mut done = 0usize;
        while done < buf.len() {
            let a = vaddr.wrapping_add(done as u64);
            let left = buf.len() - done;
            if len == 0 || a < 0x1_0000 {
                // Unmapped up to 0x10000 (or to the end of the buffer).
                let n = if len == 0 {
                    left
                } else {
                    ((0x1_0000 - a) as usize).min(left)
                };
                buf[done..done + n].fill(0);
                done += n;
                continue;
            }
            // Mapped, up to the wrap of the address space or of the memory.
            let off = (a.wrapping_sub(BASE) % len as u64) as usize;
            let to_wrap = usize::try_from((u64::MAX - a).saturating_add(1)).unwrap_or(usize::MAX);
            let n = (len - off).min(left).min(to_wrap.max(1));
            buf[done..done + n].copy_from_slice(&self.memory[off..off + n]);
            out.push(done..done + n);
            done += n;
        }
        Ok(out)
    }

    fn virtual_shift(&self) -> u64 {
        0
    }
}
