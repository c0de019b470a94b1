//! `repl-backlog-ttl`: a master left without replicas for that many
//! seconds frees its backlog (0: never), as Redis's replicationCron. A
//! replica keeps its backlog: it may be promoted and serve PSYNCs.

use crate::config::keys as conf;
use crate::repl::host::ReplShared;
use crate::sys::clock::unix_ms;
use crate::sys::random::random_hex;
use std::sync::atomic::Ordering;

/// Called every second by the primary cron (shard 0).
pub(super) fn check<S: ReplShared>(shared: &S) {
    let now = unix_ms() / 1000;
    let primary = &shared.repl().primary;
    let since = &primary.no_replicas_since;
    let idle = !shared.repl().replica.is_replica()
        && primary.replicas.lock().unwrap().is_empty()
        && shared.log().repl_on();
    // Not idle now (or never seen busy): the idle time counts from here
    // at the earliest (a replica leaving between two ticks sets it too).
    if !idle || since.load(Ordering::Relaxed) == 0 {
        since.store(now, Ordering::Relaxed);
        return;
    }
    let ttl = shared.read_config(|c| c.int(conf::REPL_BACKLOG_TTL)).max(0) as u64;
    if ttl == 0 || now.saturating_sub(since.load(Ordering::Relaxed)) <= ttl {
        return;
    }
    // A new history without a backlog, as Redis: a PSYNC naming the old
    // id must not continue from an offset this node can no longer serve.
    // Identity first, then the log: ensure_backlog's order, so a replica
    // attaching meanwhile sees either the old backlog or none.
    let mut id = shared.repl().identity.lock().unwrap();
    let freed = shared.log().with_repl(|r, _| match r {
        Some(b) if b.replicas() == 0 => r.take().map(|b| b.end()),
        _ => None,
    });
    let Some(end) = freed else { return };
    id.offset = end;
    id.replid = random_hex(40);
    id.replid2 = crate::repl::NO_REPLID.to_string();
    id.second_offset = -1;
    drop(id);
    crate::notice!("Replication backlog freed after {ttl} seconds without connected replicas.");
}
