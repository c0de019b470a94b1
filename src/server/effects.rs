//! The one step that runs a shard command and applies what it implies.
//!
//! `apply` runs a handler against one shard's data (`Core`), on that
//! shard's thread or, under the data's lock, on another thread running a
//! multi-shard step (direct.rs). In Redis's order it: logs creations,
//! expiries and misses for notifications; runs the handler; propagates
//! the keys it found expired as DELs, then the command (or its rewrite)
//! to the AOF and the replicas; counts changes, hits, misses, the call
//! and its errors. What belongs to the data is done under its lock:
//! WATCHers of the changed keys are marked (`After::finish_*`).
//!
//! What belongs to the shard's thread (tracking tables, blocked clients)
//! is done at once on the owning thread (`finish_local`), or left in the
//! data for that thread (`Deferred`, `finish_foreign`), which takes it up
//! before it runs anything else (`ShardRt::drain_deferred`). Blocked
//! clients are served once the whole unit of work is over: the command,
//! the transaction or the multi-shard step (`ShardRt::end_unit`), as
//! Redis's handleClientsBlockedOnKeys.
//!
//! Handlers run through `apply`: commands on their shard
//! (`ShardRt::exec_with`), the parts and scratch keyspaces of multi-shard
//! commands (direct.rs, multishard.rs), blocked clients served by their
//! plain command (`ShardRt::exec_unasked`), the replica's stream (run as
//! a client's commands). Deletions the server makes on its own (expiry
//! outside a command, eviction) go through `deleted_by_server`. AOF
//! loading runs its handlers through `apply_loading`, the same step with
//! nothing to apply after it. Commands that change whole databases
//! rather than keys (FLUSHALL, FLUSHDB, SWAPDB; emptying a shard to load
//! a new dataset) run `apply_to_keyspace` on every shard they hold, then
//! `log_keyspace_command`.

use super::ctx::{Ctx, ExecLimits, Moment};
use super::shard::{Core, ExecClock, Settings, ShardRt};
use super::spec::{CommandSpec, Flags, Handler, ShardFn};
use super::tracking::Caller;
use crate::events::{Events, Note};
use crate::resp::Out;
use crate::store::Store;
use std::time::Instant;

/// One command's run on one shard's data.
pub struct Step<'a> {
    pub spec: &'static CommandSpec,
    pub argv: &'a [&'a [u8]],
    pub db: usize,
    /// Counted as a call in the statistics (a part of a multi-shard
    /// command is not: the whole command is counted once).
    pub count: bool,
    /// Logged to the AOF and replicas (a part of a multi-shard command is
    /// not: the whole command is logged once).
    pub record: bool,
    pub caller: Caller,
    /// Finished at once on the owning thread (`After::finish_local`, as
    /// `ShardRt::exec_with` does): the keys it wrote are then copied only
    /// when a WATCH, a tracking client or a blocked client may want them,
    /// so a plain write allocates nothing for them.
    pub on_owner: bool,
}

/// Work a step leaves for the shard's thread, kept in its data.
pub enum Deferred {
    /// Keys written or found expired by another thread's step: tracking
    /// readers are told (but `writer`), blocked clients may be served.
    Written { keys: Vec<Vec<u8>>, writer: u64 },
    /// Keys another thread's step read for a tracking client.
    Read { caller: Caller, keys: Vec<Vec<u8>> },
    /// Keyspace events of this shard's keys from another thread's step:
    /// published by the owner, so each key's events reach subscribers in
    /// the order they happened.
    Notes(Vec<Note>),
}

/// The key a keyspace notification is about: the end of a keyspace
/// channel, or a keyevent message.
pub fn note_key(note: &Note) -> &[u8] {
    let (channel, message) = note;
    if channel.starts_with(b"__keyspace@") {
        if let Some(i) = memchr::memmem::find(channel, b"__:") {
            return &channel[i + 3..];
        }
    }
    message
}

/// What a step leaves for after its run.
pub struct After {
    /// Keys it changed (Redis's server.dirty increment).
    pub dirty: u64,
    spec: &'static CommandSpec,
    db: usize,
    caller: Caller,
    notes: Vec<Note>,
    /// Keys found expired, by database.
    expired: Vec<(usize, Vec<u8>)>,
    /// Keys the command may have changed (its writable key specs), when it
    /// changed something.
    written: Vec<Vec<u8>>,
    /// Keys a tracking client read.
    read: Vec<Vec<u8>>,
}

/// Runs `f` on `core` (the data of `shard`) as one step of `home`'s.
#[allow(clippy::too_many_arguments)]
pub fn apply<R>(
    home: &ShardRt,
    shard: usize,
    core: &mut Core,
    step: Step<'_>,
    out: &mut Out,
    clock: &mut ExecClock,
    settings: &Settings,
    f: impl FnOnce(&mut Ctx) -> R,
) -> (R, After) {
    let Step {
        spec,
        argv,
        db,
        count,
        record,
        caller,
        on_owner,
    } = step;
    let local = shard == home.id;
    let err_mark = out.buf.len();
    let events = settings.notify;
    if !core.store.key_log_is(events.key_log()) || !events.is_off() {
        // Also drops what paths without notifications logged.
        core.store.set_key_log(events.key_log());
    }
    // Another thread's step cannot see this shard's tracking tables:
    // it logs expiries for the owner to tell.
    let tracking = !local || home.tracking.active();
    let propagating = home.shared.aof.log.recording();
    // Expired keys are logged for tracking, for their DELs, and for a
    // blocked XREADGROUP (a deleted stream ends it, as Redis's
    // dbGenericDelete signals the key).
    let log_expired = tracking || propagating || home.blocked.has_waiters();
    core.store.set_track_expired(log_expired);
    // A replica (Redis 7.0): its master link sees no key as expired
    // (it waits for the master's DEL; every TTL it receives is
    // absolute), other clients see such keys missing but keep them;
    // but on a writable replica their write commands delete them
    // (Redis's LOOKUP_WRITE) and the TTLs they set expire there.
    let mut now_ms = clock.now_ms;
    let replica = &home.shared.repl.replica;
    if replica.is_replica() {
        let from_master = caller.id == replica.master_client_id();
        if from_master {
            now_ms = 0;
        }
        let writable_client = !from_master && !settings.replica_read_only;
        let deletes = writable_client && spec.is_write();
        core.store.set_keep_expired(!from_master && !deletes);
        core.store.set_note_replica_ttls(writable_client);
    } else {
        core.store.set_note_replica_ttls(false);
        // Paused writes (CLIENT PAUSE, failover): a key whose TTL passed
        // reads as missing but stays, as Redis keeps the dataset still.
        core.store
            .set_keep_expired(home.shared.write_pause.active());
    }
    let at = Moment {
        now_ms,
        lru: clock.lru,
        access: clock.access,
    };
    let mut ctx = Ctx::new(
        &mut core.store,
        db,
        out,
        at,
        &settings.exec,
        propagating,
        events,
    );
    ctx.full_key_read = caller.full_key_read;
    ctx.from_script = caller.script;
    let result = f(&mut ctx);
    let notes = ctx.take_notes();
    let (dirty, hits, misses) = (ctx.dirty, ctx.hits, ctx.misses);
    let rewrite = ctx.rewrite.take();
    let modified = ctx.modified.take();
    let expired = if log_expired {
        core.store.take_expired_by_db()
    } else {
        Vec::new()
    };
    // Keys found expired propagate as DELs, before the command.
    propagate_deletes(home, ServerDelete::Expired, &expired);
    // A read that changes data (PFCOUNT refreshing its cached
    // cardinality) propagates too, as Redis's call() does on dirty.
    let replicates = spec.is_write() || spec.flags.has(Flags::MAY_REPLICATE);
    if record && dirty > 0 && propagating && replicates {
        home.record(db, argv, rewrite);
    }
    core.dirty += dirty;
    let stats = &mut core.stats;
    stats.keyspace_hits += hits;
    stats.keyspace_misses += misses;
    if count {
        let now = Instant::now();
        let ns = now.duration_since(clock.last).as_nanos() as u64;
        clock.last = now;
        let done = super::observe::Done {
            spec,
            argv,
            db,
            ns,
            client: caller.id,
            script: caller.script,
            error: (out.buf.get(err_mark) == Some(&b'-')).then(|| &out.buf[err_mark..]),
        };
        super::observe::command_done(home, stats, &settings.observe, done);
    }
    // The written keys' readers: WATCH (below), tracking and blocked
    // clients (`finish_local`), or the owner (`finish_foreign`, scratch).
    let wanted = !on_owner
        || !core.watches.is_empty()
        || home.tracking.active()
        || home.blocked.has_waiters();
    let mut written = Vec::new();
    if dirty > 0 && wanted {
        let idx = modified.unwrap_or_else(|| {
            let mut idx = Vec::new();
            spec.key_indexes_where(argv, &mut idx, super::transaction::written);
            idx
        });
        written.extend(idx.iter().map(|&i| argv[i].to_vec()));
    }
    let mut read = Vec::new();
    if caller.track_reads && spec.flags.has(Flags::READONLY) && !spec.flags.has(Flags::PUBSUB) {
        let mut idx = Vec::new();
        spec.key_indexes(argv, &mut idx);
        read.extend(idx.iter().map(|&i| argv[i].to_vec()));
    }
    // WATCH: the watchers of the keys it changed, under the data's lock.
    if !core.watches.is_empty() {
        for key in &written {
            core.watches.touch(Some(db), key);
        }
    }
    if caller.track_reads {
        // Before a later step of another thread writes what this one
        // read, it must see that someone here will want to know.
        core.listeners = true;
    }
    let after = After {
        dirty,
        spec,
        db,
        caller,
        notes,
        expired,
        written,
        read,
    };
    (result, after)
}

/// AOF loading's step (aof_replay.rs): `handler` on the keyspace being
/// loaded, before any shard or client exists, so nothing is logged,
/// counted, notified, tracked or woken; as Redis's loading runs the
/// command's proc on its fake client.
pub fn apply_loading(
    store: &mut Store,
    db: usize,
    handler: ShardFn,
    argv: &[&[u8]],
    at: Moment,
    limits: &ExecLimits,
    out: &mut Out,
) {
    let mut ctx = Ctx::new(store, db, out, at, limits, false, Events::default());
    handler(&mut ctx, argv);
}

/// A change to whole databases of one shard.
#[derive(Clone, Copy, Debug)]
pub enum KeyspaceChange {
    /// Empty database `db` (every database if None); `lazy`: free the
    /// values in the background (ASYNC).
    Flush { db: Option<usize>, lazy: bool },
    /// Swap two databases (SWAPDB).
    Swap(usize, usize),
}

/// Applies `change` to this shard, which the caller holds, and what it
/// implies, in Redis's order: a running snapshot finishes this shard's
/// part first; tracking clients get one null invalidation on a flush
/// (the table forgotten); WATCHers of the keys it removes or replaces are
/// marked; removed keys count as changes. The caller logs the command
/// once, for every shard ([`log_keyspace_command`]), before it lets the
/// shards go, then serves clients blocked on a key a swap filled.
pub fn apply_to_keyspace(rt: &ShardRt, change: KeyspaceChange) {
    crate::persist::bgsave::before_keyspace_write(rt);
    if let KeyspaceChange::Flush { .. } = change {
        super::tracking::flushed(rt);
    }
    let now = crate::sys::clock::unix_ms();
    let mut core = rt.core.borrow_mut();
    let core = &mut *core;
    match change {
        KeyspaceChange::Flush { db, lazy } => {
            core.watches.touch_existing(&core.store, db, None, now);
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
        KeyspaceChange::Swap(a, b) => {
            core.watches
                .touch_existing(&core.store, Some(a), Some(b), now);
            core.store.dbs.swap(a, b);
        }
    }
}

/// Logs a whole-keyspace command as it came, while its shards are still
/// held; always, even when nothing changed, as Redis forces their
/// propagation.
pub fn log_keyspace_command(rt: &ShardRt, db: usize, args: &[Vec<u8>]) {
    if rt.shared.aof.log.recording() {
        let argv: Vec<&[u8]> = args.iter().map(|a| a.as_slice()).collect();
        rt.record(db, &argv, None);
    }
}

/// Opens a visit to this shard's data by a path outside [`apply`] that
/// may meet expired keys (SCAN, RANDOMKEY, a blocked client's probe,
/// active expiry): the keys it deletes are logged for their DELs and
/// keyspace events, which [`end_visit`] sends.
pub fn begin_visit(
    rt: &ShardRt,
) -> (
    super::shard_lock::LockRefMut<'_, Core>,
    crate::events::Events,
) {
    let events = rt.settings().notify;
    let mut core = rt.core.borrow_mut();
    crate::events::prepare_log(events, &mut core.store);
    let wanted = rt.tracking.active() || rt.shared.aof.log.recording() || rt.blocked.has_waiters();
    core.store.set_track_expired(wanted);
    (core, events)
}

/// Closes a [`begin_visit`]: releases the data, then sends what the
/// deletions of the keys found expired imply ([`deleted_by_server`]).
pub fn end_visit(
    rt: &ShardRt,
    mut core: super::shard_lock::LockRefMut<'_, Core>,
    events: crate::events::Events,
) {
    let expired = core.store.take_expired_by_db();
    let notes = crate::events::logged_notes(events, &mut core.store);
    drop(core);
    deleted_by_server(rt, ServerDelete::Expired, &expired, notes);
}

/// Why the server deleted keys no command named.
#[derive(Clone, Copy, Debug)]
pub enum ServerDelete {
    /// Their TTL passed (lazy or active expiry).
    Expired,
    /// `maxmemory`; `lazy`: `lazyfree-lazy-eviction`.
    Evicted { lazy: bool },
}

/// Logs server-initiated deletions (by database) to the AOF and the
/// replicas, as Redis's propagateDeletion: DEL, or UNLINK for a lazy
/// eviction.
pub fn propagate_deletes(rt: &ShardRt, why: ServerDelete, keys: &[(usize, Vec<u8>)]) {
    if keys.is_empty() || !rt.shared.aof.log.recording() {
        return;
    }
    let verb: &[u8] = match why {
        ServerDelete::Evicted { lazy: true } => b"UNLINK",
        _ => b"DEL",
    };
    for (db, key) in keys {
        rt.record(*db, &[verb, key.as_slice()], None);
    }
}
/// What a command run on a scratch keyspace left (`apply_on_scratch`).
pub struct ScratchRun {
    pub scratch: Store,
    pub dirty: u64,
    /// Its keyspace events, in order.
    pub notes: Vec<Note>,
    /// The keys it changed (for WATCH and tracking) and read.
    pub written: Vec<Vec<u8>>,
    pub read: Vec<Vec<u8>>,
}

/// Runs a multi-shard command's handler once, as one step, on `scratch`:
/// a keyspace holding every key it touches, gathered from their owners.
/// Its record is logged here; its changes, hits and misses count on `rt`.
#[allow(clippy::too_many_arguments)]
pub fn apply_on_scratch(
    rt: &ShardRt,
    spec: &'static CommandSpec,
    argv: &[&[u8]],
    db: usize,
    caller: Caller,
    mut scratch: Store,
    out: &mut Out,
    clock: &mut ExecClock,
    settings: &Settings,
) -> ScratchRun {
    let Handler::Shard(handler) = spec.handler else {
        unreachable!("{} is not a shard command", spec.name)
    };
    // Creations and expiries from here on are the command's.
    scratch.set_key_log(settings.notify.key_log());
    let mut core = Core::with_store(scratch);
    let step = Step {
        spec,
        argv,
        db,
        count: false,
        record: true,
        caller,
        on_owner: false,
    };
    let (_, after) = apply(
        rt,
        usize::MAX,
        &mut core,
        step,
        out,
        clock,
        settings,
        |ctx| handler(ctx, argv),
    );
    let dirty = after.dirty;
    let (notes, written, read) = after.finish_gathered();
    let (scratch, stats) = core.into_parts();
    let mut own = rt.core.borrow_mut();
    own.dirty += dirty;
    own.stats.keyspace_hits += stats.keyspace_hits;
    own.stats.keyspace_misses += stats.keyspace_misses;
    ScratchRun {
        scratch,
        dirty,
        notes,
        written,
        read,
    }
}

/// Keys this shard deleted on its own (expired, evicted), on its thread
/// with its data released, and the keyspace events logged meanwhile
/// (`expired`, `evicted`): as Redis's deleteExpiredKeyAndPropagate and
/// performEvictions, the deletions propagate, the events are published,
/// WATCHers of an evicted key are marked (an expiry is seen at EXEC by
/// the TTL WATCH recorded, transaction.rs) and tracking clients are told.
pub fn deleted_by_server(
    rt: &ShardRt,
    why: ServerDelete,
    keys: &[(usize, Vec<u8>)],
    notes: Vec<Note>,
) {
    propagate_deletes(rt, why, keys);
    super::notify::publish(rt, notes);
    if matches!(why, ServerDelete::Evicted { .. }) {
        let core = rt.core.borrow();
        for (db, key) in keys {
            core.watches.touch(Some(*db), key);
        }
    }
    if rt.tracking.active() {
        for (_, key) in keys {
            super::tracking::key_modified(rt, key, 0);
        }
    }
    // A blocked XREADGROUP on a deleted stream is told (Redis's
    // dbGenericDelete signals every deleted stream key).
    if !keys.is_empty() && rt.blocked.has_waiters() {
        rt.keys_ready(0, keys.iter().map(|(_, k)| k.clone()).collect());
    }
}

impl After {
    /// Finishes a step on this shard's own thread, its data released.
    pub fn finish_local(self, rt: &ShardRt) {
        super::notify::publish(rt, self.notes);
        if !self.expired.is_empty() && rt.tracking.active() {
            for (_, key) in &self.expired {
                super::tracking::key_modified(rt, key, 0);
            }
        }
        if !self.expired.is_empty() && rt.blocked.has_waiters() {
            rt.keys_ready(
                self.db,
                self.expired.iter().map(|(_, k)| k.clone()).collect(),
            );
        }
        if rt.tracking.active() {
            for key in &self.written {
                super::tracking::key_modified(rt, key, self.caller.id);
            }
        }
        if !self.read.is_empty() {
            super::tracking::remember(rt, self.caller, self.read.into_iter());
        }
        if self.spec.is_write() && !self.written.is_empty() {
            rt.keys_ready(self.db, self.written);
        }
    }

    /// Finishes a step run on a scratch keyspace (direct.rs `gathered`):
    /// publishes its events; returns the keys it changed and the keys a
    /// tracking client read, for their owners.
    pub fn finish_gathered(self) -> (Vec<Note>, Vec<Vec<u8>>, Vec<Vec<u8>>) {
        (self.notes, self.written, self.read)
    }

    /// Finishes a step another thread ran on `core` (still locked): the
    /// owner's share is left in the data.
    pub fn finish_foreign(self, core: &mut Core) {
        if !self.notes.is_empty() {
            core.deferred.push(Deferred::Notes(self.notes));
        }
        let mut keys: Vec<Vec<u8>> = self.expired.into_iter().map(|(_, k)| k).collect();
        keys.extend(self.written);
        if !keys.is_empty() {
            core.deferred.push(Deferred::Written {
                keys,
                writer: self.caller.id,
            });
        }
        if !self.read.is_empty() {
            core.deferred.push(Deferred::Read {
                caller: self.caller,
                keys: self.read,
            });
        }
    }
}
