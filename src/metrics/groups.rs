//! `--group-by`: remote peers aggregated into groups, since a service spread
//! over many addresses (a CDN, a server pool) shows its problem only as a
//! whole.
//!
//! - `ip`: each remote address is a peer (the default).
//! - `prefix:N` / `prefix:V4,V6`: remote addresses in one IPv4 /V4 or IPv6
//!   /V6 network form a peer. A single N sets the IPv4 length when N <= 32,
//!   the IPv6 length when 48 <= N <= 128 (prefix:48, prefix:64); the other
//!   family keeps its default (/24, /64). A single N from 33 to 47 is
//!   refused: most likely an IPv4 length past /32 (an IPv6 /40 is
//!   `prefix:24,40`).
//! - `port`: connections to one remote port form a peer.
//!
//! Group figures are exact sums of the member peers' figures
//! ([`PeerStats`]' `AddAssign`), and groups are ranked like peers.

use crate::decode::net::{Cidr, mask};
use crate::flow::table::Retired;
use crate::metrics::Summary;
use crate::metrics::peers::{PeerStats, RankBy, rank};
use rustc_hash::FxHashMap;
use std::net::{IpAddr, Ipv4Addr};

/// How remote peers are grouped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GroupBy {
    Ip,
    Prefix { v4: u8, v6: u8 },
    Port,
}

/// A `--group-by` value that is not one.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("`{input}`: {}", why.unwrap_or("expected ip, port, prefix:N or prefix:V4,V6 (e.g. prefix:24)"))]
pub struct GroupByError {
    pub input: String,
    /// What is wrong, when more is known than "not a grouping".
    pub why: Option<&'static str>,
}

impl std::str::FromStr for GroupBy {
    type Err = GroupByError;
    fn from_str(s: &str) -> Result<GroupBy, GroupByError> {
        let bad = || GroupByError {
            input: s.to_string(),
            why: None,
        };
        let wrong = |why| GroupByError {
            input: s.to_string(),
            why: Some(why),
        };
        match s {
            "ip" => return Ok(GroupBy::Ip),
            "port" => return Ok(GroupBy::Port),
            _ => {}
        }
        let spec = s.strip_prefix("prefix:").ok_or_else(bad)?;
        let nums: Vec<u8> = spec
            .split(',')
            .map(|n| n.trim().parse::<u8>())
            .collect::<Result<_, _>>()
            .map_err(|_| bad())?;
        let (v4, v6) = match nums[..] {
            [n] if n <= 32 => (n, 64),
            [n] if n < 48 => {
                return Err(wrong(
                    "an IPv4 prefix is at most 32; a single N is an IPv6 length from 48 on (prefix:64); an IPv6 length below 48 needs both: prefix:24,N",
                ));
            }
            [n] if n <= 128 => (24, n),
            [a, b] if a <= 32 && b <= 128 => (a, b),
            [a, _] if a > 32 => return Err(wrong("an IPv4 prefix is at most 32")),
            [_, _] => return Err(wrong("an IPv6 prefix is at most 128")),
            [_] => return Err(wrong("a prefix is at most 32 (IPv4) or 128 (IPv6)")),
            _ => return Err(bad()),
        };
        Ok(GroupBy::Prefix { v4, v6 })
    }
}

impl std::fmt::Display for GroupBy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            GroupBy::Ip => write!(f, "ip"),
            GroupBy::Prefix { v4, v6 } => write!(f, "prefix:{v4},{v6}"),
            GroupBy::Port => write!(f, "port"),
        }
    }
}

impl GroupBy {
    /// True when grouping needs every finished connection ([`PortGroups`]).
    pub fn needs_flows(self) -> bool {
        self == GroupBy::Port
    }

    fn network(self, ip: IpAddr) -> Cidr {
        let prefix = match (self, ip) {
            (GroupBy::Prefix { v4, .. }, IpAddr::V4(_)) => v4,
            (GroupBy::Prefix { v6, .. }, IpAddr::V6(_)) => v6,
            (_, IpAddr::V4(_)) => 32,
            (_, IpAddr::V6(_)) => 128,
        };
        Cidr {
            addr: mask(ip, prefix),
            prefix,
        }
    }
}

/// One ranked group: its label (`198.51.100.0/24`, `port 443`), its
/// figures (exact sums of its members'), how many members it has, and up
/// to `MEMBERS_SHOWN` (5) of them, worst first.
#[derive(Clone, Debug)]
pub struct GroupRow {
    pub label: String,
    pub stats: PeerStats,
    pub members: u64,
    pub worst_members: Vec<String>,
}

/// Members listed per group.
const MEMBERS_SHOWN: usize = 5;

/// `--group-by port` figures, gathered while the capture is read (a
/// `pipeline::FlowSink`): per (remote port, remote address), the peer figures of
/// its connections. Memory grows with the distinct (port, address) pairs,
/// not with the number of connections, up to the budget
/// ([`PortGroups::with_budget`]): past it, the lowest ranked pairs are
/// folded into their port's "others" member (address 0.0.0.0), so that
/// each port's figures stay exact. Each shard of a run gathers its own
/// (`ShardMetrics`), merged at the end ([`PortGroups::absorb`]).
#[derive(Debug)]
pub struct PortGroups {
    pairs: FxHashMap<(u16, IpAddr), PeerStats>,
    /// Reused to compute one connection's peer figures exactly as
    /// [`Summary::add_conn`] does; renewed now and then so that its other
    /// figures do not grow.
    scratch: Summary,
    folded: u64,
    /// Most pairs held before the lowest ranked half is folded.
    cap: usize,
    /// Pairs folded into their port's others member so far.
    pub pairs_folded: u64,
}

impl Default for PortGroups {
    fn default() -> PortGroups {
        PortGroups {
            pairs: FxHashMap::default(),
            scratch: Summary::default(),
            folded: 0,
            cap: usize::MAX,
            pairs_folded: 0,
        }
    }
}

/// The address of a port's "others" member: the pairs folded past the
/// budget.
pub const OTHERS: IpAddr = IpAddr::V4(Ipv4Addr::UNSPECIFIED);

impl PortGroups {
    /// Holds at most about `bytes` of pairs.
    pub fn with_budget(bytes: u64) -> PortGroups {
        let per = crate::metrics::peers::peer_bytes() + 4;
        PortGroups {
            cap: usize::try_from(bytes / per).unwrap_or(usize::MAX).max(2),
            ..PortGroups::default()
        }
    }

    /// Folds every pair past the `keep` best ranked (problems, then the
    /// peers' tie-breaks, then port and address) into its port's others
    /// member; the figures of every port stay exact.
    pub fn fold(&mut self, keep: usize) {
        if self.pairs.len() <= keep {
            return;
        }
        let score = |p: &PeerStats| p.counts.fin_retransmissions + p.counts.unacked_fins;
        let mut keys: Vec<(u16, IpAddr)> = (self.pairs.keys())
            .filter(|(_, ip)| *ip != OTHERS)
            .copied()
            .collect();
        keys.sort_by(|a, b| {
            let (pa, pb) = (&self.pairs[a], &self.pairs[b]);
            score(pb)
                .cmp(&score(pa))
                .then_with(|| pb.fin_ack.max().cmp(&pa.fin_ack.max()))
                .then_with(|| pb.counts.connections.cmp(&pa.counts.connections))
                .then_with(|| a.cmp(b))
        });
        for k in keys.into_iter().skip(keep) {
            if let Some(ps) = self.pairs.remove(&k) {
                let o = self.pairs.entry((k.0, OTHERS)).or_default();
                *o += &ps;
                o.worst = None;
                self.pairs_folded += 1;
            }
        }
        self.pairs.shrink_to_fit();
    }

    /// Folds one finished connection in.
    pub fn add(&mut self, r: &Retired) {
        if self.folded.is_multiple_of(4096) {
            self.scratch = Summary::default();
        }
        self.folded += 1;
        let (ip, port) = r.conn.key.endpoint(r.local.other());
        self.scratch.peers.clear();
        self.scratch.add_conn(&r.conn, r.local, r.end_ts, r.open);
        let pair = self.pairs.entry((port, ip)).or_default();
        for ps in self.scratch.peers.values() {
            *pair += ps;
        }
        if self.pairs.len() > self.cap {
            self.fold(self.cap / 2);
        }
    }
}

impl PortGroups {
    /// The figures per (remote port, remote address), in no order.
    pub fn pairs(&self) -> impl Iterator<Item = (u16, IpAddr, &PeerStats)> {
        self.pairs.iter().map(|((port, ip), ps)| (*port, *ip, ps))
    }

    /// Adds the figures of a (remote port, remote address) pair: how the
    /// groups of several reports are merged (`finscope merge`).
    pub fn add_pair(&mut self, port: u16, ip: IpAddr, ps: &PeerStats) {
        *self.pairs.entry((port, ip)).or_default() += ps;
    }

    /// Adds another shard's pairs (and the count of those it folded): a
    /// pair in both adds up, and so does each port's others member.
    pub fn absorb(&mut self, o: &PortGroups) {
        for ((port, ip), ps) in &o.pairs {
            let pair = self.pairs.entry((*port, *ip)).or_default();
            *pair += ps;
            if *ip == OTHERS {
                pair.worst = None;
            }
        }
        self.pairs_folded += o.pairs_folded;
    }
}

/// Groups of one analysis, ranked: the peer rows (at most `top`) and the
/// number of groups. `None` for [`GroupBy::Ip`] (the report's own peers).
/// [`GroupBy::Port`] needs `ports`, filled by the pipeline
/// (the pipeline hands it every finished connection).
pub fn peers(
    s: &Summary,
    by: GroupBy,
    rank_by: RankBy,
    top: usize,
    ports: Option<&PortGroups>,
) -> Option<(Vec<GroupRow>, u64)> {
    // Groups are keyed by an address so that they rank with the peers'
    // own ordering (ties broken by address ascending). Ports map to
    // 0.0.x.y, i.e. ascending port order.
    type Group<'a> = (PeerStats, Vec<(IpAddr, &'a PeerStats)>);
    let mut groups: FxHashMap<IpAddr, Group> = FxHashMap::default();
    let mut labels: FxHashMap<IpAddr, String> = FxHashMap::default();
    match by {
        GroupBy::Ip => return None,
        GroupBy::Prefix { .. } => {
            for (ip, ps) in &s.peers {
                let net = by.network(*ip);
                let g = groups.entry(net.addr).or_default();
                g.0 += ps;
                g.1.push((*ip, ps));
                labels.entry(net.addr).or_insert_with(|| net.to_string());
            }
        }
        GroupBy::Port => {
            for ((port, ip), ps) in ports.map(|p| &p.pairs).into_iter().flatten() {
                let key = IpAddr::V4(Ipv4Addr::from(u32::from(*port)));
                let g = groups.entry(key).or_default();
                g.0 += ps;
                g.1.push((*ip, ps));
                labels.entry(key).or_insert_with(|| format!("port {port}"));
            }
        }
    }
    let total = groups.len() as u64;
    let stats: FxHashMap<IpAddr, &PeerStats> = groups.iter().map(|(k, g)| (*k, &g.0)).collect();
    let rows = rank(stats.iter().map(|(k, ps)| (k, *ps)), rank_by)
        .into_iter()
        .take(top)
        .map(|(k, ps)| {
            let members = groups.get(&k).map(|g| g.1.as_slice()).unwrap_or_default();
            GroupRow {
                label: labels.get(&k).cloned().unwrap_or_default(),
                stats: ps.clone(),
                members: members.len() as u64,
                worst_members: rank(members.iter().map(|(ip, ps)| (ip, *ps)), rank_by)
                    .into_iter()
                    .take(MEMBERS_SHOWN)
                    .map(|(ip, _)| {
                        if by == GroupBy::Port && ip == OTHERS {
                            "others".to_string()
                        } else {
                            ip.to_string()
                        }
                    })
                    .collect(),
            }
        })
        .collect();
    Some((rows, total))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_masks() {
        assert_eq!("ip".parse(), Ok(GroupBy::Ip));
        assert_eq!("port".parse(), Ok(GroupBy::Port));
        assert_eq!("prefix:24".parse(), Ok(GroupBy::Prefix { v4: 24, v6: 64 }));
        assert_eq!("prefix:48".parse(), Ok(GroupBy::Prefix { v4: 24, v6: 48 }));
        assert_eq!(
            "prefix:16,56".parse(),
            Ok(GroupBy::Prefix { v4: 16, v6: 56 })
        );
        assert!("prefix:129".parse::<GroupBy>().is_err());
        assert!("prefix:33".parse::<GroupBy>().is_err());
        assert!("prefix:47".parse::<GroupBy>().is_err());
        assert!("prefix:33,64".parse::<GroupBy>().is_err());
        assert_eq!(
            "prefix:24,40".parse(),
            Ok(GroupBy::Prefix { v4: 24, v6: 40 })
        );
        assert!("prefix:".parse::<GroupBy>().is_err());
        assert!("asn".parse::<GroupBy>().is_err());
        let g = GroupBy::Prefix { v4: 24, v6: 64 };
        assert_eq!(
            g.network("192.0.2.77".parse().unwrap()).to_string(),
            "192.0.2.0/24"
        );
        assert_eq!(
            g.network("2001:db8:1:2:3::9".parse().unwrap()).to_string(),
            "2001:db8:1:2::/64"
        );
    }
}
