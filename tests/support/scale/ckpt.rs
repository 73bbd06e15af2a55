//! The generated checkpoint: many processes with large anonymous areas, one page in
//! `data_every` holding data and the rest zero, written as a stream (never held in memory)
//! into a `.tar` (sparse: zero blocks are holes), a `.tar.zst` and a folder, in one pass.
//! The small images come from `support::ckpt`; `pagemap-N.img` and `pages-N.img` are written
//! here. Pagemap entries are 1 MiB each, so planted strings can straddle two entries.

use std::fs::File;
use std::io::{Seek, SeekFrom, Write};
use std::path::Path;

use podmortem::engine::checkpoint::image::IMG_COMMON;
use podmortem::engine::checkpoint::image::magic;
use podmortem::engine::checkpoint::pagemap::PE_PRESENT;
use podmortem::engine::checkpoint::proto;
use podmortem::engine::checkpoint::proto::mm as vm;

use super::content::{Overlays, PAGE, filler};
use super::{CkptParams, Plant, plant_text};
use crate::support::ckpt::{self, Checkpoint, Proc, image};

/// Pages per pagemap entry.
const ENTRY_PAGES: u64 = 256;
/// Where each process's big area starts.
const BASE: u64 = 0x7f10_0000_0000;
/// Top of each process's stack.
const STACK_TOP: u64 = 0x7ffd_0000_0000;

/// Where the tar goes: a sparse file, a zstd stream, or both.
struct TarOut {
    tar: Option<File>,
    zst: Option<zstd::stream::write::Encoder<'static, File>>,
    pos: u64,
}

impl TarOut {
    fn bytes(&mut self, b: &[u8]) {
        if let Some(f) = &mut self.tar {
            if b.iter().all(|&x| x == 0) {
                f.seek(SeekFrom::Current(b.len() as i64)).unwrap();
            } else {
                f.write_all(b).unwrap();
            }
        }
        if let Some(z) = &mut self.zst {
            z.write_all(b).unwrap();
        }
        self.pos += b.len() as u64;
    }

    fn header(&mut self, name: &str, size: u64) {
        let mut h = tar::Header::new_gnu();
        h.set_path(name).unwrap();
        h.set_size(size);
        h.set_mode(0o644);
        h.set_mtime(ckpt::MTIME);
        h.set_entry_type(tar::EntryType::Regular);
        h.set_cksum();
        self.bytes(h.as_bytes());
    }

    fn pad(&mut self) {
        let rest = (512 - self.pos % 512) % 512;
        self.bytes(&vec![0u8; rest as usize]);
    }

    fn finish(mut self) {
        self.bytes(&[0u8; 1024]);
        if let Some(f) = self.tar.take() {
            f.set_len(self.pos).unwrap();
        }
        if let Some(z) = self.zst.take() {
            z.finish().unwrap();
        }
    }
}

/// One process's pages: the big area, then the stack page.
struct Pages<'a> {
    pid: u32,
    p: &'a CkptParams,
    overlays: &'a Overlays,
}

impl Pages<'_> {
    fn count(&self) -> u64 {
        self.p.bytes_per_process / PAGE
    }

    /// The pagemap entries: 1 MiB runs of the big area, then the stack page.
    fn entries(&self) -> Vec<(u64, u64)> {
        let n = self.count();
        let mut v: Vec<(u64, u64)> = (0..n.div_ceil(ENTRY_PAGES))
            .map(|i| {
                let first = i * ENTRY_PAGES;
                (BASE + first * PAGE, ENTRY_PAGES.min(n - first))
            })
            .collect();
        v.push((STACK_TOP - PAGE, 1));
        v
    }

    /// Calls `f` with each page's bytes in order (all zero for pages without data).
    fn each(&self, mut f: impl FnMut(&[u8])) {
        let mut page = vec![0u8; PAGE as usize];
        for (va, n) in self.entries() {
            for i in 0..n {
                let a = va + i * PAGE;
                let index = (a - BASE) / PAGE;
                if a >= STACK_TOP - PAGE || index.is_multiple_of(self.p.data_every) {
                    filler(self.pid, a, &mut page);
                } else {
                    page.fill(0);
                }
                self.overlays.apply(self.pid, a, &mut page);
                f(&page);
            }
        }
    }
}

/// Writes the checkpoint to any of a `.tar`, a `.tar.zst` and a folder; returns the
/// planted strings.
pub fn write_checkpoint(
    p: &CkptParams,
    tar: Option<&Path>,
    zst: Option<&Path>,
    dir: Option<&Path>,
) -> Vec<Plant> {
    let mut overlays = Overlays::default();
    let mut plants = Vec::new();
    let mut procs = Vec::new();
    let size = p.bytes_per_process;
    for i in 0..p.processes {
        let pid = 100 + i;
        let comm = format!("worker-{pid}");
        let args = format!("/usr/bin/worker\0--id\0{pid}\0");
        let env = format!("HOME=/srv\0WORKER={pid}\0");
        let a0 = STACK_TOP - 0x800;
        let e0 = a0 + args.len() as u64;
        overlays.put(pid, a0, args.as_bytes());
        overlays.put(pid, e0, env.as_bytes());
        let mut spots = vec![
            ("mid", BASE + 3 * PAGE + 100),
            ("page", BASE + 5 * PAGE - 7),
            ("entry", BASE + ENTRY_PAGES * PAGE - 6),
        ];
        if size > (8 << 20) + PAGE {
            spots.push(("window", BASE + (8 << 20) - 5));
        }
        for (kind, va) in spots {
            let text = plant_text(kind, pid, va);
            overlays.put(pid, va, text.as_bytes());
            plants.push(Plant {
                pid,
                vaddr: va,
                phys: None,
                kind,
                text,
            });
        }
        let anon = |start: u64, end: u64| {
            ckpt::vma(
                start,
                end,
                3,
                vm::MAP_PRIVATE | vm::MAP_ANONYMOUS,
                vm::VMA_AREA_REGULAR | vm::VMA_ANON_PRIVATE,
                0,
                0,
            )
        };
        procs.push(Proc {
            pid,
            ppid: if i == 0 { 0 } else { 100 + (i - 1) / 8 },
            pgid: pid,
            sid: 100,
            threads: vec![(pid, comm.clone())],
            comm,
            files_id: 1,
            vmas: vec![
                anon(BASE, BASE + size),
                anon(STACK_TOP - 0x2_1000, STACK_TOP),
            ],
            pagemap: Some(Vec::new()),
            arg: (a0, e0),
            env: (e0, e0 + env.len() as u64),
            start_stack: STACK_TOP - 0x1000,
            exe_file_id: 1,
            fds: vec![(0, 1, proto::FdTypes::Reg)],
            ..Default::default()
        });
    }
    let c = Checkpoint {
        procs,
        files: vec![ckpt::reg_file(1, "/usr/bin/worker", 0o100755)],
        hostname: "scale".into(),
        ..Default::default()
    };
    let mut out = TarOut {
        tar: tar.map(|t| File::create(t).unwrap()),
        zst: zst.map(|z| zstd::stream::write::Encoder::new(File::create(z).unwrap(), 3).unwrap()),
        pos: 0,
    };
    if let Some(d) = dir {
        std::fs::create_dir_all(d.join("checkpoint")).unwrap();
    }
    for (name, data) in c.members() {
        let pid = |prefix: &str| {
            name.strip_prefix(prefix)
                .and_then(|r| r.strip_suffix(".img"))
                .and_then(|n| n.parse::<u32>().ok())
        };
        let (data, pages) = if let Some(pid) = pid("checkpoint/pagemap-") {
            let pages = Pages {
                pid,
                p,
                overlays: &overlays,
            };
            let mut pm = image(
                &[IMG_COMMON, magic::PAGEMAP],
                &[proto::PagemapHead { pages_id: pid }],
            );
            for (vaddr, n) in pages.entries() {
                let entry = proto::PagemapEntry {
                    vaddr,
                    flags: Some(PE_PRESENT),
                    nr_pages: Some(n),
                    compat_nr_pages: Some(0),
                    ..Default::default()
                };
                pm.extend(image::<proto::PagemapEntry>(&[], &[entry]));
            }
            (pm, None)
        } else if let Some(pid) = pid("checkpoint/pages-") {
            let pages = Pages {
                pid,
                p,
                overlays: &overlays,
            };
            (Vec::new(), Some(pages))
        } else {
            (data, None)
        };
        match pages {
            None => {
                out.header(&name, data.len() as u64);
                out.bytes(&data);
                out.pad();
                if let Some(d) = dir {
                    std::fs::write(d.join(&name), &data).unwrap();
                }
            }
            Some(pages) => {
                let len = (pages.count() + 1) * PAGE;
                out.header(&name, len);
                let mut file = dir.map(|d| File::create(d.join(&name)).unwrap());
                pages.each(|page| {
                    out.bytes(page);
                    if let Some(f) = &mut file {
                        if page.iter().all(|&b| b == 0) {
                            f.seek(SeekFrom::Current(PAGE as i64)).unwrap();
                        } else {
                            f.write_all(page).unwrap();
                        }
                    }
                });
                if let Some(f) = file {
                    f.set_len(len).unwrap();
                }
                out.pad();
            }
        }
    }
    out.finish();
    plants
}
