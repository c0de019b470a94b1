//! PSYNC2 history continuity, as Redis 7.0's psync2 and
//! psync2-master-restart units check it: a replica switching masters, a
//! promoted node's sub-replicas, and restarts from an RDB file that
//! recorded the history (`repl-id`, `repl-offset`) all continue with a
//! partial resync, never a full one. The other nodes are redis-server
//! 7.0; skipped when it is not installed.

mod common;

use common::repl::{info_field, wait_for, wait_synced};
use common::{redis_available, Server, TempDir};
use std::time::Duration;

fn stat(s: &Server, name: &str) -> i64 {
    info_field(&mut s.conn(), "stats", name)
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no {name} in INFO stats of {}", s.name))
}

fn repl(s: &Server, name: &str) -> String {
    info_field(&mut s.conn(), "replication", name)
        .unwrap_or_else(|| panic!("no {name} in INFO replication of {}", s.name))
}

fn replicaof(s: &Server, master: &Server) {
    let port = master.port.to_string();
    assert_eq!(s.conn().cmd(&["REPLICAOF", "127.0.0.1", &port]), b"+OK\r\n");
}

/// A redis-server master that sends no PING: offsets move only with the
/// test's writes, so the histories compared below cannot drift.
fn quiet_redis_master() -> Server {
    Server::redis(&["--repl-ping-replica-period", "3600"])
}

/// A Shardis replica told to follow another master (psync2's "new
/// layout" after a failover) continues its history there: the new master
/// (a promoted sibling, which kept the old id as replid2) counts a
/// partial resync, not a full one.
#[test]
fn replica_switching_masters_continues_with_psync() {
    if !redis_available() {
        return;
    }
    let m = quiet_redis_master();
    m.conn().cmd(&["SET", "k", "1"]);
    let s = Server::shardis(1, &[]);
    let sibling = Server::redis(&["--repl-ping-replica-period", "3600"]);
    replicaof(&s, &m);
    replicaof(&sibling, &m);
    wait_synced(&m, &s);
    wait_synced(&m, &sibling);
    assert_eq!(sibling.conn().cmd(&["REPLICAOF", "NO", "ONE"]), b"+OK\r\n");
    sibling.conn().cmd(&["SET", "after-failover", "1"]);
    replicaof(&s, &sibling);
    wait_synced(&sibling, &s);
    assert_eq!(stat(&sibling, "sync_full"), 0, "no full sync");
    assert_eq!(stat(&sibling, "sync_partial_ok"), 1);
    assert_eq!(s.conn().cmd(&["GET", "after-failover"]), b"$1\r\n1\r\n");
    assert_eq!(repl(&s, "master_replid"), repl(&sibling, "master_replid"));
}

/// REPLICAOF NO ONE on a Shardis node with a sub-replica: the sub-replica
/// is disconnected to learn the new replication id (Redis's
/// disconnectSlaves), continues with a partial resync, and gets what the
/// promoted node wrote at once, under its new history.
#[test]
fn promoted_node_hands_its_new_id_to_its_replicas() {
    if !redis_available() {
        return;
    }
    let m = quiet_redis_master();
    m.conn().cmd(&["SET", "k", "1"]);
    let s = Server::shardis(1, &["--repl-ping-replica-period", "3600"]);
    replicaof(&s, &m);
    wait_synced(&m, &s);
    let sub = Server::redis(&[]);
    replicaof(&sub, &s);
    wait_synced(&s, &sub);
    let full = stat(&s, "sync_full");
    let mut sc = s.conn();
    assert_eq!(sc.cmd(&["REPLICAOF", "NO", "ONE"]), b"+OK\r\n");
    assert_eq!(sc.cmd(&["SET", "after-promotion", "1"]), b"+OK\r\n");
    let new_id = repl(&s, "master_replid");
    wait_for(
        "the sub-replica to learn the new replication id",
        Duration::from_secs(10),
        || info_field(&mut sub.conn(), "replication", "master_replid").as_deref() == Some(&new_id),
    );
    wait_synced(&s, &sub);
    assert_eq!(stat(&s, "sync_full"), full, "no full sync");
    assert!(stat(&s, "sync_partial_ok") >= 1);
    assert_eq!(sub.conn().cmd(&["GET", "after-promotion"]), b"$1\r\n1\r\n");
}

/// A fresh Shardis process in a copy of `dir`'s dump.rdb, with `extra`.
fn restart_in_copy(dir: &std::path::Path, tag: &str, extra: &[&str]) -> (TempDir, Server) {
    let copy = TempDir::new(tag);
    std::fs::copy(dir.join("dump.rdb"), copy.0.join("dump.rdb")).expect("dump.rdb saved");
    let mut args = vec!["--dir", copy.0.to_str().unwrap()];
    args.extend_from_slice(extra);
    let s = Server::shardis(1, &args);
    (copy, s)
}

fn shutdown(s: &Server) {
    let mut c = s.conn();
    c.send(&["SHUTDOWN", "SAVE"]);
    c.read_until_closed(Duration::from_secs(20));
}

/// A Shardis replica saves its master's history in the RDB file; started
/// again from it with `replicaof`, it asks for a partial resync from the
/// offset it had (psync2's "Partial resync after restart using RDB aux
/// fields").
#[test]
fn restarted_replica_continues_from_its_rdb() {
    if !redis_available() {
        return;
    }
    let m = quiet_redis_master();
    m.conn().cmd(&["SET", "k", "1"]);
    let s = Server::shardis(1, &[]);
    replicaof(&s, &m);
    wait_synced(&m, &s);
    m.conn().cmd(&["SET", "later", "1"]);
    wait_synced(&m, &s);
    shutdown(&s);
    m.conn().cmd(&["SET", "while-down", "1"]);
    let target = format!("127.0.0.1 {}", m.port);
    let (_dir, again) = restart_in_copy(&s.dir, "repl-restart", &["--replicaof", &target]);
    wait_synced(&m, &again);
    assert_eq!(stat(&m, "sync_full"), 1, "no second full sync");
    assert_eq!(stat(&m, "sync_partial_ok"), 1);
    assert_eq!(again.conn().cmd(&["GET", "while-down"]), b"$1\r\n1\r\n");
}

/// A Shardis master restarted from its RDB file keeps the saved history
/// as replid2, with a backlog from the saved offset holding the DEL of a
/// key that expired while it was down: its redis-server replica
/// continues with a partial resync and gets the DEL
/// (psync2-master-restart). The save keeps the expired key, as Redis's.
#[test]
fn restarted_master_continues_its_history() {
    if !redis_available() {
        return;
    }
    let debug = ["--save", "3600 1", "--enable-debug-command", "yes"];
    let s = Server::shardis(1, &debug);
    let mut sc = s.conn();
    sc.cmd(&["SET", "k", "1"]);
    let r = Server::redis(&debug[2..]);
    replicaof(&r, &s);
    wait_synced(&s, &r);
    assert_eq!(sc.cmd(&["DEBUG", "SET-ACTIVE-EXPIRE", "0"]), b"+OK\r\n");
    sc.cmd(&["SELECT", "3"]);
    sc.cmd(&["SET", "short", "v", "PX", "50"]);
    wait_synced(&s, &r);
    std::thread::sleep(Duration::from_millis(100));
    let (replid, offset) = (repl(&s, "master_replid"), repl(&s, "master_repl_offset"));
    // Acknowledged: SHUTDOWN sends no GETACK (which would move the offset).
    wait_for("the replica's ACK", Duration::from_secs(10), || {
        repl(&s, "slave0").contains(&format!(",offset={offset},"))
    });
    let offset: i64 = offset.parse().unwrap();
    shutdown(&s);
    let (_dir, again) = restart_in_copy(&s.dir, "master-restart", &debug);
    let expired = info_field(
        &mut again.conn(),
        "persistence",
        "rdb_last_load_keys_expired",
    );
    assert_eq!(expired.as_deref(), Some("1"));
    assert_ne!(repl(&again, "master_replid"), replid);
    assert_eq!(repl(&again, "master_replid2"), replid);
    assert_eq!(repl(&again, "second_repl_offset"), (offset + 1).to_string());
    assert_eq!(repl(&again, "repl_backlog_active"), "1");
    assert_eq!(
        repl(&again, "repl_backlog_first_byte_offset"),
        (offset + 1).to_string()
    );
    // SELECT 3 and DEL short.
    let del = "*2\r\n$6\r\nSELECT\r\n$1\r\n3\r\n*2\r\n$3\r\nDEL\r\n$5\r\nshort\r\n".len() as i64;
    assert_eq!(
        repl(&again, "master_repl_offset"),
        (offset + del).to_string()
    );
    replicaof(&r, &again);
    wait_synced(&again, &r);
    assert_eq!(stat(&again, "sync_full"), 0, "no full sync");
    assert_eq!(stat(&again, "sync_partial_ok"), 1);
    let mut rc = r.conn();
    rc.cmd(&["SELECT", "3"]);
    assert_eq!(rc.cmd(&["EXISTS", "short"]), b":0\r\n");
    assert_eq!(
        rc.cmd(&["DEBUG", "DIGEST"]),
        again.conn().cmd(&["DEBUG", "DIGEST"])
    );
}

/// CONFIG RESETSTAT zeroes the sync counters (Redis's resetServerStats).
#[test]
fn resetstat_zeroes_the_sync_counters() {
    if !redis_available() {
        return;
    }
    let s = Server::shardis(1, &[]);
    let r = Server::redis(&[]);
    replicaof(&r, &s);
    wait_synced(&s, &r);
    assert_eq!(stat(&s, "sync_full"), 1);
    assert_eq!(s.conn().cmd(&["CONFIG", "RESETSTAT"]), b"+OK\r\n");
    for name in ["sync_full", "sync_partial_ok", "sync_partial_err"] {
        assert_eq!(stat(&s, name), 0, "{name}");
    }
}
