//! One data shard: an executor that owns the keys of its slots, its
//! connections, and a gate that the multi-shard path closes while it
//! needs the shard to itself.

use super::clients::Clients;
use super::ctx::{Ctx, ExecLimits};
use super::mesh::Job;
use super::shared::Shared;
use super::spec::{CommandSpec, Handler};
use crate::config::keys as conf;
use crate::config::special::OutputLimits;
use crate::resp::{Limits, Out};
use crate::store::Store;
use crate::sys::clock::unix_ms;
use glommio::channels::channel_mesh::Senders;
use glommio::sync::Semaphore;
use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Instant;

/// DEBUG SET-ACTIVE-EXPIRE: whether the shards' cron expires keys.
pub static ACTIVE_EXPIRE: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(true);

/// Settings copied from the configuration, refreshed when it changes.
#[derive(Clone, Debug)]
pub struct Settings {
    pub exec: ExecLimits,
    pub parse: Limits,
    pub timeout_secs: u64,
    pub maxclients: usize,
    pub protected_mode: bool,
    pub query_buffer_limit: usize,
    pub hz: u64,
    pub databases: usize,
    /// `notify-keyspace-events`.
    pub notify: crate::events::Events,
    /// `tracking-table-max-keys` (0: no limit).
    pub tracking_max_keys: usize,
    /// `replica-read-only` and `replica-serve-stale-data`.
    pub replica_read_only: bool,
    pub replica_serve_stale: bool,
    /// `min-replicas-to-write` (0: off) and `min-replicas-max-lag`.
    pub min_replicas_to_write: usize,
    pub min_replicas_max_lag: u64,
    /// `maxmemory` and eviction (evict.rs).
    pub memory: super::evict::MemoryLimit,
    /// `client-output-buffer-limit` for normal clients and subscribers.
    pub normal_obuf: crate::config::special::OutputLimits,
    pub pubsub_obuf: crate::config::special::OutputLimits,
    /// The most reply bytes one connection may hold (the threads' default,
    /// resp::set_reply_cap): the normal class's hard limit, else a safety
    /// cap. An evictable client's is lower under `maxmemory-clients`
    /// ([`Settings::reply_cap_of`]).
    pub reply_cap: usize,
    /// Slow log, latency monitor and histograms (observe.rs).
    pub observe: super::observe::Thresholds,
    /// `maxmemory-clients` in bytes, 0 when off (client_mem.rs).
    pub client_mem_limit: usize,
}

impl Settings {
    fn from_config(c: &crate::config::Config) -> Settings {
        let obuf = c.text(conf::CLIENT_OUTPUT_BUFFER_LIMIT);
        let client_mem_limit = super::client_mem::limit_from_config(c);
        Settings {
            exec: ExecLimits::from_config(c),
            parse: Limits {
                max_bulk_len: c.int(conf::PROTO_MAX_BULK_LEN) as usize,
                ..Limits::default()
            },
            timeout_secs: c.int(conf::TIMEOUT) as u64,
            maxclients: c.int(conf::MAXCLIENTS) as usize,
            protected_mode: c.flag(conf::PROTECTED_MODE),
            query_buffer_limit: c.int(conf::CLIENT_QUERY_BUFFER_LIMIT) as usize,
            hz: c.int(conf::HZ).clamp(1, 500) as u64,
            databases: c.int(conf::DATABASES) as usize,
            notify: crate::events::Events::parse(&c.text(conf::NOTIFY_KEYSPACE_EVENTS)),
            tracking_max_keys: c.int(conf::TRACKING_TABLE_MAX_KEYS) as usize,
            replica_read_only: c.flag(conf::REPLICA_READ_ONLY),
            replica_serve_stale: c.flag(conf::REPLICA_SERVE_STALE_DATA),
            min_replicas_to_write: c.int(conf::MIN_REPLICAS_TO_WRITE).max(0) as usize,
            min_replicas_max_lag: c.int(conf::MIN_REPLICAS_MAX_LAG).max(0) as u64,
            memory: super::evict::MemoryLimit::from_config(c),
            normal_obuf: OutputLimits::for_class(&obuf, "normal"),
            pubsub_obuf: OutputLimits::for_class(&obuf, "pubsub"),
            reply_cap: safety_cap(OutputLimits::for_class(&obuf, "normal")),
            observe: super::observe::Thresholds::from_config(c),
            client_mem_limit,
        }
    }
}

impl Settings {
    /// The reply cap of one client. Under `maxmemory-clients` an evictable
    /// client's replies stop at the whole limit, past which it would be
    /// evicted anyway; a CLIENT NO-EVICT client's may grow to the
    /// node's cap, as Redis lets them grow.
    pub fn reply_cap_of(&self, evictable: bool) -> usize {
        if evictable && self.client_mem_limit > 0 {
            self.reply_cap.min(self.client_mem_limit)
        } else {
            self.reply_cap
        }
    }
}

/// Beyond Redis (which has no bound when the normal class is unlimited): a
/// client's replies may not take more than 4 GiB, nor half the machine's
/// memory, so one command (SRANDMEMBER s -1000000000000, KEYS * on a huge
/// keyspace) cannot grow the node without bound.
fn safety_cap(normal: OutputLimits) -> usize {
    if normal.hard > 0 {
        return normal.hard as usize;
    }
    // SAFETY: sysconf only reads system values.
    let (pages, page) = unsafe {
        (
            libc::sysconf(libc::_SC_PHYS_PAGES),
            libc::sysconf(libc::_SC_PAGESIZE),
        )
    };
    let half = (pages.max(0) as usize).saturating_mul(page.max(0) as usize) / 2;
    match half {
        0 => 4 << 30,
        half => half.min(4 << 30),
    }
}

/// Per-command counters (INFO commandstats) and latency histogram
/// (INFO latencystats, LATENCY HISTOGRAM).
#[derive(Clone, Default, Debug)]
pub struct CmdStat {
    pub calls: u64,
    pub usec: u64,
    pub rejected: u64,
    pub failed: u64,
    pub hist: super::histogram::Histogram,
}

/// Time for a batch of commands: see [`ShardRt::clock`].
pub struct ExecClock {
    pub now_ms: u64,
    /// The `lru` stamp of keys created in this batch.
    pub lru: u32,
    /// How accesses in this batch stamp keys (LRU or LFU).
    pub access: crate::store::access::Access,
    pub last: Instant,
}

/// Counters of one shard, summed across shards by INFO.
#[derive(Clone, Default, Debug)]
pub struct Stats {
    pub commands: u64,
    /// Keys evicted under `maxmemory` (evict.rs).
    pub evicted_keys: u64,
    pub keyspace_hits: u64,
    pub keyspace_misses: u64,
    pub net_input_bytes: u64,
    pub net_output_bytes: u64,
    pub cmd: HashMap<&'static str, CmdStat, ahash::RandomState>,
    pub error_replies: u64,
    pub errors: HashMap<String, u64>,
    /// Socket reads and writes (INFO total_reads/writes_processed).
    pub reads_processed: u64,
    pub writes_processed: u64,
    /// The cron's reply buffer resizes (INFO reply_buffer_shrinks /
    /// reply_buffer_expands; client_mem.rs).
    pub reply_buffer_shrinks: u64,
    pub reply_buffer_expands: u64,
    /// Requests of this shard's connections that ran on another shard
    /// (INFO `cross_shard_requests`; see `ShardRt::note_hops`).
    pub cross_shard_requests: u64,
}

/// What the shard's handlers mutate: the keyspace and the counters.
/// Sent between threads only under its lock (shard_lock.rs).
pub struct Core {
    pub store: Store,
    pub stats: Stats,
    /// Changes since the last save (`rdb_changes_since_last_save`).
    pub dirty: u64,
    /// WATCHed keys of this shard (transaction.rs).
    pub watches: super::transaction::Watches,
    /// What other threads' steps left for this shard's thread
    /// (effects.rs).
    pub deferred: Vec<super::effects::Deferred>,
    /// This shard's thread has blocked clients or tracking readers that
    /// another thread's write may concern: it wants a poke (direct.rs).
    /// Set under the lock before they look at the data; cleared by the
    /// thread when it has none.
    pub listeners: bool,
}

/// What [`ShardRt::exec_with`] runs: the spec and command line that
/// stand for the step (its keys, write flag and AOF record), the
/// database, and whether it counts as a command in the statistics.
pub struct ExecRun<'a> {
    pub spec: &'static CommandSpec,
    pub argv: &'a [&'a [u8]],
    pub db: usize,
    pub count: bool,
    /// Logged (AOF, replicas) when it changed keys; false for one part
    /// of a multi-shard command, which is logged once, whole.
    pub record: bool,
}

pub struct ShardRt {
    pub id: usize,
    pub nshards: usize,
    /// Whether anything reads a key's slot: cluster mode (the slot check)
    /// or several shards (the slot picks the shard). Standalone with one
    /// shard, routing a request hashes nothing.
    pub routes_by_slot: bool,
    pub shared: Arc<Shared>,
    /// This shard's data (shared.cores[id]): borrowed like a RefCell on
    /// this thread, locked by another thread's multi-shard step.
    pub core: Arc<super::shard_lock::ShardLock<Core>>,
    /// One permit: held by the multi-shard path while it owns this shard.
    pub gate: Semaphore,
    pub(super) senders: Senders<Job>,
    pub clients: RefCell<Clients>,
    /// Clients blocked on this shard's keys (BLPOP, BZPOPMIN, ...).
    pub blocked: super::blocking::Blocked,
    /// Client-side caching: this shard's tracked keys (tracking.rs).
    pub tracking: super::tracking::Tracking,
    /// Who runs the next `exec`: set by whoever calls it (NOLOOP,
    /// tracked reads).
    caller: Cell<super::tracking::Caller>,
    /// Write records held back while a transaction runs (see `record`).
    aof_capture: RefCell<Option<crate::persist::aof::record::Records>>,
    settings: RefCell<(u64, Rc<Settings>)>,
    /// Cluster mode: this shard's copy of the routing snapshot and its
    /// version (see `with_routing`).
    routing: RefCell<(u64, Arc<crate::cluster::routing::Routing>)>,
    lru_base: Instant,
    /// Cluster mode: where PUBLISH / SPUBLISH go to reach other nodes.
    pub bus_out: RefCell<
        Option<
            Rc<
                glommio::channels::shared_channel::ConnectedSender<
                    crate::cluster::pubsub_link::ToBus,
                >,
            >,
        >,
    >,
    /// Per-shard seed for RANDOMKEY and friends.
    rng: Cell<u64>,
    /// The accept loops of this shard's TCP listeners; CONFIG SET port
    /// replaces them (dropping one closes its listener).
    pub tcp_accepts: RefCell<Vec<(glommio::Task<()>, std::os::fd::RawFd)>>,
    /// Eviction candidates kept between runs (evict.rs).
    pub evict: RefCell<super::evict::EvictState>,
    /// Raised when a hold may have reached the front of this shard's
    /// queue (order.rs).
    pub tickets: super::order::Signal,
    /// The scratch keyspace of multi-shard steps (direct.rs), kept
    /// between them (empty) so none pays for a new one.
    scratch: RefCell<Option<Store>>,
    /// Nested units of work in progress (`begin_unit`), and the keys
    /// their writes made ready for blocked clients.
    unit_depth: Cell<u32>,
    /// Set while a command queued in MULTI runs (`as_queued`).
    running_queued: Cell<bool>,
    ready: RefCell<Vec<Vec<u8>>>,
}

impl Core {
    pub fn new(databases: usize, nshards: usize) -> Core {
        Core::with_store(Store::new(databases, nshards))
    }

    /// A core around a keyspace (a multi-shard step's scratch).
    pub fn with_store(store: Store) -> Core {
        Core {
            store,
            stats: Stats::default(),
            dirty: 0,
            watches: Default::default(),
            deferred: Vec::new(),
            listeners: false,
        }
    }

    pub fn into_parts(self) -> (Store, Stats) {
        (self.store, self.stats)
    }
}

impl ShardRt {
    pub fn new(id: usize, nshards: usize, shared: Arc<Shared>, senders: Senders<Job>) -> ShardRt {
        let (epoch, settings) = (
            shared.epoch(),
            Settings::from_config(&shared.config.read().unwrap()),
        );
        // Runs on the shard's own thread: the cap is a thread-local.
        crate::resp::set_reply_cap(settings.reply_cap);
        ShardRt {
            id,
            nshards,
            routes_by_slot: nshards > 1 || shared.cluster.is_some(),
            core: shared.cores[id].clone(),
            gate: Semaphore::new(1),
            senders,
            clients: RefCell::new(Clients::default()),
            blocked: Default::default(),
            tracking: Default::default(),
            caller: Default::default(),
            aof_capture: RefCell::new(None),
            settings: RefCell::new((epoch, Rc::new(settings))),
            routing: RefCell::new((0, Arc::new(crate::cluster::routing::empty()))),
            lru_base: shared.started,
            bus_out: RefCell::new(None),
            rng: Cell::new(unix_ms() ^ ((id as u64 + 1) << 40)),
            tcp_accepts: RefCell::new(Vec::new()),
            evict: Default::default(),
            tickets: Default::default(),
            scratch: RefCell::new(None),
            unit_depth: Cell::new(0),
            running_queued: Cell::new(false),
            ready: RefCell::new(Vec::new()),
            shared,
        }
    }

    /// Current settings; re-read when CONFIG SET changed something.
    pub fn settings(&self) -> Rc<Settings> {
        let epoch = self.shared.epoch();
        let mut s = self.settings.borrow_mut();
        if s.0 != epoch {
            let fresh = Settings::from_config(&self.shared.config.read().unwrap());
            crate::resp::set_reply_cap(fresh.reply_cap);
            *s = (epoch, Rc::new(fresh));
        }
        s.1.clone()
    }

    /// Runs `f` on the current routing snapshot (cluster mode only: None
    /// in standalone mode). One atomic load when nothing changed.
    pub fn with_routing<R>(
        &self,
        f: impl FnOnce(&crate::cluster::routing::Routing) -> R,
    ) -> Option<R> {
        let cluster = self.shared.cluster.as_ref()?;
        let version = cluster.routing_version();
        let mut r = self.routing.borrow_mut();
        if r.0 != version {
            *r = (version, cluster.routing());
        }
        Some(f(&r.1))
    }

    /// Seconds since the shard started, plus 2^24 (~194 days) so that a
    /// key can be given an access time before the start (RESTORE ...
    /// IDLETIME, as Redis's 24-bit LRU clock allows).
    pub fn lru_seconds(&self) -> u32 {
        self.lru_seconds_at(Instant::now())
    }

    /// [`Self::lru_seconds`] at `now`, for a caller that has read the
    /// clock already (a clock read costs ~1 % of a request in a VM).
    fn lru_seconds_at(&self, now: Instant) -> u32 {
        let since = now.saturating_duration_since(self.lru_base);
        (since.as_secs() as u32).saturating_add(1 << 24)
    }

    /// How accesses stamp keys now: LRU seconds, or LFU counters under an
    /// LFU `maxmemory-policy` (store/access.rs).
    pub fn access(&self) -> crate::store::access::Access {
        self.settings().memory.access(self.lru_seconds(), unix_ms())
    }

    /// The `lru` stamp of a key created now.
    pub fn lru_clock(&self) -> u32 {
        self.access().new_stamp()
    }

    pub fn random(&self) -> u64 {
        crate::sys::random::xorshift(&self.rng)
    }

    /// The shard that owns `slot`.
    #[inline]
    pub fn shard_of_slot(&self, slot: u16) -> usize {
        slot as usize % self.nshards
    }

    /// Waits until no multi-shard operation holds this shard, and no
    /// busy script the node (script/busy.rs).
    #[inline]
    pub async fn wait_gate(&self) {
        if self.shared.busy.gates_shut() {
            self.wait_script().await;
        }
        self.wait_hold().await
    }

    /// Waits while a script has the node to itself, or holds this shard's
    /// data lock (script/busy.rs).
    pub async fn wait_script(&self) {
        let own = &self.shared.cores[self.id];
        self.shared.busy.wait_idle(|| own.held_elsewhere()).await
    }

    /// Takes this shard's data lock for a task that keeps it across
    /// awaits (an ordered hold, order.rs): asynchronously while a script
    /// holds it, and never while a script has the node to itself (its
    /// locks let go for a pause or a wait, script/busy.rs).
    pub async fn take_own_data(&self) {
        let busy = &self.shared.busy;
        loop {
            self.wait_script().await;
            if !busy.gates_shut() {
                self.core.acquire();
            } else if !self.core.try_acquire() {
                glommio::timer::sleep(std::time::Duration::from_micros(20)).await;
                continue;
            }
            if !busy.holds_node() {
                return;
            }
            self.core.release();
        }
    }

    /// Waits until no multi-shard operation holds this shard; a busy
    /// script does not stop a snapshot's slices, which read the data as
    /// it was when the snapshot started (as Redis's child keeps writing
    /// while its parent runs a busy script).
    #[inline]
    pub async fn wait_hold(&self) {
        if self.gate.available() == 0 {
            let _ = self.gate.acquire(1).await;
            self.gate.signal(1);
        }
    }

    /// The clock a batch of commands runs with: wall time sampled once per
    /// batch (as Redis caches it per call), and a running timestamp so each
    /// command's duration costs one clock read.
    pub fn clock(&self) -> ExecClock {
        let (now_ms, last) = (unix_ms(), Instant::now());
        let access = self
            .settings()
            .memory
            .access(self.lru_seconds_at(last), now_ms);
        ExecClock {
            now_ms,
            lru: access.new_stamp(),
            access,
            last,
        }
    }

    /// Says who runs the following `exec` calls.
    #[inline]
    pub fn set_caller(&self, caller: super::tracking::Caller) {
        self.caller.set(caller);
    }

    /// `maxmemory`: evicts what it must before `spec` runs; false when
    /// the command is refused. Invalidations the evictions send to the
    /// calling client itself go out before the reply, as in Redis (which
    /// evicts before call(), so they are not held for after it).
    fn admit(&self, spec: &CommandSpec, out: &mut Out, settings: &Settings) -> bool {
        // Checked before: evicting the last tracked key empties the table.
        let tracking = self.tracking.active();
        let ok = super::evict::admit(self, spec, &settings.memory);
        let caller = self.caller.get();
        if tracking && caller.home == self.id && caller.id != 0 {
            if let Some(sub) = self.clients.borrow().subscriber(caller.id) {
                sub.drain_into(out);
            }
        }
        ok
    }

    /// Runs `f`, the `exec` of a command queued in MULTI: EXEC was
    /// admitted as a whole, and its commands are neither refused nor
    /// preceded by evictions for `maxmemory` (Redis checks memory in
    /// processCommand, for EXEC only; a CONFIG SET maxmemory queued before
    /// them takes effect after).
    pub fn as_queued<R>(&self, f: impl FnOnce() -> R) -> R {
        self.running_queued.set(true);
        let r = f();
        self.running_queued.set(false);
        r
    }

    /// Prefetches the table entries of a batch's keys (`Db::prefetch`).
    pub fn prefetch<'a>(&self, db: usize, keys: impl Iterator<Item = &'a [u8]>) {
        let core = self.core.borrow();
        if let Some(d) = core.store.dbs.get(db) {
            d.prefetch(keys);
        }
    }

    /// Runs a shard handler on this shard's keyspace, synchronously.
    /// The caller has passed the gate (or holds it).
    pub fn exec(
        &self,
        spec: &'static CommandSpec,
        argv: &[&[u8]],
        db: usize,
        out: &mut Out,
        clock: &mut ExecClock,
        settings: &Settings,
    ) {
        let Handler::Shard(handler) = spec.handler else {
            unreachable!("{} is not a shard command", spec.name)
        };
        if settings.memory.maxmemory > 0
            && !self.running_queued.get()
            && !self.admit(spec, out, settings)
        {
            let start = out.buf.len();
            out.error(super::evict::OOM);
            let reply = out.buf[start..].to_vec();
            self.count_rejected(spec.name, &reply);
            return;
        }
        let run = ExecRun {
            spec,
            argv,
            db,
            count: true,
            record: true,
        };
        self.exec_with(run, out, clock, settings, |ctx| handler(ctx, argv));
    }

    /// `exec` for a step of a connection-level command (MIGRATE's dump
    /// and delete): `f` runs with a `Ctx` and gets every side effect a
    /// command gets (AOF record of `run.argv` when it changed keys,
    /// notifications, WATCH, tracking, blocked clients), while command
    /// statistics are left to the connection-level command when
    /// `run.count` is false. The caller has passed the gate (or holds it).
    pub fn exec_with<R>(
        &self,
        run: ExecRun<'_>,
        out: &mut Out,
        clock: &mut ExecClock,
        settings: &Settings,
        f: impl FnOnce(&mut Ctx) -> R,
    ) -> R {
        let ExecRun {
            spec,
            argv,
            db,
            count,
            record,
        } = run;
        self.drain_deferred();
        // BGSAVE: a write first snapshots its keys' slots (persist/bgsave).
        super::snapshot_hook::before_write(self, spec, argv);
        let step = super::effects::Step {
            spec,
            argv,
            db,
            count,
            record,
            caller: self.caller.get(),
            on_owner: true,
        };
        let mut core = self.core.borrow_mut();
        let (result, after) =
            super::effects::apply(self, self.id, &mut core, step, out, clock, settings, f);
        drop(core);
        after.finish_local(self);
        result
    }

    /// Runs the shard command `argv` as work no client asked for (serving
    /// a blocked client): every effect of a command (effects.rs), no call
    /// counted (the blocking command is). The caller passed the gate.
    pub fn exec_unasked(&self, argv: &[&[u8]], db: usize, out: &mut Out) {
        let spec = super::table::table().get(argv[0]).expect("a known command");
        self.exec_spec_unasked(spec, argv, db, out)
    }

    /// [`ShardRt::exec_unasked`] with the spec given (one not in the
    /// table: XREAD's non-blocking part).
    pub fn exec_spec_unasked(
        &self,
        spec: &'static super::spec::CommandSpec,
        argv: &[&[u8]],
        db: usize,
        out: &mut Out,
    ) {
        let Handler::Shard(handler) = spec.handler else {
            unreachable!("{} is not a shard command", spec.name)
        };
        let asker = self.caller.replace(Default::default());
        let run = ExecRun {
            spec,
            argv,
            db,
            count: false,
            record: true,
        };
        let settings = self.settings();
        let mut clock = self.clock();
        self.exec_with(run, out, &mut clock, &settings, |ctx| handler(ctx, argv));
        self.caller.set(asker);
    }

    /// The scratch keyspace for a multi-shard step (direct.rs).
    pub fn take_scratch(&self) -> Store {
        self.scratch
            .borrow_mut()
            .take()
            .unwrap_or_else(|| Store::new(self.settings().databases, 1))
    }

    /// Gives the scratch keyspace back, emptied.
    pub fn put_scratch(&self, mut store: Store) {
        if store.dbs.iter().any(|d| !d.is_empty()) {
            for d in store.dbs.iter_mut() {
                d.take_all();
            }
        }
        *self.scratch.borrow_mut() = Some(store);
    }

    /// Takes up what other threads' steps left in this shard's data
    /// (effects.rs): tracking invalidations and reads, blocked clients
    /// to serve. Runs before anything else uses the data.
    pub fn drain_deferred(&self) {
        let deferred = {
            let mut core = self.core.borrow_mut();
            if core.deferred.is_empty() {
                if core.listeners && !self.blocked.has_waiters() && !self.tracking.active() {
                    core.listeners = false;
                }
                return;
            }
            std::mem::take(&mut core.deferred)
        };
        self.begin_unit();
        for d in deferred {
            match d {
                super::effects::Deferred::Written { keys, writer } => {
                    if self.tracking.active() {
                        for key in &keys {
                            super::tracking::key_modified(self, key, writer);
                        }
                    }
                    self.keys_ready_any_db(keys);
                }
                super::effects::Deferred::Read { caller, keys } => {
                    super::tracking::remember(self, caller, keys.into_iter());
                }
                super::effects::Deferred::Notes(notes) => super::notify::publish(self, notes),
            }
        }
        self.end_unit();
    }

    /// Counts `n` requests of a connection of this shard that ran on
    /// another shard (INFO `cross_shard_requests`): a single-shard command
    /// for another shard's keys (one per request of a remote batch), a
    /// shard command whose keys span shards (once), an EXEC whose queue
    /// reaches another shard (once), a command for a slot open here owned
    /// by another shard (cluster mode). Connection-level commands that
    /// visit shards (INFO, DBSIZE, KEYS, SCAN, FLUSHALL, CLIENT LIST, ...)
    /// are not counted.
    pub fn note_hops(&self, n: u64) {
        if n > 0 {
            self.core.borrow_mut().stats.cross_shard_requests += n;
        }
    }

    /// Keys a write made (or may have made) ready for blocked clients;
    /// they are served once the current unit of work ends.
    pub fn keys_ready(&self, _db: usize, keys: Vec<Vec<u8>>) {
        self.keys_ready_any_db(keys);
    }

    fn keys_ready_any_db(&self, keys: Vec<Vec<u8>>) {
        if !self.blocked.has_waiters() {
            return;
        }
        self.ready.borrow_mut().extend(keys);
        if self.unit_depth.get() == 0 {
            self.serve_ready();
        }
    }

    /// Takes `key` off the keys to serve: the loop serving its waiters
    /// runs and sees what it holds (a served pop must not make its own
    /// key ready again, as in Redis only pushes do).
    pub fn forget_ready(&self, key: &[u8]) {
        self.ready.borrow_mut().retain(|k| k != key);
    }

    /// Opens a unit of work (a transaction, a multi-shard step): blocked
    /// clients wait for its end to be served.
    pub fn begin_unit(&self) {
        self.unit_depth.set(self.unit_depth.get() + 1);
    }

    /// Closes a unit; the outermost one serves the clients its writes
    /// made ready.
    pub fn end_unit(&self) {
        let d = self.unit_depth.get() - 1;
        self.unit_depth.set(d);
        if d == 0 {
            self.serve_ready();
        }
    }

    /// Serves the ready keys' waiters, as Redis's handleClientsBlockedOnKeys:
    /// keys a served client writes (a BLMOVE's destination) are served by
    /// this loop, in the order they became ready.
    fn serve_ready(&self) {
        // A unit of its own: keys written meanwhile queue for this loop.
        self.unit_depth.set(self.unit_depth.get() + 1);
        loop {
            let keys = std::mem::take(&mut *self.ready.borrow_mut());
            if keys.is_empty() {
                break;
            }
            super::blocking::serve_keys(self, keys);
        }
        self.unit_depth.set(self.unit_depth.get() - 1);
    }

    /// Hands a write's record to the log (or to the transaction being
    /// gathered): the command line, or the handler's rewrite of it.
    pub fn record(&self, db: usize, argv: &[&[u8]], rewrite: Option<Vec<u8>>) {
        if let Some(records) = self.aof_capture.borrow_mut().as_mut() {
            match rewrite {
                Some(bytes) if !bytes.is_empty() => records.push_encoded(Some(db), &bytes),
                Some(_) => {}
                None => records.push(Some(db), argv),
            }
            return;
        }
        let log = &self.shared.aof.log;
        match rewrite {
            Some(bytes) => {
                // Several commands in one's place (XREADGROUP's XCLAIMs)
                // go as one MULTI/EXEC block, as Redis 7.0's
                // propagatePendingCommands wraps more than one.
                let mut records = crate::persist::aof::record::Records::default();
                records.push_encoded(Some(db), &bytes);
                if records.several() {
                    log.append_records(&records, true);
                } else {
                    log.append_encoded(db, &bytes);
                }
            }
            None => log.append_command(db, argv),
        }
    }

    /// Starts gathering this shard's records instead of logging them
    /// (a transaction logs its writes as one MULTI/EXEC block). False
    /// when nothing is logged or an outer gathering is already on (its
    /// owner collects).
    pub fn begin_capture(&self) -> bool {
        if !self.shared.aof.log.recording() {
            return false;
        }
        let mut c = self.aof_capture.borrow_mut();
        if c.is_some() {
            return false;
        }
        *c = Some(Default::default());
        true
    }

    /// The records gathered so far; gathering goes on.
    pub fn take_capture(&self) -> crate::persist::aof::record::Records {
        self.aof_capture
            .borrow_mut()
            .as_mut()
            .map(std::mem::take)
            .unwrap_or_default()
    }

    /// Where the gathered records of the next writes go (a script's
    /// redis.set_repl); no-op when nothing is gathered.
    pub fn capture_targets(&self, targets: crate::persist::aof::record::Targets) {
        if let Some(records) = self.aof_capture.borrow_mut().as_mut() {
            records.targets = targets;
        }
    }

    /// The records gathered since [`ShardRt::begin_capture`]; stops.
    pub fn end_capture(&self) -> crate::persist::aof::record::Records {
        self.aof_capture.borrow_mut().take().unwrap_or_default()
    }

    /// Counts a connection-level or multi-shard command that ran, as the
    /// client `client` saw it run in database `db`.
    pub fn count_call(
        &self,
        spec: &'static CommandSpec,
        argv: &[&[u8]],
        db: usize,
        client: u64,
        started: Instant,
        reply: &[u8],
    ) {
        let settings = self.settings();
        let mut core = self.core.borrow_mut();
        let done = super::observe::Done {
            spec,
            argv,
            db,
            ns: started.elapsed().as_nanos() as u64,
            client,
            script: false,
            error: (reply.first() == Some(&b'-')).then_some(reply),
        };
        super::observe::command_done(self, &mut core.stats, &settings.observe, done);
    }

    /// Counts a command refused before it ran (arity, auth, …).
    pub fn count_rejected(&self, name: &'static str, reply: &[u8]) {
        let mut core = self.core.borrow_mut();
        core.stats.cmd.entry(name).or_default().rejected += 1;
        record_error(&mut core.stats, reply);
    }

    /// A writable replica's active expiry (`Db::expire_replica_written`);
    /// its deletions go as every server-initiated one (effects.rs).
    fn expire_replica_written(&self) {
        if self
            .core
            .borrow()
            .store
            .dbs
            .iter()
            .all(|d| d.replica_ttls.is_empty())
        {
            return;
        }
        let now = unix_ms();
        let (mut core, events) = super::effects::begin_visit(self);
        for db in core.store.dbs.iter_mut() {
            db.expire_replica_written(now);
        }
        super::effects::end_visit(self, core, events);
    }

    /// Active expiry: every 1/hz seconds, look at a bounded number of
    /// keys with a TTL in each database, resuming where the last run
    /// stopped. Sleeping between runs keeps an idle shard at ~0% CPU.
    pub async fn expire_cron(self: Rc<Self>) {
        use std::time::Duration;
        /// Work between two polls of the sockets in one expire run; while
        /// requests are being served, shorter slices taking at most a
        /// quarter of the time (sys/pacer.rs), as snapshot slices do.
        const EXPIRE_SLICE: Duration = Duration::from_micros(500);
        const BUSY_EXPIRE_SLICE: Duration = Duration::from_micros(60);
        let mut cursors = Vec::new();
        // One pacer for every run: whether requests are being served
        // carries over the sleeps between runs (`Pacer::begin`).
        let mut pacer = crate::sys::pacer::Pacer::new(EXPIRE_SLICE, BUSY_EXPIRE_SLICE);
        loop {
            let hz = self.settings().hz;
            glommio::timer::sleep(std::time::Duration::from_millis(1000 / hz)).await;
            self.wait_gate().await;
            // A replica waits for its master's DEL (Redis 7.0), but for
            // keys its own clients gave a TTL.
            if self.shared.repl.replica.is_replica() {
                if ACTIVE_EXPIRE.load(std::sync::atomic::Ordering::Relaxed) {
                    self.expire_replica_written();
                }
                continue;
            }
            // Paused writes (server/pause.rs): no DELs into the stream.
            if self.shared.write_pause.active() {
                continue;
            }
            // maxmemory: every shard sheds its own keys while the process
            // stays over the limit (commands evict too; evict.rs).
            super::evict::make_room(&self, &self.settings().memory);
            super::tracking::limit_keys(&self);
            // DEBUG SET-ACTIVE-EXPIRE 0: keys expire only when touched.
            if !ACTIVE_EXPIRE.load(std::sync::atomic::Ordering::Relaxed) {
                continue;
            }
            let now = unix_ms();
            // As Redis's adaptive cycle: keep going while over 10% of the
            // keys checked had expired, for at most 25% of the period; but
            // in slices of EXPIRE_SLICE with the sockets polled between,
            // where Redis blocks for the whole 25 ms.
            let started = Instant::now();
            let limit = Duration::from_micros(250_000 / hz);
            let period = Duration::from_millis(1000 / hz);
            let mut spent = Duration::ZERO;
            let mut longest = Duration::ZERO;
            let mut db_index = 0;
            pacer.begin();
            loop {
                // Replies of this reactor pass leave first (conn.rs).
                crate::sys::exec::after_waiting_sends().await;
                let slice_started = Instant::now();
                // Its deletions go as every server-initiated one (effects.rs).
                let (mut core, events) = super::effects::begin_visit(&self);
                cursors.resize(core.store.dbs.len(), 0usize);
                let mut more = false;
                while db_index < core.store.dbs.len() {
                    let db = &mut core.store.dbs[db_index];
                    let cursor = &mut cursors[db_index];
                    let mut db_done = db.expires_len() == 0;
                    while !db_done {
                        let before = db.expired_keys;
                        // Time is checked after every slot, not only
                        // every 200 keys: a round of 200 expired keys
                        // takes several times a busy slice. A slot of
                        // many expired keys takes a good part of one, so
                        // the slice stops when another slot like the last
                        // would take it past its end.
                        let slice = pacer.slice();
                        let mut slot_started = Instant::now();
                        let (next, checked, cut) = db.expire_cycle(*cursor, 200, now, || {
                            let at = Instant::now();
                            let last_slot = at - slot_started;
                            slot_started = at;
                            at - slice_started + last_slot >= slice
                        });
                        *cursor = next;
                        if cut {
                            // The next slice goes on from the cursor with
                            // a new round.
                            break;
                        }
                        let expired = (db.expired_keys - before) as usize;
                        db_done = checked == 0 || expired * 10 <= checked || db.expires_len() == 0;
                        if !db_done && slice_started.elapsed() >= slice {
                            break;
                        }
                    }
                    if !db_done {
                        // The budget is work time (requests get the gaps
                        // between slices), within one period of wall time.
                        more =
                            spent + slice_started.elapsed() < limit && started.elapsed() < period;
                        break;
                    }
                    db_index += 1;
                }
                if !more {
                    // Cluster mode: slots another master took over lose
                    // their keys.
                    if let Some(cluster) = &self.shared.cluster {
                        let db0 = &mut core.store.dbs[0];
                        for slot in cluster.take_slot_flush(|s| self.shard_of_slot(s) == self.id) {
                            for key in db0.keys_in_slot(slot, usize::MAX) {
                                db0.remove(&key);
                            }
                        }
                    }
                }
                super::effects::end_visit(&self, core, events);
                let worked = slice_started.elapsed();
                spent += worked;
                longest = longest.max(worked);
                if !more {
                    break;
                }
                pacer.pause(worked).await;
                self.wait_gate().await;
                // What stops a run may have changed meanwhile.
                if self.shared.repl.replica.is_replica()
                    || self.shared.write_pause.active()
                    || !ACTIVE_EXPIRE.load(std::sync::atomic::Ordering::Relaxed)
                {
                    break;
                }
            }
            // The latency monitor's "expire-cycle" event, as Redis's: what
            // requests waited for, the longest slice.
            let threshold = self.settings().observe.latency_ms;
            let ms = longest.as_millis() as u64;
            crate::sys::latency::monitor().add_if_needed(threshold, "expire-cycle", ms);
        }
    }
}

/// Counts an error reply by its prefix (INFO errorstats).
pub(super) fn record_error(stats: &mut Stats, reply: &[u8]) {
    stats.error_replies += 1;
    let word = reply[1..]
        .split(|&c| c == b' ' || c == b'\r')
        .next()
        .unwrap_or(b"ERR");
    *stats
        .errors
        .entry(String::from_utf8_lossy(word).into_owned())
        .or_default() += 1;
}
