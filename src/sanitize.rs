//! Makes evidence-derived text safe for a terminal.
//!
//! Evidence comes from machines an attacker controlled: a process name, a path or a file may
//! carry escape sequences that would rewrite the analyst's terminal. Every string from
//! evidence goes through [`sanitize`] (or [`sanitize_bytes`]) before the TUI or the human
//! CLI output shows it: control characters (C0, DEL, C1), bidirectional overrides and other
//! invisible format characters are shown as visible escapes such as `\x1b` or `\u{202e}`.
//! JSON output goes through [`json`], which escapes what JSON itself would leave raw.

pub mod json;

use std::borrow::Cow;
use std::fmt::Write;

/// True for characters that must never reach a terminal raw.
pub fn is_unsafe(c: char) -> bool {
    c.is_control()
        || matches!(c,
            '\u{200b}'..='\u{200f}'   // zero width, LRM/RLM
            | '\u{2028}'..='\u{202e}' // line/paragraph separators, bidi embeddings/overrides
            | '\u{2060}'..='\u{2069}' // word joiner, bidi isolates
            | '\u{feff}'              // BOM / zero-width no-break space
            | '\u{fff9}'..='\u{fffb}' // interlinear annotations
        )
}

/// Returns `s` with unsafe characters replaced by visible escapes.
pub fn sanitize(s: &str) -> Cow<'_, str> {
    if !s.chars().any(is_unsafe) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        push_char(&mut out, c);
    }
    Cow::Owned(out)
}

/// Returns bytes as safe text: valid UTF-8 is kept (minus unsafe characters), invalid bytes
/// are shown as `\xNN`.
pub fn sanitize_bytes(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            push_char(&mut out, c);
        }
        for b in chunk.invalid() {
            let _ = write!(out, "\\x{b:02x}");
        }
    }
    out
}

fn push_char(out: &mut String, c: char) {
    if !is_unsafe(c) {
        out.push(c);
    } else if (c as u32) < 0x100 {
        let _ = write!(out, "\\x{:02x}", c as u32);
    } else {
        let _ = write!(out, "\\u{{{:x}}}", c as u32);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_controls_and_bidi() {
        assert_eq!(sanitize("a\x1b[31mb"), "a\\x1b[31mb");
        assert_eq!(sanitize("x\u{202e}y\u{9b}"), "x\\u{202e}y\\x9b");
        assert_eq!(sanitize("plain"), Cow::Borrowed("plain"));
        assert_eq!(sanitize_bytes(b"a\xffb\x07"), "a\\xffb\\x07");
    }
}
