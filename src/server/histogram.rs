//! A compact log-linear histogram of durations in nanoseconds, for the
//! per-command latency of INFO latencystats and LATENCY HISTOGRAM.
//!
//! Redis keeps an hdr_histogram (1 ns .. 1 s, two significant digits,
//! ~24 KiB per command). Here each power of two is split into 16 linear
//! buckets (~6% precision) and the counts grow only as far as the largest
//! value seen, so a command that always takes microseconds costs a few
//! hundred bytes. The figures Redis reports are rebuilt from it: the
//! percentiles, and the cumulative counts at powers of two, labelled as
//! hdr_histogram labels them.

/// Redis records between 1 ns and 1 s (LATENCY_HISTOGRAM_MIN/MAX_VALUE).
const MIN_NS: u64 = 1;
const MAX_NS: u64 = 1_000_000_000;
/// log2 of the linear buckets per power of two.
const SUB_BITS: u32 = 4;
const SUB: u64 = 1 << SUB_BITS;

#[derive(Clone, Default, Debug)]
pub struct Histogram {
    counts: Vec<u64>,
    total: u64,
}

/// The bucket of `v`: values below 16 have their own, then 16 per octave.
fn index(v: u64) -> usize {
    if v < SUB {
        return v as usize;
    }
    let msb = 63 - v.leading_zeros();
    let shift = msb - SUB_BITS;
    let sub = (v >> shift) & (SUB - 1);
    ((shift as u64 + 1) * SUB + sub) as usize
}

/// The largest value bucket `i` holds.
fn highest(i: usize) -> u64 {
    let i = i as u64;
    if i < SUB {
        return i;
    }
    let shift = i / SUB - 1;
    let low = (SUB + i % SUB) << shift;
    low + (1 << shift) - 1
}

impl Histogram {
    /// Records one duration, clamped to Redis's range.
    #[inline]
    pub fn record(&mut self, ns: u64) {
        let i = index(ns.clamp(MIN_NS, MAX_NS));
        if i >= self.counts.len() {
            self.counts.resize(i + 1, 0);
        }
        self.counts[i] += 1;
        self.total += 1;
    }

    pub fn total(&self) -> u64 {
        self.total
    }

    pub fn merge(&mut self, other: &Histogram) {
        if other.counts.len() > self.counts.len() {
            self.counts.resize(other.counts.len(), 0);
        }
        for (a, b) in self.counts.iter_mut().zip(&other.counts) {
            *a += b;
        }
        self.total += other.total;
    }

    /// The value (ns) at `p` percent, as hdr_value_at_percentile: the top
    /// of the bucket holding the ceil(p% of total)-th value.
    pub fn percentile(&self, p: f64) -> u64 {
        if self.total == 0 {
            return 0;
        }
        let want = ((p.min(100.0) / 100.0 * self.total as f64 + 0.5) as u64).max(1);
        let mut seen = 0;
        for (i, &c) in self.counts.iter().enumerate() {
            seen += c;
            if seen >= want {
                return highest(i);
            }
        }
        highest(self.counts.len().saturating_sub(1))
    }

    /// (label in µs, cumulative count) at 1024 ns, 2048 ns, ... up to the
    /// largest value, skipping levels that add nothing (Redis's
    /// fillCommandCDF over hdr's logarithmic iterator). The label is the
    /// top of the hdr bucket at the level: hdr keeps 128 linear steps per
    /// power of two from 256 on.
    pub fn cdf(&self) -> Vec<(u64, u64)> {
        let mut out = Vec::new();
        let mut level: u64 = 1024;
        let mut prev = 0;
        let mut i = 0;
        let mut cumulative = 0;
        while cumulative < self.total {
            let hdr_step = 1u64 << ((63 - level.leading_zeros()).saturating_sub(7));
            let top = level + hdr_step - 1;
            while i < self.counts.len() && highest(i) <= top {
                cumulative += self.counts[i];
                i += 1;
            }
            if cumulative > prev {
                out.push((top / 1000, cumulative));
            }
            prev = cumulative;
            level *= 2;
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_cover_values_in_order() {
        let mut last = 0;
        for v in 1..100_000u64 {
            let i = index(v);
            assert!(i >= last);
            assert!(highest(i) >= v, "{v} above bucket {i}");
            assert!(i == 0 || highest(i - 1) < v);
            last = i;
        }
    }

    #[test]
    fn percentiles_and_cdf() {
        let mut h = Histogram::default();
        for _ in 0..99 {
            h.record(1_000);
        }
        h.record(3_000_000);
        assert_eq!(h.total(), 100);
        let p50 = h.percentile(50.0);
        assert!((1_000..1_070).contains(&p50), "{p50}");
        assert!(h.percentile(100.0) >= 3_000_000);
        // hdr's labels: 1, 2, 4, 8, 16, 33, 66, 132, 264, 528, 1056, 2113, 4227 µs.
        assert_eq!(h.cdf(), vec![(1, 99), (4227, 100)]);
    }
}
