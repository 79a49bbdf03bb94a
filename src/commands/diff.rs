//! `finscope diff BASE.json NEW.json`: what changed between two
//! `analyze --json` reports, and whether it is a regression.
//!
//! Figures are rates and latencies, not counts, so captures of different
//! lengths compare. For every figure higher is worse. A figure *moved* when
//! it changed by more than its tolerance; it *regressed* when it rose by more.
//! A tolerance is relative (`10%`, of the base value) or absolute (`0.01`,
//! in the figure's unit); `--tolerance 5%` sets the default for every
//! figure, `--tolerance fin_ratio=0.01` one figure's.
//!
//! Peers are matched by address among the peers each report lists (its
//! `--top`). A peer regressed when its problems per connection (FIN
//! retransmissions + unACKed FINs) or its FIN -> ACK p99 rose beyond the
//! default tolerance; a peer that appeared with problems regressed too.

use super::{EXIT_FAILED, Error};
use crate::cli::DiffArgs;
use crate::report::format::{Unit, share as ratio};
use crate::report::load::load;
use crate::report::render::{Paint, TextStyle};
use crate::report::{Peer, Report};
use serde::Serialize;
use std::collections::BTreeMap;
use std::io::{self, Write};
use std::process::ExitCode;

/// Default relative tolerance.
pub const DEFAULT_TOLERANCE: Tolerance = Tolerance::Relative(0.10);

/// How far a figure may move.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Tolerance {
    /// Fraction of the base value.
    Relative(f64),
    /// In the figure's unit.
    Absolute(f64),
}

impl Tolerance {
    fn allowed(self, base: f64) -> f64 {
        match self {
            Tolerance::Relative(r) => r * base.abs(),
            Tolerance::Absolute(a) => a,
        }
    }
}

impl std::fmt::Display for Tolerance {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Tolerance::Relative(r) => write!(f, "{}%", r * 100.0),
            Tolerance::Absolute(a) => write!(f, "{a}"),
        }
    }
}

/// One figure compared.
struct Figure {
    name: &'static str,
    unit: Unit,
    get: fn(&Report) -> Option<f64>,
}

fn us(v: Option<u64>) -> Option<f64> {
    v.map(|v| v as f64)
}

/// The figures `diff` compares, in output order.
const FIGURES: &[Figure] = &[
    Figure {
        name: "fin_ratio",
        unit: Unit::Ratio,
        get: |r| ratio(r.packets.fin, r.packets.tcp),
    },
    Figure {
        name: "fin_retransmission_rate",
        unit: Unit::Ratio,
        get: |r| ratio(r.fin_retransmissions.total, r.packets.fin),
    },
    Figure {
        name: "unacked_fin_rate",
        unit: Unit::Ratio,
        get: |r| ratio(r.unacked_fin_age.count, r.connections.total),
    },
    Figure {
        name: "reset_rate",
        unit: Unit::Ratio,
        get: |r| {
            ratio(
                r.outcomes.reset + r.outcomes.reset_after_fin,
                r.connections.total,
            )
        },
    },
    Figure {
        name: "rst_ratio",
        unit: Unit::Ratio,
        get: |r| ratio(r.packets.rst, r.packets.tcp),
    },
    Figure {
        name: "fin_ack_p50_us",
        unit: Unit::Us,
        get: |r| us(r.latency.fin_ack.all.p50_us),
    },
    Figure {
        name: "fin_ack_p99_us",
        unit: Unit::Us,
        get: |r| us(r.latency.fin_ack.all.p99_us),
    },
    Figure {
        name: "close_total_p99_us",
        unit: Unit::Us,
        get: |r| us(r.latency.close_total.all.p99_us),
    },
];

/// Names of the figures, for `--tolerance NAME=VALUE`.
pub fn figure_names() -> Vec<&'static str> {
    FIGURES.iter().map(|f| f.name).collect()
}

/// Tolerances: a default and per-figure ones.
#[derive(Clone, Debug, PartialEq)]
pub struct Tolerances {
    pub default: Tolerance,
    pub per_figure: BTreeMap<String, Tolerance>,
}

impl Default for Tolerances {
    fn default() -> Self {
        Tolerances {
            default: DEFAULT_TOLERANCE,
            per_figure: BTreeMap::new(),
        }
    }
}

/// A `--tolerance` that is not one.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum ToleranceError {
    #[error("--tolerance {spec}: unknown figure `{name}` (one of: {known})")]
    UnknownFigure {
        spec: String,
        name: String,
        known: String,
    },
    #[error("--tolerance {spec}: `{value}`: {expected}")]
    BadValue {
        spec: String,
        value: String,
        expected: &'static str,
    },
}

/// A tolerance value, or what is wrong with it.
fn parse_tolerance(s: &str) -> Result<Tolerance, &'static str> {
    let t = s.trim();
    let v = match t.strip_suffix('%') {
        Some(p) => p
            .trim()
            .parse::<f64>()
            .map(|v| Tolerance::Relative(v / 100.0)),
        None => t.parse::<f64>().map(Tolerance::Absolute),
    }
    .map_err(|_| "expected 10% (relative) or 0.01 (absolute)")?;
    match v {
        Tolerance::Relative(x) | Tolerance::Absolute(x) if x.is_finite() && x >= 0.0 => Ok(v),
        _ => Err("a tolerance must be 0 or more"),
    }
}

impl Tolerances {
    /// From `--tolerance` values: `10%`, `0.01`, `NAME=10%`, `NAME=0.01`.
    pub fn parse(specs: &[String]) -> Result<Tolerances, ToleranceError> {
        let mut t = Tolerances::default();
        for s in specs {
            match s.split_once('=') {
                Some((name, v)) => {
                    let name = name.trim();
                    if !FIGURES.iter().any(|f| f.name == name) {
                        return Err(ToleranceError::UnknownFigure {
                            spec: s.clone(),
                            name: name.to_string(),
                            known: figure_names().join(", "),
                        });
                    }
                    let v = parse_tolerance(v).map_err(|expected| ToleranceError::BadValue {
                        spec: s.clone(),
                        value: v.trim().to_string(),
                        expected,
                    })?;
                    t.per_figure.insert(name.to_string(), v);
                }
                None => {
                    t.default = parse_tolerance(s).map_err(|expected| ToleranceError::BadValue {
                        spec: s.clone(),
                        value: s.trim().to_string(),
                        expected,
                    })?
                }
            }
        }
        Ok(t)
    }

    fn of(&self, name: &str) -> Tolerance {
        self.per_figure.get(name).copied().unwrap_or(self.default)
    }
}

/// One figure's comparison.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct FigureDiff {
    pub figure: &'static str,
    pub unit: Unit,
    pub base: Option<f64>,
    pub new: Option<f64>,
    pub tolerance: Tolerance,
    /// Changed by more than the tolerance.
    pub moved: bool,
    /// Rose by more than the tolerance.
    pub regressed: bool,
}

/// One peer's change.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct PeerDiff {
    pub addr: String,
    /// `appeared`, `worse`, `better` or `gone`.
    pub change: &'static str,
    pub base_problems_per_conn: Option<f64>,
    pub new_problems_per_conn: Option<f64>,
    pub base_fin_ack_p99_us: Option<u64>,
    pub new_fin_ack_p99_us: Option<u64>,
    pub regressed: bool,
}

/// The `diff --json` document.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Diff {
    pub base: String,
    pub new: String,
    /// Some figure or peer regressed.
    pub regression: bool,
    pub figures: Vec<FigureDiff>,
    pub peers: Vec<PeerDiff>,
    /// Differences in how the two reports were made (settings).
    pub notes: Vec<String>,
}

fn problems(p: &Peer) -> f64 {
    let n = (p.counts.fin_retransmissions + p.counts.unacked_fins) as f64;
    if p.counts.connections == 0 {
        n
    } else {
        n / p.counts.connections as f64
    }
}

fn rose(base: f64, new: f64, t: Tolerance) -> bool {
    new - base > t.allowed(base)
}

/// Compares two reports.
pub fn compare(base: &Report, new: &Report, t: &Tolerances, names: (String, String)) -> Diff {
    let figures: Vec<FigureDiff> = FIGURES
        .iter()
        .map(|f| {
            let (b, n) = ((f.get)(base), (f.get)(new));
            let tol = t.of(f.name);
            let (moved, regressed) = match (b, n) {
                (Some(b), Some(n)) => ((n - b).abs() > tol.allowed(b), rose(b, n, tol)),
                (None, Some(n)) => (n > 0.0, false),
                _ => (false, false),
            };
            FigureDiff {
                figure: f.name,
                unit: f.unit,
                base: b,
                new: n,
                tolerance: tol,
                moved,
                regressed,
            }
        })
        .collect();

    let old: BTreeMap<&str, &Peer> = base.peers.iter().map(|p| (p.addr.as_str(), p)).collect();
    let cur: BTreeMap<&str, &Peer> = new.peers.iter().map(|p| (p.addr.as_str(), p)).collect();
    let mut peers = Vec::new();
    // New report's order (its ranking), then peers that are gone.
    for p in &new.peers {
        let (change, regressed) = match old.get(p.addr.as_str()) {
            None => ("appeared", problems(p) > 0.0),
            Some(o) => {
                let tol = t.default;
                let worse = rose(problems(o), problems(p), tol)
                    || match (o.fin_ack_p99_us, p.fin_ack_p99_us) {
                        (Some(a), Some(b)) => rose(a as f64, b as f64, tol),
                        _ => false,
                    };
                let better = problems(p) < problems(o) - tol.allowed(problems(o));
                if worse {
                    ("worse", true)
                } else if better {
                    ("better", false)
                } else {
                    continue;
                }
            }
        };
        let o = old.get(p.addr.as_str());
        peers.push(PeerDiff {
            addr: p.addr.clone(),
            change,
            base_problems_per_conn: o.map(|o| problems(o)),
            new_problems_per_conn: Some(problems(p)),
            base_fin_ack_p99_us: o.and_then(|o| o.fin_ack_p99_us),
            new_fin_ack_p99_us: p.fin_ack_p99_us,
            regressed,
        });
    }
    for o in &base.peers {
        if !cur.contains_key(o.addr.as_str()) {
            peers.push(PeerDiff {
                addr: o.addr.clone(),
                change: "gone",
                base_problems_per_conn: Some(problems(o)),
                new_problems_per_conn: None,
                base_fin_ack_p99_us: o.fin_ack_p99_us,
                new_fin_ack_p99_us: None,
                regressed: false,
            });
        }
    }

    let mut notes = Vec::new();
    let (a, b) = (&base.settings, &new.settings);
    if a.local != b.local {
        let show = |l: &[String]| {
            if l.is_empty() {
                "the client (default)".to_string()
            } else {
                l.join(",")
            }
        };
        notes.push(format!(
            "--local differs: {} vs {}",
            show(&a.local),
            show(&b.local)
        ));
    }
    if a.idle_timeout_s != b.idle_timeout_s || a.time_wait_s != b.time_wait_s {
        notes.push("--idle-timeout or --time-wait differs".to_string());
    }
    if a.filter != b.filter {
        let none = || "none".to_string();
        notes.push(format!(
            "--filter differs: {} vs {}",
            a.filter.clone().unwrap_or_else(none),
            b.filter.clone().unwrap_or_else(none)
        ));
    }
    if base.group_by != new.group_by {
        let ip = || "ip".to_string();
        notes.push(format!(
            "--group-by differs: {} vs {}; peers do not match up",
            base.group_by.clone().unwrap_or_else(ip),
            new.group_by.clone().unwrap_or_else(ip)
        ));
    }
    let regression = figures.iter().any(|f| f.regressed) || peers.iter().any(|p| p.regressed);
    Diff {
        base: names.0,
        new: names.1,
        regression,
        figures,
        peers,
        notes,
    }
}

fn show(v: Option<f64>, unit: Unit) -> String {
    v.map_or_else(|| "-".to_string(), |v| unit.show(v, 3))
}

impl Diff {
    /// The text output: one line per moved figure and per changed peer, then
    /// the verdict.
    pub fn lines(&self, style: &TextStyle) -> Vec<String> {
        let mut out = Vec::new();
        for f in self.figures.iter().filter(|f| f.moved) {
            out.push(format!(
                "{} {}: {} -> {} (tolerance {})",
                if f.regressed {
                    style.paint(Paint::Bad, "WORSE ")
                } else {
                    "moved ".to_string()
                },
                f.figure,
                show(f.base, f.unit),
                show(f.new, f.unit),
                f.tolerance
            ));
        }
        for p in &self.peers {
            out.push(format!(
                "{} peer {} {}: problems/connection {} -> {}, FIN->ACK p99 {} -> {}",
                if p.regressed {
                    style.paint(Paint::Bad, "WORSE ")
                } else {
                    "peer  ".to_string()
                },
                crate::report::render::escape(&p.addr),
                p.change,
                p.base_problems_per_conn
                    .map_or("-".to_string(), |v| format!("{v:.3}")),
                p.new_problems_per_conn
                    .map_or("-".to_string(), |v| format!("{v:.3}")),
                show(p.base_fin_ack_p99_us.map(|v| v as f64), Unit::Us),
                show(p.new_fin_ack_p99_us.map(|v| v as f64), Unit::Us),
            ));
        }
        let nf = self.figures.iter().filter(|f| f.regressed).count();
        let np = self.peers.iter().filter(|p| p.regressed).count();
        out.push(if self.regression {
            format!("regression: {nf} figure(s) and {np} peer(s) worse beyond tolerance")
        } else {
            "no regression".to_string()
        });
        out
    }
}

// ---- the subcommand ----

/// Runs `diff`.
pub fn run(d: &DiffArgs, style: &TextStyle) -> Result<ExitCode, Error> {
    let tol = Tolerances::parse(&d.tolerance)?;
    let base = load(&d.base)?;
    let new = load(&d.new)?;
    let result = compare(
        &base,
        &new,
        &tol,
        (d.base.display().to_string(), d.new.display().to_string()),
    );
    for n in &result.notes {
        crate::say!("finscope: note: {}", crate::report::render::escape(n));
    }
    let stdout = super::stdout()?;
    let mut out = io::BufWriter::new(stdout.lock());
    if d.json {
        super::write_json(&mut out, &result)?;
    } else {
        for l in result.lines(style) {
            writeln!(out, "{l}")?;
        }
    }
    out.flush()?;
    Ok(if result.regression {
        ExitCode::from(EXIT_FAILED)
    } else {
        ExitCode::SUCCESS
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tolerances() {
        let t = Tolerances::parse(&["5%".into(), "fin_ratio=0.01".into()]).unwrap();
        assert_eq!(t.default, Tolerance::Relative(0.05));
        assert_eq!(t.of("fin_ratio"), Tolerance::Absolute(0.01));
        assert_eq!(t.of("rst_ratio"), Tolerance::Relative(0.05));
        assert!(Tolerances::parse(&["fin_ration=1%".into()]).is_err());
        assert!(Tolerances::parse(&["-3%".into()]).is_err());
        assert!(Tolerances::parse(&["lots".into()]).is_err());
        assert!(rose(0.10, 0.12, Tolerance::Relative(0.1)));
        assert!(!rose(0.10, 0.105, Tolerance::Relative(0.1)));
        assert!(rose(0.0, 0.001, Tolerance::Relative(0.1)));
        assert!(!rose(0.0, 0.001, Tolerance::Absolute(0.01)));
    }
}
