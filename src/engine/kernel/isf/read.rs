//! From the bytes of an ISF file to an [`Index`]: container detection by magic (plain
//! JSON, xz, gzip), streaming decompression, the JSON parse and its error reporting, and
//! the checks a document must pass to count as an ISF.

use std::io::{BufReader, Read};
use std::path::Path;

use crate::engine::error::{Error, Result};

use super::index::Index;
use super::json::{self, SECTIONS, State};

/// How an ISF file is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Container {
    /// Plain JSON text.
    Json,
    /// An xz stream (`.json.xz`).
    Xz,
    /// A gzip stream (`.json.gz`).
    Gzip,
}

const XZ_MAGIC: &[u8] = &[0xFD, b'7', b'z', b'X', b'Z', 0x00];
const GZIP_MAGIC: &[u8] = &[0x1F, 0x8B];

/// Detects the container from the first bytes (never from the file name).
pub(crate) fn detect(bytes: &[u8]) -> Option<Container> {
    if bytes.starts_with(XZ_MAGIC) {
        return Some(Container::Xz);
    }
    if bytes.starts_with(GZIP_MAGIC) {
        return Some(Container::Gzip);
    }
    let text = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    match text.iter().find(|b| !b.is_ascii_whitespace()) {
        Some(b'{') => Some(Container::Json),
        _ => None,
    }
}

/// Parses the ISF held in `bytes` (the file's bytes as read); `path` names it in errors.
pub(crate) fn parse(bytes: &[u8], path: &Path) -> Result<Index> {
    let container = detect(bytes).ok_or_else(|| Error::Unrecognised {
        path: path.to_path_buf(),
        reason: "not a Volatility ISF: expected JSON text, or JSON compressed with xz or gzip"
            .into(),
    })?;
    let mut state = State {
        builder: Default::default(),
        context: Default::default(),
    };
    let xz = || liblzma::read::XzDecoder::new_multi_decoder(bytes);
    let gz = || flate2::read::MultiGzDecoder::new(bytes);
    let text = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let outcome = match container {
        Container::Json => {
            let mut de = serde_json::Deserializer::from_slice(text);
            json::parse_document(&mut de, &mut state).and_then(|i| de.end().map(|_| i))
        }
        Container::Xz => parse_reader(xz(), &mut state),
        Container::Gzip => parse_reader(gz(), &mut state),
    };
    let info = outcome.map_err(|e| {
        let (line, column) = (e.line(), e.column());
        let at = match container {
            Container::Json => Some(slice_offset(text, line, column)),
            Container::Xz => stream_offset(xz(), line, column),
            Container::Gzip => stream_offset(gz(), line, column),
        };
        json_error(path, container, &state, at.unwrap_or(0), &e)
    })?;

    let file = path.display().to_string();
    if let Some(missing) = SECTIONS
        .iter()
        .zip(info.sections)
        .find_map(|(name, seen)| (!seen).then_some(*name))
    {
        return Err(Error::Unrecognised {
            path: path.to_path_buf(),
            reason: format!("not a Volatility ISF: no `{missing}` section"),
        });
    }
    let format = info.format.unwrap_or_default();
    let major = format.split('.').next().and_then(|m| m.parse::<u32>().ok());
    if !matches!(major, Some(4..=6)) {
        return Err(Error::Unrecognised {
            path: path.to_path_buf(),
            reason: format!(
                "ISF format `{format}` is not supported (podmortem reads formats 4.x to 6.x, \
                 as dwarf2json writes them)"
            ),
        });
    }
    state.builder.finish().map_err(|reason| Error::Corrupt {
        file,
        at: 0,
        reason,
    })
}

/// Parses from a decompressing reader. `BufReader` is handed to serde_json as is: std's
/// byte iterator has a fast path for it that any wrapper would defeat.
fn parse_reader<R: Read>(
    reader: R,
    state: &mut State,
) -> std::result::Result<json::TopInfo, serde_json::Error> {
    let mut de = serde_json::Deserializer::from_reader(BufReader::with_capacity(1 << 16, reader));
    json::parse_document(&mut de, state).and_then(|i| de.end().map(|_| i))
}

/// The byte offset of serde_json's 1-based line/column in a decompressed stream, found by
/// decompressing again (only ever done for an error message). `None` if unreadable.
fn stream_offset(reader: impl Read, line: usize, column: usize) -> Option<u64> {
    let mut offset = 0u64;
    let mut current = 1usize;
    let mut reader = BufReader::new(reader);
    while current < line {
        let mut skipped = Vec::new();
        let n = std::io::BufRead::read_until(&mut reader, b'\n', &mut skipped).ok()?;
        if n == 0 {
            return None;
        }
        offset = offset.saturating_add(n as u64);
        current += 1;
    }
    Some(offset.saturating_add(column.saturating_sub(1) as u64))
}

/// The byte offset in `text` of serde_json's 1-based line/column.
fn slice_offset(text: &[u8], line: usize, column: usize) -> u64 {
    let line_start = if line <= 1 {
        0
    } else {
        text.iter()
            .enumerate()
            .filter(|(_, b)| **b == b'\n')
            .nth(line - 2)
            .map_or(text.len(), |(i, _)| i + 1)
    };
    line_start.saturating_add(column.saturating_sub(1)) as u64
}

fn json_error(
    path: &Path,
    container: Container,
    state: &State,
    at: u64,
    e: &serde_json::Error,
) -> Error {
    let file = path.display().to_string();
    let in_text = match container {
        Container::Json => "",
        Container::Xz => " (offset in the xz-decompressed text)",
        Container::Gzip => " (offset in the gzip-decompressed text)",
    };
    if e.classify() == serde_json::error::Category::Io {
        return Error::Corrupt {
            file,
            at,
            reason: format!("cannot decompress the ISF{in_text}: {e}"),
        };
    }
    let mut place = String::new();
    if !state.context.section.is_empty() {
        place.push_str(state.context.section);
        if let Some(entry) = state.context.entry {
            place.push('.');
            place.push_str(state.builder.text(entry));
        }
        place.push_str(": ");
    }
    Error::Corrupt {
        file,
        at,
        reason: format!("invalid ISF JSON{in_text}: {place}{e}"),
    }
}

/// Decodes standard base64 (RFC 4648, `+/`, padding optional, ASCII whitespace ignored).
pub(crate) fn base64_decode(text: &str) -> Option<Vec<u8>> {
    fn value(c: u8) -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        } as u32)
    }
    let body = text.trim_end_matches(|c: char| c == '=' || c.is_ascii_whitespace());
    let mut out = Vec::with_capacity(body.len() / 4 * 3 + 3);
    let (mut acc, mut bits) = (0u32, 0u32);
    for c in body.bytes().filter(|c| !c.is_ascii_whitespace()) {
        acc = (acc << 6) | value(c)?;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push(((acc >> bits) & 0xFF) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    // A lone trailing symbol (6 bits) cannot encode a byte.
    (bits < 6).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64() {
        assert_eq!(base64_decode("TGludXg=").as_deref(), Some(&b"Linux"[..]));
        assert_eq!(base64_decode("TGludXg").as_deref(), Some(&b"Linux"[..]));
        assert_eq!(base64_decode("").as_deref(), Some(&b""[..]));
        assert_eq!(base64_decode("AA==").as_deref(), Some(&[0u8][..]));
        assert!(base64_decode("A").is_none());
        assert!(base64_decode("TG*u").is_none());
    }

    #[test]
    fn magic() {
        assert_eq!(detect(b"  {\"a\":1}"), Some(Container::Json));
        assert_eq!(detect(b"\xEF\xBB\xBF{"), Some(Container::Json));
        assert_eq!(detect(&[0x1F, 0x8B, 8, 0]), Some(Container::Gzip));
        assert_eq!(detect(XZ_MAGIC), Some(Container::Xz));
        assert_eq!(detect(b"[1]"), None);
        assert_eq!(detect(b""), None);
    }
}
