//! Wire-protocol tests on raw sockets. Every expected reply is taken from a
//! reference redis-server in the same test and compared byte for byte with
//! shardis; the literal strings asserted here only double-check the gist.

mod common;

use common::{cpu_ticks, encode, escape, escape_short, redis_available, rss_kib, Server};
use std::io::Write;
use std::time::{Duration, Instant};

/// A reference redis-server and shardis (4 shards), both with `extra`.
fn pair(extra: &[&str]) -> Option<(Server, Server)> {
    if !redis_available() {
        return None;
    }
    Some((Server::redis(extra), Server::shardis(4, extra)))
}

/// Sends `bytes` on a fresh connection and reads `n` replies.
fn replies(server: &Server, bytes: &[u8], n: usize) -> Vec<Vec<u8>> {
    let mut c = server.conn();
    c.send_raw(bytes);
    c.read_replies(n)
}

fn show_all(r: &[Vec<u8>]) -> String {
    r.iter()
        .map(|b| escape_short(b, 200))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Sends `bytes` on a fresh connection to each server, expects the server
/// to answer and close; the bytes received must be identical. Returns them.
fn same_then_close(redis: &Server, shardis: &Server, bytes: &[u8], what: &str) -> Vec<u8> {
    let get = |s: &Server| {
        let mut c = s.conn();
        c.send_raw(bytes);
        c.read_until_closed(Duration::from_secs(10))
    };
    let want = get(redis);
    let got = get(shardis);
    assert_eq!(
        escape(&got),
        escape(&want),
        "{what}: shardis (left) differs from redis-server (right) for request {}",
        escape_short(bytes, 120)
    );
    want
}

#[test]
fn pipelining_1000_commands_in_one_write() {
    let Some((redis, shardis)) = pair(&[]) else {
        return;
    };
    let mut req = Vec::new();
    for i in 0..500 {
        req.extend(encode(&[
            b"SET".to_vec(),
            format!("key:{i}").into_bytes(),
            format!("value-{i}").into_bytes(),
        ]));
    }
    for i in 0..500 {
        req.extend(encode(&[b"GET".to_vec(), format!("key:{i}").into_bytes()]));
    }
    let want = replies(&redis, &req, 1000);
    let got = replies(&shardis, &req, 1000);
    for i in 0..500 {
        assert_bytes!(got[i], b"+OK\r\n", "reply {i}");
        let v = format!("value-{i}");
        assert_bytes!(
            got[500 + i],
            format!("${}\r\n{v}\r\n", v.len()).as_bytes(),
            "reply {}",
            500 + i
        );
    }
    assert_eq!(show_all(&got), show_all(&want));

    // Multi-key commands interleaved with single-key ones, across shards.
    let mut req = Vec::new();
    for i in 0..250 {
        req.extend(encode(&[
            b"MSET".to_vec(),
            format!("a{i}").into_bytes(),
            b"1".to_vec(),
            format!("b{i}").into_bytes(),
            b"2".to_vec(),
        ]));
        req.extend(encode(&[
            b"MGET".to_vec(),
            format!("a{i}").into_bytes(),
            format!("b{i}").into_bytes(),
            b"nosuch".to_vec(),
        ]));
        req.extend(encode(&[
            b"DEL".to_vec(),
            format!("a{i}").into_bytes(),
            format!("b{i}").into_bytes(),
        ]));
        req.extend(encode(&[
            b"EXISTS".to_vec(),
            format!("a{i}").into_bytes(),
            format!("key:{i}").into_bytes(),
        ]));
    }
    let want = replies(&redis, &req, 1000);
    let got = replies(&shardis, &req, 1000);
    for (i, (g, w)) in got.iter().zip(&want).enumerate() {
        assert_eq!(escape(g), escape(w), "pipelined reply {i}");
    }
}

#[test]
fn inline_commands() {
    let Some((redis, shardis)) = pair(&[]) else {
        return;
    };
    // An empty line gets no reply at all, in both.
    let req = b"PING\r\nSET \"a b\" 'c d'\r\nGET \"a b\"\r\n\r\nPING hello\nSET k \"\\x00\\n\"\r\nGET k\r\n   \r\nNOSUCH x\r\n";
    let want = replies(&redis, req, 7);
    let got = replies(&shardis, req, 7);
    assert_bytes!(want[0], b"+PONG\r\n");
    assert_bytes!(want[2], b"$3\r\nc d\r\n");
    assert_eq!(show_all(&got), show_all(&want));
}

#[test]
fn malformed_requests_get_protocol_error_and_close() {
    let Some((redis, shardis)) = pair(&[]) else {
        return;
    };
    let mut bystander = shardis.conn();
    assert_bytes!(bystander.line("SET bystander here"), b"+OK\r\n");
    let long_inline = vec![b'a'; 70 * 1024];
    let mut long_count = b"*".to_vec();
    long_count.extend(vec![b'1'; 70 * 1024]);
    let mut long_bulk_count = b"*1\r\n$".to_vec();
    long_bulk_count.extend(vec![b'1'; 70 * 1024]);
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("bad multibulk length", b"*abc\r\n".to_vec()),
        ("multibulk length > INT_MAX", b"*3000000000\r\n".to_vec()),
        ("multibulk length with '+'", b"*+1\r\n".to_vec()),
        ("expected '$'", b"*1\r\nfoo\r\n".to_vec()),
        (
            "expected '$' after a good argument",
            b"*2\r\n$3\r\nGET\r\n:1\r\n".to_vec(),
        ),
        ("bad bulk length", b"*1\r\n$abc\r\n".to_vec()),
        ("negative bulk length", b"*1\r\n$-5\r\n".to_vec()),
        (
            "bulk length > proto-max-bulk-len",
            b"*2\r\n$3\r\nSET\r\n$2147483648\r\n".to_vec(),
        ),
        ("unbalanced double quote", b"SET \"a b\r\n".to_vec()),
        ("unbalanced single quote", b"SET 'a b\r\n".to_vec()),
        (
            "closing quote followed by a letter",
            b"SET \"a\"b c\r\n".to_vec(),
        ),
        (
            "good command then bad multibulk",
            b"PING\r\n*x\r\n".to_vec(),
        ),
        ("too big inline request", long_inline),
        ("too big mbulk count string", long_count),
        ("too big bulk count string", long_bulk_count),
    ];
    for (what, bytes) in cases {
        let got = same_then_close(&redis, &shardis, &bytes, what);
        let text = String::from_utf8_lossy(&got);
        assert!(
            text.contains("-ERR Protocol error: "),
            "{what}: {}",
            escape(&got)
        );
        assert_bytes!(
            bystander.line("GET bystander"),
            b"$4\r\nhere\r\n",
            "bystander after: {what}"
        );
    }
}

#[test]
fn oversize_bulk_refused_before_allocation() {
    let Some((redis, shardis)) = pair(&[]) else {
        return;
    };
    let pid = shardis.pid();
    let before = rss_kib(pid);
    for claim in ["2147483648", "9223372036854775807", "536870913"] {
        let req = format!("*2\r\n$3\r\nSET\r\n${claim}\r\n");
        let start = Instant::now();
        let got = same_then_close(&redis, &shardis, req.as_bytes(), &format!("claim ${claim}"));
        assert_bytes!(got, b"-ERR Protocol error: invalid bulk length\r\n");
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "the refusal took {:?}",
            start.elapsed()
        );
    }
    let after = rss_kib(pid);
    assert!(
        after < before + 64 * 1024,
        "shardis RSS grew from {before} KiB to {after} KiB after oversize claims"
    );
    assert_bytes!(shardis.conn().line("PING"), b"+PONG\r\n");
}

#[test]
fn unauthenticated_limits_with_requirepass() {
    let Some((redis, shardis)) = pair(&["--requirepass", "secret"]) else {
        return;
    };
    // Refused before AUTH: more than 10 arguments, or a bulk over 16 KiB.
    let mut eleven = b"*11\r\n".to_vec();
    for _ in 0..11 {
        eleven.extend(b"$1\r\nx\r\n");
    }
    let big_bulk = b"*2\r\n$4\r\nECHO\r\n$16385\r\n".to_vec();
    let got = same_then_close(&redis, &shardis, &eleven, "11 arguments before AUTH");
    assert!(
        got.starts_with(b"-ERR Protocol error: unauthenticated multibulk length"),
        "{}",
        escape(&got)
    );
    let got = same_then_close(&redis, &shardis, &big_bulk, "16385-byte bulk before AUTH");
    assert!(
        got.starts_with(b"-ERR Protocol error: unauthenticated bulk length"),
        "{}",
        escape(&got)
    );

    // Within the limits, commands get NOAUTH; after AUTH the limits are gone.
    let mut mset = vec![b"MSET".to_vec()];
    for i in 0..5 {
        mset.push(format!("k{i}").into_bytes());
        mset.push(b"v".to_vec());
    }
    let big = vec![b'x'; 20000];
    let mut req = encode(&[&b"GET"[..], b"k0"]);
    req.extend(encode(&[&b"AUTH"[..], b"wrong"]));
    req.extend(encode(&[&b"AUTH"[..], b"secret"]));
    req.extend(encode(&mset));
    req.extend(encode(&[&b"SET"[..], b"big", &big]));
    req.extend(encode(&[&b"MGET"[..], b"k0", b"k4"]));
    let want = replies(&redis, &req, 6);
    let got = replies(&shardis, &req, 6);
    assert!(want[0].starts_with(b"-NOAUTH"), "{}", escape(&want[0]));
    assert_bytes!(want[2], b"+OK\r\n");
    assert_eq!(show_all(&got), show_all(&want));
}

#[test]
fn request_split_byte_by_byte() {
    let Some((redis, shardis)) = pair(&[]) else {
        return;
    };
    let mut req = encode(&[&b"SET"[..], b"split", b"hello world"]);
    req.extend(b"GET split\r\n");
    req.extend(encode(&[&b"MGET"[..], b"split", b"nosuch", b"split"]));
    req.extend(b"PING\n");
    let run = |server: &Server| {
        let mut c = server.conn();
        for b in &req {
            c.stream.write_all(&[*b]).unwrap();
            std::thread::sleep(Duration::from_micros(300));
        }
        c.read_replies(4)
    };
    let want = run(&redis);
    let got = run(&shardis);
    assert_eq!(show_all(&got), show_all(&want));
    assert_bytes!(got[1], b"$11\r\nhello world\r\n");
}

#[test]
fn large_value_round_trip() {
    let shardis = Server::shardis(4, &[]);
    let value: Vec<u8> = (0..10 * 1024 * 1024)
        .map(|i: u32| (i.wrapping_mul(2654435761) >> 13) as u8)
        .collect();
    let mut c = shardis.conn();
    for key in ["big", "big2"] {
        assert_bytes!(
            c.cmd(&[b"SET".as_slice(), key.as_bytes(), &value]),
            b"+OK\r\n"
        );
    }
    for key in ["big", "big2"] {
        let r = c.cmd(&[b"GET".as_slice(), key.as_bytes()]);
        let head = format!("${}\r\n", value.len());
        assert!(r.starts_with(head.as_bytes()), "{}", escape_short(&r, 100));
        assert!(
            r[head.len()..r.len() - 2] == value[..],
            "GET {key} returned different bytes"
        );
    }
    let mut c2 = shardis.conn();
    let r = c2.cmd(&[b"MGET".as_slice(), b"big", b"big2"]);
    assert_eq!(r.len(), 2 * (value.len() + 13) + 4);
}

#[test]
fn maxclients() {
    let Some((redis, shardis)) = pair(&["--maxclients", "2"]) else {
        return;
    };
    let run = |s: &Server| {
        // Let the readiness probe's connection be reaped first.
        std::thread::sleep(Duration::from_millis(300));
        let mut a = s.conn();
        let mut b = s.conn();
        assert_bytes!(a.line("PING"), b"+PONG\r\n");
        assert_bytes!(b.line("PING"), b"+PONG\r\n");
        let mut c = s.conn();
        let refused = c.read_until_closed(Duration::from_secs(10));
        assert_bytes!(
            a.line("PING"),
            b"+PONG\r\n",
            "{}: an accepted client broke",
            s.name
        );
        drop(b);
        // Once a client leaves, a new one is accepted.
        let mut ok = None;
        for _ in 0..50 {
            std::thread::sleep(Duration::from_millis(50));
            let mut d = s.conn();
            d.send_raw(b"PING\r\n");
            if let Ok(r) = d.try_read_reply() {
                if r == b"+PONG\r\n" {
                    ok = Some(d);
                    break;
                }
            }
        }
        assert!(
            ok.is_some(),
            "{}: no client accepted after one left",
            s.name
        );
        refused
    };
    let want = run(&redis);
    let got = run(&shardis);
    assert_bytes!(want, b"-ERR max number of clients reached\r\n");
    assert_eq!(escape(&got), escape(&want));
}

#[test]
fn idle_server_uses_no_cpu() {
    for shards in [1, 4] {
        let shardis = Server::shardis(shards, &[]);
        let mut idle = shardis.conn();
        assert_bytes!(idle.line("PING"), b"+PONG\r\n");
        std::thread::sleep(Duration::from_millis(500));
        let before = cpu_ticks(shardis.pid());
        std::thread::sleep(Duration::from_secs(2));
        let after = cpu_ticks(shardis.pid());
        assert!(
            after - before <= 5,
            "idle shardis (shards={shards}) used {} clock ticks of CPU in 2 s",
            after - before
        );
        assert_bytes!(idle.line("PING"), b"+PONG\r\n");
    }
}

/// Sends `bytes`, half-closes, and returns everything received until the
/// server closes: what a server makes of a request, however it ends.
fn replies_then_eof(server: &Server, bytes: &[u8]) -> Vec<u8> {
    let mut c = server.conn();
    c.send_raw(bytes);
    c.stream.shutdown(std::net::Shutdown::Write).unwrap();
    c.read_until_closed(Duration::from_secs(10))
}

/// Issue 24, bug 1: a NUL before the newline of an inline request made
/// shardis push empty arguments forever (1.2 GB/s of RSS until OOM). Redis
/// finds the newline with strchr, which stops at the NUL: the request
/// looks unfinished until 64 KiB have arrived, then it is too big.
#[test]
fn nul_in_an_inline_request_waits_like_redis() {
    let Some((redis, shardis)) = pair(&[]) else {
        return;
    };
    let pid = shardis.pid();
    let before = rss_kib(pid);
    let mut bystander = shardis.conn();
    for req in [
        &b"\x00\n"[..],
        b"PING\x00\r\n",
        b"a\x00b\r\n",
        b"\x00\x00\x00",
    ] {
        // Nothing comes back while the client waits...
        for s in [&redis, &shardis] {
            let mut c = s.conn();
            c.send_raw(req);
            c.set_timeout(Duration::from_millis(300));
            let r = c.try_read_reply();
            assert!(
                r.as_ref()
                    .is_err_and(|e| e.starts_with(common::TIMEOUT_PREFIX)),
                "{}: {} got {r:?}",
                s.name,
                escape(req)
            );
        }
        // ... then both answer the same once 64 KiB are buffered.
        let mut long = req.to_vec();
        long.resize(70 * 1024, b'x');
        let got = same_then_close(&redis, &shardis, &long, "NUL then 70 KiB");
        assert_bytes!(got, b"-ERR Protocol error: too big inline request\r\n");
        // And if the client leaves instead, neither says anything.
        assert_eq!(
            replies_then_eof(&shardis, req),
            replies_then_eof(&redis, req)
        );
        assert_bytes!(bystander.line("PING"), b"+PONG\r\n");
    }
    std::thread::sleep(Duration::from_millis(300));
    let after = rss_kib(pid);
    assert!(
        after < before + 16 * 1024,
        "RSS grew from {before} to {after} KiB on NUL requests"
    );
}

/// Issue 24, bug 1 (quotes): Redis's sdssplitargs rules, byte for byte.
#[test]
fn inline_quoting_edge_cases_match_redis() {
    let Some((redis, shardis)) = pair(&[]) else {
        return;
    };
    let cases: [&[u8]; 9] = [
        b"a \"b\"c\n",
        b"ECHO 'a'b\r\n",
        b"ECHO \"\\x4\"\r\n",
        b"ECHO \"\\xZZ\"\r\n",
        b"\x0bECHO\x0cx\r\n",
        b"ECHO a\x0bb\r\n",
        b"ECHO \"a\"\x0b\r\n",
        b"ECHO '\\\\'\r\n",
        b"ECHO \"\\\"\"\r\n",
    ];
    for req in cases {
        assert_eq!(
            escape(&replies_then_eof(&shardis, req)),
            escape(&replies_then_eof(&redis, req)),
            "request {}",
            escape(req)
        );
    }
}

/// Issue 24, bug 2: announcing a 512 MiB bulk reserved (and touched) it
/// up front, and the memory stayed after the clients left. Memory must
/// follow the bytes that arrive, and be returned on close.
#[test]
fn announced_bulk_lengths_cost_only_what_arrives() {
    for shards in [1, 4] {
        let shardis = Server::shardis(shards, &[]);
        let pid = shardis.pid();
        let before = rss_kib(pid);
        let mut req = b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$536870912\r\n".to_vec();
        req.resize(req.len() + 64 * 1024, b'v');
        let mut held: Vec<_> = (0..6)
            .map(|_| {
                let mut c = shardis.conn();
                c.send_raw(&req);
                c
            })
            .collect();
        std::thread::sleep(Duration::from_millis(500));
        let during = rss_kib(pid);
        held.clear();
        std::thread::sleep(Duration::from_millis(500));
        let after = rss_kib(pid);
        assert!(
            during < before + 8 * 1024,
            "shards={shards}: six clients announcing 512 MiB grew RSS {before} -> {during} KiB"
        );
        assert!(
            after < before + 8 * 1024,
            "shards={shards}: RSS {before} -> {after} KiB after the clients left"
        );
        assert_bytes!(shardis.conn().line("PING"), b"+PONG\r\n");
    }
}

/// Beyond Redis: before AUTH a connection holds at most 20 KiB of query
/// buffer (one bulk at Redis's unauthenticated 16 KiB limit and a short
/// AUTH around it), so a flood of unauthenticated clients cannot grow the
/// node past maxclients x 20 KiB.
#[test]
fn unauthenticated_clients_hold_little() {
    let shardis = Server::shardis(4, &["--requirepass", "secret"]);
    let pid = shardis.pid();
    let before = rss_kib(pid);
    let mut part = b"*2\r\n$4\r\nAUTH\r\n$16384\r\n".to_vec();
    part.resize(part.len() + 16000, b'p');
    let held: Vec<_> = (0..200)
        .map(|_| {
            let mut c = shardis.conn();
            c.send_raw(&part);
            c
        })
        .collect();
    std::thread::sleep(Duration::from_millis(500));
    let during = rss_kib(pid);
    let per_conn = (during.saturating_sub(before)) * 1024 / 200;
    assert!(
        per_conn < 32 * 1024,
        "200 unauthenticated clients with a pending AUTH cost {per_conn} bytes each"
    );
    // More than the cap without a complete request: the client is closed.
    let mut c = shardis.conn();
    c.send_raw(&vec![b'x'; 40 * 1024]);
    assert_bytes!(c.read_until_closed(Duration::from_secs(10)), b"");
    // A long AUTH argument is still fine before the cap.
    let mut c = shardis.conn();
    let long = "p".repeat(16000);
    assert!(c.line(&format!("AUTH {long}")).starts_with(b"-WRONGPASS"));
    assert_bytes!(c.line("AUTH secret"), b"+OK\r\n");
    // Once authenticated the limit is the query buffer limit again.
    let big = vec![b'v'; 100 * 1024];
    assert_bytes!(c.cmd(&[&b"SET"[..], b"big", &big]), b"+OK\r\n");
    drop(held);
}

/// client-query-buffer-limit and proto-max-bulk-len, as Redis enforces
/// them: a request growing past the query buffer limit closes that
/// client (no reply), a bulk longer than proto-max-bulk-len is a protocol
/// error; other clients are served throughout.
#[test]
fn query_buffer_and_bulk_limits_match_redis() {
    let limits = [
        "--client-query-buffer-limit",
        "1mb",
        "--proto-max-bulk-len",
        "2mb",
    ];
    let Some((redis, shardis)) = pair(&limits) else {
        return;
    };
    let mut bystander = shardis.conn();
    // 1.5 MiB pending: past the query buffer limit, within the bulk limit.
    let mut req = b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1572864\r\n".to_vec();
    req.resize(req.len() + 1536 * 1024, b'v');
    req.extend_from_slice(b"\r\n");
    let got = same_then_close(&redis, &shardis, &req, "past client-query-buffer-limit");
    assert_bytes!(got, b"");
    assert!(shardis
        .log_text()
        .contains("Closing client that reached max query buffer length"));
    let req = b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$2097153\r\n";
    let got = same_then_close(&redis, &shardis, req, "past proto-max-bulk-len");
    assert_bytes!(got, b"-ERR Protocol error: invalid bulk length\r\n");
    // Within both limits all is well.
    let value = vec![b'v'; 900 * 1024];
    assert_bytes!(shardis.conn().cmd(&[&b"SET"[..], b"k", &value]), b"+OK\r\n");
    assert_bytes!(bystander.line("PING"), b"+PONG\r\n");
}
