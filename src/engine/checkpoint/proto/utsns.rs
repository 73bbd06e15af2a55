//! `utsns-<id>.img`: the host and domain names of a UTS namespace.

/// Names of a UTS namespace (`utsns_entry`).
///
/// Kept as bytes: the kernel does not require UTF-8 here (see the parent module).
#[derive(Clone, PartialEq, prost::Message)]
pub struct UtsnsEntry {
    /// Host name (`uname -n`).
    #[prost(bytes = "vec", required, tag = "1")]
    pub nodename: Vec<u8>,
    /// NIS domain name (`(none)` when unset).
    #[prost(bytes = "vec", required, tag = "2")]
    pub domainname: Vec<u8>,
}
