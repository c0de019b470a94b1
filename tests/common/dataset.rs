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
    let content =
        key_content(c, key).unwrap_or_else(|| panic!("key {} vanished", super::escape(key)));
    let pttl = pttl(c, key);
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

/// TYPE then the content (unordered types sorted; a stream as its raw
/// XRANGE reply); None if the key does not exist (any more).
pub fn key_content(c: &mut Conn, key: &[u8]) -> Option<Vec<Vec<u8>>> {
    let t = c.cmd(&[&b"TYPE"[..], key]);
    let cmd = |c: &mut Conn, args: &[&[u8]]| {
        let mut a: Vec<&[u8]> = vec![args[0], key];
        a.extend_from_slice(&args[1..]);
        c.cmd(&a)
    };
    let mut content = match &t[..] {
        b"+none\r\n" => return None,
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
        b"+stream\r\n" => vec![cmd(c, &[b"XRANGE", b"-", b"+"])],
        other => panic!("unexpected TYPE {}", super::escape(other)),
    };
    content.insert(0, t);
    Some(content)
}

/// PTTL: milliseconds left, -1 without a TTL, -2 for no key.
pub fn pttl(c: &mut Conn, key: &[u8]) -> i64 {
    let r = c.cmd(&[&b"PTTL"[..], key]);
    std::str::from_utf8(&r[1..r.len() - 2])
        .unwrap()
        .parse()
        .unwrap_or_else(|_| panic!("PTTL replied {}", super::escape(&r)))
}

/// Calls `f` with the connection SELECTed to each of the 16 databases and
/// every key KEYS lists there; ends in database 0.
fn each_key(c: &mut Conn, mut f: impl FnMut(&mut Conn, usize, Vec<u8>)) {
    for db in 0..16 {
        assert_eq!(c.cmd(&["SELECT", &db.to_string()]), b"+OK\r\n");
        for k in bulk_items(&c.cmd(&["KEYS", "*"])) {
            f(c, db, k);
        }
    }
    c.cmd(&["SELECT", "0"]);
}

/// What replication and the AOF must carry of a key: its type and
/// content, and its TTL (compared as present or absent only).
#[derive(Clone, Debug)]
pub struct KeyValue {
    pub content: Vec<Vec<u8>>,
    /// Milliseconds left when read, -1 without a TTL.
    pub pttl: i64,
}

impl PartialEq for KeyValue {
    fn eq(&self, other: &KeyValue) -> bool {
        self.content == other.content && (self.pttl >= 0) == (other.pttl >= 0)
    }
}

/// Every key of every database with its [`KeyValue`]; keys that expire
/// between KEYS and the read are left out.
pub fn values(c: &mut Conn) -> BTreeMap<(usize, Vec<u8>), KeyValue> {
    let mut out = BTreeMap::new();
    each_key(c, |c, db, k| {
        if let Some(content) = key_content(c, &k) {
            let pttl = pttl(c, &k);
            out.insert((db, k), KeyValue { content, pttl });
        }
    });
    out
}

/// Every key of every database.
pub fn snapshot(c: &mut Conn) -> BTreeMap<(usize, Vec<u8>), KeyState> {
    let mut out = BTreeMap::new();
    each_key(c, |c, db, k| {
        let st = key_state(c, &k);
        out.insert((db, k), st);
    });
    out
}
