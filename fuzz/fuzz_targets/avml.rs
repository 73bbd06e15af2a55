//! The AVML (snappy-compressed LiME) physical memory source: parse from bytes (the chunk
//! index), then bounded reads of every range.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| podmortem_fuzz::physical("avml", data));
