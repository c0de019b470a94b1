//! Clients blocked on keys (BLPOP, BLMOVE, BZPOPMIN, ...): the per-shard
//! registry of waiters and the serving of waiters once a key is ready.
//!
//! A blocked connection owns one [`Waiter`], registered in FIFO order under
//! `(db, key)` on every shard that owns one of its keys. Whoever completes
//! the waiter first *claims* it (an atomic flag): a shard that can serve it
//! (pop on the owning shard, synchronously, right after the write that made
//! the key ready, as Redis's `handleClientsBlockedOnKeys`), its timeout,
//! `CLIENT UNBLOCK`, or the connection going away. Exactly one of them
//! wins; the others skip the waiter, and stale registrations are removed
//! by the connection once it is done ([`BlockGuard`]).
//!
//! Wake-ups travel over a oneshot channel; timeouts are glommio timers; a
//! shard with no waiters pays one counter check per write command.

use super::ctx::WRONGTYPE;
use super::shard::ShardRt;
use crate::resp::Out;
use crate::store::list::End;
use crate::store::stream::StreamId;
use crate::store::{Store, Value};
use crate::sys::clock::unix_ms;
use futures::channel::oneshot;
use std::cell::{Cell, RefCell};
use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};

/// Clients blocked right now, node-wide (INFO `blocked_clients`).
pub static BLOCKED_CLIENTS: AtomicUsize = AtomicUsize::new(0);
/// A client counted in `BLOCKED_CLIENTS` while this lives, for waits
/// outside the blocking machinery (held by a pause, SHUTDOWN).
pub struct CountBlocked;

impl CountBlocked {
    #[allow(clippy::new_without_default)]
    pub fn new() -> CountBlocked {
        BLOCKED_CLIENTS.fetch_add(1, Ordering::Relaxed);
        CountBlocked
    }
}

impl Drop for CountBlocked {
    fn drop(&mut self) {
        BLOCKED_CLIENTS.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Blocked clients with a timeout (INFO `clients_in_timeout_table`).
pub static TIMEOUT_TABLE: AtomicUsize = AtomicUsize::new(0);

/// A command spec held by a waiter (printed by name).
#[derive(Clone, Copy)]
pub struct SpecRef(pub &'static super::spec::CommandSpec);

impl std::fmt::Debug for SpecRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0.name)
    }
}

/// What a served waiter does to the key it waited on.
#[derive(Clone, Debug)]
pub enum BlockOp {
    /// BLPOP/BRPOP (`count` None: `*2 key value`) or BLMPOP (`count`
    /// Some: `*2 key *n values`).
    ListPop { end: End, count: Option<usize> },
    /// BLMOVE/BRPOPLPUSH. `dest_local`: the destination lives on the
    /// source's shard, so pop and push happen in one step there; otherwise
    /// the waiter is told to retry through the multi-shard path.
    ListMove {
        from: End,
        to: End,
        dest: Vec<u8>,
        dest_local: bool,
        /// BRPOPLPUSH, served as RPOPLPUSH (BLMOVE as LMOVE).
        rpoplpush: bool,
    },
    /// BZPOPMIN/BZPOPMAX (`count` None: `*3 key member score`) or BZMPOP
    /// (`count` Some: `*2 key *n *2 member score`).
    ZPop { max: bool, count: Option<usize> },
    /// XREAD BLOCK: `spec` is XREAD's non-blocking handler (not in the
    /// table); a key is ready when its stream's last ID passes the one
    /// waited for. `attempt` is the whole command, run first; a served
    /// waiter gets `XREAD COUNT count STREAMS key id` for its key.
    XRead {
        spec: SpecRef,
        count: u64,
        ids: XreadIds,
        attempt: Vec<Vec<u8>>,
        /// XREADGROUP: ready once the stream passes the group's last ID,
        /// or the key or group is gone (then served an error).
        group: Option<GroupWait>,
    },
}

/// The ID an XREAD waiter waits to see passed, per key; None for `$`
/// until the attempt resolves it to the stream's last ID in the same
/// step (then a write arriving after the XREAD cannot land between).
pub type XreadIds = Arc<Mutex<Vec<(Vec<u8>, Option<StreamId>)>>>;

/// Resolves the `$` IDs of the keys `rt` owns (the attempt's step).
fn resolve_dollars(rt: &ShardRt, db: usize, ids: &XreadIds) {
    let mut ids = ids.lock().unwrap();
    for (k, id) in ids.iter_mut() {
        if id.is_none() && rt.shard_of_slot(crate::slot::key_slot(k)) == rt.id {
            *id = Some(stream_last_id(rt, db, k));
        }
    }
}

/// [`resolve_dollars`] for an XREAD op (the multi-shard attempt runs it
/// on each held shard).
pub fn resolve_xread(rt: &ShardRt, db: usize, op: &BlockOp) {
    if let BlockOp::XRead { ids, .. } = op {
        resolve_dollars(rt, db, ids);
    }
}

/// A blocked XREADGROUP's group and consumer; `serve` is its handler
/// for a woken waiter (command/streams/readgroup.rs).
#[derive(Clone, Debug)]
pub struct GroupWait {
    pub serve: SpecRef,
    pub group: Vec<u8>,
    pub consumer: Vec<u8>,
    pub noack: bool,
}

impl BlockOp {
    fn wants_list(&self) -> bool {
        !matches!(self, BlockOp::ZPop { .. })
    }

    /// XREAD's ID for `key`.
    fn xread_id(&self, key: &[u8]) -> Option<StreamId> {
        match self {
            BlockOp::XRead { ids, .. } => {
                let ids = ids.lock().unwrap();
                let id = ids.iter().find(|(k, _)| k == key).map(|(_, id)| *id);
                Some(id.flatten().unwrap_or_default())
            }
            _ => None,
        }
    }

    /// The non-blocking command that serves this waiter from `key`. It is
    /// also what is logged, as Redis 7.0 propagates a served blocked
    /// client: LPOP key, LPOP key n (LMPOP's own rewrite), LMOVE or
    /// RPOPLPUSH, ZPOPMIN key, ZPOPMIN key n (ZMPOP's own rewrite).
    pub fn plain_command(&self, key: &[u8]) -> Vec<Vec<u8>> {
        let side = |e: End| if e == End::Left { "LEFT" } else { "RIGHT" };
        let args: Vec<&[u8]> = match self {
            BlockOp::ListPop { end, count: None } => {
                let pop = if *end == End::Left { "LPOP" } else { "RPOP" };
                vec![pop.as_bytes(), key]
            }
            BlockOp::ListPop {
                end,
                count: Some(n),
            } => return mpop("LMPOP", key, side(*end), *n),
            BlockOp::ListMove {
                dest,
                rpoplpush: true,
                ..
            } => vec![b"RPOPLPUSH", key, dest],
            BlockOp::ListMove { from, to, dest, .. } => vec![
                b"LMOVE",
                key,
                dest,
                side(*from).as_bytes(),
                side(*to).as_bytes(),
            ],
            BlockOp::ZPop { max, count: None } => {
                let pop = if *max { "ZPOPMAX" } else { "ZPOPMIN" };
                vec![pop.as_bytes(), key]
            }
            BlockOp::ZPop {
                max,
                count: Some(n),
            } => return mpop("ZMPOP", key, if *max { "MAX" } else { "MIN" }, *n),
            BlockOp::XRead {
                count,
                group: Some(g),
                ..
            } => {
                let mut argv = vec![
                    b"XREADGROUP".to_vec(),
                    b"GROUP".to_vec(),
                    g.group.clone(),
                    g.consumer.clone(),
                    b"COUNT".to_vec(),
                    count.to_string().into_bytes(),
                ];
                if g.noack {
                    argv.push(b"NOACK".to_vec());
                }
                argv.extend([b"STREAMS".to_vec(), key.to_vec(), b">".to_vec()]);
                return argv;
            }
            BlockOp::XRead { count, .. } => {
                let id = self.xread_id(key).unwrap_or_default().to_bytes();
                let count = count.to_string().into_bytes();
                return vec![
                    b"XREAD".to_vec(),
                    b"COUNT".to_vec(),
                    count,
                    b"STREAMS".to_vec(),
                    key.to_vec(),
                    id,
                ];
            }
        };
        args.into_iter().map(<[u8]>::to_vec).collect()
    }

    /// The blocking command's reply from its plain command's `plain`:
    /// BLPOP's `*2 key value` from LPOP's value, BZPOPMIN's `*3 key member
    /// score` from ZPOPMIN's `*2 member score`. The others (and errors)
    /// answer alike.
    fn blocking_reply(&self, key: &[u8], plain: Vec<u8>) -> Vec<u8> {
        let (items, rest) = match self {
            _ if plain.starts_with(b"-") => return plain,
            BlockOp::ListPop { count: None, .. } => (2, &plain[..]),
            BlockOp::ZPop { count: None, .. } => match plain.strip_prefix(b"*2\r\n") {
                Some(pair) => (3, pair),
                None => return plain,
            },
            _ => return plain,
        };
        let mut out = Out::new(false);
        out.array(items);
        out.bulk(key);
        out.buf.extend_from_slice(rest);
        out.buf
    }
}

/// `LMPOP|ZMPOP 1 key <where> COUNT n`.
fn mpop(name: &str, key: &[u8], side: &str, count: usize) -> Vec<Vec<u8>> {
    let count = count.to_string();
    [
        name.as_bytes(),
        b"1",
        key,
        side.as_bytes(),
        b"COUNT",
        count.as_bytes(),
    ]
    .into_iter()
    .map(<[u8]>::to_vec)
    .collect()
}

/// How a blocked client is woken.
#[derive(Debug)]
pub enum Wake {
    /// Served: the complete reply.
    Reply(Vec<u8>),
    /// The key is ready but the command must re-run through the
    /// multi-shard path (BLMOVE to a destination on another shard).
    Retry,
    /// Timed out, or CLIENT UNBLOCK ... TIMEOUT.
    Timeout,
    /// CLIENT UNBLOCK ... ERROR.
    Error,
    /// This node became a replica: [`ROLE_CHANGED`], then the connection
    /// closes (Redis's disconnectAllBlockedClients).
    RoleChanged,
}

/// The error a blocked client gets when its node becomes a replica.
pub const ROLE_CHANGED: &str =
    "UNBLOCKED force unblock from blocking operation, instance state changed (master -> replica?)";

/// One blocked command, shared by every key and shard it waits on.
pub struct Waiter {
    pub db: usize,
    pub resp3: bool,
    pub op: BlockOp,
    claimed: AtomicBool,
    wake: Mutex<Option<oneshot::Sender<Wake>>>,
}

impl Waiter {
    pub fn new(db: usize, resp3: bool, op: BlockOp) -> (Arc<Waiter>, oneshot::Receiver<Wake>) {
        let (tx, rx) = oneshot::channel();
        let w = Waiter {
            db,
            resp3,
            op,
            claimed: AtomicBool::new(false),
            wake: Mutex::new(Some(tx)),
        };
        (Arc::new(w), rx)
    }

    /// Takes the right to complete this waiter; true for exactly one caller.
    pub fn claim(&self) -> bool {
        self.claimed
            .compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    }

    pub fn is_claimed(&self) -> bool {
        self.claimed.load(Ordering::Acquire)
    }

    /// Sends the wake-up; only the claimer calls this.
    pub fn deliver(&self, wake: Wake) {
        if let Some(tx) = self.wake.lock().unwrap().take() {
            let _ = tx.send(wake);
        }
    }
}

/// The waiters of one key in one database, first come first served.
struct Queue {
    db: usize,
    waiters: VecDeque<Arc<Waiter>>,
}

/// A shard's registry of waiters, by key.
#[derive(Default)]
pub struct Blocked {
    by_key: RefCell<HashMap<Vec<u8>, Vec<Queue>>>,
    /// Registrations held, so a shard without waiters skips all work.
    count: Cell<usize>,
}

impl Blocked {
    #[inline]
    pub fn has_waiters(&self) -> bool {
        self.count.get() > 0
    }

    pub fn register(&self, key: &[u8], w: &Arc<Waiter>) {
        let mut map = self.by_key.borrow_mut();
        let queues = map.entry(key.to_vec()).or_default();
        let q = match queues.iter_mut().position(|q| q.db == w.db) {
            Some(i) => &mut queues[i],
            None => {
                queues.push(Queue {
                    db: w.db,
                    waiters: VecDeque::new(),
                });
                queues.last_mut().unwrap()
            }
        };
        q.waiters.push_back(w.clone());
        self.count.set(self.count.get() + 1);
    }

    /// Drops `w`'s registrations under `keys`.
    pub fn remove(&self, keys: &[Vec<u8>], w: &Arc<Waiter>) {
        let mut map = self.by_key.borrow_mut();
        for key in keys {
            let Some(queues) = map.get_mut(key.as_slice()) else {
                continue;
            };
            for q in queues.iter_mut().filter(|q| q.db == w.db) {
                let before = q.waiters.len();
                q.waiters.retain(|x| !Arc::ptr_eq(x, w));
                self.count
                    .set(self.count.get() - (before - q.waiters.len()));
            }
            queues.retain(|q| !q.waiters.is_empty());
            if queues.is_empty() {
                map.remove(key.as_slice());
            }
        }
    }
}

/// Serves, in FIFO order, the waiters of `keys` (in any database) that
/// the keys' current values can serve. The keys a served waiter writes (a
/// BLMOVE's destination) are made ready in turn (`ShardRt::keys_ready`).
pub fn serve_keys(rt: &ShardRt, keys: Vec<Vec<u8>>) {
    if !rt.blocked.has_waiters() {
        return;
    }
    for key in keys {
        let Some(mut queues) = rt.blocked.by_key.borrow_mut().remove(key.as_slice()) else {
            continue;
        };
        for q in queues.iter_mut() {
            let before = q.waiters.len();
            serve_queue(rt, &key, q);
            let blocked = &rt.blocked;
            blocked
                .count
                .set(blocked.count.get() - (before - q.waiters.len()));
        }
        queues.retain(|q| !q.waiters.is_empty());
        if !queues.is_empty() {
            let mut map = rt.blocked.by_key.borrow_mut();
            let slot = map.entry(key).or_default();
            // Nothing registers while we run (we never await), but keep
            // any entry that appeared behind ours.
            let newer = std::mem::take(slot);
            *slot = queues;
            slot.extend(newer);
        }
    }
}

/// Unblocks every waiter of each key for which `refusal` gives an error,
/// answering it that error (cluster mode: the key's slot is no longer
/// served here; server/blocked_redirect.rs).
pub fn refuse_waiters(rt: &ShardRt, refusal: impl Fn(&[u8]) -> Option<String>) {
    let blocked = &rt.blocked;
    blocked.by_key.borrow_mut().retain(|key, queues| {
        let Some(err) = refusal(key) else {
            return true;
        };
        for q in queues.drain(..) {
            blocked.count.set(blocked.count.get() - q.waiters.len());
            // One claimed elsewhere (timeout, another key) is only dropped.
            for w in q.waiters.into_iter().filter(|w| w.claim()) {
                w.deliver(Wake::Reply(error_reply(&err, w.resp3)));
            }
        }
        false
    });
}

/// Marks every key this shard's clients wait on as ready: after SWAPDB,
/// which changes what every key of two databases holds. They are served
/// at once, or when a unit of work around it ends (`ShardRt::end_unit`).
pub fn ready_all(rt: &Rc<ShardRt>) {
    if !rt.blocked.has_waiters() {
        return;
    }
    let keys: Vec<Vec<u8>> = rt.blocked.by_key.borrow().keys().cloned().collect();
    rt.keys_ready(0, keys);
}

/// What a key holds, from a waiter's point of view.
pub enum Probe {
    Missing,
    WrongType,
    /// Holds data of the wanted type: its length.
    Ready(usize),
}

/// Looks `key` up as a waiter sees it. A key found expired is deleted as
/// wherever Redis's expireIfNeeded deletes: its DEL propagates, its event
/// is sent and tracking clients hear of it (effects::end_visit).
fn probe(rt: &ShardRt, db: usize, key: &[u8], now: u64, op: &BlockOp) -> Probe {
    let (mut core, events) = super::effects::begin_visit(rt);
    let found = match (op, op.xread_id(key)) {
        (BlockOp::XRead { group: Some(g), .. }, _) => {
            probe_group(&mut core.store, db, key, now, &g.group)
        }
        (_, Some(id)) => probe_stream(&mut core.store, db, key, now, id),
        _ => probe_store(&mut core.store, db, key, now, op.wants_list()),
    };
    super::effects::end_visit(rt, core, events);
    found
}

/// An XREAD waiter's key: ready once the stream's last ID passes `id`
/// (Redis compares the last ID, deleted entries included); not yet, or
/// another type, is skipped as WrongType is.
fn probe_stream(store: &mut Store, db: usize, key: &[u8], now: u64, id: StreamId) -> Probe {
    match store.dbs[db].lookup(key, now).map(|e| &e.value) {
        // Skipped, not the end of the queue: XREADGROUP waiters behind
        // are told the key is gone.
        None => Probe::WrongType,
        Some(Value::Stream(s)) if s.last_id > id => Probe::Ready(usize::MAX),
        Some(_) => Probe::WrongType,
    }
}

/// An XREADGROUP waiter's key: ready when the stream's last ID passes the
/// group's, and when the key (or the group) is gone or the key holds
/// another type: serving it then answers the error.
fn probe_group(store: &mut Store, db: usize, key: &[u8], now: u64, group: &[u8]) -> Probe {
    match store.dbs[db].lookup(key, now).map(|e| &e.value) {
        Some(Value::Stream(s)) => match s.groups.get(group) {
            Some(g) if s.last_id <= g.last_id => Probe::WrongType,
            _ => Probe::Ready(usize::MAX),
        },
        _ => Probe::Ready(usize::MAX),
    }
}

fn probe_store(store: &mut Store, db: usize, key: &[u8], now: u64, list: bool) -> Probe {
    match store.dbs[db].lookup(key, now).map(|e| &e.value) {
        None => Probe::Missing,
        Some(Value::List(l)) if list => match l.len() {
            0 => Probe::Missing,
            n => Probe::Ready(n),
        },
        Some(Value::ZSet(z)) if !list => match z.len() {
            0 => Probe::Missing,
            n => Probe::Ready(n),
        },
        Some(_) => Probe::WrongType,
    }
}

fn serve_queue(rt: &ShardRt, key: &[u8], q: &mut Queue) {
    let now = unix_ms();
    // Elements promised to BLMOVE waiters that will re-run elsewhere.
    let mut reserved = 0;
    let mut i = 0;
    while i < q.waiters.len() {
        let w = q.waiters[i].clone();
        if w.is_claimed() {
            q.waiters.remove(i);
            continue;
        }
        let len = {
            match probe(rt, q.db, key, now, &w.op) {
                // XREADGROUP waiters further on are told the key is gone.
                Probe::Missing if has_group_waiter(q) => {
                    i += 1;
                    continue;
                }
                Probe::Missing => return,
                // Waits for another type (Redis skips it the same way).
                Probe::WrongType => {
                    i += 1;
                    continue;
                }
                Probe::Ready(n) => n,
            }
        };
        if len <= reserved {
            return;
        }
        if !w.claim() {
            q.waiters.remove(i);
            continue;
        }
        q.waiters.remove(i);
        if let BlockOp::ListMove {
            dest_local: false, ..
        } = w.op
        {
            reserved += 1;
            w.deliver(Wake::Retry);
            continue;
        }
        w.deliver(Wake::Reply(serve(rt, w.db, key, &w.op, w.resp3)));
        // This loop goes on with the key's waiters: serving them again
        // would hand out what BLMOVE waiters re-running elsewhere were
        // promised (`reserved`).
        rt.forget_ready(key);
    }
}

fn has_group_waiter(q: &Queue) -> bool {
    q.waiters
        .iter()
        .any(|w| matches!(w.op, BlockOp::XRead { group: Some(_), .. }))
}

/// The first attempt of a blocking command on the shard owning `keys`
/// (all of them, plus a BLMOVE's destination): serves the first key that
/// holds data, or answers WRONGTYPE, or None when it must block.
pub fn attempt(
    rt: &ShardRt,
    db: usize,
    keys: &[Vec<u8>],
    op: &BlockOp,
    resp3: bool,
) -> Option<Vec<u8>> {
    let now = unix_ms();
    rt.drain_deferred();
    // Before looking: a later write from another thread must poke us.
    rt.core.borrow_mut().listeners = true;
    if let BlockOp::XRead {
        spec, attempt, ids, ..
    } = op
    {
        resolve_dollars(rt, db, ids);
        let argv: Vec<&[u8]> = attempt.iter().map(Vec::as_slice).collect();
        let mut out = Out::new(resp3);
        rt.exec_spec_unasked(spec.0, &argv, db, &mut out);
        return (!is_null_array(&out.buf)).then_some(out.buf);
    }
    for key in keys {
        let p = probe(rt, db, key, now, op);
        match p {
            Probe::Missing => continue,
            Probe::WrongType => return Some(error_reply(WRONGTYPE, resp3)),
            Probe::Ready(_) => return Some(serve(rt, db, key, op, resp3)),
        }
    }
    None
}

/// Probes one key for a list (or zset) waiter: multi-shard attempts go
/// key by key.
pub fn probe_key(rt: &ShardRt, db: usize, key: &[u8], list: bool) -> Probe {
    rt.drain_deferred();
    rt.core.borrow_mut().listeners = true;
    let op = if list {
        BlockOp::ListPop {
            end: End::Left,
            count: None,
        }
    } else {
        BlockOp::ZPop {
            max: false,
            count: None,
        }
    };
    probe(rt, db, key, unix_ms(), &op)
}

/// Runs a shard handler `spec` (one not in the table: XREAD's
/// non-blocking part) over `argv` while the caller holds every shard of
/// its keys, as one atomic multi-shard step; returns the reply.
pub async fn run_held(
    rt: &Rc<ShardRt>,
    held: &super::mesh::Held<'_>,
    spec: &'static super::spec::CommandSpec,
    argv: &[&[u8]],
    db: usize,
    resp3: bool,
    caller: super::tracking::Caller,
) -> Vec<u8> {
    let routed = super::route::Routed::of(rt, spec, argv);
    super::multishard::atomic_held(rt, held, spec, argv, &routed, db, resp3, caller).await
}

/// Runs a shard handler `spec` not in the table for a connection, as
/// dispatch runs a table command whose keys may span shards.
pub async fn run_unlisted(
    conn: &mut super::conn::Conn,
    spec: &'static super::spec::CommandSpec,
    argv: &[&[u8]],
) {
    let routed = super::route::Routed::of(&conn.rt, spec, argv);
    super::multishard::run(conn, spec, argv, &routed).await
}

/// The last ID of the stream at `key` (0-0 when missing or not a
/// stream): what XREAD BLOCK's `$` stands for.
pub fn stream_last_id(rt: &ShardRt, db: usize, key: &[u8]) -> StreamId {
    let (mut core, events) = super::effects::begin_visit(rt);
    let id = match core.store.dbs[db].lookup(key, unix_ms()).map(|e| &e.value) {
        Some(Value::Stream(s)) => s.last_id,
        _ => StreamId::MIN,
    };
    super::effects::end_visit(rt, core, events);
    id
}

/// Whether a reply is the null array (`*-1`, RESP3 `_`): XREAD found
/// nothing.
pub fn is_null_array(reply: &[u8]) -> bool {
    reply == b"*-1\r\n" || reply == b"_\r\n"
}

pub fn error_reply(msg: &str, resp3: bool) -> Vec<u8> {
    let mut out = Out::new(resp3);
    out.error(msg);
    out.buf
}

/// Serves `op` from `key`, which holds data of the wanted type, on the
/// shard owning it (and a BLMOVE's destination): the plain command runs
/// through the one step (effects.rs), which logs it, notifies, touches
/// WATCHers and tracking clients, and readies the keys it wrote.
fn serve(rt: &ShardRt, db: usize, key: &[u8], op: &BlockOp, resp3: bool) -> Vec<u8> {
    let argv = op.plain_command(key);
    let argv: Vec<&[u8]> = argv.iter().map(Vec::as_slice).collect();
    let mut out = Out::new(resp3);
    match op {
        BlockOp::XRead { group: Some(g), .. } => {
            rt.exec_spec_unasked(g.serve.0, &argv, db, &mut out)
        }
        BlockOp::XRead { spec, .. } => rt.exec_spec_unasked(spec.0, &argv, db, &mut out),
        _ => rt.exec_unasked(&argv, db, &mut out),
    }
    op.blocking_reply(key, out.buf)
}

/// Serves a BLMOVE whose source `src` (holding a list) and destination
/// live on different shards, all held by the caller: the plain LMOVE
/// (RPOPLPUSH) runs as any multi-shard command does.
pub async fn serve_across(
    rt: &Rc<ShardRt>,
    held: &super::mesh::Held<'_>,
    db: usize,
    src: &[u8],
    op: &BlockOp,
    resp3: bool,
) -> Vec<u8> {
    let argv = op.plain_command(src);
    let argv: Vec<&[u8]> = argv.iter().map(Vec::as_slice).collect();
    let spec = super::table::table().get(argv[0]).expect("a list command");
    let unasked = super::tracking::Caller::default();
    let routed = super::route::Routed::of(rt, spec, &argv);
    super::multishard::atomic_held(rt, held, spec, &argv, &routed, db, resp3, unasked).await
}

/// The waiter a connection is blocked on, if any (CLIENT LIST flag `b`,
/// CLIENT UNBLOCK), and a wake-up for the connection loop, which watches
/// its socket only while the connection is blocked.
#[derive(Default)]
pub struct BlockState {
    waiter: RefCell<Option<Arc<Waiter>>>,
    waker: Cell<Option<Waker>>,
}

impl BlockState {
    pub fn is_blocked(&self) -> bool {
        self.waiter.borrow().is_some()
    }

    pub fn waiter(&self) -> Option<Arc<Waiter>> {
        self.waiter.borrow().clone()
    }

    fn set(&self, w: Option<Arc<Waiter>>) {
        *self.waiter.borrow_mut() = w;
        if let Some(waker) = self.waker.take() {
            waker.wake();
        }
    }

    /// Resolves once the connection is blocked.
    pub fn until_blocked(&self) -> UntilBlocked<'_> {
        UntilBlocked(self)
    }
}

pub struct UntilBlocked<'a>(&'a BlockState);

impl Future for UntilBlocked<'_> {
    type Output = ();
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.0.is_blocked() {
            Poll::Ready(())
        } else {
            self.0.waker.set(Some(cx.waker().clone()));
            Poll::Pending
        }
    }
}

/// A connection's blocked state while it waits: marks the client blocked
/// and, when dropped (woken, timed out, or the connection went away),
/// cancels the waiter and removes its registrations from every shard.
pub struct BlockGuard {
    pub rt: Rc<ShardRt>,
    pub info: Rc<super::clients::ClientInfo>,
    pub waiter: Arc<Waiter>,
    /// The keys registered, by shard.
    pub regs: Vec<(usize, Vec<Vec<u8>>)>,
    pub rx: oneshot::Receiver<Wake>,
    pub timed: bool,
}

impl BlockGuard {
    pub fn new(
        rt: Rc<ShardRt>,
        info: Rc<super::clients::ClientInfo>,
        waiter: Arc<Waiter>,
        regs: Vec<(usize, Vec<Vec<u8>>)>,
        rx: oneshot::Receiver<Wake>,
        timed: bool,
    ) -> BlockGuard {
        info.block.set(Some(waiter.clone()));
        BLOCKED_CLIENTS.fetch_add(1, Ordering::Relaxed);
        if timed {
            TIMEOUT_TABLE.fetch_add(1, Ordering::Relaxed);
        }
        BlockGuard {
            rt,
            info,
            waiter,
            regs,
            rx,
            timed,
        }
    }
}

impl Drop for BlockGuard {
    fn drop(&mut self) {
        self.info.block.set(None);
        BLOCKED_CLIENTS.fetch_sub(1, Ordering::Relaxed);
        if self.timed {
            TIMEOUT_TABLE.fetch_sub(1, Ordering::Relaxed);
        }
        // Cancel if nobody completed it; a Retry nobody will act on (the
        // connection is going away) must pass the key on to the others.
        let reserve_lost =
            !self.waiter.claim() && matches!(self.rx.try_recv(), Ok(Some(Wake::Retry)));
        for (shard, keys) in std::mem::take(&mut self.regs) {
            let w = self.waiter.clone();
            let cleanup = move |rt: &Rc<ShardRt>| {
                rt.blocked.remove(&keys, &w);
                if reserve_lost {
                    rt.keys_ready(w.db, keys);
                }
            };
            if shard == self.rt.id && self.rt.gate.available() > 0 {
                cleanup(&self.rt);
            } else {
                let rt = self.rt.clone();
                crate::sys::exec::spawn(async move {
                    super::mesh::run_on(&rt, shard, cleanup).await;
                })
                .detach();
            }
        }
    }
}
