//! INCRBYFLOAT reaches the AOF (and replicas) as `SET key value KEEPTTL`
//! and HINCRBYFLOAT as `HSET key field value`, from a client or from a
//! script, as redis-server 7.0 writes them: the incr AOF files of both
//! must be identical.

mod common;

use common::{redis_available, Server, TempDir};
use std::path::Path;
use std::time::{Duration, Instant};

const WRITES: &[&[&str]] = &[
    &["INCRBYFLOAT", "k", "1.5"],
    &["EVAL", "redis.call('hmget', KEYS[1], 1, 2, 3)", "1", "key"],
    &["EVAL", "redis.call('incrbyfloat', KEYS[1], 1)", "1", "key"],
    &[
        "EVAL",
        "redis.call('set', KEYS[1], '1', 'KEEPTTL')",
        "1",
        "key",
    ],
    &["SET", "t", "10", "PXAT", "4102444800000"],
    &["INCRBYFLOAT", "t", "0.25"],
    &["HINCRBYFLOAT", "h", "f", "2.5"],
    &[
        "EVAL",
        "redis.call('hincrbyfloat', KEYS[1], 'f', '0.5')",
        "1",
        "h",
    ],
];

/// The incr AOF file's bytes in `dir` once it stops growing.
fn incr_aof(dir: &Path) -> Vec<u8> {
    let path = std::fs::read_dir(dir.join("appendonlydir"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.to_string_lossy().ends_with(".incr.aof"))
        .expect("an incr AOF file");
    let deadline = Instant::now() + Duration::from_secs(3);
    let mut last = Vec::new();
    loop {
        std::thread::sleep(Duration::from_millis(100));
        let now = std::fs::read(&path).unwrap();
        if (now == last && !now.is_empty()) || Instant::now() > deadline {
            return now;
        }
        last = now;
    }
}

fn logged(start: impl Fn(&[&str]) -> Server, tag: &str) -> Vec<u8> {
    let dir = TempDir::new(tag);
    let args = [
        "--appendonly",
        "yes",
        "--appendfsync",
        "always",
        "--dir",
        dir.0.to_str().unwrap(),
    ];
    let server = start(&args);
    let mut c = server.conn();
    for w in WRITES {
        assert!(!c.cmd(w).starts_with(b"-"), "{w:?}");
    }
    incr_aof(&dir.0)
}

#[test]
fn float_increments_are_logged_as_the_values_set() {
    if !redis_available() {
        return;
    }
    let want = logged(Server::redis, "ibf-redis");
    for shards in [1, 4] {
        let got = logged(|a| Server::shardis(shards, a), "ibf-shardis");
        assert_eq!(
            String::from_utf8_lossy(&got),
            String::from_utf8_lossy(&want),
            "shards {shards}"
        );
    }
}
