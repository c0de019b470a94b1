//! Multi-shard steps run by the coordinating thread itself, on the
//! involved shards' data under their locks (shard_lock.rs).
//!
//! A multi-key command whose keys span shards takes the locks of the
//! shards it involves, in ascending order, without waiting: if one is
//! taken (its owner is inside a synchronous step, or a hold of the
//! ordered path owns it), it lets go of all and tries again after a
//! short, growing sleep. Holding them all, it runs every part, applies
//! their effects (effects.rs), logs the command once and lets go. No
//! message is sent and no other thread is woken, unless a shard's own
//! thread has something to do about it (blocked clients or tracking
//! readers of the keys): then it gets a poke after the locks are gone.
//!
//! Strict serializability: the step sees and changes every involved key
//! while no other step runs on any of them; a thread holding locks never
//! waits for anything, so the locks cannot deadlock.
//!
//! When a snapshot (BGSAVE, full sync) is running, whose copy-before-
//! write needs the owning thread, the step falls back to the ordered
//! hold path (multishard.rs, order.rs); so does a step that failed to
//! take its locks `TRIES` times: the ordered path's FIFO queues then
//! bound its wait, however busy the shards are.

use super::effects::{Deferred, Step};
use super::mesh::Job;
use super::route::Routed;
use super::shard::ShardRt;
use super::spec::{CommandSpec, Handler};
use crate::persist::bgsave::shard::SNAPSHOTS;
use crate::resp::Out;
use std::collections::BTreeMap;
use std::rc::Rc;
use std::sync::atomic::Ordering;
use std::time::Duration;

/// Beyond this many deferred items a shard is poked even without
/// listeners, so they cannot pile up on an idle shard.
const DEFERRED_POKE_AT: usize = 256;

/// Attempts at taking the locks before a step queues for an ordered
/// hold instead (about 10 ms of backing off).
const TRIES: u32 = 16;

/// The locks of some shards, held by this thread until dropped.
pub struct Locked<'a> {
    rt: &'a ShardRt,
    shards: Vec<usize>,
}

impl Drop for Locked<'_> {
    fn drop(&mut self) {
        debug_assert!(super::order::ascending(&self.shards));
        for &s in self.shards.iter().rev() {
            self.rt.shared.cores[s].release();
        }
    }
}

/// Takes the data locks of `shards` (sorted, distinct); None when a
/// snapshot is running or the locks stayed busy (use the ordered hold
/// instead).
pub async fn lock<'a>(rt: &'a ShardRt, shards: &[usize]) -> Option<Locked<'a>> {
    // One order for every step's locks; none nested in another step's.
    debug_assert!(super::order::ascending(shards), "locks of {shards:?}");
    debug_assert!(holds_no_foreign_lock(rt), "a direct step inside another");
    let own = shards.contains(&rt.id);
    let mut pause = Duration::from_micros(20);
    for _ in 0..TRIES {
        // A busy script's thread holds every lock, re-entrantly for its
        // own thread's other tasks: they wait for its end.
        rt.wait_script().await;
        // A hold of the ordered path on our own shard keeps its gate shut.
        if own && rt.gate.available() == 0 {
            rt.wait_gate().await;
        }
        let mut locked = Locked {
            rt,
            shards: Vec::with_capacity(shards.len()),
        };
        let mut all = true;
        for &s in shards {
            if rt.shared.cores[s].try_acquire() {
                locked.shards.push(s);
            } else {
                all = false;
                break;
            }
        }
        // A script that let its locks go for a while (a busy pause, a wait
        // for another thread) still has the node to itself.
        if all && !(own && rt.gate.available() == 0) && !rt.shared.busy.holds_node() {
            // While any shard's part of a snapshot is in progress the
            // direct path stays away from all data. Read under the locks:
            // a snapshot starts under its shard's.
            if SNAPSHOTS.load(Ordering::Acquire) > 0 {
                return None;
            }
            return Some(locked);
        }
        drop(locked);
        glommio::timer::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_millis(1));
    }
    None
}

/// A busy script's pause (script/timeout.rs): lets go of every data lock
/// this thread holds, so that no shard thread waiting for its own data
/// stays stuck (unable to answer -BUSY, or SCRIPT KILL) while the script
/// waits; the other tasks stay away from the data while it is busy
/// (`wait_gate`). Returns what [`unpark_locks`] takes back.
pub fn park_locks(rt: &ShardRt) -> Vec<(usize, u32)> {
    let cores = rt.shared.cores.iter().enumerate();
    cores
        .map(|(s, c)| (s, c.park()))
        .filter(|&(_, d)| d > 0)
        .collect()
}

/// Takes back the locks [`park_locks`] let go of, in ascending order.
pub fn unpark_locks(rt: &ShardRt, held: Vec<(usize, u32)>) {
    for (s, depth) in held {
        rt.shared.cores[s].unpark(depth);
    }
}

/// Whether this thread holds no other shard's data lock: a thread that
/// holds some never waits for anything, so it neither takes more nor
/// queues for an ordered hold (its own shard's lock it may hold: the
/// ordered path keeps it across a hold, re-entrantly).
pub fn holds_no_foreign_lock(rt: &ShardRt) -> bool {
    let cores = rt.shared.cores.iter().enumerate();
    cores
        .filter(|&(s, _)| s != rt.id)
        .all(|(_, c)| !c.held_here())
}

/// The parts of a split command (`(shard, sub-command)`), run under the
/// locks; returns each part's reply, or None to fall back.
pub async fn split(
    rt: &Rc<ShardRt>,
    spec: &'static CommandSpec,
    argv: &[&[u8]],
    parts: &[(usize, Vec<&[u8]>)],
    db: usize,
    resp3: bool,
    caller: super::tracking::Caller,
) -> Option<Vec<Vec<u8>>> {
    let shards: Vec<usize> = parts.iter().map(|(s, _)| *s).collect();
    let locked = lock(rt, &shards).await?;
    let Handler::Shard(handler) = spec.handler else {
        unreachable!("{} is not a shard command", spec.name)
    };
    let settings = rt.settings();
    let mut clock = rt.clock();
    let mut replies = Vec::with_capacity(parts.len());
    let mut dirty = 0;
    let mut pokes = Vec::new();
    for (shard, sub) in parts {
        let mut out = Out::new(resp3);
        let lock = &rt.shared.cores[*shard];
        let mut core = lock.borrow_mut_held();
        let step = Step {
            spec,
            argv: sub,
            db,
            count: false,
            record: false,
            caller,
            on_owner: false,
        };
        let (_, after) = super::effects::apply(
            rt,
            *shard,
            &mut core,
            step,
            &mut out,
            &mut clock,
            &settings,
            |ctx| handler(ctx, sub),
        );
        dirty += after.dirty;
        after.finish_foreign(&mut core);
        if *shard != rt.id && needs_poke(&core) {
            pokes.push(*shard);
        }
        replies.push(out.buf);
    }
    // The command is logged once, whole, while every part is locked.
    if dirty > 0 && rt.shared.aof.log.recording() && spec.is_write() {
        rt.record(db, argv, None);
    }
    drop(locked);
    after_step(rt, pokes).await;
    Some(replies)
}

/// One shard command on a locked shard's data, as part of a step (EXEC):
/// counted and logged like a command of its own. True when the shard's
/// thread must be poked.
#[allow(clippy::too_many_arguments)]
pub fn run_one(
    rt: &Rc<ShardRt>,
    shard: usize,
    spec: &'static CommandSpec,
    argv: &[&[u8]],
    db: usize,
    out: &mut Out,
    clock: &mut super::shard::ExecClock,
    settings: &super::shard::Settings,
    caller: super::tracking::Caller,
) -> bool {
    let Handler::Shard(handler) = spec.handler else {
        unreachable!("{} is not a shard command", spec.name)
    };
    let mut core = rt.shared.cores[shard].borrow_mut_held();
    let step = Step {
        spec,
        argv,
        db,
        count: true,
        record: true,
        caller,
        on_owner: false,
    };
    let (_, after) =
        super::effects::apply(rt, shard, &mut core, step, out, clock, settings, |ctx| {
            handler(ctx, argv)
        });
    after.finish_foreign(&mut core);
    shard != rt.id && needs_poke(&core)
}

fn needs_poke(core: &super::shard::Core) -> bool {
    !core.deferred.is_empty()
        && (core.listeners
            || core.deferred.len() >= DEFERRED_POKE_AT
            || core
                .deferred
                .iter()
                .any(|d| matches!(d, Deferred::Read { .. } | Deferred::Notes(_))))
}

/// Once the locks are gone: our own shard takes up its share now, the
/// others that have something to do are poked, and the step ends when
/// they have (so tracking clients are told before the writer's reply
/// leaves, as with Redis).
pub async fn after_step(rt: &Rc<ShardRt>, pokes: Vec<usize>) {
    rt.drain_deferred();
    let mut done = Vec::with_capacity(pokes.len());
    for s in pokes {
        let (tx, rx) = futures::channel::oneshot::channel();
        let job = Job::Run(Box::new(move |rt: &Rc<ShardRt>| {
            let ((), mail) = super::outbox::capture(rt, || rt.drain_deferred());
            let _ = tx.send(mail);
        }));
        if rt.senders.send_to(s, job).await.is_err() {
            panic!("shard {s} mesh channel closed");
        }
        done.push(rx);
    }
    for rx in done {
        if let Ok(mail) = rx.await {
            super::outbox::put(rt, mail);
        }
    }
}

/// An all-or-nothing multi-shard command (RENAME, MSETNX, SMOVE across
/// shards, ...), under the locks; returns its reply, or None to fall
/// back. Not counted in commandstats: the caller counts the command.
#[allow(clippy::too_many_arguments)]
pub async fn atomic(
    rt: &Rc<ShardRt>,
    spec: &'static CommandSpec,
    argv: &[&[u8]],
    routed: &Routed,
    db: usize,
    resp3: bool,
    caller: super::tracking::Caller,
) -> Option<Vec<u8>> {
    let locked = lock(rt, routed.shards()).await?;
    let mut by_shard = routed.keys_by_shard(argv);
    if routed.reaches_every_shard() {
        add_data_keys_locked(rt, spec, argv, routed, db, &mut by_shard);
    }
    let mut out = Out::new(resp3);
    let settings = rt.settings();
    let mut clock = rt.clock();
    let pokes = gathered(
        rt, spec, argv, &by_shard, db, &mut out, &mut clock, &settings, caller, false,
    );
    drop(locked);
    after_step(rt, pokes).await;
    Some(out.buf)
}

/// `multishard::add_data_keys` for a caller holding every shard's lock.
pub fn add_data_keys_locked(
    rt: &ShardRt,
    spec: &'static CommandSpec,
    argv: &[&[u8]],
    routed: &Routed,
    db: usize,
    by_shard: &mut BTreeMap<usize, Vec<Vec<u8>>>,
) {
    // The data naming the keys is the first key's value.
    let first = routed.keys()[0].shard;
    let core = rt.shared.cores[first].borrow_mut_held();
    super::multishard::add_data_keys(rt, spec, argv, db, &core, by_shard);
}

/// Runs a command whose keys span shards, with every involved shard's
/// data locked by this thread: each involved key (in every database) is
/// moved out of its owner into a scratch keyspace, the ordinary handler
/// runs there once, and every key's new state is moved back. Returns the
/// shards to poke.
#[allow(clippy::too_many_arguments)]
pub fn gathered(
    rt: &Rc<ShardRt>,
    spec: &'static CommandSpec,
    argv: &[&[u8]],
    by_shard: &BTreeMap<usize, Vec<Vec<u8>>>,
    db: usize,
    out: &mut Out,
    clock: &mut super::shard::ExecClock,
    settings: &super::shard::Settings,
    caller: super::tracking::Caller,
    count: bool,
) -> Vec<usize> {
    let (started, mark) = (std::time::Instant::now(), out.buf.len());
    let now = clock.now_ms;
    let events = settings.notify;
    let mut scratch = rt.take_scratch();
    let mut pokes = Vec::new();
    // Gather. Keys found expired here are the command's lookups'
    // expiries: DELs first, `expired` events first.
    for (&shard, keys) in by_shard {
        let mut core = rt.shared.cores[shard].borrow_mut_held();
        let core = &mut *core;
        crate::events::prepare_log(events, &mut core.store);
        core.store.set_track_expired(true);
        for key in keys {
            for (dbi, d) in core.store.dbs.iter_mut().enumerate() {
                if d.lookup(key, now).is_none() {
                    continue;
                }
                if let Some((entry, exp)) = d.remove(key) {
                    scratch.dbs[dbi].set_with_expire(key, entry.value, exp, entry.lru);
                }
            }
        }
        let notes = crate::events::logged_notes(events, &mut core.store);
        if !notes.is_empty() {
            core.deferred.push(Deferred::Notes(notes));
        }
        let expired = core.store.take_expired_by_db();
        if !expired.is_empty() {
            super::effects::propagate_deletes(rt, super::effects::ServerDelete::Expired, &expired);
            let keys = expired.into_iter().map(|(_, k)| k).collect();
            core.deferred.push(Deferred::Written { keys, writer: 0 });
        }
    }
    // Run, as one step on the scratch keyspace.
    let run =
        super::effects::apply_on_scratch(rt, spec, argv, db, caller, scratch, out, clock, settings);
    let (mut scratch, dirty) = (run.scratch, run.dirty);
    let (notes, written, read) = (run.notes, run.written, run.read);
    // Move every key's state back to its owner.
    for (&shard, keys) in by_shard {
        let mut core = rt.shared.cores[shard].borrow_mut_held();
        let core = &mut *core;
        for key in keys {
            for (dbi, d) in scratch.dbs.iter_mut().enumerate() {
                if let Some((entry, exp)) = d.remove(key) {
                    core.store.dbs[dbi].set_with_expire(key, entry.value, exp, entry.lru);
                }
            }
        }
        // Putting keys back is no creation (the command's own events
        // are below).
        for d in core.store.dbs.iter_mut() {
            d.key_log.clear();
        }
        // The command's events of this shard's keys, in order, for the
        // owner to publish.
        let mine: Vec<_> = notes
            .iter()
            .filter(|n| {
                keys.iter()
                    .any(|k| k.as_slice() == super::effects::note_key(n))
            })
            .cloned()
            .collect();
        if !mine.is_empty() {
            core.deferred.push(Deferred::Notes(mine));
        }
        let mine: Vec<Vec<u8>> = written
            .iter()
            .filter(|k| keys.contains(k))
            .cloned()
            .collect();
        if dirty > 0 && !mine.is_empty() {
            for key in &mine {
                core.watches.touch(None, key);
            }
            core.deferred.push(Deferred::Written {
                keys: mine,
                writer: caller.id,
            });
        }
        let reads: Vec<Vec<u8>> = read.iter().filter(|k| keys.contains(k)).cloned().collect();
        if !reads.is_empty() {
            core.deferred.push(Deferred::Read {
                caller,
                keys: reads,
            });
        }
        if shard != rt.id && needs_poke(core) {
            pokes.push(shard);
        }
    }
    // Events of keys no shard claimed (none expected): published here.
    let strays: Vec<_> = notes
        .into_iter()
        .filter(|n| {
            let k = super::effects::note_key(n);
            !by_shard
                .values()
                .any(|keys| keys.iter().any(|x| x.as_slice() == k))
        })
        .collect();
    super::notify::publish(rt, strays);
    rt.put_scratch(scratch);
    if count {
        rt.count_call(spec, argv, db, caller.id, started, &out.buf[mark..]);
    }
    pokes
}
