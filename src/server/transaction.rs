//! MULTI / EXEC / DISCARD / WATCH / UNWATCH: the connection's queue, the
//! per-shard registry of watched keys, and running a queue atomically.
//!
//! - While a connection is in MULTI, `dispatch` hands every request to
//!   [`handle`]: MULTI, EXEC, DISCARD, WATCH, QUIT and RESET run at once;
//!   a refused request (unknown, arity, ...) answers its error and marks
//!   the transaction (EXEC then answers EXECABORT); anything else is queued
//!   (`+QUEUED`).
//! - WATCH registers `(db, key) -> client` on the key's owning shard. A
//!   command that changed something (`ctx.dirty > 0`) marks the watchers of
//!   the keys it wrote in the effects step (`effects::apply`); the
//!   multi-shard write-back, FLUSHDB/FLUSHALL and SWAPDB mark theirs. Expiry is seen
//!   at EXEC: WATCH records the key's TTL deadline, and a deadline passed
//!   by EXEC fails it, as Redis 7.0 (a key already expired when watched
//!   does not count).
//! - EXEC: a queue whose keys all live on one shard runs there in one
//!   step (one closure on that shard's thread). Otherwise every involved
//!   shard is held (ascending, `mesh::hold`) while the watch check and the
//!   whole queue run; a command whose keys span shards goes through the
//!   multi-shard path under that same hold.
//! - Connection-level commands inside MULTI are queued as Redis does.
//!   Those that touch no shard (PING, ECHO, SELECT, ...) need no hold;
//!   the others (INFO, KEYS, PUBLISH, SWAPDB, CONFIG SET, ...) make EXEC
//!   hold every shard and run under that hold (`mesh::under_hold`: their
//!   `run_on`/`hold` calls go through it). Blocking commands run without
//!   blocking, on their keys' shards.

use super::conn::Conn;
use super::mesh;
use super::route::Routed;
use super::shard::ShardRt;
use super::spec::{Behavior, CommandSpec, Flags, Handler};
use crate::persist::aof::record::Records;
use crate::resp::Out;
use crate::slot::key_slot;
use crate::sys::clock::unix_ms;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

/// One queued command.
pub struct Queued {
    spec: &'static CommandSpec,
    args: Vec<Vec<u8>>,
    /// Where its keys live, found when it was queued.
    routed: Routed,
    /// The error EXEC answers instead of running it: the ACL rules
    /// changed since it was queued ([`recheck_acl`]).
    refused: Option<Vec<u8>>,
}

/// One watched key, as the connection remembers it.
struct WatchedKey {
    db: usize,
    key: Vec<u8>,
    shard: usize,
    /// The key's TTL when watched (None: no TTL, missing, or already
    /// expired then). EXEC fails once it has passed.
    deadline: Option<u64>,
}

/// The transaction state of one connection.
#[derive(Default)]
pub struct TxState {
    /// Some while in MULTI: the queued commands.
    queue: Option<Vec<Queued>>,
    /// Cluster mode: whether ASKING was in force when EXEC was planned.
    pub exec_asking: bool,
    /// A command was refused while queuing: EXEC answers EXECABORT.
    aborted: bool,
    watched: Vec<WatchedKey>,
}

impl TxState {
    /// How many keys are WATCHed (client memory accounting).
    pub fn watched_count(&self) -> usize {
        self.watched.len()
    }

    #[inline]
    pub fn in_multi(&self) -> bool {
        self.queue.is_some()
    }

    /// Whether a queued command matches `pred` (a pause holds EXEC only
    /// then, as Redis checks the queue's flags).
    pub fn queue_has(&self, pred: fn(&CommandSpec, &[&[u8]]) -> bool) -> bool {
        self.queue.as_ref().is_some_and(|q| {
            q.iter().any(|c| {
                let argv: Vec<&[u8]> = c.args.iter().map(|a| a.as_slice()).collect();
                pred(c.spec, &argv)
            })
        })
    }
}

/// One client watching a key, as the key's shard remembers it.
struct Watcher {
    id: u64,
    /// The client's dirty flag (CLIENT_DIRTY_CAS).
    dirty: Arc<AtomicBool>,
    /// Redis's `watchedKey.expired`: the key was logically expired but
    /// still stored when watched (or a swap put such a key there). Its
    /// removal is then no change; FLUSHDB/SWAPDB leave this watcher be.
    expired: AtomicBool,
}

impl Watcher {
    fn mark(&self) {
        self.dirty.store(true, Ordering::SeqCst);
    }
}

/// The clients watching one key.
type Watchers = Vec<Watcher>;

/// Whether `key` is stored in `db` with its TTL passed (Redis's
/// keyIsExpired: present in the table, logically gone).
fn stored_expired(store: &crate::store::Store, db: usize, key: &[u8], now: u64) -> bool {
    store
        .dbs
        .get(db)
        .is_some_and(|d| d.peek(key, 0).is_some() && d.expire_of(key).is_some_and(|at| at <= now))
}

/// Whether `key` is stored in `db`, expired or not.
fn stored(store: &crate::store::Store, db: usize, key: &[u8]) -> bool {
    // `peek` at time 0: present in the table, expired or not.
    store.dbs.get(db).is_some_and(|d| d.peek(key, 0).is_some())
}

/// Per shard: who watches which (db, key) of this shard's keys. Part of
/// the shard's data (`Core`), so a multi-shard step on another thread
/// marks watchers under the same lock as its writes.
#[derive(Default)]
pub struct Watches {
    by_key: HashMap<(usize, Vec<u8>), Watchers>,
}

impl Watches {
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.by_key.is_empty()
    }

    fn add(&mut self, db: usize, key: Vec<u8>, id: u64, dirty: Arc<AtomicBool>, expired: bool) {
        let list = self.by_key.entry((db, key)).or_default();
        if !list.iter().any(|w| w.id == id) {
            list.push(Watcher {
                id,
                dirty,
                expired: AtomicBool::new(expired),
            });
        }
    }

    fn remove(&mut self, db: usize, key: Vec<u8>, id: u64) {
        let k = (db, key);
        if let Some(list) = self.by_key.get_mut(&k) {
            list.retain(|w| w.id != id);
            if list.is_empty() {
                self.by_key.remove(&k);
            }
        }
    }

    /// Marks the watchers of `key` in `db` (any database when None).
    pub fn touch(&self, db: Option<usize>, key: &[u8]) {
        if self.is_empty() {
            return;
        }
        match db {
            Some(db) => {
                if let Some(list) = self.by_key.get(&(db, key.to_vec())) {
                    list.iter().for_each(Watcher::mark);
                }
            }
            None => {
                for ((_, k), list) in self.by_key.iter() {
                    if k.as_slice() == key {
                        list.iter().for_each(Watcher::mark);
                    }
                }
            }
        }
    }

    /// FLUSHDB/FLUSHALL (`db` None) and SWAPDB (`db` and `other`): marks
    /// the watchers of keys in `db` (or `other`) that the change really
    /// alters, as Redis's touchAllWatchedKeysInDb. Call before the change.
    pub fn touch_existing(
        &self,
        store: &crate::store::Store,
        db: Option<usize>,
        other: Option<usize>,
        now: u64,
    ) {
        if self.is_empty() {
            return;
        }
        for ((d, k), list) in self.by_key.iter() {
            // The emptied db and what replaces it (SWAPDB only).
            let replaced_with = match (db, other) {
                (None, _) => None,
                (Some(a), Some(b)) if *d == a => Some(b),
                (Some(a), Some(b)) if *d == b => Some(a),
                (Some(a), None) if *d == a => None,
                _ => continue,
            };
            let in_emptied = stored(store, *d, k);
            let in_new = replaced_with.is_some_and(|r| stored(store, r, k));
            if !in_emptied && !in_new {
                continue;
            }
            let new_expired = replaced_with.is_some_and(|r| stored_expired(store, r, k, now));
            for w in list {
                if w.expired.load(Ordering::SeqCst) {
                    if !in_new {
                        // The expired key is just removed: no logical change.
                        w.expired.store(false, Ordering::SeqCst);
                        continue;
                    }
                    if new_expired {
                        continue;
                    }
                } else if !in_emptied && new_expired {
                    // A missing key replaced with an expired one.
                    w.expired.store(true, Ordering::SeqCst);
                    continue;
                }
                w.mark();
            }
        }
    }
}

/// A key spec whose keys a write may change (not read-only).
pub fn written(ks: &super::spec::KeySpec) -> bool {
    !ks.flags.has(super::spec::KeyFlags::RO)
}

/// Blocking commands: queued, and run without blocking by EXEC.
fn blocking(spec: &CommandSpec) -> bool {
    spec.flags.has(Flags::BLOCKING) && matches!(spec.handler, Handler::Conn(_))
}

/// How a request planned by `dispatch` arrives here.
pub enum Planned<'a> {
    Refused(Option<&'static CommandSpec>, &'a [u8]),
    Spec(&'static CommandSpec),
}

/// A request while the connection is in MULTI.
pub async fn handle(conn: &mut Conn, planned: Planned<'_>, argv: &[&[u8]]) {
    let spec = match planned {
        Planned::Refused(spec, msg) => {
            let name = super::dispatch::refused_name(spec);
            if super::dispatch::behaves(spec, Behavior::RUNS_TRANSACTION) {
                // Redis's execCommandAbort: the rejection ends the MULTI.
                refuse(conn, name, &exec_rejected(&String::from_utf8_lossy(msg)));
                discard_state(conn).await;
            } else {
                conn.tx.aborted = true;
                refuse_bytes(conn, name, msg);
            }
            return;
        }
        Planned::Spec(spec) => spec,
    };
    if spec.behavior.has(Behavior::NOT_QUEUED) {
        return super::dispatch::run_alone(conn, spec, argv).await;
    }
    // Over maxmemory with nothing left to evict, Redis queues nothing.
    if !super::evict::admit_on_conn(&conn.rt, true).await {
        conn.tx.aborted = true;
        return refuse(conn, spec.name, super::evict::OOM);
    }
    if spec.flags.has(Flags::NO_MULTI) {
        conn.tx.aborted = true;
        return refuse(
            conn,
            spec.name,
            "ERR Command not allowed inside a transaction",
        );
    }
    let routed = Routed::of(&conn.rt, spec, argv);
    let queue = conn.tx.queue.as_mut().expect("in MULTI");
    queue.push(Queued {
        spec,
        args: argv.iter().map(|a| a.to_vec()).collect(),
        routed,
        refused: None,
    });
    conn.info.multi.set(queue.len() as i64);
    // Redis's mstate.argv_len_sums: the bytes and pointers of each queued
    // command's arguments.
    let mem = argv.iter().map(|a| a.len() + 8).sum::<usize>();
    conn.info.multi_mem.set(conn.info.multi_mem.get() + mem);
    conn.out.simple("QUEUED");
}

/// A refused EXEC (in MULTI or not) answers EXECABORT with the reason,
/// as Redis's execCommandAbort.
pub fn exec_rejected(msg: &str) -> String {
    let why = msg.strip_prefix("ERR ").unwrap_or(msg);
    format!("EXECABORT Transaction discarded because of: {why}")
}

fn refuse(conn: &mut Conn, name: &'static str, msg: &str) {
    refuse_bytes(conn, name, msg.as_bytes());
}

fn refuse_bytes(conn: &mut Conn, name: &'static str, msg: &[u8]) {
    let start = conn.out.buf.len();
    conn.out.error_bytes(msg);
    let reply = conn.out.buf[start..].to_vec();
    conn.rt.count_rejected(name, &reply);
}

/// MULTI
pub async fn multi(conn: &mut Conn) {
    if conn.tx.in_multi() {
        return conn.out.error("ERR MULTI calls can not be nested");
    }
    conn.tx.queue = Some(Vec::new());
    conn.tx.aborted = false;
    conn.info.multi.set(0);
    conn.info.multi_mem.set(0);
    conn.out.ok();
}

/// Leaves MULTI and forgets the watched keys (DISCARD, failed EXEC, RESET).
pub async fn discard_state(conn: &mut Conn) {
    conn.tx.queue = None;
    conn.tx.aborted = false;
    conn.info.multi.set(-1);
    conn.info.multi_mem.set(0);
    unwatch_all(conn).await;
}

/// DISCARD
pub async fn discard(conn: &mut Conn) {
    if !conn.tx.in_multi() {
        return conn.out.error("ERR DISCARD without MULTI");
    }
    discard_state(conn).await;
    conn.out.ok();
}

/// WATCH key [key ...]
pub async fn watch(conn: &mut Conn, args: &[Vec<u8>]) {
    if conn.tx.in_multi() {
        return conn.out.error("ERR WATCH inside MULTI is not allowed");
    }
    let rt = conn.rt.clone();
    let db = conn.db;
    let mut by_shard: BTreeMap<usize, Vec<Vec<u8>>> = BTreeMap::new();
    for key in &args[1..] {
        let known = conn.tx.watched.iter().any(|w| w.db == db && &w.key == key)
            || by_shard.values().any(|v| v.contains(key));
        if !known {
            by_shard
                .entry(rt.shard_of_slot(key_slot(key)))
                .or_default()
                .push(key.clone());
        }
    }
    let id = conn.info.id;
    for (shard, keys) in by_shard {
        let flag = conn.info.dirty_cas.clone();
        let deadlines = mesh::run_on(&rt, shard, move |rt| {
            let now = unix_ms();
            let mut core = rt.core.borrow_mut();
            let core = &mut *core;
            keys.into_iter()
                .map(|key| {
                    let d = &core.store.dbs[db];
                    let deadline = match d.expire_of(&key) {
                        Some(at) if at > now && d.peek(&key, now).is_some() => Some(at),
                        _ => None,
                    };
                    let expired = stored_expired(&core.store, db, &key, now);
                    core.watches.add(db, key.clone(), id, flag.clone(), expired);
                    (key, deadline)
                })
                .collect::<Vec<_>>()
        })
        .await;
        for (key, deadline) in deadlines {
            conn.tx.watched.push(WatchedKey {
                db,
                key,
                shard,
                deadline,
            });
        }
    }
    conn.out.ok();
}

/// Removes every registration of this connection and clears its flag.
pub async fn unwatch_all(conn: &mut Conn) {
    let watched = std::mem::take(&mut conn.tx.watched);
    let mut by_shard: BTreeMap<usize, Vec<(usize, Vec<u8>)>> = BTreeMap::new();
    for w in watched {
        by_shard.entry(w.shard).or_default().push((w.db, w.key));
    }
    let id = conn.info.id;
    for (shard, keys) in by_shard {
        mesh::run_on(&conn.rt, shard, move |rt| {
            let mut core = rt.core.borrow_mut();
            for (db, key) in keys {
                core.watches.remove(db, key, id);
            }
        })
        .await;
    }
    conn.info.dirty_cas.store(false, Ordering::SeqCst);
}

/// UNWATCH
pub async fn unwatch(conn: &mut Conn) {
    unwatch_all(conn).await;
    conn.out.ok();
}

/// The WATCH check, run while the transaction's shards are held: a
/// watched key was changed, or its TTL has passed since WATCH.
fn watch_failed(flag: &AtomicBool, deadlines: &[u64], now: u64) -> bool {
    flag.load(Ordering::SeqCst) || deadlines.iter().any(|&d| d <= now)
}

/// EXEC
pub async fn exec(conn: &mut Conn) {
    let Some(queue) = conn.tx.queue.take() else {
        return conn.out.error("ERR EXEC without MULTI");
    };
    let aborted = std::mem::take(&mut conn.tx.aborted);
    if aborted {
        conn.info.multi.set(-1);
        conn.info.multi_mem.set(0);
        unwatch_all(conn).await;
        return conn
            .out
            .error("EXECABORT Transaction discarded because of previous errors.");
    }
    // Cluster mode: EXEC re-checks the queue's keys together; a redirect
    // discards the transaction and answers the plain redirect error.
    if let Some(err) = cluster_refusal(conn, &queue) {
        conn.info.multi.set(-1);
        conn.info.multi_mem.set(0);
        unwatch_all(conn).await;
        let start = conn.out.buf.len();
        conn.out.error(&err);
        let reply = conn.out.buf[start..].to_vec();
        conn.rt.count_rejected("exec", &reply);
        return;
    }
    // A queue holding a memory-growing command is refused as a whole
    // when over maxmemory (Redis's processCommand for EXEC).
    let grows = queue.iter().any(|q| q.spec.flags.has(Flags::DENYOOM));
    if grows && !super::evict::admit_on_conn(&conn.rt, true).await {
        conn.info.multi.set(-1);
        conn.info.multi_mem.set(0);
        unwatch_all(conn).await;
        return refuse(conn, "exec", &exec_rejected(super::evict::OOM));
    }
    // The server's state may have changed since queuing (replicas lost,
    // link down): EXEC is checked with its queue's facts, as Redis's
    // processCommand does for EXEC.
    // A queued script counts with the flags it declares.
    let facts = queue
        .iter()
        .map(|q| {
            let argv: Vec<&[u8]> = q.args.iter().map(|a| a.as_slice()).collect();
            super::dispatch::StateFacts::of(q.spec, &argv)
        })
        .reduce(super::dispatch::StateFacts::or);
    // MISCONF refuses a PING itself, not one queued (Redis's processCommand).
    let facts = facts.map(|f| super::dispatch::StateFacts {
        misconf_refused: false,
        ..f
    });
    if let Some(err) = facts.and_then(|f| super::dispatch::state_refusal(conn, f)) {
        conn.info.multi.set(-1);
        conn.info.multi_mem.set(0);
        unwatch_all(conn).await;
        return refuse(conn, "exec", &exec_rejected(&err));
    }
    let mut queue = queue;
    recheck_acl(conn, &mut queue);
    let rt = conn.rt.clone();
    let deadlines: Vec<u64> = conn.tx.watched.iter().filter_map(|w| w.deadline).collect();
    let flag = conn.info.dirty_cas.clone();

    // The shards the queue's keys live on.
    let mut shards = BTreeSet::new();
    let mut all_shard_cmds = true;
    let scripts = queue
        .iter()
        .any(|q| q.spec.behavior.has(Behavior::RUNS_SCRIPT));
    for q in &queue {
        match q.spec.handler {
            Handler::Shard(_) => shards.extend(q.routed.shards()),
            // A script may reach any shard's keys: it runs in the step
            // with every shard (script/run.rs).
            Handler::Conn(_) if q.spec.behavior.has(Behavior::RUNS_SCRIPT) => {
                shards.extend(0..rt.nshards)
            }
            Handler::Conn(_) => {
                all_shard_cmds = false;
                if blocking(q.spec) {
                    shards.extend(q.routed.shards());
                } else if !q.spec.behavior.has(Behavior::NO_SHARD) {
                    // Runs under a hold of every shard (`mesh::under_hold`).
                    shards.extend(0..rt.nshards);
                }
            }
        }
    }

    // INFO cross_shard_requests: the EXEC counts once if its queue
    // reaches another shard.
    if shards.iter().any(|&s| s != rt.id) {
        rt.note_hops(1);
    }
    let ran = if all_shard_cmds && shards.len() <= 1 {
        let shard = shards.first().copied().unwrap_or(rt.id);
        one_shard(conn, shard, queue, deadlines, flag).await
    } else if all_shard_cmds && scripts {
        // A script runs synchronously: only under the data locks, which a
        // running snapshot refuses for a while.
        loop {
            if let Some(ran) = direct(conn, &rt, &shards, &queue, &deadlines, &flag).await {
                break ran;
            }
            glommio::timer::sleep(std::time::Duration::from_millis(1)).await;
        }
    } else if all_shard_cmds {
        match direct(conn, &rt, &shards, &queue, &deadlines, &flag).await {
            Some(ran) => ran,
            None => held(conn, &rt, shards, queue, deadlines, flag).await,
        }
    } else {
        held(conn, &rt, shards, queue, deadlines, flag).await
    };
    // CLIENT LIST showed the `x` flag and the queue length until now.
    conn.info.multi.set(-1);
    conn.info.multi_mem.set(0);
    if !ran {
        conn.out.null_array();
    }
    unwatch_all(conn).await;
}

/// ACL rules may have changed since the queue was made: each command is
/// checked again, and one now denied is logged and answered with
/// Redis's error in its place while the others run (execCommand).
fn recheck_acl(conn: &Conn, queue: &mut [Queued]) {
    use super::acl::check::Denial;
    for q in queue {
        let argv: Vec<&[u8]> = q.args.iter().map(|a| a.as_slice()).collect();
        let Some(d) = super::acl::gate::denial(conn, q.spec, &argv) else {
            continue;
        };
        super::acl::gate::log_denial(conn, q.spec, &argv, d, "multi");
        let reason = match d {
            Denial::Command => "no permission to execute the command or subcommand",
            Denial::Key(_) => "no permission to touch the specified keys",
            Denial::Channel(_) => "no permission to access one of the channels used as arguments",
        };
        q.refused = Some(format!("-NOPERM ACLs rules changed between the moment the transaction was accumulated and the EXEC call. This command is no longer allowed for the following reason: {reason}\r\n").into_bytes());
    }
}

/// The whole queue in one step on the shard that owns all its keys.
/// Returns false when the WATCH check failed (nothing ran).
async fn one_shard(
    conn: &mut Conn,
    shard: usize,
    queue: Vec<Queued>,
    deadlines: Vec<u64>,
    flag: Arc<AtomicBool>,
) -> bool {
    let (db, resp3) = (conn.db, conn.out.resp3);
    let caller = super::tracking::caller(&conn.info, conn.rt.id);
    let reply = mesh::run_on(&conn.rt, shard, move |rt| {
        let mut clock = rt.clock();
        if watch_failed(&flag, &deadlines, clock.now_ms) {
            return None;
        }
        let settings = rt.settings();
        let mut out = Out::new(resp3);
        out.array(queue.len());
        let mut argv: Vec<&[u8]> = Vec::new();
        let capturing = rt.begin_capture();
        // Blocked clients are served after the whole transaction.
        rt.begin_unit();
        for q in &queue {
            if let Some(e) = &q.refused {
                out.raw(e);
                continue;
            }
            argv.clear();
            argv.extend(q.args.iter().map(|a| a.as_slice()));
            if q.spec.behavior.has(Behavior::RUNS_SCRIPT) {
                let step =
                    super::script::run::in_step(rt, q.spec, &q.args, db, resp3, caller, false);
                out.raw(&step.0);
                continue;
            }
            rt.set_caller(caller);
            rt.as_queued(|| rt.exec(q.spec, &argv, db, &mut out, &mut clock, &settings));
        }
        if capturing {
            // One MULTI/EXEC block, logged in this same step.
            rt.shared.aof.log.append_records(&rt.end_capture(), true);
        }
        rt.end_unit();
        Some(out.buf)
    })
    .await;
    match reply {
        Some(bytes) => {
            conn.out.raw(&bytes);
            true
        }
        None => false,
    }
}

/// A queue of shard commands spanning shards, run by this thread with
/// every involved shard's data locked (direct.rs). None: fall back to
/// the ordered hold (a snapshot is running).
async fn direct(
    conn: &mut Conn,
    rt: &Rc<ShardRt>,
    shards: &BTreeSet<usize>,
    queue: &[Queued],
    deadlines: &[u64],
    flag: &AtomicBool,
) -> Option<bool> {
    let shards: Vec<usize> = shards.iter().copied().collect();
    let locked = super::direct::lock(rt, &shards).await?;
    if watch_failed(flag, deadlines, unix_ms()) {
        return Some(false);
    }
    let (db, resp3) = (conn.db, conn.out.resp3);
    let caller = super::tracking::caller(&conn.info, rt.id);
    let settings = rt.settings();
    let mut clock = rt.clock();
    let mut out = Out::new(resp3);
    out.array(queue.len());
    let capturing = rt.begin_capture();
    let mut pokes = BTreeSet::new();
    for q in queue {
        if let Some(e) = &q.refused {
            out.raw(e);
            continue;
        }
        let argv: Vec<&[u8]> = q.args.iter().map(|a| a.as_slice()).collect();
        if q.spec.behavior.has(Behavior::RUNS_SCRIPT) {
            let (reply, p) =
                super::script::run::in_step(rt, q.spec, &q.args, db, resp3, caller, true);
            out.raw(&reply);
            pokes.extend(p);
            continue;
        }
        let on = q.routed.single_shard(rt.id);
        if on.is_none() {
            let mut by_shard = q.routed.keys_by_shard(&argv);
            if q.routed.reaches_every_shard() {
                let routed = &q.routed;
                super::direct::add_data_keys_locked(rt, q.spec, &argv, routed, db, &mut by_shard);
            }
            let p = super::direct::gathered(
                rt, q.spec, &argv, &by_shard, db, &mut out, &mut clock, &settings, caller, true,
            );
            pokes.extend(p);
        } else if let Some(shard) = on {
            if super::direct::run_one(
                rt, shard, q.spec, &argv, db, &mut out, &mut clock, &settings, caller,
            ) {
                pokes.insert(shard);
            }
        }
    }
    if capturing {
        // One MULTI/EXEC block, logged while every shard is locked.
        rt.shared.aof.log.append_records(&rt.end_capture(), true);
    }
    drop(locked);
    conn.out.raw(&out.buf);
    super::direct::after_step(rt, pokes.into_iter().collect()).await;
    Some(true)
}

/// The queue with every involved shard held, in order.
async fn held(
    conn: &mut Conn,
    rt: &Rc<ShardRt>,
    shards: BTreeSet<usize>,
    queue: Vec<Queued>,
    deadlines: Vec<u64>,
    flag: Arc<AtomicBool>,
) -> bool {
    let shards: Vec<usize> = shards.into_iter().collect();
    let held = mesh::hold(rt, &shards).await;
    if watch_failed(&flag, &deadlines, unix_ms()) {
        return false;
    }
    conn.out.array(queue.len());
    let caller = super::tracking::caller(&conn.info, rt.id);
    // The writes, gathered in order and logged as one MULTI/EXEC block
    // before the shards are let go.
    let capturing = rt.begin_capture();
    let mut records = Records::default();
    for q in queue {
        if let Some(e) = &q.refused {
            conn.out.raw(e);
            continue;
        }
        let argv: Vec<&[u8]> = q.args.iter().map(|a| a.as_slice()).collect();
        match q.spec.handler {
            Handler::Conn(h) => {
                let started = Instant::now();
                let mark = conn.out.buf.len();
                if q.spec.behavior.has(Behavior::OK_IN_EXEC) {
                    conn.out.ok();
                } else if let Some(in_exec) = q.spec.in_exec {
                    // A blocking pop runs under its keys' shards (it never
                    // blocks here); MIGRATE under every shard.
                    debug_assert!(
                        blocking(q.spec) || shards.len() == rt.nshards,
                        "{} under every shard",
                        q.spec.name
                    );
                    in_exec(conn, &held, &q.args).await;
                } else {
                    // Whatever shard the command reaches is held: all.
                    debug_assert!(
                        q.spec.behavior.has(Behavior::NO_SHARD) || shards.len() == rt.nshards,
                        "{} under every shard",
                        q.spec.name
                    );
                    mesh::under_hold(&held, h(conn, q.args.clone())).await;
                }
                rt.count_call(
                    q.spec,
                    &argv,
                    conn.db,
                    conn.info.id,
                    started,
                    &conn.out.buf[mark..],
                );
            }
            Handler::Shard(_) => {
                let (db, resp3) = (conn.db, conn.out.resp3);
                if let (None, routed) = (q.routed.single_shard(rt.id), &q.routed) {
                    let started = Instant::now();
                    let mark = conn.out.buf.len();
                    let bytes = super::multishard::atomic_held(
                        rt, &held, q.spec, &argv, routed, db, resp3, caller,
                    )
                    .await;
                    conn.out.raw(&bytes);
                    rt.count_call(
                        q.spec,
                        &argv,
                        conn.db,
                        conn.info.id,
                        started,
                        &conn.out.buf[mark..],
                    );
                } else {
                    let shard = q.routed.single_shard(rt.id).unwrap_or(rt.id);
                    // Its keys' shard is held (a keyless one runs here).
                    debug_assert!(
                        q.routed.shards().is_empty() || shards.binary_search(&shard).is_ok()
                    );
                    let (spec, args) = (q.spec, q.args);
                    let run = move |rt: &Rc<ShardRt>| {
                        let argv: Vec<&[u8]> = args.iter().map(|a| a.as_slice()).collect();
                        let mut out = Out::new(resp3);
                        let mut clock = rt.clock();
                        let started = rt.begin_capture();
                        rt.set_caller(caller);
                        let settings = rt.settings();
                        rt.as_queued(|| rt.exec(spec, &argv, db, &mut out, &mut clock, &settings));
                        let recs = if started {
                            rt.end_capture()
                        } else {
                            Records::default()
                        };
                        (out.buf, recs)
                    };
                    let (bytes, recs) = if shard == rt.id {
                        // Held by us, or a keyless command: run here.
                        run(rt)
                    } else {
                        held.run(shard, run).await
                    };
                    records.append(recs);
                    conn.out.raw(&bytes);
                }
            }
        }
        if capturing {
            records.append(rt.take_capture());
        }
    }
    if capturing {
        records.append(rt.end_capture());
        rt.shared.aof.log.append_records(&records, true);
    }
    drop(held);
    true
}

/// Cluster mode's EXEC check over every queued command's keys at once
/// (Redis's getNodeByQuery for EXEC). An open slot runs here as queued.
fn cluster_refusal(conn: &Conn, queue: &[Queued]) -> Option<String> {
    conn.rt.shared.cluster.as_ref()?;
    let slots = queue.iter().flat_map(|q| q.routed.slots());
    let write = queue.iter().any(|q| q.spec.is_write());
    let who = crate::cluster::routing::Asker {
        asking: conn.tx.exec_asking,
        readonly: conn.cluster.readonly,
        write,
        ..Default::default()
    };
    match conn.rt.with_routing(|r| r.check(slots, who))? {
        crate::cluster::routing::Route::Refuse(e) => Some(e),
        _ => None,
    }
}
