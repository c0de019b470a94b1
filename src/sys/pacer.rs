//! Pacing for background work done in slices on a shard's thread
//! (snapshots, active expiry): after each slice a short real-timer pause
//! lets the executor poll its sockets. While requests are being served,
//! slices shrink and take at most a quarter of the thread's time.
//!
//! Replies sent in the last few milliseconds are what tells requests are
//! being served (or a pause that took long: other tasks ran). The pause's
//! length alone did not: at P=1 with 20 clients a reactor pass serving
//! every waiting request takes 100-200 us, under the long-pause mark, and
//! the slices stayed at their idle length with gaps of one pass; active
//! expiry took four fifths of the thread and GET's p99 tripled
//! (docs/benchmarks.md, issue 22). Nor do one pause's replies: the
//! clients' next requests may not be back within it.

use std::time::{Duration, Instant};

/// Pause between slices: short, but a real timer.
const PAUSE: Duration = Duration::from_micros(50);
/// Share of the thread's time slices take while requests are served.
const BUSY_SHARE_PERCENT: u32 = 25;
/// Requests count as being served this long after a reply went out.
const SERVED_HOLD: Duration = Duration::from_millis(10);

pub struct Pacer {
    idle: Duration,
    busy: Duration,
    slice: Duration,
    /// The thread's reply count when last looked at.
    sends: u64,
    /// When it was last seen to have moved.
    served_at: Option<Instant>,
}

impl Pacer {
    /// Slices of `idle` while nothing else runs, `busy` while requests
    /// are being served.
    pub fn new(idle: Duration, busy: Duration) -> Pacer {
        Pacer {
            idle,
            busy,
            slice: idle,
            sends: crate::sys::exec::sends_so_far(),
            served_at: None,
        }
    }

    /// Before a run of slices that follows a break (the expire cycle's
    /// sleep between runs): replies sent meanwhile mean requests are being
    /// served, so the run's first slice is already a busy one. (A pacer
    /// made new for each run started every run with an idle slice: five
    /// times a busy one, ten times a second under load.)
    pub fn begin(&mut self) {
        let now = Instant::now();
        self.look(crate::sys::exec::sends_so_far(), now);
        self.choose_slice(self.busy_at(now, Duration::ZERO));
    }

    fn choose_slice(&mut self, busy: bool) {
        self.slice = if busy { self.busy } else { self.idle };
    }

    /// How long the next slice may work.
    pub fn slice(&self) -> Duration {
        self.slice
    }

    /// The pause after a slice that worked for `worked`.
    pub async fn pause(&mut self, worked: Duration) {
        let paused = Instant::now();
        // Replies sent since the last look (before this slice) count too.
        self.look(crate::sys::exec::sends_so_far(), paused);
        glommio::timer::sleep(PAUSE).await;
        // Connections woken in the same reactor pass as the timer run
        // first (their replies counted), before the next slice.
        crate::sys::exec::yield_now().await;
        let now = Instant::now();
        self.look(crate::sys::exec::sends_so_far(), now);
        let gap = now - paused;
        let busy = self.busy_at(now, gap);
        let fair_gap = worked * (100 - BUSY_SHARE_PERCENT) / BUSY_SHARE_PERCENT;
        if busy && gap < fair_gap {
            glommio::timer::sleep(fair_gap - gap).await;
        }
        self.choose_slice(busy);
    }

    /// Notes the thread's reply count `sends` seen at `now`.
    fn look(&mut self, sends: u64, now: Instant) {
        if sends != self.sends {
            self.sends = sends;
            self.served_at = Some(now);
        }
    }

    /// Whether requests are being served, after a pause of `gap`.
    fn busy_at(&self, now: Instant, gap: Duration) -> bool {
        let served = self
            .served_at
            .is_some_and(|at| now.saturating_duration_since(at) < SERVED_HOLD);
        served || gap > PAUSE * 4
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const IDLE: Duration = Duration::from_micros(500);
    const BUSY: Duration = Duration::from_micros(100);

    #[test]
    fn replies_in_a_short_pause_mean_busy() {
        let mut p = Pacer::new(IDLE, BUSY);
        let t0 = Instant::now();
        assert!(!p.busy_at(t0, PAUSE));
        p.look(p.sends + 1, t0);
        assert!(p.busy_at(t0 + PAUSE, PAUSE));
    }

    #[test]
    fn a_quiet_pause_soon_after_replies_stays_busy() {
        let mut p = Pacer::new(IDLE, BUSY);
        let t0 = Instant::now();
        p.look(p.sends + 1, t0);
        let later = t0 + Duration::from_millis(1);
        p.look(p.sends, later);
        assert!(p.busy_at(later, PAUSE));
        // Long after the last reply: idle again.
        assert!(!p.busy_at(t0 + SERVED_HOLD * 2, PAUSE));
    }

    #[test]
    fn replies_between_runs_make_the_first_slice_busy() {
        let mut p = Pacer::new(IDLE, BUSY);
        p.begin();
        assert_eq!(p.slice(), IDLE);
        // No reply since: still idle.
        p.begin();
        assert_eq!(p.slice(), IDLE);
        p.sends = p.sends.wrapping_sub(1);
        p.begin();
        assert_eq!(p.slice(), BUSY);
    }

    #[test]
    fn a_long_pause_means_busy() {
        let p = Pacer::new(IDLE, BUSY);
        assert!(p.busy_at(Instant::now(), PAUSE * 5));
    }
}
