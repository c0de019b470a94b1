//! A malformed cluster bus message (Redis's suite, unit/cluster/packet,
//! from the fix for CVE-2026-21863 Debian's redis-server carries): a MEET
//! that claims 100 gossip entries and extensions it does not have. The
//! node drops it without reading past the frame, counts it as received
//! (as Redis counts before it validates), and keeps serving.

mod common;

use common::cluster::{cli, free_cluster_port, start_node, wait_until};
use common::{redis_available, Kind};
use std::io::Write;
use std::net::TcpStream;
use std::time::Duration;

/// The MEET of Redis's test, field by field (clusterMsg, 2256 bytes).
fn lying_meet(port: u16, cport: u16) -> Vec<u8> {
    let mut p = Vec::with_capacity(2256);
    p.extend_from_slice(b"RCmb");
    p.extend_from_slice(&0u32.to_be_bytes()); // totlen, set below
    p.extend_from_slice(&1u16.to_be_bytes()); // ver
    p.extend_from_slice(&port.to_be_bytes());
    p.extend_from_slice(&2u16.to_be_bytes()); // type MEET
    p.extend_from_slice(&100u16.to_be_bytes()); // count: no entry follows
    p.extend_from_slice(&1u64.to_be_bytes()); // currentEpoch
    p.extend_from_slice(&1u64.to_be_bytes()); // configEpoch
    p.extend_from_slice(&0u64.to_be_bytes()); // offset
    p.extend_from_slice(b"abcdef1234567890abcdef1234567890abcdef12");
    p.extend(std::iter::repeat_n(0u8, 2048 + 40 + 46)); // myslots, replicaof, myip
    p.extend_from_slice(&(2_000_000_000u32 as u16).to_be_bytes()); // extensions
    p.extend(std::iter::repeat_n(0u8, 30));
    p.extend_from_slice(&0u16.to_be_bytes()); // pport
    p.extend_from_slice(&cport.to_be_bytes());
    p.extend_from_slice(&1u16.to_be_bytes()); // flags: master
    p.push(0); // state
    p.extend_from_slice(&[4, 0, 0]); // mflags: CLUSTERMSG_FLAG0_EXT_DATA
    let len = p.len() as u32;
    p[4..8].copy_from_slice(&len.to_be_bytes());
    p
}

fn received(port: u16) -> Option<u64> {
    cli("127.0.0.1", port, None, &["CLUSTER", "INFO"])
        .lines()
        .find_map(|l| l.strip_prefix("cluster_stats_messages_received:"))
        .and_then(|v| v.trim().parse().ok())
}

#[test]
fn a_meet_with_missing_gossip_is_counted_and_dropped() {
    let mut kinds = vec![Kind::Shardis];
    if redis_available() {
        kinds.push(Kind::Redis);
    }
    for kind in kinds {
        let port = free_cluster_port();
        let srv = start_node(kind, port, 5000, &[]);
        assert_eq!(received(port), Some(0), "{}", srv.name);
        let mut bus = TcpStream::connect(("127.0.0.1", port + 10000)).unwrap();
        bus.write_all(&lying_meet(port, port + 10000)).unwrap();
        drop(bus);
        let counted = wait_until(Duration::from_secs(10), || received(port) == Some(1));
        assert!(counted.is_some(), "{}: {:?}", srv.name, received(port));
        let mut c = srv.conn();
        assert_eq!(c.cmd(&["PING"]), b"+PONG\r\n", "{}", srv.name);
        // The fake sender was not added.
        let nodes = cli("127.0.0.1", port, None, &["CLUSTER", "NODES"]);
        assert_eq!(nodes.lines().count(), 1, "{}: {nodes}", srv.name);
    }
}
