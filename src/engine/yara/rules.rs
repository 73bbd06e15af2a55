//! Compiled YARA rules: the bundled set (`assets/yara/`, written for podmortem) and the
//! analyst's files, with the scan parameters every scan uses.

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use boreal::scanner::{FragmentedScanMode, ScanParams};
use boreal::{Compiler, MetadataValue, Scanner};

/// The bundled rule files: (namespace, file name, text). Namespace `podmortem`.
pub const BUNDLED: [(&str, &str); 3] = [
    (
        "miners.yar",
        include_str!("../../../assets/yara/miners.yar"),
    ),
    (
        "reverse_shells.yar",
        include_str!("../../../assets/yara/reverse_shells.yar"),
    ),
    (
        "webshells.yar",
        include_str!("../../../assets/yara/webshells.yar"),
    ),
];

/// The namespace of the bundled rules.
pub const BUNDLED_NAMESPACE: &str = "podmortem";

/// What can go wrong loading YARA rules.
#[derive(Debug, thiserror::Error)]
pub enum YaraError {
    /// A rules file or folder could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A rules file does not compile: boreal's message names the file, line and column.
    #[error("{message}")]
    Compile {
        /// The file.
        file: PathBuf,
        /// `FILE:LINE:COLUMN: error: ...`.
        message: String,
    },
    /// A folder holds no `.yar` or `.yara` file.
    #[error("{0}: no .yar or .yara files")]
    NoRules(PathBuf),
}

/// A compiled rule: its namespace, name and metadata.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleInfo {
    /// The namespace.
    pub namespace: String,
    /// The rule's name.
    pub name: String,
    /// Its metadata as (key, value as text), in order.
    pub meta: Vec<(String, String)>,
}

impl RuleInfo {
    /// The value of metadata `key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.meta
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// Compiled YARA rules, shared by the threads of a scan.
#[derive(Debug, Clone)]
pub struct Rules {
    scanner: Scanner,
    /// The files compiled (`bundled:miners.yar`, then the analyst's paths).
    sources: Vec<String>,
    /// Compiler warnings (`FILE:LINE:COLUMN: warning: ...`).
    warnings: Vec<String>,
}

impl Rules {
    /// The bundled rules, compiled once per process.
    pub fn bundled() -> Result<Arc<Rules>, Arc<YaraError>> {
        static BUNDLED_RULES: OnceLock<Result<Arc<Rules>, Arc<YaraError>>> = OnceLock::new();
        BUNDLED_RULES
            .get_or_init(|| Rules::compile(true, None).map(Arc::new).map_err(Arc::new))
            .clone()
    }

    /// The bundled rules (when `bundled`) and those of `path`: a `.yar`/`.yara` file, or a
    /// folder whose `.yar` and `.yara` files (searched recursively, in name order) are
    /// compiled each in a namespace named after the file (`miners` for `miners.yar`).
    pub fn compile(bundled: bool, path: Option<&Path>) -> Result<Rules, YaraError> {
        let mut c = Compiler::new();
        let mut sources = Vec::new();
        let mut warnings = Vec::new();
        if bundled {
            for (name, text) in BUNDLED {
                let status = c
                    .add_rules_str_in_namespace(text, BUNDLED_NAMESPACE)
                    .map_err(|e| YaraError::Compile {
                        file: PathBuf::from(name),
                        message: format!("bundled {name}: {e}"),
                    })?;
                warnings.extend(status.warnings().map(|w| format!("bundled {name}: {w}")));
                sources.push(format!("bundled:{name}"));
            }
        }
        if let Some(path) = path {
            let files = rule_files(path)?;
            let mut used = std::collections::HashSet::new();
            for file in files {
                let stem = file
                    .file_stem()
                    .map(|s| s.to_string_lossy().into_owned())
                    .unwrap_or_default();
                let mut ns = stem.clone();
                let mut n = 1;
                while ns == BUNDLED_NAMESPACE || !used.insert(ns.clone()) {
                    n += 1;
                    ns = format!("{stem}_{n}");
                }
                let status =
                    c.add_rules_file_in_namespace(&file, &ns)
                        .map_err(|e| YaraError::Compile {
                            file: file.clone(),
                            message: e.to_string(),
                        })?;
                warnings.extend(status.warnings().map(ToString::to_string));
                sources.push(file.display().to_string());
            }
        }
        let mut scanner = c.finalize();
        scanner.set_scan_params(params());
        Ok(Rules {
            scanner,
            sources,
            warnings,
        })
    }

    /// The scanner.
    pub(super) fn scanner(&self) -> &Scanner {
        &self.scanner
    }

    /// The files compiled, bundled ones first (`bundled:miners.yar`).
    pub fn sources(&self) -> &[String] {
        &self.sources
    }

    /// The compiler's warnings.
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// Every rule, in compile order.
    pub fn rules(&self) -> Vec<RuleInfo> {
        self.scanner
            .rules()
            .map(|r| RuleInfo {
                namespace: r.namespace.to_string(),
                name: r.name.to_string(),
                meta: r
                    .metadatas
                    .iter()
                    .map(|m| (self.symbol(m.name), self.value(m.value)))
                    .collect(),
            })
            .collect()
    }

    fn symbol(&self, s: boreal::StringSymbol) -> String {
        self.scanner.get_string_symbol(s).to_string()
    }

    /// A metadata value as text (a string as its bytes, lossily).
    pub(super) fn value(&self, v: MetadataValue) -> String {
        match v {
            MetadataValue::Bytes(b) => {
                String::from_utf8_lossy(self.scanner.get_bytes_symbol(b)).into_owned()
            }
            MetadataValue::Integer(i) => i.to_string(),
            MetadataValue::Boolean(b) => b.to_string(),
        }
    }

    /// The metadata `key` of a matched rule, as text.
    pub(super) fn meta(&self, metas: &[boreal::Metadata], key: &str) -> Option<String> {
        metas
            .iter()
            .find(|m| self.scanner.get_string_symbol(m.name) == key)
            .map(|m| self.value(m.value))
    }
}

/// The scan parameters: process memory, every match computed (the cap is ours), YARA's
/// own semantics for fragmented memory (offsets may be read back, as in `uint32(@a + 4)`).
fn params() -> ScanParams {
    ScanParams::default()
        .process_memory(true)
        .compute_full_matches(true)
        .match_max_length(super::MAX_DATA)
        .string_max_nb_matches(1_000)
        .fragmented_scan_mode(FragmentedScanMode::legacy())
}

/// The rule files of `path`: itself, or the `.yar`/`.yara` files under it in name order.
fn rule_files(path: &Path) -> Result<Vec<PathBuf>, YaraError> {
    let io = |source| YaraError::Io {
        path: path.to_path_buf(),
        source,
    };
    let meta = std::fs::metadata(path).map_err(io)?;
    if !meta.is_dir() {
        return Ok(vec![path.to_path_buf()]);
    }
    let mut out = Vec::new();
    let mut stack = vec![path.to_path_buf()];
    // Bounded: a folder tree with a symlink loop stops at this many folders.
    let mut folders = 0;
    while let Some(dir) = stack.pop() {
        folders += 1;
        if folders > 10_000 {
            break;
        }
        let entries = std::fs::read_dir(&dir).map_err(|source| YaraError::Io {
            path: dir.clone(),
            source,
        })?;
        for e in entries {
            let e = e.map_err(|source| YaraError::Io {
                path: dir.clone(),
                source,
            })?;
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p
                .extension()
                .is_some_and(|x| x.eq_ignore_ascii_case("yar") || x.eq_ignore_ascii_case("yara"))
            {
                out.push(p);
            }
        }
    }
    out.sort();
    if out.is_empty() {
        return Err(YaraError::NoRules(path.to_path_buf()));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;

    #[test]
    fn bundled_rules_compile_with_their_meta() {
        let rules = Rules::bundled().unwrap();
        assert!(rules.warnings().is_empty(), "{:?}", rules.warnings());
        let all = rules.rules();
        assert_eq!(all.len(), 12);
        for r in &all {
            assert_eq!(r.namespace, BUNDLED_NAMESPACE);
            for key in ["description", "severity", "reference"] {
                assert!(r.get(key).is_some(), "{}: no {key}", r.name);
            }
            let sev = r.get("severity").unwrap();
            assert!(["high", "critical"].contains(&sev), "{}: {sev}", r.name);
        }
    }
}
