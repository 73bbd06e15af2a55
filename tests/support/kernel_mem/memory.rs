//! The synthetic kernel's memory: sparse pages implementing `KernelMemory`, allocation,
//! typed writes through the ISF, and shared strings ([`SynthKernel`]).

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};

use podmortem::engine::error::Result;
use podmortem::engine::evidence::PartialRead;
use podmortem::engine::kernel::isf::{Isf, TypeRef};
use podmortem::engine::kernel::memory::KernelMemory;
use serde_json::Value;

use super::consts::{S_IFDIR, SHIFT};
use super::isf::isf_json;
use super::vfs::Mnt;

const PAGE: u64 = 4096;
/// Where allocations start.
const HEAP: u64 = 0xffff_8880_0010_0000;

/// The synthetic kernel.
pub struct SynthKernel {
    pub(super) isf: Isf,
    pages: BTreeMap<u64, Vec<u8>>,
    next: u64,
    /// Calls to `read_kernel` (to prove walks are bounded).
    pub reads: AtomicU64,
    /// The root mount.
    pub root_mnt: Mnt,
    /// The root dentry.
    pub root_dentry: u64,
    /// The root filesystem's superblock.
    pub root_sb: u64,
    pub(super) dentries: HashMap<(u64, String), u64>,
    pub(super) pseudo: HashMap<&'static str, (Mnt, u64, u64)>,
    strings: HashMap<Vec<u8>, u64>,
    /// Maple nodes built by the last `add_mm_maple`, leaves first, root last.
    pub maple_nodes: Vec<(u64, u64)>,
}

impl KernelMemory for SynthKernel {
    fn isf(&self) -> &Isf {
        &self.isf
    }

    fn read_kernel(&self, vaddr: u64, buf: &mut [u8]) -> Result<PartialRead> {
        self.reads.fetch_add(1, Ordering::Relaxed);
        let mut got = PartialRead::default();
        let mut done = 0usize;
        while done < buf.len() {
            let Some(addr) = vaddr.checked_add(done as u64) else {
                break;
            };
            let page = addr & !(PAGE - 1);
            let off = (addr - page) as usize;
            let n = (PAGE as usize - off).min(buf.len() - done);
            let dst = &mut buf[done..done + n];
            match self.pages.get(&page) {
                Some(p) => {
                    dst.copy_from_slice(&p[off..off + n]);
                    got.push(done..done + n);
                }
                None => dst.fill(0),
            }
            done += n;
        }
        Ok(got)
    }

    fn virtual_shift(&self) -> u64 {
        SHIFT
    }
}

impl SynthKernel {
    /// A kernel with a root filesystem ("/" on a rootfs superblock, device 0:2).
    pub fn new(list_kernel: bool) -> SynthKernel {
        SynthKernel::with_isf(&isf_json(list_kernel))
    }

    /// A kernel with a root filesystem and the given ISF (one that extends [`isf_json`]).
    pub fn with_isf(isf: &Value) -> SynthKernel {
        let bytes = serde_json::to_vec(isf).unwrap();
        let isf = Isf::from_bytes(&bytes, "synthetic.json").unwrap();
        let mut k = SynthKernel {
            isf,
            pages: BTreeMap::new(),
            next: HEAP,
            reads: AtomicU64::new(0),
            root_mnt: Mnt {
                mount: 0,
                vfsmount: 0,
            },
            root_dentry: 0,
            root_sb: 0,
            dentries: HashMap::new(),
            pseudo: HashMap::new(),
            strings: HashMap::new(),
            maple_nodes: Vec::new(),
        };
        let sb = k.add_sb("rootfs", 2);
        let inode = k.add_inode(sb, S_IFDIR | 0o755, 1);
        let d = k.add_dentry(None, "/", inode, sb, 0);
        let m = k.add_mount(None, 0, d, sb);
        k.root_mnt = m;
        k.root_dentry = d;
        k.root_sb = sb;
        k
    }

    /// The pages written so far: (kernel virtual address, 4096 bytes), in address order.
    pub fn pages(&self) -> impl Iterator<Item = (u64, &[u8])> {
        self.pages.iter().map(|(a, p)| (*a, p.as_slice()))
    }

    /// Read calls so far.
    pub fn reads(&self) -> u64 {
        self.reads.load(Ordering::Relaxed)
    }

    /// Offset of a field.
    pub fn off(&self, s: &str, f: &str) -> u64 {
        self.isf.offset(s, f).unwrap()
    }

    /// The run-time address of a symbol.
    pub fn sym(&self, name: &str) -> u64 {
        self.isf.symbol_address(name).unwrap() + SHIFT
    }

    /// Allocates zeroed memory.
    pub fn alloc(&mut self, size: u64, align: u64) -> u64 {
        let a = self.next.div_ceil(align) * align;
        self.next = a + size.max(8);
        self.write(a, &vec![0u8; size as usize]);
        a
    }

    /// Allocates a struct of the ISF.
    pub fn alloc_struct(&mut self, name: &str) -> u64 {
        let size = self.isf.struct_size(name).unwrap();
        self.alloc(size, 64)
    }

    /// Writes bytes (creating pages), a page at a time.
    pub fn write(&mut self, addr: u64, bytes: &[u8]) {
        let mut done = 0usize;
        while done < bytes.len() {
            let a = addr + done as u64;
            let off = (a & (PAGE - 1)) as usize;
            let n = (PAGE as usize - off).min(bytes.len() - done);
            let page = self
                .pages
                .entry(a & !(PAGE - 1))
                .or_insert_with(|| vec![0; PAGE as usize]);
            page[off..off + n].copy_from_slice(&bytes[done..done + n]);
            done += n;
        }
    }

    /// Removes the page holding `addr` from the dump.
    pub fn unmap(&mut self, addr: u64) {
        self.pages.remove(&(addr & !(PAGE - 1)));
    }

    /// Writes a u64.
    pub fn w64(&mut self, addr: u64, v: u64) {
        self.write(addr, &v.to_le_bytes());
    }

    /// Writes a field with its ISF width (bitfields read-modify-write).
    pub fn set(&mut self, base: u64, s: &str, f: &str, v: u64) {
        let field = self.isf.field(s, f).unwrap();
        let addr = base + field.offset;
        let (storage, bf) = match &field.kind {
            TypeRef::Bitfield {
                bit_position,
                bit_length,
                subtype,
            } => (subtype.as_ref().clone(), Some((*bit_position, *bit_length))),
            other => (other.clone(), None),
        };
        let size = self.isf.type_size(&storage).unwrap().min(8) as usize;
        let mut cur = [0u8; 8];
        self.read_kernel(addr, &mut cur[..size]).unwrap();
        let mut val = u64::from_le_bytes(cur);
        match bf {
            Some((pos, len)) => {
                let mask = ((1u64 << len) - 1) << pos;
                val = (val & !mask) | ((v << pos) & mask);
            }
            None => val = v,
        }
        self.write(addr, &val.to_le_bytes()[..size]);
    }

    /// A NUL-terminated string in kernel memory (shared).
    pub fn string(&mut self, s: &[u8]) -> u64 {
        if let Some(a) = self.strings.get(s) {
            return *a;
        }
        let a = self.alloc(s.len() as u64 + 1, 8);
        self.write(a, s);
        self.strings.insert(s.to_vec(), a);
        a
    }
}
