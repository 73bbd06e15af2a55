//! CRIU image framing: magic words, then `u32` little-endian size-prefixed protobuf entries.
//!
//! Every image except `inventory.img` opens with a common magic (`IMG_COMMON` or `IMG_SERVICE`)
//! followed by the image's own magic; `inventory.img` opens with its own magic directly.
//! Entries are sliced out of the file in place: a size field can never cause an allocation.

use crate::engine::bytes::Cursor;
use crate::engine::error::{Error, Result};

/// Magic that opens most images.
pub const IMG_COMMON: u32 = 0x5456_4319;
/// Magic that opens "service" images (stats).
pub const IMG_SERVICE: u32 = 0x5510_5940;

/// Per-image magics podmortem reads (values are facts of the CRIU format, from
/// `criu/include/magic.h`).
pub mod magic {
    /// `inventory.img` (no common magic before it).
    pub const INVENTORY: u32 = 0x5831_3116;
    /// `pstree.img`.
    pub const PSTREE: u32 = 0x5027_3030;
    /// `core-<tid>.img`.
    pub const CORE: u32 = 0x5505_3847;
    /// `mm-<pid>.img`.
    pub const MM: u32 = 0x5749_2820;
    /// `pagemap-<pid>.img` and `pagemap-shmem-<id>.img`.
    pub const PAGEMAP: u32 = 0x5608_4025;
    /// `files.img`.
    pub const FILES: u32 = 0x5630_3138;
    /// `fdinfo-<id>.img`.
    pub const FDINFO: u32 = 0x5621_3732;
    /// `fs-<pid>.img`.
    pub const FS: u32 = 0x5140_3912;
    /// `ids-<pid>.img`.
    pub const IDS: u32 = 0x5443_2030;
    /// `utsns-<id>.img`.
    pub const UTSNS: u32 = 0x5447_3203;
    /// `stats-dump` / `stats-restore`.
    pub const STATS: u32 = 0x5709_3306;
    /// `reg-files.img` (images older than `files.img`).
    pub const REG_FILES: u32 = 0x5036_3636;
    /// `timens-<id>.img`.
    pub const TIMENS: u32 = 0x4311_4433;
    /// `pipes.img` (images older than `files.img`).
    pub const PIPES: u32 = 0x5651_3555;
    /// `pipes-data.img`.
    pub const PIPES_DATA: u32 = 0x5645_3709;
    /// `fifo.img` (images older than `files.img`).
    pub const FIFO: u32 = 0x5836_4939;
    /// `fifo-data.img`.
    pub const FIFO_DATA: u32 = 0x5933_3054;
    /// `inetsk.img` (images older than `files.img`).
    pub const INETSK: u32 = 0x5644_3851;
    /// `unixsk.img` (images older than `files.img`).
    pub const UNIXSK: u32 = 0x5437_3943;
    /// `ext-files.img` (images older than `files.img`).
    pub const EXT_FILES: u32 = 0x5925_5641;
    /// `tty-info.img`.
    pub const TTY_INFO: u32 = 0x5945_3036;
    /// `tty.img` (tty files in images older than `files.img`).
    pub const TTY_FILES: u32 = 0x5943_3025;
    /// `memfd.img` (memfd inodes).
    pub const MEMFD_INODE: u32 = 0x4845_3499;
    /// `creds-<pid>.img` (very old images; newer keep creds in `core-<tid>.img`).
    pub const CREDS: u32 = 0x5402_3547;
    /// `mountpoints-<id>.img`.
    pub const MNTS: u32 = 0x5556_3928;
    /// `netns-<id>.img`.
    pub const NETNS: u32 = 0x5593_3752;
    /// `cgroup.img`.
    pub const CGROUP: u32 = 0x5938_3330;
    /// `seccomp.img`.
    pub const SECCOMP: u32 = 0x6441_3049;
    /// `ipcns-var-<id>.img`.
    pub const IPC_VAR: u32 = 0x5311_5007;
    /// `remap-fpath.img` (files opened under another path: deleted, linked, procfs).
    pub const REMAP_FPATH: u32 = 0x5913_3954;
    /// `ghost-file-<hex id>.img` (a deleted-but-open file's inode and contents).
    pub const GHOST_FILE: u32 = 0x5258_3605;
    /// `sk-queues.img` (the receive queues of unix and packet sockets).
    pub const SK_QUEUES: u32 = 0x5626_4026;
    /// `tcp-stream-<hex inode>.img` (a TCP connection's in-flight bytes).
    pub const TCP_STREAM: u32 = 0x5146_5506;
}

/// One size-prefixed entry of an image.
#[derive(Debug, Clone, Copy)]
pub struct Entry<'a> {
    /// Absolute offset of the entry's size prefix in its file.
    pub offset: u64,
    /// The protobuf bytes.
    pub bytes: &'a [u8],
}

/// Reads the entries of one image file.
#[derive(Debug, Clone)]
pub struct ImageReader<'a> {
    file: &'a str,
    cursor: Cursor<'a>,
    magic: u32,
}

impl<'a> ImageReader<'a> {
    /// Opens an image, reading its magic words. `file` names it in errors.
    pub fn new(file: &'a str, data: &'a [u8]) -> Result<Self> {
        let mut cursor = Cursor::new(data, 0);
        let first = cursor
            .u32_le()
            .ok_or_else(|| truncated(file, 0, 4, data.len()))?;
        let magic = match first {
            magic::INVENTORY => first,
            IMG_COMMON | IMG_SERVICE => cursor
                .u32_le()
                .ok_or_else(|| truncated(file, 4, 4, data.len().saturating_sub(4)))?,
            other => {
                return Err(Error::BadMagic {
                    file: file.to_string(),
                    at: 0,
                    found: other,
                    expected: "a CRIU image magic",
                });
            }
        };
        Ok(ImageReader {
            file,
            cursor,
            magic,
        })
    }

    /// Opens an image and checks that it is of the expected type.
    pub fn expect(file: &'a str, data: &'a [u8], want: u32, what: &'static str) -> Result<Self> {
        let reader = Self::new(file, data)?;
        if reader.magic != want {
            return Err(Error::BadMagic {
                file: file.to_string(),
                at: if want == magic::INVENTORY { 0 } else { 4 },
                found: reader.magic,
                expected: what,
            });
        }
        Ok(reader)
    }

    /// The image's own magic.
    pub fn magic(&self) -> u32 {
        self.magic
    }

    /// The next entry, `None` at a clean end of file.
    pub fn next_entry(&mut self) -> Result<Option<Entry<'a>>> {
        if self.cursor.is_empty() {
            return Ok(None);
        }
        let offset = self.cursor.offset();
        let have = self.cursor.len();
        let size = self
            .cursor
            .u32_le()
            .ok_or_else(|| truncated(self.file, offset, 4, have))?;
        let have = self.cursor.len();
        let bytes = self
            .cursor
            .take(size as usize)
            .ok_or_else(|| truncated(self.file, offset, u64::from(size) + 4, have + 4))?;
        Ok(Some(Entry { offset, bytes }))
    }

    /// Takes `n` raw bytes that follow an entry (pipe data, socket queues).
    pub fn raw(&mut self, n: usize) -> Result<&'a [u8]> {
        let at = self.cursor.offset();
        let have = self.cursor.len();
        self.cursor
            .take(n)
            .ok_or_else(|| truncated(self.file, at, n as u64, have))
    }
}

fn truncated(file: &str, at: u64, need: u64, have: usize) -> Error {
    Error::Truncated {
        file: file.to_string(),
        at,
        need,
        have: have as u64,
    }
}

/// Decodes an entry leniently: fields decoded before a damaged one are kept.
///
/// proto2 `required` fields are not enforced, so a message with missing fields decodes to
/// defaults; a message cut short keeps what came before the cut and reports the error.
pub fn decode_lenient<M: prost::Message + Default>(
    file: &str,
    entry: Entry<'_>,
    what: &'static str,
) -> (M, Option<Error>) {
    let mut msg = M::default();
    match msg.merge(entry.bytes) {
        Ok(()) => (msg, None),
        Err(e) => (
            msg,
            Some(Error::Decode {
                file: file.to_string(),
                at: entry.offset,
                what,
                reason: e.to_string(),
            }),
        ),
    }
}

/// Decodes every entry of an image of the given type. Damaged entries are kept as far as
/// they decode, and their errors returned alongside; a broken frame ends the list.
pub fn decode_all<M: prost::Message + Default>(
    file: &str,
    data: &[u8],
    want: u32,
    what: &'static str,
) -> Result<(Vec<M>, Vec<Error>)> {
    let mut reader = ImageReader::expect(file, data, want, what)?;
    let mut out = Vec::new();
    let mut problems = Vec::new();
    loop {
        match reader.next_entry() {
            Ok(Some(entry)) => {
                let (msg, err) = decode_lenient::<M>(file, entry, what);
                out.push(msg);
                problems.extend(err);
            }
            Ok(None) => break,
            Err(e) => {
                problems.push(e);
                break;
            }
        }
    }
    Ok((out, problems))
}

/// Decodes the first entry of an image (images that hold a single message).
pub fn decode_first<M: prost::Message + Default>(
    file: &str,
    data: &[u8],
    want: u32,
    what: &'static str,
) -> Result<(M, Option<Error>)> {
    let mut reader = ImageReader::expect(file, data, want, what)?;
    match reader.next_entry()? {
        Some(entry) => Ok(decode_lenient(file, entry, what)),
        None => Err(Error::Truncated {
            file: file.to_string(),
            at: if want == magic::INVENTORY { 4 } else { 8 },
            need: 4,
            have: 0,
        }),
    }
}
