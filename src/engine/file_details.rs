//! Typed facts of an open file ([`OpenFile::details`](crate::engine::evidence::OpenFile)):
//! what its inode, open flags and position say and, for a socket, its family, addresses and
//! state. Both back ends fill the same types.
//!
//! The JSON is one flat object with the keys in alphabetical order and absent facts left
//! out, e.g. `{"dst":"0.0.0.0","dst_port":0,"family":"inet","inode":40001,"protocol":"tcp",
//! "src":"0.0.0.0","src_port":8080,"state":"LISTEN"}` (the shape the CLI has always printed).

use std::borrow::Cow;
use std::net::IpAddr;

use serde::ser::SerializeMap;
use serde::{Serialize, Serializer};

/// Kind-specific facts of an open file; every fact is optional (back ends and kinds know
/// different ones).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FileDetails {
    /// Inode number (for a pipe or fifo, the pipe's inode).
    pub inode: Option<u64>,
    /// `i_mode` or the file's mode, type bits included (JSON: octal text, `"100644"`).
    pub mode: Option<u64>,
    /// Size in bytes.
    pub size: Option<u64>,
    /// Open flags, `f_flags` (JSON: octal text, `"0o100002"`).
    pub flags: Option<u64>,
    /// File position.
    pub pos: Option<u64>,
    /// Mount id (checkpoints).
    pub mnt_id: Option<i64>,
    /// The descriptor is closed on exec (checkpoints; JSON: present only when true).
    pub cloexec: bool,
    /// The file was deleted while open (kernel dumps; JSON: present only when true).
    pub deleted: bool,
    /// For a socket: what it is and where it talks.
    pub socket: Option<SocketDetails>,
    /// Why the socket's details could not be read (JSON key `error`).
    pub socket_error: Option<String>,
    /// A socket's receive queue at the dump: bytes that had arrived and the process had not
    /// read yet (checkpoints; JSON: `recv_queued` bytes, `recv_queue` the first
    /// [`QUEUE_SHOWN`] of them in hex).
    pub recv_queue: Option<Vec<u8>>,
    /// A socket's send queue: bytes the process had written that the peer had not
    /// acknowledged (JSON: `send_queued`, `send_queue`).
    pub send_queue: Option<Vec<u8>>,
    /// The first bytes (at most [`QUEUE_SHOWN`]) of what a file held that the evidence kept
    /// apart from any filesystem: a memfd's contents (checkpoints; JSON `contents`, in hex;
    /// the whole size is `size`).
    pub contents: Option<Vec<u8>>,
}

/// How many bytes of a socket queue the JSON and the tables show (in hex).
pub const QUEUE_SHOWN: usize = 4096;

/// What a socket is and where it talks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SocketDetails {
    /// An IPv4 or IPv6 socket.
    Inet(InetSocket),
    /// A unix-domain socket.
    Unix(UnixSocket),
    /// Another family (netlink, packet...).
    Other {
        /// Family name: "netlink", "packet", or "family N".
        family: String,
        /// Socket type ("dgram", "raw"...).
        kind: String,
        /// Protocol number.
        protocol: u64,
    },
    /// A socket with no `struct sock` behind it (JSON: `state` "UNCONNECTED").
    Unconnected,
}

/// An IPv4 or IPv6 socket (JSON family "inet" or "inet6", from the addresses).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InetSocket {
    /// Protocol name ("tcp", "udp", "raw"...).
    pub protocol: String,
    /// TCP state name ("LISTEN", "ESTABLISHED"...).
    pub state: String,
    /// Local address.
    pub src: IpAddr,
    /// Local port.
    pub src_port: u64,
    /// Remote address.
    pub dst: IpAddr,
    /// Remote port.
    pub dst_port: u64,
}

impl InetSocket {
    /// "inet6" for IPv6 addresses, else "inet".
    pub fn family(&self) -> &'static str {
        if self.src.is_ipv6() { "inet6" } else { "inet" }
    }
}

/// A unix-domain socket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnixSocket {
    /// Socket type ("stream", "dgram", "seqpacket"; JSON key `type`).
    pub kind: String,
    /// State name.
    pub state: String,
    /// Bound name: a path, `@name` for the abstract namespace, "" when unbound.
    pub name: String,
    /// Inode number of the peer socket, when known.
    pub peer: Option<u64>,
}

/// One value of [`FileDetails::entries`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fact<'a> {
    /// Text.
    Text(Cow<'a, str>),
    /// A count, id or number.
    Number(u64),
    /// A signed number.
    Signed(i64),
    /// A flag.
    Flag(bool),
}

impl std::fmt::Display for Fact<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Fact::Text(s) => f.write_str(s),
            Fact::Number(n) => write!(f, "{n}"),
            Fact::Signed(n) => write!(f, "{n}"),
            Fact::Flag(b) => write!(f, "{b}"),
        }
    }
}

impl Serialize for Fact<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Fact::Text(t) => s.serialize_str(t),
            Fact::Number(n) => s.serialize_u64(*n),
            Fact::Signed(n) => s.serialize_i64(*n),
            Fact::Flag(b) => s.serialize_bool(*b),
        }
    }
}

impl FileDetails {
    /// True when no fact is known.
    pub fn is_empty(&self) -> bool {
        self.entries().is_empty()
    }

    /// The known facts as `(key, value)` pairs in key order: the JSON object's members, and
    /// the `key=value` words of the CLI's tables.
    pub fn entries(&self) -> Vec<(&'static str, Fact<'_>)> {
        let text = |s: &str| Fact::Text(Cow::Owned(s.to_owned()));
        let mut out: Vec<(&'static str, Fact<'_>)> = Vec::new();
        let mut put = |k: &'static str, v: Option<Fact<'static>>| {
            if let Some(v) = v {
                out.push((k, v));
            }
        };
        put("inode", self.inode.map(Fact::Number));
        put("mode", self.mode.map(|m| text(&format!("{m:o}"))));
        put("size", self.size.map(Fact::Number));
        put("flags", self.flags.map(|f| text(&format!("{f:#o}"))));
        put("pos", self.pos.map(Fact::Number));
        put("mnt_id", self.mnt_id.map(Fact::Signed));
        put("cloexec", self.cloexec.then_some(Fact::Flag(true)));
        put("deleted", self.deleted.then_some(Fact::Flag(true)));
        put("error", self.socket_error.as_deref().map(text));
        for (key, len_key, queue) in [
            ("recv_queue", "recv_queued", &self.recv_queue),
            ("send_queue", "send_queued", &self.send_queue),
        ] {
            if let Some(q) = queue.as_ref().filter(|q| !q.is_empty()) {
                put(len_key, Some(Fact::Number(q.len() as u64)));
                let shown = q.get(..QUEUE_SHOWN).unwrap_or(q);
                put(key, Some(text(&crate::engine::findings::hex_string(shown))));
            }
        }
        if let Some(c) = self.contents.as_ref().filter(|c| !c.is_empty()) {
            let shown = c.get(..QUEUE_SHOWN).unwrap_or(c);
            put(
                "contents",
                Some(text(&crate::engine::findings::hex_string(shown))),
            );
        }
        match &self.socket {
            None => {}
            Some(SocketDetails::Inet(i)) => {
                put("family", Some(text(i.family())));
                put("protocol", Some(text(&i.protocol)));
                put("state", Some(text(&i.state)));
                put("src", Some(text(&i.src.to_string())));
                put("src_port", Some(Fact::Number(i.src_port)));
                put("dst", Some(text(&i.dst.to_string())));
                put("dst_port", Some(Fact::Number(i.dst_port)));
            }
            Some(SocketDetails::Unix(u)) => {
                put("family", Some(text("unix")));
                put("type", Some(text(&u.kind)));
                put("state", Some(text(&u.state)));
                put("name", Some(text(&u.name)));
                put("peer", u.peer.map(Fact::Number));
            }
            Some(SocketDetails::Other {
                family,
                kind,
                protocol,
            }) => {
                put("family", Some(text(family)));
                put("type", Some(text(kind)));
                put("protocol", Some(Fact::Number(*protocol)));
            }
            Some(SocketDetails::Unconnected) => put("state", Some(text("UNCONNECTED"))),
        }
        out.sort_by_key(|(k, _)| *k);
        out
    }
}

impl Serialize for FileDetails {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let entries = self.entries();
        let mut map = s.serialize_map(Some(entries.len()))?;
        for (k, v) in &entries {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn json_is_flat_sorted_and_sparse() {
        assert_eq!(
            serde_json::to_string(&FileDetails::default()).unwrap(),
            "{}"
        );
        let d = FileDetails {
            inode: Some(40001),
            socket: Some(SocketDetails::Inet(InetSocket {
                protocol: "tcp".into(),
                state: "LISTEN".into(),
                src: "0.0.0.0".parse().unwrap(),
                src_port: 8080,
                dst: "::1".parse().unwrap(),
                dst_port: 0,
            })),
            flags: Some(0o2),
            pos: Some(0),
            cloexec: true,
            ..FileDetails::default()
        };
        assert_eq!(
            serde_json::to_string(&d).unwrap(),
            r#"{"cloexec":true,"dst":"::1","dst_port":0,"family":"inet","flags":"0o2","inode":40001,"pos":0,"protocol":"tcp","src":"0.0.0.0","src_port":8080,"state":"LISTEN"}"#
        );
        let d = FileDetails {
            mode: Some(0o140777),
            socket: Some(SocketDetails::Other {
                family: "netlink".into(),
                kind: "raw".into(),
                protocol: 9,
            }),
            socket_error: None,
            ..FileDetails::default()
        };
        assert_eq!(
            serde_json::to_string(&d).unwrap(),
            r#"{"family":"netlink","mode":"140777","protocol":9,"type":"raw"}"#
        );
        let words: Vec<String> = d
            .entries()
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        assert_eq!(
            words,
            ["family=netlink", "mode=140777", "protocol=9", "type=raw"]
        );
    }
}
