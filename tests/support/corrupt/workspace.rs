//! The workspace under `target/corruption/<set>/`: the intact [`Sources`], materialising a
//! mutation as evidence ([`Workspace::prepare`], undone by [`Workspace::finish`]) and the CLI
//! [`commands`] run on it.

use std::collections::BTreeMap;
use std::fs;
use std::io::{Read, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use super::dump::rd;
use super::isf::{edit_isf, isf_bytes};
use super::model::{Edit, IsfEdit, Mutation, Patches, Subject, apply};

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
    // Extraction goes beside the evidence's folder (never into it), overwriting earlier runs.
    let out = p
        .evidence
        .parent()
        .unwrap_or(Path::new("."))
        .join("extract-out")
        .display()
        .to_string();
    cmds.push(s(&[
        "extract", &ev, "-o", &out, "--pid", pid, "--vma", addr, "--force",
    ]));
    if subject.is_dump() {
        cmds.push(s(&["modules", "--json", &ev]));
    }
    if !subject.is_dump() {
        cmds.push(s(&["rootfs", &ev]));
        cmds.push(s(&["rootfs", "--cat", "home/counter/logfile", &ev]));
        cmds.push(s(&["extract", &ev, "-o", &out, "--all-files", "--force"]));
    }
    if let Some(isf) = &p.isf {
        for c in &mut cmds {
            c.push("--isf".into());
            c.push(isf.display().to_string());
        }
    }
    if subject.is_dump() {
        // Once more with no ISF: the symbols come from the damaged dump's own BTF and
        // kallsyms.
        cmds.push(s(&["ps", "--json", &ev]));
    }
    cmds
}
