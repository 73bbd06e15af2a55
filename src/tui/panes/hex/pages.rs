//! The hex viewer's page cache: the last few dozen 4 KiB pages of one process read from the
//! evidence, each with a bitmap of its captured bytes, evicting the least recently used.

use crate::engine::evidence::{Evidence, PartialRead, Pid};

/// Page size of the cache (bytes).
pub const PAGE: u64 = 0x1000;
/// Page size as a buffer length.
pub const PAGE_BYTES: usize = PAGE as usize;
/// Pages kept.
pub const CAPACITY: usize = 64;

/// One page of process memory.
#[derive(Clone)]
pub struct Page {
    /// Page number (address / [`PAGE`]).
    number: u64,
    /// The bytes (0 where not captured).
    pub bytes: Box<[u8; PAGE_BYTES]>,
    /// Bit `i % 64` of word `i / 64`: byte `i` captured.
    pub captured: [u64; PAGE_BYTES / 64],
    /// Last use, for eviction.
    used: u64,
}

impl Page {
    /// Reads page number `number` of a process (a failed read: nothing captured).
    pub fn read(ev: &dyn Evidence, pid: Pid, number: u64) -> Page {
        let mut bytes = Box::new([0u8; PAGE_BYTES]);
        let got = number
            .checked_mul(PAGE)
            .and_then(|addr| ev.read_memory(pid, addr, &mut bytes[..]).ok())
            .unwrap_or_default();
        let captured = bitmap(&got);
        for (i, b) in bytes.iter_mut().enumerate() {
            if !captured_at(&captured, i) {
                *b = 0;
            }
        }
        Page {
            number,
            bytes,
            captured,
            used: 0,
        }
    }

    /// Page number `number` from bytes all captured.
    pub fn full(number: u64, bytes: &[u8; PAGE_BYTES]) -> Page {
        Page {
            number,
            bytes: Box::new(*bytes),
            captured: [u64::MAX; PAGE_BYTES / 64],
            used: 0,
        }
    }

    /// The byte at offset `i` (`None`: not captured, or past the page).
    pub fn get(&self, i: usize) -> Option<u8> {
        if captured_at(&self.captured, i) {
            self.bytes.get(i).copied()
        } else {
            None
        }
    }
}

/// True if bit `i` of a page bitmap is set.
fn captured_at(map: &[u64; PAGE_BYTES / 64], i: usize) -> bool {
    map.get(i / 64).is_some_and(|w| w >> (i % 64) & 1 == 1)
}

/// The bitmap of a page-sized read.
fn bitmap(got: &PartialRead) -> [u64; PAGE_BYTES / 64] {
    let mut map = [0u64; PAGE_BYTES / 64];
    for r in &got.captured {
        for i in r.start..r.end.min(PAGE_BYTES) {
            if let Some(w) = map.get_mut(i / 64) {
                *w |= 1 << (i % 64);
            }
        }
    }
    map
}

/// The last [`CAPACITY`] pages read.
#[derive(Clone, Default)]
pub struct PageCache {
    pages: Vec<Page>,
    clock: u64,
}

impl std::fmt::Debug for PageCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PageCache")
            .field(
                "pages",
                &self.pages.iter().map(|p| p.number).collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl PageCache {
    /// Page number `number`, if cached (marked as used).
    pub fn cached(&mut self, number: u64) -> Option<&Page> {
        self.clock += 1;
        let clock = self.clock;
        let page = self.pages.iter_mut().find(|p| p.number == number)?;
        page.used = clock;
        Some(page)
    }

    /// Page number `number`, read from the evidence when not cached.
    pub fn get(&mut self, ev: &dyn Evidence, pid: Pid, number: u64) -> &Page {
        self.clock += 1;
        let clock = self.clock;
        let i = match self.pages.iter().position(|p| p.number == number) {
            Some(i) => i,
            None => self.insert(Page::read(ev, pid, number)),
        };
        let page = &mut self.pages[i];
        page.used = clock;
        page
    }

    /// Keeps a page read elsewhere; returns its slot.
    pub fn insert(&mut self, page: Page) -> usize {
        if let Some(i) = self.pages.iter().position(|p| p.number == page.number) {
            self.pages[i] = page;
            return i;
        }
        if self.pages.len() < CAPACITY {
            self.pages.push(page);
            return self.pages.len() - 1;
        }
        let oldest = self
            .pages
            .iter()
            .enumerate()
            .min_by_key(|(_, p)| p.used)
            .map_or(0, |(i, _)| i);
        self.pages[oldest] = page;
        oldest
    }
}
