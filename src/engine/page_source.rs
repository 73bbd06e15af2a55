//! Where the bytes of a memory read came from: this dump's own pages, a parent image of an
//! incremental dump (CRIU pre-dump chains keep unchanged pages only there), or nowhere in the
//! evidence, and why ([`Evidence::memory_sources`](crate::engine::Evidence::memory_sources)).
//!
//! JSON: `{"start":"0x...","end":"0x...","source":"this_dump"}`,
//! `{..., "source":"parent","depth":1,"images":"pre-checkpoint"}`,
//! `{..., "source":"not_captured","why":"lazy"}`.

use std::ops::Range;

use serde::Serialize;

use crate::engine::evidence::hex;

/// Where a run of bytes of a process's memory is in the evidence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "source", rename_all = "snake_case")]
pub enum PageSource {
    /// In this dump's own pages (a kernel dump's single level, a checkpoint's last dump).
    ThisDump,
    /// In the images of a parent (pre-)dump: `depth` 1 is the dump's parent, 2 its
    /// grandparent.
    Parent {
        /// Levels up the chain.
        depth: u32,
        /// The parent's images folder inside the evidence (`pre-checkpoint`).
        images: String,
    },
    /// Not in the evidence.
    NotCaptured {
        /// Why.
        why: Absence,
    },
}

/// Why bytes are not in the evidence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Absence {
    /// Never dumped: not mapped, never touched (zero pages are not dumped), or left out of
    /// the dump.
    NotDumped,
    /// Lazy pages: left in the source process for a lazy restore.
    Lazy,
    /// In a parent image that the evidence does not hold (or that could not be followed).
    ParentMissing,
}

impl PageSource {
    /// True for bytes the evidence holds (this dump's or a parent's).
    pub fn is_captured(&self) -> bool {
        !matches!(self, PageSource::NotCaptured { .. })
    }

    /// In words, as the hexdump and the hex viewer say it: `this dump`, `parent 1
    /// (pre-checkpoint)`, `not captured (lazy)`. Names the images folder as the evidence
    /// spells it: sanitise before printing.
    pub fn describe(&self) -> String {
        match self {
            PageSource::ThisDump => "this dump".into(),
            PageSource::Parent { depth, images } => format!("parent {depth} ({images})"),
            PageSource::NotCaptured { why } => format!(
                "not captured ({})",
                match why {
                    Absence::NotDumped => "not dumped",
                    Absence::Lazy => "lazy",
                    Absence::ParentMissing => "in a parent image that is not here",
                }
            ),
        }
    }
}

/// A run of a process's virtual memory and where its bytes are.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SourcedRange {
    /// First address.
    #[serde(serialize_with = "hex::u64")]
    pub start: u64,
    /// One past the last address.
    #[serde(serialize_with = "hex::u64")]
    pub end: u64,
    /// Where its bytes are.
    #[serde(flatten)]
    pub source: PageSource,
}

/// Builds a cover of a range run by run, merging neighbours with the same source.
#[derive(Debug, Default)]
pub struct Cover {
    runs: Vec<SourcedRange>,
}

impl Cover {
    /// Appends a run (empty runs are skipped; a run that continues the last one with the
    /// same source extends it).
    pub fn push(&mut self, range: Range<u64>, source: PageSource) {
        if range.start >= range.end {
            return;
        }
        if let Some(last) = self.runs.last_mut()
            && last.end == range.start
            && last.source == source
        {
            last.end = range.end;
            return;
        }
        self.runs.push(SourcedRange {
            start: range.start,
            end: range.end,
            source,
        });
    }

    /// Appends runs already built.
    pub fn extend(&mut self, runs: impl IntoIterator<Item = SourcedRange>) {
        for r in runs {
            self.push(r.start..r.end, r.source);
        }
    }

    /// The runs, in address order.
    pub fn finish(self) -> Vec<SourcedRange> {
        self.runs
    }
}

/// The cover of `range` for evidence of a single level: `captured` (sorted, disjoint, within
/// `range`) from this dump, the gaps between not dumped.
pub fn from_captured(range: Range<u64>, captured: &[Range<u64>]) -> Vec<SourcedRange> {
    let mut cover = Cover::default();
    let mut pos = range.start;
    let gap = PageSource::NotCaptured {
        why: Absence::NotDumped,
    };
    for r in captured {
        let (s, e) = (r.start.max(pos), r.end.min(range.end));
        if s >= e {
            continue;
        }
        cover.push(pos..s, gap.clone());
        cover.push(s..e, PageSource::ThisDump);
        pos = e;
    }
    cover.push(pos..range.end, gap);
    cover.finish()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn single_level_cover_and_json() {
        let cover = from_captured(0x1000..0x5000, &[0x1000..0x2000, 0x3000..0x4000]);
        let json = serde_json::to_string(&cover).unwrap();
        assert_eq!(
            json,
            r#"[{"start":"0x1000","end":"0x2000","source":"this_dump"},{"start":"0x2000","end":"0x3000","source":"not_captured","why":"not_dumped"},{"start":"0x3000","end":"0x4000","source":"this_dump"},{"start":"0x4000","end":"0x5000","source":"not_captured","why":"not_dumped"}]"#
        );
        let parent = SourcedRange {
            start: 0,
            end: 0x1000,
            source: PageSource::Parent {
                depth: 2,
                images: "pre2".into(),
            },
        };
        assert_eq!(
            serde_json::to_string(&parent).unwrap(),
            r#"{"start":"0x0","end":"0x1000","source":"parent","depth":2,"images":"pre2"}"#
        );
        assert_eq!(parent.source.describe(), "parent 2 (pre2)");
        assert_eq!(from_captured(5..5, &[]), []);
    }
}
