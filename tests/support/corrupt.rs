//! The corruption corpus: deterministic mutations of the shared fixtures (truncations, flipped
//! header bytes, huge size fields, bad magics, zeroed page tables, a looping task list, a maple
//! node that points to itself, wrong or damaged ISFs), a runner that executes the real binary
//! on each under a wall-clock timeout and an address-space limit, and the classification of
//! what it did (ok, clean error, panic, hang, over-allocation).
//!
//! Mutated files live under `target/corruption/<set>/`, never next to the fixtures. Small
//! evidence (the checkpoint tar and its extracted folder) is rewritten per mutation; the big
//! dumps are copied once per set and patched in place, the original bytes written back after
//! each mutation (a `dirty` marker makes an interrupted run copy them again).

use std::collections::BTreeMap;
use std::fs;
use std::io::{Read, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// A seeded PRNG (splitmix64): the same corpus on every run.
pub struct Rng(u64);

impl Rng {
    /// A generator for `seed`.
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `lo..hi` (`lo` when the range is empty).
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        if hi <= lo {
            lo
        } else {
            lo + self.next_u64() % (hi - lo)
        }
    }
}

// ---------------------------------------------------------------------------------------
// Subjects and mutations
// ---------------------------------------------------------------------------------------

/// Which piece of evidence a mutation damages.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Subject {
    /// criu-counter's checkpoint-counter.tar.
    Tar,
    /// The same, extracted into a folder.
    Folder,
    /// linux-6.1 dump.lime.
    Lime,
    /// linux-6.1 dump.avml.
    Avml,
    /// linux-6.1-node dump.elf.
    Elf,
}

impl Subject {
    /// Short name used in mutation names and file names.
    pub fn name(self) -> &'static str {
        match self {
            Subject::Tar => "tar",
            Subject::Folder => "folder",
            Subject::Lime => "lime",
            Subject::Avml => "avml",
            Subject::Elf => "elf",
        }
    }

    /// Whether this is a kernel dump (needs `--isf`).
    pub fn is_dump(self) -> bool {
        matches!(self, Subject::Lime | Subject::Avml | Subject::Elf)
    }
}

/// How an ISF is damaged (the dump itself is left intact).
#[derive(Clone, Debug)]
pub enum IsfEdit {
    /// The other fixture's ISF.
    Wrong,
    /// A field removed from a structure (anonymous members searched too).
    DeleteField(&'static str, &'static str),
    /// A whole type removed.
    DeleteType(&'static str),
    /// A symbol removed.
    DeleteSymbol(&'static str),
    /// The JSON cut after this many bytes.
    Truncate(u64),
}

/// Bytes written at file offsets.
pub type Patches = Vec<(u64, Vec<u8>)>;

/// What is done to the subject.
#[derive(Clone, Debug)]
pub enum Edit {
    /// Cut the file (a folder member when `member` is set) to this length.
    Truncate(u64),
    /// Overwrite bytes at these offsets.
    Patch(Vec<(u64, Vec<u8>)>),
    /// Leave the evidence intact, damage the ISF.
    Isf(IsfEdit),
}

/// One mutation of the corpus.
#[derive(Clone, Debug)]
pub struct Mutation {
    /// Unique, stable name (`tar/trunc-hdr-config.dump+124`).
    pub name: String,
    /// The class it counts under in the table.
    pub class: &'static str,
    /// What is damaged.
    pub subject: Subject,
    /// For folders: the member file (relative path).
    pub member: Option<String>,
    /// The damage.
    pub edit: Edit,
}

fn m(
    subject: Subject,
    class: &'static str,
    name: String,
    member: Option<&str>,
    edit: Edit,
) -> Mutation {
    Mutation {
        name: format!("{}/{class}/{name}", subject.name()),
        class,
        subject,
        member: member.map(str::to_string),
        edit,
    }
}

fn u32le(v: u32) -> Vec<u8> {
    v.to_le_bytes().to_vec()
}

fn u64le(v: u64) -> Vec<u8> {
    v.to_le_bytes().to_vec()
}

// ---------------------------------------------------------------------------------------
// Checkpoints
// ---------------------------------------------------------------------------------------

/// A tar member: header offset, data offset, size.
#[derive(Clone, Debug)]
pub struct TarMember {
    /// Member name.
    pub name: String,
    /// Offset of its 512-byte header.
    pub header: u64,
    /// Offset of its data.
    pub data: u64,
    /// Its size.
    pub size: u64,
}

/// The members of a plain ustar archive (enough for the fixture).
pub fn tar_members(bytes: &[u8]) -> Vec<TarMember> {
    let mut out = Vec::new();
    let mut off = 0usize;
    while off + 512 <= bytes.len() {
        let h = &bytes[off..off + 512];
        if h.iter().all(|&b| b == 0) {
            break;
        }
        let name = String::from_utf8_lossy(&h[..100])
            .trim_end_matches('\0')
            .to_string();
        let size_txt = String::from_utf8_lossy(&h[124..136])
            .trim_matches(|c| c == '\0' || c == ' ')
            .to_string();
        let size = u64::from_str_radix(&size_txt, 8).unwrap_or(0);
        out.push(TarMember {
            name,
            header: off as u64,
            data: off as u64 + 512,
            size,
        });
        off += 512 + (size as usize).div_ceil(512) * 512;
    }
    out
}

/// Offsets of the CRIU entries (`u32` size prefixes) in an image, after its magics.
fn criu_entries(img: &[u8], name: &str) -> Vec<u64> {
    let base = name.rsplit('/').next().unwrap_or(name);
    let mut off: usize = if base == "inventory.img" { 4 } else { 8 };
    let mut out = Vec::new();
    while off + 4 <= img.len() && out.len() < 64 {
        out.push(off as u64);
        let len = u32::from_le_bytes(img[off..off + 4].try_into().unwrap()) as usize;
        off += 4 + len;
    }
    out
}

fn is_criu_image(name: &str) -> bool {
    name.ends_with(".img") && !name.contains("pages-") && !name.contains(".tar.gz")
}

/// Mutations of one CRIU image (offsets relative to the image): magic, size prefixes set to
/// 0xffffffff or one more than the data, truncations inside entries, random flips.
fn image_edits(img: &[u8], name: &str, rng: &mut Rng) -> Vec<(&'static str, String, Edit)> {
    let mut v = Vec::new();
    let base = name.rsplit('/').next().unwrap_or(name).to_string();
    v.push((
        "bad-magic",
        format!("{base}@0"),
        Edit::Patch(vec![(0, u32le(0xdead_beef))]),
    ));
    if base != "inventory.img" {
        v.push((
            "bad-magic",
            format!("{base}@4"),
            Edit::Patch(vec![(4, u32le(0x0bad_f00d))]),
        ));
    }
    let entries = criu_entries(img, name);
    for (i, &e) in entries.iter().enumerate().take(4) {
        v.push((
            "huge-size",
            format!("{base}#{i}=ffffffff"),
            Edit::Patch(vec![(e, u32le(u32::MAX))]),
        ));
        let len = u32::from_le_bytes(img[e as usize..e as usize + 4].try_into().unwrap());
        v.push((
            "huge-size",
            format!("{base}#{i}=len+1"),
            Edit::Patch(vec![(e, u32le(len.wrapping_add(1)))]),
        ));
        v.push(("truncate", format!("{base}#{i}+2"), Edit::Truncate(e + 2)));
        if len > 2 {
            v.push((
                "truncate",
                format!("{base}#{i}+mid"),
                Edit::Truncate(e + 4 + u64::from(len) / 2),
            ));
        }
    }
    if img.len() > 12 {
        for k in 0..3 {
            let at = rng.range(8, img.len() as u64);
            let b = (rng.next_u64() & 0xff) as u8 | 0x80;
            v.push((
                "flip",
                format!("{base}@{at}^{k}"),
                Edit::Patch(vec![(at, vec![img[at as usize] ^ b])]),
            ));
        }
    }
    v
}

/// The mutations of the checkpoint archive and of its extracted folder.
pub fn checkpoint_mutations(tar: &[u8]) -> Vec<Mutation> {
    let mut rng = Rng::new(0x5eed_c0de_0000_0001);
    let members = tar_members(tar);
    let mut out = vec![m(
        Subject::Tar,
        "baseline",
        "intact".into(),
        None,
        Edit::Patch(vec![]),
    )];
    let len = tar.len() as u64;
    // The archive: truncations inside headers and data, header fields.
    for mem in &members {
        let short = mem
            .name
            .trim_end_matches('/')
            .rsplit('/')
            .next()
            .unwrap_or("")
            .to_string();
        for d in [0u64, 100, 124, 257, 511] {
            out.push(m(
                Subject::Tar,
                "truncate",
                format!("hdr-{short}+{d}"),
                None,
                Edit::Truncate(mem.header + d),
            ));
        }
        if mem.size > 8 {
            out.push(m(
                Subject::Tar,
                "truncate",
                format!("data-{short}+mid"),
                None,
                Edit::Truncate(mem.data + mem.size / 2),
            ));
        }
        out.push(m(
            Subject::Tar,
            "huge-size",
            format!("hdr-size-{short}"),
            None,
            Edit::Patch(vec![(mem.header + 124, b"77777777777\0".to_vec())]),
        ));
        out.push(m(
            Subject::Tar,
            "flip",
            format!("hdr-size-garbage-{short}"),
            None,
            Edit::Patch(vec![(mem.header + 124, b"9z\xff".to_vec())]),
        ));
        out.push(m(
            Subject::Tar,
            "flip",
            format!("hdr-chksum-{short}"),
            None,
            Edit::Patch(vec![(mem.header + 148, b"0000000\0".to_vec())]),
        ));
        out.push(m(
            Subject::Tar,
            "bad-magic",
            format!("hdr-ustar-{short}"),
            None,
            Edit::Patch(vec![(mem.header + 257, b"XXXXX\0".to_vec())]),
        ));
        out.push(m(
            Subject::Tar,
            "flip",
            format!("hdr-name-{short}"),
            None,
            Edit::Patch(vec![(mem.header, b"../../etc/\xff\x1b[2J".to_vec())]),
        ));
        if is_criu_image(&mem.name) && mem.size >= 8 {
            let img = &tar[mem.data as usize..(mem.data + mem.size) as usize];
            for (class, name, e) in image_edits(img, &mem.name, &mut rng) {
                let e = match e {
                    Edit::Patch(p) => {
                        Edit::Patch(p.into_iter().map(|(o, b)| (o + mem.data, b)).collect())
                    }
                    Edit::Truncate(n) => Edit::Truncate(n + mem.data),
                    other => other,
                };
                out.push(m(Subject::Tar, class, name, None, e));
            }
        }
    }
    for k in 0..40 {
        out.push(m(
            Subject::Tar,
            "truncate",
            format!("random-{k}"),
            None,
            Edit::Truncate(rng.range(0, len)),
        ));
    }
    for k in 0..40 {
        let at = rng.range(0, len);
        out.push(m(
            Subject::Tar,
            "flip",
            format!("random-{k}@{at}"),
            None,
            Edit::Patch(vec![(at, vec![tar[at as usize] ^ 0xff])]),
        ));
    }
    // The folder: each CRIU image damaged in place, pages files truncated.
    out.push(m(
        Subject::Folder,
        "baseline",
        "intact".into(),
        None,
        Edit::Patch(vec![]),
    ));
    for mem in &members {
        let rel = mem.name.as_str();
        if mem.size == 0 || rel.ends_with('/') {
            continue;
        }
        let img = &tar[mem.data as usize..(mem.data + mem.size) as usize];
        if is_criu_image(rel) && mem.size >= 8 {
            for (class, name, e) in image_edits(img, rel, &mut rng) {
                out.push(m(Subject::Folder, class, name, Some(rel), e));
            }
        } else if rel.contains("pages-") {
            for frac in [0u64, 1, 2] {
                let n = mem.size * frac / 3 + if frac == 0 { 0 } else { 100 };
                out.push(m(
                    Subject::Folder,
                    "truncate",
                    format!("{rel}+{n}"),
                    Some(rel),
                    Edit::Truncate(n),
                ));
            }
        } else {
            out.push(m(
                Subject::Folder,
                "truncate",
                format!("{rel}+half"),
                Some(rel),
                Edit::Truncate(mem.size / 2),
            ));
            let at = rng.range(0, mem.size);
            out.push(m(
                Subject::Folder,
                "flip",
                format!("{rel}@{at}"),
                Some(rel),
                Edit::Patch(vec![(at, vec![img[at as usize] ^ 0x5a])]),
            ));
        }
    }
    out
}

// ---------------------------------------------------------------------------------------
// Kernel dumps: physical layout, ISF offsets, page tables
// ---------------------------------------------------------------------------------------

/// Physical range -> file offset of a LiME or ELF dump.
#[derive(Clone, Debug, Default)]
pub struct PhysMap {
    /// `(physical start, length, file offset)`.
    pub ranges: Vec<(u64, u64, u64)>,
    /// Offsets of the format's headers (LiME range headers; ELF program headers).
    pub headers: Vec<u64>,
}

fn rd(f: &fs::File, off: u64, n: usize) -> Vec<u8> {
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

/// The parts of an ISF the corpus needs.
pub struct Isf {
    json: serde_json::Value,
}

impl Isf {
    /// Loads an ISF (`.json` or `.json.xz`, through the `xz` tool for the latter).
    pub fn load(path: &Path) -> Isf {
        Isf {
            json: serde_json::from_slice(&isf_bytes(path)).unwrap(),
        }
    }

    /// The offset of `field` in `ty`, looking through anonymous members.
    pub fn offset(&self, ty: &str, field: &str) -> u64 {
        self.find(ty, field)
            .unwrap_or_else(|| panic!("{ty}.{field} not in ISF"))
    }

    fn find(&self, ty: &str, field: &str) -> Option<u64> {
        let fields = self.json["user_types"][ty]["fields"].as_object()?;
        if let Some(f) = fields.get(field) {
            return f["offset"].as_u64();
        }
        for f in fields.values() {
            if f["anonymous"].as_bool() == Some(true)
                && let Some(inner) = f["type"]["name"].as_str()
                && let Some(o) = self.find(inner, field)
            {
                return Some(f["offset"].as_u64()? + o);
            }
        }
        None
    }

    /// The (unslid) address of a symbol.
    pub fn symbol(&self, name: &str) -> u64 {
        self.json["symbols"][name]["address"].as_u64().unwrap()
    }
}

/// The bytes of an ISF file, decompressed.
pub fn isf_bytes(path: &Path) -> Vec<u8> {
    if path.extension().is_some_and(|e| e == "xz") {
        let out = Command::new("xz")
            .arg("-dc")
            .arg(path)
            .output()
            .expect("xz");
        assert!(out.status.success());
        out.stdout
    } else {
        fs::read(path).unwrap()
    }
}

/// Applies an [`IsfEdit`] to a decompressed ISF.
pub fn edit_isf(bytes: &[u8], edit: &IsfEdit) -> Vec<u8> {
    if let IsfEdit::Truncate(n) = edit {
        return bytes[..(*n as usize).min(bytes.len())].to_vec();
    }
    let mut j: serde_json::Value = serde_json::from_slice(bytes).unwrap();
    match edit {
        IsfEdit::DeleteField(ty, field) => {
            let isf = Isf { json: j.clone() };
            // Remove it from whichever (possibly anonymous) type holds it.
            let mut owner = ty.to_string();
            loop {
                let fields = &isf.json["user_types"][&owner]["fields"];
                if fields.get(*field).is_some() {
                    break;
                }
                let next = fields
                    .as_object()
                    .unwrap()
                    .values()
                    .filter(|f| f["anonymous"].as_bool() == Some(true))
                    .filter_map(|f| f["type"]["name"].as_str())
                    .find(|n| isf.find(n, field).is_some())
                    .unwrap()
                    .to_string();
                owner = next;
            }
            j["user_types"][&owner]["fields"]
                .as_object_mut()
                .unwrap()
                .remove(*field);
        }
        IsfEdit::DeleteType(ty) => {
            j["user_types"].as_object_mut().unwrap().remove(*ty);
        }
        IsfEdit::DeleteSymbol(s) => {
            j["symbols"].as_object_mut().unwrap().remove(*s);
        }
        IsfEdit::Wrong | IsfEdit::Truncate(_) => {}
    }
    serde_json::to_vec(&j).unwrap()
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

/// ISF mutations, applied to `subject` (a dump).
pub fn isf_mutations(subject: Subject) -> Vec<Mutation> {
    let e = |name: &str, edit: IsfEdit| m(subject, "isf", name.to_string(), None, Edit::Isf(edit));
    vec![
        e("wrong-kernel", IsfEdit::Wrong),
        e(
            "no-task_struct.tasks",
            IsfEdit::DeleteField("task_struct", "tasks"),
        ),
        e(
            "no-mm_struct.mm_mt",
            IsfEdit::DeleteField("mm_struct", "mm_mt"),
        ),
        e(
            "no-task_struct.comm",
            IsfEdit::DeleteField("task_struct", "comm"),
        ),
        e(
            "no-type-maple_range_64",
            IsfEdit::DeleteType("maple_range_64"),
        ),
        e("no-type-list_head", IsfEdit::DeleteType("list_head")),
        e("no-symbol-init_task", IsfEdit::DeleteSymbol("init_task")),
        e(
            "no-symbol-linux_banner",
            IsfEdit::DeleteSymbol("linux_banner"),
        ),
        e("truncated-json", IsfEdit::Truncate(20_000_000)),
        e("truncated-json-tiny", IsfEdit::Truncate(100)),
    ]
}

// ---------------------------------------------------------------------------------------
// Running the binary
// ---------------------------------------------------------------------------------------

/// What one run of the binary did.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Outcome {
    /// Exit 0.
    Ok,
    /// Exit 1, the error names the file and where (an offset, a structure, the ISF).
    CleanError,
    /// Exit 1 naming the file but no offset or structure.
    ErrorNoLocation,
    /// Exit 1 without naming the file.
    ErrorUnnamed,
    /// A panic (exit 101), a stack overflow or another crash.
    Panic,
    /// Killed after the timeout.
    Hang,
    /// An allocation failure under the address-space limit (abort).
    OverAllocation,
    /// Anything else (usage error...).
    Other,
}

impl Outcome {
    /// Column names of the counts table.
    pub const ALL: [Outcome; 8] = [
        Outcome::Ok,
        Outcome::CleanError,
        Outcome::ErrorNoLocation,
        Outcome::ErrorUnnamed,
        Outcome::Panic,
        Outcome::Hang,
        Outcome::OverAllocation,
        Outcome::Other,
    ];

    /// A short label.
    pub fn label(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::CleanError => "clean error",
            Outcome::ErrorNoLocation => "error (no offset)",
            Outcome::ErrorUnnamed => "error (no file)",
            Outcome::Panic => "panic",
            Outcome::Hang => "hang",
            Outcome::OverAllocation => "over-allocation",
            Outcome::Other => "other",
        }
    }

    /// Whether this outcome is a bug.
    pub fn is_bug(self) -> bool {
        matches!(
            self,
            Outcome::Panic | Outcome::Hang | Outcome::OverAllocation | Outcome::Other
        )
    }
}

/// One run's record.
#[derive(Clone, Debug)]
pub struct Run {
    /// The mutation's name.
    pub mutation: String,
    /// The mutation's class.
    pub class: &'static str,
    /// The command line (without the binary).
    pub args: Vec<String>,
    /// The outcome.
    pub outcome: Outcome,
    /// The tail of stderr.
    pub stderr: String,
    /// Wall time.
    pub elapsed: Duration,
}

/// Words that say where in the evidence an error is.
const LOCATION_WORDS: &[&str] = &[
    "offset",
    "at 0x",
    "ISF",
    "isf",
    "task_struct",
    "mm_struct",
    "maple",
    "vm_area_struct",
    "page table",
    "dtb",
    "DTB",
    "linux_banner",
    "init_task",
    "symbol",
    "LiME",
    "AVML",
    "ELF",
    "snappy",
    "program header",
    "member",
    "entry",
    "pid",
    "missing",
    ".img",
];

/// Classifies a finished (or killed) run.
pub fn classify(
    status: Option<std::process::ExitStatus>,
    stderr: &str,
    names: &[String],
) -> Outcome {
    use std::os::unix::process::ExitStatusExt;
    let Some(status) = status else {
        return Outcome::Hang;
    };
    if stderr.contains("memory allocation of")
        || stderr.contains("capacity overflow") && !stderr.contains("panicked")
    {
        return Outcome::OverAllocation;
    }
    if stderr.contains("panicked")
        || stderr.contains("overflowed its stack")
        || status.code() == Some(101)
    {
        return Outcome::Panic;
    }
    if status.signal() == Some(6) || status.code() == Some(134) {
        return Outcome::OverAllocation;
    }
    match status.code() {
        Some(0) => Outcome::Ok,
        Some(1) => {
            if !names.iter().any(|n| stderr.contains(n.as_str())) {
                Outcome::ErrorUnnamed
            } else if LOCATION_WORDS.iter().any(|w| stderr.contains(w)) {
                Outcome::CleanError
            } else {
                Outcome::ErrorNoLocation
            }
        }
        None => Outcome::Panic, // killed by another signal (SIGSEGV...)
        _ => Outcome::Other,
    }
}

/// Runs `bin args` with a timeout and an address-space limit; returns the status (`None` on
/// timeout, the process killed) and stderr.
pub fn run_limited(
    bin: &Path,
    args: &[String],
    as_limit: u64,
    timeout: Duration,
    env: &[(String, PathBuf)],
    scratch: &Path,
) -> (Option<std::process::ExitStatus>, String, Duration) {
    let err_path = scratch.join("stderr.txt");
    let err_file = fs::File::create(&err_path).unwrap();
    let mut cmd = if Path::new("/usr/bin/prlimit").exists() || which("prlimit") {
        let mut c = Command::new("prlimit");
        c.arg(format!("--as={as_limit}"))
            .arg("--")
            .arg(bin)
            .args(args);
        c
    } else {
        let mut c = Command::new("sh");
        c.arg("-c")
            .arg(format!(
                "ulimit -v {} && exec \"$0\" \"$@\"",
                as_limit / 1024
            ))
            .arg(bin)
            .args(args);
        c
    };
    cmd.stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(err_file);
    cmd.envs(env.iter().map(|(k, v)| (k, v)));
    cmd.env("RUST_BACKTRACE", "0");
    let start = Instant::now();
    let mut child = cmd.spawn().unwrap();
    let status = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break Some(st);
        }
        if start.elapsed() > timeout {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let elapsed = start.elapsed();
    let mut s = String::new();
    let _ = fs::File::open(&err_path).and_then(|mut f| f.read_to_string(&mut s));
    if s.len() > 2000 {
        let cut = s.len() - 2000;
        let cut = (cut..s.len())
            .find(|&i| s.is_char_boundary(i))
            .unwrap_or(s.len());
        s = s[cut..].to_string();
    }
    (status, s, elapsed)
}

fn which(tool: &str) -> bool {
    Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {tool} >/dev/null"))
        .status()
        .is_ok_and(|s| s.success())
}

// ---------------------------------------------------------------------------------------
// The workspace: materialising mutations
// ---------------------------------------------------------------------------------------

/// The intact evidence the corpus starts from.
pub struct Sources {
    /// criu-counter's tar (decompressed).
    pub tar: PathBuf,
    /// Its extracted folder.
    pub folder: PathBuf,
    /// linux-6.1 dump.lime, dump.avml and their ISF (file).
    pub lime: PathBuf,
    /// linux-6.1 dump.avml.
    pub avml: PathBuf,
    /// linux-6.1-node dump.elf.
    pub elf: PathBuf,
    /// linux-6.1's ISF (file).
    pub isf_61: PathBuf,
    /// linux-6.1-node's ISF (file).
    pub isf_node: PathBuf,
}

/// Mutated copies under `target/corruption/<set>/`.
pub struct Workspace {
    /// The folder.
    pub dir: PathBuf,
    src: Sources,
    tar_bytes: Vec<u8>,
    isf_cache: BTreeMap<String, PathBuf>,
}

/// Evidence ready to be opened, and what to restore afterwards.
pub struct Prepared {
    /// The evidence path to give the binary.
    pub evidence: PathBuf,
    /// `--isf` for dumps.
    pub isf: Option<PathBuf>,
    /// Size counted against the address-space limit.
    pub size: u64,
    /// Strings that name the damaged file in an error.
    pub names: Vec<String>,
    restore: Option<(PathBuf, Patches)>,
    restore_whole: Option<(PathBuf, Vec<u8>)>,
    remove: Option<PathBuf>,
}

fn copy_writable(from: &Path, to: &Path) {
    fs::copy(from, to).unwrap();
    let mut p = fs::metadata(to).unwrap().permissions();
    #[allow(clippy::permissions_set_readonly_false)]
    p.set_readonly(false);
    fs::set_permissions(to, p).unwrap();
}

fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for e in fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let t = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &t);
        } else {
            copy_writable(&e.path(), &t);
        }
    }
}

fn dir_size(p: &Path) -> u64 {
    fs::read_dir(p)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            if e.file_type().unwrap().is_dir() {
                dir_size(&e.path())
            } else {
                e.metadata().unwrap().len()
            }
        })
        .sum()
}

impl Workspace {
    /// A workspace for `set` (`sample`, `full`, `tui`).
    pub fn new(set: &str, src: Sources) -> Workspace {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("target/corruption")
            .join(set);
        fs::create_dir_all(&dir).unwrap();
        let tar_bytes = fs::read(&src.tar).unwrap();
        Workspace {
            dir,
            src,
            tar_bytes,
            isf_cache: BTreeMap::new(),
        }
    }

    /// The intact sources.
    pub fn sources(&self) -> &Sources {
        &self.src
    }

    /// The intact tar's bytes.
    pub fn tar_bytes(&self) -> &[u8] {
        &self.tar_bytes
    }

    fn source_of(&self, s: Subject) -> &Path {
        match s {
            Subject::Tar => &self.src.tar,
            Subject::Folder => &self.src.folder,
            Subject::Lime => &self.src.lime,
            Subject::Avml => &self.src.avml,
            Subject::Elf => &self.src.elf,
        }
    }

    /// The ISF of a dump subject.
    pub fn isf_of(&self, s: Subject) -> &Path {
        if s == Subject::Elf {
            &self.src.isf_node
        } else {
            &self.src.isf_61
        }
    }

    /// A pristine working copy of a dump or of the folder (copied once, re-copied when a
    /// previous run was interrupted while it was patched).
    fn work_copy(&self, s: Subject) -> PathBuf {
        let src = self.source_of(s);
        let name = src.file_name().unwrap();
        let work = self.dir.join(format!("work-{}", s.name())).join(name);
        let dirty = self.dir.join(format!("work-{}.dirty", s.name()));
        let fresh = work.exists() && !dirty.exists();
        if !fresh {
            let _ = fs::remove_dir_all(work.parent().unwrap());
            fs::create_dir_all(work.parent().unwrap()).unwrap();
            if s == Subject::Folder {
                copy_dir(src, &work)
            } else {
                copy_writable(src, &work)
            }
            let _ = fs::remove_file(&dirty);
        }
        work
    }

    /// Writes the mutated evidence.
    pub fn prepare(&mut self, mu: &Mutation) -> Prepared {
        let mut p = Prepared {
            evidence: PathBuf::new(),
            isf: None,
            size: 0,
            names: vec![],
            restore: None,
            restore_whole: None,
            remove: None,
        };
        if mu.subject.is_dump() {
            p.isf = Some(self.isf_of(mu.subject).to_path_buf());
        }
        match (mu.subject, &mu.edit) {
            (Subject::Tar, edit) => {
                let out = self.dir.join("checkpoint-counter.tar");
                let mut bytes = self.tar_bytes.clone();
                apply(&mut bytes, edit);
                fs::write(&out, &bytes).unwrap();
                p.size = bytes.len() as u64;
                p.evidence = out;
            }
            (Subject::Folder, edit) => {
                let work = self.work_copy(Subject::Folder);
                p.size = dir_size(&work);
                if let Some(rel) = &mu.member {
                    let file = work.join(rel);
                    let orig = fs::read(&file).unwrap();
                    let mut bytes = orig.clone();
                    apply(&mut bytes, edit);
                    fs::write(self.dir.join("work-folder.dirty"), b"").unwrap();
                    fs::write(&file, &bytes).unwrap();
                    p.restore_whole = Some((file, orig));
                    p.names.push(rel.rsplit('/').next().unwrap().to_string());
                }
                p.evidence = work;
            }
            (s, Edit::Truncate(n)) => {
                let out = self.dir.join(format!("truncated.{}", s.name()));
                let mut from = fs::File::open(self.source_of(s)).unwrap().take(*n);
                let mut to = fs::File::create(&out).unwrap();
                std::io::copy(&mut from, &mut to).unwrap();
                to.flush().unwrap();
                p.size = *n;
                p.remove = Some(out.clone());
                p.evidence = out;
            }
            (s, Edit::Patch(patches)) => {
                let work = self.work_copy(s);
                let f = fs::OpenOptions::new()
                    .read(true)
                    .write(true)
                    .open(&work)
                    .unwrap();
                let mut saved = Vec::new();
                if !patches.is_empty() {
                    fs::write(self.dir.join(format!("work-{}.dirty", s.name())), b"").unwrap();
                }
                for (off, b) in patches {
                    saved.push((*off, rd(&f, *off, b.len())));
                    f.write_all_at(b, *off).unwrap();
                }
                p.size = f.metadata().unwrap().len();
                p.restore = Some((work.clone(), saved));
                p.evidence = work;
            }
            (s, Edit::Isf(edit)) => {
                p.evidence = self.work_copy(s);
                p.size = fs::metadata(&p.evidence).unwrap().len();
                p.isf = Some(self.isf_file(s, edit));
            }
        }
        p.names.push(p.evidence.display().to_string());
        if let Some(isf) = &p.isf {
            p.names.push(isf.display().to_string());
        }
        p
    }

    fn isf_file(&mut self, s: Subject, edit: &IsfEdit) -> PathBuf {
        if let IsfEdit::Wrong = edit {
            return if s == Subject::Elf {
                self.src.isf_61.clone()
            } else {
                self.src.isf_node.clone()
            };
        }
        let key =
            format!("{}-{edit:?}", s.name()).replace(|c: char| !c.is_ascii_alphanumeric(), "_");
        if let Some(p) = self.isf_cache.get(&key) {
            return p.clone();
        }
        let out = self.dir.join("isf").join(format!("{key}.json"));
        if !out.exists() {
            fs::create_dir_all(out.parent().unwrap()).unwrap();
            let bytes = edit_isf(&isf_bytes(self.isf_of(s)), edit);
            let tmp = out.with_extension("tmp");
            fs::write(&tmp, bytes).unwrap();
            fs::rename(&tmp, &out).unwrap();
        }
        self.isf_cache.insert(key, out.clone());
        out
    }

    /// Undoes [`Workspace::prepare`].
    pub fn finish(&self, p: Prepared) {
        if let Some((path, saved)) = p.restore {
            let f = fs::OpenOptions::new().write(true).open(&path).unwrap();
            for (off, b) in saved {
                f.write_all_at(&b, off).unwrap();
            }
            f.sync_all().unwrap();
            let s = if path.to_string_lossy().contains("work-elf") {
                "elf"
            } else if path.to_string_lossy().contains("work-avml") {
                "avml"
            } else {
                "lime"
            };
            let _ = fs::remove_file(self.dir.join(format!("work-{s}.dirty")));
        }
        if let Some((path, orig)) = p.restore_whole {
            fs::write(&path, orig).unwrap();
            let _ = fs::remove_file(self.dir.join("work-folder.dirty"));
        }
        if let Some(r) = p.remove {
            let _ = fs::remove_file(r);
        }
    }
}

/// Applies a byte-level edit to an in-memory file.
pub fn apply(bytes: &mut Vec<u8>, edit: &Edit) {
    match edit {
        Edit::Truncate(n) => bytes.truncate(*n as usize),
        Edit::Patch(ps) => {
            for (off, b) in ps {
                let off = *off as usize;
                if off + b.len() <= bytes.len() {
                    bytes[off..off + b.len()].copy_from_slice(b);
                }
            }
        }
        Edit::Isf(_) => {}
    }
}

/// The CLI commands run on each mutation.
pub fn commands(subject: Subject, p: &Prepared) -> Vec<Vec<String>> {
    let ev = p.evidence.display().to_string();
    let (pid, addr) = match subject {
        Subject::Tar | Subject::Folder => ("6", "0x7f184469f2a0"),
        Subject::Lime | Subject::Avml => ("102", "0x400000"),
        Subject::Elf => ("516", "0x400000"),
    };
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<String>>();
    let mut cmds = vec![
        s(&["info", "--json", &ev]),
        s(&["ps", &ev]),
        s(&["maps", "--pid", pid, &ev]),
        s(&["env", &ev]),
        s(&["files", "--json", &ev]),
        s(&["read", "--pid", pid, "--addr", addr, "--len", "4096", &ev]),
        s(&["search", "--regex", "RANDOM_[0-9]+_KEY", &ev]),
    ];
    if !subject.is_dump() {
        cmds.push(s(&["rootfs", &ev]));
        cmds.push(s(&["rootfs", "--cat", "home/counter/logfile", &ev]));
    }
    if let Some(isf) = &p.isf {
        for c in &mut cmds {
            c.push("--isf".into());
            c.push(isf.display().to_string());
        }
    }
    cmds
}

/// Counts per class and outcome, printed as a table.
pub fn table(runs: &[Run]) -> String {
    let mut classes: BTreeMap<&str, BTreeMap<Outcome, usize>> = BTreeMap::new();
    for r in runs {
        *classes
            .entry(r.class)
            .or_default()
            .entry(r.outcome)
            .or_default() += 1;
        *classes
            .entry("TOTAL")
            .or_default()
            .entry(r.outcome)
            .or_default() += 1;
    }
    let mut s = format!("{:<14}", "class");
    for o in Outcome::ALL {
        s.push_str(&format!("{:>18}", o.label()));
    }
    s.push('\n');
    let mut rows: Vec<_> = classes.into_iter().collect();
    rows.sort_by_key(|(c, _)| *c == "TOTAL");
    for (c, counts) in rows {
        s.push_str(&format!("{c:<14}"));
        for o in Outcome::ALL {
            s.push_str(&format!("{:>18}", counts.get(&o).copied().unwrap_or(0)));
        }
        s.push('\n');
    }
    s
}
