//! Human-friendly units shared by the CLI and the workbench.

/// Sizes like `4K`, `1.5M`.
pub fn human_size(n: u64) -> String {
    const UNITS: [&str; 5] = ["", "K", "M", "G", "T"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1024.0 && u + 1 < UNITS.len() {
        v /= 1024.0;
        u += 1;
    }
    let unit = UNITS.get(u).copied().unwrap_or("");
    if u == 0 || v.fract() == 0.0 {
        format!("{}{unit}", v as u64)
    } else {
        format!("{v:.1}{unit}")
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn sizes() {
        assert_eq!(super::human_size(4096), "4K");
        assert_eq!(super::human_size(1536 * 1024), "1.5M");
        assert_eq!(super::human_size(100), "100");
    }
}
