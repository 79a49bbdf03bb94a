//! Frame-level counts, filled by the decoder, mergeable.

use super::timeline::{self, BucketSpan};
use super::{BySkip, Merge, add};
use crate::decode::{Segment, Skip, flags};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The frame and segment counts: the report's `packets` as it is.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PacketCounts {
    /// Packet records read.
    pub frames: u64,
    /// Frames carrying a TCP header (including ones cut before the flags).
    pub tcp: u64,
    pub syn: u64,
    pub fin: u64,
    pub rst: u64,
    /// ACK only, no payload.
    pub pure_ack: u64,
}

impl Merge for PacketCounts {
    fn merge(&mut self, o: &PacketCounts) {
        let PacketCounts {
            frames,
            tcp,
            syn,
            fin,
            rst,
            pure_ack,
        } = o;
        self.frames.merge(frames);
        self.tcp.merge(tcp);
        self.syn.merge(syn);
        self.fin.merge(fin);
        self.rst.merge(rst);
        self.pure_ack.merge(pure_ack);
    }
}

/// Frame-level counts, filled by the decoder.
#[derive(Clone, Debug, Default)]
pub struct Packets {
    /// Frames and segments.
    pub counts: PacketCounts,
    /// Frames that gave no TCP segment, by reason.
    pub skipped: BySkip<u64>,
    /// Frames per link type, but for the current run ([`Packets::links`]
    /// gives them all).
    link_types: BTreeMap<u16, u64>,
    /// The frames of the latest run of one link type (link type, frames),
    /// not yet in `link_types`: consecutive frames nearly always share a
    /// link type, and a map entry per frame would dominate `count`.
    run: (u16, u64),
    pub first_ts: Option<u64>,
    pub last_ts: Option<u64>,
    /// Timeline bucket width (ns) for `frames_by_bucket`; 0: not counted.
    pub bucket_ns: u64,
    /// Frames per timeline bucket, run-length: (bucket number, frames).
    pub frames_by_bucket: Vec<(u64, u64)>,
    /// The last bucket of `frames_by_bucket` when `count` made it.
    last_span: BucketSpan,
}

/// Equal counts: the link types compared whole ([`Packets::links`]),
/// wherever their runs end.
impl PartialEq for Packets {
    fn eq(&self, o: &Packets) -> bool {
        self.counts == o.counts
            && self.skipped == o.skipped
            && self.links() == o.links()
            && self.first_ts == o.first_ts
            && self.last_ts == o.last_ts
            && self.bucket_ns == o.bucket_ns
            && self.frames_by_bucket == o.frames_by_bucket
            && self.last_span == o.last_span
    }
}

impl Eq for Packets {}

impl Packets {
    /// Counters that also count frames per timeline bucket of `bucket_ns`.
    pub fn with_bucket(bucket_ns: u64) -> Packets {
        Packets {
            bucket_ns,
            ..Packets::default()
        }
    }

    /// Counts one frame and what the decoder made of it.
    pub fn count(&mut self, link: u16, ts: u64, r: &Result<Segment, Skip>) {
        self.frame(link, ts);
        match r {
            Ok(s) => self.tcp(s.flags, s.payload_len),
            Err(skip) => self.skip(*skip),
        }
    }

    /// Counts one frame (its link type and time); then [`Packets::tcp`] or
    /// [`Packets::skip`] counts what the decoder made of it.
    #[inline]
    pub fn frame(&mut self, link: u16, ts: u64) {
        self.counts.frames += 1;
        if self.run.0 == link {
            self.run.1 += 1;
        } else {
            self.end_run();
            self.run = (link, 1);
        }
        self.first_ts = Some(self.first_ts.map_or(ts, |f| f.min(ts)));
        self.last_ts = Some(self.last_ts.map_or(ts, |l| l.max(ts)));
        // In the last bucket's time range (on this width): no division.
        let span = self.last_span;
        match self.frames_by_bucket.last_mut() {
            Some((lb, n)) if *lb == span.b && span.holds(ts, self.bucket_ns) => *n += 1,
            _ => {
                if let Some(b) = ts.checked_div(self.bucket_ns) {
                    match self.frames_by_bucket.last_mut() {
                        Some((lb, n)) if *lb == b => *n += 1,
                        _ => self.frames_by_bucket.push((b, 1)),
                    }
                    self.last_span = BucketSpan::new(b, self.bucket_ns);
                }
            }
        }
    }

    /// The frame [`Packets::frame`] counted made a TCP segment with these
    /// flags and payload length.
    #[inline]
    pub fn tcp(&mut self, flags_byte: u8, payload_len: u32) {
        let c = &mut self.counts;
        c.tcp += 1;
        let has = |f: u8| u64::from(flags_byte & f != 0);
        c.syn += has(flags::SYN);
        c.fin += has(flags::FIN);
        c.rst += has(flags::RST);
        c.pure_ack += u64::from(flags_byte & 0x17 == flags::ACK && payload_len == 0);
    }

    /// The frame [`Packets::frame`] counted made no segment, for `skip`.
    pub fn skip(&mut self, skip: Skip) {
        if skip == Skip::TcpTruncated {
            self.counts.tcp += 1;
        }
        self.skipped[skip] += 1;
    }

    /// Moves the current run of one link type into the map.
    fn end_run(&mut self) {
        let (link, n) = std::mem::take(&mut self.run);
        if n > 0 {
            self.add_link_frames(link, n);
        }
    }

    /// Frames per link type, in link type order.
    pub fn links(&self) -> BTreeMap<u16, u64> {
        let mut m = self.link_types.clone();
        if self.run.1 > 0 {
            add(m.entry(self.run.0).or_insert(0), self.run.1);
        }
        m
    }

    /// Adds `n` frames of link type `link` (a report read back).
    pub fn add_link_frames(&mut self, link: u16, n: u64) {
        add(self.link_types.entry(link).or_insert(0), n);
    }
}

impl Packets {
    /// Adds `o`'s frames per bucket on the wider of the two widths (a
    /// run's widths are one width times powers of two), keeping at most
    /// [`timeline::MAX_LIVE_BUCKETS`] buckets: past it the width doubles,
    /// as the timeline's does.
    fn add_frames_by_bucket(&mut self, o: &Packets) {
        if o.bucket_ns == 0 {
            return;
        }
        if self.bucket_ns == 0 {
            self.bucket_ns = o.bucket_ns;
        }
        self.widen_frames(o.bucket_ns);
        let k = (self.bucket_ns / o.bucket_ns).max(1);
        for &(b, n) in &o.frames_by_bucket {
            match self.frames_by_bucket.last_mut() {
                Some((lb, m)) if *lb == b / k => add(m, n),
                _ => self.frames_by_bucket.push((b / k, n)),
            }
        }
        if self.frames_by_bucket.len() > 2 * timeline::MAX_LIVE_BUCKETS {
            self.compact_frames();
            while self.frames_by_bucket.len() > timeline::MAX_LIVE_BUCKETS
                && self.bucket_ns < u64::MAX / 2
            {
                self.widen_frames(self.bucket_ns * 2);
            }
        }
    }

    /// Re-buckets the frame counts to width `w` (a multiple of the current).
    fn widen_frames(&mut self, w: u64) {
        let w0 = self.bucket_ns;
        if w0 == 0 || w <= w0 || !w.is_multiple_of(w0) {
            return;
        }
        let k = w / w0;
        self.frames_by_bucket.iter_mut().for_each(|(b, _)| *b /= k);
        self.bucket_ns = w;
        self.compact_frames();
    }

    /// One entry per bucket, in bucket order.
    fn compact_frames(&mut self) {
        let v = &mut self.frames_by_bucket;
        v.sort_unstable_by_key(|e| e.0);
        let mut out: Vec<(u64, u64)> = Vec::with_capacity(v.len());
        for &(b, n) in v.iter() {
            match out.last_mut() {
                Some((lb, m)) if *lb == b => *m += n,
                _ => out.push((b, n)),
            }
        }
        *v = out;
    }
}

impl std::ops::AddAssign<&Packets> for Packets {
    fn add_assign(&mut self, o: &Packets) {
        // Every field, no `..`: a new one does not compile until merged.
        let Packets {
            counts,
            skipped,
            link_types,
            run,
            first_ts,
            last_ts,
            bucket_ns: _,
            frames_by_bucket: _,
            last_span: _, // a cache of `count`'s, checked before use
        } = o;
        self.counts.merge(counts);
        self.skipped.merge(skipped);
        self.end_run();
        let run = (run.1 > 0).then_some((&run.0, &run.1));
        for (&k, &v) in link_types.iter().chain(run) {
            self.add_link_frames(k, v);
        }
        // `bucket_ns` and `frames_by_bucket` together.
        self.add_frames_by_bucket(o);
        self.first_ts = match (self.first_ts, *first_ts) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        self.last_ts = match (self.last_ts, *last_ts) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Frames per link type across runs of one link type, a run cut by a
    /// merge and a report read back: every frame in its link type once.
    #[test]
    fn link_types_counted_by_runs() {
        let mut a = Packets::default();
        for (i, link) in [1u16, 1, 113, 1, 276, 276, 0, 0].into_iter().enumerate() {
            a.count(link, i as u64, &Err(Skip::NotIp));
        }
        let want = BTreeMap::from([(0, 2), (1, 3), (113, 1), (276, 2)]);
        assert_eq!(a.links(), want);
        let mut total = Packets::default();
        total += &a;
        a.frame(0, 9);
        a.skip(Skip::NotIp);
        total += &a;
        assert_eq!(
            total.links(),
            BTreeMap::from([(0, 5), (1, 6), (113, 2), (276, 4)])
        );
        assert_eq!(total.counts.frames, 17);
        // Equal whatever part of the counts waits in a run.
        let mut b = Packets::default();
        b.add_link_frames(1, 2);
        let mut c = Packets::default();
        c.count(1, 0, &Err(Skip::NotIp));
        c.count(1, 0, &Err(Skip::NotIp));
        b.counts = c.counts.clone();
        b.skipped = c.skipped;
        b.first_ts = c.first_ts;
        b.last_ts = c.last_ts;
        assert_eq!(b, c);
    }

    /// Frames per bucket over more buckets than the cap: the width doubles,
    /// no frame is lost, and a finer chunk adds onto the wider grid.
    #[test]
    fn frames_by_bucket_stay_bounded() {
        let ms = 1_000_000u64;
        let mut total = Packets::with_bucket(ms);
        let chunks = 5 * timeline::MAX_LIVE_BUCKETS as u64 / 1000;
        let n = chunks * 1000;
        for chunk in 0..chunks {
            let mut p = Packets::with_bucket(ms);
            p.frames_by_bucket = (0..1000).map(|i| (chunk * 1000 + i, 2)).collect();
            total += &p;
        }
        assert!(total.frames_by_bucket.len() <= 2 * timeline::MAX_LIVE_BUCKETS);
        assert!(total.bucket_ns > ms);
        let sum: u64 = total.frames_by_bucket.iter().map(|e| e.1).sum();
        assert_eq!(sum, 2 * n);
        let k = total.bucket_ns / ms;
        assert_eq!(total.bucket_ns % ms, 0);
        assert_eq!(total.frames_by_bucket[0], (0, 2 * k));
    }
}
