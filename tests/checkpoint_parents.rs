//! Incremental dumps: CRIU's pre-dump chains keep pages that did not change since a
//! pre-dump only in the parent images (`parent` link of an images folder; Podman's
//! `--with-previous` exports carry them in `pre-checkpoint/`). A two-level chain reads as
//! the full dump of the same moment would, in an archive and in a folder; a missing parent
//! and a parent link leading outside the evidence are reported, never guessed or followed.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use crate::support;

use std::sync::atomic::AtomicBool;

use podmortem::engine::checkpoint::Checkpoint;
use podmortem::engine::checkpoint::pagemap::{PAGE_SIZE, PE_PARENT, PE_PRESENT};
use podmortem::engine::evidence::Evidence;
use podmortem::engine::search::{Collect, SearchRequest, search};
use support::ckpt::{self, Pm};

const BASE: u64 = 0x7f00_0000_0000;
const PAGES: u64 = 8;

/// One dump level of the process: `present` pages with their fill byte; every other page
/// of the area is in the parent.
fn level(present: &[(u64, u8)]) -> ckpt::Checkpoint {
    let mut p = ckpt::anon_proc("app", BASE, PAGES);
    let mut pagemap = Vec::new();
    for i in 0..PAGES {
        let fill = present.iter().find(|(p, _)| *p == i).map(|(_, f)| *f);
        if let Some(f) = fill {
            p.poke(BASE + i * PAGE_SIZE, &vec![f; PAGE_SIZE as usize]);
        }
        pagemap.push(Pm {
            vaddr: BASE + i * PAGE_SIZE,
            nr_pages: 1,
            flags: Some(if fill.is_some() {
                PE_PRESENT
            } else {
                PE_PARENT
            }),
            in_parent: None,
            compat: false,
        });
    }
    p.pagemap = Some(pagemap);
    ckpt::one_proc(p, "chain")
}

/// The three levels: A (oldest, every page), B (pages 0-1 changed), C (the final dump:
/// pages 0, 6, 7 changed). What a full dump of C's moment holds, page by page.
fn chain() -> (Vec<(String, Vec<u8>)>, Vec<u8>) {
    let a: Vec<(u64, u8)> = (0..PAGES).map(|i| (i, 0xa0 + i as u8)).collect();
    let b = [(0, 0xb0), (1, 0xb1)];
    let c = [(0, 0xc0), (6, 0xc6), (7, 0xc7)];
    let mut members = Vec::new();
    for (lvl, dir) in [
        (level(&c), "checkpoint/"),
        (level(&b), "pre-checkpoint/"),
        (level(&a), "pre2/"),
    ] {
        for (name, data) in lvl.members() {
            if let Some(img) = name.strip_prefix("checkpoint/") {
                members.push((format!("{dir}{img}"), data));
            } else if dir == "checkpoint/" {
                members.push((name, data));
            }
        }
    }
    let mut want = Vec::new();
    for fill in [0xc0u8, 0xb1, 0xa2, 0xa3, 0xa4, 0xa5, 0xc6, 0xc7] {
        want.extend(std::iter::repeat_n(fill, PAGE_SIZE as usize));
    }
    (members, want)
}

fn tar_of(members: &[(String, Vec<u8>)], links: &[(&str, &str)]) -> Checkpoint {
    ckpt::open_tar("chain.tar", ckpt::tar_of(members, links)).unwrap()
}

const LINKS: [(&str, &str); 2] = [
    ("checkpoint/parent", "../pre-checkpoint"),
    ("pre-checkpoint/parent", "../pre2"),
];

fn memory(ck: &Checkpoint) -> (Vec<u8>, usize) {
    let mut buf = vec![0u8; (PAGES * PAGE_SIZE) as usize];
    let got = ck.read_memory(1, BASE, &mut buf).unwrap();
    (buf, got.captured_len())
}

#[test]
fn a_two_level_chain_reads_as_the_full_dump() {
    let (members, want) = chain();
    let ck = tar_of(&members, &LINKS);
    assert!(ck.info().warnings.is_empty(), "{:?}", ck.info().warnings);
    let (got, captured) = memory(&ck);
    assert_eq!(captured, want.len());
    assert!(got == want, "bytes differ from the full dump's");
    assert_eq!(
        ck.captured_ranges(1, 0..u64::MAX).unwrap(),
        vec![BASE..BASE + PAGES * PAGE_SIZE]
    );
    // Search sees every level: the fill bytes of pages from C, B and A.
    let mut sink = Collect::default();
    let req = SearchRequest {
        regex: regex::bytes::Regex::new(r"(?-u)\xb1\xa2|\xa5\xc6").unwrap(),
        pids: None,
    };
    search(&ck, &req, &AtomicBool::new(false), &mut sink).unwrap();
    let addrs: Vec<u64> = sink.hits.iter().map(|h| h.address).collect();
    assert_eq!(addrs, [BASE + 2 * PAGE_SIZE - 1, BASE + 6 * PAGE_SIZE - 1]);
}

#[test]
fn the_chain_in_an_extracted_folder() {
    let (members, want) = chain();
    let dir = tempfile::tempdir().unwrap();
    for (name, data) in &members {
        let path = dir.path().join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, data).unwrap();
    }
    for (from, to) in LINKS {
        std::os::unix::fs::symlink(to, dir.path().join(from)).unwrap();
    }
    let ck = Checkpoint::open(dir.path()).unwrap();
    assert!(ck.info().warnings.is_empty(), "{:?}", ck.info().warnings);
    assert!(memory(&ck).0 == want);
}

#[test]
fn a_missing_or_outside_parent_is_reported_not_guessed() {
    let (members, _) = chain();
    // The grandparent is gone: pages 2-5 (only in A) are not captured, and info says why.
    let without_a: Vec<(String, Vec<u8>)> = members
        .iter()
        .filter(|(n, _)| !n.starts_with("pre2/"))
        .cloned()
        .collect();
    let ck = tar_of(&without_a, &LINKS);
    let (got, captured) = memory(&ck);
    assert_eq!(captured, 4 * PAGE_SIZE as usize);
    assert_eq!(got[(2 * PAGE_SIZE) as usize], 0);
    let warnings = ck.info().warnings.join("\n");
    assert!(warnings.contains("not in the evidence"), "{warnings}");
    // A link leading out of the evidence is not followed.
    for to in ["../../etc", "/var/lib/criu/1"] {
        let ck = tar_of(&members, &[("checkpoint/parent", to)]);
        let warnings = ck.info().warnings.join("\n");
        assert!(
            warnings.contains("outside the evidence"),
            "{to}: {warnings}"
        );
        assert_eq!(memory(&ck).1, 3 * PAGE_SIZE as usize);
    }
    // A loop of parent links ends.
    let ck = tar_of(
        &members,
        &[
            ("checkpoint/parent", "../pre-checkpoint"),
            ("pre-checkpoint/parent", "../checkpoint"),
        ],
    );
    let (_, captured) = memory(&ck);
    assert!(captured >= 3 * PAGE_SIZE as usize);
}

/// The chain of [`chain`] as a `.tar` file on disk, for the binary and the workbench.
fn chain_file(dir: &std::path::Path) -> std::path::PathBuf {
    let (members, _) = chain();
    let path = dir.join("chain.tar");
    std::fs::write(&path, ckpt::tar_of(&members, &LINKS)).unwrap();
    path
}

/// Page `i` of the area as a range.
fn page(i: u64) -> std::ops::Range<u64> {
    BASE + i * PAGE_SIZE..BASE + (i + 1) * PAGE_SIZE
}

#[test]
fn every_byte_names_the_level_it_came_from() {
    use podmortem::engine::evidence::{Absence, PageSource, SourcedRange};
    let (members, _) = chain();
    let ck = tar_of(&members, &LINKS);
    assert_eq!(ck.memory_levels(1), 3);
    let parent = |depth: u32, images: &str| PageSource::Parent {
        depth,
        images: images.into(),
    };
    let run = |r: std::ops::Range<u64>, source: PageSource| SourcedRange {
        start: r.start,
        end: r.end,
        source,
    };
    // C holds pages 0, 6, 7; B page 1; A pages 2-5. Around the area: nothing dumped.
    let got = ck
        .memory_sources(1, BASE - PAGE_SIZE..BASE + (PAGES + 1) * PAGE_SIZE)
        .unwrap();
    let not_dumped = PageSource::NotCaptured {
        why: Absence::NotDumped,
    };
    assert_eq!(
        got,
        [
            run(BASE - PAGE_SIZE..BASE, not_dumped.clone()),
            run(page(0), PageSource::ThisDump),
            run(page(1), parent(1, "pre-checkpoint")),
            run(page(2).start..page(5).end, parent(2, "pre2")),
            run(page(6).start..page(7).end, PageSource::ThisDump),
            run(page(8), not_dumped),
        ]
    );
    // A range inside one page is cut to it.
    let mid = page(3).start + 10;
    assert_eq!(
        ck.memory_sources(1, mid..mid + 5).unwrap(),
        [run(mid..mid + 5, parent(2, "pre2"))]
    );
    // Without the grandparent, its pages are in a parent image that is not here.
    let without_a: Vec<(String, Vec<u8>)> = members
        .iter()
        .filter(|(n, _)| !n.starts_with("pre2/"))
        .cloned()
        .collect();
    let ck = tar_of(&without_a, &LINKS);
    assert_eq!(ck.memory_levels(1), 2);
    assert_eq!(
        ck.memory_sources(1, page(2)).unwrap(),
        [run(
            page(2),
            PageSource::NotCaptured {
                why: Absence::ParentMissing
            }
        )]
    );
    // A single-level dump: this dump only.
    let mut p = ckpt::anon_proc("app", BASE, 2);
    p.poke(BASE, b"x");
    let c = ckpt::one_proc(p, "one");
    let ck = ckpt::open_tar("one.tar", c.to_tar()).unwrap();
    assert_eq!(ck.memory_levels(1), 1);
    assert_eq!(
        ck.memory_sources(1, page(0)).unwrap(),
        [run(page(0), PageSource::ThisDump)]
    );
}

#[test]
fn read_says_where_each_range_came_from() {
    use std::process::Command;
    let dir = tempfile::tempdir().unwrap();
    let path = chain_file(dir.path());
    let run = |extra: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_podmortem"))
            .arg("read")
            .arg(&path)
            .args(["--pid", "1", "--addr", &format!("{:#x}", page(0).end - 2)])
            .args(["--len", &(PAGE_SIZE + 4).to_string()])
            .args(extra)
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        String::from_utf8(out.stdout).unwrap()
    };
    let v: serde_json::Value = serde_json::from_str(&run(&["--json"])).unwrap();
    assert_eq!(v["pid"], 1);
    assert_eq!(v["address"], format!("{:#x}", page(0).end - 2));
    assert_eq!(v["len"], PAGE_SIZE + 4);
    assert_eq!(v["captured"], PAGE_SIZE + 4);
    let hex = v["hex"].as_str().unwrap();
    assert!(
        hex.starts_with("c0c0b1b1") && hex.ends_with("b1b1a2a2"),
        "{hex}"
    );
    let sources = serde_json::json!([
        {"start": format!("{:#x}", page(0).end - 2), "end": format!("{:#x}", page(1).start),
         "source": "this_dump"},
        {"start": format!("{:#x}", page(1).start), "end": format!("{:#x}", page(1).end),
         "source": "parent", "depth": 1, "images": "pre-checkpoint"},
        {"start": format!("{:#x}", page(2).start), "end": format!("{:#x}", page(2).start + 2),
         "source": "parent", "depth": 2, "images": "pre2"},
    ]);
    assert_eq!(v["sources"], sources);
    // The hexdump ends with the same, in words.
    let text = run(&[]);
    let tail: Vec<&str> = text.lines().skip_while(|l| *l != "sources:").collect();
    assert_eq!(
        tail,
        [
            "sources:".to_string(),
            format!(
                "  {:016x}-{:016x}  this dump",
                page(0).end - 2,
                page(1).start
            ),
            format!(
                "  {:016x}-{:016x}  parent 1 (pre-checkpoint)",
                page(1).start,
                page(1).end
            ),
            format!(
                "  {:016x}-{:016x}  parent 2 (pre2)",
                page(2).start,
                page(2).start + 2
            ),
        ]
    );
}

#[test]
fn the_hex_viewer_names_the_level_of_the_cursor() {
    use crossterm::event::KeyCode;
    let dir = tempfile::tempdir().unwrap();
    let path = chain_file(dir.path());
    let data = tempfile::tempdir().unwrap();
    let mut h = support::tui::Harness::open(&path, data.path(), (120, 40));
    let title = |h: &support::tui::Harness| {
        let screen = h.screen();
        screen
            .lines()
            .find(|l| l.contains(" Hex: "))
            .unwrap_or_default()
            .to_string()
    };
    // The process's memory areas, the first opened in the viewer.
    h.key(KeyCode::Char('m'));
    h.key(KeyCode::Enter);
    for (i, want) in [
        (0, "│ this dump"),
        (1, "│ parent 1 (pre-checkpoint)"),
        (4, "│ parent 2 (pre2)"),
        (7, "│ this dump"),
    ] {
        h.key(KeyCode::Char('g'));
        h.typing(&format!("{:#x}", page(i).start + 16));
        h.key(KeyCode::Enter);
        assert_eq!(h.app.hex.cursor, page(i).start + 16);
        let t = title(&h);
        assert!(t.contains(want), "page {i}: {t}");
    }
}
