//! `finscope check`: bounds on a report's figures, for CI.
//!
//! Each bound names one figure of the [`Report`]; the verdict lists every
//! bound with its value and, for a violated one, the worst peers behind it.
//! Bounds come from the command line or from the `[check]` table of a TOML
//! file (command line wins). docs/ci.md documents both and the exit codes.
//!
//! | bound | figure |
//! |---|---|
//! | `max-fin-ratio` R | FIN segments / TCP segments (`fin_ratio.of_tcp`) |
//! | `max-fin-retrans` N or RATE | FIN retransmissions (`fin_retransmissions.total`); a RATE (`0.05`, `5%`) divides them by FIN segments |
//! | `max-unacked-fins` N | unACKed FINs, both directions (docs/report.md; `unacked_fin_age.count`) |
//! | `max-p99-fin-ack` DURATION | p99 of FIN -> ACK latency (`latency.fin_ack.all.p99_us`) |
//! | `max-rst-ratio` R | RST segments / TCP segments |

use super::{EXIT_CORRUPT, EXIT_FAILED, Error, build_report, damaged, run_analysis};
use crate::cli::CheckArgs;
use crate::report::load::load;
use crate::report::{Peer, Report};
use serde::Serialize;
use std::io::{self, Read, Write};
use std::path::Path;
use std::process::ExitCode;

/// Version of the `check --json` verdict document.
pub const VERDICT_VERSION: u32 = 1;

/// A count or a rate (`max-fin-retrans`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Limit {
    Count(u64),
    Rate(f64),
}

/// The bounds of one run; `None`: not checked.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Bounds {
    pub max_fin_ratio: Option<f64>,
    pub max_fin_retrans: Option<Limit>,
    pub max_unacked_fins: Option<u64>,
    pub max_p99_fin_ack_us: Option<u64>,
    pub max_rst_ratio: Option<f64>,
}

/// A ratio: `0.2` or `20%`.
pub fn parse_ratio(s: &str) -> Result<f64, String> {
    let t = s.trim();
    let v = match t.strip_suffix('%') {
        Some(p) => p.trim().parse::<f64>().map(|v| v / 100.0),
        None => t.parse::<f64>(),
    }
    .map_err(|_| format!("`{s}`: expected a ratio such as 0.2 or 20%"))?;
    if v.is_finite() && v >= 0.0 {
        Ok(v)
    } else {
        Err(format!("`{s}`: a ratio must be 0 or more"))
    }
}

/// A count (`5`) or a rate (`0.05`, `5%`).
pub fn parse_limit(s: &str) -> Result<Limit, String> {
    let t = s.trim();
    if let Ok(n) = t.parse::<u64>() {
        return Ok(Limit::Count(n));
    }
    parse_ratio(t)
        .map(Limit::Rate)
        .map_err(|_| format!("`{s}`: expected a count (5) or a rate (0.05 or 5%)"))
}

/// A count.
pub fn parse_count(s: &str) -> Result<u64, String> {
    s.trim()
        .parse::<u64>()
        .map_err(|_| format!("`{s}`: expected a whole number"))
}

/// A duration in microseconds: `1s`, `250ms`, `800us`, `2m`; a bare number is seconds.
pub fn parse_duration_us(s: &str) -> Result<u64, String> {
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
        _ => f64::NAN,
    };
    let v = num.parse::<f64>().map(|v| v * scale).unwrap_or(f64::NAN);
    if v.is_finite() && v >= 0.0 {
        Ok(v.round() as u64)
    } else {
        Err(format!(
            "`{s}`: expected a duration such as 1s, 250ms or 800us"
        ))
    }
}

/// The `[check]` table of a config file, values as written.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawBounds {
    max_fin_ratio: Option<toml::Value>,
    max_fin_retrans: Option<toml::Value>,
    max_unacked_fins: Option<toml::Value>,
    max_p99_fin_ack: Option<toml::Value>,
    max_rst_ratio: Option<toml::Value>,
}

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfigFile {
    check: Option<RawBounds>,
}

fn toml_text(v: &toml::Value) -> String {
    match v {
        toml::Value::String(s) => s.clone(),
        toml::Value::Integer(i) => i.to_string(),
        // Keep a decimal point, so that `1.0` stays a rate.
        toml::Value::Float(f) if f.fract() == 0.0 => format!("{f:.1}"),
        other => other.to_string(),
    }
}

impl Bounds {
    /// Reads the `[check]` table of a TOML file.
    pub fn from_file(path: &Path) -> Result<Bounds, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let cfg: ConfigFile =
            toml::from_str(&text).map_err(|e| format!("{}: {}", path.display(), e.message()))?;
        let raw = cfg.check.unwrap_or_default();
        let field = |name: &str, v: &Option<toml::Value>| -> Option<(String, String)> {
            v.as_ref().map(|v| (name.to_string(), toml_text(v)))
        };
        let ctx = |(name, text): (String, String), e: String| {
            format!("{}: [check] {name} = {text}: {e}", path.display())
        };
        let mut b = Bounds::default();
        if let Some(f) = field("max-fin-ratio", &raw.max_fin_ratio) {
            b.max_fin_ratio = Some(parse_ratio(&f.1).map_err(|e| ctx(f.clone(), e))?);
        }
        if let Some(f) = field("max-fin-retrans", &raw.max_fin_retrans) {
            b.max_fin_retrans = Some(parse_limit(&f.1).map_err(|e| ctx(f.clone(), e))?);
        }
        if let Some(f) = field("max-unacked-fins", &raw.max_unacked_fins) {
            b.max_unacked_fins = Some(parse_count(&f.1).map_err(|e| ctx(f.clone(), e))?);
        }
        if let Some(f) = field("max-p99-fin-ack", &raw.max_p99_fin_ack) {
            b.max_p99_fin_ack_us = Some(parse_duration_us(&f.1).map_err(|e| ctx(f.clone(), e))?);
        }
        if let Some(f) = field("max-rst-ratio", &raw.max_rst_ratio) {
            b.max_rst_ratio = Some(parse_ratio(&f.1).map_err(|e| ctx(f.clone(), e))?);
        }
        Ok(b)
    }

    /// `self` with every bound that `over` sets replaced.
    pub fn overridden_by(&self, over: &Bounds) -> Bounds {
        Bounds {
            max_fin_ratio: over.max_fin_ratio.or(self.max_fin_ratio),
            max_fin_retrans: over.max_fin_retrans.or(self.max_fin_retrans),
            max_unacked_fins: over.max_unacked_fins.or(self.max_unacked_fins),
            max_p99_fin_ack_us: over.max_p99_fin_ack_us.or(self.max_p99_fin_ack_us),
            max_rst_ratio: over.max_rst_ratio.or(self.max_rst_ratio),
        }
    }

    pub fn is_empty(&self) -> bool {
        *self == Bounds::default()
    }
}

/// A peer behind a violated bound, with its figure for that bound.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Culprit {
    pub addr: String,
    pub value: f64,
    /// Display filter for the peer's worst connection.
    pub wireshark_filter: String,
}

/// One bound's outcome.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Outcome {
    /// The bound's name, as on the command line and in the TOML file.
    pub bound: &'static str,
    /// The report field checked.
    pub figure: &'static str,
    pub value: f64,
    pub limit: f64,
    /// `count`, `ratio` or `us`.
    pub unit: &'static str,
    pub ok: bool,
    /// For a violated bound: the peers that contribute most (up to 3).
    pub worst_peers: Vec<Culprit>,
}

/// The `check --json` document.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Verdict {
    pub verdict_version: u32,
    /// Every bound holds.
    pub ok: bool,
    pub violated: usize,
    pub checks: Vec<Outcome>,
    /// The inputs checked.
    pub inputs: Vec<String>,
    /// Some input was truncated or damaged.
    pub truncated: bool,
}

fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 { 0.0 } else { a as f64 / b as f64 }
}

/// Up to three peers with the largest positive `key`.
fn worst(peers: &[Peer], key: impl Fn(&Peer) -> f64) -> Vec<Culprit> {
    let mut v: Vec<(f64, &Peer)> = peers
        .iter()
        .map(|p| (key(p), p))
        .filter(|(k, _)| *k > 0.0)
        .collect();
    // Stable sort: equal figures keep the report's ranking.
    v.sort_by(|a, b| b.0.total_cmp(&a.0));
    v.into_iter()
        .take(3)
        .map(|(value, p)| Culprit {
            addr: p.addr.clone(),
            value,
            wireshark_filter: p.wireshark_filter.clone(),
        })
        .collect()
}

/// Checks `r` against `b`.
pub fn evaluate(r: &Report, b: &Bounds, inputs: Vec<String>) -> Verdict {
    let mut checks = Vec::new();
    let mut push = |bound, figure, value: f64, limit: f64, unit, key: &dyn Fn(&Peer) -> f64| {
        let ok = value <= limit;
        checks.push(Outcome {
            bound,
            figure,
            value,
            limit,
            unit,
            ok,
            worst_peers: if ok { Vec::new() } else { worst(&r.peers, key) },
        });
    };
    if let Some(limit) = b.max_fin_ratio {
        push(
            "max-fin-ratio",
            "fin_ratio.of_tcp",
            r.fin_ratio.of_tcp,
            limit,
            "ratio",
            &|p| p.closes as f64,
        );
    }
    if let Some(limit) = b.max_fin_retrans {
        let total = r.fin_retransmissions.total;
        let key = |p: &Peer| p.fin_retransmissions as f64;
        match limit {
            Limit::Count(n) => push(
                "max-fin-retrans",
                "fin_retransmissions.total",
                total as f64,
                n as f64,
                "count",
                &key,
            ),
            Limit::Rate(x) => push(
                "max-fin-retrans",
                "fin_retransmissions.total / packets.fin",
                ratio(total, r.packets.fin),
                x,
                "ratio",
                &key,
            ),
        }
    }
    if let Some(n) = b.max_unacked_fins {
        push(
            "max-unacked-fins",
            "unacked_fin_age.count",
            r.unacked_fin_age.count as f64,
            n as f64,
            "count",
            &|p| p.unacked_fins as f64,
        );
    }
    if let Some(us) = b.max_p99_fin_ack_us {
        let p99 = r
            .latency
            .get("fin_ack")
            .and_then(|m| m.get("all"))
            .and_then(|s| s.p99_us)
            .unwrap_or(0);
        push(
            "max-p99-fin-ack",
            "latency.fin_ack.all.p99_us",
            p99 as f64,
            us as f64,
            "us",
            &|p| p.fin_ack_p99_us.unwrap_or(0) as f64,
        );
    }
    if let Some(limit) = b.max_rst_ratio {
        push(
            "max-rst-ratio",
            "packets.rst / packets.tcp",
            ratio(r.packets.rst, r.packets.tcp),
            limit,
            "ratio",
            &|p| p.rsts as f64,
        );
    }
    let violated = checks.iter().filter(|c| !c.ok).count();
    Verdict {
        verdict_version: VERDICT_VERSION,
        ok: violated == 0,
        violated,
        checks,
        inputs,
        truncated: r.truncated,
    }
}

fn show(v: f64, unit: &str) -> String {
    match unit {
        "count" => format!("{v}"),
        "us" => crate::report::format::dur(v as u64),
        _ => format!("{:.2}%", v * 100.0),
    }
}

impl Outcome {
    /// One line: `FAIL max-fin-ratio: fin_ratio.of_tcp 31.00% > 20.00%; worst peers: ...`.
    pub fn line(&self) -> String {
        let mut s = format!(
            "{} {}: {} {} {} {}",
            if self.ok { "ok" } else { "FAIL" },
            self.bound,
            self.figure,
            show(self.value, self.unit),
            if self.ok { "<=" } else { ">" },
            show(self.limit, self.unit),
        );
        if !self.ok {
            if self.worst_peers.is_empty() {
                s.push_str("; no single peer stands out");
            } else {
                let peers: Vec<String> = self
                    .worst_peers
                    .iter()
                    .map(|c| {
                        let unit = if self.unit == "ratio" {
                            "count"
                        } else {
                            self.unit
                        };
                        format!("{} ({})", c.addr, show(c.value, unit))
                    })
                    .collect();
                s.push_str("; worst peers: ");
                s.push_str(&peers.join(", "));
            }
        }
        s
    }
}

// ---- the subcommand ----

/// True when `path` holds a JSON document (a saved `analyze --json` report)
/// rather than a capture.
fn is_json_report(path: &Path) -> bool {
    if path.as_os_str() == "-" || !path.is_file() {
        return false;
    }
    let mut head = [0u8; 64];
    let n = std::fs::File::open(path)
        .and_then(|mut f| f.read(&mut head))
        .unwrap_or(0);
    head[..n]
        .iter()
        .find(|b| !b.is_ascii_whitespace())
        .is_some_and(|b| *b == b'{')
}

/// Runs `check`.
pub fn run(c: &CheckArgs) -> Result<ExitCode, Error> {
    let mut bounds = c.bounds();
    if let Some(path) = &c.config {
        bounds = Bounds::from_file(path)
            .map_err(Error::Usage)?
            .overridden_by(&bounds);
    }
    if bounds.is_empty() {
        return Err(Error::Usage(
            "check: no bound given (--max-fin-ratio, --max-fin-retrans, --max-unacked-fins, --max-p99-fin-ack, --max-rst-ratio, or --config FILE)".into(),
        ));
    }
    let files = &c.analysis.files;
    let inputs: Vec<String> = files.iter().map(|p| p.display().to_string()).collect();
    let (doc, corrupt) = if files.iter().any(|p| is_json_report(p)) {
        if files.len() != 1 {
            return Err(Error::Usage(
                "check: give either one JSON report or capture files, not both".into(),
            ));
        }
        (load(&files[0])?, false)
    } else {
        let run = run_analysis(&c.analysis, None)?;
        // Every peer, so that the worst ones behind a bound can be named.
        let doc = build_report(&c.analysis, &run, usize::MAX);
        (doc, damaged(&run.analysis))
    };
    let verdict = evaluate(&doc, &bounds, inputs);
    let stdout = io::stdout();
    let mut out = io::BufWriter::new(stdout.lock());
    if c.json {
        super::write_json(&mut out, &verdict)?;
    } else if verdict.ok {
        writeln!(
            out,
            "ok: all {} bound(s) hold ({})",
            verdict.checks.len(),
            verdict
                .checks
                .iter()
                .map(|o| o.bound)
                .collect::<Vec<_>>()
                .join(", ")
        )?;
    } else {
        for o in verdict.checks.iter().filter(|o| !o.ok) {
            writeln!(out, "{}", o.line())?;
        }
    }
    out.flush()?;
    if !verdict.ok {
        eprintln!(
            "finscope: check: {} of {} bound(s) violated",
            verdict.violated,
            verdict.checks.len()
        );
        return Ok(ExitCode::from(EXIT_FAILED));
    }
    Ok(if corrupt {
        ExitCode::from(EXIT_CORRUPT)
    } else {
        ExitCode::SUCCESS
    })
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
        assert_eq!(parse_limit("5"), Ok(Limit::Count(5)));
        assert_eq!(parse_limit("0.05"), Ok(Limit::Rate(0.05)));
        assert_eq!(parse_limit("5%"), Ok(Limit::Rate(0.05)));
        assert_eq!(parse_duration_us("1s"), Ok(1_000_000));
        assert_eq!(parse_duration_us("250ms"), Ok(250_000));
        assert_eq!(parse_duration_us("800us"), Ok(800));
        assert_eq!(parse_duration_us("2"), Ok(2_000_000));
        assert_eq!(parse_duration_us("1.5m"), Ok(90_000_000));
        assert!(parse_duration_us("1 fortnight").is_err());
        assert!(parse_duration_us("ms").is_err());
    }

    #[test]
    fn config_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("finscope.toml");
        std::fs::write(
            &p,
            "[check]\nmax-fin-ratio = 0.2\nmax-fin-retrans = 1.0\nmax-unacked-fins = 0\nmax-p99-fin-ack = \"1s\"\nmax-rst-ratio = \"5%\"\n",
        )
        .unwrap();
        let b = Bounds::from_file(&p).unwrap();
        assert_eq!(
            b,
            Bounds {
                max_fin_ratio: Some(0.2),
                max_fin_retrans: Some(Limit::Rate(1.0)),
                max_unacked_fins: Some(0),
                max_p99_fin_ack_us: Some(1_000_000),
                max_rst_ratio: Some(0.05),
            }
        );
        std::fs::write(&p, "[check]\nmax-fin-ration = 0.2\n").unwrap();
        let e = Bounds::from_file(&p).unwrap_err();
        assert!(e.contains("max-fin-ration"), "{e}");
        std::fs::write(&p, "[check]\nmax-p99-fin-ack = \"soon\"\n").unwrap();
        let e = Bounds::from_file(&p).unwrap_err();
        assert!(e.contains("max-p99-fin-ack = soon"), "{e}");
    }
}
