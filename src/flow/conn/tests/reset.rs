//! Resets and kills: RSTs, silent kills after tcp_orphan_retries and
//! their confirmation or retraction, FIN-WAIT-2 timeouts, abort on data.

use super::*;

// ---- Resets ----
#[test]
fn resets() {
    let mut s = established(100, 500);
    s.push(seg(false, 10, RST, 501, 0, 0));
    assert_eq!(run(&s).outcome(), Outcome::Reset);
    let mut s = established(100, 500);
    s.push(seg(true, 10, FIN | ACK, 101, 501, 0));
    s.push(seg(false, 11, RST, 501, 0, 0));
    assert_eq!(run(&s).outcome(), Outcome::ResetAfterFin);
}

// ---- issue: silent kill after tcp_orphan_retries ----
#[test]
fn orphan_killed_silently_then_confirmed_by_bare_rst() {
    let mut s = established(100, 500);
    s.push(seg(true, 10, FIN | ACK, 101, 501, 0));
    s.push(seg(true, 210, FIN | ACK, 101, 501, 0)); // TLP
    s.push(seg(true, 410, FIN | ACK, 101, 501, 0)); // RTO 1
    s.push(seg(true, 810, FIN | ACK, 101, 501, 0)); // RTO 2
    // Next due at 0.81 + 0.8 s = 1.61 s: nothing. The server closes at 10 s
    // (it never got the FIN); the client host answers with a bare RST.
    s.push(seg(false, 10_000, FIN | ACK, 501, 101, 0));
    s.push(seg(true, 10_001, RST, 101, 0, 0));
    let c = run_to(&s, 20_000);
    let cl = c.client_side().0;
    assert_eq!(c.outcome(), Outcome::Killed);
    // The whole machine of each side: the client killed at 1.61 s, the
    // server (its FIN crossed ours: FIN-WAIT-1 -> CLOSING) reset by the
    // client host's bare RST.
    use crate::flow::state::tests::machine;
    use TcpState::*;
    assert_eq!(
        c.ep[cl].machine,
        machine(
            &[
                (SynSent, 0),
                (Established, 1),
                (FinWait1, 10),
                (Killed, 1610)
            ],
            &[],
            &[]
        )
    );
    assert_eq!(
        c.ep[cl.other()].machine,
        machine(
            &[
                (SynReceived, 1),
                (Established, 2),
                (FinWait1, 10_000),
                (Closing, 10_000),
                (Reset, 10_001)
            ],
            &[],
            &[(crate::flow::state::Correction::FinsCrossed, CloseWait)]
        )
    );
    assert_eq!(c.ep[cl].killed_at, Some(1_610_000_000));
    assert!(c.ep[cl].kill_confirmed);
    assert!(c.fin_unacked(cl));
    assert_eq!(c.fin_unacked_until(cl, 20_000_000_000), 1_610_000_000);
    assert_eq!(c.rst_ts, None);
    assert_eq!(
        states(&c, cl, 20_000),
        vec![
            (TcpState::SynSent, 0, 1),
            (TcpState::Established, 1, 10),
            (TcpState::FinWait1, 10, 1610)
        ]
    );
    // Without the RST the silence alone decides, once the capture passes
    // the overdue copy (+ half a timeout).
    let c = run_to(&s[..7], 2_100);
    assert_eq!(c.outcome(), Outcome::Killed);
    assert!(!c.ep[cl].kill_confirmed);
    // Too early to tell: still FIN-WAIT-1.
    let c = run_to(&s[..7], 1_900);
    assert_eq!(c.outcome(), Outcome::FinUnacked);
}

#[test]
fn a_later_copy_retracts_a_kill() {
    let mut s = established(100, 500);
    s.push(seg(true, 10, FIN | ACK, 101, 501, 0));
    s.push(seg(true, 210, FIN | ACK, 101, 501, 0));
    s.push(seg(true, 410, FIN | ACK, 101, 501, 0));
    // Overdue from 0.81 + 0.22 s on; a copy at 1.5 s proves it alive.
    s.push(seg(false, 1_200, ACK, 501, 101, 0));
    s.push(seg(true, 1_500, FIN | ACK, 101, 501, 0));
    s.push(seg(false, 1_501, ACK, 501, 102, 0));
    let c = run_to(&s, 5_000);
    assert_eq!(c.kills_retracted, 1);
    assert_eq!(c.outcome(), Outcome::HalfClosed);
}

// ---- a late ACK: alive unless a bare RST answers it ----
#[test]
fn late_ack_revives_unless_a_bare_rst_answers_it() {
    let mut s = established(100, 500);
    s.push(seg(true, 10, FIN | ACK, 101, 501, 0));
    s.push(seg(true, 210, FIN | ACK, 101, 501, 0));
    s.push(seg(true, 410, FIN | ACK, 101, 501, 0));
    // Due at 0.81 s, overdue from 1.03 s. The ACK comes at 7 s.
    s.push(seg(false, 7_000, ACK, 501, 102, 0));
    let c = run_to(&s, 7_100);
    let cl = c.client_side().0;
    let tr = &c.ep[cl].machine.transitions;
    assert_eq!(tr.state_at(7_100_000_000), TcpState::FinWait2);
    assert_eq!(c.ep[cl].fin_acked_ts, Some(7_000_000_000));
    assert_eq!(c.kills_retracted, 1);
    assert_eq!(c.outcome(), Outcome::HalfClosed);
    // The host has no socket: it answers that ACK with a bare RST.
    s.push(seg(true, 7_001, RST, 102, 0, 0));
    let c = run_to(&s, 7_100);
    assert_eq!(c.outcome(), Outcome::Killed);
    assert_eq!(c.ep[cl].killed_at, Some(810_000_000));
    assert!(c.ep[cl].kill_confirmed);
    assert_eq!(c.ep[cl].fin_acked_ts, None);
    assert_eq!(c.kills_retracted, 0);
    assert_eq!(
        states(&c, cl, 7_100),
        vec![
            (TcpState::SynSent, 0, 1),
            (TcpState::Established, 1, 10),
            (TcpState::FinWait1, 10, 810)
        ]
    );
}

// ---- FIN-WAIT-2: gone before the peer's FIN (tcp_fin_timeout) ----
#[test]
fn fin_wait_2_gone_answers_the_late_fin_with_a_bare_rst() {
    let mut s = established(100, 500);
    s.push(seg(true, 10, FIN | ACK, 101, 501, 0));
    s.push(seg(false, 20, ACK, 501, 102, 0));
    s.push(seg(false, 5_000, FIN | ACK, 501, 102, 0));
    s.push(seg(true, 5_000, RST, 102, 0, 0));
    let c = run_to(&s, 5_000);
    let cl = c.client_side().0;
    assert!(c.ep[cl].fin_wait_2_gone());
    assert_eq!(
        states(&c, cl, 100_000),
        vec![
            (TcpState::SynSent, 0, 1),
            (TcpState::Established, 1, 10),
            (TcpState::FinWait1, 10, 20),
            (TcpState::FinWait2, 20, 5_000)
        ]
    );
    assert_eq!(c.outcome(), Outcome::ResetAfterFin);
}

// ---- issue: a peer's FIN that we reset is not the peer's unACKed FIN ----
#[test]
fn fin_answered_by_our_rst_is_not_unacked() {
    let mut s = established(100, 500);
    s.push(seg(false, 10, FIN | ACK, 501, 101, 0));
    s.push(seg(true, 11, RST | ACK, 101, 501, 0));
    let c = run(&s);
    assert_eq!(c.outcome(), Outcome::ResetAfterFin);
    assert!(!c.fin_unacked(Side::A) && !c.fin_unacked(Side::B));
}

// ---- issue 21 case 3a: data after the local FIN answered by RST ----
#[test]
fn rst_answering_data_after_close_is_an_abort_on_data() {
    // The client closes (FIN ACKed: FIN-WAIT-2); 1.5 ms later the
    // server sends 125 bytes with its FIN; the client's host answers
    // with a bare RST 8 ms later: TCPAbortOnData, not a FIN-WAIT-2
    // timeout.
    let mut s = established(100, 500);
    s.push(seg(true, 10, FIN | ACK, 101, 501, 0));
    s.push(seg(false, 11, ACK, 501, 102, 0));
    s.push(seg(false, 13, FIN | ACK | PSH, 501, 102, 125));
    s.push(seg(true, 21, RST, 102, 0, 0));
    let c = run_to(&s, 1_000);
    let cl = c.client_side().0;
    assert!(c.ep[cl].abort_on_data);
    assert!(!c.ep[cl].fin_wait_2_gone());
    assert!(!c.ep[cl].reset_awaiting_ack);
    assert_eq!(c.outcome(), Outcome::ResetAfterFin);
    assert_eq!(c.rst_ts, Some(21_000_000));
    assert_eq!(c.rst_by, Some(cl));
    use TcpState::*;
    assert_eq!(
        c.ep[cl].machine,
        crate::flow::state::tests::machine(
            &[
                (SynSent, 0),
                (Established, 1),
                (FinWait1, 10),
                (FinWait2, 11),
                (Reset, 21)
            ],
            &[],
            &[(crate::flow::state::Correction::AbortOnData, TimeWait)]
        )
    );
    // A bare FIN (no data) 5 s later answered by a bare RST is still
    // a FIN-WAIT-2 socket gone.
    let mut s = established(100, 500);
    s.push(seg(true, 10, FIN | ACK, 101, 501, 0));
    s.push(seg(false, 11, ACK, 501, 102, 0));
    s.push(seg(false, 5_000, FIN | ACK, 501, 102, 0));
    s.push(seg(true, 5_000, RST, 102, 0, 0));
    let c = run_to(&s, 6_000);
    assert!(c.ep[cl].fin_wait_2_gone());
    assert!(!c.ep[cl].abort_on_data);
}

// ---- issue 21 case 3b: a port scan's crafted FINs ----
#[test]
fn crafted_fins_without_ack_are_never_killed() {
    // Two FINs without ACK, no handshake, no data, 1 s apart, no reply.
    let s = vec![
        seg(true, 0, FIN, 100, 0, 0),
        seg(true, 1_000, FIN, 100, 0, 0),
    ];
    let c = run_to(&s, 30_000);
    let cl = c.client_side().0;
    assert_eq!(c.ep[cl].killed_at, None);
    assert_eq!(c.outcome(), Outcome::FinUnacked);
}

// ---- a RST after a complete close ends nothing ----
#[test]
fn rst_after_a_complete_close_keeps_it_complete() {
    let mut s = established(100, 500);
    s.push(seg(true, 10, FIN | ACK, 101, 501, 0));
    s.push(seg(false, 20, FIN | ACK, 501, 102, 0));
    s.push(seg(true, 21, ACK, 102, 502, 0));
    // The server host, its LAST-ACK socket gone, resets a stray segment.
    s.push(seg(false, 4_000, RST, 502, 0, 0));
    let c = run_to(&s, 5_000);
    assert_eq!(c.outcome(), Outcome::Complete);
    assert_eq!(c.rst_ts, None);
    assert_eq!(c.rst_cause(), None);
    assert_eq!(c.ep[c.client_side().0.other()].rsts, 1);
    assert_eq!(c.closed_at(), Some(21_000_000));
}
