//! MIGRATE host port key|"" destination-db timeout [COPY] [REPLACE]
//! [AUTH password] [AUTH2 username password] [KEYS key [key ...]]
//!
//! As Redis 7.0's `migrateCommand` (cluster.c): DUMP each existing key,
//! send `[AUTH] [SELECT db] RESTORE key ttl payload [REPLACE]` (RESTORE-ASKING
//! in cluster mode) as one pipeline on a cached connection
//! (`migrate_conn.rs`), read every reply, and unless COPY delete each key
//! whose RESTORE succeeded, logged as `DEL key ...` (the AOF record Redis
//! rewrites MIGRATE into). A socket error before any reply was read is
//! retried once on a fresh connection, unless it was a timeout.
//!
//! Redis blocks the whole server while MIGRATE runs, so no one sees or
//! changes a key between its DUMP and its deletion. Shardis holds the
//! shards owning the keys for the whole command instead (network I/O
//! included): the same guarantee for these keys, while the other shards
//! carry on.

use super::migrate_conn::{self, ConnectErr, Target};
use super::spec::{
    Acl, BeginSearch, Behavior, CommandSpec, FindKeys, Flags, Handler, KeyFlags, KeySpec,
};
use super::util::{arg_i64, is, NOT_INTEGER, SYNTAX};
use super::Class;
use crate::persist::aof::record::encode_command;
use crate::persist::rdb::payload;
use crate::resp::Out;
use crate::server::conn::Conn;
use crate::server::mesh::{self, Held};
use crate::server::shard::ExecRun;
use crate::slot::key_slot;
use futures::future::LocalBoxFuture;
use std::time::Duration;

const KEY_FLAGS: KeyFlags = KeyFlags::RW.with(KeyFlags::ACCESS).with(KeyFlags::DELETE);

pub static COMMANDS: &[CommandSpec] = &[CommandSpec {
    name: "migrate",
    behavior: Behavior::OPEN_SLOT_LOCAL,
    in_exec: Some(in_exec),
    arity: -6,
    flags: Flags::WRITE.with(Flags::MOVABLEKEYS),
    acl: Acl::KEYSPACE
        .with_bits(Acl::WRITE)
        .with_bits(Acl::SLOW)
        .with_bits(Acl::DANGEROUS),
    keys: &[
        KeySpec::single(3, KEY_FLAGS),
        KeySpec {
            flags: KeyFlags::RW.with(KeyFlags::ACCESS).with(KeyFlags::DELETE).with(KeyFlags::INCOMPLETE),
            begin: BeginSearch::Keyword {
                keyword: "KEYS",
                startfrom: -2,
            },
            find: FindKeys::Range {
                lastkey: -1,
                step: 1,
                limit: 0,
            },
        },
    ],
    handler: Handler::Conn(migrate),
    tips: &["nondeterministic_output"],
    group: "generic",
    since: "2.6.0",
    summary: "Atomically transfer a key from a Redis instance to another one.",
    complexity: "This command actually executes a DUMP+DEL in the source instance, and a RESTORE in the target instance. See the pages of these commands for time complexity. Also an O(N) data transfer between the two instances is performed.",
    key_finder: Some(key_finder),
    redact: Some(super::redact::migrate),
    ..CommandSpec::DEFAULT
}];

/// MIGRATE's keys as Redis 7.0 finds them. Its key specs come first: a
/// KEYS keyword searched backwards from the next-to-last argument; not
/// found, the key is the key argument. Found, the KEYS spec is marked
/// incomplete, so Redis asks `migrateGetKeys` instead, which scans the
/// options from the sixth argument (skipping AUTH's and AUTH2's values)
/// up to KEYS: every argument after it is a key, or none when the key
/// argument is not empty. Used by routing and COMMAND GETKEYS.
pub fn key_finder(argv: &[&[u8]], found: &mut Vec<(usize, usize)>) {
    let mut out = Vec::new();
    find_keys(argv, &mut out);
    found.extend(out.into_iter().map(|i| (i, 0)));
}

fn find_keys(argv: &[&[u8]], out: &mut Vec<usize>) {
    let argc = argv.len();
    if argc < 4 {
        return;
    }
    let keyword = (2..=argc.saturating_sub(2))
        .rev()
        .any(|i| is(argv[i], "keys"));
    if !keyword {
        out.push(3);
        return;
    }
    let mut i = 6;
    while i < argc {
        let a = argv[i];
        if is(a, "keys") {
            if argv[3].is_empty() {
                out.extend(i + 1..argc);
            }
            return;
        } else if is(a, "auth") {
            i += 1;
        } else if is(a, "auth2") {
            i += 2;
        }
        i += 1;
    }
    out.push(3);
}

/// The parsed command.
struct Migrate {
    host: Vec<u8>,
    port: Vec<u8>,
    copy: bool,
    replace: bool,
    /// (username, password) for AUTH / AUTH2.
    auth: Option<(Option<Vec<u8>>, Vec<u8>)>,
    timeout: Duration,
    dbid: i64,
    keys: Vec<Vec<u8>>,
}

/// Options, then timeout and database, in Redis's order; Err is the reply.
fn parse(args: &[Vec<u8>]) -> Result<Migrate, &'static str> {
    let mut m = Migrate {
        host: args[1].clone(),
        port: args[2].clone(),
        copy: false,
        replace: false,
        auth: None,
        timeout: Duration::ZERO,
        dbid: 0,
        keys: vec![args[3].clone()],
    };
    let mut j = 6;
    while j < args.len() {
        let more = args.len() - 1 - j;
        let a = &args[j];
        if is(a, "copy") {
            m.copy = true;
        } else if is(a, "replace") {
            m.replace = true;
        } else if is(a, "auth") {
            if more < 1 {
                return Err(SYNTAX);
            }
            j += 1;
            // A later AUTH keeps an earlier AUTH2's username, as in Redis.
            let user = m.auth.take().and_then(|(u, _)| u);
            m.auth = Some((user, args[j].clone()));
        } else if is(a, "auth2") {
            if more < 2 {
                return Err(SYNTAX);
            }
            m.auth = Some((Some(args[j + 1].clone()), args[j + 2].clone()));
            j += 2;
        } else if is(a, "keys") {
            if !args[3].is_empty() {
                return Err("ERR When using MIGRATE KEYS option, the key argument must be set to the empty string");
            }
            m.keys = args[j + 1..].to_vec();
            break;
        } else {
            return Err(SYNTAX);
        }
        j += 1;
    }
    let timeout = arg_i64(&args[5]).ok_or(NOT_INTEGER)?;
    m.dbid = arg_i64(&args[4]).ok_or(NOT_INTEGER)?;
    m.timeout = Duration::from_millis(if timeout <= 0 { 1000 } else { timeout as u64 });
    Ok(m)
}

fn migrate(conn: &mut Conn, args: Vec<Vec<u8>>) -> LocalBoxFuture<'_, ()> {
    Box::pin(async move {
        let m = match parse(&args) {
            Ok(m) => m,
            Err(e) => return conn.out.error(e),
        };
        let rt = conn.rt.clone();
        let mut shards: Vec<usize> = m
            .keys
            .iter()
            .map(|k| rt.shard_of_slot(key_slot(k)))
            .collect();
        shards.sort_unstable();
        shards.dedup();
        let held = mesh::hold(&rt, &shards).await;
        run(conn, &m, &held).await;
    })
}

/// MIGRATE inside EXEC, which already holds every shard.
fn in_exec<'a>(
    conn: &'a mut Conn,
    held: &'a Held<'a>,
    args: &'a [Vec<u8>],
) -> LocalBoxFuture<'a, ()> {
    Box::pin(async move {
        match parse(args) {
            Ok(m) => run(conn, &m, held).await,
            Err(e) => conn.out.error(e),
        }
    })
}

/// A key found at the DUMP step: its position in the command, payload
/// and remaining TTL in ms (0: none).
struct Found {
    pos: usize,
    payload: Vec<u8>,
    ttl: i64,
}

/// The steps run on a shard: statistics go to MIGRATE itself, and the
/// specs give the step's keys (WATCH, tracking) and its AOF record.
static DUMP_STEP: CommandSpec = CommandSpec {
    name: "migrate",
    arity: -2,
    keys: &[KeySpec::range(1, -1, 1, KEY_FLAGS)],
    ..CommandSpec::DEFAULT
};
static DEL_STEP: CommandSpec = CommandSpec {
    name: "del",
    arity: -2,
    flags: Flags::WRITE,
    keys: &[KeySpec::range(
        1,
        -1,
        1,
        KeyFlags::RM.with(KeyFlags::DELETE),
    )],
    ..CommandSpec::DEFAULT
};

/// A shard's keys, each with its position in the command.
type ShardKeys = (usize, Vec<(usize, Vec<u8>)>);

/// Keys by owning shard, with their positions in `keys`.
fn by_shard(conn: &Conn, keys: &[Vec<u8>]) -> Vec<ShardKeys> {
    let mut groups: Vec<ShardKeys> = Vec::new();
    for (pos, k) in keys.iter().enumerate() {
        let s = conn.rt.shard_of_slot(key_slot(k));
        match groups.iter_mut().find(|(g, _)| *g == s) {
            Some((_, v)) => v.push((pos, k.clone())),
            None => groups.push((s, vec![(pos, k.clone())])),
        }
    }
    groups
}

/// Looks each key up (a read: hits, misses, expired keys removed) and
/// dumps the existing ones, in key order.
async fn dump_keys(conn: &Conn, held: &Held<'_>, keys: &[Vec<u8>]) -> Vec<Found> {
    let db = conn.db;
    let mut found = Vec::new();
    for (shard, group) in by_shard(conn, keys) {
        let part = held
            .run(shard, move |rt| {
                let settings = rt.settings();
                let mut clock = rt.clock();
                let mut argv: Vec<&[u8]> = vec![b"MIGRATE"];
                argv.extend(group.iter().map(|(_, k)| k.as_slice()));
                let run = ExecRun {
                    spec: &DUMP_STEP,
                    argv: &argv,
                    db,
                    count: false,
                    record: true,
                };
                let mut out = Out::new(false);
                rt.exec_with(run, &mut out, &mut clock, &settings, |ctx| {
                    let opts = super::dump::payload_opts(ctx);
                    let now = ctx.now_ms as i64;
                    let mut part = Vec::new();
                    for (pos, key) in &group {
                        let Some(e) = ctx.lookup_read(key) else {
                            continue;
                        };
                        let payload = payload::create(&e.value, &opts);
                        let ttl = match ctx.db().expire_of(key) {
                            Some(at) => (at as i64 - now).max(1),
                            None => 0,
                        };
                        part.push(Found {
                            pos: *pos,
                            payload,
                            ttl,
                        });
                    }
                    part
                })
            })
            .await;
        found.extend(part);
    }
    found.sort_by_key(|f| f.pos);
    found
}

/// Deletes the migrated keys on their shards, each shard's part logged
/// as one DEL (Redis logs one DEL for all).
async fn delete_keys(conn: &Conn, held: &Held<'_>, keys: &[Vec<u8>]) {
    let db = conn.db;
    for (shard, group) in by_shard(conn, keys) {
        held.run(shard, move |rt| {
            let settings = rt.settings();
            let mut clock = rt.clock();
            let mut argv: Vec<&[u8]> = vec![b"DEL"];
            argv.extend(group.iter().map(|(_, k)| k.as_slice()));
            let run = ExecRun {
                spec: &DEL_STEP,
                argv: &argv,
                db,
                count: false,
                record: true,
            };
            let mut out = Out::new(false);
            rt.exec_with(run, &mut out, &mut clock, &settings, |ctx| {
                for (_, key) in &group {
                    if ctx.db().remove(key).is_some() {
                        ctx.dirty += 1;
                        ctx.notify(Class::Generic, "del", key);
                    }
                }
            });
        })
        .await;
    }
}

/// The pipeline sent to the target.
fn pipeline(
    m: &Migrate,
    found: &[Found],
    keys: &[Vec<u8>],
    select: bool,
    cluster: bool,
) -> Vec<u8> {
    let mut cmd = Vec::new();
    if let Some((user, pass)) = &m.auth {
        match user {
            Some(u) => encode_command(&mut cmd, &[b"AUTH".as_slice(), u, pass]),
            None => encode_command(&mut cmd, &[b"AUTH".as_slice(), pass]),
        }
    }
    if select {
        let db = m.dbid.to_string();
        encode_command(&mut cmd, &[b"SELECT".as_slice(), db.as_bytes()]);
    }
    let name: &[u8] = if cluster {
        b"RESTORE-ASKING"
    } else {
        b"RESTORE"
    };
    for f in found {
        let ttl = f.ttl.to_string();
        let mut argv: Vec<&[u8]> = vec![name, &keys[f.pos], ttl.as_bytes(), &f.payload];
        if m.replace {
            argv.push(b"REPLACE");
        }
        encode_command(&mut cmd, &argv);
    }
    cmd
}

/// What one attempt on a connection came to.
enum Attempt {
    /// Finished: the reply is written, the connection handled.
    Done,
    /// Socket error: the connection is closed; report IOERR (`writing`
    /// says which) unless a retry is allowed and still possible (Redis
    /// retries once, never after a timeout or once keys were processed).
    SocketErr { retry: bool, writing: bool },
}

/// The command once parsed and its shards held (Redis's `try_again` loop).
async fn run(conn: &mut Conn, m: &Migrate, held: &Held<'_>) {
    let found = dump_keys(conn, held, &m.keys).await;
    if found.is_empty() {
        return conn.out.simple("NOKEY");
    }
    let cluster = conn.rt.shared.cluster.is_some();
    let mut may_retry = true;
    loop {
        let tried = match migrate_conn::get(&m.host, &m.port, m.timeout).await {
            Ok(target) => attempt(conn, m, held, &found, cluster, target).await,
            Err(ConnectErr::Resolve) => {
                return conn
                    .out
                    .error("IOERR error or timeout connecting to the client");
            }
            Err(ConnectErr::Io { timed_out }) => Attempt::SocketErr {
                retry: !timed_out,
                writing: true,
            },
        };
        match tried {
            Attempt::Done => return,
            Attempt::SocketErr { retry, writing } => {
                if retry && may_retry {
                    may_retry = false;
                    continue;
                }
                let what = if writing { "writing" } else { "reading" };
                return conn
                    .out
                    .error(&format!("IOERR error or timeout {what} to target instance"));
            }
        }
    }
}

/// One try on `target`: send the pipeline, read the replies, delete what
/// was acknowledged, reply.
async fn attempt(
    conn: &mut Conn,
    m: &Migrate,
    held: &Held<'_>,
    found: &[Found],
    cluster: bool,
    mut target: Target,
) -> Attempt {
    let select = target.last_dbid != m.dbid;
    let cmd = pipeline(m, found, &m.keys, select, cluster);
    let sock_err = |e: std::io::Error, writing: bool| Attempt::SocketErr {
        retry: !migrate_conn::timed_out(&e),
        writing,
    };
    if let Err(e) = target.write_all(&cmd, m.timeout).await {
        return sock_err(e, true);
    }
    let mut auth_reply = Vec::new();
    if m.auth.is_some() {
        match target.read_line(m.timeout).await {
            Ok(l) => auth_reply = l,
            Err(e) => return sock_err(e, false),
        }
    }
    let mut select_reply = Vec::new();
    if select {
        match target.read_line(m.timeout).await {
            Ok(l) => select_reply = l,
            Err(e) => return sock_err(e, false),
        }
    }
    let mut target_error: Option<Vec<u8>> = None;
    let mut socket_error = None;
    let mut acked: Vec<Vec<u8>> = Vec::new();
    for (j, f) in found.iter().enumerate() {
        let reply = match target.read_line(m.timeout).await {
            Ok(l) => l,
            Err(e) => {
                socket_error = Some((j, e));
                break;
            }
        };
        let failed = [&auth_reply, &select_reply, &reply]
            .into_iter()
            .find(|r| r.first() == Some(&b'-'));
        match failed {
            // The first error is the reply; SELECT must be sent again.
            Some(err) if target_error.is_none() => {
                target.last_dbid = -1;
                target_error = Some(err[1..].to_vec());
            }
            Some(_) => {}
            None if !m.copy => acked.push(m.keys[f.pos].clone()),
            None => {}
        }
    }
    if let Some((0, e)) = &socket_error {
        if target_error.is_none() && !migrate_conn::timed_out(e) {
            // Nothing was processed: retried (or reported) by the caller.
            return Attempt::SocketErr {
                retry: true,
                writing: false,
            };
        }
    }
    if !acked.is_empty() {
        delete_keys(conn, held, &acked).await;
    }
    match (target_error, socket_error) {
        (Some(err), sock) => {
            conn.out.error(&format!(
                "ERR Target instance replied with error: {}",
                String::from_utf8_lossy(&err)
            ));
            if sock.is_none() {
                migrate_conn::put(&m.host, &m.port, target);
            }
            Attempt::Done
        }
        // No retry once keys may have been processed.
        (None, Some(_)) => Attempt::SocketErr {
            retry: false,
            writing: false,
        },
        (None, None) => {
            target.last_dbid = m.dbid;
            migrate_conn::put(&m.host, &m.port, target);
            conn.out.ok();
            Attempt::Done
        }
    }
}

#[cfg(test)]
mod tests {
    use super::find_keys;

    fn keys(args: &[&str]) -> Vec<usize> {
        let argv: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
        let mut out = Vec::new();
        find_keys(&argv, &mut out);
        out
    }

    #[test]
    fn keys_as_redis_finds_them() {
        assert_eq!(keys(&["migrate", "h", "1", "k", "0", "10"]), vec![3]);
        assert_eq!(
            keys(&["migrate", "h", "1", "", "0", "10", "copy", "keys", "a", "b"]),
            vec![8, 9]
        );
        assert!(keys(&["migrate", "h", "1", "x", "0", "10", "keys", "a"]).is_empty());
        assert_eq!(keys(&["migrate", "h", "1", "", "0", "10", "keys"]), vec![3]);
        assert_eq!(
            keys(&["migrate", "h", "1", "x", "0", "10", "keys"]),
            vec![3]
        );
        assert_eq!(
            keys(&["migrate", "h", "1", "", "0", "10", "auth", "keys", "a"]),
            vec![3]
        );
    }
}
