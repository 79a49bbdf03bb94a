//! Latency histograms: HdrHistogram (mergeable, microsecond values) plus the
//! exact count, minimum and maximum, so that reported percentiles never lie
//! outside the observed range and single samples are exact.

use hdrhistogram::Histogram;

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
        self.count += o.count;
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
    }
}
