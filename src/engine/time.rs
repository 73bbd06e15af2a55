//! Time formatting without a calendar dependency: UTC, seconds (or microseconds) precision.

use std::time::{SystemTime, UNIX_EPOCH};

/// Formats seconds since the epoch as `YYYY-MM-DD HH:MM:SS` UTC.
pub fn format_time(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Civil-from-days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Formats seconds since the epoch as RFC 3339 (`2026-11-23T06:35:17Z`).
pub fn rfc3339(secs: i64) -> String {
    format_time(secs).replacen(' ', "T", 1) + "Z"
}

/// Formats nanoseconds since the epoch as RFC 3339 with microseconds
/// (`2026-11-23T06:17:36.444000Z`; truncated, as Volatility shows times).
pub fn rfc3339_micros(ns: i128) -> String {
    let secs = ns.div_euclid(1_000_000_000);
    let micros = ns.rem_euclid(1_000_000_000) / 1000;
    let secs = i64::try_from(secs).unwrap_or(0);
    format!("{}.{micros:06}Z", format_time(secs).replacen(' ', "T", 1))
}

/// The current time as RFC 3339.
pub fn now_rfc3339() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    rfc3339(secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates() {
        assert_eq!(format_time(0), "1970-01-01 00:00:00");
        assert_eq!(rfc3339(1_795_415_717), "2026-11-23T06:35:17Z");
        assert_eq!(format_time(951_782_400), "2000-02-29 00:00:00");
        assert_eq!(
            rfc3339_micros(1_795_415_717_444_000_999),
            "2026-11-23T06:35:17.444000Z"
        );
    }
}
