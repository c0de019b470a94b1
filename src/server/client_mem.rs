//! `maxmemory-clients`: Redis 7.0's client eviction.
//!
//! Every connection records what its buffers hold in [`MemCells`] as they
//! grow and shrink (after a read, before and after a write); CLIENT LIST's
//! `tot-mem` is computed from them ([`usage`]). While a limit is set, each
//! evictable client's figure is also kept in one process-wide total,
//! updated by the difference only when the figure changes, so no command
//! scans the clients. When the total reaches the limit, one pass gathers
//! every shard's evictable clients and closes the largest first until the
//! total is below the limit again (Redis buckets clients by size for the
//! same order), logging Redis's `Evicting client:` line and counting
//! INFO's `evicted_clients`.
//!
//! Replicas, the master link and CLIENT NO-EVICT clients are never
//! counted nor evicted, as Redis's clientEvictionAllowed.

use super::clients::ClientInfo;
use super::mesh;
use super::shard::ShardRt;
use crate::config::keys as conf;
use std::cell::Cell;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};

/// What a client holds besides its buffers: Redis's client struct plus
/// its fixed 16 KiB reply buffer.
const CLIENT_OVERHEAD: usize = 1024 + 16 * 1024;
/// Per watched key: Redis's list node plus watchedKey.
const WATCHED_KEY_OVERHEAD: usize = 48;
/// Per channel: a dict entry plus its slot; per pattern: a list node.
const CHANNEL_OVERHEAD: usize = 32;
const PATTERN_OVERHEAD: usize = 24;
/// Per BCAST prefix: about two radix tree nodes, as Redis counts them.
const PREFIX_OVERHEAD: usize = 64;
/// Redis's floor on the limit, so a tiny value cannot lock everyone out.
const MIN_LIMIT: usize = 128 * 1024;

/// One client's buffer sizes, as its connection last recorded them.
#[derive(Default)]
pub struct MemCells {
    /// Bytes allocated for the query buffer.
    pub qbuf_alloc: Cell<usize>,
    /// Reply bytes produced and not yet written (`omem`).
    pub obuf: Cell<usize>,
    /// Messages waiting for the client, not yet written (Pub/Sub,
    /// invalidations, MONITOR; pubsub.rs): part of `omem` too.
    pub queued: Cell<usize>,
    /// Bytes allocated for the reply buffer (CLIENT LIST `rbs`).
    pub obuf_alloc: Cell<usize>,
    /// The most reply bytes one batch held since `obuf_peak_since`
    /// (unix ms; CLIENT LIST `rbp`, reset every 5 s as Redis's default
    /// reply-buffer peak reset time).
    pub obuf_peak: Cell<usize>,
    pub obuf_peak_since: Cell<u64>,
    /// WATCHed keys.
    pub watched: Cell<usize>,
    /// The figure this client adds to [`ClientMemory`]'s total (0 when
    /// not counted).
    counted: Cell<usize>,
    /// Chosen for eviction: never counted again.
    pub evicted: Cell<bool>,
}

/// How long a reply-buffer peak stands by default (Redis 7.0's
/// REPLY_BUFFER_DEFAULT_PEAK_RESET_TIME).
pub const DEFAULT_PEAK_RESET_MS: u64 = 5000;

/// How long a reply-buffer peak stands now (DEBUG REPLYBUFFER
/// PEAK-RESET-TIME; `u64::MAX`: never), process-wide as Redis's.
static PEAK_RESET_MS: AtomicU64 = AtomicU64::new(DEFAULT_PEAK_RESET_MS);

/// Whether a big reply buffer is cut back after a write (DEBUG
/// REPLYBUFFER RESIZING), process-wide as Redis's.
static RESIZING: AtomicBool = AtomicBool::new(true);

/// DEBUG REPLYBUFFER PEAK-RESET-TIME: `None` for never.
pub fn set_peak_reset_time(ms: Option<u64>) {
    PEAK_RESET_MS.store(ms.unwrap_or(u64::MAX), Ordering::Relaxed);
}

/// DEBUG REPLYBUFFER RESIZING.
pub fn set_resizing(on: bool) {
    RESIZING.store(on, Ordering::Relaxed);
}

/// Whether a reply buffer may be cut back now.
#[inline]
pub fn resizing() -> bool {
    RESIZING.load(Ordering::Relaxed)
}

impl MemCells {
    /// Output not yet written: CLIENT LIST `omem`.
    pub fn unsent(&self) -> usize {
        self.obuf.get() + self.queued.get()
    }

    /// The memory output takes: what waits, or the reply vector's room
    /// when larger (a batch's replies grow it by doubling; the allocator
    /// counts its capacity in `used_memory`, so client eviction must
    /// too, or keys go before the clients that hold the memory).
    pub fn held_output(&self) -> usize {
        self.obuf.get().max(self.obuf_alloc.get()) + self.queued.get()
    }

    /// Records the reply buffer as a batch leaves it: its size and the
    /// peak of the current window (`now_ms`: the batch's read time).
    #[inline]
    pub fn note_reply_buffer(&self, len: usize, capacity: usize, now_ms: u64) {
        self.obuf.set(len);
        self.obuf_alloc.set(capacity);
        let window = PEAK_RESET_MS.load(Ordering::Relaxed);
        if now_ms.saturating_sub(self.obuf_peak_since.get()) >= window {
            self.obuf_peak_since.set(now_ms);
            self.obuf_peak.set(len);
        } else if len > self.obuf_peak.get() {
            self.obuf_peak.set(len);
        }
    }
}

/// Process-wide state (in `Shared`).
#[derive(Default)]
pub struct ClientMemory {
    /// Sum of every counted client's figure, all shards.
    total: AtomicUsize,
    /// INFO stats `evicted_clients`.
    pub evicted: AtomicU64,
    /// Set while an eviction pass runs: one at a time.
    evicting: AtomicBool,
}

impl ClientMemory {
    pub fn total(&self) -> usize {
        self.total.load(Ordering::Relaxed)
    }
}

/// The limit in bytes, 0 when off: `maxmemory-clients` itself, or its
/// percentage of `maxmemory` (off while maxmemory is 0), never below
/// 128 KiB (Redis's getClientEvictionLimit).
pub fn limit_from_config(c: &crate::config::Config) -> usize {
    let value = c.text(conf::MAXMEMORY_CLIENTS);
    let bytes = match value.strip_suffix('%') {
        Some(p) => {
            let maxmemory = c.int(conf::MAXMEMORY).max(0) as f64;
            (maxmemory * p.parse::<f64>().unwrap_or(0.0) / 100.0) as usize
        }
        None => value.parse::<usize>().unwrap_or(0),
    };
    if bytes == 0 {
        0
    } else {
        bytes.max(MIN_LIMIT)
    }
}

/// The client's memory as Redis's getClientMemoryUsage counts it (CLIENT
/// LIST `tot-mem`). Arguments are slices of the query buffer, so
/// `argv-mem` adds only while CLIENT LIST reports it for its own line.
pub fn usage(info: &ClientInfo) -> usize {
    let m = &info.mem;
    let pubsub = &info.pubsub;
    CLIENT_OVERHEAD
        + m.qbuf_alloc.get()
        + m.held_output()
        + info.argv_mem.get()
        + info.multi_mem.get()
        + m.watched.get() * WATCHED_KEY_OVERHEAD
        + (pubsub.sub.get() + pubsub.ssub.get()) * CHANNEL_OVERHEAD
        + pubsub.psub.get() * PATTERN_OVERHEAD
        + info.tracking.prefixes.borrow().len() * PREFIX_OVERHEAD
}

/// Whether the client may be evicted: a normal or Pub/Sub client without
/// CLIENT NO-EVICT (Redis's clientEvictionAllowed).
pub fn evictable(info: &ClientInfo) -> bool {
    !info.no_evict.get() && info.repl_role.get().is_none() && !info.mem.evicted.get()
}

/// Brings the client's share of the total up to date after its buffers
/// changed; true when the total has reached `limit` (then call
/// [`evict`]). With no limit, only drops a share counted earlier.
#[inline]
pub fn account(memory: &ClientMemory, info: &ClientInfo, limit: usize) -> bool {
    let now = if limit > 0 && evictable(info) {
        usage(info)
    } else {
        0
    };
    let before = info.mem.counted.replace(now);
    if now == before {
        return limit > 0 && now > 0 && memory.total() >= limit;
    }
    let total = if now > before {
        memory.total.fetch_add(now - before, Ordering::Relaxed) + (now - before)
    } else {
        memory.total.fetch_sub(before - now, Ordering::Relaxed) - (before - now)
    };
    limit > 0 && now > 0 && total >= limit
}

/// Evicts clients if the total reached the limit since the last look (a
/// subscriber's messages grow it outside its own connection's steps):
/// before each batch, as Redis's processCommand calls evictClients.
/// True when it looked (clients may have been closed).
pub async fn evict_if_over(rt: &Rc<ShardRt>, limit: usize) -> bool {
    if limit > 0 && rt.shared.client_memory.total() >= limit {
        evict(rt, limit).await;
        return true;
    }
    false
}

/// Each shard's look at its clients every 1/hz seconds, as Redis's
/// clientsCron: a subscriber's soft output limit runs out with no
/// traffic too, and an eviction called for while no command came runs.
pub async fn cron(rt: Rc<ShardRt>) {
    loop {
        let settings = rt.settings();
        glommio::timer::sleep(std::time::Duration::from_millis(1000 / settings.hz)).await;
        rt.wait_gate().await;
        let subscribers: Vec<_> = rt.clients.borrow().subscribers().cloned().collect();
        for s in subscribers {
            s.check_idle(&rt);
        }
        evict_if_over(&rt, rt.settings().client_mem_limit).await;
    }
}

/// Drops a closing client's share.
pub fn forget(memory: &ClientMemory, info: &ClientInfo) {
    let before = info.mem.counted.replace(0);
    memory.total.fetch_sub(before, Ordering::Relaxed);
}

/// Logs and counts one eviction, and stops counting the client; the
/// caller closes it.
pub fn note_evicted(memory: &ClientMemory, info: &ClientInfo, now_ms: u64) {
    crate::notice!("Evicting client: {}", info.describe(now_ms));
    info.mem.evicted.set(true);
    forget(memory, info);
    memory.evicted.fetch_add(1, Ordering::Relaxed);
}

/// Closes the largest evictable clients, on every shard, until the total
/// is below `limit`. A pass already running covers this call.
pub async fn evict(rt: &Rc<ShardRt>, limit: usize) {
    let memory = &rt.shared.client_memory;
    if limit == 0
        || memory
            .evicting
            .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
    {
        return;
    }
    let per_shard = mesh::run_on_all(rt, |rt| {
        rt.clients
            .borrow()
            .iter()
            .filter(|c| evictable(c) && c.mem.counted.get() > 0)
            .map(|c| (c.mem.counted.get(), c.id))
            .collect::<Vec<_>>()
    })
    .await;
    let mut all: Vec<(usize, u64, usize)> = per_shard
        .into_iter()
        .enumerate()
        .flat_map(|(shard, cs)| cs.into_iter().map(move |(mem, id)| (mem, id, shard)))
        .collect();
    all.sort_unstable_by_key(|&(mem, _, _)| std::cmp::Reverse(mem));
    let mut left = memory.total();
    let mut chosen: Vec<Vec<u64>> = vec![Vec::new(); rt.nshards];
    for (mem, id, shard) in all {
        if left < limit {
            break;
        }
        left = left.saturating_sub(mem);
        chosen[shard].push(id);
    }
    for (shard, ids) in chosen.into_iter().enumerate() {
        if !ids.is_empty() {
            mesh::run_on(rt, shard, move |rt| close_on_shard(rt, &ids)).await;
        }
    }
    if memory.total() >= limit {
        crate::warning!("Over client maxmemory after evicting all evictable clients");
    }
    memory.evicting.store(false, Ordering::Release);
}

/// Evicts the clients `ids` of this shard that are still evictable.
fn close_on_shard(rt: &Rc<ShardRt>, ids: &[u64]) {
    let now = crate::sys::clock::unix_ms();
    let memory = &rt.shared.client_memory;
    rt.clients.borrow_mut().kill(|c| {
        let pick = ids.contains(&c.id) && evictable(c);
        if pick {
            note_evicted(memory, c, now);
        }
        pick
    });
}

/// After CONFIG SET maxmemory-clients / maxmemory: recounts every client
/// under the new limit (as Redis's applyClientMaxMemoryUsage), then
/// evicts if the total is over it.
pub async fn reapply(rt: &Rc<ShardRt>) {
    mesh::run_on_all(rt, |rt| {
        let limit = rt.settings().client_mem_limit;
        let memory = &rt.shared.client_memory;
        for c in rt.clients.borrow().iter() {
            account(memory, c, limit);
        }
    })
    .await;
    let limit = rt.settings().client_mem_limit;
    if limit > 0 && rt.shared.client_memory.total() >= limit {
        evict(rt, limit).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    fn limit(set: &[(&str, &str)]) -> usize {
        let mut c = Config::default();
        for (k, v) in set {
            c.set(k, &[v.to_string()]).unwrap();
        }
        limit_from_config(&c)
    }

    #[test]
    fn limit_is_bytes_or_a_share_of_maxmemory_with_a_floor() {
        assert_eq!(limit(&[]), 0);
        assert_eq!(limit(&[("maxmemory-clients", "5mb")]), 5 << 20);
        assert_eq!(limit(&[("maxmemory-clients", "1")]), MIN_LIMIT);
        assert_eq!(limit(&[("maxmemory-clients", "10%")]), 0);
        assert_eq!(
            limit(&[("maxmemory", "100mb"), ("maxmemory-clients", "10%")]),
            10 << 20
        );
    }
}
