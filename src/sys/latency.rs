//! The latency monitor (LATENCY LATEST/HISTORY/RESET/GRAPH/DOCTOR): per
//! event name, the last 160 samples (one per second at most, the worst
//! of that second) and the all-time maximum, as Redis's latency.c. A
//! sample is added only when it reaches `latency-monitor-threshold`
//! (0: off), so the lock is taken only for slow events.
//!
//! One monitor per process, here at the bottom of the layers, so that
//! background work below the engine (snapshot slices, AOF fsyncs, lazy
//! freeing) reports its events as the engine's commands do.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

/// Redis's LATENCY_TS_LEN.
pub const TS_LEN: usize = 160;

#[derive(Clone, Copy, Default)]
pub struct Sample {
    /// Unix seconds; 0 for an unused slot.
    pub time: u64,
    pub ms: u64,
}

#[derive(Clone)]
pub struct Series {
    pub samples: [Sample; TS_LEN],
    /// Next slot to write.
    pub idx: usize,
    pub max: u64,
}

impl Series {
    fn new() -> Series {
        Series {
            samples: [Sample::default(); TS_LEN],
            idx: 0,
            max: 0,
        }
    }

    /// Samples oldest first.
    pub fn in_order(&self) -> impl Iterator<Item = Sample> + '_ {
        (0..TS_LEN)
            .map(move |j| self.samples[(self.idx + j) % TS_LEN])
            .filter(|s| s.time != 0)
    }

    pub fn latest(&self) -> Sample {
        self.samples[(self.idx + TS_LEN - 1) % TS_LEN]
    }
}

/// Every event's series. Redis iterates a dict (no order); names sort here.
#[derive(Default)]
pub struct Monitor(Mutex<BTreeMap<String, Series>>);

static MONITOR: Monitor = Monitor(Mutex::new(BTreeMap::new()));
/// `latency-monitor-threshold` in ms (0: off), as last configured.
static THRESHOLD_MS: AtomicU64 = AtomicU64::new(0);

/// The process's monitor.
pub fn monitor() -> &'static Monitor {
    &MONITOR
}

/// Records the configured `latency-monitor-threshold`.
pub fn set_threshold(ms: u64) {
    THRESHOLD_MS.store(ms, Ordering::Relaxed);
}

/// Adds a sample of `event` if it reached the configured threshold.
#[inline]
pub fn observe(event: &str, ms: u64) {
    MONITOR.add_if_needed(THRESHOLD_MS.load(Ordering::Relaxed), event, ms);
}

impl Monitor {
    /// Redis's latencyAddSampleIfNeeded: `threshold_ms` 0 is off.
    #[inline]
    pub fn add_if_needed(&self, threshold_ms: u64, event: &str, ms: u64) {
        if threshold_ms > 0 && ms >= threshold_ms {
            self.add(event, ms, crate::sys::clock::unix_ms() / 1000);
        }
    }

    pub fn add(&self, event: &str, ms: u64, now: u64) {
        let mut all = self.0.lock().unwrap();
        let ts = all.entry(event.to_string()).or_insert_with(Series::new);
        ts.max = ts.max.max(ms);
        let prev = (ts.idx + TS_LEN - 1) % TS_LEN;
        if ts.samples[prev].time == now {
            ts.samples[prev].ms = ts.samples[prev].ms.max(ms);
            return;
        }
        ts.samples[ts.idx] = Sample { time: now, ms };
        ts.idx = (ts.idx + 1) % TS_LEN;
    }

    /// Drops the named event (case-insensitively), or all when None;
    /// how many were dropped.
    pub fn reset(&self, event: Option<&[u8]>) -> usize {
        let mut all = self.0.lock().unwrap();
        let before = all.len();
        match event {
            None => all.clear(),
            Some(e) => all.retain(|k, _| !k.as_bytes().eq_ignore_ascii_case(e)),
        }
        before - all.len()
    }

    pub fn snapshot(&self) -> BTreeMap<String, Series> {
        self.0.lock().unwrap().clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_sample_per_second_keeps_the_worst() {
        let m = Monitor::default();
        m.add("command", 5, 100);
        m.add("command", 9, 100);
        m.add("command", 3, 101);
        let s = m.snapshot();
        let ts = &s["command"];
        let v: Vec<(u64, u64)> = ts.in_order().map(|s| (s.time, s.ms)).collect();
        assert_eq!(v, vec![(100, 9), (101, 3)]);
        assert_eq!(ts.max, 9);
        assert_eq!(m.reset(Some(b"COMMAND")), 1);
        assert_eq!(m.reset(None), 0);
    }
}
