//! The shared regex search over a synthetic evidence: the pattern and the haystacks come
//! from the input, and the hits are checked against the captured memory.
//!
//! Input: a length byte n, n bytes of pattern (compiled as the Search pane does: bytes,
//! no Unicode, size-limited), a layout byte, then the haystack bytes. The layout byte
//! spreads the haystack over a few processes and runs (with holes between runs).
//!
//! Runs stay below the search's 8 MiB window: under coverage instrumentation the regex
//! engine needs seconds for one multi-MiB haystack, so the window and overlap logic is left
//! to the unit tests.
#![no_main]

use std::ops::Range;
use std::sync::atomic::AtomicBool;

use libfuzzer_sys::fuzz_target;
use podmortem::engine::Evidence;
use podmortem::engine::error::{Error, Result};
use podmortem::engine::evidence::{
    EvidenceInfo, EvidenceKind, OpenFile, PartialRead, Perms, Pid, Process, Vma, VmaKind, Walk,
};
use podmortem::engine::search::{Collect, SearchRequest, search};

/// One process's memory: runs of captured bytes at addresses (sorted, disjoint).
struct Synth {
    procs: Vec<(Pid, Vec<(u64, Vec<u8>)>)>,
}

impl Synth {
    fn runs(&self, pid: Pid) -> Result<&[(u64, Vec<u8>)]> {
        self.procs
            .iter()
            .find(|p| p.0 == pid)
            .map(|p| p.1.as_slice())
            .ok_or(Error::NoSuchProcess(pid))
    }
}

impl Evidence for Synth {
    fn info(&self) -> EvidenceInfo {
        EvidenceInfo {
            path: "fuzz".into(),
            kind: EvidenceKind::Checkpoint,
            format: "synthetic".into(),
            size: 0,
            engine: None,
            title: String::new(),
            details: Default::default(),
            warnings: Vec::new(),
        }
    }

    fn processes(&self) -> Result<Vec<Process>> {
        Ok(self
            .procs
            .iter()
            .map(|(pid, _)| Process {
                pid: *pid,
                ppid: 0,
                pgid: *pid,
                sid: *pid,
                comm: format!("p{pid}"),
                cmdline: Vec::new(),
                uid: None,
                gid: None,
                euid: None,
                threads: Vec::new(),
                state: "sleeping".into(),
                exit_code: None,
                exe: None,
                kernel_thread: false,
                start_time: None,
                created: None,
                ns: None,
                cgroup: None,
                container_id: None,
                pod_uid: None,
            })
            .collect())
    }

    fn maps(&self, pid: Pid) -> Result<Walk<Vma>> {
        Ok(Walk::complete(
            self.runs(pid)?
                .iter()
                .map(|(start, bytes)| Vma {
                    start: *start,
                    end: start + bytes.len() as u64,
                    perms: Perms::default(),
                    pgoff: 0,
                    path: None,
                    kind: VmaKind::Anon,
                    inode: None,
                    dev: None,
                })
                .collect(),
        ))
    }

    fn environment(&self, _pid: Pid) -> Result<Vec<String>> {
        Ok(Vec::new())
    }

    fn files(&self, _pid: Pid) -> Result<Walk<OpenFile>> {
        Ok(Walk::default())
    }

    fn read_memory(&self, pid: Pid, addr: u64, buf: &mut [u8]) -> Result<PartialRead> {
        buf.fill(0);
        let mut out = PartialRead::default();
        let end = addr + buf.len() as u64;
        for (start, bytes) in self.runs(pid)? {
            let r_end = start + bytes.len() as u64;
            let (s, e) = (addr.max(*start), end.min(r_end));
            if s < e {
                let dst = (s - addr) as usize..(e - addr) as usize;
                let src = (s - start) as usize..(e - start) as usize;
                buf[dst.clone()].copy_from_slice(&bytes[src]);
                out.push(dst);
            }
        }
        Ok(out)
    }

    fn captured_ranges(&self, pid: Pid, range: Range<u64>) -> Result<Vec<Range<u64>>> {
        Ok(self
            .runs(pid)?
            .iter()
            .map(|(s, b)| (*s).max(range.start)..(s + b.len() as u64).min(range.end))
            .filter(|r| r.start < r.end)
            .collect())
    }

    fn memory_slice(&self, pid: Pid, addr: u64, len: usize) -> Option<&[u8]> {
        let (start, bytes) = self
            .runs(pid)
            .ok()?
            .iter()
            .find(|(s, b)| *s <= addr && addr < s + b.len() as u64)?;
        let from = (addr - start) as usize;
        bytes.get(from..from.checked_add(len)?)
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&n, rest)) = data.split_first() else {
        return;
    };
    let n = usize::from(n % 64).min(rest.len());
    let (pattern, rest) = rest.split_at(n);
    let Some((&layout, hay)) = rest.split_first() else {
        return;
    };
    let Ok(regex) = regex::bytes::RegexBuilder::new(&String::from_utf8_lossy(pattern))
        .case_insensitive(layout & 0x80 != 0)
        .unicode(false)
        .size_limit(1 << 20)
        .build()
    else {
        return;
    };
    // Cut the haystack into up to 4 runs over up to 2 processes.
    let pieces = 1 + usize::from(layout & 3);
    let per = hay.len().div_ceil(pieces).max(1);
    let mut procs: Vec<(Pid, Vec<(u64, Vec<u8>)>)> = vec![(1, Vec::new()), (7, Vec::new())];
    let mut addr = 0x1000u64;
    for (i, chunk) in hay.chunks(per).enumerate() {
        let bytes = chunk.to_vec();
        let len = bytes.len() as u64;
        let pid = usize::from(layout >> 2 & 1 & i as u8);
        procs[pid].1.push((addr, bytes));
        addr += len + 0x1000 * u64::from(layout >> 3 & 3);
        addr = addr.div_ceil(0x10) * 0x10;
    }
    let ev = Synth { procs };
    let req = SearchRequest {
        regex: regex.clone(),
        pids: (layout & 0x20 != 0).then(|| vec![7]),
    };
    let mut sink = Collect {
        hits: Vec::new(),
        limit: Some(10_000),
    };
    let Ok(summary) = search(&ev, &req, &AtomicBool::new(false), &mut sink) else {
        return;
    };
    assert_eq!(summary.hits as usize, sink.hits.len());
    let mut last: Option<(Pid, u64)> = None;
    for h in &sink.hits {
        let p = h
            .process()
            .expect("a process-memory search gives process hits");
        if let Some((pid, addr)) = last
            && pid == p.pid
        {
            assert!(
                h.address > addr,
                "hits out of order or doubled: {addr:#x} then {:#x}",
                h.address
            );
        }
        last = Some((p.pid, h.address));
        let mut buf = vec![0u8; h.bytes.len()];
        let got = ev.read_memory(p.pid, h.address, &mut buf).unwrap();
        assert_eq!(
            got.captured_len(),
            buf.len(),
            "a hit outside captured memory"
        );
        assert_eq!(buf, h.bytes, "a hit's bytes differ from memory");
        assert!(p.vma_start.is_some(), "a hit outside every memory area");
    }
    // Every hit is one `find_iter` over each run would give (runs are below a window).
    if sink.hits.len() < 10_000 && !summary.stopped {
        let mut want = 0;
        for (pid, runs) in &ev.procs {
            if req.pids.as_ref().is_some_and(|p| !p.contains(pid)) {
                continue;
            }
            for (_, bytes) in runs {
                want += regex.find_iter(bytes).filter(|m| !m.is_empty()).count();
            }
        }
        assert_eq!(want, sink.hits.len(), "search and find_iter disagree");
    }
});
