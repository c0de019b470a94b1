//! One client's reply must never take the node down (issue 13): a reply
//! past `client-output-buffer-limit normal` closes that client, never the
//! node; the randmember counts Redis refuses are refused alike.

mod common;

use common::{escape, redis_available, rss_kib, Server};
use std::time::{Duration, Instant};

/// ZRANDMEMBER / HRANDFIELD with a count whose doubled reply would
/// overflow: Redis 7.0.15 answers "value is out of range" (the ZRANDMEMBER
/// case made shardis allocate until the kernel killed it).
#[test]
fn huge_randmember_counts_are_refused_like_redis() {
    if !redis_available() {
        return;
    }
    let redis = Server::redis(&[]);
    for shards in [1, 4] {
        let shardis = Server::shardis(shards, &[]);
        for s in [&redis, &shardis] {
            let mut c = s.conn();
            c.line("ZADD z 1 a 2 b");
            c.line("HSET h a 1");
        }
        for cmd in [
            "ZRANDMEMBER z -9223372036854770000 WITHSCORES",
            "ZRANDMEMBER z 4611686018427387904 WITHSCORES",
            "ZRANDMEMBER z -9223372036854775808",
            "HRANDFIELD h -9223372036854770000 WITHVALUES",
            "SRANDMEMBER s -9223372036854775808",
        ] {
            let want = redis.conn().line(cmd);
            let got = shardis.conn().line(cmd);
            assert_eq!(escape(&got), escape(&want), "{cmd} at shards {shards}");
            assert!(want.starts_with(b"-ERR value is out of range"), "{cmd}");
        }
    }
}

/// With a normal-class hard limit, replies that grow past it close their
/// client (unsent), the node stays up with its RSS bounded, and others
/// are served.
#[test]
fn replies_past_the_normal_limit_close_only_their_client() {
    for shards in [1, 4] {
        let shardis = Server::shardis(shards, &["--client-output-buffer-limit", "normal 32mb 0 0"]);
        let pid = shardis.pid();
        let mut setup = shardis.conn();
        setup.line("SADD s a b c");
        setup.line("HSET h a 1 b 2");
        setup.line("ZADD z 1 a");
        let mut bystander = shardis.conn();
        let before = rss_kib(pid);
        for cmd in [
            "SRANDMEMBER s -1000000000000",
            "HRANDFIELD h -1000000000000 WITHVALUES",
            "ZRANDMEMBER z -1000000000000",
        ] {
            let start = Instant::now();
            let mut c = shardis.conn();
            c.send(&cmd.split(' ').collect::<Vec<_>>());
            let got = c.read_until_closed(Duration::from_secs(60));
            assert!(
                got.len() < 40 << 20,
                "{cmd}: {} bytes sent past the limit",
                got.len()
            );
            // Loose: only a reply that never ends fails (a debug build on
            // a loaded 2-core machine took 11 s).
            assert!(
                start.elapsed() < Duration::from_secs(45),
                "{cmd} took {:?}",
                start.elapsed()
            );
            assert_eq!(bystander.line("PING"), b"+PONG\r\n", "after {cmd}");
            let rss = rss_kib(pid);
            assert!(
                rss < before + 256 * 1024,
                "shards={shards} {cmd}: RSS {before} -> {rss} KiB"
            );
        }
        assert!(shardis
            .log_text()
            .contains("closed for overcoming of output buffer limits"));
    }
}

/// KEYS * over millions of keys with a limit set: the client goes, the
/// node stays.
#[test]
fn keys_over_millions_of_keys_is_bounded_by_the_limit() {
    let shardis = Server::shardis(4, &["--client-output-buffer-limit", "normal 16mb 0 0"]);
    let mut c = shardis.conn();
    const KEYS: usize = 2_000_000;
    let mut batch: Vec<Vec<u8>> = Vec::new();
    let mut sent = 0;
    for i in 0..KEYS {
        if batch.is_empty() {
            batch.push(b"MSET".to_vec());
        }
        batch.push(format!("key:{i:09}").into_bytes());
        batch.push(b"v".to_vec());
        if batch.len() > 2000 || i + 1 == KEYS {
            c.send(&batch);
            batch.clear();
            sent += 1;
        }
    }
    for _ in 0..sent {
        assert_eq!(c.read_reply(), b"+OK\r\n");
    }
    assert_eq!(c.line("DBSIZE"), format!(":{KEYS}\r\n").into_bytes());
    let pid = shardis.pid();
    let before = rss_kib(pid);
    let mut k = shardis.conn();
    k.send(&["KEYS", "*"]);
    let got = k.read_until_closed(Duration::from_secs(60));
    assert!(got.len() < 20 << 20, "{} bytes of KEYS sent", got.len());
    let rss = rss_kib(pid);
    assert!(rss < before + 128 * 1024, "RSS {before} -> {rss} KiB");
    assert_eq!(c.line("PING"), b"+PONG\r\n");
}

/// The soft limit: a client that leaves more than `soft` bytes unread for
/// longer than `soft-seconds` is closed.
#[test]
fn the_soft_limit_closes_a_client_that_does_not_read() {
    let shardis = Server::shardis(1, &["--client-output-buffer-limit", "normal 0 1mb 1"]);
    let mut c = shardis.conn();
    let big = vec![b'x'; 20 << 20];
    assert_eq!(c.cmd(&[&b"SET"[..], b"big", &big]), b"+OK\r\n");
    let mut slow = shardis.conn();
    slow.send(&["GET", "big"]);
    // Do not read; after the soft period the server gives up on it.
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let list = c.line("CLIENT LIST");
        let n = String::from_utf8_lossy(&list).matches("cmd=").count();
        if n == 1 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the slow reader was not closed: {n} clients"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// KEYS whose reply passes the normal class's hard limit closes the
/// client unanswered, never a reply cut short (the keys are counted as
/// their reply bytes, not estimated).
#[test]
fn keys_past_the_hard_limit_close_the_client_unanswered() {
    let shardis = Server::shardis(1, &["--client-output-buffer-limit", "normal 100000 0 0"]);
    let mut c = shardis.conn();
    let prefix = "k".repeat(100);
    for i in 0..1000 {
        c.send(&["SET", &format!("{prefix}{i}"), "v"]);
    }
    for _ in 0..1000 {
        assert_eq!(c.read_reply(), b"+OK\r\n");
    }
    let mut k = shardis.conn();
    k.send(&["KEYS", "*"]);
    let got = k.read_until_closed(Duration::from_secs(10));
    assert!(got.is_empty(), "{} bytes of KEYS sent", got.len());
    assert_eq!(c.line("PING"), b"+PONG\r\n");
}

/// A subscriber that does not read: CLIENT LIST `omem` shows its waiting
/// messages, and the Pub/Sub soft limit closes it once its time ran out
/// even if no message comes meanwhile (Redis's clientsCron).
#[test]
fn subscriber_backlog_shows_in_omem_and_the_soft_limit_needs_no_traffic() {
    let shardis = Server::shardis(1, &["--client-output-buffer-limit", "pubsub 0 100000 1"]);
    let mut publisher = shardis.conn();
    let mut sub = shardis.conn();
    assert_eq!(sub.line("CLIENT SETNAME slow"), b"+OK\r\n");
    sub.send(&["SUBSCRIBE", "foo"]);
    sub.read_reply();
    let message = vec![b'x'; 1000];
    let omem = |c: &mut common::Conn| -> Option<usize> {
        let list = String::from_utf8_lossy(&c.line("CLIENT LIST")).to_string();
        let line = list.lines().find(|l| l.contains("name=slow"))?.to_string();
        line.split(" omem=").nth(1)?.split(' ').next()?.parse().ok()
    };
    let start = Instant::now();
    loop {
        assert!(start.elapsed() < Duration::from_secs(20), "omem stayed low");
        publisher.cmd(&[&b"PUBLISH"[..], b"foo", &message]);
        if omem(&mut publisher).expect("subscriber listed") > 100_000 {
            break;
        }
    }
    // Then past it by more than the kernel may still take: the socket's
    // send buffer grows (up to tcp_wmem's maximum) after the backlog built
    // up, and a backlog it swallowed would fall back under the limit and
    // restart the limit's clock.
    let wmem_max: usize = std::fs::read_to_string("/proc/sys/net/ipv4/tcp_wmem")
        .ok()
        .and_then(|s| s.split_whitespace().nth(2)?.parse().ok())
        .unwrap_or(4 << 20);
    let big = vec![b'y'; wmem_max + 200_000];
    publisher.cmd(&[&b"PUBLISH"[..], b"foo", &big]);
    // No more traffic: the subscriber still goes once its second is up.
    let start = Instant::now();
    while omem(&mut publisher).is_some() {
        assert!(start.elapsed() < Duration::from_secs(5), "not closed");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A client that writes a long pipeline before reading any reply (as
/// Redis's own test client does) is not deadlocked: the server reads on
/// while the replies wait for it, as Redis does.
#[test]
fn a_pipeline_written_before_any_read_completes() {
    let shardis = Server::shardis(1, &[]);
    let mut c = shardis.conn();
    let value = "v".repeat(100);
    assert_eq!(c.line(&format!("SET k {value}")), b"+OK\r\n");
    const N: usize = 300_000;
    let mut pipeline = Vec::new();
    for _ in 0..N {
        pipeline.extend_from_slice(b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n");
    }
    c.stream
        .set_write_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    std::io::Write::write_all(&mut c.stream, &pipeline).expect("the server stopped reading");
    let want = format!("$100\r\n{value}\r\n").into_bytes();
    for _ in 0..N {
        assert_eq!(c.read_reply(), want);
    }
}
