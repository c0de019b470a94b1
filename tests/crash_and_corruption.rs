//! What Redis's suite sets for its crash and corruption tests:
//! `use-exit-on-panic yes` turns a panic into exit status 1 (instead of
//! SIGABRT); a RESTORE of a corrupt payload is refused with a verbose log
//! line naming the check that failed; `sanitize-dump-payload` and
//! `crash-memcheck-enabled` take every value Redis 7.0 does.

mod common;

use common::Server;
use std::os::unix::process::ExitStatusExt;
use std::time::{Duration, Instant};

fn exit_after_panic(exit_on_panic: &str) -> std::process::ExitStatus {
    let mut srv = Server::shardis(
        1,
        &[
            "--enable-debug-command",
            "yes",
            "--use-exit-on-panic",
            exit_on_panic,
        ],
    );
    let mut c = srv.conn();
    c.send(&["DEBUG", "PANIC"]);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(status) = srv.child.try_wait().unwrap() {
            return status;
        }
        assert!(Instant::now() < deadline, "still running after DEBUG PANIC");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn use_exit_on_panic_exits_with_status_one() {
    let status = exit_after_panic("yes");
    assert_eq!(status.code(), Some(1), "{status:?}");
    let status = exit_after_panic("no");
    assert_eq!(status.signal(), Some(libc::SIGABRT), "{status:?}");
}

#[test]
fn corrupt_restore_payload_is_refused_and_logged() {
    for sanitize in ["yes", "no", "clients"] {
        let srv = Server::shardis(
            1,
            &[
                "--loglevel",
                "verbose",
                "--crash-memcheck-enabled",
                "no",
                "--sanitize-dump-payload",
                sanitize,
            ],
        );
        let mut c = srv.conn();
        // Redis's suite, "#7445": a ziplist hash whose entry lengths lie,
        // with a valid CRC.
        let payload = b"\x0E\x01\x1D\x1D\x00\x00\x00\x16\x00\x00\x00\x03\x00\x00\x04\x43\x43\x43\x43\x06\x04\x42\x42\x42\x42\x06\x3F\x41\x41\x41\x41\xFF\x09\x00\x88\xA5\xCA\xA8\xC5\x41\xF4\x35";
        let args: [&[u8]; 4] = [b"RESTORE", b"key", b"0", payload];
        assert_eq!(c.cmd(&args), b"-ERR Bad data format\r\n", "{sanitize}");
        assert_eq!(c.cmd(&["EXISTS", "key"]), b":0\r\n");
        let logged = (0..50).any(|_| {
            std::thread::sleep(Duration::from_millis(20));
            srv.log_text().contains("integrity check failed")
        });
        assert!(logged, "{sanitize}: {}", srv.log_text());
        assert_eq!(
            c.cmd(&["CONFIG", "SET", "sanitize-dump-payload", "clients"]),
            b"+OK\r\n"
        );
    }
}

/// DEBUG SET-SKIP-CHECKSUM-VALIDATION 1 lets RESTORE take a payload
/// whose CRC is wrong (its content is still checked); 0 refuses it again.
#[test]
fn skip_checksum_validation() {
    let srv = Server::shardis(1, &["--enable-debug-command", "yes"]);
    let mut c = srv.conn();
    c.cmd(&["SET", "k", "hello"]);
    let mut payload = common::bulk_payload(&c.cmd(&["DUMP", "k"]));
    let n = payload.len();
    payload[n - 1] ^= 0xff;
    let restore = |c: &mut common::Conn, key: &str, p: &[u8]| {
        let args: [&[u8]; 4] = [b"RESTORE", key.as_bytes(), b"0", p];
        c.cmd(&args)
    };
    let refused = b"-ERR DUMP payload version or checksum are wrong\r\n";
    assert_eq!(restore(&mut c, "a", &payload), refused);
    assert_eq!(
        c.cmd(&["DEBUG", "SET-SKIP-CHECKSUM-VALIDATION", "1"]),
        b"+OK\r\n"
    );
    assert_eq!(restore(&mut c, "a", &payload), b"+OK\r\n");
    assert_eq!(c.cmd(&["GET", "a"]), b"$5\r\nhello\r\n");
    assert_eq!(
        c.cmd(&["DEBUG", "SET-SKIP-CHECKSUM-VALIDATION", "0"]),
        b"+OK\r\n"
    );
    assert_eq!(restore(&mut c, "b", &payload), refused);
}

/// DEBUG AOF-FLUSH-SLEEP holds each write of the AOF back: with
/// `appendfsync always` a write's reply waits at least that long.
#[test]
fn aof_flush_sleep_delays_the_write() {
    let srv = Server::shardis(
        1,
        &[
            "--enable-debug-command",
            "yes",
            "--appendonly",
            "yes",
            "--appendfsync",
            "always",
        ],
    );
    let mut c = srv.conn();
    assert_eq!(c.cmd(&["DEBUG", "AOF-FLUSH-SLEEP", "300000"]), b"+OK\r\n");
    let started = Instant::now();
    assert_eq!(c.cmd(&["SET", "k", "v"]), b"+OK\r\n");
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert_eq!(c.cmd(&["DEBUG", "AOF-FLUSH-SLEEP", "0"]), b"+OK\r\n");
}

/// Payloads that pass a shallow look but that Redis 7.0 (Debian's build,
/// with CVE-2026-25243's zipmap check) refuses, each logged in Redis's
/// words: a quicklist node whose listpack ends before its last byte, a
/// zipmap field length below 254 written in five bytes, a ziplist hash
/// with a duplicate field. Compared with redis-server when it is here.
#[test]
fn payloads_redis_refuses_are_refused_with_its_log_words() {
    let cases: [(&[u8], &str); 3] = [
        (
            b"\x12\x01\x02\x0b\x0b\x00\x00\x00\x01\x00\x81\x61\x02\xff\xff\x0a\x00\x7e\xd8\xde\x5b\x0d\xd7\x70\xb8",
            "Listpack integrity check failed.",
        ),
        (
            b"\x09\x11\x01\xfe\x04\x00\x00\x00\x01\x00\xff\x00\x04\x00\x76\x61\x6c\x31\xff\x09\x00\xf9\xd5\xa4\xf7\x7d\x00\x3f\x1b",
            "Zipmap integrity check failed.",
        ),
        (
            b"\x0D\x1B\x1B\x00\x00\x00\x16\x00\x00\x00\x04\x00\x00\x02\x61\x00\x04\x02\x62\x00\x04\x02\x61\x00\x04\x02\x64\x00\xFF\x09\x00\xA1\x98\x36\x78\xCC\x8E\x93\x2E",
            "Hash ziplist integrity check failed.",
        ),
    ];
    // Redis checks in depth only when asked; Shardis always does.
    let args = ["--loglevel", "verbose", "--sanitize-dump-payload", "yes"];
    let mut servers = vec![Server::shardis(1, &args)];
    if common::redis_available() {
        servers.push(Server::redis(&args));
    }
    for srv in &servers {
        let mut c = srv.conn();
        for (payload, words) in cases {
            let args: [&[u8]; 5] = [b"RESTORE", b"key", b"0", payload, b"REPLACE"];
            assert_eq!(
                c.cmd(&args),
                b"-ERR Bad data format\r\n",
                "{}: {words}",
                srv.name
            );
            assert_eq!(c.cmd(&["EXISTS", "key"]), b":0\r\n");
            if srv.name == "shardis" {
                let logged = (0..50).any(|_| {
                    std::thread::sleep(Duration::from_millis(20));
                    srv.log_text().contains(words)
                });
                assert!(logged, "{words}: {}", srv.log_text());
            }
        }
    }
}
