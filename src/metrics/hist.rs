//! Latency histograms: HdrHistogram (mergeable, microsecond values) plus the
//! exact count, minimum and maximum, so that reported percentiles never lie
//! outside the observed range and single samples are exact.

use hdrhistogram::Histogram;
use hdrhistogram::serialization::{Deserializer, Serializer, V2Serializer};

/// Why saved histogram parts (a merged report's input) cannot be a
/// histogram: they do not decode, or they contradict each other.
#[derive(Debug, thiserror::Error)]
pub enum HistError {
    #[error("not an HdrHistogram V2 serialization: {0}")]
    Decode(String),
    #[error("inconsistent histogram: {0}")]
    Inconsistent(&'static str),
}

/// A mergeable latency histogram of microsecond values.
#[derive(Clone, Debug)]
pub struct Hist {
    h: Option<Histogram<u64>>,
    sigfig: u8,
    count: u64,
    min: u64,
    max: u64,
}

impl Default for Hist {
    fn default() -> Self {
        Hist::with_sigfig(3)
    }
}

impl Hist {
    /// A histogram with `sigfig` significant decimal digits (1..=5).
    /// Fewer digits use less memory (per-peer histograms use 2).
    pub fn with_sigfig(sigfig: u8) -> Hist {
        Hist {
            h: None,
            sigfig: sigfig.clamp(1, 5),
            count: 0,
            min: u64::MAX,
            max: 0,
        }
    }

    fn inner(&mut self) -> Option<&mut Histogram<u64>> {
        if self.h.is_none() {
            // Cannot fail: sigfig is clamped to the valid range 1..=5.
            self.h = Histogram::new(self.sigfig).ok();
        }
        self.h.as_mut()
    }

    /// Records one value (microseconds).
    pub fn record(&mut self, us: u64) {
        self.count += 1;
        self.min = self.min.min(us);
        self.max = self.max.max(us);
        if let Some(h) = self.inner() {
            // Auto-resizing: only a value beyond u64 range could fail.
            let _ = h.record(us);
        }
    }

    pub fn count(&self) -> u64 {
        self.count
    }

    pub fn max(&self) -> Option<u64> {
        (self.count > 0).then_some(self.max)
    }

    pub fn min(&self) -> Option<u64> {
        (self.count > 0).then_some(self.min)
    }

    /// Value at quantile `q` (0..=1), clamped into [min, max]; None when empty.
    pub fn quantile(&self, q: f64) -> Option<u64> {
        if self.count == 0 {
            return None;
        }
        let v = self.h.as_ref().map_or(self.max, |h| h.value_at_quantile(q));
        Some(v.clamp(self.min, self.max))
    }

    /// Significant decimal digits of the HdrHistogram.
    pub fn sigfig(&self) -> u8 {
        self.sigfig
    }

    /// The HdrHistogram in its V2 serialized form (the standard interchange
    /// form, uncompressed); `None` when nothing was recorded. The exact
    /// count, min and max are kept beside it ([`Hist::from_v2`]).
    pub fn to_v2(&self) -> Option<Vec<u8>> {
        let h = self.h.as_ref().filter(|_| self.count > 0)?;
        // A fresh copy: its trackable range follows from the counts alone
        // (not from the order values were recorded in), so the same samples
        // always serialize to the same bytes, merged or not.
        let mut canonical = Histogram::<u64>::new(self.sigfig).ok()?;
        canonical.add(h).ok()?;
        let mut out = Vec::new();
        // Writing to a Vec cannot fail, and a histogram of u64 counts
        // always fits the format.
        V2Serializer::new().serialize(&canonical, &mut out).ok()?;
        Some(out)
    }

    /// A histogram from what [`Hist::to_v2`], [`Hist::count`],
    /// [`Hist::min`] and [`Hist::max`] gave: exactly the one they came
    /// from (merging it gives what merging the original gives).
    pub fn from_v2(v2: Option<&[u8]>, count: u64, min: u64, max: u64) -> Result<Hist, HistError> {
        let Some(bytes) = v2 else {
            return if count == 0 {
                Ok(Hist::default())
            } else {
                Err(HistError::Inconsistent("samples without a histogram"))
            };
        };
        // The V2 header (40 bytes) states its payload's length, which the
        // deserializer allocates before reading: a saved report must not
        // make it reserve gigabytes it does not hold.
        const HEADER: usize = 40;
        if let Some(claimed) = bytes.get(4..8) {
            let claimed = u32::from_be_bytes([claimed[0], claimed[1], claimed[2], claimed[3]]);
            let held = bytes.len().saturating_sub(HEADER);
            if claimed as usize > held {
                return Err(HistError::Decode(format!(
                    "its header claims {claimed} payload bytes, it holds {held}"
                )));
            }
        }
        let saved: Histogram<u64> = Deserializer::new()
            .deserialize(&mut &bytes[..])
            .map_err(|e| HistError::Decode(e.to_string()))?;
        if saved.len() != count {
            return Err(HistError::Inconsistent(
                "the count differs from the histogram's",
            ));
        }
        if count > 0 && (min > max || saved.min() > max || saved.max() < min) {
            return Err(HistError::Inconsistent(
                "min and max do not fit the histogram",
            ));
        }
        let sigfig = saved.sigfig();
        let mut out = Hist::with_sigfig(sigfig);
        if out.sigfig != sigfig {
            return Err(HistError::Inconsistent("significant digits out of range"));
        }
        if count == 0 {
            return Ok(out);
        }
        // An auto-resizing copy, like a histogram recorded here.
        if let Some(h) = out.inner() {
            h.add(&saved)
                .map_err(|e| HistError::Decode(format!("{e:?}")))?;
        }
        out.count = count;
        out.min = min;
        out.max = max;
        Ok(out)
    }

    /// Counts per power-of-two-ish bucket for the text report's bar chart:
    /// (upper bound in us, count) for every decade-half from 1 us up.
    pub fn log_buckets(&self) -> Vec<(u64, u64)> {
        let Some(h) = self.h.as_ref() else {
            return Vec::new();
        };
        let mut out = Vec::new();
        let mut lo = 0u64;
        let mut hi = 1u64;
        let mut step = 0;
        while lo <= self.max {
            let n = h.count_between(lo, hi.saturating_sub(1).max(lo));
            out.push((hi, n));
            lo = hi;
            // 1, 3, 10, 30, 100, ... (half decades)
            hi = if step % 2 == 0 { hi * 3 } else { hi / 3 * 10 };
            step += 1;
        }
        out
    }
}

impl std::ops::AddAssign<&Hist> for Hist {
    fn add_assign(&mut self, o: &Hist) {
        if o.count == 0 {
            return;
        }
        super::add(&mut self.count, o.count);
        self.min = self.min.min(o.min);
        self.max = self.max.max(o.max);
        // Auto-resizing histograms accept any value of another.
        if let Some(oh) = &o.h
            && let Some(h) = self.inner()
        {
            let _ = h.add(oh);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn exact_for_single_sample_and_small_values() {
        let mut h = Hist::default();
        h.record(14_000_123);
        assert_eq!(h.quantile(0.5), Some(14_000_123));
        assert_eq!(h.quantile(0.99), Some(14_000_123));
        let mut h = Hist::default();
        for v in 1..=100 {
            h.record(v);
        }
        assert_eq!(h.quantile(0.5), Some(50));
        assert_eq!(h.quantile(0.9), Some(90));
        assert_eq!(h.max(), Some(100));
        assert_eq!(Hist::default().quantile(0.5), None);
    }

    proptest! {
        #[test]
        fn merge_is_associative(a in prop::collection::vec(0u64..100_000_000, 0..50),
                                b in prop::collection::vec(0u64..100_000_000, 0..50),
                                c in prop::collection::vec(0u64..100_000_000, 0..50)) {
            let mk = |v: &Vec<u64>| { let mut h = Hist::default(); for x in v { h.record(*x); } h };
            let (ha, hb, hc) = (mk(&a), mk(&b), mk(&c));
            let mut left = ha.clone(); left += &hb; left += &hc;
            let mut bc = hb.clone(); bc += &hc;
            let mut right = ha.clone(); right += &bc;
            for q in [0.5, 0.9, 0.99, 0.999, 1.0] {
                prop_assert_eq!(left.quantile(q), right.quantile(q));
            }
            prop_assert_eq!(left.count(), (a.len() + b.len() + c.len()) as u64);
            prop_assert_eq!(left.max(), right.max());
        }

        /// The V2 form and the exact count, min and max give back the same
        /// histogram: the same figures, the same bytes again, and the same
        /// merge with another.
        #[test]
        fn v2_round_trip_is_exact(a in prop::collection::vec(0u64..100_000_000_000, 0..60),
                                  b in prop::collection::vec(0u64..1_000_000, 0..20)) {
            let mk = |v: &Vec<u64>| { let mut h = Hist::default(); for x in v { h.record(*x); } h };
            let (ha, hb) = (mk(&a), mk(&b));
            let v2 = ha.to_v2();
            prop_assert_eq!(v2.is_some(), !a.is_empty());
            let back = Hist::from_v2(
                v2.as_deref(), ha.count(), ha.min().unwrap_or(0), ha.max().unwrap_or(0),
            ).map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(back.to_v2(), v2);
            let (mut x, mut y) = (ha.clone(), back.clone());
            x += &hb;
            y += &hb;
            for q in [0.0, 0.5, 0.9, 0.99, 0.999, 1.0] {
                prop_assert_eq!(back.quantile(q), ha.quantile(q));
                prop_assert_eq!(x.quantile(q), y.quantile(q));
            }
            prop_assert_eq!(back.log_buckets(), ha.log_buckets());
            prop_assert_eq!((back.count(), back.min(), back.max()), (ha.count(), ha.min(), ha.max()));
        }
    }

    #[test]
    fn v2_payload_longer_than_held_is_refused_before_allocating() {
        let mut h = Hist::default();
        h.record(5);
        let mut v2 = h.to_v2().unwrap_or_default();
        assert!(Hist::from_v2(Some(&v2), 1, 5, 5).is_ok());
        v2[4..8].copy_from_slice(&u32::MAX.to_be_bytes());
        match Hist::from_v2(Some(&v2), 1, 5, 5) {
            Err(HistError::Decode(m)) => assert!(m.contains("4294967295 payload bytes"), "{m}"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn inconsistent_v2_parts_are_refused() {
        let mut h = Hist::default();
        h.record(5);
        h.record(7_000);
        let v2 = h.to_v2().unwrap_or_default();
        assert!(Hist::from_v2(Some(&v2), 2, 5, 7_000).is_ok());
        assert!(Hist::from_v2(Some(&v2), 3, 5, 7_000).is_err());
        assert!(Hist::from_v2(Some(&v2), 2, 8_000, 9_000).is_err());
        assert!(Hist::from_v2(None, 2, 5, 7_000).is_err());
        assert!(Hist::from_v2(Some(b"not a histogram"), 2, 5, 7_000).is_err());
        assert_eq!(
            Hist::from_v2(None, 0, 0, 0).map(|h| h.count()).ok(),
            Some(0)
        );
    }
}

/// A small sparse log-linear histogram for per-peer latencies: values below
/// 64 are exact, above that 32 sub-buckets per power of two (at most 3%
/// relative error, before clamping into the exact [min, max]). Only buckets
/// that hold samples are stored, so a peer costs a few bytes per distinct
/// latency instead of an HdrHistogram's fixed kilobytes: memory stays small
/// with hundreds of thousands of peers.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CompactHist {
    /// (bucket index, count), sorted by index.
    buckets: Vec<(u16, u32)>,
    count: u64,
    min: u64,
    max: u64,
}

const EXACT: u64 = 64;
const SUB_BITS: u32 = 5;

fn compact_index(v: u64) -> u16 {
    if v < EXACT {
        return v as u16;
    }
    let e = 63 - v.leading_zeros(); // >= 6
    let sub = (v >> (e - SUB_BITS)) & ((1 << SUB_BITS) - 1);
    (EXACT + u64::from(e - 6) * (1 << SUB_BITS) + sub) as u16
}

/// Highest value that falls in bucket `i`.
fn compact_upper(i: u16) -> u64 {
    let i = u64::from(i);
    if i < EXACT {
        return i;
    }
    let e = (i - EXACT) / (1 << SUB_BITS) + 6;
    let sub = (i - EXACT) % (1 << SUB_BITS);
    let shift = e - u64::from(SUB_BITS);
    let lower = ((1 << SUB_BITS) + sub) << shift;
    lower.saturating_add((1u64 << shift) - 1)
}

impl CompactHist {
    pub fn record(&mut self, v: u64) {
        if self.count == 0 {
            self.min = v;
            self.max = v;
        }
        self.count += 1;
        self.min = self.min.min(v);
        self.max = self.max.max(v);
        let i = compact_index(v);
        match self.buckets.binary_search_by_key(&i, |b| b.0) {
            Ok(p) => self.buckets[p].1 = self.buckets[p].1.saturating_add(1),
            Err(p) => self.buckets.insert(p, (i, 1)),
        }
    }

    pub fn count(&self) -> u64 {
        self.count
    }

    pub fn max(&self) -> Option<u64> {
        (self.count > 0).then_some(self.max)
    }

    pub fn min(&self) -> Option<u64> {
        (self.count > 0).then_some(self.min)
    }

    /// The sparse buckets: (bucket index, count), by index.
    pub fn buckets(&self) -> &[(u16, u32)] {
        &self.buckets
    }

    /// A histogram from what [`CompactHist::buckets`], `count`, `min` and
    /// `max` gave: exactly the one they came from.
    pub fn from_parts(
        buckets: Vec<(u16, u32)>,
        count: u64,
        min: u64,
        max: u64,
    ) -> Result<CompactHist, HistError> {
        if count == 0 {
            return if buckets.is_empty() {
                Ok(CompactHist::default())
            } else {
                Err(HistError::Inconsistent("buckets without samples"))
            };
        }
        if !buckets.windows(2).all(|w| w[0].0 < w[1].0) {
            return Err(HistError::Inconsistent("bucket indices not ascending"));
        }
        let sum: u64 = buckets.iter().map(|b| u64::from(b.1)).sum();
        // A bucket saturates at u32::MAX samples; then the count is larger.
        let saturated = buckets.iter().any(|b| b.1 == u32::MAX);
        if sum != count && !(saturated && sum < count) {
            return Err(HistError::Inconsistent(
                "the bucket counts do not add up to the count",
            ));
        }
        let (Some(lo), Some(hi)) = (buckets.first(), buckets.last()) else {
            return Err(HistError::Inconsistent("samples without buckets"));
        };
        if min > max || compact_index(min) != lo.0 || compact_index(max) != hi.0 {
            return Err(HistError::Inconsistent(
                "min and max do not fit the buckets",
            ));
        }
        Ok(CompactHist {
            buckets,
            count,
            min,
            max,
        })
    }

    /// Nearest-rank quantile, clamped into [min, max]; None when empty.
    pub fn quantile(&self, q: f64) -> Option<u64> {
        if self.count == 0 {
            return None;
        }
        let rank = ((q.clamp(0.0, 1.0) * self.count as f64).ceil() as u64).max(1);
        let mut seen = 0u64;
        for (i, n) in &self.buckets {
            seen += u64::from(*n);
            if seen >= rank {
                return Some(compact_upper(*i).clamp(self.min, self.max));
            }
        }
        Some(self.max)
    }
}

impl std::ops::AddAssign<&CompactHist> for CompactHist {
    fn add_assign(&mut self, o: &CompactHist) {
        if o.count == 0 {
            return;
        }
        if self.count == 0 {
            *self = o.clone();
            return;
        }
        super::add(&mut self.count, o.count);
        self.min = self.min.min(o.min);
        self.max = self.max.max(o.max);
        let mut merged = Vec::with_capacity(self.buckets.len() + o.buckets.len());
        let (mut a, mut b) = (self.buckets.iter().peekable(), o.buckets.iter().peekable());
        loop {
            match (a.peek(), b.peek()) {
                (Some(x), Some(y)) if x.0 == y.0 => {
                    merged.push((x.0, x.1.saturating_add(y.1)));
                    a.next();
                    b.next();
                }
                (Some(x), Some(y)) if x.0 < y.0 => {
                    merged.push(**x);
                    a.next();
                }
                (_, Some(y)) => {
                    merged.push(**y);
                    b.next();
                }
                (Some(x), None) => {
                    merged.push(**x);
                    a.next();
                }
                (None, None) => break,
            }
        }
        self.buckets = merged;
    }
}

#[cfg(test)]
mod compact_tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn exact_small_and_single() {
        let mut h = CompactHist::default();
        h.record(10_000);
        assert_eq!(h.quantile(0.5), Some(10_000));
        let mut h = CompactHist::default();
        for v in 1..=50 {
            h.record(v);
        }
        assert_eq!(h.quantile(0.5), Some(25));
        assert_eq!(h.quantile(0.99), Some(50));
        assert_eq!(CompactHist::default().quantile(0.5), None);
    }

    proptest! {
        #[test]
        fn bucket_bounds_hold(v in 0u64..u64::MAX / 2) {
            let i = compact_index(v);
            prop_assert!(compact_upper(i) >= v);
            if v >= EXACT {
                // Within 1/32 of the value.
                prop_assert!(compact_upper(i) - v <= v / 32 + 1);
            }
        }

        #[test]
        fn merge_equals_recording_all(a in prop::collection::vec(0u64..50_000_000, 0..40),
                                      b in prop::collection::vec(0u64..50_000_000, 0..40)) {
            let mut ha = CompactHist::default();
            a.iter().for_each(|v| ha.record(*v));
            let mut hb = CompactHist::default();
            b.iter().for_each(|v| hb.record(*v));
            let mut all = CompactHist::default();
            a.iter().chain(b.iter()).for_each(|v| all.record(*v));
            ha += &hb;
            prop_assert_eq!(&ha, &all);
            let back = CompactHist::from_parts(
                ha.buckets().to_vec(), ha.count(), ha.min().unwrap_or(0), ha.max().unwrap_or(0),
            ).map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(back, all);
        }
    }

    #[test]
    fn inconsistent_parts_are_refused() {
        let mut h = CompactHist::default();
        h.record(10);
        h.record(10_000);
        let b = h.buckets().to_vec();
        assert!(CompactHist::from_parts(b.clone(), 2, 10, 10_000).is_ok());
        assert!(CompactHist::from_parts(b.clone(), 3, 10, 10_000).is_err());
        assert!(CompactHist::from_parts(b.clone(), 2, 11, 10_000).is_err());
        let mut rev = b.clone();
        rev.reverse();
        assert!(CompactHist::from_parts(rev, 2, 10, 10_000).is_err());
        assert!(CompactHist::from_parts(b, 0, 0, 0).is_err());
        assert_eq!(
            CompactHist::from_parts(Vec::new(), 0, 0, 0).ok(),
            Some(CompactHist::default())
        );
    }
}
