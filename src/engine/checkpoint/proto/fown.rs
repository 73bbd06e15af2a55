//! `fown_entry`: the owner of a file's async I/O signals, embedded in most file messages.

/// Signal owner of a file (`F_SETOWN` / `F_SETSIG` state).
#[derive(Clone, PartialEq, prost::Message)]
pub struct FownEntry {
    /// Real uid of the owner.
    #[prost(uint32, required, tag = "1")]
    pub uid: u32,
    /// Effective uid of the owner.
    #[prost(uint32, required, tag = "2")]
    pub euid: u32,
    /// Signal sent on I/O readiness (0: `SIGIO`).
    #[prost(uint32, required, tag = "3")]
    pub signum: u32,
    /// Kind of `pid` (thread, process, process group).
    #[prost(uint32, required, tag = "4")]
    pub pid_type: u32,
    /// Owner process id, 0 when none.
    #[prost(uint32, required, tag = "5")]
    pub pid: u32,
}
