//! Who holds the FIN (issue 25): per remote peer (and per `--group-by`
//! group) the sums of the connections' evidence ([`crate::flow::conn::Evidence`]),
//! exact under merging, and the verdict they support.
//!
//! The verdict (docs/report.md, "Who holds the FIN") looks at the peer's
//! *slow* local FINs: ACKed (or reset) [`FIN_SLOW_US`] or more after the
//! first copy, never ACKed for that long, or queued behind the peer's zero
//! window. The first rule that holds, in this order:
//! 1. `unknown`: fewer than [`MIN_FINS`] local FINs to the peer;
//! 2. `none`: no slow FIN, or fewer than [`MIN_SLOW_PCT`] % of them slow
//!    while the data is not lossy (rule 5);
//! 3. `peer_zero_window`: at least half of the slow FINs were queued behind
//!    the peer's zero window;
//! 4. `middlebox_reply`: at least half of the slow FINs whose ACK (or RST)
//!    was seen got it with another TTL / hop limit than the peer's own
//!    segments;
//! 5. `path_loss`: [`PATH_LOSS_PER_MILLE`] per mille or more of the data
//!    segments (both directions) were retransmitted, at least [`MIN_RTX`];
//! 6. `peer_slow`: the peer's handshake leg or data round trip p50 is
//!    [`PEER_SLOW_US`] or more and the slow FINs' ACK p50 is within
//!    [`PEER_SLOW_FACTOR`] times it: FINs wait like everything else;
//! 7. `fin_dropped`: data flows normally ([`MIN_DATA_SEGS`] data segments
//!    at least, retransmissions under the path-loss share) and at least
//!    half of the slow FINs were retransmitted: FINs go unanswered until a
//!    later copy;
//! 8. else `unknown`.

use super::counts::Merge;
use super::hist::CompactHist;
use crate::flow::conn::Conn;
use crate::flow::key::Side;

/// A local FIN ACKed this long after its first copy (or later) is slow:
/// above any delayed ACK (40 ms on Linux, 200 ms max by RFC 1122) and
/// equal to Linux's minimum RTO (one lost copy).
pub const FIN_SLOW_US: u64 = 200_000;
/// Local FINs needed for any verdict but `unknown`.
pub const MIN_FINS: u64 = 1;
/// Slow FINs under this share (%) of the local FINs are `none` (unless the
/// data is lossy): a FIN now and then waits for a delayed ACK or a loss.
pub const MIN_SLOW_PCT: u64 = 10;
/// Data segments (both directions) needed to say data flows normally.
pub const MIN_DATA_SEGS: u64 = 10;
/// Data retransmissions (per mille of data segments) that mean path loss.
pub const PATH_LOSS_PER_MILLE: u64 = 10;
/// And at least this many of them.
pub const MIN_RTX: u64 = 2;
/// A handshake leg or data round trip p50 this long makes a peer slow.
pub const PEER_SLOW_US: u64 = 100_000;
/// ...when the slow FINs' ACK p50 is within this factor of it.
pub const PEER_SLOW_FACTOR: u64 = 4;

/// The verdicts, in JSON spelling.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum FinVerdict {
    FinDropped,
    PathLoss,
    PeerZeroWindow,
    MiddleboxReply,
    PeerSlow,
    None,
    Unknown,
}

impl FinVerdict {
    pub const ALL: [FinVerdict; 7] = [
        FinVerdict::FinDropped,
        FinVerdict::PathLoss,
        FinVerdict::PeerZeroWindow,
        FinVerdict::MiddleboxReply,
        FinVerdict::PeerSlow,
        FinVerdict::None,
        FinVerdict::Unknown,
    ];

    pub fn name(self) -> &'static str {
        match self {
            FinVerdict::FinDropped => "fin_dropped",
            FinVerdict::PathLoss => "path_loss",
            FinVerdict::PeerZeroWindow => "peer_zero_window",
            FinVerdict::MiddleboxReply => "middlebox_reply",
            FinVerdict::PeerSlow => "peer_slow",
            FinVerdict::None => "none",
            FinVerdict::Unknown => "unknown",
        }
    }

    pub fn from_name(s: &str) -> Option<FinVerdict> {
        FinVerdict::ALL.into_iter().find(|v| v.name() == s)
    }
}

/// A peer's evidence counts: one group shared by the metrics
/// ([`FinDelaySums`]) and the mergeable object (flattened there).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct FinDelayCounts {
    /// Connections with a local FIN.
    pub local_fins: u64,
    /// Of them slow ([`FIN_SLOW_US`], unACKed, or behind a zero window).
    pub slow_fins: u64,
    /// Slow FINs that were retransmitted.
    pub slow_fins_retransmitted: u64,
    /// Slow FINs whose ACK (or RST) TTL and the peer's TTL are known...
    pub slow_fin_ttl_known: u64,
    /// ...and differ.
    pub slow_fin_ttl_other: u64,
    /// Local FINs queued behind the peer's zero window.
    pub zw_fins: u64,
    /// Bytes those sockets held (unACKed + unsent at the stall).
    pub zw_held_bytes: u64,
    /// Time from the stall to the FIN, summed, us.
    pub zw_wait_us: u64,
    /// Connections in which the peer advertised a zero window.
    pub zw_conns: u64,
    /// Zero-window advertisements by the peer, probes by the local side.
    pub peer_zero_windows: u64,
    pub local_probes: u64,
    /// Data segments and retransmissions: local -> peer, peer -> local.
    pub local_data: u64,
    pub local_data_rtx: u64,
    pub peer_data: u64,
    pub peer_data_rtx: u64,
    /// Duplicate ACKs: sent by the local side, sent by the peer.
    pub local_dup_acks: u64,
    pub peer_dup_acks: u64,
}

impl Merge for FinDelayCounts {
    fn merge(&mut self, o: &FinDelayCounts) {
        let FinDelayCounts {
            local_fins,
            slow_fins,
            slow_fins_retransmitted,
            slow_fin_ttl_known,
            slow_fin_ttl_other,
            zw_fins,
            zw_held_bytes,
            zw_wait_us,
            zw_conns,
            peer_zero_windows,
            local_probes,
            local_data,
            local_data_rtx,
            peer_data,
            peer_data_rtx,
            local_dup_acks,
            peer_dup_acks,
        } = o;
        self.local_fins.merge(local_fins);
        self.slow_fins.merge(slow_fins);
        self.slow_fins_retransmitted.merge(slow_fins_retransmitted);
        self.slow_fin_ttl_known.merge(slow_fin_ttl_known);
        self.slow_fin_ttl_other.merge(slow_fin_ttl_other);
        self.zw_fins.merge(zw_fins);
        self.zw_held_bytes.merge(zw_held_bytes);
        self.zw_wait_us.merge(zw_wait_us);
        self.zw_conns.merge(zw_conns);
        self.peer_zero_windows.merge(peer_zero_windows);
        self.local_probes.merge(local_probes);
        self.local_data.merge(local_data);
        self.local_data_rtx.merge(local_data_rtx);
        self.peer_data.merge(peer_data);
        self.peer_data_rtx.merge(peer_data_rtx);
        self.local_dup_acks.merge(local_dup_acks);
        self.peer_dup_acks.merge(peer_dup_acks);
    }
}

/// One peer's evidence sums. Every field adds under merging.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FinDelaySums {
    /// The counts (local FINs, slow FINs, zero windows, data, ...).
    pub counts: FinDelayCounts,
    /// The first such ACK TTL and the peer's TTL then (for the evidence).
    pub ttl_example: Option<(u8, u8)>,
    /// Per connection: mean round trip of local data to the peer's ACK, us.
    pub data_rtt: CompactHist,
    /// Per connection: the handshake leg through the peer (SYN -> SYN-ACK
    /// when the local side connects, SYN-ACK -> ACK when it accepts), us.
    pub handshake: CompactHist,
    /// Slow FINs' FIN -> ACK latency, us (ACKed ones).
    pub slow_fin_ack: CompactHist,
}

impl std::ops::AddAssign<&FinDelaySums> for FinDelaySums {
    fn add_assign(&mut self, o: &FinDelaySums) {
        let FinDelaySums {
            counts,
            ttl_example,
            data_rtt,
            handshake,
            slow_fin_ack,
        } = o;
        self.counts.merge(counts);
        if self.ttl_example.is_none() {
            self.ttl_example = *ttl_example;
        }
        self.data_rtt += data_rtt;
        self.handshake += handshake;
        self.slow_fin_ack += slow_fin_ack;
    }
}

impl FinDelaySums {
    /// Folds one connection in (`local`: the capturing host's side);
    /// `fin_wait_us`: its local FIN's wait ([`Conn::fin_wait_us`]).
    pub fn add_conn(&mut self, c: &Conn, local: Side, fin_wait_us: Option<u64>) {
        let remote = local.other();
        let (l, r) = (c.ev.of(local), c.ev.of(remote));
        self.counts.local_data += u64::from(l.data_segs);
        self.counts.local_data_rtx += u64::from(l.data_rtx);
        self.counts.peer_data += u64::from(r.data_segs);
        self.counts.peer_data_rtx += u64::from(r.data_rtx);
        self.counts.local_dup_acks += u64::from(l.dup_acks);
        self.counts.peer_dup_acks += u64::from(r.dup_acks);
        self.counts.peer_zero_windows += u64::from(r.zero_windows);
        self.counts.local_probes += u64::from(l.probes);
        self.counts.zw_conns += u64::from(r.zero_windows > 0);
        if l.rtt_samples > 0 {
            self.data_rtt
                .record(l.rtt_sum_us / u64::from(l.rtt_samples));
        }
        let (syn_leg, ack_leg) = c.ev.handshake_us();
        // The local side connected when it sent the SYN (it is the client).
        let local_client = c.client.is_some_and(|(s, _)| s == local);
        let leg = if local_client { syn_leg } else { ack_leg };
        if let Some(v) = leg {
            self.handshake.record(v);
        }
        let ep = &c.ep[local];
        let Some(fin_ts) = ep.fin_ts else {
            return;
        };
        self.counts.local_fins += 1;
        let behind_zw = l.zw_fin_since != 0;
        // Until its ACK, or the peer's RST that ended the wait.
        let rst_after = c
            .rst_ts
            .filter(|_| c.rst_by == Some(remote))
            .map(|t| t.saturating_sub(fin_ts) / 1000);
        let acked_after = ep
            .fin_acked_ts
            .map(|a| a.saturating_sub(fin_ts) / 1000)
            .or(rst_after);
        // Until its ACK, or a never-ACKed FIN's age.
        let slow = behind_zw
            || acked_after
                .or(fin_wait_us)
                .is_some_and(|us| us >= FIN_SLOW_US);
        if behind_zw {
            self.counts.zw_fins += 1;
            self.counts.zw_held_bytes += u64::from(l.zw_held_bytes);
            self.counts.zw_wait_us += fin_ts.saturating_sub(l.zw_fin_since) / 1000;
        }
        if !slow {
            return;
        }
        self.counts.slow_fins += 1;
        self.counts.slow_fins_retransmitted += u64::from(ep.fin_retransmissions() > 0);
        if let Some(us) = acked_after {
            self.slow_fin_ack.record(us);
        }
        if r.fin_ack_ttl != 0 && r.ttl_mode != 0 {
            self.counts.slow_fin_ttl_known += 1;
            if r.fin_ack_ttl != r.ttl_mode {
                self.counts.slow_fin_ttl_other += 1;
                if self.ttl_example.is_none() {
                    self.ttl_example = Some((r.fin_ack_ttl, r.ttl_mode));
                }
            }
        }
    }

    /// Data segments both ways, and their retransmissions.
    pub fn data(&self) -> (u64, u64) {
        (
            self.counts.local_data.saturating_add(self.counts.peer_data),
            self.counts
                .local_data_rtx
                .saturating_add(self.counts.peer_data_rtx),
        )
    }

    /// Data retransmissions reach the path-loss share ([`PATH_LOSS_PER_MILLE`]).
    pub fn lossy(&self) -> bool {
        let (data, rtx) = self.data();
        rtx >= MIN_RTX && rtx.saturating_mul(1000) >= data.saturating_mul(PATH_LOSS_PER_MILLE)
    }

    /// The verdict these sums support (the module's rules).
    pub fn verdict(&self) -> FinVerdict {
        if self.counts.local_fins < MIN_FINS {
            return FinVerdict::Unknown;
        }
        let lossy = self.lossy();
        let few = self.counts.slow_fins.saturating_mul(100)
            < self.counts.local_fins.saturating_mul(MIN_SLOW_PCT);
        if self.counts.slow_fins == 0 || (few && !lossy) {
            return FinVerdict::None;
        }
        if self.counts.zw_fins * 2 >= self.counts.slow_fins {
            return FinVerdict::PeerZeroWindow;
        }
        if self.counts.slow_fin_ttl_other > 0
            && self.counts.slow_fin_ttl_other * 2 >= self.counts.slow_fin_ttl_known
        {
            return FinVerdict::MiddleboxReply;
        }
        if lossy {
            return FinVerdict::PathLoss;
        }
        let typical = self
            .handshake
            .quantile(0.5)
            .into_iter()
            .chain(self.data_rtt.quantile(0.5))
            .max();
        if let (Some(t), Some(f)) = (typical, self.slow_fin_ack.quantile(0.5))
            && t >= PEER_SLOW_US
            && f <= t.saturating_mul(PEER_SLOW_FACTOR)
        {
            return FinVerdict::PeerSlow;
        }
        let (data, _) = self.data();
        if data >= MIN_DATA_SEGS && self.counts.slow_fins_retransmitted * 2 >= self.counts.slow_fins
        {
            return FinVerdict::FinDropped;
        }
        FinVerdict::Unknown
    }
}
