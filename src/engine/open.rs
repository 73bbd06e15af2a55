//! Opens a piece of evidence, detecting what it is. The one place that decides which back
//! end handles a path.

use std::path::{Path, PathBuf};

use crate::engine::checkpoint::Checkpoint;
use crate::engine::error::Result;
use crate::engine::evidence::Evidence;

/// How to open evidence.
#[derive(Debug, Clone, Default)]
pub struct OpenOptions {
    /// Volatility 3 ISF symbols (file or folder) for kernel memory dumps.
    pub isf: Option<PathBuf>,
}

/// Opens `path` as checkpoint or kernel dump, read-only.
pub fn open_evidence(path: &Path, _opts: &OpenOptions) -> Result<Box<dyn Evidence>> {
    Ok(Box::new(Checkpoint::open(path)?))
}
