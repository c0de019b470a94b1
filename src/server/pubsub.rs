//! Pub/Sub: per-shard subscriber registries and message fan-out.
//!
//! - Every shard keeps (in a thread-local, as each shard is one thread) a
//!   registry of its own connections' subscriptions: channel ->
//!   subscribers, pattern -> subscribers, shard channel -> subscribers.
//! - A subscribed connection owns a [`Subscriber`]: a byte queue of encoded
//!   messages plus a waker. Its connection loop (`conn.rs`) waits on the
//!   queue next to the socket and writes messages out as they arrive, so an
//!   idle subscriber costs nothing.
//! - PUBLISH on any shard runs a delivery closure on every shard
//!   (`mesh::run_on_all`) and sums the receiver counts. The mesh channels
//!   are FIFO per pair of shards and a connection's PUBLISHes run one at a
//!   time, so each publisher's messages arrive in publish order.
//! - `client-output-buffer-limit pubsub <hard> <soft> <secs>`: the bytes
//!   queued (and being written) for a subscriber are checked at each
//!   delivery; over the hard limit, or over the soft limit for longer than
//!   `secs`, the subscriber is closed, logged as Redis does.

use super::clients::ClientInfo;
use super::shard::ShardRt;
use crate::config::special::OutputLimits;
use crate::resp::Out;
use crate::sys::clock::unix_ms;
use std::cell::{Cell, RefCell};
use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll, Waker};
use std::time::Instant;

/// One connection's delivery queue.
pub struct Subscriber {
    pub info: Rc<ClientInfo>,
    /// Encoded messages not yet moved to the connection's output.
    queue: RefCell<Vec<u8>>,
    waker: RefCell<Option<Waker>>,
    /// Since when the pending bytes exceed the soft limit.
    soft_since: Cell<Option<Instant>>,
    /// Over the output buffer limit: the connection must close.
    closed: Cell<bool>,
    /// The queue's allocation as last added to [`UNOFFERED`].
    counted: Cell<usize>,
    /// The cron asked the connection to resize its buffers
    /// (client_mem.rs): it does as it next waits for input.
    resize: Cell<bool>,
}

/// Bytes allocated for messages queued for subscribers (tracking
/// invalidations among them) that their connections have not yet offered
/// to their sockets, in the whole process. `maxmemory` leaves them out
/// (evict.rs): Redis writes every client's pending replies before it
/// reads the next command or runs its timers, so an eviction never sees
/// them there, while here the connection's task may run after the next
/// eviction check; counted, the invalidations of one eviction run's keys
/// called for another run, down to the last key.
static UNOFFERED: AtomicUsize = AtomicUsize::new(0);

/// See [`UNOFFERED`].
pub fn unoffered_bytes() -> u64 {
    UNOFFERED.load(Ordering::Relaxed) as u64
}

impl Subscriber {
    fn new(info: Rc<ClientInfo>) -> Subscriber {
        Subscriber {
            info,
            queue: Default::default(),
            waker: Default::default(),
            soft_since: Cell::new(None),
            closed: Cell::new(false),
            counted: Cell::new(0),
            resize: Cell::new(false),
        }
    }

    fn wake(&self) {
        if let Some(w) = self.waker.borrow_mut().take() {
            w.wake();
        }
    }

    /// The cron's call for a buffer resize: wakes the connection if it
    /// waits for input.
    pub fn ask_resize(&self) {
        self.resize.set(true);
        self.wake();
    }

    /// Whether a buffer resize was asked for since the last look.
    pub fn take_resize(&self) -> bool {
        self.resize.replace(false)
    }

    /// Resolves once messages are queued, the subscriber was closed or a
    /// buffer resize was asked for.
    pub fn ready(&self) -> WaitFor<'_> {
        WaitFor { sub: self }
    }

    pub fn is_closed(&self) -> bool {
        self.closed.get()
    }

    /// Takes the queued messages to write them: they join the
    /// connection's unsent output (`mem.obuf`), still counted.
    pub fn take(&self) -> Vec<u8> {
        let bytes = std::mem::take(&mut *self.queue.borrow_mut());
        self.note_size();
        bytes
    }

    /// Records what waits for the client in its memory figures (CLIENT
    /// LIST `omem`, `tot-mem`, client eviction).
    fn note_size(&self) {
        let queue = self.queue.borrow();
        self.info.mem.queued.set(queue.len());
        // A queue with messages goes whole when its connection takes
        // them; an empty one's spare capacity stays, counted.
        self.recount(if queue.is_empty() {
            0
        } else {
            queue.capacity()
        });
    }

    fn recount(&self, now: usize) {
        let before = self.counted.replace(now);
        if now > before {
            UNOFFERED.fetch_add(now - before, Ordering::Relaxed);
        } else if now < before {
            UNOFFERED.fetch_sub(before - now, Ordering::Relaxed);
        }
    }

    /// Appends bytes as they are, outside the Pub/Sub output limit
    /// (MONITOR's feed, monitor.rs).
    pub fn push_raw(&self, bytes: &[u8]) {
        if self.closed.get() || bytes.is_empty() {
            return;
        }
        self.queue.borrow_mut().extend_from_slice(bytes);
        self.note_size();
        self.wake();
    }

    /// Moves queued messages into a reply buffer (a subscriber that
    /// publishes gets its message before the PUBLISH reply, as in Redis).
    pub fn drain_into(&self, out: &mut Out) {
        let mut q = self.queue.borrow_mut();
        if !q.is_empty() {
            out.buf.extend_from_slice(&q);
            q.clear();
            drop(q);
            self.note_size();
        }
    }

    /// The client's whole output buffer: queued messages and the
    /// connection's unsent output.
    fn pending(&self) -> usize {
        self.queue.borrow().len() + self.info.mem.obuf.get()
    }

    /// [`Subscriber::deliver`] under this shard's pubsub output limit
    /// (tracking invalidations, tracking.rs).
    pub fn deliver_from(&self, rt: &ShardRt, encode: impl FnOnce(&mut Out)) {
        self.deliver(rt, &limit(rt), encode);
    }

    /// Appends one encoded message, then checks the output buffer limit
    /// and counts the client's memory (an eviction it calls for runs
    /// before the next command, as Redis's evictClients).
    fn deliver(&self, rt: &ShardRt, limit: &Limit, encode: impl FnOnce(&mut Out)) {
        if self.closed.get() {
            return;
        }
        let queued = std::mem::take(&mut *self.queue.borrow_mut());
        let mut out = Out::around(queued, self.info.resp.get() == 3);
        encode(&mut out);
        *self.queue.borrow_mut() = out.buf;
        self.note_size();
        self.check_limit(&limit.obuf, true);
        if !self.closed.get() {
            super::client_mem::account(&rt.shared.client_memory, &self.info, limit.client_mem);
        }
        self.wake();
    }

    /// The Pub/Sub output buffer limit: over the hard limit, or over the
    /// soft limit for longer than its seconds, the client is closed.
    /// `traffic`: a message just arrived (else the cron looks, as
    /// Redis's clientsCron: the soft limit's time runs out with no
    /// traffic too).
    fn check_limit(&self, limit: &OutputLimits, traffic: bool) {
        if self.closed.get() {
            return;
        }
        let pending = self.pending();
        let over_hard = traffic && limit.hard > 0 && pending as u64 >= limit.hard;
        let mut over_soft = false;
        if limit.soft > 0 && pending as u64 >= limit.soft {
            match self.soft_since.get() {
                None => self.soft_since.set(Some(Instant::now())),
                Some(t) => over_soft = t.elapsed().as_secs() >= limit.soft_secs,
            }
        } else {
            self.soft_since.set(None);
        }
        if over_hard || over_soft {
            self.closed.set(true);
            self.queue.borrow_mut().clear();
            self.note_size();
            crate::warning!(
                "Client {} scheduled to be closed ASAP for overcoming of output buffer limits.",
                self.info.describe(unix_ms())
            );
            self.wake();
        }
    }

    /// The cron's look at the soft limit of a subscriber with no traffic.
    pub fn check_idle(&self, rt: &ShardRt) {
        if self.info.pubsub.active() {
            self.check_limit(&limit(rt).obuf, false);
        }
    }
}

impl Drop for Subscriber {
    fn drop(&mut self) {
        self.recount(0);
    }
}

/// See [`Subscriber::ready`].
pub struct WaitFor<'a> {
    sub: &'a Subscriber,
}

impl Future for WaitFor<'_> {
    type Output = ();
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let s = self.sub;
        if s.closed.get() || s.resize.get() || !s.queue.borrow().is_empty() {
            return Poll::Ready(());
        }
        *s.waker.borrow_mut() = Some(cx.waker().clone());
        Poll::Pending
    }
}

/// Subscription kinds.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Channel,
    Pattern,
    Shard,
}

impl Kind {
    fn subscribed(self) -> &'static str {
        match self {
            Kind::Channel => "subscribe",
            Kind::Pattern => "psubscribe",
            Kind::Shard => "ssubscribe",
        }
    }
    fn unsubscribed(self) -> &'static str {
        match self {
            Kind::Channel => "unsubscribe",
            Kind::Pattern => "punsubscribe",
            Kind::Shard => "sunsubscribe",
        }
    }
}

/// A connection's subscriptions (kept in `Conn`).
pub struct ConnPubsub {
    pub sub: Rc<Subscriber>,
    channels: Names,
    patterns: Names,
    shard: Names,
}

/// A set that remembers insertion order (UNSUBSCRIBE without arguments
/// answers in that order).
#[derive(Default)]
struct Names {
    order: Vec<Rc<[u8]>>,
    set: HashSet<Rc<[u8]>>,
}

impl Names {
    fn insert(&mut self, n: &[u8]) -> bool {
        if self.set.contains(n) {
            return false;
        }
        let n: Rc<[u8]> = n.into();
        self.set.insert(n.clone());
        self.order.push(n);
        true
    }
    fn remove(&mut self, n: &[u8]) -> bool {
        if !self.set.remove(n) {
            return false;
        }
        if let Some(i) = self.order.iter().position(|x| &**x == n) {
            self.order.remove(i);
        }
        true
    }
    fn len(&self) -> usize {
        self.order.len()
    }
}

impl ConnPubsub {
    pub fn new(info: Rc<ClientInfo>) -> ConnPubsub {
        ConnPubsub {
            sub: Rc::new(Subscriber::new(info)),
            channels: Default::default(),
            patterns: Default::default(),
            shard: Default::default(),
        }
    }

    /// Redis's CLIENT_PUBSUB flag: any subscription at all.
    pub fn active(&self) -> bool {
        self.channels.len() + self.patterns.len() + self.shard.len() > 0
    }

    /// RESP2 subscribe mode: only (P|S)(UN)SUBSCRIBE, PING, QUIT, RESET.
    pub fn restricted(&self, resp3: bool) -> bool {
        !resp3 && self.active()
    }

    fn names(&mut self, kind: Kind) -> &mut Names {
        match kind {
            Kind::Channel => &mut self.channels,
            Kind::Pattern => &mut self.patterns,
            Kind::Shard => &mut self.shard,
        }
    }

    /// The count a (un)subscribe confirmation carries, as Redis 7.0:
    /// channels plus patterns, or shard channels alone.
    fn count(&self, kind: Kind) -> usize {
        match kind {
            Kind::Shard => self.shard.len(),
            _ => self.channels.len() + self.patterns.len(),
        }
    }

    fn publish_counts(&self) {
        let c = &self.sub.info.pubsub;
        c.sub.set(self.channels.len());
        c.psub.set(self.patterns.len());
        c.ssub.set(self.shard.len());
    }
}

/// The counters CLIENT LIST shows (`sub=`, `psub=`, `ssub=`, flag `P`).
#[derive(Default)]
pub struct Counts {
    pub sub: Cell<usize>,
    pub psub: Cell<usize>,
    pub ssub: Cell<usize>,
}

impl Counts {
    pub fn active(&self) -> bool {
        self.sub.get() + self.psub.get() + self.ssub.get() > 0
    }
}

/// Subscribers of one name, in subscription order.
type Subs = Vec<Rc<Subscriber>>;

/// This shard's subscriptions.
#[derive(Default)]
struct Registry {
    channels: HashMap<Rc<[u8]>, Subs>,
    patterns: HashMap<Rc<[u8]>, Subs>,
    shard: HashMap<Rc<[u8]>, Subs>,
}

impl Registry {
    fn map(&mut self, kind: Kind) -> &mut HashMap<Rc<[u8]>, Subs> {
        match kind {
            Kind::Channel => &mut self.channels,
            Kind::Pattern => &mut self.patterns,
            Kind::Shard => &mut self.shard,
        }
    }
}

thread_local! {
    /// One registry per shard thread.
    static REGISTRY: RefCell<Registry> = RefCell::new(Registry::default());
}

/// The subscribers of this shard logged in as `user` with a
/// subscription `allowed` refuses (kind, name): ACL SETUSER closes them
/// (Redis's ACLKillPubsubClientsIfNeeded; RESP3 ones too).
pub fn denied_subscribers(user: &[u8], allowed: impl Fn(Kind, &[u8]) -> bool) -> Vec<u64> {
    let mut ids = Vec::new();
    REGISTRY.with(|r| {
        let mut r = r.borrow_mut();
        for kind in [Kind::Pattern, Kind::Channel, Kind::Shard] {
            for (name, subs) in r.map(kind).iter() {
                for s in subs {
                    let info = &s.info;
                    if *info.user.borrow() == user
                        && !ids.contains(&info.id)
                        && !allowed(kind, name)
                    {
                        ids.push(info.id);
                    }
                }
            }
        }
    });
    ids
}

/// `client-output-buffer-limit` for the pubsub class, and
/// `maxmemory-clients` in bytes (0: off).
#[derive(Clone, Copy)]
struct Limit {
    obuf: OutputLimits,
    client_mem: usize,
}

fn limit(rt: &ShardRt) -> Limit {
    let settings = rt.settings();
    Limit {
        obuf: settings.pubsub_obuf,
        client_mem: settings.client_mem_limit,
    }
}

fn confirm(out: &mut Out, what: &str, name: Option<&[u8]>, count: usize) {
    out.push(3);
    out.bulk_str(what);
    match name {
        Some(n) => out.bulk(n),
        None => out.null(),
    }
    out.int(count as i64);
}

/// (P|S)SUBSCRIBE: one confirmation per name.
pub fn subscribe(ps: &mut ConnPubsub, out: &mut Out, kind: Kind, names: &[Vec<u8>]) {
    for n in names {
        if ps.names(kind).insert(n) {
            REGISTRY.with(|r| {
                r.borrow_mut()
                    .map(kind)
                    .entry(n.as_slice().into())
                    .or_default()
                    .push(ps.sub.clone())
            });
        }
        confirm(out, kind.subscribed(), Some(n), ps.count(kind));
    }
    ps.publish_counts();
}

fn unregister(ps: &ConnPubsub, kind: Kind, n: &[u8]) {
    REGISTRY.with(|r| {
        let mut r = r.borrow_mut();
        let map = r.map(kind);
        if let Some(list) = map.get_mut(n) {
            list.retain(|s| !Rc::ptr_eq(s, &ps.sub));
            if list.is_empty() {
                map.remove(n);
            }
        }
    });
}

/// (P|S)UNSUBSCRIBE: the named ones, or all (with a null confirmation
/// when there were none). `out` None: silently (RESET, disconnect).
pub fn unsubscribe(ps: &mut ConnPubsub, mut out: Option<&mut Out>, kind: Kind, names: &[Vec<u8>]) {
    let all: Vec<Vec<u8>>;
    let names = if names.is_empty() {
        all = ps.names(kind).order.iter().map(|n| n.to_vec()).collect();
        if all.is_empty() {
            if let Some(out) = out.as_deref_mut() {
                confirm(out, kind.unsubscribed(), None, ps.count(kind));
            }
            return;
        }
        &all[..]
    } else {
        names
    };
    for n in names {
        if ps.names(kind).remove(n) {
            unregister(ps, kind, n);
        }
        if let Some(out) = out.as_deref_mut() {
            confirm(out, kind.unsubscribed(), Some(n), ps.count(kind));
        }
    }
    ps.publish_counts();
}

/// Drops every subscription without replies (RESET, connection close).
pub fn forget(ps: &mut ConnPubsub) {
    for kind in [Kind::Channel, Kind::Pattern, Kind::Shard] {
        unsubscribe(ps, None, kind, &[]);
    }
    ps.sub.queue.borrow_mut().clear();
}

/// Delivers a message to this shard's subscribers; returns how many
/// received it. `shard`: SPUBLISH (shard channels only, `smessage`).
pub fn deliver_local(rt: &ShardRt, channel: &[u8], msg: &[u8], shard: bool) -> usize {
    REGISTRY.with(|r| {
        let r = r.borrow();
        let mut n = 0;
        let mut lim = None;
        let mut get_lim = || *lim.get_or_insert_with(|| limit(rt));
        let direct = if shard { &r.shard } else { &r.channels };
        if let Some(list) = direct.get(channel) {
            let l = get_lim();
            for s in list {
                s.deliver(rt, &l, |out| {
                    out.push(3);
                    out.bulk_str(if shard { "smessage" } else { "message" });
                    out.bulk(channel);
                    out.bulk(msg);
                });
                n += 1;
            }
        }
        if !shard {
            for (pat, list) in r.patterns.iter() {
                if !crate::glob::matches(pat, channel, false) {
                    continue;
                }
                let l = get_lim();
                for s in list {
                    s.deliver(rt, &l, |out| {
                        out.push(4);
                        out.bulk_str("pmessage");
                        out.bulk(pat);
                        out.bulk(channel);
                        out.bulk(msg);
                    });
                    n += 1;
                }
            }
        }
        n
    })
}

/// Channels (or shard channels) of this shard with subscribers that
/// match `pattern`.
pub fn local_channels(shard: bool, pattern: Option<&[u8]>) -> Vec<Vec<u8>> {
    REGISTRY.with(|r| {
        let r = r.borrow();
        let map = if shard { &r.shard } else { &r.channels };
        map.keys()
            .filter(|c| pattern.is_none_or(|p| crate::glob::matches(p, c, false)))
            .map(|c| c.to_vec())
            .collect()
    })
}

/// Subscriber counts of `channels` on this shard.
pub fn local_numsub(shard: bool, channels: &[Vec<u8>]) -> Vec<usize> {
    REGISTRY.with(|r| {
        let r = r.borrow();
        let map = if shard { &r.shard } else { &r.channels };
        channels
            .iter()
            .map(|c| map.get(c.as_slice()).map_or(0, |l| l.len()))
            .collect()
    })
}

/// This shard's subscribed patterns.
pub fn local_patterns() -> Vec<Vec<u8>> {
    REGISTRY.with(|r| r.borrow().patterns.keys().map(|p| p.to_vec()).collect())
}

/// Cluster mode: connects this shard's ends of the bus Pub/Sub channels
/// (cluster/pubsub_link.rs): messages from other nodes are delivered to
/// this shard's subscribers; `rt.bus_out` carries this node's publishes.
pub fn connect_bus(rt: &Rc<ShardRt>, ends: crate::cluster::pubsub_link::ShardEnds) {
    let rt_in = rt.clone();
    crate::sys::exec::spawn(async move {
        let rx = crate::sys::ticker::with_ticker(ends.from_bus.connect()).await;
        while let Some(p) = rx.recv().await {
            deliver_local(&rt_in, &p.channel, &p.message, p.sharded);
        }
    })
    .detach();
    let rt_out = rt.clone();
    crate::sys::exec::spawn(async move {
        let tx = crate::sys::ticker::with_ticker(ends.to_bus.connect()).await;
        *rt_out.bus_out.borrow_mut() = Some(Rc::new(tx));
    })
    .detach();
}

/// Cluster mode: hands a message published here to the bus executor for
/// the other nodes (waits while the channel is full, never drops).
pub async fn publish_to_bus(rt: &ShardRt, channel: &[u8], message: &[u8], sharded: bool) {
    let tx = rt.bus_out.borrow().clone();
    if let Some(tx) = tx {
        let p = crate::cluster::pubsub_link::BusPub {
            channel: channel.to_vec(),
            message: message.to_vec(),
            sharded,
        };
        let _ = tx
            .send(crate::cluster::pubsub_link::ToBus::Publish(p))
            .await;
    }
}
