//! DUMP / RESTORE interoperability with a real redis-server 7.0: every
//! type and encoding dumped by Redis restores into Shardis with the same
//! content and encoding, and the reverse.

mod common;

use common::{bulk_items, bulk_payload, redis_available, Conn, Server};

/// A value's content in a canonical form (unordered types sorted), and
/// its encoding.
fn content(c: &mut Conn, key: &str) -> (Vec<Vec<u8>>, Vec<u8>) {
    let t = c.cmd(&["TYPE", key]);
    let mut v = match &t[..] {
        b"+string\r\n" => vec![bulk_payload(&c.cmd(&["GET", key]))],
        b"+list\r\n" => bulk_items(&c.cmd(&["LRANGE", key, "0", "-1"])),
        b"+zset\r\n" => bulk_items(&c.cmd(&["ZRANGE", key, "0", "-1", "WITHSCORES"])),
        b"+set\r\n" => {
            let mut v = bulk_items(&c.cmd(&["SMEMBERS", key]));
            v.sort();
            v
        }
        b"+hash\r\n" => {
            let flat = bulk_items(&c.cmd(&["HGETALL", key]));
            let mut pairs: Vec<Vec<u8>> = flat
                .chunks(2)
                .map(|p| [&p[0][..], b"=", &p[1][..]].concat())
                .collect();
            pairs.sort();
            pairs
        }
        other => panic!("{key}: unexpected TYPE {}", common::escape(other)),
    };
    v.insert(0, t);
    (v, c.cmd(&["OBJECT", "ENCODING", key]))
}

/// (key, setup command) for every type and encoding.
fn cases() -> Vec<(String, Vec<String>)> {
    let mut v: Vec<(String, Vec<String>)> = Vec::new();
    let mut add = |k: &str, args: Vec<String>| v.push((k.to_string(), args));
    let s = |x: &[&str]| x.iter().map(|a| a.to_string()).collect::<Vec<_>>();
    add("str_int", s(&["SET", "str_int", "-12345"]));
    add(
        "str_big_int",
        s(&["SET", "str_big_int", "9223372036854775807"]),
    );
    add("str_short", s(&["SET", "str_short", "hello"]));
    add("str_empty", s(&["SET", "str_empty", ""]));
    let long = "abc".repeat(200) + &"xyz".repeat(50);
    add("str_lzf", s(&["SET", "str_lzf", &long]));
    let bin: String = (0u8..=255).map(|b| (b % 128) as char).collect();
    add("str_bin", s(&["SET", "str_bin", &bin]));
    add(
        "list_small",
        s(&["RPUSH", "list_small", "a", "1", "-1", "1000", "hello"]),
    );
    let mut big = s(&["RPUSH", "list_big"]);
    big.extend((0..2000).map(|i| format!("element-{i}")));
    add("list_big", big);
    let mut bigv = s(&["RPUSH", "list_bigvals"]);
    bigv.extend((0..20).map(|i| format!("{i}-").repeat(400)));
    add("list_bigvals", bigv);
    add(
        "hash_lp",
        s(&["HSET", "hash_lp", "f1", "v1", "f2", "2", "f3", "-3.5"]),
    );
    let mut hb = s(&["HSET", "hash_ht"]);
    hb.extend((0..700).flat_map(|i| [format!("field{i}"), format!("value{i}")]));
    add("hash_ht", hb);
    add(
        "hash_long",
        s(&["HSET", "hash_long", "f", &"x".repeat(100), "g", "1"]),
    );
    add(
        "set_intset",
        s(&["SADD", "set_intset", "5", "-1", "70000", "5000000000"]),
    );
    add("set_ht", s(&["SADD", "set_ht", "a", "b", "c", "1"]));
    let mut si = s(&["SADD", "set_ht_ints"]);
    si.extend((0..700).map(|i| (i * 3).to_string()));
    add("set_ht_ints", si);
    add(
        "zset_lp",
        s(&[
            "ZADD", "zset_lp", "1", "a", "2.5", "b", "-3", "c", "inf", "d",
        ]),
    );
    let mut zb = s(&["ZADD", "zset_sl"]);
    zb.extend((0..300).flat_map(|i| [format!("{}", i as f64 / 3.0), format!("m{i}")]));
    add("zset_sl", zb);
    add(
        "zset_long",
        s(&["ZADD", "zset_long", "1", &"y".repeat(80), "-inf", "z"]),
    );
    v
}

fn transfer(from: &mut Conn, to: &mut Conn, key: &str, from_name: &str, to_name: &str) {
    let p = bulk_payload(&from.cmd(&["DUMP", key]));
    let r = to.cmd(&[&b"RESTORE"[..], key.as_bytes(), b"0", &p, b"REPLACE"]);
    assert_eq!(
        r,
        b"+OK\r\n",
        "{from_name} -> {to_name}: RESTORE {key}: {}",
        common::escape(&r)
    );
    let (a, ea) = content(from, key);
    let (b, eb) = content(to, key);
    assert!(a == b, "{from_name} -> {to_name}: {key}: content differs");
    assert_eq!(ea, eb, "{from_name} -> {to_name}: {key}: encoding");
}

#[test]
fn dump_restore_between_redis_and_shardis() {
    if !redis_available() {
        eprintln!("redis-server not installed: skipped");
        return;
    }
    let redis = Server::redis(&[]);
    let shardis = Server::shardis(2, &[]);
    let mut r = redis.conn();
    let mut s = shardis.conn();
    let all = cases();
    for (key, setup) in &all {
        let key = key.as_str();
        // Redis -> Shardis
        assert!(!r.cmd(setup).starts_with(b"-"), "setup {key}");
        transfer(&mut r, &mut s, key, "redis", "shardis");
        // Shardis -> Redis, from a value Shardis built itself.
        r.cmd(&["DEL", key]);
        s.cmd(&["DEL", key]);
        assert!(!s.cmd(setup).starts_with(b"-"), "setup {key}");
        transfer(&mut s, &mut r, key, "shardis", "redis");
    }
    eprintln!("{} values transferred both ways", all.len());
}
