//! The analyst's findings: bookmarks of evidence objects (a process, a memory area, an
//! address range, a search hit, a file, a kernel object, a range of physical memory) with a
//! note and tags.
//!
//! A [`Session`] lives in a session file under the XDG data dir, keyed by the evidence's
//! identity, and is saved atomically (temp file + fsync + rename + fsync of the folder) on
//! every change, so a dropped SSH session loses nothing. [`export`] turns a session into the
//! documented JSON export (see README "Findings export").

use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::engine::error::{Error, Result};
use crate::engine::evidence::{Evidence, PartialRead, Pid};

mod target;

pub use target::{KernelObject, Target};

/// Schema identifier of session files and exports.
pub const SCHEMA: &str = "podmortem-findings/1";
/// At most this many bytes of a finding's object are written as hex in an export.
pub const EXPORT_HEX_CAP: usize = 4096;
/// At most this many bytes are hashed per finding.
pub const EXPORT_HASH_CAP: u64 = 256 << 20;

/// Serde for addresses as `"0x..."` strings, both ways.
pub mod hex_addr {
    use serde::{Deserialize, Deserializer, Serializer};

    /// Writes `"0x..."`.
    pub fn serialize<S: Serializer>(v: &u64, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format!("{v:#x}"))
    }

    /// Reads `"0x..."` (or a plain number).
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Either {
            S(String),
            N(u64),
        }
        match Either::deserialize(d)? {
            Either::N(n) => Ok(n),
            Either::S(s) => {
                let t = s.trim_start_matches("0x").trim_start_matches("0X");
                u64::from_str_radix(t, 16).map_err(serde::de::Error::custom)
            }
        }
    }
}

/// One finding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    /// Stable id within the session.
    pub id: u64,
    /// When it was made (RFC 3339).
    pub created: String,
    /// When it was last changed (RFC 3339).
    pub updated: String,
    /// The analyst's note.
    pub note: String,
    /// Tags.
    pub tags: Vec<String>,
    /// What it points at.
    pub target: Target,
}

/// All findings about one piece of evidence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    /// [`SCHEMA`].
    pub schema: String,
    /// The evidence's identity (see [`evidence_identity`]).
    pub evidence_id: String,
    /// Path the evidence was opened from (informational).
    pub evidence_path: String,
    /// Next finding id.
    pub next_id: u64,
    /// The findings, in creation order.
    pub findings: Vec<Finding>,
}

impl Session {
    /// An empty session.
    pub fn new(evidence_id: String, evidence_path: String) -> Session {
        Session {
            schema: SCHEMA.into(),
            evidence_id,
            evidence_path,
            next_id: 1,
            findings: Vec::new(),
        }
    }

    /// Adds a finding and returns its id.
    pub fn add(&mut self, target: Target, note: String, tags: Vec<String>) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        let now = crate::engine::time::now_rfc3339();
        self.findings.push(Finding {
            id,
            created: now.clone(),
            updated: now,
            note,
            tags,
            target,
        });
        id
    }

    /// Finds a finding by id.
    pub fn get_mut(&mut self, id: u64) -> Option<&mut Finding> {
        self.findings.iter_mut().find(|f| f.id == id)
    }

    /// Removes a finding; true if it existed.
    pub fn remove(&mut self, id: u64) -> bool {
        let before = self.findings.len();
        self.findings.retain(|f| f.id != id);
        before != self.findings.len()
    }
}

/// Identity of evidence for keying its session: for a file, a hash of its size and its
/// first and last MiB (stable when the file is moved or renamed, cheap on 200 GiB dumps);
/// for a folder, a hash of its canonical path.
pub fn evidence_identity(path: &Path) -> Result<String> {
    let meta = std::fs::metadata(path).map_err(|e| Error::io(path, e))?;
    let mut h = Sha256::new();
    if meta.is_dir() {
        let canon = std::fs::canonicalize(path).map_err(|e| Error::io(path, e))?;
        h.update(b"dir\0");
        h.update(canon.to_string_lossy().as_bytes());
    } else {
        let mut f = File::open(path).map_err(|e| Error::io(path, e))?;
        let len = meta.len();
        h.update(b"file\0");
        h.update(len.to_le_bytes());
        let mut buf = vec![0u8; (1u64 << 20).min(len) as usize];
        f.read_exact(&mut buf).map_err(|e| Error::io(path, e))?;
        h.update(&buf);
        if len > 2 << 20 {
            f.seek(SeekFrom::End(-(1 << 20)))
                .map_err(|e| Error::io(path, e))?;
            f.read_exact(&mut buf).map_err(|e| Error::io(path, e))?;
            h.update(&buf);
        }
    }
    Ok(hex_string(h.finalize().get(..16).unwrap_or_default()))
}

/// Lower-case hex of bytes.
pub fn hex_string(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

/// Where a session is stored.
#[derive(Debug, Clone)]
pub struct SessionStore {
    path: PathBuf,
}

/// podmortem's data folder: `$PODMORTEM_DATA_DIR`, else the XDG data dir (e.g.
/// `~/.local/share/podmortem`); `None` when neither can be found.
pub fn default_data_dir() -> Option<PathBuf> {
    std::env::var_os("PODMORTEM_DATA_DIR")
        .map(PathBuf::from)
        .or_else(|| {
            directories::ProjectDirs::from("", "", "podmortem").map(|d| d.data_dir().to_path_buf())
        })
}

impl SessionStore {
    /// The store for evidence `id` under `data_dir` (`$PODMORTEM_DATA_DIR`, else the XDG data
    /// dir, e.g. `~/.local/share/podmortem`), in `sessions/<id>.json`.
    pub fn for_evidence(id: &str, data_dir: Option<PathBuf>) -> Result<SessionStore> {
        let dir = data_dir
            .or_else(default_data_dir)
            .ok_or_else(|| {
                Error::Missing("a data directory for findings (set PODMORTEM_DATA_DIR)".into())
            })?
            .join("sessions");
        Ok(SessionStore {
            path: dir.join(format!("{id}.json")),
        })
    }

    /// The session file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Loads the session, or `None` when there is none yet.
    pub fn load(&self) -> Result<Option<Session>> {
        match std::fs::read(&self.path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|e| Error::Corrupt {
                    file: self.path.display().to_string(),
                    at: 0,
                    reason: format!("session file: {e}"),
                }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::io(&self.path, e)),
        }
    }

    /// Saves atomically: the file is always either the old or the new complete version.
    pub fn save(&self, session: &Session) -> Result<()> {
        let bytes = serde_json::to_vec_pretty(session).map_err(|e| Error::Corrupt {
            file: self.path.display().to_string(),
            at: 0,
            reason: e.to_string(),
        })?;
        write_atomic(&self.path, &bytes)
    }
}

/// Writes `bytes` to `path` atomically: a temp file in the same folder, fsync, rename,
/// fsync of the folder. On any error the old file is left intact.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tmp{}", std::process::id()));
    let result = (|| {
        let mut f = File::create(&tmp).map_err(|e| Error::io(&tmp, e))?;
        f.write_all(bytes).map_err(|e| Error::io(&tmp, e))?;
        f.sync_all().map_err(|e| Error::io(&tmp, e))?;
        drop(f);
        std::fs::rename(&tmp, path).map_err(|e| Error::io(path, e))?;
        if let Ok(d) = File::open(dir) {
            let _ = d.sync_all();
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    } else {
        remove_stale_temps(dir, &name);
    }
    result
}

/// Removes the temp files of writers that were killed mid-write (`kill -9`, power loss):
/// `.NAME.tmpPID` whose process no longer runs.
fn remove_stale_temps(dir: &Path, name: &str) {
    let prefix = format!(".{name}.tmp");
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let file = e.file_name();
        let Some(pid) = file.to_str().and_then(|f| f.strip_prefix(&prefix)) else {
            continue;
        };
        let alive = pid.parse::<u32>().is_ok_and(|p| {
            p == std::process::id() || Path::new("/proc").join(p.to_string()).exists()
        });
        if !alive {
            let _ = std::fs::remove_file(e.path());
        }
    }
}

/// The bytes a finding points at, as exported.
#[derive(Debug, Clone, Serialize)]
pub struct ExportedBytes {
    /// Bytes covered by the object.
    pub length: u64,
    /// Of those, bytes present in the evidence (the rest counted as zeros, as Volatility's
    /// dumps pad them).
    pub captured: u64,
    /// SHA-256 of the object's bytes (at most [`EXPORT_HASH_CAP`] of them).
    pub sha256: String,
    /// The first bytes as hex (at most [`EXPORT_HEX_CAP`]).
    pub hex: String,
    /// True when `hex` holds fewer bytes than `length`.
    pub truncated: bool,
}

/// A finding in an export: the finding and the bytes of its object.
#[derive(Debug, Clone, Serialize)]
pub struct ExportedFinding {
    /// The finding.
    #[serde(flatten)]
    pub finding: Finding,
    /// Its bytes, for memory (a process's or physical) and file objects.
    pub bytes: Option<ExportedBytes>,
}

/// The evidence section of an export.
#[derive(Debug, Clone, Serialize)]
pub struct ExportedEvidence {
    /// Path it was opened from.
    pub path: String,
    /// Size in bytes (0 for folders).
    pub size: u64,
    /// SHA-256 of the file, when computed.
    pub sha256: Option<String>,
    /// Identity used to key the session.
    pub id: String,
    /// "checkpoint" or "kernel_dump".
    pub kind: crate::engine::evidence::EvidenceKind,
    /// Container format.
    pub format: String,
    /// Header title.
    pub title: String,
    /// Container engine.
    pub engine: Option<String>,
    /// Back-end metadata (as `info --json` details).
    pub metadata: serde_json::Map<String, serde_json::Value>,
}

/// The tool section of an export.
#[derive(Debug, Clone, Serialize)]
pub struct Tool {
    /// "podmortem".
    pub name: &'static str,
    /// Version.
    pub version: &'static str,
}

/// A findings export document.
#[derive(Debug, Clone, Serialize)]
pub struct Export {
    /// [`SCHEMA`].
    pub schema: &'static str,
    /// The tool.
    pub tool: Tool,
    /// When exported (RFC 3339).
    pub exported_at: String,
    /// The evidence.
    pub evidence: ExportedEvidence,
    /// The findings.
    pub findings: Vec<ExportedFinding>,
}

/// Builds the export of a session.
pub fn export(ev: &dyn Evidence, session: &Session, sha256: Option<String>) -> Export {
    let info = ev.info();
    Export {
        schema: SCHEMA,
        tool: Tool {
            name: "podmortem",
            version: env!("CARGO_PKG_VERSION"),
        },
        exported_at: crate::engine::time::now_rfc3339(),
        evidence: ExportedEvidence {
            path: info.path.display().to_string(),
            size: info.size,
            sha256,
            id: session.evidence_id.clone(),
            kind: info.kind,
            format: info.format,
            title: info.title,
            engine: info.engine,
            metadata: info.details,
        },
        findings: session
            .findings
            .iter()
            .map(|f| ExportedFinding {
                finding: f.clone(),
                bytes: bytes_of(ev, &f.target),
            })
            .collect(),
    }
}

fn bytes_of(ev: &dyn Evidence, target: &Target) -> Option<ExportedBytes> {
    let of_process = |pid: Pid| move |addr: u64, buf: &mut [u8]| ev.read_memory(pid, addr, buf);
    match target {
        Target::Process { .. } | Target::KernelObject { .. } => None,
        Target::Vma {
            pid, start, end, ..
        } => memory_bytes(&of_process(*pid), *start, end.saturating_sub(*start)),
        Target::Memory {
            pid,
            address,
            length,
            ..
        }
        | Target::SearchHit {
            pid,
            address,
            length,
            ..
        } => memory_bytes(&of_process(*pid), *address, *length),
        Target::Physical { address, length } => {
            let Some(phys) = ev.physical() else {
                tracing::warn!("export: no physical memory for {address:#x}");
                return None;
            };
            memory_bytes(
                &|addr, buf: &mut [u8]| phys.read(addr, buf),
                *address,
                *length,
            )
        }
        Target::File { path, deleted, .. } => {
            if *deleted {
                return None;
            }
            let data = match crate::engine::capability::container_fs(ev)
                .and_then(|fs| fs.read_file(path))
            {
                Ok(data) => data,
                Err(e) => {
                    tracing::warn!("export: no bytes for {path}: {e}");
                    return None;
                }
            };
            let n = data.len() as u64;
            Some(ExportedBytes {
                length: n,
                captured: n,
                sha256: hex_string(&Sha256::digest(&data)),
                hex: hex_string(
                    data.get(..EXPORT_HEX_CAP.min(data.len()))
                        .unwrap_or_default(),
                ),
                truncated: data.len() > EXPORT_HEX_CAP,
            })
        }
    }
}

/// Reads memory at an address (a process's virtual memory, or physical memory).
type ReadAt<'a> = dyn Fn(u64, &mut [u8]) -> Result<PartialRead> + 'a;

/// The bytes of `length` bytes at `addr`, read through `read`.
fn memory_bytes(read: &ReadAt<'_>, addr: u64, length: u64) -> Option<ExportedBytes> {
    let mut h = Sha256::new();
    let mut hex = String::new();
    let mut captured = 0u64;
    let total = length.min(EXPORT_HASH_CAP);
    let mut buf = vec![0u8; total.min(1 << 20) as usize];
    let mut done = 0u64;
    while done < total {
        let n = (total - done).min(buf.len() as u64) as usize;
        let chunk = buf.get_mut(..n)?;
        let got = match read(addr.checked_add(done)?, chunk) {
            Ok(got) => got,
            Err(e) => {
                tracing::warn!("export: no bytes for {addr:#x}: {e}");
                return None;
            }
        };
        captured += got.captured_len() as u64;
        h.update(&*chunk);
        if hex.len() < EXPORT_HEX_CAP * 2 {
            let room = EXPORT_HEX_CAP - hex.len() / 2;
            hex.push_str(&hex_string(chunk.get(..room.min(n)).unwrap_or_default()));
        }
        done += n as u64;
    }
    Some(ExportedBytes {
        length,
        captured,
        sha256: hex_string(&h.finalize()),
        truncated: (hex.len() / 2) < length as usize,
        hex,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn session_roundtrip_and_atomic_save() {
        let dir = std::env::temp_dir().join(format!("pm-findings-{}", std::process::id()));
        let store = SessionStore::for_evidence("abc", Some(dir.clone())).unwrap();
        assert!(store.load().unwrap().is_none());
        let mut s = Session::new("abc".into(), "/x".into());
        let id = s.add(
            Target::Memory {
                pid: 7,
                comm: "a".into(),
                address: 0x7f00,
                length: 4,
            },
            "note".into(),
            vec!["t".into()],
        );
        store.save(&s).unwrap();
        let back = store.load().unwrap().unwrap();
        assert_eq!(back, s);
        let text = std::fs::read_to_string(store.path()).unwrap();
        assert!(text.contains("\"address\": \"0x7f00\""));
        assert!(s.remove(id));
        let _ = std::fs::remove_dir_all(dir);
    }
}
