//! [`Hit`]: one match of a search, naming the address space it was found in.

use serde::{Serialize, Serializer};

use crate::engine::evidence::{Perms, Pid, hex};
use crate::engine::saved::SavedObject;

/// One match of a search.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hit {
    /// The address space of the match, and what is known of the place.
    pub space: Space,
    /// Address of the first matched byte, in [`Hit::space`].
    pub address: u64,
    /// Length of the match in bytes.
    pub len: usize,
    /// The matched bytes (at most
    /// [`MAX_MATCH_BYTES`](crate::engine::search::MAX_MATCH_BYTES)).
    pub bytes: Vec<u8>,
}

/// The address space a [`Hit`] was found in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Space {
    /// A process's virtual memory: the address is virtual.
    Process(InProcess),
    /// Physical memory: the address is physical.
    Physical {
        /// A process whose page tables map the first matched byte (the lowest pid when
        /// several do); `None` for pages no process maps (kernel memory, page cache, freed
        /// pages) or when the back end cannot tell.
        owner: Option<PhysOwner>,
    },
    /// Bytes saved beyond memory (a socket queue, a file deleted while open, a memfd): the
    /// address is the offset in the object.
    Saved(SavedObject),
}

/// Where in a process a match lies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InProcess {
    /// Process.
    pub pid: Pid,
    /// Process name.
    pub comm: String,
    /// Start of the VMA holding the match, if any.
    pub vma_start: Option<u64>,
    /// Permissions of that VMA.
    pub vma_perms: Option<Perms>,
    /// Backing path of that VMA.
    pub path: Option<String>,
}

/// The process that maps a physical page, and at which virtual address.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PhysOwner {
    /// Process id.
    pub pid: Pid,
    /// Process name.
    pub comm: String,
    /// Virtual address, in that process, of the physical address it was looked up for.
    #[serde(serialize_with = "hex::u64")]
    pub address: u64,
}

impl Hit {
    /// The process facts of a hit in process memory.
    pub fn process(&self) -> Option<&InProcess> {
        match &self.space {
            Space::Process(p) => Some(p),
            Space::Physical { .. } | Space::Saved(_) => None,
        }
    }

    /// The saved object of a hit in bytes saved beyond memory.
    pub fn saved(&self) -> Option<&SavedObject> {
        match &self.space {
            Space::Saved(o) => Some(o),
            Space::Process(_) | Space::Physical { .. } => None,
        }
    }

    /// Where the match is in a process's virtual memory, as (pid, virtual address): the
    /// process searched, or the process that maps a physical hit's page; `None` for a
    /// physical hit no process maps.
    pub fn in_process(&self) -> Option<(Pid, u64)> {
        match &self.space {
            Space::Process(p) => Some((p.pid, self.address)),
            Space::Physical { owner } => owner.as_ref().map(|o| (o.pid, o.address)),
            Space::Saved(_) => None,
        }
    }

    /// The process the hit belongs to: the searched process, or the owner of the physical
    /// page.
    pub fn pid(&self) -> Option<Pid> {
        match &self.space {
            Space::Process(p) => Some(p.pid),
            Space::Physical { owner } => owner.as_ref().map(|o| o.pid),
            Space::Saved(o) => o.pid,
        }
    }
}

/// A process hit as JSON: `{pid, comm, address, vma_start, vma_perms, path, len}`.
#[derive(Serialize)]
struct ProcessJson<'a> {
    pid: Pid,
    comm: &'a str,
    #[serde(serialize_with = "hex::u64")]
    address: u64,
    #[serde(serialize_with = "hex::opt_u64")]
    vma_start: Option<u64>,
    vma_perms: Option<Perms>,
    path: Option<&'a str>,
    len: usize,
}

/// A physical hit as JSON: `{physical, len, owner}`.
#[derive(Serialize)]
struct PhysicalJson<'a> {
    #[serde(serialize_with = "hex::u64")]
    physical: u64,
    len: usize,
    owner: Option<&'a PhysOwner>,
}

/// A hit in saved bytes as JSON: the object's facts (`space`, `pid`, `comm`, `fd`, `inode`,
/// `queue`, `path`, `origin`, `size`), then `offset` and `len`.
#[derive(Serialize)]
struct SavedJson<'a> {
    #[serde(flatten)]
    object: &'a SavedObject,
    offset: u64,
    len: usize,
}

impl Serialize for Hit {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match &self.space {
            Space::Process(p) => ProcessJson {
                pid: p.pid,
                comm: &p.comm,
                address: self.address,
                vma_start: p.vma_start,
                vma_perms: p.vma_perms,
                path: p.path.as_deref(),
                len: self.len,
            }
            .serialize(s),
            Space::Physical { owner } => PhysicalJson {
                physical: self.address,
                len: self.len,
                owner: owner.as_ref(),
            }
            .serialize(s),
            Space::Saved(object) => SavedJson {
                object,
                offset: self.address,
                len: self.len,
            }
            .serialize(s),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn json_names_the_space_as_before() {
        let hit = Hit {
            space: Space::Process(InProcess {
                pid: 7,
                comm: "app".into(),
                vma_start: Some(0x1000),
                vma_perms: Some(Perms {
                    read: true,
                    ..Perms::default()
                }),
                path: None,
            }),
            address: 0x1010,
            len: 3,
            bytes: b"abc".to_vec(),
        };
        assert_eq!(
            serde_json::to_string(&hit).unwrap(),
            r#"{"pid":7,"comm":"app","address":"0x1010","vma_start":"0x1000","vma_perms":"r--p","path":null,"len":3}"#
        );
        let hit = Hit {
            space: Space::Physical {
                owner: Some(PhysOwner {
                    pid: 9,
                    comm: "x".into(),
                    address: 0x20,
                }),
            },
            ..hit
        };
        assert_eq!(
            serde_json::to_string(&hit).unwrap(),
            r#"{"physical":"0x1010","len":3,"owner":{"pid":9,"comm":"x","address":"0x20"}}"#
        );
        assert_eq!(hit.pid(), Some(9));
        assert!(hit.process().is_none());
        let hit = Hit {
            space: Space::Saved(SavedObject {
                kind: crate::engine::saved::SavedKind::Socket,
                pid: Some(7),
                comm: Some("app".into()),
                fd: Some(5),
                inode: Some(4242),
                queue: Some(crate::engine::saved::Queue::Recv),
                path: "socket:[4242]".into(),
                origin: "checkpoint/tcp-stream-1092.img".into(),
                size: 16,
            }),
            address: 4,
            ..hit
        };
        assert_eq!(
            serde_json::to_string(&hit).unwrap(),
            r#"{"space":"socket","pid":7,"comm":"app","fd":5,"inode":4242,"queue":"recv","path":"socket:[4242]","origin":"checkpoint/tcp-stream-1092.img","size":16,"offset":4,"len":3}"#
        );
        assert_eq!((hit.pid(), hit.in_process()), (Some(7), None));
    }
}
