//! A master becoming a replica (REPLICAOF host port) ends its blocked
//! commands, BLPOP and WAIT alike, with Redis 7.0's `-UNBLOCKED ...
//! instance state changed` error and closes their connections
//! (`disconnectAllBlockedClients`): the new master's stream must not
//! serve them. integration/replication's "BLPOP followed by role change,
//! issue #2473". Shardis at shards 1 and 4 and redis-server, same bytes.

mod common;

use common::repl::{info_field, wait_for};
use common::{redis_available, Conn, Server};
use std::time::Duration;

const UNBLOCKED: &[u8] = b"-UNBLOCKED force unblock from blocking operation, instance state changed (master -> replica?)\r\n";

fn wait_blocked(c: &mut Conn, n: usize) {
    wait_for(
        &format!("{n} blocked clients"),
        Duration::from_secs(10),
        || info_field(c, "clients", "blocked_clients").as_deref() == Some(&n.to_string()),
    );
}

fn scenario(node: Server, master: Server) {
    let label = node.name.clone();
    let mut admin = node.conn();
    let mut blpop = node.conn();
    blpop.send(&["BLPOP", "foo", "0"]);
    let mut wait = node.conn();
    wait.send(&["WAIT", "1", "0"]);
    wait_blocked(&mut admin, 2);

    let port = master.port.to_string();
    assert_eq!(
        admin.cmd(&["REPLICAOF", "127.0.0.1", &port]),
        b"+OK\r\n",
        "{label}"
    );
    for c in [&mut blpop, &mut wait] {
        let got = c.read_until_closed(Duration::from_secs(10));
        assert_eq!(
            String::from_utf8_lossy(&got),
            String::from_utf8_lossy(UNBLOCKED),
            "{label}"
        );
    }
    wait_blocked(&mut admin, 0);

    wait_for("link up", Duration::from_secs(20), || {
        info_field(&mut admin, "replication", "master_link_status").as_deref() == Some("up")
    });
    let mut m = master.conn();
    assert_eq!(m.cmd(&["RPUSH", "foo", "a", "b", "c"]), b":3\r\n");
    let want = b"*3\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n".to_vec();
    wait_for("foo replicated whole", Duration::from_secs(10), || {
        admin.cmd(&["LRANGE", "foo", "0", "-1"]) == want
    });
}

#[test]
fn blocked_clients_are_unblocked_when_becoming_a_replica() {
    for shards in [1, 4] {
        scenario(Server::shardis(shards, &[]), Server::shardis(2, &[]));
    }
}

#[test]
fn redis_unblocks_them_the_same_way() {
    if redis_available() {
        scenario(Server::redis(&[]), Server::redis(&[]));
    }
}
