//! Physical-memory sources in tests: a read that returns the bytes with what was captured.

use std::ops::Range;

use podmortem::engine::kernel::physical::PhysicalMemory;

/// Reads `len` bytes at `addr`, returning the bytes and the captured ranges.
pub fn read(mem: &dyn PhysicalMemory, addr: u64, len: usize) -> (Vec<u8>, Vec<Range<usize>>) {
    let mut buf = vec![0xa5u8; len];
    let r = mem.read_phys(addr, &mut buf).unwrap();
    (buf, r.captured)
}
