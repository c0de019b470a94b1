//! The client port under crafted and mutated input (issue 24's net).
//!
//! Each case is a byte string sent on a fresh connection, which is then
//! half-closed; everything the server sends until it closes is the case's
//! outcome. Cases are generated from a seed: valid requests (RESP and
//! inline, a safe command set), the same mutated (flipped, inserted,
//! deleted and duplicated bytes; NULs, high bytes, quotes, CR/LF),
//! crafted headers (huge, negative and malformed lengths, nested
//! aggregates, RESP3 types sent by a client), pipelines cut mid-frame,
//! and HELLO variants. Every outcome is compared byte for byte with
//! redis-server 7.0's for the same case (HELLO's reply names the server
//! and a client id, so those are only checked to be well-formed RESP).
//! After each batch the server must be alive, a bystander connection must
//! be served, and RSS must stay within a bound.
//!
//! `SHARDIS_FUZZ_CASES=N` changes the number of cases per shard count,
//! `SHARDIS_FUZZ_SEED=S` the seed.

mod common;

use common::{encode, escape, escape_short, redis_available, rss_kib, Server};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::time::Duration;

const BATCH: usize = 250;
/// Bound on RSS growth over the whole run.
const RSS_BOUND_KIB: u64 = 64 * 1024;

/// Commands whose replies are deterministic and whose arguments cannot
/// make either server allocate much (no SETRANGE / SETBIT offsets).
const COMMANDS: &[(&str, usize)] = &[
    ("PING", 0),
    ("ECHO", 1),
    ("SET", 2),
    ("GET", 1),
    ("DEL", 2),
    ("EXISTS", 3),
    ("RPUSH", 3),
    ("LRANGE", 3),
    ("INCR", 1),
    ("APPEND", 2),
    ("STRLEN", 1),
    ("MGET", 3),
    ("MSET", 4),
    ("TYPE", 1),
    ("GETRANGE", 3),
    ("SADD", 3),
    ("SCARD", 1),
    ("HSET", 3),
    ("HGET", 2),
];

/// Bytes that matter to the parsers.
const SPECIAL: &[u8] = b"*$\r\n\x00\xff\x80\"'\\x -:+%~#,(_>!=|0123456789";

fn pick<T: Copy>(rng: &mut StdRng, items: &[T]) -> T {
    items[rng.gen_range(0..items.len())]
}

fn word(rng: &mut StdRng) -> Vec<u8> {
    let words: &[&[u8]] = &[
        b"k1",
        b"k2",
        b"{t}a",
        b"{t}b",
        b"l",
        b"h",
        b"s",
        b"0",
        b"1",
        b"-1",
        b"10",
        b"v",
        b"",
        b"9223372036854775807",
        b"a b",
        b"x\x00y",
        b"\xc3\xa9",
    ];
    pick(rng, words).to_vec()
}

fn valid_args(rng: &mut StdRng) -> Vec<Vec<u8>> {
    let (name, n) = pick(rng, COMMANDS);
    let mut args = vec![name.as_bytes().to_vec()];
    if rng.gen_bool(0.5) {
        args[0] = args[0].to_ascii_lowercase();
    }
    // Mostly the usual arity, sometimes one more or less.
    let n = match rng.gen_range(0..10) {
        0 => n.saturating_sub(1),
        1 => n + 1,
        _ => n,
    };
    for _ in 0..n {
        args.push(word(rng));
    }
    args
}

/// One argument as redis-cli would write it on an inline line, with a
/// random quoting style.
fn inline_arg(rng: &mut StdRng, a: &[u8]) -> Vec<u8> {
    let plain = !a.is_empty()
        && a.iter()
            .all(|&c| c.is_ascii_graphic() && !b"\"'\\".contains(&c));
    match rng.gen_range(0..3) {
        0 if plain => a.to_vec(),
        1 if !a.contains(&b'\'') && !a.contains(&0) => {
            let mut v = vec![b'\''];
            v.extend_from_slice(a);
            v.push(b'\'');
            v
        }
        _ => {
            let mut v = vec![b'"'];
            for &c in a {
                if c.is_ascii_graphic() && c != b'"' && c != b'\\' || c == b' ' {
                    v.push(c);
                } else {
                    v.extend_from_slice(format!("\\x{c:02x}").as_bytes());
                }
            }
            v.push(b'"');
            v
        }
    }
}

fn inline(rng: &mut StdRng, args: &[Vec<u8>]) -> Vec<u8> {
    let mut line = Vec::new();
    for (i, a) in args.iter().enumerate() {
        if i > 0 {
            line.push(b' ');
        }
        line.extend(inline_arg(rng, a));
    }
    line.extend_from_slice(if rng.gen_bool(0.5) { b"\r\n" } else { b"\n" });
    line
}

fn valid_request(rng: &mut StdRng) -> Vec<u8> {
    let args = valid_args(rng);
    if rng.gen_bool(0.7) {
        encode(&args)
    } else {
        inline(rng, &args)
    }
}

fn mutate(rng: &mut StdRng, mut v: Vec<u8>) -> Vec<u8> {
    for _ in 0..rng.gen_range(1..4) {
        let at = rng.gen_range(0..=v.len());
        match rng.gen_range(0..5) {
            0 if at < v.len() => v[at] = pick(rng, SPECIAL),
            1 => v.insert(at, pick(rng, SPECIAL)),
            2 if at < v.len() => {
                v.remove(at);
            }
            3 => v.truncate(at),
            _ => {
                let end = rng.gen_range(at..=v.len());
                let piece = v[at..end].to_vec();
                v.splice(at..at, piece);
            }
        }
    }
    v
}

fn crafted(rng: &mut StdRng) -> Vec<u8> {
    let counts: &[&[u8]] = &[
        b"-1",
        b"0",
        b"1",
        b"3",
        b"10",
        b"11",
        b"2147483647",
        b"2147483648",
        b"-2147483649",
        b"9223372036854775807",
        b"99999999999999999999999",
        b"abc",
        b"",
        b"+1",
        b"01",
        b" 1",
        b"1 ",
    ];
    let mut v = Vec::new();
    match rng.gen_range(0..6) {
        // A multibulk count alone, or followed by arguments.
        0 => {
            v.push(b'*');
            v.extend_from_slice(pick(rng, counts));
            v.extend_from_slice(b"\r\n");
            for _ in 0..rng.gen_range(0..3) {
                v.extend_from_slice(b"$4\r\nPING\r\n");
            }
        }
        // A bulk length claim with a little data behind it.
        1 => {
            v.extend_from_slice(b"*2\r\n$4\r\nECHO\r\n$");
            v.extend_from_slice(pick(rng, counts));
            v.extend_from_slice(b"\r\n");
            let n = rng.gen_range(0..64);
            v.extend(std::iter::repeat_n(b'd', n));
        }
        // Nested aggregates and RESP3 types from a client.
        2 => {
            let prefixes: &[&[u8]] = &[
                b"*1\r\n*1\r\n$4\r\nPING\r\n",
                b"%1\r\n+a\r\n+b\r\n",
                b"~1\r\n$1\r\na\r\n",
                b"#t\r\n",
                b",1.5\r\n",
                b"(12345678901234567890\r\n",
                b"_\r\n",
                b">2\r\n$1\r\na\r\n$1\r\nb\r\n",
                b"=5\r\ntxt:a\r\n",
                b"|1\r\n+k\r\n+v\r\n",
                b"*1\r\n:1\r\n",
                b"*1\r\n+PING\r\n",
                b"*2\r\n$4\r\nECHO\r\n*1\r\n$1\r\na\r\n",
            ];
            v.extend_from_slice(pick(rng, prefixes));
        }
        // NULs and high bytes in inline and bulk form.
        3 => {
            let bytes: Vec<u8> = (0..rng.gen_range(1..12))
                .map(|_| pick(rng, b"\x00\xff\x80\x01 aZ\"'\\\t\x0b\x0c"))
                .collect();
            if rng.gen_bool(0.5) {
                v.extend_from_slice(b"ECHO ");
                v.extend_from_slice(&bytes);
                v.extend_from_slice(b"\r\n");
            } else {
                v = encode(&[b"ECHO".to_vec(), bytes]);
            }
        }
        // A pipeline cut mid-frame.
        4 => {
            for _ in 0..rng.gen_range(2..6) {
                v.extend(valid_request(rng));
            }
            let cut = rng.gen_range(0..=v.len());
            v.truncate(cut);
        }
        // Whole random bytes from the parser's alphabet.
        _ => {
            v = (0..rng.gen_range(1..24))
                .map(|_| pick(rng, SPECIAL))
                .collect();
        }
    }
    v
}

fn hello(rng: &mut StdRng) -> Vec<u8> {
    let variants: &[&[&str]] = &[
        &["HELLO"],
        &["HELLO", "2"],
        &["HELLO", "3"],
        &["HELLO", "4"],
        &["HELLO", "1"],
        &["HELLO", "abc"],
        &["HELLO", "3", "AUTH", "default", "x"],
        &["HELLO", "3", "SETNAME", "fuzzer"],
        &["HELLO", "3", "SETNAME", "a b"],
        &["HELLO", "2", "AUTH"],
    ];
    let mut v = encode(pick(rng, variants));
    // Something after it, read with the protocol HELLO chose.
    v.extend(valid_request(rng));
    v
}

fn case(rng: &mut StdRng) -> Vec<u8> {
    match rng.gen_range(0..10) {
        0..=2 => valid_request(rng),
        3..=5 => {
            let v = valid_request(rng);
            mutate(rng, v)
        }
        6..=8 => crafted(rng),
        _ => hello(rng),
    }
}

/// Sends `bytes` on a fresh connection, half-closes it and returns what
/// arrives until the server closes.
fn outcome(server: &Server, bytes: &[u8]) -> Vec<u8> {
    let mut c = server.conn();
    c.send_raw(bytes);
    let _ = c.stream.shutdown(std::net::Shutdown::Write);
    c.read_until_closed(Duration::from_secs(10))
}

/// True when `bytes` is a sequence of complete RESP replies.
fn well_formed(bytes: &[u8]) -> bool {
    let mut rest = bytes;
    while !rest.is_empty() {
        match shardis::resp::reply_len(rest) {
            Some(n) => rest = &rest[n..],
            None => return false,
        }
    }
    true
}

fn run(shards: usize) {
    let cases: usize = std::env::var("SHARDIS_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2000);
    let seed: u64 = std::env::var("SHARDIS_FUZZ_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(24);
    let redis = Server::redis(&[]);
    let shardis = Server::shardis(shards, &[]);
    let pid = shardis.pid();
    let base = rss_kib(pid);
    let mut peak = base;
    let mut bystander = shardis.conn();
    let mut rng = StdRng::seed_from_u64(seed ^ shards as u64);
    let mut compared = 0;
    for i in 0..cases {
        let bytes = case(&mut rng);
        // Both servers get every case, so their keyspaces stay alike.
        let got = outcome(&shardis, &bytes);
        let want = outcome(&redis, &bytes);
        if bytes.windows(5).any(|w| w.eq_ignore_ascii_case(b"hello")) {
            assert!(
                well_formed(&got),
                "shards={shards} case {i}: malformed reply {} to {}",
                escape(&got),
                escape(&bytes)
            );
        } else {
            assert_eq!(
                escape(&got),
                escape(&want),
                "shards={shards} case {i} (seed {seed}): shardis (left) and redis-server \
                 (right) differ on {}",
                escape_short(&bytes, 300)
            );
            compared += 1;
        }
        if (i + 1) % BATCH == 0 || i + 1 == cases {
            let pong = bystander.cmd(&["PING"]);
            assert_eq!(
                pong, b"+PONG\r\n",
                "shards={shards}: bystander after case {i}"
            );
            let rss = rss_kib(pid);
            peak = peak.max(rss);
            assert!(
                rss < base + RSS_BOUND_KIB,
                "shards={shards}: RSS {base} -> {rss} KiB after {} cases",
                i + 1
            );
        }
    }
    eprintln!(
        "fuzz_port shards={shards}: {cases} cases (seed {seed}), {compared} compared with \
         redis-server byte for byte; RSS {base} KiB at start, peak {peak} KiB"
    );
}

#[test]
fn crafted_and_mutated_requests_shards_1() {
    if redis_available() {
        run(1);
    }
}

#[test]
fn crafted_and_mutated_requests_shards_4() {
    if redis_available() {
        run(4);
    }
}
