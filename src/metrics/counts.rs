//! The counter groups, each defined once: the metrics fill them, the
//! report embeds them as they are (these serde derives *are* the report's
//! JSON for them; docs/report.md documents every field), the merge reads
//! them back whole. Merging ([`Merge`]) destructures every group without
//! `..`, so a new field does not compile until it is merged.
//!
//! The tables indexed by an enum ([`ByOutcome`], [`ByCloser`], [`BySplit`],
//! [`ByMetric`]) are structs with one field per variant, in the JSON's
//! order, indexed by the enum: no raw index, no field list written twice.

use super::{Hist, add};
use crate::decode::Skip;
use crate::flow::conn::Outcome;
use serde::{Deserialize, Serialize};

/// A figure that merges exactly: counts add (saturating, `add`),
/// histograms add, groups merge field by field.
pub trait Merge {
    fn merge(&mut self, o: &Self);
}

impl Merge for u64 {
    fn merge(&mut self, o: &u64) {
        add(self, *o);
    }
}

impl Merge for Hist {
    fn merge(&mut self, o: &Hist) {
        *self += o;
    }
}

/// Connection counts.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Connections {
    pub total: u64,
    pub handshake_seen: u64,
    /// Sides decided by port because no SYN or SYN-ACK was seen.
    pub sides_by_port: u64,
    /// Sides decided by a SYN-ACK only.
    pub sides_by_synack: u64,
    /// FINs that moved past an earlier FIN of the same side (anomaly).
    pub fin_moved: u64,
    /// Connections of which only one direction was captured. This and the
    /// three below are absent in reports written before they existed.
    #[serde(default)]
    pub one_sided: u64,
    /// Connections of which both directions were captured.
    #[serde(default)]
    pub two_sided: u64,
    /// Events the close model found impossible in the state they came in.
    #[serde(default)]
    pub anomalies: u64,
    /// Silent-kill inferences a later segment of the same socket disproved.
    #[serde(default)]
    pub kills_retracted: u64,
    /// Connections whose local side answered data that came after its FIN
    /// with a bare RST (Linux TCPAbortOnData). Absent in older reports.
    #[serde(default)]
    pub aborted_on_data: u64,
}

impl Merge for Connections {
    fn merge(&mut self, o: &Connections) {
        let Connections {
            total,
            handshake_seen,
            sides_by_port,
            sides_by_synack,
            fin_moved,
            one_sided,
            two_sided,
            anomalies,
            kills_retracted,
            aborted_on_data,
        } = o;
        self.total.merge(total);
        self.handshake_seen.merge(handshake_seen);
        self.sides_by_port.merge(sides_by_port);
        self.sides_by_synack.merge(sides_by_synack);
        self.fin_moved.merge(fin_moved);
        self.one_sided.merge(one_sided);
        self.two_sided.merge(two_sided);
        self.anomalies.merge(anomalies);
        self.kills_retracted.merge(kills_retracted);
        self.aborted_on_data.merge(aborted_on_data);
    }
}

/// FINs never ACKed, per direction (docs/report.md: one definition).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnackedFins {
    /// Local FINs the remote peer never ACKed.
    pub local_to_remote: u64,
    /// Remote FINs the local side never ACKed.
    pub remote_to_local: u64,
}

impl Merge for UnackedFins {
    fn merge(&mut self, o: &UnackedFins) {
        let UnackedFins {
            local_to_remote,
            remote_to_local,
        } = o;
        self.local_to_remote.merge(local_to_remote);
        self.remote_to_local.merge(remote_to_local);
    }
}

/// A peer's (or a group's) counts: the same five numbers in the metrics
/// (`PeerStats`), the report's peer rows (`peers[]`) and the mergeable
/// object (`mergeable.peers[]`), flattened into each.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeerCounts {
    pub connections: u64,
    /// Connections in which some FIN was sent.
    pub closes: u64,
    /// FIN retransmissions in both directions.
    pub fin_retransmissions: u64,
    /// FINs (either direction) never ACKed.
    pub unacked_fins: u64,
    /// RST segments in both directions.
    pub rsts: u64,
}

impl Merge for PeerCounts {
    fn merge(&mut self, o: &PeerCounts) {
        let PeerCounts {
            connections,
            closes,
            fin_retransmissions,
            unacked_fins,
            rsts,
        } = o;
        self.connections.merge(connections);
        self.closes.merge(closes);
        self.fin_retransmissions.merge(fin_retransmissions);
        self.unacked_fins.merge(unacked_fins);
        self.rsts.merge(rsts);
    }
}

/// FIN retransmission counts.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FinRetransmissions {
    pub total: u64,
    pub spurious: u64,
    /// Of `total`, copies less than 1 ms after the previous copy of the same
    /// FIN: faster than any retransmission timer, most likely duplicates in
    /// the capture. Absent in reports written before it existed.
    #[serde(default)]
    pub within_1ms: u64,
    pub local_to_remote: u64,
    pub remote_to_local: u64,
}

impl Merge for FinRetransmissions {
    fn merge(&mut self, o: &FinRetransmissions) {
        let FinRetransmissions {
            total,
            spurious,
            within_1ms,
            local_to_remote,
            remote_to_local,
        } = o;
        self.total.merge(total);
        self.spurious.merge(spurious);
        self.within_1ms.merge(within_1ms);
        self.local_to_remote.merge(local_to_remote);
        self.remote_to_local.merge(remote_to_local);
    }
}

/// One figure per [`Outcome`], in the JSON's order; indexed by the outcome.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ByOutcome<T> {
    pub complete: T,
    pub simultaneous: T,
    pub reset: T,
    pub reset_after_fin: T,
    pub half_closed: T,
    pub fin_unacked: T,
    pub open: T,
    /// A local orphan the kernel dropped without its FIN being ACKed
    /// (inferred). The four below are absent in version-1 reports written
    /// before they existed.
    #[serde(default)]
    pub killed: T,
    /// The handshake never completed: a SYN without reply, or a SYN-ACK
    /// never acknowledged.
    #[serde(default)]
    pub unanswered: T,
    /// The SYN was answered by a RST.
    #[serde(default)]
    pub rejected: T,
    /// Only one direction was captured: the close cannot be judged.
    #[serde(default)]
    pub one_sided: T,
}

impl<T> std::ops::Index<Outcome> for ByOutcome<T> {
    type Output = T;
    fn index(&self, o: Outcome) -> &T {
        match o {
            Outcome::Complete => &self.complete,
            Outcome::Simultaneous => &self.simultaneous,
            Outcome::Reset => &self.reset,
            Outcome::ResetAfterFin => &self.reset_after_fin,
            Outcome::HalfClosed => &self.half_closed,
            Outcome::FinUnacked => &self.fin_unacked,
            Outcome::Open => &self.open,
            Outcome::Killed => &self.killed,
            Outcome::Unanswered => &self.unanswered,
            Outcome::Rejected => &self.rejected,
            Outcome::OneSided => &self.one_sided,
        }
    }
}

impl<T> std::ops::IndexMut<Outcome> for ByOutcome<T> {
    fn index_mut(&mut self, o: Outcome) -> &mut T {
        match o {
            Outcome::Complete => &mut self.complete,
            Outcome::Simultaneous => &mut self.simultaneous,
            Outcome::Reset => &mut self.reset,
            Outcome::ResetAfterFin => &mut self.reset_after_fin,
            Outcome::HalfClosed => &mut self.half_closed,
            Outcome::FinUnacked => &mut self.fin_unacked,
            Outcome::Open => &mut self.open,
            Outcome::Killed => &mut self.killed,
            Outcome::Unanswered => &mut self.unanswered,
            Outcome::Rejected => &mut self.rejected,
            Outcome::OneSided => &mut self.one_sided,
        }
    }
}

impl<T: Copy> ByOutcome<T> {
    /// (name, figure) in the documented order (the text and HTML tables').
    pub fn rows(&self) -> [(&'static str, T); 11] {
        [
            ("complete", self.complete),
            ("simultaneous", self.simultaneous),
            ("reset", self.reset),
            ("reset_after_fin", self.reset_after_fin),
            ("half_closed", self.half_closed),
            ("fin_unacked", self.fin_unacked),
            ("killed", self.killed),
            ("open", self.open),
            ("unanswered", self.unanswered),
            ("rejected", self.rejected),
            ("one_sided", self.one_sided),
        ]
    }
}

impl<T> ByOutcome<T> {
    /// Every figure with its outcome, in [`Outcome::ALL`]'s order.
    pub fn iter(&self) -> impl Iterator<Item = (Outcome, &T)> {
        Outcome::ALL.into_iter().map(move |o| (o, &self[o]))
    }
}

impl<T: Merge> Merge for ByOutcome<T> {
    fn merge(&mut self, o: &ByOutcome<T>) {
        let ByOutcome {
            complete,
            simultaneous,
            reset,
            reset_after_fin,
            half_closed,
            fin_unacked,
            open,
            killed,
            unanswered,
            rejected,
            one_sided,
        } = o;
        self.complete.merge(complete);
        self.simultaneous.merge(simultaneous);
        self.reset.merge(reset);
        self.reset_after_fin.merge(reset_after_fin);
        self.half_closed.merge(half_closed);
        self.fin_unacked.merge(fin_unacked);
        self.open.merge(open);
        self.killed.merge(killed);
        self.unanswered.merge(unanswered);
        self.rejected.merge(rejected);
        self.one_sided.merge(one_sided);
    }
}

/// Who sent the first FIN of a connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Closer {
    Local,
    Remote,
}

/// One figure per [`Closer`]: connections the local side closed first, and
/// the remote side.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ByCloser<T> {
    pub local_first: T,
    pub remote_first: T,
}

impl<T> std::ops::Index<Closer> for ByCloser<T> {
    type Output = T;
    fn index(&self, c: Closer) -> &T {
        match c {
            Closer::Local => &self.local_first,
            Closer::Remote => &self.remote_first,
        }
    }
}

impl<T> std::ops::IndexMut<Closer> for ByCloser<T> {
    fn index_mut(&mut self, c: Closer) -> &mut T {
        match c {
            Closer::Local => &mut self.local_first,
            Closer::Remote => &mut self.remote_first,
        }
    }
}

impl<T: Merge> Merge for ByCloser<T> {
    fn merge(&mut self, o: &ByCloser<T>) {
        let ByCloser {
            local_first,
            remote_first,
        } = o;
        self.local_first.merge(local_first);
        self.remote_first.merge(remote_first);
    }
}

/// A latency split: every connection, or by who closed first.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Split {
    All,
    LocalFirst,
    RemoteFirst,
}

impl Split {
    /// In the JSON's order.
    pub const ALL: [Split; 3] = [Split::All, Split::LocalFirst, Split::RemoteFirst];

    /// Its JSON name.
    pub fn name(self) -> &'static str {
        match self {
            Split::All => "all",
            Split::LocalFirst => "local_first",
            Split::RemoteFirst => "remote_first",
        }
    }
}

impl From<Closer> for Split {
    fn from(c: Closer) -> Split {
        match c {
            Closer::Local => Split::LocalFirst,
            Closer::Remote => Split::RemoteFirst,
        }
    }
}

/// One figure per [`Split`], in the JSON's order.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct BySplit<T> {
    pub all: T,
    pub local_first: T,
    pub remote_first: T,
}

impl<T> std::ops::Index<Split> for BySplit<T> {
    type Output = T;
    fn index(&self, s: Split) -> &T {
        match s {
            Split::All => &self.all,
            Split::LocalFirst => &self.local_first,
            Split::RemoteFirst => &self.remote_first,
        }
    }
}

impl<T> std::ops::IndexMut<Split> for BySplit<T> {
    fn index_mut(&mut self, s: Split) -> &mut T {
        match s {
            Split::All => &mut self.all,
            Split::LocalFirst => &mut self.local_first,
            Split::RemoteFirst => &mut self.remote_first,
        }
    }
}

impl<T> BySplit<T> {
    /// (name, figure) in the JSON's order.
    pub fn splits(&self) -> [(&'static str, &T); 3] {
        Split::ALL.map(|s| (s.name(), &self[s]))
    }

    /// A split by its JSON name.
    pub fn get(&self, split: &str) -> Option<&T> {
        Split::ALL
            .into_iter()
            .find(|s| s.name() == split)
            .map(|s| &self[s])
    }

    /// Each figure turned by `f`, with its split.
    pub fn map<U>(&self, mut f: impl FnMut(Split, &T) -> U) -> BySplit<U> {
        BySplit {
            all: f(Split::All, &self.all),
            local_first: f(Split::LocalFirst, &self.local_first),
            remote_first: f(Split::RemoteFirst, &self.remote_first),
        }
    }
}

impl<T: Merge> Merge for BySplit<T> {
    fn merge(&mut self, o: &BySplit<T>) {
        let BySplit {
            all,
            local_first,
            remote_first,
        } = o;
        self.all.merge(all);
        self.local_first.merge(local_first);
        self.remote_first.merge(remote_first);
    }
}

/// A close latency metric (docs/report.md, "Latencies").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Metric {
    /// First FIN -> ACK of the last FIN (or the RST that ended it).
    CloseTotal,
    /// First FIN -> the ACK that covers it.
    FinAck,
    /// First FIN -> the other side's FIN.
    FinFin,
}

impl Metric {
    /// In the JSON's order.
    pub const ALL: [Metric; 3] = [Metric::CloseTotal, Metric::FinAck, Metric::FinFin];

    /// Its JSON name.
    pub fn name(self) -> &'static str {
        match self {
            Metric::CloseTotal => "close_total",
            Metric::FinAck => "fin_ack",
            Metric::FinFin => "fin_fin",
        }
    }
}

/// One figure per [`Metric`], in the JSON's order.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ByMetric<T> {
    /// First FIN -> ACK of the last FIN (or the RST that ended it).
    pub close_total: T,
    /// First FIN -> the ACK that covers it.
    pub fin_ack: T,
    /// First FIN -> the other side's FIN.
    pub fin_fin: T,
}

impl<T> std::ops::Index<Metric> for ByMetric<T> {
    type Output = T;
    fn index(&self, m: Metric) -> &T {
        match m {
            Metric::CloseTotal => &self.close_total,
            Metric::FinAck => &self.fin_ack,
            Metric::FinFin => &self.fin_fin,
        }
    }
}

impl<T> std::ops::IndexMut<Metric> for ByMetric<T> {
    fn index_mut(&mut self, m: Metric) -> &mut T {
        match m {
            Metric::CloseTotal => &mut self.close_total,
            Metric::FinAck => &mut self.fin_ack,
            Metric::FinFin => &mut self.fin_fin,
        }
    }
}

impl<T> ByMetric<T> {
    /// (name, figure) in the JSON's order.
    pub fn metrics(&self) -> [(&'static str, &T); 3] {
        Metric::ALL.map(|m| (m.name(), &self[m]))
    }

    /// A metric by its JSON name.
    pub fn get(&self, metric: &str) -> Option<&T> {
        Metric::ALL
            .into_iter()
            .find(|m| m.name() == metric)
            .map(|m| &self[m])
    }

    /// Each figure turned by `f`, with its metric.
    pub fn map<U>(&self, mut f: impl FnMut(Metric, &T) -> U) -> ByMetric<U> {
        ByMetric {
            close_total: f(Metric::CloseTotal, &self.close_total),
            fin_ack: f(Metric::FinAck, &self.fin_ack),
            fin_fin: f(Metric::FinFin, &self.fin_fin),
        }
    }
}

impl<T: Merge> Merge for ByMetric<T> {
    fn merge(&mut self, o: &ByMetric<T>) {
        let ByMetric {
            close_total,
            fin_ack,
            fin_fin,
        } = o;
        self.close_total.merge(close_total);
        self.fin_ack.merge(fin_ack);
        self.fin_fin.merge(fin_fin);
    }
}

/// One figure per [`Skip`] reason (frames that gave no TCP segment),
/// indexed by the reason.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BySkip<T>([T; Skip::ALL.len()]);

impl<T> std::ops::Index<Skip> for BySkip<T> {
    type Output = T;
    fn index(&self, k: Skip) -> &T {
        // `Skip`'s discriminants are its places in `Skip::ALL`.
        &self.0[k as usize]
    }
}

impl<T> std::ops::IndexMut<Skip> for BySkip<T> {
    fn index_mut(&mut self, k: Skip) -> &mut T {
        &mut self.0[k as usize]
    }
}

impl<T> BySkip<T> {
    /// Every figure with its reason, in [`Skip::ALL`]'s order.
    pub fn iter(&self) -> impl Iterator<Item = (Skip, &T)> {
        Skip::ALL.into_iter().map(move |k| (k, &self[k]))
    }
}

impl<T: Merge> Merge for BySkip<T> {
    fn merge(&mut self, o: &BySkip<T>) {
        for k in Skip::ALL {
            self[k].merge(&o[k]);
        }
    }
}

/// Latency histograms (us) by metric, then split.
pub type Latencies = ByMetric<BySplit<Hist>>;

#[cfg(test)]
mod tests {
    use super::*;

    /// Each reason has its own cell: `Skip as usize` is its place in ALL.
    #[test]
    fn by_skip_indexes_every_reason_once() {
        let mut t = BySkip::<u64>::default();
        for (i, k) in Skip::ALL.into_iter().enumerate() {
            t[k] += i as u64 + 1;
        }
        let got: Vec<u64> = t.iter().map(|(_, n)| *n).collect();
        assert_eq!(got, vec![1, 2, 3, 4, 5, 6, 7]);
        let mut u = t;
        u.merge(&t);
        assert_eq!(u[Skip::TcpTruncated], 14);
    }

    /// Indexing by outcome reaches each field once, in `Outcome::ALL`.
    #[test]
    fn by_outcome_indexes_every_outcome_once() {
        let mut t = ByOutcome::<u64>::default();
        for (i, o) in Outcome::ALL.into_iter().enumerate() {
            t[o] = 1 << i;
        }
        let sum: u64 = t.iter().map(|(_, n)| n).sum();
        assert_eq!(sum, (1 << Outcome::ALL.len()) - 1);
        assert_eq!(t.killed, 1 << 7);
        assert_eq!(t.rows()[6], ("killed", 1 << 7));
        // The JSON keys are the outcomes' names.
        let v = serde_json::to_value(t).unwrap_or_default();
        for o in Outcome::ALL {
            assert_eq!(v[o.name()].as_u64(), Some(t[o]), "{}", o.name());
        }
        for (name, n) in t.rows() {
            assert_eq!(v[name].as_u64(), Some(n), "{name}");
        }
    }
}
