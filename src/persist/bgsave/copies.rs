//! The copy-on-write figures of INFO persistence. Redis's forked child
//! reports the memory its parent's writes made the kernel copy; Shardis
//! forks none, and its copy is the one `shard.rs` makes when a write
//! comes before the snapshot's cursor: the key's whole slot is
//! serialized out of turn, the point-in-time copy of those keys taken
//! because of a write. Their in-memory size is what `current_cow_size`
//! (and the `*_last_cow_size` fields, once the snapshot ends) show.

use std::sync::atomic::{AtomicU64, Ordering};

/// In-memory size of the keys the running snapshot serialized ahead of
/// its cursor (every shard's).
static CURRENT: AtomicU64 = AtomicU64::new(0);
/// The figure of the last RDB snapshot (BGSAVE, full sync) and of the
/// last AOF rewrite, when they ended.
static LAST_RDB: AtomicU64 = AtomicU64::new(0);
static LAST_AOF: AtomicU64 = AtomicU64::new(0);

/// A snapshot starts: nothing copied yet.
pub(super) fn reset() {
    CURRENT.store(0, Ordering::Relaxed);
}

/// A write made the running snapshot copy keys of `bytes` out of turn.
pub(super) fn add(bytes: u64) {
    CURRENT.fetch_add(bytes, Ordering::Relaxed);
}

/// The running snapshot ended: its figure becomes the last one of its
/// kind (`rdb`: an RDB snapshot, else an AOF rewrite).
pub(super) fn finish(rdb: bool) {
    let copied = CURRENT.swap(0, Ordering::Relaxed);
    let last = if rdb { &LAST_RDB } else { &LAST_AOF };
    last.store(copied, Ordering::Relaxed);
}

/// INFO's `current_cow_size` (and `current_cow_peak`: the figure only
/// grows while a snapshot runs).
pub fn current() -> u64 {
    CURRENT.load(Ordering::Relaxed)
}

/// INFO's `rdb_last_cow_size`.
pub fn last_rdb() -> u64 {
    LAST_RDB.load(Ordering::Relaxed)
}

/// INFO's `aof_last_cow_size`.
pub fn last_aof() -> u64 {
    LAST_AOF.load(Ordering::Relaxed)
}
