//! Where tracking invalidations fall among the replies, whichever shards
//! the tracking client, the writer and the key live on. Redis writes an
//! invalidation into the tracking client's reply buffer while the command
//! causing it runs, so:
//! - once the writer has its reply, the tracking client's next reply
//!   comes after the invalidation (Redis's tracking tests read the push
//!   first, then PONG);
//! - a key evicted to make room for a command (any shard's) is
//!   invalidated before that command's reply;
//! - tracking-table-max-keys bounds the process's keys, not a share per
//!   shard.
//!
//! Checked on redis-server and Shardis at 1 and 4 shards; at 4 the keys
//! sit on distinct shards and the connections land on several.

mod common;

use common::{escape, keys_on_distinct_shards, redis_available, Conn, Server};
use std::time::Duration;

fn servers(extra: &[&str]) -> Vec<Server> {
    let mut s = vec![Server::shardis(1, extra), Server::shardis(4, extra)];
    if redis_available() {
        s.push(Server::redis(extra));
    }
    s
}

fn push_for(key: &str) -> Vec<u8> {
    format!(
        ">2\r\n$10\r\ninvalidate\r\n*1\r\n${}\r\n{key}\r\n",
        key.len()
    )
    .into_bytes()
}

fn resp3_tracking(srv: &Server) -> Conn {
    let mut c = srv.conn();
    c.cmd(&["HELLO", "3"]);
    assert_eq!(c.cmd(&["CLIENT", "TRACKING", "on"]), b"+OK\r\n");
    c
}

/// Another client's write, answered, then the tracking client's PING:
/// the push comes first (Redis's "Different clients using different
/// protocols can track the same key" and "After switching from normal
/// tracking to BCAST mode"). Many rounds, over several connections, so
/// that every pairing of shards is met.
#[test]
fn invalidation_precedes_the_tracking_clients_next_reply() {
    let keys = keys_on_distinct_shards("order:", 4, 4);
    for srv in servers(&[]) {
        let mut trackers: Vec<Conn> = (0..4).map(|_| resp3_tracking(&srv)).collect();
        let mut writers: Vec<Conn> = (0..4).map(|_| srv.conn()).collect();
        for round in 0..50 {
            let key = &keys[round % keys.len()];
            let t = &mut trackers[round % 4];
            let w = &mut writers[(round / 4) % 4];
            w.cmd(&["SET", key, "1"]);
            t.cmd(&["GET", key]);
            assert_eq!(w.cmd(&["INCR", key]), b":2\r\n");
            let first = t.cmd(&["PING"]);
            assert_eq!(
                escape(&first),
                escape(&push_for(key)),
                "{} round {round}",
                srv.name
            );
            assert_eq!(t.read_reply(), b"+PONG\r\n", "{}", srv.name);
        }
    }
}

/// A tracked volatile key on one shard, a command on a key of another
/// shard that needs its room: the eviction's invalidation comes before
/// that command's reply (Redis's "Tracking invalidation message of
/// eviction keys should be before response").
#[test]
fn eviction_for_a_command_invalidates_before_its_reply() {
    let keys = keys_on_distinct_shards("evict:", 4, 4);
    for srv in servers(&[]) {
        // Every pairing of the volatile key's shard and the big key's.
        for (v, b) in [(0, 1), (1, 0), (2, 3), (3, 2)] {
            let (volatile, big) = (&keys[v], &keys[b]);
            let mut admin = srv.conn();
            admin.cmd(&["FLUSHALL"]);
            std::thread::sleep(Duration::from_millis(50));
            let mut c = resp3_tracking(&srv);
            let info = String::from_utf8_lossy(&admin.cmd(&["INFO", "memory"])).into_owned();
            let field = |f: &str| -> u64 {
                info.split("\r\n")
                    .find_map(|l| l.strip_prefix(f))
                    .unwrap()
                    .parse()
                    .unwrap()
            };
            let used = field("used_memory:") - field("mem_not_counted_for_evict:");
            let limit = (used + 100 * 1024).to_string();
            admin.cmd(&["CONFIG", "SET", "maxmemory", &limit]);
            admin.cmd(&["CONFIG", "SET", "maxmemory-policy", "volatile-random"]);
            c.cmd(&["SETEX", volatile, "10000", "x"]);
            c.cmd(&["GET", volatile]);
            c.cmd(&["SETBIT", big, "1600000", "0"]);
            let first = c.cmd(&["GETBIT", big, "0"]);
            let label = format!("{} volatile on {v}, big on {b}", srv.name);
            assert_eq!(escape(&first), escape(&push_for(volatile)), "{label}");
            assert_eq!(c.read_reply(), b":0\r\n", "{label}");
            admin.cmd(&["CONFIG", "SET", "maxmemory", "0"]);
            admin.cmd(&["CONFIG", "SET", "maxmemory-policy", "noeviction"]);
        }
    }
}

/// tracking-table-max-keys lowered to 1 with 8 keys tracked on every
/// shard: 7 are invalidated, one stays (Redis's "Server is able to
/// evacuate enough keys when num of keys surpasses limit").
#[test]
fn key_limit_is_the_whole_processes() {
    let mut keys = keys_on_distinct_shards("limit:", 4, 4);
    keys.extend(keys_on_distinct_shards("limit2:", 4, 4));
    for srv in servers(&[]) {
        let mut c = resp3_tracking(&srv);
        for k in &keys {
            c.cmd(&["GET", k]);
        }
        let mut admin = srv.conn();
        admin.cmd(&["CONFIG", "SET", "tracking-table-max-keys", "1"]);
        // The cron applies it; then every invalidation has arrived.
        std::thread::sleep(Duration::from_millis(500));
        c.set_timeout(Duration::from_millis(300));
        let mut pushes = 0;
        while let Ok(f) = c.try_read_reply() {
            assert!(f.starts_with(b">2\r\n$10\r\ninvalidate"), "{}", escape(&f));
            pushes += 1;
        }
        assert_eq!(pushes, 7, "{}", srv.name);
        let info = String::from_utf8_lossy(&admin.cmd(&["INFO", "stats"])).into_owned();
        assert!(
            info.contains("tracking_total_keys:1\r\n"),
            "{}: {info}",
            srv.name
        );
    }
}
