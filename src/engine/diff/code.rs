//! The bytes of file-backed executable areas, hashed per page: a patched library or code
//! injected into a mapped module makes a page differ from the same page of the peers.
//!
//! A page is named by its process's path in the tree, the module's path and its offset in
//! the file (never by its address: ASLR moves it). Only whole pages the evidence captured
//! are hashed; the comparison ([`crate::engine::diff::compare`]) uses only the pages every
//! peer captured.

use sha2::{Digest, Sha256};

use crate::engine::diff::model::Locator;
use crate::engine::diff::normalise::{Normaliser, ProcNode};
use crate::engine::evidence::{Evidence, Vma, VmaKind, Walk};

/// The page size hashed.
pub const PAGE: u64 = 4096;

/// At most this many code pages are hashed per evidence (1 GiB of code); the rest is named
/// in a warning.
pub const MAX_PAGES: usize = 1 << 18;

/// One captured page of a file-backed executable area.
#[derive(Debug, Clone)]
pub(crate) struct CodePage {
    /// The process (an index into the profile's processes).
    pub owner: usize,
    /// The module's normalised path.
    pub path: String,
    /// The page's offset in the file.
    pub offset: u64,
    /// SHA-256 of its bytes.
    pub hash: [u8; 32],
    /// Where it is in this evidence (pid, the page's address, its area).
    pub at: Locator,
}

/// Hashes the captured pages of the file-backed executable areas of one process into
/// `out`; what cannot be read goes to `warnings`.
pub(crate) fn code_pages(
    ev: &dyn Evidence,
    owner: usize,
    node: &ProcNode,
    maps: &Walk<Vma>,
    norm: &Normaliser,
    out: &mut Vec<CodePage>,
    warnings: &mut Vec<String>,
) {
    let mut buf = vec![0u8; PAGE as usize];
    for v in maps.iter() {
        if v.kind != VmaKind::File || !v.perms.exec {
            continue;
        }
        let ranges = match ev.captured_ranges(node.pid, v.start..v.end) {
            Ok(r) => r,
            Err(e) => {
                warnings.push(format!("pid {}: code at {:#x}: {e}", node.pid, v.start));
                continue;
            }
        };
        let path = norm.path(v.path.as_deref().unwrap_or("?"));
        for r in ranges {
            let mut page = r.start.div_ceil(PAGE).saturating_mul(PAGE);
            while page.saturating_add(PAGE) <= r.end {
                if out.len() >= MAX_PAGES {
                    warnings.push(format!(
                        "more than {MAX_PAGES} code pages: the rest (from pid {} at {page:#x}) \
                         not compared",
                        node.pid
                    ));
                    return;
                }
                let hash = match ev.memory_slice(node.pid, page, PAGE as usize) {
                    Some(bytes) => Sha256::digest(bytes),
                    None => match ev.read_memory(node.pid, page, &mut buf) {
                        Ok(got) if got.captured_len() == buf.len() => Sha256::digest(&buf),
                        Ok(_) => {
                            page = page.saturating_add(PAGE);
                            continue;
                        }
                        Err(e) => {
                            warnings.push(format!("pid {}: code at {page:#x}: {e}", node.pid));
                            break;
                        }
                    },
                };
                out.push(CodePage {
                    owner,
                    path: path.clone(),
                    offset: v.pgoff.saturating_add(page.saturating_sub(v.start)),
                    hash: hash.into(),
                    at: Locator {
                        pid: Some(node.pid),
                        start: Some(v.start),
                        end: Some(v.end),
                        address: Some(page),
                        path: v.path.clone(),
                        ..Locator::default()
                    },
                });
                page = page.saturating_add(PAGE);
            }
        }
    }
}
