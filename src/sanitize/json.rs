//! JSON that is safe to print on a terminal. JSON itself escapes only U+0000..U+001F, so a
//! string may still carry DEL, C1 controls (U+0080..U+009F, which some terminals obey) or
//! bidi overrides raw. These formatters write them as `\uXXXX` as well: the same JSON value,
//! parsed, and nothing a terminal would act on.

use std::io::{self, Write};

use serde::Serialize;
use serde_json::ser::{CompactFormatter, Formatter, PrettyFormatter};

use crate::sanitize::is_unsafe;

/// A serde_json formatter that escapes every character [`is_unsafe`] rejects, around an inner
/// formatter that decides the layout.
pub struct SafeFormatter<F>(F);

/// Writes `value` as indented JSON, terminal-safe.
pub fn to_writer_pretty<W: Write, T: Serialize + ?Sized>(
    w: W,
    value: &T,
) -> serde_json::Result<()> {
    let mut ser = serde_json::Serializer::with_formatter(w, SafeFormatter(PrettyFormatter::new()));
    value.serialize(&mut ser)
}

/// `value` as one line of JSON, terminal-safe.
pub fn to_string<T: Serialize + ?Sized>(value: &T) -> serde_json::Result<String> {
    let mut out = Vec::new();
    let mut ser = serde_json::Serializer::with_formatter(&mut out, SafeFormatter(CompactFormatter));
    value.serialize(&mut ser)?;
    // The formatter writes only ASCII escapes and the UTF-8 of valid `str` fragments.
    Ok(String::from_utf8_lossy(&out).into_owned())
}

impl<F: Formatter> Formatter for SafeFormatter<F> {
    fn write_string_fragment<W: ?Sized + Write>(
        &mut self,
        w: &mut W,
        fragment: &str,
    ) -> io::Result<()> {
        let mut start = 0;
        for (i, c) in fragment.char_indices() {
            if is_unsafe(c) {
                w.write_all(fragment.get(start..i).unwrap_or_default().as_bytes())?;
                write!(w, "\\u{:04x}", c as u32)?;
                start = i + c.len_utf8();
            }
        }
        w.write_all(fragment.get(start..).unwrap_or_default().as_bytes())
    }

    fn begin_array<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.begin_array(w)
    }

    fn end_array<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.end_array(w)
    }

    fn begin_array_value<W: ?Sized + Write>(&mut self, w: &mut W, first: bool) -> io::Result<()> {
        self.0.begin_array_value(w, first)
    }

    fn end_array_value<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.end_array_value(w)
    }

    fn begin_object<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.begin_object(w)
    }

    fn end_object<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.end_object(w)
    }

    fn begin_object_key<W: ?Sized + Write>(&mut self, w: &mut W, first: bool) -> io::Result<()> {
        self.0.begin_object_key(w, first)
    }

    fn end_object_key<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.end_object_key(w)
    }

    fn begin_object_value<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.begin_object_value(w)
    }

    fn end_object_value<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.end_object_value(w)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    #[test]
    fn c1_and_bidi_are_escaped_and_the_value_kept() {
        let v = serde_json::json!({"name": "a\u{1b}]0;x\u{7}b\u{9b}c\u{202e}d\u{7f}", "n": [1, 2]});
        let line = super::to_string(&v).unwrap();
        assert!(line.is_ascii(), "{line}");
        assert!(line.contains("\\u009b") && line.contains("\\u202e") && line.contains("\\u007f"));
        assert_eq!(serde_json::from_str::<serde_json::Value>(&line).unwrap(), v);
        let mut pretty = Vec::new();
        super::to_writer_pretty(&mut pretty, &v).unwrap();
        assert_eq!(
            serde_json::from_slice::<serde_json::Value>(&pretty).unwrap(),
            v
        );
        assert!(
            String::from_utf8(pretty)
                .unwrap()
                .contains("\n  \"n\": [\n")
        );
    }

    #[test]
    fn every_code_point_is_shown_safely_and_kept() {
        let all: Vec<char> = (0..=0x10ffff).filter_map(char::from_u32).collect();
        for chunk in all.chunks(4096) {
            let s: String = chunk.iter().collect();
            let shown = crate::sanitize::sanitize(&s);
            assert!(!shown.chars().any(crate::sanitize::is_unsafe));
            let line = super::to_string(&s).unwrap();
            assert!(!line.chars().any(crate::sanitize::is_unsafe));
            assert_eq!(serde_json::from_str::<String>(&line).unwrap(), s);
        }
    }
}
