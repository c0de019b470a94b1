//! Memory a node holds for a moment goes when the moment is over, and
//! INFO's memory figures say whose it is (issue 13: Redis 7.0's
//! unit/maxmemory, unit/pendingquerybuf and unit/client-eviction in full
//! mode): replies queued for a client that does not read, a replica's
//! buffers once it is gone, a replica's link after a big command, a big
//! argument's query buffer, and the invalidations an eviction sends to
//! tracking clients (which must not make it evict every key).

mod common;

use common::repl::{info_field, wait_for, wait_synced};
use common::{bulk_payload, encode, Conn, Server};
use std::time::Duration;

fn info_u64(c: &mut Conn, section: &str, field: &str) -> u64 {
    info_field(c, section, field)
        .unwrap_or_else(|| panic!("no {field} in INFO {section}"))
        .trim()
        .parse()
        .unwrap()
}

fn signal(s: &Server, sig: i32) {
    unsafe {
        libc::kill(s.pid() as i32, sig);
    }
}

/// Many batches answered while the client does not read wait in its
/// reply queue; once it has read them all, their memory is gone (the
/// queue kept a slot per batch before, 24 bytes each, for good).
#[test]
fn replies_queued_for_a_slow_reader_leave_nothing_behind() {
    let s = Server::shardis(1, &[]);
    let mut c = s.conn();
    let mut info = s.conn();
    let value = "v".repeat(8 << 20);
    assert_eq!(c.cmd(&["SET", "big", &value]), b"+OK\r\n");
    let before = info_u64(&mut info, "memory", "used_memory");
    // 32 MiB of replies fill the socket buffers; then each CLIENT REPLY
    // ON is a batch of its own (it ends its batch), queued behind them.
    let mut bytes = Vec::new();
    for _ in 0..4 {
        bytes.extend(encode(&["GET", "big"]));
    }
    let small = 200_000;
    for _ in 0..small {
        bytes.extend(encode(&["CLIENT", "REPLY", "ON"]));
    }
    c.send_raw(&bytes);
    for _ in 0..4 {
        assert_eq!(bulk_payload(&c.read_reply()).len(), value.len());
    }
    for _ in 0..small {
        assert_eq!(c.read_reply(), b"+OK\r\n");
    }
    let after = info_u64(&mut info, "memory", "used_memory");
    assert!(
        after < before + (512 << 10),
        "used_memory {before} before, {after} after the replies were read"
    );
}

/// A replica killed while its task was writing to it (it is stopped):
/// nothing it held stays counted as replicas' memory.
#[test]
fn a_killed_replica_leaves_no_replica_memory() {
    let p = Server::shardis(1, &[]);
    let r = Server::shardis(1, &[]);
    let mut pc = p.conn();
    let port = p.port.to_string();
    assert_eq!(r.conn().cmd(&["REPLICAOF", "127.0.0.1", &port]), b"+OK\r\n");
    wait_synced(&p, &r);
    signal(&r, libc::SIGSTOP);
    // More than the sockets take: the replica's task waits mid-write.
    let value = "x".repeat(1 << 20);
    for i in 0..32 {
        assert_eq!(pc.cmd(&["SET", &format!("k{i}"), &value]), b"+OK\r\n");
    }
    assert!(info_u64(&mut pc, "memory", "mem_clients_slaves") > 0);
    assert_eq!(pc.cmd(&["CLIENT", "KILL", "TYPE", "replica"]), b":1\r\n");
    wait_for("the replica to go", Duration::from_secs(10), || {
        info_u64(&mut pc, "replication", "connected_slaves") == 0
    });
    // (The replica's task lets go of the buffer as it ends.)
    wait_for(
        "mem_clients_slaves to be 0",
        Duration::from_secs(10),
        || info_u64(&mut pc, "memory", "mem_clients_slaves") == 0,
    );
    signal(&r, libc::SIGCONT);
}

/// After a 32 MiB command the replica's memory is the master's, give
/// or take (its link buffer and the copy for its backlog doubled past
/// the command and stayed: 100 MiB more).
#[test]
fn a_big_command_leaves_the_replica_link_small() {
    let p = Server::shardis(1, &[]);
    let r = Server::shardis(1, &[]);
    let port = p.port.to_string();
    assert_eq!(r.conn().cmd(&["REPLICAOF", "127.0.0.1", &port]), b"+OK\r\n");
    wait_synced(&p, &r);
    let value = "v".repeat(32 << 20);
    assert_eq!(p.conn().cmd(&["SET", "key", &value]), b"+OK\r\n");
    wait_synced(&p, &r);
    let (mut pc, mut rc) = (p.conn(), r.conn());
    wait_for(
        "the replica's memory to come within 10 MiB of the master's",
        Duration::from_secs(10),
        || {
            let master = info_u64(&mut pc, "memory", "used_memory");
            let replica = info_u64(&mut rc, "memory", "used_memory");
            replica <= master + (10 << 20)
        },
    );
}

/// The query buffer of a big argument still arriving ends at its
/// request's size however the bytes came (it grew a chunk past it when
/// the last read crossed a doubling): `qbuf-free` is what is missing.
#[test]
fn a_big_argument_buffer_ends_at_its_size() {
    let s = Server::shardis(1, &[]);
    let mut c = s.conn();
    assert_eq!(c.cmd(&["CLIENT", "SETNAME", "big"]), b"+OK\r\n");
    let size = 1 << 20;
    let mut bytes = format!("*2\r\n${size}\r\n").into_bytes();
    bytes.extend(std::iter::repeat_n(b'v', size));
    c.send_raw(&bytes);
    let mut admin = s.conn();
    let mut line = String::new();
    wait_for("the argument to arrive", Duration::from_secs(10), || {
        let list =
            String::from_utf8_lossy(&bulk_payload(&admin.cmd(&["CLIENT", "LIST"]))).into_owned();
        line = list
            .lines()
            .find(|l| l.contains(" name=big "))
            .unwrap_or_default()
            .to_string();
        line.contains(&format!(" qbuf={size} "))
    });
    let free: usize = line
        .split(' ')
        .find_map(|f| f.strip_prefix("qbuf-free="))
        .unwrap()
        .parse()
        .unwrap();
    // Redis 7.0.15: 2 (the CRLF after the data), plus allocator slack.
    assert!(free < 1024, "{line}");
}

/// Evicting keys whose names tracking clients cache queues invalidations
/// for them; those do not call for more evictions (Redis's
/// performEvictions frees what was over when it started): a limit 40 KB
/// under the use evicts a few dozen keys of 1 KB names, not all.
#[test]
fn invalidations_of_evicted_keys_do_not_evict_more() {
    let s = Server::shardis(1, &[]);
    let mut c = s.conn();
    for cfg in [
        ["maxmemory-policy", "allkeys-lru"],
        ["maxmemory-eviction-tenacity", "100"],
    ] {
        assert_eq!(c.cmd(&["CONFIG", "SET", cfg[0], cfg[1]]), b"+OK\r\n");
    }
    let mut trackers: Vec<Conn> = (0..10).map(|_| s.conn()).collect();
    for t in &mut trackers {
        assert!(t.line("HELLO 3").starts_with(b"%"));
        assert_eq!(t.line("CLIENT TRACKING on"), b"+OK\r\n");
    }
    for j in 0..300 {
        let key = format!("{j}{}", "x".repeat(1000));
        assert_eq!(c.cmd(&["SET", &key, "x"]), b"+OK\r\n");
        for t in &mut trackers {
            assert_eq!(t.cmd(&["GET", &key]), b"$1\r\nx\r\n");
        }
    }
    let used = info_u64(&mut c, "memory", "used_memory");
    let limit = (used - 40_000).to_string();
    assert_eq!(c.cmd(&["CONFIG", "SET", "maxmemory", &limit]), b"+OK\r\n");
    let evicted = info_u64(&mut c, "stats", "evicted_keys");
    let left = c.cmd(&["DBSIZE"]);
    let left: u64 = std::str::from_utf8(&left[1..left.len() - 2])
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        (200..=300).contains(&left),
        "{left} keys left, {evicted} evicted"
    );
}
