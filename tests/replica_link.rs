//! What a master does with commands a replica sends on its link after
//! SYNC/PSYNC (besides REPLCONF ACK): Redis 7.0 runs them, and one that
//! makes a reply disconnects the replica, logged as "Replica generated a
//! reply to command '<name>', disconnecting it: <client>"; a keyspace
//! command is refused ("Replica can't interact with the keyspace"), which
//! is also a `== CRITICAL ==` line. And PSYNC with an offset that is not
//! a number: its error and log line. Checked against redis-server too
//! (Redis 7.0.15's integration/replication "replica do not write the
//! reply to the replication link" tests).

mod common;

use common::repl::info_field;
use common::{encode, redis_available, Conn, Server};
use std::time::Duration;

fn lines_with(s: &Server, what: &str) -> usize {
    s.log_text().lines().filter(|l| l.contains(what)).count()
}

/// Reads the socket byte by byte up to the line that starts with
/// `prefix` (a master sends newlines as keepalive before it).
fn read_line_starting(c: &mut Conn, prefix: &str) -> Vec<u8> {
    use std::io::Read;
    let mut line = Vec::new();
    let mut byte = [0u8; 1];
    loop {
        c.stream
            .read_exact(&mut byte)
            .expect("a line from the master");
        line.push(byte[0]);
        if byte[0] == b'\n' {
            if line.starts_with(prefix.as_bytes()) {
                return line;
            }
            assert_eq!(line, b"\n", "unexpected line");
            line.clear();
        }
    }
}

/// The replica connection is closed by the master and the server goes on.
fn disconnected(s: &Server, c: &mut Conn, command: &str) {
    c.read_until_closed(Duration::from_secs(20));
    assert_eq!(s.conn().cmd(&["PING"]), b"+PONG\r\n");
    let line = format!("Replica generated a reply to command '{command}', disconnecting it: id=");
    assert_eq!(lines_with(s, &line), 1, "{}", s.log_text());
}

fn sync_then_ping(s: &Server, pipelined: bool) {
    let mut c = s.conn();
    if pipelined {
        let mut both = b"SYNC\r\n".to_vec();
        both.extend(encode(&["PING"]));
        c.send_raw(&both);
    } else {
        c.send_raw(b"SYNC\r\n");
        c.send(&["PING"]);
    }
    disconnected(s, &mut c, "ping");
    assert_eq!(lines_with(s, "== CRITICAL =="), 0, "{}", s.log_text());
}

fn psync_then(s: &Server, command: &[&str]) -> Conn {
    let mut c = s.conn();
    c.send(&["PSYNC", "replicationid", "-1"]);
    let line = read_line_starting(&mut c, "+FULLRESYNC");
    assert!(line.ends_with(b" 0\r\n"), "{line:?}");
    c.send(command);
    c
}

fn unexpected(s: &Server) -> u64 {
    info_field(&mut s.conn(), "stats", "unexpected_error_replies")
        .and_then(|v| v.parse().ok())
        .expect("unexpected_error_replies in INFO stats")
}

fn psync_then_get(s: &Server) {
    let mut c = psync_then(s, &["GET", "foo"]);
    disconnected(s, &mut c, "get");
    let critical = "== CRITICAL == This master is sending an error to its replica: \
                    'ERR Replica can't interact with the keyspace' after processing the command 'get'";
    let redis_text = critical.replace("'ERR ", "'");
    let logged = lines_with(s, critical) + lines_with(s, &redis_text);
    assert_eq!(logged, 1, "{}", s.log_text());
    assert_eq!(unexpected(s), 1);
}

fn psync_then_slowlog_get(s: &Server) {
    let mut c = psync_then(s, &["SLOWLOG", "GET"]);
    disconnected(s, &mut c, "slowlog|get");
}

fn psync_wrong_offset(s: &Server) {
    let mut c = s.conn();
    assert_eq!(
        c.cmd(&["PSYNC", "replicationid", "offset_str"]),
        b"-ERR value is not an integer or out of range\r\n"
    );
    let line =
        "Replica 127.0.0.1:<unknown-replica-port> asks for synchronization but with a wrong offset";
    assert_eq!(lines_with(s, line), 1, "{}", s.log_text());
    // Still an ordinary client.
    assert_eq!(c.cmd(&["PING"]), b"+PONG\r\n");
}

fn shardis(shards: usize) -> Server {
    Server::shardis(shards, &["--repl-diskless-sync-delay", "0"])
}

fn redis() -> Option<Server> {
    redis_available().then(|| Server::redis(&["--repl-diskless-sync-delay", "0"]))
}

#[test]
fn sync_then_ping_disconnects_shards1() {
    sync_then_ping(&shardis(1), false);
}

#[test]
fn sync_then_ping_disconnects_shards2() {
    sync_then_ping(&shardis(2), false);
}

#[test]
fn sync_then_ping_in_one_write_disconnects() {
    sync_then_ping(&shardis(1), true);
}

#[test]
fn sync_then_ping_disconnects_redis() {
    if let Some(s) = redis() {
        sync_then_ping(&s, false);
    }
}

#[test]
fn sync_then_ping_in_one_write_disconnects_redis() {
    if let Some(s) = redis() {
        sync_then_ping(&s, true);
    }
}

#[test]
fn psync_then_get_is_refused_and_disconnects() {
    psync_then_get(&shardis(1));
    psync_then_get(&shardis(2));
}

#[test]
fn psync_then_get_is_refused_and_disconnects_redis() {
    if let Some(s) = redis() {
        psync_then_get(&s);
    }
}

#[test]
fn psync_then_slowlog_get_disconnects() {
    psync_then_slowlog_get(&shardis(1));
    psync_then_slowlog_get(&shardis(2));
}

#[test]
fn psync_then_slowlog_get_disconnects_redis() {
    if let Some(s) = redis() {
        psync_then_slowlog_get(&s);
    }
}

#[test]
fn psync_with_wrong_offset() {
    psync_wrong_offset(&shardis(1));
}

#[test]
fn psync_with_wrong_offset_redis() {
    if let Some(s) = redis() {
        psync_wrong_offset(&s);
    }
}
