//! BGSAVE without fork (1 and 4 shards): the file is the keyspace at the
//! instant BGSAVE answered even while every key is overwritten, deleted,
//! renamed across shards or flushed right after; requests are served
//! while it runs; redis-check-rdb accepts the file and redis-server 7.0
//! loads the same data; `save` rules save by themselves; a failed save
//! refuses writes with Redis's MISCONF error until a save succeeds;
//! SHUTDOWN and SIGTERM save when rules are set.

mod common;

use common::{bulk_items, bulk_payload, encode, redis_available, Conn, Server, TempDir};
use std::path::Path;
use std::time::{Duration, Instant};

const MISCONF: &[u8] = b"-MISCONF Redis is configured to save RDB snapshots, but it's currently unable to persist to disk. Commands that may modify the data set are disabled, because this instance is configured to report errors during writes if RDB snapshotting fails (stop-writes-on-bgsave-error option). Please check the Redis logs for details about the RDB error.\r\n";

fn info_field(c: &mut Conn, field: &str) -> String {
    let text = String::from_utf8(bulk_payload(&c.cmd(&["INFO", "persistence"]))).unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")).map(str::to_string))
        .unwrap_or_else(|| panic!("no {field} in INFO"))
}

/// Waits until no BGSAVE runs; returns `rdb_last_bgsave_status`.
fn wait_bgsave_done(c: &mut Conn) -> String {
    let deadline = Instant::now() + Duration::from_secs(60);
    while info_field(c, "rdb_bgsave_in_progress") != "0" {
        assert!(Instant::now() < deadline, "BGSAVE still running after 60 s");
        std::thread::sleep(Duration::from_millis(20));
    }
    info_field(c, "rdb_last_bgsave_status")
}

/// Sends `cmds` pipelined in batches, checking each reply with `ok`.
fn pipeline(c: &mut Conn, cmds: &[Vec<Vec<u8>>], ok: impl Fn(&[u8]) -> bool) {
    for batch in cmds.chunks(1000) {
        let mut bytes = Vec::new();
        for cmd in batch {
            bytes.extend_from_slice(&encode(cmd));
        }
        c.send_raw(&bytes);
        for (cmd, reply) in batch.iter().zip(c.read_replies(batch.len())) {
            assert!(
                ok(&reply),
                "{:?}: {}",
                String::from_utf8_lossy(&cmd[0]),
                common::escape(&reply)
            );
        }
    }
}

fn args(parts: &[&str]) -> Vec<Vec<u8>> {
    parts.iter().map(|p| p.as_bytes().to_vec()).collect()
}

/// Key `i`: `k:<i>` spread over every slot, or with `Tags::Few`
/// `{t<i%3>}k:<i>`, three slots of tens of thousands of keys each (a
/// snapshot writes such a slot over many slices, a write to it midway
/// finishing it first).
#[derive(Clone, Copy, Debug)]
enum Tags {
    None,
    Few,
}

fn key(tags: Tags, i: usize) -> String {
    match tags {
        Tags::None => format!("k:{i}"),
        Tags::Few => format!("{{t{}}}k:{i}", i % 3),
    }
}

/// Sets key `i` to `old-<i>` for i in 0..n.
fn fill(c: &mut Conn, n: usize) {
    fill_keys(c, n, Tags::None)
}

fn fill_keys(c: &mut Conn, n: usize, tags: Tags) {
    let cmds: Vec<_> = (0..n)
        .map(|i| args(&["SET", &key(tags, i), &format!("old-{i}")]))
        .collect();
    pipeline(c, &cmds, |r| r == b"+OK\r\n");
}

fn copy_dump(from: &Path, to: &Path) {
    std::fs::copy(from.join("dump.rdb"), to.join("dump.rdb")).expect("copy dump.rdb");
}

/// Checks that the server on `c` holds exactly `k:<i>` = `old-<i>`.
fn assert_old_state(c: &mut Conn, n: usize, label: &str) {
    assert_old_keys(c, n, Tags::None, label)
}

fn assert_old_keys(c: &mut Conn, n: usize, tags: Tags, label: &str) {
    assert_eq!(
        c.cmd(&["DBSIZE"]),
        format!(":{n}\r\n").into_bytes(),
        "{label}"
    );
    for start in (0..n).step_by(1000) {
        let keys: Vec<String> = (start..(start + 1000).min(n))
            .map(|i| key(tags, i))
            .collect();
        let mut cmd = vec!["MGET".to_string()];
        cmd.extend(keys.iter().cloned());
        let got = bulk_items(&c.cmd(&cmd));
        for (i, v) in (start..).zip(got) {
            assert_eq!(
                v,
                format!("old-{i}").into_bytes(),
                "{label}: {}",
                keys[i - start]
            );
        }
    }
}

fn bgsave(c: &mut Conn) {
    assert_eq!(c.cmd(&["BGSAVE"]), b"+Background saving started\r\n");
}

#[test]
fn bgsave_is_point_in_time_under_writes() {
    let n = 200_000;
    for (shards, tags) in [
        (1, Tags::None),
        (4, Tags::None),
        (1, Tags::Few),
        (4, Tags::Few),
    ] {
        let label = format!("shards={shards} {tags:?}");
        let srv = Server::shardis(shards, &[]);
        let mut c = srv.conn();
        fill_keys(&mut c, n, tags);
        bgsave(&mut c);
        // Right after the reply: overwrite everything, delete some, add
        // some, and rename some (across shards with 4), all pipelined.
        let mut cmds = Vec::new();
        for i in 0..n {
            let k = key(tags, i);
            if i % 10 == 0 {
                cmds.push(args(&["DEL", &k]));
            } else if i % 10 == 1 {
                cmds.push(args(&["RENAME", &k, &format!("renamed:{i}")]));
            } else {
                cmds.push(args(&["SET", &k, &format!("new-{i}")]));
            }
            if i % 7 == 0 {
                cmds.push(args(&["SET", &format!("added:{i}"), "x"]));
            }
        }
        pipeline(&mut c, &cmds, |r| r == b"+OK\r\n" || r == b":1\r\n");
        assert_eq!(wait_bgsave_done(&mut c), "ok", "{label}");
        assert_eq!(
            bulk_payload(&c.cmd(&["GET", &key(tags, 2)])),
            b"new-2",
            "the live data moved on"
        );

        let dir = TempDir::new("bgsave-pit");
        copy_dump(&srv.dir, &dir.0);
        let again = Server::shardis(shards, &["--dir", dir.0.to_str().unwrap()]);
        assert_old_keys(&mut again.conn(), n, tags, &label);
    }
}

#[test]
fn bgsave_before_flushall_keeps_the_old_keyspace() {
    let n = 100_000;
    for shards in [1, 4] {
        let srv = Server::shardis(shards, &[]);
        let mut c = srv.conn();
        fill(&mut c, n);
        bgsave(&mut c);
        assert_eq!(c.cmd(&["FLUSHALL"]), b"+OK\r\n");
        assert_eq!(c.cmd(&["SET", "after", "flush"]), b"+OK\r\n");
        assert_eq!(wait_bgsave_done(&mut c), "ok");
        let dir = TempDir::new("bgsave-flush");
        copy_dump(&srv.dir, &dir.0);
        let again = Server::shardis(shards, &["--dir", dir.0.to_str().unwrap()]);
        assert_old_state(&mut again.conn(), n, &format!("shards={shards}"));
    }
}

#[test]
fn requests_are_served_during_bgsave() {
    let n = 300_000;
    for shards in [1, 4] {
        let srv = Server::shardis(shards, &[]);
        let mut c = srv.conn();
        fill(&mut c, n);
        let mut other = srv.conn();
        other.set_timeout(Duration::from_secs(5));
        bgsave(&mut c);
        // While it runs (or just after, on a fast machine): answers come.
        assert_eq!(other.cmd(&["GET", "k:17"]), b"$6\r\nold-17\r\n");
        assert_eq!(other.cmd(&["SET", "during", "1"]), b"+OK\r\n");
        // A second BGSAVE or a SAVE meanwhile is refused, as in Redis.
        let second = other.cmd(&["BGSAVE"]);
        assert!(
            second == b"-ERR Background save already in progress\r\n"
                || second == b"+Background saving started\r\n",
            "{}",
            common::escape(&second)
        );
        assert_eq!(wait_bgsave_done(&mut c), "ok");
        let total: u64 = info_field(&mut c, "rdb_saves").parse().unwrap();
        assert!(total >= 1);
        assert_ne!(info_field(&mut c, "rdb_last_bgsave_time_sec"), "-1");
    }
}

#[test]
fn bgsave_file_passes_redis_check_and_loads_into_redis() {
    if !redis_available() {
        return;
    }
    for shards in [1, 4] {
        let srv = Server::shardis(shards, &[]);
        let mut c = srv.conn();
        for db in ["0", "3"] {
            assert_eq!(c.cmd(&["SELECT", db]), b"+OK\r\n");
            for i in 0..300 {
                c.cmd(&["SET", &format!("s:{i}"), &format!("v{i}")]);
                c.cmd(&["RPUSH", &format!("l:{i}"), "a", "b", &i.to_string()]);
                c.cmd(&["HSET", &format!("h:{i}"), "f", &i.to_string(), "g", "x"]);
                c.cmd(&["SADD", &format!("st:{i}"), "m1", "m2", &i.to_string()]);
                c.cmd(&["ZADD", &format!("z:{i}"), "1.5", "a", &i.to_string(), "b"]);
                c.cmd(&["SET", &format!("ttl:{i}"), "t", "EX", "36000"]);
            }
        }
        c.cmd(&["SELECT", "0"]);
        bgsave(&mut c);
        assert_eq!(wait_bgsave_done(&mut c), "ok");

        let dir = TempDir::new("bgsave-redis");
        copy_dump(&srv.dir, &dir.0);
        common::check_rdb(&dir.0.join("dump.rdb"));
        let redis = Server::redis(&["--dir", dir.0.to_str().unwrap()]);
        let mut r = redis.conn();
        for db in ["0", "3"] {
            for conn in [&mut c, &mut r] {
                assert_eq!(conn.cmd(&["SELECT", db]), b"+OK\r\n");
            }
            assert_eq!(r.cmd(&["DBSIZE"]), c.cmd(&["DBSIZE"]), "db {db}");
            for i in 0..300 {
                let probes: [Vec<String>; 6] = [
                    vec!["GET".into(), format!("s:{i}")],
                    vec!["LRANGE".into(), format!("l:{i}"), "0".into(), "-1".into()],
                    vec!["HGET".into(), format!("h:{i}"), "f".into()],
                    vec!["SISMEMBER".into(), format!("st:{i}"), i.to_string()],
                    vec!["ZSCORE".into(), format!("z:{i}"), "a".into()],
                    vec!["GET".into(), format!("ttl:{i}")],
                ];
                for p in &probes {
                    assert_eq!(r.cmd(p), c.cmd(p), "shards={shards} db {db}: {p:?}");
                }
                let ttl = r.cmd(&["TTL", &format!("ttl:{i}")]);
                assert!(ttl.starts_with(b":3599") || ttl.starts_with(b":36000"));
            }
        }
    }
}

#[test]
fn save_rule_saves_by_itself() {
    for shards in [1, 4] {
        let srv = Server::shardis(shards, &["--save", "1 1"]);
        let mut c = srv.conn();
        assert_eq!(c.cmd(&["SET", "a", "1"]), b"+OK\r\n");
        let deadline = Instant::now() + Duration::from_secs(10);
        while info_field(&mut c, "rdb_changes_since_last_save") != "0"
            || !srv.dir.join("dump.rdb").exists()
        {
            assert!(
                Instant::now() < deadline,
                "no save within 10 s: {}",
                srv.log_text()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        assert_eq!(wait_bgsave_done(&mut c), "ok");
        assert!(srv.log_text().contains("changes in 1 seconds. Saving..."));
    }
}

/// Makes the next save fail: a directory where the file must go.
fn block_dump(dir: &Path) {
    std::fs::create_dir_all(dir.join("dump.rdb").join("x")).unwrap();
}

#[test]
fn failed_bgsave_refuses_writes_with_misconf() {
    let mut servers = vec![Server::shardis(1, &["--save", "3600 1"])];
    servers.push(Server::shardis(4, &["--save", "3600 1"]));
    if redis_available() {
        servers.push(Server::redis(&["--save", "3600 1"]));
    }
    for srv in &servers {
        let label = srv.name.clone();
        let mut c = srv.conn();
        assert_eq!(c.cmd(&["SET", "a", "1"]), b"+OK\r\n", "{label}");
        block_dump(&srv.dir);
        bgsave(&mut c);
        assert_eq!(wait_bgsave_done(&mut c), "err", "{label}");
        assert_eq!(c.cmd(&["SET", "a", "2"]), MISCONF, "{label}");
        assert_eq!(c.cmd(&["PING"]), MISCONF, "{label}");
        assert_eq!(c.cmd(&["GET", "a"]), b"$1\r\n1\r\n", "{label}");
        // Inside MULTI the refusal is a queuing error.
        assert_eq!(c.cmd(&["MULTI"]), b"+OK\r\n");
        assert_eq!(c.cmd(&["SET", "a", "3"]), MISCONF, "{label}");
        assert_eq!(
            c.cmd(&["EXEC"]),
            b"-EXECABORT Transaction discarded because of previous errors.\r\n",
            "{label}"
        );
        // No temp file is left behind.
        let temps: Vec<_> = std::fs::read_dir(&srv.dir)
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().starts_with("temp-"))
            .collect();
        assert!(temps.is_empty(), "{label}: {temps:?}");

        std::fs::remove_dir_all(srv.dir.join("dump.rdb")).unwrap();
        bgsave(&mut c);
        assert_eq!(wait_bgsave_done(&mut c), "ok", "{label}");
        assert_eq!(c.cmd(&["SET", "a", "4"]), b"+OK\r\n", "{label}");
        assert_eq!(c.cmd(&["PING"]), b"+PONG\r\n", "{label}");
    }
}

/// Waits for the process to exit; the file it left must hold `a` = `1`.
fn assert_saved_on_exit(mut srv: Server, shards: usize, label: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while srv.alive() {
        assert!(Instant::now() < deadline, "{label}: still running");
        std::thread::sleep(Duration::from_millis(20));
    }
    let dir = TempDir::new("bgsave-exit");
    copy_dump(&srv.dir, &dir.0);
    let again = Server::shardis(shards, &["--dir", dir.0.to_str().unwrap()]);
    assert_eq!(again.conn().cmd(&["GET", "a"]), b"$1\r\n1\r\n", "{label}");
}

#[test]
fn shutdown_and_sigterm_save_when_rules_are_set() {
    for shards in [1, 4] {
        let srv = Server::shardis(shards, &["--save", "3600 1"]);
        let mut c = srv.conn();
        assert_eq!(c.cmd(&["SET", "a", "1"]), b"+OK\r\n");
        c.send(&["SHUTDOWN"]);
        c.read_until_closed(Duration::from_secs(20));
        assert_saved_on_exit(srv, shards, &format!("SHUTDOWN shards={shards}"));

        let srv = Server::shardis(shards, &["--save", "3600 1"]);
        let mut c = srv.conn();
        assert_eq!(c.cmd(&["SET", "a", "1"]), b"+OK\r\n");
        // SAFETY: signalling the child we started.
        unsafe { libc::kill(srv.pid() as i32, libc::SIGTERM) };
        assert_saved_on_exit(srv, shards, &format!("SIGTERM shards={shards}"));
    }
}

#[test]
fn shutdown_without_rules_does_not_save() {
    let srv = Server::shardis(2, &[]);
    let mut c = srv.conn();
    assert_eq!(c.cmd(&["SET", "a", "1"]), b"+OK\r\n");
    c.send(&["SHUTDOWN"]);
    c.read_until_closed(Duration::from_secs(20));
    assert!(!srv.dir.join("dump.rdb").exists());
}

/// FLUSHALL with save rules set saves the empty dataset at once (the
/// change counter back to 0), and each background snapshot counts in
/// INFO total_forks, as Redis's forks do (unit/other, unit/multi).
#[test]
fn flushall_with_save_rules_saves_and_snapshots_count_as_forks() {
    let mut servers = vec![Server::shardis(4, &[]), Server::shardis(1, &[])];
    if redis_available() {
        servers.push(Server::redis(&[]));
    }
    for srv in &servers {
        let mut c = srv.conn();
        assert_eq!(
            c.cmd(&["CONFIG", "SET", "save", "3600 1 300 100"]),
            b"+OK\r\n"
        );
        assert_eq!(c.cmd(&["SET", "k", "v"]), b"+OK\r\n");
        assert_eq!(c.cmd(&["FLUSHALL"]), b"+OK\r\n");
        assert_eq!(
            info_field(&mut c, "rdb_changes_since_last_save"),
            "0",
            "{}",
            srv.name
        );
        assert!(
            srv.dir.join("dump.rdb").exists(),
            "{}: no dump.rdb",
            srv.name
        );
        let forks = |c: &mut Conn| -> u64 {
            let text = String::from_utf8(bulk_payload(&c.cmd(&["INFO", "stats"]))).unwrap();
            let line = text.lines().find_map(|l| l.strip_prefix("total_forks:"));
            line.expect("total_forks in INFO stats").parse().unwrap()
        };
        let before = forks(&mut c);
        bgsave(&mut c);
        wait_bgsave_done(&mut c);
        let after = forks(&mut c);
        assert_eq!(after, before + 1, "{}", srv.name);
    }
}

/// Writes during a BGSAVE make it copy the keys' slots out of turn, what a
/// forked child's copy-on-write counts: INFO shows the copy as
/// `current_cow_size` while it runs and as `rdb_last_cow_size` after, and
/// the share of keys written as `current_fork_perc`.
#[test]
fn writes_during_bgsave_show_as_copy_on_write() {
    let srv = Server::shardis(1, &[]);
    let mut c = srv.conn();
    assert_eq!(info_field(&mut c, "current_cow_size"), "0");
    let value = "A".repeat(500);
    for i in 0..20 {
        c.cmd(&["SET", &format!("key{i}"), &value]);
    }
    // 50 ms per key: the save is still near its start when the writes come.
    assert_eq!(
        c.cmd(&["CONFIG", "SET", "rdb-key-save-delay", "50000"]),
        b"+OK\r\n"
    );
    bgsave(&mut c);
    for i in 0..20 {
        c.cmd(&["SETRANGE", &format!("key{i}"), "0", "B"]);
    }
    // Every key the cursor had not reached was copied before its write.
    let copied: u64 = info_field(&mut c, "current_cow_size").parse().unwrap();
    assert!(copied >= 500, "current_cow_size {copied}");
    let perc: f64 = info_field(&mut c, "current_fork_perc").parse().unwrap();
    assert!(perc > 0.0 && perc <= 100.0, "current_fork_perc {perc}");
    assert_eq!(wait_bgsave_done(&mut c), "ok");
    assert_eq!(info_field(&mut c, "current_cow_size"), "0");
    assert_eq!(info_field(&mut c, "current_fork_perc"), "0.00");
    let last: u64 = info_field(&mut c, "rdb_last_cow_size").parse().unwrap();
    assert!(last >= copied, "rdb_last_cow_size {last} < {copied}");
}
