//! The opening and the sides: handshakes, reuse of a key, sides by port,
//! one-sided captures, unanswered and retried SYNs, challenge ACKs.

use super::*;

// ---- Port reuse and sides by port ----
#[test]
fn reuse_and_port_sides() {
    let mut s = established(100, 500);
    s.push(seg(true, 10, FIN | ACK, 101, 501, 0));
    let c = run(&s);
    let (_, cs) = FlowKey::of(&s[0]);
    assert!(c.is_reuse(&seg(true, 2000, SYN, 9000, 0, 0), cs));
    assert!(!c.is_reuse(&seg(true, 2000, SYN, 100, 0, 0), cs));
    // A new ISN starts a new connection even when the close was not seen.
    let open = run(&established(100, 500));
    assert!(open.is_reuse(&seg(true, 3000, SYN, 7777, 0, 0), cs));
    assert!(!open.is_reuse(&seg(true, 3000, SYN, 100, 0, 0), cs));
    let c = run(&[seg(false, 0, ACK, 5, 6, 10)]);
    let (client, by) = c.client_side();
    assert_eq!(by, SidesBy::Port);
    assert_eq!(c.key.endpoint(client).1, 40000);
    // One direction only: nothing can be judged.
    assert_eq!(c.outcome(), Outcome::OneSided);
    let c = run(&[seg(false, 0, ACK, 5, 6, 10), seg(true, 1, ACK, 6, 15, 0)]);
    assert_eq!(c.outcome(), Outcome::Open);
}

// ---- issue: a RST during the handshake, then the same SYN again ----
#[test]
fn handshake_rst_then_retry_is_one_connection() {
    let s = vec![
        seg(true, 0, SYN, 100, 0, 0),
        seg(true, 18, RST, 101, 0, 0),
        seg(true, 1000, SYN, 100, 0, 0),
        seg(false, 1001, SYN | ACK, 500, 101, 0),
        seg(true, 1002, ACK, 101, 501, 0),
        seg(true, 16_000, FIN | ACK, 101, 501, 0),
        seg(false, 16_001, FIN | ACK, 501, 102, 0),
        seg(true, 16_002, ACK, 102, 502, 0),
    ];
    let c = run_to(&s, 16_002);
    assert_eq!(c.outcome(), Outcome::Complete);
    let cl = c.client_side().0;
    assert_eq!(
        states(&c, cl, 100_000),
        vec![
            (TcpState::SynSent, 0, 18),
            (TcpState::SynSent, 1000, 1001),
            (TcpState::Established, 1001, 16_000),
            (TcpState::FinWait1, 16_000, 16_001),
            (TcpState::TimeWait, 16_001, 76_001),
        ]
    );
}

// ---- issue: unanswered SYNs are attempts, not connections ----
#[test]
fn unanswered_syn_is_syn_sent_until_it_gives_up() {
    // SYN, retransmitted after 1 s and 2 s more, then silence.
    let s = vec![
        seg(true, 0, SYN, 100, 0, 0),
        seg(true, 1000, SYN, 100, 0, 0),
        seg(true, 3000, SYN, 100, 0, 0),
    ];
    let c = run_to(&s, 20_000);
    assert_eq!(c.outcome(), Outcome::Unanswered);
    let cl = c.client_side().0;
    // Next copy due at 3 + 4 s: gone then.
    assert_eq!(states(&c, cl, 20_000), vec![(TcpState::SynSent, 0, 7000)]);
    assert_eq!(states(&c, cl.other(), 20_000), vec![]);
    // SYN answered by RST.
    let c = run(&[
        seg(true, 0, SYN, 100, 0, 0),
        seg(false, 1, RST | ACK, 0, 101, 0),
    ]);
    assert_eq!(c.outcome(), Outcome::Rejected);
    // SYN-ACK never acknowledged (a flood): the server is in SYN-RECEIVED.
    let c = run_to(
        &[
            seg(true, 0, SYN, 100, 0, 0),
            seg(false, 1, SYN | ACK, 500, 101, 0),
        ],
        10_000,
    );
    assert_eq!(c.outcome(), Outcome::Unanswered);
    assert_eq!(
        states(&c, cl.other(), 10_000),
        vec![(TcpState::SynReceived, 1, 1001)]
    );
}

// ---- issue: one-sided captures ----
#[test]
fn one_direction_only_is_one_sided() {
    let s = vec![
        seg(true, 0, SYN, 100, 0, 0),
        seg(true, 2, ACK, 101, 501, 0),
        seg(true, 3, ACK | PSH, 101, 501, 10),
        seg(true, 10, FIN | ACK, 111, 601, 0),
    ];
    let c = run_to(&s, 100);
    assert!(c.one_sided());
    assert_eq!(c.outcome(), Outcome::OneSided);
    assert!(!c.fin_unacked(c.client_side().0));
}

// ---- issue 21 case 4: a challenge ACK in SYN-SENT ----
#[test]
fn challenge_ack_in_syn_sent_keeps_the_handshake() {
    // The server still holds an older connection: it answers the SYN
    // with a bare ACK for that one (ack 7777, not 101). The client
    // answers with RST seq=7777 and stays in SYN-SENT; its SYN again
    // (same ISN) 3 s later opens the connection, which closes FIN/FIN/ACK.
    let s = vec![
        seg(true, 0, SYN, 100, 0, 0),
        seg(false, 1, ACK, 9000, 7777, 0),
        seg(true, 2, RST, 7777, 0, 0),
        seg(true, 3000, SYN, 100, 0, 0),
        seg(false, 3001, SYN | ACK, 500, 101, 0),
        seg(true, 3002, ACK, 101, 501, 0),
        seg(true, 5000, FIN | ACK, 101, 501, 0),
        seg(false, 5010, FIN | ACK, 501, 102, 0),
        seg(true, 5011, ACK, 102, 502, 0),
    ];
    let c = run_to(&s, 5_011);
    assert_eq!(c.outcome(), Outcome::Complete);
    assert_eq!(c.rst_ts, None);
    assert_eq!(c.anomalies(), 0);
    let cl = c.client_side().0;
    assert_eq!(c.ep[cl].challenge_ack, Some(SeqNum(7777)));
    assert_eq!(c.latencies().fin_ack, Some(10_000));
    assert_eq!(c.closed_at(), Some(5_011_000_000));
    use TcpState::*;
    assert_eq!(
        states(&c, cl, 100_000),
        vec![
            (SynSent, 0, 3001),
            (Established, 3001, 5000),
            (FinWait1, 5000, 5010),
            (TimeWait, 5010, 65_010),
        ]
    );
    assert_eq!(
        states(&c, cl.other(), 100_000),
        vec![
            (SynReceived, 3001, 3002),
            (Established, 3002, 5000),
            (CloseWait, 5000, 5010),
            (LastAck, 5010, 5011),
        ]
    );
}

// ---- issue 21 case 5a: SYN copies 3 s and 6 s apart ----
#[test]
fn slow_syn_copies_are_not_a_give_up() {
    // SYNs at 63, 66, 72 s (a 3 s initial RTO): the next is due at
    // 72 + 12 s, so the SYN-ACK at 78.5 s finds the client in SYN-SENT.
    let s = vec![
        seg(true, 63_000, SYN, 100, 0, 0),
        seg(true, 66_000, SYN, 100, 0, 0),
        seg(true, 72_000, SYN, 100, 0, 0),
        seg(false, 78_500, SYN | ACK, 500, 101, 0),
        seg(true, 78_501, ACK, 101, 501, 0),
        seg(true, 80_000, FIN | ACK, 101, 501, 0),
        seg(false, 80_010, ACK, 501, 102, 0),
        seg(false, 80_020, FIN | ACK, 501, 102, 0),
        seg(true, 80_021, ACK, 102, 502, 0),
    ];
    let c = run_to(&s, 80_021);
    assert_eq!(c.outcome(), Outcome::Complete);
    assert_eq!(c.anomalies(), 0);
    let cl = c.client_side().0;
    assert_eq!(c.latencies().fin_ack, Some(10_000));
    use TcpState::*;
    assert_eq!(
        states(&c, cl, 200_000),
        vec![
            (SynSent, 63_000, 78_500),
            (Established, 78_500, 80_000),
            (FinWait1, 80_000, 80_010),
            (FinWait2, 80_010, 80_020),
            (TimeWait, 80_020, 140_020),
        ]
    );
    // Without the SYN-ACK the attempt still gives up: at 72 + 12 s.
    let c = run_to(&s[..3], 100_000);
    assert_eq!(c.outcome(), Outcome::Unanswered);
    assert_eq!(states(&c, cl, 200_000), vec![(SynSent, 63_000, 84_000)]);
}

// ---- a SYN-RECEIVED give-up taken back by the client's ACK ----
#[test]
fn late_ack_of_a_syn_ack_revives_the_server() {
    // One SYN-ACK, then nothing for 5 s: overdue from 1.521 s (its copy
    // was due at 1.001 s), given up; the client's ACK of it shows the
    // server alive (capture loss, or a slower timer).
    let s = vec![
        seg(true, 0, SYN, 100, 0, 0),
        seg(false, 1, SYN | ACK, 500, 101, 0),
        seg(true, 5_000, ACK, 101, 501, 0),
        seg(true, 5_001, FIN | ACK, 101, 501, 0),
        seg(false, 5_002, FIN | ACK, 501, 102, 0),
        seg(true, 5_003, ACK, 102, 502, 0),
    ];
    let c = run_to(&s, 5_003);
    assert_eq!(c.outcome(), Outcome::Complete);
    assert_eq!(c.anomalies(), 0);
    let sv = c.client_side().0.other();
    use TcpState::*;
    assert_eq!(
        states(&c, sv, 100_000),
        vec![
            (SynReceived, 1, 5_000),
            (Established, 5_000, 5_001),
            (CloseWait, 5_001, 5_002),
            (LastAck, 5_002, 5_003),
        ]
    );
}
