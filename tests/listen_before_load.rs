//! The port listens before the data loads, as redis-server's does: a
//! client that connects as soon as the start-up banner (its `PID:` line)
//! is out waits until the server serves instead of being refused. Redis's
//! test harness connects at that moment.

mod common;

use common::{die_with_parent, free_port, Conn, Server, TempDir, SHARDIS_BIN};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[test]
fn a_client_connecting_during_the_load_is_served_after_it() {
    // An RDB of 200 keys; `key-load-delay` makes loading it take ~1 s.
    let data = TempDir::new("listen-before-load");
    {
        let srv = Server::shardis(1, &["--enable-debug-command", "yes"]);
        let mut c = srv.conn();
        assert_eq!(c.cmd(&["DEBUG", "POPULATE", "200"]), b"+OK\r\n");
        assert_eq!(c.cmd(&["SAVE"]), b"+OK\r\n");
        std::fs::copy(srv.dir.join("dump.rdb"), data.0.join("dump.rdb")).unwrap();
    }
    let port = free_port();
    let log = data.0.join("server.log");
    let out = std::fs::File::create(&log).unwrap();
    let mut child = die_with_parent(&mut Command::new(SHARDIS_BIN))
        .args([
            "--port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
        ])
        .args(["--always-show-logo", "yes", "--key-load-delay", "5000"])
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
    let still_loading = !std::fs::read_to_string(&log)
        .unwrap_or_default()
        .contains("Ready to accept connections");
    let stream = connected.unwrap_or_else(|e| {
        let _ = child.kill();
        panic!("refused after the banner (loading: {still_loading}): {e}")
    });
    drop(stream);
    let mut c = Conn::connect(port);
    c.set_timeout(Duration::from_secs(20));
    assert_eq!(c.cmd(&["DBSIZE"]), b":200\r\n");
    let _ = child.kill();
    let _ = child.wait();
}
