//! Bytes a checkpoint saved beyond processes' memory: what was queued on sockets (TCP data
//! in flight, unix sockets' packets), the contents of files deleted while open (ghost files)
//! and of memfds. [`SavedObject`] says what one is and who held it; the
//! [`SavedData`](crate::engine::capability::SavedData) capability lends the bytes, and search
//! finds matches in them (hits in [`Space::Saved`](crate::engine::search::Space)).

use std::borrow::Cow;

use serde::Serialize;

use crate::engine::evidence::Pid;

/// What kind of saved bytes an object is (JSON `space` of a search hit).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SavedKind {
    /// A socket's queue.
    Socket,
    /// A file deleted while open, kept whole by the checkpoint.
    GhostFile,
    /// A memfd's contents.
    Memfd,
}

impl SavedKind {
    /// A short word for tables: `socket`, `ghost`, `memfd`.
    pub fn short(self) -> &'static str {
        match self {
            SavedKind::Socket => "socket",
            SavedKind::GhostFile => "ghost",
            SavedKind::Memfd => "memfd",
        }
    }
}

/// Which queue of a socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Queue {
    /// Received, not yet read by the process.
    Recv,
    /// Written by the process, not yet acknowledged (TCP) by the peer.
    Send,
}

/// One object of saved bytes: what it is, the process and descriptor that held it, and
/// where in the evidence its bytes are. JSON: `{"space":"socket","pid":7,"comm":"app",
/// "fd":5,"inode":4242,"queue":"recv","path":"socket:[4242]",
/// "origin":"checkpoint/tcp-stream-1092.img","size":16}`; absent facts are `null`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SavedObject {
    /// What kind of bytes.
    #[serde(rename = "space")]
    pub kind: SavedKind,
    /// The process holding it (the lowest pid when several do), when one does.
    pub pid: Option<Pid>,
    /// That process's name.
    pub comm: Option<String>,
    /// Its descriptor in that process, when it holds one.
    pub fd: Option<i64>,
    /// The inode (sockets).
    pub inode: Option<u64>,
    /// Which queue (sockets).
    pub queue: Option<Queue>,
    /// The file's name as /proc shows it (`socket:[4242]`, `/tmp/x (deleted)`,
    /// `/memfd:name (deleted)`).
    pub path: String,
    /// The evidence member holding the bytes (`checkpoint/ghost-file-1.img`).
    pub origin: String,
    /// Number of bytes.
    pub size: u64,
}

impl SavedObject {
    /// Where the bytes were, in words: `socket:[4242] recv queue, fd 5`, `/tmp/x (deleted),
    /// mapped`. Holds evidence text: sanitise before printing.
    pub fn place(&self) -> String {
        let mut s = self.path.clone();
        match self.queue {
            Some(Queue::Recv) => s.push_str(" recv queue"),
            Some(Queue::Send) => s.push_str(" send queue"),
            None => {}
        }
        match self.fd {
            Some(fd) => s.push_str(&format!(", fd {fd}")),
            None if self.pid.is_some() => s.push_str(", mapped"),
            None => {}
        }
        s
    }
}

/// A saved object and its bytes, borrowed from the evidence where they lie in one piece.
#[derive(Debug, Clone)]
pub struct Saved<'a> {
    /// What it is.
    pub object: SavedObject,
    /// Its bytes.
    pub bytes: Cow<'a, [u8]>,
}
