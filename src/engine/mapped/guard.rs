//! Evidence that shrinks under a memory map must not kill podmortem.
//!
//! Reading a page of a memory-mapped file beyond the file's current end raises SIGBUS, which
//! by default ends the process (exit 135) with the terminal left raw. Analysts do open copies
//! that are still arriving or live on network shares, so every map of evidence is registered
//! here, and a SIGBUS handler turns a fault inside a registered map into zeros: it maps
//! anonymous zero pages over the rest of that map (`mmap(MAP_FIXED)`, a plain system call, safe
//! in a signal handler), records the map and the offset, and returns, so the read goes on.
//! The engine then reports [`fault`] as an error naming the file and the offset
//! ([`check`](super::check)), and the workbench saves its findings, restores the terminal
//! and exits with that message. A SIGBUS outside every registered map goes to the handler
//! that was there before (Rust's own), or ends the process as it would have.
//!
//! The handler touches only atomics and makes one system call; everything else (paths,
//! messages) lives outside it.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Mutex, Once};

/// How many maps can be guarded at once; more are mapped unguarded (and logged).
const SLOTS: usize = 4096;
/// "No fault" in a slot's fault offset.
const NONE: u64 = u64::MAX;

/// One guarded map: its address range, and the lowest offset that faulted.
struct Slot {
    /// Start address; 0 when the slot is free.
    start: AtomicUsize,
    len: AtomicUsize,
    fault: AtomicU64,
}

#[allow(clippy::declare_interior_mutable_const)]
const FREE: Slot = Slot {
    start: AtomicUsize::new(0),
    len: AtomicUsize::new(0),
    fault: AtomicU64::new(NONE),
};

static SLOT: [Slot; SLOTS] = [FREE; SLOTS];
/// Set by the handler on the first fault it absorbs: a cheap test for the event loop.
static FAULTED: AtomicBool = AtomicBool::new(false);
static PAGE: AtomicUsize = AtomicUsize::new(4096);
/// While all the guarded maps together are smaller than this, they keep their pages: the
/// resident set they can add is bounded by their size, and releasing costs more than it
/// saves (each `MADV_DONTNEED` flushes the other cores' TLBs: a fifth of a two-thread search
/// of a 150 MB dump). The sum, not each map: a checkpoint folder maps hundreds of small
/// page images, 4 GiB in all.
pub const KEEP_RESIDENT_BELOW: usize = 256 << 20;
/// Bytes of all guarded maps.
static MAPPED: AtomicUsize = AtomicUsize::new(0);

/// True while the guarded maps are small enough to keep their pages (see
/// [`KEEP_RESIDENT_BELOW`]).
fn keep_resident() -> bool {
    MAPPED.load(Ordering::Relaxed) < KEEP_RESIDENT_BELOW
}

/// The span of pages Linux maps around a read fault when they are in the page cache
/// (`fault_around_bytes`, 64 KiB by default): what [`release`] rounds its ranges out to.
const FAULT_AROUND: usize = 64 << 10;
/// One past the highest slot ever used (what [`release`] looks through).
static USED: AtomicUsize = AtomicUsize::new(0);
static INSTALL: Once = Once::new();
/// The paths of the guarded maps, by slot (never touched by the handler).
static PATHS: Mutex<Vec<Option<PathBuf>>> = Mutex::new(Vec::new());
/// The first fault of a map that has since been unmapped.
static GONE: Mutex<Option<Fault>> = Mutex::new(None);
/// The SIGBUS disposition before ours (handler and flags), for faults outside our maps.
static PREVIOUS_ACTION: AtomicUsize = AtomicUsize::new(0);
static PREVIOUS_FLAGS: AtomicUsize = AtomicUsize::new(0);

/// A read of evidence bytes that are gone: the file shrank while mapped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fault {
    /// The evidence file.
    pub path: PathBuf,
    /// The lowest offset in the file that could not be read.
    pub offset: u64,
    /// The file's length when the fault was reported (`None` when it is gone altogether).
    pub now: Option<u64>,
}

/// A registration: unregisters the map when dropped (before the map itself goes).
#[derive(Debug)]
pub struct Registration {
    slot: Option<usize>,
}

/// Guards `len` bytes mapped at `start` from `path`; installs the handler on first use.
pub fn register(path: &Path, start: *const u8, len: usize) -> Registration {
    INSTALL.call_once(install);
    let mut paths = PATHS.lock().unwrap_or_else(|p| p.into_inner());
    if paths.len() < SLOTS {
        paths.resize(SLOTS, None);
    }
    for (i, (slot, held)) in SLOT.iter().zip(paths.iter_mut()).enumerate() {
        if slot.start.load(Ordering::Acquire) == 0 && held.is_none() {
            *held = Some(path.to_path_buf());
            slot.fault.store(NONE, Ordering::Relaxed);
            slot.len.store(len, Ordering::Relaxed);
            slot.start.store(start as usize, Ordering::Release);
            MAPPED.fetch_add(len, Ordering::Relaxed);
            USED.fetch_max(i + 1, Ordering::AcqRel);
            return Registration { slot: Some(i) };
        }
    }
    tracing::warn!(path = %path.display(), "more than {SLOTS} maps: this one is not guarded");
    Registration { slot: None }
}

impl Drop for Registration {
    fn drop(&mut self) {
        let Some((i, slot)) = self.slot.and_then(|i| Some((i, SLOT.get(i)?))) else {
            return;
        };
        slot.start.store(0, Ordering::Release);
        MAPPED.fetch_sub(slot.len.load(Ordering::Relaxed), Ordering::Relaxed);
        let offset = slot.fault.swap(NONE, Ordering::AcqRel);
        let mut paths = PATHS.lock().unwrap_or_else(|p| p.into_inner());
        let path = paths.get_mut(i).and_then(Option::take);
        if offset != NONE
            && let Some(path) = path
        {
            let mut gone = GONE.lock().unwrap_or_else(|p| p.into_inner());
            gone.get_or_insert_with(|| fault_of(path, offset));
        }
    }
}

/// Drops the pages of `[addr, addr + len)`, widened to whole fault-around blocks and cut to
/// the guarded map that holds `addr`, from the process's resident set
/// (`madvise(MADV_DONTNEED)`); does nothing when `addr` lies in no guarded map (a heap
/// buffer, say). A refused call is only logged. See [`crate::engine::mapped::release`] for
/// why this is sound.
#[allow(unsafe_code)]
pub fn release(addr: usize, len: usize) {
    if len == 0 || addr == 0 {
        return;
    }
    // Held while the range is looked up and released: a registration is dropped (under this
    // lock) before its map is unmapped, so the map found here stays mapped until the end.
    let _paths = PATHS.lock().unwrap_or_else(|p| p.into_inner());
    let page = PAGE.load(Ordering::Relaxed);
    let used = USED.load(Ordering::Acquire).min(SLOTS);
    for slot in SLOT.iter().take(used) {
        let start = slot.start.load(Ordering::Acquire);
        let size = slot.len.load(Ordering::Relaxed);
        if start == 0 || addr < start || addr - start >= size {
            continue;
        }
        if keep_resident() {
            return;
        }
        // Whole blocks of the kernel's fault-around (pages near a fault that are in the
        // page cache are mapped with it), cut to the map.
        let end = start + size;
        let block = FAULT_AROUND.max(page);
        let from = (addr & !(block - 1)).max(start);
        let to = addr
            .saturating_add(len)
            .min(end)
            .checked_next_multiple_of(block)
            .unwrap_or(end)
            .min(end);
        if from >= to {
            return;
        }
        // SAFETY: [from, to) lies inside a live map of evidence made by `Blob::map`:
        // read-only (`PROT_READ`) and private, so none of its pages was ever written, and it
        // stays mapped while the lock is held. For such a map MADV_DONTNEED only unmaps the
        // pages from this process: the next read faults the same bytes in again from the
        // file (or zeros, where the SIGBUS handler put anonymous pages), so every `&[u8]`
        // into the range stays valid and keeps its contents.
        let r = unsafe { libc::madvise(from as *mut libc::c_void, to - from, libc::MADV_DONTNEED) };
        if r != 0 {
            tracing::debug!(
                "madvise(MADV_DONTNEED) refused: {}",
                std::io::Error::last_os_error()
            );
        }
        return;
    }
}

/// Drops every page of every guarded map from the process's resident set (see [`release`]).
#[allow(unsafe_code)]
pub fn release_all() {
    let _paths = PATHS.lock().unwrap_or_else(|p| p.into_inner());
    if keep_resident() {
        return;
    }
    let used = USED.load(Ordering::Acquire).min(SLOTS);
    for slot in SLOT.iter().take(used) {
        let start = slot.start.load(Ordering::Acquire);
        let size = slot.len.load(Ordering::Relaxed);
        if start == 0 || size == 0 {
            continue;
        }
        // SAFETY: as in `release`: a whole live read-only private map of evidence (maps
        // start on a page), kept mapped by the lock; its pages read the same when faulted in
        // again.
        let r = unsafe { libc::madvise(start as *mut libc::c_void, size, libc::MADV_DONTNEED) };
        if r != 0 {
            tracing::debug!(
                "madvise(MADV_DONTNEED) refused: {}",
                std::io::Error::last_os_error()
            );
        }
    }
}

/// True once any read of evidence has faulted (cheap: one atomic load).
pub fn faulted() -> bool {
    FAULTED.load(Ordering::Acquire)
}

/// The first read of evidence bytes that were gone, if any.
pub fn fault() -> Option<Fault> {
    if !faulted() {
        return None;
    }
    let paths = PATHS.lock().unwrap_or_else(|p| p.into_inner());
    for (i, slot) in SLOT.iter().enumerate() {
        let offset = slot.fault.load(Ordering::Acquire);
        if offset != NONE
            && let Some(Some(path)) = paths.get(i)
        {
            return Some(fault_of(path.clone(), offset));
        }
    }
    drop(paths);
    GONE.lock().unwrap_or_else(|p| p.into_inner()).clone()
}

fn fault_of(path: PathBuf, offset: u64) -> Fault {
    let now = std::fs::metadata(&path).ok().map(|m| m.len());
    Fault { path, offset, now }
}

#[allow(unsafe_code)]
fn install() {
    // SAFETY: sysconf has no preconditions.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if let Ok(page) = usize::try_from(page)
        && page.is_power_of_two()
    {
        PAGE.store(page, Ordering::Relaxed);
    }
    // SAFETY: a zeroed sigaction is a valid value; the handler below only uses atomics,
    // mmap and sigaction, which are async-signal-safe.
    unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = on_sigbus as *const () as usize;
        action.sa_flags = libc::SA_SIGINFO | libc::SA_ONSTACK;
        libc::sigemptyset(&mut action.sa_mask);
        let mut old: libc::sigaction = std::mem::zeroed();
        if libc::sigaction(libc::SIGBUS, &action, &mut old) != 0 {
            tracing::warn!("cannot install the SIGBUS handler: truncated evidence will crash");
            return;
        }
        PREVIOUS_ACTION.store(old.sa_sigaction, Ordering::Release);
        PREVIOUS_FLAGS.store(old.sa_flags as usize, Ordering::Release);
    }
}

#[allow(unsafe_code)]
extern "C" fn on_sigbus(sig: libc::c_int, info: *mut libc::siginfo_t, ctx: *mut libc::c_void) {
    // SAFETY: the kernel passes a valid siginfo for SA_SIGINFO handlers.
    let addr = if info.is_null() {
        0
    } else {
        unsafe { (*info).si_addr() as usize }
    };
    let page = PAGE.load(Ordering::Relaxed);
    for slot in &SLOT {
        let start = slot.start.load(Ordering::Acquire);
        let len = slot.len.load(Ordering::Relaxed);
        if start == 0 || addr < start || addr - start >= len {
            continue;
        }
        let from = addr & !(page - 1);
        let end = start + len;
        // SAFETY: [from, end) lies inside a live read-only map this process owns (it stays
        // registered until just before it is unmapped); replacing its pages with anonymous
        // zero pages changes what later reads see, not the memory's validity.
        let r = unsafe {
            libc::mmap(
                from as *mut libc::c_void,
                end - from,
                libc::PROT_READ,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_FIXED | libc::MAP_NORESERVE,
                -1,
                0,
            )
        };
        if r == libc::MAP_FAILED {
            break;
        }
        slot.fault
            .fetch_min((from.max(start) - start) as u64, Ordering::AcqRel);
        FAULTED.store(true, Ordering::Release);
        return;
    }
    // Not ours: the previous handler, or the default action (the fault repeats on return).
    let previous = PREVIOUS_ACTION.load(Ordering::Acquire);
    let flags = PREVIOUS_FLAGS.load(Ordering::Acquire) as libc::c_int;
    if previous != libc::SIG_DFL && previous != libc::SIG_IGN {
        // SAFETY: the previous handler was installed for SIGBUS with these flags.
        unsafe {
            if flags & libc::SA_SIGINFO != 0 {
                let f: extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut libc::c_void) =
                    std::mem::transmute(previous);
                f(sig, info, ctx);
            } else {
                let f: extern "C" fn(libc::c_int) = std::mem::transmute(previous);
                f(sig);
            }
        }
        return;
    }
    // SAFETY: restoring the default disposition; returning re-executes the faulting read.
    unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = libc::SIG_DFL;
        libc::sigemptyset(&mut action.sa_mask);
        libc::sigaction(libc::SIGBUS, &action, std::ptr::null_mut());
    }
}
