//! The peer diff (`engine::diff`) on synthetic replicas made by tests/support/ckpt.rs: one
//! kind of difference planted at a time (a patched code page, an RWX area, an environment
//! variable, a rootfs file), everything that is noise between replicas (pids, ASLR bases,
//! hostnames, pipe inodes) different in every peer.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use crate::support::replicas::{Plant, replica};

use podmortem::engine::checkpoint::Checkpoint;
use podmortem::engine::checkpoint::pagemap::PAGE_SIZE;
use podmortem::engine::diff::{DiffError, DiffReport, Difference, Direction, Kind, diff};
use podmortem::engine::evidence::Evidence;

/// The diff of replicas planted as given (one `Plant` per replica).
fn compare(plants: &[Plant]) -> DiffReport {
    let cks: Vec<Checkpoint> = plants
        .iter()
        .enumerate()
        .map(|(i, p)| replica(i as u32 + 1, p))
        .collect();
    let evs: Vec<&dyn Evidence> = cks.iter().map(|c| c as &dyn Evidence).collect();
    let labels: Vec<String> = (1..=cks.len()).map(|i| format!("replica-{i}")).collect();
    let labels: Vec<&str> = labels.iter().map(String::as_str).collect();
    let report = diff(&evs, &labels).unwrap();
    for p in &report.peers {
        assert!(p.warnings.is_empty(), "{}: {:?}", p.evidence, p.warnings);
    }
    report
}

fn clean() -> Plant {
    Plant::default()
}

/// The one difference of peer `i`, asserting the others have none.
fn only(report: &DiffReport, i: usize) -> &Difference {
    for (j, p) in report.peers.iter().enumerate() {
        if j != i {
            assert!(
                p.differences.is_empty(),
                "{}: {:#?}",
                p.evidence,
                p.differences
            );
        }
    }
    let d = &report.peers[i].differences;
    assert_eq!(d.len(), 1, "{d:#?}");
    &d[0]
}

#[test]
fn replicas_differing_only_in_noise_have_no_differences() {
    let r = compare(&[clean(), clean(), clean()]);
    for p in &r.peers {
        assert!(
            p.differences.is_empty(),
            "{}: {:#?}",
            p.evidence,
            p.differences
        );
    }
    let b = &r.baseline;
    assert_eq!((b.peers, b.majority), (3, 2));
    assert_eq!(b.processes, ["/bin/app --serve"]);
    // Both library pages were captured in every peer: compared, equal.
    assert_eq!((b.code_pages.compared, b.code_pages.differing), (2, 0));
    assert_eq!(
        b.artifacts[&Kind::Env],
        3,
        "PATH, HOSTNAME (normalised), MODE"
    );
    assert_eq!(b.artifacts[&Kind::Rootfs], 1);
}

#[test]
fn a_patched_code_page_is_reported_where_it_is() {
    let r = compare(&[
        clean(),
        clean(),
        Plant {
            patch_code: true,
            ..clean()
        },
    ]);
    let d = only(&r, 2);
    assert_eq!(d.kind, Kind::Code);
    assert_eq!(d.direction, Direction::Extra);
    assert_eq!((d.present_in, d.peers), (1, 3));
    let code = 0x5500_0000_0000 + (4u64 << 28);
    assert_eq!(d.at.pid, Some(31));
    assert_eq!(
        d.at.address,
        Some(code + PAGE_SIZE),
        "the patched page, in this peer"
    );
    assert_eq!(
        (d.at.start, d.at.end),
        (Some(code), Some(code + 2 * PAGE_SIZE))
    );
    assert_eq!(d.at.path.as_deref(), Some("/usr/lib/libdemo.so"));
    assert!(d.description.contains("offset 0x2000"), "{}", d.description);
    assert!(d.instead_of.as_deref().unwrap().starts_with("sha256 "));
    assert_eq!(r.baseline.code_pages.differing, 1);
    let json = serde_json::to_value(d).unwrap();
    assert_eq!(json["kind"], "code");
    assert_eq!(json["address"], format!("{:#x}", code + PAGE_SIZE));
    assert_eq!(json["pid"], 31);
}

#[test]
fn an_extra_rwx_area_is_reported_whatever_its_address() {
    let r = compare(&[
        Plant {
            rwx: true,
            ..clean()
        },
        clean(),
        clean(),
    ]);
    let d = only(&r, 0);
    assert_eq!(
        (d.kind, d.direction, d.present_in),
        (Kind::Map, Direction::Extra, 1)
    );
    assert!(d.description.contains("rwxp"), "{}", d.description);
    assert!(
        d.description.contains("writable and executable"),
        "{}",
        d.description
    );
    let at = 0x7f00_0000_0000 + (2u64 << 28) + 0x100_0000;
    assert_eq!((d.at.start, d.at.end), (Some(at), Some(at + PAGE_SIZE)));
    assert_eq!(d.at.pid, Some(11));
    // Two peers with it out of three: the clean one lacks it.
    let r = compare(&[
        Plant {
            rwx: true,
            ..clean()
        },
        Plant {
            rwx: true,
            ..clean()
        },
        clean(),
    ]);
    let d = only(&r, 2);
    assert_eq!(
        (d.kind, d.direction, d.present_in),
        (Kind::Map, Direction::Missing, 2)
    );
    assert_eq!(d.shared_by(), 1);
    assert!(
        d.description.starts_with("lacks anonymous rwxp"),
        "{}",
        d.description
    );
}

#[test]
fn an_extra_or_changed_variable_is_reported_with_its_value() {
    let r = compare(&[
        clean(),
        Plant {
            env: vec!["STOLEN=ghp_x"],
            ..clean()
        },
        clean(),
    ]);
    let d = only(&r, 1);
    assert_eq!(
        (d.kind, d.direction, d.present_in),
        (Kind::Env, Direction::Extra, 1)
    );
    assert_eq!(d.at.variable.as_deref(), Some("STOLEN"));
    assert_eq!(d.at.pid, Some(21));
    assert_eq!(d.process.as_deref(), Some("/bin/app --serve"));
    assert!(d.description.contains("STOLEN=ghp_x"));
    // A value changed: one difference, with the baseline's value (not extra + missing).
    let r = compare(&[
        clean(),
        clean(),
        Plant {
            mode: Some("debug"),
            ..clean()
        },
    ]);
    let d = only(&r, 2);
    assert_eq!((d.kind, d.direction), (Kind::Env, Direction::Extra));
    assert!(d.description.contains("MODE=debug"));
    assert_eq!(d.instead_of.as_deref(), Some("MODE=prod"));
}

#[test]
fn a_changed_rootfs_file_is_reported_with_both_hashes() {
    let r = compare(&[
        clean(),
        clean(),
        Plant {
            conf: Some(b"mode=evil\n"),
            ..clean()
        },
    ]);
    let d = only(&r, 2);
    assert_eq!(
        (d.kind, d.direction, d.present_in),
        (Kind::Rootfs, Direction::Extra, 1)
    );
    assert_eq!(d.at.path.as_deref(), Some("etc/app.conf"));
    assert!(
        d.description
            .starts_with("file /etc/app.conf in the rootfs diff")
    );
    let sha = |b: &[u8]| podmortem::engine::findings::hex_string(&sha2_of(b));
    assert!(d.key.contains(&sha(b"mode=evil\n")), "{}", d.key);
    let was = d.instead_of.as_deref().unwrap();
    assert!(was.contains(&sha(b"mode=prod\n")[..16]), "{was}");
}

fn sha2_of(b: &[u8]) -> [u8; 32] {
    use sha2::Digest;
    sha2::Sha256::digest(b).into()
}

#[test]
fn two_peers_each_list_what_the_other_lacks() {
    let r = compare(&[
        Plant {
            env: vec!["ONLY_A=1"],
            ..clean()
        },
        Plant {
            env: vec!["ONLY_B=1"],
            rwx: true,
            ..clean()
        },
    ]);
    assert_eq!((r.baseline.peers, r.baseline.majority), (2, 2));
    let a: Vec<&str> = r.peers[0]
        .differences
        .iter()
        .map(|d| d.description.as_str())
        .collect();
    assert_eq!(a, ["environment variable ONLY_A=1 of /bin/app --serve"]);
    let b = &r.peers[1].differences;
    assert_eq!(b.len(), 2, "{b:#?}");
    assert!(
        b.iter()
            .all(|d| d.direction == Direction::Extra && d.present_in == 1)
    );
    assert_eq!(b[0].kind, Kind::Map, "rank: map before env at equal rarity");
    assert_eq!(b[1].kind, Kind::Env);
}

#[test]
fn fewer_than_two_peers_or_labels_are_refused() {
    let one = replica(1, &clean());
    let e = diff(&[&one as &dyn Evidence], &["a"]).unwrap_err();
    assert!(matches!(e, DiffError::TooFewPeers { given: 1 }), "{e}");
    let e = diff(&[&one as &dyn Evidence, &one], &["a"]).unwrap_err();
    assert!(matches!(e, DiffError::Labels { .. }), "{e}");
}

#[test]
fn a_missing_process_is_one_difference_not_one_per_artifact() {
    let two = || Plant {
        workers: 1,
        ..clean()
    };
    let r = compare(&[two(), two(), clean()]);
    let d = &r.peers[2].differences;
    assert!(r.peers[0].differences.is_empty() && r.peers[1].differences.is_empty());
    // The worker, and the one variable no process of this peer has; its PATH, its maps,
    // its cwd (which the peer's other process has) are not listed one by one.
    let got: Vec<(Kind, Direction, usize, &str)> = d
        .iter()
        .map(|d| (d.kind, d.direction, d.present_in, d.description.as_str()))
        .collect();
    assert_eq!(
        got,
        [
            (
                Kind::Process,
                Direction::Missing,
                2,
                "lacks /bin/app --worker (exe /bin/app, uid 0), child of /bin/app --serve"
            ),
            (
                Kind::Env,
                Direction::Missing,
                2,
                "lacks environment variable WORKER=1 of /bin/app --worker"
            ),
        ]
    );
    assert_eq!(d[0].at.pid, None, "no such process here");
    assert_eq!(d[1].at.variable.as_deref(), Some("WORKER"));
}

#[test]
fn equal_workers_are_counted_whatever_their_pids() {
    let r = compare(&[
        Plant {
            workers: 2,
            ..clean()
        },
        Plant {
            workers: 2,
            ..clean()
        },
        Plant {
            workers: 3,
            ..clean()
        },
    ]);
    assert_eq!(r.baseline.processes.len(), 3);
    assert_eq!(
        r.baseline.processes[2],
        "/bin/app --serve > /bin/app --worker #2"
    );
    let d = only(&r, 2);
    assert_eq!(
        (d.kind, d.direction, d.present_in),
        (Kind::Process, Direction::Extra, 1)
    );
    assert!(
        d.description.starts_with("/bin/app --worker #3"),
        "{}",
        d.description
    );
    assert!(d.key.ends_with("#3"), "{}", d.key);
}
