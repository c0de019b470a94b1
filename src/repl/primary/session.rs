//! A replica's session once PSYNC/SYNC handed its connection over:
//! partial or full resync, then the stream and the replica's ACKs.

use super::*;
use crate::config::keys as conf;

/// Serves a connection that became a replica, until it goes away.
pub async fn serve_replica<H: ReplHost, S: ReplicaSocket, C: ReplicaConn>(
    rt: &Rc<H>,
    stream: &mut S,
    client: &mut C,
    kill: &mut futures::channel::oneshot::Receiver<()>,
    mut hs: Handshake,
    start: Start,
) {
    let shared = rt.shared().clone();
    let id = client.id();
    let addr = client.addr().to_string();
    client.set_role(Some("replica"));
    let ip = hs.ip_address.clone().unwrap_or_else(|| peer_ip(&addr));
    let name = hs.replica_name(&addr);
    shared.repl().primary.replicas.lock().unwrap().insert(
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
    shared.count_replica(true);
    {
        let fd = std::os::fd::AsRawFd::as_raw_fd(&*stream);
        let (reader, writer) = stream.split();
        // What the replica sends is read for the whole session, as Redis's
        // read handler does: its ACKs, and anything else run as a client's
        // command (a reply disconnects it). Its first ACKs go to `acks`.
        let (acks, first_acks) = fmpsc::unbounded();
        let pending = std::mem::take(&mut hs.pending);
        let input = std::pin::pin!(read_input(&*shared, reader, client, id, pending, acks));
        let run = std::pin::pin!(replica_session(
            rt, writer, fd, first_acks, id, &name, &hs, start
        ));
        let _ = select(select(run, input), kill).await;
    }
    shared.count_replica(false);
    shared.log().with_repl(|r, _| {
        if let Some(b) = r.as_mut() {
            b.detach(id);
        }
    });
    {
        let mut replicas = shared.repl().primary.replicas.lock().unwrap();
        replicas.remove(&id);
        if replicas.is_empty() {
            let now = unix_ms() / 1000;
            shared
                .repl()
                .primary
                .no_replicas_since
                .store(now, Ordering::Relaxed);
        }
    }
    shared.repl().primary.wake_ack_waiters();
    client.set_role(None);
    crate::notice!("Connection with replica {addr} lost.");
}

/// The handshake's outcome, the transfer, then the stream, written
/// through `stream` (the socket is `fd`); `first_acks` hears of the
/// replica's ACKs until dropped.
#[allow(clippy::too_many_arguments)]
async fn replica_session<H: ReplHost, W: AsyncWrite + Unpin>(
    rt: &Rc<H>,
    mut stream: W,
    fd: std::os::fd::RawFd,
    mut first_acks: fmpsc::UnboundedReceiver<()>,
    id: u64,
    name: &str,
    hs: &Handshake,
    start: Start,
) {
    let stream = &mut stream;
    let shared = rt.shared().clone();
    let primary = &shared.repl().primary;
    ensure_backlog(&shared);
    let (diskless_conf,) = shared.read_config(|c| (c.flag(conf::REPL_DISKLESS_SYNC),));
    let psync = match &start {
        Start::Psync { replid, offset } => Some((replid.clone(), *offset)),
        Start::Sync => None,
    };
    // Partial resync when the history and the backlog allow it.
    if let Some((replid, offset)) = &psync {
        master_offset(&shared);
        let id_now = shared.repl().identity.lock().unwrap().clone();
        let attached = id_now.continues(replid, *offset)
            && shared.log().with_repl(|r, _| match r.as_mut() {
                Some(b) if b.holds(*offset) => {
                    b.attach(id, *offset);
                    true
                }
                _ => false,
            });
        if !attached {
            log_psync_refusal(&id_now, name, replid, *offset);
        }
        if attached {
            first_acks.close();
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
                "Partial resynchronization request from {name} accepted. Sending {} bytes of backlog starting from offset {}.",
                (id_now.offset + 1 - offset).max(0),
                offset
            );
            primary.update(id, |e| {
                e.state = ONLINE;
                e.ack_ms = unix_ms();
            });
            stream_to_replica(&*shared, stream, id, true).await;
            return;
        }
        if replid != "?" {
            primary.sync_partial_err.fetch_add(1, Ordering::Relaxed);
        }
    }
    primary.sync_full.fetch_add(1, Ordering::Relaxed);
    if let (true, Some(filter)) = (hs.rdb_only, hs.rdb_filter_only) {
        // No keys: an RDB made here of the libraries (or of nothing),
        // sent at once; nothing follows it. A replica that
        // stays (redis-cli --replica asks for no data) gets the whole
        // snapshot, which it skips.
        send_keyless(&*shared, stream, psync.is_some(), filter).await;
        return;
    }
    let eof = diskless_conf && hs.capa_eof;
    if !eof {
        // Only a diskless transfer waits for an ACK.
        first_acks.close();
    }
    // Diskless: the snapshot writer gets a duplicate of this socket; this
    // task stays off it from `ready` until the transfer is done.
    let mut handover = None;
    let socket = if eof {
        let Ok(fd) = socket_sink::dup(fd) else {
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
        // The writer streams `$EOF:` + RDB + mark to the socket now. The
        // state stays `wait_bgsave` until the save ends, as Redis's for a
        // socket target (`send_bulk` is a file being sent).
        let _ = ready_tx.send(true);
        // An RDB-only client has no stream cursor to watch.
        let watched = !hs.rdb_only;
        let dropped = std::pin::pin!(until_dropped(&*shared, id, watched));
        match select(events.next(), dropped).await {
            Either::Left((Some(JobEvent::Done(Ok(f))), _)) if sent.load(Ordering::Acquire) => {
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
        // The stream starts after the replica's first ACK (one sent during
        // the transfer counts), so the EOF mark is the last thing it reads
        // before loading.
        let limit = shared.read_config(|c| c.int(conf::REPL_TIMEOUT).max(1) as u64);
        let timer = glommio::timer::sleep(Duration::from_secs(limit));
        match select(first_acks.next(), std::pin::pin!(timer)).await {
            Either::Left((Some(()), _)) => {}
            _ => return,
        }
        first_acks.close();
    }
    stream_to_replica(&*shared, stream, id, psync.is_some()).await;
}

/// Why a PSYNC gets a full resync, in Redis's words
/// (masterTryPartialResynchronization).
fn log_psync_refusal(id: &crate::repl::ReplIdentity, name: &str, replid: &str, offset: i64) {
    if replid.starts_with('?') {
        crate::notice!("Full resync requested by replica {name}");
    } else if id.continues(replid, offset) {
        crate::notice!(
            "Unable to partial resync with replica {name} for lack of backlog (Replica request was: {offset})."
        );
        if offset > id.offset {
            crate::warning!(
                "Warning: replica {name} tried to PSYNC with an offset that is greater than the master replication offset."
            );
        }
    } else if replid != id.replid && replid != id.replid2 {
        crate::notice!(
            "Partial resynchronization not accepted: Replication ID mismatch (Replica asked for '{replid}', my replication IDs are '{}' and '{}')",
            id.replid,
            id.replid2
        );
    } else {
        crate::notice!(
            "Partial resynchronization not accepted: Requested offset for second ID was {offset}, but I can reply up to {}",
            id.second_offset
        );
    }
}

/// Resolves once replica `id`'s stream cursor is dropped: over its
/// output limits while the RDB is still on its way (what it lacks keeps
/// growing in the backlog meanwhile), as Redis closes such a replica.
async fn until_dropped<S: ReplShared + ?Sized>(shared: &S, id: u64, watched: bool) {
    if !watched {
        return futures::future::pending().await;
    }
    futures::future::poll_fn(|cx| {
        let dropped = shared.log().with_repl(|r, _| match r.as_mut() {
            Some(b) => b.watch_dropped(id, cx.waker()),
            None => true,
        });
        if dropped {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    })
    .await;
    log_dropped(id);
}

fn log_dropped(id: u64) {
    crate::warning!(
        "Client id={id} scheduled to be closed ASAP for overcoming of output buffer limits."
    );
}

/// Sends the RDB file as `$<len>` and its bytes (a diskless transfer
/// never has a file: socket_sink.rs sends it).
/// The RDB of a `REPLCONF rdb-filter-only` request (Redis leaves out
/// the keys, and the libraries unless "functions" is asked for), with
/// `+FULLRESYNC` first for a PSYNC.
async fn send_keyless<S: ReplShared + ?Sized, W: AsyncWrite + Unpin>(
    shared: &S,
    stream: &mut W,
    psync: bool,
    filter: super::RdbFilter,
) {
    master_offset(shared);
    let id_now = shared.repl().identity.lock().unwrap().clone();
    let extra = vec![
        ("repl-stream-db".to_string(), "0".to_string()),
        ("repl-id".to_string(), id_now.replid.clone()),
        ("repl-offset".to_string(), id_now.offset.to_string()),
    ];
    let rdb = crate::persist::rdb::file::keyless(unix_ms() / 1000, &extra, filter.functions);
    let mut out = Vec::with_capacity(rdb.len() + 64);
    if psync {
        out.extend_from_slice(
            format!("+FULLRESYNC {} {}\r\n", id_now.replid, id_now.offset).as_bytes(),
        );
    }
    // As a diskless transfer: `$EOF:<mark>`, the RDB, the mark.
    let mark = random_hex(40);
    out.extend_from_slice(format!("$EOF:{mark}\r\n").as_bytes());
    out.extend_from_slice(&rdb);
    out.extend_from_slice(mark.as_bytes());
    if stream.write_all(&out).await.is_ok() {
        shared
            .repl()
            .primary
            .repl_output_bytes
            .fetch_add(out.len() as u64, Ordering::Relaxed);
        crate::notice!("Streamed RDB transfer with replica succeeded");
    }
}

async fn send_rdb<W: AsyncWrite + Unpin>(
    stream: &mut W,
    path: &std::path::Path,
) -> std::io::Result<u64> {
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

/// Reads what the replica sends, `pending` first, until it goes away or
/// must be disconnected: REPLCONF ACKs (each also sent to `acks`), and
/// any other command run as a client's (Redis runs them too: one that
/// makes a reply disconnects the replica).
async fn read_input<S: ReplShared + ?Sized, R: AsyncRead + Unpin, C: ReplicaConn>(
    shared: &S,
    mut reader: R,
    client: &mut C,
    id: u64,
    pending: Vec<u8>,
    acks: fmpsc::UnboundedSender<()>,
) {
    let mut buf = pending;
    let mut chunk = vec![0u8; 4096];
    loop {
        if !handle_input(shared, client, id, &mut buf, &acks).await || buf.len() > 1 << 20 {
            return;
        }
        match reader.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
}

/// Runs the complete commands in `buf` (unparsed bytes stay); false when
/// the replica must be disconnected.
async fn handle_input<S: ReplShared + ?Sized, C: ReplicaConn>(
    shared: &S,
    client: &mut C,
    id: u64,
    buf: &mut Vec<u8>,
    acks: &fmpsc::UnboundedSender<()>,
) -> bool {
    let mut acked = false;
    let limits = crate::resp::Limits::default();
    let mut ranges = Vec::new();
    let mut scratch = Vec::new();
    let mut pos = 0;
    let mut keep = true;
    while keep && pos < buf.len() {
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
                let is_ack = args.len() >= 3
                    && args[0].eq_ignore_ascii_case(b"replconf")
                    && args[1].eq_ignore_ascii_case(b"ack");
                // A bad offset is ignored without a reply, as Redis.
                let ack = is_ack
                    .then(|| std::str::from_utf8(&args[2]).ok()?.parse::<i64>().ok())
                    .flatten();
                // One update (one lock of the replicas' table) per input.
                shared.repl().primary.update(id, |e| {
                    e.ack_ms = now;
                    if let Some(off) = ack {
                        e.ack_offset = e.ack_offset.max(off);
                    }
                });
                if ack.is_some() {
                    let _ = acks.unbounded_send(());
                    acked = true;
                }
                if !is_ack && !args.is_empty() {
                    // A newline (the keepalive of a loading replica) is
                    // no command.
                    let argv: Vec<&[u8]> = args.iter().map(Vec::as_slice).collect();
                    keep = client.command(&argv).await;
                }
            }
            Ok(crate::resp::Parsed::Incomplete { .. }) => break,
            Err(_) => {
                pos = buf.len();
            }
        }
    }
    buf.drain(..pos.min(buf.len()));
    if acked {
        shared.repl().primary.wake_ack_waiters();
    }
    keep
}

/// Streams the backlog to the replica from its cursor on (its ACKs are
/// read meanwhile by `read_input`), until it goes away, overflows, or
/// (when it sends `acks`) stays silent longer than `repl-timeout`.
async fn stream_to_replica<S: ReplShared + ?Sized, W: AsyncWrite + Unpin>(
    shared: &S,
    writer: &mut W,
    id: u64,
    acks: bool,
) {
    let writing = async {
        let mut out = Vec::with_capacity(64 * 1024);
        // The copy's memory is the replica's, left out of `maxmemory` with
        // the buffer, until this task ends (also when it is dropped
        // mid-write: a killed replica's bytes must not stay counted).
        let mut held = HeldCopy::new(&shared.repl().primary.in_flight);
        loop {
            let got = futures::future::poll_fn(|cx| {
                out.clear();
                let r = shared.log().with_repl(|r, _| match r.as_mut() {
                    Some(b) => b.read(id, &mut out, 1 << 20, cx.waker()),
                    None => Read::Detached,
                });
                match r {
                    Read::Pending => Poll::Pending,
                    other => Poll::Ready(other),
                }
            })
            .await;
            match got {
                Read::Dropped => {
                    log_dropped(id);
                    return;
                }
                Read::Detached => return,
                _ => {}
            }
            let primary = &shared.repl().primary;
            held.set(out.capacity());
            let written = writer.write_all(&out).await;
            if written.is_err() {
                return;
            }
            primary
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
            let limit = shared.read_config(|c| c.int(conf::REPL_TIMEOUT).max(1) as u64) * 1000;
            let last = shared
                .repl()
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
    let b = std::pin::pin!(writing);
    let c = std::pin::pin!(timeout);
    select(b, c).await;
}

/// Bytes a replica's task holds outside the replication buffer (its copy
/// of what it is sending), added to a shared counter while it lives.
struct HeldCopy<'a> {
    counter: &'a AtomicU64,
    bytes: u64,
}

impl<'a> HeldCopy<'a> {
    fn new(counter: &'a AtomicU64) -> HeldCopy<'a> {
        HeldCopy { counter, bytes: 0 }
    }

    fn set(&mut self, bytes: usize) {
        let bytes = bytes as u64;
        if bytes > self.bytes {
            self.counter
                .fetch_add(bytes - self.bytes, Ordering::Relaxed);
        } else {
            self.counter
                .fetch_sub(self.bytes - bytes, Ordering::Relaxed);
        }
        self.bytes = bytes;
    }
}

impl Drop for HeldCopy<'_> {
    fn drop(&mut self) {
        self.set(0);
    }
}
