//! `sk_opts_entry`: socket options common to every socket family (`SOL_SOCKET` level).

/// Socket-level options (`sk_opts_entry`); the ones podmortem shows.
#[derive(Clone, PartialEq, prost::Message)]
pub struct SkOptsEntry {
    /// `SO_SNDBUF`.
    #[prost(uint32, required, tag = "1")]
    pub so_sndbuf: u32,
    /// `SO_RCVBUF`.
    #[prost(uint32, required, tag = "2")]
    pub so_rcvbuf: u32,
    /// `SO_REUSEADDR`.
    #[prost(bool, optional, tag = "7")]
    pub reuseaddr: Option<bool>,
    /// `SO_PRIORITY`.
    #[prost(uint32, optional, tag = "8")]
    pub so_priority: Option<u32>,
    /// `SO_MARK`.
    #[prost(uint32, optional, tag = "10")]
    pub so_mark: Option<u32>,
    /// `SO_PASSCRED`.
    #[prost(bool, optional, tag = "11")]
    pub so_passcred: Option<bool>,
    /// `SO_BINDTODEVICE` interface name, as bytes.
    #[prost(bytes = "vec", optional, tag = "15")]
    pub so_bound_dev: Option<Vec<u8>>,
    /// Attached classic BPF filter (`SO_ATTACH_FILTER`), one instruction per item.
    #[prost(fixed64, repeated, packed = "false", tag = "16")]
    pub so_filter: Vec<u64>,
    /// `SO_REUSEPORT`.
    #[prost(bool, optional, tag = "17")]
    pub so_reuseport: Option<bool>,
    /// `SO_BROADCAST`.
    #[prost(bool, optional, tag = "18")]
    pub so_broadcast: Option<bool>,
    /// `SO_KEEPALIVE`.
    #[prost(bool, optional, tag = "19")]
    pub so_keepalive: Option<bool>,
}

/// Which directions of a socket were shut down (`sk_shutdown`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
#[repr(i32)]
pub enum SkShutdown {
    /// Not shut down.
    None = 0,
    /// Reading shut down.
    Read = 1,
    /// Writing shut down.
    Write = 2,
    /// Both directions shut down.
    Both = 3,
}
