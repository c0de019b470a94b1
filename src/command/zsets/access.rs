//! Reaching a key's sorted set for reading or writing, and storing or
//! dropping one.

use crate::command::{Class, Ctx};
use crate::store::zset::ZSet;
use crate::store::Value;

/// The zset at `$key` for reading, counting the hit or miss. When the key
/// is missing, `$missing` runs and the handler returns; another type
/// replies WRONGTYPE and returns.
macro_rules! zset_read {
    ($ctx:ident, $key:expr, $missing:expr) => {{
        let now = $ctx.now_ms;
        let lru = $ctx.lru;
        match $ctx.store.dbs[$ctx.db].lookup_read($key, now) {
            None => {
                $ctx.misses += 1;
                $missing;
                return;
            }
            Some(e) => {
                $ctx.hits += 1;
                e.lru = lru;
                match &mut e.value {
                    $crate::store::Value::ZSet(z) => &mut **z,
                    _ => {
                        $ctx.out.error($crate::command::util::WRONGTYPE);
                        return;
                    }
                }
            }
        }
    }};
}

/// Like `zset_read!` for writing: no hit/miss accounting.
macro_rules! zset_write {
    ($ctx:ident, $key:expr, $missing:expr) => {{
        let now = $ctx.now_ms;
        let lru = $ctx.lru;
        match $ctx.store.dbs[$ctx.db].lookup($key, now) {
            None => {
                $missing;
                return;
            }
            Some(e) => {
                e.lru = lru;
                match &mut e.value {
                    $crate::store::Value::ZSet(z) => &mut **z,
                    _ => {
                        $ctx.out.error($crate::command::util::WRONGTYPE);
                        return;
                    }
                }
            }
        }
    }};
}

/// Deletes `key` if its zset became empty (a `del` event).
pub(super) fn drop_if_empty(ctx: &mut Ctx, key: &[u8]) {
    let now = ctx.now_ms;
    let db = &mut ctx.store.dbs[ctx.db];
    if let Some(e) = db.lookup(key, now) {
        if matches!(&e.value, Value::ZSet(z) if z.is_empty()) {
            db.remove(key);
            ctx.notify(Class::Generic, "del", key);
        }
    }
}

/// Stores `items` (ascending, distinct) at `dst` as a new zset, or
/// deletes `dst` when there are none; replies with the count.
pub(super) fn store_result(ctx: &mut Ctx, dst: &[u8], items: Vec<(Vec<u8>, f64)>, event: &str) {
    store_result_counting(ctx, dst, items, event, 1)
}

/// `store_result` counting `changes` changes for a stored set (the geo
/// STORE forms count one per member; a deletion is always one).
pub fn store_result_counting(
    ctx: &mut Ctx,
    dst: &[u8],
    items: Vec<(Vec<u8>, f64)>,
    event: &str,
    changes: u64,
) {
    let n = items.len();
    if n > 0 {
        let z = ZSet::from_sorted(items, &ctx.limits.encodings);
        let lru = ctx.lru;
        ctx.db()
            .set(dst, Value::ZSet(crate::store::PackedBox::new(z)), lru);
        ctx.dirty += changes;
        ctx.notify(Class::Zset, event, dst);
        ctx.out.int(n as i64);
    } else {
        if ctx.db().remove(dst).is_some() {
            ctx.dirty += 1;
            ctx.notify(Class::Generic, "del", dst);
        }
        ctx.out.int(0);
    }
}
