//! The verdict: read-only queries on a tracked connection (its sides, the
//! outcome, the close latencies, the unACKed FINs, the state intervals and
//! the anomalies). Nothing here changes the connection.

use super::{Conn, Latencies, Outcome, SidesBy, other};
use crate::flow::key::Side;
use crate::flow::state::TcpState;

impl Conn {
    /// Client side and how it was decided; by port when no handshake was seen.
    pub fn client_side(&self) -> (Side, SidesBy) {
        if let Some((c, by)) = self.client {
            return (c, by);
        }
        let (pa, pb) = self.key.ports();
        // The server is the well-known port, else the lower port.
        let server = match (pa < 1024, pb < 1024) {
            (true, false) => Side::A,
            (false, true) => Side::B,
            _ if pa <= pb => Side::A,
            _ => Side::B,
        };
        (server.other(), SidesBy::Port)
    }

    /// Only one direction was captured: one endpoint sent segments with the
    /// ACK flag (so it received something), the other sent nothing.
    pub fn one_sided(&self) -> bool {
        let [a, b] = &self.ep.0;
        (a.segments > 0 && b.segments == 0 && a.sent_ack)
            || (b.segments > 0 && a.segments == 0 && b.sent_ack)
    }

    /// Both directions were captured.
    pub fn two_sided(&self) -> bool {
        self.ep.iter().all(|e| e.segments > 0)
    }

    /// `side` sent a FIN that was never ACKed while it waited: not in a
    /// connection a RST ended, not answered by a RST (the peer's host had
    /// no socket any more), not on a one-sided capture. Its age runs to
    /// [`Conn::fin_unacked_until`].
    pub fn fin_unacked(&self, side: Side) -> bool {
        let e = &self.ep[side];
        e.fin_pending()
            && self.rst_ts.is_none()
            && e.state() != TcpState::Reset
            && !self.one_sided()
    }

    /// Until when `side`'s unACKed FIN waited: its kill, or `end`.
    pub fn fin_unacked_until(&self, side: Side, end: u64) -> u64 {
        self.ep[side].killed_at.map_or(end, |k| k.min(end))
    }

    /// How long `side`'s FIN waited for its ACK (us): until the ACK, or,
    /// never ACKed ([`Conn::fin_unacked`]), its age until `end` or the kill
    /// (a lower bound). `None` without a FIN, or when a RST ended the wait.
    pub fn fin_wait_us(&self, side: Side, end: u64) -> Option<u64> {
        let e = &self.ep[side];
        let t = e.fin_ts?;
        match e.fin_acked_ts {
            Some(a) => Some(a.saturating_sub(t) / 1_000),
            None if self.fin_unacked(side) => {
                Some(self.fin_unacked_until(side, end).saturating_sub(t) / 1_000)
            }
            None => None,
        }
    }

    /// Why the RST that ended the connection was sent, as far as the
    /// capture shows (`--flows` column `rst_cause`; docs/flows.md):
    /// `abort_on_data` (its sender answered data that came after its own
    /// FIN: Linux TCPAbortOnData), `orphan_reset` (RST|ACK while its FIN was
    /// unACKed: tcp_max_orphans / tcp_mem, or an application abort),
    /// `fin_wait_2_gone` (a bare RST to the peer's FIN: the FIN-WAIT-2
    /// socket had timed out), `other`; `None` when no RST ended it.
    pub fn rst_cause(&self) -> Option<&'static str> {
        self.rst_ts?;
        let e = &self.ep[self.rst_by?];
        Some(if e.abort_on_data {
            "abort_on_data"
        } else if e.reset_awaiting_ack {
            "orphan_reset"
        } else if e.fin_wait_2_gone() {
            "fin_wait_2_gone"
        } else {
            "other"
        })
    }

    /// When the close began: the first FIN or RST.
    pub fn close_began(&self) -> Option<u64> {
        match (self.first_fin.and_then(|f| self.ep[f].fin_ts), self.rst_ts) {
            (Some(f), Some(r)) => Some(f.min(r)),
            (a, b) => a.or(b),
        }
    }

    /// The outcome, judged at the end of observation.
    pub fn outcome(&self) -> Outcome {
        if self.one_sided() {
            return Outcome::OneSided;
        }
        let (client, by) = self.client_side();
        let server = other(client);
        if by == SidesBy::Syn && !self.established {
            let s = &self.ep[server];
            if self.rst_by == Some(server) && s.isn.is_none() {
                return Outcome::Rejected;
            }
            if self.rst_ts.is_none() && self.ep.iter().all(|e| e.fin_ts.is_none()) {
                return Outcome::Unanswered;
            }
            if s.segments == 0 {
                return Outcome::Unanswered;
            }
        }
        if self.ep.iter().any(|e| e.state() == TcpState::Killed) {
            return Outcome::Killed;
        }
        if self.rst_ts.is_some() {
            return if self.fin_before_rst {
                Outcome::ResetAfterFin
            } else {
                Outcome::Reset
            };
        }
        // An endpoint ended by a RST that did not end the connection (a
        // kill's confirmation, later disproved): reset all the same.
        if self.ep.iter().any(|e| e.state() == TcpState::Reset) {
            return if self.ep.iter().any(|e| e.fin_ts.is_some()) {
                Outcome::ResetAfterFin
            } else {
                Outcome::Reset
            };
        }
        let [a, b] = &self.ep.0;
        match (a.fin_ts.is_some(), b.fin_ts.is_some()) {
            (false, false) => Outcome::Open,
            (true, true) => {
                if a.fin_acked_ts.is_some() && b.fin_acked_ts.is_some() {
                    if self.crossed {
                        Outcome::Simultaneous
                    } else {
                        Outcome::Complete
                    }
                } else {
                    Outcome::FinUnacked
                }
            }
            _ => {
                let e = if a.fin_ts.is_some() { a } else { b };
                if e.fin_acked_ts.is_some() {
                    Outcome::HalfClosed
                } else {
                    Outcome::FinUnacked
                }
            }
        }
    }

    /// The first closer's latencies (us), as the report's histograms and
    /// `--flows` take them.
    pub fn latencies(&self) -> Latencies {
        let mut l = Latencies::default();
        let Some(f) = self.first_fin else { return l };
        let (ef, eo) = (&self.ep[f], &self.ep[other(f)]);
        let Some(t0) = ef.fin_ts else { return l };
        let us = |t: u64| t.saturating_sub(t0) / 1_000;
        l.fin_ack = ef.fin_acked_ts.map(us);
        l.fin_fin = eo.fin_ts.map(us);
        let end = match (ef.fin_acked_ts, eo.fin_acked_ts, eo.fin_ts) {
            (Some(a), Some(b), Some(_)) => Some(a.max(b)),
            _ => self.rst_ts.filter(|r| *r >= t0),
        };
        l.close_total = end.map(us);
        l
    }

    /// The first packet seen was already part of the close (a FIN or RST,
    /// no handshake).
    pub fn began_mid_close(&self) -> bool {
        let first_close = self
            .ep
            .iter()
            .flat_map(|e| e.fin_ts)
            .chain(self.rst_ts)
            .min();
        first_close == Some(self.first_ts) && self.client.is_none()
    }

    /// `side`'s states as intervals (state, from, to), in time order, up to
    /// `end`; with `open` (still live at the capture's end) the state held
    /// at `end` extends past it. Only the states a socket stays in
    /// ([`TcpState::series`]) are listed.
    pub fn intervals(&self, side: Side, end: u64, open: bool) -> Vec<(TcpState, u64, u64)> {
        let horizon = if open { u64::MAX / 4 } else { end };
        let tr = &self.ep[side].machine.transitions;
        // Each state ends where the next begins (no list collected first:
        // this runs once per retired connection).
        let mut out = Vec::with_capacity(tr.len() + 1); // + a zero-window split
        let mut next = tr.iter().peekable();
        while let Some((st, s)) = next.next() {
            let e = next.peek().map_or(horizon, |n| n.1);
            let (s, e) = (s.min(horizon), e.min(horizon));
            if st.series().is_some() && e > s {
                out.push((st, s, e));
            }
        }
        if let Some(fin) = self.ep[side].fin_ts {
            super::evidence::queued_behind_zero_window(
                &mut out,
                self.ev.of(side).zw_fin_since.min(horizon),
                fin,
            );
        }
        out
    }

    /// `side` is still in a non-final state at `end` (other than TIME-WAIT,
    /// which ends by itself), and the connection was live at the capture's end.
    pub fn open_at(&self, side: Side, end: u64, open: bool) -> bool {
        let st = self.ep[side].machine.transitions.state_at(end);
        open && st.series().is_some() && st != TcpState::TimeWait
    }

    /// State-machine anomalies of both endpoints.
    pub fn anomalies(&self) -> u64 {
        self.ep
            .iter()
            .map(|e| u64::from(e.machine.anomalies.count()))
            .sum()
    }
}
