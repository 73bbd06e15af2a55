//! The hex viewer's caches and the view drawn from them. Evidence is read here, in update,
//! never while drawing: the page cache, the index of page classes that folds are counted
//! from, and the lines of the screen with the bytes under the cursor, laid out again only
//! when the state or the geometry changed.
//!
//! The layouts of one update may read at most [`READ_SHARE`] pages (or look up as many
//! windows of captured ranges) to count folds; past that the view ends in
//! [`HexLine::Pending`] and the next update goes on from what was learnt, so no keypress
//! waits for a long scan.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::ops::Range;

use super::folds::{Block, Class, RunIndex};
use super::layout::{self, FOLD_SCAN_BYTES, HexLine, Memory, Spec, Specials};
use super::pages::{PAGE, PAGE_BYTES, Page, PageCache};
use super::{Geometry, State};
use crate::engine::evidence::{Evidence, PageSource, Pid};

/// Pages read (or windows of captured ranges looked up) at most per update to count folds
/// (8 MiB of pages: a few ms).
pub const READ_SHARE: u32 = 2048;

/// What a view was laid out for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ViewKey {
    pid: Pid,
    top: u64,
    cursor: u64,
    anchor: Option<u64>,
    highlight: Option<Range<u64>>,
    geometry: Geometry,
    /// A fingerprint of the memory areas' bounds.
    vmas: u64,
}

impl ViewKey {
    fn of(st: &State, pid: Pid, geometry: Geometry) -> ViewKey {
        let mut h = DefaultHasher::new();
        for v in &st.vmas {
            (v.start, v.end).hash(&mut h);
        }
        ViewKey {
            pid,
            top: st.top,
            cursor: st.cursor,
            anchor: st.anchor,
            highlight: st.highlight.clone(),
            geometry,
            vmas: h.finish(),
        }
    }
}

/// The lines of one screen and the bytes under the cursor.
#[derive(Debug, Clone)]
pub struct View {
    key: ViewKey,
    /// The display lines.
    pub lines: Vec<HexLine>,
    /// The 8 bytes from the cursor on (`None`: not captured).
    pub at_cursor: Vec<Option<u8>>,
    /// Where the byte under the cursor came from (this dump, a parent image, not captured).
    pub source: Option<PageSource>,
}

impl View {
    /// The geometry the view was laid out for.
    pub fn geometry(&self) -> Geometry {
        self.key.geometry
    }

    /// False while folds are still being counted.
    pub fn complete(&self) -> bool {
        !matches!(self.lines.last(), Some(HexLine::Pending { .. }))
    }
}

/// The caches of the hex viewer, for one process.
#[derive(Debug, Clone, Default)]
pub struct Caches {
    pid: Option<Pid>,
    pages: PageCache,
    index: RunIndex,
    view: Option<View>,
    /// Reads spent on counting folds since the last [`end_update`].
    spent: u32,
    /// Dump levels holding the process's memory (more than 1: an incremental checkpoint).
    levels: usize,
}

impl Caches {
    /// The view last laid out, if any.
    pub fn view(&self) -> Option<&View> {
        self.view.as_ref()
    }

    /// True when the process's memory is spread over several dump levels (an incremental
    /// checkpoint): the source of every byte is worth naming.
    pub fn chained(&self) -> bool {
        self.levels > 1
    }
}

/// Ends an update: the next one has a whole [`READ_SHARE`] to count folds.
pub fn end_update(st: &mut State) {
    st.caches.spent = 0;
}

/// Lays the view out again unless it is complete and made for this state and geometry.
pub fn update(ev: &dyn Evidence, st: &mut State, g: Geometry) {
    let Some(pid) = st.pid else {
        st.caches.view = None;
        return;
    };
    let key = ViewKey::of(st, pid, g);
    let State { vmas, caches, .. } = st;
    if let Some(v) = &caches.view
        && v.key == key
        && v.complete()
    {
        return;
    }
    if caches.pid != Some(pid) {
        *caches = Caches {
            pid: Some(pid),
            spent: caches.spent,
            levels: ev.memory_levels(pid),
            ..Caches::default()
        };
    }
    let spec = Spec {
        vmas,
        top: key.top,
        bpr: g.bpr,
        specials: Specials::new(key.cursor, key.anchor, key.highlight.as_ref()),
        fold_limit: FOLD_SCAN_BYTES,
    };
    let mut src = Source {
        ev,
        pid,
        pages: &mut caches.pages,
        index: &mut caches.index,
        reads: caches.spent,
    };
    let lines = layout::lines(&mut src, &spec, g.rows);
    let at_cursor = src.row(key.cursor, 8);
    caches.spent = src.reads;
    let page = key.cursor - key.cursor % PAGE;
    let source = ev
        .memory_sources(pid, page..page.saturating_add(PAGE))
        .ok()
        .and_then(|runs| {
            runs.into_iter()
                .find(|r| (r.start..r.end).contains(&key.cursor))
        })
        .map(|r| r.source);
    caches.view = Some(View {
        key,
        lines,
        at_cursor,
        source,
    });
}

/// Process memory for the layout: bytes from the page cache, page classes from the index,
/// both filled from the evidence on demand.
struct Source<'a> {
    ev: &'a dyn Evidence,
    pid: Pid,
    pages: &'a mut PageCache,
    index: &'a mut RunIndex,
    /// Reads made for counting folds in this update.
    reads: u32,
}

impl Source<'_> {
    /// Page number `number` through the cache, classified on the way in.
    fn page(&mut self, number: u64) -> &Page {
        if self.pages.cached(number).is_none() {
            let page = self.pages.get(self.ev, self.pid, number);
            if self.index.get(number).is_none() {
                let class = class_of(page);
                self.index.insert(number..number.saturating_add(1), class);
            }
        }
        self.pages.get(self.ev, self.pid, number)
    }

    /// The class of page number `page` and the end of its run as the index knows it,
    /// reading within the share.
    fn class(&mut self, page: u64) -> Option<(Class, u64)> {
        if let Some(known) = self.index.get(page) {
            return Some(known);
        }
        if let Some(p) = self.pages.cached(page) {
            let class = class_of(p);
            self.index.insert(page..page.saturating_add(1), class);
            return self.index.get(page);
        }
        if self.reads >= READ_SHARE {
            return None;
        }
        if !self.index.window_known(page) {
            self.reads += 1;
            let w = RunIndex::window_of(page);
            let captured = self
                .ev
                .captured_ranges(self.pid, w.clone())
                .unwrap_or_else(|_| vec![w]);
            self.index.record_window(page, &captured);
            if let Some(known) = self.index.get(page) {
                return Some(known);
            }
            if self.reads >= READ_SHARE {
                return None;
            }
        }
        self.reads += 1;
        let slice = page
            .checked_mul(PAGE)
            .and_then(|addr| self.ev.memory_slice(self.pid, addr, PAGE_BYTES))
            .and_then(|s| <&[u8; PAGE_BYTES]>::try_from(s).ok());
        let class = match slice {
            Some(bytes) => match Block::of_page(bytes, &[u64::MAX; PAGE_BYTES / 64]) {
                Some(b) => Class::Uniform(b),
                None => {
                    // Its rows will be compared one by one: keep its bytes.
                    self.pages.insert(Page::full(page, bytes));
                    Class::Mixed
                }
            },
            None => {
                let p = Page::read(self.ev, self.pid, page);
                let class = class_of(&p);
                if class == Class::Mixed {
                    self.pages.insert(p);
                }
                class
            }
        };
        self.index.insert(page..page.saturating_add(1), class);
        self.index.get(page)
    }

    /// True if the bytes `[addr, addr + len)` are in cached pages.
    fn cached(&mut self, addr: u64, len: u64) -> bool {
        let last = addr.saturating_add(len.saturating_sub(1));
        (addr / PAGE..=last / PAGE).all(|p| self.pages.cached(p).is_some())
    }
}

/// The class of a page read.
fn class_of(p: &Page) -> Class {
    Block::of_page(&p.bytes, &p.captured).map_or(Class::Mixed, Class::Uniform)
}

impl Memory for Source<'_> {
    fn row(&mut self, addr: u64, len: u64) -> Vec<Option<u8>> {
        let mut out = Vec::with_capacity(usize::try_from(len).unwrap_or(0));
        let mut i = 0;
        while i < len {
            let Some(a) = addr.checked_add(i) else {
                out.push(None);
                i += 1;
                continue;
            };
            let off = a % PAGE;
            let n = (PAGE - off).min(len - i);
            let page = self.page(a / PAGE);
            out.extend((off..off + n).map(|o| page.get(o as usize)));
            i += n;
        }
        out
    }

    fn run(&mut self, page: u64, limit: u64) -> Option<(Class, u64)> {
        let limit = limit.max(page.saturating_add(1));
        let (class, end) = self.class(page)?;
        let mut end = end.min(limit);
        while end < limit {
            match self.class(end) {
                Some((c, e)) if c == class => end = e.min(limit),
                _ => break,
            }
        }
        Some((class, end))
    }

    fn fold_row(&mut self, addr: u64, len: u64) -> Option<Vec<Option<u8>>> {
        if !self.cached(addr, len) {
            if self.reads >= READ_SHARE {
                return None;
            }
            self.reads += 1;
        }
        Some(self.row(addr, len))
    }
}
