//! Terminals: `tty_file_entry` (in `files.img`) and `tty_info_entry` (`tty-info.img`).

use super::FownEntry;

/// Kind of terminal (`TtyType`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
#[repr(i32)]
pub enum TtyType {
    /// Unknown.
    Unknown = 0,
    /// Unix98 pseudo-terminal (`/dev/pts/N`, `/dev/ptmx`).
    Pty = 1,
    /// `/dev/console`.
    Console = 2,
    /// Virtual terminal (`/dev/ttyN`).
    Vt = 3,
    /// The controlling terminal, `/dev/tty`.
    Ctty = 4,
    /// Terminal outside the dump (`--external tty`).
    ExtTty = 5,
    /// Serial line.
    Serial = 6,
}

/// An open terminal (`tty_file_entry`); the device is described by the
/// [`TtyInfoEntry`] with id `tty_info_id`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct TtyFileEntry {
    /// Same as [`super::FileEntry::id`].
    #[prost(uint32, required, tag = "1")]
    pub id: u32,
    /// Id of the [`TtyInfoEntry`].
    #[prost(uint32, required, tag = "2")]
    pub tty_info_id: u32,
    /// Open flags.
    #[prost(uint32, required, tag = "3")]
    pub flags: u32,
    /// Signal owner.
    #[prost(message, optional, tag = "4")]
    pub fown: Option<FownEntry>,
    /// Id of the [`super::RegFileEntry`] holding the device path, when CRIU recorded one.
    #[prost(uint32, optional, tag = "6")]
    pub regf_id: Option<u32>,
}

/// Index of a pseudo-terminal (`tty_pty_entry`).
#[derive(Clone, PartialEq, prost::Message)]
pub struct TtyPtyEntry {
    /// N of `/dev/pts/N`.
    #[prost(uint32, required, tag = "1")]
    pub index: u32,
}

/// A terminal device (`tty_info_entry`); termios and window size are not read.
#[derive(Clone, PartialEq, prost::Message)]
pub struct TtyInfoEntry {
    /// The id [`TtyFileEntry::tty_info_id`] refers to.
    #[prost(uint32, required, tag = "1")]
    pub id: u32,
    /// A [`TtyType`] value.
    #[prost(enumeration = "TtyType", required, tag = "2")]
    pub r#type: i32,
    /// Pty locked (Unix98 ptys).
    #[prost(bool, required, tag = "3")]
    pub locked: bool,
    /// `TIOCEXCL` set.
    #[prost(bool, required, tag = "4")]
    pub exclusive: bool,
    /// Packet mode (Unix98 ptys).
    #[prost(bool, required, tag = "5")]
    pub packet_mode: bool,
    /// Session the terminal controls, 0 if none.
    #[prost(uint32, required, tag = "6")]
    pub sid: u32,
    /// Foreground process group.
    #[prost(uint32, required, tag = "7")]
    pub pgrp: u32,
    /// Device number (`st_rdev`).
    #[prost(uint32, required, tag = "8")]
    pub rdev: u32,
    /// Pty index.
    #[prost(message, optional, tag = "12")]
    pub pty: Option<TtyPtyEntry>,
    /// Device of the filesystem holding the device node (`st_dev`).
    #[prost(uint32, optional, tag = "13")]
    pub dev: Option<u32>,
    /// Owner uid.
    #[prost(uint32, optional, tag = "14")]
    pub uid: Option<u32>,
    /// Owner gid.
    #[prost(uint32, optional, tag = "15")]
    pub gid: Option<u32>,
}
