//! Cluster mode (`cluster-enabled yes`): the node table and slot owners
//! (`state`), their text forms (`describe`), nodes.conf (`nodes_conf`),
//! the routing snapshot shards check requests against (`routing`), and
//! the cluster bus (`bus` wire codec, `control` links and cron, `gossip`
//! message handling, `failure` detection), `failover` (elections, votes,
//! CLUSTER FAILOVER) and `migration` (a spare replica moving to an
//! orphaned master). The engine's side lives in server/: the replication
//! link following the cluster's view of my role (`cluster_follow`), the
//! SIGTERM handover (`handover`), and what the bus asks of the engine
//! (`BusHost`, implemented there).
//!
//! The state lives behind one mutex in [`Cluster`]: the control executor
//! (bus) and the CLUSTER commands change it; every change that matters to
//! routing publishes a fresh [`routing::Routing`] that shards pick up with
//! one atomic load per request.

pub mod bus;
pub mod bus_host;
pub mod control;
pub mod describe;
pub mod failover;
pub mod failure;
pub mod gossip;
pub mod links;
pub mod migration;
pub mod node;
pub mod nodes_conf;
pub mod pubsub_link;
pub mod routing;
pub mod setslot;
pub mod sim;
pub mod slots_config;
pub mod state;
pub mod tick;

use crate::config::keys as conf;
use crate::config::Config;
use bus::NodeId;
use nodes_conf::NodesConf;
use state::{ClusterState, SaveNeed};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// The cluster directives, as read at the last change.
#[derive(Clone, Debug)]
pub struct ClusterSettings {
    pub node_timeout: u64,
    pub require_full_coverage: bool,
    pub allow_reads_when_down: bool,
    pub preferred_hostname: bool,
    pub announce_ip: String,
    pub announce_hostname: String,
    pub port: u16,
    pub bus_port: u16,
    pub allow_replica_migration: bool,
    /// `cluster-migration-barrier`: OK replicas a master keeps before one
    /// of them may migrate to an orphaned master.
    pub migration_barrier: u64,
    /// `cluster-link-sendbuf-limit` in bytes (0: none).
    pub link_sendbuf_limit: usize,
    /// `cluster-replica-validity-factor` (0: any data age may fail over).
    pub replica_validity_factor: u64,
    /// `cluster-replica-no-failover`.
    pub replica_no_failover: bool,
    /// `repl-ping-replica-period` in seconds.
    pub repl_ping_period: u64,
}

impl ClusterSettings {
    pub fn from_config(c: &Config) -> ClusterSettings {
        let port = match c.int(conf::CLUSTER_ANNOUNCE_PORT) {
            0 => c.int(conf::PORT),
            p => p,
        } as u16;
        let bus_port = match (
            c.int(conf::CLUSTER_ANNOUNCE_BUS_PORT),
            c.int(conf::CLUSTER_PORT),
        ) {
            (0, 0) => c.int(conf::PORT) + 10000,
            (0, p) => p,
            (p, _) => p,
        } as u16;
        ClusterSettings {
            node_timeout: c.int(conf::CLUSTER_NODE_TIMEOUT).max(0) as u64,
            require_full_coverage: c.flag(conf::CLUSTER_REQUIRE_FULL_COVERAGE),
            allow_reads_when_down: c.flag(conf::CLUSTER_ALLOW_READS_WHEN_DOWN),
            preferred_hostname: c.text(conf::CLUSTER_PREFERRED_ENDPOINT_TYPE) == "hostname",
            announce_ip: c.text(conf::CLUSTER_ANNOUNCE_IP),
            announce_hostname: c.text(conf::CLUSTER_ANNOUNCE_HOSTNAME),
            port,
            bus_port,
            allow_replica_migration: c.flag(conf::CLUSTER_ALLOW_REPLICA_MIGRATION),
            migration_barrier: c.int(conf::CLUSTER_MIGRATION_BARRIER).max(0) as u64,
            link_sendbuf_limit: c.int(conf::CLUSTER_LINK_SENDBUF_LIMIT).max(0) as usize,
            replica_validity_factor: c.int(conf::CLUSTER_REPLICA_VALIDITY_FACTOR).max(0) as u64,
            replica_no_failover: c.flag(conf::CLUSTER_REPLICA_NO_FAILOVER),
            repl_ping_period: c.int(conf::REPL_PING_REPLICA_PERIOD).max(1) as u64,
        }
    }

    /// The port the bus listens on: cluster-port, else port + 10000.
    pub fn listen_bus_port(c: &Config) -> u16 {
        match c.int(conf::CLUSTER_PORT) {
            0 => (c.int(conf::PORT) + 10000) as u16,
            p => p as u16,
        }
    }
}

pub struct Cluster {
    state: Mutex<ClusterState>,
    conf: Mutex<NodesConf>,
    settings: Mutex<ClusterSettings>,
    routing: Mutex<Arc<routing::Routing>>,
    /// Version of the published routing snapshot.
    routing_version: AtomicU64,
    /// Slots whose keys must go (another master took them); shards drain
    /// it from their cron.
    slot_flush: Mutex<Vec<u16>>,
    slot_flush_pending: std::sync::atomic::AtomicBool,
    /// The bus links, for CLUSTER LINKS and the send-buffer limit.
    pub links: links::Links,
    /// Called, under the state lock and before the new routing is
    /// published, when the view makes me a master that was a replica: the
    /// replication link must stop in the same step, as Redis's
    /// `clusterFailoverReplaceYourMaster` calls `replicationUnsetMaster`,
    /// or a write routed here would meet READONLY, or be taken while the
    /// link still runs and miss the new replication history.
    pub on_promotion: std::sync::OnceLock<Box<dyn Fn() + Send + Sync>>,
}

impl Cluster {
    /// Opens nodes.conf (relative to `dir`, the working directory), loads
    /// it or starts a fresh node, and saves it at once as Redis does.
    pub fn open(config: &Config) -> Result<Cluster, String> {
        let path = std::path::PathBuf::from(config.text(conf::CLUSTER_CONFIG_FILE));
        let mut conf = NodesConf::open(&path)?;
        let now = crate::sys::clock::unix_ms();
        let settings = ClusterSettings::from_config(config);
        let mut st = match conf.load(now)? {
            Some(st) => st,
            None => {
                let st = ClusterState::fresh(NodeId::random(), now);
                crate::notice!("No cluster configuration found, I'm {}", st.myself.as_str());
                st
            }
        };
        crate::notice!("Node configuration loaded, I'm {}", st.myself.as_str());
        refresh_myself(&mut st, &settings);
        conf.save(&st, now, true)?;
        st.save = SaveNeed::None;
        st.update_state(now, settings.require_full_coverage, settings.node_timeout);
        let routing = routing::Routing::build(
            &st,
            settings.preferred_hostname,
            settings.allow_reads_when_down,
        );
        Ok(Cluster {
            routing_version: AtomicU64::new(st.version),
            state: Mutex::new(st),
            conf: Mutex::new(conf),
            settings: Mutex::new(settings),
            routing: Mutex::new(Arc::new(routing)),
            slot_flush: Mutex::new(Vec::new()),
            slot_flush_pending: Default::default(),
            links: Default::default(),
            on_promotion: Default::default(),
        })
    }

    pub fn settings(&self) -> ClusterSettings {
        self.settings.lock().unwrap().clone()
    }

    /// After CONFIG SET of a cluster directive.
    pub fn reload_settings(&self, config: &Config) {
        *self.settings.lock().unwrap() = ClusterSettings::from_config(config);
        self.with(|st| {
            let s = ClusterSettings::from_config(config);
            refresh_myself(st, &s);
            st.touch();
        });
    }

    /// Runs `f` on the state; then saves nodes.conf if `f` asked for it
    /// (before any bus message that depends on it can leave: senders
    /// build messages under this same lock) and publishes routing.
    pub fn with<R>(&self, f: impl FnOnce(&mut ClusterState) -> R) -> R {
        let mut st = self.state.lock().unwrap();
        let was_replica = st.me().is_replica();
        let r = f(&mut st);
        if was_replica && !st.me().is_replica() {
            if let Some(promoted) = self.on_promotion.get() {
                promoted();
            }
        }
        let settings = self.settings();
        let now = crate::sys::clock::unix_ms();
        st.update_state(now, settings.require_full_coverage, settings.node_timeout);
        if st.save != SaveNeed::None {
            let fsync = st.save == SaveNeed::SaveFsync;
            st.save = SaveNeed::None;
            if let Err(e) = self.conf.lock().unwrap().save(&st, now, fsync) {
                // As Redis: a node that cannot persist its view must stop.
                crate::warning!("Fatal: can't update cluster config file: {e}");
                std::process::exit(1);
            }
        }
        if st.version != self.routing_version.load(Ordering::Acquire) {
            let fresh = routing::Routing::build(
                &st,
                settings.preferred_hostname,
                settings.allow_reads_when_down,
            );
            *self.routing.lock().unwrap() = Arc::new(fresh);
            self.routing_version.store(st.version, Ordering::Release);
        }
        r
    }

    /// Redis's `verifyClusterConfigWithData`, on the keys loaded at start
    /// as (db, slot): keys outside db 0 refuse the start; keys of a slot
    /// nobody serves make it mine; keys of another node's slot mark it
    /// importing. A replica skips the check (its data comes from its
    /// master).
    pub fn verify_data(&self, keys: impl Iterator<Item = (usize, u16)>) -> Result<(), String> {
        let mut populated = vec![false; crate::slot::SLOTS];
        for (db, slot) in keys {
            if db != 0 {
                return Err("You can't have keys in a DB different than DB 0 when in Cluster mode. Exiting.".into());
            }
            populated[slot as usize] = true;
        }
        self.with(|st| {
            if st.me().is_replica() {
                return;
            }
            let me = st.myself;
            for (slot, _) in populated.iter().enumerate().filter(|(_, p)| **p) {
                let slot = slot as u16;
                match st.slots[slot as usize] {
                    Some(owner) if owner == me => {}
                    _ if st.importing.contains_key(&slot) => {}
                    None => {
                        crate::warning!("I have keys for unassigned slot {slot}. Taking responsibility for it.");
                        st.set_slot(slot, Some(me));
                        st.need_save(SaveNeed::SaveFsync);
                    }
                    Some(owner) => {
                        crate::warning!("I have keys for slot {slot}, but the slot is assigned to another node. Setting it to importing state.");
                        st.importing.insert(slot, owner);
                        st.need_save(SaveNeed::SaveFsync);
                        st.touch();
                    }
                }
            }
        });
        Ok(())
    }

    /// CLUSTER SAVECONFIG: write and fsync nodes.conf now.
    pub fn save_now(&self) -> Result<(), String> {
        let st = self.state.lock().unwrap();
        self.conf
            .lock()
            .unwrap()
            .save(&st, crate::sys::clock::unix_ms(), true)
    }

    /// Counts a bus message sent (CLUSTER INFO).
    pub fn count_sent(&self, kind: u16) {
        if let Some(c) = self.state.lock().unwrap().sent.get_mut(kind as usize) {
            *c += 1;
        }
    }

    /// Queues slots whose keys every shard must delete.
    pub fn queue_slot_flush(&self, slots: Vec<u16>) {
        self.slot_flush.lock().unwrap().extend(slots);
        self.slot_flush_pending.store(true, Ordering::Release);
    }

    /// The queued slots a shard owning `owns` should flush now.
    pub fn take_slot_flush(&self, owns: impl Fn(u16) -> bool) -> Vec<u16> {
        if !self.slot_flush_pending.load(Ordering::Acquire) {
            return Vec::new();
        }
        let mut q = self.slot_flush.lock().unwrap();
        let mine: Vec<u16> = q.iter().copied().filter(|&s| owns(s)).collect();
        q.retain(|&s| !owns(s));
        if q.is_empty() {
            self.slot_flush_pending.store(false, Ordering::Release);
        }
        mine
    }

    /// Read-only access (CLUSTER NODES, INFO).
    pub fn read<R>(&self, f: impl FnOnce(&ClusterState) -> R) -> R {
        f(&self.state.lock().unwrap())
    }

    pub fn routing_version(&self) -> u64 {
        self.routing_version.load(Ordering::Acquire)
    }

    pub fn routing(&self) -> Arc<routing::Routing> {
        self.routing.lock().unwrap().clone()
    }
}

/// My own entry follows the configuration: ports, announced ip and
/// hostname (a restarted node refreshes its address).
fn refresh_myself(st: &mut ClusterState, s: &ClusterSettings) {
    let me = st.me_mut();
    me.port = s.port;
    me.cport = s.bus_port;
    if !s.announce_ip.is_empty() {
        me.ip = s.announce_ip.clone();
    }
    me.hostname = s.announce_hostname.clone();
    // `clusterUpdateMyselfFlags`: others rank me out when I won't fail over.
    if s.replica_no_failover {
        me.flags |= bus::flags::NOFAILOVER;
    } else {
        me.flags &= !bus::flags::NOFAILOVER;
    }
}
