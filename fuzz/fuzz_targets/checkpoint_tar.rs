//! A whole checkpoint from bytes: the input as a tar → `Archive::from_tar` →
//! `Checkpoint::from_archive`, then everything a client asks of it.
#![no_main]

use podmortem::engine::capability::ContainerFs;
use std::path::Path;

use libfuzzer_sys::fuzz_target;
use podmortem::engine::Evidence;
use podmortem::engine::checkpoint::Checkpoint;
use podmortem::engine::checkpoint::archive::Archive;
use podmortem::engine::mapped::Blob;

fuzz_target!(|data: &[u8]| {
    let path = Path::new("fuzz.tar");
    let Ok(archive) = Archive::from_tar(path, "tar", data.len() as u64, Blob::Owned(data.to_vec()))
    else {
        return;
    };
    let _ = archive.names().count();
    let Ok(ck) = Checkpoint::from_archive(archive) else {
        return;
    };
    let _ = ck.info();
    let Ok(procs) = ck.processes() else {
        return;
    };
    let mut buf = vec![0u8; 8192];
    for p in procs.iter().take(16) {
        let _ = ck.environment(p.pid);
        let _ = ck.files(p.pid);
        let maps = ck.maps(p.pid).unwrap_or_default();
        for v in maps.iter().take(32) {
            for addr in [v.start, v.end.saturating_sub(4096), v.start.wrapping_sub(1)] {
                if let Ok(got) = ck.read_memory(p.pid, addr, &mut buf) {
                    podmortem_fuzz::check_partial(&got, buf.len());
                }
                let _ = ck.memory_slice(p.pid, addr, 4096);
            }
        }
        if let Ok(runs) = ck.captured_ranges(p.pid, 0..u64::MAX) {
            for r in runs.iter().take(32) {
                assert!(r.start < r.end);
                let len = (r.end - r.start).min(buf.len() as u64) as usize;
                let got = ck.read_memory(p.pid, r.start, &mut buf[..len]).unwrap();
                assert_eq!(got.captured_len(), len, "a captured range reads short");
            }
        }
    }
    let _ = ck.read_memory(u32::MAX, 0, &mut buf);
    if let Ok(entries) = ck.entries() {
        for e in entries.iter().take(64) {
            let _ = ck.read_file(&e.path);
        }
    }
});
