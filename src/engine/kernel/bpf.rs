//! The loaded eBPF programs, as Volatility's `linux.ebpf` lists them: every `struct
//! bpf_prog` in the kernel's `prog_idr` (an IDR: an [`xarray`](super::xarray) since 4.20, a
//! radix tree from 4.13, when it came, to 4.19),
//! with its id, type (the name `enum bpf_prog_type` gives the value), name
//! (`aux->name`, what `bpftool prog` shows), tag (the hash of its instructions) and, for
//! tracing programs, the kernel function it attaches to.

use serde::Serialize;

use crate::engine::error::Result;
use crate::engine::evidence::{Walk, hex};
use crate::engine::kernel::memory::KernelMemory;
use crate::engine::kernel::note_problem;
use crate::engine::kernel::structs::UintField;
use crate::engine::kernel::xarray::walk_idr;

/// Longest attach-function name read.
const MAX_ATTACH: usize = 128;

/// One loaded eBPF program.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BpfProgram {
    /// Its id (`aux->id`, what `bpftool prog` lists).
    pub id: u64,
    /// Kernel address of its `struct bpf_prog`.
    #[serde(serialize_with = "hex::u64")]
    pub address: u64,
    /// Its type, as `enum bpf_prog_type` names it (`BPF_PROG_TYPE_CGROUP_DEVICE`), or the
    /// number.
    #[serde(rename = "type")]
    pub prog_type: String,
    /// Its name (`aux->name`; empty when loaded without one).
    pub name: String,
    /// Its tag: the 8-byte hash of its instructions, in hex.
    pub tag: String,
    /// The kernel function a tracing or LSM program attaches to (`aux->attach_func_name`).
    pub attach_to: Option<String>,
}

impl BpfProgram {
    /// The type without its `BPF_PROG_TYPE_` prefix, lower case (`cgroup_device`).
    pub fn short_type(&self) -> String {
        self.prog_type
            .strip_prefix("BPF_PROG_TYPE_")
            .unwrap_or(&self.prog_type)
            .to_ascii_lowercase()
    }
}

/// Reads the program at `prog`.
fn read_prog(k: &dyn KernelMemory, prog: u64) -> Result<BpfProgram> {
    let isf = k.isf();
    let ty =
        UintField::of(isf, "bpf_prog", "type").map_or(Ok(None), |f| f.read(k, prog).map(Some))?;
    let prog_type = match ty {
        Some(v) => isf
            .enum_name("bpf_prog_type", v as i64)
            .map_or_else(|| v.to_string(), str::to_string),
        None => "unknown".into(),
    };
    let mut tag = [0u8; 8];
    k.read_exact(prog.wrapping_add(isf.offset("bpf_prog", "tag")?), &mut tag)?;
    let aux = k.read_u64(prog.wrapping_add(isf.offset("bpf_prog", "aux")?))?;
    let id = UintField::of(isf, "bpf_prog_aux", "id").map_or(Ok(0), |f| f.read(k, aux))?;
    let name = match isf.field("bpf_prog_aux", "name") {
        Some(f) => k.read_cstr(aux.wrapping_add(f.offset), 16)?,
        None => Vec::new(),
    };
    let attach_to = isf
        .field("bpf_prog_aux", "attach_func_name")
        .and_then(|f| k.read_u64(aux.wrapping_add(f.offset)).ok())
        .filter(|&p| p != 0)
        .and_then(|p| k.read_cstr(p, MAX_ATTACH).ok())
        .filter(|s| !s.is_empty())
        .map(|s| String::from_utf8_lossy(&s).into_owned());
    Ok(BpfProgram {
        id,
        address: prog,
        prog_type,
        name: String::from_utf8_lossy(&name).into_owned(),
        tag: tag.iter().map(|b| format!("{b:02x}")).collect(),
        attach_to,
    })
}

/// The programs in `prog_idr`, in id order, with the damage met.
pub fn bpf_programs(k: &dyn KernelMemory) -> Result<Walk<BpfProgram>> {
    let idr = k.symbol("prog_idr")?;
    let xa = walk_idr(k, idr)?;
    let mut w = Walk {
        items: Vec::new(),
        problems: xa.problems,
    };
    for (index, prog) in xa.entries {
        match read_prog(k, prog) {
            Ok(p) => w.items.push(p),
            Err(e) => note_problem(&mut w.problems, || {
                format!("eBPF program {index} at {prog:#x}: {e}")
            }),
        }
    }
    Ok(w)
}
