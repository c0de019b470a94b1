//! Randomness: the kernel's generator for ids that must differ between
//! processes (run id, replication id), and a cheap per-shard xorshift64*
//! for sampling on the hot path (eviction, random members, test delays),
//! not for secrets.

use crate::sys::clock::unix_us;
use std::cell::Cell;

/// Random lower-case hex string from the kernel's generator.
pub fn random_hex(n: usize) -> String {
    let mut bytes = vec![0u8; n.div_ceil(2)];
    // SAFETY: getrandom fills the buffer it is given.
    let got = unsafe { libc::getrandom(bytes.as_mut_ptr().cast(), bytes.len(), 0) };
    if got != bytes.len() as isize {
        let seed = unix_us() ^ (std::process::id() as u64) << 32;
        for (i, b) in bytes.iter_mut().enumerate() {
            *b = (seed
                .wrapping_mul(0x9E3779B97F4A7C15)
                .rotate_left(i as u32 * 7)
                >> 24) as u8;
        }
    }
    let mut s: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    s.truncate(n);
    s
}

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
