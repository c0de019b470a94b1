//! Reaching a geo key: a sorted set read like Redis's `lookupKeyRead`.

use crate::command::util::WRONGTYPE;
use crate::command::{shard_random, Ctx};
use crate::resp::Out;
use crate::store::zset::ZSet;
use crate::store::Value;

/// The zset at `key` (None: missing) with the reply buffer beside it,
/// counting the hit or miss; another type replies WRONGTYPE and gives Err.
pub fn read_zset<'c>(ctx: &'c mut Ctx, key: &[u8]) -> Result<(Option<&'c ZSet>, &'c mut Out), ()> {
    let now = ctx.now_ms;
    let access = ctx.access;
    let out = &mut *ctx.out;
    match ctx.store.dbs[ctx.db].lookup_read(key, now) {
        None => {
            ctx.misses += 1;
            Ok((None, out))
        }
        Some(e) => {
            ctx.hits += 1;
            access.touch(&mut e.lru, shard_random);
            match &e.value {
                Value::ZSet(z) => Ok((Some(&**z), out)),
                _ => {
                    out.error(WRONGTYPE);
                    Err(())
                }
            }
        }
    }
}
