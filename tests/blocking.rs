//! Blocking commands under real concurrency, against shards 1 and 4:
//! wake-ups across shards, FIFO order, timeout accuracy, BLMOVE across
//! shards, CLIENT UNBLOCK, and clients that go away while blocked.
//! The non-blocking outcomes and the errors are in tests/cases/blocking.txt.

mod common;

use common::{encode, keys_on_distinct_shards, Conn, Server};
use std::time::{Duration, Instant};

const SHARD_COUNTS: [usize; 2] = [1, 4];

fn bulk(s: &str) -> String {
    format!("${}\r\n{}\r\n", s.len(), s)
}

/// `*2 key value`, as BLPOP answers.
fn pair(key: &str, value: &str) -> Vec<u8> {
    format!("*2\r\n{}{}", bulk(key), bulk(value)).into_bytes()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Waits until INFO reports `n` blocked clients.
fn wait_blocked(admin: &mut Conn, n: usize) {
    let want = format!("blocked_clients:{n}\r\n");
    let until = Instant::now() + Duration::from_secs(5);
    loop {
        let info = text(&admin.cmd(&["INFO", "clients"]));
        if info.contains(&want) {
            return;
        }
        assert!(Instant::now() < until, "never reached {want:?}: {info}");
        std::thread::sleep(Duration::from_millis(2));
    }
}

fn client_id(c: &mut Conn) -> String {
    let r = text(&c.cmd(&["CLIENT", "ID"]));
    r.trim_start_matches(':').trim_end().to_string()
}

/// Several connections (SO_REUSEPORT spreads them over the shards) block
/// on keys of every shard; other connections push: each is woken with its
/// key's element, wherever the key, the blocked and the pushing
/// connection live.
#[test]
fn woken_by_push_from_another_connection_and_shard() {
    for shards in SHARD_COUNTS {
        let srv = Server::shardis(shards, &[]);
        let mut admin = srv.conn();
        let keys = keys_on_distinct_shards("wake", 4, 4);
        let mut blocked: Vec<Conn> = (0..8).map(|_| srv.conn()).collect();
        let mut pushers: Vec<Conn> = (0..8).map(|_| srv.conn()).collect();
        for (i, c) in blocked.iter_mut().enumerate() {
            c.send(&["BLPOP", &keys[i % 4], "5"]);
        }
        wait_blocked(&mut admin, 8);
        for (i, p) in pushers.iter_mut().enumerate() {
            // Pusher i feeds the key of blocked connection (i + 1) % 8.
            let k = &keys[(i + 1) % 4];
            assert_eq!(p.cmd(&["RPUSH", k, &format!("v{i}")]), b":1\r\n");
        }
        let mut got: Vec<String> = blocked.iter_mut().map(|c| text(&c.read_reply())).collect();
        got.sort();
        let mut want: Vec<String> = (0..8)
            .map(|i| text(&pair(&keys[(i + 1) % 4], &format!("v{i}"))))
            .collect();
        want.sort();
        assert_eq!(got, want, "shards {shards}");
        wait_blocked(&mut admin, 0);
        for k in &keys {
            assert_eq!(admin.cmd(&["EXISTS", k]), b":0\r\n");
        }
    }
}

/// Three clients blocked on one key are served first come, first served.
#[test]
fn fifo_order_among_three_blocked_clients() {
    for shards in SHARD_COUNTS {
        let srv = Server::shardis(shards, &[]);
        let mut admin = srv.conn();
        let mut cs: Vec<Conn> = (0..3).map(|_| srv.conn()).collect();
        for (i, c) in cs.iter_mut().enumerate() {
            c.send(&["BRPOP", "fifo", "5"]);
            wait_blocked(&mut admin, i + 1);
        }
        assert_eq!(admin.cmd(&["LPUSH", "fifo", "a", "b", "c"]), b":3\r\n");
        for (c, v) in cs.iter_mut().zip(["a", "b", "c"]) {
            assert_eq!(text(&c.read_reply()), text(&pair("fifo", v)));
        }
        // Zsets too, and a waiter served by a later push keeps its place.
        for (i, c) in cs.iter_mut().enumerate() {
            c.send(&["BZPOPMIN", "zfifo", "5"]);
            wait_blocked(&mut admin, i + 1);
        }
        assert_eq!(admin.cmd(&["ZADD", "zfifo", "1", "a"]), b":1\r\n");
        assert_eq!(admin.cmd(&["ZADD", "zfifo", "2", "b", "3", "c"]), b":2\r\n");
        for (c, m) in cs.iter_mut().zip(["a", "b", "c"]) {
            let score = &m.replace('a', "1").replace('b', "2").replace('c', "3");
            let want = format!("*3\r\n{}{}{}", bulk("zfifo"), bulk(m), bulk(score));
            assert_eq!(text(&c.read_reply()), want);
        }
    }
}

/// Timeouts fire no earlier than their deadline and at most 10 ms after
/// it. On a loaded machine a round may be late: it is retried, the bound
/// is never loosened.
#[test]
fn timeouts_fire_within_10ms_of_deadline() {
    for shards in SHARD_COUNTS {
        let srv = Server::shardis(shards, &[]);
        let mut c = srv.conn();
        for (cmd, secs) in [
            (vec!["BLPOP", "t1", "t2"], 0.02),
            (vec!["BZPOPMAX", "t3"], 0.05),
            (vec!["BLMOVE", "t4", "t5", "LEFT", "LEFT"], 0.1),
            (vec!["BRPOP", "t6"], 0.15),
        ] {
            let timeout = format!("{secs}");
            let mut args = cmd.clone();
            args.push(&timeout);
            let want = Duration::from_secs_f64(secs);
            let mut last = Duration::ZERO;
            let ok = (0..5).any(|_| {
                let start = Instant::now();
                assert_eq!(c.cmd(&args), b"*-1\r\n");
                last = start.elapsed();
                assert!(last >= want, "{args:?} fired early: {last:?}");
                last <= want + Duration::from_millis(10)
            });
            assert!(ok, "{args:?}: fired {last:?} after sending, later than 10 ms past the deadline in 5 tries");
        }
    }
}

/// BLMOVE whose source and destination live on different shards: the
/// waiter is woken by a push to the source, the move is atomic, and a
/// client blocked on the destination is then served in turn.
#[test]
fn blmove_across_shards() {
    for shards in SHARD_COUNTS {
        let srv = Server::shardis(shards, &[]);
        let mut admin = srv.conn();
        let k = keys_on_distinct_shards("mv", 2, 4);
        let (src, dst) = (&k[0], &k[1]);
        let mut mover = srv.conn();
        let mut reader = srv.conn();
        mover.send(&["BLMOVE", src, dst, "LEFT", "RIGHT", "5"]);
        wait_blocked(&mut admin, 1);
        reader.send(&["BLPOP", dst, "5"]);
        wait_blocked(&mut admin, 2);
        assert_eq!(admin.cmd(&["RPUSH", src, "x", "y"]), b":2\r\n");
        assert_eq!(text(&mover.read_reply()), bulk("x"));
        assert_eq!(text(&reader.read_reply()), text(&pair(dst, "x")));
        assert_eq!(
            text(&admin.cmd(&["LRANGE", src, "0", "-1"])),
            format!("*1\r\n{}", bulk("y"))
        );
        assert_eq!(admin.cmd(&["EXISTS", dst]), b":0\r\n");
        // With data present it moves at once; the destination keeps it.
        assert_eq!(text(&mover.cmd(&["BRPOPLPUSH", src, dst, "5"])), bulk("y"));
        assert_eq!(
            text(&admin.cmd(&["LRANGE", dst, "0", "-1"])),
            format!("*1\r\n{}", bulk("y"))
        );
        assert_eq!(admin.cmd(&["EXISTS", src]), b":0\r\n");
        wait_blocked(&mut admin, 0);
        // A cross-shard LMOVE (the atomic multi-shard path) wakes a
        // client blocked on its destination.
        reader.send(&["BRPOP", src, "5"]);
        wait_blocked(&mut admin, 1);
        assert_eq!(
            text(&admin.cmd(&["LMOVE", dst, src, "LEFT", "LEFT"])),
            bulk("y")
        );
        assert_eq!(text(&reader.read_reply()), text(&pair(src, "y")));
        assert_eq!(admin.cmd(&["EXISTS", src, dst]), b":0\r\n");
    }
}

/// A BLMOVE waiter first in line keeps its element while it re-runs the
/// move across shards: the BLPOP waiters behind it get the rest, the last
/// one stays blocked (as in Redis, where the served pops make no key
/// ready again).
#[test]
fn blmove_first_in_line_keeps_its_element() {
    for shards in SHARD_COUNTS {
        let srv = Server::shardis(shards, &[]);
        let mut admin = srv.conn();
        let k = keys_on_distinct_shards("line", 2, 4);
        let (src, dst) = (&k[0], &k[1]);
        let mut mover = srv.conn();
        mover.send(&["BLMOVE", src, dst, "LEFT", "RIGHT", "3"]);
        wait_blocked(&mut admin, 1);
        let mut poppers: Vec<Conn> = (0..2).map(|_| srv.conn()).collect();
        for (i, c) in poppers.iter_mut().enumerate() {
            c.send(&["BLPOP", src, "3"]);
            wait_blocked(&mut admin, i + 2);
        }
        assert_eq!(admin.cmd(&["RPUSH", src, "x", "y"]), b":2\r\n");
        let moved = text(&mover.read_reply());
        let popped = text(&poppers[0].read_reply());
        let (got_x, got_y) = (moved == bulk("x"), moved == bulk("y"));
        assert!(got_x || got_y, "shards {shards}: mover got {moved:?}");
        let other = if got_x { "y" } else { "x" };
        assert_eq!(popped, text(&pair(src, other)), "shards {shards}");
        wait_blocked(&mut admin, 1);
        assert_eq!(admin.cmd(&["EXISTS", src]), b":0\r\n");
        assert_eq!(poppers[1].read_reply(), b"*-1\r\n");
    }
}

/// BZPOPMIN and BZMPOP woken by ZADD from another connection.
#[test]
fn bzpopmin_and_bzmpop_woken() {
    for shards in SHARD_COUNTS {
        let srv = Server::shardis(shards, &[]);
        let mut admin = srv.conn();
        let mut c = srv.conn();
        c.send(&["BZPOPMIN", "zk", "5"]);
        wait_blocked(&mut admin, 1);
        assert_eq!(admin.cmd(&["ZADD", "zk", "2", "b", "1", "a"]), b":2\r\n");
        let want = format!("*3\r\n{}{}{}", bulk("zk"), bulk("a"), bulk("1"));
        assert_eq!(text(&c.read_reply()), want);
        let k = keys_on_distinct_shards("zm", 2, 4);
        c.send(&["BZMPOP", "5", "2", &k[0], &k[1], "MAX", "COUNT", "2"]);
        wait_blocked(&mut admin, 1);
        assert_eq!(
            admin.cmd(&["ZADD", &k[1], "1", "p", "2", "q", "3", "r"]),
            b":3\r\n"
        );
        let want = format!(
            "*2\r\n{}*2\r\n*2\r\n{}{}*2\r\n{}{}",
            bulk(&k[1]),
            bulk("r"),
            bulk("3"),
            bulk("q"),
            bulk("2")
        );
        assert_eq!(text(&c.read_reply()), want);
        assert_eq!(admin.cmd(&["ZCARD", "zk"]), b":1\r\n");
        assert_eq!(admin.cmd(&["ZCARD", &k[1]]), b":1\r\n");
    }
}

/// Blocked on several keys, woken by a push to the second: the first key
/// keeps no stale waiter that would swallow a later push.
#[test]
fn second_key_gets_the_push() {
    for shards in SHARD_COUNTS {
        let srv = Server::shardis(shards, &[]);
        let mut admin = srv.conn();
        let k = keys_on_distinct_shards("multi", 3, 4);
        let mut c = srv.conn();
        c.send(&["BLPOP", &k[0], &k[1], &k[2], "5"]);
        wait_blocked(&mut admin, 1);
        assert_eq!(admin.cmd(&["RPUSH", &k[1], "x"]), b":1\r\n");
        assert_eq!(c.read_reply(), pair(&k[1], "x"));
        wait_blocked(&mut admin, 0);
        for key in [&k[0], &k[2]] {
            assert_eq!(admin.cmd(&["RPUSH", key, "later"]), b":1\r\n");
            assert_eq!(admin.cmd(&["LLEN", key]), b":1\r\n");
        }
        // BLMPOP too, with a count larger than the list.
        c.send(&["BLMPOP", "5", "2", "none", "lm", "RIGHT", "COUNT", "5"]);
        wait_blocked(&mut admin, 1);
        assert_eq!(admin.cmd(&["RPUSH", "lm", "1", "2"]), b":2\r\n");
        let want = format!("*2\r\n{}*2\r\n{}{}", bulk("lm"), bulk("2"), bulk("1"));
        assert_eq!(text(&c.read_reply()), want);
    }
}

/// CLIENT UNBLOCK TIMEOUT answers as a timeout would, ERROR with
/// -UNBLOCKED; CLIENT LIST shows flag `b` and the command meanwhile.
#[test]
fn client_unblock_timeout_and_error() {
    for shards in SHARD_COUNTS {
        let srv = Server::shardis(shards, &[]);
        let mut admin = srv.conn();
        let mut c = srv.conn();
        let id = client_id(&mut c);
        assert_eq!(admin.cmd(&["CLIENT", "UNBLOCK", &id]), b":0\r\n");
        c.send(&["BLPOP", "u", "0"]);
        wait_blocked(&mut admin, 1);
        let list = text(&admin.cmd(&["CLIENT", "LIST", "ID", &id]));
        assert!(
            list.contains(" flags=b ") && list.contains(" cmd=blpop "),
            "{list}"
        );
        let info = text(&admin.cmd(&["INFO", "clients"]));
        assert!(info.contains("clients_in_timeout_table:0\r\n"), "{info}");
        assert_eq!(admin.cmd(&["CLIENT", "UNBLOCK", &id, "TIMEOUT"]), b":1\r\n");
        assert_eq!(c.read_reply(), b"*-1\r\n");

        c.send(&["BZPOPMIN", "u", "100"]);
        wait_blocked(&mut admin, 1);
        let info = text(&admin.cmd(&["INFO", "clients"]));
        assert!(info.contains("clients_in_timeout_table:1\r\n"), "{info}");
        assert_eq!(admin.cmd(&["CLIENT", "UNBLOCK", &id, "error"]), b":1\r\n");
        assert_eq!(
            c.read_reply(),
            b"-UNBLOCKED client unblocked via CLIENT UNBLOCK\r\n"
        );
        wait_blocked(&mut admin, 0);
        assert_eq!(admin.cmd(&["CLIENT", "UNBLOCK", &id]), b":0\r\n");

        // RESP3: a timeout is the null `_`.
        c.cmd(&["HELLO", "3"]);
        c.send(&["BLMOVE", "u", "v", "LEFT", "LEFT", "0"]);
        wait_blocked(&mut admin, 1);
        assert_eq!(admin.cmd(&["CLIENT", "UNBLOCK", &id]), b":1\r\n");
        assert_eq!(c.read_reply(), b"_\r\n");
        // The connection works on, and an unblocked waiter left nothing.
        assert_eq!(admin.cmd(&["RPUSH", "u", "kept"]), b":1\r\n");
        assert_eq!(admin.cmd(&["LLEN", "u"]), b":1\r\n");
        assert_eq!(c.cmd(&["PING"]), b"+PONG\r\n");
    }
}

/// A blocked client that is killed, or that hangs up, leaves no waiter
/// behind: a later push stays in the list. Commands pipelined behind a
/// blocking one run once it is served.
#[test]
fn gone_blocked_clients_leave_no_waiter() {
    for shards in SHARD_COUNTS {
        let srv = Server::shardis(shards, &[]);
        let mut admin = srv.conn();
        let k = keys_on_distinct_shards("gone", 2, 4);
        let mut killed = srv.conn();
        let id = client_id(&mut killed);
        killed.send(&["BLPOP", &k[0], "0"]);
        let mut closed = srv.conn();
        closed.send(&["BLMOVE", &k[0], &k[1], "LEFT", "LEFT", "0"]);
        wait_blocked(&mut admin, 2);
        assert_eq!(admin.cmd(&["CLIENT", "KILL", "ID", &id]), b":1\r\n");
        drop(closed);
        wait_blocked(&mut admin, 0);
        assert_eq!(admin.cmd(&["RPUSH", &k[0], "v"]), b":1\r\n");
        assert_eq!(admin.cmd(&["LLEN", &k[0]]), b":1\r\n");
        assert_eq!(admin.cmd(&["EXISTS", &k[1]]), b":0\r\n");

        // Pipelined: BLPOP then PING, in one write.
        let mut p = srv.conn();
        let mut bytes = encode(&["BLPOP", "pipe", "5"]);
        bytes.extend(encode(&["PING"]));
        p.send_raw(&bytes);
        wait_blocked(&mut admin, 1);
        p.send(&["ECHO", "sent while blocked"]);
        assert_eq!(admin.cmd(&["RPUSH", "pipe", "x"]), b":1\r\n");
        assert_eq!(p.read_reply(), pair("pipe", "x"));
        assert_eq!(p.read_reply(), b"+PONG\r\n");
        assert_eq!(text(&p.read_reply()), bulk("sent while blocked"));
    }
}

/// SWAPDB wakes a client blocked on a key that the swapped-in database
/// holds, on every shard (as Redis 7.0 does).
#[test]
fn swapdb_wakes_blocked_clients() {
    for shards in SHARD_COUNTS {
        let srv = Server::shardis(shards, &[]);
        let mut admin = srv.conn();
        let keys = keys_on_distinct_shards("swap", shards, 4);
        assert_eq!(admin.cmd(&["SELECT", "1"]), b"+OK\r\n");
        for k in &keys {
            assert_eq!(admin.cmd(&["RPUSH", k, "from-db1"]), b":1\r\n");
        }
        let mut blocked: Vec<Conn> = keys
            .iter()
            .map(|k| {
                let mut c = srv.conn();
                c.send(&["BLPOP", k, "5"]);
                c
            })
            .collect();
        wait_blocked(&mut admin, keys.len());
        assert_eq!(admin.cmd(&["SWAPDB", "0", "1"]), b"+OK\r\n");
        for (c, k) in blocked.iter_mut().zip(&keys) {
            assert_eq!(c.read_reply(), pair(k, "from-db1"));
        }
        wait_blocked(&mut admin, 0);
    }
}

/// Blocked clients are served after the whole transaction, as Redis's
/// handleClientsBlockedOnKeys: a push undone later in the same EXEC
/// wakes nobody (issue 13's bug: `a` was handed out mid-transaction), and
/// one that stays is served after EXEC — for a transaction on one shard
/// and for one spanning shards. Compared with redis-server.
#[test]
fn a_transaction_wakes_blocked_clients_only_when_it_is_over() {
    let redis = common::redis_available().then(|| Server::redis(&[]));
    let mut servers: Vec<(String, Server)> = SHARD_COUNTS
        .iter()
        .map(|&n| (format!("shardis(shards={n})"), Server::shardis(n, &[])))
        .collect();
    if let Some(r) = redis {
        servers.push(("redis-server".into(), r));
    }
    let other = keys_on_distinct_shards("x", 4, 4);
    for (name, s) in &servers {
        let mut admin = s.conn();
        for (push_then, want) in [("DEL", None), ("RPUSH", Some("b"))] {
            let mut blocked = s.conn();
            blocked.send(&["BLPOP", "k", "2"]);
            wait_blocked(&mut admin, 1);
            let mut w = s.conn();
            let mut q = vec![
                encode(&["MULTI"]),
                encode(&["LPUSH", "k", "a"]),
                encode(&["DEL", "k"]),
            ];
            if push_then == "RPUSH" {
                q.push(encode(&["RPUSH", "k", "b"]));
            }
            // Keys on other shards make the transaction span shards.
            for o in &other {
                q.push(encode(&["SET", o, "v"]));
            }
            q.push(encode(&["EXEC"]));
            w.send_raw(&q.concat());
            let replies = w.read_replies(q.len());
            assert!(replies.last().unwrap().starts_with(b"*"), "{name}");
            let got = blocked.read_reply();
            match want {
                None => assert_eq!(text(&got), "*-1\r\n", "{name}: woken mid-transaction"),
                Some(v) => assert_eq!(text(&got), text(&pair("k", v)), "{name}"),
            }
            admin.line("DEL k");
        }
    }
}
