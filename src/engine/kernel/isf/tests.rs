//! Unit tests of the ISF loader on synthetic documents: lookups, anonymous-member lifting,
//! duplicate keys, the cache round trip, and hostile input (every case an error naming the
//! file, never a panic).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use super::*;

const DOC: &str = r#"{
  "metadata": {"format": "6.2.0", "producer": {"name": "test", "version": "1.0"}},
  "base_types": {
    "pointer": {"size": 4, "signed": false, "kind": "int", "endian": "little"},
    "int": {"size": 4, "signed": true, "kind": "int", "endian": "little"},
    "char": {"size": 1, "signed": true, "kind": "char", "endian": "little"}
  },
  "user_types": {
    "outer": {"kind": "struct", "size": 32, "fields": {
      "a": {"offset": 0, "type": {"kind": "base", "name": "int"}},
      "unnamed_field_0": {"offset": 8, "anonymous": true,
                          "type": {"kind": "union", "name": "anon_u"}},
      "flags": {"offset": 4, "type": {"kind": "bitfield", "bit_position": 3,
                "bit_length": 2, "type": {"kind": "enum", "name": "colour"}}}
    }},
    "anon_u": {"kind": "union", "size": 16, "fields": {
      "x": {"offset": 0, "type": {"kind": "pointer", "subtype": {"kind": "struct", "name": "outer"}}},
      "unnamed_field_0": {"offset": 4, "anonymous": true, "type": {"kind": "struct", "name": "anon_s"}}
    }},
    "anon_s": {"kind": "struct", "size": 8, "fields": {
      "deep": {"offset": 4, "type": {"count": 3, "kind": "array", "subtype": {"kind": "base", "name": "char"}}},
      "a": {"offset": 0, "type": {"kind": "base", "name": "char"}}
    }},
    "dup": {"kind": "struct", "size": 1, "fields": {}},
    "dup": {"kind": "class", "size": 2, "fields": {}}
  },
  "enums": {"colour": {"size": 4, "base": "int",
            "constants": {"RED": 0, "BIG": 18446744073709551615, "NEG": -9223372036854775808}}},
  "symbols": {
    "linux_banner": {"address": 4096, "constant_data": "TGludXggdmVyc2lvbiB0ZXN0CgA=",
                     "type": {"count": 0, "kind": "array", "subtype": {"kind": "base", "name": "char"}}},
    "notype": {"address": 18446744073709551615}
  }
}"#;

fn doc() -> Isf {
    Isf::from_bytes(DOC.as_bytes(), "doc.json").unwrap()
}

#[test]
fn lookups_and_lifting() {
    let isf = doc();
    assert_eq!(isf.format(), ("6.2.0", "test", "1.0"));
    assert_eq!(isf.pointer_size(), 4);
    assert_eq!(isf.struct_size("outer"), Some(32));
    // Lifted through two levels of anonymous members; the direct `a` wins over anon_s.a.
    assert_eq!(isf.offset("outer", "x").unwrap(), 8);
    assert_eq!(isf.offset("outer", "deep").unwrap(), 16);
    assert_eq!(isf.offset("outer", "a").unwrap(), 0);
    assert_eq!(isf.offset("outer", "unnamed_field_0").unwrap(), 8);
    assert_eq!(
        isf.field_names("outer").unwrap(),
        ["a", "deep", "flags", "unnamed_field_0", "x"]
    );
    let f = isf.field("outer", "flags").unwrap();
    assert_eq!(
        f.kind,
        TypeRef::Bitfield {
            bit_position: 3,
            bit_length: 2,
            subtype: Box::new(TypeRef::Enum {
                name: "colour".into()
            }),
        }
    );
    assert_eq!(isf.type_size(&f.kind), Some(4));
    // Duplicate keys: the last one wins, as in JSON readers.
    assert_eq!(isf.struct_size("dup"), Some(2));
    assert_eq!(isf.enum_value("colour", "BIG"), Some(-1));
    assert_eq!(isf.enum_value("colour", "NEG"), Some(i64::MIN));
    assert_eq!(isf.banner().unwrap(), b"Linux version test");
    assert_eq!(
        isf.constant_data("linux_banner").unwrap(),
        b"Linux version test\n\0"
    );
    let s = isf.symbol("notype").unwrap();
    assert_eq!((s.address, s.type_name, s.type_ref), (u64::MAX, None, None));
    let e = isf.offset("outer", "nope").unwrap_err().to_string();
    assert!(e.contains("outer.nope"), "{e}");
}

#[test]
fn cache_round_trip_and_corruption() {
    let dir = std::env::temp_dir().join(format!("pm-isf-unit-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let isf_path = dir.join("doc.json");
    std::fs::write(&isf_path, DOC).unwrap();
    let cache = CacheDir::At(dir.join("cache"));

    let cold = Isf::load_with(&isf_path, &cache).unwrap();
    let warm = Isf::load_with(&isf_path, &cache).unwrap();
    assert!(!cold.from_cache() && warm.from_cache());
    assert_eq!(cold, warm);
    // Only the cache folder was written to; nothing next to the ISF.
    let names: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names.len(), 2, "{names:?}");

    let file = cache.file_for(&cold.content_hash()).unwrap();
    let good = std::fs::read(&file).unwrap();
    // The warm load checked the body's CRC and recorded it; the next one trusts the stamp.
    assert!(file.with_extension("isfok").is_file());
    assert!(Isf::load_with(&isf_path, &cache).unwrap().from_cache());
    assert_eq!(
        cache::read_banner(&file, &cold.content_hash()),
        Some(Some(b"Linux version test".to_vec()))
    );
    // Every single-byte corruption and every truncation is caught (CRC, bounds).
    for i in (0..good.len()).step_by(7) {
        let mut bad = good.clone();
        bad[i] ^= 0xA5;
        // Written aside and renamed, as every cache file is: a new inode each time.
        let aside = file.with_extension("bad");
        std::fs::write(&aside, &bad).unwrap();
        std::fs::rename(&aside, &file).unwrap();
        let again = Isf::load_with(&isf_path, &cache).unwrap();
        assert!(!again.from_cache(), "flip at {i} accepted");
        assert_eq!(again, cold);
    }
    for n in [0, 10, 60, good.len() - 1] {
        std::fs::write(&file, &good[..n]).unwrap();
        assert!(!Isf::load_with(&isf_path, &cache).unwrap().from_cache());
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn cache_decoder_rejects_bad_references() {
    let isf = doc();
    let mut index = isf.index().unwrap().into_owned();
    assert!(cache::validate_for_test(&index));
    index.fields[0].ty = 10_000;
    assert!(!cache::validate_for_test(&index));
    let mut index = isf.index().unwrap().into_owned();
    index
        .types
        .push(Node::Pointer(u32::try_from(index.types.len()).unwrap()));
    assert!(!cache::validate_for_test(&index));
}

fn err(doc: &str) -> String {
    let e = Isf::from_bytes(doc.as_bytes(), "hostile.json")
        .unwrap_err()
        .to_string();
    assert!(e.contains("hostile.json"), "{e}");
    e
}

const EMPTY_SECTIONS: &str = r#""base_types": {}, "user_types": {}, "enums": {}, "symbols": {}"#;

#[test]
fn hostile_documents() {
    let meta = r#""metadata": {"format": "6.2.0"}"#;
    assert!(err("").contains("not a Volatility ISF"));
    assert!(err("[1, 2]").contains("not a Volatility ISF"));
    assert!(err("{}").contains("no `metadata`"));
    assert!(err(&format!("{{{meta}}}")).contains("no `base_types`"));
    let e = err(&format!(
        r#"{{"metadata": {{"format": "9.0.0"}}, {EMPTY_SECTIONS}}}"#
    ));
    assert!(e.contains("9.0.0"), "{e}");
    assert!(Isf::from_bytes(format!("{{{meta}, {EMPTY_SECTIONS}}}").as_bytes(), "ok").is_ok());

    let with = |section: &str, body: &str| {
        let others = EMPTY_SECTIONS.replace(
            &format!("\"{section}\": {{}}"),
            &format!("\"{section}\": {body}"),
        );
        format!("{{{meta}, {others}}}")
    };
    // Wrong types, missing keys, huge and negative numbers: errors naming the entry.
    let e = err(&with(
        "user_types",
        r#"{"t": {"kind": "struct", "fields": {}}}"#,
    ));
    assert!(e.contains("user_types.t") && e.contains("size"), "{e}");
    let e = err(&with(
        "user_types",
        r#"{"t": {"kind": "struct", "size": "8", "fields": {}}}"#,
    ));
    assert!(e.contains("user_types.t"), "{e}");
    let e = err(&with(
        "user_types",
        r#"{"t": {"kind": "blob", "size": 8, "fields": {}}}"#,
    ));
    assert!(e.contains("blob"), "{e}");
    let e = err(&with(
        "user_types",
        r#"{"t": {"kind": "struct", "size": 8, "fields": {"f": {"offset": 1e300, "type": {"kind": "function"}}}}}"#,
    ));
    assert!(e.contains("user_types.t"), "{e}");
    let e = err(&with(
        "user_types",
        r#"{"t": {"kind": "struct", "size": 8, "fields": {"f": {"offset": 99999999999999999999999, "type": {"kind": "function"}}}}}"#,
    ));
    assert!(e.contains("user_types.t"), "{e}");
    err(&with("symbols", r#"{"s": {"address": -1}}"#));
    err(&with("symbols", r#"{"s": {"type": {"kind": "function"}}}"#));
    err(&with(
        "symbols",
        r#"{"s": {"address": 1, "constant_data": "!!"}}"#,
    ));
    err(&with(
        "symbols",
        r#"{"s": {"address": 1, "type": {"kind": "pointer"}}}"#,
    ));
    err(&with(
        "symbols",
        r#"{"s": {"address": 1, "type": {"kind": "array", "subtype": {"kind": "function"}}}}"#,
    ));
    err(&with(
        "enums",
        r#"{"e": {"size": 4, "base": "int", "constants": {"A": 1.5}}}"#,
    ));
    err(&with(
        "enums",
        r#"{"e": {"size": 4, "base": "int", "constants": {"A": 99999999999999999999}}}"#,
    ));
    err(&with(
        "base_types",
        r#"{"b": {"size": 4, "signed": 1, "kind": "int", "endian": "little"}}"#,
    ));
    err(&with("symbols", "[]"));
    err(&with("symbols", "{"));
    err(&format!("{{{meta}, {EMPTY_SECTIONS}}} trailing"));

    // Deep nesting: our own bound on type descriptors, serde_json's on everything else.
    let mut deep = String::from(r#"{"kind": "function"}"#);
    for _ in 0..200 {
        deep = format!(r#"{{"kind": "pointer", "subtype": {deep}}}"#);
    }
    let e = err(&with(
        "symbols",
        &format!(r#"{{"s": {{"address": 1, "type": {deep}}}}}"#),
    ));
    assert!(e.contains("nested deeper"), "{e}");
    let nest = "[".repeat(100_000);
    err(&with(
        "symbols",
        &format!(r#"{{"s": {{"address": 1, "x": {nest}}}}}"#),
    ));
    err(&format!("{{\"junk\": {nest}"));
}

#[test]
fn hostile_containers() {
    // Bad xz and gzip streams after a valid magic.
    let e = Isf::from_bytes(
        &[0xFD, b'7', b'z', b'X', b'Z', 0, 1, 2, 3],
        "hostile.json.xz",
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("hostile.json.xz"), "{e}");
    let e = Isf::from_bytes(&[0x1F, 0x8B, 8, 0, 0, 0], "hostile.json.gz")
        .unwrap_err()
        .to_string();
    assert!(e.contains("hostile.json.gz"), "{e}");
}

#[test]
fn banner_normalisation() {
    assert_eq!(normalize_banner(b"Linux version x\n\0"), b"Linux version x");
    assert_eq!(normalize_banner(b"Linux version x\r\n"), b"Linux version x");
    assert_eq!(normalize_banner(b"Linux\0version"), b"Linux");
    assert_eq!(normalize_banner(b""), b"");
}

#[test]
fn isf_is_send_and_sync() {
    fn check<T: Send + Sync>() {}
    check::<Isf>();
}

#[test]
fn hostile_anonymous_fan_out_is_bounded() {
    // 16 levels, each type holding 10 anonymous members of the next: 10^16 paths unbounded.
    let mut types = Vec::new();
    for level in 0..16 {
        let fields: Vec<String> = (0..10)
            .map(|i| {
                format!(
                    r#""unnamed_field_{i}": {{"offset": {i}, "anonymous": true, "type": {{"kind": "struct", "name": "t{}"}}}}"#,
                    level + 1
                )
            })
            .collect();
        types.push(format!(
            r#""t{level}": {{"kind": "struct", "size": 64, "fields": {{{}}}}}"#,
            fields.join(",")
        ));
    }
    let leaf: Vec<String> = (0..10)
        .map(|i| format!(r#""f{i}": {{"offset": {i}, "type": {{"kind": "base", "name": "int"}}}}"#))
        .collect();
    types.push(format!(
        r#""t16": {{"kind": "struct", "size": 64, "fields": {{{}}}}}"#,
        leaf.join(",")
    ));
    let doc = format!(
        r#"{{"metadata": {{"format": "6.2.0"}}, "base_types": {{}}, "user_types": {{{}}}, "enums": {{}}, "symbols": {{}}}}"#,
        types.join(",")
    );
    let start = std::time::Instant::now();
    let isf = Isf::from_bytes(doc.as_bytes(), "fan.json").unwrap();
    assert!(start.elapsed().as_secs() < 20);
    assert_eq!(isf.offset("t15", "f3").unwrap(), 3);
    assert_eq!(isf.offset("t16", "f3").unwrap(), 3);
    assert!(isf.has_field("t0", "f0"));
}

/// A log writer into a shared buffer (for checking what is logged).
#[derive(Clone, Default)]
struct LogBuf(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for LogBuf {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn a_cache_that_cannot_be_written_is_logged() {
    let dir = std::env::temp_dir().join(format!("pm-isf-nocache-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let isf_path = dir.join("doc.json");
    std::fs::write(&isf_path, DOC).unwrap();
    // The "cache folder" is a regular file: nothing can be written under it.
    let blocker = dir.join("not-a-folder");
    std::fs::write(&blocker, b"x").unwrap();
    let log = LogBuf::default();
    let writer = log.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_max_level(tracing::Level::WARN)
        .with_ansi(false)
        .finish();
    let isf = tracing::subscriber::with_default(subscriber, || {
        Isf::load_with(&isf_path, &CacheDir::At(blocker.clone()))
    })
    .unwrap();
    assert!(!isf.from_cache());
    let text = String::from_utf8(log.0.lock().unwrap().clone()).unwrap();
    assert!(
        text.contains("WARN") && text.contains("cannot cache the ISF index"),
        "{text}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_missing_field_is_a_missing_symbol_not_corruption() {
    let isf = doc();
    let e = isf.offset("outer", "nope").unwrap_err();
    assert!(e.is_missing_symbol() && !e.is_corruption(), "{e:?}");
    assert!(
        e.to_string().starts_with("missing ISF field outer.nope"),
        "{e}"
    );
    assert!(isf.offset("nope", "x").unwrap_err().is_missing_symbol());
    let bad = crate::engine::kernel::dpath::corrupt(0x10, "a loop".into());
    assert!(bad.is_corruption() && !bad.is_missing_symbol());
}
