//! The wall clock, in the units the engine stores (expiry times, INFO,
//! timestamps of the log and of replication).

use std::time::{SystemTime, UNIX_EPOCH};

/// Wall clock in Unix milliseconds.
pub fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// Wall clock in Unix microseconds.
pub fn unix_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64)
}
