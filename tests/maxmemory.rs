//! `maxmemory` and eviction (shards 1 and 4): the process stays near its
//! limit while writes go on, approximated LRU keeps recently used keys,
//! volatile policies spare keys without a TTL, noeviction refuses
//! memory-growing commands with Redis's OOM error and recovers after a
//! DEL, and every eviction is an `evicted` keyspace event and a DEL in the
//! AOF (a restart without the limit finds the same keys).
//! OOM reply bytes and the LFU counter are in tests/cases/maxmemory.txt.

mod common;

use common::{encode, redis_client, Conn, Server, TempDir};
use std::time::{Duration, Instant};

const VALUE: usize = 100;

fn info_u64(c: &mut redis::Connection, section: &str, field: &str) -> u64 {
    let text: String = redis::cmd("INFO").arg(section).query(c).unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .unwrap_or_else(|| panic!("no {field} in INFO {section}"))
        .trim()
        .parse()
        .unwrap()
}

fn config_set(c: &mut redis::Connection, name: &str, value: &str) {
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg(name)
        .arg(value)
        .query(c)
        .unwrap();
}

/// Sets maxmemory to what the server uses now plus `headroom` bytes.
fn limit_to(c: &mut redis::Connection, headroom: u64) -> u64 {
    let limit = info_u64(c, "memory", "used_memory") + headroom;
    config_set(c, "maxmemory", &limit.to_string());
    limit
}

/// SETs `prefix:0..n` (pipelined, 1000 per round trip, on a raw
/// connection so that each error reply is seen); answers the errors.
fn fill(port: u16, prefix: &str, n: usize, ttl: Option<u64>) -> Vec<String> {
    let mut conn = Conn::connect(port);
    let value = "v".repeat(VALUE);
    let mut errors = Vec::new();
    for start in (0..n).step_by(1000) {
        let end = (start + 1000).min(n);
        let mut bytes = Vec::new();
        for i in start..end {
            let key = format!("{prefix}:{i}");
            let secs = ttl.map(|t| t.to_string());
            let mut args = vec!["SET", &key, &value];
            if let Some(secs) = &secs {
                args.extend(["EX", secs]);
            }
            bytes.extend(encode(&args));
        }
        conn.send_raw(&bytes);
        for reply in conn.read_replies(end - start) {
            if reply.first() == Some(&b'-') {
                errors.push(String::from_utf8_lossy(&reply).trim_end().to_string());
            }
        }
    }
    errors
}

/// How many of `prefix:0..n` exist.
fn present(c: &mut redis::Connection, prefix: &str, n: usize) -> usize {
    let keys: Vec<String> = (0..n).map(|i| format!("{prefix}:{i}")).collect();
    keys.chunks(1000)
        .map(|chunk| {
            let mut cmd = redis::cmd("EXISTS");
            for k in chunk {
                cmd.arg(k);
            }
            cmd.query::<usize>(c).unwrap()
        })
        .sum()
}

fn touch_all(c: &mut redis::Connection, prefix: &str, n: usize) {
    let mut pipe = redis::pipe();
    for i in 0..n {
        pipe.cmd("GET").arg(format!("{prefix}:{i}")).ignore();
    }
    let _: () = pipe.query(c).unwrap();
}

/// allkeys-lru: keys idle longest go first; keys read all along stay;
/// the process stays close to its limit; every key written and gone was
/// counted as evicted.
#[test]
fn lru_evicts_idle_keys_first_and_holds_the_limit() {
    for shards in [1, 4] {
        let server = Server::shardis(shards, &["--maxmemory-policy", "allkeys-lru"]);
        let mut c = redis_client(server.port);
        let (old, hot, filler) = (40_000, 2_000, 160_000);
        let empty = info_u64(&mut c, "memory", "used_memory");
        assert!(fill(server.port, "old", old, None).is_empty());
        // Room for about twice the old keys: the fillers then evict far
        // more keys than there are old ones, whatever a key costs.
        let old_bytes = info_u64(&mut c, "memory", "used_memory").saturating_sub(empty);
        let limit = limit_to(&mut c, old_bytes);
        assert_eq!(
            info_u64(&mut c, "stats", "evicted_keys"),
            0,
            "shards {shards}: no eviction yet"
        );
        // The LRU clock counts seconds: let the old keys age.
        std::thread::sleep(Duration::from_millis(2100));
        assert!(fill(server.port, "hot", hot, None).is_empty());
        // Each round's fillers are a second older than the hot keys when
        // the next round evicts (LRU idle time has a 1 s resolution).
        for round in 0..(filler / 20_000) {
            std::thread::sleep(Duration::from_millis(1100));
            touch_all(&mut c, "hot", hot);
            let errors = fill(server.port, &format!("fill{round}"), 20_000, None);
            assert!(errors.is_empty(), "shards {shards}: {errors:?}");
        }
        let used = info_u64(&mut c, "memory", "used_memory");
        assert!(
            used <= limit + limit / 10,
            "shards {shards}: used {used} > limit {limit} + 10%"
        );
        let evicted = info_u64(&mut c, "stats", "evicted_keys");
        let dbsize: u64 = redis::cmd("DBSIZE").query(&mut c).unwrap();
        assert_eq!(
            evicted + dbsize,
            (old + hot + filler) as u64,
            "shards {shards}: every key is either there or counted evicted"
        );
        assert!(evicted > 50_000, "shards {shards}: only {evicted} evicted");
        let old_left = present(&mut c, "old", old);
        let hot_left = present(&mut c, "hot", hot);
        assert!(
            hot_left * 100 >= hot * 95,
            "shards {shards}: hot keys left {hot_left}/{hot}"
        );
        assert!(
            old_left * 100 <= old * 5,
            "shards {shards}: old keys left {old_left}/{old}"
        );
    }
}

/// volatile-lru evicts only keys with a TTL; with none left, writes get
/// the OOM error.
#[test]
fn volatile_policy_spares_keys_without_ttl() {
    for shards in [1, 4] {
        let server = Server::shardis(shards, &["--maxmemory-policy", "volatile-lru"]);
        let mut c = redis_client(server.port);
        limit_to(&mut c, 16 << 20);
        let persistent = 20_000;
        assert!(fill(server.port, "keep", persistent, None).is_empty());
        let errors = fill(server.port, "ttl", 100_000, Some(3600));
        assert!(errors.is_empty(), "shards {shards}: {errors:?}");
        assert!(info_u64(&mut c, "stats", "evicted_keys") > 10_000);
        assert_eq!(
            present(&mut c, "keep", persistent),
            persistent,
            "shards {shards}"
        );
        // Only keys without a TTL now: nothing may go, writes are refused.
        let mut errors = Vec::new();
        for round in 0..100 {
            errors = fill(server.port, &format!("more{round}"), 2_000, None);
            if !errors.is_empty() {
                break;
            }
        }
        assert!(
            errors
                .iter()
                .any(|e| e.contains("OOM command not allowed when used memory > 'maxmemory'")),
            "shards {shards}: no OOM: {errors:?}"
        );
        assert_eq!(
            present(&mut c, "keep", persistent),
            persistent,
            "shards {shards}"
        );
    }
}

/// noeviction: writes are refused once over, reads and DEL go on, and
/// writes work again once DEL made room. A multi-shard MSET is refused
/// whole.
#[test]
fn noeviction_refuses_writes_until_room_is_made() {
    for shards in [1, 4] {
        let server = Server::shardis(shards, &[]);
        let mut c = redis_client(server.port);
        limit_to(&mut c, 8 << 20);
        let mut written = 0;
        let errors = loop {
            let errors = fill(server.port, &format!("k{written}"), 2_000, None);
            written += 1;
            if !errors.is_empty() || written > 200 {
                break errors;
            }
        };
        assert!(
            errors.iter().all(|e| e.contains("OOM")),
            "shards {shards}: {errors:?}"
        );
        assert!(!errors.is_empty(), "shards {shards}: never refused");
        assert_eq!(info_u64(&mut c, "stats", "evicted_keys"), 0);
        // Well over from here on (the refused batch's buffers are gone).
        let used = info_u64(&mut c, "memory", "used_memory");
        config_set(&mut c, "maxmemory", &(used - (1 << 20)).to_string());
        let r: redis::RedisResult<()> = redis::cmd("MSET")
            .arg("{a}1")
            .arg("x")
            .arg("{b}2")
            .arg("y")
            .query(&mut c);
        assert!(r.is_err(), "shards {shards}: MSET over the limit");
        let n: usize = redis::cmd("EXISTS")
            .arg("{a}1")
            .arg("{b}2")
            .query(&mut c)
            .unwrap();
        assert_eq!(n, 0, "shards {shards}: a refused MSET wrote nothing");
        let got: Option<String> = redis::cmd("GET").arg("k0:0").query(&mut c).unwrap();
        assert!(got.is_some(), "shards {shards}: reads still served");
        let _: () = redis::cmd("FLUSHALL").query(&mut c).unwrap();
        assert!(
            fill(server.port, "after", 1000, None).is_empty(),
            "shards {shards}: room again"
        );
    }
}

/// Each eviction is an `evicted` event and a DEL in the AOF: restarted
/// without a limit, the server finds exactly the keys that were left.
#[test]
fn evictions_are_events_and_aof_deletes() {
    for shards in [1, 4] {
        let dir = TempDir::new("maxmemory-aof");
        let d = dir.0.to_str().unwrap();
        let args = [
            "--appendonly",
            "yes",
            "--dir",
            d,
            "--maxmemory-policy",
            "allkeys-random",
            "--notify-keyspace-events",
            "Ee",
        ];
        let server = Server::shardis(shards, &args);
        let mut sub = redis_client(server.port);
        let mut pubsub = sub.as_pubsub();
        pubsub.subscribe("__keyevent@0__:evicted").unwrap();
        pubsub
            .set_read_timeout(Some(Duration::from_millis(500)))
            .unwrap();
        let mut c = redis_client(server.port);
        limit_to(&mut c, 12 << 20);
        assert!(fill(server.port, "k", 120_000, None).is_empty());
        let evicted = info_u64(&mut c, "stats", "evicted_keys");
        assert!(evicted > 10_000, "shards {shards}: {evicted} evicted");
        let mut events = 0u64;
        let deadline = Instant::now() + Duration::from_secs(20);
        while events < evicted && Instant::now() < deadline {
            match pubsub.get_message() {
                Ok(m) => {
                    let key: String = m.get_payload().unwrap();
                    assert!(key.starts_with("k:"), "{key}");
                    events += 1;
                }
                Err(e) if e.is_timeout() => {}
                Err(e) => panic!("{e}"),
            }
        }
        assert_eq!(
            events, evicted,
            "shards {shards}: one event per evicted key"
        );
        let before: u64 = redis::cmd("DBSIZE").query(&mut c).unwrap();
        drop(pubsub);
        drop(server);
        let server = Server::shardis(shards, &["--appendonly", "yes", "--dir", d]);
        let mut c = redis_client(server.port);
        let after: u64 = redis::cmd("DBSIZE").query(&mut c).unwrap();
        assert_eq!(
            after, before,
            "shards {shards}: the AOF deleted what was evicted"
        );
    }
}

/// Used memory from INFO over a raw connection.
fn used_memory(c: &mut Conn) -> u64 {
    let text = String::from_utf8(common::bulk_payload(&c.cmd(&["INFO", "memory"]))).unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix("used_memory:"))
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

/// unit/tracking "invalidation message of eviction keys should be before
/// response": a limit 100 kB above used memory, a tracked volatile key,
/// then a 200 kB key. The first key written costs no more than itself (a
/// database's slot tables are not counted), and the command that evicts
/// the tracked key has its invalidation before its reply, as in Redis
/// (1 shard: at 4 the key may live on a shard other than the command's).
#[test]
fn eviction_invalidation_comes_before_the_reply() {
    let srv = Server::shardis(1, &[]);
    let mut c = srv.conn();
    c.cmd(&["SELECT", "9"]);
    let limit = used_memory(&mut c) + 100 * 1024;
    c.cmd(&["HELLO", "3"]);
    assert_eq!(c.cmd(&["CLIENT", "TRACKING", "on"]), b"+OK\r\n");
    let limit = limit.to_string();
    assert_eq!(c.cmd(&["CONFIG", "SET", "maxmemory", &limit]), b"+OK\r\n");
    c.cmd(&["CONFIG", "SET", "maxmemory-policy", "volatile-random"]);
    assert_eq!(c.cmd(&["SETEX", "volatile-key", "10000", "x"]), b"+OK\r\n");
    assert_eq!(c.cmd(&["GET", "volatile-key"]), b"$1\r\nx\r\n");
    assert_eq!(c.cmd(&["SETBIT", "big-key", "1600000", "0"]), b":0\r\n");
    c.send(&["GETBIT", "big-key", "0"]);
    let first = c.read_reply();
    assert_eq!(
        first,
        b">2\r\n$10\r\ninvalidate\r\n*1\r\n$12\r\nvolatile-key\r\n",
        "{}",
        common::escape(&first)
    );
    assert_eq!(c.read_reply(), b":0\r\n");
}

/// Redis's suite, "maxmemory - is the memory limit honoured?": with 100
/// KB of headroom, keys in as many slots as keys (one small table each)
/// up to the limit, then as many again: every write succeeds (evicting
/// a slot's last key frees its table) and INFO's used_memory stays
/// within 4 KB of the limit (the copies INFO makes of every shard's
/// figures are not counted).
#[test]
fn limit_holds_with_one_key_per_slot() {
    for shards in [1, 4] {
        for policy in ["allkeys-random", "allkeys-lru", "volatile-ttl"] {
            let srv = Server::shardis(shards, &[]);
            let mut c = redis_client(srv.port);
            let limit = limit_to(&mut c, 100 * 1024);
            config_set(&mut c, "maxmemory-policy", policy);
            let mut n = 0u64;
            let key = |c: &mut redis::Connection, i: u64| {
                let r: redis::RedisResult<()> = redis::cmd("SETEX")
                    .arg(format!("key:{}", i.wrapping_mul(2654435761)))
                    .arg(10000)
                    .arg("x")
                    .query(c);
                r.unwrap_or_else(|e| panic!("shards {shards} {policy}: {e}"));
            };
            while info_u64(&mut c, "memory", "used_memory") + 4096 <= limit {
                key(&mut c, n);
                n += 1;
            }
            assert!(n > 10, "shards {shards} {policy}: {n} keys");
            for i in n..2 * n {
                key(&mut c, i);
            }
            let used = info_u64(&mut c, "memory", "used_memory");
            assert!(
                used < limit + 4096,
                "shards {shards} {policy}: used {used}, limit {limit}"
            );
        }
    }
}

/// Redis's suite, "slave buffer are counted correctly": what a stopped
/// replica has not taken (the replication buffer beyond the backlog) is
/// left out of `maxmemory`, as Redis's freeMemoryGetNotCountedMemory
/// does: with 512 KB of headroom the master takes megabytes of writes and
/// keeps every key, and INFO shows that buffer as `mem_clients_slaves`
/// and `mem_not_counted_for_evict`.
#[test]
fn a_lagging_replicas_buffer_evicts_no_key() {
    for shards in [1, 4] {
        let master = Server::shardis(shards, &[]);
        let replica = Server::shardis(1, &[]);
        let mut m = redis_client(master.port);
        for j in 0..100 {
            let _: i64 = redis::cmd("SETRANGE")
                .arg(format!("key:{j}"))
                .arg(100_000)
                .arg("asdf")
                .query(&mut m)
                .unwrap();
        }
        config_set(&mut m, "maxmemory-policy", "allkeys-random");
        config_set(
            &mut m,
            "client-output-buffer-limit",
            "replica 100000000 100000000 300",
        );
        config_set(&mut m, "repl-backlog-size", "10240");
        let mut r = redis_client(replica.port);
        let _: () = redis::cmd("REPLICAOF")
            .arg("127.0.0.1")
            .arg(master.port)
            .query(&mut r)
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let info: String = redis::cmd("INFO").arg("replication").query(&mut m).unwrap();
            if info.contains("state=online") {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "shards {shards}: replica never online"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        // Headroom well under the megabytes the stopped replica will hold
        // (and over the per-thread drift of the allocation count).
        limit_to(&mut m, 512 * 1024);
        // SAFETY: signalling a child process we started.
        unsafe { libc::kill(replica.pid() as i32, libc::SIGSTOP) };
        let payload = "A".repeat(1000);
        for _ in 0..5000 {
            let _: i64 = redis::cmd("SETRANGE")
                .arg("key:0")
                .arg(0)
                .arg(&payload)
                .query(&mut m)
                .unwrap_or_else(|e| panic!("shards {shards}: {e}"));
        }
        let dbsize: i64 = redis::cmd("DBSIZE").query(&mut m).unwrap();
        let replicas = info_u64(&mut m, "memory", "mem_clients_slaves");
        let not_counted = info_u64(&mut m, "memory", "mem_not_counted_for_evict");
        unsafe { libc::kill(replica.pid() as i32, libc::SIGCONT) };
        assert_eq!(dbsize, 100, "shards {shards}: keys were evicted");
        assert!(
            replicas > 1 << 20,
            "shards {shards}: mem_clients_slaves {replicas}"
        );
        assert!(
            not_counted >= replicas,
            "shards {shards}: {not_counted} < {replicas}"
        );
    }
}

/// A CONFIG SET maxmemory queued in MULTI takes effect after EXEC: the
/// commands queued after it run, as in Redis (memory is checked for
/// EXEC as a whole, not for each command it runs).
#[test]
fn maxmemory_set_inside_multi_refuses_nothing_in_that_exec() {
    for shards in [1, 4] {
        let shardis = Server::shardis(shards, &[]);
        let mut c = shardis.conn();
        assert_eq!(
            c.line("CONFIG SET maxmemory-policy allkeys-lru"),
            b"+OK\r\n"
        );
        assert_eq!(c.line("MULTI"), b"+OK\r\n");
        for cmd in ["INCR x", "CONFIG SET maxmemory 1", "INCR x"] {
            assert_eq!(c.line(cmd), b"+QUEUED\r\n");
        }
        assert_eq!(
            c.line("EXEC"),
            b"*3\r\n:1\r\n+OK\r\n:2\r\n",
            "shards={shards}"
        );
    }
}

/// Output waiting for a client counts in `used_memory`, and under
/// `maxmemory-clients` the clients holding it go before any key: readers
/// of MGET replies they never read, subscribers that never read.
#[test]
fn clients_output_is_evicted_before_keys() {
    for subscribers in [false, true] {
        let shardis = Server::shardis(1, &[]);
        let mut c = shardis.conn();
        assert_eq!(c.line("CONFIG SET maxmemory 11mb"), b"+OK\r\n");
        assert_eq!(
            c.line("CONFIG SET maxmemory-policy allkeys-lru"),
            b"+OK\r\n"
        );
        assert_eq!(c.line("CONFIG SET maxmemory-clients 3mb"), b"+OK\r\n");
        assert_eq!(c.line("CLIENT NO-EVICT on"), b"+OK\r\n");
        for j in 0..50 {
            assert_eq!(c.line(&format!("SETRANGE {j} 100000 x")), b":100001\r\n");
        }
        let mut readers: Vec<Conn> = (0..20).map(|_| shardis.conn()).collect();
        if subscribers {
            for r in &mut readers {
                r.send(&["SUBSCRIBE", "bla"]);
                r.read_reply();
            }
        }
        let evicted = |c: &mut Conn, what: &str| -> u64 {
            let info = String::from_utf8_lossy(&c.line("INFO stats")).to_string();
            info.lines()
                .find_map(|l| l.strip_prefix(&format!("evicted_{what}:")))
                .and_then(|v| v.trim().parse().ok())
                .unwrap()
        };
        let message = vec![b'x'; 100_000];
        let start = Instant::now();
        while evicted(&mut c, "clients") == 0 {
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "no client evicted"
            );
            if subscribers {
                c.cmd(&[&b"PUBLISH"[..], b"bla", &message]);
            } else {
                for r in &mut readers {
                    let _ = std::io::Write::write_all(&mut r.stream, b"MGET 1\r\n");
                }
            }
        }
        assert_eq!(evicted(&mut c, "keys"), 0, "subscribers: {subscribers}");
        assert_eq!(c.line("DBSIZE"), b":50\r\n");
    }
}
