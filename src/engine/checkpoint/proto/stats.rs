//! `stats-dump` / `stats-restore` (service images, opened by `IMG_SERVICE`): timings and
//! page counts of a dump or a restore.

/// Statistics of a dump or restore (`stats_entry`); one of the two is set.
#[derive(Clone, PartialEq, prost::Message)]
pub struct StatsEntry {
    /// Dump statistics (`stats-dump`).
    #[prost(message, optional, tag = "1")]
    pub dump: Option<DumpStatsEntry>,
    /// Restore statistics (`stats-restore`).
    #[prost(message, optional, tag = "2")]
    pub restore: Option<RestoreStatsEntry>,
}

/// Dump statistics (`dump_stats_entry`). Times are in microseconds.
#[derive(Clone, PartialEq, prost::Message)]
pub struct DumpStatsEntry {
    /// Time spent freezing the tasks.
    #[prost(uint32, required, tag = "1")]
    pub freezing_time: u32,
    /// Time the tasks stayed frozen.
    #[prost(uint32, required, tag = "2")]
    pub frozen_time: u32,
    /// Time spent collecting memory.
    #[prost(uint32, required, tag = "3")]
    pub memdump_time: u32,
    /// Time spent writing memory to images.
    #[prost(uint32, required, tag = "4")]
    pub memwrite_time: u32,
    /// Pages scanned.
    #[prost(uint64, required, tag = "5")]
    pub pages_scanned: u64,
    /// Pages left out because the parent image has them.
    #[prost(uint64, required, tag = "6")]
    pub pages_skipped_parent: u64,
    /// Pages written to the pages files.
    #[prost(uint64, required, tag = "7")]
    pub pages_written: u64,
    /// Time spent resolving inotify watch paths.
    #[prost(uint32, optional, tag = "8")]
    pub irmap_resolve: Option<u32>,
    /// Pages marked for lazy restore.
    #[prost(uint64, required, tag = "9")]
    pub pages_lazy: u64,
    /// Page pipes used.
    #[prost(uint64, optional, tag = "10")]
    pub page_pipes: Option<u64>,
    /// Page pipe buffers used.
    #[prost(uint64, optional, tag = "11")]
    pub page_pipe_bufs: Option<u64>,
    /// Shared-memory pages scanned.
    #[prost(uint64, optional, tag = "12")]
    pub shpages_scanned: Option<u64>,
    /// Shared-memory pages left out because the parent image has them.
    #[prost(uint64, optional, tag = "13")]
    pub shpages_skipped_parent: Option<u64>,
    /// Shared-memory pages written.
    #[prost(uint64, optional, tag = "14")]
    pub shpages_written: Option<u64>,
}

/// Restore statistics (`restore_stats_entry`). Times are in microseconds.
#[derive(Clone, PartialEq, prost::Message)]
pub struct RestoreStatsEntry {
    /// Pages compared with the parent image.
    #[prost(uint64, required, tag = "1")]
    pub pages_compared: u64,
    /// Pages skipped thanks to copy-on-write sharing.
    #[prost(uint64, required, tag = "2")]
    pub pages_skipped_cow: u64,
    /// Time spent forking the tree.
    #[prost(uint32, required, tag = "3")]
    pub forking_time: u32,
    /// Time spent restoring.
    #[prost(uint32, required, tag = "4")]
    pub restore_time: u32,
    /// Pages restored.
    #[prost(uint64, optional, tag = "5")]
    pub pages_restored: Option<u64>,
}
