//! Per-state fixtures (smoltcp's `socket/tcp.rs` style): [`at`] puts one
//! endpoint of a connection in a given state with the fewest segments,
//! then each test gives the events that matter in that state and checks
//! the state, the corrections and the anomalies that follow.
use super::*;
use crate::flow::state::Correction;
use crate::flow::state::Event;
use TcpState::*;

/// Segments (client ISN 100, server ISN 500, all before 20 ms) that leave
/// one endpoint in `st`, and whether that endpoint is the client.
fn segments_to(st: TcpState) -> (Vec<Segment>, bool) {
    let mut s = established(100, 500);
    let client_fin = seg(true, 10, FIN | ACK, 101, 501, 0);
    let server_fin = seg(false, 10, FIN | ACK, 501, 101, 0);
    match st {
        Inactive => return (vec![seg(false, 0, SYN, 500, 0, 0)], true),
        SynSent => return (vec![seg(true, 0, SYN, 100, 0, 0)], true),
        SynReceived => {
            s.truncate(2);
            return (s, false);
        }
        Established => {}
        FinWait1 => s.push(client_fin),
        FinWait2 => s.extend([client_fin, seg(false, 11, ACK, 501, 102, 0)]),
        // FINs crossed: the server's does not ACK the client's.
        Closing => s.extend([client_fin, seg(false, 11, FIN | ACK, 501, 101, 0)]),
        TimeWait => s.extend([
            client_fin,
            seg(false, 11, ACK, 501, 102, 0),
            seg(false, 12, FIN | ACK, 501, 102, 0),
        ]),
        CloseWait => s.push(server_fin),
        LastAck => s.extend([server_fin, seg(true, 11, FIN | ACK, 101, 502, 0)]),
        Closed => s.extend([
            server_fin,
            seg(true, 11, FIN | ACK, 101, 502, 0),
            seg(false, 12, ACK, 502, 102, 0),
        ]),
        Reset => s.push(seg(true, 10, RST | ACK, 101, 501, 0)),
        // Two copies 200 ms apart, then silence: the next was due at
        // 0.81 s. The server's ACK of older data at 3 s runs the timers.
        Killed => s.extend([
            client_fin,
            seg(true, 210, FIN | ACK, 101, 501, 0),
            seg(true, 410, FIN | ACK, 101, 501, 0),
            seg(false, 3_000, ACK, 501, 101, 0),
        ]),
    }
    (s, true)
}

/// A connection with one endpoint in `st`: the connection, the side of
/// that endpoint, and the segments that led there (to extend).
fn at(st: TcpState) -> (Conn, Side, Vec<Segment>) {
    let (s, client) = segments_to(st);
    let c = run(&s);
    let side = FlowKey::of(&s[0]).1;
    let side = if client == (s[0].src.to_string() == C) {
        side
    } else {
        side.other()
    };
    (c, side, s)
}

/// An endpoint's named corrections and anomalies.
type Records = (Vec<(Correction, TcpState)>, Vec<(TcpState, Event)>);

/// The named corrections and anomalies of `side`.
fn records(c: &Conn, side: Side) -> Records {
    let m = &c.ep[side].machine;
    (
        m.corrections.iter().collect(),
        m.anomalies.pairs().collect(),
    )
}

#[test]
fn the_fixture_reaches_every_state() {
    for st in TcpState::ALL {
        let (c, side, _) = at(st);
        assert_eq!(c.ep[side].state(), st, "{st}");
    }
}

#[test]
fn syn_sent() {
    // A copy of the SYN stays; the SYN-ACK establishes.
    let (_, side, mut s) = at(SynSent);
    s.push(seg(true, 1_000, SYN, 100, 0, 0));
    let c = run(&s);
    assert_eq!(c.ep[side].state(), SynSent);
    assert_eq!(c.ep[side].backoff.retransmissions, 1);
    s.push(seg(false, 1_001, SYN | ACK, 500, 101, 0));
    assert_eq!(run(&s).ep[side].state(), Established);
    // Silence past the next copy's due time: connect() gave up.
    let (_, side, s) = at(SynSent);
    assert_eq!(run_to(&s, 10_000).ep[side].state(), Closed);
    // A segment from it shows the handshake alive: the give-up is taken back.
    let mut s = s;
    s.push(seg(true, 9_000, SYN, 100, 0, 0));
    let c = run(&s);
    assert_eq!(c.ep[side].state(), SynSent);
    assert_eq!(records(&c, side).0, [(Correction::HandshakeAlive, Closed)]);
}

#[test]
fn syn_received() {
    let (_, side, mut s) = at(SynReceived);
    s.push(seg(false, 200, SYN | ACK, 500, 101, 0));
    assert_eq!(run(&s).ep[side].state(), SynReceived);
    s.push(seg(true, 201, ACK, 101, 501, 0));
    assert_eq!(run(&s).ep[side].state(), Established);
}

#[test]
fn established_state() {
    let (_, side, mut s) = at(Established);
    s.push(seg(true, 10, ACK | PSH, 101, 501, 100));
    s.push(seg(false, 11, ACK, 501, 201, 0));
    let c = run(&s);
    assert_eq!(c.ep[side].state(), Established);
    assert_eq!(records(&c, side), (vec![], vec![]));
}

#[test]
fn fin_wait_1() {
    // The ACK of its FIN: FIN-WAIT-2.
    let (_, side, mut s) = at(FinWait1);
    s.push(seg(false, 11, ACK, 501, 102, 0));
    assert_eq!(run(&s).ep[side].state(), FinWait2);
    // The peer's FIN that ACKs ours: FIN-WAIT-2 then TIME-WAIT at once.
    let (_, side, mut s) = at(FinWait1);
    s.push(seg(false, 11, FIN | ACK, 501, 102, 0));
    let c = run(&s);
    let path: Vec<TcpState> = c.ep[side].machine.transitions.iter().map(|x| x.0).collect();
    assert_eq!(path, [SynSent, Established, FinWait1, FinWait2, TimeWait]);
    // The peer's FIN that does not: CLOSING (the peer's CLOSE-WAIT taken back).
    let (c, side, _) = at(Closing);
    assert_eq!(
        records(&c, side.other()).0,
        [(Correction::FinsCrossed, CloseWait)]
    );
}

#[test]
fn fin_wait_2() {
    let (_, side, s) = at(FinWait2);
    let c = run_to(&s, 100);
    // Still open at the end: tcp_fin_timeout (60 s) fires past it.
    let tr = c.ep[side].machine.transitions;
    assert_eq!(tr.last(), Some((Closed, 60_011_000_000)));
    // A bare RST answering the peer's FIN: it had timed out already.
    let (_, side, mut s) = at(TimeWait);
    s.push(seg(true, 13, RST, 102, 0, 0));
    let c = run(&s);
    assert!(c.ep[side].fin_wait_2_gone());
    assert_eq!(records(&c, side).0, [(Correction::FinWait2Gone, TimeWait)]);
}

#[test]
fn closing() {
    let (_, side, mut s) = at(Closing);
    s.push(seg(false, 12, ACK, 502, 102, 0));
    assert_eq!(run(&s).ep[side].state(), TimeWait);
}

#[test]
fn time_wait() {
    let (_, side, s) = at(TimeWait);
    let c = run_to(&s, 100);
    assert_eq!(
        c.ep[side].machine.transitions.last(),
        Some((Closed, 60_012_000_000))
    );
    // A copy of the peer's FIN: nothing changes.
    let (_, side, mut s) = at(TimeWait);
    s.push(seg(false, 300, FIN | ACK, 501, 102, 0));
    let c = run(&s);
    assert_eq!(c.ep[side].state(), TimeWait);
    assert_eq!(records(&c, side), (vec![], vec![]));
}

#[test]
fn close_wait_and_last_ack() {
    let (_, side, mut s) = at(CloseWait);
    s.push(seg(true, 11, FIN | ACK, 101, 502, 0));
    assert_eq!(run(&s).ep[side].state(), LastAck);
    s.push(seg(false, 12, ACK, 502, 102, 0));
    assert_eq!(run(&s).ep[side].state(), Closed);
}

#[test]
fn closed_takes_late_segments_quietly() {
    let (_, side, mut s) = at(Closed);
    s.push(seg(false, 500, ACK, 502, 102, 0));
    let c = run(&s);
    assert_eq!(c.ep[side].state(), Closed);
    assert_eq!(records(&c, side), (vec![], vec![]));
}

#[test]
fn reset_names_what_it_cannot_send() {
    let (_, side, mut s) = at(Reset);
    s.push(seg(true, 11, ACK | PSH, 101, 501, 10));
    s.push(seg(true, 12, ACK | PSH, 111, 501, 10));
    let c = run(&s);
    assert_eq!(c.ep[side].state(), Reset);
    assert_eq!(c.ep[side].machine.anomalies.count(), 2);
    assert_eq!(records(&c, side).1, [(Reset, Event::SendSeg)]);
    assert_eq!(c.anomalies(), 2);
}

#[test]
fn killed() {
    let (c, side, mut s) = at(Killed);
    assert_eq!(c.ep[side].killed_at, Some(810_000_000));
    // A later copy of its FIN: alive after all, the kill taken back.
    s.push(seg(true, 3_500, FIN | ACK, 101, 501, 0));
    let c = run(&s);
    assert_eq!(c.ep[side].state(), FinWait1);
    assert_eq!(records(&c, side).0, [(Correction::KillDisproved, Killed)]);
    assert_eq!(c.kills_retracted, 1);
    // The peer ACKs the FIN and a bare RST answers: killed after all (the
    // revival taken back in turn).
    let (_, side, mut s) = at(Killed);
    s.push(seg(false, 4_000, ACK, 501, 102, 0));
    s.push(seg(true, 4_001, RST, 102, 0, 0));
    let c = run(&s);
    assert_eq!(c.ep[side].state(), Killed);
    assert!(c.ep[side].kill_confirmed);
    assert_eq!(
        records(&c, side).0,
        [
            (Correction::KillDisproved, Killed),
            (Correction::RevivalDisproved, FinWait2)
        ]
    );
}

#[test]
fn abort_on_data_takes_back_time_wait() {
    // Data with the peer's FIN after ours was ACKed, answered by a bare
    // RST: the data reset the socket before the FIN could move it.
    let (_, side, mut s) = at(FinWait2);
    s.push(seg(false, 13, FIN | ACK | PSH, 501, 102, 125));
    s.push(seg(true, 21, RST, 102, 0, 0));
    let c = run(&s);
    assert!(c.ep[side].abort_on_data);
    assert_eq!(records(&c, side).0, [(Correction::AbortOnData, TimeWait)]);
}
