//! Redis 7.0 directives with behaviour behind them: `oom-score-adj`
//! (the process's /proc oom_score_adj per role), `bind-source-addr` (the
//! master link leaves from that address) and `repl-diskless-load` (dump
//! file written or not, LOADING / async_loading, old data kept when the
//! transfer fails).

mod common;

use common::repl::{info_field, wait_for, wait_synced};
use common::{bulk_payload, Conn, Server};
use std::io::{Read, Write};
use std::net::TcpListener;
use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(15);

fn oom_score(pid: u32) -> i64 {
    let text = std::fs::read_to_string(format!("/proc/{pid}/oom_score_adj")).unwrap();
    text.trim().parse().unwrap()
}

fn set_oom_score(pid: u32, v: i64) {
    std::fs::write(format!("/proc/{pid}/oom_score_adj"), format!("{v}\n")).unwrap();
}

fn ok(c: &mut Conn, args: &[&str]) {
    let r = c.cmd(args);
    assert_eq!(String::from_utf8_lossy(&r), "+OK\r\n", "{args:?}");
}

/// unit/oom-score-adj.tcl's checks, but for the save child, which
/// Shardis does not have.
#[test]
fn oom_score_adj_follows_role_and_mode() {
    let srv = Server::shardis(1, &[]);
    let pid = srv.pid();
    let mut c = srv.conn();
    let base = oom_score(pid);

    ok(
        &mut c,
        &["CONFIG", "SET", "oom-score-adj-values", "10 20 30"],
    );
    assert_eq!(oom_score(pid), base, "untouched while oom-score-adj is no");
    ok(&mut c, &["CONFIG", "SET", "oom-score-adj", "yes"]);
    assert_eq!(oom_score(pid), base + 10);
    ok(
        &mut c,
        &["CONFIG", "SET", "oom-score-adj-values", "15 20 30"],
    );
    assert_eq!(oom_score(pid), base + 15);

    // The replica class while a replica (an unreachable master will do).
    ok(&mut c, &["REPLICAOF", "127.0.0.1", "1"]);
    assert_eq!(oom_score(pid), base + 20);
    ok(&mut c, &["REPLICAOF", "NO", "ONE"]);
    assert_eq!(oom_score(pid), base + 15);

    ok(&mut c, &["CONFIG", "SET", "oom-score-adj", "absolute"]);
    assert_eq!(oom_score(pid), 15);
    ok(&mut c, &["CONFIG", "SET", "oom-score-adj", "no"]);
    assert_eq!(oom_score(pid), base, "the original score comes back");

    // The base is read again when Shardis takes control again.
    set_oom_score(pid, 22);
    ok(
        &mut c,
        &[
            "CONFIG",
            "SET",
            "oom-score-adj-values",
            "9 9 9",
            "oom-score-adj",
            "relative",
        ],
    );
    assert_eq!(oom_score(pid), 31);
    ok(&mut c, &["CONFIG", "SET", "oom-score-adj", "no"]);
    assert_eq!(oom_score(pid), 22);

    let r = c.cmd(&["CONFIG", "SET", "oom-score-adj-values", "-2001 0 0"]);
    assert_eq!(
        String::from_utf8_lossy(&r),
        "-ERR CONFIG SET failed (possibly related to argument 'oom-score-adj-values') - Invalid oom-score-adj-values, elements must be between -2000 and 2000.\r\n"
    );
}

/// The `oom-score-adj` directive applies at start-up.
#[test]
fn oom_score_adj_at_start() {
    let srv = Server::shardis(
        1,
        &[
            "--oom-score-adj",
            "absolute",
            "--oom-score-adj-values",
            "7 8 9",
        ],
    );
    assert_eq!(oom_score(srv.pid()), 7);
}

/// One CONFIG SET changing the port too still applies the score.
#[test]
fn oom_score_adj_applies_beside_a_port_change() {
    let srv = Server::shardis(1, &[]);
    let mut c = srv.conn();
    let port = common::free_port().to_string();
    ok(
        &mut c,
        &[
            "CONFIG",
            "SET",
            "port",
            &port,
            "oom-score-adj",
            "absolute",
            "oom-score-adj-values",
            "5 6 7",
        ],
    );
    assert_eq!(oom_score(srv.pid()), 5);
}

/// unit/networking.tcl's "CONFIG SET bind-source-addr": the master sees
/// its replica come from that address.
#[test]
fn bind_source_addr_is_the_replica_link_address() {
    let master = Server::shardis(1, &["--bind", "127.0.0.1"]);
    let replica = Server::shardis(1, &[]);
    let mut r = replica.conn();
    ok(&mut r, &["CONFIG", "SET", "bind-source-addr", "127.0.0.2"]);
    let got = r.cmd(&["CONFIG", "GET", "bind-source-addr"]);
    assert!(String::from_utf8_lossy(&got).contains("127.0.0.2"));
    ok(
        &mut r,
        &["REPLICAOF", "127.0.0.1", &master.port.to_string()],
    );
    wait_synced(&master, &replica);
    let mut m = master.conn();
    let slave0 = info_field(&mut m, "replication", "slave0").unwrap();
    assert!(slave0.starts_with("ip=127.0.0.2,"), "{slave0}");
    let list = String::from_utf8_lossy(&bulk_payload(&m.cmd(&["CLIENT", "LIST"]))).into_owned();
    assert!(
        list.lines()
            .any(|l| l.contains("addr=127.0.0.2:") && l.contains("flags=S")),
        "{list}"
    );
}

/// An address that cannot be bound is ignored, as Redis's best-effort
/// bind: the link still comes up.
#[test]
fn bind_source_addr_unbindable_is_best_effort() {
    let master = Server::shardis(1, &[]);
    let replica = Server::shardis(1, &["--bind-source-addr", "192.0.2.1"]);
    let mut r = replica.conn();
    ok(
        &mut r,
        &["REPLICAOF", "127.0.0.1", &master.port.to_string()],
    );
    wait_synced(&master, &replica);
}

/// The replica's dump file after a full sync from `master`, with
/// `repl-diskless-load mode` and `keys` keys of its own before.
fn dump_written_after_sync(master: &Server, mode: &str, keys: usize) -> bool {
    let replica = Server::shardis(1, &["--repl-diskless-load", mode]);
    let mut r = replica.conn();
    for i in 0..keys {
        ok(&mut r, &["SET", &format!("own{i}"), "x"]);
    }
    ok(
        &mut r,
        &["REPLICAOF", "127.0.0.1", &master.port.to_string()],
    );
    wait_synced(master, &replica);
    let got = r.cmd(&["GET", "from-master"]);
    assert_eq!(String::from_utf8_lossy(&got), "$1\r\nv\r\n");
    assert_eq!(String::from_utf8_lossy(&r.cmd(&["DBSIZE"])), ":1\r\n");
    replica.dir.join("dump.rdb").exists()
}

#[test]
fn repl_diskless_load_writes_the_dump_file_only_when_loading_from_disk() {
    let master = Server::shardis(1, &[]);
    ok(&mut master.conn(), &["SET", "from-master", "v"]);
    assert!(dump_written_after_sync(&master, "disabled", 0));
    assert!(!dump_written_after_sync(&master, "swapdb", 2));
    assert!(!dump_written_after_sync(&master, "on-empty-db", 0));
    // Not empty: on-empty-db loads through the file.
    assert!(dump_written_after_sync(&master, "on-empty-db", 2));
}

/// A master that answers the handshake with FULLRESYNC under `replid`,
/// sends the start of an RDB it announces longer, then drops the link
/// when told.
fn stalling_master(replid: String) -> (u16, std::sync::mpsc::Sender<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let (drop_tx, drop_rx) = std::sync::mpsc::channel::<()>();
    std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut seen = Vec::new();
        let mut buf = [0u8; 4096];
        while !String::from_utf8_lossy(&seen).contains("PSYNC") {
            let n = s.read(&mut buf).unwrap();
            assert!(n > 0, "the replica hung up");
            seen.extend_from_slice(&buf[..n]);
            // PING, then the REPLCONFs: each answered +OK / +PONG.
            let text = String::from_utf8_lossy(&buf[..n]).into_owned();
            for _ in 0..text.matches("PING").count() {
                s.write_all(b"+PONG\r\n").unwrap();
            }
            for _ in 0..text.matches("REPLCONF").count() {
                s.write_all(b"+OK\r\n").unwrap();
            }
        }
        let head = format!("+FULLRESYNC {replid} 0\r\n$100000\r\nREDIS0009");
        s.write_all(head.as_bytes()).unwrap();
        let _ = drop_rx.recv();
        drop(s);
        // Later attempts find nobody.
        drop(listener);
    });
    (port, drop_tx)
}

fn persistence(c: &mut Conn, field: &str) -> String {
    info_field(c, "persistence", field).unwrap_or_default()
}

/// swapdb with another master's history: LOADING until the transfer
/// fails, then the old data is served again.
#[test]
fn repl_diskless_load_swapdb_keeps_old_data_when_transfer_fails() {
    let replica = Server::shardis(1, &["--repl-diskless-load", "swapdb"]);
    let mut r = replica.conn();
    ok(&mut r, &["SET", "mykey", "myvalue"]);
    let (port, drop_link) = stalling_master("a".repeat(40));
    ok(&mut r, &["REPLICAOF", "127.0.0.1", &port.to_string()]);
    wait_for("loading:1", LIMIT, || persistence(&mut r, "loading") == "1");
    assert_eq!(persistence(&mut r, "async_loading"), "0");
    assert_eq!(
        String::from_utf8_lossy(&r.cmd(&["GET", "mykey"])),
        "-LOADING Redis is loading the dataset in memory\r\n"
    );
    assert!(!persistence(&mut r, "loading_start_time").is_empty());
    drop_link.send(()).unwrap();
    wait_for("loading:0", LIMIT, || persistence(&mut r, "loading") == "0");
    assert_eq!(
        String::from_utf8_lossy(&r.cmd(&["GET", "mykey"])),
        "$7\r\nmyvalue\r\n"
    );
    assert_eq!(String::from_utf8_lossy(&r.cmd(&["DBSIZE"])), ":1\r\n");
    assert!(!replica.dir.join("dump.rdb").exists());
}

/// swapdb continuing our own history: async loading, the old data is
/// served meanwhile.
#[test]
fn repl_diskless_load_swapdb_async_loading_serves_old_data() {
    let replica = Server::shardis(1, &["--repl-diskless-load", "swapdb"]);
    let mut r = replica.conn();
    ok(&mut r, &["SET", "mykey", "myvalue"]);
    let replid = info_field(&mut r, "replication", "master_replid").unwrap();
    let (port, drop_link) = stalling_master(replid);
    ok(&mut r, &["REPLICAOF", "127.0.0.1", &port.to_string()]);
    wait_for("async_loading:1", LIMIT, || {
        persistence(&mut r, "async_loading") == "1"
    });
    assert_eq!(persistence(&mut r, "loading"), "0");
    assert_eq!(
        String::from_utf8_lossy(&r.cmd(&["GET", "mykey"])),
        "$7\r\nmyvalue\r\n"
    );
    drop_link.send(()).unwrap();
    wait_for("async_loading:0", LIMIT, || {
        persistence(&mut r, "async_loading") == "0"
    });
    assert_eq!(
        String::from_utf8_lossy(&r.cmd(&["GET", "mykey"])),
        "$7\r\nmyvalue\r\n"
    );
}
