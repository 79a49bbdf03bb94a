//! The way back from a peer's FIN evidence parts to its sums.

use super::MergeableError;
use crate::metrics::fin_delay::FinDelaySums;
use crate::report::schema::fin_delay::FinDelayParts;

impl FinDelayParts {
    /// The sums these parts hold (`field`: the peer's path, for errors).
    pub fn sums(&self, field: &str) -> Result<FinDelaySums, MergeableError> {
        let f = |n: &str| format!("{field}.fin_delay.{n}");
        Ok(FinDelaySums {
            counts: self.counts,
            ttl_example: self.ttl_example.map(|[a, b]| (a, b)),
            data_rtt: self.data_rtt.hist(&f("data_rtt"))?,
            handshake: self.handshake.hist(&f("handshake"))?,
            slow_fin_ack: self.slow_fin_ack.hist(&f("slow_fin_ack"))?,
        })
    }
}
