//! Big values freed in the background (UNLINK, FLUSHALL/FLUSHDB ASYNC,
//! lazyfree-lazy-user-del/flush), counted in INFO as Redis 7.0 counts
//! them; the memory comes back while the shard goes on serving.

mod common;

use common::{bulk_payload, redis_available, Conn, Server};
use std::time::{Duration, Instant};

fn info(c: &mut Conn, field: &str) -> u64 {
    let text = String::from_utf8(bulk_payload(&c.cmd(&["INFO", "all"]))).unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .unwrap_or_else(|| panic!("no {field}"))
        .trim()
        .parse()
        .unwrap()
}

fn fill_set(c: &mut Conn, key: &str, n: usize) {
    for chunk in (0..n).collect::<Vec<_>>().chunks(10_000) {
        let mut args = vec!["SADD".to_string(), key.to_string()];
        args.extend(chunk.iter().map(|i| format!("member:{i}")));
        c.cmd(&args);
    }
}

fn settled(c: &mut Conn) -> u64 {
    let deadline = Instant::now() + Duration::from_secs(10);
    while info(c, "lazyfree_pending_objects") != 0 {
        assert!(Instant::now() < deadline, "lazyfree never finished");
        std::thread::sleep(Duration::from_millis(20));
    }
    info(c, "lazyfreed_objects")
}

/// The same sequence on both servers gives the same lazyfreed_objects.
#[test]
fn lazyfree_counts_match_redis() {
    if !redis_available() {
        return;
    }
    let redis = Server::redis(&[]);
    for shards in [1, 4] {
        let shardis = Server::shardis(shards, &[]);
        let run = |s: &Server| {
            let mut c = s.conn();
            let mut seen = Vec::new();
            c.line("CONFIG RESETSTAT");
            fill_set(&mut c, "big", 100_000);
            c.line("SET small v");
            c.line("SADD tiny a b c");
            c.line("UNLINK big small tiny");
            seen.push(settled(&mut c));
            fill_set(&mut c, "big", 1000);
            c.line("DEL big");
            seen.push(settled(&mut c));
            c.line("CONFIG SET lazyfree-lazy-user-del yes");
            fill_set(&mut c, "big", 1000);
            c.line("DEL big");
            seen.push(settled(&mut c));
            c.line("CONFIG SET lazyfree-lazy-user-del no");
            c.line("MSET a 1 b 2 c 3");
            c.line("FLUSHALL ASYNC");
            seen.push(settled(&mut c));
            c.line("CONFIG RESETSTAT");
            seen.push(settled(&mut c));
            seen
        };
        assert_eq!(run(&shardis), run(&redis), "shards={shards}");
    }
}

/// UNLINK gives the memory of a big set back (Redis's lazyfree unit).
#[test]
fn unlink_reclaims_memory_in_the_background() {
    let shardis = Server::shardis(1, &[]);
    let mut c = shardis.conn();
    // The database's slot tables are allocated at its first write.
    c.line("SET warm v");
    let orig = info(&mut c, "used_memory");
    fill_set(&mut c, "myset", 100_000);
    let peak = info(&mut c, "used_memory");
    assert!(peak > orig + 1_000_000, "{orig} -> {peak}");
    assert_eq!(c.line("UNLINK myset"), b":1\r\n");
    settled(&mut c);
    let after = info(&mut c, "used_memory");
    // Most of the set's memory is back (buffers the fill left in the
    // shard's pools stay: they are not the set's).
    assert!(
        after < orig + (peak - orig) / 4,
        "{orig} -> {peak} -> {after}"
    );
}

/// A 100,000-argument SADD sent and freed on one connection leaves
/// neither the set nor the connection's parse tables behind (Redis's
/// lazyfree unit sends it as one command and checks within 1 MB).
#[test]
fn one_huge_command_leaves_no_memory_behind() {
    for shards in [1, 4] {
        let shardis = Server::shardis(shards, &[]);
        let mut c = shardis.conn();
        c.line("SET warm v");
        let orig = info(&mut c, "used_memory");
        let mut args = vec!["SADD".to_string(), "myset".to_string()];
        args.extend((0..100_000).map(|i| format!("member:{i}")));
        assert_eq!(c.cmd(&args), b":100000\r\n");
        assert_eq!(c.line("UNLINK myset"), b":1\r\n");
        settled(&mut c);
        let after = info(&mut c, "used_memory");
        assert!(
            after < orig + 1_000_000,
            "shards={shards}: {orig} -> {after}"
        );
    }
}
