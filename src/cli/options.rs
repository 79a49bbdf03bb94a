//! What runs: the objects built from what the user typed (analysis and
//! report options, `check` bounds, also read from a TOML file).

use super::args::{
    AnalysisArgs, CheckArgs, DEFAULT_BUCKET_US, DEFAULT_FIN_TIMEOUT_S, DEFAULT_IDLE_TIMEOUT_S,
    DEFAULT_TIME_WAIT_S, DEFAULT_TOP,
};
use super::values::{
    Limit, ValueError, parse_count, parse_duration_us, parse_limit, parse_ratio, secs_to_ns,
};
use crate::flow::FlowConfig;
use crate::flow::table::DEFAULT_MAX_MEMORY;
use crate::metrics::timeline::TimelineConfig;
use crate::pipeline::Options;
use crate::report::ReportOptions;
use crate::report::remedies::WhatIf;
use crate::report::timeline::Limits;
use std::path::{Path, PathBuf};

/// The bounds of one run; `None`: not checked.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Bounds {
    pub max_fin_ratio: Option<f64>,
    pub max_fin_retrans: Option<Limit>,
    pub max_unacked_fins: Option<u64>,
    pub max_p99_fin_ack_us: Option<u64>,
    pub max_rst_ratio: Option<f64>,
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

/// Why a `--config` file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: {message}", path.display())]
    Toml { path: PathBuf, message: String },
    #[error("{}: larger than {MAX_CONFIG_BYTES} bytes: not a bounds file", path.display())]
    TooLarge { path: PathBuf },
    #[error("{}: [check] {key} = {text}: {source}", path.display())]
    Value {
        path: PathBuf,
        key: String,
        text: String,
        source: ValueError,
    },
}

/// Largest `--config` file read (a bounds file is a few lines; this keeps
/// `--config /dev/zero` from eating memory).
pub const MAX_CONFIG_BYTES: u64 = 1024 * 1024;

impl Bounds {
    /// Reads the `[check]` table of a TOML file.
    pub fn from_file(path: &Path) -> Result<Bounds, ConfigError> {
        use std::io::Read;
        let io = |source| ConfigError::Io {
            path: path.to_path_buf(),
            source,
        };
        let mut text = String::new();
        std::fs::File::open(path)
            .map_err(io)?
            .take(MAX_CONFIG_BYTES + 1)
            .read_to_string(&mut text)
            .map_err(io)?;
        if text.len() as u64 > MAX_CONFIG_BYTES {
            return Err(ConfigError::TooLarge {
                path: path.to_path_buf(),
            });
        }
        let cfg: ConfigFile = toml::from_str(&text).map_err(|e| ConfigError::Toml {
            path: path.to_path_buf(),
            message: e.message().to_string(),
        })?;
        let raw = cfg.check.unwrap_or_default();
        let field = |name: &str, v: &Option<toml::Value>| -> Option<(String, String)> {
            v.as_ref().map(|v| (name.to_string(), toml_text(v)))
        };
        let ctx = |(key, text): (String, String), source: ValueError| ConfigError::Value {
            path: path.to_path_buf(),
            key,
            text,
            source,
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

impl super::args::AnalysisArgs {
    /// The analysis options given that differ from their defaults (they
    /// mean nothing to a saved report): their flag names.
    pub fn analysis_flags_given(&self) -> Vec<&'static str> {
        use crate::metrics::groups::GroupBy;
        use crate::metrics::peers::RankBy;
        let mut v = Vec::new();
        let mut given = |cond: bool, name: &'static str| {
            if cond {
                v.push(name);
            }
        };
        given(!self.local.is_empty(), "--local");
        given(self.top != DEFAULT_TOP, "--top");
        given(self.rank_by != RankBy::Problems, "--rank-by");
        given(self.group_by != GroupBy::Ip, "--group-by");
        given(self.filter.is_some(), "--filter");
        given(self.since.is_some(), "--since");
        given(self.until.is_some(), "--until");
        given(self.interval.is_some(), "--interval");
        given(self.threads != 0, "--threads");
        given(
            self.idle_timeout != DEFAULT_IDLE_TIMEOUT_S,
            "--idle-timeout",
        );
        given(self.time_wait != DEFAULT_TIME_WAIT_S, "--time-wait");
        given(self.max_memory != DEFAULT_MAX_MEMORY, "--max-memory");
        given(self.label.is_some(), "--label");
        given(self.bucket != DEFAULT_BUCKET_US, "--bucket");
        given(self.fin_timeout != DEFAULT_FIN_TIMEOUT_S, "--fin-timeout");
        given(self.max_orphans.is_some(), "--max-orphans");
        given(self.max_tw_buckets.is_some(), "--max-tw-buckets");
        given(self.orphan_retries.is_some(), "--orphan-retries");
        given(!self.what_if.is_empty(), "--what-if");
        v
    }
}

impl CheckArgs {
    /// The bounds given on the command line.
    pub fn bounds(&self) -> Bounds {
        Bounds {
            max_fin_ratio: self.max_fin_ratio,
            max_fin_retrans: self.max_fin_retrans,
            max_unacked_fins: self.max_unacked_fins,
            max_p99_fin_ack_us: self.max_p99_fin_ack,
            max_rst_ratio: self.max_rst_ratio,
        }
    }
}

impl AnalysisArgs {
    /// The what-ifs asked: `--what-if` in order, then the old spellings.
    pub fn what_ifs(&self) -> Vec<WhatIf> {
        let mut v = self.what_if.clone();
        v.extend(self.max_orphans.map(WhatIf::MaxOrphans));
        v.extend(self.orphan_retries.map(WhatIf::OrphanRetries));
        v.extend(self.max_tw_buckets.map(WhatIf::MaxTwBuckets));
        v
    }

    /// The first what-if of tcp_orphan_retries: the timeline draws it.
    fn timeline_retries(&self) -> Option<u32> {
        self.what_ifs().iter().find_map(|w| match w {
            WhatIf::OrphanRetries(n) => Some(*n),
            _ => None,
        })
    }

    pub fn options(&self) -> Options {
        Options {
            threads: usize::from(self.threads),
            flow: FlowConfig {
                local: self.local.clone(),
                idle_timeout_ns: secs_to_ns(self.idle_timeout),
                time_wait_ns: secs_to_ns(self.time_wait),
                fin_timeout_ns: secs_to_ns(self.fin_timeout),
                max_memory: self.max_memory,
            },
            timeline: TimelineConfig {
                bucket_ns: self.bucket.saturating_mul(1_000).max(1_000),
                time_wait_ns: secs_to_ns(self.time_wait),
                fin_timeout_ns: secs_to_ns(self.fin_timeout),
                orphan_retries: self.timeline_retries(),
            },
            progress: !self.quiet,
            filter: self.filter.clone(),
            since: self.since,
            until: self.until,
            interval_ns: self.interval.map(|us| us.saturating_mul(1_000)),
            ..Options::default()
        }
    }

    pub fn report_options(&self) -> ReportOptions {
        let what_if = self.what_ifs();
        // The first of each kind is what the timeline marks.
        let first = |pick: fn(&WhatIf) -> Option<u64>| what_if.iter().find_map(pick);
        ReportOptions {
            top: self.top,
            rank_by: self.rank_by,
            local: self.local.iter().map(|c| c.to_string()).collect(),
            idle_timeout_s: self.idle_timeout,
            time_wait_s: self.time_wait,
            limits: Limits {
                max_orphans: first(|w| match w {
                    WhatIf::MaxOrphans(n) => Some(*n),
                    _ => None,
                }),
                max_tw_buckets: first(|w| match w {
                    WhatIf::MaxTwBuckets(n) => Some(*n),
                    _ => None,
                }),
                orphan_retries: self.timeline_retries(),
            },
            inputs: Vec::new(),
            max_buckets: crate::report::timeline::REPORT_MAX_BUCKETS,
            what_if,
            filter: self.filter.as_ref().map(|f| f.to_string()),
            label: self.label.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        assert!(matches!(e, ConfigError::Toml { .. }), "{e}");
        assert!(e.to_string().contains("max-fin-ration"), "{e}");
        std::fs::write(&p, "[check]\nmax-p99-fin-ack = \"soon\"\n").unwrap();
        let e = Bounds::from_file(&p).unwrap_err();
        assert!(
            matches!(&e, ConfigError::Value { key, .. } if key == "max-p99-fin-ack"),
            "{e}"
        );
        assert!(e.to_string().contains("max-p99-fin-ack = soon"), "{e}");
    }
}
