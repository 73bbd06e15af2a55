//! `inventory.img`: facts about the whole dump (image version, root task's ids, LSM).

use super::TaskKobjIdsEntry;

/// Linux security module active at dump time (`lsmtype`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
#[repr(i32)]
pub enum Lsmtype {
    /// No LSM.
    NoLsm = 0,
    /// SELinux.
    Selinux = 1,
    /// AppArmor.
    Apparmor = 2,
}

/// The single entry of `inventory.img` (`inventory_entry`).
#[derive(Clone, PartialEq, prost::Message)]
pub struct InventoryEntry {
    /// Image set version (2 for every CRIU since 1.x).
    #[prost(uint32, required, tag = "1")]
    pub img_version: u32,
    /// Descriptors are in `fdinfo-<files_id>.img` rather than per pid.
    #[prost(bool, optional, tag = "2")]
    pub fdinfo_per_id: Option<bool>,
    /// Kernel object ids of the root task (its namespaces are the "outside" ones).
    #[prost(message, optional, tag = "3")]
    pub root_ids: Option<TaskKobjIdsEntry>,
    /// Namespace images are per namespace id.
    #[prost(bool, optional, tag = "4")]
    pub ns_per_id: Option<bool>,
    /// Cgroup set of the root task.
    #[prost(uint32, optional, tag = "5")]
    pub root_cg_set: Option<u32>,
    /// An [`Lsmtype`] value.
    #[prost(enumeration = "Lsmtype", optional, tag = "6")]
    pub lsmtype: Option<i32>,
    /// Uptime of the dumping host at dump time, in microseconds (pre-dump chains).
    #[prost(uint64, optional, tag = "8")]
    pub dump_uptime: Option<u64>,
    /// Pre-dump mode (splice or read).
    #[prost(uint32, optional, tag = "9")]
    pub pre_dump_mode: Option<u32>,
    /// TCP connections were closed rather than kept (`--tcp-close`).
    #[prost(bool, optional, tag = "10")]
    pub tcp_close: Option<bool>,
    /// How the network was locked during the dump (iptables, nftables, skip).
    #[prost(uint32, optional, tag = "11")]
    pub network_lock_method: Option<u32>,
    /// Run id of the CRIU process that wrote the dump.
    #[prost(bytes = "vec", optional, tag = "13")]
    pub dump_criu_run_id: Option<Vec<u8>>,
}
