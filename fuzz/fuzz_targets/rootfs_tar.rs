//! `RootfsDiff::parse` of a container's `rootfs-diff.tar` (and `deleted.files`), then reads.
//!
//! Input: a u16 LE length n, n bytes of `deleted.files` JSON (none when n is 0), the tar.
#![no_main]

use libfuzzer_sys::fuzz_target;
use podmortem::engine::checkpoint::rootfs::RootfsDiff;

fuzz_target!(|data: &[u8]| {
    let Some((n, rest)) = data.split_first_chunk::<2>() else {
        return;
    };
    let n = usize::from(u16::from_le_bytes(*n)).min(rest.len());
    let (deleted, tar) = rest.split_at(n);
    let (diff, _warnings) = RootfsDiff::parse("rootfs-diff.tar", tar, (n > 0).then_some(deleted));
    let _ = diff.member();
    for e in diff.entries().iter().take(256) {
        let _ = diff.entry(&e.path);
        if let Ok(bytes) = diff.read(tar, &e.path) {
            assert!(bytes.len() <= tar.len());
        }
        if let Some(link) = &e.link {
            let _ = diff.read(tar, link);
        }
    }
    let _ = diff.read(tar, "/");
    let _ = diff.read(&tar[..tar.len() / 2], "etc/passwd");
});
