//! The ELF core physical memory source (QEMU `dump-guest-memory`, kdump's vmcore): parse
//! from bytes (program headers, `PT_NOTE` VMCOREINFO), then bounded reads of every range.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| podmortem_fuzz::physical("elf", data));
