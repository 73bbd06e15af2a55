//! `creds_entry`: a thread's credentials, carried in `thread_core_entry.creds` (the separate
//! `creds-<id>.img` of very old images is not read).

/// Credentials of a thread (`creds_entry`).
///
/// Capability sets are bitmaps split in 32-bit words, lowest word first.
#[derive(Clone, PartialEq, prost::Message)]
pub struct CredsEntry {
    /// Real user id.
    #[prost(uint32, required, tag = "1")]
    pub uid: u32,
    /// Real group id.
    #[prost(uint32, required, tag = "2")]
    pub gid: u32,
    /// Effective user id.
    #[prost(uint32, required, tag = "3")]
    pub euid: u32,
    /// Effective group id.
    #[prost(uint32, required, tag = "4")]
    pub egid: u32,
    /// Saved user id.
    #[prost(uint32, required, tag = "5")]
    pub suid: u32,
    /// Saved group id.
    #[prost(uint32, required, tag = "6")]
    pub sgid: u32,
    /// Filesystem user id.
    #[prost(uint32, required, tag = "7")]
    pub fsuid: u32,
    /// Filesystem group id.
    #[prost(uint32, required, tag = "8")]
    pub fsgid: u32,
    /// Inheritable capabilities.
    #[prost(uint32, repeated, packed = "false", tag = "9")]
    pub cap_inh: Vec<u32>,
    /// Permitted capabilities.
    #[prost(uint32, repeated, packed = "false", tag = "10")]
    pub cap_prm: Vec<u32>,
    /// Effective capabilities.
    #[prost(uint32, repeated, packed = "false", tag = "11")]
    pub cap_eff: Vec<u32>,
    /// Capability bounding set.
    #[prost(uint32, repeated, packed = "false", tag = "12")]
    pub cap_bnd: Vec<u32>,
    /// Securebits (`prctl(PR_GET_SECUREBITS)`).
    #[prost(uint32, required, tag = "13")]
    pub secbits: u32,
    /// Supplementary group ids.
    #[prost(uint32, repeated, packed = "false", tag = "14")]
    pub groups: Vec<u32>,
    /// LSM (AppArmor/SELinux) profile of the thread, as bytes.
    #[prost(bytes = "vec", optional, tag = "15")]
    pub lsm_profile: Option<Vec<u8>>,
    /// `no_new_privs` flag (1 when set).
    #[prost(uint32, optional, tag = "18")]
    pub no_new_privs: Option<u32>,
    /// Ambient capabilities.
    #[prost(uint32, repeated, packed = "false", tag = "19")]
    pub cap_amb: Vec<u32>,
}
