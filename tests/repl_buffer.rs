//! A Shardis master's full sync while its snapshot runs long
//! (`rdb-key-save-delay`), as Redis 7.0's replication-buffer unit drives
//! it: the snapshot is an RDB one for INFO and BGSAVE, writes do not
//! shorten it, and a replica that goes away, or passes its output limit,
//! is let go at once rather than when the transfer ends. The replica is
//! redis-server 7.0; skipped when it is not installed.

mod common;

use common::repl::{info_field, wait_for};
use common::{redis_available, Server};
use std::time::Duration;

fn field(s: &Server, section: &str, name: &str) -> String {
    info_field(&mut s.conn(), section, name)
        .unwrap_or_else(|| panic!("no {name} in INFO {section} of {}", s.name))
}

/// A master with a few keys whose snapshot takes 1000 s, and a
/// redis-server replica waiting for its RDB.
fn master_and_waiting_replica() -> (Server, Server) {
    let m = Server::shardis(
        1,
        &[
            "--repl-diskless-sync-delay",
            "0",
            "--repl-backlog-size",
            "16384",
        ],
    );
    let mut mc = m.conn();
    for i in 0..4 {
        mc.cmd(&["SET", &format!("k{i}"), "v"]);
    }
    mc.cmd(&["CONFIG", "SET", "rdb-key-save-delay", "250000000"]);
    let r = Server::redis(&[]);
    let port = m.port.to_string();
    assert_eq!(r.conn().cmd(&["REPLICAOF", "127.0.0.1", &port]), b"+OK\r\n");
    // A diskless transfer (7.0's default) shows the replica in
    // `wait_bgsave` until the snapshot ends, as Redis does.
    wait_for("the full sync to start", Duration::from_secs(10), || {
        let mut c = m.conn();
        info_field(&mut c, "replication", "slave0")
            .is_some_and(|line| line.contains("state=wait_bgsave"))
            && info_field(&mut c, "persistence", "rdb_bgsave_in_progress").as_deref() == Some("1")
    });
    (m, r)
}

#[test]
fn full_sync_snapshot_is_an_rdb_save_that_writes_do_not_shorten() {
    if !redis_available() {
        return;
    }
    let (m, _r) = master_and_waiting_replica();
    assert_eq!(field(&m, "persistence", "rdb_bgsave_in_progress"), "1");
    let mut mc = m.conn();
    assert_eq!(
        mc.cmd(&["BGSAVE"]),
        b"-ERR Background save already in progress\r\n"
    );
    // Every key written: each is saved ahead of the snapshot's cursor,
    // and still counts for the delay.
    for i in 0..4 {
        mc.cmd(&["SET", &format!("k{i}"), "w"]);
    }
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(field(&m, "persistence", "rdb_bgsave_in_progress"), "1");
    assert_eq!(field(&m, "replication", "connected_slaves"), "1");
}

#[test]
fn a_replica_gone_during_the_transfer_is_let_go() {
    if !redis_available() {
        return;
    }
    let (m, r) = master_and_waiting_replica();
    drop(r);
    wait_for(
        "the master to let the replica go",
        Duration::from_secs(10),
        || field(&m, "replication", "connected_slaves") == "0",
    );
}

#[test]
fn a_lowered_output_limit_drops_a_replica_waiting_for_its_rdb() {
    if !redis_available() {
        return;
    }
    let (m, _r) = master_and_waiting_replica();
    let mut mc = m.conn();
    // 64 KB the replica lacks, under a limit of none.
    mc.cmd(&["SET", "big", &"x".repeat(64 * 1024)]);
    assert_eq!(field(&m, "replication", "connected_slaves"), "1");
    let limit = mc.cmd(&[
        "CONFIG",
        "SET",
        "client-output-buffer-limit",
        "replica 32kb 0 0",
    ]);
    assert_eq!(limit, b"+OK\r\n");
    // Nothing more written: the new limit alone drops it, and it comes
    // back for another full sync.
    wait_for(
        "the replica over its limit to go",
        Duration::from_secs(10),
        || field(&m, "stats", "sync_full") == "2",
    );
    assert!(m
        .log_text()
        .contains("closed ASAP for overcoming of output buffer limits"));
}

/// The replication buffer holds its bytes in 16 KiB blocks, as Redis 7's:
/// once the backlog is full and trimmed from the front, what it allocates
/// (INFO `mem_replication_backlog` plus the part beyond the backlog that
/// INFO counts as the replicas', `mem_clients_slaves`) stays within a few
/// blocks of `repl-backlog-size`, where a ring that grows by doubling held
/// up to twice it.
#[test]
fn the_full_backlog_allocates_about_its_size() {
    const BACKLOG: u64 = 1 << 20;
    let m = Server::shardis(1, &["--repl-backlog-size", &BACKLOG.to_string()]);
    let r = Server::shardis(1, &["--replicaof", "127.0.0.1", &m.port.to_string()]);
    wait_for("the replica's link", Duration::from_secs(20), || {
        info_field(&mut r.conn(), "replication", "master_link_status").as_deref() == Some("up")
    });
    let mut c = m.conn();
    let value = "x".repeat(10_000);
    for i in 0..400 {
        assert_eq!(c.cmd(&["SET", &format!("k{}", i % 10), &value]), b"+OK\r\n");
    }
    let histlen: u64 = field(&m, "replication", "repl_backlog_histlen")
        .parse()
        .unwrap();
    assert_eq!(histlen, BACKLOG, "the backlog is full");
    let allocated: u64 = ["mem_replication_backlog", "mem_clients_slaves"]
        .iter()
        .map(|f| field(&m, "memory", f).parse::<u64>().unwrap())
        .sum();
    // What it holds: the backlog and what the replica has not taken.
    let held: u64 = field(&m, "memory", "mem_total_replication_buffers")
        .parse()
        .unwrap();
    assert!(held >= BACKLOG);
    // mem_clients_slaves also counts the replica link's 64 KiB send
    // buffer.
    assert!(
        allocated <= held + 2 * 16 * 1024 + 64 * 1024,
        "{allocated} bytes allocated to hold {held} (a backlog of {BACKLOG})"
    );
}
