//! The kallsyms decoder on any window of memory: from the token table the first two bytes
//! point at, and from every digit run a token table would hold.
#![no_main]

use libfuzzer_sys::fuzz_target;
use podmortem::engine::kernel::symbols::kallsyms;

fuzz_target!(|data: &[u8]| {
    let Some((head, w)) = data.split_first_chunk::<2>() else {
        return;
    };
    let at = usize::from(u16::from_le_bytes(*head)) % w.len().max(1);
    let _ = kallsyms::decode(w, at, None);
    let va = |off: usize| 0xffff_ffff_8100_0000u64 + off as u64;
    let run = b"0\x001\x002\x003\x004\x005\x006\x007\x008\x009\x00";
    for (i, _) in w
        .windows(run.len())
        .enumerate()
        .filter(|(_, x)| x == run)
        .take(4)
    {
        if let Some(tt) = kallsyms::token_table_before_digits(w, i) {
            let _ = kallsyms::decode(w, tt, Some(&va));
        }
    }
});
