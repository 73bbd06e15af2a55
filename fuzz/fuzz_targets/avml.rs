//! The AVML (snappy-compressed LiME) physical memory source: parse from bytes (the blocks
//! found from the end, or else the chunk index walked from the start), then bounded reads of
//! every range (which walk the blocks' frames).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| podmortem_fuzz::physical("avml", data));
