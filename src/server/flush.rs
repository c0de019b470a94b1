//! Emptying a shard's databases (FLUSHDB, FLUSHALL, loading a new
//! dataset): the keyspace and everything that watches it.

use super::shard::ShardRt;

/// One shard's part of a flush; the caller holds the shard (FLUSHDB,
/// FLUSHALL, DEBUG RELOAD and LOADAOF, a replica's full sync).
pub fn flush_shard(rt: &ShardRt, db: Option<usize>, lazy: bool) {
    // BGSAVE: this shard's part of a running snapshot is finished first.
    crate::persist::bgsave::before_keyspace_write(rt);
    // Tracking clients: one null invalidation, the table forgotten.
    super::tracking::flushed(rt);
    let mut core = rt.core.borrow_mut();
    let core = &mut *core;
    // WATCHers of keys the flush removes (transaction.rs).
    core.watches
        .touch_existing(&core.store, db, None, crate::sys::clock::unix_ms());
    let mut garbage = Vec::new();
    let mut removed = 0;
    for (i, d) in core.store.dbs.iter_mut().enumerate() {
        if db.is_none_or(|db| db == i) {
            let (tables, n) = d.take_all();
            removed += n;
            garbage.push(tables);
        }
    }
    core.dirty += removed as u64;
    if lazy && removed > 0 {
        crate::store::lazyfree::free_later(garbage, removed as u64);
    }
}
