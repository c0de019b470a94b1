//! One shard's side of a running snapshot: a cursor over its local slots,
//! serialized a time slice at a time by a background task, and the
//! copy-on-write rule that keeps the file a point-in-time image: before a
//! write changes a key whose slot the cursor has not reached, that whole
//! slot (every database) is serialized first.
//!
//! The state is thread-local: each shard is one thread, and every place
//! that changes the keyspace runs on the owning shard's thread, so the
//! check a write pays when no snapshot runs is one thread-local `Cell`.
//!
//! Expired keys are not serialized ahead of deletion: a key removed by
//! active or lazy expiry after the snapshot instant had its expiry time
//! at or before "now", so whoever loads the file afterwards (redis-server,
//! Shardis, a replica fed the same deletions) drops it anyway. Expiry
//! therefore neither triggers nor waits for serialization.

use super::status::KEYS_PROCESSED;
use super::writer::{Flow, ToWriter};
use crate::persist::host::{ShardData, ShardHost};
use crate::persist::rdb::encode::EncodeOpts;
use crate::persist::rdb::file::{self, opcodes};
use crate::persist::rdb::length::write_len;
use crate::store::{Entry, SlotTable, SmallBytes, Store};
use futures::channel::oneshot;
use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

/// Work done per time slice before requests get their turn: a request
/// that arrives meanwhile waits at most this long. Idle, slices are
/// longer, so the timer pauses between them cost less of the save.
const SLICE: Duration = Duration::from_micros(250);
/// The slice while requests are being served: their added wait stays
/// near a GET's own cost.
const BUSY_SLICE: Duration = Duration::from_micros(100);
/// Buffered bytes that make a chunk worth sending to the writer.
const CHUNK_BYTES: usize = 256 * 1024;
/// Above this many bytes not yet on disk, slices wait for the writer.
const BACKLOG_LIMIT: usize = 64 * 1024 * 1024;

/// Shards whose part of a snapshot is in progress: the engine's direct
/// (lock-taking) path stays away from all data meanwhile.
pub static SNAPSHOTS: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    /// A snapshot is in progress on this shard (the only thing a write
    /// checks when none is).
    static ACTIVE: Cell<bool> = const { Cell::new(false) };
    static PROGRESS: RefCell<Option<Progress>> = const { RefCell::new(None) };
}

/// How a shard serializes, fixed at the snapshot instant.
#[derive(Clone)]
pub struct Params {
    /// Keys expired at this instant are left out.
    pub now_ms: u64,
    pub opts: EncodeOpts,
    /// Write IDLE times (LRU `maxmemory-policy`), relative to this clock.
    pub lru_now: Option<u32>,
    /// `rdb-key-save-delay`: microseconds per key written (tests use it
    /// to keep a snapshot running); the shard serves while it waits.
    pub key_delay_us: i64,
}

/// How long `keys` keys take under `rdb-key-save-delay` (Redis's
/// debugDelay: a negative -n sleeps 1 us for one key in n on average).
pub fn key_delay(delay_us: i64, keys: u64) -> Duration {
    let us = if delay_us >= 0 {
        delay_us as u64 * keys
    } else {
        let n = delay_us.unsigned_abs();
        (0..keys)
            .filter(|_| crate::sys::random::shard_random().is_multiple_of(n))
            .count() as u64
    };
    Duration::from_micros(us)
}

/// Where a shard's chunks go, and whom it tells when done.
pub struct Feed {
    pub sink: mpsc::Sender<ToWriter>,
    pub flow: Arc<Flow>,
    pub done: oneshot::Sender<Result<u64, String>>,
}

struct Progress {
    /// Told apart from a later snapshot's state by the slice task.
    generation: u64,
    /// Local slot indexes below this one are serialized, or (the last
    /// one) being serialized in `partial`.
    cursor: usize,
    /// Slots serialized ahead of the cursor because a write came first.
    early: Vec<bool>,
    /// A slot too big for one slice, part written.
    partial: Option<Partial>,
    /// The last partial slot's key list, emptied, for the next one.
    spare_keys: Vec<(usize, SmallBytes)>,
    params: Params,
    buf: Vec<u8>,
    keys: u64,
    /// Set while a write has a slot serialized out of turn: the keys
    /// written meanwhile count into `copied`.
    copying: bool,
    /// In-memory size of the keys serialized out of turn, what a forked
    /// child's copy-on-write would have copied (copies.rs).
    copied: u64,
    /// Keys writes serialized ahead of the cursor: under
    /// `rdb-key-save-delay` the slice task still owes their delay (a
    /// forked child in Redis takes as long whatever the parent writes).
    early_keys: u64,
    feed: Feed,
}

/// A slot serialized across slices: its keys as they were when the
/// cursor reached it, and how many are written. Until it is done, the
/// slot's keys are unchanged: a write to any of them finishes it first
/// (the copy-before-write rule), and keys removed by expiry are skipped,
/// as whole slots skip them.
struct Partial {
    index: usize,
    /// (database, key), in the order they are written.
    keys: Vec<(usize, SmallBytes)>,
    next: usize,
}

/// Slots with more keys than this are serialized a run of keys at a
/// time, so one slice never overruns by a whole big slot (about 300
/// keys per slot at 5M keys, far more on bigger shards).
const WHOLE_SLOT_KEYS: usize = 64;
/// Keys serialized between two reads of the clock.
const KEYS_PER_CLOCK_READ: usize = 16;

thread_local! {
    static GENERATION: Cell<u64> = const { Cell::new(0) };
}

/// Called at the snapshot instant, with this shard held: records the
/// cursor and starts the slice task. Returns the keys to write (an upper
/// bound: keys that expire meanwhile are skipped).
pub fn begin<H: ShardHost>(rt: &Rc<H>, params: Params, feed: Feed) -> u64 {
    let (slots, keys) = rt.with_store(|store| {
        let dbs = &store.dbs;
        let slots = dbs.first().map_or(0, |d| d.local_slot_count());
        (slots, dbs.iter().map(|d| d.len() as u64).sum())
    });
    let generation = GENERATION.get() + 1;
    GENERATION.set(generation);
    PROGRESS.set(Some(Progress {
        generation,
        cursor: 0,
        early: vec![false; slots],
        partial: None,
        spare_keys: Vec::new(),
        params,
        buf: Vec::with_capacity(CHUNK_BYTES + CHUNK_BYTES / 2),
        keys: 0,
        copying: false,
        copied: 0,
        early_keys: 0,
        feed,
    }));
    ACTIVE.set(true);
    SNAPSHOTS.fetch_add(1, Ordering::AcqRel);
    crate::sys::exec::spawn(run_slices(rt.clone(), generation)).detach();
    keys
}

/// Whether a snapshot is in progress on this shard: the one check a write
/// pays when none is (the engine then names the keys it is about to
/// change, each through [`before_key_write`]).
#[inline]
pub fn active_here() -> bool {
    ACTIVE.get()
}

/// Serializes `key`'s slot first if the running snapshot has not reached
/// it: for every key a write is about to change (the engine's hook at the
/// start of a shard command, the multi-shard write-back, blocking pops
/// and moves).
#[inline]
pub fn before_key_write<S: ShardData + ?Sized>(rt: &S, key: &[u8]) {
    if ACTIVE.get() {
        let slot = crate::slot::key_slot(key);
        if rt.shard_of_slot(slot) == rt.shard_id() {
            save_slot_early(rt, slot as usize / rt.shard_count());
        }
    }
}

#[cold]
fn save_slot_early<S: ShardData + ?Sized>(rt: &S, index: usize) {
    PROGRESS.with_borrow_mut(|p| {
        let Some(p) = p else { return };
        let (keys_before, copied_before) = (p.keys, p.copied);
        p.copying = true;
        if p.partial.as_ref().is_some_and(|part| part.index == index) {
            rt.with_store(|store| serialize_partial(store, p, None));
        } else if index >= p.cursor && !p.early.get(index).copied().unwrap_or(true) {
            p.early[index] = true;
            rt.with_store(|store| serialize_slot(store, p, index));
        }
        p.copying = false;
        p.early_keys += p.keys - keys_before;
        super::copies::add(p.copied - copied_before);
        if p.buf.len() >= CHUNK_BYTES {
            send_buf(p);
        }
    });
}

/// For commands that change whole databases (FLUSHALL, FLUSHDB, SWAPDB):
/// serializes everything this shard has not written yet, right now.
pub fn before_keyspace_write<S: ShardData + ?Sized>(rt: &S) {
    if ACTIVE.get() {
        rt.with_store(|store| while !advance(store, None, None).0 {});
        complete();
    }
}

/// Whether the snapshot is over unfinished: its writer failed or it was
/// cancelled (`status::cancel_running`).
fn stopped(flow: &super::writer::Flow) -> bool {
    flow.failed.load(Ordering::Acquire) || super::status::cancelled()
}

/// The slice task: a slice of slots, a pause, until the cursor is done
/// or the snapshot ended some other way (finished by a flush, failed).
async fn run_slices<H: ShardHost>(rt: Rc<H>, generation: u64) {
    let mut pacer = crate::sys::pacer::Pacer::new(SLICE, BUSY_SLICE);
    loop {
        rt.wait_gate().await;
        let current = PROGRESS.with_borrow(|p| {
            p.as_ref().map(|p| {
                let f = &p.feed.flow;
                (
                    p.generation,
                    f.backlog.load(Ordering::Acquire) > BACKLOG_LIMIT && !stopped(f),
                )
            })
        });
        match current {
            Some((g, _)) if g != generation => return,
            None => return,
            Some((_, true)) => {
                // The disk is behind: let it catch up.
                glommio::timer::sleep(Duration::from_millis(1)).await;
                continue;
            }
            Some((_, false)) => {}
        }
        // Replies of this reactor pass leave before the slice holds the
        // shard (connections yield before sending, server/conn.rs).
        crate::sys::exec::after_waiting_sends().await;
        let started = Instant::now();
        let delay = PROGRESS.with_borrow(|p| p.as_ref().map_or(0, |p| p.params.key_delay_us));
        if delay != 0 {
            // One slot at a time, then the keys' delay, then the next.
            let (finished, keys) = rt.with_store(|store| advance(store, None, Some(1)));
            let early = PROGRESS
                .with_borrow_mut(|p| p.as_mut().map_or(0, |p| std::mem::take(&mut p.early_keys)));
            let wait = key_delay(delay, keys + early);
            if !wait.is_zero() {
                glommio::timer::sleep(wait).await;
            }
            if finished {
                complete();
                return;
            }
            continue;
        }
        if rt.with_store(|store| advance(store, Some(started + pacer.slice()), None).0) {
            complete();
            return;
        }
        let worked = started.elapsed();
        // Requests wait for a slice: an operator sees long ones in
        // LATENCY LATEST / DOCTOR as "snapshot-slice".
        crate::sys::latency::observe("snapshot-slice", worked.as_millis() as u64);
        pacer.pause(worked).await;
    }
}

/// Serializes slots from the cursor until `deadline` (None: to the end)
/// or until at least `max_keys` keys are written, then sends what it has.
/// Returns whether this shard's part is finished (the caller then calls
/// [`complete`]) and the keys written.
fn advance(store: &Store, deadline: Option<Instant>, max_keys: Option<u64>) -> (bool, u64) {
    PROGRESS.with_borrow_mut(|slot| {
        let Some(p) = slot else { return (true, 0) };
        if stopped(&p.feed.flow) {
            return (true, 0);
        }
        let keys_before = p.keys;
        let total = p.early.len();
        loop {
            if p.partial.is_some() && !serialize_partial(store, p, deadline) {
                break;
            }
            if p.cursor >= total {
                break;
            }
            let i = p.cursor;
            p.cursor += 1;
            if !p.early[i] {
                if slot_keys(store, i) > WHOLE_SLOT_KEYS {
                    start_partial(store, p, i);
                    continue;
                }
                serialize_slot(store, p, i);
            }
            if p.buf.len() >= CHUNK_BYTES {
                send_buf(p);
            }
            if max_keys.is_some_and(|m| p.keys - keys_before >= m) {
                break;
            }
            if deadline.is_some_and(|d| Instant::now() >= d) {
                break;
            }
        }
        send_buf(p);
        (
            p.cursor >= total && p.partial.is_none(),
            p.keys - keys_before,
        )
    })
}

/// Ends this shard's part: reports the keys written (or the failure).
fn complete() {
    if ACTIVE.replace(false) {
        SNAPSHOTS.fetch_sub(1, Ordering::AcqRel);
    }
    let Some(mut p) = PROGRESS.take() else { return };
    send_buf(&mut p);
    let result = if p.feed.flow.failed.load(Ordering::Acquire) {
        Err("snapshot writer failed".to_string())
    } else if super::status::cancelled() {
        Err(super::status::CANCELLED_ERROR.to_string())
    } else {
        Ok(p.keys)
    };
    let _ = p.feed.done.send(result);
}

fn send_buf(p: &mut Progress) {
    if p.buf.is_empty() {
        return;
    }
    // The next chunk's buffer comes back from the writer when it can,
    // sized for a chunk and a slot's worth more.
    let next = p.feed.flow.buffer(CHUNK_BYTES + CHUNK_BYTES / 2);
    let chunk = std::mem::replace(&mut p.buf, next);
    p.feed.flow.backlog.fetch_add(chunk.len(), Ordering::AcqRel);
    // A closed channel means the writer is gone: the coordinator sees
    // the failure from the writer's reply.
    let _ = p.feed.sink.send(ToWriter::Chunk(chunk));
}

/// Keys of local slot `index`, in every database.
fn slot_keys(store: &Store, index: usize) -> usize {
    store
        .dbs
        .iter()
        .filter_map(|db| db.table_at(index))
        .map(|t| t.keys.len())
        .sum()
}

/// Lists slot `index`'s keys for [`serialize_partial`] (the list's
/// buffer is reused from the previous big slot).
fn start_partial(store: &Store, p: &mut Progress, index: usize) {
    let mut keys = std::mem::take(&mut p.spare_keys);
    for (dbi, db) in store.dbs.iter().enumerate() {
        if let Some(table) = db.table_at(index) {
            keys.extend(table.keys.keys().map(|k| (dbi, k.clone())));
        }
    }
    p.partial = Some(Partial {
        index,
        keys,
        next: 0,
    });
}

/// Serializes the partial slot's keys until `deadline` (None: all);
/// returns whether the slot is done. A run of keys starts with its
/// SELECTDB: chunks of several shards may interleave in the file.
fn serialize_partial(store: &Store, p: &mut Progress, deadline: Option<Instant>) -> bool {
    let Some(mut part) = p.partial.take() else {
        return true;
    };
    let mut selected = None;
    let mut keys = 0u64;
    while part.next < part.keys.len() {
        if deadline.is_some()
            && keys > 0
            && (keys as usize).is_multiple_of(KEYS_PER_CLOCK_READ)
            && deadline.is_some_and(|d| Instant::now() >= d)
        {
            break;
        }
        let (dbi, ref key) = part.keys[part.next];
        part.next += 1;
        let Some(table) = store.dbs[dbi].table_at(part.index) else {
            continue;
        };
        let Some(e) = table.keys.get(key.as_slice()) else {
            continue; // removed by expiry meanwhile
        };
        if write_entry(p, table, dbi, key.as_slice(), e, &mut selected) {
            keys += 1;
        }
        if p.buf.len() >= CHUNK_BYTES {
            send_buf(p);
            selected = None;
        }
    }
    p.keys += keys;
    KEYS_PROCESSED.fetch_add(keys, Ordering::Relaxed);
    if part.next < part.keys.len() {
        p.partial = Some(part);
        return false;
    }
    // Keep the list's buffer for the next big slot.
    part.keys.clear();
    p.spare_keys = part.keys;
    true
}

/// Appends every live key of local slot `index`, in every database, each
/// database's keys after their own SELECTDB.
fn serialize_slot(store: &Store, p: &mut Progress, index: usize) {
    let mut keys = 0u64;
    for (dbi, db) in store.dbs.iter().enumerate() {
        let Some(table) = db.table_at(index) else {
            continue;
        };
        let mut selected = None;
        for (k, e) in &table.keys {
            keys += write_entry(p, table, dbi, k.as_slice(), e, &mut selected) as u64;
        }
    }
    p.keys += keys;
    KEYS_PROCESSED.fetch_add(keys, Ordering::Relaxed);
}

/// Appends one key unless it expired by the snapshot instant, after a
/// SELECTDB when `selected` is not already `dbi`; returns whether it
/// was written.
fn write_entry(
    p: &mut Progress,
    table: &SlotTable,
    dbi: usize,
    key: &[u8],
    e: &Entry,
    selected: &mut Option<usize>,
) -> bool {
    let Params {
        now_ms,
        ref opts,
        lru_now,
        ..
    } = p.params;
    let expire = table.expires.get(key).copied();
    if expire.is_some_and(|at| at <= now_ms) {
        return false;
    }
    if *selected != Some(dbi) {
        p.buf.push(opcodes::SELECTDB);
        write_len(&mut p.buf, dbi as u64);
        *selected = Some(dbi);
    }
    let idle = lru_now.map(|now| now.saturating_sub(e.lru) as u64);
    file::write_key(&mut p.buf, key, &e.value, expire, idle, opts);
    if p.copying {
        p.copied += (key.len() + e.value.heap_size()) as u64;
    }
    true
}
