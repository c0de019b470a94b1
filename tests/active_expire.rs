//! Active expiry runs in slices across cron periods (server/shard.rs
//! `expire_cron`): a run resumes at the database and cursor it stopped
//! at, so keys whose TTL passed all go without being touched, in every
//! database, at 1 and 4 shards, and each one counts once in INFO.

mod common;

use common::{bulk_payload, encode, Conn, Server};
use std::time::{Duration, Instant};

fn expired_keys(c: &mut Conn) -> u64 {
    let text = String::from_utf8(bulk_payload(&c.cmd(&["INFO", "stats"]))).unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix("expired_keys:"))
        .and_then(|v| v.trim().parse().ok())
        .expect("expired_keys in INFO")
}

/// `n` keys with a 1 ms TTL in the selected database, pipelined.
fn set_expiring(c: &mut Conn, prefix: &str, n: usize) {
    for start in (0..n).step_by(1000) {
        let mut bytes = Vec::new();
        let end = (start + 1000).min(n);
        for i in start..end {
            bytes.extend_from_slice(&encode(&["SET", &format!("{prefix}:{i}"), "v", "PX", "1"]));
        }
        c.send_raw(&bytes);
        for r in c.read_replies(end - start) {
            assert_eq!(r, b"+OK\r\n");
        }
    }
}

#[test]
fn active_expiry_takes_every_expired_key_in_every_database() {
    let n = 60_000;
    for shards in [1, 4] {
        let srv = Server::shardis(shards, &["--enable-debug-command", "yes"]);
        let mut c = srv.conn();
        assert_eq!(c.cmd(&["DEBUG", "SET-ACTIVE-EXPIRE", "0"]), b"+OK\r\n");
        set_expiring(&mut c, "a", n);
        c.cmd(&["SET", "kept", "v"]);
        assert_eq!(c.cmd(&["SELECT", "3"]), b"+OK\r\n");
        set_expiring(&mut c, "b", n);
        std::thread::sleep(Duration::from_millis(20));
        // Their TTL passed, but nothing removed them yet.
        assert_eq!(c.cmd(&["DBSIZE"]), format!(":{n}\r\n").into_bytes());
        assert_eq!(expired_keys(&mut c), 0);
        assert_eq!(c.cmd(&["DEBUG", "SET-ACTIVE-EXPIRE", "1"]), b"+OK\r\n");
        let deadline = Instant::now() + Duration::from_secs(60);
        while expired_keys(&mut c) < 2 * n as u64 {
            assert!(
                Instant::now() < deadline,
                "shards={shards}: active expiry stalled"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        assert_eq!(expired_keys(&mut c), 2 * n as u64, "shards={shards}");
        assert_eq!(c.cmd(&["DBSIZE"]), b":0\r\n");
        assert_eq!(c.cmd(&["SELECT", "0"]), b"+OK\r\n");
        assert_eq!(c.cmd(&["DBSIZE"]), b":1\r\n", "shards={shards}");
    }
}
