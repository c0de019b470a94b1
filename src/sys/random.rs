//! Cheap per-shard randomness for sampling (eviction, random members,
//! test delays): xorshift64*, not for secrets.

use std::cell::Cell;

/// Next value of an xorshift64* generator kept in `state` (non-zero):
/// good enough for sampling, not for secrets.
pub fn xorshift(state: &Cell<u64>) -> u64 {
    let mut x = state.get();
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    state.set(x);
    x.wrapping_mul(0x2545F4914F6CDD1D)
}

/// xorshift64* on a per-thread (so per-shard) state, seeded from the clock
/// and the thread: good for sampling, not for secrets.
pub fn shard_random() -> u64 {
    thread_local! {
        static RNG: Cell<u64> = Cell::new({
            let t = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos() as u64);
            let local = 0u8;
            (t ^ ((&local as *const u8 as u64) << 17)) | 1
        });
    }
    RNG.with(xorshift)
}
