//! The engine as replication sees it (repl/host.rs): the process state
//! (`Shared`), a shard's executor (`ShardRt`) with what replication has
//! done on every shard, the replica's master client (a `Conn` whose
//! batches go through dispatch), the PSYNC connection and its socket.

use super::clients::ClientInfo;
use super::conn::Conn;
use super::dispatch;
use super::mesh;
use super::shard::ShardRt;
use super::shared::Shared;
use super::stream::ClientStream;
use crate::config::Config;
use crate::persist::aof::log::AofLog;
use crate::persist::bgsave::{AtStart, SnapshotSlot, SnapshotStats};
use crate::persist::rdb::file::LoadedKey;
use crate::repl::host::{MasterClient, ReplHost, ReplShared, ReplicaSocket, SyncRequester};
use crate::repl::Repl;
use crate::resp::Out;
use crate::sys::clock::unix_ms;
use futures::channel::oneshot;
use std::cell::Cell;
use std::path::Path;
use std::rc::Rc;
use std::sync::atomic::Ordering;
use std::sync::{Arc, RwLock};

impl ReplShared for Shared {
    #[inline]
    fn repl(&self) -> &Repl {
        &self.repl
    }

    #[inline]
    fn log(&self) -> &AofLog {
        &self.aof.log
    }

    #[inline]
    fn config(&self) -> &RwLock<Config> {
        &self.config
    }

    fn pause_writes(&self, until_ms: u64) {
        self.write_pause.pause(until_ms);
    }

    fn unpause_writes(&self) {
        self.write_pause.unpause();
    }

    #[inline]
    fn writes_paused(&self) -> bool {
        self.write_pause.active()
    }

    #[inline]
    fn failover_pause_active(&self) -> bool {
        self.write_pause.failover_active()
    }

    fn writes_settled(&self) -> bool {
        self.write_pause.settled()
    }

    fn count_replica(&self, attached: bool) {
        if attached {
            self.connected_clients.fetch_sub(1, Ordering::Relaxed);
        } else {
            self.connected_clients.fetch_add(1, Ordering::Relaxed);
        }
    }
}

impl ReplHost for ShardRt {
    type Shared = Shared;
    type MasterClient = MasterLink;

    #[inline]
    fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }

    fn nshards(&self) -> usize {
        self.nshards
    }

    async fn disconnect_replicas(rt: &Rc<ShardRt>) -> usize {
        mesh::run_on_all(rt, |rt| {
            rt.clients
                .borrow_mut()
                .kill(|c| c.repl_role.get() == Some("replica"))
        })
        .await
        .into_iter()
        .sum()
    }

    async fn unblock_for_role_change(rt: &Rc<ShardRt>) {
        mesh::run_on_all(rt, |rt| {
            for c in rt.clients.borrow().iter() {
                if let Some(w) = c.block.waiter() {
                    if w.claim() {
                        w.deliver(super::blocking::Wake::RoleChanged);
                    }
                }
            }
        })
        .await;
    }

    async fn snapshot_for_sync(
        rt: &Rc<ShardRt>,
        slot: &SnapshotSlot,
        path: &Path,
        at_start: AtStart,
    ) -> Result<SnapshotStats, String> {
        crate::persist::bgsave::snapshot_reserved_aux(rt, slot, path, at_start, false).await
    }

    fn replace_functions(codes: &[Vec<u8>]) -> Result<(), String> {
        super::script::library::restore(codes, super::script::library::Policy::Flush)
    }

    async fn replace_dataset(rt: &Rc<ShardRt>, per_shard: Vec<Vec<LoadedKey>>) {
        let shards: Vec<usize> = (0..rt.nshards).collect();
        let held = mesh::hold(rt, &shards).await;
        for (s, keys) in per_shard.into_iter().enumerate() {
            held.run(s, move |rt| {
                super::effects::apply_to_keyspace(
                    rt,
                    super::effects::KeyspaceChange::Flush {
                        db: None,
                        lazy: true,
                    },
                );
                let lru = rt.lru_clock();
                crate::persist::snapshot::install(&mut rt.core.borrow_mut().store, keys, lru);
            })
            .await;
        }
    }

    async fn key_count(rt: &Rc<ShardRt>) -> usize {
        let counts = mesh::run_on_all(rt, |rt| {
            let core = rt.core.borrow();
            core.store.dbs.iter().map(|db| db.len()).sum::<usize>()
        })
        .await;
        counts.iter().sum()
    }

    fn rewrite_aof(rt: &Rc<ShardRt>) {
        let _ = crate::persist::aof::rewrite::start(rt);
    }

    fn master_client(rt: &Rc<ShardRt>, addr: String, db: usize) -> MasterLink {
        let conn = master_conn(rt, addr, db);
        let (kill_tx, killed) = oneshot::channel();
        rt.clients
            .borrow_mut()
            .add(conn.pubsub.sub.clone(), kill_tx);
        MasterLink {
            killed,
            conn,
            held: None,
        }
    }
}

/// The replica's master client: listed among its shard's clients (CLIENT
/// LIST flag M, CLIENT KILL) until dropped.
pub struct MasterLink {
    /// Fires on CLIENT KILL.
    killed: oneshot::Receiver<()>,
    conn: Conn,
    /// In INFO blocked_clients while a pause holds it, as Redis's
    /// postponed clients.
    held: Option<super::blocking::CountBlocked>,
}

impl Drop for MasterLink {
    fn drop(&mut self) {
        self.conn.rt.clients.borrow_mut().remove(self.conn.info.id);
    }
}

impl MasterClient for MasterLink {
    #[inline]
    fn db(&self) -> usize {
        self.conn.db
    }

    #[inline]
    fn in_multi(&self) -> bool {
        self.conn.tx.in_multi()
    }

    #[inline]
    fn transaction_edge(&self, name: &[u8]) -> Option<bool> {
        dispatch::transaction_edge(name)
    }

    fn killed(&mut self) -> bool {
        !matches!(self.killed.try_recv(), Ok(None))
    }

    fn held(&mut self, argv: &[&[u8]], argcs: &[usize]) -> bool {
        let batch = dispatch::Batch::new(argv, argcs);
        let held = self
            .conn
            .rt
            .shared
            .write_pause
            .holds(&batch, &self.conn.tx, false);
        if !held {
            self.held = None;
        } else if self.held.is_none() {
            self.held = Some(super::blocking::CountBlocked::new());
        }
        held
    }

    async fn run<'a>(&'a mut self, argv: &'a [&'a [u8]], argcs: &'a [usize]) {
        let batch = dispatch::Batch::new(argv, argcs);
        let conn = &mut self.conn;
        conn.settings = conn.rt.settings();
        dispatch::run_batch(conn, &batch).await;
        super::master_errors::report(&conn.rt.shared.config, argv, argcs, &conn.out.buf);
        conn.out.buf.clear();
    }
}

/// The master client's connection: its commands go through the normal
/// routing, its replies are dropped, and it may write on a read-only
/// replica.
fn master_conn(rt: &Rc<ShardRt>, addr: String, db: usize) -> Conn {
    let shared = &rt.shared;
    let id = shared.next_client_id.fetch_add(1, Ordering::Relaxed);
    let info = Rc::new(ClientInfo {
        db: Cell::new(db),
        repl_role: Cell::new(Some("master")),
        ..ClientInfo::new(id, addr, unix_ms())
    });
    shared.repl.replica.set_master_client_id(info.id);
    let pubsub = super::pubsub::ConnPubsub::new(info.clone());
    Conn {
        rt: rt.clone(),
        info,
        db,
        authenticated: true,
        // Redis's master client has no user: no ACL check applies.
        user: super::acl::session::Session::internal(),
        out: Out::new(false),
        close: false,
        settings: rt.settings(),
        tx: Default::default(),
        pubsub,
        cluster: Default::default(),
        from_master: true,
        repl: Default::default(),
        reply: Default::default(),
        reply_mark: 0,
        plans: Default::default(),
        routed: Default::default(),
        unsent: Default::default(),
        soft_since: None,
        aof_due: 0,
    }
}

impl SyncRequester for Conn {
    type Host = ShardRt;

    fn host(&self) -> &Rc<ShardRt> {
        &self.rt
    }

    fn describe(&self, now_ms: u64) -> String {
        self.info.describe(now_ms)
    }
}

impl ReplicaSocket for ClientStream {
    fn set_nodelay(&self) {
        ClientStream::set_nodelay(self);
    }
}
