//! SCAN over a multi-shard node: one cursor covers every shard, and a full
//! iteration returns every key present for the whole scan at least once,
//! with MATCH, COUNT and TYPE, also while keys are added and removed.

mod common;

use common::Server;
use redis::{Commands, Connection};
use std::collections::{HashMap, HashSet};
use std::time::Duration;

/// A shardis process on a free port (common::Server: retried on another
/// port if one is taken in a race), killed on drop.
struct Shardis(Server);

impl Shardis {
    fn start(shards: usize) -> Shardis {
        Shardis(Server::shardis(shards, &[]))
    }

    fn conn(&self) -> Connection {
        let client = redis::Client::open(format!("redis://127.0.0.1:{}/", self.0.port)).unwrap();
        let mut con = client.get_connection().expect("connect");
        let _: () = redis::cmd("FLUSHALL").query(&mut con).unwrap();
        con
    }
}

/// One SCAN call with extra arguments.
fn scan_once(con: &mut Connection, cursor: u64, extra: &[&str]) -> (u64, Vec<String>) {
    let mut cmd = redis::cmd("SCAN");
    cmd.arg(cursor);
    for a in extra {
        cmd.arg(*a);
    }
    cmd.query(con).expect("SCAN")
}

/// A whole iteration: how many times each key came back, and the number
/// of calls it took.
fn scan_all(con: &mut Connection, extra: &[&str]) -> (HashMap<String, usize>, usize) {
    let mut seen = HashMap::new();
    let mut cursor = 0;
    let mut calls = 0;
    loop {
        let (next, keys) = scan_once(con, cursor, extra);
        calls += 1;
        for k in keys {
            *seen.entry(k).or_insert(0) += 1;
        }
        if next == 0 {
            return (seen, calls);
        }
        assert!(calls < 100_000, "SCAN does not terminate");
        cursor = next;
    }
}

/// Keys `user:0..n` plus a few sharing hash tags (hence slots).
fn populate(con: &mut Connection, n: usize) -> HashSet<String> {
    let mut all = HashSet::new();
    let mut pipe = redis::pipe();
    for i in 0..n {
        let k = format!("user:{i}");
        pipe.set(&k, i).ignore();
        all.insert(k);
    }
    for i in 0..50 {
        for tag in ["a", "b"] {
            let k = format!("{{{tag}}}:{i}");
            pipe.set(&k, "x").ignore();
            all.insert(k);
        }
    }
    let _: () = pipe.query(con).unwrap();
    all
}

fn check_node(shards: usize) {
    let node = Shardis::start(shards);
    let mut con = node.conn();

    // Empty keyspace: one call, cursor 0, nothing.
    assert_eq!(scan_once(&mut con, 0, &[]), (0, vec![]));

    let all = populate(&mut con, 2000);
    let dbsize: usize = redis::cmd("DBSIZE").query(&mut con).unwrap();
    assert_eq!(dbsize, all.len());

    // Default COUNT: every key exactly once (slots never move, and a slot
    // is taken whole), in many calls.
    let (seen, calls) = scan_all(&mut con, &[]);
    assert_eq!(
        seen.keys().cloned().collect::<HashSet<_>>(),
        all,
        "shards={shards}"
    );
    assert!(
        seen.values().all(|&n| n == 1),
        "a key came back twice (shards={shards})"
    );
    assert!(
        calls > 20,
        "COUNT 10 over {} keys took only {calls} calls",
        all.len()
    );

    // COUNT bounds the work per call (a slot is taken whole, so a reply can
    // exceed COUNT only by one slot's keys).
    let (_, calls_1) = scan_all(&mut con, &["COUNT", "1"]);
    assert!(calls_1 > calls);
    let (seen, calls_big) = scan_all(&mut con, &["COUNT", "1000000"]);
    assert_eq!(calls_big, 1);
    assert_eq!(seen.len(), all.len());
    let mut cursor = 0;
    loop {
        let (next, keys) = scan_once(&mut con, cursor, &["COUNT", "5"]);
        assert!(keys.len() <= 5 + 50, "COUNT 5 returned {} keys", keys.len());
        if next == 0 {
            break;
        }
        cursor = next;
    }

    // MATCH filters after the fact; the iteration still covers everything.
    let want: HashSet<String> = all
        .iter()
        .filter(|k| k.starts_with("user:1"))
        .cloned()
        .collect();
    let (seen, _) = scan_all(&mut con, &["MATCH", "user:1*"]);
    assert_eq!(seen.keys().cloned().collect::<HashSet<_>>(), want);
    let (seen, _) = scan_all(&mut con, &["MATCH", "{a}:*", "COUNT", "3"]);
    assert_eq!(seen.len(), 50);
    let (seen, _) = scan_all(&mut con, &["MATCH", "nothing*", "COUNT", "100"]);
    assert!(seen.is_empty());

    // TYPE: every key is a string here; other types match nothing.
    let (seen, _) = scan_all(&mut con, &["TYPE", "string", "COUNT", "50"]);
    assert_eq!(seen.len(), all.len());
    let (seen, _) = scan_all(&mut con, &["TYPE", "STRING", "MATCH", "user:2*"]);
    assert_eq!(
        seen.len(),
        all.iter().filter(|k| k.starts_with("user:2")).count()
    );
    let (seen, _) = scan_all(&mut con, &["TYPE", "list"]);
    assert!(seen.is_empty());
    // With another type present (once hashes exist), TYPE tells them apart.
    let hset: redis::RedisResult<i64> = redis::cmd("HSET")
        .arg("ahash")
        .arg("f")
        .arg("v")
        .query(&mut con);
    if hset.is_ok() {
        let (seen, _) = scan_all(&mut con, &["TYPE", "hash"]);
        assert_eq!(seen.keys().collect::<Vec<_>>(), vec!["ahash"]);
        let _: i64 = con.del("ahash").unwrap();
    }

    // Expired keys are not returned.
    let _: () = redis::cmd("SET")
        .arg("gone")
        .arg("v")
        .arg("PX")
        .arg(1)
        .query(&mut con)
        .unwrap();
    std::thread::sleep(Duration::from_millis(20));
    let (seen, _) = scan_all(&mut con, &["COUNT", "1000"]);
    assert!(!seen.contains_key("gone"));
    assert_eq!(seen.len(), all.len());

    // Keys added and removed during the scan: the keys present the whole
    // time come back at least once.
    let stable: HashSet<String> = all.iter().filter(|k| !k.ends_with('7')).cloned().collect();
    let mut churn: Vec<String> = all.iter().filter(|k| k.ends_with('7')).cloned().collect();
    let mut seen = HashSet::new();
    let mut cursor = 0;
    let mut round = 0;
    loop {
        let (next, keys) = scan_once(&mut con, cursor, &["COUNT", "20"]);
        seen.extend(keys);
        // Remove a few unstable keys and add fresh ones between calls.
        for _ in 0..3 {
            if let Some(k) = churn.pop() {
                let _: i64 = con.del(&k).unwrap();
            }
        }
        for j in 0..5 {
            let _: () = con.set(format!("new:{round}:{j}"), 1).unwrap();
        }
        round += 1;
        if next == 0 {
            break;
        }
        cursor = next;
    }
    let missing: Vec<&String> = stable.iter().filter(|k| !seen.contains(*k)).collect();
    assert!(
        missing.is_empty(),
        "shards={shards}: {} stable keys missed, e.g. {:?}",
        missing.len(),
        &missing[..missing.len().min(5)]
    );

    // Another database has its own keyspace.
    let _: () = redis::cmd("SELECT").arg(3).query(&mut con).unwrap();
    assert_eq!(scan_all(&mut con, &[]).0.len(), 0);
    let _: () = con.set("in3", 1).unwrap();
    assert_eq!(
        scan_all(&mut con, &[]).0.keys().collect::<Vec<_>>(),
        vec!["in3"]
    );
    let _: () = redis::cmd("SELECT").arg(0).query(&mut con).unwrap();

    // Errors as Redis.
    let err = redis::cmd("SCAN")
        .arg("abc")
        .query::<redis::Value>(&mut con)
        .unwrap_err();
    assert!(err.to_string().contains("invalid cursor"), "{err}");
    let err = redis::cmd("SCAN")
        .arg(0)
        .arg("COUNT")
        .arg(0)
        .query::<redis::Value>(&mut con)
        .unwrap_err();
    assert!(err.to_string().contains("syntax error"), "{err}");

    // Any numeric cursor is accepted and the iteration ends.
    for c in [1u64, 16383, 16384, u64::MAX] {
        let mut cursor = c;
        let mut n = 0;
        loop {
            let (next, _) = scan_once(&mut con, cursor, &["COUNT", "1000"]);
            n += 1;
            assert!(n < 1000);
            if next == 0 {
                break;
            }
            cursor = next;
        }
    }
}

#[test]
fn scan_covers_every_shard_4() {
    check_node(4);
}

#[test]
fn scan_covers_every_shard_1() {
    check_node(1);
}

#[test]
fn scan_covers_every_shard_3() {
    // Uneven: 16384 slots don't divide by 3.
    check_node(3);
}
