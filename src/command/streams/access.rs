//! Reaching a key's stream for reading or writing.

/// The stream at `$key`; `$read` counts the hit or miss (a read lookup).
/// When the key is missing, `$missing` runs and the handler returns;
/// another type replies WRONGTYPE and returns.
macro_rules! stream_at {
    ($ctx:ident, $key:expr, $missing:expr, $read:expr) => {{
        let now = $ctx.now_ms;
        let access = $ctx.access;
        let db = &mut $ctx.store.dbs[$ctx.db];
        let found = if $read {
            db.lookup_read($key, now)
        } else {
            db.lookup($key, now)
        };
        match found {
            None => {
                if $read {
                    $ctx.misses += 1;
                }
                $missing;
                return;
            }
            Some(e) => {
                if $read {
                    $ctx.hits += 1;
                }
                access.touch(&mut e.lru, $crate::command::shard_random);
                match &mut e.value {
                    $crate::store::Value::Stream(s) => &mut **s,
                    _ => {
                        $ctx.out.error($crate::command::util::WRONGTYPE);
                        return;
                    }
                }
            }
        }
    }};
}

/// [`stream_at!`] for reading.
macro_rules! stream_read {
    ($ctx:ident, $key:expr, $missing:expr) => {
        stream_at!($ctx, $key, $missing, true)
    };
}

/// [`stream_at!`] for writing: no hit/miss accounting.
macro_rules! stream_write {
    ($ctx:ident, $key:expr, $missing:expr) => {
        stream_at!($ctx, $key, $missing, false)
    };
}
