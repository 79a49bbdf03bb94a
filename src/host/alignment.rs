//! Kernel stamps since boot onto the wall clock (JSON `host.alignment`).
//!
//! `dmesg` stamps count from boot. The wall-clock time of boot comes from
//! `--boot-time`, else from /proc/stat's `btime` (whole seconds, cut
//! down: the boot happened in `[btime, btime + 1 s)`, so the middle is
//! taken, ±0.5 s), else from the same messages logged with both stamps
//! (`journalctl -o json`, or a raw `dmesg` beside a `dmesg --time-format
//! iso` of the same boot). Without any of them the report aligns them on
//! the packets ([`Alignment::packets`]).

use super::{HostEvidence, HostOptions, KernelFormat, KernelMessage};
use serde::Serialize;

/// How kernel stamps were put on the wall clock.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    /// The kernel log itself carries wall-clock times (`dmesg -T`,
    /// `--time-format iso`, journalctl), or pairs both stamps.
    WallClock,
    /// /proc/stat `btime`.
    Btime,
    /// `--boot-time`.
    BootTime,
    /// Fitted on the capture's own evidence (by the report).
    Packets,
}

/// JSON `host.alignment`: wall µs = boot µs + `offset_us`, within
/// `uncertainty_us` either way.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Alignment {
    pub method: Method,
    /// The boot time on the wall clock (µs since the epoch); 0 when every
    /// kernel message carried the wall clock and none is since boot.
    pub offset_us: i64,
    pub uncertainty_us: u64,
}

/// µs in a second.
const SEC: u64 = 1_000_000;

impl Alignment {
    /// The alignment the host inputs give, best first: `--boot-time`,
    /// messages logged with both stamps, `btime`; for logs that carry the
    /// wall clock only, `wall_clock` with offset 0. `None` when raw
    /// `dmesg` stamps remain with nothing to place them (the report then
    /// fits them on the packets).
    pub fn from_host(ev: &HostEvidence, opts: &HostOptions) -> Option<Alignment> {
        if let Some(b) = opts.boot_time_us {
            return Some(Alignment {
                method: Method::BootTime,
                offset_us: i64::try_from(b).unwrap_or(i64::MAX),
                uncertainty_us: 0,
            });
        }
        if let Some(a) = paired(ev) {
            return Some(a);
        }
        if let Some(b) = ev.btime {
            return Some(Alignment::btime(b));
        }
        let any_boot_only = ev
            .kernel_messages
            .iter()
            .any(|m| m.wall_us.is_none() && m.boot_us.is_some());
        (!any_boot_only).then_some(Alignment {
            method: Method::WallClock,
            offset_us: 0,
            uncertainty_us: 0,
        })
    }

    /// From /proc/stat's `btime` (whole seconds, truncated): the middle of
    /// its second, ±0.5 s.
    pub fn btime(btime_s: u64) -> Alignment {
        Alignment {
            method: Method::Btime,
            offset_us: i64::try_from(btime_s.saturating_mul(SEC).saturating_add(SEC / 2))
                .unwrap_or(i64::MAX),
            uncertainty_us: SEC / 2,
        }
    }

    /// Fitted by the report on the packets.
    pub fn packets(offset_us: i64, uncertainty_us: u64) -> Alignment {
        Alignment {
            method: Method::Packets,
            offset_us,
            uncertainty_us,
        }
    }

    /// A time since boot on the wall clock (µs since the epoch; 0 when it
    /// would fall before 1970).
    pub fn to_wall(&self, boot_us: u64) -> u64 {
        (i128::from(boot_us) + i128::from(self.offset_us)).clamp(0, i128::from(u64::MAX)) as u64
    }

    /// A kernel message's wall-clock time: its own, else its boot stamp
    /// through this alignment.
    pub fn message_wall(&self, m: &KernelMessage) -> Option<u64> {
        m.wall_us.or_else(|| m.boot_us.map(|b| self.to_wall(b)))
    }
}

/// A kernel message's wall-clock time: its own, else through `a`.
pub fn message_wall(m: &KernelMessage, a: Option<&Alignment>) -> Option<u64> {
    m.wall_us.or_else(|| Some(a?.to_wall(m.boot_us?)))
}

/// The boot time from messages known with both stamps: those of
/// `journalctl -o json` (wall = when journald received it, never before
/// the kernel's stamp: the smallest difference is taken), or the same
/// text at the same position in a raw `dmesg` and a `dmesg --time-format
/// iso` (which dmesg computed from the same boot time).
fn paired(ev: &HostEvidence) -> Option<Alignment> {
    let mut diffs: Vec<i64> = ev
        .kernel_messages
        .iter()
        .filter_map(|m| Some(diff(m.wall_us?, m.boot_us?)))
        .collect();
    if diffs.is_empty() {
        // A raw dmesg beside an iso one: match by text, in order.
        let of = |f: KernelFormat| -> Vec<&KernelMessage> {
            ev.kernel_messages
                .iter()
                .filter(|m| {
                    ev.files.get(m.file).map(|h| h.kind) == Some(super::FileKind::KernelLog(f))
                })
                .collect()
        };
        let raw = of(KernelFormat::Dmesg);
        let iso = of(KernelFormat::DmesgIso);
        if raw.is_empty() || iso.is_empty() {
            return None;
        }
        let mut j = 0;
        for r in &raw {
            while j < iso.len() && iso[j].text != r.text {
                j += 1;
            }
            let Some(i) = iso.get(j) else { break };
            if let (Some(w), Some(b)) = (i.wall_us, r.boot_us) {
                diffs.push(diff(w, b));
            }
            j += 1;
        }
    }
    let min = *diffs.iter().min()?;
    let max = *diffs.iter().max()?;
    // dmesg's iso stamps are whole µs: a spread of a few µs is rounding;
    // journald's receive lag spreads more, said as the uncertainty.
    Some(Alignment {
        method: Method::WallClock,
        offset_us: min,
        uncertainty_us: max.abs_diff(min),
    })
}

/// `wall - boot`, saturated (stamps come from files: anything may be there).
fn diff(wall: u64, boot: u64) -> i64 {
    (i128::from(wall) - i128::from(boot)).clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64
}
