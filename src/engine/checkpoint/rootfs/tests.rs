//! Tests of the rootfs reader.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
use super::*;
use crate::engine::checkpoint::container::tests::fixture_archive;

fn header(kind: tar::EntryType, size: u64, mode: u32) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(kind);
    h.set_size(size);
    h.set_mode(mode);
    h.set_mtime(1_700_000_000);
    h.set_uid(1000);
    h.set_gid(100);
    h
}

/// Appends an entry whose name is written raw (no `..` check by the builder).
fn append_raw(b: &mut tar::Builder<Vec<u8>>, name: &[u8], data: &[u8], mode: u32) {
    let mut h = header(tar::EntryType::Regular, data.len() as u64, mode);
    h.as_gnu_mut().unwrap().name[..name.len()].copy_from_slice(name);
    h.set_cksum();
    b.append(&h, data).unwrap();
}

/// A PAX record: "<len> key=value\n", the length counting itself.
fn pax_record(key: &str, value: &str) -> String {
    let body = format!(" {key}={value}\n");
    let mut len = body.len() + 1;
    while format!("{len}{body}").len() != len {
        len += 1;
    }
    format!("{len}{body}")
}

fn sample() -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    let mut h = header(tar::EntryType::Directory, 0, 0o755);
    b.append_data(&mut h, "./etc/", std::io::empty()).unwrap();
    append_raw(&mut b, b"/etc/motd", b"hello", 0o100644);
    let mut h = header(tar::EntryType::Symlink, 0, 0o777);
    b.append_link(&mut h, "etc/link", "/etc/motd").unwrap();
    let mut h = header(tar::EntryType::Link, 0, 0o644);
    b.append_link(&mut h, "etc/hard", "etc/motd").unwrap();
    append_raw(&mut b, b"../../etc/passwd", b"root:x:0:0", 0o600);
    append_raw(&mut b, b"evil\x1b[31mname", b"x", 0o600);
    let long = format!("{}/deep.txt", "d".repeat(150));
    let mut h = header(tar::EntryType::Regular, 4, 0o640);
    b.append_data(&mut h, &long, &b"long"[..]).unwrap();
    let pax = pax_record("path", "pax/named.txt") + &pax_record("mtime", "1700000123.75");
    let mut h = header(tar::EntryType::XHeader, pax.len() as u64, 0o644);
    h.set_cksum();
    b.append(&h, pax.as_bytes()).unwrap();
    let mut h = header(tar::EntryType::Regular, 3, 0o644);
    b.append_data(&mut h, "short", &b"pax"[..]).unwrap();
    let mut h = header(tar::EntryType::GNUSparse, 0, 0o644);
    h.as_gnu_mut().unwrap().realsize = *b"00000000000\0";
    h.as_gnu_mut().unwrap().name[..6].copy_from_slice(b"sparse");
    h.set_cksum();
    b.append(&h, &[][..]).unwrap();
    let mut h = header(tar::EntryType::Regular, 1000, 0o644);
    b.append_data(&mut h, "big", &[7u8; 1000][..]).unwrap();
    b.into_inner().unwrap()
}

#[test]
fn synthetic_tar() {
    let mut tar = sample();
    // Cut the last file's data short: 1000 bytes declared, 300 present.
    let big_at = tar.windows(3).rposition(|w| w == b"big").unwrap() / 512 * 512 + 512;
    tar.truncate(big_at + 300);
    let deleted = br#"["/etc/gone", "./var/log/old.log", 3]"#;
    let (diff, w) = RootfsDiff::parse("rootfs-diff.tar", &tar, Some(deleted));
    let paths: Vec<&str> = diff.entries().iter().map(|e| e.path.as_str()).collect();
    let long = format!("{}/deep.txt", "d".repeat(150));
    assert_eq!(
        paths,
        [
            "etc",
            "etc/motd",
            "etc/link",
            "etc/hard",
            "../../etc/passwd",
            "evil\x1b[31mname",
            long.as_str(),
            "pax/named.txt",
            "big",
            "etc/gone",
            "var/log/old.log",
        ]
    );
    assert!(w.iter().any(|w| w.contains("sparse")), "{w:?}");
    assert!(
        w.iter()
            .any(|w| w.contains("\"big\"") && w.contains("300 of 1000")),
        "{w:?}"
    );
    assert!(w.iter().any(|w| w.contains("item 2")), "{w:?}");
    let motd = diff.entry("/etc/motd").unwrap();
    assert_eq!(
        (motd.kind, motd.mode, motd.size),
        (FileType::File, 0o644, 5)
    );
    assert_eq!((motd.mtime, motd.uid, motd.gid), (1_700_000_000, 1000, 100));
    assert_eq!(diff.entry("etc").unwrap().kind, FileType::Dir);
    let link = diff.entry("etc/link").unwrap();
    assert_eq!(
        (link.kind, link.link.as_deref()),
        (FileType::Symlink, Some("/etc/motd"))
    );
    assert_eq!(diff.entry("etc/hard").unwrap().kind, FileType::Hardlink);
    assert_eq!(diff.entry("pax/named.txt").unwrap().mtime, 1_700_000_123);
    let gone = &diff.entries()[9];
    assert!(gone.deleted && gone.size == 0 && gone.kind == FileType::File);

    assert_eq!(diff.read(&tar, "etc/motd").unwrap(), b"hello");
    assert_eq!(diff.read(&tar, "./etc/hard").unwrap(), b"hello");
    assert_eq!(diff.read(&tar, "../../etc/passwd").unwrap(), b"root:x:0:0");
    assert_eq!(diff.read(&tar, &long).unwrap(), b"long");
    assert_eq!(diff.read(&tar, "pax/named.txt").unwrap(), b"pax");
    assert_eq!(diff.read(&tar, "big").unwrap(), &[7u8; 300][..]);
    assert!(matches!(
        diff.read(&tar, "etc/link"),
        Err(Error::Unsupported(_))
    ));
    assert!(matches!(diff.read(&tar, "etc"), Err(Error::Unsupported(_))));
    assert!(matches!(
        diff.read(&tar, "etc/gone"),
        Err(Error::NoSuchFile(_))
    ));
    assert!(matches!(diff.read(&tar, "nope"), Err(Error::NoSuchFile(_))));
    // The wrong (shorter) bytes: an error, not a panic.
    assert!(matches!(
        diff.read(&tar[..600], "etc/motd"),
        Err(Error::Truncated { .. })
    ));
}

#[test]
fn hostile_inputs() {
    // A hard-link loop, garbage, a cut header, bad deleted.files: warnings, no panic.
    let mut b = tar::Builder::new(Vec::new());
    let mut h = header(tar::EntryType::Link, 0, 0o644);
    b.append_link(&mut h, "a", "b").unwrap();
    let mut h = header(tar::EntryType::Link, 0, 0o644);
    b.append_link(&mut h, "b", "a").unwrap();
    let tar = b.into_inner().unwrap();
    let (diff, w) = RootfsDiff::parse("r", &tar, Some(b"[\"x\""));
    assert!(matches!(diff.read(&tar, "a"), Err(Error::Corrupt { .. })));
    assert!(
        w.iter()
            .any(|w| w.starts_with("deleted.files: malformed JSON at line 1"))
    );
    for bytes in [&b"not a tar"[..], &tar[..700], &[0xffu8; 2048][..], &[]] {
        let (diff, _) = RootfsDiff::parse("r", bytes, None);
        assert!(diff.entries().len() <= 2);
    }
    let (_, w) = RootfsDiff::parse("r", &[0xffu8; 2048], None);
    assert!(w[0].starts_with("r: tar stops"), "{w:?}");
}

#[test]
fn fixture_rootfs() {
    let Some((dir, archive)) = fixture_archive("criu-counter") else {
        return;
    };
    let tar = archive.get("rootfs-diff.tar").unwrap();
    let (diff, w) = RootfsDiff::parse("rootfs-diff.tar", tar, archive.get("deleted.files"));
    assert!(w.is_empty(), "{w:?}");
    let names: Vec<_> = diff
        .entries()
        .iter()
        .map(|e| (e.path.as_str(), e.size))
        .collect();
    assert_eq!(
        names,
        [("home/counter/logfile", 252), ("home/counter/test-file", 9)]
    );
    let e = diff.entry("home/counter/test-file").unwrap();
    assert_eq!((e.mode, e.uid, e.gid, e.deleted), (0o644, 0, 0, false));
    assert_eq!(
        diff.read(tar, "/home/counter/test-file").unwrap(),
        b"test-file"
    );
    let log = diff.read(tar, "home/counter/logfile").unwrap();
    assert!(log.starts_with(b"counter.py listening on port 8088"));
    // "-rw-r--r-- 0/0  9 2026-11-23 06:35:16 home/counter/test-file" (UTC).
    let golden = "golden/shell/tar_tvf_--numeric-owner_--full-time_rootfs-diff.tar.txt";
    let golden = std::fs::read_to_string(dir.join(golden)).unwrap();
    for e in diff.entries() {
        let line = golden
            .lines()
            .find(|l| l.ends_with(&format!(" {}", e.path)))
            .unwrap();
        let f: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(f[2].parse::<u64>().unwrap(), e.size);
        assert_eq!(utc_seconds(f[3], f[4]), e.mtime, "{line}");
    }
}

/// "YYYY-MM-DD", "HH:MM:SS" (UTC) -> seconds since the epoch.
fn utc_seconds(date: &str, time: &str) -> i64 {
    let d: Vec<i64> = date.split('-').map(|x| x.parse().unwrap()).collect();
    let t: Vec<i64> = time.split(':').map(|x| x.parse().unwrap()).collect();
    let (y, m) = if d[1] <= 2 {
        (d[0] - 1, d[1] + 9)
    } else {
        (d[0], d[1] - 3)
    };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * m + 2) / 5 + d[2] - 1;
    let days = era * 146_097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719_468;
    days * 86_400 + t[0] * 3600 + t[1] * 60 + t[2]
}
