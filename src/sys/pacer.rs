//! Pacing for background work done in slices on a shard's thread
//! (snapshots, active expiry): after each slice a short real-timer pause
//! lets the executor poll its sockets; a pause that took long means
//! requests are being served, and then slices shrink and take at most a
//! quarter of the thread's time.

use std::time::{Duration, Instant};

/// Pause between slices: short, but a real timer.
const PAUSE: Duration = Duration::from_micros(50);
/// Share of the thread's time slices take while requests are served.
const BUSY_SHARE_PERCENT: u32 = 25;

pub struct Pacer {
    idle: Duration,
    busy: Duration,
    slice: Duration,
}

impl Pacer {
    /// Slices of `idle` while nothing else runs, `busy` while requests
    /// are being served.
    pub fn new(idle: Duration, busy: Duration) -> Pacer {
        Pacer {
            idle,
            busy,
            slice: idle,
        }
    }

    /// How long the next slice may work.
    pub fn slice(&self) -> Duration {
        self.slice
    }

    /// The pause after a slice that worked for `worked`.
    pub async fn pause(&mut self, worked: Duration) {
        let paused = Instant::now();
        glommio::timer::sleep(PAUSE).await;
        let gap = paused.elapsed();
        let fair_gap = worked * (100 - BUSY_SHARE_PERCENT) / BUSY_SHARE_PERCENT;
        let busy = gap > PAUSE * 4;
        if busy && gap < fair_gap {
            glommio::timer::sleep(fair_gap - gap).await;
        }
        self.slice = if busy { self.busy } else { self.idle };
    }
}
