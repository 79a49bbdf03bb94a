//! Tests of the remedies (`remedies.rs`), kept beside it (the 700-line bound).
use super::*;
use crate::metrics::replay::End;
use crate::metrics::replay::tests::life;

const MS: u64 = 1_000_000;

/// Resets at close while the orphan count climbs from 0 to 300: no
/// plateau, so no limit is named; memory pressure is.
#[test]
fn resets_without_a_plateau_are_memory_pressure() {
    let mut s = Summary::default();
    for i in 0..300u64 {
        s.lives.add_life(life(i * 100, 100_000, End::Acked));
        if i % 10 == 0 {
            s.lives.add_life(life(i * 100 + 1, 0, End::ResetAtClose));
        }
    }
    s.packets.last_ts = Some(200_000 * MS);
    let r = remedies(&s, &[], 2);
    assert!(r.limit().is_none());
    let p = r.pressure().expect("pressure");
    assert_eq!(p.resets, 30);
    assert!(orphan_limit_hit(&r, &s).is_none());
    let f = orphans_reset_memory_pressure(&r).expect("finding");
    assert!(f.finding.contains("tcp_mem"), "{}", f.finding);
}

/// The standard `worst_peers_fixed` row reuses the five worst peers
/// instead of a second pass: fewer worst peers are their prefix.
#[test]
fn fewer_worst_peers_are_a_prefix_of_the_five() {
    let mut s = Summary::default();
    for p in 1..=8u64 {
        for i in 0..20u64 {
            let mut l = life(p * 10_000 + i * 100, 300 * p, End::Acked);
            l.peer = format!("192.0.2.{p}").parse().unwrap();
            s.lives.add_life(l);
        }
    }
    s.packets.last_ts = Some(200_000 * MS);
    let tl = &s.timeline;
    let replay = Replay::new(
        &s.lives,
        tl.cfg.bucket_ns,
        tl.cfg.time_wait_ns,
        200_000 * MS,
    );
    let five = replay.worst_peers(WORST_PEERS);
    assert_eq!(five.len(), 5, "{five:?}");
    assert_eq!(five[0].to_string(), "192.0.2.8");
    for n in 1..=WORST_PEERS {
        assert_eq!(replay.worst_peers(n), five[..n]);
    }
    let r = remedies(&s, &[WhatIf::WorstPeersFixed(3)], 2);
    assert_eq!(
        r.worst,
        [
            "192.0.2.8",
            "192.0.2.7",
            "192.0.2.6",
            "192.0.2.5",
            "192.0.2.4"
        ]
    );
}

#[test]
fn what_if_values() {
    assert_eq!(
        parse_what_if("tcp_max_orphans=1024"),
        Ok(WhatIf::MaxOrphans(1024))
    );
    assert_eq!(
        parse_what_if("net.ipv4.tcp_orphan_retries=2"),
        Ok(WhatIf::OrphanRetries(2))
    );
    assert_eq!(
        parse_what_if("tcp_fin_timeout=1s"),
        Ok(WhatIf::FinTimeout(1))
    );
    assert!(parse_what_if("tcp_fin_timeout=0.5").is_err());
    assert!(parse_what_if("tcp_orphan_retries=256").is_err());
    assert!(parse_what_if("tcp_rmem=1").is_err());
    assert!(parse_what_if("tcp_max_orphans").is_err());
    assert!(parse_what_if("worst_peers_fixed=0").is_err());
}
