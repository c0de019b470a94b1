//! MULTI/EXEC/WATCH under concurrency (shards 4): WATCH sees changes made
//! through any connection (so any shard) and any path, and a transaction
//! whose keys span shards is never seen half done.

mod common;

use common::{keys_on_distinct_shards, redis_client, Server};
use redis::Value;
use std::thread;

const SHARDS: usize = 4;

fn ok(c: &mut redis::Connection, args: &[&str]) {
    let mut cmd = redis::cmd(args[0]);
    for a in &args[1..] {
        cmd.arg(*a);
    }
    let _: Value = cmd.query(c).unwrap();
}

/// MULTI, the commands (each must answer QUEUED), EXEC's raw reply.
fn transaction(c: &mut redis::Connection, cmds: &[Vec<String>]) -> Value {
    let _: String = redis::cmd("MULTI").query(c).unwrap();
    for args in cmds {
        let mut cmd = redis::cmd(&args[0]);
        for a in &args[1..] {
            cmd.arg(a);
        }
        let queued: String = cmd.query(c).unwrap();
        assert_eq!(queued, "QUEUED");
    }
    redis::cmd("EXEC").query(c).unwrap()
}

/// Until one client is blocked (5 s at most).
fn wait_blocked(c: &mut redis::Connection) {
    for _ in 0..500 {
        let info: String = redis::cmd("INFO").arg("clients").query(c).unwrap();
        if info.contains("blocked_clients:1") {
            return;
        }
        thread::sleep(std::time::Duration::from_millis(10));
    }
    panic!("the client never blocked");
}

fn argv(parts: &[&str]) -> Vec<String> {
    parts.iter().map(|s| s.to_string()).collect()
}

/// Optimistic locking: clients increment one counter with WATCH/GET/
/// MULTI/SET/EXEC, retrying when EXEC fails. Without a correct WATCH some
/// increments would be lost.
#[test]
fn watch_makes_check_and_set_increments_exact() {
    let server = Server::shardis(SHARDS, &[]);
    let port = server.port;
    let (clients, per_client) = (6, 60);
    let handles: Vec<_> = (0..clients)
        .map(|_| {
            thread::spawn(move || {
                let mut c = redis_client(port);
                let mut retries = 0;
                for _ in 0..per_client {
                    loop {
                        ok(&mut c, &["WATCH", "counter"]);
                        let v: Option<i64> =
                            redis::cmd("GET").arg("counter").query(&mut c).unwrap();
                        let next = (v.unwrap_or(0) + 1).to_string();
                        match transaction(&mut c, &[argv(&["SET", "counter", &next])]) {
                            Value::Nil => retries += 1,
                            Value::Array(items) => {
                                assert_eq!(items, vec![Value::Okay]);
                                break;
                            }
                            other => panic!("EXEC answered {other:?}"),
                        }
                    }
                }
                retries
            })
        })
        .collect();
    let retries: usize = handles.into_iter().map(|h| h.join().unwrap()).sum();
    let mut c = redis_client(port);
    let total: i64 = redis::cmd("GET").arg("counter").query(&mut c).unwrap();
    assert_eq!(
        total,
        (clients * per_client) as i64,
        "lost updates ({retries} retries)"
    );
}

/// A watched key changed through other connections (spread over the
/// shards by the kernel) by plain, multi-shard and transactional writes
/// fails the EXEC; changes to other keys don't.
#[test]
fn watch_sees_changes_from_every_connection_and_path() {
    let server = Server::shardis(SHARDS, &[]);
    let port = server.port;
    let k = keys_on_distinct_shards("w:", 4, SHARDS);
    let mut watcher = redis_client(port);
    let mut others: Vec<redis::Connection> = (0..8).map(|_| redis_client(port)).collect();
    let writes: Vec<Vec<String>> = vec![
        argv(&["SET", &k[1], "x"]),
        argv(&["DEL", &k[1]]),
        argv(&["MSET", &k[0], "a", &k[1], "b", &k[2], "c"]),
        argv(&["RENAME", &k[2], &k[1]]),
        argv(&["MSETNX", &k[1], "y", &k[3], "z"]),
        argv(&["COPY", &k[0], &k[1], "REPLACE"]),
        argv(&["EXPIRE", &k[1], "1000"]),
        argv(&["FLUSHALL"]),
    ];
    for (n, w) in writes.iter().enumerate() {
        // Make the key exist (so deletions change it; MSETNX needs it
        // missing), watch, change.
        if w[0] == "MSETNX" {
            ok(&mut watcher, &["DEL", &k[1]]);
        } else {
            ok(&mut watcher, &["SET", &k[1], "base"]);
        }
        ok(&mut watcher, &["SET", &k[2], "base2"]);
        ok(&mut watcher, &["DEL", &k[3]]);
        ok(&mut watcher, &["WATCH", &k[1]]);
        let other = &mut others[n % 8];
        let mut cmd = redis::cmd(&w[0]);
        for a in &w[1..] {
            cmd.arg(a);
        }
        let _: Value = cmd.query(other).unwrap();
        let r = transaction(&mut watcher, &[argv(&["GET", &k[0]])]);
        assert_eq!(
            r,
            Value::Nil,
            "{w:?} through connection {n} did not fail EXEC"
        );
    }
    // Changed inside another client's cross-shard transaction.
    for (n, other) in others.iter_mut().enumerate() {
        ok(&mut watcher, &["WATCH", &k[1], &k[3]]);
        let r = transaction(
            other,
            &[
                argv(&["SET", &k[0], "t"]),
                argv(&["INCR", if n % 2 == 0 { &k[1] } else { &k[3] }]),
            ],
        );
        assert!(matches!(r, Value::Array(_)), "{r:?}");
        let r = transaction(&mut watcher, &[argv(&["PING"])]);
        assert_eq!(
            r,
            Value::Nil,
            "a transaction's write on connection {n} was missed"
        );
    }
    // Writes to other keys, and writes before WATCH, leave EXEC alone.
    for other in others.iter_mut() {
        ok(other, &["SET", &k[1], "before"]);
        ok(&mut watcher, &["WATCH", &k[1]]);
        ok(other, &["SET", &k[0], "unrelated"]);
        ok(other, &["MSET", &k[2], "1", &k[3], "2"]);
        let r = transaction(&mut watcher, &[argv(&["GET", &k[1]])]);
        assert_eq!(r, Value::Array(vec![Value::BulkString(b"before".to_vec())]));
    }
}

/// SORT ... STORE (plain, and with BY/GET patterns naming keys on every
/// shard) fails the EXEC of a client watching the destination and wakes
/// a client blocked on it, from any connection.
#[test]
fn sort_store_touches_watchers_and_wakes_blocked_clients() {
    let server = Server::shardis(SHARDS, &[]);
    let port = server.port;
    let k = keys_on_distinct_shards("sw:", 4, SHARDS);
    let mut watcher = redis_client(port);
    let mut other = redis_client(port);
    ok(&mut other, &["RPUSH", &k[0], "3", "1", "2"]);
    for (i, v) in ["30", "10", "20"].iter().enumerate() {
        ok(&mut other, &["SET", &format!("sw:w:{}", i + 1), v]);
    }
    let sorts = [
        vec!["SORT", &k[0], "STORE", &k[1]],
        vec![
            "SORT", &k[0], "BY", "sw:w:*", "GET", "#", "GET", "sw:w:*", "STORE", &k[1],
        ],
    ];
    for sort in &sorts {
        ok(&mut watcher, &["SET", &k[1], "base"]);
        ok(&mut watcher, &["WATCH", &k[1]]);
        ok(&mut other, sort);
        let r = transaction(&mut watcher, &[argv(&["GET", &k[2]])]);
        assert_eq!(r, Value::Nil, "{sort:?} did not fail EXEC");
    }
    for sort in &sorts {
        ok(&mut other, &["DEL", &k[1]]);
        let dst = k[1].clone();
        let blocked = thread::spawn(move || {
            let mut c = redis_client(port);
            let r: Value = redis::cmd("BLPOP").arg(&dst).arg(10).query(&mut c).unwrap();
            r
        });
        wait_blocked(&mut other);
        ok(&mut other, sort);
        let r = blocked.join().unwrap();
        assert!(
            matches!(r, Value::Array(ref v) if v.len() == 2),
            "{sort:?}: {r:?}"
        );
    }
}

/// SMOVE of a member the destination already has leaves the destination
/// unmodified (Redis signals only the source): a client watching the
/// destination still commits; one watching the source does not. Same
/// outcomes as redis-server, with the sets on one shard and on two.
#[test]
fn smove_signals_only_the_keys_it_changes() {
    let run = |server: &Server, src: &str, dst: &str| -> Vec<bool> {
        let mut c = redis_client(server.port);
        let mut other = redis_client(server.port);
        let mut outcomes = Vec::new();
        for (watched, member) in [(dst, "a"), (dst, "z"), (src, "a")] {
            ok(&mut c, &["DEL", src, dst]);
            ok(&mut c, &["SADD", src, "a", "b", "z"]);
            ok(&mut c, &["SADD", dst, "a"]);
            ok(&mut c, &["WATCH", watched]);
            ok(&mut other, &["SMOVE", src, dst, member]);
            let r = transaction(&mut c, &[argv(&["PING"])]);
            outcomes.push(r != Value::Nil);
        }
        outcomes
    };
    let shardis = Server::shardis(SHARDS, &[]);
    let k = keys_on_distinct_shards("sm:", 2, SHARDS);
    let spread = run(&shardis, &k[0], &k[1]);
    let together = run(&shardis, "{sm}a", "{sm}b");
    assert_eq!(spread, vec![true, false, false]);
    assert_eq!(together, spread);
    if common::redis_available() {
        let redis = Server::redis(&[]);
        assert_eq!(run(&redis, &k[0], &k[1]), spread);
    }
}

/// A writer keeps setting four keys on four shards to the same value in
/// one transaction; readers reading all four in a transaction always see
/// them equal, and the final state is the last round's.
#[test]
fn cross_shard_transaction_is_never_seen_half_done() {
    let server = Server::shardis(SHARDS, &[]);
    let port = server.port;
    let k = keys_on_distinct_shards("atom:", 4, SHARDS);
    let mut c = redis_client(port);
    ok(
        &mut c,
        &["MSET", &k[0], "0", &k[1], "0", &k[2], "0", &k[3], "0"],
    );
    let rounds = 300;
    let writer = {
        let k = k.clone();
        thread::spawn(move || {
            let mut c = redis_client(port);
            for i in 1..=rounds {
                let v = i.to_string();
                let cmds: Vec<Vec<String>> = k
                    .iter()
                    .map(|key| argv(&["SET", key, &v]))
                    .chain(std::iter::once(argv(&["INCR", &k[0]])))
                    .chain(std::iter::once(argv(&["DECR", &k[0]])))
                    .collect();
                match transaction(&mut c, &cmds) {
                    Value::Array(items) => assert_eq!(items.len(), 6),
                    other => panic!("EXEC answered {other:?}"),
                }
            }
        })
    };
    let readers: Vec<_> = (0..3)
        .map(|_| {
            let k = k.clone();
            thread::spawn(move || {
                let mut c = redis_client(port);
                let mut seen = 0;
                for _ in 0..400 {
                    let cmds: Vec<Vec<String>> = k.iter().map(|key| argv(&["GET", key])).collect();
                    let Value::Array(items) = transaction(&mut c, &cmds) else {
                        panic!("EXEC failed");
                    };
                    assert!(
                        items.windows(2).all(|w| w[0] == w[1]),
                        "partial transaction seen: {items:?}"
                    );
                    seen += 1;
                }
                seen
            })
        })
        .collect();
    writer.join().unwrap();
    for r in readers {
        assert_eq!(r.join().unwrap(), 400);
    }
    let got: Vec<String> = redis::cmd("MGET").arg(&k).query(&mut c).unwrap();
    assert_eq!(got, vec![rounds.to_string(); 4]);
}

/// CLIENT LIST shows a client in MULTI with flag `x` and its queue length,
/// and flag `d` once a watched key changed.
#[test]
fn client_list_shows_multi_state() {
    let server = Server::shardis(SHARDS, &[]);
    let port = server.port;
    let mut a = redis_client(port);
    let mut b = redis_client(port);
    let id: i64 = redis::cmd("CLIENT").arg("ID").query(&mut a).unwrap();
    let line = |b: &mut redis::Connection| -> String {
        let list: String = redis::cmd("CLIENT").arg("LIST").query(b).unwrap();
        list.lines()
            .find(|l| l.starts_with(&format!("id={id} ")))
            .expect("client listed")
            .to_string()
    };
    assert!(line(&mut b).contains(" flags=N "), "{}", line(&mut b));
    assert!(line(&mut b).contains(" multi=-1 "));
    ok(&mut a, &["WATCH", "cl"]);
    ok(&mut b, &["SET", "cl", "1"]);
    assert!(line(&mut b).contains(" flags=d "), "{}", line(&mut b));
    let _: String = redis::cmd("MULTI").query(&mut a).unwrap();
    let _: String = redis::cmd("SET").arg("x").arg("1").query(&mut a).unwrap();
    let _: String = redis::cmd("GET").arg("x").query(&mut a).unwrap();
    let l = line(&mut b);
    assert!(l.contains(" flags=xd ") && l.contains(" multi=2 "), "{l}");
    let r: Value = redis::cmd("EXEC").query(&mut a).unwrap();
    assert_eq!(r, Value::Nil);
    let l = line(&mut b);
    assert!(l.contains(" flags=N ") && l.contains(" multi=-1 "), "{l}");
}

/// Server commands queued in MULTI (KEYS, DBSIZE, INFO, SCAN, PUBLISH)
/// run inside EXEC at one instant: a writer that adds and removes keys one
/// command at a time never shows between them. Without the hold, KEYS and
/// DBSIZE of one EXEC would disagree now and then.
#[test]
fn server_commands_in_exec_see_one_instant() {
    for shards in [1, SHARDS] {
        let server = Server::shardis(shards, &[]);
        let port = server.port;
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let writer = {
            let stop = stop.clone();
            thread::spawn(move || {
                let mut c = redis_client(port);
                let mut i = 0u64;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    ok(&mut c, &["SET", &format!("w:{i}"), "1"]);
                    if i > 0 {
                        ok(&mut c, &["DEL", &format!("w:{}", i - 1)]);
                    }
                    i += 1;
                }
                i
            })
        };
        let mut sub = redis_client(port);
        let _: Value = redis::cmd("SUBSCRIBE").arg("seen").query(&mut sub).unwrap();
        let mut c = redis_client(port);
        for round in 0..300 {
            let cmds = [
                argv(&["KEYS", "w:*"]),
                argv(&["DBSIZE"]),
                argv(&["INFO", "keyspace"]),
                argv(&["SCAN", "0", "COUNT", "1000"]),
                argv(&["PUBLISH", "seen", &round.to_string()]),
            ];
            let Value::Array(items) = transaction(&mut c, &cmds) else {
                panic!("EXEC failed");
            };
            let Value::Array(keys) = &items[0] else {
                panic!("KEYS answered {:?}", items[0]);
            };
            let Value::Int(dbsize) = items[1] else {
                panic!("DBSIZE answered {:?}", items[1]);
            };
            let info: String = redis::from_redis_value(&items[2]).unwrap();
            let Value::Array(scan) = &items[3] else {
                panic!("SCAN answered {:?}", items[3]);
            };
            let scanned: Vec<String> = redis::from_redis_value(&scan[1]).unwrap();
            assert_eq!(keys.len() as i64, dbsize, "round {round}: KEYS vs DBSIZE");
            assert_eq!(
                scanned.len() as i64,
                dbsize,
                "round {round}: SCAN vs DBSIZE"
            );
            if dbsize > 0 {
                assert!(
                    info.contains(&format!("db0:keys={dbsize},")),
                    "round {round}: DBSIZE {dbsize} vs {info}"
                );
            }
            assert_eq!(items[4], Value::Int(1), "round {round}: PUBLISH receivers");
        }
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let writes = writer.join().unwrap();
        assert!(writes > 10, "the writer hardly ran ({writes} rounds)");
    }
}

/// Keys stored but already expired when watched (Redis's
/// `watchedKey.expired`): FLUSHDB and SWAPDB that only remove or swap in
/// such stale keys change nothing logically and leave EXEC alone; a live
/// key swapped in still fails it.
#[test]
fn flush_and_swap_of_stale_watched_keys_do_not_fail_exec() {
    for shards in [1, SHARDS] {
        let server = Server::shardis(shards, &["--enable-debug-command", "yes"]);
        let mut c = server.conn();
        let pong_exec = |c: &mut common::Conn| {
            assert_eq!(c.line("MULTI"), b"+OK\r\n");
            assert_eq!(c.line("PING"), b"+QUEUED\r\n");
            c.line("EXEC")
        };
        let stale = |c: &mut common::Conn, db: &str| {
            c.line(&format!("SELECT {db}"));
            c.line("SET x foo PX 1");
            thread::sleep(std::time::Duration::from_millis(5));
        };
        assert_eq!(c.line("DEBUG SET-ACTIVE-EXPIRE 0"), b"+OK\r\n");
        let (passed, failed): (&[u8], &[u8]) = (b"*1\r\n+PONG\r\n", b"*-1\r\n");

        // FLUSHDB removing a stale watched key.
        stale(&mut c, "0");
        c.line("WATCH x");
        c.line("FLUSHDB");
        assert_eq!(pong_exec(&mut c), passed, "flushdb, shards {shards}");

        // SWAPDB: stale key replaced with no key.
        c.line("FLUSHALL");
        stale(&mut c, "1");
        c.line("WATCH x");
        c.line("SWAPDB 0 1");
        assert_eq!(pong_exec(&mut c), passed, "stale -> none, shards {shards}");

        // SWAPDB: no key replaced with a stale key.
        c.line("FLUSHALL");
        stale(&mut c, "0");
        c.line("SELECT 1");
        c.line("WATCH x");
        c.line("SWAPDB 0 1");
        assert_eq!(pong_exec(&mut c), passed, "none -> stale, shards {shards}");

        // SWAPDB: stale key replaced with another stale key.
        c.line("FLUSHALL");
        stale(&mut c, "1");
        stale(&mut c, "0");
        c.line("SELECT 1");
        c.line("WATCH x");
        c.line("SWAPDB 0 1");
        assert_eq!(pong_exec(&mut c), passed, "stale -> stale, shards {shards}");

        // SWAPDB: stale key replaced with a live key does fail EXEC.
        c.line("FLUSHALL");
        stale(&mut c, "1");
        c.line("SELECT 0");
        c.line("SET x live");
        c.line("SELECT 1");
        c.line("WATCH x");
        c.line("SWAPDB 0 1");
        assert_eq!(pong_exec(&mut c), failed, "stale -> live, shards {shards}");
    }
}

/// EXEC re-checks the server's state with its queue's facts: replicas
/// required after queuing a write abort it (Redis's processCommand for
/// EXEC), and nothing runs.
#[test]
fn exec_aborts_when_min_replicas_changed_after_queuing() {
    let server = Server::shardis(SHARDS, &[]);
    let (mut a, mut b) = (server.conn(), server.conn());
    a.line("SET xx 1");
    assert_eq!(a.line("MULTI"), b"+OK\r\n");
    assert_eq!(a.line("INCR xx"), b"+QUEUED\r\n");
    assert_eq!(b.line("CONFIG SET min-replicas-to-write 2"), b"+OK\r\n");
    assert_eq!(
        a.line("EXEC"),
        b"-EXECABORT Transaction discarded because of: NOREPLICAS Not enough good replicas to write.\r\n"
    );
    assert_eq!(a.line("GET xx"), b"$1\r\n1\r\n");
    // A read-only queue is not a write: it still runs.
    assert_eq!(a.line("MULTI"), b"+OK\r\n");
    assert_eq!(a.line("GET xx"), b"+QUEUED\r\n");
    assert_eq!(a.line("EXEC"), b"*1\r\n$1\r\n1\r\n");
}

/// The push a served BRPOPLPUSH makes to its destination touches the
/// destination's WATCHers (unit/type/list), at every shard count and with
/// source and destination on one shard or two.
#[test]
fn served_brpoplpush_touches_destination_watchers() {
    for shards in [1, 2, 4] {
        let server = Server::shardis(shards, &[]);
        let port = server.port;
        let apart = keys_on_distinct_shards("bw:", 2, shards.max(2));
        for (src, dst) in [
            ("bw:src{t}".to_string(), "bw:dst{t}".to_string()),
            (apart[0].clone(), apart[1].clone()),
        ] {
            let mut watcher = redis_client(port);
            let mut other = redis_client(port);
            ok(&mut other, &["SET", "bw:other", "v"]);
            let (s, d) = (src.clone(), dst.clone());
            let blocked = thread::spawn(move || {
                let mut c = redis_client(port);
                let r: Value = redis::cmd("BRPOPLPUSH")
                    .arg(&s)
                    .arg(&d)
                    .arg(10)
                    .query(&mut c)
                    .unwrap();
                r
            });
            wait_blocked(&mut other);
            ok(&mut watcher, &["WATCH", &dst]);
            ok(&mut other, &["LPUSH", &src, "element"]);
            assert_eq!(
                blocked.join().unwrap(),
                Value::BulkString(b"element".to_vec())
            );
            let r = transaction(&mut watcher, &[argv(&["GET", "bw:other"])]);
            assert_eq!(r, Value::Nil, "shards {shards}: {src} -> {dst}: EXEC ran");
            ok(&mut other, &["DEL", &src, &dst]);
        }
    }
}
