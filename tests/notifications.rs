//! Keyspace notifications compared with redis-server: a subscriber on
//! `__key*__:*` watches while another connection runs a script; the
//! (channel, message) pairs it receives must be redis-server's. With
//! several shards, events of different keys may interleave differently,
//! so they are compared key by key (order within a key must match).

mod common;

use common::{bulk_items, escape, redis_available, Conn, Server};
use std::collections::BTreeMap;
use std::time::Duration;

type Event = (String, String);

/// Runs `script` (one command per line, split on spaces; `SLEEP ms`
/// pauses; `BG <command>` sends a command on a connection of its own
/// without waiting, e.g. to block) and returns the notifications the
/// subscriber got.
fn events(server: &Server, script: &[&str]) -> Vec<Event> {
    let mut sub = server.conn();
    sub.send(&["PSUBSCRIBE", "__key*__:*"]);
    let r = sub.read_reply();
    assert!(r.starts_with(b"*3\r\n"), "{}", escape(&r));
    let mut c: Conn = server.conn();
    let mut background = Vec::new();
    for line in script {
        let args: Vec<&str> = line.split(' ').collect();
        if args[0] == "BG" {
            let mut b = server.conn();
            b.send(&args[1..]);
            background.push(b);
            // Let it block before the next command.
            std::thread::sleep(Duration::from_millis(100));
            continue;
        }
        if args[0] == "SLEEP" {
            std::thread::sleep(Duration::from_millis(args[1].parse().unwrap()));
            continue;
        }
        c.cmd(&args);
    }
    sub.set_timeout(Duration::from_millis(400));
    let mut out = Vec::new();
    while let Ok(r) = sub.try_read_reply() {
        let items = bulk_items(&r);
        assert_eq!(items[0], b"pmessage", "{}", escape(&r));
        let s = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
        out.push((s(&items[2]), s(&items[3])));
    }
    out
}

/// Events grouped by the key they are about.
fn by_key(evs: &[Event]) -> BTreeMap<String, Vec<Event>> {
    let mut m: BTreeMap<String, Vec<Event>> = BTreeMap::new();
    for (ch, msg) in evs {
        let (db, rest) = ch.split_once("__:").unwrap();
        let key = if db.starts_with("__keyspace@") {
            format!("{db}:{rest}").replace("__keyspace@", "")
        } else {
            format!("{db}:{msg}").replace("__keyevent@", "")
        };
        m.entry(key).or_default().push((ch.clone(), msg.clone()));
    }
    m
}

fn check(extra: &[&str], script: &[&str]) {
    check_with(extra, script, false)
}

/// `per_key`: compare key by key even with one shard (the order in which
/// redis-server's active expiry visits keys is its hash table's).
fn check_with(extra: &[&str], script: &[&str], per_key: bool) {
    if !redis_available() {
        eprintln!("redis-server not available: skipped");
        return;
    }
    let expected = events(&Server::redis(extra), script);
    assert!(
        !expected.is_empty() || script.is_empty(),
        "redis sent nothing"
    );
    let one = events(&Server::shardis(1, extra), script);
    if per_key {
        assert_eq!(by_key(&one), by_key(&expected), "shards=1");
    } else {
        assert_eq!(one, expected, "shards=1");
    }
    let four = events(&Server::shardis(4, extra), script);
    assert_eq!(by_key(&four), by_key(&expected), "shards=4");
}

const KEA: &[&str] = &["--notify-keyspace-events", "KEA"];

#[test]
fn strings() {
    check(
        KEA,
        &[
            "SET s1 v",
            "SET s1 v2 EX 100",
            "SET s1 v3 KEEPTTL",
            "SET s1 v NX",
            "SET s2 v XX",
            "SETNX s2 v",
            "SETEX s3 100 v",
            "PSETEX s4 100000 v",
            "GETSET s1 w",
            "MSET m1 a m2 b",
            "MSETNX m3 a m4 b",
            "MSETNX m3 a m5 b",
            "INCR n1",
            "DECR n1",
            "INCRBY n1 5",
            "DECRBY n1 2",
            "INCRBYFLOAT f1 1.5",
            "INCR s1",
            "APPEND a1 x",
            "APPEND a1 y",
            "SETRANGE r1 2 xy",
            "SETRANGE r1 0 ",
            "SETRANGE r2 0 ",
            "GETDEL a1",
            "GETDEL nosuch",
            "GETEX r1 EX 100",
            "GETEX r1 PERSIST",
            "GETEX r1 PXAT 1",
            "SETBIT b1 3 1",
            "SETBIT b1 3 1",
            "SETBIT b1 3 0",
            "BITOP OR b2 b1 b1",
            "BITOP AND b2 nosuch",
            "PFADD p1 a b",
            "PFADD p1 a",
            "PFMERGE p2 p1",
        ],
    );
}

#[test]
fn generic() {
    check(
        KEA,
        &[
            "SET k1 v",
            "SET k2 v",
            "DEL k1 k2 k3",
            "SET k1 v",
            "EXPIRE k1 100",
            "PEXPIRE k1 100000",
            "EXPIREAT k1 99999999999",
            "PERSIST k1",
            "PERSIST k1",
            "EXPIRE k1 100 NX",
            "EXPIRE k1 -1",
            "SET k1 v",
            "RENAME k1 k2",
            "SET k3 v",
            "RENAME k2 k3",
            "RENAMENX k3 k4",
            "MOVE k4 2",
            "SET c1 v",
            "COPY c1 c2",
            "COPY c1 c2 REPLACE",
            "COPY c1 c3 DB 3",
            "UNLINK c1 c2",
        ],
    );
}

#[test]
fn expired_lazy_and_active() {
    check_with(
        KEA,
        &[
            "SET e1 v PX 30",
            "SET e2 v PX 30",
            "RPUSH e3 a",
            "PEXPIRE e3 30",
            "SLEEP 80",
            "GET e1",
            "SET e2 w",
            "SET e4 v PX 30",
            "SLEEP 600",
        ],
        true,
    );
}

#[test]
fn lists() {
    check(
        KEA,
        &[
            "LPUSH l1 a b c",
            "RPUSH l1 d e",
            "LPUSHX l1 z",
            "RPUSHX l1 y",
            "LPUSHX nol z",
            "LINSERT l1 BEFORE a q",
            "LINSERT l1 BEFORE nosuch q",
            "LSET l1 0 w",
            "LPOP l1",
            "RPOP l1 2",
            "LREM l1 1 a",
            "LREM l1 1 nosuch",
            "LTRIM l1 0 1",
            "LMOVE l1 l2 LEFT RIGHT",
            "RPOPLPUSH l1 l2",
            "RPOPLPUSH l2 l2",
            "LMPOP 2 l3 l2 LEFT COUNT 1",
            "LTRIM l2 1 0",
            "RPUSH l4 a",
            "LPOP l4",
        ],
    );
}

#[test]
fn hashes() {
    check(
        KEA,
        &[
            "HSET h1 a 1 b 2",
            "HMSET h1 c 3",
            "HSETNX h1 a 1",
            "HSETNX h1 d 4",
            "HINCRBY h1 a 5",
            "HINCRBYFLOAT h1 b 1.5",
            "HDEL h1 a nosuch",
            "HDEL h1 nosuch",
            "HDEL h1 b c d",
        ],
    );
}

#[test]
fn sets() {
    check(
        KEA,
        &[
            "SADD s1 a b c d",
            "SADD s1 a",
            "SREM s1 a nosuch",
            "SREM s1 nosuch",
            "SMOVE s1 s2 b",
            "SMOVE s1 s2 nosuch",
            "SPOP s1",
            "SPOP s1 5",
            "SADD s3 x y",
            "SADD s4 y z",
            "SINTERSTORE d1 s3 s4",
            "SUNIONSTORE d2 s3 s4",
            "SDIFFSTORE d3 s3 s4",
            "SINTERSTORE d1 s3 nosuch",
            "SREM s2 b",
        ],
    );
}

#[test]
fn zsets() {
    check(
        KEA,
        &[
            "ZADD z1 1 a 2 b 3 c 4 d",
            "ZADD z1 1 a",
            "ZADD z1 INCR 5 a",
            "ZINCRBY z1 1 b",
            "ZREM z1 a nosuch",
            "ZPOPMIN z1",
            "ZPOPMAX z1",
            "ZREM z1 d",
            "ZADD z1 GT CH 10 c",
            "ZADD z1 XX 1 nosuch",
            "ZADD z2 1 a 2 b 3 c 4 d 5 e",
            "ZREMRANGEBYSCORE z2 1 1",
            "ZREMRANGEBYRANK z2 0 0",
            "ZREMRANGEBYLEX z2 [x [z",
            "ZUNIONSTORE u1 2 z1 z2",
            "ZINTERSTORE u2 2 z1 z2",
            "ZDIFFSTORE u3 2 z2 z1",
            "ZRANGESTORE u4 z2 0 0",
            "ZINTERSTORE u1 2 z1 nosuch",
            "ZMPOP 2 nosuch z2 MIN COUNT 2",
            "ZPOPMAX z2 5",
            "ZPOPMIN z1 5",
        ],
    );
}

#[test]
fn flag_subsets_and_config_set() {
    check(
        &["--notify-keyspace-events", "Kl"],
        &[
            "SET a v",
            "LPUSH l a",
            "CONFIG SET notify-keyspace-events Ex",
            "LPUSH l b",
            "SET e v PX 20",
            "SLEEP 300",
            "CONFIG SET notify-keyspace-events KEg",
            "DEL l",
            "SET a v2",
            "CONFIG SET notify-keyspace-events KE$n",
            "SET new1 v",
            "SET new1 v2",
            "INCR new2",
            "CONFIG SET notify-keyspace-events AKn",
            "RPUSH newl a",
            "HSET newh a 1",
            "CONFIG SET notify-keyspace-events ",
            "SET quiet v",
        ],
    );
}

/// `new` events, also from commands whose keys live on different shards
/// (they run on one shard against a scratch keyspace).
#[test]
fn new_and_cross_shard() {
    check(
        &["--notify-keyspace-events", "KEAn"],
        &[
            "SET a1 v",
            "RENAME a1 b2",
            "RPUSH l1 x y",
            "LMOVE l1 l9 LEFT LEFT",
            "RPOPLPUSH l1 l8",
            "SADD s1 m",
            "SMOVE s1 s7 m",
            "SADD s2 p",
            "SUNIONSTORE s5 s2 s7",
            "COPY b2 c3",
            "ZADD z1 1 a",
            "ZUNIONSTORE z4 1 z1",
            "MSET x1 1 x2 2 x3 3",
            "DEL x1 x2 x3",
        ],
    );
}

#[test]
fn pops_served_to_blocked_clients() {
    check(
        KEA,
        &[
            "BG BLPOP bl1 0",
            "RPUSH bl1 a b",
            "BG BRPOP bl2 0",
            "LPUSH bl2 x",
            "BG BLMOVE src1 dst1 LEFT RIGHT 0",
            "RPUSH src1 v",
            "BG BRPOPLPUSH src2 src2 0",
            "RPUSH src2 w",
            "BG BZPOPMIN bz1 0",
            "ZADD bz1 1 a",
            "BG BZPOPMAX bz2 0",
            "ZADD bz2 1 a 2 b",
            "BG BLMPOP 0 1 bm1 LEFT COUNT 2",
            "RPUSH bm1 a b c",
        ],
    );
}

/// Runs `check_with` on owned script lines.
fn check_lines(extra: &[&str], script: &[String], per_key: bool) {
    let lines: Vec<&str> = script.iter().map(String::as_str).collect();
    check_with(extra, &lines, per_key)
}

const KEAN: &[&str] = &["--notify-keyspace-events", "KEAn"];

/// BITFIELD: one `setbit` per command that changed (or created or grew)
/// the string; GET-only forms and BITFIELD_RO signal nothing.
#[test]
fn bitfield() {
    check(
        KEAN,
        &[
            "BITFIELD b1 SET u8 0 5",
            "BITFIELD b1 SET u8 0 5",
            "BITFIELD b1 GET u8 0",
            "BITFIELD b1 OVERFLOW FAIL INCRBY u8 0 300",
            "BITFIELD b1 SET u8 100 0",
            "BITFIELD b1 INCRBY u8 0 0",
            "BITFIELD b1 INCRBY u8 0 1 INCRBY u8 0 1 GET u8 0",
            "BITFIELD b1 OVERFLOW SAT INCRBY u8 0 1000",
            "BITFIELD b1 OVERFLOW SAT INCRBY u8 0 1000",
            "BITFIELD_RO b1 GET u8 0",
            "BITFIELD b2 INCRBY i5 0 0",
            "BITFIELD b3 GET u8 0",
            "BITFIELD_RO b4 GET u8 0",
            "BITFIELD b5 OVERFLOW FAIL INCRBY u8 0 300",
            "BITFIELD b5 OVERFLOW FAIL INCRBY u8 0 300",
            "SET s1 ab",
            "BITFIELD s1 SET u8 0 97",
            "BITFIELD s1 SET u8 0 98",
            "LPUSH l1 a",
            "BITFIELD l1 SET u8 0 1",
            "SETBIT b1 0 1",
        ],
    );
}

/// SORT ... STORE: `sortstore` (a list event) for a stored result, `del`
/// when an empty result deletes the destination; SORT without STORE and
/// SORT_RO signal nothing. `l` alone, then `g` alone, show the classes.
#[test]
fn sort_store() {
    check(
        KEAN,
        &[
            "RPUSH l 3 1 2",
            "SORT l STORE d",
            "SORT l STORE d",
            "SORT l",
            "SORT_RO l",
            "SORT nosuch STORE d",
            "SORT nosuch STORE d",
            "SADD s b a",
            "SORT s ALPHA STORE d",
            "SORT l DESC LIMIT 0 1 STORE l",
            "SORT l LIMIT 5 1 STORE l",
            "ZADD z 1 x 2 y",
            "SORT z BY nosort STORE z",
            "SET w_x 9",
            "SET w_y 1",
            "SORT z BY w_* GET # GET w_* STORE d2",
            "SET str v",
            "SORT str STORE d",
            "CONFIG SET notify-keyspace-events KEl",
            "SORT s ALPHA STORE d",
            "SORT nosuch STORE d",
            "CONFIG SET notify-keyspace-events KEg",
            "SORT s ALPHA STORE d",
            "SORT nosuch STORE d",
        ],
    );
}

/// SORT ... STORE whose source, destination and BY/GET keys live on
/// different shards (the held path at 4 shards), an expired source
/// included; `m` also shows the pattern lookups that miss.
#[test]
fn sort_store_across_shards() {
    let k = common::keys_on_distinct_shards("so", 4, 4);
    let (src, dst, dst2, gone) = (&k[0], &k[1], &k[2], &k[3]);
    let script: Vec<String> = vec![
        format!("RPUSH {src} 3 1 2"),
        "SET w_1 30".into(),
        "SET w_2 20".into(),
        "SET w_3 10".into(),
        "SET v_2 b".into(),
        format!("SORT {src} BY w_* GET # GET v_* STORE {dst}"),
        format!("SORT {src} STORE {dst2}"),
        format!("SORT {src} BY w_* LIMIT 9 1 STORE {dst}"),
        format!("SORT {src} BY nosort STORE {dst}"),
        format!("RPUSH {gone} 1"),
        format!("PEXPIRE {gone} 30"),
        "SLEEP 80".into(),
        format!("SORT {gone} STORE {dst2}"),
        format!("SORT {gone} STORE {dst2}"),
    ];
    check_lines(&["--notify-keyspace-events", "KEAnm"], &script, false);
}

/// `keymiss` (class `m`, not part of `A`): read lookups that miss, as
/// redis-server signals them command by command; write lookups, OBJECT
/// and the like signal nothing.
#[test]
fn keymiss() {
    check(
        &["--notify-keyspace-events", "KEm"],
        &[
            "GET a",
            "MGET a b",
            "EXISTS a b",
            "TYPE a",
            "TTL a",
            "PTTL a",
            "EXPIRETIME a",
            "PEXPIRETIME a",
            "STRLEN a",
            "GETRANGE a 0 1",
            "SUBSTR a 0 1",
            "GETDEL a",
            "GETEX a",
            "HGET a f",
            "HMGET a f",
            "HGETALL a",
            "HLEN a",
            "HEXISTS a f",
            "HKEYS a",
            "HVALS a",
            "HSTRLEN a f",
            "HRANDFIELD a",
            "HSCAN a 0",
            "LRANGE a 0 -1",
            "LLEN a",
            "LINDEX a 0",
            "LPOS a x",
            "SMEMBERS a",
            "SCARD a",
            "SISMEMBER a x",
            "SMISMEMBER a x",
            "SRANDMEMBER a",
            "SSCAN a 0",
            "SINTER a b",
            "SUNION a b",
            "SDIFF a b",
            "SINTERCARD 2 a b",
            "ZSCORE a x",
            "ZMSCORE a x",
            "ZRANGE a 0 -1",
            "ZCARD a",
            "ZRANK a x",
            "ZREVRANK a x",
            "ZCOUNT a 0 1",
            "ZLEXCOUNT a - +",
            "ZRANGEBYSCORE a 0 1",
            "ZREVRANGEBYLEX a + -",
            "ZRANGEBYLEX a - +",
            "ZREVRANGE a 0 -1",
            "ZREVRANGEBYSCORE a 1 0",
            "ZSCAN a 0",
            "ZRANDMEMBER a",
            "ZUNION 2 a b",
            "ZINTER 2 a b",
            "ZDIFF 2 a b",
            "ZINTERCARD 2 a b",
            "OBJECT ENCODING a",
            "OBJECT FREQ a",
            "OBJECT IDLETIME a",
            "OBJECT REFCOUNT a",
            "DUMP a",
            "BITCOUNT a",
            "BITPOS a 1",
            "GETBIT a 0",
            "BITFIELD_RO a GET u8 0",
            "BITFIELD a GET u8 0",
            "PFCOUNT a b",
            "SORT a",
            "SORT_RO a",
            "LCS a b",
            "TOUCH a b",
            "RANDOMKEY",
            "KEYS *",
            "SCAN 0",
            "COPY a b",
            "RENAME a b",
            "MOVE a 1",
            "DEL a",
            "UNLINK a",
            "EXPIRE a 10",
            "PERSIST a",
            "SETRANGE a 0 x",
            "DEL a",
            "APPEND a x",
            "INCR a",
            "DEL a",
            "LPUSHX a x",
            "SREM a x",
            "ZREM a x",
            "HDEL a x",
            "LPOP a",
            "SPOP a",
            "ZPOPMIN a",
            "SMOVE a b x",
            "LMOVE a b LEFT LEFT",
            "SINTERSTORE d a b",
            "ZUNIONSTORE d 2 a b",
            "PFMERGE d a",
            "BITOP OR d a b",
            "SORT a STORE d",
            "ZRANGESTORE d a 0 -1",
            "SET a x GET",
            "DEL a",
            "GETSET a x",
            "SET a x GET",
            "DEL a",
            "LINSERT a BEFORE x y",
            "LREM a 0 x",
            "LTRIM a 0 1",
            "RPOPLPUSH a b",
            "LMPOP 1 a LEFT",
            "ZMPOP 1 a MIN",
            "BLPOP a 0.01",
            "HINCRBY a f 1",
            "HGET a nosuch",
            "HGET a f",
            "GET a",
            "EXISTS a",
            "DEL a",
            "PFADD a x",
            "PFCOUNT a",
            "DEL a",
            "MULTI",
            "GET a",
            "MGET a b",
            "EXISTS b",
            "EXEC",
            "SET w 1",
            "LRANGE w 0 -1",
            "HGET w f",
            "SMEMBERS w",
            "ZSCORE w x",
            "TTL w",
            "GET w",
            "DBSIZE",
        ],
    );
}

/// `keymiss` with lazy expiry (`expired` first), and read commands whose
/// keys live on different shards (split and gathered at 4 shards).
#[test]
fn keymiss_expired_and_across_shards() {
    let k = common::keys_on_distinct_shards("km", 4, 4);
    let (a, b, c, d) = (&k[0], &k[1], &k[2], &k[3]);
    let script: Vec<String> = vec![
        format!("SET {a} v PX 30"),
        format!("SADD {b} x"),
        "SLEEP 80".into(),
        format!("GET {a}"),
        format!("MGET {a} {b} {c} {d}"),
        format!("EXISTS {a} {b} {c} {d}"),
        format!("TOUCH {a} {b} {c}"),
        format!("SUNION {b} {c} {d}"),
        format!("SINTER {c} {b}"),
        format!("SINTERCARD 3 {b} {c} {d}"),
        format!("SDIFF {b} {d}"),
        format!("ZUNION 2 {c} {d}"),
        format!("PFCOUNT {c} {d}"),
        format!("LCS {c} {d}"),
        format!("SINTERSTORE {a} {b} {c}"),
        format!("SUNIONSTORE {a} {b} {c}"),
        format!("PFMERGE {c} {d}"),
        format!("COPY {d} {c}"),
        format!("SET {d} v PX 30"),
        "SLEEP 80".into(),
        format!("MGET {d} {b}"),
        format!("SET {c} v PX 30"),
        "SLEEP 80".into(),
        format!("SUNION {c} {b}"),
    ];
    check_lines(&["--notify-keyspace-events", "KEAm"], &script, false);
}

/// Keys a command finds already expired signal `expired`, also when the
/// command's keys live on different shards (gathered at 4 shards).
#[test]
fn expired_found_by_multi_key_commands() {
    let k = common::keys_on_distinct_shards("ex", 4, 4);
    let (a, b, c, d) = (&k[0], &k[1], &k[2], &k[3]);
    let script: Vec<String> = vec![
        format!("SET {a} v PX 30"),
        format!("SET {b} v"),
        format!("SET {c} v PX 30"),
        format!("SADD {d} x"),
        "SLEEP 80".into(),
        format!("RENAME {a} {b}"),
        format!("MSETNX {c} 1 {a} 2"),
        format!("SET {a} v PX 30"),
        format!("SET {c} v PX 30"),
        "SLEEP 80".into(),
        format!("COPY {b} {a}"),
        format!("SUNIONSTORE {b} {d} {c}"),
        format!("RPUSH {a} x"),
        format!("RPUSH {c} y"),
        format!("PEXPIRE {c} 30"),
        "SLEEP 80".into(),
        format!("LMOVE {a} {c} LEFT RIGHT"),
        format!("SET {a} v PX 30"),
        format!("SET {b} v PX 30"),
        "SLEEP 80".into(),
        format!("MSET {a} 1 {b} 2"),
        format!("SET {c} v PX 30"),
        "SLEEP 80".into(),
        format!("DEL {c} {d}"),
    ];
    // hz 1: the keys are mostly found by the commands, not active expiry
    // (either way, each key's events are the same).
    check_lines(
        &["--notify-keyspace-events", "KEA", "--hz", "1"],
        &script,
        true,
    );
}

/// SCAN deletes the expired keys it meets (`expired`, whether SCAN or
/// active expiry gets there first). Not covered: SCAN … TYPE's `keymiss`
/// for such a key, which only shows when SCAN beats active expiry (a race
/// in both servers; shardis has no DEBUG SET-ACTIVE-EXPIRE).
#[test]
fn scan_expired() {
    check_with(
        &["--notify-keyspace-events", "KEAm"],
        &[
            "SET e1 v PX 30",
            "SET e2 v PX 30",
            "SET k v",
            "SLEEP 80",
            "SCAN 0 COUNT 100",
            "SCAN 0 TYPE string COUNT 100",
            "SCAN 0 TYPE list COUNT 100",
        ],
        true,
    );
}
