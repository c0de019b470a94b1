//! Graceful shutdown (Redis 7.0's `shutdown-timeout`): a master waits
//! for lagging replicas before exiting on SHUTDOWN or SIGTERM, pausing
//! client writes meanwhile; SHUTDOWN ABORT cancels the wait, SHUTDOWN
//! NOW skips it. The replica is a Shardis stopped with SIGSTOP.

mod common;

use common::repl::{info_field, wait_for, wait_synced};
use common::{Conn, Server};
use std::time::{Duration, Instant};

/// A master (with `extra` directives) and a replica following it, in
/// sync, with k = 1 on both.
fn pair(extra: &[&str]) -> (Server, Server) {
    let master = Server::shardis(1, extra);
    let replica = Server::shardis(1, &[]);
    let port = master.port.to_string();
    assert_eq!(
        replica.conn().cmd(&["REPLICAOF", "127.0.0.1", &port]),
        b"+OK\r\n"
    );
    assert_eq!(master.conn().cmd(&["SET", "k", "1"]), b"+OK\r\n");
    wait_synced(&master, &replica);
    (master, replica)
}

fn signal(srv: &Server, sig: i32) {
    // SAFETY: signalling a child process we started.
    unsafe { libc::kill(srv.pid() as i32, sig) };
}

/// Stops the replica and writes on the master, so the replica lags.
fn lag(master: &Server, replica: &Server) {
    signal(replica, libc::SIGSTOP);
    std::thread::sleep(Duration::from_millis(20));
    assert_eq!(master.conn().cmd(&["INCR", "k"]), b":2\r\n");
}

/// INFO `shutdown_in_milliseconds`, None when no shutdown waits.
fn shutdown_in_ms(master: &Server) -> Option<i64> {
    info_field(&mut master.conn(), "server", "shutdown_in_milliseconds").map(|v| v.parse().unwrap())
}

fn wait_exit(srv: &mut Server, limit: Duration) -> Duration {
    let started = Instant::now();
    wait_for("the master to exit", limit, || !srv.alive());
    started.elapsed()
}

/// (a) SHUTDOWN and SIGTERM wait for the stopped replica; once it
/// resumes it gets the last write and the master exits.
#[test]
fn shutdown_waits_for_lagging_replica() {
    for how in ["shutdown", "sigterm"] {
        let (mut master, replica) = pair(&["--shutdown-timeout", "60"]);
        lag(&master, &replica);
        let mut waiting = master.conn();
        match how {
            "shutdown" => waiting.send(&["SHUTDOWN"]),
            _ => signal(&master, libc::SIGTERM),
        }
        wait_for("the shutdown to wait", Duration::from_secs(5), || {
            shutdown_in_ms(&master).is_some_and(|ms| ms > 0)
        });
        std::thread::sleep(Duration::from_millis(300));
        assert!(
            master.alive(),
            "{how}: the master exited before the replica caught up"
        );
        if how == "shutdown" {
            let blocked = info_field(&mut master.conn(), "clients", "blocked_clients");
            assert_eq!(blocked.as_deref(), Some("1"), "{how}");
        }
        signal(&replica, libc::SIGCONT);
        wait_exit(&mut master, Duration::from_secs(20));
        assert_eq!(replica.conn().cmd(&["GET", "k"]), b"$1\r\n2\r\n", "{how}");
        let log = master.log_text();
        assert!(
            log.contains("Waiting for replicas before shutting down."),
            "{how}: {log}"
        );
        assert!(
            log.contains("1 of 1 replicas are in sync when shutting down."),
            "{how}: {log}"
        );
        assert!(!log.contains("Lagging replica"), "{how}: {log}");
        assert!(log.contains("ready to exit, bye bye"), "{how}: {log}");
    }
}

/// (a) A replica that does not come back: the master exits once
/// `shutdown-timeout` has passed, and logs the replica left behind.
#[test]
fn shutdown_gives_up_after_timeout() {
    let (mut master, replica) = pair(&["--shutdown-timeout", "1"]);
    lag(&master, &replica);
    let started = Instant::now();
    master.conn().send(&["SHUTDOWN"]);
    wait_exit(&mut master, Duration::from_secs(10));
    let took = started.elapsed();
    assert!(took >= Duration::from_millis(900), "exited after {took:?}");
    let log = master.log_text();
    assert!(log.contains("Lagging replica 127.0.0.1:"), "{log}");
    assert!(log.contains("state=online."), "{log}");
    assert!(
        log.contains("0 of 1 replicas are in sync when shutting down."),
        "{log}"
    );
    signal(&replica, libc::SIGCONT);
}

/// (b) SHUTDOWN ABORT cancels a waiting shutdown: every blocked SHUTDOWN
/// gets an error, the held write goes on, the master keeps running.
#[test]
fn shutdown_abort_cancels_the_wait() {
    let (mut master, replica) = pair(&["--shutdown-timeout", "60"]);
    lag(&master, &replica);
    let mut first = master.conn();
    let mut second = master.conn();
    first.send(&["SHUTDOWN"]);
    second.send(&["SHUTDOWN"]);
    wait_for("both SHUTDOWNs to block", Duration::from_secs(5), || {
        info_field(&mut master.conn(), "clients", "blocked_clients").as_deref() == Some("2")
    });
    // Writes wait while the shutdown does; reads go on.
    let mut writer = master.conn();
    writer.send(&["SET", "w", "1"]);
    writer.set_timeout(Duration::from_millis(300));
    assert!(
        writer.try_read_reply().is_err(),
        "a write ran during the wait"
    );
    assert_eq!(master.conn().cmd(&["GET", "k"]), b"$1\r\n2\r\n");

    assert_eq!(master.conn().cmd(&["SHUTDOWN", "ABORT"]), b"+OK\r\n");
    let failed = b"-ERR Errors trying to SHUTDOWN. Check logs.\r\n";
    assert_eq!(first.read_reply(), failed);
    assert_eq!(second.read_reply(), failed);
    writer.set_timeout(Duration::from_secs(5));
    assert_eq!(writer.read_reply(), b"+OK\r\n");
    assert_eq!(shutdown_in_ms(&master), None);
    assert_eq!(
        master.conn().cmd(&["SHUTDOWN", "ABORT"]),
        b"-ERR No shutdown in progress.\r\n"
    );
    signal(&replica, libc::SIGCONT);
    std::thread::sleep(Duration::from_millis(200));
    assert!(master.alive());
    assert!(master.log_text().contains("Shutdown manually aborted."));
}

/// (c) SHUTDOWN NOW does not wait for the lagging replica.
#[test]
fn shutdown_now_does_not_wait() {
    let (mut master, replica) = pair(&["--shutdown-timeout", "60"]);
    lag(&master, &replica);
    master.conn().send(&["SHUTDOWN", "NOW"]);
    let took = wait_exit(&mut master, Duration::from_secs(5));
    assert!(took < Duration::from_secs(3), "took {took:?}");
    assert!(!master.log_text().contains("Waiting for replicas"));
    signal(&replica, libc::SIGCONT);
}

/// `shutdown-timeout 0` does not wait either, and CONFIG SET takes it.
#[test]
fn shutdown_timeout_zero_does_not_wait() {
    let (mut master, replica) = pair(&[]);
    let mut c = master.conn();
    assert_eq!(
        c.cmd(&["CONFIG", "SET", "shutdown-timeout", "0"]),
        b"+OK\r\n"
    );
    assert_eq!(
        c.cmd(&["CONFIG", "GET", "shutdown-timeout"]),
        b"*2\r\n$16\r\nshutdown-timeout\r\n$1\r\n0\r\n"
    );
    lag(&master, &replica);
    c.send(&["SHUTDOWN"]);
    let took = wait_exit(&mut master, Duration::from_secs(5));
    assert!(took < Duration::from_secs(3), "took {took:?}");
    signal(&replica, libc::SIGCONT);
}

/// Redis acts on SIGTERM in its cron: with DEBUG PAUSE-CRON 1 the
/// signal waits, and SHUTDOWN ABORT cancels it.
#[test]
fn shutdown_abort_cancels_a_held_signal() {
    let mut srv = Server::shardis(1, &["--enable-debug-command", "yes"]);
    let mut c: Conn = srv.conn();
    assert_eq!(c.cmd(&["DEBUG", "PAUSE-CRON", "1"]), b"+OK\r\n");
    signal(&srv, libc::SIGTERM);
    wait_for("the signal to arrive", Duration::from_secs(5), || {
        srv.log_text()
            .contains("Received SIGTERM scheduling shutdown")
    });
    assert_eq!(c.cmd(&["SHUTDOWN", "ABORT"]), b"+OK\r\n");
    assert_eq!(c.cmd(&["DEBUG", "PAUSE-CRON", "0"]), b"+OK\r\n");
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(c.cmd(&["PING"]), b"+PONG\r\n");
    assert!(srv.alive());
    assert!(srv.log_text().contains("Shutdown manually aborted."));
}

/// A second SIGINT during the exit save exits at once (status 1) and
/// leaves no temp RDB file, which the save opened first, as Redis's.
#[test]
fn second_sigint_exits_at_once() {
    let mut srv = Server::shardis(1, &["--save", "900 1", "--rdb-key-save-delay", "100000"]);
    let mut c = srv.conn();
    for i in 0..20 {
        assert_eq!(c.cmd(&["SET", &i.to_string(), "v"]), b"+OK\r\n");
    }
    let temp = srv.dir.join(format!("temp-{}.rdb", srv.pid()));
    signal(&srv, libc::SIGINT);
    wait_for(
        "the exit save to open its temp file",
        Duration::from_secs(5),
        || temp.exists(),
    );
    signal(&srv, libc::SIGINT);
    wait_exit(&mut srv, Duration::from_secs(5));
    assert!(!temp.exists());
    let status = srv.child.wait().unwrap();
    assert_eq!(status.code(), Some(1));
    assert!(srv.log_text().contains("You insist... exiting now."));
}

/// While the first rewrite after `CONFIG SET appendonly yes` runs, the
/// AOF lacks the earlier data: SHUTDOWN refuses to exit, FORCE exits.
#[test]
fn shutdown_refused_while_the_initial_aof_is_written() {
    let mut srv = Server::shardis(1, &[]);
    let mut c = srv.conn();
    for i in 0..5 {
        assert_eq!(c.cmd(&["SET", &i.to_string(), "v"]), b"+OK\r\n");
    }
    // 5 keys at 10 s each: the rewrite outlasts the test.
    assert_eq!(
        c.cmd(&["CONFIG", "SET", "rdb-key-save-delay", "10000000"]),
        b"+OK\r\n"
    );
    assert_eq!(c.cmd(&["CONFIG", "SET", "appendonly", "yes"]), b"+OK\r\n");
    assert_eq!(
        c.cmd(&["SHUTDOWN"]),
        b"-ERR Errors trying to SHUTDOWN. Check logs.\r\n"
    );
    assert!(srv.alive());
    let log = srv.log_text();
    assert!(log.contains("Writing initial AOF, can't exit."), "{log}");
    assert!(
        log.contains("Errors trying to shut down the server."),
        "{log}"
    );
    c.send(&["SHUTDOWN", "NOSAVE", "FORCE"]);
    wait_exit(&mut srv, Duration::from_secs(5));
    assert!(srv.log_text().contains("Writing initial AOF. Exit anyway."));
}

/// `shutdown-on-sigterm` / `shutdown-on-sigint` take SHUTDOWN's options,
/// several at once, printed in Redis's order; a signal then acts on
/// them: `now` does not wait for a lagging replica, `save` saves without
/// save points.
#[test]
fn shutdown_on_signal_options() {
    let (mut master, replica) = pair(&["--shutdown-timeout", "60"]);
    let mut c = master.conn();
    assert_eq!(
        c.cmd(&["CONFIG", "SET", "shutdown-on-sigterm", "now save"]),
        b"+OK\r\n"
    );
    assert_eq!(
        c.cmd(&["CONFIG", "GET", "shutdown-on-sigterm"]),
        b"*2\r\n$19\r\nshutdown-on-sigterm\r\n$8\r\nsave now\r\n"
    );
    let refused = c.cmd(&["CONFIG", "SET", "shutdown-on-sigint", "save nosave"]);
    assert!(
        String::from_utf8_lossy(&refused)
            .contains("shutdown options SAVE and NOSAVE can't be used simultaneously"),
        "{}",
        common::escape(&refused)
    );
    let refused = c.cmd(&["CONFIG", "SET", "shutdown-on-sigint", "later"]);
    assert!(
        String::from_utf8_lossy(&refused).contains(
            "argument(s) must be one of the following: default, save, nosave, now, force"
        ),
        "{}",
        common::escape(&refused)
    );
    assert_eq!(
        c.cmd(&["CONFIG", "GET", "shutdown-on-sigint"]),
        b"*2\r\n$18\r\nshutdown-on-sigint\r\n$7\r\ndefault\r\n"
    );
    let dump = master.dir.join("dump.rdb");
    assert!(!dump.exists());
    lag(&master, &replica);
    signal(&master, libc::SIGTERM);
    let took = wait_exit(&mut master, Duration::from_secs(10));
    assert!(took < Duration::from_secs(5), "took {took:?}");
    assert!(!master.log_text().contains("Waiting for replicas"));
    assert!(
        dump.exists(),
        "SIGTERM with `save` saves: {}",
        master.log_text()
    );
    signal(&replica, libc::SIGCONT);
}

/// Once the process is gone its port is free, so a server restarted on
/// it at once (Redis's `restart_server`, a supervisor) can bind it: the
/// listeners an io_uring still references are shut before the exit.
#[test]
fn port_is_free_when_the_process_is_gone() {
    for shards in [1, 4] {
        for _ in 0..3 {
            let mut srv = Server::shardis(shards, &[]);
            let port = srv.port;
            srv.conn().send(&["SHUTDOWN", "NOSAVE"]);
            let status = srv.child.wait().unwrap();
            assert!(status.success(), "{status:?}");
            assert!(
                !common::listening(port),
                "shards {shards}: port {port} still listened on"
            );
        }
    }
}
