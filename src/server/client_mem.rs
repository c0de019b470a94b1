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
    /// The most bytes the query buffer held since the cron's last pass
    /// (Redis's `querybuf_peak`).
    pub qbuf_peak: Cell<usize>,
    /// The bytes the request still arriving needs in all, when its
    /// size is announced (0: none; Redis's `bulklen`): a shrink keeps
    /// room for it.
    pub qbuf_need: Cell<usize>,
    /// Reply bytes produced and not yet written (`omem`).
    pub obuf: Cell<usize>,
    /// Messages waiting for the client, not yet written (Pub/Sub,
    /// invalidations, MONITOR; pubsub.rs): part of `omem` too.
    pub queued: Cell<usize>,
    /// Bytes allocated for the reply buffer (CLIENT LIST `rbs`).
    pub obuf_alloc: Cell<usize>,
    /// The size the reply buffer is kept at between batches (Redis's
    /// `buf_usable_size`): a batch's replies beyond it are let go once
    /// written, as Redis frees its reply list's blocks.
    pub obuf_size: Cell<usize>,
    /// The most of `obuf_size` one batch's replies filled since
    /// `obuf_peak_since` (unix ms; CLIENT LIST `rbp`, Redis's
    /// `buf_peak`, reset by the cron every reply-buffer peak reset time).
    pub obuf_peak: Cell<usize>,
    pub obuf_peak_since: Cell<u64>,
    /// Resizes the cron asked for, applied by the connection while it
    /// waits for input.
    pub qbuf_resize: Cell<Option<usize>>,
    pub obuf_resize: Cell<Option<usize>>,
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

/// Whether the cron resizes reply buffers (DEBUG REPLYBUFFER RESIZING),
/// process-wide as Redis's.
static RESIZING: AtomicBool = AtomicBool::new(true);

/// DEBUG REPLYBUFFER PEAK-RESET-TIME: `None` for never.
pub fn set_peak_reset_time(ms: Option<u64>) {
    PEAK_RESET_MS.store(ms.unwrap_or(u64::MAX), Ordering::Relaxed);
}

/// DEBUG REPLYBUFFER RESIZING.
pub fn set_resizing(on: bool) {
    RESIZING.store(on, Ordering::Relaxed);
}

/// Whether the cron resizes reply buffers now.
#[inline]
pub fn resizing() -> bool {
    RESIZING.load(Ordering::Relaxed)
}

/// Redis's PROTO_REPLY_MIN_BYTES: the smallest reply buffer, and a new
/// connection's (Redis starts at 16 KiB and its cron shrinks an idle
/// client's to this on its first pass).
pub const REPLY_MIN: usize = 1024;
/// Redis's PROTO_REPLY_CHUNK_BYTES: the biggest reply buffer.
const REPLY_CHUNK: usize = 16 * 1024;
/// Redis's PROTO_RESIZE_THRESHOLD: a query buffer over it shrinks to
/// its recent peak.
const QUERY_RESIZE_THRESHOLD: usize = 32 * 1024;
/// A query buffer idle longer than this (ms) is given back (Redis:
/// more than 2 s).
const QUERY_IDLE_MS: u64 = 2000;

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

    /// Records the reply buffer as a batch of `batch` bytes leaves it
    /// (`total` with what waited unsent before) and the peak: how much of
    /// the kept size the batch filled.
    #[inline]
    pub fn note_reply_buffer(&self, total: usize, batch: usize, capacity: usize) {
        self.obuf.set(total);
        self.obuf_alloc.set(capacity);
        let filled = batch.min(self.obuf_size.get());
        if filled > self.obuf_peak.get() {
            self.obuf_peak.set(filled);
        }
    }

    /// Records the query buffer after a read.
    #[inline]
    pub fn note_query_buffer(&self, len: usize, capacity: usize) {
        self.qbuf_alloc.set(capacity);
        if len > self.qbuf_peak.get() {
            self.qbuf_peak.set(len);
        }
    }
}

/// Redis 7.0's clientsCronResizeQueryBuffer: the size to resize a query
/// buffer of `alloc` bytes holding `len` to, if any. Only a buffer
/// wasting more than 4 KiB is resized: given back after more than 2 s
/// idle, or, over 32 KiB, shrunk to the recent peak when that is under
/// half of it. The target is what the buffer would keep (at least a
/// chunk: input.rs), so no resize that changes nothing is asked.
pub fn query_resize(alloc: usize, len: usize, peak: usize, idle_ms: u64) -> Option<usize> {
    if alloc.saturating_sub(len) <= 4096 {
        return None;
    }
    let target = if idle_ms > QUERY_IDLE_MS {
        len
    } else if alloc > QUERY_RESIZE_THRESHOLD && alloc / 2 > peak {
        len.max(peak)
    } else {
        return None;
    };
    let kept = super::input::kept_size(target);
    (kept < alloc).then_some(kept)
}

/// Redis 7.0's clientsCronResizeOutputBuffer: the new size of a reply
/// buffer of `size` bytes whose batches filled at most `peak` of it:
/// shrunk to the peak (not below 1 KiB) when under half of it, doubled
/// (up to 16 KiB) when a batch filled it.
pub fn reply_resize(size: usize, peak: usize) -> Option<usize> {
    if size == 0 {
        // Not a connection's (no reply buffer of its own).
        None
    } else if size / 2 >= REPLY_MIN && peak < size / 2 {
        Some(REPLY_MIN.max(peak + 1))
    } else if size * 2 < REPLY_CHUNK * 2 && peak >= size {
        Some(REPLY_CHUNK.min(size * 2))
    } else {
        None
    }
}

/// The cron's look at one client's buffers (Redis's clientsCron's
/// resizes), at `now_ms`: true when it asked its connection to resize
/// them (the connection does as it waits for input: conn.rs); reply
/// buffer resizes count in `stats`. The peaks start again, the query
/// buffer's every pass, the reply buffer's every reply-buffer peak reset
/// time.
pub fn resize_buffers(info: &ClientInfo, now_ms: u64, stats: &mut super::shard::Stats) -> bool {
    let m = &info.mem;
    let len = info.qbuf.get();
    let idle = now_ms.saturating_sub(info.last_interaction_ms.get());
    let mut asked = false;
    // The peak counts the request arriving, as Redis's counts `bulklen`.
    let peak = m.qbuf_peak.get().max(m.qbuf_need.get());
    if let Some(to) = query_resize(m.qbuf_alloc.get(), len, peak, idle) {
        m.qbuf_resize.set(Some(to));
        asked = true;
    }
    m.qbuf_peak.set(len);
    if resizing() {
        let size = m.obuf_size.get();
        if let Some(to) = reply_resize(size, m.obuf_peak.get()) {
            m.obuf_resize.set(Some(to));
            asked = true;
            if to < size {
                stats.reply_buffer_shrinks += 1;
            } else {
                stats.reply_buffer_expands += 1;
            }
        }
    }
    let window = PEAK_RESET_MS.load(Ordering::Relaxed);
    if now_ms.saturating_sub(m.obuf_peak_since.get()) >= window {
        m.obuf_peak_since.set(now_ms);
        m.obuf_peak.set(0);
    }
    asked
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
        let now = crate::sys::clock::unix_ms();
        for s in subscribers {
            s.check_idle(&rt);
            if resize_buffers(&s.info, now, &mut rt.core.borrow_mut().stats) {
                s.ask_resize();
            }
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
    fn query_buffers_resize_as_redis_7_0s_cron() {
        const K: usize = 1024;
        // Held and busy: kept.
        assert_eq!(query_resize(16 * K, 0, 100, 500), None);
        // Idle more than 2 s: given back (or cut to what it holds).
        assert_eq!(query_resize(16 * K, 0, 0, 2001), Some(0));
        assert_eq!(query_resize(400 * K, 40 * K, 0, 3000), Some(40 * K));
        // Wasting 4 KiB or less: kept.
        assert_eq!(query_resize(16 * K, 13 * K, 0, 3000), None);
        // Over 32 KiB with a peak under half: to the peak, at least a chunk.
        assert_eq!(query_resize(400 * K, 0, 130, 10), Some(16 * K));
        assert_eq!(query_resize(400 * K, 0, 100 * K, 10), Some(100 * K));
        assert_eq!(query_resize(400 * K, 0, 300 * K, 10), None);
        assert_eq!(query_resize(30 * K, 0, 0, 10), None);
    }

    #[test]
    fn reply_buffers_resize_as_redis_7_0s_cron() {
        const K: usize = 1024;
        assert_eq!(reply_resize(16 * K, 5), Some(K));
        assert_eq!(reply_resize(16 * K, 3000), Some(3001));
        assert_eq!(reply_resize(16 * K, 8 * K), None);
        assert_eq!(reply_resize(K, 5), None);
        assert_eq!(reply_resize(K, K), Some(2 * K));
        assert_eq!(reply_resize(8 * K, 8 * K), Some(16 * K));
        assert_eq!(reply_resize(16 * K, 16 * K), None);
        assert_eq!(reply_resize(0, 0), None, "no reply buffer of its own");
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
