//! The BTF parser and its conversion to the symbol index: any blob parses or fails with an
//! error, and the index it gives answers every lookup.
#![no_main]

use libfuzzer_sys::fuzz_target;
use podmortem::engine::kernel::symbols::btf::Btf;
use podmortem::engine::kernel::symbols::types_from_btf;

fuzz_target!(|data: &[u8]| {
    if let Ok(btf) = Btf::parse(data, "fuzz.btf", 0) {
        let _ = btf.struct_named("task_struct");
    }
    if let Ok(isf) = types_from_btf(data, "fuzz.btf") {
        for name in isf.user_type_names().take(64) {
            for f in isf
                .field_names(name)
                .unwrap_or_default()
                .into_iter()
                .take(64)
            {
                if let Some(field) = isf.field(name, f) {
                    let _ = isf.type_size(&field.kind);
                }
            }
        }
        let mut out = Vec::new();
        isf.write_json(&mut out, &[]).unwrap();
    }
});
