//! A script's commands that need every shard's thread (PUBLISH to
//! subscribers of other shards, DBSIZE, KEYS, INFO) at shards 1, 2 and 4,
//! against redis-server 7.0's replies; and, with several shards, that
//! such a script stays atomic for clients running at once: its thread
//! waits for the other shards' threads with every gate shut
//! (src/server/mesh.rs `run_in_script`).

mod common;

use common::{keys_on_distinct_shards, redis_available, Conn, Server};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

const SCRIPT: &str = "redis.call('set', KEYS[1], 'x') \
     local n = redis.call('publish', 'news', ARGV[1]) \
     local keys = redis.call('keys', '*') \
     table.sort(keys) \
     local info = redis.call('info', 'keyspace') \
     redis.call('set', KEYS[2], 'y') \
     return {n, redis.call('dbsize'), keys, string.match(info, 'db0:keys=%d+')}";

fn replies(server: &Server) -> Vec<u8> {
    let mut admin = server.conn();
    // Subscribers on connections of every shard (connections are spread
    // over the shards), each told once.
    let mut subs: Vec<Conn> = (0..4).map(|_| server.conn()).collect();
    for s in &mut subs {
        assert_eq!(
            s.cmd(&["SUBSCRIBE", "news"]),
            b"*3\r\n$9\r\nsubscribe\r\n$4\r\nnews\r\n:1\r\n"
        );
    }
    for k in keys_on_distinct_shards("before", 4, 4) {
        admin.cmd(&["SET", &k, "v"]);
    }
    let keys = keys_on_distinct_shards("script", 2, 4);
    let reply = admin.cmd(&["EVAL", SCRIPT, "2", &keys[0], &keys[1], "hello"]);
    for s in &mut subs {
        assert_eq!(
            s.read_reply(),
            b"*3\r\n$7\r\nmessage\r\n$4\r\nnews\r\n$5\r\nhello\r\n",
            "{}",
            server.name
        );
    }
    reply
}

#[test]
fn a_script_publishes_counts_and_lists_across_shards_as_redis() {
    let want = redis_available().then(|| replies(&Server::redis(&[])));
    for shards in [1, 2, 4] {
        let server = Server::shardis(shards, &[]);
        let got = replies(&server);
        let text = String::from_utf8_lossy(&got);
        assert!(
            text.starts_with("*4\r\n:4\r\n:6\r\n"),
            "{}: {text}",
            server.name
        );
        if let Some(want) = &want {
            assert_eq!(text, String::from_utf8_lossy(want), "{}", server.name);
        }
    }
}

/// Scripts that publish and count keys between two writes on different
/// shards, while other clients read both keys at once (MGET), write
/// across shards and ask for INFO: every read sees both writes or none.
#[test]
fn scripts_waiting_for_other_shards_stay_atomic() {
    for shards in [2, 4] {
        let server = Server::shardis(shards, &[]);
        let keys = keys_on_distinct_shards("pair", 2, shards);
        let mut setup = server.conn();
        setup.cmd(&["MSET", &keys[0], "0", &keys[1], "0"]);
        let stop = Arc::new(AtomicBool::new(false));
        let mut readers = Vec::new();
        for i in 0..3 {
            let (stop, keys, port) = (stop.clone(), keys.clone(), server.port);
            readers.push(std::thread::spawn(move || {
                let mut c = Conn::connect(port);
                let others = keys_on_distinct_shards(&format!("other{i}-"), 2, 4);
                let mut reads = 0;
                while !stop.load(Ordering::Relaxed) {
                    let r = c.cmd(&["MGET", &keys[0], &keys[1]]);
                    let text = String::from_utf8_lossy(&r).into_owned();
                    let parts: Vec<&str> = text.split("\r\n").collect();
                    assert_eq!(parts[2], parts[4], "torn read: {text}");
                    c.cmd(&["MSET", &others[0], "1", &others[1], "2"]);
                    if reads % 16 == 0 {
                        c.cmd(&["INFO", "keyspace"]);
                    }
                    reads += 1;
                }
                reads
            }));
        }
        let body = "redis.call('incr', KEYS[1]) \
             redis.call('publish', 'c', 'm') \
             redis.call('dbsize') \
             return redis.call('incr', KEYS[2])";
        let mut writers = Vec::new();
        for _ in 0..2 {
            let (keys, port) = (keys.clone(), server.port);
            writers.push(std::thread::spawn(move || {
                let mut c = Conn::connect(port);
                for _ in 0..500 {
                    let r = c.cmd(&["EVAL", body, "2", &keys[0], &keys[1]]);
                    assert_eq!(r[0], b':', "{}", String::from_utf8_lossy(&r));
                }
            }));
        }
        for w in writers {
            w.join().unwrap();
        }
        stop.store(true, Ordering::Relaxed);
        for r in readers {
            assert!(r.join().unwrap() > 0);
        }
        let mut c = server.conn();
        let n = common::bulk_payload(&c.cmd(&["GET", &keys[1]]));
        assert_eq!(n, b"1000");
    }
}
