//! What a finding points at: [`Target`], one variant per kind of evidence object (a
//! process, a memory area or range, a search hit, a container file, a kernel object, a range
//! of physical memory), serialised with a `kind` tag and addresses as `"0x..."` strings.

use serde::{Deserialize, Serialize};

use crate::engine::evidence::Pid;
use crate::engine::findings::hex_addr;

/// Which kind of kernel object a [`Target::KernelObject`] is (JSON: `object`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KernelObject {
    /// A module on the kernel's module list (`address`: its `struct module`).
    Module,
    /// A module in the modules' memory but not on the list (`address`: its `struct module`).
    HiddenModule,
    /// A system-call table entry pointing outside the kernel's code (`address`: the
    /// handler it points to; `name`: the module whose memory holds it, when one does).
    SyscallHook,
    /// A loaded eBPF program (`address`: its `struct bpf_prog`).
    BpfProgram,
}

impl KernelObject {
    /// A few words for it ("hidden module").
    pub fn words(self) -> &'static str {
        match self {
            KernelObject::Module => "module",
            KernelObject::HiddenModule => "hidden module",
            KernelObject::SyscallHook => "syscall hook",
            KernelObject::BpfProgram => "eBPF program",
        }
    }
}

/// Serde for optional addresses as `"0x..."` strings or `null`, both ways.
mod opt_hex_addr {
    use serde::{Deserialize, Deserializer, Serializer};

    /// Writes `"0x..."` or `null`.
    pub fn serialize<S: Serializer>(v: &Option<u64>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(v) => super::hex_addr::serialize(v, s),
            None => s.serialize_none(),
        }
    }

    /// Reads `"0x..."` (or a plain number) or `null`.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
        #[derive(Deserialize)]
        struct Wrap(#[serde(with = "super::hex_addr")] u64);
        Ok(Option::<Wrap>::deserialize(d)?.map(|Wrap(v)| v))
    }
}

/// What a finding points at.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Target {
    /// A process.
    Process {
        /// Process id.
        pid: Pid,
        /// Its name.
        comm: String,
        /// Its arguments.
        cmdline: Vec<String>,
    },
    /// A memory area of a process.
    Vma {
        /// Process id.
        pid: Pid,
        /// Its name.
        comm: String,
        /// First address.
        #[serde(with = "hex_addr")]
        start: u64,
        /// One past the last address.
        #[serde(with = "hex_addr")]
        end: u64,
        /// Permissions ("rwxp").
        perms: String,
        /// Backing path.
        path: Option<String>,
    },
    /// A range of process memory.
    Memory {
        /// Process id.
        pid: Pid,
        /// Its name.
        comm: String,
        /// First address.
        #[serde(with = "hex_addr")]
        address: u64,
        /// Length in bytes.
        length: u64,
    },
    /// A search hit.
    SearchHit {
        /// Process id.
        pid: Pid,
        /// Its name.
        comm: String,
        /// Address of the match.
        #[serde(with = "hex_addr")]
        address: u64,
        /// Length of the match.
        length: u64,
        /// The pattern searched.
        pattern: String,
        /// Backing path of the VMA.
        path: Option<String>,
    },
    /// A file of the container's filesystem changes.
    File {
        /// Path in the rootfs diff.
        path: String,
        /// Size in bytes.
        size: u64,
        /// Deleted by the container.
        deleted: bool,
    },
    /// An object of a memory dump's running kernel (triage's kernel rules).
    KernelObject {
        /// What it is.
        object: KernelObject,
        /// Its name: a module's; for a system-call hook, the module holding the handler.
        name: Option<String>,
        /// Its kernel address (see [`KernelObject`] for which).
        #[serde(with = "opt_hex_addr")]
        address: Option<u64>,
    },
    /// A range of a memory dump's physical memory (a YARA match there).
    Physical {
        /// First physical address.
        #[serde(with = "hex_addr")]
        address: u64,
        /// Length in bytes.
        length: u64,
    },
}

impl Target {
    /// A one-line description.
    pub fn describe(&self) -> String {
        match self {
            Target::Process { pid, comm, .. } => format!("process {pid} {comm}"),
            Target::Vma {
                pid,
                start,
                end,
                perms,
                path,
                ..
            } => {
                format!(
                    "vma {pid} {start:#x}-{end:#x} {perms} {}",
                    path.as_deref().unwrap_or("")
                )
            }
            Target::Memory {
                pid,
                address,
                length,
                ..
            } => format!("memory {pid} {address:#x} +{length}"),
            Target::SearchHit {
                pid,
                address,
                pattern,
                ..
            } => format!("hit {pid} {address:#x} /{pattern}/"),
            Target::File { path, deleted, .. } => {
                format!("file {path}{}", if *deleted { " (deleted)" } else { "" })
            }
            Target::KernelObject {
                object,
                name,
                address,
            } => {
                let mut s = format!("kernel {}", object.words());
                if let Some(n) = name {
                    s.push(' ');
                    s.push_str(n);
                }
                if let Some(a) = address {
                    s.push_str(&format!(" {a:#x}"));
                }
                s
            }
            Target::Physical { address, length } => format!("physical {address:#x} +{length}"),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn kernel_and_physical_targets_round_trip_with_hex_addresses() {
        let t = Target::KernelObject {
            object: KernelObject::HiddenModule,
            name: Some("diamorphine".into()),
            address: Some(0xffff_ffff_c030_0000),
        };
        let v = serde_json::to_value(&t).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"kind": "kernel_object", "object": "hidden_module",
                "name": "diamorphine", "address": "0xffffffffc0300000"})
        );
        assert_eq!(serde_json::from_value::<Target>(v).unwrap(), t);
        assert_eq!(
            t.describe(),
            "kernel hidden module diamorphine 0xffffffffc0300000"
        );
        let bpf = Target::KernelObject {
            object: KernelObject::BpfProgram,
            name: None,
            address: None,
        };
        let v = serde_json::to_value(&bpf).unwrap();
        assert_eq!(v.get("address"), Some(&serde_json::Value::Null));
        assert_eq!(serde_json::from_value::<Target>(v).unwrap(), bpf);
        let p = Target::Physical {
            address: 0x1234,
            length: 24,
        };
        let v = serde_json::to_value(&p).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"kind": "physical", "address": "0x1234", "length": 24})
        );
        assert_eq!(serde_json::from_value::<Target>(v).unwrap(), p);
        assert_eq!(p.describe(), "physical 0x1234 +24");
    }
}
