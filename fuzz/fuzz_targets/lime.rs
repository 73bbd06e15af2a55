//! The LiME physical memory source: parse from bytes, then bounded reads of every range.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| podmortem_fuzz::physical("lime", data));
