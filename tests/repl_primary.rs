//! Replication, primary side: a real redis-server 7.0 replica follows a
//! Shardis primary (1 and 4 shards): full sync of every type (diskless
//! and disk-based), live writes during and after the sync, expiries
//! propagated as DELs, partial resync after either side drops the link,
//! WAIT, INFO replication and ROLE.

mod common;

use common::dataset::snapshot;
use common::{bulk_items, bulk_payload, redis_available, Conn, Server};
use std::time::{Duration, Instant};

fn info(c: &mut Conn, section: &str) -> String {
    String::from_utf8(bulk_payload(&c.cmd(&["INFO", section]))).unwrap()
}

fn field(text: &str, name: &str) -> Option<String> {
    text.lines().find_map(|l| {
        l.strip_prefix(&format!("{name}:"))
            .map(|v| v.trim().to_string())
    })
}

fn stat(c: &mut Conn, name: &str) -> i64 {
    field(&info(c, "stats"), name).unwrap().parse().unwrap()
}

fn wait_until(what: &str, limit: Duration, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Waits until the replica's link is up and it processed every byte the
/// primary produced.
fn wait_synced(primary: &mut Conn, replica: &mut Conn) {
    wait_until("the replica to catch up", Duration::from_secs(15), || {
        let p = info(primary, "replication");
        let r = info(replica, "replication");
        let up = field(&r, "master_link_status").as_deref() == Some("up");
        up && field(&p, "master_repl_offset") == field(&r, "slave_repl_offset")
    });
}

fn ok(reply: Vec<u8>) {
    assert!(
        reply.starts_with(b"+") || reply.starts_with(b":") || reply.starts_with(b"$"),
        "{}",
        common::escape(&reply)
    );
}

/// Keys of every type, in three databases, some with TTLs.
fn populate(c: &mut Conn, tag: &str) {
    for db in [0, 2, 9] {
        ok(c.cmd(&["SELECT", &db.to_string()]));
        for i in 0..40 {
            ok(c.cmd(&["SET", &format!("{tag}:s:{db}:{i}"), &format!("value-{i}")]));
            ok(c.cmd(&["SET", &format!("{tag}:n:{db}:{i}"), &(i * 1000).to_string()]));
        }
        ok(c.cmd(&[
            "RPUSH",
            &format!("{tag}:list:{db}"),
            "a",
            "b",
            "c",
            "1",
            "2",
        ]));
        let big: Vec<String> = (0..300).map(|i| format!("item-{i}")).collect();
        let mut args = vec!["RPUSH".to_string(), format!("{tag}:biglist:{db}")];
        args.extend(big.iter().cloned());
        ok(c.cmd(&args));
        ok(c.cmd(&["SADD", &format!("{tag}:iset:{db}"), "1", "2", "3", "100"]));
        ok(c.cmd(&["SADD", &format!("{tag}:set:{db}"), "x", "y", "z"]));
        ok(c.cmd(&[
            "ZADD",
            &format!("{tag}:z:{db}"),
            "1.5",
            "a",
            "2",
            "b",
            "-3",
            "c",
        ]));
        let mut args = vec!["ZADD".to_string(), format!("{tag}:bigz:{db}")];
        for i in 0..200 {
            args.push(i.to_string());
            args.push(format!("member-{i}"));
        }
        ok(c.cmd(&args));
        ok(c.cmd(&["HSET", &format!("{tag}:h:{db}"), "f1", "v1", "f2", "2"]));
        let mut args = vec!["HSET".to_string(), format!("{tag}:bigh:{db}")];
        for i in 0..200 {
            args.push(format!("field-{i}"));
            args.push("x".repeat(i % 90));
        }
        ok(c.cmd(&args));
        ok(c.cmd(&["SET", &format!("{tag}:ttl:{db}"), "v", "EX", "7200"]));
        ok(c.cmd(&["HSET", &format!("{tag}:httl:{db}"), "a", "b"]));
        ok(c.cmd(&["EXPIRE", &format!("{tag}:httl:{db}"), "3600"]));
    }
    ok(c.cmd(&["SELECT", "0"]));
}

/// Every key of both servers must match: content, encoding, TTL hour,
/// DUMP payload, and PTTL within a second.
fn compare(primary: &mut Conn, replica: &mut Conn) {
    let p = snapshot(primary);
    let r = snapshot(replica);
    assert!(!p.is_empty());
    assert_eq!(p.len(), r.len(), "key count differs");
    for (key, state) in &p {
        let other = r.get(key).unwrap_or_else(|| {
            panic!(
                "db {} key {} missing on the replica",
                key.0,
                String::from_utf8_lossy(&key.1)
            )
        });
        assert_eq!(state, other, "key {:?}", String::from_utf8_lossy(&key.1));
    }
    for (db, key) in p.keys() {
        ok(primary.cmd(&["SELECT", &db.to_string()]));
        ok(replica.cmd(&["SELECT", &db.to_string()]));
        // DUMP payloads must be identical, except for hash tables,
        // whose element order is each server's own (their content was
        // compared above).
        let enc = primary.cmd(&[b"OBJECT".as_slice(), b"ENCODING", key]);
        if enc != b"$9\r\nhashtable\r\n" {
            let a = primary.cmd(&[b"DUMP".as_slice(), key]);
            let b = replica.cmd(&[b"DUMP".as_slice(), key]);
            assert!(
                bulk_payload(&a) == bulk_payload(&b),
                "DUMP of {} differs: {} vs {}",
                String::from_utf8_lossy(key),
                common::escape_short(&a, 200),
                common::escape_short(&b, 200)
            );
        }
        let pa = pttl(primary.cmd(&[b"PTTL".as_slice(), key]));
        let pb = pttl(replica.cmd(&[b"PTTL".as_slice(), key]));
        assert!(
            (pa < 0 && pa == pb) || (pa >= 0 && (pa - pb).abs() < 1000),
            "PTTL of {}: {pa} vs {pb}",
            String::from_utf8_lossy(key)
        );
    }
    ok(primary.cmd(&["SELECT", "0"]));
    ok(replica.cmd(&["SELECT", "0"]));
}

fn pttl(reply: Vec<u8>) -> i64 {
    std::str::from_utf8(&reply[1..reply.len() - 2])
        .unwrap()
        .parse()
        .unwrap()
}

/// Writes done while the sync runs and after it: plain writes, relative
/// TTLs, a transaction, a key that expires lazily, deletions, in
/// several databases.
fn live_writes(c: &mut Conn, tag: &str, round: usize) {
    for i in 0..50 {
        let db = [0, 2, 9][i % 3].to_string();
        ok(c.cmd(&["SELECT", &db]));
        ok(c.cmd(&["INCR", &format!("{tag}:n:{db}:{}", i % 40)]));
        ok(c.cmd(&[
            "SET",
            &format!("{tag}:live:{round}:{i}"),
            "x",
            "PX",
            "900000",
        ]));
        ok(c.cmd(&["LPUSH", &format!("{tag}:list:{db}"), &i.to_string()]));
        ok(c.cmd(&["ZINCRBY", &format!("{tag}:z:{db}"), "1", "a"]));
    }
    ok(c.cmd(&["SELECT", "0"]));
    ok(c.cmd(&["DEL", &format!("{tag}:s:0:{round}")]));
    // SORT ... STORE over keys its patterns name (on every shard).
    ok(c.cmd(&["SADD", &format!("{tag}:ids"), &round.to_string()]));
    ok(c.cmd(&["SET", &format!("{tag}:w:{round}"), &(9 - round).to_string()]));
    ok(c.cmd(&[
        "SORT",
        &format!("{tag}:ids"),
        "BY",
        &format!("{tag}:w:*"),
        "GET",
        "#",
        "GET",
        &format!("{tag}:w:*"),
        "STORE",
        &format!("{tag}:sorted"),
    ]));
    ok(c.cmd(&["MULTI"]));
    c.cmd(&["HSET", &format!("{tag}:h:0"), "tx", &round.to_string()]);
    c.cmd(&["SADD", &format!("{tag}:set:0"), &format!("tx{round}")]);
    assert!(c.cmd(&["EXEC"]).starts_with(b"*2"));
    // Expires on the primary; reading it there propagates the DEL.
    ok(c.cmd(&["SET", &format!("{tag}:short:{round}"), "v", "PX", "30"]));
    std::thread::sleep(Duration::from_millis(60));
    assert_eq!(c.cmd(&["GET", &format!("{tag}:short:{round}")]), b"$-1\r\n");
}

fn start_primary(shards: usize, diskless: bool) -> Server {
    Server::shardis(
        shards,
        &[
            "--repl-diskless-sync",
            if diskless { "yes" } else { "no" },
            "--repl-diskless-sync-delay",
            "0",
        ],
    )
}

fn full_sync_and_live_writes(shards: usize, diskless: bool) {
    if !redis_available() {
        return;
    }
    let primary = start_primary(shards, diskless);
    let replica = Server::redis(&[]);
    let mut p = primary.conn();
    let mut r = replica.conn();
    populate(&mut p, "pre");
    assert_eq!(stat(&mut p, "sync_full"), 0);
    // Writes from another connection run while the replica syncs.
    let port = primary.port;
    let writer = std::thread::spawn(move || {
        let mut w = Conn::connect(port);
        for round in 0..3 {
            live_writes(&mut w, "pre", round);
        }
    });
    // Counters bumped from several connections (so several shards'
    // threads) across the snapshot instant: a write lost or applied
    // twice shows as a different count.
    let counters: Vec<_> = (0..3)
        .map(|t| {
            std::thread::spawn(move || {
                let mut w = Conn::connect(port);
                for i in 0..400 {
                    ok(w.cmd(&["INCR", &format!("ctr:{}", (i * 7 + t) % 16)]));
                    ok(w.cmd(&["HINCRBY", "ctr:h", &format!("f{t}"), "1"]));
                }
            })
        })
        .collect();
    ok(r.cmd(&["REPLICAOF", "127.0.0.1", &primary.port.to_string()]));
    writer.join().unwrap();
    for c in counters {
        c.join().unwrap();
    }
    wait_synced(&mut p, &mut r);
    assert_eq!(stat(&mut p, "sync_full"), 1);
    for t in 0..3 {
        assert_eq!(
            r.cmd(&["HGET", "ctr:h", &format!("f{t}")]),
            b"$3\r\n400\r\n"
        );
    }
    for round in 3..5 {
        live_writes(&mut p, "pre", round);
    }
    populate(&mut p, "post");
    wait_synced(&mut p, &mut r);
    compare(&mut p, &mut r);
    // The lazily expired keys were deleted on the replica by the DELs.
    for round in 0..5 {
        assert_eq!(r.cmd(&["EXISTS", &format!("pre:short:{round}")]), b":0\r\n");
    }
    let log = replica.log_text();
    if diskless {
        assert!(
            log.contains("receiving streamed RDB from master with EOF"),
            "{log}"
        );
    } else {
        assert!(
            log.contains("receiving") && !log.contains("with EOF"),
            "{log}"
        );
    }
}

#[test]
fn full_sync_one_shard_diskless() {
    full_sync_and_live_writes(1, true);
}

#[test]
fn full_sync_four_shards_diskless() {
    full_sync_and_live_writes(4, true);
}

#[test]
fn full_sync_four_shards_disk() {
    full_sync_and_live_writes(4, false);
}

/// Active expiry on the primary reaches the replica as a DEL.
#[test]
fn active_expiry_propagates() {
    if !redis_available() {
        return;
    }
    let primary = start_primary(2, true);
    let replica = Server::redis(&[]);
    let mut p = primary.conn();
    let mut r = replica.conn();
    ok(r.cmd(&["REPLICAOF", "127.0.0.1", &primary.port.to_string()]));
    wait_synced(&mut p, &mut r);
    for i in 0..20 {
        ok(p.cmd(&["SET", &format!("gone:{i}"), "v", "PX", "200"]));
    }
    ok(p.cmd(&["SET", "stays", "v"]));
    wait_synced(&mut p, &mut r);
    // Nobody reads the keys: the primary's expiry cycle removes them.
    wait_until("the DELs on the replica", Duration::from_secs(10), || {
        r.cmd(&["DBSIZE"]) == b":1\r\n"
    });
    assert_eq!(p.cmd(&["DBSIZE"]), b":1\r\n");
}

/// PFDEBUG TODENSE / GETREG that convert a value propagate (Redis forces
/// it with server.dirty), so the replica's value turns dense too; one
/// that converts nothing does not.
#[test]
fn pfdebug_conversion_propagates() {
    if !redis_available() {
        return;
    }
    let primary = start_primary(2, true);
    let replica = Server::redis(&[]);
    let mut p = primary.conn();
    let mut r = replica.conn();
    ok(r.cmd(&["REPLICAOF", "127.0.0.1", &primary.port.to_string()]));
    wait_synced(&mut p, &mut r);
    ok(p.cmd(&["PFADD", "h1", "a", "b"]));
    ok(p.cmd(&["PFADD", "h2", "c"]));
    wait_synced(&mut p, &mut r);
    let offset = |c: &mut Conn| field(&info(c, "replication"), "master_repl_offset");
    assert_eq!(p.cmd(&["PFDEBUG", "TODENSE", "h1"]), b":1\r\n");
    assert!(p
        .cmd(&["PFDEBUG", "GETREG", "h2"])
        .starts_with(b"*16384\r\n"));
    wait_synced(&mut p, &mut r);
    for key in ["h1", "h2"] {
        // PFDEBUG is a write: a read-only replica refuses it. Byte 4 of
        // the header is the encoding, 0 for dense.
        assert_eq!(r.cmd(&["GETRANGE", key, "4", "4"]), b"$1\r\n\x00\r\n");
        assert_eq!(r.cmd(&["GET", key]), p.cmd(&["GET", key]));
    }
    let before = offset(&mut p);
    assert_eq!(p.cmd(&["PFDEBUG", "TODENSE", "h1"]), b":0\r\n");
    assert_eq!(p.cmd(&["PFDEBUG", "ENCODING", "h1"]), b"+dense\r\n");
    assert_eq!(offset(&mut p), before);
}

fn partial_resync(shards: usize) {
    if !redis_available() {
        return;
    }
    let primary = start_primary(shards, true);
    let replica = Server::redis(&[]);
    let mut p = primary.conn();
    let mut r = replica.conn();
    populate(&mut p, "a");
    ok(r.cmd(&["REPLICAOF", "127.0.0.1", &primary.port.to_string()]));
    wait_synced(&mut p, &mut r);
    let full = stat(&mut p, "sync_full");
    assert_eq!(full, 1);
    let mut partial = stat(&mut p, "sync_partial_ok");
    // A fresh replica asks PSYNC with its own id: a failed PSYNC, as
    // redis-server counts it.
    let partial_err = stat(&mut p, "sync_partial_err");
    assert_eq!(partial_err, 1);

    // The primary drops the replica; writes meanwhile come from the backlog.
    let killed = p.cmd(&["CLIENT", "KILL", "TYPE", "replica"]);
    assert_eq!(killed, b":1\r\n");
    live_writes(&mut p, "a", 0);
    wait_synced(&mut p, &mut r);
    wait_until("a partial resync", Duration::from_secs(10), || {
        stat(&mut p, "sync_partial_ok") == partial + 1
    });
    partial += 1;
    compare(&mut p, &mut r);

    // The replica drops the master link.
    ok(r.cmd(&["CLIENT", "KILL", "TYPE", "master"]));
    live_writes(&mut p, "a", 1);
    wait_synced(&mut p, &mut r);
    wait_until("a second partial resync", Duration::from_secs(10), || {
        stat(&mut p, "sync_partial_ok") == partial + 1
    });
    assert_eq!(stat(&mut p, "sync_full"), full, "no new full sync");
    assert_eq!(stat(&mut p, "sync_partial_err"), partial_err);
    compare(&mut p, &mut r);
    let log = replica.log_text();
    assert!(
        log.contains("Successful partial resynchronization with master"),
        "{log}"
    );
}

#[test]
fn partial_resync_one_shard() {
    partial_resync(1);
}

#[test]
fn partial_resync_four_shards() {
    partial_resync(4);
}

#[test]
fn wait_info_and_role() {
    if !redis_available() {
        return;
    }
    let primary = start_primary(4, true);
    let mut p = primary.conn();
    // Before any replica: no backlog, WAIT 0 answers 0 at once.
    let text = info(&mut p, "replication");
    assert_eq!(field(&text, "role").as_deref(), Some("master"));
    assert_eq!(field(&text, "connected_slaves").as_deref(), Some("0"));
    assert_eq!(field(&text, "repl_backlog_active").as_deref(), Some("0"));
    assert_eq!(p.cmd(&["WAIT", "0", "0"]), b":0\r\n");
    let started = Instant::now();
    assert_eq!(p.cmd(&["WAIT", "1", "100"]), b":0\r\n");
    assert!(started.elapsed() >= Duration::from_millis(90));
    let old_replid = field(&text, "master_replid").unwrap();
    // WAIT forever blocks like a blocking command: counted, and ended
    // by CLIENT UNBLOCK (timeout: the count; error: -UNBLOCKED).
    for (how, reply) in [
        ("TIMEOUT", b":0\r\n".to_vec()),
        (
            "ERROR",
            b"-UNBLOCKED client unblocked via CLIENT UNBLOCK\r\n".to_vec(),
        ),
    ] {
        let mut w = primary.conn();
        let id = String::from_utf8(w.cmd(&["CLIENT", "ID"])).unwrap();
        let id = id.trim_start_matches(':').trim_end().to_string();
        w.send(&["WAIT", "1", "0"]);
        wait_until("WAIT to block", Duration::from_secs(5), || {
            field(&info(&mut p, "clients"), "blocked_clients").as_deref() == Some("1")
        });
        assert_eq!(p.cmd(&["CLIENT", "UNBLOCK", &id, how]), b":1\r\n");
        assert_eq!(w.read_reply(), reply);
    }
    assert_eq!(
        field(&info(&mut p, "clients"), "blocked_clients").as_deref(),
        Some("0")
    );

    let replica = Server::redis(&["--replica-announce-ip", "127.0.0.1"]);
    let mut r = replica.conn();
    ok(r.cmd(&["REPLICAOF", "127.0.0.1", &primary.port.to_string()]));
    wait_synced(&mut p, &mut r);

    ok(p.cmd(&["SET", "k", "v"]));
    assert_eq!(p.cmd(&["WAIT", "1", "0"]), b":1\r\n");
    ok(p.cmd(&["SET", "k2", "v"]));
    let started = Instant::now();
    assert_eq!(p.cmd(&["WAIT", "2", "100"]), b":1\r\n");
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(90) && took < Duration::from_secs(2),
        "{took:?}"
    );
    assert_eq!(r.cmd(&["GET", "k2"]), b"$1\r\nv\r\n");
    // A write and WAIT pipelined in one packet: WAIT covers the write.
    let mut raw = common::encode(&["SET", "k5", "pipelined"]);
    raw.extend(common::encode(&["WAIT", "1", "0"]));
    p.send_raw(&raw);
    assert_eq!(p.read_reply(), b"+OK\r\n");
    assert_eq!(p.read_reply(), b":1\r\n");
    assert_eq!(r.cmd(&["GET", "k5"]), b"$9\r\npipelined\r\n");

    wait_synced(&mut p, &mut r);
    let text = info(&mut p, "replication");
    let names: Vec<&str> = text
        .lines()
        .skip(1)
        .filter_map(|l| l.split(':').next())
        .filter(|n| !n.is_empty())
        .collect();
    assert_eq!(
        names,
        [
            "role",
            "connected_slaves",
            "slave0",
            "master_failover_state",
            "master_replid",
            "master_replid2",
            "master_repl_offset",
            "second_repl_offset",
            "repl_backlog_active",
            "repl_backlog_size",
            "repl_backlog_first_byte_offset",
            "repl_backlog_histlen",
        ]
    );
    let offset: i64 = field(&text, "master_repl_offset").unwrap().parse().unwrap();
    assert!(offset > 0);
    let replid = field(&text, "master_replid").unwrap();
    assert_ne!(replid, old_replid, "a new history starts with the backlog");
    assert_eq!(replid.len(), 40);
    assert_eq!(field(&text, "repl_backlog_active").as_deref(), Some("1"));
    assert_eq!(
        field(&text, "repl_backlog_size").as_deref(),
        Some("1048576")
    );
    let first: i64 = field(&text, "repl_backlog_first_byte_offset")
        .unwrap()
        .parse()
        .unwrap();
    let histlen: i64 = field(&text, "repl_backlog_histlen")
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(first + histlen - 1, offset);
    let slave0 = field(&text, "slave0").unwrap();
    let expect = format!("ip=127.0.0.1,port={},state=online,offset=", replica.port);
    assert!(slave0.starts_with(&expect), "{slave0}");
    // The replica agrees on the history.
    let rtext = info(&mut r, "replication");
    assert_eq!(field(&rtext, "master_replid"), Some(replid));

    // The replica is not counted as a client; its bytes are counted.
    assert_eq!(
        field(&info(&mut p, "clients"), "connected_clients").as_deref(),
        Some("1")
    );
    let sent: i64 = field(&info(&mut p, "stats"), "total_net_repl_output_bytes")
        .unwrap()
        .parse()
        .unwrap();
    assert!(sent > offset, "{sent}");

    // ROLE: master, offset, [ip, port, acked offset].
    let role = p.cmd(&["ROLE"]);
    assert!(
        role.starts_with(b"*3\r\n$6\r\nmaster\r\n:"),
        "{}",
        common::escape(&role)
    );
    let tail = &role[role.iter().position(|&b| b == b'\n').unwrap() + 1..];
    let tail = &tail[tail.iter().position(|&b| b == b'\n').unwrap() + 1..];
    let tail = &tail[tail.iter().position(|&b| b == b'\n').unwrap() + 1..];
    let tail = &tail[tail.iter().position(|&b| b == b'\n').unwrap() + 1..];
    assert!(
        tail.starts_with(b"*1\r\n*3\r\n"),
        "{}",
        common::escape(&role)
    );
    let items = bulk_items(&tail[4..]);
    assert_eq!(items[0], b"127.0.0.1");
    assert_eq!(items[1], replica.port.to_string().as_bytes());
    let acked: i64 = String::from_utf8_lossy(&items[2]).parse().unwrap();
    assert!(acked > 0 && acked <= offset);

    // min-replicas-to-write: one good replica is enough, two are not.
    ok(p.cmd(&["CONFIG", "SET", "min-replicas-to-write", "1"]));
    ok(p.cmd(&["SET", "k3", "v"]));
    ok(p.cmd(&["CONFIG", "SET", "min-replicas-to-write", "2"]));
    assert_eq!(
        p.cmd(&["SET", "k4", "v"]),
        b"-NOREPLICAS Not enough good replicas to write.\r\n"
    );
    assert_eq!(p.cmd(&["GET", "k3"]), b"$1\r\nv\r\n");
    ok(p.cmd(&["CONFIG", "SET", "min-replicas-to-write", "0"]));
}

/// `repl-backlog-ttl`: a primary left without replicas for longer than
/// the ttl frees its backlog, so the replica coming back (its PSYNC
/// naming the old history) needs a full sync; with the default ttl the
/// same gap ends in a partial resync. The replica is kept away from the
/// primary by DEBUG SLEEP while the primary drops its link.
#[test]
fn backlog_ttl_frees_the_backlog() {
    if !redis_available() {
        return;
    }
    let primary = start_primary(2, true);
    let replica = Server::redis(&["--enable-debug-command", "yes"]);
    let mut p = primary.conn();
    let mut r = replica.conn();
    ok(r.cmd(&["REPLICAOF", "127.0.0.1", &primary.port.to_string()]));
    wait_synced(&mut p, &mut r);
    let backlog = |p: &mut Conn| field(&info(p, "replication"), "repl_backlog_active");
    // Away for `secs` with the primary's link dropped; `during` runs
    // meanwhile.
    let mut away = |p: &mut Conn, secs: &str, during: &mut dyn FnMut(&mut Conn)| {
        let mut sleeper = replica.conn();
        sleeper.send(&["DEBUG", "SLEEP", secs]);
        std::thread::sleep(Duration::from_millis(100));
        assert_eq!(p.cmd(&["CLIENT", "KILL", "TYPE", "replica"]), b":1\r\n");
        ok(p.cmd(&["SET", "during", secs]));
        during(p);
        assert_eq!(sleeper.read_reply(), b"+OK\r\n");
        wait_synced(p, &mut r);
    };
    // Default ttl (3600 s): the backlog stays, the replica continues.
    away(&mut p, "1", &mut |_| {});
    assert_eq!(stat(&mut p, "sync_full"), 1);
    assert_eq!(stat(&mut p, "sync_partial_ok"), 1);

    ok(p.cmd(&["CONFIG", "SET", "repl-backlog-ttl", "1"]));
    let old_replid = field(&info(&mut p, "replication"), "master_replid");
    away(&mut p, "5", &mut |p| {
        assert_eq!(backlog(p).as_deref(), Some("1"));
        let gone = Instant::now();
        wait_until("the backlog freed", Duration::from_secs(4), || {
            backlog(p).as_deref() == Some("0")
        });
        // Redis frees it once idle for more than the ttl.
        assert!(gone.elapsed() >= Duration::from_millis(900));
        assert_ne!(field(&info(p, "replication"), "master_replid"), old_replid);
    });
    assert_eq!(stat(&mut p, "sync_full"), 2, "a full sync after the ttl");
    assert_eq!(stat(&mut p, "sync_partial_ok"), 1);
    assert_eq!(r.cmd(&["GET", "during"]), b"$1\r\n5\r\n");
    assert_eq!(backlog(&mut p).as_deref(), Some("1"));
}

/// PUBLISH on the primary reaches the replica's subscribers.
#[test]
fn publish_reaches_replica_subscribers() {
    if !redis_available() {
        return;
    }
    let primary = start_primary(2, true);
    let replica = Server::redis(&[]);
    let mut p = primary.conn();
    let mut r = replica.conn();
    ok(r.cmd(&["REPLICAOF", "127.0.0.1", &primary.port.to_string()]));
    wait_synced(&mut p, &mut r);
    let mut sub = replica.conn();
    assert!(sub
        .cmd(&["SUBSCRIBE", "news"])
        .starts_with(b"*3\r\n$9\r\nsubscribe"));
    assert_eq!(p.cmd(&["PUBLISH", "news", "hello"]), b":0\r\n");
    assert_eq!(
        sub.read_reply(),
        b"*3\r\n$7\r\nmessage\r\n$4\r\nnews\r\n$5\r\nhello\r\n"
    );
    wait_synced(&mut p, &mut r);
}

/// With `repl-diskless-sync-delay`, replicas arriving within the delay
/// share one snapshot (as Redis batches them).
#[test]
fn diskless_delay_batches_replicas() {
    if !redis_available() {
        return;
    }
    let primary = Server::shardis(2, &["--repl-diskless-sync-delay", "1"]);
    let mut p = primary.conn();
    populate(&mut p, "b");
    let r1 = Server::redis(&[]);
    let r2 = Server::redis(&[]);
    let (mut c1, mut c2) = (r1.conn(), r2.conn());
    let started = Instant::now();
    ok(c1.cmd(&["REPLICAOF", "127.0.0.1", &primary.port.to_string()]));
    ok(c2.cmd(&["REPLICAOF", "127.0.0.1", &primary.port.to_string()]));
    wait_synced(&mut p, &mut c1);
    wait_synced(&mut p, &mut c2);
    assert!(started.elapsed() >= Duration::from_millis(900));
    assert_eq!(stat(&mut p, "sync_full"), 2);
    let log = primary.log_text();
    assert_eq!(log.matches("Starting BGSAVE for SYNC").count(), 1, "{log}");
    compare(&mut p, &mut c1);
    compare(&mut p, &mut c2);
}

/// A replica that stops reading is dropped once it is more than the
/// `client-output-buffer-limit replica` hard limit behind; it comes
/// back by a full sync, as the small backlog no longer holds its offset.
#[test]
fn output_limit_drops_a_stalled_replica() {
    if !redis_available() {
        return;
    }
    let primary = Server::shardis(
        1,
        &[
            "--repl-diskless-sync-delay",
            "0",
            "--repl-backlog-size",
            "16kb",
            "--client-output-buffer-limit",
            "replica",
            "256kb",
            "0",
            "0",
        ],
    );
    let replica = Server::redis(&["--enable-debug-command", "yes"]);
    let mut p = primary.conn();
    let mut r = replica.conn();
    ok(r.cmd(&["REPLICAOF", "127.0.0.1", &primary.port.to_string()]));
    wait_synced(&mut p, &mut r);
    // The replica stops reading for 3 seconds.
    r.send(&["DEBUG", "SLEEP", "3"]);
    std::thread::sleep(Duration::from_millis(100));
    let value = "v".repeat(100 * 1024);
    for i in 0..300 {
        ok(p.cmd(&["SET", &format!("big:{i}"), &value]));
    }
    wait_until("the replica to be dropped", Duration::from_secs(5), || {
        primary
            .log_text()
            .contains("scheduled to be closed ASAP for overcoming of output buffer limits")
    });
    assert_eq!(r.read_reply(), b"+OK\r\n");
    wait_synced(&mut p, &mut r);
    assert_eq!(stat(&mut p, "sync_full"), 2);
    assert_eq!(r.cmd(&["DBSIZE"]), b":300\r\n");
    compare(&mut p, &mut r);
}

/// A raw socket speaking the replica's side of the protocol.
struct RawReplica {
    s: std::net::TcpStream,
    buf: Vec<u8>,
}

impl RawReplica {
    fn connect(port: u16) -> RawReplica {
        let s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        RawReplica { s, buf: Vec::new() }
    }

    fn send(&mut self, args: &[&str]) {
        use std::io::Write;
        self.s.write_all(&common::encode(args)).unwrap();
    }

    fn fill(&mut self) {
        use std::io::Read;
        let mut chunk = [0u8; 65536];
        let n = self.s.read(&mut chunk).expect("read from the primary");
        assert!(n > 0, "primary closed the link");
        self.buf.extend_from_slice(&chunk[..n]);
    }

    /// Exactly `n` bytes.
    fn take(&mut self, n: usize) -> Vec<u8> {
        while self.buf.len() < n {
            self.fill();
        }
        let rest = self.buf.split_off(n);
        std::mem::replace(&mut self.buf, rest)
    }

    /// One line without its CRLF, skipping bare-newline keepalives.
    fn line(&mut self) -> String {
        loop {
            if let Some(p) = self.buf.iter().position(|&b| b == b'\n') {
                let line = self.take(p + 1);
                let text = String::from_utf8_lossy(&line[..p])
                    .trim_end_matches('\r')
                    .to_string();
                if text.is_empty() {
                    continue;
                }
                return text;
            }
            self.fill();
        }
    }

    /// The RDB payload after FULLRESYNC (or SYNC), either framing.
    fn rdb(&mut self) -> Vec<u8> {
        let head = self.line();
        if let Some(mark) = head.strip_prefix("$EOF:") {
            assert_eq!(mark.len(), 40);
            loop {
                if self.buf.ends_with(mark.as_bytes()) {
                    let n = self.buf.len() - 40;
                    let rdb = self.take(n);
                    self.take(40);
                    return rdb;
                }
                self.fill();
            }
        }
        let len: usize = head.strip_prefix('$').unwrap().parse().unwrap();
        self.take(len)
    }
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// The bytes on the wire: handshake replies, FULLRESYNC, both RDB
/// framings with the replication AUX fields, the stream starting with
/// SELECT, offsets counting every byte, CONTINUE with the backlog.
#[test]
fn wire_format_of_full_and_partial_sync() {
    let primary = start_primary(2, true);
    let mut p = primary.conn();
    ok(p.cmd(&["SET", "a", "1"]));
    ok(p.cmd(&["SELECT", "3"]));
    ok(p.cmd(&["SET", "b", "2"]));
    ok(p.cmd(&["SELECT", "0"]));

    let mut r = RawReplica::connect(primary.port);
    r.send(&["PING"]);
    r.send(&["REPLCONF", "listening-port", "7777"]);
    r.send(&["REPLCONF", "capa", "eof", "capa", "psync2"]);
    r.send(&["PSYNC", "?", "-1"]);
    assert_eq!(r.line(), "+PONG");
    assert_eq!(r.line(), "+OK");
    assert_eq!(r.line(), "+OK");
    let full = r.line();
    let words: Vec<&str> = full.split(' ').collect();
    assert_eq!(words[0], "+FULLRESYNC", "{full}");
    let replid = words[1].to_string();
    let offset: i64 = words[2].parse().unwrap();
    assert_eq!(replid.len(), 40);
    let rdb = r.rdb();
    assert!(rdb.starts_with(b"REDIS0010"));
    assert!(contains(&rdb, b"\x0erepl-stream-db"));
    let mut id_aux = b"\x07repl-id\x28".to_vec();
    id_aux.extend_from_slice(replid.as_bytes());
    assert!(contains(&rdb, &id_aux));
    assert!(contains(&rdb, b"\x0brepl-offset"));
    assert!(contains(&rdb, b"\x01a") && contains(&rdb, b"\x01b"));
    assert_eq!(stat(&mut p, "sync_full"), 1);
    // Nothing streams before the first ACK; then SELECT and the write.
    r.send(&["REPLCONF", "ACK", &offset.to_string()]);
    ok(p.cmd(&["SET", "c", "3"]));
    let expected = b"*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n*3\r\n$3\r\nSET\r\n$1\r\nc\r\n$1\r\n3\r\n";
    assert_eq!(r.take(expected.len()), expected);
    let text = info(&mut p, "replication");
    let end: i64 = field(&text, "master_repl_offset").unwrap().parse().unwrap();
    assert_eq!(end, offset + expected.len() as i64);
    assert!(text.contains(",port=7777,state=online,"), "{text}");
    drop(r);

    // Partial: the backlog from the asked offset on.
    let mut r = RawReplica::connect(primary.port);
    r.send(&["REPLCONF", "capa", "psync2"]);
    r.send(&["PSYNC", &replid, &(offset + 24).to_string()]);
    assert_eq!(r.line(), "+OK");
    assert_eq!(r.line(), format!("+CONTINUE {replid}"));
    assert_eq!(r.take(expected.len() - 23), &expected[23..]);
    assert_eq!(stat(&mut p, "sync_partial_ok"), 1);
    drop(r);

    // An offset the backlog does not hold, or another history: full.
    let mut r = RawReplica::connect(primary.port);
    r.send(&["PSYNC", &replid, &(end + 2).to_string()]);
    assert!(r.line().starts_with("+FULLRESYNC "));
    assert_eq!(stat(&mut p, "sync_partial_err"), 1);
    drop(r);

    // Old-style SYNC: `$<len>` framing, no FULLRESYNC line.
    let mut r = RawReplica::connect(primary.port);
    r.send(&["SYNC"]);
    let rdb = r.rdb();
    assert!(rdb.starts_with(b"REDIS0010"));
    assert!(contains(&rdb, b"\x01c"));
}

/// A cross-shard command that finds a source key expired: the DEL
/// reaches the replica before the command, so both compute the same.
#[test]
fn cross_shard_lazy_expiry_propagates_first() {
    if !redis_available() {
        return;
    }
    // hz 1: the expiry cycle leaves the key to the command's lookup.
    let primary = Server::shardis(4, &["--repl-diskless-sync-delay", "0", "--hz", "1"]);
    let replica = Server::redis(&[]);
    let mut p = primary.conn();
    let mut r = replica.conn();
    ok(r.cmd(&["REPLICAOF", "127.0.0.1", &primary.port.to_string()]));
    wait_synced(&mut p, &mut r);
    let keys = common::keys_on_distinct_shards("x", 3, 4);
    ok(p.cmd(&["SADD", &keys[0], "gone"]));
    ok(p.cmd(&["PEXPIRE", &keys[0], "50"]));
    ok(p.cmd(&["SADD", &keys[1], "kept"]));
    std::thread::sleep(Duration::from_millis(120));
    assert_eq!(
        p.cmd(&["SUNIONSTORE", &keys[2], &keys[0], &keys[1]]),
        b":1\r\n"
    );
    wait_synced(&mut p, &mut r);
    assert_eq!(
        bulk_items(&r.cmd(&["SMEMBERS", &keys[2]])),
        vec![b"kept".to_vec()]
    );
    assert_eq!(r.cmd(&["EXISTS", &keys[0]]), b":0\r\n");
}

/// `redis-cli --rdb` (REPLCONF rdb-only 1): the whole dataset as an RDB
/// file redis-check-rdb accepts, and the link closes after it.
#[test]
fn redis_cli_rdb_dump() {
    if !redis_available() {
        return;
    }
    let primary = start_primary(4, true);
    let mut p = primary.conn();
    populate(&mut p, "r");
    let path = primary.dir.join("cli-dump.rdb");
    let out = std::process::Command::new("redis-cli")
        .args(["-p", &primary.port.to_string(), "--rdb"])
        .arg(&path)
        .output()
        .expect("run redis-cli");
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    common::check_rdb(&path);
    // Loaded by redis-server, it is the same data.
    let dir = common::TempDir::new("cli-rdb");
    std::fs::copy(&path, dir.0.join("dump.rdb")).unwrap();
    let loaded = Server::redis(&["--dir", dir.0.to_str().unwrap()]);
    let mut l = loaded.conn();
    compare(&mut p, &mut l);
    // No replica is left behind.
    wait_until("the rdb-only link to close", Duration::from_secs(5), || {
        field(&info(&mut p, "replication"), "connected_slaves").as_deref() == Some("0")
    });
}

/// Diskless full sync touches no disk: with the primary's working
/// directory gone (a staged RDB file could not be created), a replica
/// still syncs over the socket; with `repl-diskless-sync no` the same
/// full sync fails, as it must.
#[test]
fn diskless_sync_needs_no_disk() {
    if !redis_available() {
        return;
    }
    for shards in [1, 4] {
        let primary = start_primary(shards, true);
        let mut p = primary.conn();
        populate(&mut p, "nodisk");
        std::fs::remove_dir_all(&primary.dir).unwrap();
        let target = format!("127.0.0.1 {}", primary.port);
        let replica = Server::redis(&["--replicaof", &target]);
        let mut r = replica.conn();
        wait_synced(&mut p, &mut r);
        compare(&mut p, &mut r);
        drop(replica);

        ok(p.cmd(&["CONFIG", "SET", "repl-diskless-sync", "no"]));
        let full_before = stat(&mut p, "sync_full");
        let replica = Server::redis(&["--replicaof", &target]);
        let mut r = replica.conn();
        wait_until(
            "the replica to ask for a full sync",
            Duration::from_secs(10),
            || stat(&mut p, "sync_full") > full_before,
        );
        // Its snapshot file cannot be created: no link comes up.
        std::thread::sleep(Duration::from_secs(3));
        assert_ne!(
            field(&info(&mut r, "replication"), "master_link_status").as_deref(),
            Some("up"),
            "shards {shards}"
        );
    }
}

/// INFO `mem_total_replication_buffers` counts the shared replication
/// buffer: what a stalled replica has not taken grows it (Redis's suite
/// fills it this way, integration/shutdown), and it shrinks back to the
/// backlog once the replica caught up.
#[test]
fn replication_buffer_memory_follows_a_stalled_replica() {
    if !redis_available() {
        return;
    }
    let primary = Server::shardis(
        1,
        &[
            "--repl-diskless-sync-delay",
            "0",
            "--repl-backlog-size",
            "16kb",
        ],
    );
    let replica = Server::redis(&["--enable-debug-command", "yes"]);
    let mut p = primary.conn();
    let mut r = replica.conn();
    ok(r.cmd(&["REPLICAOF", "127.0.0.1", &primary.port.to_string()]));
    wait_synced(&mut p, &mut r);
    let buffers = |p: &mut Conn| -> i64 {
        field(&info(p, "memory"), "mem_total_replication_buffers")
            .unwrap()
            .parse()
            .unwrap()
    };
    r.send(&["DEBUG", "SLEEP", "3"]);
    // Wait until the replica sleeps (a PING goes unanswered), or it may
    // take the writes first on a loaded machine.
    wait_until("the replica to sleep", Duration::from_secs(5), || {
        let mut probe = replica.conn();
        probe.set_timeout(Duration::from_millis(100));
        probe.send(&["PING"]);
        probe.try_read_reply().is_err()
    });
    let value = "v".repeat(100 * 1024);
    for i in 0..80 {
        ok(p.cmd(&["SET", &format!("big:{i}"), &value]));
    }
    let held = buffers(&mut p);
    assert!(
        held > 2 * 1024 * 1024,
        "mem_total_replication_buffers:{held}"
    );
    assert_eq!(r.read_reply(), b"+OK\r\n");
    wait_synced(&mut p, &mut r);
    ok(p.cmd(&["SET", "small", "1"]));
    wait_until("the buffer to shrink", Duration::from_secs(5), || {
        buffers(&mut p) < 200 * 1024
    });
}

/// The replica's `state` in INFO while a snapshot is made: `wait_bgsave`
/// for the whole of a diskless transfer (Redis's socket target streams
/// while its child saves), `send_bulk` only for a file being sent. The
/// suite's integration/replication waits for `wait_bgsave` with a save
/// in progress before it goes on.
fn replica_state_during_diskless_save(primary: Server) {
    let mut p = primary.conn();
    for i in 0..10 {
        ok(p.cmd(&["SET", &format!("k{i}"), "v"]));
    }
    // 10 keys at 1 s each: the save lasts well past the checks below.
    ok(p.cmd(&["CONFIG", "SET", "rdb-key-save-delay", "1000000"]));
    let replica = Server::redis(&[]);
    let port = primary.port.to_string();
    ok(replica.conn().cmd(&["REPLICAOF", "127.0.0.1", &port]));
    wait_until("the save to start", Duration::from_secs(10), || {
        let repl = info(&mut p, "replication");
        field(&info(&mut p, "persistence"), "rdb_bgsave_in_progress").as_deref() == Some("1")
            && field(&repl, "slave0").is_some()
    });
    let slave0 = field(&info(&mut p, "replication"), "slave0").unwrap();
    assert!(slave0.contains(",state=wait_bgsave,"), "{slave0}");
    ok(p.cmd(&["CONFIG", "SET", "rdb-key-save-delay", "0"]));
}

#[test]
fn replica_state_during_diskless_save_shardis() {
    if redis_available() {
        replica_state_during_diskless_save(start_primary(1, true));
    }
}

#[test]
fn replica_state_during_diskless_save_redis() {
    if redis_available() {
        let args = [
            "--repl-diskless-sync",
            "yes",
            "--repl-diskless-sync-delay",
            "0",
        ];
        replica_state_during_diskless_save(Server::redis(&args));
    }
}
