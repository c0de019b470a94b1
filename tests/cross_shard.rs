//! The multi-shard path under concurrency: commands whose keys live on
//! different shards (shards 4) must be atomic where Redis is atomic, and
//! correct everywhere, while other connections hammer the same keys.

mod common;

use common::{keys_on_distinct_shards, redis_client, Server};
use std::sync::{Arc, Barrier};
use std::thread;

const SHARDS: usize = 4;

/// Racing MSETNX over keys on two shards: exactly one wins each round, and
/// both keys carry the winner's value (no torn write).
#[test]
fn msetnx_across_shards_is_all_or_nothing() {
    let server = Server::shardis(SHARDS, &[]);
    let port = server.port;
    let k = keys_on_distinct_shards("msetnx:", 3, SHARDS);
    let mut admin = redis_client(port);
    for round in 0..60 {
        let _: () = redis::cmd("DEL").arg(&k).query(&mut admin).unwrap();
        let racers = 6;
        let barrier = Arc::new(Barrier::new(racers));
        let handles: Vec<_> = (0..racers)
            .map(|i| {
                let (barrier, k) = (barrier.clone(), k.clone());
                thread::spawn(move || {
                    let mut c = redis_client(port);
                    let v = format!("r{round}-c{i}");
                    barrier.wait();
                    // Overlapping key sets: {k0,k1} and {k1,k2}.
                    let (a, b) = if i % 2 == 0 {
                        (&k[0], &k[1])
                    } else {
                        (&k[1], &k[2])
                    };
                    let won: i64 = redis::cmd("MSETNX")
                        .arg(a)
                        .arg(&v)
                        .arg(b)
                        .arg(&v)
                        .query(&mut c)
                        .unwrap();
                    (won, a.clone(), b.clone(), v)
                })
            })
            .collect();
        let results: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
        let winners: Vec<_> = results.iter().filter(|r| r.0 == 1).collect();
        assert_eq!(
            winners.len(),
            1,
            "round {round}: exactly one MSETNX wins, got {results:?}"
        );
        let (_, a, b, v) = winners[0];
        let got: Vec<Option<String>> = redis::cmd("MGET").arg(a).arg(b).query(&mut admin).unwrap();
        assert_eq!(
            got,
            vec![Some(v.clone()), Some(v.clone())],
            "round {round}: torn MSETNX"
        );
    }
}

/// A value moved back and forth between shards with RENAME is never lost
/// nor duplicated, as seen by an atomic reader (MSETNX probing both keys).
#[test]
fn rename_across_shards_never_loses_the_value() {
    let server = Server::shardis(SHARDS, &[]);
    let port = server.port;
    let k = keys_on_distinct_shards("rename:", 2, SHARDS);
    let mut c = redis_client(port);
    let _: () = redis::cmd("SET")
        .arg(&k[0])
        .arg("payload")
        .query(&mut c)
        .unwrap();
    let mover = {
        let k = k.clone();
        thread::spawn(move || {
            let mut c = redis_client(port);
            for i in 0..300 {
                let (from, to) = if i % 2 == 0 {
                    (&k[0], &k[1])
                } else {
                    (&k[1], &k[0])
                };
                let _: () = redis::cmd("RENAME")
                    .arg(from)
                    .arg(to)
                    .query(&mut c)
                    .unwrap();
            }
        })
    };
    // EXISTS splits per shard and is not atomic in Redis terms across
    // shards, but COPY (atomic) of whichever key exists must always work
    // on exactly one of them.
    let mut checks = 0;
    while !mover.is_finished() {
        let a: i64 = redis::cmd("COPY")
            .arg(&k[0])
            .arg("probe:a")
            .arg("REPLACE")
            .query(&mut c)
            .unwrap_or(-1);
        let b: i64 = redis::cmd("COPY")
            .arg(&k[1])
            .arg("probe:b")
            .arg("REPLACE")
            .query(&mut c)
            .unwrap_or(-1);
        assert!(a >= 0 && b >= 0, "COPY failed");
        checks += 1;
    }
    mover.join().unwrap();
    let both: Vec<Option<String>> = redis::cmd("MGET")
        .arg(&k[0])
        .arg(&k[1])
        .query(&mut c)
        .unwrap();
    assert_eq!(
        both,
        vec![Some("payload".to_string()), None],
        "after an even number of renames"
    );
    assert!(checks > 0);
}

/// Concurrent INCRs from connections that land on different shards (the
/// kernel spreads connections over shards): no increment is lost.
#[test]
fn incr_from_every_shard_loses_nothing() {
    let server = Server::shardis(SHARDS, &[]);
    let port = server.port;
    let threads = 8;
    let per = 500;
    let handles: Vec<_> = (0..threads)
        .map(|_| {
            thread::spawn(move || {
                let mut c = redis_client(port);
                for _ in 0..per {
                    let _: i64 = redis::cmd("INCR").arg("counter").query(&mut c).unwrap();
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    let mut c = redis_client(port);
    let n: i64 = redis::cmd("GET").arg("counter").query(&mut c).unwrap();
    assert_eq!(n, threads * per);
}

/// MSET/MGET/DEL/EXISTS over keys on every shard, pipelined.
#[test]
fn split_commands_cover_every_shard() {
    let server = Server::shardis(SHARDS, &[]);
    let mut c = redis_client(server.port);
    let keys = keys_on_distinct_shards("split:", SHARDS, SHARDS);
    let mut mset = redis::cmd("MSET");
    for (i, k) in keys.iter().enumerate() {
        mset.arg(k).arg(i);
    }
    let _: () = mset.query(&mut c).unwrap();
    let vals: Vec<Option<i64>> = redis::cmd("MGET")
        .arg(&keys)
        .arg("missing")
        .query(&mut c)
        .unwrap();
    let mut expect: Vec<Option<i64>> = (0..SHARDS as i64).map(Some).collect();
    expect.push(None);
    assert_eq!(vals, expect);
    let n: i64 = redis::cmd("EXISTS")
        .arg(&keys)
        .arg(&keys[0])
        .query(&mut c)
        .unwrap();
    assert_eq!(n, SHARDS as i64 + 1);
    let dbsize: i64 = redis::cmd("DBSIZE").query(&mut c).unwrap();
    assert_eq!(dbsize, SHARDS as i64);
    let n: i64 = redis::cmd("DEL").arg(&keys).query(&mut c).unwrap();
    assert_eq!(n, SHARDS as i64);
}

/// A command whose keys span shards is one call in INFO commandstats
/// (as in Redis), whichever multi-shard path ran it.
#[test]
fn cross_shard_commands_count_one_call_each() {
    let server = Server::shardis(SHARDS, &[]);
    let k = keys_on_distinct_shards("stats:", 2, SHARDS);
    let mut c = server.conn();
    c.cmd(&["config", "resetstat"]);
    c.cmd(&["set", &k[0], "v"]);
    c.cmd(&["rename", &k[0], &k[1]]);
    c.cmd(&["rpush", &k[0], "a", "b"]);
    c.cmd(&["rpoplpush", &k[0], &k[1] as &str]);
    c.cmd(&["del", &k[1]]);
    c.cmd(&["lmove", &k[0], &k[1], "left", "right"]);
    c.cmd(&["smove", &k[0], &k[1], "x"]);
    c.cmd(&["mget", &k[0], &k[1]]);
    let stats = String::from_utf8_lossy(&c.cmd(&["info", "commandstats"])).into_owned();
    for name in ["rename", "rpoplpush", "lmove", "smove", "mget", "del"] {
        let line = stats
            .lines()
            .find(|l| l.starts_with(&format!("cmdstat_{name}:")))
            .unwrap_or_else(|| panic!("no {name} in {stats}"));
        assert!(line.contains(":calls=1,"), "{line}");
    }
}
