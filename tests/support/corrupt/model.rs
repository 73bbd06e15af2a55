//! The mutation model: the seeded RNG, what a mutation damages ([`Subject`]) and how
//! ([`Edit`], [`IsfEdit`]), the [`Mutation`] record, and [`apply`] for in-memory files.

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

pub(super) fn m(
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

pub(super) fn u32le(v: u32) -> Vec<u8> {
    v.to_le_bytes().to_vec()
}

pub(super) fn u64le(v: u64) -> Vec<u8> {
    v.to_le_bytes().to_vec()
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
