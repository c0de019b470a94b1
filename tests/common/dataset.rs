//! A server's whole dataset in a comparable form, for tests that check
//! that data survived a file round trip (RDB, AOF) between servers.

use super::{bulk_items, bulk_payload, Conn};
use std::collections::BTreeMap;

/// What a key holds, comparable across servers: TYPE, content (unordered
/// types sorted), OBJECT ENCODING, and whether / roughly how long it lives.
#[derive(Debug, PartialEq)]
pub struct KeyState {
    pub content: Vec<Vec<u8>>,
    pub encoding: Vec<u8>,
    pub ttl_bucket: i64,
}

pub fn key_state(c: &mut Conn, key: &[u8]) -> KeyState {
    let t = c.cmd(&[&b"TYPE"[..], key]);
    let cmd = |c: &mut Conn, args: &[&[u8]]| {
        let mut a: Vec<&[u8]> = vec![args[0], key];
        a.extend_from_slice(&args[1..]);
        c.cmd(&a)
    };
    let mut content = match &t[..] {
        b"+string\r\n" => vec![bulk_payload(&cmd(c, &[b"GET"]))],
        b"+list\r\n" => bulk_items(&cmd(c, &[b"LRANGE", b"0", b"-1"])),
        b"+zset\r\n" => bulk_items(&cmd(c, &[b"ZRANGE", b"0", b"-1", b"WITHSCORES"])),
        b"+set\r\n" => {
            let mut v = bulk_items(&cmd(c, &[b"SMEMBERS"]));
            v.sort();
            v
        }
        b"+hash\r\n" => {
            let flat = bulk_items(&cmd(c, &[b"HGETALL"]));
            let mut v: Vec<Vec<u8>> = flat
                .chunks(2)
                .map(|p| [&p[0][..], b"=", &p[1][..]].concat())
                .collect();
            v.sort();
            v
        }
        other => panic!("unexpected TYPE {}", super::escape(other)),
    };
    content.insert(0, t);
    let pttl = cmd(c, &[b"PTTL"]);
    let pttl: i64 = std::str::from_utf8(&pttl[1..pttl.len() - 2])
        .unwrap()
        .parse()
        .unwrap();
    KeyState {
        content,
        encoding: c.cmd(&[&b"OBJECT"[..], b"ENCODING", key]),
        // TTLs are set in whole hours below: compare the hour.
        ttl_bucket: if pttl < 0 {
            pttl
        } else {
            (pttl + 1_800_000) / 3_600_000
        },
    }
}

/// Every key of every database.
pub fn snapshot(c: &mut Conn) -> BTreeMap<(usize, Vec<u8>), KeyState> {
    let mut out = BTreeMap::new();
    for db in 0..16 {
        assert_eq!(c.cmd(&["SELECT", &db.to_string()]), b"+OK\r\n");
        for k in bulk_items(&c.cmd(&["KEYS", "*"])) {
            let st = key_state(c, &k);
            out.insert((db, k), st);
        }
    }
    c.cmd(&["SELECT", "0"]);
    out
}
