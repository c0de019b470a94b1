//! The port listens before the data loads and the node serves during
//! the load, as redis-server's does: a client that connects as soon as
//! the start-up banner (its `PID:` line) is out is not refused (Redis's
//! test harness connects at that moment); until the data is loaded,
//! commands without the `loading` flag get -LOADING, INFO says
//! `loading:1`, and CONFIG SET works (`key-load-delay` included, which
//! the suite changes mid-load).

mod common;

use common::{die_with_parent, free_port, Conn, Server, TempDir, SHARDIS_BIN};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const LOADING: &[u8] = b"-LOADING Redis is loading the dataset in memory\r\n";

/// A directory holding a `dump.rdb` of `keys` keys (DEBUG POPULATE's).
fn with_rdb(tag: &str, keys: usize) -> TempDir {
    let data = TempDir::new(tag);
    let srv = Server::shardis(1, &["--enable-debug-command", "yes"]);
    let mut c = srv.conn();
    let n = keys.to_string();
    assert_eq!(c.cmd(&["DEBUG", "POPULATE", &n]), b"+OK\r\n");
    assert_eq!(c.cmd(&["SAVE"]), b"+OK\r\n");
    std::fs::copy(srv.dir.join("dump.rdb"), data.0.join("dump.rdb")).unwrap();
    data
}

/// Starts shardis on `data`'s directory with `args`, its output dropped.
fn start_quiet(data: &TempDir, args: &[&str]) -> (u16, std::process::Child) {
    let port = free_port();
    let child = die_with_parent(&mut Command::new(SHARDIS_BIN))
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
        .args(args)
        .arg("--dir")
        .arg(&data.0)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .stdin(Stdio::null())
        .spawn()
        .unwrap();
    (port, child)
}

#[test]
fn a_client_connecting_during_the_load_is_served_during_it() {
    // An RDB of 200 keys; `key-load-delay` (100 ms a key) keeps it
    // loading until the test sets it to 0.
    let data = with_rdb("listen-before-load", 200);
    let port = free_port();
    let log = data.0.join("server.log");
    let out = std::fs::File::create(&log).unwrap();
    let mut child = die_with_parent(&mut Command::new(SHARDIS_BIN))
        .args([
            "--port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--shards",
            "2",
        ])
        .args(["--always-show-logo", "yes", "--key-load-delay", "100000"])
        .args(["--enable-protected-configs", "yes"])
        .arg("--dir")
        .arg(&data.0)
        .stdout(out.try_clone().unwrap())
        .stderr(out)
        .stdin(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    let pid_line = format!(" PID: {}", child.id());
    while !std::fs::read_to_string(&log)
        .unwrap_or_default()
        .contains(&pid_line)
    {
        assert!(Instant::now() < deadline, "no banner");
        assert!(child.try_wait().unwrap().is_none(), "server exited");
        std::thread::sleep(Duration::from_millis(5));
    }
    let connected = TcpStream::connect(("127.0.0.1", port));
    let stream = connected.unwrap_or_else(|e| {
        let _ = child.kill();
        panic!("refused after the banner: {e}")
    });
    drop(stream);

    let mut c = Conn::connect(port);
    // Served during the load: reads, writes and PING wait for the data.
    assert_eq!(c.cmd(&["GET", "key:1"]), LOADING);
    assert_eq!(c.cmd(&["SET", "k", "v"]), LOADING);
    assert_eq!(c.cmd(&["PING"]), LOADING);
    assert_eq!(c.cmd(&["DBSIZE"]), LOADING);
    let info = String::from_utf8(c.cmd(&["INFO", "persistence"])).unwrap();
    assert!(info.contains("\r\nloading:1\r\n"), "{info}");
    assert!(info.contains("\r\nloading_total_bytes:"), "{info}");
    assert!(!info.contains("\r\nloading_total_bytes:0\r\n"), "{info}");
    // Configs Redis denies while loading, and one it allows.
    let dir = data.0.to_str().unwrap();
    assert_eq!(c.cmd(&["CONFIG", "SET", "dir", dir]), LOADING);
    assert_eq!(c.cmd(&["CONFIG", "SET", "appendonly", "yes"]), LOADING);
    assert_eq!(c.cmd(&["REPLICAOF", "NO", "ONE"]), LOADING);
    assert_eq!(c.cmd(&["CONFIG", "SET", "key-load-delay", "0"]), b"+OK\r\n");

    // Once loaded, the data.
    c.set_timeout(Duration::from_secs(20));
    let deadline = Instant::now() + Duration::from_secs(30);
    while String::from_utf8(c.cmd(&["INFO", "persistence"]))
        .unwrap()
        .contains("\r\nloading:1\r\n")
    {
        assert!(Instant::now() < deadline, "still loading");
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(c.cmd(&["DBSIZE"]), b":200\r\n");
    assert_eq!(c.cmd(&["GET", "key:1"]), b"$7\r\nvalue:1\r\n");
    assert_eq!(c.cmd(&["PING"]), b"+PONG\r\n");
    let _ = child.kill();
    let _ = child.wait();
}

#[test]
fn shutdown_during_the_load_does_not_save() {
    // With `save` rules set, a SHUTDOWN would save; during the load there
    // is nothing whole to save, so the file on disk stays as it was.
    let data = with_rdb("shutdown-during-load", 100);
    let before = std::fs::read(data.0.join("dump.rdb")).unwrap();
    let (port, mut child) =
        start_quiet(&data, &["--save", "3600 1", "--key-load-delay", "1000000"]);
    let mut c = Conn::connect_within(port, Duration::from_secs(20))
        .unwrap_or_else(|| panic!("not listening"));
    let info = String::from_utf8(c.cmd(&["INFO", "persistence"])).unwrap();
    assert!(info.contains("\r\nloading:1\r\n"), "{info}");
    c.send(&["SHUTDOWN"]);
    let status = child.wait().unwrap();
    assert!(status.success(), "{status}");
    let after = std::fs::read(data.0.join("dump.rdb")).unwrap();
    assert!(
        after == before,
        "the RDB was overwritten: {} bytes, was {}",
        after.len(),
        before.len()
    );
}

/// Redis serves clients during a load only every
/// `loading-process-events-interval-bytes` (2 MiB) it reads, so a small
/// load is never seen: a request that arrives meanwhile waits for the
/// data rather than getting -LOADING (a replica's resync, a restart; the
/// suite's cluster tests ask a replica that just synced).
#[test]
fn a_small_load_holds_requests_instead_of_loading_errors() {
    // 10 keys at 2 ms each: a load of about 20 ms, a few hundred bytes.
    let data = with_rdb("small-load", 10);
    let (port, mut child) = start_quiet(&data, &["--shards", "2", "--key-load-delay", "2000"]);
    let mut c = Conn::connect_within(port, Duration::from_secs(20))
        .unwrap_or_else(|| panic!("not listening"));
    assert_eq!(c.cmd(&["GET", "key:1"]), b"$7\r\nvalue:1\r\n");
    assert_eq!(c.cmd(&["DBSIZE"]), b":10\r\n");
    let _ = child.kill();
    let _ = child.wait();
}
