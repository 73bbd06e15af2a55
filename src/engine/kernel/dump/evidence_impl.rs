//! [`KernelDump`] as [`Evidence`] and as a [`PhysicalSpace`].

use std::ops::Range;
use std::sync::atomic::AtomicBool;

use regex::bytes::Regex;
use serde_json::{Map, Value, json};

use super::KernelDump;
use crate::engine::capability::{KernelObjects, PhysicalSpace};
use crate::engine::checkpoint::tasks::split_nul;
use crate::engine::error::Result;
use crate::engine::evidence::{
    Evidence, EvidenceInfo, EvidenceKind, OpenFile, PartialRead, Pid, Process, Slices, Vma, Walk,
};
use crate::engine::kernel::addr::VirtAddr;
use crate::engine::kernel::isf::SymbolSource;
use crate::engine::kernel::memory::KernelMemory;
use crate::engine::kernel::phys_search::{OwnerMap, OwnerProcess, search_with_owners};
use crate::engine::search::{PhysOwner, Sink, Summary};

impl Evidence for KernelDump {
    fn info(&self) -> EvidenceInfo {
        let layout = self.layout();
        let phys = self.space.phys();
        let isf = self.space.isf();
        let mut d = Map::new();
        d.insert("banner".into(), json!(self.banner));
        d.insert("kernel_release".into(), json!(self.release));
        d.insert("hostname".into(), json!(self.hostname));
        d.insert(
            "kaslr".into(),
            json!({
                "virtual_shift": format!("{:#x}", layout.virtual_shift),
                "physical_shift": format!("{:#x}", layout.physical_shift),
                "dtb": format!("{:#x}", layout.dtb),
                "five_level_paging": layout.la57,
                "found_by": layout.source.describe(),
            }),
        );
        d.insert("source_format".into(), json!(phys.format()));
        d.insert(
            "physical_ranges".into(),
            Value::Array(
                phys.ranges()
                    .iter()
                    .map(|r| json!({"start": format!("{:#x}", r.start), "end": format!("{:#x}", r.end)}))
                    .collect(),
            ),
        );
        match isf.source() {
            SymbolSource::IsfFile => {
                d.insert(
                    "isf".into(),
                    json!({"path": isf.path().display().to_string(), "from_cache": isf.from_cache()}),
                );
                d.insert(
                    "symbols".into(),
                    json!({"source": "isf", "path": isf.path().display().to_string(),
                           "from_cache": isf.from_cache(), "chosen": self.symbols_matched}),
                );
            }
            SymbolSource::Vmlinux { path, system_map } => {
                d.insert(
                    "symbols".into(),
                    json!({"source": "vmlinux", "path": path.display().to_string(),
                           "system_map": system_map.as_ref().map(|p| p.display().to_string()),
                           "types": isf.user_type_count(), "symbols": isf.symbol_count(),
                           "chosen": self.symbols_matched}),
                );
            }
            SymbolSource::DumpBtf {
                btf_at,
                btf_len,
                from_cache,
            } => {
                d.insert(
                    "symbols".into(),
                    json!({"source": "btf+kallsyms", "btf_physical": format!("{btf_at:#x}"),
                           "btf_bytes": btf_len, "from_cache": from_cache,
                           "types": isf.user_type_count(), "symbols": isf.symbol_count(),
                           "chosen": self.symbols_matched}),
                );
            }
        }
        d.insert("processes".into(), json!(self.processes.len()));

        d.insert("containers".into(), self.containers());
        let title = match (&self.release, &self.hostname) {
            (Some(r), Some(h)) => format!("Linux {r} on {h}"),
            (Some(r), None) => format!("Linux {r}"),
            _ => "Linux kernel memory dump".to_string(),
        };
        EvidenceInfo {
            path: self.path.clone(),
            kind: EvidenceKind::KernelDump,
            format: phys.format().to_string(),
            size: self.size,
            engine: None,
            title,
            details: d,
            warnings: self.warnings.clone(),
        }
    }

    fn processes(&self) -> Result<Vec<Process>> {
        Ok(self.processes.clone())
    }

    fn maps(&self, pid: Pid) -> Result<Walk<Vma>> {
        Ok(self.maps_walk(self.get(pid)?).clone())
    }

    fn environment(&self, pid: Pid) -> Result<Vec<String>> {
        let task = self.get(pid)?;
        Ok(match &task.info.env {
            Some(r) if !task.info.kernel_thread => split_nul(&self.read_block(task, r)),
            _ => Vec::new(),
        })
    }

    fn files(&self, pid: Pid) -> Result<Walk<OpenFile>> {
        Ok(self.files_walk(self.get(pid)?)?.clone())
    }

    fn read_memory(&self, pid: Pid, addr: u64, buf: &mut [u8]) -> Result<PartialRead> {
        let task = self.get(pid)?;
        match task.root {
            Some(root) => self.space.read_user(root, VirtAddr(addr), buf),
            None => {
                buf.fill(0);
                Ok(PartialRead::default())
            }
        }
    }

    fn memory_slice(&self, pid: Pid, addr: u64, len: usize) -> Option<&[u8]> {
        let root = self.tasks.get(&pid)?.root?;
        let last = addr.checked_add(len.checked_sub(1)? as u64)?;
        if addr >> 12 != last >> 12 {
            return None; // pages are not contiguous in physical memory
        }
        let t = self
            .space
            .paging()
            .translate(self.space.phys(), root, VirtAddr(addr))
            .ok()??;
        self.space.phys().slice(t.phys.get(), len)
    }

    fn physical(&self) -> Option<&dyn PhysicalSpace> {
        Some(self)
    }

    fn kernel(&self) -> Option<&dyn KernelObjects> {
        Some(self)
    }

    fn captured_slices(&self, pid: Pid, range: Range<u64>) -> Result<Option<Slices<'_>>> {
        let task = self.get(pid)?;
        let Some(root) = task.root else {
            return Ok(Some(Vec::new()));
        };
        let maps = self.maps_of(task);
        let areas: Vec<Range<u64>> = if maps.is_empty() {
            vec![range]
        } else {
            maps.iter()
                .map(|v| v.start.max(range.start)..v.end.min(range.end))
                .filter(|r| r.start < r.end)
                .collect()
        };
        self.space.user_slices(root, &areas)
    }

    fn captured_ranges(&self, pid: Pid, range: Range<u64>) -> Result<Vec<Range<u64>>> {
        let task = self.get(pid)?;
        let Some(root) = task.root else {
            return Ok(Vec::new());
        };
        let maps = self.maps_of(task);
        if maps.is_empty() {
            return self.space.user_captured(root, range);
        }
        let mut out: Vec<Range<u64>> = Vec::new();
        for v in maps {
            let lo = v.start.max(range.start);
            let hi = v.end.min(range.end);
            if lo >= hi {
                continue;
            }
            for r in self.space.user_captured(root, lo..hi)? {
                match out.last_mut() {
                    Some(last) if last.end == r.start => last.end = r.end,
                    _ => out.push(r),
                }
            }
        }
        Ok(out)
    }
}

impl KernelDump {
    /// The user processes whose page tables say which process maps a physical page.
    fn owner_processes(&self) -> Vec<OwnerProcess> {
        self.tasks
            .values()
            .filter(|t| !t.info.kernel_thread)
            .filter_map(|t| {
                Some(OwnerProcess {
                    pid: t.info.pid,
                    comm: t.info.comm.clone(),
                    root: t.root?,
                })
            })
            .collect()
    }
}

impl PhysicalSpace for KernelDump {
    fn ranges(&self) -> Vec<Range<u64>> {
        self.space.phys().ranges().to_vec()
    }

    fn search(&self, regex: &Regex, cancel: &AtomicBool, sink: &mut dyn Sink) -> Result<Summary> {
        search_with_owners(&self.space, self.owner_processes(), regex, cancel, sink)
    }

    fn owners(&self, addrs: &[u64]) -> Vec<Option<PhysOwner>> {
        if addrs.is_empty() {
            return Vec::new();
        }
        let map = OwnerMap::build(&self.space, self.owner_processes());
        crate::engine::mapped::release_all();
        addrs.iter().map(|&a| map.lookup(a)).collect()
    }

    fn read(&self, addr: u64, buf: &mut [u8]) -> Result<PartialRead> {
        self.space.phys().read_phys(addr, buf)
    }

    fn slice(&self, addr: u64, len: usize) -> Option<&[u8]> {
        self.space.phys().slice(addr, len)
    }
}
