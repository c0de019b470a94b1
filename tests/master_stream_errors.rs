//! A command of the master's stream that fails on the replica (an
//! unknown command that DEBUG REPLICATE sent, a write on a key a writable
//! replica changed) is logged there as Redis 7.0's `== CRITICAL ==` line,
//! naming the command, and counted in INFO `unexpected_error_replies`;
//! the stream goes on. Checked against redis-server too (Redis 7.0's
//! integration/replication-4 "Data divergence" tests).

mod common;

use common::repl::{info_field, wait_synced};
use common::{redis_available, Server};

fn unexpected(s: &Server) -> u64 {
    info_field(&mut s.conn(), "stats", "unexpected_error_replies")
        .and_then(|v| v.parse().ok())
        .expect("unexpected_error_replies in INFO stats")
}

fn lines_with(s: &Server, what: &str) -> usize {
    s.log_text()
        .lines()
        .filter(|l| l.contains("== CRITICAL ==") && l.contains(what))
        .count()
}

fn diverging_replica(start: impl Fn(&[&str]) -> Server) {
    let m = start(&["--enable-debug-command", "yes"]);
    let target = format!("127.0.0.1 {}", m.port);
    let r = start(&["--replicaof", &target]);
    wait_synced(&m, &r);
    let mut mc = m.conn();

    assert_eq!(
        mc.cmd(&["DEBUG", "REPLICATE", "fake-command-1"]),
        b"+OK\r\n"
    );
    assert_eq!(mc.cmd(&["SET", "foo", "bar2"]), b"+OK\r\n");
    wait_synced(&m, &r);
    assert_eq!(r.conn().cmd(&["GET", "foo"]), b"$4\r\nbar2\r\n");
    assert_eq!(lines_with(&r, "'fake-command-1'"), 1, "{}", r.log_text());
    assert_eq!(unexpected(&r), 1);

    assert_eq!(
        r.conn().cmd(&["CONFIG", "SET", "replica-read-only", "no"]),
        b"+OK\r\n"
    );
    assert_eq!(r.conn().cmd(&["SET", "number2", "foo"]), b"+OK\r\n");
    assert_eq!(mc.cmd(&["INCRBY", "number2", "1"]), b":1\r\n");
    wait_synced(&m, &r);
    assert_eq!(r.conn().cmd(&["GET", "number2"]), b"$3\r\nfoo\r\n");
    assert_eq!(
        lines_with(&r, "after processing the command 'incrby'"),
        1,
        "{}",
        r.log_text()
    );
    assert_eq!(unexpected(&r), 2);
    assert_eq!(r.conn().cmd(&["CONFIG", "RESETSTAT"]), b"+OK\r\n");
    assert_eq!(unexpected(&r), 0);
}

#[test]
fn master_stream_errors_are_logged_shards1() {
    diverging_replica(|a| Server::shardis(1, a));
}

#[test]
fn master_stream_errors_are_logged_shards2() {
    diverging_replica(|a| Server::shardis(2, a));
}

#[test]
fn master_stream_errors_are_logged_redis() {
    if redis_available() {
        diverging_replica(Server::redis);
    }
}
