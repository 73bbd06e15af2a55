//! The one pattern builder: the byte regex that the CLI's `search` and the TUI's search pane
//! both search with, from the text the analyst typed and the same options (case, UTF-16LE).

use regex::bytes::{Regex, RegexBuilder};

use crate::engine::error::Result;

/// The most memory a compiled pattern may use (a pattern over it is refused, not slow).
pub const SIZE_LIMIT: usize = 64 << 20;

/// What the analyst asked to search for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Pattern {
    /// The pattern: Rust regex syntax matched against bytes, or (with [`Pattern::utf16le`])
    /// literal text.
    pub text: String,
    /// Letters match either case (ASCII letters only in UTF-16LE mode).
    pub ignore_case: bool,
    /// Search for the text encoded as UTF-16LE (Windows-style strings, Java and .NET
    /// heaps); the text is then taken literally, not as a regex.
    pub utf16le: bool,
}

impl Pattern {
    /// A regex pattern with default options.
    pub fn regex(text: impl Into<String>) -> Pattern {
        Pattern {
            text: text.into(),
            ..Pattern::default()
        }
    }

    /// Compiles the byte regex (no Unicode classes: `.` and `\w` match bytes).
    pub fn build(&self) -> Result<Regex> {
        let source = if self.utf16le {
            utf16le_source(&self.text, self.ignore_case)
        } else {
            self.text.clone()
        };
        Ok(RegexBuilder::new(&source)
            // In UTF-16LE mode the source is escaped bytes, folded by hand.
            .case_insensitive(self.ignore_case && !self.utf16le)
            .unicode(false)
            .size_limit(SIZE_LIMIT)
            .build()?)
    }
}

/// The regex source matching `text` as UTF-16LE, each code unit's two bytes escaped; with
/// `ignore_case`, an ASCII letter matches either case (`(?i)` does not fold `\x` escapes).
fn utf16le_source(text: &str, ignore_case: bool) -> String {
    let mut s = String::new();
    for unit in text.encode_utf16() {
        let [lo, hi] = unit.to_le_bytes();
        let c = char::from(lo);
        if ignore_case && hi == 0 && c.is_ascii_alphabetic() {
            s.push_str(&format!(
                "[\\x{:02x}\\x{:02x}]\\x00",
                c.to_ascii_lowercase() as u8,
                c.to_ascii_uppercase() as u8
            ));
        } else {
            s.push_str(&format!("\\x{lo:02x}\\x{hi:02x}"));
        }
    }
    s
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;

    fn utf16(s: &str) -> Vec<u8> {
        s.encode_utf16().flat_map(u16::to_le_bytes).collect()
    }

    #[test]
    fn regex_and_case() {
        let re = Pattern::regex("se.ret").build().unwrap();
        assert!(re.is_match(b"a secret"));
        assert!(!re.is_match(b"a SECRET"));
        let re = Pattern {
            ignore_case: true,
            ..Pattern::regex("se.ret")
        }
        .build()
        .unwrap();
        assert!(re.is_match(b"a SECRET"));
        // Bytes, not Unicode: `.` matches a lone non-UTF-8 byte.
        assert!(re.is_match(b"se\xffret"));
    }

    #[test]
    fn utf16le_is_literal_and_folds_ascii() {
        let p = Pattern {
            text: "K.y".into(),
            utf16le: true,
            ..Pattern::default()
        };
        let re = p.build().unwrap();
        assert!(re.is_match(&utf16("a K.y")));
        assert!(!re.is_match(&utf16("a Kxy")), "the text is literal");
        assert!(!re.is_match(&utf16("a k.y")));
        let re = Pattern {
            ignore_case: true,
            ..p
        }
        .build()
        .unwrap();
        assert!(re.is_match(&utf16("a k.Y")));
        assert!(!re.is_match(b"k.y"), "plain ASCII is not UTF-16");
        let re = Pattern {
            text: "é".into(),
            utf16le: true,
            ignore_case: true,
        }
        .build()
        .unwrap();
        assert!(re.is_match(&utf16("café")));
    }

    #[test]
    fn size_limit_and_syntax_errors() {
        assert!(Pattern::regex("(").build().is_err());
        // Far above the limit: refused quickly rather than compiled.
        assert!(Pattern::regex("\\w{1000}{1000}").build().is_err());
    }
}
