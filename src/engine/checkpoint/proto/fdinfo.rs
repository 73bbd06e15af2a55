//! `fdinfo-<files_id>.img`: the descriptors of one file descriptor table.

/// One open descriptor: its number and the `files.img` object behind it (`fdinfo_entry`).
#[derive(Clone, PartialEq, prost::Message)]
pub struct FdinfoEntry {
    /// Id of the file object in `files.img` ([`super::FileEntry::id`]).
    #[prost(uint32, required, tag = "1")]
    pub id: u32,
    /// Descriptor flags (`FD_CLOEXEC` = 1).
    #[prost(uint32, required, tag = "2")]
    pub flags: u32,
    /// Kind of file, a [`super::FdTypes`] value.
    #[prost(enumeration = "super::FdTypes", required, tag = "3")]
    pub r#type: i32,
    /// The descriptor number.
    #[prost(uint32, required, tag = "4")]
    pub fd: u32,
}
