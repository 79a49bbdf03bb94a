//! The encoder of the report's `mergeable` object: what merging needs of a
//! [`Summary`] beyond the report built from it (the types are
//! `report::schema::mergeable`; the way back is `report::unbuild`).

use crate::metrics::hist::CompactHist;
use crate::metrics::timeline::Series;
use crate::metrics::{Hist, PeerStats, Summary};
use crate::report::schema::mergeable::{
    CompactParts, HistParts, KernelParts, MERGEABLE_VERSION, Mergeable, OutsideBucket, PeerParts,
    TimelineParts, WorstParts,
};
use crate::report::timeline::outside;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use std::net::{IpAddr, SocketAddr};

impl HistParts {
    pub fn of(h: &Hist) -> HistParts {
        HistParts {
            count: h.count(),
            min_us: h.min(),
            max_us: h.max(),
            hdr_v2: h.to_v2().map(|b| BASE64.encode(b)),
        }
    }
}

/// A compact histogram's parts (also the FIN evidence's).
pub(super) fn compact_parts(h: &CompactHist) -> CompactParts {
    CompactParts::of(h)
}

impl CompactParts {
    fn of(h: &CompactHist) -> CompactParts {
        CompactParts {
            count: h.count(),
            min_us: h.min(),
            max_us: h.max(),
            buckets: h
                .buckets()
                .iter()
                .map(|(i, n)| format!("{i}:{n}"))
                .collect::<Vec<_>>()
                .join(" "),
        }
    }
}

impl PeerParts {
    fn of(port: Option<u16>, addr: IpAddr, p: &PeerStats) -> PeerParts {
        PeerParts {
            port,
            addr,
            counts: p.counts,
            fin_wait_1_ns: p.fin_wait_1_ns,
            fin_ack: CompactParts::of(&p.fin_ack),
            worst: p.worst.map(|w| WorstParts {
                score: w.score,
                latency_us: w.latency_us,
                first_ts_ns: w.first_ts,
                first_frame: w.first_frame,
                last_frame: w.last_frame,
                local: SocketAddr::from(w.key.endpoint(w.local)),
                remote_port: w.key.endpoint(w.local.other()).1,
                vlan: w.key.vlan,
                input: w.input,
            }),
            fin_delay: Some(crate::report::schema::fin_delay::FinDelayParts::of(
                &p.fin_delay,
            )),
        }
    }
}

impl Mergeable {
    /// What merging needs of `s`, beyond the report built from it.
    /// `what_if`: the analysis ran `--orphan-retries`; `max_buckets`: the
    /// report's timeline rule ([`crate::report::timeline::build`]).
    pub fn of(s: &Summary, what_if: bool, max_buckets: u64) -> Mergeable {
        let latency = s.latency.map(|_, h| h.map(|_, h| HistParts::of(h)));
        // The what-if series are kept only with the what-if; without it
        // they equal FIN-WAIT-1 and orphans.
        let kept = |x: &Series| what_if || !x.is_what_if();
        let outside = outside(&s.timeline, &s.packets, max_buckets)
            .into_iter()
            .map(|(bucket, d)| OutsideBucket {
                bucket,
                deltas: (Series::ALL.into_iter().filter(kept))
                    .filter(|x| d[x.index()] != 0)
                    .map(|x| (x.name().to_string(), d[x.index()]))
                    .collect(),
            })
            .filter(|b| !b.deltas.is_empty())
            .collect();
        let mut peers: Vec<PeerParts> = s
            .peers
            .iter()
            .map(|(addr, p)| PeerParts::of(None, *addr, p))
            .collect();
        peers.sort_by_key(|p| p.addr);
        let k = &s.kernel;
        Mergeable {
            version: MERGEABLE_VERSION,
            latency,
            unacked_fin_age: HistParts::of(&s.unacked_fin_age),
            local_fins: s.local_fins,
            kernel: KernelParts {
                killed_ranges: k
                    .killed_ranges
                    .iter()
                    .map(|((lo, hi), n)| (*lo, *hi, *n))
                    .collect(),
                fin_wait_2_survived_max_us: k.fin_wait_2_survived_max_us,
                fin_wait_2_gone_min_us: k.fin_wait_2_gone_min_us,
                first_rto_us: HistParts::of(&k.first_rto_us),
            },
            timeline: TimelineParts {
                fin_timeout_ns: s.timeline.cfg.fin_timeout_ns,
                state_time_ns: (Series::ALL.into_iter())
                    .filter(|x| !x.is_what_if())
                    .map(|x| (x.name().to_string(), s.timeline.state_ns[x.index()]))
                    .collect(),
                outside,
            },
            peers,
            port_peers: Vec::new(),
            peers_others: (s.peers_others.folded > 0).then(|| {
                let any = IpAddr::from([0, 0, 0, 0]);
                PeerParts::of(None, any, &s.peers_others.stats)
            }),
            peers_folded: s.peers_others.folded,
            port_pairs_folded: 0,
        }
    }

    /// Sets `port_peers` from `(remote port, remote address, figures)`.
    pub fn set_port_peers<'a>(
        &mut self,
        pairs: impl Iterator<Item = (u16, IpAddr, &'a PeerStats)>,
    ) {
        let mut v: Vec<PeerParts> = pairs
            .map(|(port, ip, ps)| PeerParts::of(Some(port), ip, ps))
            .collect();
        v.sort_by_key(|p| (p.port, p.addr));
        self.port_peers = v;
    }
}
