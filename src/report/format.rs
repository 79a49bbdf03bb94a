//! Number, duration and time formatting shared by every renderer and by
//! the diagnosis' evidence strings; and the one ratio rule.

use jiff::fmt::friendly::{Designator, FractionalUnit, SpanPrinter};
use jiff::{SignedDuration, Span, SpanRound, Timestamp};
use num_format::{Locale, ToFormattedString};

/// `1234567` -> `1,234,567` (num-format, English grouping).
pub fn thousands(n: u64) -> String {
    n.to_formatted_string(&Locale::en)
}

/// Microseconds as a person reads them (jiff's friendly format, ASCII
/// units): `850us`, `12.3ms`, `14.0s`, `1m 12.5s` (a tenth of the
/// smallest unit, rounded, under ten minutes), then whole units: `25m 24s`
/// under an hour, `6h 1m`, `3d 4h 5m`.
pub fn dur(us: u64) -> String {
    let printer = SpanPrinter::new().designator(Designator::HumanTime);
    let micros = |v: u64| SignedDuration::from_micros(i64::try_from(v).unwrap_or(i64::MAX));
    if us < 1_000 {
        return printer.duration_to_string(&micros(us));
    }
    // A tenth of the unit, rounded half up (the printer truncates); a
    // value that rounds up to the next unit moves to it.
    for (unit, fraction, below) in [
        (1_000, FractionalUnit::Millisecond, 1_000_000),
        (1_000_000, FractionalUnit::Second, 600_000_000),
    ] {
        let v = us.saturating_add(unit / 20) / (unit / 10) * (unit / 10);
        if v < below {
            return printer
                .fractional(Some(fraction))
                .precision(Some(1))
                .duration_to_string(&micros(v));
        }
    }
    let smallest = if us < 3_600_000_000 {
        jiff::Unit::Second
    } else {
        jiff::Unit::Minute
    };
    let span = Span::try_from(micros(us)).and_then(|span| {
        span.round(
            SpanRound::new()
                .largest(jiff::Unit::Day)
                .smallest(smallest)
                .days_are_24_hours(),
        )
    });
    match span {
        Ok(span) => printer.span_to_string(&span),
        // Beyond what a span holds (about 600,000 years).
        Err(_) => printer.duration_to_string(&micros(us)),
    }
}

pub fn opt_dur(v: Option<u64>) -> String {
    v.map_or_else(|| "-".to_string(), dur)
}

pub fn pct(x: f64) -> String {
    format!("{:.1}%", x * 100.0)
}

/// UTC time of a microsecond timestamp, `YYYY-MM-DD HH:MM:SS.ffffff`
/// (jiff); a timestamp past the year 9999 (a damaged pcapng timestamp)
/// is shown as microseconds since the epoch.
pub fn utc(us: u64) -> String {
    i64::try_from(us)
        .ok()
        .and_then(|v| Timestamp::from_microsecond(v).ok())
        .map_or_else(
            || format!("{us} us since the epoch"),
            |t| t.strftime("%Y-%m-%d %H:%M:%S%.6f").to_string(),
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
        assert_eq!(dur(12_350), "12.4ms");
        assert_eq!(dur(999_949), "999.9ms");
        assert_eq!(dur(999_950), "1.0s");
        assert_eq!(dur(14_000_000), "14.0s");
        assert_eq!(dur(72_460_000), "1m 12.5s");
        assert_eq!(dur(599_960_000), "10m");
        assert_eq!(dur(25 * 60_000_000 + 24_000_000), "25m 24s");
        assert_eq!(dur(21_642_600_000), "6h 1m");
        assert_eq!(dur(21_706_000_000), "6h 2m");
        assert_eq!(
            dur(3 * 86_400_000_000 + 4 * 3_600_000_000 + 5 * 60_000_000),
            "3d 4h 5m"
        );
        assert!(!dur(u64::MAX).is_empty());
        assert_eq!(utc(0), "1970-01-01 00:00:00.000000");
        assert_eq!(utc(1_700_000_000_123_456), "2023-11-14 22:13:20.123456");
        assert_eq!(utc(u64::MAX), "18446744073709551615 us since the epoch");
    }
}
