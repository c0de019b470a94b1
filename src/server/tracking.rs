//! Client-side caching (CLIENT TRACKING): which clients may cache which
//! keys, and the invalidation messages sent when those keys change.
//!
//! - A key belongs to one shard, so each shard keeps the tracking table of
//!   its own keys: key → clients that read it (default mode). A client is
//!   remembered as (id, home shard): the key's shard sends invalidations to
//!   the client's home shard over the mesh, which delivers them.
//! - BCAST prefixes are copied to every shard (a write on any shard must
//!   find them). Keys matching a prefix are gathered per prefix and sent
//!   once the current task yields, one array per prefix per shard, as
//!   Redis sends them from beforeSleep.
//! - Delivery happens on the tracking client's home shard, which knows its
//!   current mode: RESP3 push, or a `__redis__:invalidate` Pub/Sub message
//!   to the REDIRECT client (which may live on a third shard).
//! - Like Redis, the table is not per database, and a client that turns
//!   tracking off is forgotten lazily (its entries are skipped on use).

use super::pubsub::Subscriber;
use super::shard::ShardRt;
use crate::resp::Out;
use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, HashMap};
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

/// INFO figures for the whole process: clients with tracking on, keys
/// and (key, client) entries in the tables, BCAST prefixes.
pub static CLIENTS: AtomicUsize = AtomicUsize::new(0);
pub static TOTAL_KEYS: AtomicUsize = AtomicUsize::new(0);
pub static TOTAL_ITEMS: AtomicUsize = AtomicUsize::new(0);
pub static TOTAL_PREFIXES: AtomicUsize = AtomicUsize::new(0);

/// Redis's Pub/Sub channel for RESP2 invalidations (REDIRECT).
pub const CHANNEL: &[u8] = b"__redis__:invalidate";

/// One connection's tracking mode (kept in its `ClientInfo`, read by
/// CLIENT LIST/TRACKINGINFO and by delivery on its home shard).
#[derive(Default)]
pub struct TrackState {
    pub on: Cell<bool>,
    pub bcast: Cell<bool>,
    pub optin: Cell<bool>,
    pub optout: Cell<bool>,
    pub noloop: Cell<bool>,
    /// CLIENT CACHING yes (OPTIN) / no (OPTOUT) for the next command.
    pub caching: Cell<bool>,
    /// The REDIRECT client id (0: none) and the shard it lives on.
    pub redirect: Cell<u64>,
    pub redirect_shard: Cell<usize>,
    /// The REDIRECT client was gone when a message was due (flag `R`).
    pub broken: Cell<bool>,
    /// BCAST prefixes, sorted (Redis keeps them in a radix tree).
    pub prefixes: RefCell<Vec<Vec<u8>>>,
}

impl TrackState {
    /// Whether a read-only command run now records its keys: default
    /// mode, and OPTIN after CACHING yes / OPTOUT unless CACHING no.
    pub fn records_reads(&self) -> bool {
        let caching = self.caching.get();
        let opted_out = (self.optin.get() && !caching) || (self.optout.get() && caching);
        self.on.get() && !self.bcast.get() && !opted_out
    }

    /// Clears the mode (CLIENT TRACKING off, RESET).
    pub fn clear(&self) {
        for c in [
            &self.on,
            &self.bcast,
            &self.optin,
            &self.optout,
            &self.noloop,
            &self.caching,
            &self.broken,
        ] {
            c.set(false);
        }
        self.redirect.set(0);
        self.prefixes.borrow_mut().clear();
    }
}

/// Who runs a shard command: for NOLOOP and to remember tracked reads.
#[derive(Clone, Copy, Default, Debug)]
pub struct Caller {
    /// Client id; 0 for work no client asked for.
    pub id: u64,
    /// The shard the client's connection lives on.
    pub home: usize,
    /// Its read-only commands' keys are to be tracked.
    pub track_reads: bool,
    /// Its user may read every key (ACL; `ClientInfo::full_key_read`).
    pub full_key_read: bool,
    /// A command its script called: MONITOR shows it as the script's
    /// (`[<db> lua]`), not the client's.
    pub script: bool,
}

/// The caller of a shard command run for `info`'s connection on `home`.
pub fn caller(info: &super::clients::ClientInfo, home: usize) -> Caller {
    Caller {
        id: info.id,
        home,
        track_reads: info.tracking.records_reads(),
        full_key_read: info.full_key_read.get(),
        script: false,
    }
}

/// After each command, as Redis's resetClient: CLIENT CACHING lasts for
/// one command (a whole MULTI … EXEC), CLIENT subcommands excepted.
pub fn after_command(
    info: &super::clients::ClientInfo,
    spec: Option<&super::spec::CommandSpec>,
    in_multi: bool,
) {
    if !in_multi && !super::dispatch::behaves(spec, super::spec::Behavior::KEEPS_CACHING) {
        info.tracking.caching.set(false);
    }
}

/// A BCAST subscriber as every shard knows it.
#[derive(Clone, Copy)]
struct BcastClient {
    id: u64,
    home: usize,
    noloop: bool,
}

/// The clients that read a key: (client id, home shard).
type Readers = Vec<(u64, usize)>;

/// Keys changed under a prefix (sorted, as Redis's radix tree) → the
/// client that changed each last (for NOLOOP).
type Changed = BTreeMap<Vec<u8>, u64>;

/// One shard's tracking state.
#[derive(Default)]
pub struct Tracking {
    /// key → (client id, home shard), default mode.
    table: RefCell<HashMap<Vec<u8>, Readers>>,
    /// prefix → BCAST clients (a copy on every shard).
    prefixes: RefCell<BTreeMap<Vec<u8>, Vec<BcastClient>>>,
    /// prefix → keys changed since the last broadcast → last writer.
    pending: RefCell<BTreeMap<Vec<u8>, Changed>>,
    /// A broadcast task is scheduled.
    flushing: Cell<bool>,
}

impl Tracking {
    /// Whether any change on this shard may concern a tracking client.
    #[inline]
    pub fn active(&self) -> bool {
        !self.table.borrow().is_empty() || !self.prefixes.borrow().is_empty()
    }
}

/// What an invalidation says.
#[derive(Clone)]
enum Payload {
    /// One key: `*1 $key`.
    Key(Vec<u8>),
    /// An encoded array of keys (BCAST).
    Array(Vec<u8>),
    /// Everything (FLUSHALL / FLUSHDB): a null in the tracking client's
    /// protocol.
    Flush,
}

/// Remembers that `caller` read `keys` (run on the keys' shard, in the
/// same step as the read, so no change can slip in between).
pub fn remember(rt: &ShardRt, caller: Caller, keys: impl Iterator<Item = Vec<u8>>) {
    {
        let mut table = rt.tracking.table.borrow_mut();
        for key in keys {
            let ids = table.entry(key).or_insert_with(|| {
                TOTAL_KEYS.fetch_add(1, Relaxed);
                Vec::new()
            });
            if !ids.iter().any(|&(id, _)| id == caller.id) {
                ids.push((caller.id, caller.home));
                TOTAL_ITEMS.fetch_add(1, Relaxed);
            }
        }
    }
    limit_keys(rt);
}

/// `tracking-table-max-keys`, for the whole process (as Redis's one
/// table): over it, keys are forgotten (an arbitrary few, as Redis picks
/// random ones) and their clients told, as if they had changed. Each
/// shard forgets its own, claiming each one from the process-wide count
/// first, so shards trimming at once forget no more than the excess.
/// Also from the shard's cron, for a limit lowered by CONFIG SET (Redis's
/// serverCron).
pub fn limit_keys(rt: &ShardRt) {
    let max = rt.settings().tracking_max_keys;
    if max == 0 || TOTAL_KEYS.load(Relaxed) <= max {
        return;
    }
    loop {
        let Some(key) = rt.tracking.table.borrow().keys().next().cloned() else {
            return;
        };
        let claimed = TOTAL_KEYS.fetch_update(Relaxed, Relaxed, |t| (t > max).then(|| t - 1));
        if claimed.is_err() {
            return;
        }
        if let Some(ids) = rt.tracking.table.borrow_mut().remove(&key) {
            tell_readers(rt, &key, ids, 0);
        }
    }
}

/// Whether the process tracks more keys than `tracking-table-max-keys`.
pub fn over_limit(rt: &ShardRt) -> bool {
    let max = rt.settings().tracking_max_keys;
    max > 0 && TOTAL_KEYS.load(Relaxed) > max
}

/// [`limit_keys`] on every shard (the keys over the limit may be any
/// shard's), for a connection that must see the invalidations before
/// its next reply: those for its own shard's clients are in their
/// queues when this returns (outbox.rs).
pub async fn limit_keys_everywhere(rt: &Rc<ShardRt>) {
    super::mesh::run_on_all(rt, |rt| limit_keys(rt)).await;
}

/// A key of this shard changed (`writer`: the client that changed it, 0
/// for expiry): its tracking clients are told once and forgotten, and
/// BCAST prefixes matching it gather it.
pub fn key_modified(rt: &ShardRt, key: &[u8], writer: u64) {
    if !rt.tracking.prefixes.borrow().is_empty() {
        remember_for_broadcast(rt, key, writer);
    }
    invalidate_readers(rt, key, writer);
}

/// Tells the clients that read `key` and forgets them.
fn invalidate_readers(rt: &ShardRt, key: &[u8], writer: u64) {
    let Some(ids) = rt.tracking.table.borrow_mut().remove(key) else {
        return;
    };
    TOTAL_KEYS.fetch_sub(1, Relaxed);
    tell_readers(rt, key, ids, writer);
}

/// Tells the clients that read `key` (no longer in the table).
fn tell_readers(rt: &ShardRt, key: &[u8], ids: Readers, writer: u64) {
    TOTAL_ITEMS.fetch_sub(ids.len(), Relaxed);
    for (id, home) in ids {
        send_home(rt, home, vec![(id, Payload::Key(key.to_vec()), writer)]);
    }
}

fn remember_for_broadcast(rt: &ShardRt, key: &[u8], writer: u64) {
    let t = &rt.tracking;
    let mut pending = t.pending.borrow_mut();
    for prefix in t.prefixes.borrow().keys() {
        if key.starts_with(prefix) {
            pending
                .entry(prefix.clone())
                .or_default()
                .insert(key.to_vec(), writer);
        }
    }
    let gathered = !pending.is_empty();
    drop(pending);
    if gathered && !t.flushing.replace(true) {
        let rt = super::notify::shard_rt();
        if let Some(rt) = rt {
            crate::sys::exec::spawn(async move {
                // Let the running command (and the ready tasks) finish
                // first: one message per prefix for all their changes
                // (unless a reply about to leave sends them first,
                // outbox.rs).
                super::outbox::yield_once().await;
                broadcast(&rt)
            })
            .detach();
        }
    }
}

/// Whether BCAST keys wait to be sent.
#[inline]
pub fn broadcast_pending(rt: &ShardRt) -> bool {
    rt.tracking.flushing.get()
}

/// Sends the gathered BCAST keys now, before a reply leaves (the task
/// scheduled for them then finds nothing).
pub fn broadcast_due(rt: &ShardRt) {
    if rt.tracking.flushing.get() {
        broadcast(rt);
    }
}

/// Sends the gathered BCAST keys: one array per prefix to each of its
/// clients (without the client's own changes under NOLOOP).
fn broadcast(rt: &ShardRt) {
    let t = &rt.tracking;
    t.flushing.set(false);
    let pending = std::mem::take(&mut *t.pending.borrow_mut());
    let prefixes = t.prefixes.borrow().clone();
    let mut by_home: HashMap<usize, Vec<(u64, Payload, u64)>> = HashMap::new();
    for (prefix, keys) in pending {
        let Some(clients) = prefixes.get(&prefix) else {
            continue;
        };
        let all = encode_keys(keys.keys());
        for c in clients {
            let payload = if c.noloop {
                let own: Vec<&Vec<u8>> = keys
                    .iter()
                    .filter(|(_, &w)| w != c.id)
                    .map(|(k, _)| k)
                    .collect();
                if own.is_empty() {
                    continue;
                }
                encode_keys(own.into_iter())
            } else {
                all.clone()
            };
            by_home
                .entry(c.home)
                .or_default()
                .push((c.id, Payload::Array(payload), 0));
        }
    }
    for (home, msgs) in by_home {
        send_home(rt, home, msgs);
    }
}

fn encode_keys<'a>(keys: impl ExactSizeIterator<Item = &'a Vec<u8>>) -> Vec<u8> {
    let mut out = Out::new(false);
    out.array(keys.len());
    for k in keys {
        out.bulk(k);
    }
    out.buf
}

/// FLUSHALL / FLUSHDB, on each shard while all are held: forget this
/// shard's table and send a null invalidation to the tracking clients
/// that live here.
pub fn flushed(rt: &ShardRt) {
    let table = std::mem::take(&mut *rt.tracking.table.borrow_mut());
    TOTAL_KEYS.fetch_sub(table.len(), Relaxed);
    TOTAL_ITEMS.fetch_sub(table.values().map(Vec::len).sum(), Relaxed);
    let subs: Vec<Rc<Subscriber>> = rt
        .clients
        .borrow()
        .subscribers()
        .filter(|s| s.info.tracking.on.get())
        .cloned()
        .collect();
    for s in subs {
        send_message(rt, &s, &Payload::Flush);
    }
}

/// Hands invalidations to the clients' home shard.
fn send_home(rt: &ShardRt, home: usize, msgs: Vec<(u64, Payload, u64)>) {
    if home == rt.id {
        deliver(rt, msgs);
        return;
    }
    super::outbox::post(rt, home, move |rt| deliver(rt, msgs));
}

/// On the home shard: the invalidations for its tracking clients.
fn deliver(rt: &ShardRt, msgs: Vec<(u64, Payload, u64)>) {
    for (id, payload, writer) in msgs {
        let Some(sub) = rt.clients.borrow().subscriber(id) else {
            continue;
        };
        let t = &sub.info.tracking;
        if !t.on.get() {
            continue;
        }
        match payload {
            // Default-mode entries left from before a switch to BCAST
            // are dropped, as Redis does.
            Payload::Key(_) if t.bcast.get() => continue,
            Payload::Array(_) if !t.bcast.get() => continue,
            _ => {}
        }
        if t.noloop.get() && writer == id && writer != 0 {
            continue;
        }
        send_message(rt, &sub, &payload);
    }
}

/// Sends one invalidation for tracking client `c` (on its home shard):
/// to itself, or to its REDIRECT client wherever it lives.
fn send_message(rt: &ShardRt, c: &Rc<Subscriber>, payload: &Payload) {
    let t = &c.info.tracking;
    let body = match payload {
        Payload::Key(k) => encode_keys(std::iter::once(k)),
        Payload::Array(a) => a.clone(),
        // Redis sends its shared null of the tracking client's protocol.
        Payload::Flush if c.info.resp.get() == 3 => b"_\r\n".to_vec(),
        Payload::Flush => b"$-1\r\n".to_vec(),
    };
    let redirect = t.redirect.get();
    if redirect == 0 {
        write_invalidation(rt, c, &body, false);
        return;
    }
    let shard = t.redirect_shard.get();
    if shard == rt.id {
        match rt.clients.borrow().subscriber(redirect) {
            Some(target) => write_invalidation(rt, &target, &body, true),
            None => redirect_broken(rt, c),
        }
        return;
    }
    let (id, home) = (c.info.id, rt.id);
    super::outbox::post(rt, shard, move |rt| {
        match rt.clients.borrow().subscriber(redirect) {
            Some(target) => write_invalidation(rt, &target, &body, true),
            None => super::outbox::post(rt, home, move |rt| {
                // Unless the client has meanwhile turned tracking off or
                // redirected elsewhere (Redis, on one thread, would have
                // told it before).
                let c = rt.clients.borrow().subscriber(id);
                if let Some(c) = c.filter(|c| {
                    c.info.tracking.on.get() && c.info.tracking.redirect.get() == redirect
                }) {
                    redirect_broken(rt, &c);
                }
            }),
        }
    });
}

/// The REDIRECT client is gone: flag it, and tell a RESP3 client.
fn redirect_broken(rt: &ShardRt, c: &Rc<Subscriber>) {
    let t = &c.info.tracking;
    t.broken.set(true);
    if c.info.resp.get() == 3 {
        let id = t.redirect.get();
        c.deliver_from(rt, |out| {
            out.push(2);
            out.bulk_str("tracking-redir-broken");
            out.int(id as i64);
        });
    }
}

/// Writes `invalidate` + `body` to `target`: a push in RESP3; a Pub/Sub
/// message in RESP2 only to a REDIRECT client in Pub/Sub mode.
fn write_invalidation(rt: &ShardRt, target: &Rc<Subscriber>, body: &[u8], redirected: bool) {
    if target.info.resp.get() == 3 {
        target.deliver_from(rt, |out| {
            out.push(2);
            out.bulk_str("invalidate");
            out.raw(body);
        });
    } else if redirected && target.info.pubsub.active() {
        target.deliver_from(rt, |out| {
            out.push(3);
            out.bulk_str("message");
            out.bulk(CHANNEL);
            out.raw(body);
        });
    }
}

/// Registers (or re-registers, with its current prefixes and NOLOOP) a
/// BCAST client on every shard.
pub async fn register_bcast(rt: &Rc<ShardRt>, id: u64, prefixes: Vec<Vec<u8>>, noloop: bool) {
    let home = rt.id;
    super::mesh::run_on_all(rt, move |rt| {
        // Another thread's writes must poke this shard from now on.
        rt.core.borrow_mut().listeners = true;
        let mut table = rt.tracking.prefixes.borrow_mut();
        for p in &prefixes {
            let list = table.entry(p.clone()).or_default();
            list.retain(|c| c.id != id);
            list.push(BcastClient { id, home, noloop });
        }
        if rt.id == 0 {
            TOTAL_PREFIXES.store(table.len(), Relaxed);
        }
    })
    .await;
}

/// Drops a BCAST client's prefixes on every shard.
pub async fn unregister_bcast(rt: &Rc<ShardRt>, id: u64) {
    super::mesh::run_on_all(rt, move |rt| {
        // Another thread's writes must poke this shard from now on.
        rt.core.borrow_mut().listeners = true;
        let mut table = rt.tracking.prefixes.borrow_mut();
        table.retain(|_, list| {
            list.retain(|c| c.id != id);
            !list.is_empty()
        });
        if rt.id == 0 {
            TOTAL_PREFIXES.store(table.len(), Relaxed);
        }
    })
    .await;
}

/// Turns tracking off for `info`'s client (CLIENT TRACKING off, RESET,
/// disconnect).
pub async fn disable(rt: &Rc<ShardRt>, info: &super::clients::ClientInfo) {
    if info.tracking.bcast.get() {
        unregister_bcast(rt, info.id).await;
    }
    if info.tracking.on.get() {
        CLIENTS.fetch_sub(1, Relaxed);
    }
    info.tracking.clear();
}

/// The shard that holds client `id`, if it is connected.
pub async fn find_client(rt: &Rc<ShardRt>, id: u64) -> Option<usize> {
    let found = super::mesh::run_on_all(rt, move |rt| rt.clients.borrow().get(id).is_some()).await;
    found.iter().position(|&f| f)
}

#[cfg(test)]
mod tests {
    use super::TrackState;

    #[test]
    fn which_reads_are_recorded() {
        let t = TrackState::default();
        assert!(!t.records_reads());
        t.on.set(true);
        assert!(t.records_reads());
        t.optin.set(true);
        assert!(!t.records_reads());
        t.caching.set(true);
        assert!(t.records_reads());
        t.optin.set(false);
        t.optout.set(true);
        assert!(!t.records_reads());
        t.caching.set(false);
        assert!(t.records_reads());
        t.bcast.set(true);
        assert!(!t.records_reads());
        t.clear();
        assert!(!t.on.get() && t.prefixes.borrow().is_empty());
    }
}
