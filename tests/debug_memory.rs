//! DEBUG, MEMORY and the directives Redis's test suite sets
//! (tests/assets/default.conf): gating by enable-debug-command, DEBUG
//! RELOAD keeping the data, DEBUG DIGEST equal to redis-server's, MEMORY
//! USAGE following the value's size, config-file loading.

mod common;

use common::{bulk_payload, free_port, redis_available, write_file, Conn, Server, TempDir};
use std::time::{Duration, Instant};

const DEBUG_REFUSED: &[u8] = b"-ERR DEBUG command not allowed. If the enable-debug-command option is set to \"local\", you can run it from a local connection, otherwise you need to set this option in the configuration file, and then restart the server.\r\n";

fn int(reply: &[u8]) -> i64 {
    assert_eq!(reply[0], b':', "{}", String::from_utf8_lossy(reply));
    std::str::from_utf8(&reply[1..reply.len() - 2])
        .unwrap()
        .parse()
        .unwrap()
}

/// Keys of every type, the same on any server.
fn fill(c: &mut Conn) {
    for line in [
        "RPUSH l a b 1 2",
        "SADD s a b c 1",
        "SADD si 1 2 3",
        "HSET h f v g 2",
        "ZADD z 1.5 a 2 b",
        "SET k hello",
        "EXPIRE k 1000",
        "SET n 123",
        "SELECT 3",
        "SET other x",
        "SELECT 0",
    ] {
        c.line(line);
    }
}

#[test]
fn debug_is_gated_like_redis() {
    let off = Server::shardis(2, &[]);
    let mut c = off.conn();
    assert_eq!(c.line("DEBUG SLEEP 0"), DEBUG_REFUSED);
    // Arity is checked first, as Redis does.
    assert!(c
        .line("DEBUG")
        .starts_with(b"-ERR wrong number of arguments"));
    let r = c.line("MODULE LOAD /nonexistent.so");
    assert!(r.starts_with(b"-ERR MODULE command not allowed."), "{r:?}");
    assert_eq!(c.line("MODULE LIST"), b"*0\r\n");
    let r = c.line("CONFIG SET dbfilename x.rdb");
    assert!(r.ends_with(b"- can't set protected config\r\n"), "{r:?}");

    // The test client connects from 127.0.0.1: "local" allows it.
    for mode in ["yes", "local"] {
        let on = Server::shardis(
            2,
            &[
                "--enable-debug-command",
                mode,
                "--enable-module-command",
                mode,
                "--enable-protected-configs",
                mode,
            ],
        );
        let mut c = on.conn();
        assert_eq!(c.line("DEBUG SLEEP 0"), b"+OK\r\n", "{mode}");
        assert_eq!(
            c.line("MODULE LOAD /nonexistent.so"),
            b"-ERR Error loading the extension. Please check the server logs.\r\n"
        );
        assert_eq!(c.line("CONFIG SET dbfilename x.rdb"), b"+OK\r\n");
        assert_eq!(
            c.line("CONFIG GET dbfilename"),
            b"*2\r\n$10\r\ndbfilename\r\n$5\r\nx.rdb\r\n"
        );
    }
}

#[test]
fn debug_reload_keeps_the_data() {
    let s = Server::shardis(4, &["--enable-debug-command", "yes"]);
    let mut c = s.conn();
    fill(&mut c);
    let before = c.line("DEBUG DIGEST");
    assert_ne!(
        before,
        b"+0000000000000000000000000000000000000000\r\n".to_vec()
    );
    let keys = c.line("DBSIZE");
    assert_eq!(c.line("DEBUG RELOAD"), b"+OK\r\n");
    assert_eq!(c.line("DEBUG DIGEST"), before);
    assert_eq!(c.line("DBSIZE"), keys);
    assert_eq!(c.line("TTL k")[0], b':');
    assert!(int(&c.line("TTL k")) > 0);
    // NOSAVE reloads the file as it was: later writes are gone.
    c.line("SET later 1");
    assert_eq!(c.line("DEBUG RELOAD NOSAVE"), b"+OK\r\n");
    assert_eq!(c.line("EXISTS later"), b":0\r\n");
    // NOFLUSH keeps keys the file does not have.
    c.line("SET later 1");
    assert_eq!(c.line("DEBUG RELOAD NOSAVE NOFLUSH MERGE"), b"+OK\r\n");
    assert_eq!(c.line("EXISTS later"), b":1\r\n");
    assert_eq!(
        c.line("DEBUG RELOAD FOO"),
        b"-ERR DEBUG RELOAD only supports the MERGE, NOFLUSH and NOSAVE options.\r\n"
    );
    // POPULATE adds what is missing only.
    assert_eq!(c.line("DEBUG POPULATE 100 pop 20"), b"+OK\r\n");
    assert_eq!(int(&c.line("STRLEN pop:7")), 20);
    let n = int(&c.line("DBSIZE"));
    c.line("DEBUG POPULATE 100 pop");
    assert_eq!(int(&c.line("DBSIZE")), n);
}

#[test]
fn debug_digest_matches_redis() {
    if !redis_available() {
        return;
    }
    let s = Server::shardis(4, &["--enable-debug-command", "yes"]);
    let r = Server::redis(&["--enable-debug-command", "yes"]);
    let (mut a, mut b) = (s.conn(), r.conn());
    for line in ["DEBUG DIGEST", "DEBUG DIGEST-VALUE l"] {
        assert_eq!(a.line(line), b.line(line), "{line} (empty)");
    }
    fill(&mut a);
    fill(&mut b);
    // Infinite scores are digested as C's %.17g spells them.
    for c in [&mut a, &mut b] {
        c.line("ZADD zinf inf a -inf b 1.5 c");
    }
    for line in [
        "DEBUG DIGEST-VALUE zinf",
        "DEBUG DIGEST",
        "DEBUG DIGEST-VALUE l s si h z k n missing",
        "DEBUG OBJECT missing",
        "DEBUG LISTPACK h",
        "DEBUG QUICKLIST h",
        "DEBUG HTSTATS-KEY z",
        "DEBUG PROTOCOL map",
        "DEBUG PROTOCOL bignum",
        "DEBUG ERROR \"my error\"",
        "DEBUG NOSUCH",
    ] {
        assert_eq!(a.line(line), b.line(line), "{line}");
    }
}

#[test]
fn memory_usage_grows_with_the_value() {
    let s = Server::shardis(2, &[]);
    let mut c = s.conn();
    assert_eq!(c.line("MEMORY USAGE nokey"), b"$-1\r\n");
    c.line("SET k x");
    let small = int(&c.line("MEMORY USAGE k"));
    c.cmd(&[&b"SET"[..], b"k", &vec![b'v'; 10_000]]);
    let big = int(&c.line("MEMORY USAGE k SAMPLES 0"));
    assert!(big >= small + 10_000, "{small} -> {big}");
    for i in 0..200 {
        c.line(&format!("RPUSH l element-{i}"));
    }
    let list = int(&c.line("MEMORY USAGE l"));
    assert!(list > 200 * 9, "{list}");
    assert_eq!(
        c.line("MEMORY USAGE k SAMPLES -1"),
        b"-ERR syntax error\r\n"
    );
    let stats = c.line("MEMORY STATS");
    let text = String::from_utf8_lossy(&stats);
    assert!(text.contains("$10\r\nkeys.count\r\n:2\r\n"), "{text}");
    assert!(text.contains("$4\r\ndb.0\r\n"), "{text}");
}

/// INFO memory's allocator and fragmentation figures as redis-server
/// built with libc malloc reports them: allocated is used_memory, active
/// and resident the RSS, so mem_fragmentation_ratio is RSS / used (they
/// were constants, 1.00 and 0, whatever the process held).
#[test]
fn fragmentation_figures_follow_rss_and_used_memory() {
    let s = Server::shardis(1, &[]);
    let mut c = s.conn();
    c.cmd(&[&b"SET"[..], b"k", &vec![b'v'; 100_000]]);
    let info = String::from_utf8(c.line("INFO memory")).unwrap();
    let field = |name: &str| -> String {
        info.lines()
            .find_map(|l| l.strip_prefix(&format!("{name}:")))
            .unwrap_or_else(|| panic!("no {name} in {info}"))
            .to_string()
    };
    let num = |name: &str| -> i64 { field(name).parse().unwrap() };
    let (used, rss) = (num("used_memory"), num("used_memory_rss"));
    assert_ne!(used, rss, "{info}");
    assert_eq!(num("allocator_allocated"), used);
    assert_eq!(num("allocator_active"), rss);
    assert_eq!(num("allocator_resident"), rss);
    let ratio = format!("{:.2}", rss as f64 / used as f64);
    assert_eq!(field("mem_fragmentation_ratio"), ratio, "{info}");
    assert_eq!(num("mem_fragmentation_bytes"), rss - used);
    assert_eq!(field("allocator_frag_ratio"), ratio);
    assert_eq!(num("allocator_frag_bytes"), (rss - used).max(0));
    assert_eq!(field("allocator_rss_ratio"), "1.00");
    assert_eq!(num("allocator_rss_bytes"), 0);
    assert_eq!(field("rss_overhead_ratio"), "1.00");
    // MEMORY STATS reads the same figures.
    let stats = String::from_utf8_lossy(&c.line("MEMORY STATS")).to_string();
    let after = |name: &str| -> &str {
        let at = stats
            .find(&format!("\r\n{name}\r\n"))
            .unwrap_or_else(|| panic!("{name}: {stats}"));
        stats[at + name.len() + 4..].split("\r\n").next().unwrap()
    };
    let active: i64 = after("allocator.active")[1..].parse().unwrap();
    let allocated: i64 = after("allocator.allocated")[1..].parse().unwrap();
    assert_ne!(active, allocated, "{stats}");
    assert_eq!(
        after("allocator-fragmentation.bytes"),
        format!(":{}", active - allocated)
    );
    assert_eq!(after("allocator-rss.bytes"), ":0");
}

/// INFO's used_memory_overhead / _startup / _dataset split used_memory
/// as Redis's getMemoryOverheadData does (they were 0, 0 and all of
/// it): the keyspace's tables count as overhead, so keys grow it.
#[test]
fn overhead_and_dataset_split_used_memory() {
    let s = Server::shardis(2, &[]);
    let mut c = s.conn();
    let read = |c: &mut Conn| -> std::collections::HashMap<String, String> {
        let info = String::from_utf8(c.line("INFO memory")).unwrap();
        info.lines()
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    };
    let num = |m: &std::collections::HashMap<String, String>, k: &str| -> u64 {
        m.get(k)
            .unwrap_or_else(|| panic!("no {k}"))
            .parse()
            .unwrap()
    };
    let before = read(&mut c);
    let startup = num(&before, "used_memory_startup");
    assert!(startup > 0, "{before:?}");
    for i in 0..20 {
        let mut args: Vec<Vec<u8>> = vec![b"MSET".to_vec()];
        for j in 0..100 {
            args.push(format!("{{t{j}}}key:{i}:{j}").into_bytes());
            args.push(b"value".to_vec());
        }
        let refs: Vec<&[u8]> = args.iter().map(|a| a.as_slice()).collect();
        assert_eq!(c.cmd(&refs), b"+OK\r\n");
    }
    let after = read(&mut c);
    let (used, overhead) = (
        num(&after, "used_memory"),
        num(&after, "used_memory_overhead"),
    );
    assert_eq!(num(&after, "used_memory_startup"), startup);
    assert!(
        overhead > num(&before, "used_memory_overhead"),
        "{before:?} {after:?}"
    );
    assert!(overhead >= startup);
    let dataset = num(&after, "used_memory_dataset");
    assert_eq!(dataset, used - overhead);
    let perc = format!("{:.2}%", dataset as f64 * 100.0 / (used - startup) as f64);
    assert_eq!(after["used_memory_dataset_perc"], perc);
    let stats = String::from_utf8_lossy(&c.line("MEMORY STATS")).to_string();
    assert!(
        stats.contains(&format!("$17\r\nstartup.allocated\r\n:{startup}\r\n")),
        "{stats}"
    );
    // Clients count without maxmemory-clients too, on every shard.
    let one = num(&after, "mem_clients_normal");
    assert!(one > 0, "{after:?}");
    let mut others: Vec<Conn> = (0..8).map(|_| s.conn()).collect();
    for o in &mut others {
        assert_eq!(o.line("PING"), b"+PONG\r\n");
    }
    let many = num(&read(&mut c), "mem_clients_normal");
    assert!(many > one, "{one} -> {many}");
    drop(others);
}

#[test]
fn default_conf_directives_load_from_a_file() {
    let dir = TempDir::new("default-conf");
    let port = free_port();
    let conf = write_file(
        &dir.0,
        "test.conf",
        &format!(
            "port {port}\nbind 127.0.0.1\ndir {}\nsave \"\"\nalways-show-logo yes\n\
             enable-protected-configs yes\nenable-debug-command local\nenable-module-command yes\n\
             propagation-error-behavior panic\nlua-time-limit 7000\nkey-load-delay 5\n\
             rdb-key-save-delay 10\nloading-process-events-interval-bytes 4096\n",
            dir.0.display()
        ),
    );
    let s = Server::shardis_raw("conf", &[conf.display().to_string()], port)
        .expect("shardis refused the test directives");
    let mut c = s.conn();
    for (name, value) in [
        ("always-show-logo", "yes"),
        ("enable-protected-configs", "yes"),
        ("enable-debug-command", "local"),
        ("enable-module-command", "yes"),
        ("propagation-error-behavior", "panic"),
        ("busy-reply-threshold", "7000"),
        ("lua-time-limit", "7000"),
        ("key-load-delay", "5"),
        ("rdb-key-save-delay", "10"),
        ("loading-process-events-interval-bytes", "4096"),
    ] {
        let want = format!(
            "*2\r\n${}\r\n{name}\r\n${}\r\n{value}\r\n",
            name.len(),
            value.len()
        );
        assert_eq!(
            String::from_utf8_lossy(&c.line(&format!("CONFIG GET {name}"))),
            want
        );
    }
    // Test-only directives are hidden from patterns, as in Redis.
    assert_eq!(c.line("CONFIG GET *key-*-delay"), b"*0\r\n");
    let r = c.line("CONFIG SET enable-debug-command yes");
    assert!(r.ends_with(b"- can't set immutable config\r\n"), "{r:?}");
    assert_eq!(c.line("DEBUG SLEEP 0"), b"+OK\r\n");
    // rdb-key-save-delay keeps a BGSAVE running: 200 keys x 10 ms.
    c.line("CONFIG SET rdb-key-save-delay 10000");
    c.line("DEBUG POPULATE 200");
    assert_eq!(c.line("BGSAVE"), b"+Background saving started\r\n");
    std::thread::sleep(Duration::from_millis(300));
    let info = bulk_payload(&c.line("INFO persistence"));
    let info = String::from_utf8_lossy(&info);
    assert!(info.contains("rdb_bgsave_in_progress:1"), "{info}");
    c.line("CONFIG SET rdb-key-save-delay 0");
    let t = Instant::now();
    while String::from_utf8_lossy(&bulk_payload(&c.line("INFO persistence")))
        .contains("rdb_bgsave_in_progress:1")
    {
        assert!(t.elapsed() < Duration::from_secs(10), "BGSAVE never ended");
        std::thread::sleep(Duration::from_millis(50));
    }
}
