//! The generated kernel dump: the synthetic kernel of `kernel_image` with many processes,
//! each with 100 memory areas (a maple tree), open files, a cwd, argument and environment
//! blocks, and 4-level page tables mapping 64 resident pages (eight runs of eight) to
//! frames scattered over all of physical memory. Strings are planted in those pages.
//!
//! Physical layout: the kernel and its page tables below 1 GiB (as `kernel_image` places
//! them); user frames from 1 GiB up, in 128 KiB slots, each run 48 KiB into its slot so
//! that its fifth page starts on a 64 KiB (AVML chunk) boundary; every tenth process's
//! first run straddles an 8 MiB physical search-window boundary instead.

use std::collections::{BTreeMap, HashMap};
use std::ops::Range;

use serde_json::{Value, json};

use super::content::{Overlays, PAGE, filler};
use super::{DumpParams, Plant, plant_text};
use crate::support::kernel_image::{TaskImage, image_isf_json};
use crate::support::kernel_mem::{
    Internal, MmInfo, S_IFCHR, S_IFDIR, S_IFREG, SynthKernel, VM_EXEC, VM_READ, VM_WRITE, VmaSpec,
};

/// Pages in a resident run.
pub const RUN_PAGES: u64 = 8;
/// Slot size of the user frames.
const SLOT: u64 = 128 << 10;
/// Offset of a run in its slot (its fifth page starts on a 64 KiB boundary).
const RUN_OFFSET: u64 = 0xc000;
/// The physical search window (engine `search::scan::WINDOW`).
const WINDOW: u64 = 8 << 20;
/// `PF_KTHREAD`.
const PF_KTHREAD: u64 = 0x0020_0000;
/// Process names (and their binaries).
const NAMES: [&str; 12] = [
    "systemd",
    "nginx",
    "postgres",
    "redis-server",
    "python3",
    "java",
    "node",
    "sshd",
    "containerd-shim",
    "bash",
    "cron",
    "dockerd",
];
/// Libraries each process maps (four areas each).
const LIBS: u64 = 22;

/// A run of resident user pages: contiguous virtually and physically.
#[derive(Debug, Clone, Copy)]
pub struct UserRun {
    /// First physical address.
    pub phys: u64,
    /// The process.
    pub pid: u32,
    /// First virtual address.
    pub vaddr: u64,
}

/// A generated dump, ready to be written as LiME or AVML.
pub struct Dump {
    /// Kernel frames (image, direct map, page tables, VMCOREINFO) by physical address.
    pub kernel: BTreeMap<u64, Vec<u8>>,
    /// User runs, by physical address.
    pub runs: Vec<UserRun>,
    /// Bytes written over the user pages' filler.
    pub overlays: Overlays,
    /// The physical ranges (as a LiME of a PC has them: below 640 KiB, up to 3 GiB, above
    /// 4 GiB).
    pub ranges: Vec<Range<u64>>,
    /// The planted strings.
    pub plants: Vec<Plant>,
    /// The ISF describing the kernel.
    pub isf: Value,
    /// (pid, comm, user process) of every task.
    pub tasks: Vec<(u32, String, bool)>,
}

/// The ISF of the generated kernel: `kernel_image`'s plus the `mm_struct` fields that find
/// a process's page tables, arguments, environment and executable.
pub fn scale_isf_json() -> Value {
    let mut v = image_isf_json();
    let ul = json!({"kind": "base", "name": "long unsigned int"});
    let mm = &mut v["user_types"]["mm_struct"]["fields"];
    mm["pgd"] = json!({"offset": 0x60, "type": {"kind": "pointer", "subtype": ul}});
    for (name, off) in [
        ("arg_start", 0x120),
        ("arg_end", 0x128),
        ("env_start", 0x130),
        ("env_end", 0x138),
    ] {
        mm[name] = json!({"offset": off, "type": ul});
    }
    mm["exe_file"] = json!({"offset": 0x140, "type": {"kind": "pointer",
        "subtype": {"kind": "struct", "name": "file"}}});
    v
}

/// The physical ranges of `bytes` of memory.
fn ranges_of(bytes: u64) -> Vec<Range<u64>> {
    let mut r = vec![0x1000..0x9f000, 0x10_0000..bytes.min(0xc000_0000)];
    if bytes > 0xc000_0000 {
        r.push(0x1_0000_0000..0x1_0000_0000 + (bytes - 0xc000_0000));
    }
    r
}

/// Where user runs go: normal slots spread evenly, and window-straddling places.
struct Placer {
    /// User regions (128 KiB aligned).
    regions: Vec<Range<u64>>,
    slots: u64,
    /// First address of user frames.
    lo: u64,
}

impl Placer {
    fn new(ranges: &[Range<u64>], lo: u64) -> Placer {
        let regions: Vec<Range<u64>> = ranges
            .iter()
            .filter(|r| r.end > lo)
            .map(|r| r.start.max(lo)..r.end / SLOT * SLOT)
            .collect();
        let slots = regions.iter().map(|r| (r.end - r.start) / SLOT).sum();
        Placer { regions, slots, lo }
    }

    /// The address of slot `i`.
    fn slot(&self, mut i: u64) -> u64 {
        for r in &self.regions {
            let n = (r.end - r.start) / SLOT;
            if i < n {
                return r.start + i * SLOT;
            }
            i -= n;
        }
        panic!("slot out of range")
    }

    /// Run `r` of `n` normal runs.
    fn normal(&self, r: u64, n: u64) -> u64 {
        let spacing = (self.slots / n.max(1)).max(1);
        assert!(n <= self.slots, "too many runs for the memory");
        let jitter = (r.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 40) % spacing.div_ceil(2);
        self.slot((r * spacing + jitter).min(self.slots - 1)) + RUN_OFFSET
    }

    /// Window-straddling run `j` of `n`: its fifth page starts on a window boundary (a
    /// multiple of 8 MiB from its range's start), between two slots' runs.
    fn window(&self, ranges: &[Range<u64>], j: u64, n: u64) -> u64 {
        let bounds: Vec<u64> = ranges
            .iter()
            .flat_map(|r| {
                let first = r.start + WINDOW;
                (0..)
                    .map(move |k| first + k * WINDOW)
                    .take_while(move |b| *b + 0x8000 <= r.end)
            })
            .filter(|b| *b >= self.lo + SLOT)
            .collect();
        assert!(!bounds.is_empty(), "no window boundary in user memory");
        let b = bounds[(j * bounds.len() as u64 / n.max(1)) as usize % bounds.len()];
        b - 4 * PAGE
    }
}

/// One process's page tables, by physical address: (virtual address in the direct map,
/// entries).
struct Tables {
    pgd: u64,
    by_phys: HashMap<u64, (u64, Vec<u64>)>,
}

impl Tables {
    fn new(k: &mut SynthKernel) -> Tables {
        let va = k.alloc(PAGE, PAGE);
        let mut by_phys = HashMap::new();
        let pgd = TaskImage::phys_of(va);
        by_phys.insert(pgd, (va, vec![0u64; 512]));
        Tables { pgd, by_phys }
    }

    /// Maps the user page at `va` to frame `phys`.
    fn map(&mut self, k: &mut SynthKernel, va: u64, phys: u64) {
        let mut table = self.pgd;
        for level in (2..=4u64).rev() {
            let i = ((va >> (12 + 9 * (level - 1))) & 0x1ff) as usize;
            let entry = self.by_phys[&table].1[i];
            table = if entry & 1 == 0 {
                let tva = k.alloc(PAGE, PAGE);
                let t = TaskImage::phys_of(tva);
                self.by_phys.insert(t, (tva, vec![0u64; 512]));
                self.by_phys.get_mut(&table).unwrap().1[i] = t | 0x67;
                t
            } else {
                entry & 0x000f_ffff_ffff_f000
            };
        }
        self.by_phys.get_mut(&table).unwrap().1[((va >> 12) & 0x1ff) as usize] = phys | 0x67;
    }

    /// Writes the tables into kernel memory; returns the PGD's virtual address.
    fn store(self, k: &mut SynthKernel) -> u64 {
        let pgd_va = self.by_phys[&self.pgd].0;
        for (va, entries) in self.by_phys.into_values() {
            let bytes: Vec<u8> = entries.iter().flat_map(|e| e.to_le_bytes()).collect();
            k.write(va, &bytes);
        }
        pgd_va
    }
}

/// A process's virtual layout.
struct Layout {
    exe: u64,
    heap: u64,
    lib: u64,
    anon: u64,
    stack_top: u64,
}

impl Layout {
    fn of(pid: u32) -> Layout {
        let p = u64::from(pid);
        let exe = 0x5600_0000_0000 + (p % 4096) * 0x200_0000;
        Layout {
            exe,
            heap: exe + 0x100_0000,
            lib: 0x7f00_0000_0000 + (p % 128) * 0x1_0000_0000,
            anon: 0x7e00_0000_0000 + (p % 128) * 0x1_0000_0000,
            stack_top: 0x7ffc_0000_0000 + (p % 4096) * 0x100_0000,
        }
    }

    /// The 100 memory areas, in address order.
    fn vmas(&self, exe_file: u64, libs: &[u64]) -> Vec<VmaSpec> {
        let area = |start: u64, end: u64, flags: u64, pgoff: u64, file: u64| VmaSpec {
            start,
            end,
            flags,
            pgoff,
            file,
            special: None,
        };
        let (r, w, x) = (VM_READ, VM_WRITE, VM_EXEC);
        let e = self.exe;
        let mut v = vec![
            area(e, e + 0x2000, r, 0, exe_file),
            area(e + 0x2000, e + 0x8000, r | x, 2, exe_file),
            area(e + 0x8000, e + 0xa000, r, 8, exe_file),
            area(e + 0xa000, e + 0xc000, r | w, 10, exe_file),
            area(self.heap, self.heap + 0x20_0000, r | w, 0, 0),
        ];
        for k in 0..4 {
            let a = self.anon + k * 0x100_0000;
            v.push(area(a, a + 0x80_0000, r | w, 0, 0));
        }
        for (j, f) in libs.iter().enumerate() {
            let b = self.lib + j as u64 * 0x40_0000;
            v.push(area(b, b + 0x4000, r, 0, *f));
            v.push(area(b + 0x4000, b + 0x2_0000, r | x, 4, *f));
            v.push(area(b + 0x2_0000, b + 0x2_8000, r, 0x20, *f));
            v.push(area(b + 0x2_8000, b + 0x3_0000, r | w, 0x28, *f));
        }
        let s = self.stack_top;
        v.push(area(s - 0x2_1000, s, r | w, 0, 0));
        for (i, name) in ["[vvar]", "[vdso]"].into_iter().enumerate() {
            let a = s + 0x10_0000 + i as u64 * 0x4000;
            v.push(VmaSpec {
                special: Some(name),
                ..area(a, a + 0x4000, r | if i == 1 { x } else { 0 }, 0, 0)
            });
        }
        v
    }

    /// The first virtual address of each of the eight resident runs: exe, heap (two runs,
    /// virtually adjacent, physically apart), four libraries, stack.
    fn runs(&self) -> [u64; 8] {
        let run = RUN_PAGES * PAGE;
        let l = |j: u64| self.lib + j * 0x40_0000;
        [
            self.exe,
            self.heap,
            self.heap + run,
            l(0),
            l(1),
            l(2),
            l(3),
            self.stack_top - run,
        ]
    }
}

impl Dump {
    /// Builds the kernel, its processes and their pages.
    pub fn build(p: &DumpParams) -> Dump {
        let isf = scale_isf_json();
        let mut img = TaskImage::with_isf(&isf);
        let ranges = ranges_of(p.phys_bytes);
        let placer = Placer::new(&ranges, p.user_lo);
        let n_runs = u64::from(p.processes) * 8;
        let mut overlays = Overlays::default();
        let mut plants = Vec::new();
        let mut runs = Vec::new();
        let mut tasks = Vec::new();
        let (root_mnt, root_d, root_sb) = (img.k.root_mnt, img.k.root_dentry, img.k.root_sb);
        let devnull = img.k.add_file(&["dev", "null"], S_IFCHR | 0o666, 5);
        let libs: Vec<u64> = (0..LIBS)
            .map(|j| {
                let name = format!("lib{j:02}-scale.so.{}", j % 3 + 1);
                img.k.add_file(
                    &["usr", "lib", "x86_64-linux-gnu", &name],
                    S_IFREG | 0o644,
                    20_000 + j,
                )
            })
            .collect();
        let mut exe_files = HashMap::new();
        let mut user_tasks: Vec<u64> = Vec::new();
        let init = img.init_task();
        let mut kthreadd = init;
        let total = p.processes + p.kthreads;
        let mut user_i = 0u64;
        for pid in 1..=total {
            let is_kthread = pid >= 2 && pid < 2 + p.kthreads;
            if is_kthread {
                let comm = if pid == 2 {
                    "kthreadd".to_string()
                } else {
                    format!("kworker/{}:0", pid - 3)
                };
                let t = img.k.add_task(&[], 0, None, None);
                img.link_task(t, u64::from(pid), &comm, kthreadd);
                img.k.set(t, "task_struct", "flags", PF_KTHREAD);
                if pid == 2 {
                    kthreadd = t;
                }
                tasks.push((pid, comm, false));
                continue;
            }
            let name = NAMES[(user_i as usize) % NAMES.len()];
            let exe_file = *exe_files.entry(name).or_insert_with(|| {
                img.k
                    .add_file(&["usr", "bin", name], S_IFREG | 0o755, 10_000 + user_i)
            });
            let cwd = img.k.add_path(
                root_d,
                root_sb,
                &["srv", name],
                S_IFDIR | 0o755,
                30_000 + (user_i % 12),
            );
            let log_name = format!("{pid}.log");
            let log = img.k.add_file(
                &["var", "log", name, &log_name],
                S_IFREG | 0o640,
                100_000 + u64::from(pid),
            );
            let pipe = img.k.add_pipe(200_000 + u64::from(pid));
            let mut fds = vec![
                (0, devnull),
                (1, devnull),
                (2, devnull),
                (3, log),
                (4, pipe),
            ];
            if user_i.is_multiple_of(4) {
                let port = 8000 + (user_i % 1000) as u16;
                let sock = img.k.add_inet_socket(
                    300_000 + u64::from(pid),
                    6,
                    10,
                    &[0, 0, 0, 0],
                    port,
                    &[0, 0, 0, 0],
                    0,
                );
                fds.push((5, sock));
            }
            let t = img
                .k
                .add_task(&fds, 64, Some((root_mnt, cwd)), Some((root_mnt, root_d)));
            let parent = if user_i == 0 {
                init
            } else {
                user_tasks[((user_i - 1) / 8) as usize]
            };
            img.link_task(t, u64::from(pid), name, parent);
            user_tasks.push(t);
            tasks.push((pid, name.to_string(), true));

            let lay = Layout::of(pid);
            let vmas = lay.vmas(exe_file, &libs[..]);
            assert_eq!(vmas.len(), 100);
            let info = MmInfo {
                brk: (lay.heap, lay.heap + 0x20_0000),
                start_stack: lay.stack_top - 0x1000,
                vdso: lay.stack_top + 0x10_4000,
            };
            let (mm, _) = img.k.add_mm_maple(&vmas, &info, Internal::Arange, 16);
            // Pages: eight runs, the first of every tenth process across a window boundary.
            let mut tables = Tables::new(&mut img.k);
            let starts = lay.runs();
            let mut phys_of_run = [0u64; 8];
            for (r, va) in starts.iter().enumerate() {
                let phys = if r == 0 && user_i.is_multiple_of(10) {
                    placer.window(&ranges, user_i / 10, u64::from(p.processes).div_ceil(10))
                } else {
                    placer.normal(user_i * 8 + r as u64, n_runs)
                };
                phys_of_run[r] = phys;
                for i in 0..RUN_PAGES {
                    tables.map(&mut img.k, va + i * PAGE, phys + i * PAGE);
                }
                runs.push(UserRun {
                    phys,
                    pid,
                    vaddr: *va,
                });
            }
            let pgd = tables.store(&mut img.k);
            // Arguments and environment at the top of the stack.
            let args = format!("/usr/bin/{name}\0--instance\0{pid}\0");
            let env = format!("PATH=/usr/local/bin:/usr/bin\0HOME=/srv/{name}\0INSTANCE={pid}\0");
            let a0 = lay.stack_top - 0x800;
            let e0 = a0 + args.len() as u64;
            overlays.put(pid, a0, args.as_bytes());
            overlays.put(pid, e0, env.as_bytes());
            let k = &mut img.k;
            k.set(mm, "mm_struct", "pgd", pgd);
            k.set(mm, "mm_struct", "arg_start", a0);
            k.set(mm, "mm_struct", "arg_end", e0);
            k.set(mm, "mm_struct", "env_start", e0);
            k.set(mm, "mm_struct", "env_end", e0 + env.len() as u64);
            k.set(mm, "mm_struct", "exe_file", exe_file);
            k.set(t, "task_struct", "mm", mm);
            k.set(t, "task_struct", "active_mm", mm);
            // Planted strings: (kind, address, run holding it or none).
            let chunk = if user_i.is_multiple_of(10) {
                "window"
            } else {
                "chunk"
            };
            for (kind, va, run) in [
                ("mid", lay.exe + 0x2800, Some(0)),
                ("page", lay.lib + PAGE - 7, Some(3)),
                (chunk, lay.exe + 4 * PAGE - 6, Some(0)),
                ("split", lay.heap + RUN_PAGES * PAGE - 5, None),
            ] {
                let text = plant_text(kind, pid, va);
                overlays.put(pid, va, text.as_bytes());
                plants.push(Plant {
                    pid,
                    vaddr: va,
                    phys: run.map(|r: usize| phys_of_run[r] + (va - starts[r])),
                    kind,
                    text,
                });
            }
            user_i += 1;
        }
        let (mut kernel, _) = img.physical();
        if let Some(at) = p.vmcoreinfo_at {
            let page = kernel
                .remove(&crate::support::kernel_image::VMCOREINFO_AT)
                .unwrap();
            assert!(!kernel.contains_key(&at));
            kernel.insert(at, page);
        }
        runs.sort_by_key(|r| r.phys);
        for w in runs.windows(2) {
            assert!(w[0].phys + RUN_PAGES * PAGE <= w[1].phys, "runs overlap");
        }
        let high = kernel
            .keys()
            .find(|a| **a >= p.user_lo && Some(**a) != p.vmcoreinfo_at);
        assert!(
            high.is_none(),
            "kernel data reaches user frames at {high:#x?}"
        );
        for at in kernel.keys() {
            let i = runs.partition_point(|r| r.phys <= *at);
            let inside = i > 0 && *at < runs[i - 1].phys + RUN_PAGES * PAGE;
            assert!(!inside, "kernel frame {at:#x} inside a user run");
        }
        Dump {
            kernel,
            runs,
            overlays,
            ranges,
            plants,
            isf,
            tasks,
        }
    }

    /// Calls `f` with every frame that is not all zero, in physical address order, and its
    /// bytes.
    pub fn frames(&self, mut f: impl FnMut(u64, &[u8])) {
        let mut page = vec![0u8; PAGE as usize];
        let mut kernel = self.kernel.iter().peekable();
        for run in &self.runs {
            while let Some((at, bytes)) = kernel.next_if(|(at, _)| **at < run.phys) {
                f(*at, bytes);
            }
            for i in 0..RUN_PAGES {
                let va = run.vaddr + i * PAGE;
                filler(run.pid, va, &mut page);
                self.overlays.apply(run.pid, va, &mut page);
                f(run.phys + i * PAGE, &page);
            }
        }
        for (at, bytes) in kernel {
            f(*at, bytes);
        }
    }

    /// Pages that are not zero.
    pub fn data_pages(&self) -> u64 {
        self.kernel.len() as u64 + self.runs.len() as u64 * RUN_PAGES
    }
}
