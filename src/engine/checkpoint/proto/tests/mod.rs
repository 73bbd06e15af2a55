//! Decodes the real images of the CRIU fixtures (CRIU 3.17.1 and 4.2) with these messages and
//! compares them with crit 4.2's decodes in each fixture's `golden/crit-4.2/decode/`.
//!
//! Fixtures are found at `$PODMORTEM_FIXTURES` or `../shared/fixtures`; when absent the tests
//! say so and pass, unless `PODMORTEM_REQUIRE_FIXTURES=1`. Archives are extracted once into
//! `target/fixture-cache/<fixture>/extracted` (the layout `tests/support` uses too).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use prost::Message;
use serde_json::Value;

use super::mm::*;
use super::*;
use crate::engine::checkpoint::image::{IMG_SERVICE, ImageReader, decode_all, decode_first, magic};

const FIXTURES: [&str; 2] = ["criu-counter", "criu-counter-criu42"];

static EXTRACT: Mutex<()> = Mutex::new(());

/// One extracted fixture: its archive root and its crit 4.2 decodes.
struct Fixture {
    name: &'static str,
    root: PathBuf,
    golden: PathBuf,
}

/// Pages listed in all pagemap images of a fixture (its README).
fn total_pages(fx: &Fixture) -> u64 {
    if fx.name == "criu-counter" {
        2353
    } else {
        2307
    }
}

impl Fixture {
    fn image(&self, file: &str) -> Vec<u8> {
        let p = self.root.join("checkpoint").join(file);
        std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
    }

    fn golden(&self, stem: &str) -> Vec<Value> {
        let p = self.golden.join(format!("{stem}.json"));
        let text = std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        let v: Value = serde_json::from_slice(&text).unwrap();
        v["entries"].as_array().unwrap().clone()
    }

    /// Stems (`core-1`, ...) of the golden decodes starting with `prefix`.
    fn stems(&self, prefix: &str) -> Vec<String> {
        let mut out: Vec<String> = std::fs::read_dir(&self.golden)
            .unwrap()
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .filter(|n| n.starts_with(prefix) && n.ends_with(".json"))
            .map(|n| n.trim_end_matches(".json").to_string())
            .collect();
        out.sort();
        assert!(!out.is_empty(), "{}: no golden {prefix}*", self.name);
        out
    }
}

fn fixtures_root() -> Option<PathBuf> {
    let root = std::env::var_os("PODMORTEM_FIXTURES")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/fixtures"));
    if root.is_dir() {
        return Some(root);
    }
    if std::env::var("PODMORTEM_REQUIRE_FIXTURES").as_deref() == Ok("1") {
        panic!(
            "fixtures not found at {} and PODMORTEM_REQUIRE_FIXTURES=1",
            root.display()
        );
    }
    eprintln!(
        "skipping: CRIU fixtures not found at {} (set PODMORTEM_FIXTURES)",
        root.display()
    );
    None
}

/// Extracts `<fixture>/checkpoint-counter.tar.zst` once (atomically) and returns both
/// fixtures, or `None` when the fixtures are absent and not required.
fn fixtures() -> Option<Vec<Fixture>> {
    let root = fixtures_root()?;
    let _guard = EXTRACT.lock().unwrap_or_else(|e| e.into_inner());
    let mut out = Vec::new();
    for name in FIXTURES {
        let src = root.join(name);
        let cache = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("target/fixture-cache")
            .join(name);
        let dest = cache.join("extracted");
        if !dest.join("checkpoint").is_dir() {
            std::fs::create_dir_all(&cache).unwrap();
            let tmp = cache.join(format!("extracted.tmp-proto{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&tmp);
            std::fs::create_dir_all(&tmp).unwrap();
            let file = std::fs::File::open(src.join("checkpoint-counter.tar.zst")).unwrap();
            let dec = zstd::stream::read::Decoder::new(file).unwrap();
            tar::Archive::new(dec).unpack(&tmp).unwrap();
            // Another test process may have won the race: keep its copy.
            if std::fs::rename(&tmp, &dest).is_err() {
                let _ = std::fs::remove_dir_all(&tmp);
            }
        }
        assert!(
            dest.join("checkpoint").is_dir(),
            "{name}: extraction failed"
        );
        out.push(Fixture {
            name,
            root: dest,
            golden: src.join("golden/crit-4.2/decode"),
        });
    }
    Some(out)
}

fn u(v: &Value) -> u64 {
    match v {
        Value::Number(n) => n.as_u64().unwrap(),
        Value::String(s) => u64::from_str_radix(s.trim_start_matches("0x"), 16).unwrap(),
        other => panic!("not a number: {other}"),
    }
}

/// crit's `"A | B"` rendering of a flag word, turned back into bits with `table`.
fn bits(v: &Value, table: &[(&str, u32)]) -> u32 {
    let s = v.as_str().unwrap();
    s.split(" | ")
        .filter(|n| !n.is_empty())
        .map(|n| match table.iter().find(|(name, _)| *name == n) {
            Some((_, bit)) => *bit,
            None => u32::try_from(u(&Value::String(n.into()))).unwrap(),
        })
        .fold(0, |a, b| a | b)
}

fn all<M: Message + Default>(fx: &Fixture, file: &str, want: u32) -> Vec<M> {
    let data = fx.image(file);
    let (msgs, problems) = decode_all::<M>(file, &data, want, "test").unwrap();
    assert!(problems.is_empty(), "{}/{file}: {problems:?}", fx.name);
    msgs
}

fn first<M: Message + Default>(fx: &Fixture, file: &str, want: u32) -> M {
    let data = fx.image(file);
    let (msg, problem) = decode_first::<M>(file, &data, want, "test").unwrap();
    assert!(problem.is_none(), "{}/{file}: {problem:?}", fx.name);
    msg
}

#[test]
fn pstree_matches_crit() {
    let Some(fxs) = fixtures() else { return };
    for fx in &fxs {
        let got: Vec<PstreeEntry> = all(fx, "pstree.img", magic::PSTREE);
        let want = fx.golden("pstree");
        assert_eq!(got.len(), want.len());
        assert_eq!(got.len(), 3);
        for (g, w) in got.iter().zip(&want) {
            assert_eq!(u64::from(g.pid), u(&w["pid"]));
            assert_eq!(u64::from(g.ppid), u(&w["ppid"]));
            assert_eq!(u64::from(g.pgid), u(&w["pgid"]));
            assert_eq!(u64::from(g.sid), u(&w["sid"]));
            let threads: Vec<u64> = w["threads"].as_array().unwrap().iter().map(u).collect();
            assert_eq!(
                g.threads.iter().map(|&t| u64::from(t)).collect::<Vec<_>>(),
                threads
            );
        }
        assert_eq!(got[0].ppid, 0);
        assert!(got[1..].iter().all(|e| e.ppid == got[0].pid));
    }
}

#[test]
fn core_matches_crit() {
    let Some(fxs) = fixtures() else { return };
    for fx in &fxs {
        for stem in fx.stems("core-") {
            let got: CoreEntry = first(fx, &format!("{stem}.img"), magic::CORE);
            let w = &fx.golden(&stem)[0];
            assert_eq!(w["mtype"], "X86_64");
            assert_eq!(got.mtype(), March::X86_64);
            let tc = got.tc.as_ref().unwrap();
            assert_eq!(
                String::from_utf8_lossy(&tc.comm),
                w["tc"]["comm"].as_str().unwrap()
            );
            assert_eq!(w["tc"]["task_state"], "Alive");
            assert_eq!(tc.task_state, task_state::ALIVE);
            assert_eq!(u64::from(tc.flags), u(&w["tc"]["flags"]));
            assert_eq!(tc.loginuid, Some(u32::MAX));
            let th = got.thread_core.as_ref().unwrap();
            let wth = &w["thread_core"];
            assert_eq!(
                String::from_utf8_lossy(th.comm.as_deref().unwrap()),
                wth["comm"].as_str().unwrap()
            );
            let creds = th.creds.as_ref().unwrap();
            for (field, value) in [
                ("uid", creds.uid),
                ("gid", creds.gid),
                ("euid", creds.euid),
                ("egid", creds.egid),
                ("fsuid", creds.fsuid),
            ] {
                assert_eq!(u64::from(value), u(&wth["creds"][field]), "{stem} {field}");
            }
            let caps: Vec<u64> = wth["creds"]["cap_eff"]
                .as_array()
                .unwrap()
                .iter()
                .map(u)
                .collect();
            assert_eq!(
                creds
                    .cap_eff
                    .iter()
                    .map(|&c| u64::from(c))
                    .collect::<Vec<_>>(),
                caps
            );
            let regs = got.thread_info.as_ref().unwrap().gpregs.as_ref().unwrap();
            let wr = &w["thread_info"]["gpregs"];
            for (field, value) in [
                ("ip", regs.ip),
                ("sp", regs.sp),
                ("bp", regs.bp),
                ("ax", regs.ax),
                ("orig_ax", regs.orig_ax),
                ("r15", regs.r15),
                ("fs_base", regs.fs_base),
                ("cs", regs.cs),
                ("ss", regs.ss),
                ("flags", regs.flags),
            ] {
                assert_eq!(value, u(&wr[field]), "{stem} {field}");
            }
            assert_eq!(wr["mode"], "NATIVE");
            assert_eq!(regs.mode(), UserX86RegsMode::Native);
        }
    }
}

const PROT: &[(&str, u32)] = &[
    ("PROT_READ", PROT_READ),
    ("PROT_WRITE", PROT_WRITE),
    ("PROT_EXEC", PROT_EXEC),
];
const MAP: &[(&str, u32)] = &[
    ("MAP_SHARED", MAP_SHARED),
    ("MAP_PRIVATE", MAP_PRIVATE),
    ("MAP_ANON", MAP_ANONYMOUS),
    ("MAP_GROWSDOWN", MAP_GROWSDOWN),
];
const STATUS: &[(&str, u32)] = &[
    ("VMA_AREA_REGULAR", VMA_AREA_REGULAR),
    ("VMA_AREA_STACK", VMA_AREA_STACK),
    ("VMA_AREA_VSYSCALL", VMA_AREA_VSYSCALL),
    ("VMA_AREA_VDSO", VMA_AREA_VDSO),
    ("VMA_AREA_HEAP", VMA_AREA_HEAP),
    ("VMA_FILE_PRIVATE", VMA_FILE_PRIVATE),
    ("VMA_FILE_SHARED", VMA_FILE_SHARED),
    ("VMA_ANON_SHARED", VMA_ANON_SHARED),
    ("VMA_ANON_PRIVATE", VMA_ANON_PRIVATE),
    ("VMA_AREA_SYSVIPC", VMA_AREA_SYSVIPC),
    ("VMA_AREA_SOCKET", VMA_AREA_SOCKET),
    ("VMA_AREA_VVAR", VMA_AREA_VVAR),
    ("VMA_AREA_AIORING", VMA_AREA_AIORING),
    ("VMA_AREA_MEMFD", VMA_AREA_MEMFD),
    ("VMA_AREA_SHSTK", VMA_AREA_SHSTK),
    ("VMA_AREA_UPROBES", VMA_AREA_UPROBES),
    ("VMA_UNSUPP", VMA_UNSUPP),
];

#[test]
fn mm_matches_crit() {
    let Some(fxs) = fixtures() else { return };
    for fx in &fxs {
        let mut counts = Vec::new();
        for stem in fx.stems("mm-") {
            let got: MmEntry = first(fx, &format!("{stem}.img"), magic::MM);
            let w = &fx.golden(&stem)[0];
            for (field, value) in [
                ("mm_start_code", got.mm_start_code),
                ("mm_end_code", got.mm_end_code),
                ("mm_start_stack", got.mm_start_stack),
                ("mm_brk", got.mm_brk),
                ("mm_arg_start", got.mm_arg_start),
                ("mm_arg_end", got.mm_arg_end),
                ("mm_env_start", got.mm_env_start),
                ("mm_env_end", got.mm_env_end),
            ] {
                assert_eq!(value, u(&w[field]), "{stem} {field}");
            }
            assert_eq!(u64::from(got.exe_file_id), u(&w["exe_file_id"]));
            let wv = w["vmas"].as_array().unwrap();
            assert_eq!(got.vmas.len(), wv.len(), "{stem}");
            counts.push(got.vmas.len());
            for (g, wv) in got.vmas.iter().zip(wv) {
                assert_eq!(g.start, u(&wv["start"]));
                assert_eq!(g.end, u(&wv["end"]));
                assert_eq!(g.pgoff, u(&wv["pgoff"]));
                assert_eq!(g.shmid, u(&wv["shmid"]));
                assert_eq!(g.fd, -1);
                assert_eq!(g.prot, bits(&wv["prot"], PROT), "{stem} {:#x}", g.start);
                assert_eq!(g.flags, bits(&wv["flags"], MAP), "{stem} {:#x}", g.start);
                assert_eq!(
                    g.status,
                    bits(&wv["status"], STATUS),
                    "{stem} {:#x}",
                    g.start
                );
            }
            let first_vma = &got.vmas[0];
            assert_eq!(first_vma.status, VMA_AREA_REGULAR | VMA_FILE_PRIVATE);
            assert_eq!(first_vma.flags, MAP_PRIVATE);
        }
        // bash, counter.py, tee (README: 28, 78, 22 VMAs).
        assert_eq!(counts.iter().sum::<usize>(), 28 + 78 + 22, "{}", fx.name);
    }
}

#[test]
fn pagemap_counts_from_both_fields() {
    let Some(fxs) = fixtures() else { return };
    for fx in &fxs {
        let mut total = 0;
        for stem in fx.stems("pagemap-") {
            let data = fx.image(&format!("{stem}.img"));
            let mut reader = ImageReader::expect(&stem, &data, magic::PAGEMAP, "pagemap").unwrap();
            let head = PagemapHead::decode(reader.next_entry().unwrap().unwrap().bytes).unwrap();
            let want = fx.golden(&stem);
            assert_eq!(u64::from(head.pages_id), u(&want[0]["pages_id"]));
            let mut n = 0;
            let mut present = 0;
            while let Some(entry) = reader.next_entry().unwrap() {
                let pe = PagemapEntry::decode(entry.bytes).unwrap();
                let w = &want[n + 1];
                assert_eq!(pe.vaddr, u(&w["vaddr"]));
                if fx.name == "criu-counter" {
                    // CRIU 3.17: the count is field 2 only.
                    assert_eq!(pe.nr_pages, None);
                    assert_eq!(
                        pe.compat_nr_pages.map(u64::from),
                        Some(u(&w["compat_nr_pages"]))
                    );
                } else {
                    // CRIU 4.2: field 2 is written as 0, the count is field 5.
                    assert_eq!(pe.compat_nr_pages, Some(0));
                    assert_eq!(pe.nr_pages, Some(u(&w["nr_pages"])));
                }
                let flags = bits(
                    &w["flags"],
                    &[
                        ("PE_PARENT", PE_PARENT),
                        ("PE_LAZY", PE_LAZY),
                        ("PE_PRESENT", PE_PRESENT),
                    ],
                );
                assert_eq!(pe.flags, Some(flags));
                assert_eq!(pe.in_parent, None);
                assert!(pe.is_present());
                assert!(pe.page_count() > 0);
                total += pe.page_count();
                if pe.is_present() {
                    present += pe.page_count();
                }
                n += 1;
            }
            assert_eq!(n + 1, want.len(), "{stem}");
            // Only present runs take space in the pages file, 4 KiB per page.
            let pages = fx.image(&format!("pages-{}.img", head.pages_id));
            assert_eq!(present * 4096, pages.len() as u64, "{stem}");
        }
        assert_eq!(total, total_pages(fx), "{}", fx.name);
    }
}

#[test]
fn files_and_fdinfo_match_crit() {
    let Some(fxs) = fixtures() else { return };
    for fx in &fxs {
        let got: Vec<FileEntry> = all(fx, "files.img", magic::FILES);
        let want = fx.golden("files");
        assert_eq!(got.len(), want.len());
        for (g, w) in got.iter().zip(&want) {
            assert_eq!(u64::from(g.id), u(&w["id"]));
            let kind = format!("{:?}", g.r#type()).to_uppercase();
            assert_eq!(kind, w["type"].as_str().unwrap(), "file {}", g.id);
            match g.r#type() {
                FdTypes::Reg => {
                    let r = g.reg.as_ref().unwrap();
                    let wr = &w["reg"];
                    assert_eq!(r.id, g.id);
                    assert_eq!(
                        String::from_utf8_lossy(&r.name),
                        wr["name"].as_str().unwrap()
                    );
                    assert_eq!(r.pos, u(&wr["pos"]));
                    assert_eq!(r.mnt_id.map(|m| m as u64), Some(u(&wr["mnt_id"])));
                    assert_eq!(r.size, wr.get("size").map(u));
                    assert_eq!(r.mode.map(u64::from), wr.get("mode").map(u));
                    let build_id: Vec<u64> = wr
                        .get("build_id")
                        .map(|b| b.as_array().unwrap().iter().map(u).collect())
                        .unwrap_or_default();
                    assert_eq!(
                        r.build_id.iter().map(|&b| u64::from(b)).collect::<Vec<_>>(),
                        build_id
                    );
                }
                FdTypes::Pipe => {
                    let p = g.pipe.as_ref().unwrap();
                    assert_eq!(u64::from(p.pipe_id), u(&w["pipe"]["pipe_id"]));
                    assert_eq!(u64::from(p.flags), u(&w["pipe"]["flags"]));
                }
                FdTypes::Inetsk => {
                    let s = g.isk.as_ref().unwrap();
                    let ws = &w["isk"];
                    assert_eq!(u64::from(s.ino), u(&ws["ino"]));
                    assert_eq!((s.src_port, s.dst_port), (8088, 0));
                    assert_eq!(u64::from(s.backlog), u(&ws["backlog"]));
                    assert_eq!(s.family, sk_inet::AF_INET);
                    assert_eq!(s.r#type, sk_inet::SOCK_STREAM);
                    assert_eq!(s.proto, sk_inet::IPPROTO_TCP);
                    assert_eq!(s.state, tcp_state::LISTEN);
                    assert_eq!(
                        (s.src_addr.as_slice(), s.dst_addr.as_slice()),
                        (&[0][..], &[0][..])
                    );
                    assert_eq!(s.ns_id.map(u64::from), Some(u(&ws["ns_id"])));
                    let opts = s.opts.as_ref().unwrap();
                    assert_eq!(u64::from(opts.so_rcvbuf), u(&ws["opts"]["so_rcvbuf"]));
                    assert_eq!(opts.reuseaddr, Some(true));
                }
                other => panic!("{}: unexpected file kind {other:?}", fx.name),
            }
        }
        let names: Vec<_> = got
            .iter()
            .filter_map(|f| f.reg.as_ref())
            .map(|r| r.name.as_slice())
            .collect();
        assert!(names.contains(&&b"/usr/bin/python3.11"[..]));
        assert!(names.contains(&&b"/home/counter/logfile"[..]));

        for stem in fx.stems("fdinfo-") {
            let got: Vec<FdinfoEntry> = all(fx, &format!("{stem}.img"), magic::FDINFO);
            let want = fx.golden(&stem);
            assert_eq!(got.len(), want.len(), "{stem}");
            for (g, w) in got.iter().zip(&want) {
                assert_eq!(u64::from(g.id), u(&w["id"]));
                assert_eq!(u64::from(g.flags), u(&w["flags"]));
                assert_eq!(u64::from(g.fd), u(&w["fd"]));
                assert_eq!(
                    format!("{:?}", g.r#type()).to_uppercase(),
                    w["type"].as_str().unwrap()
                );
            }
        }
    }
}

/// The python process: pid 6 under CRIU 3.17, pid 7 under 4.2.
fn python_pid(fx: &Fixture) -> u32 {
    if fx.name == "criu-counter" { 6 } else { 7 }
}

#[test]
fn python_process_listens_on_8088() {
    let Some(fxs) = fixtures() else { return };
    for fx in &fxs {
        let pid = python_pid(fx);
        let ids: TaskKobjIdsEntry = first(fx, &format!("ids-{pid}.img"), magic::IDS);
        let fds: Vec<FdinfoEntry> = all(fx, &format!("fdinfo-{}.img", ids.files_id), magic::FDINFO);
        let files: Vec<FileEntry> = all(fx, "files.img", magic::FILES);
        let sockets: Vec<&InetSkEntry> = fds
            .iter()
            .filter(|fd| fd.r#type() == FdTypes::Inetsk)
            .filter_map(|fd| files.iter().find(|f| f.id == fd.id)?.isk.as_ref())
            .collect();
        assert_eq!(sockets.len(), 1, "{}", fx.name);
        assert_eq!(
            (sockets[0].src_port, sockets[0].state),
            (8088, tcp_state::LISTEN)
        );
    }
}

#[test]
fn small_images_match_crit() {
    let Some(fxs) = fixtures() else { return };
    for fx in &fxs {
        for stem in fx.stems("fs-") {
            let got: FsEntry = first(fx, &format!("{stem}.img"), magic::FS);
            let w = &fx.golden(&stem)[0];
            assert_eq!(u64::from(got.cwd_id), u(&w["cwd_id"]));
            assert_eq!(u64::from(got.root_id), u(&w["root_id"]));
            assert_eq!(got.umask.map(u64::from), Some(u(&w["umask"])));
        }
        for stem in fx.stems("ids-") {
            let got: TaskKobjIdsEntry = first(fx, &format!("{stem}.img"), magic::IDS);
            let w = &fx.golden(&stem)[0];
            check_ids(&got, w);
        }
        for stem in fx.stems("utsns-") {
            let got: UtsnsEntry = first(fx, &format!("{stem}.img"), magic::UTSNS);
            let w = &fx.golden(&stem)[0];
            assert_eq!(
                String::from_utf8_lossy(&got.nodename),
                w["nodename"].as_str().unwrap()
            );
            assert_eq!(String::from_utf8_lossy(&got.domainname), "(none)");
        }
        for stem in fx.stems("timens-") {
            let got: TimensEntry = first(fx, &format!("{stem}.img"), magic::TIMENS);
            let w = &fx.golden(&stem)[0];
            let mono = got.monotonic.as_ref().unwrap();
            let boot = got.boottime.as_ref().unwrap();
            assert_eq!(mono.tv_sec, u(&w["monotonic"]["tv_sec"]));
            assert_eq!(mono.tv_nsec, u(&w["monotonic"]["tv_nsec"]));
            assert_eq!(boot.tv_sec, u(&w["boottime"]["tv_sec"]));
            assert_eq!(boot.tv_nsec, u(&w["boottime"]["tv_nsec"]));
        }

        let inv: InventoryEntry = first(fx, "inventory.img", magic::INVENTORY);
        let w = &fx.golden("inventory")[0];
        assert_eq!(u64::from(inv.img_version), u(&w["img_version"]));
        assert_eq!(inv.fdinfo_per_id, Some(true));
        assert_eq!(inv.ns_per_id, Some(true));
        assert_eq!(inv.lsmtype(), Lsmtype::Apparmor);
        assert_eq!(inv.root_cg_set.map(u64::from), Some(u(&w["root_cg_set"])));
        check_ids(inv.root_ids.as_ref().unwrap(), &w["root_ids"]);

        let data = std::fs::read(fx.root.join("stats-dump")).unwrap();
        assert_eq!(data[..4], IMG_SERVICE.to_le_bytes());
        let (stats, problem) =
            decode_first::<StatsEntry>("stats-dump", &data, magic::STATS, "stats").unwrap();
        assert!(problem.is_none());
        let dump = stats.dump.as_ref().unwrap();
        let w = &fx.golden("stats-dump")[0]["dump"];
        assert!(stats.restore.is_none());
        assert_eq!(u64::from(dump.freezing_time), u(&w["freezing_time"]));
        assert_eq!(u64::from(dump.frozen_time), u(&w["frozen_time"]));
        assert_eq!(dump.pages_scanned, u(&w["pages_scanned"]));
        assert_eq!(dump.pages_written, u(&w["pages_written"]));
        assert_eq!(dump.pages_written, total_pages(fx));
        assert_eq!(dump.page_pipes, Some(u(&w["page_pipes"])));
        assert_eq!(dump.shpages_written, Some(u(&w["shpages_written"])));
    }
}

fn check_ids(got: &TaskKobjIdsEntry, w: &Value) {
    for (field, value) in [
        ("vm_id", Some(got.vm_id)),
        ("files_id", Some(got.files_id)),
        ("fs_id", Some(got.fs_id)),
        ("sighand_id", Some(got.sighand_id)),
        ("pid_ns_id", got.pid_ns_id),
        ("net_ns_id", got.net_ns_id),
        ("ipc_ns_id", got.ipc_ns_id),
        ("uts_ns_id", got.uts_ns_id),
        ("mnt_ns_id", got.mnt_ns_id),
        ("user_ns_id", got.user_ns_id),
        ("cgroup_ns_id", got.cgroup_ns_id),
        ("time_ns_id", got.time_ns_id),
    ] {
        assert_eq!(value.map(u64::from), w.get(field).map(u), "{field}");
    }
}

mod synthetic;
