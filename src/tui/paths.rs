//! Where the workbench proposes to write exports and extractions: never next to or into
//! the evidence.

/// The default export path: `findings-<evidence>.json` in the working folder (see
/// [`default_output_path`]).
pub fn default_export_path(evidence: &std::path::Path) -> String {
    let stem = evidence
        .file_name()
        .map(|n| {
            n.to_string_lossy()
                .split('.')
                .next()
                .unwrap_or("evidence")
                .to_string()
        })
        .unwrap_or_else(|| "evidence".into());
    let name = format!(
        "findings-{}.json",
        crate::engine::extract::safe_relative(&stem).display()
    );
    default_output_path(evidence, &name)
}

/// Where the workbench proposes to write `name`: the working folder, unless that is where
/// the evidence is or inside an evidence folder (nothing is ever written next to or into the
/// evidence); then the data folder.
pub fn default_output_path(evidence: &std::path::Path, name: &str) -> String {
    let cwd = std::env::current_dir().unwrap_or_default();
    let cwd = std::fs::canonicalize(&cwd).unwrap_or(cwd);
    let evidence = std::fs::canonicalize(evidence).ok();
    let next_to = evidence.as_deref().and_then(|p| p.parent()) == Some(cwd.as_path());
    let inside = evidence
        .as_deref()
        .is_some_and(|p| p.is_dir() && cwd.starts_with(p));
    if next_to || inside {
        let data = crate::engine::findings::default_data_dir().unwrap_or_else(std::env::temp_dir);
        return data.join("exports").join(name).display().to_string();
    }
    name.to_string()
}
