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

use super::plan::AnalysisPlan;
use super::{EXIT_FAILED, Error, build_report, input_exit, run_analysis};
use crate::cli::{Bounds, CheckArgs, Limit};
use crate::report::format::{Unit, ratio};
use crate::report::load::load;
use crate::report::render::{Paint, TextStyle};
use crate::report::timeline::REPORT_MAX_BUCKETS;
use crate::report::{Peer, Report};
use serde::Serialize;
use std::io::{self, Read, Write};
use std::path::Path;
use std::process::ExitCode;

/// Version of the `check --json` verdict document.
pub const VERDICT_VERSION: u32 = 1;

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
    pub unit: Unit,
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
            Unit::Ratio,
            &|p| p.counts.closes as f64,
        );
    }
    if let Some(limit) = b.max_fin_retrans {
        let total = r.fin_retransmissions.total;
        let key = |p: &Peer| p.counts.fin_retransmissions as f64;
        match limit {
            Limit::Count(n) => push(
                "max-fin-retrans",
                "fin_retransmissions.total",
                total as f64,
                n as f64,
                Unit::Count,
                &key,
            ),
            Limit::Rate(x) => push(
                "max-fin-retrans",
                "fin_retransmissions.total / packets.fin",
                ratio(total, r.packets.fin),
                x,
                Unit::Ratio,
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
            Unit::Count,
            &|p| p.counts.unacked_fins as f64,
        );
    }
    if let Some(us) = b.max_p99_fin_ack_us {
        let p99 = r.latency.fin_ack.all.p99_us.unwrap_or(0);
        push(
            "max-p99-fin-ack",
            "latency.fin_ack.all.p99_us",
            p99 as f64,
            us as f64,
            Unit::Us,
            &|p| p.fin_ack_p99_us.unwrap_or(0) as f64,
        );
    }
    if let Some(limit) = b.max_rst_ratio {
        push(
            "max-rst-ratio",
            "packets.rst / packets.tcp",
            ratio(r.packets.rst, r.packets.tcp),
            limit,
            Unit::Ratio,
            &|p| p.counts.rsts as f64,
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

fn show(v: f64, unit: Unit) -> String {
    unit.show(v, 2)
}

impl Outcome {
    /// One line: `FAIL max-fin-ratio: fin_ratio.of_tcp 31.00% > 20.00%; worst peers: ...`.
    pub fn line(&self, style: &TextStyle) -> String {
        let mut s = format!(
            "{} {}: {} {} {} {}",
            if self.ok {
                "ok".to_string()
            } else {
                style.paint(Paint::Bad, "FAIL")
            },
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
                        // A peer's share of a ratio is shown as its count.
                        let unit = if self.unit == Unit::Ratio {
                            Unit::Count
                        } else {
                            self.unit
                        };
                        format!(
                            "{} ({})",
                            crate::report::render::escape(&c.addr),
                            show(c.value, unit)
                        )
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
pub fn run(c: &CheckArgs, style: &TextStyle) -> Result<ExitCode, Error> {
    let mut bounds = c.bounds();
    if let Some(path) = &c.config {
        bounds = Bounds::from_file(path)?.overridden_by(&bounds);
    }
    if bounds.is_empty() {
        return Err(Error::Usage(
            "check: no bound given (--max-fin-ratio, --max-fin-retrans, --max-unacked-fins, --max-p99-fin-ack, --max-rst-ratio, or --config FILE)",
        ));
    }
    let files = &c.analysis.files;
    let inputs: Vec<String> = files.iter().map(|p| p.display().to_string()).collect();
    let (doc, corrupt) = if files.iter().any(|p| is_json_report(p)) {
        if files.len() != 1 {
            return Err(Error::Usage(
                "check: give either one JSON report or capture files, not both",
            ));
        }
        let flags = c.analysis.analysis_flags_given();
        if !flags.is_empty() {
            return Err(Error::FlagsForReport {
                flags: flags.join(", "),
            });
        }
        (load(&files[0])?, None)
    } else {
        // Every peer, so that the worst ones behind a bound can be named.
        let plan = AnalysisPlan::new(&c.analysis, usize::MAX, REPORT_MAX_BUCKETS)?;
        let run = run_analysis(&plan, None, c.json)?;
        let doc = build_report(&plan, &run);
        (doc, input_exit(&run.analysis))
    };
    if let Some(sel) = doc.capture.selection.as_ref().filter(|s| s.empty) {
        return Err(Error::EmptySelection {
            what: sel.sentence(doc.settings.filter.as_deref()),
        });
    }
    if doc.capture.no_tcp {
        return Err(Error::NothingToCheck);
    }
    let verdict = evaluate(&doc, &bounds, inputs);
    let stdout = super::stdout()?;
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
            writeln!(out, "{}", o.line(style))?;
        }
    }
    out.flush()?;
    if corrupt == Some(super::EXIT_INTERRUPTED) {
        // Bounds judged on part of the input decide nothing.
        return Ok(ExitCode::from(super::EXIT_INTERRUPTED));
    }
    if !verdict.ok {
        crate::say!(
            "finscope: check: {} of {} bound(s) violated",
            verdict.violated,
            verdict.checks.len()
        );
        return Ok(ExitCode::from(EXIT_FAILED));
    }
    Ok(corrupt.map_or(ExitCode::SUCCESS, ExitCode::from))
}
