//! `pagemap-<pid>.img` / `pagemap-shmem-<id>.img`: which pages of an address space were
//! dumped, and where their bytes are.
//!
//! The first entry is a [`PagemapHead`] naming `pages-<pages_id>.img`; every further entry
//! is a [`PagemapEntry`], a run of pages. The page count moved between CRIU versions: up to
//! 4.1 it is field 2 (`nr_pages`, u32); CRIU 4.2 writes field 2 as 0 (`compat_nr_pages`) and
//! the count in field 5 (u64). [`PagemapEntry::page_count`] reads both.

/// Flag: the pages are in the parent (pre-dump) image, not in this one.
pub const PE_PARENT: u32 = 1 << 0;
/// Flag: the pages may be restored lazily (still present in the pages file when
/// [`PE_PRESENT`] is also set).
pub const PE_LAZY: u32 = 1 << 1;
/// Flag: the pages occupy space in the pages file.
pub const PE_PRESENT: u32 = 1 << 2;

/// First entry of a pagemap image (`pagemap_head`).
#[derive(Clone, PartialEq, prost::Message)]
pub struct PagemapHead {
    /// Id of the pages file, `pages-<pages_id>.img` (not the pid).
    #[prost(uint32, required, tag = "1")]
    pub pages_id: u32,
}

/// A run of contiguous dumped pages (`pagemap_entry`).
#[derive(Clone, PartialEq, prost::Message)]
pub struct PagemapEntry {
    /// Address of the first page.
    #[prost(uint64, required, tag = "1")]
    pub vaddr: u64,
    /// Field 2: the page count up to CRIU 4.1 (`nr_pages`); 0 from CRIU 4.2 on
    /// (`compat_nr_pages`).
    #[prost(uint32, optional, tag = "2")]
    pub compat_nr_pages: Option<u32>,
    /// Pages are in the parent image (images without `flags`).
    #[prost(bool, optional, tag = "3")]
    pub in_parent: Option<bool>,
    /// `PE_*` bits; absent in old images (see [`PagemapEntry::effective_flags`]).
    #[prost(uint32, optional, tag = "4")]
    pub flags: Option<u32>,
    /// Field 5: the page count from CRIU 4.2 on.
    #[prost(uint64, optional, tag = "5")]
    pub nr_pages: Option<u64>,
}

impl PagemapEntry {
    /// Number of pages in the run: field 5 when present, else field 2.
    pub fn page_count(&self) -> u64 {
        match self.nr_pages {
            Some(n) => n,
            None => u64::from(self.compat_nr_pages.unwrap_or(0)),
        }
    }

    /// The `PE_*` flags as CRIU reads them: `in_parent` adds [`PE_PARENT`]; otherwise an
    /// entry without `flags` (old images) means [`PE_PRESENT`].
    pub fn effective_flags(&self) -> u32 {
        if self.in_parent == Some(true) {
            self.flags.unwrap_or(0) | PE_PARENT
        } else {
            self.flags.unwrap_or(PE_PRESENT)
        }
    }

    /// Whether the run's bytes are in this image's pages file.
    pub fn is_present(&self) -> bool {
        self.effective_flags() & PE_PRESENT != 0
    }
}
