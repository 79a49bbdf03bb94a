//! Command line: what the user typed ([`Cli`]) and the objects built from it.
//!
//! Exit codes (docs/report.md, docs/ci.md): 0 success (a truncated tail is a
//! warning); 1 `check`: a bound is violated, `diff`: a regression; 2 bad
//! usage, unreadable input or not a capture; 3 the capture is corrupt
//! part-way (the report of what was read before the damage is still printed).

pub mod args;
mod choices;
pub mod options;
pub mod values;

pub use args::*;
pub use options::Bounds;
pub use values::Limit;

#[cfg(test)]
mod tests {
    use super::*;
    use clap::{CommandFactory, Parser};

    #[test]
    fn verify_cli() {
        Cli::command().debug_assert();
    }

    /// What clap applies when nothing is typed is each stage's own
    /// `Default`: the defaults are written once.
    #[test]
    fn defaults_are_the_stages_defaults() {
        let c = Cli::try_parse_from(["finscope", "analyze", "x"]).unwrap();
        let Command::Analyze(a) = c.command else {
            panic!("not analyze");
        };
        let a = a.analysis;
        assert_eq!(a.bucket, DEFAULT_BUCKET_US);
        assert_eq!(a.top, DEFAULT_TOP);
        assert!(a.analysis_flags_given().is_empty());
        let o = a.options();
        let flow = crate::flow::FlowConfig::default();
        assert_eq!(o.flow.idle_timeout_ns, flow.idle_timeout_ns);
        assert_eq!(o.flow.time_wait_ns, flow.time_wait_ns);
        assert_eq!(o.flow.fin_timeout_ns, flow.fin_timeout_ns);
        assert_eq!(o.flow.max_memory, flow.max_memory);
        let tl = crate::metrics::timeline::TimelineConfig::default();
        assert_eq!(o.timeline.bucket_ns, tl.bucket_ns);
        assert_eq!(o.timeline.time_wait_ns, tl.time_wait_ns);
        assert_eq!(o.timeline.fin_timeout_ns, tl.fin_timeout_ns);
        assert_eq!(o.flow.time_wait_ns, 60_000_000_000);
    }

    #[test]
    fn parses_local_list() {
        let c =
            Cli::try_parse_from(["finscope", "analyze", "--local", "10.0.0.0/8,::1", "x"]).unwrap();
        let Command::Analyze(a) = c.command else {
            panic!("not analyze");
        };
        assert_eq!(a.analysis.local.len(), 2);
        assert!(Cli::try_parse_from(["finscope", "analyze", "--local", "bogus", "x"]).is_err());
        assert!(Cli::try_parse_from(["finscope", "timeline", "--bucket", "0", "x"]).is_err());
        assert!(Cli::try_parse_from(["finscope", "analyze", "--idle-timeout", "0", "x"]).is_err());
        assert!(Cli::try_parse_from(["finscope", "analyze", "--time-wait", "-1", "x"]).is_err());
        assert!(Cli::try_parse_from(["finscope", "analyze", "--time-wait", "0", "x"]).is_ok());
        assert!(Cli::try_parse_from(["finscope", "timeline", "--bucket", "250ms", "x"]).is_ok());
    }
}
