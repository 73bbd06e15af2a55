//! `pstree.img`: one entry per process of the dumped tree.

/// A process: its ids and the ids of its threads (`pstree_entry`).
#[derive(Clone, PartialEq, prost::Message)]
pub struct PstreeEntry {
    /// Process id (in the dumped pid namespace).
    #[prost(uint32, required, tag = "1")]
    pub pid: u32,
    /// Parent's process id; 0 for the root of the tree.
    #[prost(uint32, required, tag = "2")]
    pub ppid: u32,
    /// Process group id.
    #[prost(uint32, required, tag = "3")]
    pub pgid: u32,
    /// Session id.
    #[prost(uint32, required, tag = "4")]
    pub sid: u32,
    /// Thread ids; each has its own `core-<tid>.img`.
    #[prost(uint32, repeated, packed = "false", tag = "5")]
    pub threads: Vec<u32>,
}
