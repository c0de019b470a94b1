//! Pub/Sub across connections and shards: fan-out from publishers on
//! every shard, per-publisher order, pattern and shard channels, receiver
//! counts, unsubscribe, RESP3 pushes, the pubsub output buffer limit, and
//! an idle subscriber's CPU. (Single-connection replies are compared with
//! redis-server in tests/cases/pubsub.txt.)

mod common;

use common::{cpu_ticks, encode, escape, Conn, Server};
use std::collections::HashMap;
use std::time::{Duration, Instant};

fn bulk(b: &[u8]) -> Vec<u8> {
    let mut v = format!("${}\r\n", b.len()).into_bytes();
    v.extend_from_slice(b);
    v.extend_from_slice(b"\r\n");
    v
}

/// A RESP2 (`*`) or RESP3 (`>`) frame of bulk strings.
fn frame(head: u8, parts: &[&[u8]]) -> Vec<u8> {
    let mut v = format!("{}{}\r\n", head as char, parts.len()).into_bytes();
    for p in parts {
        v.extend_from_slice(&bulk(p));
    }
    v
}

fn message(ch: &str, msg: &str) -> Vec<u8> {
    frame(b'*', &[b"message", ch.as_bytes(), msg.as_bytes()])
}

fn subscribe(c: &mut Conn, cmd: &str, names: &[&str]) {
    let mut args = vec![cmd];
    args.extend_from_slice(names);
    c.send(&args);
    for _ in names {
        let r = c.read_reply();
        assert!(
            r.starts_with(b"*3\r\n") || r.starts_with(b">3\r\n"),
            "{}",
            escape(&r)
        );
    }
}

/// Connections spread by the kernel over the shards: with this many, some
/// land on every shard.
const PUBLISHERS: usize = 12;
const PER_PUBLISHER: usize = 200;

#[test]
fn fan_out_from_every_shard_in_publish_order() {
    let s = Server::shardis(4, &[]);
    let mut sub = s.conn();
    subscribe(&mut sub, "SUBSCRIBE", &["news"]);
    let mut pubs: Vec<Conn> = (0..PUBLISHERS).map(|_| s.conn()).collect();
    // Each publisher pipelines its messages; all run concurrently.
    for (p, c) in pubs.iter_mut().enumerate() {
        let mut bytes = Vec::new();
        for j in 0..PER_PUBLISHER {
            bytes.extend(encode(&["PUBLISH", "news", &format!("{p}:{j}")]));
        }
        c.send_raw(&bytes);
    }
    for c in pubs.iter_mut() {
        for _ in 0..PER_PUBLISHER {
            assert_eq!(c.read_reply(), b":1\r\n");
        }
    }
    let mut next: HashMap<usize, usize> = HashMap::new();
    for _ in 0..PUBLISHERS * PER_PUBLISHER {
        let r = sub.read_reply();
        let prefix = message("news", "");
        assert!(r.starts_with(&prefix[..prefix.len() - 5]), "{}", escape(&r));
        let text = String::from_utf8_lossy(&r);
        let payload = text.trim_end().rsplit("\r\n").next().unwrap().to_string();
        let (p, j) = payload.split_once(':').unwrap();
        let (p, j): (usize, usize) = (p.parse().unwrap(), j.parse().unwrap());
        let want = next.entry(p).or_default();
        assert_eq!(j, *want, "publisher {p}: out of order");
        *want += 1;
    }
    assert_eq!(next.len(), PUBLISHERS);
    // Nothing more.
    assert_eq!(sub.cmd(&["PING"]), b"*2\r\n$4\r\npong\r\n$0\r\n\r\n");
}

#[test]
fn receiver_counts_patterns_and_introspection_across_shards() {
    let s = Server::shardis(4, &[]);
    let mut subs: Vec<Conn> = (0..6).map(|_| s.conn()).collect();
    subscribe(&mut subs[0], "SUBSCRIBE", &["a", "b"]);
    subscribe(&mut subs[1], "SUBSCRIBE", &["a"]);
    subscribe(&mut subs[2], "SUBSCRIBE", &["a"]);
    subscribe(&mut subs[3], "PSUBSCRIBE", &["a*", "?"]);
    subscribe(&mut subs[4], "PSUBSCRIBE", &["a*"]);
    subscribe(&mut subs[5], "SSUBSCRIBE", &["a", "s"]);
    for _ in 0..8 {
        let mut p = s.conn();
        // 3 channel subscribers + "a*" twice + "?" once.
        assert_eq!(p.cmd(&["PUBLISH", "a", "x"]), b":6\r\n");
        assert_eq!(p.cmd(&["PUBLISH", "b", "x"]), b":2\r\n");
        assert_eq!(p.cmd(&["PUBLISH", "none", "x"]), b":0\r\n");
        assert_eq!(p.cmd(&["SPUBLISH", "a", "x"]), b":1\r\n");
        assert_eq!(p.cmd(&["SPUBLISH", "b", "x"]), b":0\r\n");
        assert_eq!(
            p.cmd(&["PUBSUB", "NUMSUB", "a", "b", "c"]),
            b"*6\r\n$1\r\na\r\n:3\r\n$1\r\nb\r\n:1\r\n$1\r\nc\r\n:0\r\n"
        );
        assert_eq!(p.cmd(&["PUBSUB", "NUMPAT"]), b":2\r\n");
        assert_eq!(
            p.cmd(&["PUBSUB", "CHANNELS"]),
            b"*2\r\n$1\r\na\r\n$1\r\nb\r\n"
        );
        assert_eq!(p.cmd(&["PUBSUB", "CHANNELS", "b*"]), b"*1\r\n$1\r\nb\r\n");
        assert_eq!(
            p.cmd(&["PUBSUB", "SHARDCHANNELS"]),
            b"*2\r\n$1\r\na\r\n$1\r\ns\r\n"
        );
        assert_eq!(
            p.cmd(&["PUBSUB", "SHARDNUMSUB", "s", "a", "b"]),
            b"*6\r\n$1\r\ns\r\n:1\r\n$1\r\na\r\n:1\r\n$1\r\nb\r\n:0\r\n"
        );
    }
    // Pattern subscribers get pmessage frames.
    assert_eq!(subs[1].read_reply(), message("a", "x"));
    let pm = frame(b'*', &[b"pmessage", b"a*", b"a", b"x"]);
    let q = frame(b'*', &[b"pmessage", b"?", b"a", b"x"]);
    let first_two = [subs[3].read_reply(), subs[3].read_reply()];
    assert!(first_two.contains(&pm) && first_two.contains(&q));
    assert_eq!(
        subs[5].read_reply(),
        frame(b'*', &[b"smessage", b"a", b"x"])
    );
    // CLIENT LIST counts.
    let mut admin = s.conn();
    let list = String::from_utf8(admin.cmd(&["CLIENT", "LIST", "TYPE", "pubsub"])).unwrap();
    assert_eq!(list.matches("flags=P").count(), 6, "{list}");
    assert!(list.contains("sub=0 psub=2 ssub=0"), "{list}");
    assert!(list.contains("sub=0 psub=0 ssub=2"), "{list}");
    // Disconnecting subscribers forgets them on their shards.
    drop(subs);
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        if admin.cmd(&["PUBLISH", "a", "x"]) == b":0\r\n" {
            break;
        }
        assert!(Instant::now() < deadline, "subscribers not forgotten");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(admin.cmd(&["PUBSUB", "NUMPAT"]), b":0\r\n");
}

#[test]
fn unsubscribe_stops_delivery() {
    let s = Server::shardis(4, &[]);
    let mut sub = s.conn();
    subscribe(&mut sub, "SUBSCRIBE", &["c1", "c2"]);
    subscribe(&mut sub, "PSUBSCRIBE", &["p*"]);
    let mut pubs: Vec<Conn> = (0..8).map(|_| s.conn()).collect();
    for p in pubs.iter_mut() {
        assert_eq!(p.cmd(&["PUBLISH", "c1", "m"]), b":1\r\n");
        assert_eq!(sub.read_reply(), message("c1", "m"));
    }
    subscribe(&mut sub, "UNSUBSCRIBE", &["c1"]);
    subscribe(&mut sub, "PUNSUBSCRIBE", &["p*"]);
    for p in pubs.iter_mut() {
        assert_eq!(p.cmd(&["PUBLISH", "c1", "m"]), b":0\r\n");
        assert_eq!(p.cmd(&["PUBLISH", "px", "m"]), b":0\r\n");
        assert_eq!(p.cmd(&["PUBLISH", "c2", "still"]), b":1\r\n");
    }
    for _ in 0..pubs.len() {
        assert_eq!(sub.read_reply(), message("c2", "still"));
    }
    // RESET drops the rest: back to normal commands, nothing delivered.
    assert_eq!(sub.cmd(&["RESET"]), b"+RESET\r\n");
    for p in pubs.iter_mut() {
        assert_eq!(p.cmd(&["PUBLISH", "c2", "gone"]), b":0\r\n");
    }
    assert_eq!(sub.cmd(&["PING"]), b"+PONG\r\n");
}

#[test]
fn resp3_pushes_and_commands_while_subscribed() {
    let s = Server::shardis(4, &[]);
    let mut sub = s.conn();
    sub.cmd(&["HELLO", "3"]);
    subscribe(&mut sub, "SUBSCRIBE", &["r3"]);
    assert_eq!(sub.cmd(&["SET", "k", "v"]), b"+OK\r\n");
    for _ in 0..8 {
        let mut p = s.conn();
        assert_eq!(p.cmd(&["PUBLISH", "r3", "hello"]), b":1\r\n");
        assert_eq!(
            sub.read_reply(),
            frame(b'>', &[b"message", b"r3", b"hello"])
        );
    }
    assert_eq!(sub.cmd(&["GET", "k"]), b"$1\r\nv\r\n");
    // Publishing to oneself: the push comes before the count.
    sub.send(&["PUBLISH", "r3", "me"]);
    assert_eq!(sub.read_reply(), frame(b'>', &[b"message", b"r3", b"me"]));
    assert_eq!(sub.read_reply(), b":1\r\n");
    // Back to RESP2 with a subscription: subscribe mode applies.
    assert!(sub.cmd(&["HELLO", "2"]).starts_with(b"*14\r\n"));
    assert!(sub
        .cmd(&["GET", "k"])
        .starts_with(b"-ERR Can't execute 'get': only (P|S)SUBSCRIBE"));
}

#[test]
fn slow_subscriber_is_disconnected_at_the_hard_limit() {
    let s = Server::shardis(4, &[]);
    let mut slow = s.conn();
    subscribe(&mut slow, "SUBSCRIBE", &["big"]);
    let mut fast = s.conn();
    subscribe(&mut fast, "SUBSCRIBE", &["other"]);
    let mut p = s.conn();
    let payload = "x".repeat(1 << 20);
    // 32 MB hard limit (Redis's default for pubsub clients) plus what the
    // kernel buffers absorb.
    let mut dropped = false;
    for _ in 0..128 {
        if p.cmd(&["PUBLISH", "big", &payload]) == b":0\r\n" {
            dropped = true;
            break;
        }
    }
    assert!(dropped, "slow subscriber never disconnected");
    let log = s.log_text();
    assert!(
        log.contains("scheduled to be closed ASAP for overcoming of output buffer limits."),
        "{log}"
    );
    slow.read_until_closed(Duration::from_secs(10));
    // Other subscribers are unaffected.
    assert_eq!(p.cmd(&["PUBLISH", "other", "ok"]), b":1\r\n");
    assert_eq!(fast.read_reply(), message("other", "ok"));
}

#[test]
fn idle_subscribers_use_no_cpu() {
    let s = Server::shardis(4, &[]);
    let mut subs: Vec<Conn> = (0..8).map(|_| s.conn()).collect();
    for c in subs.iter_mut() {
        subscribe(c, "SUBSCRIBE", &["idle"]);
        subscribe(c, "PSUBSCRIBE", &["i*"]);
    }
    std::thread::sleep(Duration::from_millis(200));
    let before = cpu_ticks(s.pid());
    std::thread::sleep(Duration::from_secs(2));
    let after = cpu_ticks(s.pid());
    // Clock ticks are 10 ms: allow a few for cron work.
    assert!(
        after - before <= 10,
        "idle CPU: {} ticks in 2 s",
        after - before
    );
}

/// INFO stats counts distinct channels, patterns and shard channels with
/// subscribers, as redis-server 7.0 does for the same subscriptions made
/// from several connections (so several shards).
#[test]
fn info_counts_subscriptions_like_redis() {
    let counts = |server: &Server| -> Vec<String> {
        let mut subs: Vec<Conn> = (0..6).map(|_| server.conn()).collect();
        for (i, c) in subs.iter_mut().enumerate() {
            subscribe(c, "SUBSCRIBE", &["news", &format!("ch{}", i % 3)]);
            subscribe(c, "PSUBSCRIBE", &["n*", &format!("p{}*", i % 2)]);
            subscribe(c, "SSUBSCRIBE", &[&format!("sh{}", i % 4)]);
        }
        let mut c = server.conn();
        let text = String::from_utf8(common::bulk_payload(&c.cmd(&["INFO", "stats"]))).unwrap();
        let fields: Vec<String> = text
            .lines()
            .filter(|l| l.starts_with("pubsub"))
            .map(str::to_string)
            .collect();
        assert_eq!(fields.len(), 3, "{text}");
        fields
    };
    let expected = if common::redis_available() {
        counts(&Server::redis(&[]))
    } else {
        [
            "pubsub_channels:4",
            "pubsub_patterns:3",
            "pubsubshard_channels:4",
        ]
        .map(String::from)
        .to_vec()
    };
    assert_eq!(
        expected,
        [
            "pubsub_channels:4",
            "pubsub_patterns:3",
            "pubsubshard_channels:4"
        ]
    );
    for shards in [1, 4] {
        assert_eq!(
            counts(&Server::shardis(shards, &[])),
            expected,
            "shards {shards}"
        );
    }
}

/// (Un)subscribe confirmations and messages are pushes: CLIENT REPLY OFF
/// silences replies, not them (as on redis-server, RESP2 and RESP3).
#[test]
fn client_reply_off_keeps_pubsub_pushes() {
    let run = |srv: &Server, resp3: bool| -> Vec<u8> {
        let mut c = srv.conn();
        let mut p = srv.conn();
        if resp3 {
            c.cmd(&["HELLO", "3"]);
        }
        c.send(&["CLIENT", "REPLY", "OFF"]);
        c.send(&["SUBSCRIBE", "ch"]);
        let mut got = c.read_reply();
        while p.cmd(&["PUBSUB", "NUMSUB", "ch"]) != b"*2\r\n$2\r\nch\r\n:1\r\n" {
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        p.cmd(&["PUBLISH", "ch", "hi"]);
        got.extend(c.read_reply());
        c.send(&["UNSUBSCRIBE", "ch"]);
        got.extend(c.read_reply());
        c.send(&["PING"]);
        c.send(&["CLIENT", "REPLY", "ON"]);
        got.extend(c.read_reply());
        got
    };
    for shards in [1, 4] {
        let srv = Server::shardis(shards, &[]);
        for resp3 in [false, true] {
            let ours = run(&srv, resp3);
            let h = if resp3 { b'>' } else { b'*' };
            let expected = [
                format!("{}3\r\n$9\r\nsubscribe\r\n$2\r\nch\r\n:1\r\n", h as char),
                format!(
                    "{}3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$2\r\nhi\r\n",
                    h as char
                ),
                format!("{}3\r\n$11\r\nunsubscribe\r\n$2\r\nch\r\n:0\r\n", h as char),
                "+OK\r\n".to_string(),
            ]
            .concat();
            assert_eq!(
                String::from_utf8_lossy(&ours),
                expected,
                "shards {shards} resp3 {resp3}"
            );
            if common::redis_available() {
                let redis = run(&Server::redis(&[]), resp3);
                assert_eq!(ours, redis, "redis-server differs (resp3 {resp3})");
            }
        }
    }
}
