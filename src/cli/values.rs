//! Values the user types: durations, seconds, ratios, counts, limits.
//! Each parser fails with a [`ValueError`] naming what it got and what it
//! expected.

/// A value that is not what its option takes.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("`{input}`: {expected}")]
pub struct ValueError {
    /// What was typed.
    pub input: String,
    /// What the option takes (or what is wrong with it).
    pub expected: String,
}

fn bad(input: &str, expected: impl Into<String>) -> ValueError {
    ValueError {
        input: input.to_string(),
        expected: expected.into(),
    }
}

/// A count or a rate (`max-fin-retrans`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Limit {
    Count(u64),
    Rate(f64),
}

/// A ratio: `0.2` or `20%`, from 0 to 1 (0% to 100%). Anything above is
/// refused, not read as a share over 100%: `--max-fin-ratio 10` meant as
/// "10%" would otherwise be a bound that always holds.
pub fn parse_ratio(s: &str) -> Result<f64, ValueError> {
    let t = s.trim();
    let (v, percent) = match t.strip_suffix('%') {
        Some(p) => (p.trim().parse::<f64>().map(|v| v / 100.0), true),
        None => (t.parse::<f64>(), false),
    };
    let v = v.map_err(|_| bad(s, "expected a ratio such as 0.2 or 20%"))?;
    if !v.is_finite() || v < 0.0 {
        Err(bad(s, "a ratio must be 0 or more"))
    } else if v > 1.0 && percent {
        Err(bad(s, "a ratio is at most 100%"))
    } else if v > 1.0 {
        Err(bad(
            s,
            format!("a ratio is from 0 to 1 (or 0% to 100%); for {t} percent write {t}%"),
        ))
    } else {
        Ok(v)
    }
}

/// A count (`5`) or a rate (`0.05`, `5%`).
pub fn parse_limit(s: &str) -> Result<Limit, ValueError> {
    let t = s.trim();
    if let Ok(n) = t.parse::<u64>() {
        return Ok(Limit::Count(n));
    }
    match parse_ratio(t) {
        Ok(r) => Ok(Limit::Rate(r)),
        // A rate out of range says why, not "expected a count".
        Err(e) if t.parse::<f64>().is_ok() || t.ends_with('%') => Err(ValueError {
            input: s.to_string(),
            expected: format!("{}; a whole number is a count (5)", e.expected),
        }),
        Err(_) => Err(bad(s, "expected a count (5) or a rate (0.05 or 5%)")),
    }
}

/// A count.
pub fn parse_count(s: &str) -> Result<u64, ValueError> {
    s.trim()
        .parse::<u64>()
        .map_err(|_| bad(s, "expected a whole number"))
}

/// A duration in microseconds: `1s`, `250ms`, `800us`, `2m`, `1h`; a bare number is seconds.
pub fn parse_duration_us(s: &str) -> Result<u64, ValueError> {
    let t = s.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let scale = match unit.trim() {
        "" | "s" => 1e6,
        "ms" => 1e3,
        "us" | "µs" => 1.0,
        "m" | "min" => 6e7,
        "h" => 3.6e9,
        _ => f64::NAN,
    };
    let v = num.parse::<f64>().map(|v| v * scale).unwrap_or(f64::NAN);
    if v.is_finite() && v >= 0.0 {
        Ok(v.round() as u64)
    } else {
        Err(bad(s, "expected a duration such as 1s, 250ms or 800us"))
    }
}

/// A `--since` / `--until` bound: an RFC 3339 time with its offset
/// (`2026-11-30T10:15:00Z`, `2026-11-30T11:15:00+01:00`), or a duration
/// after the capture's first packet (`10s`, `5m`, `1h`).
pub fn parse_time_bound(s: &str) -> Result<crate::pipeline::TimeBound, ValueError> {
    use crate::pipeline::TimeBound;
    if let Ok(us) = parse_duration_us(s) {
        return Ok(TimeBound::After(us.saturating_mul(1_000)));
    }
    let t: jiff::Timestamp = s.trim().parse().map_err(|_| {
        bad(
            s,
            "expected an RFC 3339 time with its offset (2026-11-30T10:15:00Z) or a duration from the first packet (10s, 5m)",
        )
    })?;
    let ns = t.as_nanosecond();
    u64::try_from(ns)
        .map(TimeBound::At)
        .map_err(|_| bad(s, "a time before 1970 holds no packet"))
}

/// Seconds, a finite number >= 0.
pub fn non_negative_secs(s: &str) -> Result<f64, ValueError> {
    match s.trim().parse::<f64>() {
        Ok(v) if v.is_finite() && v >= 0.0 => Ok(v),
        _ => Err(bad(s, "expected seconds, a number >= 0")),
    }
}

/// Seconds, a finite number > 0.
pub fn positive_secs(s: &str) -> Result<f64, ValueError> {
    match non_negative_secs(s)? {
        0.0 => Err(bad(s, "must be more than 0 seconds")),
        v => Ok(v),
    }
}

/// A timeline bucket width in us: a duration of at least 1 us.
pub fn parse_bucket(s: &str) -> Result<u64, ValueError> {
    match parse_duration_us(s)? {
        0 => Err(bad(s, "must be at least 1us")),
        us => Ok(us),
    }
}

/// A memory size in bytes: `1GiB`, `512MiB`, `200MB`, `1.5 GiB`, or a byte
/// count (bytesize's syntax); at least 1 MiB.
pub fn parse_memory(s: &str) -> Result<u64, ValueError> {
    let b: bytesize::ByteSize = s
        .parse()
        .map_err(|_| bad(s, "expected a size such as 1GiB, 512MiB or 200MB"))?;
    if b.as_u64() < 1 << 20 {
        return Err(bad(s, "the budget must be at least 1MiB"));
    }
    Ok(b.as_u64())
}

pub fn secs_to_ns(s: f64) -> u64 {
    if s.is_finite() && s > 0.0 {
        (s * 1e9).min(u64::MAX as f64) as u64
    } else {
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_values() {
        assert_eq!(parse_ratio("0.2"), Ok(0.2));
        assert_eq!(parse_ratio("20%"), Ok(0.2));
        assert!(parse_ratio("-1").is_err());
        assert!(parse_ratio("x").is_err());
        assert_eq!(parse_ratio("1"), Ok(1.0));
        assert_eq!(parse_ratio("100%"), Ok(1.0));
        assert!(parse_ratio("10").is_err());
        assert!(parse_ratio("1.01").is_err());
        assert!(parse_ratio("150%").is_err());
        assert!(parse_limit("1.5").is_err());
        assert!(parse_limit("150%").is_err());
        assert_eq!(parse_limit("1.0"), Ok(Limit::Rate(1.0)));
        assert_eq!(parse_limit("5"), Ok(Limit::Count(5)));
        assert_eq!(parse_limit("0.05"), Ok(Limit::Rate(0.05)));
        assert_eq!(parse_limit("5%"), Ok(Limit::Rate(0.05)));
        assert_eq!(parse_duration_us("1s"), Ok(1_000_000));
        assert_eq!(parse_duration_us("250ms"), Ok(250_000));
        assert_eq!(parse_duration_us("800us"), Ok(800));
        assert_eq!(parse_duration_us("2"), Ok(2_000_000));
        assert_eq!(parse_duration_us("1.5m"), Ok(90_000_000));
        assert_eq!(parse_duration_us("1h"), Ok(3_600_000_000));
        assert!(parse_duration_us("1 fortnight").is_err());
        assert!(parse_duration_us("ms").is_err());
    }
}
