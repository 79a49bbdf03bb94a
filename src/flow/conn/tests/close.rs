//! Closes by FIN: the four-way close, FIN retransmissions and copies,
//! sequence wrap, crossing FINs, ACKs that do or cannot cover a FIN.

use super::*;

// ---- ESTABLISHED -> complete close ----
#[test]
fn four_way_close() {
    let mut s = established(100, 500);
    s.push(seg(true, 10, FIN | ACK, 101, 501, 0));
    s.push(seg(false, 12, ACK, 501, 102, 0));
    s.push(seg(false, 20, FIN | ACK, 501, 102, 0));
    s.push(seg(true, 21, ACK, 102, 502, 0));
    let c = run(&s);
    assert_eq!(c.outcome(), Outcome::Complete);
    let (client, by) = c.client_side();
    assert_eq!(by, SidesBy::Syn);
    assert_eq!(c.first_fin, Some(client));
    assert_eq!(c.ep[client].fin_acked_ts, Some(12_000_000));
    assert_eq!(c.closed_at(), Some(21_000_000));
}

// ---- FIN-WAIT-1: retransmissions, then a late ACK, then a spurious one ----
#[test]
fn fin_retransmissions_before_and_after_ack() {
    let mut s = established(100, 500);
    s.push(seg(true, 10, FIN | ACK, 101, 501, 0));
    s.push(seg(true, 210, FIN | ACK, 101, 501, 0));
    s.push(seg(true, 610, FIN | ACK, 101, 501, 0));
    s.push(seg(false, 14010, ACK, 501, 102, 0));
    s.push(seg(true, 15000, FIN | ACK, 101, 501, 0));
    let c = run(&s);
    let cl = c.client_side().0;
    assert_eq!(c.ep[cl].fin_rtx, 2);
    assert_eq!(c.ep[cl].fin_rtx_spurious, 1);
    assert_eq!(c.outcome(), Outcome::HalfClosed);
}

// ---- Sequence numbers wrapping inside the close ----
#[test]
fn fin_ack_across_wrap() {
    let mut s = established(0xFFFF_FFF0, 7);
    // 20 bytes of data take the client's sequence past 2^32.
    s.push(seg(true, 5, ACK | PSH, 0xFFFF_FFF1, 8, 20));
    s.push(seg(true, 10, FIN | ACK, 0x0000_0005, 8, 0));
    // An ACK below the FIN (old) does not cover it.
    s.push(seg(false, 11, ACK, 8, 0x0000_0005, 0));
    s.push(seg(false, 12, ACK, 8, 0x0000_0006, 0));
    let c = run(&s);
    let cl = c.client_side().0;
    assert_eq!(c.ep[cl].fin_acked_ts, Some(12_000_000));
    assert_eq!(c.ep[cl].fin_rtx, 0);
}

// ---- Simultaneous close: FINs cross ----
#[test]
fn crossing_fins() {
    let mut s = established(100, 500);
    s.push(seg(true, 10, FIN | ACK, 101, 501, 0));
    s.push(seg(false, 10, FIN | ACK, 501, 101, 0));
    s.push(seg(true, 11, ACK, 102, 502, 0));
    s.push(seg(false, 11, ACK, 502, 102, 0));
    let c = run(&s);
    assert!(c.crossed);
    assert_eq!(c.outcome(), Outcome::Simultaneous);
}

// ---- The same FIN captured twice ----
#[test]
fn duplicate_copy_within_1ms() {
    let mut s = established(100, 500);
    s.push(seg(true, 10, FIN | ACK, 101, 501, 0));
    let mut dup = seg(true, 10, FIN | ACK, 101, 501, 0);
    dup.ts_ns += 50_000; // 50 us later
    s.push(dup);
    s.push(seg(true, 210, FIN | ACK, 101, 501, 0)); // a real retransmission
    let c = run(&s);
    let cl = c.client_side().0;
    assert_eq!(c.ep[cl].fin_rtx, 2);
    assert_eq!(c.ep[cl].fin_rtx_fast, 1);
}

#[test]
fn unacked_fin() {
    let mut s = established(100, 500);
    s.push(seg(true, 10, FIN | ACK, 101, 501, 0));
    assert_eq!(run(&s).outcome(), Outcome::FinUnacked);
}

// ---- issue: a stray later FIN must not erase an ACK already seen ----
#[test]
fn stray_fin_after_ack_keeps_the_ack() {
    let mut s = established(100, 500);
    s.push(seg(true, 10, FIN | ACK, 101, 501, 0));
    s.push(seg(false, 60, ACK, 501, 102, 0));
    // A FIN flag on the segment after the FIN (seq = FIN + 1), no data.
    s.push(seg(true, 70, FIN | ACK, 102, 501, 0));
    let c = run(&s);
    let cl = c.client_side().0;
    assert_eq!(c.ep[cl].fin_acked_ts, Some(60_000_000));
    assert_eq!(c.fin_moved, 1);
    assert!(!c.fin_unacked(cl));
    assert_eq!(c.outcome(), Outcome::HalfClosed);
    assert_eq!(c.latencies().fin_ack, Some(50_000));
}

// ---- issue 21 case 5b: a FIN below data its sender already sent ----
#[test]
fn fin_below_sent_data_is_never_acked() {
    // The client sent bytes 101..1101, then a FIN at 601: the server's
    // ACK 1101 covers the data, not that FIN.
    let mut s = established(100, 500);
    s.push(seg(true, 10, ACK | PSH, 101, 501, 1000));
    s.push(seg(true, 20, FIN | ACK, 601, 501, 0));
    s.push(seg(false, 30, ACK, 501, 1101, 0));
    let c = run_to(&s, 100);
    let cl = c.client_side().0;
    assert_eq!(c.ep[cl].fin_acked_ts, None);
    assert_eq!(c.ep[cl].data_end, Some(SeqNum(1101)));
    assert_eq!(c.outcome(), Outcome::FinUnacked);
    assert!(c.fin_unacked(cl));
    // The FIN at the sender's highest sequence is ACKed as before.
    let mut s = established(100, 500);
    s.push(seg(true, 10, ACK | PSH, 101, 501, 1000));
    s.push(seg(true, 20, FIN | ACK, 1101, 501, 0));
    s.push(seg(false, 30, ACK, 501, 1102, 0));
    let c = run_to(&s, 100);
    assert_eq!(c.ep[cl].fin_acked_ts, Some(30_000_000));
    assert_eq!(c.outcome(), Outcome::HalfClosed);
}
