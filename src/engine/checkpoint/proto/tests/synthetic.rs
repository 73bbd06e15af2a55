//! Decoding rules checked without fixtures: the pagemap page count and flags of old and new
//! entries, invalid UTF-8, unknown fields and kinds, missing required fields.
#![allow(clippy::unwrap_used)]

use prost::Message;

use super::super::*;

/// Builds a protobuf field key.
fn key(tag: u32, wire: u8) -> u8 {
    u8::try_from(tag << 3).unwrap() | wire
}

#[test]
fn pagemap_count_rules_without_fixtures() {
    let old = PagemapEntry {
        vaddr: 0x1000,
        compat_nr_pages: Some(3),
        ..Default::default()
    };
    assert_eq!((old.page_count(), old.effective_flags()), (3, PE_PRESENT));
    let parent = PagemapEntry {
        in_parent: Some(true),
        ..old.clone()
    };
    assert_eq!(parent.effective_flags(), PE_PARENT);
    assert!(!parent.is_present());
    let new = PagemapEntry {
        compat_nr_pages: Some(0),
        nr_pages: Some(1 << 33),
        flags: Some(PE_LAZY | PE_PRESENT),
        ..old
    };
    assert_eq!(new.page_count(), 1 << 33);
    let back = PagemapEntry::decode(new.encode_to_vec().as_slice()).unwrap();
    assert_eq!(back, new);
}

#[test]
fn invalid_utf8_and_unknown_fields_do_not_lose_an_entry() {
    // task_core_entry: task_state=1, comm="\xff\xfe", unknown field 99 (varint 5), exit_code=7.
    let mut buf = vec![key(1, 0), 1, key(6, 2), 2, 0xff, 0xfe];
    buf.extend([0x98, 0x06, 5]); // tag 99, wire type 0
    buf.extend([key(2, 0), 7]);
    let tc = TaskCoreEntry::decode(buf.as_slice()).unwrap();
    assert_eq!((tc.task_state, tc.exit_code), (task_state::ALIVE, 7));
    assert_eq!(tc.comm, [0xff, 0xfe]);

    // A file entry of a kind podmortem does not decode (TUN, field 11) keeps type and id.
    let buf = [key(1, 0), 15, key(2, 0), 9, key(11, 2), 2, key(1, 0), 9];
    let f = FileEntry::decode(&buf[..]).unwrap();
    assert_eq!((f.r#type(), f.id), (FdTypes::Tunf, 9));

    // A required field missing still decodes (prost does not enforce presence).
    let pe = PagemapEntry::decode(&[key(4, 0), 4][..]).unwrap();
    assert_eq!(
        (pe.vaddr, pe.compat_nr_pages, pe.flags),
        (0, None, Some(PE_PRESENT))
    );
}
