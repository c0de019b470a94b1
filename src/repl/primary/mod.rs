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
//!
//! Files: this one holds the primary's state and what INFO, ROLE and
//! WAIT read; `session.rs` a replica's connection from PSYNC on;
//! `full_sync.rs` the sync jobs; `backlog_ttl.rs` freeing the backlog.

mod backlog_ttl;
mod full_sync;
mod session;

use crate::config::keys as conf;
use full_sync::{join_full_sync, JobEvent, SyncJob};
pub use session::serve_replica;

use crate::persist::aof::backlog::{Backlog, OutputLimits, Read};
use crate::persist::bgsave::socket_sink::{self, SocketOut, Sockets};
use crate::repl::host::{ReplHost, ReplShared, ReplicaConn, ReplicaSocket};
use crate::sys::clock::unix_ms;
use crate::sys::random::random_hex;
use futures::channel::mpsc as fmpsc;
use futures::future::{select, Either};
use futures::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, StreamExt};
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

/// What an RDB asked for with `REPLCONF rdb-filter-only` includes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RdbFilter {
    pub functions: bool,
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
    /// `REPLCONF rdb-filter-only <filters>`: the RDB leaves the keys out,
    /// and the function libraries too unless `functions` is among the
    /// filters (redis-cli --functions-rdb).
    pub rdb_filter_only: Option<RdbFilter>,
    /// Set by PSYNC / SYNC: the connection becomes a replica.
    pub start: Option<Start>,
    /// The replication offset after this connection's last batch that
    /// wrote something (Redis's `woff`, for WAIT; an upper bound, as
    /// other connections' writes may interleave).
    pub woff: i64,
    /// The replication offset when the current batch started: a WAIT
    /// after writes in the same batch waits for the offset at its call.
    pub batch_start: i64,
    /// What the connection sent after PSYNC/SYNC before it was handed
    /// over (the rest of its batch, re-encoded, and unparsed input): the
    /// replica's link reads it first.
    pub pending: Vec<u8>,
}

impl Handshake {
    /// How Redis names the replica in its log (replicationGetSlaveName):
    /// the address it announced, else the one it connected from (`peer`,
    /// `ip:port`), with its listening port.
    pub fn replica_name(&self, peer: &str) -> String {
        let ip = self.ip_address.clone().unwrap_or_else(|| peer_ip(peer));
        let port = self.listening_port;
        if port == 0 {
            format!("{ip}:<unknown-replica-port>")
        } else if ip.contains(':') {
            format!("[{ip}]:{port}")
        } else {
            format!("{ip}:{port}")
        }
    }

    /// The offset WAIT must see acknowledged for this connection.
    pub fn wait_target<S: ReplShared + ?Sized>(&self, shared: &S) -> i64 {
        let now = shared.log().repl_end();
        if now != self.batch_start {
            now
        } else {
            self.woff
        }
    }
}

/// The host part of a peer address `ip:port` (`[ip6]:port`).
pub fn peer_ip(peer: &str) -> String {
    peer.rsplit_once(':')
        .map(|(h, _)| h.trim_matches(|c| c == '[' || c == ']').to_string())
        .unwrap_or_default()
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
    /// Bytes the replicas' tasks hold for their copies of the stream
    /// being sent: part of what replicas hold, left out of `maxmemory`
    /// with the buffer itself (server/evict.rs).
    pub in_flight: AtomicU64,
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

    /// CONFIG RESETSTAT's part: the sync counters and bytes sent.
    pub fn reset_stats(&self) {
        for counter in [
            &self.sync_full,
            &self.sync_partial_ok,
            &self.sync_partial_err,
            &self.repl_output_bytes,
        ] {
            counter.store(0, Ordering::Relaxed);
        }
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
pub fn master_offset<S: ReplShared + ?Sized>(shared: &S) -> i64 {
    let end = shared.log().with_repl(|r, _| r.as_ref().map(Backlog::end));
    let mut id = shared.repl().identity.lock().unwrap();
    if let Some(end) = end {
        id.offset = end;
    }
    id.offset
}

/// The shared replication buffer's bytes (0 without a backlog).
pub fn buffer_bytes<S: ReplShared + ?Sized>(shared: &S) -> usize {
    shared
        .log()
        .with_repl(|r, _| r.as_ref().map_or(0, Backlog::held))
}

/// (active, size, first byte offset, histlen) of the backlog.
pub fn backlog_info<S: ReplShared + ?Sized>(shared: &S) -> (bool, usize, i64, i64) {
    shared.log().with_repl(|r, _| match r {
        Some(b) => (true, b.size(), b.first_byte(), b.histlen()),
        None => (false, 0, 0, 0),
    })
}

fn backlog_config<S: ReplShared + ?Sized>(shared: &S) -> (usize, OutputLimits) {
    shared.read_config(|c| {
        (
            c.int(conf::REPL_BACKLOG_SIZE).max(16 * 1024) as usize,
            OutputLimits::for_class(&c.text(conf::CLIENT_OUTPUT_BUFFER_LIMIT), "replica"),
        )
    })
}

/// Creates the backlog if there is none, with a new replication id and
/// no previous one (Redis does this when the first replica attaches).
fn ensure_backlog<S: ReplShared + ?Sized>(shared: &S) {
    if shared.log().repl_on() {
        return;
    }
    let (size, limits) = backlog_config(shared);
    let mut id = shared.repl().identity.lock().unwrap();
    shared.log().with_repl(|r, _| {
        if r.is_none() {
            id.replid = random_hex(40);
            id.replid2 = crate::repl::NO_REPLID.to_string();
            id.second_offset = -1;
            *r = Some(Backlog::new(id.offset, size, limits));
        }
    });
}

/// A backlog from the identity's offset, keeping its ids. A replica's,
/// under its master's replid: kept whether or not it has sub-replicas,
/// so that once promoted it can continue its old master's and
/// sub-replicas' PSYNCs (Redis creates it after every sync). Also a
/// restarted master's, continuing the history its RDB recorded.
pub fn ensure_replica_backlog<S: ReplShared + ?Sized>(shared: &S) {
    if shared.log().repl_on() {
        return;
    }
    let (size, limits) = backlog_config(shared);
    let id = shared.repl().identity.lock().unwrap();
    shared.log().with_repl(|r, _| {
        if r.is_none() {
            *r = Some(Backlog::new(id.offset, size, limits));
        }
    });
}

/// INFO replication after the role lines (command/info.rs writes those):
/// replicas, ids, offsets and backlog, fields in 7.0's order.
pub fn write_master_info<S: ReplShared + ?Sized>(s: &mut String, shared: &S) {
    let offset = master_offset(shared);
    let id = shared.repl().identity.lock().unwrap().clone();
    let (active, _, first, histlen) = backlog_info(shared);
    let (size, min_write, max_lag) = shared.read_config(|c| {
        (
            c.int(conf::REPL_BACKLOG_SIZE),
            c.int(conf::MIN_REPLICAS_TO_WRITE),
            c.int(conf::MIN_REPLICAS_MAX_LAG),
        )
    });
    let primary = &shared.repl().primary;
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
        shared.repl().failover.state_name(),
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
pub fn role_master<S: ReplShared + ?Sized>(out: &mut crate::resp::Out, shared: &S) {
    let offset = master_offset(shared);
    let replicas: Vec<ReplicaEntry> = shared
        .repl()
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
pub fn enough_replicas<S: ReplShared + ?Sized>(shared: &S, to_write: usize, max_lag: u64) -> bool {
    to_write == 0 || shared.repl().primary.good(max_lag) >= to_write
}

/// WAIT numreplicas timeout-ms: the replicas that acknowledged offset
/// `target` (the client's last write), waiting up to `timeout_ms`
/// (0: forever) for `want` of them.
pub async fn wait_acks<S: ReplShared + ?Sized>(
    shared: &S,
    target: i64,
    want: usize,
    timeout_ms: u64,
) -> usize {
    let primary = &shared.repl().primary;
    let n = primary.acked(target);
    if n >= want {
        return n;
    }
    if !shared.writes_paused() {
        shared.log().feed_repl_only(GETACK);
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

/// Closes every replica connection (for a node about to follow a
/// master, or whose history changed: its replicas must resync). Their
/// tasks clean up after them.
pub async fn disconnect_replicas<H: ReplHost>(rt: &Rc<H>) -> usize {
    detach_replicas(&**rt.shared());
    H::disconnect_replicas(rt).await
}

/// Stops the stream to every replica at once: closing their connections
/// takes a while, and a byte fed meanwhile (under a new history id)
/// would take them past the offset up to which they can continue.
pub fn detach_replicas<S: ReplShared + ?Sized>(shared: &S) {
    shared.log().with_repl(|r, wake| {
        if let Some(b) = r.as_mut() {
            b.detach_all(wake);
        }
    });
}

/// Frees the backlog (replicas gone, or the node now follows a master
/// and will build its own from the master's stream). The master offset
/// is kept in the identity.
pub fn free_backlog<S: ReplShared + ?Sized>(shared: &S) {
    let end = shared.log().with_repl(|r, _| r.take().map(|b| b.end()));
    if let Some(end) = end {
        shared.repl().identity.lock().unwrap().offset = end;
    }
}

/// Feeds PING into the stream every `repl-ping-replica-period` seconds
/// while replicas are attached (runs on shard 0).
pub async fn cron<H: ReplHost>(rt: Rc<H>) {
    let mut elapsed = 0u64;
    loop {
        glommio::timer::sleep(Duration::from_secs(1)).await;
        let shared = &**rt.shared();
        backlog_ttl::check(shared);
        if !shared.log().repl_on() {
            continue;
        }
        elapsed += 1;
        let period = shared.read_config(|c| c.int(conf::REPL_PING_REPLICA_PERIOD).max(1) as u64);
        let ping = elapsed >= period;
        if ping {
            elapsed = 0;
        }
        // CONFIG SET of the backlog size or the replica limits applies
        // within a second.
        let (size, limits) = backlog_config(shared);
        let proxying = shared.log().proxying();
        shared.log().with_repl(|r, wake| {
            if let Some(b) = r.as_mut() {
                b.set_config(size, limits, wake);
                // Not while writes are paused: a manual failover waits
                // for a master offset that must not move. Not on a replica
                // either: its sub-replicas get its master's stream as it
                // is, or their offsets would run ahead of that master's
                // (Redis's replicationFeedSlaves returns on a replica).
                if ping && b.replicas() > 0 && !shared.failover_pause_active() && !proxying {
                    b.feed(None, PING, wake);
                }
            }
        });
    }
}
