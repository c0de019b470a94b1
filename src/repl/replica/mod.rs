//! The replica's side of replication: following a primary.
//!
//! - this file: the replica state every executor sees (who the master is,
//!   the link's state, offsets), REPLICAOF / SLAVEOF / ROLE, and the
//!   replica lines of INFO replication;
//! - `link.rs`: the master link, one task on the executor that ran
//!   REPLICAOF (or shard 0 for the `replicaof` directive): connect,
//!   handshake, PSYNC, full sync, then the command stream applied as
//!   Redis's "master client" through the normal routing;
//! - `load.rs`: a received RDB parsed off the event loops, then installed
//!   on each shard; `loading.rs`: INFO's loading state and -LOADING.

mod link;
mod load;
mod loading;
pub mod sync;

pub use loading::{Loading, LOADING_ERR};

use crate::config::keys as conf;
use crate::repl::host::{ReplHost, ReplShared};
use crate::resp::Out;
use crate::sys::clock::unix_ms;
use std::fmt::Write as _;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering};
use std::sync::Mutex;

/// Redis's `repl_state`, reduced to what is visible (ROLE, INFO).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum LinkState {
    /// Not a replica.
    None = 0,
    /// Must connect (waiting for the next attempt).
    Connect = 1,
    /// TCP connect in progress.
    Connecting = 2,
    /// PING / AUTH / REPLCONF / PSYNC exchange.
    Handshake = 3,
    /// Receiving the RDB.
    Transfer = 4,
    /// Streaming.
    Connected = 5,
}

impl LinkState {
    fn from_u8(v: u8) -> LinkState {
        match v {
            1 => LinkState::Connect,
            2 => LinkState::Connecting,
            3 => LinkState::Handshake,
            4 => LinkState::Transfer,
            5 => LinkState::Connected,
            _ => LinkState::None,
        }
    }

    /// The state ROLE shows.
    fn role_name(self) -> &'static str {
        match self {
            LinkState::None => "none",
            LinkState::Connect => "connect",
            LinkState::Connecting => "connecting",
            LinkState::Handshake => "handshake",
            LinkState::Transfer => "sync",
            LinkState::Connected => "connected",
        }
    }
}

/// What the replica side knows, behind one lock (read by INFO and ROLE,
/// written by the link task).
#[derive(Default, Debug)]
pub struct Inner {
    /// `masterhost` / `masterport`.
    pub master: Option<(String, u16)>,
    /// Bumped by every REPLICAOF: a link task whose generation is stale
    /// stops.
    pub generation: u64,
    /// The master client exists (Redis's `server.master != NULL`).
    pub linked: bool,
    /// Processed and read offsets of the master client (or of the cached
    /// master once the link broke).
    pub reploff: i64,
    pub read_reploff: i64,
    /// The master to resume with PSYNC (replid, processed offset).
    pub cached: Option<(String, i64)>,
    /// The link generation whose master REPLICAOF cached while that link
    /// was still applying a batch: the batch's end still counts.
    pub cached_from: Option<u64>,
    /// The master client's selected db, kept for a partial resync.
    pub cached_db: usize,
    /// Last byte from the master (ms).
    pub last_io_ms: u64,
    /// When the link went down (ms; 0: never up).
    pub down_since_ms: u64,
    /// RDB transfer: total size (-1 for EOF-marked), bytes read, last I/O.
    pub transfer_size: i64,
    pub transfer_read: i64,
    pub transfer_last_io_ms: u64,
}

/// The replica side's shared state (in `Shared::repl`).
#[derive(Default)]
pub struct ReplicaState {
    /// Whether this node is a replica (`masterhost != NULL`): checked on
    /// every write command, so kept out of the lock.
    pub active: AtomicBool,
    state: AtomicU8,
    /// Client id of the current master link (0: none).
    master_client: AtomicU64,
    /// Loading a full sync's RDB (INFO, -LOADING).
    pub loading: Loading,
    pub inner: Mutex<Inner>,
}

impl ReplicaState {
    pub fn is_replica(&self) -> bool {
        self.active.load(Ordering::Relaxed)
    }

    pub fn link_state(&self) -> LinkState {
        LinkState::from_u8(self.state.load(Ordering::Relaxed))
    }

    /// The master link's client id, to tell its commands apart.
    #[inline]
    pub fn master_client_id(&self) -> u64 {
        self.master_client.load(Ordering::Relaxed)
    }

    /// Makes client `id` the master link's (its master client is made).
    pub fn set_master_client_id(&self, id: u64) {
        self.master_client.store(id, Ordering::Relaxed);
    }

    fn set_state(&self, s: LinkState) {
        self.state.store(s as u8, Ordering::Relaxed);
    }

    /// A sync (full or partial) finished: the master client exists at
    /// `offset`, its stream in database `db`.
    fn mark_linked(&self, inner: &mut Inner, offset: i64, db: usize) {
        inner.linked = true;
        inner.cached = None;
        inner.cached_from = None;
        inner.cached_db = db;
        inner.reploff = offset;
        inner.read_reploff = offset;
        inner.last_io_ms = unix_ms();
        self.set_state(LinkState::Connected);
    }
}

/// The master link is gone: its history and processed offset become the
/// cached master that the next PSYNC continues (Redis's
/// `replicationCacheMaster`).
fn cache_master<S: ReplShared + ?Sized>(shared: &S, inner: &mut Inner) {
    inner.linked = false;
    let replid = shared.repl().identity.lock().unwrap().replid.clone();
    inner.cached = Some((replid, inner.reploff));
    inner.read_reploff = inner.reploff;
    inner.down_since_ms = unix_ms();
}

const READONLY_ERR: &str = "READONLY You can't write against a read only replica.";
pub const MASTERDOWN_ERR: &str =
    "MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'.";

/// Redis's `processCommand` checks for a replica, after MISCONF: a write
/// from a normal client on a read-only replica, and commands without the
/// `stale` flag while the link is down and stale data must not be served.
pub fn refusal<S: ReplShared + ?Sized>(
    shared: &S,
    write: bool,
    deny_stale: bool,
    from_master: bool,
    read_only: bool,
    serve_stale: bool,
) -> Option<String> {
    let st = &shared.repl().replica;
    if from_master || !st.is_replica() {
        return None;
    }
    if read_only && write {
        return Some(READONLY_ERR.into());
    }
    if !serve_stale && st.link_state() != LinkState::Connected && deny_stale {
        return Some(MASTERDOWN_ERR.into());
    }
    None
}

/// Makes this node a replica of `host:port` (Redis's
/// `replicationSetMaster`) and starts the link on this executor.
pub fn set_master<H: ReplHost>(rt: &Rc<H>, host: String, port: u16) {
    let shared = rt.shared();
    let st = &shared.repl().replica;
    // The offset this master reached (its backlog's end), which its
    // PSYNC to the new master continues from.
    crate::repl::primary::master_offset(shared);
    let generation = {
        let mut inner = st.inner.lock().unwrap();
        if !st.is_replica() {
            // A master becoming a replica continues its own history
            // (`replicationCacheMasterUsingMyself`).
            let id = shared.repl().identity.lock().unwrap().clone();
            inner.cached = Some((id.replid, id.offset));
            inner.cached_db = 0;
            inner.reploff = id.offset;
            inner.read_reploff = id.offset;
            inner.down_since_ms = 0;
        } else if inner.linked {
            // Switching masters: the current one is cached, so the new
            // one may continue its history (the old link task, retired
            // by the generation below, will not do it).
            cache_master(&**shared, &mut inner);
            inner.cached_from = Some(inner.generation);
        }
        set_config(shared, &[host.clone(), port.to_string()]);
        inner.master = Some((host, port));
        inner.generation += 1;
        inner.linked = false;
        st.set_state(LinkState::Connect);
        st.active.store(true, Ordering::SeqCst);
        inner.generation
    };
    shared.log().set_proxy(true);
    let _ = crate::repl::oom::apply(&**shared);
    // Clients blocked while this was a master must not be served by the
    // new master's stream (Redis's disconnectAllBlockedClients); done
    // before the link starts, so nothing it applies can reach them.
    let rt = rt.clone();
    crate::sys::exec::spawn(async move {
        H::unblock_for_role_change(&rt).await;
        link::run(rt, generation).await
    })
    .detach();
}

/// Keeps the `replicaof` directive in step with REPLICAOF, as CONFIG GET
/// and CONFIG REWRITE show the current master in Redis.
fn set_config<S: ReplShared + ?Sized>(shared: &S, args: &[String]) {
    if let Ok(mut c) = shared.config().write() {
        let _ = c.set("replicaof", args);
    }
}

/// The `replicaof` directive at start-up: the first PSYNC continues the
/// history the RDB file recorded (rdb_info.rs), else asks for `? -1`.
/// Runs on shard 0 once it serves.
pub fn start_from_config<H: ReplHost>(rt: &Rc<H>) {
    let value = rt.shared().read_config(|c| c.text(conf::REPLICAOF));
    let mut parts = value.split_whitespace();
    let (Some(host), Some(port)) = (parts.next(), parts.next()) else {
        return;
    };
    let Ok(port) = port.parse::<u16>() else {
        return;
    };
    let st = &rt.shared().repl().replica;
    let generation = {
        let mut inner = st.inner.lock().unwrap();
        inner.master = Some((host.to_string(), port));
        inner.generation += 1;
        if inner.cached.is_none() {
            inner.reploff = 1;
            inner.read_reploff = 1;
        }
        st.set_state(LinkState::Connect);
        st.active.store(true, Ordering::SeqCst);
        inner.generation
    };
    rt.shared().log().set_proxy(true);
    crate::notice!("Connecting to MASTER {host}:{port}");
    crate::sys::exec::spawn(link::run(rt.clone(), generation)).detach();
}

/// REPLICAOF NO ONE (Redis's `replicationUnsetMaster`): the data stays,
/// a new history starts and the old one is kept as replid2. `why` ends
/// the log line ("user request from replicaof no one", "cluster
/// failover"). False when this node was no replica. The caller
/// disconnects the sub-replicas, which must learn the new id.
pub fn unset_master<S: ReplShared + ?Sized>(shared: &S, why: &str) -> bool {
    let st = &shared.repl().replica;
    let mut inner = st.inner.lock().unwrap();
    if !st.is_replica() {
        return false;
    }
    set_config(shared, &["no".into(), "one".into()]);
    inner.generation += 1;
    inner.master = None;
    inner.linked = false;
    inner.cached = None;
    st.active.store(false, Ordering::SeqCst);
    st.set_state(LinkState::None);
    // Sub-replicas get nothing of the new history before they reconnect.
    crate::repl::primary::detach_replicas(shared);
    shared.log().set_proxy(false);
    shared.repl().identity.lock().unwrap().shift();
    drop(inner);
    let _ = crate::repl::oom::apply(shared);
    crate::notice!("MASTER MODE enabled ({why})");
    true
}

/// ROLE for a replica; None when this node is a master (the primary side
/// answers).
pub fn role_reply<S: ReplShared + ?Sized>(shared: &S, out: &mut Out) -> bool {
    let st = &shared.repl().replica;
    if !st.is_replica() {
        return false;
    }
    let inner = st.inner.lock().unwrap();
    let (host, port) = inner.master.clone().unwrap_or_default();
    out.array(5);
    out.bulk_str("slave");
    out.bulk_str(&host);
    out.int(port as i64);
    out.bulk_str(st.link_state().role_name());
    out.int(if inner.linked { inner.reploff } else { -1 });
    true
}

/// The INFO replication lines of a replica from `master_host` up to
/// `replica_announced` (Redis 7.0's order); false when this node is a
/// master. `role:slave` and the lines from `connected_slaves` on are the
/// caller's, shared with the master form.
pub fn info_lines<S: ReplShared + ?Sized>(shared: &S, s: &mut String) -> bool {
    let st = &shared.repl().replica;
    if !st.is_replica() {
        return false;
    }
    let (priority, read_only, announced) = shared.read_config(|c| {
        (
            c.int(conf::REPLICA_PRIORITY),
            c.flag(conf::REPLICA_READ_ONLY),
            c.flag(conf::REPLICA_ANNOUNCED),
        )
    });
    let inner = st.inner.lock().unwrap();
    let state = st.link_state();
    let now = unix_ms();
    let secs = |ms: u64| (now.saturating_sub(ms) / 1000) as i64;
    let (host, port) = inner.master.clone().unwrap_or_default();
    let _ = write!(s, "master_host:{host}\r\nmaster_port:{port}\r\n");
    let up = state == LinkState::Connected;
    let _ = write!(
        s,
        "master_link_status:{}\r\n",
        if up { "up" } else { "down" }
    );
    let last_io = if inner.linked {
        secs(inner.last_io_ms)
    } else {
        -1
    };
    let _ = write!(s, "master_last_io_seconds_ago:{last_io}\r\n");
    let syncing = state == LinkState::Transfer;
    let _ = write!(s, "master_sync_in_progress:{}\r\n", syncing as i32);
    let _ = write!(
        s,
        "slave_read_repl_offset:{}\r\nslave_repl_offset:{}\r\n",
        inner.read_reploff, inner.reploff
    );
    if syncing {
        let total = inner.transfer_size;
        let read = inner.transfer_read;
        let perc = if total > 0 {
            read as f64 / total as f64 * 100.0
        } else {
            0.0
        };
        let _ = write!(
            s,
            "master_sync_total_bytes:{total}\r\nmaster_sync_read_bytes:{read}\r\nmaster_sync_left_bytes:{}\r\nmaster_sync_perc:{perc:.2}\r\nmaster_sync_last_io_seconds_ago:{}\r\n",
            total - read,
            secs(inner.transfer_last_io_ms)
        );
    }
    if !up {
        let down = if inner.down_since_ms == 0 {
            -1
        } else {
            secs(inner.down_since_ms)
        };
        let _ = write!(s, "master_link_down_since_seconds:{down}\r\n");
    }
    let _ = write!(
        s,
        "slave_priority:{priority}\r\nslave_read_only:{}\r\nreplica_announced:{}\r\n",
        read_only as i32, announced as i32
    );
    true
}
