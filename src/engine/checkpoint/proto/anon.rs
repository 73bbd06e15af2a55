//! Anonymous-inode files: eventfd, epoll, signalfd, timerfd, inotify, fanotify, pidfd.
//! Only what identifies them and what they watch is read.

use super::FownEntry;

/// An eventfd (`eventfd_file_entry`).
#[derive(Clone, PartialEq, prost::Message)]
pub struct EventfdFileEntry {
    /// Same as [`super::FileEntry::id`].
    #[prost(uint32, required, tag = "1")]
    pub id: u32,
    /// Open flags.
    #[prost(uint32, required, tag = "2")]
    pub flags: u32,
    /// Signal owner.
    #[prost(message, optional, tag = "3")]
    pub fown: Option<FownEntry>,
    /// Counter value.
    #[prost(uint64, required, tag = "4")]
    pub counter: u64,
}

/// A descriptor watched by an epoll instance (`eventpoll_tfd_entry`).
#[derive(Clone, PartialEq, prost::Message)]
pub struct EventpollTfdEntry {
    /// Id of the epoll instance ([`EventpollFileEntry::id`]).
    #[prost(uint32, required, tag = "1")]
    pub id: u32,
    /// The watched descriptor number.
    #[prost(uint32, required, tag = "2")]
    pub tfd: u32,
    /// `EPOLL*` event mask.
    #[prost(uint32, required, tag = "3")]
    pub events: u32,
    /// User data registered with the watch.
    #[prost(uint64, required, tag = "4")]
    pub data: u64,
    /// Device of the watched file.
    #[prost(uint32, optional, tag = "5")]
    pub dev: Option<u32>,
    /// Inode of the watched file.
    #[prost(uint64, optional, tag = "6")]
    pub inode: Option<u64>,
    /// Position of the watched file.
    #[prost(uint64, optional, tag = "7")]
    pub pos: Option<u64>,
}

/// An epoll instance (`eventpoll_file_entry`).
#[derive(Clone, PartialEq, prost::Message)]
pub struct EventpollFileEntry {
    /// Same as [`super::FileEntry::id`].
    #[prost(uint32, required, tag = "1")]
    pub id: u32,
    /// Open flags.
    #[prost(uint32, required, tag = "2")]
    pub flags: u32,
    /// Signal owner.
    #[prost(message, optional, tag = "3")]
    pub fown: Option<FownEntry>,
    /// Watched descriptors (newer images; older ones use `eventpoll-tfd.img`).
    #[prost(message, repeated, tag = "4")]
    pub tfd: Vec<EventpollTfdEntry>,
}

/// A signalfd (`signalfd_entry`).
#[derive(Clone, PartialEq, prost::Message)]
pub struct SignalfdEntry {
    /// Same as [`super::FileEntry::id`].
    #[prost(uint32, required, tag = "1")]
    pub id: u32,
    /// Open flags.
    #[prost(uint32, required, tag = "2")]
    pub flags: u32,
    /// Signal owner.
    #[prost(message, optional, tag = "3")]
    pub fown: Option<FownEntry>,
    /// Signals it reports (bit n-1 for signal n).
    #[prost(uint64, required, tag = "4")]
    pub sigmask: u64,
}

/// A timerfd (`timerfd_entry`).
#[derive(Clone, PartialEq, prost::Message)]
pub struct TimerfdEntry {
    /// Same as [`super::FileEntry::id`].
    #[prost(uint32, required, tag = "1")]
    pub id: u32,
    /// Open flags.
    #[prost(uint32, required, tag = "2")]
    pub flags: u32,
    /// Signal owner.
    #[prost(message, optional, tag = "3")]
    pub fown: Option<FownEntry>,
    /// Clock (`CLOCK_*`).
    #[prost(uint32, required, tag = "4")]
    pub clockid: u32,
    /// Expirations not yet read.
    #[prost(uint64, required, tag = "5")]
    pub ticks: u64,
    /// `TFD_TIMER_*` flags.
    #[prost(uint32, required, tag = "6")]
    pub settime_flags: u32,
    /// Time to next expiration, seconds.
    #[prost(uint64, required, tag = "7")]
    pub vsec: u64,
    /// Time to next expiration, nanoseconds.
    #[prost(uint64, required, tag = "8")]
    pub vnsec: u64,
    /// Interval, seconds.
    #[prost(uint64, required, tag = "9")]
    pub isec: u64,
    /// Interval, nanoseconds.
    #[prost(uint64, required, tag = "10")]
    pub insec: u64,
}

/// An inotify watch (`inotify_wd_entry`); the file handle is not read.
#[derive(Clone, PartialEq, prost::Message)]
pub struct InotifyWdEntry {
    /// Id of the inotify instance.
    #[prost(uint32, required, tag = "1")]
    pub id: u32,
    /// Inode number of the watched file.
    #[prost(uint64, required, tag = "2")]
    pub i_ino: u64,
    /// `IN_*` event mask.
    #[prost(uint32, required, tag = "3")]
    pub mask: u32,
    /// Ignored-event mask.
    #[prost(uint32, required, tag = "4")]
    pub ignored_mask: u32,
    /// Device of the watched file.
    #[prost(uint32, required, tag = "5")]
    pub s_dev: u32,
    /// Watch descriptor.
    #[prost(uint32, required, tag = "6")]
    pub wd: u32,
}

/// An inotify instance (`inotify_file_entry`).
#[derive(Clone, PartialEq, prost::Message)]
pub struct InotifyFileEntry {
    /// Same as [`super::FileEntry::id`].
    #[prost(uint32, required, tag = "1")]
    pub id: u32,
    /// Open flags.
    #[prost(uint32, required, tag = "2")]
    pub flags: u32,
    /// Signal owner.
    #[prost(message, optional, tag = "4")]
    pub fown: Option<FownEntry>,
    /// Watches.
    #[prost(message, repeated, tag = "5")]
    pub wd: Vec<InotifyWdEntry>,
}

/// A fanotify instance (`fanotify_file_entry`); its marks are not read.
#[derive(Clone, PartialEq, prost::Message)]
pub struct FanotifyFileEntry {
    /// Same as [`super::FileEntry::id`].
    #[prost(uint32, required, tag = "1")]
    pub id: u32,
    /// Open flags.
    #[prost(uint32, required, tag = "2")]
    pub flags: u32,
    /// Signal owner.
    #[prost(message, optional, tag = "3")]
    pub fown: Option<FownEntry>,
    /// `fanotify_init` flags.
    #[prost(uint32, required, tag = "4")]
    pub faflags: u32,
    /// `fanotify_init` event flags.
    #[prost(uint32, required, tag = "5")]
    pub evflags: u32,
}

/// A pidfd (`pidfd_entry`).
#[derive(Clone, PartialEq, prost::Message)]
pub struct PidfdEntry {
    /// Same as [`super::FileEntry::id`].
    #[prost(uint32, required, tag = "1")]
    pub id: u32,
    /// Inode number.
    #[prost(uint32, required, tag = "2")]
    pub ino: u32,
    /// Open flags.
    #[prost(uint32, required, tag = "3")]
    pub flags: u32,
    /// Pid it refers to, in the dumped pid namespace (-1 when the process is gone).
    #[prost(int32, required, tag = "4")]
    pub nspid: i32,
    /// Signal owner.
    #[prost(message, optional, tag = "5")]
    pub fown: Option<FownEntry>,
}
