//! Searching a window whose bytes the evidence lends as several slices (physically
//! contiguous pieces of a process's memory, the ranges of a dump), in place, with exactly
//! the matches that searching one copy of the whole window finds.
//!
//! This is possible when the pattern has a known longest match `L` ([`bound`]): whether a
//! match starts at a position, and which, depends only on the `L` bytes from there (plus a
//! few bytes either side for look-around such as `\b`). So a search of one piece from a
//! position finds what the whole window's search would, as long as its match (or, when it
//! finds none, the positions it rules out) lies far enough from the piece's edges; the
//! positions near an edge are searched in a small buffer stitched from the pieces around it.
//! Patterns without such a bound but without look-around are searched piece by piece when
//! no match can cross any of the window's piece edges: a match holds only bytes of the
//! pattern's [`ByteSet`], so an edge with a byte outside it on either side cuts no match.
//! The iteration itself (where the next search starts, empty matches) is the one of
//! `regex`'s `find_iter`. Other windows are searched in one copy, as before.

use regex::bytes::Regex;
use regex_syntax::hir::{Class, Hir, HirKind};

/// Bytes of context the regex engine may look at on either side of a position (look-around
/// assertions; a Unicode word boundary looks at up to one encoded character).
const CONTEXT: u64 = 4;
/// Patterns whose longest match exceeds this are searched in one copy of the window.
pub(super) const MAX_BOUND: usize = 4096;

/// The longest match of `regex` in bytes, when it has one of at most [`MAX_BOUND`] bytes:
/// computed from its source, parsed with Unicode and case folding on (which only lengthen
/// matches, so it bounds the pattern whatever options it was built with).
pub(super) fn bound(regex: &Regex) -> Option<usize> {
    let hir = parser().parse(regex.as_str()).ok()?;
    hir.properties().maximum_len().filter(|&l| l <= MAX_BOUND)
}

/// The bytes that can occur in a match of a pattern without look-around assertions.
pub(super) struct ByteSet([bool; 256]);

impl ByteSet {
    /// The bytes of `regex`'s matches (a superset: parsed with Unicode and case folding on,
    /// any non-ASCII character standing for every byte from 0x80), or `None` when it has
    /// look-around assertions or does not parse.
    pub(super) fn of(regex: &Regex) -> Option<ByteSet> {
        let hir = parser().parse(regex.as_str()).ok()?;
        if !hir.properties().look_set().is_empty() {
            return None;
        }
        let mut set = ByteSet([false; 256]);
        set.add(&hir);
        Some(set)
    }

    fn add(&mut self, hir: &Hir) {
        match hir.kind() {
            HirKind::Empty | HirKind::Look(_) => {}
            HirKind::Literal(lit) => lit.0.iter().for_each(|&b| self.byte(b)),
            HirKind::Class(Class::Bytes(c)) => {
                for r in c.ranges() {
                    (r.start()..=r.end()).for_each(|b| self.byte(b));
                }
            }
            HirKind::Class(Class::Unicode(c)) => {
                for r in c.ranges() {
                    let (lo, hi) = (u32::from(r.start()), u32::from(r.end()));
                    if lo < 0x80 {
                        (lo..=hi.min(0x7f)).for_each(|b| self.byte(b as u8));
                    }
                    if hi >= 0x80 {
                        self.byte(0x80);
                    }
                }
            }
            HirKind::Repetition(rep) => self.add(&rep.sub),
            HirKind::Capture(cap) => self.add(&cap.sub),
            HirKind::Concat(subs) | HirKind::Alternation(subs) => {
                subs.iter().for_each(|h| self.add(h));
            }
        }
    }

    /// Adds `b`; a non-ASCII byte adds all of them.
    fn byte(&mut self, b: u8) {
        if b < 0x80 {
            if let Some(slot) = self.0.get_mut(usize::from(b)) {
                *slot = true;
            }
        } else {
            self.0.iter_mut().skip(0x80).for_each(|slot| *slot = true);
        }
    }

    /// True when no match can hold both `a` and the byte after it, `b`.
    pub(super) fn cuts(&self, a: u8, b: u8) -> bool {
        !self.0.get(usize::from(a)).copied().unwrap_or(true)
            || !self.0.get(usize::from(b)).copied().unwrap_or(true)
    }
}

/// The parser of [`bound`] and [`ByteSet::of`]: Unicode and case folding on, which only
/// widen what a pattern matches, so what it says holds for any options the regex was built
/// with.
fn parser() -> regex_syntax::Parser {
    regex_syntax::ParserBuilder::new()
        .unicode(true)
        .utf8(false)
        .case_insensitive(true)
        .build()
}

/// True when every edge between consecutive `parts` has a byte outside `set` on one side.
#[cfg(test)]
fn separable(set: &ByteSet, parts: &[&[u8]]) -> bool {
    parts.windows(2).all(|w| cut_between(set, w))
}

/// True when `pair` is two parts whose edge has a byte outside `set` on one side.
fn cut_between(set: &ByteSet, pair: &[&[u8]]) -> bool {
    let last = pair.first().and_then(|a| a.last());
    match (last, pair.get(1).and_then(|b| b.first())) {
        (Some(&x), Some(&y)) => set.cuts(x, y),
        _ => false,
    }
}

/// `parts` with each run of parts joined by edges a match may cross copied into one buffer
/// (`arena`, cleared first and reused from call to call so that its pages stay allocated),
/// so that every edge left is [`separable`].
pub(super) fn join<'p>(set: &ByteSet, parts: &[&'p [u8]], arena: &'p mut Vec<u8>) -> Vec<&'p [u8]> {
    // Each group of parts, as (first, end) indices.
    let mut starts = vec![0];
    for (i, pair) in parts.windows(2).enumerate() {
        if cut_between(set, pair) {
            starts.push(i + 1);
        }
    }
    let ends = starts.iter().skip(1).copied().chain([parts.len()]);
    let groups: Vec<(usize, usize)> = starts.iter().copied().zip(ends).collect();
    let group = |a: usize, b: usize| parts.get(a..b).unwrap_or_default();
    arena.clear();
    for &(a, b) in &groups {
        if b - a > 1 {
            for part in group(a, b) {
                arena.extend_from_slice(part);
            }
        }
    }
    let arena: &'p [u8] = arena;
    let mut at = 0;
    groups
        .iter()
        .filter_map(|&(a, b)| {
            if b - a > 1 {
                let len: usize = group(a, b).iter().map(|p| p.len()).sum();
                let copy = arena.get(at..at + len);
                at += len;
                copy
            } else {
                parts.get(a).copied()
            }
        })
        .collect()
}

/// A window `[from, end)` made of consecutive borrowed pieces.
pub(super) struct Concat<'a> {
    from: u64,
    end: u64,
    /// Each piece with the address of its first byte.
    parts: Vec<(u64, &'a [u8])>,
    /// The bound plus the look-ahead context; `None` when no match crosses a piece edge.
    reach: Option<u64>,
    stitch: Vec<u8>,
}

impl<'a> Concat<'a> {
    /// The window at `from` made of `parts` in order (their lengths sum to its length), for
    /// a pattern whose longest match is `bound` bytes, or (`None`) one without look-around
    /// none of whose matches crosses an edge between parts (see [`separable`]).
    pub(super) fn new(from: u64, parts: &[&'a [u8]], bound: Option<usize>) -> Concat<'a> {
        let mut at = from;
        let parts = parts
            .iter()
            .map(|p| {
                let start = at;
                at += p.len() as u64;
                (start, *p)
            })
            .collect();
        Concat {
            from,
            end: at,
            parts,
            reach: bound.map(|b| b as u64 + CONTEXT),
            stitch: Vec::new(),
        }
    }

    /// The matches of `regex`, as `find_iter` over one copy of the window yields them
    /// (absolute start and end, empty matches included).
    pub(super) fn matches<'c>(&'c mut self, regex: &'c Regex) -> Matches<'c, 'a> {
        let at = self.from;
        Matches {
            concat: self,
            regex,
            at,
            last_end: None,
        }
    }

    /// The window's bytes `start..end`, at most `max` of them.
    pub(super) fn bytes(&self, start: u64, end: u64, max: usize) -> Vec<u8> {
        let mut out = Vec::new();
        let end = end.min(self.end).min(start.saturating_add(max as u64));
        self.copy(start, end, &mut out);
        out
    }

    fn copy(&self, start: u64, end: u64, out: &mut Vec<u8>) {
        let mut i = self
            .parts
            .partition_point(|(at, p)| at + p.len() as u64 <= start);
        let mut at = start;
        while at < end {
            let Some(&(ps, p)) = self.parts.get(i) else {
                return;
            };
            let lo = usize::try_from(at - ps).unwrap_or(usize::MAX);
            let hi = usize::try_from(end.min(ps + p.len() as u64) - ps).unwrap_or(usize::MAX);
            out.extend_from_slice(p.get(lo..hi).unwrap_or_default());
            at = ps + hi as u64;
            i += 1;
        }
    }

    /// The piece holding `at` (the last one at the window's end): its start and bytes.
    fn piece_at(&self, at: u64) -> Option<(u64, &'a [u8])> {
        let i = self
            .parts
            .partition_point(|(s, p)| s + p.len() as u64 <= at);
        self.parts.get(i).or_else(|| self.parts.last()).copied()
    }

    /// The leftmost-first match starting at or after `at`, as `Regex::find_at` over one
    /// copy of the window finds it.
    fn find_at(&mut self, regex: &Regex, mut at: u64) -> Option<(u64, u64)> {
        let Some(reach) = self.reach else {
            return self.find_separate(regex, at);
        };
        loop {
            let (vs, piece) = self.piece_at(at)?;
            let ve = vs + piece.len() as u64;
            // In one piece: enough context before `at`, and room after it.
            let behind = at >= vs + CONTEXT || vs == self.from;
            if behind && at <= ve && (ve == self.end || at + reach < ve) {
                let from = usize::try_from(at - vs).ok()?;
                match regex.find_at(piece, from) {
                    Some(m) if ve == self.end || vs + m.start() as u64 + reach < ve => {
                        return Some((vs + m.start() as u64, vs + m.end() as u64));
                    }
                    _ if ve == self.end => return None,
                    // No match starts before `ve - reach`: search on from there.
                    _ => at = ve - reach,
                }
                continue;
            }
            // Near a piece's edge: search a small stitched copy.
            let bs = at.saturating_sub(CONTEXT).max(self.from);
            let be = self.end.min(at.saturating_add(2 * reach + 64));
            let mut stitch = std::mem::take(&mut self.stitch);
            stitch.clear();
            self.copy(bs, be, &mut stitch);
            let from = usize::try_from(at - bs).ok()?;
            let found = regex.find_at(&stitch, from).map(|m| (m.start(), m.end()));
            self.stitch = stitch;
            match found {
                Some((ms, me)) if be == self.end || bs + ms as u64 + reach < be => {
                    return Some((bs + ms as u64, bs + me as u64));
                }
                _ if be == self.end => return None,
                _ => at = be - reach,
            }
        }
    }

    /// [`Concat::find_at`] when no match crosses a piece edge and none looks around: the
    /// first match of the piece holding `at` that starts in it, else of the next pieces.
    fn find_separate(&self, regex: &Regex, mut at: u64) -> Option<(u64, u64)> {
        loop {
            let (vs, piece) = self.piece_at(at)?;
            let ve = vs + piece.len() as u64;
            let m = regex.find_at(piece, usize::try_from(at - vs).ok()?);
            match m {
                Some(m) if ve == self.end || vs + (m.start() as u64) < ve => {
                    return Some((vs + m.start() as u64, vs + m.end() as u64));
                }
                _ if ve == self.end => return None,
                // Only an empty match at its end: the next piece decides what starts there.
                _ => at = ve,
            }
        }
    }
}

/// The matches of a [`Concat`], in the order and with the empty-match rule of `find_iter`.
pub(super) struct Matches<'c, 'a> {
    concat: &'c mut Concat<'a>,
    regex: &'c Regex,
    at: u64,
    last_end: Option<u64>,
}

impl Matches<'_, '_> {
    /// The next match (start, end), or `None`.
    pub(super) fn next_match(&mut self) -> Option<(u64, u64)> {
        if self.at > self.concat.end {
            return None;
        }
        let mut m = self.concat.find_at(self.regex, self.at)?;
        // An empty match where the last one ended is skipped by searching one byte on.
        if m.0 == m.1 && Some(m.1) == self.last_end {
            if self.at >= self.concat.end {
                return None;
            }
            m = self.concat.find_at(self.regex, self.at + 1)?;
        }
        self.at = m.1;
        self.last_end = Some(m.1);
        Some(m)
    }

    /// The window being searched.
    pub(super) fn concat(&self) -> &Concat<'_> {
        self.concat
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;

    #[test]
    fn bounds() {
        let b = |p: &str| bound(&Regex::new(p).unwrap());
        assert_eq!(b("HOME="), Some(5));
        assert_eq!(b("FORENSIC_SECRET_[0-9a-f]+"), None);
        assert_eq!(b("a{2,7}b?"), Some(8));
        assert!(b("(?-u:.){5000}").is_none());
    }

    /// Cutting a text into pieces anywhere gives `find_iter`'s matches.
    #[test]
    fn cut_anywhere_same_matches() {
        let mut text = Vec::new();
        for i in 0..40u8 {
            text.extend_from_slice(b"xaab abab\nab ba aaab b\xffab\n\nabba a");
            text.extend(std::iter::repeat_n(b'a', usize::from(i % 7)));
        }
        let res = [
            r"ab",
            r"a?",
            r"\bab\b",
            r"(?m)^ab",
            r"(?m)b$",
            r"a|ab",
            r"b{0,3}",
            r"^a|a$",
            r"(?-u:.)a",
        ];
        for re in res {
            let re = Regex::new(re).unwrap();
            let want: Vec<_> = re
                .find_iter(&text)
                .map(|m| (m.start() as u64, m.end() as u64))
                .collect();
            let l = bound(&re).unwrap();
            for step in [1, 2, 3, 5, 8, 13, 40, 77, 200] {
                for shift in [0, 1, 3] {
                    let mut parts = vec![&text[..shift]];
                    parts.extend(text[shift..].chunks(step));
                    let mut c = Concat::new(0x1000, &parts, Some(l));
                    let mut it = c.matches(&re);
                    let mut got = Vec::new();
                    while let Some((s, e)) = it.next_match() {
                        got.push((s - 0x1000, e - 0x1000));
                    }
                    assert_eq!(got, want, "{re} in pieces of {step} after {shift}");
                }
            }
        }
    }

    /// Unbounded patterns without look-around: cut only where a byte outside their set
    /// lies on one side, the pieces give `find_iter`'s matches; elsewhere the window is not
    /// separable.
    #[test]
    fn separable_cuts_same_matches() {
        let text = b"abc FORENSIC_SECRET_00af x aaaa\x00aaab\x00\x00ba b\nzz".repeat(30);
        for re in [
            r"[a-z]{3,}",
            r"FORENSIC_SECRET_[0-9a-f]+",
            r"a*",
            r"b|a+",
            r"[^\x00]+",
        ] {
            let re = Regex::new(re).unwrap();
            let set = ByteSet::of(&re).unwrap();
            let want: Vec<_> = re
                .find_iter(&text)
                .map(|m| (m.start() as u64, m.end() as u64))
                .collect();
            let mut tried = 0;
            for step in [1, 2, 3, 7, 16, 100] {
                let parts: Vec<&[u8]> = text.chunks(step).collect();
                // Also cut only at the edges the set allows.
                let mut cut = Vec::new();
                let mut start = 0;
                for i in (step..text.len()).step_by(step) {
                    if set.cuts(text[i - 1], text[i]) {
                        cut.push(&text[start..i]);
                        start = i;
                    }
                }
                cut.push(&text[start..]);
                let mut joined = Vec::new();
                let any = join(&set, &parts, &mut joined);
                assert!(separable(&set, &any));
                for parts in [parts.clone(), cut, any] {
                    if !separable(&set, &parts) {
                        continue;
                    }
                    tried += 1;
                    let mut c = Concat::new(0, &parts, None);
                    let mut it = c.matches(&re);
                    let mut got = Vec::new();
                    while let Some(m) = it.next_match() {
                        got.push(m);
                    }
                    assert_eq!(got, want, "{re} in pieces of {step}");
                }
            }
            assert!(tried >= 12, "{re}: {tried}");
        }
        let set = ByteSet::of(&Regex::new(r"[a-z]{3,}").unwrap()).unwrap();
        assert!(!separable(&set, &[b"ab", b"cd"]));
        assert!(separable(&set, &[b"ab", b"\x00cd", b"e"]) == set.cuts(b'd', b'e'));
        assert!(ByteSet::of(&Regex::new(r"\bx+").unwrap()).is_none());
    }
}
