//! Kernel dump mutations: the physical layout of LiME and ELF dumps ([`PhysMap`], with an
//! x86-64 page-table walk), the facts read from the intact dump ([`DumpFacts`]), and the
//! damage done to headers, page tables and kernel structures ([`dump_mutations`]).

use std::fs;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use super::isf::Isf;
use super::model::{Edit, Mutation, Patches, Rng, Subject, m, u32le, u64le};

/// Physical range -> file offset of a LiME or ELF dump.
#[derive(Clone, Debug, Default)]
pub struct PhysMap {
    /// `(physical start, length, file offset)`.
    pub ranges: Vec<(u64, u64, u64)>,
    /// Offsets of the format's headers (LiME range headers; ELF program headers).
    pub headers: Vec<u64>,
}

pub(super) fn rd(f: &fs::File, off: u64, n: usize) -> Vec<u8> {
    let mut b = vec![0; n];
    f.read_exact_at(&mut b, off).unwrap();
    b
}

fn le64(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().unwrap())
}

impl PhysMap {
    /// The ranges of a LiME file.
    pub fn lime(f: &fs::File) -> PhysMap {
        let len = f.metadata().unwrap().len();
        let mut pm = PhysMap::default();
        let mut off = 0;
        while off + 32 <= len {
            let h = rd(f, off, 32);
            let (s, e) = (le64(&h, 8), le64(&h, 16));
            pm.headers.push(off);
            pm.ranges.push((s, e - s + 1, off + 32));
            off += 32 + e - s + 1;
        }
        pm
    }

    /// The PT_LOAD segments of an ELF64 core.
    pub fn elf(f: &fs::File) -> PhysMap {
        let eh = rd(f, 0, 64);
        let phoff = le64(&eh, 32);
        let phnum = u16::from_le_bytes([eh[56], eh[57]]) as u64;
        let mut pm = PhysMap::default();
        for i in 0..phnum {
            let at = phoff + i * 56;
            let ph = rd(f, at, 56);
            pm.headers.push(at);
            if u32::from_le_bytes(ph[..4].try_into().unwrap()) == 1 {
                pm.ranges.push((le64(&ph, 24), le64(&ph, 32), le64(&ph, 8)));
            }
        }
        pm
    }

    /// The file offset of a physical address.
    pub fn file_offset(&self, pa: u64) -> Option<u64> {
        self.ranges
            .iter()
            .find(|(s, l, _)| pa >= *s && pa < s + l)
            .map(|(s, _, o)| o + (pa - s))
    }

    /// Reads a u64 at a physical address.
    pub fn read_u64(&self, f: &fs::File, pa: u64) -> Option<u64> {
        let off = self.file_offset(pa)?;
        Some(le64(&rd(f, off, 8), 0))
    }

    /// Translates a virtual address through 4-level x86-64 page tables rooted at `dtb`.
    pub fn translate(&self, f: &fs::File, dtb: u64, va: u64) -> Option<u64> {
        const M: u64 = 0x000f_ffff_ffff_f000;
        let mut table = dtb & M;
        for (level, shift) in [(4, 39u64), (3, 30), (2, 21), (1, 12)] {
            let e = self.read_u64(f, table + ((va >> shift) & 0x1ff) * 8)?;
            if e & 1 == 0 {
                return None;
            }
            if (level == 3 || level == 2) && e & 0x80 != 0 {
                let size = 1u64 << shift;
                return Some((e & M & !(size - 1)) | (va & (size - 1)));
            }
            table = e & M;
            if level == 1 {
                return Some(table | (va & 0xfff));
            }
        }
        None
    }
}

/// What the corpus needs to know about a dump to damage its kernel structures.
pub struct DumpFacts {
    /// The page-table root (`info --json` `details.kaslr.dtb`).
    pub dtb: u64,
    /// The virtual KASLR shift.
    pub virtual_shift: u64,
}

/// Reads `details.kaslr` of the intact dump through the binary.
pub fn dump_facts(bin: &Path, dump: &Path, isf: &Path, env: &[(String, PathBuf)]) -> DumpFacts {
    let out = Command::new(bin)
        .args(["info", "--json", "--isf"])
        .arg(isf)
        .arg(dump)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let j: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let hex = |k: &str| {
        let s = j["details"]["kaslr"][k].as_str().unwrap();
        u64::from_str_radix(s.trim_start_matches("0x"), 16).unwrap()
    };
    DumpFacts {
        dtb: hex("dtb"),
        virtual_shift: hex("virtual_shift"),
    }
}

/// Patches that make the task list loop (the second task's `tasks.next` points back at the
/// first, never reaching `init_task` again) and a maple node's first slot point to itself.
fn kernel_structure_patches(
    f: &fs::File,
    pm: &PhysMap,
    isf: &Isf,
    facts: &DumpFacts,
) -> Vec<(&'static str, String, Patches)> {
    let mut out = Vec::new();
    let tr = |va: u64| {
        pm.translate(f, facts.dtb, va)
            .and_then(|pa| pm.file_offset(pa))
    };
    let rv = |va: u64| tr(va).map(|o| le64(&rd(f, o, 8), 0));
    let tasks_off = isf.offset("task_struct", "tasks");
    let mm_off = isf.offset("task_struct", "mm");
    let init = isf.symbol("init_task").wrapping_add(facts.virtual_shift);
    let Some(t1) = rv(init + tasks_off) else {
        return out;
    };
    let Some(t2) = rv(t1) else { return out };
    if let Some(o) = tr(t2) {
        out.push((
            "task-loop",
            "task2.next=task1".to_string(),
            vec![(o, u64le(t1))],
        ));
    }
    if let Some(o) = tr(init + tasks_off) {
        out.push((
            "task-loop",
            "init.next=garbage".to_string(),
            vec![(o, u64le(0xffff_8880_dead_b000))],
        ));
    }
    // A maple tree with an internal root: walk the list until one is found.
    let mt = isf.offset("mm_struct", "mm_mt") + isf.offset("maple_tree", "ma_root");
    let r64 = isf.offset("maple_range_64", "slot");
    let a64 = isf.offset("maple_arange_64", "slot");
    let mut t = t1;
    for _ in 0..200 {
        if t == init + tasks_off {
            break;
        }
        let task = t - tasks_off;
        if let Some(mm) = rv(task + mm_off).filter(|&mm| mm != 0)
            && let Some(root) = rv(mm + mt)
        {
            // The node type is in bits 3..7 of the encoded pointer: 2 = range_64, 3 = arange_64.
            let slot = match (root >> 3) & 0xf {
                2 => Some(r64),
                3 => Some(a64),
                _ => None,
            };
            let node = root & !0xff;
            if let (Some(slot), Some(o)) = (slot, tr(node)) {
                // A node is 256-byte aligned: its slots are in the same page.
                out.push((
                    "maple-loop",
                    "slot0=self".to_string(),
                    vec![(o + slot, u64le(root))],
                ));
                if let Some(ro) = tr(mm + mt) {
                    out.push((
                        "maple-loop",
                        "root=garbage".to_string(),
                        vec![(ro, u64le(0xffff_8880_0000_0016))],
                    ));
                }
                break;
            }
        }
        match rv(t) {
            Some(n) => t = n,
            None => break,
        }
    }
    out
}

/// Mutations of a kernel dump. `path` is the intact dump, `isf` its ISF (file), `facts` from
/// [`dump_facts`].
pub fn dump_mutations(
    subject: Subject,
    path: &Path,
    isf: &Isf,
    facts: &DumpFacts,
) -> Vec<Mutation> {
    let f = fs::File::open(path).unwrap();
    let len = f.metadata().unwrap().len();
    let mut rng = Rng::new(0x5eed_d0d0 ^ subject as u64);
    let mut out = vec![m(
        subject,
        "baseline",
        "intact".into(),
        None,
        Edit::Patch(vec![]),
    )];
    let trunc = |out: &mut Vec<Mutation>, name: String, at: u64| {
        out.push(m(subject, "truncate", name, None, Edit::Truncate(at)));
    };
    for at in [0, 3, 16, 31, 63] {
        trunc(&mut out, format!("at-{at}"), at);
    }
    for k in 0..3 {
        let at = rng.range(64, len);
        trunc(&mut out, format!("random-{k}-{at}"), at);
    }
    out.push(m(
        subject,
        "bad-magic",
        "magic".into(),
        None,
        Edit::Patch(vec![(0, u32le(0x1bad_1bad))]),
    ));
    match subject {
        Subject::Lime => {
            let pm = PhysMap::lime(&f);
            for (i, &h) in pm.headers.iter().enumerate() {
                if i == 0 || i == 4 || i + 1 == pm.headers.len() {
                    trunc(&mut out, format!("range{i}-hdr+20"), h + 20);
                    trunc(&mut out, format!("range{i}-data+100"), h + 32 + 100);
                    out.push(m(
                        subject,
                        "huge-size",
                        format!("range{i}-end=max"),
                        None,
                        Edit::Patch(vec![(h + 16, u64le(u64::MAX))]),
                    ));
                    out.push(m(
                        subject,
                        "huge-size",
                        format!("range{i}-end<start"),
                        None,
                        Edit::Patch(vec![(h + 8, u64le(u64::MAX - 0xfff))]),
                    ));
                    out.push(m(
                        subject,
                        "bad-magic",
                        format!("range{i}-magic"),
                        None,
                        Edit::Patch(vec![(h, u32le(0))]),
                    ));
                    out.push(m(
                        subject,
                        "flip",
                        format!("range{i}-version"),
                        None,
                        Edit::Patch(vec![(h + 4, u32le(0xffff))]),
                    ));
                }
            }
            out.extend(page_table_and_structures(subject, &f, &pm, isf, facts));
        }
        Subject::Elf => {
            let pm = PhysMap::elf(&f);
            let eh = rd(&f, 0, 64);
            let phoff = le64(&eh, 32);
            for (i, &h) in pm.headers.iter().enumerate() {
                trunc(&mut out, format!("phdr{i}+20"), h + 20);
                out.push(m(
                    subject,
                    "huge-size",
                    format!("phdr{i}-filesz=max"),
                    None,
                    Edit::Patch(vec![(h + 32, u64le(u64::MAX))]),
                ));
                out.push(m(
                    subject,
                    "huge-size",
                    format!("phdr{i}-offset=max"),
                    None,
                    Edit::Patch(vec![(h + 8, u64le(u64::MAX - 10))]),
                ));
                out.push(m(
                    subject,
                    "huge-size",
                    format!("phdr{i}-paddr=max"),
                    None,
                    Edit::Patch(vec![(h + 24, u64le(u64::MAX - 0x100))]),
                ));
            }
            out.push(m(
                subject,
                "huge-size",
                "e_phnum=ffff".into(),
                None,
                Edit::Patch(vec![(56, vec![0xff, 0xff])]),
            ));
            out.push(m(
                subject,
                "huge-size",
                "e_phoff=max".into(),
                None,
                Edit::Patch(vec![(32, u64le(u64::MAX - 7))]),
            ));
            out.push(m(
                subject,
                "flip",
                "e_phentsize=1".into(),
                None,
                Edit::Patch(vec![(54, vec![1, 0])]),
            ));
            out.push(m(
                subject,
                "flip",
                "class32".into(),
                None,
                Edit::Patch(vec![(4, vec![1])]),
            ));
            out.push(m(
                subject,
                "flip",
                "note-size".into(),
                None,
                Edit::Patch(vec![(phoff + 32, u64le(0xffff_ffff))]),
            ));
            if let Some(note) = pm.headers.first() {
                let noff = le64(&rd(&f, *note, 56), 8);
                out.push(m(
                    subject,
                    "huge-size",
                    "note-namesz".into(),
                    None,
                    Edit::Patch(vec![(noff, u32le(u32::MAX)), (noff + 4, u32le(u32::MAX))]),
                ));
            }
            trunc(&mut out, "mid-load".into(), len / 2);
            out.extend(page_table_and_structures(subject, &f, &pm, isf, facts));
        }
        Subject::Avml => {
            // header (32) + snappy stream (`ff 06 00 00 sNaPpY`, then chunks) + u64 length.
            trunc(&mut out, "stream-id+4".into(), 32 + 4);
            trunc(&mut out, "chunk1-hdr+2".into(), 32 + 10 + 2);
            trunc(&mut out, "chunk1+100".into(), 32 + 10 + 100);
            trunc(&mut out, "no-trailer".into(), len - 8);
            trunc(&mut out, "trailer+4".into(), len - 4);
            out.push(m(
                subject,
                "huge-size",
                "end=max".into(),
                None,
                Edit::Patch(vec![(16, u64le(u64::MAX))]),
            ));
            out.push(m(
                subject,
                "huge-size",
                "start>end".into(),
                None,
                Edit::Patch(vec![(8, u64le(u64::MAX - 0xfff))]),
            ));
            out.push(m(
                subject,
                "flip",
                "version".into(),
                None,
                Edit::Patch(vec![(4, u32le(1))]),
            ));
            out.push(m(
                subject,
                "flip",
                "stream-id".into(),
                None,
                Edit::Patch(vec![(36, b"XnApPy".to_vec())]),
            ));
            out.push(m(
                subject,
                "huge-size",
                "chunk1-len=ffffff".into(),
                None,
                Edit::Patch(vec![(43, vec![0xff, 0xff, 0xff])]),
            ));
            out.push(m(
                subject,
                "flip",
                "chunk1-type".into(),
                None,
                Edit::Patch(vec![(42, vec![0x02])]),
            ));
            out.push(m(
                subject,
                "flip",
                "chunk1-crc".into(),
                None,
                Edit::Patch(vec![(46, vec![0x55, 0xaa])]),
            ));
            out.push(m(
                subject,
                "flip",
                "chunk1-payload".into(),
                None,
                Edit::Patch(vec![(60, vec![0xff, 0xff, 0xff, 0xff])]),
            ));
            out.push(m(
                subject,
                "huge-size",
                "trailer=max".into(),
                None,
                Edit::Patch(vec![(len - 8, u64le(u64::MAX))]),
            ));
            out.push(m(
                subject,
                "huge-size",
                "trailer=0".into(),
                None,
                Edit::Patch(vec![(len - 8, u64le(0))]),
            ));
            for k in 0..4 {
                let at = rng.range(64, len - 8);
                out.push(m(
                    subject,
                    "flip",
                    format!("random-{k}@{at}"),
                    None,
                    Edit::Patch(vec![(at, vec![0xa5; 8])]),
                ));
            }
        }
        _ => unreachable!(),
    }
    out
}

fn page_table_and_structures(
    subject: Subject,
    f: &fs::File,
    pm: &PhysMap,
    isf: &Isf,
    facts: &DumpFacts,
) -> Vec<Mutation> {
    let mut out = Vec::new();
    if let Some(o) = pm.file_offset(facts.dtb) {
        out.push(m(
            subject,
            "page-tables",
            "dtb-zeroed".into(),
            None,
            Edit::Patch(vec![(o, vec![0; 4096])]),
        ));
        // Every PML4 entry pointing to itself: a cycle in the walk.
        let selfmap: Vec<u8> = (0..512)
            .flat_map(|_| (facts.dtb | 0x63).to_le_bytes())
            .collect();
        out.push(m(
            subject,
            "page-tables",
            "dtb-self-referencing".into(),
            None,
            Edit::Patch(vec![(o, selfmap)]),
        ));
    }
    for (class, name, p) in kernel_structure_patches(f, pm, isf, facts) {
        out.push(m(subject, class, name, None, Edit::Patch(p)));
    }
    out
}
