//! The master link (Redis's `connectWithMaster` / `syncWithMaster` /
//! `readSyncBulkPayload` and the master client): one task per REPLICAOF,
//! reconnecting every second until a newer REPLICAOF retires it.

use super::{load, sync, LinkState};
use crate::config::keys as conf;
use crate::repl::host::{MasterClient, ReplHost, ReplShared};
use crate::repl::NO_REPLID;
use crate::resp::{parse_command, Limits, Out, Parsed, Progress};
use crate::sys::clock::unix_ms;
use futures::future::{select, Either};
use futures::{AsyncReadExt, AsyncWriteExt};
use glommio::net::TcpStream;
use std::rc::Rc;
use std::time::Duration;

const SECOND: Duration = Duration::from_secs(1);

/// Runs the link of REPLICAOF number `generation` until it is replaced.
pub async fn run<H: ReplHost>(rt: Rc<H>, generation: u64) {
    loop {
        if !current(&rt, generation) {
            return;
        }
        let result = attempt(&rt, generation).await;
        if !current(&rt, generation) {
            return;
        }
        link_lost(&rt, generation);
        if let Err(e) = result {
            crate::warning!("{e}");
        }
        // Redis retries from its once-a-second replication cron.
        glommio::timer::sleep(SECOND).await;
    }
}

fn current<H: ReplHost>(rt: &Rc<H>, generation: u64) -> bool {
    rt.shared().repl().replica.inner.lock().unwrap().generation == generation
}

/// The link broke: the master client becomes the cached master, so the
/// next attempt resumes with PSYNC.
fn link_lost<H: ReplHost>(rt: &Rc<H>, generation: u64) {
    let st = &rt.shared().repl().replica;
    let mut inner = st.inner.lock().unwrap();
    if inner.generation != generation {
        return;
    }
    if inner.linked {
        crate::notice!("Connection with master lost.");
        super::cache_master(rt.shared(), &mut inner);
    }
    st.set_state(LinkState::Connect);
}

fn set_state<H: ReplHost>(rt: &Rc<H>, generation: u64, s: LinkState) -> Result<(), String> {
    let st = &rt.shared().repl().replica;
    let inner = st.inner.lock().unwrap();
    if inner.generation != generation {
        return Err("replication target changed".into());
    }
    st.set_state(s);
    Ok(())
}

/// The socket to the master with a read buffer.
struct Link {
    stream: TcpStream,
    buf: Vec<u8>,
    start: usize,
    end: usize,
    /// Bytes from `start` the pending request needs, when known (0: not).
    need: usize,
    timeout: Duration,
}

/// The link's read buffer between big requests.
const LINK_BUF: usize = 16 * 1024;

impl Link {
    /// Reads more bytes (waiting at most `wait`); Ok(None) on timeout.
    async fn fill_within(&mut self, wait: Duration) -> Result<Option<usize>, String> {
        if self.start > 0 && self.start == self.end {
            self.start = 0;
            self.end = 0;
            // What a big request grew goes with it, as Redis trims its
            // master client's query buffer.
            if self.buf.len() > LINK_BUF {
                self.buf = vec![0; LINK_BUF];
            }
        }
        if self.end == self.buf.len() {
            if self.start > 0 {
                self.buf.copy_within(self.start..self.end, 0);
                self.end -= self.start;
                self.start = 0;
            } else {
                // Doubling, but not past the pending request's size when
                // the parser knows it (a big argument ends at its size).
                let len = self.buf.len();
                let want = crate::resp::size_to_hold(self.need, len).unwrap_or(len * 2);
                self.buf.resize((len * 2).min(want), 0);
            }
        }
        let read = std::pin::pin!(self.stream.read(&mut self.buf[self.end..]));
        let timer = std::pin::pin!(glommio::timer::sleep(wait));
        match select(read, timer).await {
            Either::Left((Ok(0), _)) => Err("MASTER closed the connection".into()),
            Either::Left((Ok(n), _)) => {
                self.end += n;
                Ok(Some(n))
            }
            Either::Left((Err(e), _)) => Err(format!("Error reading from MASTER: {e}")),
            Either::Right(_) => Ok(None),
        }
    }

    async fn fill(&mut self) -> Result<usize, String> {
        match self.fill_within(self.timeout).await? {
            Some(n) => Ok(n),
            None => Err("Timeout connecting to the MASTER...".into()),
        }
    }

    /// One line without its `\r\n` (or `\n`).
    async fn read_line(&mut self) -> Result<Vec<u8>, String> {
        loop {
            if let Some((line, used)) = sync::take_line(&self.buf[self.start..self.end]) {
                let line = line.to_vec();
                self.start += used;
                return Ok(line);
            }
            self.fill().await?;
        }
    }

    /// A reply line, skipping the newlines a master sends as keepalive.
    async fn read_reply(&mut self) -> Result<Vec<u8>, String> {
        loop {
            let line = self.read_line().await?;
            if !line.is_empty() {
                return Ok(line);
            }
        }
    }

    async fn send(&mut self, args: &[&[u8]]) -> Result<(), String> {
        let bytes = encode(args);
        self.stream
            .write_all(&bytes)
            .await
            .map_err(|e| format!("Error writing to MASTER: {e}"))
    }
}

fn encode(args: &[&[u8]]) -> Vec<u8> {
    let mut out = Out::new(false);
    out.array(args.len());
    for a in args {
        out.bulk(a);
    }
    out.buf
}

async fn send_ack(stream: &mut TcpStream, offset: i64) -> Result<(), String> {
    let off = offset.to_string();
    let bytes = encode(&[b"REPLCONF", b"ACK", off.as_bytes()]);
    stream
        .write_all(&bytes)
        .await
        .map_err(|e| format!("Error writing to MASTER: {e}"))
}

/// One connection to the master: handshake, sync, then the stream until
/// it breaks (Err) or the replication target changes (Ok).
async fn attempt<H: ReplHost>(rt: &Rc<H>, generation: u64) -> Result<(), String> {
    let shared = rt.shared().clone();
    let st = &shared.repl().replica;
    let Some((host, port)) = st.inner.lock().unwrap().master.clone() else {
        return Ok(());
    };
    let (timeout, auth, user, my_port, announce_ip) = shared.read_config(|c| {
        let announce = c.int(conf::REPLICA_ANNOUNCE_PORT);
        (
            Duration::from_secs(c.int(conf::REPL_TIMEOUT).max(1) as u64),
            c.text(conf::MASTERAUTH),
            c.text(conf::MASTERUSER),
            if announce > 0 {
                announce
            } else {
                c.int(conf::PORT)
            },
            c.text(conf::REPLICA_ANNOUNCE_IP),
        )
    });
    set_state(rt, generation, LinkState::Connecting)?;
    let addr = {
        use std::net::ToSocketAddrs;
        (host.as_str(), port)
            .to_socket_addrs()
            .map_err(|e| format!("Unable to connect to MASTER: {e}"))?
            .next()
            .ok_or_else(|| "Unable to connect to MASTER: no address".to_string())?
    };
    let stream = crate::sys::connect::connect_timeout(addr, timeout)
        .await
        .map_err(|e| format!("Error condition on socket for SYNC: {e}"))?;
    let _ = stream.set_nodelay(true);
    crate::notice!("MASTER <-> REPLICA sync started");
    set_state(rt, generation, LinkState::Handshake)?;
    let mut link = Link {
        stream,
        buf: vec![0; LINK_BUF],
        start: 0,
        end: 0,
        need: 0,
        timeout,
    };

    // PING: any +reply, or an authentication error (AUTH follows).
    link.send(&[b"PING"]).await?;
    let pong = link.read_reply().await?;
    if pong.first() == Some(&b'-')
        && !pong.starts_with(b"-NOAUTH")
        && !pong.starts_with(b"-NOPERM")
        && !pong.starts_with(b"-ERR operation not permitted")
    {
        return Err(format!(
            "Error reply to PING from master: '{}'",
            String::from_utf8_lossy(&pong[1..])
        ));
    }
    crate::notice!("Master replied to PING, replication can continue...");

    // AUTH and the REPLCONFs, pipelined.
    let mut pipeline = Vec::new();
    let with_auth = !auth.is_empty();
    if with_auth {
        if user.is_empty() {
            pipeline.extend(encode(&[b"AUTH", auth.as_bytes()]));
        } else {
            pipeline.extend(encode(&[b"AUTH", user.as_bytes(), auth.as_bytes()]));
        }
    }
    let port_str = my_port.to_string();
    pipeline.extend(encode(&[
        b"REPLCONF",
        b"listening-port",
        port_str.as_bytes(),
    ]));
    let with_ip = !announce_ip.is_empty();
    if with_ip {
        pipeline.extend(encode(&[
            b"REPLCONF",
            b"ip-address",
            announce_ip.as_bytes(),
        ]));
    }
    pipeline.extend(encode(&[b"REPLCONF", b"capa", b"eof", b"capa", b"psync2"]));
    link.stream
        .write_all(&pipeline)
        .await
        .map_err(|e| format!("Error writing to MASTER: {e}"))?;
    if with_auth {
        let r = link.read_reply().await?;
        if r.first() == Some(&b'-') {
            return Err(format!(
                "Unable to AUTH to MASTER: {}",
                String::from_utf8_lossy(&r)
            ));
        }
    }
    // Errors to REPLCONF are not fatal (older masters).
    link.read_reply().await?;
    if with_ip {
        link.read_reply().await?;
    }
    link.read_reply().await?;

    // PSYNC: resume the cached master's history, or ask for everything.
    let cached = st.inner.lock().unwrap().cached.clone();
    let (psync_id, psync_off) = match &cached {
        Some((id, off)) => {
            let off = (off + 1).to_string();
            crate::notice!("Trying a partial resynchronization (request {id}:{off}).");
            (id.clone(), off)
        }
        None => {
            crate::notice!("Partial resynchronization not possible (no cached master)");
            ("?".to_string(), "-1".to_string())
        }
    };
    // During FAILOVER the target is asked to turn primary first.
    let failover = shared.repl().failover.in_progress();
    let mut psync: Vec<&[u8]> = vec![b"PSYNC", psync_id.as_bytes(), psync_off.as_bytes()];
    if failover {
        psync.push(b"FAILOVER");
    }
    if let Err(e) = link.send(&psync).await {
        if failover {
            crate::repl::failover::abort(rt, "Write error to failover target").await;
        }
        return Err(e);
    }
    let reply = link.read_reply().await?;
    if failover {
        let synced = reply.starts_with(b"+FULLRESYNC") || reply.starts_with(b"+CONTINUE");
        crate::repl::failover::psync_answered(rt, synced).await;
    }
    let db;
    match sync::PsyncReply::parse(&reply)? {
        sync::PsyncReply::FullResync { replid, offset } => {
            crate::notice!("Full resync from master: {replid}:{offset}");
            db = full_sync(rt, generation, &mut link, &replid, offset).await?;
        }
        sync::PsyncReply::Continue { new_id } => {
            let Some((cached_id, cached_off)) = cached else {
                return Err("Unexpected +CONTINUE without a cached master".into());
            };
            if !new_id.is_empty() && new_id != cached_id {
                // Sub-replicas learn the new history id by reconnecting.
                crate::repl::primary::disconnect_replicas(rt).await;
            }
            {
                let mut id = shared.repl().identity.lock().unwrap();
                if !new_id.is_empty() && new_id != cached_id {
                    // The master's history continues under a new id
                    // (failover): ours shifts the same way.
                    id.replid2 = std::mem::replace(&mut id.replid, new_id.clone());
                    id.second_offset = cached_off + 1;
                } else if id.replid != cached_id {
                    id.replid = cached_id.clone();
                }
                id.offset = cached_off;
            }
            let mut inner = st.inner.lock().unwrap();
            if inner.generation != generation {
                return Ok(());
            }
            db = inner.cached_db;
            st.mark_linked(&mut inner, cached_off, db);
            drop(inner);
            crate::repl::primary::ensure_replica_backlog(&shared);
            crate::notice!("Successful partial resynchronization with master.");
            crate::notice!("MASTER <-> REPLICA sync: Master accepted a Partial Resynchronization.");
        }
    }
    stream_loop(rt, generation, link, db).await
}

/// Receives the RDB (`$<len>` or `$EOF:<mark>` framing), replaces the
/// dataset with it and takes the master's history as ours. Returns the
/// db the stream starts in.
///
/// `repl-diskless-load` (Redis's `useDisklessLoad`): `swapdb`, or
/// `on-empty-db` with no key, loads without touching the dump file;
/// otherwise the RDB is written as `dbfilename` first, then loaded. Either
/// way the old data stays until the new one is parsed, so a failed
/// transfer leaves it (what Redis's swapdb promises).
async fn full_sync<H: ReplHost>(
    rt: &Rc<H>,
    generation: u64,
    link: &mut Link,
    replid: &str,
    offset: i64,
) -> Result<usize, String> {
    let st = &rt.shared().repl().replica;
    set_state(rt, generation, LinkState::Transfer)?;
    let mode = rt
        .shared()
        .read_config(|c| c.text(conf::REPL_DISKLESS_LOAD));
    let diskless = match mode.as_str() {
        "swapdb" => true,
        "on-empty-db" => H::key_count(rt).await == 0,
        _ => false,
    };
    // swapdb continuing our own history serves the old data meanwhile
    // (async loading); otherwise commands get -LOADING.
    let asynchronous =
        mode == "swapdb" && rt.shared().repl().identity.lock().unwrap().replid == replid;
    let header = link.read_reply().await?;
    let mut transfer = sync::Transfer::start(&header)?;
    let progress = |read: usize, size: Option<usize>| {
        let mut inner = st.inner.lock().unwrap();
        inner.transfer_size = size.map_or(-1, |n| n as i64);
        inner.transfer_read = read as i64;
        inner.transfer_last_io_ms = unix_ms();
    };
    let to = if diskless { "to parser" } else { "to disk" };
    match transfer.size() {
        None => crate::notice!(
            "MASTER <-> REPLICA sync: receiving streamed RDB from master with EOF {to}"
        ),
        Some(size) => {
            crate::notice!("MASTER <-> REPLICA sync: receiving {size} bytes from master {to}")
        }
    }
    progress(0, transfer.size());
    let _loading = LoadingGuard(&st.loading);
    // Redis parses a diskless transfer as it arrives: loading from the
    // first byte.
    if diskless {
        st.loading.start(asynchronous, transfer.size());
    }
    loop {
        link.start += transfer.feed(&link.buf[link.start..link.end]);
        progress(transfer.received(), transfer.size());
        st.loading.progress(transfer.received());
        if transfer.is_done() {
            break;
        }
        link.fill().await?;
    }
    let rdb = transfer.into_rdb();
    if !diskless {
        st.loading.start(false, Some(rdb.len()));
    }
    if mode != "swapdb" {
        crate::notice!("MASTER <-> REPLICA sync: Flushing old data");
    }
    crate::notice!("MASTER <-> REPLICA sync: Loading DB in memory");
    let parsed = load::parse(rt, rdb, !diskless).await?;
    if !current(rt, generation) {
        return Err("replication target changed".into());
    }
    if mode == "swapdb" {
        crate::notice!("MASTER <-> REPLICA sync: Swapping active DB with loaded DB");
    }
    let db = parsed
        .stats
        .aux
        .iter()
        .find(|(k, _)| k == b"repl-stream-db")
        .and_then(|(_, v)| std::str::from_utf8(v).ok()?.parse::<usize>().ok())
        .unwrap_or(0);
    // Sub-replicas hold the old dataset: they must resync, and nobody can
    // continue from the old backlog (Redis's replicationAttachToNewMaster).
    crate::repl::primary::disconnect_replicas(rt).await;
    crate::repl::primary::free_backlog(rt.shared());
    if let Err(e) = H::replace_functions(&parsed.stats.functions) {
        crate::warning!("Failed loading the master's functions: {e}");
    }
    load::install(rt, parsed.per_shard).await;
    st.loading.stop();
    {
        let mut id = rt.shared().repl().identity.lock().unwrap();
        id.replid = replid.to_string();
        id.replid2 = NO_REPLID.to_string();
        id.offset = offset;
        id.second_offset = -1;
    }
    crate::repl::primary::ensure_replica_backlog(rt.shared());
    {
        let mut inner = st.inner.lock().unwrap();
        st.mark_linked(&mut inner, offset, db);
    }
    crate::notice!("MASTER <-> REPLICA sync: Finished with success");
    if rt.shared().log().is_on() {
        // The AOF starts over from the new dataset.
        H::rewrite_aof(rt);
    }
    // The master starts the stream of an EOF-marked transfer on this ACK.
    send_ack(&mut link.stream, offset).await?;
    Ok(db)
}

/// Ends the loading state however the full sync ends.
struct LoadingGuard<'a>(&'a super::Loading);

impl Drop for LoadingGuard<'_> {
    fn drop(&mut self) {
        self.0.stop();
    }
}

/// What one parsed request of the stream is.
#[derive(Clone, Copy)]
enum Kind {
    /// An empty line or `*0`: counted, not run.
    Empty,
    /// REPLCONF from the master (GETACK answered, the rest ignored).
    Replconf { getack: bool },
    /// Anything else, run as the master client.
    Run,
}

/// Applies the command stream until the link breaks or is retired.
async fn stream_loop<H: ReplHost>(
    rt: &Rc<H>,
    generation: u64,
    mut link: Link,
    db: usize,
) -> Result<(), String> {
    let st = &rt.shared().repl().replica;
    let addr = link
        .stream
        .peer_addr()
        .map(|a| a.to_string())
        .unwrap_or_default();
    // Listed by CLIENT LIST (flag M) and killable by CLIENT KILL, which
    // drops the link (reconnected and continued with PSYNC).
    let mut client = H::master_client(rt, addr, db);
    let limits = sync::stream_limits();
    let mut applied = Applied {
        offset: {
            let mut inner = st.inner.lock().unwrap();
            // What came right after the RDB was read already.
            inner.read_reploff += (link.end - link.start) as i64;
            inner.reploff
        },
        open_multi_bytes: 0,
        unfed: Vec::new(),
    };
    let mut last_ack = std::time::Instant::now();
    let mut last_io = std::time::Instant::now();
    let mut reqs = StreamRequests::default();
    let log = rt.shared().log();
    loop {
        let pos = reqs.parse(&link.buf, link.start, link.end, &limits)?;
        link.need = reqs.need;
        // Run them in order: runs of ordinary commands as one batch,
        // REPLCONF between them.
        let mut i = 0;
        while i < reqs.cmds.len() {
            if !current(rt, generation) {
                return Ok(());
            }
            let start = i;
            // While a pause may hold the master client, one command at a
            // time: those before the first held one apply, as in Redis.
            let one_by_one = rt.shared().writes_paused();
            while i < reqs.cmds.len()
                && matches!(reqs.cmds[i].kind, Kind::Run | Kind::Empty)
                && !(one_by_one && i > start)
            {
                i += 1;
            }
            if i > start {
                let run = gather(
                    &client,
                    &reqs,
                    &reqs.cmds[start..i],
                    &link.buf,
                    &mut applied,
                );
                // A pause holds the master client (server/pause.rs),
                // maybe long: the master still hears an ACK every second,
                // as from Redis's replicationCron.
                while one_by_one && client.held(&run.argv, &run.argcs) {
                    if !current(rt, generation) {
                        return Ok(());
                    }
                    if client.killed() {
                        return Err("master client killed (CLIENT KILL)".into());
                    }
                    if last_ack.elapsed() >= SECOND {
                        send_ack(&mut link.stream, applied.offset).await?;
                        last_ack = std::time::Instant::now();
                    }
                    glommio::timer::sleep(Duration::from_millis(2)).await;
                }
                // A REPLICAOF meanwhile drops what was held, as Redis
                // frees its master client.
                if one_by_one && !current(rt, generation) {
                    return Ok(());
                }
                if !run.argcs.is_empty() {
                    client.run(&run.argv, &run.argcs).await;
                }
                applied.offset += run.committed;
            }
            let replconf = reqs.cmds.get(i);
            if let Some(cmd) = replconf.filter(|c| matches!(c.kind, Kind::Replconf { .. })) {
                if let Kind::Replconf { getack: true } = cmd.kind {
                    send_ack(&mut link.stream, applied.offset).await?;
                    last_ack = std::time::Instant::now();
                }
                let bytes = &link.buf[cmd.at..cmd.at + cmd.size];
                applied.unfed.extend_from_slice(bytes);
                applied.offset += cmd.size as i64;
                i += 1;
            }
            // What the offset now covers goes on to the sub-replicas.
            let done = applied.unfed.len() - applied.open_multi_bytes as usize;
            if log.repl_on() {
                log.feed_repl_proxied(&applied.unfed[..done]);
            }
            applied.unfed.drain(..done);
            if applied.unfed.capacity() > LINK_BUF && applied.unfed.len() <= LINK_BUF / 2 {
                applied.unfed.shrink_to(LINK_BUF / 2);
            }
            publish_offset(rt, generation, applied.offset, client.db());
        }
        link.start = pos;
        // Then wait for more, ACKing every second and watching for a
        // silent master.
        if last_ack.elapsed() >= SECOND {
            send_ack(&mut link.stream, applied.offset).await?;
            last_ack = std::time::Instant::now();
        }
        if !current(rt, generation) {
            return Ok(());
        }
        if client.killed() {
            return Err("master client killed (CLIENT KILL)".into());
        }
        match link.fill_within(SECOND).await? {
            Some(n) => {
                last_io = std::time::Instant::now();
                let mut inner = st.inner.lock().unwrap();
                inner.read_reploff += n as i64;
                inner.last_io_ms = unix_ms();
            }
            None => {
                if last_io.elapsed() > link.timeout {
                    return Err("MASTER timeout: no data nor PING received...".into());
                }
            }
        }
    }
}

/// How far the stream has been applied.
struct Applied {
    /// The processed offset.
    offset: i64,
    /// Bytes of a transaction still open: they count once EXEC arrives
    /// (as Redis, which advances the offset only outside MULTI).
    open_multi_bytes: i64,
    /// Applied stream bytes not yet proxied to the backlog: those of an
    /// open transaction wait for its EXEC, as the offset does.
    unfed: Vec<u8>,
}

/// One request of the master's stream.
#[derive(Clone, Copy)]
struct StreamCmd {
    /// Its first argument in `StreamRequests::args`, and how many.
    first: usize,
    argc: usize,
    kind: Kind,
    /// Where it starts in the link's buffer, and its bytes.
    at: usize,
    size: usize,
}

/// The complete requests of the link's buffer, parsed.
#[derive(Default)]
struct StreamRequests {
    ranges: Vec<(usize, usize)>,
    /// Inline requests' arguments.
    scratch: Vec<u8>,
    /// The partly received request at the buffer's start, resumed by the
    /// next read.
    progress: Progress,
    /// (start, end, inline) per argument.
    args: Vec<(usize, usize, bool)>,
    cmds: Vec<StreamCmd>,
    /// Bytes the partly received request needs from its start (0: none
    /// pending or not known).
    need: usize,
}

impl StreamRequests {
    /// Parses every complete request in `buf[start..end]`; returns where
    /// the unparsed rest starts.
    fn parse(
        &mut self,
        buf: &[u8],
        start: usize,
        end: usize,
        limits: &Limits,
    ) -> Result<usize, String> {
        self.args.clear();
        self.cmds.clear();
        self.scratch.clear();
        self.need = 0;
        let mut pos = start;
        while pos < end {
            let parsed = parse_command(
                &buf[pos..end],
                limits,
                &mut self.progress,
                &mut self.ranges,
                &mut self.scratch,
            );
            match parsed {
                Ok(Parsed::Complete { consumed, inline }) => {
                    let base = if inline { 0 } else { pos };
                    let first = self.args.len();
                    let ranges = self.ranges.iter();
                    self.args
                        .extend(ranges.map(|&(s, e)| (s + base, e + base, inline)));
                    let argc = self.ranges.len();
                    let kind = self.kind(buf, first, argc);
                    let (at, size) = (pos, consumed);
                    self.cmds.push(StreamCmd {
                        first,
                        argc,
                        kind,
                        at,
                        size,
                    });
                    pos += consumed;
                }
                Ok(Parsed::Incomplete { need }) => {
                    self.need = need;
                    break;
                }
                Err(e) => return Err(format!("Protocol error from MASTER: {}", e.describe())),
            }
        }
        Ok(pos)
    }

    /// Argument `i` of the request whose arguments start at `first`.
    fn arg<'a>(&'a self, buf: &'a [u8], first: usize, i: usize) -> &'a [u8] {
        let (s, e, inline) = self.args[first + i];
        if inline {
            &self.scratch[s..e]
        } else {
            &buf[s..e]
        }
    }

    fn kind(&self, buf: &[u8], first: usize, argc: usize) -> Kind {
        if argc == 0 {
            Kind::Empty
        } else if self.arg(buf, first, 0).eq_ignore_ascii_case(b"replconf") {
            Kind::Replconf {
                getack: argc > 1 && self.arg(buf, first, 1).eq_ignore_ascii_case(b"getack"),
            }
        } else {
            Kind::Run
        }
    }
}

/// A run of ordinary commands of the stream, to run as one batch as the
/// master client.
struct Run<'a> {
    /// Their arguments in order, and how many each has.
    argv: Vec<&'a [u8]>,
    argcs: Vec<usize>,
    /// The bytes the offset covers once they ran (a transaction still
    /// open counts once its EXEC arrives).
    committed: i64,
}

fn gather<'a, C: MasterClient>(
    client: &C,
    reqs: &'a StreamRequests,
    run: &[StreamCmd],
    buf: &'a [u8],
    applied: &mut Applied,
) -> Run<'a> {
    let mut argv: Vec<&[u8]> = Vec::new();
    let mut argcs = Vec::new();
    let mut in_multi = client.in_multi();
    let mut committed = 0i64;
    for cmd in run {
        applied
            .unfed
            .extend_from_slice(&buf[cmd.at..cmd.at + cmd.size]);
        argv.extend((0..cmd.argc).map(|i| reqs.arg(buf, cmd.first, i)));
        if cmd.argc > 0 {
            argcs.push(cmd.argc);
            let name = argv[argv.len() - cmd.argc];
            if let Some(opens) = client.transaction_edge(name) {
                in_multi = opens;
            }
        }
        applied.open_multi_bytes += cmd.size as i64;
        if !in_multi {
            committed += applied.open_multi_bytes;
            applied.open_multi_bytes = 0;
        }
    }
    Run {
        argv,
        argcs,
        committed,
    }
}

/// The processed offset: the master client's, and this node's history.
fn publish_offset<H: ReplHost>(rt: &Rc<H>, generation: u64, offset: i64, db: usize) {
    let mut inner = rt.shared().repl().replica.inner.lock().unwrap();
    if inner.generation != generation {
        // REPLICAOF cached this link's master while the batch ran: what
        // it applied is part of the history the next PSYNC continues.
        if inner.cached_from == Some(generation) {
            if let Some((_, cached_off)) = inner.cached.as_mut() {
                *cached_off = offset;
                inner.reploff = offset;
                inner.read_reploff = offset;
                rt.shared().repl().identity.lock().unwrap().offset = offset;
            }
        }
        return;
    }
    inner.reploff = offset;
    inner.cached_db = db;
    rt.shared().repl().identity.lock().unwrap().offset = offset;
}
