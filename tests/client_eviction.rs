//! `maxmemory-clients` (Redis 7.0's client eviction, issue 13): a client
//! whose memory (query buffer, replies, ...) pushes the clients' total to
//! the limit is closed, logged and counted, never the node; CLIENT
//! NO-EVICT clients stay.

mod common;

use common::{escape, redis_available, rss_kib, Conn, Server};
use std::io::Write;
use std::time::{Duration, Instant};

const LIMIT: &str = "5mb";
const LIMIT_BYTES: usize = 5 << 20;

fn evicted_clients(c: &mut Conn) -> u64 {
    let info = String::from_utf8_lossy(&c.line("INFO stats")).to_string();
    info.lines()
        .find_map(|l| l.strip_prefix("evicted_clients:"))
        .and_then(|v| v.trim().parse().ok())
        .expect("evicted_clients in INFO stats")
}

/// Starts `SET k <bytes + 1>` and sends `bytes` of its value: the server
/// holds them in the query buffer. Write errors are ignored: the server
/// may close the connection meanwhile.
fn hold(c: &mut Conn, bytes: usize) {
    let header = format!("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n${}\r\n", bytes + 1);
    let _ = c.stream.write_all(header.as_bytes());
    let _ = c.stream.write_all(&vec![b'y'; bytes]);
}

fn client_count(c: &mut Conn) -> usize {
    String::from_utf8_lossy(&c.line("CLIENT LIST"))
        .matches("cmd=")
        .count()
}

/// CONFIG SET / GET maxmemory-clients answer as redis-server 7.0 does.
#[test]
fn config_set_and_get_match_redis() {
    let shardis = Server::shardis(1, &[]);
    let redis = redis_available().then(|| Server::redis(&[]));
    let cases = [
        "CONFIG SET maxmemory-clients 5mb",
        "CONFIG GET maxmemory-clients",
        "CONFIG SET maxmemory-clients 5m",
        "CONFIG GET maxmemory-clients",
        "CONFIG SET maxmemory-clients 10%",
        "CONFIG GET maxmemory-clients",
        "CONFIG SET maxmemory-clients 100%",
        "CONFIG SET maxmemory-clients 101%",
        "CONFIG SET maxmemory-clients -5%",
        "CONFIG SET maxmemory-clients 1.5%",
        "CONFIG SET maxmemory-clients abc",
        "CONFIG GET maxmemory-clients",
        "CONFIG SET maxmemory-clients 0%",
        "CONFIG GET maxmemory-clients",
    ];
    let mut ours = shardis.conn();
    for cmd in cases {
        let got = ours.line(cmd);
        match &redis {
            Some(redis) => {
                let want = redis.conn().line(cmd);
                assert_eq!(escape(&got), escape(&want), "{cmd}");
            }
            None => assert!(!got.is_empty(), "{cmd}"),
        }
    }
    assert_eq!(
        ours.line("CONFIG GET maxmemory-clients"),
        b"*2\r\n$17\r\nmaxmemory-clients\r\n$1\r\n0\r\n"
    );
    // From the command line too.
    let s = Server::shardis(1, &["--maxmemory-clients", "10%"]);
    assert_eq!(
        s.conn().line("CONFIG GET maxmemory-clients"),
        b"*2\r\n$17\r\nmaxmemory-clients\r\n$3\r\n10%\r\n"
    );
}

/// Replies of the client's own choosing (negative RANDMEMBER counts)
/// grow past the limit: that client is evicted, the node stays small and
/// serves the others.
#[test]
fn huge_replies_evict_their_client() {
    for shards in [1, 4] {
        let shardis = Server::shardis(shards, &["--maxmemory-clients", LIMIT]);
        let pid = shardis.pid();
        let mut setup = shardis.conn();
        setup.line("SADD s a b c");
        setup.line("HSET h a 1 b 2");
        setup.line("ZADD z 1 a 2 b");
        let mut bystander = shardis.conn();
        let before = rss_kib(pid);
        // Out of range in Redis 7.0 as well: an error, not an eviction.
        assert!(bystander
            .line("ZRANDMEMBER z -9223372036854770000 WITHSCORES")
            .starts_with(b"-ERR value is out of range"));
        let cmds = [
            "SRANDMEMBER s -1000000000000",
            "HRANDFIELD h -1000000000000 WITHVALUES",
            "ZRANDMEMBER z -1000000000000 WITHSCORES",
        ];
        for (n, cmd) in cmds.iter().enumerate() {
            let start = Instant::now();
            let mut c = shardis.conn();
            c.send(&cmd.split(' ').collect::<Vec<_>>());
            let got = c.read_until_closed(Duration::from_secs(20));
            assert!(got.len() < LIMIT_BYTES, "{cmd}: {} bytes sent", got.len());
            assert!(start.elapsed() < Duration::from_secs(10), "{cmd} slow");
            assert_eq!(bystander.line("PING"), b"+PONG\r\n", "after {cmd}");
            assert_eq!(evicted_clients(&mut bystander), n as u64 + 1, "{cmd}");
            let rss = rss_kib(pid);
            assert!(
                rss < before + 64 * 1024,
                "shards={shards} {cmd}: RSS {before} -> {rss} KiB"
            );
        }
        assert!(shardis.log_text().contains("Evicting client: id="));
    }
}

/// KEYS * over a million keys: the client goes, the node stays.
#[test]
fn keys_over_a_million_keys_evicts_the_client() {
    let shardis = Server::shardis(
        2,
        &[
            "--maxmemory-clients",
            LIMIT,
            "--enable-debug-command",
            "yes",
        ],
    );
    let mut c = shardis.conn();
    c.set_timeout(Duration::from_secs(60));
    assert_eq!(c.line("DEBUG POPULATE 1000000"), b"+OK\r\n");
    let pid = shardis.pid();
    let before = rss_kib(pid);
    let mut k = shardis.conn();
    k.send(&["KEYS", "*"]);
    let got = k.read_until_closed(Duration::from_secs(60));
    assert!(got.len() < LIMIT_BYTES, "{} bytes of KEYS sent", got.len());
    let rss = rss_kib(pid);
    assert!(rss < before + 64 * 1024, "RSS {before} -> {rss} KiB");
    assert_eq!(c.line("PING"), b"+PONG\r\n");
    assert_eq!(evicted_clients(&mut c), 1);
}

/// Pipelines: many big replies in one read, or one huge request that is
/// still arriving, evict the client.
#[test]
fn pipelined_huge_commands_evict_the_client() {
    let shardis = Server::shardis(2, &["--maxmemory-clients", LIMIT]);
    let mut c = shardis.conn();
    let value = vec![b'x'; 1 << 20];
    assert_eq!(c.cmd(&[&b"SET"[..], b"big", &value]), b"+OK\r\n");

    // 500 GETs of 1 MiB in one write: 500 MiB of replies if run.
    let mut greedy = shardis.conn();
    let mut pipeline = Vec::new();
    for _ in 0..500 {
        pipeline.extend_from_slice(b"*2\r\n$3\r\nGET\r\n$3\r\nbig\r\n");
    }
    greedy.send_raw(&pipeline);
    let got = greedy.read_until_closed(Duration::from_secs(20));
    assert!(got.len() < 2 * LIMIT_BYTES, "{} bytes sent", got.len());
    assert_eq!(evicted_clients(&mut c), 1);

    // A 64 MiB argument announced and sent in part: the query buffer
    // may not grow past the limit.
    let mut big_arg = shardis.conn();
    hold(&mut big_arg, 8 << 20);
    big_arg.read_until_closed(Duration::from_secs(20));
    assert_eq!(evicted_clients(&mut c), 2);
    assert_eq!(c.line("PING"), b"+PONG\r\n");
    assert_eq!(client_count(&mut c), 1);
}

/// Many clients that each stay under the limit but together pass it:
/// the largest go first, until the total is under the limit; a CLIENT
/// NO-EVICT client is never chosen.
#[test]
fn the_largest_clients_go_first_and_no_evict_clients_stay() {
    let shardis = Server::shardis(2, &["--maxmemory-clients", LIMIT]);
    let mut control = shardis.conn();
    // Partial requests hold their query buffers: about 512 KiB each for
    // the small ones, 6 MiB for the no-evict one.
    let mut protected = shardis.conn();
    assert_eq!(protected.line("CLIENT NO-EVICT on"), b"+OK\r\n");
    let mut small = [shardis.conn(), shardis.conn()];
    for c in &mut small {
        hold(c, 512 << 10);
    }
    hold(&mut protected, 6 << 20);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(evicted_clients(&mut control), 0);
    // A third client announcing 6 MiB takes the total past 5 MiB: it is
    // the biggest, it goes.
    let mut big = shardis.conn();
    hold(&mut big, 6 << 20);
    big.read_until_closed(Duration::from_secs(10));
    assert_eq!(evicted_clients(&mut control), 1);
    assert_eq!(client_count(&mut control), 4);
    // Lowering the limit evicts the small ones too, never the no-evict
    // client (whose own buffer counts for nobody).
    assert_eq!(
        control.line("CONFIG SET maxmemory-clients 128kb"),
        b"+OK\r\n"
    );
    for c in &mut small {
        c.read_until_closed(Duration::from_secs(10));
    }
    assert_eq!(evicted_clients(&mut control), 3);
    assert_eq!(client_count(&mut control), 2);
    assert!(shardis.log_text().contains("Evicting client: id="));
}

/// A CLIENT NO-EVICT client's reply may pass the whole limit (Redis lets
/// it grow): it is answered in full, not closed.
#[test]
fn a_no_evict_client_gets_replies_past_the_limit() {
    let shardis = Server::shardis(2, &["--maxmemory-clients", "1"]);
    let mut c = shardis.conn();
    assert_eq!(c.line("CLIENT NO-EVICT on"), b"+OK\r\n");
    let value = vec![b'x'; 1 << 20];
    assert_eq!(c.cmd(&[&b"SET"[..], b"big", &value]), b"+OK\r\n");
    // Twice: on this connection's shard or the other's, in one batch.
    c.send_raw(b"GET big\r\nGET big\r\n");
    for _ in 0..2 {
        assert_eq!(common::bulk_payload(&c.read_reply()).len(), 1 << 20);
    }
    assert_eq!(evicted_clients(&mut c), 0);
}

/// Subscribers that do not read: the messages waiting for them count as
/// their memory (CLIENT LIST `omem`, `tot-mem`), and past the limit they
/// are evicted, the publisher and the keys stay.
#[test]
fn subscribers_are_evicted_by_their_waiting_messages() {
    let shardis = Server::shardis(1, &["--maxmemory-clients", "3mb"]);
    let mut publisher = shardis.conn();
    assert_eq!(publisher.line("CLIENT NO-EVICT on"), b"+OK\r\n");
    let mut subscribers: Vec<_> = (0..4).map(|_| shardis.conn()).collect();
    for s in &mut subscribers {
        s.send(&["SUBSCRIBE", "bla"]);
        s.read_reply();
    }
    let message = vec![b'x'; 100_000];
    let start = Instant::now();
    while evicted_clients(&mut publisher) == 0 {
        assert!(start.elapsed() < Duration::from_secs(20), "nobody evicted");
        publisher.cmd(&[&b"PUBLISH"[..], b"bla", &message]);
        let list = String::from_utf8_lossy(&publisher.line("CLIENT LIST")).to_string();
        let most = list
            .lines()
            .filter_map(|l| l.split(" omem=").nth(1)?.split(' ').next()?.parse().ok())
            .max()
            .unwrap_or(0usize);
        assert!(most < 4 << 20, "omem {most} past the limit");
    }
    assert_eq!(publisher.line("PING"), b"+PONG\r\n");
    assert!(client_count(&mut publisher) < 5);
    assert!(shardis.log_text().contains("Evicting client: id="));
}
