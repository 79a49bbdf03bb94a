//! The `value_enum` arguments whose types belong to a stage: `--rank-by`
//! (metrics' [`RankBy`]) and `--flows-format` (the flows renderer's
//! [`FlowsFormat`]). clap's [`ValueEnum`] is implemented here, in the layer
//! that parses arguments, so that no stage depends on clap
//! (tests/layers.rs); the names and help are the ones `--help`, the man
//! page and the completions always showed.

use crate::metrics::peers::RankBy;
use crate::report::render::flows::FlowsFormat;
use clap::ValueEnum;
use clap::builder::PossibleValue;

impl ValueEnum for RankBy {
    fn value_variants<'a>() -> &'a [Self] {
        &[
            RankBy::Problems,
            RankBy::P99FinAck,
            RankBy::Retransmissions,
            RankBy::Unacked,
            RankBy::Closes,
        ]
    }

    fn to_possible_value(&self) -> Option<PossibleValue> {
        let help = match self {
            RankBy::Problems => "FIN retransmissions + unACKed FINs (default)",
            RankBy::P99FinAck => "p99 of local FIN -> remote ACK latency",
            RankBy::Retransmissions => "FIN retransmissions",
            RankBy::Unacked => "UnACKed FINs",
            RankBy::Closes => "Connections closed",
        };
        Some(PossibleValue::new(self.name()).help(help))
    }
}

impl ValueEnum for FlowsFormat {
    fn value_variants<'a>() -> &'a [Self] {
        &[FlowsFormat::Jsonl, FlowsFormat::Csv]
    }

    fn to_possible_value(&self) -> Option<PossibleValue> {
        Some(match self {
            FlowsFormat::Jsonl => PossibleValue::new("jsonl").help("One JSON object per line"),
            FlowsFormat::Csv => {
                PossibleValue::new("csv").help("Comma-separated values with a header line")
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every variant is offered, under its name: the `match` does not
    /// compile when a variant is added, and the list must then hold it.
    #[test]
    fn every_variant_is_offered_by_name() {
        let rank = |r: RankBy| match r {
            RankBy::Problems => "problems",
            RankBy::P99FinAck => "p99-fin-ack",
            RankBy::Retransmissions => "retransmissions",
            RankBy::Unacked => "unacked",
            RankBy::Closes => "closes",
        };
        for r in RankBy::value_variants() {
            assert_eq!(RankBy::from_str(rank(*r), false), Ok(*r));
        }
        assert_eq!(RankBy::value_variants().len(), 5);
        let flows = |f: FlowsFormat| match f {
            FlowsFormat::Jsonl => "jsonl",
            FlowsFormat::Csv => "csv",
        };
        for f in FlowsFormat::value_variants() {
            assert_eq!(FlowsFormat::from_str(flows(*f), false), Ok(*f));
        }
        assert_eq!(FlowsFormat::value_variants().len(), 2);
        assert!(RankBy::from_str("p99", false).is_err());
    }
}
