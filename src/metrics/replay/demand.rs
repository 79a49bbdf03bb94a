//! The demand rebuilt from the lives (`Replay::new`): the lives in one
//! order, their peers numbered, the per-peer lists a reset or killed
//! life's length is drawn from, and each life's demand.

use super::by_peer::ByPeer;
use super::{Demand, Replay, draw, ends_later, median, unit};
use crate::flow::state::RTO_MIN_NS;
use crate::metrics::replay::{End, Life, Lives};
use rustc_hash::FxHashMap;
use std::net::IpAddr;

/// Lives copied at a time in `Replay::new` (about 90 KB).
const BLOCK: usize = 1024;

impl Replay {
    /// Rebuilds the demand from the lives: a life the kernel ended (reset,
    /// killed) gets the length of an ACKed close of the same peer that
    /// lasted at least as long as it was seen (else of any peer; else it
    /// stays open to the end of observation).
    pub fn new(lives: &Lives, bucket_ns: u64, time_wait_ns: u64, end_ns: u64) -> Replay {
        // The lives' order (a sort) and their peers (indexed, and the
        // per-peer lists) are independent: both at once on a pool of two
        // threads or more (the report's, `commands::build_report`).
        let (order, lists) = both(|| order_of(lives), || PeerLists::of(lives));
        let (peer_of, acked, acked_all) = (&lists.peer_of, &lists.acked, &lists.acked_all);
        let (fw2_by_peer, rto_by_peer, rto_all) =
            (&lists.fw2_by_peer, &lists.rto_by_peer, &lists.rto_all);
        let rto_default = median(rto_all).unwrap_or(RTO_MIN_NS);
        // Each life's demand and peer, in `order`: a part of it at a time.
        let rebuild = |part: &[u32]| {
            let mut demand = Vec::with_capacity(part.len());
            let mut peers = Vec::with_capacity(part.len());
            // The lives in sorted order, copied a block at a time (loads
            // independent of each other, many in flight: the lives are in
            // memory in the order they ended, not by start) and then rebuilt
            // from the block.
            let mut block: Vec<(Life, u32)> = Vec::with_capacity(BLOCK);
            for chunk in part.chunks(BLOCK) {
                block.clear();
                block.extend(chunk.iter().filter_map(|&i| {
                    Some((lives.life_at(i as usize)?, *peer_of.get(i as usize)?))
                }));
                for &(l, p) in &block {
                    let d = if l.first_rto > 0 {
                        l.first_rto
                    } else {
                        median(rto_by_peer.get(p)).unwrap_or(rto_default)
                    };
                    let u = unit(l.t0, 1);
                    let (len, open, fw2) = match l.end {
                        End::Acked => (l.len, false, l.fw2),
                        End::PeerReset => (l.len, false, None),
                        End::Open => (l.len, true, None),
                        End::ResetAtClose | End::ResetLater | End::Killed => {
                            // Its peer's ACKed closes that lasted as long;
                            // else the peer's late reply (an upper bound when
                            // it is the peer's own FIN); else any peer's.
                            let own = draw(acked.get(p), l.len, u);
                            let rebuilt = own
                                .or(l.late.filter(|t| *t >= l.len))
                                .or_else(|| draw(acked_all, l.len, u));
                            let fw2 = (!l.passive).then(|| median(fw2_by_peer.get(p)).unwrap_or(0));
                            match rebuilt {
                                Some(len) => (len, false, fw2),
                                None => (end_ns.saturating_sub(l.t0), true, None),
                            }
                        }
                    };
                    demand.push(Demand {
                        t0: l.t0,
                        len,
                        fw2: fw2.unwrap_or(0),
                        d: d.max(1),
                        has_fw2: fw2.is_some(),
                        passive: l.passive,
                        tlp: l.tlp,
                        open,
                    });
                    peers.push(p);
                }
            }
            (demand, peers)
        };
        // On the pool, a part per thread, the parts' lists then joined.
        let (demand, peers) = match pool_threads() {
            0 => rebuild(&order),
            n => {
                use rayon::prelude::*;
                let parts: Vec<_> = order
                    .par_chunks(order.len().div_ceil(n).max(1))
                    .map(rebuild)
                    .collect();
                let (mut demand, mut peers) = (
                    Vec::with_capacity(order.len()),
                    Vec::with_capacity(order.len()),
                );
                for (d, p) in parts {
                    demand.extend(d);
                    peers.extend(p);
                }
                (demand, peers)
            }
        };
        // In the order of `run`'s keys of kind 0 (an orphan end): by time,
        // then by life.
        let mut orphan_ends: Vec<u128> = demand
            .iter()
            .enumerate()
            .filter_map(|(i, d)| Some((u128::from(ends_later(d.t0, d.len)?) << 64) | i as u128))
            .collect();
        sort_keys(&mut orphan_ends);
        let orphan_ends = orphan_ends.into_iter().map(|k| k as u32).collect();
        Replay {
            orphan_ends,
            demand,
            peers,
            peer_list: lists.peer_list,
            weight: lives.weight(),
            bucket_ns: bucket_ns.max(1),
            time_wait_ns,
            end_ns,
            acked: lists.acked,
            acked_all: lists.acked_all,
        }
    }
}

/// The lives' indices in one order whatever the threads that gathered
/// them: sorted (stable) through their indices, not copied.
fn order_of(lives: &Lives) -> Vec<u32> {
    // By start time then index, packed in one u128 (sorted without
    // reading a life); equal start times (rare) then by the rest of
    // the life, the index last: the stable order, by unstable sorts.
    let mut keys: Vec<u128> = lives
        .starts()
        .enumerate()
        .map(|(i, t0)| (u128::from(t0) << 64) | i as u128)
        .collect();
    sort_keys(&mut keys);
    let mut a = 0;
    while a < keys.len() {
        let t = keys[a] >> 64;
        let z = a + keys[a..].iter().take_while(|k| *k >> 64 == t).count();
        if z - a > 1 {
            keys[a..z].sort_unstable_by_key(|k| {
                let l = lives.life_at(*k as u32 as usize);
                (
                    l.map(|l| (l.len, l.peer, l.first_rto, l.passive)),
                    *k as u32,
                )
            });
        }
        a = z;
    }
    keys.into_iter().map(|k| k as u32).collect()
}

/// Each life's peer index, the peers by index, and the per-peer lists of
/// ACKed lengths, FIN-WAIT-2 times and first RTOs, with all peers' ACKed
/// lengths and first RTOs sorted.
struct PeerLists {
    peer_of: Vec<u32>,
    peer_list: Vec<IpAddr>,
    acked: ByPeer,
    fw2_by_peer: ByPeer,
    rto_by_peer: ByPeer,
    acked_all: Vec<u64>,
    rto_all: Vec<u64>,
}

impl PeerLists {
    fn of(lives: &Lives) -> PeerLists {
        // The peers by index, in the lives' own order of first appearance
        // (a pass in memory order; no result depends on the numbering):
        // one lookup a life; each kept life's peer index.
        let mut peer_of = Vec::with_capacity(lives.len());
        let mut peer_list = Vec::new();
        let mut peer_ix: FxHashMap<IpAddr, u32> = FxHashMap::default();
        for peer in lives.iter().map(|l| l.peer) {
            let next = peer_list.len() as u32;
            let ix = *peer_ix.entry(peer).or_insert(next);
            if ix == next {
                peer_list.push(peer);
            }
            peer_of.push(ix);
        }
        drop(peer_ix);
        // ACKed lengths, FIN-WAIT-2 times and first RTOs by peer: counted,
        // then placed, in the lives' own order (each group is sorted).
        let np = peer_list.len();
        let (mut acked, mut fw2_by_peer, mut rto_by_peer) = (
            ByPeer::counting(np),
            ByPeer::counting(np),
            ByPeer::counting(np),
        );
        for (l, &p) in lives.iter().zip(&peer_of) {
            if l.end == End::Acked {
                acked.count(p);
                if l.fw2.is_some() {
                    fw2_by_peer.count(p);
                }
            }
            if l.first_rto > 0 {
                rto_by_peer.count(p);
            }
        }
        acked.counted();
        fw2_by_peer.counted();
        rto_by_peer.counted();
        for (l, &p) in lives.iter().zip(&peer_of) {
            if l.end == End::Acked {
                acked.place(p, l.len);
                if let Some(f) = l.fw2 {
                    fw2_by_peer.place(p, f);
                }
            }
            if l.first_rto > 0 {
                rto_by_peer.place(p, l.first_rto);
            }
        }
        acked.done();
        fw2_by_peer.done();
        rto_by_peer.done();
        let mut acked_all = acked.all().to_vec();
        let mut rto_all = rto_by_peer.all().to_vec();
        acked_all.sort_unstable();
        rto_all.sort_unstable();
        PeerLists {
            peer_of,
            peer_list,
            acked,
            fw2_by_peer,
            rto_by_peer,
            acked_all,
            rto_all,
        }
    }
}

/// `a` and `b`, at once when the calling thread is one of a pool of two or
/// more (rayon's), else one after the other (-j1: one thread, never
/// rayon's global pool).
fn both<A: Send, B: Send>(a: impl FnOnce() -> A + Send, b: impl FnOnce() -> B + Send) -> (A, B) {
    if pool_threads() > 0 {
        rayon::join(a, b)
    } else {
        (a(), b())
    }
}

/// Sorts `keys` (distinct), on the pool when the calling thread is one of
/// two or more.
fn sort_keys(keys: &mut [u128]) {
    use rayon::slice::ParallelSliceMut;
    if pool_threads() > 0 {
        keys.par_sort_unstable();
    } else {
        keys.sort_unstable();
    }
}

/// The threads of the rayon pool the calling thread is one of, when two or
/// more; else 0 (-j1: one thread, never rayon's global pool).
fn pool_threads() -> usize {
    match rayon::current_thread_index() {
        Some(_) if rayon::current_num_threads() > 1 => rayon::current_num_threads(),
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::replay::tests::life;

    /// The demand rebuilt on a pool of three threads (the sort and the
    /// peers at once, the lives in parts) is the one rebuilt on one
    /// thread: same order (equal start times too), demand, peers and
    /// orphan ends, with several peers and every way a life ends.
    #[test]
    fn the_pool_rebuilds_the_demand_a_thread_does() {
        let list: Vec<Life> = (0..20_000u64)
            .map(|i| {
                let mut l = life(i * 7 % 5_003, 1 + i * 13 % 900, End::ALL[(i % 6) as usize]);
                l.peer = std::net::IpAddr::from([192, 0, 2, (i % 37) as u8]);
                l.first_rto = if i % 5 == 0 { 0 } else { i % 300 * 1_000_000 };
                l.passive = i % 11 == 0;
                l
            })
            .collect();
        let lives = Lives::of(list, 0);
        let one = Replay::new(&lives, 100_000_000, 60_000_000_000, 6_000_000_000);
        assert_eq!(pool_threads(), 0);
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(3)
            .build()
            .unwrap();
        let on_pool = pool.install(|| {
            assert_eq!(pool_threads(), 3);
            Replay::new(&lives, 100_000_000, 60_000_000_000, 6_000_000_000)
        });
        assert_eq!(format!("{one:?}"), format!("{on_pool:?}"));
        assert_eq!(one.demand.len(), 20_000);
        assert!(one.demand.windows(2).all(|w| w[0].t0 <= w[1].t0));
    }
}
