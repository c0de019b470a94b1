//! The one path for commands whose keys live on several shards
//! (standalone mode; in cluster mode such commands get CROSSSLOT).
//!
//! - `Cross::Split`: a handler that works per key (MGET, MSET, DEL,
//!   EXISTS, …): the keys split by shard, every part run while all the
//!   shards involved are locked (direct.rs) or held (order.rs), the
//!   replies merged, the command logged once, whole.
//! - `Cross::Atomic`: all-or-nothing (MSETNX, RENAME, COPY, …): the
//!   shards' keys gathered into a scratch keyspace under the same locks
//!   or holds, the ordinary handler run there once, the results written
//!   back. Every multi-key command gets strict serializability from this
//!   one place; the single-shard path stays lock-free.

use super::conn::Conn;
use super::mesh;
use super::route::Routed;
use super::shard::ShardRt;
use super::spec::{CommandSpec, Cross, FindKeys, Handler, Merge};
use crate::events::Note;
use crate::resp::{array_items, int_value, Out};
use crate::slot::key_slot;
use crate::store::{Entry, Store};
use std::collections::BTreeMap;
use std::rc::Rc;

/// Runs `argv` (a request for `spec`) over the shards `routed` names.
pub async fn run(conn: &mut Conn, spec: &'static CommandSpec, argv: &[&[u8]], routed: &Routed) {
    // maxmemory: decided once for the whole command, before any part runs.
    let grows = spec.flags.has(super::spec::Flags::DENYOOM);
    if !super::evict::admit_on_conn(&conn.rt, grows).await {
        let start = conn.out.buf.len();
        conn.out.error(super::evict::OOM);
        let reply = conn.out.buf[start..].to_vec();
        return conn.rt.count_rejected(spec.name, &reply);
    }
    match spec.cross {
        Cross::Split(merge) if !routed.reaches_every_shard() => {
            split(conn, spec, argv, routed, merge).await
        }
        _ => atomic(conn, spec, argv, routed).await,
    }
}

async fn split(
    conn: &mut Conn,
    spec: &'static CommandSpec,
    argv: &[&[u8]],
    routed: &Routed,
    merge: Merge,
) {
    let rt = conn.rt.clone();
    let step = match spec.keys.first().map(|k| k.find) {
        Some(FindKeys::Range { step, .. }) => step.max(1) as usize,
        _ => 1,
    };
    let keys = routed.keys();
    // Per shard: the sub-command and the positions of its keys.
    let mut parts: BTreeMap<usize, (Vec<&[u8]>, Vec<usize>)> = BTreeMap::new();
    // A key group cut short (`MSET a 1 b`): the handler must see the whole
    // command to refuse it, so it all goes to the first key's shard.
    let whole = keys.last().is_some_and(|k| k.arg + step > argv.len());
    let first_shard = keys.first().map(|k| k.shard);
    for (n, key) in keys.iter().enumerate() {
        let k = key.arg;
        let shard = match first_shard {
            Some(s) if whole => s,
            _ => key.shard,
        };
        let part = parts
            .entry(shard)
            .or_insert_with(|| (vec![argv[0]], Vec::new()));
        part.0
            .extend_from_slice(&argv[k..(k + step).min(argv.len())]);
        part.1.push(n);
    }
    let db = conn.db;
    let resp3 = conn.out.resp3;
    let caller = super::tracking::caller(&conn.info, rt.id);
    // Every part runs while all the shards are locked or held: no other
    // client sees some parts done and others not (strict
    // serializability). Directly on this thread when it can
    // (direct.rs), else through the ordered hold.
    let subs: Vec<(usize, Vec<&[u8]>)> = parts
        .iter()
        .map(|(&s, (sub, _))| (s, sub.clone()))
        .collect();
    let replies = match super::direct::split(&rt, spec, argv, &subs, db, resp3, caller).await {
        Some(replies) => replies,
        None => split_held(&rt, spec, argv, &parts, db, resp3, caller).await,
    };
    merge_replies(conn, merge, keys.len(), &parts, replies);
}

/// `split`'s parts through the ordered hold (while a snapshot runs).
/// Each part runs on its shard's thread unlogged; the command is logged
/// once, whole, before the hold ends (an AOF never holds half of it).
async fn split_held(
    rt: &Rc<ShardRt>,
    spec: &'static CommandSpec,
    argv: &[&[u8]],
    parts: &BTreeMap<usize, (Vec<&[u8]>, Vec<usize>)>,
    db: usize,
    resp3: bool,
    caller: super::tracking::Caller,
) -> Vec<Vec<u8>> {
    let Handler::Shard(handler) = spec.handler else {
        unreachable!("{} is not a shard command", spec.name)
    };
    // Each part rides on the hold request and runs as soon as its shard
    // is held.
    let mut ops: Vec<(usize, Option<mesh::Op>)> = Vec::new();
    let mut results = Vec::new();
    for (&shard, (sub, _)) in parts {
        let owned: Vec<Vec<u8>> = sub.iter().map(|a| a.to_vec()).collect();
        let (tx, rx) = futures::channel::oneshot::channel();
        ops.push((
            shard,
            Some(Box::new(move |rt: &Rc<ShardRt>| {
                let sub: Vec<&[u8]> = owned.iter().map(|a| a.as_slice()).collect();
                let mut out = Out::new(resp3);
                let mut clock = rt.clock();
                let settings = rt.settings();
                rt.set_caller(caller);
                let run = super::shard::ExecRun {
                    spec,
                    argv: &sub,
                    db,
                    count: false,
                    record: false,
                };
                let dirty = rt.exec_with(run, &mut out, &mut clock, &settings, |ctx| {
                    handler(ctx, &sub);
                    ctx.dirty
                });
                let _ = tx.send((out.buf, dirty));
            })),
        ));
        results.push(rx);
    }
    let held = mesh::hold_with(rt, ops).await;
    let mut replies: Vec<Vec<u8>> = Vec::with_capacity(results.len());
    let mut dirty = 0;
    for r in results {
        let (reply, changed) = r.await.expect("a held shard dropped its part");
        replies.push(reply);
        dirty += changed;
    }
    if dirty > 0 && rt.shared.aof.log.recording() && spec.is_write() {
        rt.record(db, argv, None);
    }
    drop(held);
    replies
}

/// Puts the parts' replies together as the command's one reply.
fn merge_replies(
    conn: &mut Conn,
    merge: Merge,
    nkeys: usize,
    parts: &BTreeMap<usize, (Vec<&[u8]>, Vec<usize>)>,
    replies: Vec<Vec<u8>>,
) {
    if let Some(err) = replies.iter().find(|r| r.first() == Some(&b'-')) {
        conn.out.raw(err);
        return;
    }
    match merge {
        Merge::SumInts => {
            let total = replies.iter().map(|r| int_value(r).unwrap_or(0)).sum();
            conn.out.int(total);
        }
        Merge::AllOk => conn.out.ok(),
        Merge::KeyOrder => {
            let mut slots: Vec<&[u8]> = vec![&[]; nkeys];
            for ((_, (_, positions)), reply) in parts.iter().zip(&replies) {
                let items = array_items(reply).unwrap_or_default();
                for (&pos, item) in positions.iter().zip(items) {
                    slots[pos] = item;
                }
            }
            conn.out.array(slots.len());
            for item in slots {
                conn.out.raw(item);
            }
        }
    }
}

/// A key's state in every database: (db, entry, expiry).
type KeyState = Vec<(usize, Entry, Option<u64>)>;

async fn atomic(conn: &mut Conn, spec: &'static CommandSpec, argv: &[&[u8]], routed: &Routed) {
    let rt = conn.rt.clone();
    let caller = super::tracking::caller(&conn.info, rt.id);
    let (db, resp3) = (conn.db, conn.out.resp3);
    // Directly under the shards' locks when it can (direct.rs), else
    // through the ordered hold.
    if let Some(out) = super::direct::atomic(&rt, spec, argv, routed, db, resp3, caller).await {
        return conn.out.raw(&out);
    }
    let held = mesh::hold(&rt, routed.shards()).await;
    let out = atomic_held(&rt, &held, spec, argv, routed, db, resp3, caller).await;
    drop(held);
    conn.out.raw(&out);
}

/// Adds the keys the command's data names to `by_shard`, read from the
/// first key's value on `core` (its shard's data, locked or held).
pub fn add_data_keys(
    rt: &ShardRt,
    spec: &CommandSpec,
    argv: &[&[u8]],
    db: usize,
    core: &super::shard::Core,
    by_shard: &mut BTreeMap<usize, Vec<Vec<u8>>>,
) {
    let Some(data) = spec.data_keys else { return };
    let found = (data.find)(&core.store.dbs[db], crate::sys::clock::unix_ms(), argv);
    for key in found {
        let list = by_shard
            .entry(rt.shard_of_slot(key_slot(&key)))
            .or_default();
        if !list.contains(&key) {
            list.push(key);
        }
    }
}

/// The command's distinct keys by owning shard, for a caller holding
/// `held` (every shard, when the command reaches every shard).
pub async fn keys_by_shard_held(
    held: &mesh::Held<'_>,
    spec: &'static CommandSpec,
    argv: &[&[u8]],
    routed: &Routed,
    db: usize,
) -> BTreeMap<usize, Vec<Vec<u8>>> {
    let mut by_shard = routed.keys_by_shard(argv);
    if routed.reaches_every_shard() {
        let owned: Vec<Vec<u8>> = argv.iter().map(|a| a.to_vec()).collect();
        let first = routed.keys()[0].shard;
        by_shard = held
            .run(first, move |rt| {
                let argv: Vec<&[u8]> = owned.iter().map(|a| a.as_slice()).collect();
                let core = rt.core.borrow();
                add_data_keys(rt, spec, &argv, db, &core, &mut by_shard);
                by_shard
            })
            .await;
    }
    by_shard
}

/// The atomic step for a caller that already holds every shard owning
/// one of the command's keys (`atomic`, or EXEC holding a transaction's
/// shards). Returns the reply.
#[allow(clippy::too_many_arguments)]
pub async fn atomic_held(
    rt: &Rc<ShardRt>,
    held: &mesh::Held<'_>,
    spec: &'static CommandSpec,
    argv: &[&[u8]],
    routed: &Routed,
    db: usize,
    resp3: bool,
    caller: super::tracking::Caller,
) -> Vec<u8> {
    let by_shard = keys_by_shard_held(held, spec, argv, routed, db).await;
    let (scratch, notes) = gather(rt, held, &by_shard).await;
    let mut out = Out::new(resp3);
    let (scratch, changed) = run_on_scratch(rt, spec, argv, db, caller, scratch, notes, &mut out);
    // A tracking client's read: remembered on each key's shard.
    if caller.track_reads && spec.flags.has(super::spec::Flags::READONLY) {
        for (&shard, keys) in &by_shard {
            let keys = keys.clone();
            held.run(shard, move |rt| {
                super::tracking::remember(rt, caller, keys.into_iter())
            })
            .await;
        }
    }
    if spec.is_write() {
        write_back(held, &by_shard, scratch, changed, caller).await;
    }
    out.buf
}

/// Copies every involved key, in every database, from its owner into a
/// scratch keyspace; also returns the `expired` events of keys found
/// expired meanwhile (they come first, as the command's own lookups
/// would have signalled them).
async fn gather(
    rt: &Rc<ShardRt>,
    held: &mesh::Held<'_>,
    by_shard: &BTreeMap<usize, Vec<Vec<u8>>>,
) -> (Store, Vec<Note>) {
    let mut scratch = Store::new(rt.settings().databases, 1);
    let mut notes = Vec::new();
    for (&shard, keys) in by_shard {
        let keys = keys.clone();
        let (states, expired): (Vec<(Vec<u8>, KeyState)>, _) = held
            .run(shard, move |rt| {
                let now = crate::sys::clock::unix_ms();
                let events = rt.settings().notify;
                let mut core = rt.core.borrow_mut();
                crate::events::prepare_log(events, &mut core.store);
                // Keys that expire here propagate as DELs, before the
                // command's own record (replicas and the AOF).
                let wanted = rt.shared.aof.log.recording() || rt.tracking.active();
                core.store.set_track_expired(wanted);
                let states = keys
                    .into_iter()
                    .map(|key| {
                        let mut state = Vec::new();
                        for (dbi, db) in core.store.dbs.iter_mut().enumerate() {
                            if let Some(e) = db.lookup(&key, now) {
                                let e = e.clone();
                                state.push((dbi, e, db.expire_of(&key)));
                            }
                        }
                        (key, state)
                    })
                    .collect();
                let notes = crate::events::logged_notes(events, &mut core.store);
                let expired = core.store.take_expired_by_db();
                drop(core);
                // Their events go with the command's, published by it.
                let expiry = super::effects::ServerDelete::Expired;
                super::effects::deleted_by_server(rt, expiry, &expired, Vec::new());
                (states, notes)
            })
            .await;
        notes.extend(expired);
        for (key, state) in states {
            for (dbi, entry, exp) in state {
                scratch.dbs[dbi].set_with_expire(&key, entry.value, exp, entry.lru);
            }
        }
    }

    (scratch, notes)
}

/// Runs the ordinary handler once, against the scratch keyspace, as one
/// step (effects.rs): logged there, while every involved shard is held,
/// so the record lands between those shards' earlier and later writes.
/// Returns the scratch keyspace and the keys the command changed (none
/// when it changed nothing).
#[allow(clippy::too_many_arguments)]
fn run_on_scratch(
    rt: &Rc<ShardRt>,
    spec: &'static CommandSpec,
    argv: &[&[u8]],
    db: usize,
    caller: super::tracking::Caller,
    scratch: Store,
    mut notes: Vec<Note>,
    out: &mut Out,
) -> (Store, Vec<Vec<u8>>) {
    let settings = rt.settings();
    let run = super::effects::apply_on_scratch(
        rt,
        spec,
        argv,
        db,
        caller,
        scratch,
        out,
        &mut rt.clock(),
        &settings,
    );
    // The keys it changed, for WATCH and tracking (not the read-only ones).
    let (dirty, touched) = (run.dirty, run.written);
    notes.extend(run.notes);
    super::notify::publish(rt, notes);
    let scratch = run.scratch;
    let changed = if dirty > 0 { touched } else { Vec::new() };
    (scratch, changed)
}

/// Writes every involved key back to its owner (the caller then lets
/// go); the owners mark WATCHers and tracking clients of the `changed`
/// keys and serve clients blocked on them.
async fn write_back(
    held: &mesh::Held<'_>,
    by_shard: &BTreeMap<usize, Vec<Vec<u8>>>,
    mut scratch: Store,
    changed: Vec<Vec<u8>>,
    caller: super::tracking::Caller,
) {
    let now = crate::sys::clock::unix_ms();
    for (&shard, keys) in by_shard {
        let touch: Vec<Vec<u8>> = keys
            .iter()
            .filter(|k| changed.contains(k))
            .cloned()
            .collect();
        let writes: Vec<(Vec<u8>, KeyState)> = keys
            .iter()
            .map(|key| {
                let state = scratch
                    .dbs
                    .iter_mut()
                    .enumerate()
                    .filter_map(|(dbi, db)| {
                        let exp = db.expire_of(key);
                        db.lookup(key, now).map(|e| (dbi, e.clone(), exp))
                    })
                    .collect();
                (key.clone(), state)
            })
            .collect();
        held.run(shard, move |rt| {
            // BGSAVE: the old values reach the snapshot first.
            for (key, _) in &writes {
                crate::persist::bgsave::before_key_write(rt, key);
            }
            let mut core = rt.core.borrow_mut();
            let mut written = Vec::with_capacity(writes.len());
            for (key, state) in writes {
                for db in core.store.dbs.iter_mut() {
                    db.remove(&key);
                }
                for (dbi, entry, exp) in state {
                    core.store.dbs[dbi].set_with_expire(&key, entry.value, exp, entry.lru);
                }
                written.push(key);
            }
            // Putting the keys back is no creation: drop the `new`s
            // it logged (the command's own events are published).
            for db in core.store.dbs.iter_mut() {
                db.key_log.clear();
            }
            drop(core);
            // WATCHers and tracking clients of the keys it may have
            // changed (transaction.rs, tracking.rs).
            for key in &touch {
                rt.core.borrow().watches.touch(None, key);
                super::tracking::key_modified(rt, key, caller.id);
            }
            // Clients blocked on these keys may be served now.
            rt.keys_ready(0, written);
        })
        .await;
    }
}
