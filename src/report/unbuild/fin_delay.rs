//! The way back from a peer's FIN evidence parts to its sums.

use super::MergeableError;
use crate::metrics::fin_delay::FinDelaySums;
use crate::report::schema::fin_delay::FinDelayParts;

impl FinDelayParts {
    /// The sums these parts hold (`field`: the peer's path, for errors).
    pub fn sums(&self, field: &str) -> Result<FinDelaySums, MergeableError> {
        let f = |n: &str| format!("{field}.fin_delay.{n}");
        Ok(FinDelaySums {
            local_fins: self.local_fins,
            slow_fins: self.slow_fins,
            slow_fins_retransmitted: self.slow_fins_retransmitted,
            slow_fin_ttl_known: self.slow_fin_ttl_known,
            slow_fin_ttl_other: self.slow_fin_ttl_other,
            ttl_example: self.ttl_example.map(|[a, b]| (a, b)),
            zw_fins: self.zw_fins,
            zw_held_bytes: self.zw_held_bytes,
            zw_wait_us: self.zw_wait_us,
            zw_conns: self.zw_conns,
            peer_zero_windows: self.peer_zero_windows,
            local_probes: self.local_probes,
            local_data: self.local_data,
            local_data_rtx: self.local_data_rtx,
            peer_data: self.peer_data,
            peer_data_rtx: self.peer_data_rtx,
            local_dup_acks: self.local_dup_acks,
            peer_dup_acks: self.peer_dup_acks,
            data_rtt: self.data_rtt.hist(&f("data_rtt"))?,
            handshake: self.handshake.hist(&f("handshake"))?,
            slow_fin_ack: self.slow_fin_ack.hist(&f("slow_fin_ack"))?,
        })
    }
}
