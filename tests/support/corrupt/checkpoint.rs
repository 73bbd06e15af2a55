//! Checkpoint mutations: the members of the tar, the entries of CRIU images, and the
//! damage done to the archive and to its extracted folder ([`checkpoint_mutations`]).

use super::model::{Edit, Mutation, Rng, Subject, m, u32le};

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
