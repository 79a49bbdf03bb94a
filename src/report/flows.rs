//! `--flows`: one [`FlowRecord`] per finished connection, built here (the
//! report layer reads connections; the renderer does not), and the
//! [`FlowWriter`] that hands them to [`crate::report::render::flows`] in
//! the documented order while the capture is read. docs/flows.md documents
//! every column.
//!
//! Records are written while the capture is read, so memory stays bounded
//! by the connections live at once, not by all connections. They come in
//! order of retirement on the capture clock ([`Retired::clock`], the
//! `retired_ts_us` column), then first packet time, first frame and flow
//! key: an order that depends neither on the thread count nor on how the
//! input is cut into batches. [`FlowWriter`] holds back the connections
//! that a later batch could still precede (retired at the latest clock so
//! far) until the pipeline's watermark passes them. CSV, JSON Lines and
//! the column list all come from [`FlowRecord`]'s fields: same names, same
//! order; an absent value is `null` in JSON and an empty cell in CSV.
//! Timestamps are microseconds since the Unix epoch, latencies
//! microseconds.

use crate::flow::conn::SidesBy;
use crate::flow::key::Side;
use crate::flow::table::Retired;
use crate::pipeline::FlowSink;
use crate::report::render::flows::{self as render, FlowsFormat};
use serde::Serialize;
use spill::{Held, Order, Spill};
use std::io::{self, Write};
use std::ops::ControlFlow;
use std::path::PathBuf;

mod spill;

/// A finished connection, seen from its local side: one line of `--flows`.
/// The field order is the column order.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct FlowRecord {
    pub first_ts_us: u64,
    pub last_ts_us: u64,
    pub end_ts_us: u64,
    pub first_frame: u64,
    pub last_frame: u64,
    pub vlan: u64,
    pub local_addr: String,
    pub local_port: u64,
    pub remote_addr: String,
    pub remote_port: u64,
    pub local_role: &'static str,
    pub sides_by: &'static str,
    pub outcome: &'static str,
    pub first_closer: Option<&'static str>,
    pub local_fin_ts_us: Option<u64>,
    pub local_fin_acked_ts_us: Option<u64>,
    pub remote_fin_ts_us: Option<u64>,
    pub remote_fin_acked_ts_us: Option<u64>,
    pub rst_ts_us: Option<u64>,
    pub fin_ack_us: Option<u64>,
    pub fin_fin_us: Option<u64>,
    pub close_total_us: Option<u64>,
    pub local_fin_retransmissions: u64,
    pub remote_fin_retransmissions: u64,
    pub spurious_fin_retransmissions: u64,
    pub local_rsts: u64,
    pub remote_rsts: u64,
    pub local_segments: u64,
    pub remote_segments: u64,
    pub local_bytes: u64,
    pub remote_bytes: u64,
    pub fin_moved: u64,
    pub one_sided: bool,
    pub local_state: &'static str,
    pub remote_state: &'static str,
    pub local_killed_ts_us: Option<u64>,
    pub kill_confirmed: bool,
    pub local_fin_unacked: bool,
    pub remote_fin_unacked: bool,
    pub anomalies: u64,
    pub retired_ts_us: u64,
    pub first_time: String,
    pub last_time: String,
    pub vlan_outer: Option<u64>,
    pub vlan_inner: Option<u64>,
    pub wireshark_filter: String,
    pub local_fin_wait_us: Option<u64>,
    pub rst_cause: Option<&'static str>,
    // Who holds the FIN: the connection's evidence (docs/flows.md).
    pub fin_ack_ttl: Option<u64>,
    pub remote_ttl: Option<u64>,
    pub remote_zero_windows: u64,
    pub local_window_probes: u64,
    pub local_data_segments: u64,
    pub remote_data_segments: u64,
    pub local_data_retransmissions: u64,
    pub remote_data_retransmissions: u64,
    pub local_dup_acks: u64,
    pub remote_dup_acks: u64,
    pub data_rtt_us: Option<u64>,
    pub local_fin_zero_window_since_us: Option<u64>,
    pub local_fin_held_bytes: Option<u64>,
    pub syn_synack_us: Option<u64>,
    pub synack_ack_us: Option<u64>,
}

fn us(ns: u64) -> u64 {
    ns / 1_000
}

/// A time (ns since the epoch) in ISO 8601 / RFC 3339, UTC, to the
/// microsecond as the `*_ts_us` columns.
fn iso(ns: u64) -> String {
    let us = i64::try_from(ns / 1_000).unwrap_or(i64::MAX);
    jiff::Timestamp::from_microsecond(us).map_or(String::new(), |t| t.to_string())
}

/// The outer VLAN id of a key's `vlan` (outer << 12 | inner; one tag: the
/// tag), if tagged.
fn vlan_outer(v: u32) -> Option<u64> {
    match v {
        0 => None,
        v if v > 0xfff => Some(u64::from(v >> 12)),
        v => Some(u64::from(v)),
    }
}

/// The inner VLAN id (the second tag), if there were two.
fn vlan_inner(v: u32) -> Option<u64> {
    (v > 0xfff).then_some(u64::from(v & 0xfff))
}

impl FlowRecord {
    /// The record of a retired connection.
    pub fn new(r: &Retired) -> FlowRecord {
        let c = &r.conn;
        let local: Side = r.local;
        let remote = local.other();
        let (l, rm) = (&c.ep[local], &c.ep[remote]);
        let (la, ra) = (c.key.endpoint(local), c.key.endpoint(remote));
        let (client, by) = c.client_side();
        // The first closer's latencies, exactly as the report's histograms
        // take them: both read the close model.
        let lat = c.latencies();
        FlowRecord {
            first_ts_us: us(c.first_ts),
            last_ts_us: us(c.last_ts),
            end_ts_us: us(r.end_ts),
            first_frame: c.first_frame,
            last_frame: c.last_frame,
            vlan: u64::from(c.key.vlan),
            local_addr: la.0.to_string(),
            local_port: u64::from(la.1),
            remote_addr: ra.0.to_string(),
            remote_port: u64::from(ra.1),
            local_role: if client == local { "client" } else { "server" },
            sides_by: match by {
                SidesBy::Syn => "syn",
                SidesBy::SynAck => "synack",
                SidesBy::Port => "port",
            },
            outcome: c.outcome().name(),
            first_closer: c
                .first_fin
                .map(|f| if f == local { "local" } else { "remote" }),
            local_fin_ts_us: l.fin_ts.map(us),
            local_fin_acked_ts_us: l.fin_acked_ts.map(us),
            remote_fin_ts_us: rm.fin_ts.map(us),
            remote_fin_acked_ts_us: rm.fin_acked_ts.map(us),
            rst_ts_us: c.rst_ts.map(us),
            fin_ack_us: lat.fin_ack,
            fin_fin_us: lat.fin_fin,
            close_total_us: lat.close_total,
            local_fin_retransmissions: u64::from(l.fin_retransmissions()),
            remote_fin_retransmissions: u64::from(rm.fin_retransmissions()),
            spurious_fin_retransmissions: u64::from(l.fin_rtx_spurious + rm.fin_rtx_spurious),
            local_rsts: u64::from(l.rsts),
            remote_rsts: u64::from(rm.rsts),
            local_segments: l.segments,
            remote_segments: rm.segments,
            local_bytes: l.bytes,
            remote_bytes: rm.bytes,
            fin_moved: u64::from(c.fin_moved),
            one_sided: c.one_sided(),
            local_state: l.state().key(),
            remote_state: rm.state().key(),
            local_killed_ts_us: l.killed_at.map(us),
            kill_confirmed: l.kill_confirmed,
            local_fin_unacked: c.fin_unacked(local),
            remote_fin_unacked: c.fin_unacked(remote),
            anomalies: c.anomalies(),
            retired_ts_us: us(r.clock),
            first_time: iso(c.first_ts),
            last_time: iso(c.last_ts),
            vlan_outer: vlan_outer(c.key.vlan),
            vlan_inner: vlan_inner(c.key.vlan),
            wireshark_filter: crate::metrics::peers::wireshark_filter(
                &c.key,
                local,
                c.first_frame,
                c.last_frame,
            ),
            local_fin_wait_us: c.fin_wait_us(local, r.end_ts),
            rst_cause: c.rst_cause(),
            ..FlowRecord::default()
        }
        .with_evidence(c, local)
    }

    /// The FIN evidence columns, the last ones.
    fn with_evidence(mut self, c: &crate::flow::conn::Conn, local: Side) -> FlowRecord {
        let (l, r) = (c.ev.of(local), c.ev.of(local.other()));
        let nz = |v: u64| (v != 0).then_some(v);
        (self.syn_synack_us, self.synack_ack_us) = c.ev.handshake_us();
        self.fin_ack_ttl = nz(u64::from(r.fin_ack_ttl));
        self.remote_ttl = nz(u64::from(r.ttl_mode));
        self.remote_zero_windows = u64::from(r.zero_windows);
        self.local_window_probes = u64::from(l.probes);
        self.local_data_segments = u64::from(l.data_segs);
        self.local_data_retransmissions = u64::from(l.data_rtx);
        self.remote_data_segments = u64::from(r.data_segs);
        self.remote_data_retransmissions = u64::from(r.data_rtx);
        self.local_dup_acks = u64::from(l.dup_acks);
        self.remote_dup_acks = u64::from(r.dup_acks);
        self.data_rtt_us = l.rtt_sum_us.checked_div(u64::from(l.rtt_samples));
        self.local_fin_zero_window_since_us = nz(us(l.zw_fin_since));
        self.local_fin_held_bytes = (l.zw_fin_since != 0).then_some(u64::from(l.zw_held_bytes));
        self
    }
}

/// The documented order: retire clock, first packet time, first frame,
/// flow key (a total order: a frame starts at most one connection).
fn order(r: &Retired) -> Order {
    (r.clock, r.conn.first_ts, r.conn.first_frame, r.conn.key)
}

/// The share of `--max-memory` the writer's waiting records may take
/// (`budget` / 16): past it they are spilled to a temporary file.
pub fn share_of(budget: u64) -> u64 {
    budget / 16
}

/// Writes records as the pipeline hands them over, in the documented
/// order. A write error stops the run ([`FlowSink::retired`] breaks): the
/// report then covers what was read, and [`FlowWriter::finish`] returns
/// the error.
///
/// Records that a later batch could still precede wait rendered; past
/// the writer's share of the budget ([`FlowWriter::with_share`]) they are
/// spilled as sorted runs to a temporary file and merged back in order
/// (`spill.rs`).
pub struct FlowWriter<W: Write> {
    out: W,
    format: FlowsFormat,
    /// Records that a later batch could still precede.
    held: Held,
    /// Bytes `held` may take before it is spilled.
    share: usize,
    spill: Spill,
    /// The first write error; nothing is written after it.
    error: Option<io::Error>,
    written: u64,
}

impl<W: Write> FlowWriter<W> {
    /// A writer to `out` (the CSV header is written at once), holding
    /// records in memory without bound.
    pub fn new(mut out: W, format: FlowsFormat) -> io::Result<Self> {
        render::write_header(format, &mut out)?;
        Ok(FlowWriter {
            out,
            format,
            held: Held::default(),
            share: usize::MAX,
            spill: Spill::default(),
            error: None,
            written: 0,
        })
    }

    /// Holds about `share` bytes of waiting records at most (and reads the
    /// runs back with as much); past it spills them to a temporary file in
    /// `dir` (the system's temporary directory when `None` or when that
    /// fails).
    pub fn with_share(mut self, share: u64, dir: Option<PathBuf>) -> Self {
        self.share = usize::try_from(share).unwrap_or(usize::MAX).max(1);
        self.spill.dir = dir;
        self
    }

    /// Takes `batch` (emptied); writes, in order, every record retired
    /// before `watermark` (no later record can precede those); `u64::MAX`:
    /// every record (the end; a clock can be `u64::MAX` when timestamps
    /// saturate).
    pub fn push(&mut self, batch: &mut Vec<Retired>, watermark: u64) {
        if self.error.is_none() {
            let r = self.take(batch).and_then(|()| {
                self.spill
                    .emit(&mut self.held, watermark, self.share, &mut self.out)
            });
            match r {
                Ok(n) => self.written += n,
                Err(e) => self.error = Some(e),
            }
        }
        batch.clear();
    }

    /// Renders `batch` into the held records, spilling them past the share.
    fn take(&mut self, mut rest: &[Retired]) -> io::Result<()> {
        while !rest.is_empty() {
            // Without a temporary file, records stay in memory.
            let share = match self.spill.failed {
                Some(_) => usize::MAX,
                None => self.share,
            };
            let n = self.held.render(rest, self.format, share)?;
            rest = rest.get(n..).unwrap_or_default();
            if self.held.used() >= share {
                self.spill.spill(&mut self.held);
            }
        }
        Ok(())
    }

    /// Whether a write failed (nothing more is written).
    pub fn failed(&self) -> bool {
        self.error.is_some()
    }

    /// Sorted runs spilled to the temporary file, and their bytes.
    pub fn spilled(&self) -> (u64, u64) {
        (self.spill.made, self.spill.bytes)
    }

    /// Why records could not be spilled (they were then held in memory).
    pub fn spill_error(&self) -> Option<&io::Error> {
        self.spill.failed.as_ref()
    }

    /// Writes what is held back, flushes, and returns the records written
    /// and the writer, or the first write error.
    pub fn finish(mut self) -> io::Result<(u64, W)> {
        let mut rest = Vec::new();
        self.push(&mut rest, u64::MAX);
        if let Some(e) = self.error {
            return Err(e);
        }
        self.out.flush()?;
        Ok((self.written, self.out))
    }
}

impl<W: Write> FlowSink for FlowWriter<W> {
    fn retired(&mut self, retired: &mut Vec<Retired>, watermark: u64) -> ControlFlow<()> {
        self.push(retired, watermark);
        if self.failed() {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    }
}

/// The column names, in order: [`FlowRecord`]'s fields.
pub fn column_names() -> Vec<String> {
    let mut w = csv::Writer::from_writer(Vec::new());
    let header = w
        .serialize(FlowRecord::default())
        .and_then(|()| w.into_inner().map_err(|e| e.into_error().into()))
        .map(|buf| String::from_utf8_lossy(&buf).into_owned())
        .unwrap_or_default();
    header
        .lines()
        .next()
        .unwrap_or_default()
        .split(',')
        .map(str::to_string)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::Segment;
    use crate::flow::conn::Conn;
    use crate::flow::key::FlowKey;

    /// Connection `i`, IPv4 or IPv6 (odd `i`), retired at `clock`.
    fn retired(i: u64, clock: u64) -> Retired {
        let (a, b) = if i.is_multiple_of(2) {
            (format!("10.0.{}.{}", i / 200, i % 200 + 1), "192.0.2.1")
        } else {
            (format!("2001:db8::{:x}", i + 1), "2001:db8::ffff")
        };
        let mut seg = Segment::between(&a, 40_000 + (i % 7) as u16, b, 443);
        // Several connections per clock and first time: the frame and
        // key decide.
        seg.ts_ns = (i % 5) * 1_000_000;
        seg.frame = 1_000 - i;
        let (key, _) = FlowKey::of(&seg);
        Retired {
            conn: Conn::new(key, &seg),
            local: crate::flow::key::Side::A,
            end_ts: seg.ts_ns,
            open: true,
            clock,
        }
    }

    /// The same records, handed over in batches with rising watermarks
    /// (each batch retired at or after the previous watermark), give the
    /// same bytes whatever the share: spilled a few records or one at a
    /// time, merged with what is held, partly written at each watermark.
    #[test]
    fn spilled_records_come_out_in_the_documented_order() {
        let write = |format: FlowsFormat, share: Option<u64>| {
            let mut w = FlowWriter::new(Vec::new(), format).expect("header");
            if let Some(s) = share {
                w = w.with_share(s, None);
            }
            for b in 0..12u64 {
                // Batch b retires at clocks b..b+3 (watermark b: none
                // before b comes later).
                let mut batch: Vec<Retired> = (0..40)
                    .map(|i| retired(b * 40 + i, b + (i * 7) % 4))
                    .collect();
                w.push(&mut batch, if b % 3 == 2 { 0 } else { b });
                assert!(batch.is_empty());
            }
            let runs = w.spilled().0;
            let (n, out) = w.finish().expect("written");
            assert_eq!(n, 480);
            (out, runs)
        };
        for format in [FlowsFormat::Csv, FlowsFormat::Jsonl] {
            let (all, runs) = write(format, None);
            assert_eq!(runs, 0);
            // The reference: every record sorted by its order at once.
            let mut rs: Vec<Retired> = (0..12u64)
                .flat_map(|b| (0..40).map(move |i| retired(b * 40 + i, b + (i * 7) % 4)))
                .collect();
            rs.sort_unstable_by_key(order);
            let mut want = Vec::new();
            render::write_header(format, &mut want).expect("header");
            render::append_records(rs.iter().map(FlowRecord::new), format, &mut want, |_, _| {
                true
            })
            .expect("rendered");
            assert!(all == want, "{format:?}: not in order");
            for share in [1, 3_000, 20_000] {
                let (out, runs) = write(format, Some(share));
                assert!(runs > 1, "{format:?} {share}: {runs} run(s)");
                assert!(out == all, "{format:?} {share}: differs");
            }
        }
    }

    /// The column list is the struct's fields, in order (docs/flows.md
    /// documents them in this order).
    #[test]
    fn columns_are_the_fields_in_order() {
        let names = column_names();
        assert_eq!(names.len(), 63);
        assert_eq!(names[0], "first_ts_us");
        assert_eq!(names[13], "first_closer");
        assert_eq!(names[47], "rst_cause");
        // Who holds the FIN: the evidence columns come last.
        assert_eq!(names[48], "fin_ack_ttl");
        assert_eq!(names[62], "synack_ack_us");
    }
}
