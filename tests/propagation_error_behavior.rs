//! `propagation-error-behavior`, as Redis 7.0: an error a read-only
//! replica's command from its master makes, or one a command of the AOF
//! being loaded makes, is logged (`== CRITICAL ==`) and ignored with
//! `ignore`; `panic` crashes the process as Redis's serverPanic ("Guru
//! Meditation" in the log, exit status 1 with `use-exit-on-panic yes`,
//! else SIGABRT without a second report), `panic-on-replicas` only for
//! the master's errors. Checked against redis-server too.

mod common;

use common::repl::{wait_for, wait_synced};
use common::{appendonlydir, encode, redis_available, which, Kind, Server, TempDir, SHARDIS_BIN};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// Waits for `child` to exit (a crash is what is tested: a server that
/// keeps running fails after `limit`).
fn exit_of(child: &mut Child, limit: Duration) -> ExitStatus {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        assert!(Instant::now() < deadline, "the server did not exit");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A replica with `behavior` gets an error from its master's stream
/// (DEBUG REPLICATE INCR on a string); returns how it ended, None when it
/// still runs, and its log.
fn replica_error(kind: Kind, behavior: &str, extra: &[&str]) -> (Option<ExitStatus>, String) {
    let start = |a: &[&str]| match kind {
        Kind::Shardis => Server::shardis(1, a),
        Kind::Redis => Server::redis(a),
    };
    let m = start(&["--enable-debug-command", "yes"]);
    let target = format!("127.0.0.1 {}", m.port);
    let mut args = vec![
        "--replicaof",
        &target,
        "--propagation-error-behavior",
        behavior,
    ];
    args.extend_from_slice(extra);
    let mut r = start(&args);
    let mut mc = m.conn();
    assert_eq!(mc.cmd(&["SET", "foo", "bar"]), b"+OK\r\n");
    wait_synced(&m, &r);
    assert_eq!(mc.cmd(&["DEBUG", "REPLICATE", "INCR", "foo"]), b"+OK\r\n");
    let critical = "after processing the command 'incr'";
    wait_for("the replica's log line", Duration::from_secs(20), || {
        r.log_text().contains(critical)
    });
    let ended = if behavior == "ignore" || extra.contains(&"no") {
        // Still serving after the error: the stream goes on.
        assert_eq!(mc.cmd(&["SET", "foo", "bar2"]), b"+OK\r\n");
        wait_synced(&m, &r);
        assert!(r.alive());
        None
    } else {
        Some(exit_of(&mut r.child, Duration::from_secs(20)))
    };
    (ended, r.log_text())
}

const GURU_MASTER: &str = "Guru Meditation: This replica panicked sending an error to its master after processing the command 'incr'";

fn panics_with_exit(kind: Kind, behavior: &str) {
    let (ended, log) = replica_error(kind, behavior, &["--use-exit-on-panic", "yes"]);
    assert_eq!(ended.and_then(|s| s.code()), Some(1), "{log}");
    assert!(log.contains(GURU_MASTER), "{log}");
    assert!(!log.contains("crashed by signal"), "{log}");
}

#[test]
fn panic_crashes_a_read_only_replica() {
    panics_with_exit(Kind::Shardis, "panic");
}

#[test]
fn panic_on_replicas_crashes_a_read_only_replica() {
    panics_with_exit(Kind::Shardis, "panic-on-replicas");
}

#[test]
fn panic_crashes_a_read_only_replica_redis() {
    if redis_available() {
        panics_with_exit(Kind::Redis, "panic");
    }
}

#[test]
fn panic_without_exit_on_panic_aborts_once() {
    let (ended, log) = replica_error(Kind::Shardis, "panic", &[]);
    assert_eq!(ended.and_then(|s| s.signal()), Some(libc::SIGABRT), "{log}");
    assert!(log.contains(GURU_MASTER), "{log}");
    assert!(!log.contains("crashed by signal"), "{log}");
}

#[test]
fn a_writable_replica_or_ignore_does_not_crash() {
    let (ended, log) = replica_error(Kind::Shardis, "panic", &["--replica-read-only", "no"]);
    assert!(ended.is_none() && !log.contains("Guru Meditation"), "{log}");
    let (ended, log) = replica_error(Kind::Shardis, "ignore", &[]);
    assert!(ended.is_none() && !log.contains("Guru Meditation"), "{log}");
}

/// An AOF whose last command fails on load (INCR of a string), in a
/// directory of its own: written by `kind` itself, then extended.
fn failing_aof(kind: Kind) -> TempDir {
    let dir = TempDir::new("aof-error");
    // `always`: the records are in the file before the replies.
    let args = ["--appendonly", "yes", "--appendfsync", "always"];
    let s = match kind {
        Kind::Shardis => Server::shardis(1, &args),
        Kind::Redis => Server::redis(&args),
    };
    assert_eq!(s.conn().cmd(&["SET", "foo", "bar"]), b"+OK\r\n");
    assert_eq!(s.conn().cmd(&["SET", "n", "1"]), b"+OK\r\n");
    let src = appendonlydir(&s.dir);
    let dst = appendonlydir(&dir.0);
    std::fs::create_dir_all(&dst).unwrap();
    for e in std::fs::read_dir(&src).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), dst.join(e.file_name())).unwrap();
    }
    drop(s);
    let incr = std::fs::read_dir(&dst)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.to_string_lossy().ends_with(".incr.aof"))
        .expect("an incr file");
    let mut text = std::fs::read(&incr).unwrap();
    text.extend(encode(&["INCR", "foo"]));
    text.extend(encode(&["INCR", "n"]));
    std::fs::write(&incr, text).unwrap();
    dir
}

/// Starts `kind` on the AOF in `dir` with `behavior`, logging to `log`.
fn start_on(kind: Kind, dir: &Path, behavior: &str, log: &Path) -> (Child, u16) {
    let prog: PathBuf = match kind {
        Kind::Shardis => PathBuf::from(SHARDIS_BIN),
        Kind::Redis => which("redis-server").unwrap(),
    };
    let port = common::free_port();
    let out = std::fs::File::create(log).unwrap();
    let mut cmd = Command::new(prog);
    common::die_with_parent(&mut cmd);
    cmd.args([
        "--port",
        &port.to_string(),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
    ])
    .args(["--appendonly", "yes", "--use-exit-on-panic", "yes"])
    .args(["--propagation-error-behavior", behavior])
    .arg("--dir")
    .arg(dir)
    .stdout(out.try_clone().unwrap())
    .stderr(out)
    .stdin(Stdio::null());
    (cmd.spawn().unwrap(), port)
}

const AOF_CRITICAL: &str =
    "== CRITICAL == This server is sending an error to its AOF-loading-client: ";
const GURU_AOF: &str = "Guru Meditation: This server panicked sending an error to its AOF-loading-client after processing the command 'incr'";

fn aof_panics(kind: Kind) {
    let dir = failing_aof(kind);
    let log = dir.0.join("panic.log");
    let (mut child, _) = start_on(kind, &dir.0, "panic", &log);
    let status = exit_of(&mut child, Duration::from_secs(20));
    let text = std::fs::read_to_string(&log).unwrap();
    assert_eq!(status.code(), Some(1), "{text}");
    assert!(text.contains(AOF_CRITICAL), "{text}");
    assert!(text.contains(GURU_AOF), "{text}");
}

fn aof_error_ignored(kind: Kind, behavior: &str) {
    let dir = failing_aof(kind);
    let log = dir.0.join("ignore.log");
    let (mut child, port) = start_on(kind, &dir.0, behavior, &log);
    let c = common::Conn::connect_within(port, Duration::from_secs(20));
    let mut c = c.expect("the server serves after loading");
    wait_for("the load", Duration::from_secs(20), || {
        c.cmd(&["GET", "n"]) == b"$1\r\n2\r\n"
    });
    assert_eq!(c.cmd(&["GET", "foo"]), b"$3\r\nbar\r\n");
    let _ = child.kill();
    let _ = child.wait();
    let text = std::fs::read_to_string(&log).unwrap();
    assert_eq!(text.matches(AOF_CRITICAL).count(), 1, "{text}");
    assert!(!text.contains("Guru Meditation"), "{text}");
}

#[test]
fn panic_crashes_the_aof_load() {
    aof_panics(Kind::Shardis);
}

#[test]
fn panic_crashes_the_aof_load_redis() {
    if redis_available() {
        aof_panics(Kind::Redis);
    }
}

#[test]
fn ignore_and_panic_on_replicas_load_the_aof() {
    aof_error_ignored(Kind::Shardis, "ignore");
    aof_error_ignored(Kind::Shardis, "panic-on-replicas");
}

#[test]
fn ignore_and_panic_on_replicas_load_the_aof_redis() {
    if redis_available() {
        aof_error_ignored(Kind::Redis, "ignore");
        aof_error_ignored(Kind::Redis, "panic-on-replicas");
    }
}
