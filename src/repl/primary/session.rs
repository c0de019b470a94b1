//! A replica's session once PSYNC/SYNC handed its connection over:
//! partial or full resync, then the stream and the replica's ACKs.

use super::*;
use crate::config::keys as conf;

/// Serves a connection that became a replica, until it goes away.
pub async fn serve_replica<H: ReplHost, S: ReplicaSocket>(
    rt: &Rc<H>,
    stream: &mut S,
    client: ReplicaClient<'_>,
    kill: &mut futures::channel::oneshot::Receiver<()>,
    hs: Handshake,
    start: Start,
) {
    let shared = rt.shared().clone();
    let id = client.id;
    client.role.set(Some("replica"));
    let ip = hs.ip_address.clone().unwrap_or_else(|| {
        client
            .addr
            .rsplit_once(':')
            .map(|(h, _)| h.trim_matches(|c| c == '[' || c == ']').to_string())
            .unwrap_or_default()
    });
    let name = replica_name(&ip, hs.listening_port);
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
    let run = std::pin::pin!(replica_session(rt, stream, id, &name, &hs, start));
    let _ = select(run, kill).await;
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
    client.role.set(None);
    crate::notice!("Connection with replica {} lost.", client.addr);
}

/// The handshake's outcome, the transfer, then the stream.
async fn replica_session<H: ReplHost, S: ReplicaSocket>(
    rt: &Rc<H>,
    stream: &mut S,
    id: u64,
    name: &str,
    hs: &Handshake,
    start: Start,
) {
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
    // What the replica sends before the stream starts (its first ACK).
    let mut early = Vec::new();
    if let Some((ready_tx, sent)) = handover {
        // The writer streams `$EOF:` + RDB + mark to the socket now. The
        // state stays `wait_bgsave` until the save ends, as Redis's for a
        // socket target (`send_bulk` is a file being sent).
        let _ = ready_tx.send(true);
        // An RDB-only client has no stream cursor to watch.
        let watched = !hs.rdb_only;
        let dropped = std::pin::pin!(until_dropped(&*shared, id, watched));
        let done = select(events.next(), dropped);
        match while_connected(stream, &mut early, done).await {
            Some(Either::Left((Some(JobEvent::Done(Ok(f))), _)))
                if sent.load(Ordering::Acquire) =>
            {
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
        let limit = shared.read_config(|c| c.int(conf::REPL_TIMEOUT).max(1) as u64);
        let mut buf = early;
        let first_ack = async {
            if handle_input(&shared, id, &mut buf) {
                return true;
            }
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

/// How Redis names a replica in its log: the address it announced (or
/// connected from) with its listening port.
fn replica_name(ip: &str, port: u16) -> String {
    if port == 0 {
        format!("{ip}:<unknown-replica-port>")
    } else if ip.contains(':') {
        format!("[{ip}]:{port}")
    } else {
        format!("{ip}:{port}")
    }
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

/// Waits for `fut` while reading what the replica sends into `early`, so
/// that a replica going away mid-transfer is let go at once (Redis frees
/// it from its read handler; the snapshot writer, with nothing to write
/// for a while, would not notice). None when the replica closed.
async fn while_connected<S: ReplicaSocket, F: std::future::Future>(
    stream: &mut S,
    early: &mut Vec<u8>,
    fut: F,
) -> Option<F::Output> {
    let mut fut = std::pin::pin!(fut);
    let mut chunk = [0u8; 1024];
    loop {
        match select(fut.as_mut(), stream.read(&mut chunk)).await {
            Either::Left((out, _)) => return Some(out),
            Either::Right((Ok(0) | Err(_), _)) => return None,
            Either::Right((Ok(n), _)) => early.extend_from_slice(&chunk[..n]),
        }
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
async fn send_rdb<S: ReplicaSocket>(
    stream: &mut S,
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

/// Parses what the replica sent (REPLCONF ACK, newlines); true when an
/// ACK was among it. Unparsed bytes stay in `buf`.
fn handle_input<S: ReplShared + ?Sized>(shared: &S, id: u64, buf: &mut Vec<u8>) -> bool {
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
                        shared.repl().primary.update(id, |e| {
                            e.ack_offset = e.ack_offset.max(off);
                            e.ack_ms = now;
                        });
                        acked = true;
                    }
                } else {
                    shared.repl().primary.update(id, |e| e.ack_ms = now);
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
        shared.repl().primary.wake_ack_waiters();
    }
    acked
}

/// Streams the backlog to the replica from its cursor on, reading its
/// ACKs meanwhile, until it goes away, overflows, or (when it sends
/// `acks`) stays silent longer than `repl-timeout`.
async fn stream_to_replica<S: ReplShared + ?Sized, T: ReplicaSocket>(
    shared: &S,
    stream: &mut T,
    id: u64,
    acks: bool,
) {
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
            primary
                .in_flight
                .fetch_add(out.len() as u64, Ordering::Relaxed);
            let written = writer.write_all(&out).await;
            primary
                .in_flight
                .fetch_sub(out.len() as u64, Ordering::Relaxed);
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
    let a = std::pin::pin!(reading);
    let b = std::pin::pin!(writing);
    let c = std::pin::pin!(timeout);
    select(select(a, b), c).await;
}
