//! A replica with replicas of its own passes its master's stream on as it
//! is: its own `repl-ping-replica-period` adds no PING to it (Redis's
//! replicationFeedSlaves returns on a replica), so the chain's offsets
//! stay the master's, as integration/psync2-pingoff checks.

mod common;

use common::repl::{info_field, wait_for, wait_synced};
use common::Server;
use std::time::Duration;

fn offset(s: &Server) -> String {
    info_field(&mut s.conn(), "replication", "master_repl_offset").expect("master_repl_offset")
}

#[test]
fn a_chained_replica_adds_no_ping_of_its_own() {
    let m = Server::shardis(1, &[]);
    // The master pings rarely, so its offset stays put while we look.
    m.conn()
        .cmd(&["CONFIG", "SET", "repl-ping-replica-period", "100"]);
    let target = format!("127.0.0.1 {}", m.port);
    let r1 = Server::shardis(
        1,
        &["--replicaof", &target, "--repl-ping-replica-period", "1"],
    );
    wait_synced(&m, &r1);
    let target = format!("127.0.0.1 {}", r1.port);
    let r2 = Server::shardis(1, &["--replicaof", &target]);
    wait_synced(&r1, &r2);
    assert_eq!(m.conn().cmd(&["SET", "k", "v"]), b"+OK\r\n");
    let mut c2 = r2.conn();
    wait_for("the write down the chain", Duration::from_secs(10), || {
        c2.cmd(&["GET", "k"]) == b"$1\r\nv\r\n"
    });
    // Several of the middle replica's ping periods.
    std::thread::sleep(Duration::from_millis(3500));
    let at_master = offset(&m);
    assert_eq!(offset(&r1), at_master, "the middle replica's offset");
    assert_eq!(offset(&r2), at_master, "the chained replica's offset");
}
