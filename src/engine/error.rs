//! Typed errors of the engine. Every parse error names the file (or member) and the offset.

use std::path::PathBuf;

/// Result alias used throughout the engine.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong while reading evidence.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An I/O error while opening or mapping a file.
    #[error("{path}: {source}")]
    Io {
        /// The file concerned.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A structure ends before its declared size.
    #[error("{file}: truncated at offset {at:#x}: need {need} bytes, {have} available")]
    Truncated {
        /// File or archive member being parsed.
        file: String,
        /// Offset of the structure that could not be read.
        at: u64,
        /// Bytes needed.
        need: u64,
        /// Bytes available.
        have: u64,
    },
    /// A magic number or other fixed value is wrong.
    #[error("{file}: bad magic at offset {at:#x}: found {found:#010x}, expected {expected}")]
    BadMagic {
        /// File or archive member being parsed.
        file: String,
        /// Offset of the magic.
        at: u64,
        /// The value found.
        found: u32,
        /// What was expected (human readable).
        expected: &'static str,
    },
    /// A protobuf entry could not be decoded.
    #[error("{file}: cannot decode {what} entry at offset {at:#x}: {reason}")]
    Decode {
        /// File or archive member being parsed.
        file: String,
        /// Offset of the entry's size prefix.
        at: u64,
        /// Which message type.
        what: &'static str,
        /// Decoder's explanation.
        reason: String,
    },
    /// A structure is inconsistent (a size field too large, a bad index...).
    #[error("{file}: corrupt at offset {at:#x}: {reason}")]
    Corrupt {
        /// File or archive member being parsed.
        file: String,
        /// Offset of the inconsistent value.
        at: u64,
        /// What is wrong.
        reason: String,
    },
    /// A file the evidence needs is not there.
    #[error("missing {0}")]
    Missing(String),
    /// The kernel's symbols lack a symbol, type or struct field that reading the evidence
    /// needs: a kernel podmortem does not know, or symbols of another build (not damage in
    /// the evidence; see [`Error::is_corruption`]).
    #[error("missing {0}")]
    MissingSymbol(String),
    /// A memory-mapped evidence file shrank while podmortem read it (a copy still arriving,
    /// a network share): reads of the bytes that are gone returned zeros, so results read
    /// from it are incomplete.
    #[error(
        "{path}: the file changed while podmortem read it: bytes from offset {offset:#x} on are gone ({}); results read from it are incomplete",
        match now { Some(n) => format!("it is now {n} bytes long"), None => "it is gone".to_string() }
    )]
    EvidenceChanged {
        /// The evidence file.
        path: PathBuf,
        /// The lowest offset that could not be read.
        offset: u64,
        /// The file's length when this was reported (`None`: the file is gone).
        now: Option<u64>,
    },
    /// The evidence is of a kind podmortem does not recognise.
    #[error("{path}: unrecognised evidence: {reason}")]
    Unrecognised {
        /// The path given.
        path: PathBuf,
        /// Why it was not recognised.
        reason: String,
    },
    /// A process id that the evidence does not hold.
    #[error("no process with pid {0}")]
    NoSuchProcess(u32),
    /// A file that the evidence does not hold.
    #[error("no such file in the evidence: {0}")]
    NoSuchFile(String),
    /// The requested operation does not apply to this evidence.
    #[error("not available for this evidence: {0}")]
    Unsupported(&'static str),
    /// A search pattern is invalid.
    #[error("invalid regular expression: {0}")]
    Regex(#[from] regex::Error),
}

impl Error {
    /// True when the symbols lack something the evidence needs ([`Error::MissingSymbol`]):
    /// other symbols may read it.
    pub fn is_missing_symbol(&self) -> bool {
        matches!(self, Error::MissingSymbol(_))
    }

    /// True when the evidence's bytes are damaged or inconsistent at an offset (truncated,
    /// a bad magic, an undecodable entry, an impossible value).
    pub fn is_corruption(&self) -> bool {
        matches!(
            self,
            Error::Truncated { .. }
                | Error::BadMagic { .. }
                | Error::Decode { .. }
                | Error::Corrupt { .. }
        )
    }

    /// Builds an [`Error::Io`] for `path`.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }
}
