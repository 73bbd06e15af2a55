//! Findings: every kind of bookmark, exported and validated against docs/findings.schema.json;
//! the criu-counter acceptance path (search to the secret in 4 keys plus the pattern).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use crate::support;

use std::path::{Path, PathBuf};

use crossterm::event::KeyCode;
use serde_json::Value;
use support::tui::Harness;

/// Checks an export against docs/findings.schema.json.
pub(crate) fn validate(doc: &Value) {
    let schema: Value = serde_json::from_str(include_str!("../docs/findings.schema.json")).unwrap();
    let v = jsonschema::validator_for(&schema).unwrap();
    let errors: Vec<String> = v
        .iter_errors(doc)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "export does not validate: {errors:#?}\n{doc:#}"
    );
}

fn export(h: &mut Harness, dir: &Path) -> Value {
    let out = dir.join("out.json");
    h.app.export_to(out.clone());
    serde_json::from_slice(&std::fs::read(out).unwrap()).unwrap()
}

fn note(h: &mut Harness, text: &str) {
    h.typing(text);
    h.key(KeyCode::Enter);
}

#[test]
fn every_kind_of_finding_validates() {
    let dir = tempfile::tempdir().unwrap();
    let demo = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("assets/demo-checkpoint.tar");
    let mut h = Harness::open(&demo, dir.path(), (100, 30));
    h.key(KeyCode::Down);
    h.key(KeyCode::Char('b'));
    note(&mut h, "python server #web");
    h.key(KeyCode::Char('m'));
    for _ in 0..4 {
        h.key(KeyCode::Down);
    }
    h.key(KeyCode::Char('b'));
    note(&mut h, "rwx anonymous memory #malfind");
    h.key(KeyCode::Enter);
    h.key(KeyCode::Char('v'));
    for _ in 0..7 {
        h.key(KeyCode::Right);
    }
    h.key(KeyCode::Char('y'));
    h.key(KeyCode::Enter);
    h.key(KeyCode::Char('4'));
    h.key(KeyCode::Char('/'));
    h.typing("DEMO_API_KEY_[0-9]+");
    h.key(KeyCode::Enter);
    h.key(KeyCode::Char('b'));
    note(&mut h, "the key");
    h.key(KeyCode::Char('5'));
    h.key(KeyCode::Down);
    h.key(KeyCode::Down);
    h.key(KeyCode::Char('b'));
    note(&mut h, "db file");
    h.key(KeyCode::End);
    for _ in 0..3 {
        h.key(KeyCode::Up);
    }
    h.key(KeyCode::Char('b'));
    note(&mut h, "curl removed #antiforensics");
    let doc = export(&mut h, dir.path());
    validate(&doc);
    let kinds: Vec<&str> = doc["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["target"]["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        ["process", "vma", "memory", "search_hit", "file", "file"]
    );
    let f = &doc["findings"];
    assert_eq!(f[0]["tags"], serde_json::json!(["web"]));
    assert_eq!(f[1]["target"]["perms"], "rwxp");
    assert_eq!(f[1]["bytes"]["length"], 8192);
    assert_eq!(f[2]["target"]["length"], 8);
    assert!(
        f[2]["note"]
            .as_str()
            .unwrap()
            .contains("90 90 90 90 90 90 90 90")
    );
    assert_eq!(f[3]["bytes"]["hex"], "44454d4f5f4150495f4b45595f34323432");
    assert_eq!(f[4]["target"]["path"], "app/data/users.db");
    assert_eq!(f[4]["bytes"]["hex"], hex(b"SQLite format 3\x00demo"));
    assert_eq!(f[5]["target"]["deleted"], true, "{:#}", f[5]);
    assert!(f[5]["bytes"].is_null());
    assert_eq!(doc["evidence"]["kind"], "checkpoint");
    assert_eq!(
        doc["evidence"]["sha256"],
        podmortem::jobs::sha256_file(&demo).unwrap()
    );

    // Editing and deleting in the findings pane are saved too.
    h.key(KeyCode::Char('6'));
    h.key(KeyCode::Char('t'));
    for _ in 0..10 {
        h.key(KeyCode::Backspace);
    }
    note(&mut h, "ioc, web");
    h.key(KeyCode::Down);
    h.key(KeyCode::Char('d'));
    let saved: Value =
        serde_json::from_slice(&std::fs::read(h.app.store.as_ref().unwrap().path()).unwrap())
            .unwrap();
    assert_eq!(saved["findings"].as_array().unwrap().len(), 5);
    assert_eq!(
        saved["findings"][0]["tags"],
        serde_json::json!(["ioc", "web"])
    );
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

#[test]
fn counter_secret_in_four_keys_then_bookmark_and_export() {
    let Some(_) = support::fixture("criu-counter") else {
        return;
    };
    let tar = support::decompressed("criu-counter", "checkpoint-counter.tar.zst").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut h = Harness::open(&tar, dir.path(), (80, 24));
    // 4 keystrokes plus the pattern: 4, /, RANDOM_[0-9]+_KEY, Enter, Enter.
    h.key(KeyCode::Char('4'));
    h.key(KeyCode::Char('/'));
    h.typing("RANDOM_[0-9]+_KEY");
    h.key(KeyCode::Enter);
    h.key(KeyCode::Enter);
    assert_eq!(h.app.focus, podmortem::tui::action::Pane::Hex);
    assert_eq!(h.app.hex.cursor, 0x7f18_4469_f2ad);
    assert!(h.screen().contains("RANDOM_1432_KEY") || h.screen().contains("DOM_1432_KEY"));
    h.key(KeyCode::Char('b'));
    note(&mut h, "the secret #blog");
    let doc = export(&mut h, dir.path());
    validate(&doc);
    let f = &doc["findings"][0];
    assert_eq!(f["target"]["pid"], 6);
    assert_eq!(f["target"]["address"], "0x7f184469f2ad");
    assert_eq!(f["bytes"]["hex"], hex(b"RANDOM_1432_KEY"));
    assert_eq!(doc["evidence"]["engine"], "Podman");
}
