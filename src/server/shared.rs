//! State shared by every executor of the process: configuration, process
//! identity and process-wide counters. Nothing here is on the per-command
//! path except cheap atomics; the configuration is copied into per-shard
//! snapshots whenever its epoch changes.

use crate::config::keys as conf;
use crate::config::Config;
use crate::sys::clock::unix_ms;
use crate::sys::random::random_hex;
use std::sync::atomic::{AtomicBool, AtomicU16, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Instant;

pub struct Shared {
    pub config: RwLock<Config>,
    /// Bumped by every CONFIG SET; connections refresh their snapshot.
    pub config_epoch: AtomicU64,
    /// The node is up (the data loaded into every shard, the cluster
    /// bus started): the shards' crons start then, and connections are
    /// accepted if they were not during the load (server/mod.rs).
    pub serving: std::sync::atomic::AtomicBool,
    pub nshards: usize,
    /// 40 hex characters, new every start (INFO run_id).
    pub run_id: String,
    pub started: Instant,
    pub started_unix: u64,
    /// The client port (CONFIG SET port changes it).
    pub port: AtomicU16,
    pub next_client_id: AtomicU64,
    pub connected_clients: AtomicUsize,
    pub total_connections: AtomicU64,
    pub rejected_connections: AtomicU64,
    pub lastsave_unix: AtomicU64,
    pub shutting_down: AtomicBool,
    pub executable: String,
    /// Whether shard threads are pinned to cores.
    pub pinned: bool,
    /// The append-only file (on or off).
    pub aof: Arc<crate::persist::aof::Aof>,
    /// Cluster mode's state (`cluster-enabled yes`), else None.
    pub cluster: Option<Arc<crate::cluster::Cluster>>,
    /// Replication: this node's history id and offset, both roles.
    pub repl: crate::repl::Repl,
    /// A script past `busy-reply-threshold` (script/busy.rs).
    pub busy: super::script::busy::Busy,
    /// Clients paused (manual failover, SIGTERM handover, CLIENT PAUSE).
    pub write_pause: super::pause::WritePause,
    /// maxmemory: each shard's count of evictable keys (evict.rs).
    pub evict_shares: super::evict::Shares,
    /// The order of multi-shard holds (order.rs).
    pub order: super::order::Order,
    /// Every shard's data, by shard id (shard_lock.rs).
    pub cores: Vec<Arc<super::shard_lock::ShardLock<super::shard::Core>>>,
    /// Slow log, latency monitor, MONITOR feed (observe.rs).
    pub introspect: super::observe::Introspect,
    /// `maxmemory-clients`: the clients' total and evictions (client_mem.rs).
    pub client_memory: super::client_mem::ClientMemory,
    /// A shutdown waiting for its replicas (shutdown.rs).
    pub shutdown: super::shutdown::Shutdown,
    /// ACL users and the ACL log (acl/).
    pub acl: super::acl::Registry,
}

impl Shared {
    pub fn new(
        config: Config,
        nshards: usize,
        pinned: bool,
        cluster: Option<Arc<crate::cluster::Cluster>>,
    ) -> Shared {
        let now = unix_ms() / 1000;
        let port = config.int(conf::PORT) as u16;
        let databases = config.int(conf::DATABASES) as usize;
        let requirepass = config.text(conf::REQUIREPASS);
        let acl = super::acl::Registry::new(Some(requirepass.as_bytes()).filter(|p| !p.is_empty()));
        let cores = (0..nshards)
            .map(|_| {
                Arc::new(super::shard_lock::ShardLock::new(super::shard::Core::new(
                    databases, nshards,
                )))
            })
            .collect();
        Shared {
            config: RwLock::new(config),
            config_epoch: AtomicU64::new(1),
            serving: std::sync::atomic::AtomicBool::new(false),
            nshards,
            run_id: random_hex(40),
            started: Instant::now(),
            started_unix: now,
            port: AtomicU16::new(port),
            next_client_id: AtomicU64::new(1),
            connected_clients: AtomicUsize::new(0),
            total_connections: AtomicU64::new(0),
            rejected_connections: AtomicU64::new(0),
            lastsave_unix: AtomicU64::new(now),
            shutting_down: AtomicBool::new(false),
            executable: std::env::current_exe()
                .map(|p| p.display().to_string())
                .unwrap_or_default(),
            pinned,
            aof: Arc::new(crate::persist::aof::Aof::new()),
            cluster,
            repl: crate::repl::Repl::default(),
            busy: Default::default(),
            write_pause: super::pause::WritePause::new(nshards),
            evict_shares: super::evict::Shares::new(nshards),
            order: super::order::Order::new(nshards),
            cores,
            introspect: Default::default(),
            client_memory: Default::default(),
            shutdown: Default::default(),
            acl,
        }
    }

    pub fn epoch(&self) -> u64 {
        self.config_epoch.load(Ordering::Acquire)
    }

    /// Runs `f` on the configuration under the write lock and bumps the
    /// epoch so every shard and connection picks the change up.
    pub fn update_config<R>(&self, f: impl FnOnce(&mut Config) -> R) -> R {
        let r = f(&mut self.config.write().unwrap());
        self.config_epoch.fetch_add(1, Ordering::AcqRel);
        r
    }

    pub fn read_config<R>(&self, f: impl FnOnce(&Config) -> R) -> R {
        f(&self.config.read().unwrap())
    }
}
