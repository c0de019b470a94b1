//! The primary's side of replication: serving replicas.
//!
//! - A replica connects as a client, says `REPLCONF listening-port`,
//!   `capa eof psync2`, then `PSYNC <replid> <offset>` (or `SYNC`). The
//!   PSYNC handler only records the request; once its earlier replies are
//!   written the connection is handed to [`serve_replica`].
//! - The backlog (`persist/aof/backlog.rs`) lives under the write log's lock
//!   and is fed with exactly the AOF's records; it is created when the
//!   first replica attaches, with a new replication id (as Redis).
//! - Partial resync: `+CONTINUE <replid>` and the backlog from the
//!   asked offset on.
//! - Full resync: replicas join a sync job (waiting
//!   `repl-diskless-sync-delay` seconds for more, as Redis); the job takes
//!   the fork-less snapshot (persist/bgsave); at the snapshot instant,
//!   with every shard held, each joiner's stream cursor is placed right
//!   after the current offset, which is the FULLRESYNC offset and the
//!   RDB's `repl-offset`. Diskless (`repl-diskless-sync`, replica said
//!   `capa eof`): the snapshot writer sends `$EOF:<mark>` RDB `<mark>`
//!   straight to the replicas' sockets (socket_sink.rs), no file. Else
//!   the RDB goes to a temp file sent as `$<len>`. The stream follows
//!   (after the first ACK for EOF).
//! - After that, a replica's task copies stream bytes to its socket as
//!   they arrive (woken by the log) and reads its `REPLCONF ACK`s.
//! - A cron on shard 0 feeds `PING` every `repl-ping-replica-period`
//!   and frees the backlog after `repl-backlog-ttl` without replicas.

mod backlog_ttl;

use crate::persist::aof::backlog::{Backlog, OutputLimits, Read};
use crate::persist::bgsave::socket_sink::{self, SocketOut, Sockets};
use crate::server::clients::ClientInfo;
use crate::server::shard::ShardRt;
use crate::server::shared::Shared;
use crate::server::stream::ClientStream;
use crate::sys::clock::unix_ms;
use crate::sys::rand::random_hex;
use futures::channel::mpsc as fmpsc;
use futures::future::{select, Either};
use futures::{AsyncReadExt, AsyncWriteExt, StreamExt};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Poll, Waker};
use std::time::Duration;

/// A replica's state as INFO shows it.
pub const WAIT_BGSAVE: &str = "wait_bgsave";
pub const SEND_BULK: &str = "send_bulk";
pub const ONLINE: &str = "online";

/// The stream's keepalive, lower-case as Redis sends it.
pub const PING: &[u8] = b"*1\r\n$4\r\nping\r\n";
/// `REPLCONF GETACK *`.
pub const GETACK: &[u8] = b"*3\r\n$8\r\nREPLCONF\r\n$6\r\nGETACK\r\n$1\r\n*\r\n";

/// One connected replica, for INFO, ROLE, WAIT and min-replicas.
#[derive(Clone, Debug)]
pub struct ReplicaEntry {
    pub ip: String,
    pub port: u16,
    pub state: &'static str,
    /// Highest offset the replica acknowledged.
    pub ack_offset: i64,
    /// When the last ACK (or any input) arrived, Unix ms.
    pub ack_ms: u64,
}

/// What a connection learned from REPLCONF before PSYNC/SYNC.
#[derive(Clone, Debug, Default)]
pub struct Handshake {
    pub listening_port: u16,
    pub ip_address: Option<String>,
    pub capa_eof: bool,
    pub capa_psync2: bool,
    /// `REPLCONF rdb-only 1` (redis-cli --rdb): the RDB and nothing after.
    pub rdb_only: bool,
    /// Set by PSYNC / SYNC: the connection becomes a replica.
    pub start: Option<Start>,
    /// The replication offset after this connection's last batch that
    /// wrote something (Redis's `woff`, for WAIT; an upper bound, as
    /// other connections' writes may interleave).
    pub woff: i64,
    /// The replication offset when the current batch started: a WAIT
    /// after writes in the same batch waits for the offset at its call.
    pub batch_start: i64,
}

impl Handshake {
    /// The offset WAIT must see acknowledged for this connection.
    pub fn wait_target(&self, shared: &Shared) -> i64 {
        let now = shared.aof.log.repl_end();
        if now != self.batch_start {
            now
        } else {
            self.woff
        }
    }
}

/// How the replica asked to synchronize.
#[derive(Clone, Debug)]
pub enum Start {
    Psync {
        replid: String,
        offset: i64,
    },
    /// Old-style SYNC: full sync, no offsets, no `+FULLRESYNC` line.
    Sync,
}

/// The primary-side state shared by every executor.
#[derive(Default)]
pub struct Primary {
    replicas: Mutex<BTreeMap<u64, ReplicaEntry>>,
    pub sync_full: AtomicU64,
    pub sync_partial_ok: AtomicU64,
    pub sync_partial_err: AtomicU64,
    /// Bytes sent to replicas (`total_net_repl_output_bytes`).
    pub repl_output_bytes: AtomicU64,
    /// The full sync that replicas may still join.
    job: Mutex<Option<Arc<SyncJob>>>,
    /// WAIT: clients waiting for ACKs.
    ack_waiters: Mutex<Vec<Waker>>,
    jobs: AtomicU64,
    /// Unix seconds since when no replica is attached (backlog_ttl.rs).
    no_replicas_since: AtomicU64,
}

impl Primary {
    /// A copy of the replicas, by client id.
    pub fn replicas(&self) -> Vec<ReplicaEntry> {
        self.replicas.lock().unwrap().values().cloned().collect()
    }

    fn update(&self, id: u64, f: impl FnOnce(&mut ReplicaEntry)) {
        if let Some(e) = self.replicas.lock().unwrap().get_mut(&id) {
            f(e);
        }
    }

    /// Online replicas that acknowledged `offset` or more.
    pub fn acked(&self, offset: i64) -> usize {
        self.replicas
            .lock()
            .unwrap()
            .values()
            .filter(|r| r.state == ONLINE && r.ack_offset >= offset)
            .count()
    }

    /// Online replicas whose last ACK is at most `max_lag` seconds old
    /// (`min_slaves_good_slaves`).
    pub fn good(&self, max_lag: u64) -> usize {
        let now = unix_ms();
        self.replicas
            .lock()
            .unwrap()
            .values()
            .filter(|r| r.state == ONLINE && now.saturating_sub(r.ack_ms) / 1000 <= max_lag)
            .count()
    }

    fn wake_ack_waiters(&self) {
        let w = std::mem::take(&mut *self.ack_waiters.lock().unwrap());
        for w in w {
            w.wake();
        }
    }
}

/// The master offset: the backlog's end while it exists, else the last
/// one recorded in the identity. Also refreshes `identity.offset`.
pub fn master_offset(shared: &Shared) -> i64 {
    let end = shared
        .aof
        .log
        .with_repl(|r, _| r.as_ref().map(Backlog::end));
    let mut id = shared.repl.identity.lock().unwrap();
    if let Some(end) = end {
        id.offset = end;
    }
    id.offset
}

/// (active, size, first byte offset, histlen) of the backlog.
pub fn backlog_info(shared: &Shared) -> (bool, usize, i64, i64) {
    shared.aof.log.with_repl(|r, _| match r {
        Some(b) => (true, b.size(), b.first_byte(), b.histlen()),
        None => (false, 0, 0, 0),
    })
}

fn backlog_config(shared: &Shared) -> (usize, OutputLimits) {
    shared.read_config(|c| {
        (
            c.get_i64("repl-backlog-size").max(16 * 1024) as usize,
            OutputLimits::for_class(&c.get_str("client-output-buffer-limit"), "replica"),
        )
    })
}

/// Creates the backlog if there is none, with a new replication id and
/// no previous one (Redis does this when the first replica attaches).
fn ensure_backlog(shared: &Shared) {
    if shared.aof.log.repl_on() {
        return;
    }
    let (size, limits) = backlog_config(shared);
    let mut id = shared.repl.identity.lock().unwrap();
    shared.aof.log.with_repl(|r, _| {
        if r.is_none() {
            id.replid = random_hex(40);
            id.replid2 = crate::repl::NO_REPLID.to_string();
            id.second_offset = -1;
            *r = Some(Backlog::new(id.offset, size, limits));
        }
    });
}

/// A replica's backlog, from its master's offset and under its master's
/// replid: kept whether or not it has sub-replicas, so that once
/// promoted it can continue its old master's and sub-replicas' PSYNCs
/// (Redis creates it after every sync).
pub fn ensure_replica_backlog(shared: &Shared) {
    if shared.aof.log.repl_on() {
        return;
    }
    let (size, limits) = backlog_config(shared);
    let id = shared.repl.identity.lock().unwrap();
    shared.aof.log.with_repl(|r, _| {
        if r.is_none() {
            *r = Some(Backlog::new(id.offset, size, limits));
        }
    });
}

/// INFO replication after the role lines (command/info.rs writes those):
/// replicas, ids, offsets and backlog, fields in 7.0's order.
pub fn write_master_info(s: &mut String, shared: &Shared) {
    let offset = master_offset(shared);
    let id = shared.repl.identity.lock().unwrap().clone();
    let (active, _, first, histlen) = backlog_info(shared);
    let (size, min_write, max_lag) = shared.read_config(|c| {
        (
            c.get_i64("repl-backlog-size"),
            c.get_i64("min-replicas-to-write"),
            c.get_i64("min-replicas-max-lag"),
        )
    });
    let primary = &shared.repl.primary;
    let replicas = primary.replicas();
    let now = unix_ms();
    let _ = write!(s, "connected_slaves:{}\r\n", replicas.len());
    if min_write > 0 && max_lag > 0 {
        let _ = write!(
            s,
            "min_slaves_good_slaves:{}\r\n",
            primary.good(max_lag as u64)
        );
    }
    for (i, r) in replicas.iter().enumerate() {
        let _ = write!(
            s,
            "slave{i}:ip={},port={},state={},offset={},lag={}\r\n",
            r.ip,
            r.port,
            r.state,
            r.ack_offset,
            now.saturating_sub(r.ack_ms) / 1000
        );
    }
    let _ = write!(
        s,
        "master_failover_state:{}\r\nmaster_replid:{}\r\nmaster_replid2:{}\r\nmaster_repl_offset:{}\r\nsecond_repl_offset:{}\r\nrepl_backlog_active:{}\r\nrepl_backlog_size:{}\r\nrepl_backlog_first_byte_offset:{}\r\nrepl_backlog_histlen:{}\r\n",
        shared.repl.failover.state_name(),
        id.replid,
        id.replid2,
        offset,
        id.second_offset,
        active as u8,
        size,
        if active { first } else { 0 },
        histlen
    );
}

/// ROLE for a master: `master`, the offset, `[ip, port, offset]` of each
/// online replica.
pub fn role_master(out: &mut crate::resp::Out, shared: &Shared) {
    let offset = master_offset(shared);
    let replicas: Vec<ReplicaEntry> = shared
        .repl
        .primary
        .replicas()
        .into_iter()
        .filter(|r| r.state == ONLINE)
        .collect();
    out.array(3);
    out.bulk(b"master");
    out.int(offset);
    out.array(replicas.len());
    for r in replicas {
        out.array(3);
        out.bulk(r.ip.as_bytes());
        out.bulk(r.port.to_string().as_bytes());
        out.bulk(r.ack_offset.to_string().as_bytes());
    }
}

/// `-NOREPLICAS` check for a write (min-replicas-to-write).
pub fn enough_replicas(shared: &Shared, to_write: usize, max_lag: u64) -> bool {
    to_write == 0 || shared.repl.primary.good(max_lag) >= to_write
}

/// WAIT numreplicas timeout-ms: the replicas that acknowledged offset
/// `target` (the client's last write), waiting up to `timeout_ms`
/// (0: forever) for `want` of them.
pub async fn wait_acks(shared: &Arc<Shared>, target: i64, want: usize, timeout_ms: u64) -> usize {
    let primary = &shared.repl.primary;
    let n = primary.acked(target);
    if n >= want {
        return n;
    }
    if !shared.write_pause.active() {
        shared.aof.log.feed_repl_only(GETACK);
    }
    let enough = futures::future::poll_fn(|cx| {
        let mut w = primary.ack_waiters.lock().unwrap();
        if primary.acked(target) >= want {
            return Poll::Ready(());
        }
        w.push(cx.waker().clone());
        Poll::Pending
    });
    if timeout_ms == 0 {
        enough.await;
    } else {
        let timer = glommio::timer::sleep(Duration::from_millis(timeout_ms));
        select(std::pin::pin!(enough), std::pin::pin!(timer)).await;
    }
    primary.acked(target)
}

/// The RDB file of a full sync, removed when the last sender is done.
struct RdbFile {
    path: PathBuf,
    /// The RDB's size.
    bytes: u64,
}

impl Drop for RdbFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

enum JobEvent {
    /// The snapshot instant: `+FULLRESYNC <replid> <offset>`.
    Started {
        replid: String,
        offset: i64,
    },
    Done(Result<Arc<RdbFile>, String>),
}

struct Joiner {
    id: u64,
    /// Gets the RDB only: no stream cursor.
    rdb_only: bool,
    tx: fmpsc::UnboundedSender<JobEvent>,
    /// Diskless: its socket, for the snapshot writer.
    socket: Option<SocketOut>,
}

/// A full sync being prepared: replicas join until the snapshot starts.
struct SyncJob {
    joiners: Mutex<Option<Vec<Joiner>>>,
    /// Whether it streams to sockets (`repl-diskless-sync`): the delay
    /// applies only then.
    diskless: bool,
}

/// Joins the pending full sync (or starts one) for replica `id`.
fn join_full_sync(
    rt: &Rc<ShardRt>,
    id: u64,
    rdb_only: bool,
    socket: Option<SocketOut>,
) -> fmpsc::UnboundedReceiver<JobEvent> {
    let diskless = socket.is_some();
    let shared = &rt.shared;
    let (tx, rx) = fmpsc::unbounded();
    let mut slot = shared.repl.primary.job.lock().unwrap();
    if let Some(job) = slot.as_ref() {
        if job.diskless == diskless {
            if let Some(j) = job.joiners.lock().unwrap().as_mut() {
                j.push(Joiner {
                    id,
                    rdb_only,
                    tx,
                    socket,
                });
                return rx;
            }
        }
    }
    let job = Arc::new(SyncJob {
        joiners: Mutex::new(Some(vec![Joiner {
            id,
            rdb_only,
            tx,
            socket,
        }])),
        diskless,
    });
    *slot = Some(job.clone());
    drop(slot);
    crate::sys::exec::spawn(run_job(rt.clone(), job)).detach();
    rx
}

/// Waits for more replicas (diskless), takes the snapshot, hands every
/// joiner its FULLRESYNC offset and then the file.
async fn run_job(rt: Rc<ShardRt>, job: Arc<SyncJob>) {
    let shared = rt.shared.clone();
    let (delay, max_replicas) = shared.read_config(|c| {
        (
            c.get_i64("repl-diskless-sync-delay").max(0) as u64,
            c.get_i64("repl-diskless-sync-max-replicas").max(0) as usize,
        )
    });
    if job.diskless && delay > 0 {
        let until = std::time::Instant::now() + Duration::from_secs(delay);
        while std::time::Instant::now() < until {
            let n = job.joiners.lock().unwrap().as_ref().map_or(0, Vec::len);
            if max_replicas > 0 && n >= max_replicas {
                break;
            }
            glommio::timer::sleep(Duration::from_millis(100)).await;
        }
    }
    // One snapshot at a time: wait for a BGSAVE or rewrite to finish.
    let slot = loop {
        if let Some(s) = crate::persist::bgsave::status::try_reserve(false) {
            break s;
        }
        glommio::timer::sleep(Duration::from_millis(100)).await;
    };
    {
        let mut current = shared.repl.primary.job.lock().unwrap();
        if current.as_ref().is_some_and(|j| Arc::ptr_eq(j, &job)) {
            *current = None;
        }
    }
    let n = shared.repl.primary.jobs.fetch_add(1, Ordering::Relaxed);
    let path = PathBuf::from(format!("temp-repl-{}-{n}.rdb", std::process::id()));
    crate::notice!(
        "Starting BGSAVE for SYNC with target: {}",
        if job.diskless {
            "replicas sockets"
        } else {
            "disk"
        }
    );
    let taken: Arc<Mutex<Vec<Joiner>>> = Arc::default();
    let at_start_job = job.clone();
    let at_start_taken = taken.clone();
    let at_start_shared = shared.clone();
    let diskless = job.diskless;
    let at_start: crate::persist::bgsave::AtStart = Box::new(move || {
        // Every shard is held: no record can slip in between.
        let mut joiners = at_start_job
            .joiners
            .lock()
            .unwrap()
            .take()
            .unwrap_or_default();
        // Replicas that went away meanwhile get no cursor.
        joiners.retain(|j| !j.tx.is_closed());
        let replid = at_start_shared.repl.identity.lock().unwrap().replid.clone();
        let offset = at_start_shared.aof.log.with_repl(|r, _| {
            // Freed meanwhile (the node turned replica): the joiners find
            // no cursor and disconnect.
            let b = r.as_mut()?;
            b.reset_db();
            let offset = b.end();
            for j in joiners.iter().filter(|j| !j.rdb_only) {
                b.attach(j.id, offset + 1);
            }
            Some(offset)
        });
        let offset = offset.unwrap_or_else(|| at_start_shared.repl.identity.lock().unwrap().offset);
        for j in &joiners {
            let _ = j.tx.unbounded_send(JobEvent::Started {
                replid: replid.clone(),
                offset,
            });
        }
        // Diskless: the writer sends the RDB to their sockets itself.
        let sockets = diskless.then(|| {
            let outs = joiners.iter_mut().filter_map(|j| j.socket.take()).collect();
            Sockets::new(outs, random_hex(40))
        });
        *at_start_taken.lock().unwrap() = joiners;
        let aux = vec![
            ("repl-stream-db".to_string(), "0".to_string()),
            ("repl-id".to_string(), replid),
            ("repl-offset".to_string(), offset.to_string()),
        ];
        (aux, sockets)
    });
    let result =
        crate::persist::bgsave::snapshot_reserved_aux(&rt, &slot, &path, at_start, false).await;
    drop(slot);
    let mut joiners = std::mem::take(&mut *taken.lock().unwrap());
    // A failure before the instant leaves them in the job.
    joiners.extend(job.joiners.lock().unwrap().take().unwrap_or_default());
    let event = match result {
        Ok(stats) => {
            crate::notice!(
                "Background RDB transfer started ({} keys, {} bytes)",
                stats.keys,
                stats.bytes
            );
            Ok(Arc::new(RdbFile {
                path,
                bytes: stats.bytes,
            }))
        }
        Err(e) => {
            crate::warning!("Full sync snapshot failed: {e}");
            let _ = std::fs::remove_file(&path);
            Err(e)
        }
    };
    for j in joiners {
        if j.tx.unbounded_send(JobEvent::Done(event.clone())).is_err() {
            // Gone before the end: drop its cursor (it may have been
            // attached after its task cleaned up).
            shared.aof.log.with_repl(|r, _| {
                if let Some(b) = r.as_mut() {
                    b.detach(j.id);
                }
            });
        }
    }
}

/// Closes every replica connection (for a node about to follow a
/// master: its replicas must resync). Their tasks clean up after them.
pub async fn disconnect_replicas(rt: &Rc<ShardRt>) -> usize {
    crate::server::mesh::run_on_all(rt, |rt| {
        rt.clients
            .borrow_mut()
            .kill(|c| c.repl_role.get() == Some("replica"))
    })
    .await
    .into_iter()
    .sum()
}

/// Frees the backlog (replicas gone, or the node now follows a master
/// and will build its own from the master's stream). The master offset
/// is kept in the identity.
pub fn free_backlog(shared: &Shared) {
    let end = shared.aof.log.with_repl(|r, _| r.take().map(|b| b.end()));
    if let Some(end) = end {
        shared.repl.identity.lock().unwrap().offset = end;
    }
}

/// Feeds PING into the stream every `repl-ping-replica-period` seconds
/// while replicas are attached (runs on shard 0).
pub async fn cron(rt: Rc<ShardRt>) {
    let mut elapsed = 0u64;
    loop {
        glommio::timer::sleep(Duration::from_secs(1)).await;
        let shared = &rt.shared;
        backlog_ttl::check(shared);
        if !shared.aof.log.repl_on() {
            continue;
        }
        elapsed += 1;
        let period = shared.read_config(|c| c.get_i64("repl-ping-replica-period").max(1) as u64);
        let ping = elapsed >= period;
        if ping {
            elapsed = 0;
        }
        // CONFIG SET of the backlog size or the replica limits applies
        // within a second.
        let (size, limits) = backlog_config(shared);
        shared.aof.log.with_repl(|r, wake| {
            if let Some(b) = r.as_mut() {
                b.set_config(size, limits);
                // Not while writes are paused: a manual failover waits
                // for a master offset that must not move.
                if ping && b.replicas() > 0 && !shared.write_pause.failover_active() {
                    b.feed(None, PING, wake);
                }
            }
        });
    }
}

/// Serves a connection that became a replica, until it goes away.
pub async fn serve_replica(
    rt: &Rc<ShardRt>,
    stream: &mut ClientStream,
    info: &Rc<ClientInfo>,
    kill: &mut futures::channel::oneshot::Receiver<()>,
    hs: Handshake,
    start: Start,
) {
    let shared = rt.shared.clone();
    let id = info.id;
    info.repl_role.set(Some("replica"));
    let ip = hs.ip_address.clone().unwrap_or_else(|| {
        info.addr
            .rsplit_once(':')
            .map(|(h, _)| h.trim_matches(|c| c == '[' || c == ']').to_string())
            .unwrap_or_default()
    });
    shared.repl.primary.replicas.lock().unwrap().insert(
        id,
        ReplicaEntry {
            ip,
            port: hs.listening_port,
            state: WAIT_BGSAVE,
            ack_offset: 0,
            ack_ms: unix_ms(),
        },
    );
    stream.set_nodelay();
    // INFO's connected_clients leaves replicas out, as Redis does.
    shared.connected_clients.fetch_sub(1, Ordering::Relaxed);
    let run = std::pin::pin!(replica_session(rt, stream, id, &hs, start));
    let _ = select(run, kill).await;
    shared.connected_clients.fetch_add(1, Ordering::Relaxed);
    shared.aof.log.with_repl(|r, _| {
        if let Some(b) = r.as_mut() {
            b.detach(id);
        }
    });
    {
        let mut replicas = shared.repl.primary.replicas.lock().unwrap();
        replicas.remove(&id);
        if replicas.is_empty() {
            let now = unix_ms() / 1000;
            shared
                .repl
                .primary
                .no_replicas_since
                .store(now, Ordering::Relaxed);
        }
    }
    shared.repl.primary.wake_ack_waiters();
    info.repl_role.set(None);
    crate::notice!("Connection with replica {} lost.", info.addr);
}

/// The handshake's outcome, the transfer, then the stream.
async fn replica_session(
    rt: &Rc<ShardRt>,
    stream: &mut ClientStream,
    id: u64,
    hs: &Handshake,
    start: Start,
) {
    let shared = rt.shared.clone();
    let primary = &shared.repl.primary;
    ensure_backlog(&shared);
    let (diskless_conf,) = shared.read_config(|c| (c.get_bool("repl-diskless-sync"),));
    let psync = match &start {
        Start::Psync { replid, offset } => Some((replid.clone(), *offset)),
        Start::Sync => None,
    };
    // Partial resync when the history and the backlog allow it.
    if let Some((replid, offset)) = &psync {
        master_offset(&shared);
        let id_now = shared.repl.identity.lock().unwrap().clone();
        let attached = replid != "?"
            && id_now.continues(replid, *offset)
            && shared.aof.log.with_repl(|r, _| match r.as_mut() {
                Some(b) if b.holds(*offset) => {
                    b.attach(id, *offset);
                    true
                }
                _ => false,
            });
        if attached {
            primary.sync_partial_ok.fetch_add(1, Ordering::Relaxed);
            let line = if hs.capa_psync2 {
                format!("+CONTINUE {}\r\n", id_now.replid)
            } else {
                "+CONTINUE\r\n".to_string()
            };
            if stream.write_all(line.as_bytes()).await.is_err() {
                return;
            }
            crate::notice!(
                "Partial resynchronization request from replica accepted. Sending {} bytes of backlog starting from offset {}.",
                (id_now.offset + 1 - offset).max(0),
                offset
            );
            primary.update(id, |e| {
                e.state = ONLINE;
                e.ack_ms = unix_ms();
            });
            stream_to_replica(&shared, stream, id, true).await;
            return;
        }
        if replid != "?" {
            primary.sync_partial_err.fetch_add(1, Ordering::Relaxed);
        }
    }
    primary.sync_full.fetch_add(1, Ordering::Relaxed);
    let eof = diskless_conf && hs.capa_eof;
    // Diskless: the snapshot writer gets a duplicate of this socket; this
    // task stays off it from `ready` until the transfer is done.
    let mut handover = None;
    let socket = if eof {
        let Ok(fd) = socket_sink::dup(std::os::fd::AsRawFd::as_raw_fd(&*stream)) else {
            return;
        };
        let (ready_tx, ready) = std::sync::mpsc::channel();
        let sent = Arc::new(std::sync::atomic::AtomicBool::new(false));
        handover = Some((ready_tx, sent.clone()));
        Some(SocketOut { fd, ready, sent })
    } else {
        None
    };
    let mut events = join_full_sync(rt, id, hs.rdb_only, socket);
    // Until the snapshot instant, a newline each second keeps the
    // replica's read timeout away (it treats it as "alive").
    let offset = loop {
        let tick = glommio::timer::sleep(Duration::from_secs(1));
        match select(events.next(), std::pin::pin!(tick)).await {
            Either::Left((Some(JobEvent::Started { replid, offset }), _)) => {
                if psync.is_some() {
                    let line = format!("+FULLRESYNC {replid} {offset}\r\n");
                    if stream.write_all(line.as_bytes()).await.is_err() {
                        return;
                    }
                }
                break offset;
            }
            Either::Left(_) => return,
            Either::Right(_) => {
                if stream.write_all(b"\n").await.is_err() {
                    return;
                }
            }
        }
    };
    crate::notice!("Full resync requested by replica; FULLRESYNC offset {offset}");
    if let Some((ready_tx, sent)) = handover {
        // The writer streams `$EOF:` + RDB + mark to the socket now.
        primary.update(id, |e| e.state = SEND_BULK);
        let _ = ready_tx.send(true);
        match events.next().await {
            Some(JobEvent::Done(Ok(f))) if sent.load(Ordering::Acquire) => {
                // `$EOF:<40>\r\n`, the RDB, the 40-byte mark.
                let framed = 5 + 40 + 2 + f.bytes + 40;
                primary
                    .repl_output_bytes
                    .fetch_add(framed, Ordering::Relaxed);
            }
            _ => return,
        }
    } else {
        // The file, keeping the link alive meanwhile: before the `$` line
        // a replica takes a bare newline as "alive" in both framings.
        let file = loop {
            let tick = glommio::timer::sleep(Duration::from_secs(1));
            match select(events.next(), std::pin::pin!(tick)).await {
                Either::Left((Some(JobEvent::Done(Ok(f))), _)) => break f,
                Either::Left(_) => return,
                Either::Right(_) => {
                    if stream.write_all(b"\n").await.is_err() {
                        return;
                    }
                }
            }
        };
        primary.update(id, |e| e.state = SEND_BULK);
        match send_rdb(stream, &file.path).await {
            Ok(n) => {
                primary.repl_output_bytes.fetch_add(n, Ordering::Relaxed);
            }
            Err(_) => return,
        }
        drop(file);
    }
    if hs.rdb_only {
        // Nothing follows the RDB; the link closes.
        crate::notice!("Streamed RDB transfer with replica succeeded");
        return;
    }
    crate::notice!("Synchronization with replica succeeded");
    primary.update(id, |e| {
        e.state = ONLINE;
        e.ack_ms = unix_ms();
    });
    if eof {
        // The stream starts after the replica's first ACK, so the EOF
        // mark is the last thing it reads before loading.
        let limit = shared.read_config(|c| c.get_i64("repl-timeout").max(1) as u64);
        let mut buf = Vec::new();
        let first_ack = async {
            loop {
                let mut chunk = [0u8; 4096];
                match stream.read(&mut chunk).await {
                    Ok(0) | Err(_) => return false,
                    Ok(n) => buf.extend_from_slice(&chunk[..n]),
                }
                if handle_input(&shared, id, &mut buf) {
                    return true;
                }
            }
        };
        let timer = glommio::timer::sleep(Duration::from_secs(limit));
        match select(std::pin::pin!(first_ack), std::pin::pin!(timer)).await {
            Either::Left((true, _)) => {}
            _ => return,
        }
    }
    stream_to_replica(&shared, stream, id, psync.is_some()).await;
}

/// Sends the RDB file as `$<len>` and its bytes (a diskless transfer
/// never has a file: socket_sink.rs sends it).
async fn send_rdb(stream: &mut ClientStream, path: &std::path::Path) -> std::io::Result<u64> {
    use std::io::Read as _;
    let mut file = std::fs::File::open(path)?;
    let len = file.metadata()?.len();
    let head = format!("${len}\r\n");
    stream.write_all(head.as_bytes()).await?;
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        stream.write_all(&buf[..n]).await?;
    }
    Ok(head.len() as u64 + len)
}

/// Parses what the replica sent (REPLCONF ACK, newlines); true when an
/// ACK was among it. Unparsed bytes stay in `buf`.
fn handle_input(shared: &Shared, id: u64, buf: &mut Vec<u8>) -> bool {
    let mut acked = false;
    let limits = crate::resp::Limits::default();
    let mut ranges = Vec::new();
    let mut scratch = Vec::new();
    let mut pos = 0;
    while pos < buf.len() {
        match crate::resp::parse_command(
            &buf[pos..],
            &limits,
            &mut crate::resp::Progress::default(),
            &mut ranges,
            &mut scratch,
        ) {
            Ok(crate::resp::Parsed::Complete { consumed, inline }) => {
                let base = if inline { None } else { Some(pos) };
                let args: Vec<Vec<u8>> = ranges
                    .iter()
                    .map(|&(s, e)| match base {
                        Some(b) => buf[b + s..b + e].to_vec(),
                        None => scratch[s..e].to_vec(),
                    })
                    .collect();
                pos += consumed;
                scratch.clear();
                let now = unix_ms();
                if args.len() >= 3
                    && args[0].eq_ignore_ascii_case(b"replconf")
                    && args[1].eq_ignore_ascii_case(b"ack")
                {
                    if let Some(off) = std::str::from_utf8(&args[2])
                        .ok()
                        .and_then(|s| s.parse::<i64>().ok())
                    {
                        shared.repl.primary.update(id, |e| {
                            e.ack_offset = e.ack_offset.max(off);
                            e.ack_ms = now;
                        });
                        acked = true;
                    }
                } else {
                    shared.repl.primary.update(id, |e| e.ack_ms = now);
                }
            }
            Ok(crate::resp::Parsed::Incomplete { .. }) => break,
            Err(_) => {
                pos = buf.len();
            }
        }
    }
    buf.drain(..pos);
    if acked {
        shared.repl.primary.wake_ack_waiters();
    }
    acked
}

/// Streams the backlog to the replica from its cursor on, reading its
/// ACKs meanwhile, until it goes away, overflows, or (when it sends
/// `acks`) stays silent longer than `repl-timeout`.
async fn stream_to_replica(shared: &Arc<Shared>, stream: &mut ClientStream, id: u64, acks: bool) {
    let (mut reader, mut writer) = stream.split();
    let reading = async {
        let mut buf = Vec::new();
        let mut chunk = vec![0u8; 4096];
        loop {
            match reader.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
            handle_input(shared, id, &mut buf);
            if buf.len() > 1 << 20 {
                return;
            }
        }
    };
    let writing = async {
        let mut out = Vec::with_capacity(64 * 1024);
        loop {
            let got = futures::future::poll_fn(|cx| {
                out.clear();
                let r = shared.aof.log.with_repl(|r, _| match r.as_mut() {
                    Some(b) => b.read(id, &mut out, 1 << 20, cx.waker()),
                    None => Read::Dropped,
                });
                match r {
                    Read::Pending => Poll::Pending,
                    other => Poll::Ready(other),
                }
            })
            .await;
            if got == Read::Dropped {
                crate::warning!(
                    "Client id={id} scheduled to be closed ASAP for overcoming of output buffer limits."
                );
                return;
            }
            if writer.write_all(&out).await.is_err() {
                return;
            }
            shared
                .repl
                .primary
                .repl_output_bytes
                .fetch_add(out.len() as u64, Ordering::Relaxed);
        }
    };
    let timeout = async {
        if !acks {
            // An old SYNC replica never ACKs: no timeout (as Redis).
            return futures::future::pending::<()>().await;
        }
        loop {
            glommio::timer::sleep(Duration::from_secs(1)).await;
            let limit = shared.read_config(|c| c.get_i64("repl-timeout").max(1) as u64) * 1000;
            let last = shared
                .repl
                .primary
                .replicas
                .lock()
                .unwrap()
                .get(&id)
                .map_or(0, |e| e.ack_ms);
            if unix_ms().saturating_sub(last) > limit {
                crate::warning!("Disconnecting timedout replica (streaming sync)");
                return;
            }
        }
    };
    let a = std::pin::pin!(reading);
    let b = std::pin::pin!(writing);
    let c = std::pin::pin!(timeout);
    select(select(a, b), c).await;
}
