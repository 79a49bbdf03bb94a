//! The limit that was hit and what each remedy would do: the report's
//! `inferred_tunables.tcp_max_orphans`, `demand`, `remedies[]` and the
//! `orphan_limit_hit` finding, from the counterfactual replay
//! ([`crate::metrics::replay`]; method and measured error in
//! docs/diagnosis.md, "Remedies").

use super::format::{dur, thousands, utc};
use super::schema::{Demand, Finding, LivesSampled, MaxOrphans, Predicted, Remedy};
use crate::metrics::Summary;
use crate::metrics::replay::{LimitEstimate, Prediction, Replay, Setting};
use std::net::IpAddr;

/// A what-if the user asked for (`--what-if KEY=VALUE`, `--max-orphans`,
/// `--orphan-retries`, `--max-tw-buckets`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WhatIf {
    MaxOrphans(u64),
    OrphanRetries(u32),
    /// Seconds.
    FinTimeout(u64),
    MaxTwBuckets(u64),
    /// The N worst peers' FINs ACKed like the other peers'.
    WorstPeersFixed(u32),
}

impl WhatIf {
    /// The sysctl name (without `net.ipv4.`) and value.
    pub fn key_value(self) -> (&'static str, u64) {
        match self {
            WhatIf::MaxOrphans(v) => ("tcp_max_orphans", v),
            WhatIf::OrphanRetries(v) => ("tcp_orphan_retries", u64::from(v)),
            WhatIf::FinTimeout(v) => ("tcp_fin_timeout", v),
            WhatIf::MaxTwBuckets(v) => ("tcp_max_tw_buckets", v),
            WhatIf::WorstPeersFixed(v) => ("worst_peers_fixed", u64::from(v)),
        }
    }
}

/// Parses `KEY=VALUE` (`tcp_max_orphans=1024`, also with `net.ipv4.`).
pub fn parse_what_if(s: &str) -> Result<WhatIf, String> {
    let (k, v) = s
        .split_once('=')
        .ok_or_else(|| format!("`{s}`: expected KEY=VALUE, e.g. tcp_max_orphans=1024"))?;
    let k = k.trim();
    let k = k.strip_prefix("net.ipv4.").unwrap_or(k);
    let v = v.trim();
    let num = |what: &str| -> Result<u64, String> {
        v.parse::<u64>()
            .map_err(|_| format!("`{s}`: {k} takes {what}"))
    };
    match k {
        "tcp_max_orphans" => Ok(WhatIf::MaxOrphans(num("a count")?)),
        "tcp_orphan_retries" => {
            let n = num("a count from 0 to 255 (0 means 8)")?;
            u32::try_from(n)
                .ok()
                .filter(|n| *n <= 255)
                .map(WhatIf::OrphanRetries)
                .ok_or_else(|| format!("`{s}`: tcp_orphan_retries is 0 to 255 (0 means 8)"))
        }
        "tcp_fin_timeout" => {
            let t = v.strip_suffix('s').unwrap_or(v);
            t.parse::<u64>()
                .map(WhatIf::FinTimeout)
                .map_err(|_| format!("`{s}`: tcp_fin_timeout takes whole seconds"))
        }
        "tcp_max_tw_buckets" => Ok(WhatIf::MaxTwBuckets(num("a count")?)),
        "worst_peers_fixed" => {
            let n = num("a number of peers")?;
            u32::try_from(n)
                .ok()
                .filter(|n| (1..=1000).contains(n))
                .map(WhatIf::WorstPeersFixed)
                .ok_or_else(|| format!("`{s}`: worst_peers_fixed is 1 to 1000 peers"))
        }
        _ => Err(format!(
            "`{s}`: unknown setting `{k}`: tcp_max_orphans, tcp_orphan_retries, tcp_fin_timeout, tcp_max_tw_buckets or worst_peers_fixed"
        )),
    }
}

/// How many worst peers the standard row fixes.
pub const WORST_PEERS: usize = 5;

/// What the replay gives the report.
#[derive(Clone, Debug, Default)]
pub struct Remedies {
    /// The orphan limit estimated from the kernel's resets (enough of
    /// them to judge): [`Remedies::limit`] or [`Remedies::pressure`].
    pub estimate: Option<LimitEstimate>,
    pub demand: Option<Demand>,
    pub rows: Vec<Remedy>,
    /// The peers the `worst_peers_fixed` rows fix, worst first.
    pub worst: Vec<String>,
}

fn predicted(p: Prediction) -> Predicted {
    Predicted {
        fin_wait_1_peak: p.fin_wait_1_peak,
        orphans_peak: p.orphans_peak,
        time_wait_peak: p.time_wait_peak,
        orphan_resets: p.orphan_resets,
        orphans_killed: p.orphans_killed,
        tw_overflows: p.tw_overflows,
    }
}

impl Remedies {
    /// The orphan limit that was hit: resets at a plateau.
    pub fn limit(&self) -> Option<LimitEstimate> {
        self.estimate.filter(|l| l.plateau)
    }

    /// Kernel resets of orphans enough to judge, without a plateau.
    pub fn pressure(&self) -> Option<LimitEstimate> {
        self.estimate.filter(|l| !l.plateau)
    }
}

/// The rows to replay, in the report's order: (row without its
/// prediction, setting). `avoid` (the demand's peak plus 10%) and `worst`
/// (the worst peers) come from a first replay; without them the rows that
/// need them are left out (the first pass replays the others meanwhile).
struct Plan<'a> {
    base: Setting,
    replay: &'a Replay,
    rows: Vec<(Remedy, Setting)>,
}

impl Plan<'_> {
    fn push(&mut self, w: WhatIf, why: &str, asked: bool, worst: Option<&[IpAddr]>) {
        let mut set = self.base.clone();
        match w {
            WhatIf::MaxOrphans(v) => set.max_orphans = Some(v),
            WhatIf::OrphanRetries(v) => set.orphan_retries = Some(v),
            WhatIf::FinTimeout(v) => set.fin_timeout_ns = v.saturating_mul(1_000_000_000),
            WhatIf::MaxTwBuckets(v) => set.max_tw_buckets = Some(v),
            WhatIf::WorstPeersFixed(n) => {
                let Some(worst) = worst else {
                    return;
                };
                // `worst_peers(n)` is the first n of `worst_peers(m)` for
                // m >= n: no second pass over the lives when it fits.
                set.fixed_peers = if (n as usize) <= WORST_PEERS {
                    worst[..worst.len().min(n as usize)].to_vec()
                } else {
                    self.replay.worst_peers(n as usize)
                };
            }
        }
        let (setting, value) = w.key_value();
        if !asked
            && self
                .rows
                .iter()
                .any(|(r, _)| r.setting == setting && r.value == value)
        {
            return;
        }
        self.rows.push((
            Remedy {
                setting: setting.to_string(),
                value,
                asked,
                why: why.to_string(),
                predicted: Predicted::default(),
            },
            set,
        ));
    }
}

/// `job` on `pool` when there is one.
fn on<T: Send>(pool: &Option<rayon::ThreadPool>, job: impl FnOnce() -> T + Send) -> T {
    match pool {
        Some(p) => p.install(job),
        None => job(),
    }
}

/// Runs the replay: the limit hit, the demand, and the standard rows plus
/// those asked (`asked`), the replays on `threads` threads (the run's -j).
pub fn remedies(s: &Summary, asked: &[WhatIf], threads: usize) -> Remedies {
    use rayon::prelude::*;
    let lives = &s.lives;
    if lives.is_empty() {
        return Remedies::default();
    }
    let tl = &s.timeline;
    let end_ns = s.packets.last_ts.unwrap_or(0);
    let replay = Replay::new(lives, tl.cfg.bucket_ns, tl.cfg.time_wait_ns, end_ns);
    let estimate = lives.orphan_limit();
    let limit = estimate.filter(|l| l.plateau);
    let inferred_retries = s.kernel.orphan_retries().map(|(v, _)| v);
    // The host as the capture shows it.
    let base = Setting {
        max_orphans: limit.map(|l| l.value),
        orphan_retries: inferred_retries,
        fin_timeout_ns: tl.cfg.fin_timeout_ns,
        max_tw_buckets: None,
        fixed_peers: Vec::new(),
    };
    let free_setting = Setting {
        fin_timeout_ns: tl.cfg.fin_timeout_ns,
        ..Setting::default()
    };
    // The rows; `first`: the demand's replay and the worst peers, when known.
    let plan = |first: Option<(u64, &[IpAddr])>| {
        let mut p = Plan {
            base: base.clone(),
            replay: &replay,
            rows: Vec::new(),
        };
        let worst = first.map(|f| f.1);
        match (limit, inferred_retries) {
            (Some(l), _) => p.push(WhatIf::MaxOrphans(l.value), "as inferred", false, worst),
            (None, Some(r)) => p.push(WhatIf::OrphanRetries(r), "as inferred", false, worst),
            (None, None) => p.push(
                WhatIf::OrphanRetries(0),
                "as captured (the default, 8)",
                false,
                worst,
            ),
        }
        if let Some(l) = limit {
            p.push(
                WhatIf::MaxOrphans(l.value + l.value.div_ceil(20)),
                "the limit +5%",
                false,
                worst,
            );
        }
        // The smallest limit the demand never exceeds (bucket ends are a
        // lower bound of the count the kernel compares: one more bucket's
        // growth).
        if let Some((peak, _)) = first {
            let avoid = peak.max(1);
            let avoid = avoid + avoid.div_ceil(10);
            p.push(
                WhatIf::MaxOrphans(avoid),
                "a limit above the demand's peak (+10%)",
                false,
                worst,
            );
        }
        for r in [1, 2, 4] {
            p.push(WhatIf::OrphanRetries(r), "", false, worst);
        }
        p.push(WhatIf::FinTimeout(1), "", false, worst);
        if let Some(w) = worst.filter(|w| !w.is_empty()) {
            p.push(
                WhatIf::WorstPeersFixed(w.len() as u32),
                "their FINs ACKed like the other peers'",
                false,
                worst,
            );
        }
        for w in asked {
            p.push(*w, "asked (--what-if)", true, worst);
        }
        p.rows
    };
    // Each distinct setting is replayed once, the replays one per thread:
    // first the demand (no limit), the worst peers and every row that
    // needs neither, then the rows that need them.
    let mut first: Vec<Setting> = vec![free_setting.clone()];
    for (_, set) in plan(None) {
        if !first.contains(&set) {
            first.push(set);
        }
    }
    // On a pool of the run's threads (rayon's global one has every core,
    // even at -j1): the caller's, or one made here. `Replay::new` above
    // ran on the calling thread (see `commands::build_report`).
    let pool = rayon::current_thread_index()
        .is_none()
        .then(|| {
            rayon::ThreadPoolBuilder::new()
                .num_threads(threads.max(1))
                .build()
                .ok()
        })
        .flatten();
    let (done, worst) = on(&pool, || {
        rayon::join(
            || {
                first
                    .par_iter()
                    .map(|set| replay.run(set))
                    .collect::<Vec<_>>()
            },
            || replay.worst_peers(WORST_PEERS),
        )
    });
    let free = done[0];
    let demand = Demand {
        fin_wait_1_peak: free.fin_wait_1_peak,
        orphans_peak: free.orphans_peak,
        time_wait_peak: free.time_wait_peak,
        sampled: lives.sampled().then(|| LivesSampled {
            kept: lives.len() as u64,
            weight: lives.weight(),
            cap: lives.cap as u64,
        }),
    };
    let plan = plan(Some((free.orphans_peak, &worst)));
    let mut second: Vec<&Setting> = Vec::new();
    for (_, set) in &plan {
        if !first.contains(set) && !second.contains(&set) {
            second.push(set);
        }
    }
    let later: Vec<Prediction> = on(&pool, || {
        second.par_iter().map(|set| replay.run(set)).collect()
    });
    let rows: Vec<Remedy> = plan
        .iter()
        .map(|(r, set)| {
            let p = match first.iter().position(|d| d == set) {
                Some(i) => done[i],
                None => second
                    .iter()
                    .position(|d| *d == set)
                    .map_or(free, |i| later[i]),
            };
            Remedy {
                predicted: predicted(p),
                ..r.clone()
            }
        })
        .collect();
    Remedies {
        estimate,
        demand: Some(demand),
        rows,
        worst: worst.iter().map(|p| p.to_string()).collect(),
    }
}

/// `inferred_tunables.tcp_max_orphans`.
pub fn max_orphans(r: &Remedies) -> MaxOrphans {
    match r.limit() {
        Some(l) => MaxOrphans {
            value: Some(l.value),
            low: Some(l.low),
            high: Some(l.high),
            resets: l.resets,
            first_reset_us: Some(l.first_reset_ns / 1_000),
        },
        None => MaxOrphans {
            resets: r.estimate.map_or(0, |l| l.resets),
            ..MaxOrphans::default()
        },
    }
}

fn row<'a>(r: &'a Remedies, setting: &str, why: &str) -> Option<&'a Remedy> {
    r.rows
        .iter()
        .find(|x| x.setting == setting && x.why.starts_with(why))
}

/// The first finding when the orphan limit was hit: the limit and its
/// size, who holds the orphans, and what each remedy would do.
pub fn orphan_limit_hit(r: &Remedies, s: &Summary) -> Option<Finding> {
    let l = r.limit()?;
    let d = r.demand.as_ref()?;
    let fa = &s.latency[crate::metrics::Metric::FinAck][crate::metrics::Split::LocalFirst];
    let mut evidence = vec![
        format!(
            "{} local orphans were reset by their own host while their FIN was unACKed, from {} UTC on, while the orphan count sat at {}-{} (the kernel logs \"too many orphaned sockets\" and counts TcpExtTCPAbortOnMemory)",
            thousands(l.resets),
            utc(l.first_reset_ns / 1_000),
            thousands(l.low),
            thousands(l.high + 1)
        ),
        format!(
            "without the limit the orphans would have peaked at {} (FIN-WAIT-1 {}); local-first FIN->ACK p50 {}, p99 {}",
            thousands(d.orphans_peak),
            thousands(d.fin_wait_1_peak),
            fa.quantile(0.5).map_or("-".into(), dur),
            fa.quantile(0.99).map_or("-".into(), dur)
        ),
    ];
    if !r.worst.is_empty() {
        let named: Vec<String> = r
            .worst
            .iter()
            .map(|p| {
                let ps = p
                    .parse::<std::net::IpAddr>()
                    .ok()
                    .and_then(|ip| s.peers.get(&ip));
                match ps {
                    Some(ps) => format!(
                        "{p} ({} closes, FIN->ACK p50 {}, max {})",
                        thousands(ps.counts.closes),
                        ps.fin_ack.quantile(0.5).map_or("-".into(), dur),
                        ps.fin_ack.max().map_or("-".into(), dur)
                    ),
                    None => p.clone(),
                }
            })
            .collect();
        evidence.push(format!(
            "the orphans wait on these peers' ACKs: {}",
            named.join(", ")
        ));
    }
    evidence.extend(ranked_effects(r));
    Some(Finding {
        id: "orphan_limit_hit".into(),
        finding: format!(
            "The orphan limit was hit: tcp_max_orphans is about {} (between {} and {}, inferred). The kernel reset {} orphaned sockets instead of waiting for their peers to ACK their FINs: the connections were cut. The orphans pile up because peers are slow to ACK FINs; a limit slightly higher only moves the ceiling. See REMEDIES for what each setting would do.",
            thousands(l.value),
            thousands(l.low),
            thousands(l.high),
            thousands(l.resets)
        ),
        evidence,
        tunables: vec![
            "net.ipv4.tcp_max_orphans".into(),
            "net.ipv4.tcp_orphan_retries".into(),
        ],
    })
}

/// What the standard remedies would do, one sentence each, best first:
/// fewest connections cut (resets + kills), then the lowest orphan peak.
pub fn ranked_effects(r: &Remedies) -> Vec<String> {
    let mut effects: Vec<((u64, u64), String)> = Vec::new();
    let cut = |x: &Remedy| x.predicted.orphan_resets + x.predicted.orphans_killed;
    let mut push = |x: &Remedy, text: String| {
        effects.push(((cut(x), x.predicted.orphans_peak), text));
    };
    let tail = |x: &Remedy| {
        format!(
            "{} reset, {} killed, orphan peak {}",
            thousands(x.predicted.orphan_resets),
            thousands(x.predicted.orphans_killed),
            thousands(x.predicted.orphans_peak)
        )
    };
    if let Some(x) = row(r, "tcp_max_orphans", "the limit +5%") {
        push(
            x,
            format!(
                "raising tcp_max_orphans by 5% (to {}) would still reset about {}: {}",
                thousands(x.value),
                thousands(x.predicted.orphan_resets),
                tail(x)
            ),
        );
    }
    // Without a limit hit, a limit above the demand changes nothing.
    if let Some(x) = row(r, "tcp_max_orphans", "a limit above").filter(|_| r.limit().is_some()) {
        push(
            x,
            format!(
                "tcp_max_orphans={} would reset none, at up to ~64 KiB of memory per orphan: {}",
                thousands(x.value),
                tail(x)
            ),
        );
    }
    if let Some(x) = row(r, "tcp_fin_timeout", "") {
        push(
            x,
            format!(
                "tcp_fin_timeout=1 would not help: it bounds only FIN-WAIT-2: {}",
                tail(x)
            ),
        );
    }
    if let Some(x) = r
        .rows
        .iter()
        .find(|x| x.setting == "tcp_orphan_retries" && x.value == 2 && !x.asked)
    {
        push(
            x,
            format!(
                "tcp_orphan_retries=2 would kill waiting orphans about 3 s after their FIN, their peers never told: {}",
                tail(x)
            ),
        );
    }
    if let Some(x) = row(r, "worst_peers_fixed", "") {
        push(
            x,
            format!(
                "if the {} worst peers ACKed FINs like the others: {}",
                x.value,
                tail(x)
            ),
        );
    }
    effects.sort_by_key(|e| e.0);
    effects
        .into_iter()
        .enumerate()
        .map(|(i, (_, t))| format!("remedy {}: {t}", i + 1))
        .collect()
}

/// Below this demand (orphans at once) the remedies are not worth a
/// finding of their own.
pub const MIN_REMEDY_ORPHANS: u64 = 10;

/// The remedies, best first, as a finding after the lead when no limit
/// was hit (with a limit, `orphan_limit_hit` holds them).
pub fn remedies_ranked(r: &Remedies) -> Option<Finding> {
    let d = r.demand?;
    if r.limit().is_some() || d.orphans_peak < MIN_REMEDY_ORPHANS {
        return None;
    }
    Some(Finding {
        id: "remedies".into(),
        finding: format!(
            "What each setting would do to the {} orphans the host held at once, best first (fewest connections cut, then the lowest orphan peak; REMEDIES has every row).",
            thousands(d.orphans_peak)
        ),
        evidence: ranked_effects(r),
        tunables: vec![
            "net.ipv4.tcp_orphan_retries".into(),
            "net.ipv4.tcp_max_orphans".into(),
        ],
    })
}

/// When the first row (the host as inferred) does not give back what the
/// capture shows (kills or resets off by more than a fifth and by 3 or
/// more): the kernel model fits this capture loosely (another OS, a host
/// that is not the capturing one, a synthetic capture), and the rows are
/// best read against each other.
pub fn fit_note(r: &super::Report) -> Option<String> {
    let now = r.remedies.first()?.predicted;
    let t = &r.inferred_tunables;
    // (Checked: a loaded report's counts can be anything.)
    let off = |pred: u64, seen: u64| {
        let d = pred.abs_diff(seen);
        d >= 3 && d.checked_mul(5).is_none_or(|d5| d5 > seen)
    };
    let mut what = Vec::new();
    if off(now.orphans_killed, t.tcp_orphan_retries.killed) {
        what.push(format!(
            "{} kills against the {} it shows",
            thousands(now.orphans_killed),
            thousands(t.tcp_orphan_retries.killed)
        ));
    }
    if off(now.orphan_resets, t.tcp_max_orphans.resets) {
        what.push(format!(
            "{} resets against the {} it shows",
            thousands(now.orphan_resets),
            thousands(t.tcp_max_orphans.resets)
        ));
    }
    (!what.is_empty()).then(|| {
        format!(
            "note: replaying the capture as inferred gives {}: Linux's model fits this host loosely; read the rows against each other",
            what.join(" and ")
        )
    })
}

/// Fewest FIN-WAIT-2 sockets found gone before the TIME-WAIT table is
/// suspected.
pub const MIN_TW_GONE: u64 = 10;

/// FIN-WAIT-2 sockets gone when their peer's FIN came (a bare RST answered
/// it) while others as old or older were still there: not tcp_fin_timeout
/// (it would take the older ones first) but the TIME-WAIT table being full
/// (`inet_twsk_alloc` refuses past tcp_max_tw_buckets: the socket is
/// destroyed, TcpExtTCPTimeWaitOverflow).
pub fn tw_overflow_suspected(s: &Summary) -> Option<Finding> {
    let k = &s.kernel;
    let (gone_min, survived_max) = (k.fin_wait_2_gone_min_us?, k.fin_wait_2_survived_max_us?);
    if k.fin_wait_2_gone < MIN_TW_GONE || survived_max < gone_min {
        return None;
    }
    Some(Finding {
        id: "tw_overflow_suspected".into(),
        finding: format!(
            "{} local FIN-WAIT-2 sockets were gone when their peer's FIN came (the host answered with a bare RST) while {} others, up to {} old, were still there: not tcp_fin_timeout, which would end the older ones first, but a full TIME-WAIT table: past tcp_max_tw_buckets a socket entering FIN-WAIT-2 or TIME-WAIT is destroyed at once (TcpExtTCPTimeWaitOverflow; older kernels log \"time wait bucket table overflow\"). Only sockets whose peer sent something later show it: there were likely many more. `--what-if tcp_max_tw_buckets=N` predicts the overflows for a limit N.",
            thousands(k.fin_wait_2_gone),
            thousands(k.fin_wait_2_survived),
            dur(survived_max)
        ),
        evidence: vec![format!(
            "{} of {} FIN-WAIT-2 sockets gone after as little as {}; survivors up to {}",
            thousands(k.fin_wait_2_gone),
            thousands(k.fin_wait_2_gone + k.fin_wait_2_survived),
            dur(gone_min),
            dur(survived_max)
        )],
        tunables: vec!["net.ipv4.tcp_max_tw_buckets".into()],
    })
}

/// Orphans reset by their own host while their FIN was unACKed, at counts
/// that do not sit at one level: not the orphan limit but TCP memory
/// pressure (tcp_mem), which `tcp_check_oom` also answers with a reset.
pub fn orphans_reset_memory_pressure(r: &Remedies) -> Option<Finding> {
    let p = r.pressure()?;
    Some(Finding {
        id: "orphans_reset_memory_pressure".into(),
        finding: format!(
            "The local kernel reset {} of its orphans while their FIN was unACKed, but not at one orphan count (it ranged over {}..{} at the resets): not tcp_max_orphans, which resets at a ceiling, but TCP memory pressure: tcp_check_oom also resets orphans when TCP's memory is over tcp_mem (\"out of memory -- consider tuning tcp_mem\", TcpExtTCPAbortOnMemory). Check `cat /proc/net/sockstat` (mem) against net.ipv4.tcp_mem, or a box that sends RSTs in the host's name.",
            thousands(p.resets),
            thousands(p.low),
            thousands(p.high)
        ),
        evidence: vec![format!(
            "{} resets from {} UTC on; no plateau of the orphan count at them",
            thousands(p.resets),
            utc(p.first_reset_ns / 1_000)
        )],
        tunables: vec!["net.ipv4.tcp_mem".into(), "net.ipv4.tcp_max_orphans".into()],
    })
}

#[cfg(test)]
#[path = "remedies_tests.rs"]
mod tests;
