//! ISF handling for the corpus: reading offsets and symbols ([`Isf`]), decompressing an ISF
//! file ([`isf_bytes`]), damaging one ([`edit_isf`]) and the ISF mutations ([`isf_mutations`]).

use std::fs;
use std::path::Path;
use std::process::Command;

use super::model::{Edit, IsfEdit, Mutation, Subject, m};

/// The parts of an ISF the corpus needs.
pub struct Isf {
    json: serde_json::Value,
}

impl Isf {
    /// Loads an ISF (`.json` or `.json.xz`, through the `xz` tool for the latter).
    pub fn load(path: &Path) -> Isf {
        Isf {
            json: serde_json::from_slice(&isf_bytes(path)).unwrap(),
        }
    }

    /// The offset of `field` in `ty`, looking through anonymous members.
    pub fn offset(&self, ty: &str, field: &str) -> u64 {
        self.find(ty, field)
            .unwrap_or_else(|| panic!("{ty}.{field} not in ISF"))
    }

    fn find(&self, ty: &str, field: &str) -> Option<u64> {
        let fields = self.json["user_types"][ty]["fields"].as_object()?;
        if let Some(f) = fields.get(field) {
            return f["offset"].as_u64();
        }
        for f in fields.values() {
            if f["anonymous"].as_bool() == Some(true)
                && let Some(inner) = f["type"]["name"].as_str()
                && let Some(o) = self.find(inner, field)
            {
                return Some(f["offset"].as_u64()? + o);
            }
        }
        None
    }

    /// The (unslid) address of a symbol.
    pub fn symbol(&self, name: &str) -> u64 {
        self.json["symbols"][name]["address"].as_u64().unwrap()
    }
}

/// The bytes of an ISF file, decompressed.
pub fn isf_bytes(path: &Path) -> Vec<u8> {
    if path.extension().is_some_and(|e| e == "xz") {
        let out = Command::new("xz")
            .arg("-dc")
            .arg(path)
            .output()
            .expect("xz");
        assert!(out.status.success());
        out.stdout
    } else {
        fs::read(path).unwrap()
    }
}

/// Applies an [`IsfEdit`] to a decompressed ISF.
pub fn edit_isf(bytes: &[u8], edit: &IsfEdit) -> Vec<u8> {
    if let IsfEdit::Truncate(n) = edit {
        return bytes[..(*n as usize).min(bytes.len())].to_vec();
    }
    let mut j: serde_json::Value = serde_json::from_slice(bytes).unwrap();
    match edit {
        IsfEdit::DeleteField(ty, field) => {
            let isf = Isf { json: j.clone() };
            // Remove it from whichever (possibly anonymous) type holds it.
            let mut owner = ty.to_string();
            loop {
                let fields = &isf.json["user_types"][&owner]["fields"];
                if fields.get(*field).is_some() {
                    break;
                }
                let next = fields
                    .as_object()
                    .unwrap()
                    .values()
                    .filter(|f| f["anonymous"].as_bool() == Some(true))
                    .filter_map(|f| f["type"]["name"].as_str())
                    .find(|n| isf.find(n, field).is_some())
                    .unwrap()
                    .to_string();
                owner = next;
            }
            j["user_types"][&owner]["fields"]
                .as_object_mut()
                .unwrap()
                .remove(*field);
        }
        IsfEdit::DeleteType(ty) => {
            j["user_types"].as_object_mut().unwrap().remove(*ty);
        }
        IsfEdit::DeleteSymbol(s) => {
            j["symbols"].as_object_mut().unwrap().remove(*s);
        }
        IsfEdit::Wrong | IsfEdit::Truncate(_) => {}
    }
    serde_json::to_vec(&j).unwrap()
}

/// ISF mutations, applied to `subject` (a dump).
pub fn isf_mutations(subject: Subject) -> Vec<Mutation> {
    let e = |name: &str, edit: IsfEdit| m(subject, "isf", name.to_string(), None, Edit::Isf(edit));
    vec![
        e("wrong-kernel", IsfEdit::Wrong),
        e(
            "no-task_struct.tasks",
            IsfEdit::DeleteField("task_struct", "tasks"),
        ),
        e(
            "no-mm_struct.mm_mt",
            IsfEdit::DeleteField("mm_struct", "mm_mt"),
        ),
        e(
            "no-task_struct.comm",
            IsfEdit::DeleteField("task_struct", "comm"),
        ),
        e(
            "no-type-maple_range_64",
            IsfEdit::DeleteType("maple_range_64"),
        ),
        e("no-type-list_head", IsfEdit::DeleteType("list_head")),
        e("no-symbol-init_task", IsfEdit::DeleteSymbol("init_task")),
        e(
            "no-symbol-linux_banner",
            IsfEdit::DeleteSymbol("linux_banner"),
        ),
        e("truncated-json", IsfEdit::Truncate(20_000_000)),
        e("truncated-json-tiny", IsfEdit::Truncate(100)),
    ]
}
