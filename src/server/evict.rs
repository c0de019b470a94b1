//! `maxmemory`: evicting keys before a command when the process is over
//! the limit, and refusing memory-growing commands with Redis's OOM error
//! when nothing more can be evicted (Redis 7.0's performEvictions and the
//! check in processCommand).
//!
//! Memory is the process's allocated bytes (`alloc::used_bytes`), one
//! figure for all shards; keys are evicted by the shard that runs the
//! command, from its own keyspace (slots spread keys evenly over shards),
//! and by every shard's cron while the process stays over the limit. An
//! evicted key goes as Redis's: a DEL (UNLINK under
//! `lazyfree-lazy-eviction`) to the AOF and replicas, an `evicted`
//! keyspace event, WATCH and client-side caching invalidation.
//! A replica with `replica-ignore-maxmemory yes` (the default) and a node
//! whose writes are paused evict nothing.

use super::shard::ShardRt;
use super::spec::CommandSpec;
use crate::config::keys as conf;
use crate::store::access::{Access, Lfu};
use crate::store::evict::{choose, Policy, Pool};
use std::time::{Duration, Instant};

/// Redis's reply to a memory-growing command over the limit.
pub const OOM: &str = "OOM command not allowed when used memory > 'maxmemory'.";

/// The memory settings a shard's hot path reads.
#[derive(Clone, Copy, Debug)]
pub struct MemoryLimit {
    /// `maxmemory` in bytes (0: no limit).
    pub maxmemory: u64,
    pub policy: Policy,
    /// `maxmemory-samples`.
    pub samples: usize,
    /// `maxmemory-eviction-tenacity`.
    pub tenacity: u32,
    /// `replica-ignore-maxmemory`.
    pub replica_ignore: bool,
    /// `lazyfree-lazy-eviction`: propagate UNLINK instead of DEL.
    pub lazy: bool,
    /// `lfu-log-factor`, `lfu-decay-time`.
    pub lfu_log_factor: u32,
    pub lfu_decay_time: u32,
}

impl MemoryLimit {
    pub fn from_config(c: &crate::config::Config) -> MemoryLimit {
        MemoryLimit {
            maxmemory: c.int(conf::MAXMEMORY).max(0) as u64,
            policy: Policy::parse(&c.text(conf::MAXMEMORY_POLICY)),
            samples: c.int(conf::MAXMEMORY_SAMPLES).max(1) as usize,
            tenacity: c.int(conf::MAXMEMORY_EVICTION_TENACITY).clamp(0, 100) as u32,
            replica_ignore: c.flag(conf::REPLICA_IGNORE_MAXMEMORY),
            lazy: c.flag(conf::LAZYFREE_LAZY_EVICTION),
            lfu_log_factor: c.int(conf::LFU_LOG_FACTOR).max(0) as u32,
            lfu_decay_time: c.int(conf::LFU_DECAY_TIME).max(0) as u32,
        }
    }

    /// How keys accessed now are stamped (LRU seconds or LFU counters).
    pub fn access(&self, lru_secs: u32, unix_ms: u64) -> Access {
        Access {
            lru_secs,
            lfu: self.policy.is_lfu().then_some(Lfu {
                minutes: (unix_ms / 60_000) as u16,
                log_factor: self.lfu_log_factor,
                decay_time: self.lfu_decay_time,
            }),
        }
    }

    /// Longest eviction run before a command (Redis's
    /// evictionTimeLimitUs): 50 µs per tenacity step up to 10, then 15%
    /// more per step; None (no limit) at 100.
    fn time_limit(&self) -> Option<Duration> {
        match self.tenacity {
            100 => None,
            t if t <= 10 => Some(Duration::from_micros(50 * u64::from(t))),
            t => Some(Duration::from_micros(
                (500.0 * 1.15f64.powi(t as i32 - 10)) as u64,
            )),
        }
    }
}

/// Per shard: the candidate pool kept between runs, and the database the
/// random policies try next.
#[derive(Default)]
pub struct EvictState {
    pool: Pool,
    next_db: usize,
}

/// How an eviction run ended (Redis's EVICT_OK/RUNNING/FAIL).
#[derive(Debug, PartialEq, Eq)]
pub enum Evicted {
    /// Under the limit (or no limit, or evicting is not safe now).
    Fits,
    /// Still over, out of time: the next command or the cron goes on.
    Running,
    /// Still over, and this shard has no key the policy may evict.
    Failed,
}

/// Before a command on this shard: evicts while the process is over
/// `maxmemory`. False when the command must be refused with [`OOM`]:
/// still over the limit, nothing left to evict, and the command may grow
/// memory (`denyoom`; any command queued in MULTI, as Redis).
pub fn admit(rt: &ShardRt, spec: &CommandSpec, limit: &MemoryLimit) -> bool {
    if limit.maxmemory == 0 {
        return true;
    }
    match make_room(rt, limit) {
        Evicted::Fits | Evicted::Running => true,
        Evicted::Failed => !spec.flags.has(super::spec::Flags::DENYOOM),
    }
}

/// [`admit`] for a connection-level step that is not one shard command
/// (a multi-shard command, queuing in MULTI, EXEC): evicts from the
/// connection's shard once no multi-shard step holds it. `grows` says
/// whether the step may be refused (denyoom, or queuing in MULTI).
pub async fn admit_on_conn(rt: &ShardRt, grows: bool) -> bool {
    let limit = rt.settings().memory;
    if limit.maxmemory == 0 {
        return true;
    }
    rt.wait_gate().await;
    !grows || make_room(rt, &limit) != Evicted::Failed
}

/// Before a connection's batch, while the process is over `maxmemory`:
/// every shard evicts what it can, as Redis evicts before each command.
/// A shard running a command evicts only its own keys, so without this
/// a key of another shard would go later, from that shard's cron, and
/// its tracking invalidation would follow the reply it must precede
/// (the invalidations come back with the runs, outbox.rs).
pub async fn before_batch(rt: &std::rc::Rc<ShardRt>, limit: &MemoryLimit) {
    if limit.maxmemory == 0 || limit.policy == Policy::NoEviction || fits(rt, limit.maxmemory) {
        return;
    }
    super::mesh::run_on_all(rt, |rt| {
        make_room(rt, &rt.settings().memory);
    })
    .await;
}

/// What `maxmemory` leaves out, as Redis's freeMemoryGetNotCountedMemory:
/// the replication buffer beyond the backlog's size (what lagging
/// replicas hold: counting it would evict keys for a slow replica, and
/// every eviction's DEL would grow it again) and the records waiting for
/// the AOF writer. Messages queued for subscribers and not yet offered
/// to their sockets are left out too (pubsub.rs `UNOFFERED`), but not
/// shown in INFO's figure: Redis has none of them when it evicts.
pub fn not_counted(shared: &super::shared::Shared) -> NotCounted {
    let (aof, repl, backlog, replicas) = shared.aof.log.held_bytes();
    let in_flight = shared
        .repl
        .primary
        .in_flight
        .load(std::sync::atomic::Ordering::Relaxed);
    let beyond = repl.saturating_sub(backlog) as u64 + in_flight;
    let aof = if shared.aof.enabled() { aof as u64 } else { 0 };
    NotCounted {
        total: beyond + aof,
        // As Redis's INFO: the excess is the replicas' while there are
        // any (after the last one went it is still not counted, but it
        // is the backlog's), the rest the backlog's.
        replicas: if replicas > 0 { beyond } else { 0 },
        backlog: if replicas > 0 {
            repl.min(backlog) as u64
        } else {
            repl as u64
        },
    }
}

/// [`not_counted`]'s figures: INFO `mem_not_counted_for_evict`,
/// `mem_clients_slaves`, `mem_replication_backlog`.
pub struct NotCounted {
    pub total: u64,
    pub replicas: u64,
    pub backlog: u64,
}

/// The bytes `maxmemory` counts: allocated, less [`not_counted`] (read
/// only when the plain figure is over `max`: it takes the log's lock).
fn counted(rt: &ShardRt, max: u64) -> u64 {
    let used = crate::alloc::used_bytes();
    if used <= max {
        return used;
    }
    used.saturating_sub(not_counted(&rt.shared).total + super::pubsub::unoffered_bytes())
}

fn fits(rt: &ShardRt, max: u64) -> bool {
    counted(rt, max) <= max
}

fn safe_to_evict(rt: &ShardRt, limit: &MemoryLimit) -> bool {
    // Evictions propagate DELs: none while writes are paused, none on a
    // replica that leaves its keyspace to its master.
    !(rt.shared.write_pause.active() || limit.replica_ignore && rt.shared.repl.replica.is_replica())
}

/// Per shard, how many keys its policy may evict, as each shard last
/// published it: a shard with clearly fewer than its share leaves the
/// evicting to the others. Without it, a shard that checks the limit at
/// its peaks (the one parsing a pipeline for the others holds their
/// arguments for a moment) would evict all of its own keys while the
/// other shards kept theirs.
pub struct Shares(Vec<std::sync::atomic::AtomicUsize>);

impl Shares {
    pub fn new(nshards: usize) -> Shares {
        Shares((0..nshards).map(|_| Default::default()).collect())
    }

    fn publish(&self, shard: usize, candidates: usize) -> usize {
        use std::sync::atomic::Ordering::Relaxed;
        self.0[shard].store(candidates, Relaxed);
        self.0.iter().map(|c| c.load(Relaxed)).sum()
    }
}

/// Keys of this shard the policy may evict.
fn candidates(rt: &ShardRt, policy: Policy) -> usize {
    let core = rt.core.borrow();
    core.store
        .dbs
        .iter()
        .map(|d| {
            if policy.volatile() {
                d.expires_len()
            } else {
                d.len()
            }
        })
        .sum()
}

/// Evicts keys of this shard until the process fits in `maxmemory`, the
/// time limit passes, or no key qualifies.
pub fn make_room(rt: &ShardRt, limit: &MemoryLimit) -> Evicted {
    let max = limit.maxmemory;
    if max == 0 || !safe_to_evict(rt, limit) {
        return Evicted::Fits;
    }
    let mine = candidates(rt, limit.policy);
    let total = rt.shared.evict_shares.publish(rt.id, mine);
    let used = counted(rt, max);
    if used <= max {
        return Evicted::Fits;
    }
    if limit.policy == Policy::NoEviction || total == 0 {
        return Evicted::Failed;
    }
    // Below 90% of the average share, and not far over: the others evict.
    let far_over = used > max + max / 32;
    if mine * rt.nshards < total * 9 / 10 && !far_over {
        return Evicted::Running;
    }
    let started = Instant::now();
    let deadline = limit.time_limit();
    let mut evicted = 0u64;
    // As Redis's performEvictions: the run frees what was over when it
    // started, counting what each deletion itself freed. What the
    // evictions make others hold meanwhile (tracking clients'
    // invalidations, waiting for their connections to send them) does
    // not make it evict more: re-reading the total alone, each key's
    // invalidations would call for more evictions, down to the last key.
    let to_free = used - max;
    let mut freed = 0u64;
    loop {
        if freed >= to_free || fits(rt, max) {
            return Evicted::Fits;
        }
        let Some(bytes) = evict_one(rt, limit) else {
            // Keys left elsewhere: their shards go on evicting.
            let left = rt.shared.evict_shares.publish(rt.id, 0);
            return if left > 0 {
                Evicted::Running
            } else {
                Evicted::Failed
            };
        };
        freed += bytes;
        evicted += 1;
        // Redis checks the clock every 16 keys.
        if evicted.is_multiple_of(16) && deadline.is_some_and(|d| started.elapsed() >= d) {
            return Evicted::Running;
        }
    }
}

/// Chooses and deletes one key of this shard: the bytes its deletion
/// freed (this thread's allocation count before and after, as Redis's
/// delta around dbDelete); None when no key qualifies.
fn evict_one(rt: &ShardRt, limit: &MemoryLimit) -> Option<u64> {
    let now_ms = crate::sys::clock::unix_ms();
    let access = limit.access(rt.lru_seconds(), now_ms);
    let chosen = {
        let core = rt.core.borrow();
        let mut state = rt.evict.borrow_mut();
        let EvictState { pool, next_db } = &mut *state;
        choose(
            &core.store,
            limit.policy,
            limit.samples,
            &access,
            pool,
            next_db,
            &mut crate::sys::random::shard_random,
        )
    };
    let (db, key) = chosen?;
    // A running BGSAVE first writes out the key's slot.
    crate::persist::bgsave::before_key_write(rt, &key);
    let freed = {
        let mut core = rt.core.borrow_mut();
        let before = crate::alloc::thread_bytes();
        core.store.dbs[db].remove(&key);
        core.stats.evicted_keys += 1;
        before.saturating_sub(crate::alloc::thread_bytes()).max(0) as u64
    };
    let events = rt.settings().notify;
    let mut notes = Vec::new();
    if events.wants(crate::events::Class::Evicted) {
        events.messages(db, "evicted", &key, &mut notes);
    }
    let why = super::effects::ServerDelete::Evicted { lazy: limit.lazy };
    super::effects::deleted_by_server(rt, why, &[(db, key)], notes);
    Some(freed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_limit_follows_tenacity() {
        let mut m = MemoryLimit::from_config(&crate::config::Config::default());
        assert_eq!(m.maxmemory, 0);
        assert_eq!(m.policy, Policy::NoEviction);
        assert_eq!(m.time_limit(), Some(Duration::from_micros(500)));
        m.tenacity = 0;
        assert_eq!(m.time_limit(), Some(Duration::ZERO));
        m.tenacity = 11;
        assert_eq!(m.time_limit(), Some(Duration::from_micros(575)));
        m.tenacity = 100;
        assert_eq!(m.time_limit(), None);
    }
}
