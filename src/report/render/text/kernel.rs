//! The text report's kernel sections: the tunables the capture shows
//! (TUNABLES) and what each setting would do (REMEDIES).

use super::{Paint, TextStyle};
use crate::report::Report;
use crate::report::format::thousands;
use crate::report::remedies::MIN_REMEDY_ORPHANS;
use std::io::{self, Write};

/// The capturing host's kernel settings as the capture shows them; the
/// section is left out when the capture shows none.
pub(super) fn render_tunables(r: &Report, w: &mut impl Write) -> io::Result<()> {
    let t = &r.inferred_tunables;
    let or = &t.tcp_orphan_retries;
    let ft = &t.tcp_fin_timeout;
    if or.killed == 0
        && ft.at_most_s.is_none()
        && ft.at_least_s.is_none_or(|s| s < 1.0)
        && t.rto_min.value_ms.is_none()
        && !t.orphans_reset_under_pressure.value
        && t.tcp_max_orphans.value.is_none()
        && r.connections.aborted_on_data == 0
    {
        return Ok(());
    }
    writeln!(w, "LOCAL KERNEL SETTINGS  (inferred from the capture)")?;
    if let (Some(v), Some(lo), Some(hi)) = (
        t.tcp_max_orphans.value,
        t.tcp_max_orphans.low,
        t.tcp_max_orphans.high,
    ) {
        writeln!(
            w,
            "  tcp_max_orphans      {}  (between {} and {}: {} orphans reset at the limit, TcpExtTCPAbortOnMemory)",
            thousands(v),
            thousands(lo),
            thousands(hi),
            thousands(t.tcp_max_orphans.resets)
        )?;
    }
    if or.killed > 0 {
        let confirmed = if or.confirmed > 0 {
            format!(
                ", {} confirmed by a later bare RST",
                thousands(or.confirmed)
            )
        } else {
            String::new()
        };
        writeln!(
            w,
            "  tcp_orphan_retries   {}  ({} orphans killed silently{confirmed}{})",
            match or.value {
                // The sysctl's default: 0 means 8 (tcp_timer.c).
                Some(8) => "8 (or 0, which means 8)".to_string(),
                Some(v) => v.to_string(),
                None => format!(
                    "not inferred (fewer than {} kills fit one value)",
                    crate::metrics::MIN_EVIDENCE
                ),
            },
            thousands(or.killed),
            if or.value.is_some() {
                format!("; {} consistent with this value", thousands(or.consistent))
            } else {
                String::new()
            }
        )?;
    }
    // A lower bound alone is shown only when it says something (>= 1 s).
    if ft.at_most_s.is_some() || ft.at_least_s.is_some_and(|s| s >= 1.0) {
        let f = |v: Option<f64>| v.map_or("-".to_string(), |x| format!("{x}s"));
        writeln!(
            w,
            "  tcp_fin_timeout      at least {}, at most {}  (FIN-WAIT-2 sockets that still ACKed the peer's FIN: {}; gone: {})",
            f(ft.at_least_s),
            f(ft.at_most_s),
            thousands(ft.survived),
            thousands(ft.gone)
        )?;
    }
    if let Some(v) = t.rto_min.value_ms {
        writeln!(
            w,
            "  first RTO            {v}ms smallest, {}ms median  ({} retransmitted local FINs)",
            t.rto_min.p50_ms.unwrap_or(v),
            thousands(t.rto_min.connections)
        )?;
    }
    if t.orphans_reset_under_pressure.value {
        writeln!(
            w,
            "  orphans reset        {} local orphans sent RST while their FIN was unACKed (tcp_max_orphans / memory pressure, or an abort)",
            thousands(t.orphans_reset_under_pressure.connections)
        )?;
    }
    if r.connections.aborted_on_data > 0 {
        writeln!(
            w,
            "  aborts on data       {} local sockets answered data that came after their FIN with a RST (TCPAbortOnData: closed while the peer still sent; says nothing of tcp_fin_timeout)",
            thousands(r.connections.aborted_on_data)
        )?;
    }
    writeln!(w)
}

/// REMEDIES: what each setting would do, from the replay.
pub(super) fn render_remedies(r: &Report, style: &TextStyle, w: &mut impl Write) -> io::Result<()> {
    let Some(d) = &r.demand else {
        return Ok(());
    };
    let now = r.remedies.first().map(|x| x.predicted).unwrap_or_default();
    if d.orphans_peak < MIN_REMEDY_ORPHANS
        && now.orphan_resets == 0
        && now.orphans_killed == 0
        && !r.remedies.iter().any(|x| x.asked)
    {
        writeln!(
            w,
            "REMEDIES  none needed: at most {} local orphan(s) at once, none reset or killed",
            thousands(d.orphans_peak)
        )?;
        return writeln!(w);
    }
    writeln!(
        w,
        "REMEDIES  (the capture's closes replayed under other settings; docs/diagnosis.md)"
    )?;
    writeln!(
        w,
        "  with no limit: FIN-WAIT-1 peak {}, orphans peak {}, TIME-WAIT peak {}",
        thousands(d.fin_wait_1_peak),
        thousands(d.orphans_peak),
        thousands(d.time_wait_peak)
    )?;
    if let Some(x) = &d.sampled {
        let n = format!(
            "replayed from a sample: {} local closes kept, each standing for {} (at most {} kept within --max-memory; demand.sampled)",
            thousands(x.kept),
            thousands(x.weight),
            thousands(x.cap)
        );
        writeln!(w, "  {}", style.paint(Paint::Warn, &n))?;
    }
    if let Some(n) = crate::report::remedies::fit_note(r) {
        writeln!(w, "  {}", style.paint(Paint::Warn, &n))?;
    }
    writeln!(
        w,
        "  {:<30} {:>10} {:>8} {:>9} {:>7} {:>7}",
        "setting", "FIN-WAIT-1", "orphans", "TIME-WAIT", "resets", "killed"
    )?;
    for x in &r.remedies {
        let note = match x.why.as_str() {
            "" => String::new(),
            w if w.starts_with("as ") => " (now)".to_string(),
            w if w.starts_with("the limit +5%") => " (+5%)".to_string(),
            w if w.starts_with("a limit above") => " (no reset)".to_string(),
            w if w.starts_with("asked") => " (asked)".to_string(),
            _ => String::new(),
        };
        let p = &x.predicted;
        writeln!(
            w,
            "  {:<30} {:>10} {:>8} {:>9} {:>7} {:>7}",
            format!("{}={}{note}", x.setting, thousands(x.value)),
            thousands(p.fin_wait_1_peak),
            thousands(p.orphans_peak),
            thousands(p.time_wait_peak),
            thousands(p.orphan_resets),
            thousands(p.orphans_killed)
        )?;
    }
    writeln!(w)
}
