//! A writable replica (`replica-read-only no`) expires the keys its own
//! clients gave a TTL, as Redis 7.0's expireSlaveKeys: no DEL from the
//! master would ever come for them. Keys from the master still wait for
//! the master's DEL (tests/repl_replica.rs).

mod common;

use common::repl::{info_field, wait_for, wait_synced};
use common::{Conn, Server};
use std::time::{Duration, Instant};

fn expired_keys(c: &mut Conn) -> u64 {
    info_field(c, "stats", "expired_keys")
        .and_then(|v| v.parse().ok())
        .expect("expired_keys in INFO stats")
}

/// A shardis replica of a shardis master with `replica-read-only no`.
fn writable_replica(shards: usize, extra: &[&str]) -> (Server, Server) {
    let p = Server::shardis(1, &[]);
    let target = format!("127.0.0.1 {}", p.port);
    let mut args = vec!["--replicaof", &target];
    args.extend_from_slice(extra);
    let r = Server::shardis(shards, &args);
    wait_synced(&p, &r);
    assert_eq!(
        r.conn().cmd(&["CONFIG", "SET", "replica-read-only", "no"]),
        b"+OK\r\n"
    );
    (p, r)
}

fn writable_replica_expires_its_own_keys(shards: usize) {
    let (_p, r) = writable_replica(shards, &[]);
    let mut rc = r.conn();
    // A TTL lengthened or removed before it ends keeps the key (1.5 s:
    // the next command comes well before).
    let set_up = Instant::now();
    for db in ["0", "3"] {
        rc.cmd(&["SELECT", db]);
        rc.cmd(&["SET", "longer", "v", "PX", "1500"]);
        assert_eq!(rc.cmd(&["PEXPIRE", "longer", "100000"]), b":1\r\n");
        rc.cmd(&["SET", "kept", "v", "PX", "1500"]);
        assert_eq!(rc.cmd(&["PERSIST", "kept"]), b":1\r\n");
    }
    // Keys on several shards and in two databases, none ever read again.
    for db in ["0", "3"] {
        rc.cmd(&["SELECT", db]);
        for key in ["a", "b", "c", "d"] {
            assert_eq!(rc.cmd(&["SET", key, "v", "PX", "1"]), b"+OK\r\n");
        }
        rc.cmd(&["SET", "e", "v"]);
        assert_eq!(rc.cmd(&["PEXPIRE", "e", "1"]), b":1\r\n");
    }
    let mut info = r.conn();
    wait_for(
        "the replica's own keys to expire",
        Duration::from_secs(10),
        || expired_keys(&mut info) == 10,
    );
    // Past the first TTLs of the others, and a few expiry runs more.
    std::thread::sleep(Duration::from_millis(2000).saturating_sub(set_up.elapsed()));
    assert_eq!(expired_keys(&mut info), 10);
    for db in ["0", "3"] {
        rc.cmd(&["SELECT", db]);
        assert_eq!(rc.cmd(&["DBSIZE"]), b":2\r\n", "db {db}");
        assert_eq!(rc.cmd(&["EXISTS", "longer", "kept"]), b":2\r\n");
    }
}

/// A write command deletes a key whose TTL passed (Redis's
/// LOOKUP_WRITE on a writable replica); a read leaves it.
#[test]
fn writable_replica_write_deletes_an_expired_key() {
    let (_p, r) = writable_replica(1, &["--enable-debug-command", "yes"]);
    let mut rc = r.conn();
    assert_eq!(rc.cmd(&["DEBUG", "SET-ACTIVE-EXPIRE", "0"]), b"+OK\r\n");
    rc.cmd(&["SET", "k", "v", "PX", "1"]);
    std::thread::sleep(Duration::from_millis(20));
    assert_eq!(rc.cmd(&["GET", "k"]), b"$-1\r\n");
    assert_eq!(rc.cmd(&["DBSIZE"]), b":1\r\n");
    assert_eq!(expired_keys(&mut rc), 0);
    assert_eq!(rc.cmd(&["APPEND", "k", "x"]), b":1\r\n");
    assert_eq!(expired_keys(&mut rc), 1);
    assert_eq!(rc.cmd(&["TTL", "k"]), b":-1\r\n");
}

#[test]
fn writable_replica_expires_its_own_keys_one_shard() {
    writable_replica_expires_its_own_keys(1);
}

#[test]
fn writable_replica_expires_its_own_keys_four_shards() {
    writable_replica_expires_its_own_keys(4);
}
