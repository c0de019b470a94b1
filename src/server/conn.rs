//! One client connection: read, parse every complete request, run them
//! as a batch, write all replies with one write, repeat.

use super::client_mem;
use super::clients::ClientInfo;
use super::dispatch;
use super::input::{ReadEnd, MAX_UNAUTH_QUERY};
use super::requests::Requests;
use super::shard::{Settings, ShardRt};
use super::stream::ClientStream;
use super::unsent::{Pumping, Unsent};
use crate::persist::aof::log::FsyncPolicy;
use crate::resp::{Out, ProtocolError};
use crate::sys::clock::{unix_ms, unix_ms_coarse};
use futures::channel::oneshot;
use futures::future::{select, Either};
use futures::{AsyncReadExt, AsyncWriteExt};
use std::cell::Cell;
use std::rc::Rc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

/// The state of one connection that commands may read or change.
pub struct Conn {
    pub rt: Rc<ShardRt>,
    pub info: Rc<ClientInfo>,
    pub db: usize,
    /// Logged in (Redis's `c->authenticated`); whether AUTH is needed
    /// also depends on the default user ([`Conn::auth_required`]).
    pub authenticated: bool,
    /// The ACL user this connection runs as (acl/session.rs).
    pub user: super::acl::session::Session,
    /// Replies of the current batch; `out.resp3` is the protocol.
    pub out: Out,
    /// Close the connection once `out` is written (QUIT, protocol error,
    /// CLIENT KILL of oneself).
    pub close: bool,
    pub settings: Rc<Settings>,
    /// MULTI queue and WATCHed keys (transaction.rs).
    pub tx: super::transaction::TxState,
    /// Pub/Sub subscriptions and the message queue (pubsub.rs).
    pub pubsub: super::pubsub::ConnPubsub,
    /// Cluster mode: ASKING (one-shot) and READONLY flags.
    pub cluster: crate::cluster::routing::ClientFlags,
    /// The replica's master link (Redis's master client): may write on a
    /// read-only replica, and its replies are dropped (repl/replica).
    pub from_master: bool,
    /// Replication: what REPLCONF said; PSYNC/SYNC set `start`, and the
    /// connection is then served as a replica (repl/primary).
    pub repl: crate::repl::primary::Handshake,
    /// CLIENT REPLY: whether this batch's replies are sent.
    pub reply: ReplyMode,
    /// Where this batch's replies start in `out` (CLIENT REPLY ON drops
    /// what OFF silenced before it).
    pub reply_mark: usize,
    /// Planning's scratch route, kept so its buffers are reused
    /// (dispatch.rs).
    pub routed: super::route::Routed,
    /// Planning's tables, kept so their buffers are reused (dispatch.rs).
    pub plans: dispatch::PlanScratch,
    /// Replies and messages the socket has not taken yet (unsent.rs).
    pub unsent: Unsent,
    /// Since when `unsent` is over the normal class's soft limit.
    pub soft_since: Option<Instant>,
    /// The AOF offset the pending replies' writes reach: written to the
    /// file before they leave (0: nothing to wait for).
    pub aof_due: u64,
}

/// CLIENT REPLY ON|OFF|SKIP. A batch ends after CLIENT REPLY, and under
/// SKIP holds one request, so a mode covers whole batches.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub enum ReplyMode {
    #[default]
    On,
    Off,
    /// The next request's reply is dropped.
    Skip,
}

impl Conn {
    /// Redis's authRequired: not logged in while the default user has a
    /// password (or is off).
    pub fn auth_required(&self) -> bool {
        !self.authenticated && !self.rt.shared.acl.default_open()
    }

    /// Runs as ACL user `name` from now on (AUTH, HELLO AUTH; RESET and
    /// a deleted user go back to `default`, not logged in).
    pub fn login(&mut self, name: &[u8], authenticated: bool) {
        self.authenticated = authenticated;
        self.info.authenticated.set(authenticated);
        self.user.set(name);
        *self.info.user.borrow_mut() = name.to_vec();
    }

    pub fn set_db(&mut self, db: usize) {
        self.db = db;
        self.info.db.set(db);
    }

    /// CLIENT SETNAME, HELLO SETNAME, RESET (empty: no name).
    pub fn set_name(&mut self, name: &[u8]) {
        *self.info.name.borrow_mut() = name.to_vec();
        self.rt.shared.introspect.rename(self.info.id, name);
    }

    pub fn set_resp3(&mut self, resp3: bool) {
        self.out.resp3 = resp3;
        self.info.resp.set(if resp3 { 3 } else { 2 });
    }
}

/// Serves one accepted connection until it closes: read, parse every
/// complete request, run them as one batch, write the replies at once.
pub async fn serve(rt: Rc<ShardRt>, mut stream: ClientStream) {
    let settings = rt.settings();
    let info = new_client(&rt, &stream);
    let (kill_tx, mut kill_rx) = oneshot::channel::<()>();
    let pubsub = super::pubsub::ConnPubsub::new(info.clone());
    rt.clients.borrow_mut().add(pubsub.sub.clone(), kill_tx);
    stream.set_nodelay();

    let mut conn = Conn {
        rt: rt.clone(),
        info: info.clone(),
        db: 0,
        authenticated: rt.shared.acl.default_open(),
        user: Default::default(),
        out: Out::around(Vec::with_capacity(client_mem::REPLY_MIN), false),
        close: false,
        settings,
        tx: Default::default(),
        pubsub,
        cluster: Default::default(),
        from_master: false,
        repl: Default::default(),
        reply: ReplyMode::On,
        reply_mark: 0,
        routed: Default::default(),
        plans: Default::default(),
        unsent: Unsent::default(),
        soft_since: None,
        aof_due: 0,
    };
    info.mem.obuf_size.set(client_mem::REPLY_MIN);
    info.mem.obuf_peak_since.set(info.created_ms);
    info.mem.obuf_alloc.set(conn.out.buf.capacity());
    let mut req = Requests::default();
    loop {
        if !req.reparse && !read_requests(&mut conn, &mut req, &mut stream, &mut kill_rx).await {
            break;
        }
        req.reparse = false;
        let (end, protocol_error) = req.parse(&conn);
        if !req.argcs.is_empty() {
            // The argument and bounds vectors are the connection's, reused
            // batch after batch (no allocation per batch).
            let (mut argv, bounds) = req.take_tables();
            let (buf, scratch) = (req.input.data(), &req.scratch);
            argv.extend(
                req.args
                    .iter()
                    .map(|&(s, e, inline)| if inline { &scratch[s..e] } else { &buf[s..e] }),
            );
            let batch = dispatch::Batch::reusing(&argv, &req.argcs, bounds);
            let (filled, pending) = (buf.len(), &mut req.pending);
            let ok = run_requests(
                &mut conn,
                &batch,
                filled,
                &mut stream,
                &mut kill_rx,
                pending,
            )
            .await;
            let bounds = batch.into_bounds();
            req.put_tables(super::requests::forget_borrows(argv), bounds);
            if !ok {
                break;
            }
        }
        if let Some(e) = protocol_error {
            refuse_protocol(&mut conn, &e);
        }
        req.settle(end, &rt, &conn);
        // Invalidations the batch caused for clients of other shards are
        // in their queues before its replies leave (outbox.rs).
        if super::outbox::pending(&rt) {
            super::outbox::flush(&rt).await;
        }
        if !send_replies(&mut conn, &mut stream).await {
            break;
        }
        if conn.close || conn.repl.start.is_some() {
            // What a replica sent after PSYNC/SYNC and is not parsed yet
            // goes to its link (repl/primary/session.rs).
            if conn.repl.start.is_some() {
                conn.repl.pending.extend_from_slice(req.input.data());
            }
            // QUIT's reply, a replica's +FULLRESYNC: out before the end.
            let flush = std::pin::pin!(conn.unsent.flush(&mut stream));
            let _ = select(flush, &mut kill_rx).await;
            break;
        }
    }
    // What waits for the client goes at once, before the awaits of the
    // close: an evicted client's memory is free when the eviction pass
    // that chose it looks again (client_mem::evict_if_over).
    conn.unsent = Unsent::default();
    conn.out.buf = Vec::new();
    drop(conn.pubsub.sub.take());
    close_client(conn, stream, kill_rx).await;
}

/// A new connection's client record (CLIENT LIST, INFO), registered for
/// introspection.
fn new_client(rt: &ShardRt, stream: &ClientStream) -> Rc<ClientInfo> {
    let shared = &rt.shared;
    let id = shared.next_client_id.fetch_add(1, Ordering::Relaxed);
    let info = Rc::new(ClientInfo {
        laddr: stream.local_text(),
        unix_socket: stream.is_unix(),
        fd: std::os::fd::AsRawFd::as_raw_fd(stream),
        authenticated: Cell::new(shared.acl.default_open()),
        ..ClientInfo::new(id, stream.peer_text(), unix_ms())
    });
    shared.introspect.register(id, &info.addr);
    info
}

/// Waits for more request bytes, writing a subscriber's messages as they
/// come; false when the connection must close (hung up, idle past
/// `timeout`, killed, query buffer full, evicted).
async fn read_requests(
    conn: &mut Conn,
    req: &mut Requests,
    stream: &mut ClientStream,
    kill_rx: &mut oneshot::Receiver<()>,
) -> bool {
    let rt = conn.rt.clone();
    let info = conn.info.clone();
    // Before AUTH a connection may hold only a few KiB; an evictable
    // client no more than the whole client memory limit.
    let mut limit = if !conn.auth_required() {
        conn.settings.query_buffer_limit
    } else {
        MAX_UNAUTH_QUERY.min(conn.settings.query_buffer_limit)
    };
    let evict_limit = conn.settings.client_mem_limit;
    let capped = evict_limit > 0 && evict_limit < limit && client_mem::evictable(&info);
    if capped {
        limit = evict_limit;
    }
    // Pub/Sub: a subscriber also waits for messages and writes them out
    // as they arrive; subscribers never time out (Redis).
    let timeout = if conn.pubsub.active() {
        0
    } else {
        conn.settings.timeout_secs
    };
    let sub = conn.pubsub.sub.clone();
    let need = req.need;
    let n = loop {
        // One timer: the idle timeout, or sooner the end of the soft
        // output limit's time (unsent replies keep leaving meanwhile).
        let soft_left = soft_time_left(conn);
        if soft_left == Some(Duration::ZERO) {
            note_obuf_close(&info);
            return false;
        }
        let idle = (timeout > 0).then(|| Duration::from_secs(timeout));
        let wait = match (idle, soft_left) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let event = {
            let mut socket = Pumping {
                stream: &mut *stream,
                unsent: &mut conn.unsent,
                info: &info,
            };
            let read = std::pin::pin!(req.input.read_from(&mut socket, need, limit));
            let input = select(read, sub.ready());
            let timer = std::pin::pin!(async {
                match wait {
                    Some(d) => glommio::timer::sleep(d).await,
                    None => std::future::pending().await,
                }
            });
            match select(select(input, timer), &mut *kill_rx).await {
                Either::Left((Either::Left((Either::Left((r, _)), _)), _)) => Woke::Input(r),
                Either::Left((Either::Left((Either::Right(_), _)), _)) => Woke::Messages,
                Either::Left((Either::Right(_), _)) => Woke::Timer,
                Either::Right(_) => return false,
            }
        };
        match event {
            Woke::Input(r) => break r,
            Woke::Messages => {
                if sub.take_resize() {
                    resize_buffers(conn, req);
                }
                if !queue_messages(conn, &sub, stream) {
                    return false;
                }
            }
            // The soft limit's time is looked at again above.
            Woke::Timer if soft_left.is_some_and(|s| idle.is_none_or(|i| s < i)) => {}
            Woke::Timer => return false,
        }
    };
    let n = match n {
        Ok(n) => n,
        Err(ReadEnd::Closed) => return false,
        Err(ReadEnd::Full) if capped => {
            client_mem::note_evicted(&rt.shared.client_memory, &info, unix_ms());
            return false;
        }
        Err(ReadEnd::Full) => {
            crate::warning!(
                "Closing client that reached max query buffer length (qbuf={})",
                req.input.len()
            );
            return false;
        }
    };
    {
        let stats = &mut rt.core.borrow_mut().stats;
        stats.net_input_bytes += n as u64;
        stats.reads_processed += 1;
    }
    info.last_interaction_ms.set(unix_ms_coarse());
    conn.settings = rt.settings();
    info.mem
        .note_query_buffer(req.input.len(), req.input.capacity());
    if !within_client_memory(&rt, conn).await {
        return false;
    }
    true
}

/// Runs one batch of parsed requests (`filled` bytes of query buffer);
/// false when the client hung up, was killed or overflowed its query
/// buffer while a command of the batch was blocked.
async fn run_requests(
    conn: &mut Conn,
    batch: &dispatch::Batch<'_>,
    filled: usize,
    stream: &mut ClientStream,
    kill_rx: &mut oneshot::Receiver<()>,
    pending: &mut Vec<u8>,
) -> bool {
    let (rt, info) = (conn.rt.clone(), conn.info.clone());
    let shared = &rt.shared;
    let log_before = shared.aof.log.end();
    let reply_before = conn.reply;
    if client_mem::evict_if_over(&rt, conn.settings.client_mem_limit).await {
        if info.mem.evicted.get() {
            return false;
        }
        // The evicted clients free their buffers when their tasks run:
        // before keys are evicted for memory they held.
        crate::sys::exec::yield_now().await;
    }
    super::evict::before_batch(&rt, &conn.settings.memory).await;
    // Messages queued for this client before the batch (invalidations,
    // Pub/Sub) precede its replies, as in Redis's one reply buffer.
    conn.pubsub.sub.drain_into(&mut conn.out);
    // The cap covers what still waits unsent from earlier batches too.
    let cap = conn.settings.reply_cap_of(client_mem::evictable(&info));
    conn.out.set_cap(cap.saturating_sub(conn.unsent.bytes()));
    conn.reply_mark = conn.out.buf.len();
    info.qbuf.set(filled);
    let repl_before = shared.aof.log.repl_end();
    conn.repl.batch_start = repl_before;
    let room = conn.settings.query_buffer_limit.saturating_sub(filled);
    // Replies of earlier batches keep leaving while one blocks.
    let mut unsent = std::mem::take(&mut conn.unsent);
    let closed = {
        let run = std::pin::pin!(dispatch::run_batch(conn, batch));
        // A blocked command keeps the batch waiting: meanwhile watch the
        // socket (a client that hangs up is freed, as Redis does; what it
        // sends is kept for later, up to the query buffer limit) and
        // CLIENT KILL.
        let mut socket = Pumping {
            stream,
            unsent: &mut unsent,
            info: &info,
        };
        let watch = std::pin::pin!(watch_while_blocked(
            &info,
            &mut socket,
            kill_rx,
            pending,
            room
        ));
        matches!(select(run, watch).await, Either::Right(_))
    };
    conn.unsent = unsent;
    if closed {
        return false;
    }
    // CLIENT REPLY OFF / SKIP: the batch's replies are dropped.
    if reply_before != ReplyMode::On && conn.reply == reply_before {
        conn.out.buf.truncate(conn.reply_mark);
        if conn.reply == ReplyMode::Skip {
            conn.reply = ReplyMode::On;
        }
    }
    // WAIT: the stream offset after this connection's writes.
    let repl_after = shared.aof.log.repl_end();
    if repl_after != repl_before {
        conn.repl.woff = repl_after;
    }
    // appendfsync always: replies leave only once an fsync covers every
    // write logged meanwhile (one fsync serves all the connections
    // waiting on it).
    let log = &shared.aof.log;
    let log_end = log.end();
    if log_end != log_before && log.is_on() {
        if log.policy() == FsyncPolicy::Always {
            log.synced_to(log_end).await;
        } else {
            // everysec / no: written (not fsynced) before the replies
            // leave, once the pass's other batches ran (send_replies).
            conn.aof_due = log_end;
        }
    }
    true
}

/// A malformed request: Redis's protocol error, then the connection
/// closes once the replies before it are written.
fn refuse_protocol(conn: &mut Conn, e: &ProtocolError) {
    let mut msg = b"ERR Protocol error: ".to_vec();
    msg.extend_from_slice(&e.text());
    conn.out.error_bytes(&msg);
    crate::verbose!(
        "Protocol error ({}) from client: id={} addr={}",
        e.describe(),
        conn.info.id,
        conn.info.addr
    );
    conn.close = true;
}

/// Hands the batch's replies to the socket, behind what waits unsent;
/// what the socket does not take waits while the connection reads on.
/// False when the connection must close (output buffer limits, client
/// eviction, write error).
async fn send_replies(conn: &mut Conn, stream: &mut ClientStream) -> bool {
    let rt = conn.rt.clone();
    let info = conn.info.clone();
    let shared = &rt.shared;
    let total = conn.unsent.bytes() + conn.out.buf.len();
    // Past the normal class's hard limit (or the reply cap), counting what
    // waits unsent, the replies are dropped and the client closed, as
    // Redis's closeClientOnOutputBufferLimitReached; subscribers have
    // their own class (pubsub.rs). An evictable client's cap under
    // maxmemory-clients is the limit itself: it is evicted, as Redis
    // would once its output grew that big.
    if conn.out.over_cap() && !conn.pubsub.active() {
        let evict_limit = conn.settings.client_mem_limit;
        if evict_limit > 0 && total > evict_limit && client_mem::evictable(&info) {
            info.mem.obuf.set(total);
            client_mem::note_evicted(&shared.client_memory, &info, unix_ms());
        } else {
            note_obuf_close(&info);
        }
        return false;
    }
    info.mem
        .note_reply_buffer(total, conn.out.buf.len(), conn.out.buf.capacity());
    info.mem.watched.set(conn.tx.watched_count());
    if !within_client_memory(&rt, conn).await {
        return false;
    }
    if total == 0 {
        return true;
    }
    if !conn.out.buf.is_empty() {
        let stats = &mut rt.core.borrow_mut().stats;
        stats.net_output_bytes += conn.out.buf.len() as u64;
        stats.writes_processed += 1;
    }
    // Every other connection with input ready runs its batch first, so
    // this reactor pass's replies leave together, as Redis writes all of
    // an event loop's replies in beforeSleep: a client (redis-benchmark's
    // one epoll thread, a client library's) is then woken once for them,
    // not once per connection with time to fall asleep between sends. At
    // P=16 the wake-ups inside sendto were a quarter of the shard's CPU
    // (docs/benchmarks.md, flame graphs).
    crate::sys::exec::yield_before_send().await;
    if conn.aof_due > 0 {
        shared.aof.written_before_reply(conn.aof_due).await;
        conn.aof_due = 0;
    }
    // The polls for the next requests of this pass's connections go to
    // the kernel before any reply leaves: a client's next request can then
    // only arrive after its poll is armed, and the completions come in the
    // order the requests arrived, as Redis's epoll loop takes them (a
    // PUBLISH sent after another connection's PUNSUBSCRIBE runs after it).
    glommio::executor().submit_queued_io();
    let written = if conn.unsent.is_empty() {
        // The usual case: straight from the reply buffer, which is kept.
        match super::unsent::write_now(stream, &conn.out.buf) {
            Ok(n) if n == conn.out.buf.len() => true,
            Ok(n) => {
                let kept = Vec::with_capacity(info.mem.obuf_size.get());
                let rest = std::mem::replace(&mut conn.out.buf, kept);
                conn.unsent.push(rest, n);
                true
            }
            Err(_) => false,
        }
    } else {
        let kept = Vec::with_capacity(info.mem.obuf_size.get());
        let replies = std::mem::replace(&mut conn.out.buf, kept);
        conn.unsent.queue(replies);
        conn.unsent.send_now(stream).is_ok()
    };
    if !written {
        return false;
    }
    // Replies past the buffer's kept size go once written, as Redis
    // frees its reply list's blocks: the buffer itself stays at the size
    // the cron gives it (client_mem::reply_resize).
    conn.out.buf.clear();
    let kept = info.mem.obuf_size.get();
    if conn.out.buf.capacity() > kept {
        conn.out.buf.shrink_to(kept);
    }
    info.mem.obuf.set(conn.unsent.bytes());
    info.mem.obuf_alloc.set(conn.out.buf.capacity());
    client_mem::account(&shared.client_memory, &info, conn.settings.client_mem_limit);
    // A client that has not authenticated cannot make the server hold its
    // replies: Redis 7.0 (the fix of CVE-2025-21605, in Debian's 7.0.15)
    // closes it once more than its 16 KiB reply buffer waits unsent.
    if conn.auth_required() && conn.unsent.bytes() > UNAUTH_UNSENT {
        note_obuf_close(&info);
        return false;
    }
    // The soft limit's clock starts (or ends) here; its time runs out
    // while the connection waits for input.
    if soft_time_left(conn) == Some(Duration::ZERO) {
        note_obuf_close(&info);
        return false;
    }
    true
}

/// What may wait unsent for a client that has not authenticated: Redis's
/// fixed reply buffer.
const UNAUTH_UNSENT: usize = 16 * 1024;

/// The connection's end: a PSYNC/SYNC connection is served as a replica
/// first; then its subscriptions, WATCHes, tracking prefixes and client
/// record go.
async fn close_client(
    mut conn: Conn,
    mut stream: ClientStream,
    mut kill_rx: oneshot::Receiver<()>,
) {
    let (rt, info) = (conn.rt.clone(), conn.info.clone());
    let shared = &rt.shared;
    if let Some(start) = conn.repl.start.take() {
        let hs = std::mem::take(&mut conn.repl);
        // Boxed: its state would otherwise sit in every connection's task.
        Box::pin(crate::repl::primary::serve_replica(
            &rt,
            &mut stream,
            &mut conn,
            &mut kill_rx,
            hs,
            start,
        ))
        .await;
    }
    let _ = stream.close().await;
    // Drop this connection's subscriptions from the shard's registry.
    super::pubsub::forget(&mut conn.pubsub);
    // Forget this connection's WATCHed keys on their shards.
    Box::pin(super::transaction::unwatch_all(&mut conn)).await;
    // Drop BCAST prefixes on every shard (default-mode entries go lazily).
    Box::pin(super::tracking::disable(&rt, &info)).await;
    let id = info.id;
    rt.clients.borrow_mut().remove(id);
    client_mem::forget(&shared.client_memory, &info);
    if info.monitor.get() {
        shared.introspect.monitors.remove(id);
    }
    shared.introspect.forget(id);
    shared.connected_clients.fetch_sub(1, Ordering::Relaxed);
}

/// Updates the client's share of the clients' memory; at the limit,
/// evicts the largest clients. False when this one was evicted.
async fn within_client_memory(rt: &Rc<ShardRt>, conn: &Conn) -> bool {
    let limit = conn.settings.client_mem_limit;
    if client_mem::account(&rt.shared.client_memory, &conn.info, limit) {
        client_mem::evict(rt, limit).await;
    }
    !conn.info.mem.evicted.get()
}

/// Applies the buffer resizes the shard's cron asked for
/// (client_mem::resize_buffers), while the connection waits for input:
/// its reply buffer is empty then.
fn resize_buffers(conn: &mut Conn, req: &mut Requests) {
    let m = &conn.info.mem;
    if let Some(to) = m.qbuf_resize.take() {
        req.input.shrink_to(to);
        m.qbuf_alloc.set(req.input.capacity());
    }
    if let Some(to) = m.obuf_resize.take() {
        if conn.out.buf.is_empty() {
            conn.out.buf = Vec::with_capacity(to);
            m.obuf_size.set(to);
            m.obuf_alloc.set(conn.out.buf.capacity());
        }
    }
    let limit = conn.settings.client_mem_limit;
    client_mem::account(&conn.rt.shared.client_memory, &conn.info, limit);
}

/// What ended a wait for input.
enum Woke {
    Input(Result<usize, ReadEnd>),
    Messages,
    Timer,
}

/// Moves a subscriber's queued messages behind the unsent output and
/// hands the socket what it takes; false when the connection must close
/// (write error, or closed for its output buffer limit meanwhile).
fn queue_messages(
    conn: &mut Conn,
    sub: &super::pubsub::Subscriber,
    stream: &mut ClientStream,
) -> bool {
    if sub.is_closed() {
        return false;
    }
    let bytes = sub.take();
    if bytes.is_empty() {
        return true;
    }
    {
        let stats = &mut conn.rt.core.borrow_mut().stats;
        stats.net_output_bytes += bytes.len() as u64;
        stats.writes_processed += 1;
    }
    conn.unsent.queue(bytes);
    let ok = conn.unsent.send_now(stream).is_ok();
    conn.info.mem.obuf.set(conn.unsent.bytes());
    ok
}

/// How long the unsent output may stay over the normal class's soft
/// limit from now (None: it is not over, or no soft limit); starts the
/// clock when it just went over. Subscribers answer to the Pub/Sub class
/// (pubsub.rs).
fn soft_time_left(conn: &mut Conn) -> Option<Duration> {
    let soft = conn.settings.normal_obuf;
    if soft.soft == 0 || conn.pubsub.active() || conn.unsent.bytes() as u64 <= soft.soft {
        conn.soft_since = None;
        return None;
    }
    let since = *conn.soft_since.get_or_insert_with(Instant::now);
    Some(Duration::from_secs(soft.soft_secs).saturating_sub(since.elapsed()))
}

fn note_obuf_close(info: &ClientInfo) {
    crate::warning!(
        "Client id={} addr={} closed for overcoming of output buffer limits.",
        info.id,
        info.addr
    );
}

/// Resolves when the connection must close while a command of its batch
/// is blocked: the peer hung up, CLIENT KILL, or more than `room` bytes
/// arrived (the query buffer limit). Pending until the connection blocks;
/// input that arrives meanwhile goes to `pending`.
async fn watch_while_blocked(
    info: &ClientInfo,
    stream: &mut Pumping<'_>,
    kill: &mut oneshot::Receiver<()>,
    pending: &mut Vec<u8>,
    room: usize,
) {
    // On the heap, and only once the connection blocks: an array here
    // would sit in every connection's task.
    let mut chunk = Vec::new();
    loop {
        info.block.until_blocked().await;
        chunk.resize(4096, 0);
        let read = std::pin::pin!(stream.read(&mut chunk));
        match select(read, &mut *kill).await {
            Either::Left((Ok(n), _)) if n > 0 => {
                if pending.len() + n > room {
                    crate::warning!(
                        "Closing client that reached max query buffer length (qbuf={})",
                        pending.len() + n
                    );
                    return;
                }
                pending.extend_from_slice(&chunk[..n]);
            }
            // Hung up after the wait ended: the main loop sees it next.
            Either::Left(_) if !info.block.is_blocked() => continue,
            _ => return,
        }
    }
}
