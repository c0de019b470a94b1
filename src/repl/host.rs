//! What replication asks of the engine it runs in. repl holds the
//! protocol — the handshakes, partial and full resync, the backlog's
//! readers, the master link, FAILOVER — and reaches the engine only
//! through these traits; the server implements them
//! (server/repl_host.rs). repl's functions are generic over them, so
//! every call is static: nothing here is dynamic dispatch.
//!
//! - [`ReplShared`]: the process-wide state every executor sees (the
//!   server's `Shared`): the replication state, the write log, the
//!   configuration, the write pause.
//! - [`ReplHost`]: one executor of the engine (the server's `ShardRt`):
//!   what replication has done on every shard (closing replicas,
//!   snapshotting, replacing the dataset) and the master client.
//! - [`MasterClient`]: the replica's client through which the master's
//!   stream runs as commands.
//! - [`SyncRequester`]: the connection that sent PSYNC or SYNC.
//! - [`ReplicaSocket`], [`ReplicaConn`]: the connection a replica is
//!   served on: its socket, and its client, which runs what it sends.

use super::Repl;
use crate::config::Config;
use crate::persist::aof::log::AofLog;
use crate::persist::bgsave::{AtStart, SnapshotSlot, SnapshotStats};
use crate::persist::rdb::file::LoadedKey;
use futures::{AsyncRead, AsyncWrite};
use std::future::Future;
use std::os::fd::AsRawFd;
use std::path::Path;
use std::rc::Rc;
use std::sync::{Arc, RwLock};

/// The process-wide state replication reads and changes.
pub trait ReplShared: Send + Sync + 'static {
    /// This node's replication state, both roles.
    fn repl(&self) -> &Repl;

    /// The write log: the AOF's records, and the backlog under its lock.
    fn log(&self) -> &AofLog;

    /// The configuration (REPLICAOF keeps `replicaof` in step with it).
    fn config(&self) -> &RwLock<Config>;

    /// Runs `f` on the configuration under its read lock.
    fn read_config<R>(&self, f: impl FnOnce(&Config) -> R) -> R {
        f(&self.config().read().unwrap())
    }

    /// Pauses client writes until `until_ms` (unix ms), FAILOVER's pause.
    fn pause_writes(&self, until_ms: u64);

    /// Ends the pause of `pause_writes`.
    fn unpause_writes(&self);

    /// Client writes are paused, by FAILOVER or CLIENT PAUSE.
    fn writes_paused(&self) -> bool;

    /// FAILOVER's (or a manual failover's) pause of writes is on.
    fn failover_pause_active(&self) -> bool;

    /// Writes are paused and none is in flight: the offset no longer moves.
    fn writes_settled(&self) -> bool;

    /// A client connection became a replica (`true`) or stopped being one
    /// (`false`): INFO's connected_clients leaves replicas out.
    fn count_replica(&self, attached: bool);
}

impl<T: ReplShared + ?Sized> ReplShared for Arc<T> {
    #[inline]
    fn repl(&self) -> &Repl {
        (**self).repl()
    }

    #[inline]
    fn log(&self) -> &AofLog {
        (**self).log()
    }

    #[inline]
    fn config(&self) -> &RwLock<Config> {
        (**self).config()
    }

    fn pause_writes(&self, until_ms: u64) {
        (**self).pause_writes(until_ms)
    }

    fn unpause_writes(&self) {
        (**self).unpause_writes()
    }

    #[inline]
    fn writes_paused(&self) -> bool {
        (**self).writes_paused()
    }

    #[inline]
    fn failover_pause_active(&self) -> bool {
        (**self).failover_pause_active()
    }

    fn writes_settled(&self) -> bool {
        (**self).writes_settled()
    }

    fn count_replica(&self, attached: bool) {
        (**self).count_replica(attached)
    }
}

/// One executor of the engine, on which replication's tasks run.
pub trait ReplHost: Sized + 'static {
    type Shared: ReplShared;
    type MasterClient: MasterClient;

    /// The process-wide state.
    fn shared(&self) -> &Arc<Self::Shared>;

    /// How many shards hold the data.
    fn nshards(&self) -> usize;

    /// Closes every replica connection of every shard (their tasks clean
    /// up after them); how many there were.
    fn disconnect_replicas(rt: &Rc<Self>) -> impl Future<Output = usize>;

    /// Ends every blocked command of every shard (blocked on keys or in
    /// WAIT) with an error, as a master becoming a replica does.
    fn unblock_for_role_change(rt: &Rc<Self>) -> impl Future<Output = ()>;

    /// The fork-less snapshot of a full sync, into `path` (not fsynced),
    /// `at_start` deciding the AUX fields and maybe the sockets at the
    /// snapshot instant, every shard held.
    fn snapshot_for_sync(
        rt: &Rc<Self>,
        slot: &SnapshotSlot,
        path: &Path,
        at_start: AtStart,
    ) -> impl Future<Output = Result<SnapshotStats, String>>;

    /// Replaces the dataset with the master's, holding every shard
    /// meanwhile: each is emptied, then given its keys (`per_shard[s]`).
    fn replace_dataset(rt: &Rc<Self>, per_shard: Vec<Vec<LoadedKey>>) -> impl Future<Output = ()>;

    /// Replaces the function libraries with the master's (their codes, as
    /// the RDB carries them); Err is why one failed to load.
    fn replace_functions(codes: &[Vec<u8>]) -> Result<(), String>;

    /// Keys in every database of every shard (Redis's
    /// `dbTotalServerKeyCount`: `repl-diskless-load on-empty-db`).
    fn key_count(rt: &Rc<Self>) -> impl Future<Output = usize>;

    /// Starts an AOF rewrite (the AOF starts over from a new dataset).
    fn rewrite_aof(rt: &Rc<Self>);

    /// The master client of a link to `addr`, its stream in database
    /// `db`: listed among this shard's clients (CLIENT LIST, CLIENT
    /// KILL) until dropped, its id made the master client's.
    fn master_client(rt: &Rc<Self>, addr: String, db: usize) -> Self::MasterClient;
}

/// The replica's "master client": the master's stream runs through it
/// as commands, whose replies are dropped, which may write on a
/// read-only replica.
pub trait MasterClient {
    /// Its selected database.
    fn db(&self) -> usize;

    /// Whether a MULTI of the stream is open.
    fn in_multi(&self) -> bool;

    /// Whether the command `name` opens (`Some(true)`) or ends
    /// (`Some(false)`) a transaction.
    fn transaction_edge(&self, name: &[u8]) -> Option<bool>;

    /// Whether CLIENT KILL closed it.
    fn killed(&mut self) -> bool;

    /// Whether a write pause holds these commands now (Redis 7.0
    /// postpones the master client too); while it does, the client
    /// counts as blocked.
    fn held(&mut self, argv: &[&[u8]], argcs: &[usize]) -> bool;

    /// Runs commands as one batch: `argv` holds their arguments in
    /// order, `argcs` how many each has.
    fn run<'a>(
        &'a mut self,
        argv: &'a [&'a [u8]],
        argcs: &'a [usize],
    ) -> impl Future<Output = ()> + 'a;
}

/// The connection that sent PSYNC or SYNC (failover::check_sync).
pub trait SyncRequester {
    type Host: ReplHost;

    /// The executor it runs on.
    fn host(&self) -> &Rc<Self::Host>;

    /// The client as CLIENT LIST shows it, at `now_ms`.
    fn describe(&self, now_ms: u64) -> String;
}

/// The socket of a client connection that became a replica.
pub trait ReplicaSocket: AsyncRead + AsyncWrite + AsRawFd + Unpin {
    /// TCP_NODELAY (nothing to do on a unix socket).
    fn set_nodelay(&self);
}

/// The client connection that became a replica (the server's `Conn`).
pub trait ReplicaConn {
    /// Its client id.
    fn id(&self) -> u64;

    /// `ip:port` of the peer.
    fn addr(&self) -> &str;

    /// Its role as CLIENT LIST shows it: `replica` while served.
    fn set_role(&self, role: Option<&'static str>);

    /// Runs a command the replica sent on its link (anything but
    /// REPLCONF ACK) as any client's. False when it made a reply, which
    /// the link cannot carry: the replica must then be disconnected
    /// (logged, as Redis 7.0 does).
    fn command<'a>(&'a mut self, argv: &'a [&'a [u8]]) -> impl Future<Output = bool> + 'a;
}
