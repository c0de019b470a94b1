//! redis.set_repl: where a script's following writes propagate (Redis's
//! REPL_NONE, REPL_AOF, REPL_REPLICA, REPL_ALL), applied to the records
//! the script's step gathers; every script starts with REPL_ALL.

use crate::persist::aof::record::Targets;
use crate::server::shard::ShardRt;

/// Redis's PROPAGATE_AOF and PROPAGATE_REPL bits.
const AOF: i64 = 1;
const REPLICAS: i64 = 2;

/// Applies `flags` (checked by the prelude) to the script's next writes.
pub fn set(rt: &ShardRt, flags: i64) {
    rt.capture_targets(Targets {
        aof: flags & AOF != 0,
        replicas: flags & REPLICAS != 0,
    });
}

/// Once the script ended: what follows in the same gathering (EXEC's
/// next commands) propagates everywhere again.
pub fn reset(rt: &ShardRt) {
    rt.capture_targets(Targets::ALL);
}
