//! `Isf::from_bytes` (plain JSON, xz, gzip), then the lookups the walkers make, with names
//! taken from the input's own quoted strings so that they can hit.
#![no_main]

use libfuzzer_sys::fuzz_target;
use podmortem::engine::kernel::isf::Isf;

fuzz_target!(|data: &[u8]| {
    let Ok(isf) = Isf::from_bytes(data, "fuzz.json") else {
        return;
    };
    let _ = (isf.format(), isf.banner(), isf.pointer_size());
    let _ = (isf.base_type_count(), isf.user_type_count());
    let _ = (isf.enum_count(), isf.symbol_count(), isf.content_hash_hex());
    let names = quoted(data);
    for n in &names {
        let _ = isf.symbol(n);
        let _ = isf.constant_data(n);
        let _ = (isf.base_size(n), isf.base_signed(n), isf.enum_size(n));
        if let Some(fields) = isf.struct_size(n).and(isf.field_names(n)) {
            for f in fields.iter().take(64) {
                let _ = isf.offset(n, f);
                if let Some(field) = isf.field(n, f) {
                    let _ = isf.type_size(&field.kind);
                }
            }
        }
        for c in names.iter().take(16) {
            if let Some(v) = isf.enum_value(n, c) {
                let _ = isf.enum_name(n, v);
            }
        }
    }
});

/// Up to 64 distinct strings between double quotes in the input.
fn quoted(data: &[u8]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for part in data.split(|&b| b == b'"').skip(1).step_by(2) {
        if part.len() > 64 {
            continue;
        }
        let s = String::from_utf8_lossy(part).into_owned();
        if !out.contains(&s) {
            out.push(s);
        }
        if out.len() >= 64 {
            break;
        }
    }
    out
}
