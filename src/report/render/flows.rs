//! `--flows FILE`: one record per connection, as JSON Lines or CSV, for
//! pandas, duckdb or a spreadsheet. docs/flows.md documents every column.
//!
//! Records are written while the capture is read, so memory stays bounded
//! by the connections live at once, not by all connections. They come in
//! order of retirement on the capture clock ([`Retired::clock`], the
//! `retired_ts_us` column), then first packet time, first frame and flow
//! key: an order that depends neither on the thread count nor on how the
//! input is cut into batches. [`FlowWriter`] holds back the records that a
//! later batch could still precede (retired at the latest clock so far)
//! until the pipeline's watermark passes them. Both formats come from
//! the one list of columns in [`FlowRecord::columns`]: same names, same
//! order; an absent value is `null` in JSON and an empty cell in CSV.
//! Timestamps are microseconds since the Unix epoch, latencies microseconds.

use crate::flow::conn::{Conn, SidesBy};
use crate::flow::key::{FlowKey, Side};
use crate::flow::table::Retired;
use crate::pipeline::FlowSink;
use std::io::{self, Write};

/// Output format of `--flows`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum FlowsFormat {
    /// One JSON object per line.
    #[default]
    Jsonl,
    /// Comma-separated values with a header line.
    Csv,
}

/// One cell.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Value {
    U64(u64),
    Bool(bool),
    Str(String),
    Null,
}

impl Value {
    /// The value as a JSON literal (`json`) or a CSV cell (strings bare,
    /// null empty; the csv writer quotes).
    fn cell(&self, json: bool) -> String {
        match self {
            Value::U64(x) => x.to_string(),
            Value::Bool(b) => b.to_string(),
            Value::Str(s) if json => json_string(s),
            Value::Str(s) => s.clone(),
            Value::Null if json => "null".to_string(),
            Value::Null => String::new(),
        }
    }
}

impl From<Option<u64>> for Value {
    fn from(v: Option<u64>) -> Value {
        v.map_or(Value::Null, Value::U64)
    }
}

fn us(ns: u64) -> u64 {
    ns / 1_000
}

/// A finished connection, seen from its local side.
pub struct FlowRecord<'a> {
    r: &'a Retired,
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

impl<'a> FlowRecord<'a> {
    pub fn new(r: &'a Retired) -> Self {
        FlowRecord { r }
    }

    fn conn(&self) -> &Conn {
        &self.r.conn
    }

    /// The columns, in order: (name, value).
    pub fn columns(&self) -> Vec<(&'static str, Value)> {
        let c = self.conn();
        let local: Side = self.r.local;
        let remote = local.other();
        let (l, r) = (&c.ep[local], &c.ep[remote]);
        let (la, ra) = (c.key.endpoint(local), c.key.endpoint(remote));
        let (client, by) = c.client_side();
        // The first closer's latencies, exactly as the report's histograms
        // take them: both read the close model.
        let lat = c.latencies();
        let (fin_ack, fin_fin, close_total) = (lat.fin_ack, lat.fin_fin, lat.close_total);
        let str = |s: &str| Value::Str(s.to_string());
        let mut cols = vec![
            ("first_ts_us", Value::U64(us(c.first_ts))),
            ("last_ts_us", Value::U64(us(c.last_ts))),
            ("end_ts_us", Value::U64(us(self.r.end_ts))),
            ("first_frame", Value::U64(c.first_frame)),
            ("last_frame", Value::U64(c.last_frame)),
            ("vlan", Value::U64(u64::from(c.key.vlan))),
            ("local_addr", Value::Str(la.0.to_string())),
            ("local_port", Value::U64(u64::from(la.1))),
            ("remote_addr", Value::Str(ra.0.to_string())),
            ("remote_port", Value::U64(u64::from(ra.1))),
            (
                "local_role",
                str(if client == local { "client" } else { "server" }),
            ),
            (
                "sides_by",
                str(match by {
                    SidesBy::Syn => "syn",
                    SidesBy::SynAck => "synack",
                    SidesBy::Port => "port",
                }),
            ),
            ("outcome", str(c.outcome().name())),
            (
                "first_closer",
                match c.first_fin {
                    Some(f) if f == local => str("local"),
                    Some(_) => str("remote"),
                    None => Value::Null,
                },
            ),
            ("local_fin_ts_us", l.fin_ts.map(us).into()),
            ("local_fin_acked_ts_us", l.fin_acked_ts.map(us).into()),
            ("remote_fin_ts_us", r.fin_ts.map(us).into()),
            ("remote_fin_acked_ts_us", r.fin_acked_ts.map(us).into()),
            ("rst_ts_us", c.rst_ts.map(us).into()),
            ("fin_ack_us", fin_ack.into()),
            ("fin_fin_us", fin_fin.into()),
            ("close_total_us", close_total.into()),
            (
                "local_fin_retransmissions",
                Value::U64(u64::from(l.fin_retransmissions())),
            ),
            (
                "remote_fin_retransmissions",
                Value::U64(u64::from(r.fin_retransmissions())),
            ),
            (
                "spurious_fin_retransmissions",
                Value::U64(u64::from(l.fin_rtx_spurious + r.fin_rtx_spurious)),
            ),
            ("local_rsts", Value::U64(u64::from(l.rsts))),
            ("remote_rsts", Value::U64(u64::from(r.rsts))),
            ("local_segments", Value::U64(l.segments)),
            ("remote_segments", Value::U64(r.segments)),
            ("local_bytes", Value::U64(l.bytes)),
            ("remote_bytes", Value::U64(r.bytes)),
            ("fin_moved", Value::U64(u64::from(c.fin_moved))),
            ("one_sided", Value::Bool(c.one_sided())),
            ("local_state", str(l.state().key())),
            ("remote_state", str(r.state().key())),
            ("local_killed_ts_us", l.killed_at.map(us).into()),
            ("kill_confirmed", Value::Bool(l.kill_confirmed)),
            ("local_fin_unacked", Value::Bool(c.fin_unacked(local))),
            ("remote_fin_unacked", Value::Bool(c.fin_unacked(remote))),
            ("anomalies", Value::U64(c.anomalies())),
            ("retired_ts_us", Value::U64(us(self.r.clock))),
            ("first_time", str(&iso(c.first_ts))),
            ("last_time", str(&iso(c.last_ts))),
            ("vlan_outer", vlan_outer(c.key.vlan).into()),
            ("vlan_inner", vlan_inner(c.key.vlan).into()),
            (
                "wireshark_filter",
                str(&crate::metrics::peers::wireshark_filter(
                    &c.key,
                    local,
                    c.first_frame,
                    c.last_frame,
                )),
            ),
            (
                "local_fin_wait_us",
                c.fin_wait_us(local, self.r.end_ts).into(),
            ),
            ("rst_cause", c.rst_cause().map_or(Value::Null, str)),
        ];
        cols.extend(evidence_columns(c, local));
        cols
    }
}

/// Who holds the FIN: the connection's evidence (docs/flows.md), the last
/// columns.
fn evidence_columns(c: &Conn, local: Side) -> Vec<(&'static str, Value)> {
    let (l, r) = (c.ev.of(local), c.ev.of(local.other()));
    let (syn_leg, ack_leg) = c.ev.handshake_us();
    let nz = |v: u64| (v != 0).then_some(v);
    let n = |v: u32| Value::U64(u64::from(v));
    vec![
        ("fin_ack_ttl", nz(u64::from(r.fin_ack_ttl)).into()),
        ("remote_ttl", nz(u64::from(r.ttl_mode)).into()),
        ("remote_zero_windows", n(r.zero_windows)),
        ("local_window_probes", n(l.probes)),
        ("local_data_segments", n(l.data_segs)),
        ("local_data_retransmissions", n(l.data_rtx)),
        ("remote_data_segments", n(r.data_segs)),
        ("remote_data_retransmissions", n(r.data_rtx)),
        ("local_dup_acks", n(l.dup_acks)),
        ("remote_dup_acks", n(r.dup_acks)),
        (
            "data_rtt_us",
            (l.rtt_samples > 0)
                .then(|| l.rtt_sum_us / u64::from(l.rtt_samples))
                .into(),
        ),
        (
            "local_fin_zero_window_since_us",
            nz(us(l.zw_fin_since)).into(),
        ),
        (
            "local_fin_held_bytes",
            (l.zw_fin_since != 0)
                .then_some(u64::from(l.zw_held_bytes))
                .into(),
        ),
        ("syn_synack_us", syn_leg.into()),
        ("synack_ack_us", ack_leg.into()),
    ]
}

/// The documented order: retire clock, first packet time, first frame,
/// flow key (a total order: a frame starts at most one connection).
fn order(r: &Retired) -> (u64, u64, u64, FlowKey) {
    (r.clock, r.conn.first_ts, r.conn.first_frame, r.conn.key)
}

/// Sorts connections into the documented order.
pub fn sort(flows: &mut [Retired]) {
    flows.sort_unstable_by_key(order);
}

/// Writes records as the pipeline hands them over, in the documented order.
pub struct FlowWriter<W: Write> {
    out: W,
    format: FlowsFormat,
    /// Records that a later batch could still precede.
    held: Vec<Retired>,
    /// The first write error; nothing is written after it.
    error: Option<io::Error>,
    written: u64,
}

impl<W: Write> FlowWriter<W> {
    /// A writer to `out` (the CSV header is written at once).
    pub fn new(mut out: W, format: FlowsFormat) -> io::Result<Self> {
        if format == FlowsFormat::Csv {
            let mut w = csv::Writer::from_writer(&mut out);
            w.write_record(column_names())?;
            w.flush()?;
        }
        Ok(FlowWriter {
            out,
            format,
            held: Vec::new(),
            error: None,
            written: 0,
        })
    }

    /// Takes `batch`; writes, in order, every record retired before
    /// `watermark` (no later record can precede those); `u64::MAX`: every
    /// record (the end; a clock can be `u64::MAX` when timestamps saturate).
    pub fn push(&mut self, batch: &mut Vec<Retired>, watermark: u64) {
        self.held.append(batch);
        sort(&mut self.held);
        let ready = if watermark == u64::MAX {
            self.held.len()
        } else {
            self.held.partition_point(|r| r.clock < watermark)
        };
        if self.error.is_none() {
            let r = write_records(&self.held[..ready], self.format, &mut self.out);
            self.error = r.err();
        }
        self.written += ready as u64;
        self.held.drain(..ready);
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
    fn retired(&mut self, retired: &mut Vec<Retired>, watermark: u64) {
        self.push(retired, watermark);
    }
}

fn json_string(s: &str) -> String {
    // Cannot fail: a string always serialises.
    serde_json::to_string(s).unwrap_or_default()
}

/// Writes records (already sorted, no header) in `format`.
fn write_records(flows: &[Retired], format: FlowsFormat, w: &mut impl Write) -> io::Result<()> {
    if format == FlowsFormat::Csv {
        // The csv crate quotes what needs it (commas, quotes, line breaks).
        let mut out = csv::Writer::from_writer(w);
        for f in flows {
            out.write_record(
                FlowRecord::new(f)
                    .columns()
                    .iter()
                    .map(|(_, v)| v.cell(false)),
            )?;
        }
        return out.flush();
    }
    for f in flows {
        let cols = FlowRecord::new(f).columns();
        let line: Vec<String> = cols
            .iter()
            .map(|(n, v)| format!("{}:{}", json_string(n), v.cell(true)))
            .collect();
        writeln!(w, "{{{}}}", line.join(","))?;
    }
    Ok(())
}

/// The column names, in order (for a header without any record).
pub fn column_names() -> Vec<&'static str> {
    use crate::decode::Segment;
    use crate::decode::seq::SeqNum;
    use crate::flow::key::FlowKey;
    use std::net::{IpAddr, Ipv4Addr};
    let seg = Segment {
        ts_ns: 0,
        frame: 0,
        src: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        dst: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        sport: 0,
        dport: 0,
        vlan: 0,
        seq: SeqNum(0),
        ack: SeqNum(0),
        flags: 0,
        payload_len: 0,
        ttl: 64,
        zero_window: false,
    };
    let r = Retired {
        conn: Conn::new(FlowKey::of(&seg).0, &seg),
        local: crate::flow::key::Side::A,
        end_ts: 0,
        open: false,
        clock: 0,
    };
    FlowRecord::new(&r)
        .columns()
        .into_iter()
        .map(|(n, _)| n)
        .collect()
}
