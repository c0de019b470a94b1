//! What a key's `lru` field holds, and how an access updates it.
//!
//! Under an LRU (or no) `maxmemory-policy` it is the shard's LRU clock in
//! seconds at the last access (OBJECT IDLETIME). Under an LFU policy it is
//! Redis's LFU pair: the last decrement time in minutes (16 bits) above an
//! 8-bit logarithmic access counter, updated as Redis 7.0's evict.c does
//! (`updateLFU`: decay by idle periods, then a probabilistic increment).
//! Switching policies at run time reinterprets old values, as in Redis.

/// Counter of a new key (Redis's LFU_INIT_VAL).
pub const LFU_INIT_VAL: u8 = 5;

/// The LFU settings and the current time in minutes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Lfu {
    /// Unix minutes, modulo 2^16.
    pub minutes: u16,
    /// `lfu-log-factor`.
    pub log_factor: u32,
    /// `lfu-decay-time`, minutes per counter decrement (0: never).
    pub decay_time: u32,
}

/// How a batch's accesses stamp the keys they touch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Access {
    /// The LRU clock in seconds.
    pub lru_secs: u32,
    /// Some under an LFU policy.
    pub lfu: Option<Lfu>,
}

impl Access {
    /// The `lru` value of a key created now.
    #[inline]
    pub fn new_stamp(&self) -> u32 {
        match self.lfu {
            None => self.lru_secs,
            Some(l) => (u32::from(l.minutes) << 8) | u32::from(LFU_INIT_VAL),
        }
    }

    /// Updates `lru` for an access to its key. `random` is drawn only
    /// under LFU (the increment is probabilistic).
    #[inline]
    pub fn touch(&self, lru: &mut u32, random: impl FnOnce() -> u64) {
        match self.lfu {
            None => *lru = self.lru_secs,
            Some(l) => {
                let counter = l.decayed(*lru);
                let counter = l.log_incr(counter, random());
                *lru = (u32::from(l.minutes) << 8) | u32::from(counter);
            }
        }
    }
}

impl Lfu {
    /// Minutes since the stamp's decrement time (wrapping at 2^16).
    fn elapsed(&self, stamp: u32) -> u32 {
        let then = (stamp >> 8) as u16;
        u32::from(self.minutes.wrapping_sub(then))
    }

    /// The stamp's counter after decay (Redis's LFUDecrAndReturn): what
    /// OBJECT FREQ reports.
    pub fn decayed(&self, stamp: u32) -> u8 {
        let counter = (stamp & 0xff) as u8;
        if self.decay_time == 0 {
            return counter;
        }
        let periods = self.elapsed(stamp) / self.decay_time;
        counter.saturating_sub(periods.min(255) as u8)
    }

    /// One access (Redis's LFULogIncr): the higher the counter, the less
    /// likely it grows. `random` is any uniformly random u64.
    fn log_incr(&self, counter: u8, random: u64) -> u8 {
        if counter == 255 {
            return 255;
        }
        let r = (random >> 11) as f64 / (1u64 << 53) as f64;
        let base = f64::from(counter.saturating_sub(LFU_INIT_VAL));
        let p = 1.0 / (base * f64::from(self.log_factor) + 1.0);
        if r < p {
            counter + 1
        } else {
            counter
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lfu(minutes: u16) -> Access {
        Access {
            lru_secs: 99,
            lfu: Some(Lfu {
                minutes,
                log_factor: 10,
                decay_time: 1,
            }),
        }
    }

    #[test]
    fn lru_stamps_the_clock() {
        let a = Access {
            lru_secs: 1234,
            lfu: None,
        };
        let mut lru = 7;
        a.touch(&mut lru, || unreachable!("no random under LRU"));
        assert_eq!((a.new_stamp(), lru), (1234, 1234));
    }

    #[test]
    fn lfu_counts_up_logarithmically_and_decays_per_minute() {
        let a = lfu(100);
        let mut stamp = a.new_stamp();
        assert_eq!(stamp & 0xff, u32::from(LFU_INIT_VAL));
        // Below LFU_INIT_VAL + 1 every access counts (p = 1).
        a.touch(&mut stamp, || 0);
        assert_eq!(stamp & 0xff, 6);
        // With p = 1/11 a draw just above p does not count, one below does.
        a.touch(&mut stamp, || u64::MAX);
        assert_eq!(stamp & 0xff, 6);
        a.touch(&mut stamp, || 0);
        assert_eq!(stamp & 0xff, 7);
        // Seven minutes later, seven periods of decay.
        let later = lfu(107).lfu.unwrap();
        assert_eq!(later.decayed(stamp), 0);
        assert_eq!(lfu(103).lfu.unwrap().decayed(stamp), 4);
        // The minute counter wraps at 2^16.
        let wrapped = lfu(1).lfu.unwrap();
        let old = (u32::from(u16::MAX) << 8) | 10;
        assert_eq!(wrapped.decayed(old), 8);
    }
}
