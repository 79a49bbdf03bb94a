//! Arbitrary local closes (`finscope::metrics::replay::Life`) through the
//! remedies' counterfactual replay, `Replay::new(...).run(&Setting)`.
//!
//! Input: byte 0 picks the bucket width, TIME-WAIT length and end of
//! observation; byte 1 the setting (tcp_fin_timeout, tcp_orphan_retries,
//! tcp_max_tw_buckets, a fixed peer, the sampling halvings); byte 2 the
//! tcp_max_orphans limit; byte 3 the first FIN's time (including near
//! 2^64, as pcapng can give); then 8 bytes per life: peer, time step (may
//! go back: lives come in retire order), orphan length, how it ended,
//! passive or not, FIN-WAIT-2 length, first RTO, tail-loss probe, a late
//! reply.
//!
//! Checked: common/replay_checks.rs.
#![no_main]

use finscope::metrics::replay::{End, Life, Lives, Setting};
use libfuzzer_sys::fuzz_target;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

#[path = "common/replay_checks.rs"]
mod replay_checks;

const MS: u64 = 1_000_000;
const SEC: u64 = 1_000_000_000;

fn scaled(class: u8, v: u8) -> u64 {
    let v = u64::from(v);
    match class & 3 {
        0 => v * MS,
        1 => v * 10 * MS,
        2 => v * SEC,
        _ => v * 100 * SEC,
    }
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 4 {
        return;
    }
    let (c0, c1, c2, c3) = (data[0], data[1], data[2], data[3]);
    let bucket_ns = [MS, 100 * MS, SEC, 8 * MS, 1, 60 * SEC, 0, u64::MAX / 3][usize::from(c0 & 7)];
    let time_wait_ns = [60 * SEC, 0, SEC, 120 * SEC][usize::from((c0 >> 3) & 3)];
    let base = [
        1_700_000_000 * SEC,
        0,
        u64::MAX - 1_000 * SEC,
        u64::MAX - 50 * MS,
    ][usize::from(c3 & 3)];
    let peers: [IpAddr; 4] = [
        IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)),
        IpAddr::V4(Ipv4Addr::new(192, 0, 2, 2)),
        IpAddr::V4(Ipv4Addr::new(198, 51, 100, 7)),
        IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1)),
    ];
    let mut lives = Lives::default();
    let mut t = base;
    let mut last_end = base;
    for op in data[4..].chunks_exact(8) {
        let [p, g, lc, lv, e, f, r, x] = [op[0], op[1], op[2], op[3], op[4], op[5], op[6], op[7]];
        let step = scaled(g >> 6, g & 0x3f);
        t = if p & 0x80 != 0 {
            t.saturating_sub(step)
        } else {
            t.saturating_add(step)
        };
        let len = scaled(lc, lv);
        // Every end, then Acked twice more (the commonest).
        let end = End::ALL
            .get(usize::from(e & 7))
            .copied()
            .unwrap_or(End::Acked);
        let fw2 = (f & 0x80 != 0).then(|| scaled(f >> 5, f & 0x1f));
        let first_rto = if r & 0x80 != 0 {
            0
        } else {
            u64::from(r & 0x7f) * 10 * MS
        };
        last_end = last_end.max(t.saturating_add(len));
        lives.add_life(Life {
            peer: peers[usize::from(p & 3)],
            t0: t,
            len,
            end,
            passive: e & 0x08 != 0,
            fw2,
            first_rto,
            tlp: e & 0x10 != 0,
            late: (x & 0x80 != 0).then(|| scaled(x >> 5, x & 0x1f)),
        });
    }
    lives.halvings = u32::from((c1 >> 6) & 1);
    let end_ns = match (c0 >> 5) & 7 {
        0 | 1 => last_end,
        2 => t,
        3 => u64::MAX,
        4 => base,
        5 => last_end.saturating_add(scaled(c2, c2)),
        6 => 0,
        _ => last_end / 2 + t / 2,
    };
    let setting = Setting {
        max_orphans: None,
        orphan_retries: (c1 & 0x08 != 0).then_some(u32::from(c1 & 7)),
        fin_timeout_ns: [60 * SEC, SEC, 120 * SEC, 0][usize::from((c1 >> 4) & 3)],
        max_tw_buckets: (c1 & 0x80 != 0).then_some(u64::from(c2 >> 4)),
        fixed_peers: if c3 & 0x04 != 0 {
            vec![peers[usize::from((c3 >> 3) & 3)]]
        } else {
            Vec::new()
        },
    };
    let limit = u64::from(c2 & 0x0f);
    replay_checks::check(&lives, bucket_ns, time_wait_ns, end_ns, &setting, limit);
});
