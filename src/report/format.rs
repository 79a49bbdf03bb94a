//! Number, duration and time formatting shared by every renderer and by
//! the diagnosis' evidence strings; and the one ratio rule.

/// `1234567` -> `1,234,567`.
pub fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::with_capacity(s.len() + s.len() / 3);
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Microseconds with a unit: `850us`, `12.3ms`, `14.0s`.
pub fn dur(us: u64) -> String {
    if us < 1_000 {
        format!("{us}us")
    } else if us < 1_000_000 {
        format!("{:.1}ms", us as f64 / 1e3)
    } else if us < 600_000_000 {
        format!("{:.1}s", us as f64 / 1e6)
    } else if us < 3_600_000_000 {
        format!("{:.1}min", us as f64 / 6e7)
    } else {
        // Whole minutes past an hour: `6h 01m`, `3d 04h 05m`.
        let m = us / 60_000_000;
        let (d, h, m) = (m / 1_440, m / 60 % 24, m % 60);
        if d > 0 {
            format!("{d}d {h:02}h {m:02}m")
        } else {
            format!("{h}h {m:02}m")
        }
    }
}

pub fn opt_dur(v: Option<u64>) -> String {
    v.map_or_else(|| "-".to_string(), dur)
}

pub fn pct(x: f64) -> String {
    format!("{:.1}%", x * 100.0)
}

/// UTC time of a microsecond timestamp, `YYYY-MM-DD HH:MM:SS.ffffff`.
pub fn utc(us: u64) -> String {
    let secs = us / 1_000_000;
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Civil-from-days (H. Hinnant).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}.{:06}",
        rem / 3600,
        rem / 60 % 60,
        rem % 60,
        us % 1_000_000
    )
}

/// The unit of a figure that `check` and `diff` print (JSON: `ratio`,
/// `count`, `us`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Unit {
    /// A share, printed as a percentage with `decimals` places.
    Ratio,
    Count,
    /// Microseconds, printed as a duration.
    Us,
}

impl Unit {
    /// `v` in this unit; ratios with `decimals` places of percent.
    pub fn show(self, v: f64, decimals: usize) -> String {
        match self {
            Unit::Count => format!("{v}"),
            Unit::Us => dur(v as u64),
            Unit::Ratio => format!("{:.*}%", decimals, v * 100.0),
        }
    }
}

/// `a / b`; `None` when `b` is 0: the one rule for a zero denominator
/// (no traffic, no share). `diff` skips such figures.
pub fn share(a: u64, b: u64) -> Option<f64> {
    (b > 0).then(|| a as f64 / b as f64)
}

/// [`share`] as a number for the report: 0 when `b` is 0.
pub fn ratio(a: u64, b: u64) -> f64 {
    share(a, b).unwrap_or(0.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(1234567), "1,234,567");
        assert_eq!(dur(850), "850us");
        assert_eq!(dur(12_345), "12.3ms");
        assert_eq!(dur(14_000_000), "14.0s");
        assert_eq!(dur(25 * 60_000_000 + 24_000_000), "25.4min");
        assert_eq!(dur(21_642_600_000), "6h 00m");
        assert_eq!(dur(21_706_000_000), "6h 01m");
        assert_eq!(
            dur(3 * 86_400_000_000 + 4 * 3_600_000_000 + 5 * 60_000_000),
            "3d 04h 05m"
        );
        assert_eq!(utc(0), "1970-01-01 00:00:00.000000");
        assert_eq!(utc(1_700_000_000_123_456), "2023-11-14 22:13:20.123456");
    }
}
