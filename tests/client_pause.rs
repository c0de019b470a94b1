//! CLIENT PAUSE / UNPAUSE timing, on shardis (1 and 4 shards) and on the
//! reference redis-server 7.0 (so the expectations are Redis's own).
//! Times are checked loosely: a paused command waits at least about
//! half of the pause, an unpaused one answers well before.

mod common;

use common::repl::{info_field, wait_for, wait_synced};
use common::{keys_on_distinct_shards, redis_available, Conn, Server};
use std::time::{Duration, Instant};

const PAUSE_MS: u64 = 1000;
/// A paused command waits at least this long.
const HELD: Duration = Duration::from_millis(PAUSE_MS / 2);
/// An unpaused command answers within this.
const PROMPT: Duration = Duration::from_millis(PAUSE_MS * 4 / 10);

/// Runs `args` on `c`: the reply and how long it took.
fn timed(c: &mut Conn, args: &[&str]) -> (Vec<u8>, Duration) {
    let t = Instant::now();
    let r = c.cmd(args);
    (r, t.elapsed())
}

fn check(server: &Server) {
    let name = &server.name;
    let mut admin = server.conn();
    // Several connections (spread over the shards) and keys on every shard.
    let mut others: Vec<Conn> = (0..4).map(|_| server.conn()).collect();
    let keys = keys_on_distinct_shards("pause", 4, 4);
    for k in &keys {
        assert_eq!(admin.cmd(&["SET", k, "v"]), b"+OK\r\n");
    }

    // WRITE: reads answer at once, a write waits for the pause's end.
    let start = Instant::now();
    assert_eq!(admin.line("CLIENT PAUSE 1000 WRITE"), b"+OK\r\n");
    for (c, k) in others.iter_mut().zip(&keys) {
        let (r, took) = timed(c, &["GET", k]);
        assert_eq!(r, b"$1\r\nv\r\n", "{name}");
        assert!(
            took < PROMPT,
            "{name}: GET during a WRITE pause took {took:?}"
        );
    }
    let (r, _) = timed(&mut others[0], &["SET", &keys[1], "w"]);
    assert_eq!(r, b"+OK\r\n", "{name}");
    let waited = start.elapsed();
    assert!(
        waited >= HELD,
        "{name}: SET answered {waited:?} into a WRITE pause"
    );
    // Over: writes answer at once again.
    let (_, took) = timed(&mut others[1], &["SET", &keys[2], "w"]);
    assert!(took < PROMPT, "{name}: SET after the pause took {took:?}");

    // EXEC waits only for a queue holding a write.
    let mut rtx = server.conn();
    let mut wtx = server.conn();
    for (c, cmd) in [(&mut rtx, "GET"), (&mut wtx, "INCR")] {
        assert_eq!(c.line("MULTI"), b"+OK\r\n");
        assert_eq!(c.cmd(&[cmd, &keys[0]]), b"+QUEUED\r\n", "{name}");
    }
    let start = Instant::now();
    assert_eq!(admin.line("CLIENT PAUSE 1000 WRITE"), b"+OK\r\n");
    let (r, took) = timed(&mut rtx, &["EXEC"]);
    assert!(r.starts_with(b"*1\r\n"), "{name}");
    assert!(took < PROMPT, "{name}: a read-only EXEC took {took:?}");
    let (r, _) = timed(&mut wtx, &["EXEC"]);
    assert!(r.starts_with(b"*1\r\n-ERR value is not"), "{name}");
    let waited = start.elapsed();
    assert!(
        waited >= HELD,
        "{name}: EXEC of a write answered {waited:?} into the pause"
    );
    // may_replicate commands (PUBLISH) wait like writes.
    let start = Instant::now();
    assert_eq!(admin.line("CLIENT PAUSE 1000 WRITE"), b"+OK\r\n");
    assert_eq!(others[3].cmd(&["PUBLISH", "ch", "m"]), b":0\r\n");
    let waited = start.elapsed();
    assert!(
        waited >= HELD,
        "{name}: PUBLISH answered {waited:?} into the pause"
    );

    // ALL: reads wait too.
    let start = Instant::now();
    assert_eq!(admin.line("CLIENT PAUSE 1000 ALL"), b"+OK\r\n");
    let (r, _) = timed(&mut others[2], &["GET", &keys[0]]);
    assert_eq!(r, b"$1\r\nv\r\n", "{name}");
    let waited = start.elapsed();
    assert!(
        waited >= HELD,
        "{name}: GET answered {waited:?} into an ALL pause"
    );
    // As Redis: errors found before the pause check are not held.
    assert_eq!(admin.line("CLIENT PAUSE 1000"), b"+OK\r\n");
    let (r, took) = timed(&mut others[3], &["GET"]);
    assert!(r.starts_with(b"-ERR wrong number"), "{name}");
    assert!(
        took < PROMPT,
        "{name}: an arity error took {took:?} in an ALL pause"
    );
    // CLIENT UNPAUSE from a normal client is itself held by ALL.
    let (r, _) = timed(&mut others[3], &["CLIENT", "UNPAUSE"]);
    assert_eq!(r, b"+OK\r\n", "{name}");

    // A later pause keeps the later end and the stricter mode.
    let start = Instant::now();
    assert_eq!(admin.line("CLIENT PAUSE 1500 WRITE"), b"+OK\r\n");
    assert_eq!(admin.line("CLIENT PAUSE 100 ALL"), b"+OK\r\n");
    let (_, _) = timed(&mut others[0], &["GET", &keys[0]]);
    let waited = start.elapsed();
    assert!(
        waited >= Duration::from_millis(1000),
        "{name}: GET answered {waited:?} into a 1500 ms pause made ALL"
    );

    // A pause holds the requests after it in the same read.
    let start = Instant::now();
    let mut both = common::encode(&["CLIENT", "PAUSE", "1000", "WRITE"]);
    both.extend(common::encode(&["SET", &keys[2], "p"]));
    others[2].send_raw(&both);
    assert_eq!(others[2].read_reply(), b"+OK\r\n", "{name}");
    assert_eq!(others[2].read_reply(), b"+OK\r\n", "{name}");
    let waited = start.elapsed();
    assert!(
        waited >= HELD,
        "{name}: a pipelined SET answered {waited:?} into the pause"
    );

    // CLIENT UNPAUSE releases a held write at once.
    assert_eq!(admin.line("CLIENT PAUSE 20000 WRITE"), b"+OK\r\n");
    others[1].send(&["SET", &keys[3], "x"]);
    others[1].set_timeout(Duration::from_millis(300));
    assert!(
        others[1].try_read_reply().is_err(),
        "{name}: SET answered during a WRITE pause"
    );
    others[1].set_timeout(Duration::from_secs(10));
    let start = Instant::now();
    assert_eq!(admin.line("CLIENT UNPAUSE"), b"+OK\r\n");
    assert_eq!(others[1].read_reply(), b"+OK\r\n", "{name}");
    let took = start.elapsed();
    // Well short of the 20 s pause; loose because a loaded machine can
    // keep the held batch's thread off the CPU for a few hundred ms.
    assert!(
        took < Duration::from_secs(5),
        "{name}: SET released {took:?} after CLIENT UNPAUSE"
    );
    assert_eq!(admin.cmd(&["GET", &keys[3]]), b"$1\r\nx\r\n", "{name}");
}

#[test]
fn client_pause_holds_writes_or_everything() {
    for shards in [1, 4] {
        check(&Server::shardis(shards, &[]));
    }
    if redis_available() {
        check(&Server::redis(&[]));
    }
}

/// Scripts under a WRITE pause: one that declares `no-writes` (EVAL,
/// EVALSHA, FCALL, queued in MULTI too) runs at once, as Redis counts a
/// script's declared flags instead of EVAL's `may_replicate`; one without
/// flags, or with flags that allow writes, waits.
fn declared_no_writes_scripts_are_not_paused(server: &Server) {
    let name = &server.name;
    let mut admin = server.conn();
    let mut c = server.conn();
    let lib = "#!lua name=pauselib\nredis.register_function{function_name='ro', \
               callback=function() return 'hi' end, flags={'no-writes'}}";
    assert_eq!(
        admin.cmd(&["FUNCTION", "LOAD", "REPLACE", lib]),
        b"$8\r\npauselib\r\n"
    );
    let ro = "#!lua flags=no-writes\nreturn 'ro'";
    let sha = String::from_utf8(admin.cmd(&["SCRIPT", "LOAD", ro])).unwrap();
    let sha = sha.lines().nth(1).unwrap().to_string();

    let start = Instant::now();
    assert_eq!(admin.line("CLIENT PAUSE 1000 WRITE"), b"+OK\r\n");
    let calls: [&[&str]; 4] = [
        &["EVAL", "#!lua flags=no-writes\nreturn 'uncached'", "0"],
        &["EVAL", ro, "0"],
        &["EVALSHA", &sha, "0"],
        &["FCALL", "ro", "0"],
    ];
    for args in calls {
        let (r, took) = timed(&mut c, args);
        assert!(r.starts_with(b"$"), "{name}: {args:?} -> {r:?}");
        assert!(
            took < PROMPT,
            "{name}: {args:?} took {took:?} in a WRITE pause"
        );
    }
    assert_eq!(c.line("MULTI"), b"+OK\r\n");
    assert_eq!(c.cmd(&["EVAL", ro, "0"]), b"+QUEUED\r\n", "{name}");
    let (r, took) = timed(&mut c, &["EXEC"]);
    assert_eq!(r, b"*1\r\n$2\r\nro\r\n", "{name}");
    assert!(
        took < PROMPT,
        "{name}: EXEC of a no-writes script took {took:?}"
    );
    // A script that may write waits for the pause's end.
    let (r, _) = timed(&mut c, &["EVAL", "#!lua\nreturn 1", "0"]);
    assert_eq!(r, b":1\r\n", "{name}");
    let waited = start.elapsed();
    assert!(
        waited >= HELD,
        "{name}: a script that may write answered {waited:?} into the pause"
    );
    assert_eq!(admin.line("FUNCTION FLUSH"), b"+OK\r\n");
}

#[test]
fn no_writes_scripts_run_during_a_write_pause() {
    for shards in [1, 4] {
        declared_no_writes_scripts_are_not_paused(&Server::shardis(shards, &[]));
    }
    if redis_available() {
        declared_no_writes_scripts_are_not_paused(&Server::redis(&[]));
    }
}

/// During a pause a key whose TTL passed reads as missing but is not
/// deleted (no DEL may reach the AOF or replicas); once the pause ends
/// the next read deletes it. Same on redis-server.
fn expired_keys_stay_during_a_pause(server: &Server) {
    let name = &server.name;
    let mut c = server.conn();
    let keys = keys_on_distinct_shards("ttl", 4, 4);
    for k in &keys {
        assert_eq!(c.cmd(&["SET", k, "v", "PX", "100"]), b"+OK\r\n");
    }
    assert_eq!(c.line("CLIENT PAUSE 100000 WRITE"), b"+OK\r\n");
    std::thread::sleep(Duration::from_millis(250));
    for k in &keys {
        assert_eq!(c.cmd(&["GET", k]), b"$-1\r\n", "{name}: {k} reads missing");
    }
    assert_eq!(
        c.line("DBSIZE"),
        b":4\r\n",
        "{name}: nothing deleted during the pause"
    );
    assert_eq!(c.line("CLIENT UNPAUSE"), b"+OK\r\n");
    for k in &keys {
        assert_eq!(c.cmd(&["GET", k]), b"$-1\r\n", "{name}");
    }
    assert_eq!(
        c.line("DBSIZE"),
        b":0\r\n",
        "{name}: deleted once the pause ended"
    );
}

#[test]
fn expired_keys_are_kept_while_paused() {
    for shards in [1, 4] {
        expired_keys_stay_during_a_pause(&Server::shardis(shards, &[]));
    }
    if redis_available() {
        expired_keys_stay_during_a_pause(&Server::redis(&[]));
    }
}

fn offset(c: &mut Conn, field: &str) -> i64 {
    info_field(c, "replication", field)
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no {field} in INFO replication"))
}

/// Pauses the replica's writes, then has the master write `key`: returns
/// the master offset before that write, once the replica has read it.
fn pause_with_a_held_write(master: &Server, replica: &Server, key: &str) -> i64 {
    let mut m = master.conn();
    let mut r = replica.conn();
    // The stream has selected the database: SET `key` comes alone.
    wait_synced(master, replica);
    m.cmd(&["SET", "foo", "bar"]);
    m.cmd(&["DEL", key]);
    wait_synced(master, replica);
    let before = offset(&mut m, "master_repl_offset");
    assert_eq!(r.line("CLIENT PAUSE 100000 WRITE"), b"+OK\r\n");
    m.cmd(&["SET", key, "v"]);
    let target = offset(&mut m, "master_repl_offset");
    wait_for(
        "the replica to read the stream",
        Duration::from_secs(10),
        || offset(&mut r, "slave_read_repl_offset") == target,
    );
    before
}

/// A replica's CLIENT PAUSE WRITE holds its master's stream too (Redis
/// 7.0 postpones the master client): read but not applied, so
/// `slave_repl_offset` stays while `slave_read_repl_offset` moves on;
/// the replica still ACKs every second; UNPAUSE applies the rest.
fn paused_replica_holds_the_stream(master: &Server, replica: &Server) {
    let name = &replica.name;
    let mut m = master.conn();
    let mut r = replica.conn();
    let before = pause_with_a_held_write(master, replica, "foo2");
    assert_eq!(offset(&mut r, "slave_repl_offset"), before, "{name}");
    assert_eq!(r.line("GET foo2"), b"$-1\r\n", "{name}");
    let blocked = info_field(&mut r, "clients", "blocked_clients");
    assert_eq!(blocked.as_deref(), Some("1"), "{name}: the master client");
    // Five seconds into the pause the master heard an ACK lately (one a
    // second, timed in whole seconds).
    std::thread::sleep(Duration::from_secs(5));
    let slave0 = info_field(&mut m, "replication", "slave0").unwrap_or_default();
    let lag: u64 = slave0
        .rsplit_once("lag=")
        .and_then(|(_, l)| l.parse().ok())
        .unwrap_or_else(|| panic!("{name}: slave0 {slave0}"));
    assert!(lag <= 2, "{name}: no ACK while paused: {slave0}");
    assert_eq!(r.line("CLIENT UNPAUSE"), b"+OK\r\n");
    wait_synced(master, replica);
    assert_eq!(r.line("GET foo2"), b"$1\r\nv\r\n", "{name}");
}

#[test]
fn a_paused_replica_holds_its_masters_stream() {
    let master = Server::shardis(1, &[]);
    let target = format!("127.0.0.1 {}", master.port);
    for shards in [1, 4] {
        let replica = Server::shardis(shards, &["--replicaof", &target]);
        paused_replica_holds_the_stream(&master, &replica);
    }
    if redis_available() {
        let replica = Server::redis(&["--replicaof", &target]);
        paused_replica_holds_the_stream(&master, &replica);
    }
}

/// REPLICAOF NO ONE during the pause drops the write the pause held (the
/// master client goes), as on redis-server.
fn promoted_replica_drops_the_held_write(master: &Server, replica: &Server) {
    let name = &replica.name;
    let mut r = replica.conn();
    pause_with_a_held_write(master, replica, "foo3");
    assert_eq!(r.line("REPLICAOF NO ONE"), b"+OK\r\n");
    assert_eq!(r.line("CLIENT UNPAUSE"), b"+OK\r\n");
    wait_for("the held write to go", Duration::from_secs(10), || {
        info_field(&mut r, "clients", "blocked_clients").as_deref() == Some("0")
    });
    assert_eq!(r.line("GET foo3"), b"$-1\r\n", "{name}");
}

#[test]
fn a_replica_promoted_while_paused_drops_the_held_write() {
    let master = Server::shardis(1, &[]);
    let target = format!("127.0.0.1 {}", master.port);
    let replica = Server::shardis(1, &["--replicaof", &target]);
    promoted_replica_drops_the_held_write(&master, &replica);
    if redis_available() {
        let replica = Server::redis(&["--replicaof", &target]);
        promoted_replica_drops_the_held_write(&master, &replica);
    }
}

/// A read-only replica refuses a client's write with READONLY at once,
/// paused or not: Redis checks READONLY before the pause; a read is held
/// by a pause of everything, a write by either.
fn paused_replica_refuses_writes_at_once(replica: &Server) {
    let name = &replica.name;
    let mut admin = replica.conn();
    let mut c = replica.conn();
    for mode in ["WRITE", "ALL"] {
        assert_eq!(
            admin.line(&format!("CLIENT PAUSE {PAUSE_MS} {mode}")),
            b"+OK\r\n"
        );
        let (r, took) = timed(&mut c, &["SET", "paused-key", "v"]);
        assert_eq!(
            r, b"-READONLY You can't write against a read only replica.\r\n",
            "{name}"
        );
        assert!(
            took < PROMPT,
            "{name}: SET during a {mode} pause took {took:?}"
        );
        let (r, took) = timed(&mut c, &["INCR", "paused-counter"]);
        assert!(r.starts_with(b"-READONLY"), "{name}");
        assert!(
            took < PROMPT,
            "{name}: INCR during a {mode} pause took {took:?}"
        );
        assert_eq!(admin.line("CLIENT UNPAUSE"), b"+OK\r\n");
    }
}

#[test]
fn a_paused_read_only_replica_refuses_writes_at_once() {
    let master = Server::shardis(1, &[]);
    let target = format!("127.0.0.1 {}", master.port);
    for shards in [1, 4] {
        let replica = Server::shardis(shards, &["--replicaof", &target]);
        paused_replica_refuses_writes_at_once(&replica);
    }
    if redis_available() {
        let replica = Server::redis(&["--replicaof", &target]);
        paused_replica_refuses_writes_at_once(&replica);
    }
}
