//! Streams beyond the differential cases: RDB files and DUMP payloads
//! (consumer groups included) exchanged with a real redis-server 7.0
//! (both ways, byte-equal), the
//! AOF carrying generated IDs and approximate trims as done, and XREAD
//! BLOCK with several clients.

mod common;

use common::{bulk_payload, redis_available, Conn, Server, TempDir};
use std::time::Duration;

/// Streams of every shape: several nodes, SAMEFIELDS and not, deleted
/// entries, trims, XSETID, an emptied stream, big and integer values.
fn fill(c: &mut Conn) -> Vec<String> {
    let mut keys = Vec::new();
    let ok = |c: &mut Conn, args: &[&str]| {
        let r = c.cmd(args);
        assert!(!r.starts_with(b"-"), "{args:?}: {}", common::escape(&r));
    };
    for i in 1..=250 {
        let (id, v) = (format!("{i}-{}", i % 3), format!("value-{i}"));
        ok(c, &["XADD", "many", &id, "name", &v, "n", &i.to_string()]);
    }
    for i in (1..=250).step_by(7) {
        ok(c, &["XDEL", "many", &format!("{i}-{}", i % 3)]);
    }
    ok(c, &["XTRIM", "many", "MINID", "20"]);
    keys.push("many".to_string());
    for i in 0..20 {
        let f = format!("f{}", i % 4);
        ok(
            c,
            &["XADD", "mixed", &format!("5-{i}"), &f, "-12345", "g", "x"],
        );
    }
    ok(c, &["XADD", "mixed", "6-0", "big", &"abc".repeat(2000)]);
    ok(c, &["XADD", "mixed", "7-0", "f0", "1"]);
    keys.push("mixed".to_string());
    ok(c, &["XADD", "emptied", "1-1", "a", "b"]);
    ok(c, &["XDEL", "emptied", "1-1"]);
    keys.push("emptied".to_string());
    ok(c, &["XADD", "setid", "3-3", "a", "b"]);
    ok(
        c,
        &[
            "XSETID",
            "setid",
            "99-1",
            "ENTRIESADDED",
            "50",
            "MAXDELETEDID",
            "9-9",
        ],
    );
    keys.push("setid".to_string());
    ok(c, &["XADD", "huge-ids", "18446744073709551615-1", "a", "b"]);
    ok(c, &["XADD", "huge-ids", "18446744073709551615-*", "c", "d"]);
    keys.push("huge-ids".to_string());
    // Consumer groups (no consumers: their seen times would differ).
    ok(c, &["XGROUP", "CREATE", "many", "g1", "0"]);
    ok(
        c,
        &["XGROUP", "CREATE", "many", "g0", "$", "ENTRIESREAD", "3"],
    );
    ok(c, &["XGROUP", "CREATE", "setid", "late", "$"]);
    ok(c, &["XGROUP", "CREATE", "grouped", "g", "$", "MKSTREAM"]);
    keys.push("grouped".to_string());
    keys
}

fn dump(c: &mut Conn, key: &str) -> Vec<u8> {
    c.cmd(&["DUMP", key])
}

fn same_streams(a: &mut Conn, b: &mut Conn, keys: &[String], what: &str) {
    for k in keys {
        for cmd in [
            vec!["XRANGE", k, "-", "+"],
            vec!["XINFO", "STREAM", k, "FULL"],
            vec!["XINFO", "STREAM", k],
            vec!["DUMP", k],
        ] {
            let (x, y) = (a.cmd(&cmd), b.cmd(&cmd));
            assert!(
                x == y,
                "{what}: {cmd:?}: {} vs {}",
                common::escape_short(&x, 300),
                common::escape_short(&y, 300)
            );
        }
    }
}

#[test]
fn rdb_files_and_dump_payloads_with_redis() {
    if !redis_available() {
        return;
    }
    // The same commands give the same bytes.
    let redis = Server::redis(&[]);
    let mut r = redis.conn();
    let keys = fill(&mut r);
    for shards in [1, 4] {
        let shardis = Server::shardis(shards, &[]);
        let mut s = shardis.conn();
        fill(&mut s);
        same_streams(&mut r, &mut s, &keys, "built alike");
        // Shardis's RDB into redis-server.
        assert_eq!(s.cmd(&["SAVE"]), b"+OK\r\n");
        let dir = TempDir::new("stream-rdb-to-redis");
        std::fs::copy(shardis.dir.join("dump.rdb"), dir.0.join("dump.rdb")).unwrap();
        common::check_rdb(&dir.0.join("dump.rdb"));
        let loaded = Server::redis(&["--dir", dir.0.to_str().unwrap()]);
        let mut l = loaded.conn();
        same_streams(&mut s, &mut l, &keys, "shardis rdb -> redis");
        // DUMP payloads both ways.
        for k in &keys {
            let p = bulk_payload(&dump(&mut r, k));
            s.cmd(&["DEL", k.as_str()]);
            let restored = s.cmd(&[b"RESTORE", k.as_bytes(), b"0", &p]);
            assert_eq!(restored, b"+OK\r\n", "RESTORE {k} from redis");
        }
        same_streams(&mut r, &mut s, &keys, "redis dump -> shardis");
    }
    // redis-server's RDB into Shardis.
    assert_eq!(r.cmd(&["SAVE"]), b"+OK\r\n");
    for shards in [1, 4] {
        let dir = TempDir::new("stream-rdb-from-redis");
        std::fs::copy(redis.dir.join("dump.rdb"), dir.0.join("dump.rdb")).unwrap();
        let shardis = Server::shardis(shards, &["--dir", dir.0.to_str().unwrap()]);
        let mut s = shardis.conn();
        same_streams(&mut r, &mut s, &keys, "redis rdb -> shardis");
    }
}

#[test]
fn aof_carries_generated_ids_and_trims_as_done() {
    let dir = TempDir::new("stream-aof");
    let d = dir.0.to_str().unwrap();
    let args = [
        "--appendonly",
        "yes",
        "--dir",
        d,
        "--stream-node-max-entries",
        "5",
    ];
    let before;
    {
        let shardis = Server::shardis(4, &args);
        let mut s = shardis.conn();
        for i in 0..40 {
            let r = s.cmd(&["XADD", "a", "MAXLEN", "~", "12", "*", "i", &i.to_string()]);
            assert!(r.starts_with(b"$"), "{}", common::escape(&r));
            s.cmd(&["XADD", "b", "*", "i", &i.to_string()]);
        }
        assert_eq!(s.cmd(&["XTRIM", "b", "MINID", "~", "0"]), b":0\r\n");
        // LIMIT with ~: what is logged must load (an exact trim with
        // LIMIT is refused for clients).
        let r = s.cmd(&["XTRIM", "b", "MAXLEN", "~", "3", "LIMIT", "20"]);
        assert_eq!(r, b":20\r\n");
        s.cmd(&["XADD", "b", "MAXLEN", "~", "2", "LIMIT", "5", "*", "i", "x"]);
        s.cmd(&["XADD", "c", "5-*", "x", "y"]);
        s.cmd(&["XADD", "c", "5-*", "x", "y"]);
        s.cmd(&["XGROUP", "CREATE", "c", "g", "0"]);
        s.cmd(&["XGROUP", "CREATE", "c", "h", "$"]);
        s.cmd(&["XGROUP", "SETID", "c", "g", "5-0", "ENTRIESREAD", "1"]);
        before = ["a", "b", "c"].map(|k| s.cmd(&["XINFO", "STREAM", k, "FULL"]));
        // Trimmed by whole nodes: more than 12 left.
        assert_ne!(s.cmd(&["XLEN", "a"]), b":12\r\n");
    }
    let shardis = Server::shardis(1, &args);
    let mut s = shardis.conn();
    let after = ["a", "b", "c"].map(|k| s.cmd(&["XINFO", "STREAM", k, "FULL"]));
    assert_eq!(before, after);
}

#[test]
fn xread_block_serves_several_clients() {
    let shardis = Server::shardis(4, &[]);
    let mut w = shardis.conn();
    let keys = common::keys_on_distinct_shards("bs", 3, 4);
    let mut clients: Vec<Conn> = (0..4).map(|_| shardis.conn()).collect();
    // Two on the first key, one on two keys, one with an explicit ID.
    clients[0].send(&["XREAD", "BLOCK", "0", "STREAMS", &keys[0], "$"]);
    clients[1].send(&[
        "XREAD", "COUNT", "1", "BLOCK", "0", "STREAMS", &keys[0], "$",
    ]);
    clients[2].send(&[
        "XREAD", "BLOCK", "0", "STREAMS", &keys[1], &keys[2], "$", "$",
    ]);
    clients[3].send(&["XREAD", "BLOCK", "5000", "STREAMS", &keys[2], "7-0"]);
    std::thread::sleep(Duration::from_millis(200));
    let blocked = w.cmd(&["INFO", "clients"]);
    assert!(
        String::from_utf8_lossy(&blocked).contains("blocked_clients:4"),
        "{}",
        String::from_utf8_lossy(&blocked)
    );
    w.cmd(&["XADD", &keys[0], "1-1", "a", "1"]);
    w.cmd(&["XADD", &keys[2], "5-0", "b", "2"]);
    let entry = |k: &str, id: &str, f: &str, v: &str| {
        format!(
            "*1\r\n*2\r\n${}\r\n{k}\r\n*1\r\n*2\r\n${}\r\n{id}\r\n*2\r\n${}\r\n{f}\r\n${}\r\n{v}\r\n",
            k.len(),
            id.len(),
            f.len(),
            v.len()
        )
        .into_bytes()
    };
    assert_eq!(clients[0].read_reply(), entry(&keys[0], "1-1", "a", "1"));
    assert_eq!(clients[1].read_reply(), entry(&keys[0], "1-1", "a", "1"));
    assert_eq!(clients[2].read_reply(), entry(&keys[2], "5-0", "b", "2"));
    // 5-0 is not above 7-0: still blocked, until 8-0 comes.
    std::thread::sleep(Duration::from_millis(100));
    w.cmd(&["XADD", &keys[2], "8-0", "c", "3"]);
    assert_eq!(clients[3].read_reply(), entry(&keys[2], "8-0", "c", "3"));
    // A timeout answers a null array.
    clients[0].send(&["XREAD", "BLOCK", "50", "STREAMS", &keys[0], "$"]);
    assert_eq!(clients[0].read_reply(), b"*-1\r\n");
}

/// The text of the newest incr AOF file of a server's `dir`.
fn incr_aof(dir: &std::path::Path) -> String {
    let mut incr: Vec<std::path::PathBuf> = std::fs::read_dir(common::appendonlydir(dir))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with(".incr.aof"))
        .collect();
    incr.sort();
    String::from_utf8_lossy(&std::fs::read(incr.last().unwrap()).unwrap()).into_owned()
}

/// The commands of a RESP text, each as its words joined by spaces.
fn commands(aof: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut lines = aof.split("\r\n");
    while let Some(l) = lines.next() {
        let Some(n) = l.strip_prefix('*') else {
            continue;
        };
        let n: usize = n.parse().unwrap();
        let words: Vec<&str> = (0..n)
            .map(|_| {
                lines.next();
                lines.next().unwrap()
            })
            .collect();
        out.push(words.join(" "));
    }
    out
}

#[test]
fn consumer_group_reads_and_claims_log_what_redis_propagates() {
    for shards in [1, 4] {
        let dir = TempDir::new("cg-aof");
        let d = dir.0.to_str().unwrap();
        let args = ["--appendonly", "yes", "--dir", d, "--appendfsync", "always"];
        let (groups, pending);
        {
            let shardis = Server::shardis(shards, &args);
            let mut s = shardis.conn();
            for i in 1..=3 {
                s.cmd(&["XADD", "s", &format!("{i}-0"), "f", "v"]);
            }
            s.cmd(&["XGROUP", "CREATE", "s", "g", "0"]);
            s.cmd(&[
                "XREADGROUP",
                "GROUP",
                "g",
                "alice",
                "COUNT",
                "2",
                "STREAMS",
                "s",
                ">",
            ]);
            // A history read changes delivery counts only: nothing logged.
            s.cmd(&["XREADGROUP", "GROUP", "g", "alice", "STREAMS", "s", "0"]);
            s.cmd(&[
                "XREADGROUP",
                "GROUP",
                "g",
                "bob",
                "NOACK",
                "STREAMS",
                "s",
                ">",
            ]);
            s.cmd(&["XCLAIM", "s", "g", "carol", "0", "1", "JUSTID"]);
            s.cmd(&["XDEL", "s", "2-0"]);
            let r = s.cmd(&["XAUTOCLAIM", "s", "g", "dave", "0", "0"]);
            assert!(common::escape(&r).contains("2-0"), "{}", common::escape(&r));
            pending = s.cmd(&["XPENDING", "s", "g"]);
            let log = commands(&incr_aof(&dir.0));
            let tail: Vec<String> = log
                .iter()
                .skip_while(|c| !c.starts_with("XGROUP CREATE"))
                .map(|c| {
                    // Delivery times vary: keep the words around them.
                    let w: Vec<&str> = c.split(' ').collect();
                    match w.iter().position(|x| *x == "TIME") {
                        Some(i) => [&w[..=i], &["T"], &w[i + 2..]].concat().join(" "),
                        None => c.clone(),
                    }
                })
                .collect();
            let want = [
                "XGROUP CREATE s g 0",
                "MULTI",
                "XCLAIM s g alice 0 1-0 TIME T RETRYCOUNT 1 FORCE JUSTID LASTID 1-0",
                "XCLAIM s g alice 0 2-0 TIME T RETRYCOUNT 1 FORCE JUSTID LASTID 2-0",
                "EXEC",
                "MULTI",
                "XGROUP CREATECONSUMER s g bob",
                "XGROUP SETID s g 3-0 ENTRIESREAD 3",
                "EXEC",
                "XCLAIM s g carol 0 1 TIME T RETRYCOUNT 2 FORCE JUSTID LASTID 3-0",
                "XDEL s 2-0",
                "MULTI",
                "XCLAIM s g dave 0 1-0 TIME T RETRYCOUNT 3 FORCE JUSTID LASTID 3-0",
                "XCLAIM s g alice 0 2-0 TIME T RETRYCOUNT 2 FORCE JUSTID LASTID 3-0",
                "EXEC",
            ];
            assert_eq!(tail, want, "shards {shards}: {log:?}");
            // Rewritten (no RDB preamble), the groups and PEL replay.
            s.cmd(&["CONFIG", "SET", "aof-use-rdb-preamble", "no"]);
            s.cmd(&["BGREWRITEAOF"]);
            let t = std::time::Instant::now();
            loop {
                let info = String::from_utf8_lossy(&s.cmd(&["INFO", "persistence"])).into_owned();
                if info.contains("aof_rewrite_in_progress:0")
                    && info.contains("aof_rewrite_scheduled:0")
                {
                    break;
                }
                assert!(t.elapsed() < Duration::from_secs(20), "{info}");
                std::thread::sleep(Duration::from_millis(20));
            }
            s.cmd(&["XGROUP", "CREATECONSUMER", "s", "g", "erin"]);
            groups = s.cmd(&["XINFO", "GROUPS", "s"]);
        }
        let shardis = Server::shardis(shards, &args);
        let mut s = shardis.conn();
        let after = s.cmd(&["XINFO", "GROUPS", "s"]);
        assert_eq!(after, groups, "shards {shards}");
        assert_eq!(s.cmd(&["XPENDING", "s", "g"]), pending, "shards {shards}");
        let consumers = common::escape(&s.cmd(&["XINFO", "CONSUMERS", "s", "g"]));
        for c in ["alice", "bob", "carol", "dave", "erin"] {
            assert!(consumers.contains(c), "{c} missing: {consumers}");
        }
    }
}

#[test]
fn blocked_xreadgroup_is_served_by_xadd_and_told_of_lost_keys() {
    for shards in [1, 4] {
        let shardis = Server::shardis(shards, &[]);
        let mut w = shardis.conn();
        let keys = common::keys_on_distinct_shards("rg", 2, shards.max(2));
        for k in &keys {
            w.cmd(&["XGROUP", "CREATE", k, "g", "$", "MKSTREAM"]);
        }
        // Each waiter blocks before the next is sent: with several shards,
        // requests sent at once on different connections may reach a key's
        // shard in another order (a multi-key read hops to two shards).
        let mut blocked = 0;
        let mut block = |c: &mut Conn, args: &[&str]| {
            c.send(args);
            blocked += 1;
            let want = format!("blocked_clients:{blocked}");
            let t = std::time::Instant::now();
            while !String::from_utf8_lossy(&w.cmd(&["INFO", "clients"])).contains(&want) {
                assert!(
                    t.elapsed() < Duration::from_secs(5),
                    "shards {shards}: not blocked"
                );
                std::thread::sleep(Duration::from_millis(10));
            }
        };
        let mut a = shardis.conn();
        let mut b = shardis.conn();
        let mut c = shardis.conn();
        #[rustfmt::skip]
        block(&mut a, &["XREADGROUP", "GROUP", "g", "alice", "BLOCK", "0", "STREAMS",
            &keys[0], &keys[1], ">", ">"]);
        block(
            &mut b,
            &[
                "XREADGROUP",
                "GROUP",
                "g",
                "bob",
                "BLOCK",
                "0",
                "STREAMS",
                &keys[1],
                ">",
            ],
        );
        #[rustfmt::skip]
        block(&mut c, &["XREADGROUP", "GROUP", "g", "carol", "BLOCK", "0", "STREAMS",
            &keys[0], ">"]);
        // alice came first: she gets the entry, bob waits for another.
        w.cmd(&["XADD", &keys[1], "1-0", "f", "v"]);
        let k = &keys[1];
        let want = format!(
            "*1\r\n*2\r\n${}\r\n{k}\r\n*1\r\n*2\r\n$3\r\n1-0\r\n*2\r\n$1\r\nf\r\n$1\r\nv\r\n",
            k.len()
        );
        assert_eq!(
            common::escape(&a.read_reply()),
            common::escape(want.as_bytes())
        );
        w.cmd(&["XADD", &keys[1], "2-0", "f", "v"]);
        let got = b.read_reply();
        assert!(
            common::escape(&got).contains("2-0"),
            "{}",
            common::escape(&got)
        );
        let p = w.cmd(&["XPENDING", k, "g"]);
        assert_eq!(
            common::escape(&p),
            common::escape(b"*4\r\n:2\r\n$3\r\n1-0\r\n$3\r\n2-0\r\n*2\r\n*2\r\n$5\r\nalice\r\n$1\r\n1\r\n*2\r\n$3\r\nbob\r\n$1\r\n1\r\n")
        );
        // The key deleted: the waiter is told.
        w.cmd(&["DEL", &keys[0]]);
        assert_eq!(
            c.read_reply(),
            b"-UNBLOCKED the stream key no longer exists\r\n"
        );
    }
}

/// A blocked XREADGROUP is told when its stream expires, whether the
/// active expiry cycle deletes it or a command finds it expired: Redis
/// 7.0 signals every deleted stream key (dbGenericDelete), not only DEL.
fn expiry_ends_a_blocked_xreadgroup(server: &Server) {
    let name = &server.name;
    let mut w = server.conn();
    for active in [true, false] {
        w.cmd(&["FLUSHALL"]);
        let flag = if active { "1" } else { "0" };
        assert_eq!(w.cmd(&["DEBUG", "SET-ACTIVE-EXPIRE", flag]), b"+OK\r\n");
        w.cmd(&["XGROUP", "CREATE", "s", "g", "$", "MKSTREAM"]);
        w.cmd(&["PEXPIRE", "s", "300"]);
        let mut r = server.conn();
        r.send(&[
            "XREADGROUP",
            "GROUP",
            "g",
            "c",
            "BLOCK",
            "0",
            "STREAMS",
            "s",
            ">",
        ]);
        let t = std::time::Instant::now();
        while !String::from_utf8_lossy(&w.cmd(&["INFO", "clients"])).contains("blocked_clients:1") {
            assert!(t.elapsed() < Duration::from_secs(5), "{name}: not blocked");
            std::thread::sleep(Duration::from_millis(10));
        }
        std::thread::sleep(Duration::from_millis(400));
        if !active {
            // Lazy expiry: a read finds the key gone.
            assert_eq!(w.cmd(&["EXISTS", "s"]), b":0\r\n", "{name}");
        }
        r.set_timeout(Duration::from_secs(5));
        assert_eq!(
            common::escape(&r.read_reply()),
            common::escape(b"-UNBLOCKED the stream key no longer exists\r\n"),
            "{name}: active expiry {active}"
        );
    }
    w.cmd(&["DEBUG", "SET-ACTIVE-EXPIRE", "1"]);
}

#[test]
fn expired_stream_ends_a_blocked_xreadgroup() {
    for shards in [1, 4] {
        let debug = ["--enable-debug-command", "yes"];
        expiry_ends_a_blocked_xreadgroup(&Server::shardis(shards, &debug));
    }
    if redis_available() {
        expiry_ends_a_blocked_xreadgroup(&Server::redis(&["--enable-debug-command", "yes"]));
    }
}
