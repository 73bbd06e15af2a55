//! `timens-<id>.img`: the clock offsets of a time namespace.

/// A time value in seconds and nanoseconds (`timespec`).
#[derive(Clone, PartialEq, prost::Message)]
pub struct Timespec {
    /// Seconds.
    #[prost(uint64, required, tag = "1")]
    pub tv_sec: u64,
    /// Nanoseconds.
    #[prost(uint64, required, tag = "2")]
    pub tv_nsec: u64,
}

/// Clock values of a time namespace at dump time (`timens_entry`).
#[derive(Clone, PartialEq, prost::Message)]
pub struct TimensEntry {
    /// `CLOCK_MONOTONIC` as seen inside the namespace.
    #[prost(message, optional, tag = "1")]
    pub monotonic: Option<Timespec>,
    /// `CLOCK_BOOTTIME` as seen inside the namespace.
    #[prost(message, optional, tag = "2")]
    pub boottime: Option<Timespec>,
}
