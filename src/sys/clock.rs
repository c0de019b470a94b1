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

/// Wall clock in Unix milliseconds as of the kernel's last tick (1-4 ms
/// old): a read of the vDSO page, no TSC or paravirtual clock read (which
/// cost ~1 % of a request in a VM). For what Redis keeps in seconds (a
/// client's last interaction); never for expiry.
pub fn unix_ms_coarse() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid timespec to write to.
    if unsafe { libc::clock_gettime(libc::CLOCK_REALTIME_COARSE, &mut ts) } != 0 {
        return unix_ms();
    }
    ts.tv_sec as u64 * 1000 + ts.tv_nsec as u64 / 1_000_000
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn coarse_clock_is_the_wall_clock_to_a_few_ticks() {
        let (before, coarse, after) = (unix_ms(), unix_ms_coarse(), unix_ms());
        // Behind by a tick (a jiffy) or so, never ahead; a second of
        // slack for a loaded machine, still catching a wrong unit or epoch.
        assert!(coarse <= after, "{coarse} > {after}");
        assert!(
            coarse + 1000 >= before,
            "{coarse} is over 1 s behind {before}"
        );
    }
}
