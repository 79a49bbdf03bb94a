//! Who holds the FIN (issue 25): a peer's verdict in the report
//! (`peers[].fin_delay`) and its evidence sums in the `mergeable` object
//! (`peers[].fin_delay` there), so `finscope merge` reaches the same
//! verdicts. docs/report.md ("Who holds the FIN") defines each verdict.

use super::mergeable::CompactParts;
use serde::{Deserialize, Serialize};

/// A peer's (or group's) verdict on its slow FINs.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct FinDelay {
    /// `fin_dropped`, `path_loss`, `peer_zero_window`, `middlebox_reply`,
    /// `peer_slow`, `none` or `unknown`.
    pub verdict: String,
    /// The figures behind it, in words.
    pub evidence: Vec<String>,
    /// Connections it rests on: the slow local FINs for a problem verdict,
    /// the local FINs for `none` and `unknown`.
    pub connections: u64,
}

/// [`crate::metrics::fin_delay::FinDelaySums`], exactly.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct FinDelayParts {
    #[serde(flatten)]
    pub counts: crate::metrics::fin_delay::FinDelayCounts,
    /// The first slow FIN's ACK TTL that differed, and the peer's TTL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl_example: Option<[u8; 2]>,
    pub data_rtt: CompactParts,
    pub handshake: CompactParts,
    pub slow_fin_ack: CompactParts,
}
