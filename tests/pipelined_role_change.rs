//! A request read in the same write as a role change sees the new role,
//! as Redis runs a client's pipelined requests one after the other: a
//! SET after `REPLICAOF NO ONE` writes, a SET after `REPLICAOF host port`
//! is refused with READONLY.

mod common;

use common::repl::{info_field, wait_synced};
use common::{encode, Server};

/// REPLICAOF's request followed by a SET, sent in one write.
fn replicaof_then_set(target: &[&str]) -> Vec<u8> {
    let mut bytes = encode(&[&["REPLICAOF"][..], target].concat());
    bytes.extend(encode(&["SET", "k", "v"]));
    bytes
}

fn promoted_replica_takes_a_pipelined_write(shards: usize) {
    let p = Server::shardis(1, &[]);
    let target = format!("127.0.0.1 {}", p.port);
    let r = Server::shardis(shards, &["--replicaof", &target]);
    wait_synced(&p, &r);
    let mut rc = r.conn();
    rc.send_raw(&replicaof_then_set(&["NO", "ONE"]));
    assert_eq!(
        rc.read_replies(2),
        vec![b"+OK\r\n".to_vec(), b"+OK\r\n".to_vec()]
    );
    assert_eq!(rc.cmd(&["GET", "k"]), b"$1\r\nv\r\n");
    assert_eq!(
        info_field(&mut rc, "replication", "role").as_deref(),
        Some("master")
    );
}

#[test]
fn promoted_replica_takes_a_pipelined_write_shards1() {
    promoted_replica_takes_a_pipelined_write(1);
}

#[test]
fn promoted_replica_takes_a_pipelined_write_shards4() {
    promoted_replica_takes_a_pipelined_write(4);
}

#[test]
fn demoted_master_refuses_a_pipelined_write() {
    let p = Server::shardis(1, &[]);
    let r = Server::shardis(1, &[]);
    let mut rc = r.conn();
    let port = p.port.to_string();
    rc.send_raw(&replicaof_then_set(&["127.0.0.1", &port]));
    let replies = rc.read_replies(2);
    assert_eq!(replies[0], b"+OK\r\n");
    assert!(
        replies[1].starts_with(b"-READONLY"),
        "{}",
        common::escape(&replies[1])
    );
    assert_eq!(rc.cmd(&["EXISTS", "k"]), b":0\r\n");
}
