//! RDB files with a real redis-server 7.0: a file Shardis SAVEs (1 and 4
//! shards) loads into redis-server with the same keys, values, encodings
//! and TTLs, and passes redis-check-rdb; a file redis-server SAVEs loads
//! into Shardis the same way; a damaged file stops Shardis at start with
//! one line naming the file and the offset.

mod common;

use common::dataset::snapshot;
use common::{bulk_payload, redis_available, Conn, Server, TempDir};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Setup commands for every type and encoding, keys named `<name>:<tag>`.
fn cases(tag: &str) -> Vec<Vec<String>> {
    let mut v: Vec<Vec<String>> = Vec::new();
    let mut add = |cmd: &str, name: &str, rest: Vec<String>| {
        let mut c = vec![cmd.to_string(), format!("{name}:{tag}")];
        c.extend(rest);
        v.push(c);
    };
    let s = |x: &[&str]| x.iter().map(|a| a.to_string()).collect::<Vec<_>>();
    add("SET", "str_int", s(&["-12345"]));
    add("SET", "str_big_int", s(&["9223372036854775807"]));
    add("SET", "str_short", s(&["hello"]));
    add("SET", "str_empty", s(&[""]));
    add(
        "SET",
        "str_lzf",
        vec!["abc".repeat(200) + &"xyz".repeat(50)],
    );
    add(
        "SET",
        "str_bin",
        vec![(0u8..128).map(|b| b as char).collect()],
    );
    add("RPUSH", "list_small", s(&["a", "1", "-1", "1000", "hello"]));
    add(
        "RPUSH",
        "list_big",
        (0..2000).map(|i| format!("element-{i}")).collect(),
    );
    add(
        "RPUSH",
        "list_bigvals",
        (0..20).map(|i| format!("{i}-").repeat(400)).collect(),
    );
    add("HSET", "hash_lp", s(&["f1", "v1", "f2", "2", "f3", "-3.5"]));
    add(
        "HSET",
        "hash_ht",
        (0..700)
            .flat_map(|i| [format!("field{i}"), format!("value{i}")])
            .collect(),
    );
    add("HSET", "hash_long", s(&["f", &"x".repeat(100), "g", "1"]));
    add("SADD", "set_intset", s(&["5", "-1", "70000", "5000000000"]));
    add("SADD", "set_ht", s(&["a", "b", "c", "1"]));
    add(
        "SADD",
        "set_ht_ints",
        (0..700).map(|i| (i * 3).to_string()).collect(),
    );
    add(
        "ZADD",
        "zset_lp",
        s(&["1", "a", "2.5", "b", "-3", "c", "inf", "d"]),
    );
    add(
        "ZADD",
        "zset_sl",
        (0..300)
            .flat_map(|i| [format!("{}", i as f64 / 3.0), format!("m{i}")])
            .collect(),
    );
    add("ZADD", "zset_long", s(&["1", &"y".repeat(80), "-inf", "z"]));
    v
}

/// Fills databases 0, 3 and 15 with every case, some with TTLs (whole
/// hours), plus a key that expires before any save.
fn fill(c: &mut Conn) -> usize {
    let mut n = 0;
    for db in [0usize, 3, 15] {
        assert_eq!(c.cmd(&["SELECT", &db.to_string()]), b"+OK\r\n");
        for (i, setup) in cases(&format!("db{db}")).iter().enumerate() {
            assert!(!c.cmd(setup).starts_with(b"-"), "setup {setup:?}");
            if i % 3 == db % 3 {
                let hours = (i % 5 + 1) * 3_600_000;
                assert_eq!(
                    c.cmd(&["PEXPIRE", &setup[1], &hours.to_string()]),
                    b":1\r\n"
                );
            }
            n += 1;
        }
    }
    c.cmd(&["SELECT", "0"]);
    c.cmd(&["SET", "short-lived", "x", "PX", "1"]);
    std::thread::sleep(Duration::from_millis(5));
    n
}

fn copy_dump(from: &Path, to: &Path) {
    std::fs::copy(from.join("dump.rdb"), to.join("dump.rdb")).expect("copy dump.rdb");
}

fn info_field(c: &mut Conn, field: &str) -> String {
    let s = String::from_utf8(bulk_payload(&c.cmd(&["INFO", "persistence"]))).unwrap();
    s.lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")).map(str::to_string))
        .unwrap_or_else(|| panic!("no {field} in INFO"))
}

#[test]
fn shardis_save_loads_into_redis() {
    if !redis_available() {
        return;
    }
    for shards in [1, 4] {
        let shardis = Server::shardis(shards, &[]);
        let mut s = shardis.conn();
        let n = fill(&mut s);
        assert_ne!(info_field(&mut s, "rdb_changes_since_last_save"), "0");
        let before = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        assert_eq!(s.cmd(&["SAVE"]), b"+OK\r\n");
        assert_eq!(info_field(&mut s, "rdb_changes_since_last_save"), "0");
        assert_eq!(info_field(&mut s, "rdb_saves"), "1");
        let lastsave = s.cmd(&["LASTSAVE"]);
        let lastsave: u64 = std::str::from_utf8(&lastsave[1..lastsave.len() - 2])
            .unwrap()
            .parse()
            .unwrap();
        assert!(lastsave >= before, "LASTSAVE {lastsave} < {before}");
        let want = snapshot(&mut s);
        assert_eq!(want.len(), n, "shardis keys");

        let dir = TempDir::new("rdb-to-redis");
        copy_dump(&shardis.dir, &dir.0);
        common::check_rdb(&dir.0.join("dump.rdb"));
        let redis = Server::redis(&["--dir", dir.0.to_str().unwrap()]);
        let mut r = redis.conn();
        let got = snapshot(&mut r);
        assert_eq!(got.len(), want.len(), "redis loaded a different key count");
        for (k, w) in &want {
            assert_eq!(got.get(k), Some(w), "shards={shards}: key {k:?}");
        }
        // The DUMP payloads agree too, where the order is part of the
        // value (hash tables iterate in each server's own order).
        for ((db, key), w) in &want {
            if w.encoding == b"$9\r\nhashtable\r\n" {
                continue;
            }
            s.cmd(&["SELECT", &db.to_string()]);
            r.cmd(&["SELECT", &db.to_string()]);
            let a = s.cmd(&[&b"DUMP"[..], key]);
            let b = r.cmd(&[&b"DUMP"[..], key]);
            assert!(
                a == b,
                "shards={shards}: DUMP {} differs ({:?}): {} vs {}",
                common::escape(key),
                String::from_utf8_lossy(&w.encoding),
                common::escape_short(&a, 80),
                common::escape_short(&b, 80)
            );
        }
        eprintln!(
            "shards={shards}: {} keys Shardis -> redis-server",
            want.len()
        );
    }
}

#[test]
fn redis_save_loads_into_shardis() {
    if !redis_available() {
        return;
    }
    let redis = Server::redis(&[]);
    let mut r = redis.conn();
    let n = fill(&mut r);
    assert_eq!(r.cmd(&["SAVE"]), b"+OK\r\n");
    let want = snapshot(&mut r);
    assert_eq!(want.len(), n);
    for shards in [1, 4] {
        let dir = TempDir::new("rdb-from-redis");
        copy_dump(&redis.dir, &dir.0);
        let shardis = Server::shardis(shards, &["--dir", dir.0.to_str().unwrap()]);
        let mut s = shardis.conn();
        let got = snapshot(&mut s);
        assert_eq!(
            got.len(),
            want.len(),
            "shardis loaded a different key count"
        );
        for (k, w) in &want {
            assert_eq!(got.get(k), Some(w), "shards={shards}: key {k:?}");
        }
        assert!(shardis.log_text().contains("DB loaded from disk"));
        assert_eq!(
            info_field(&mut s, "rdb_last_load_keys_loaded"),
            n.to_string()
        );
        // SHUTDOWN SAVE writes the file again; a restart reads it back.
        let dir2 = TempDir::new("rdb-shutdown-save");
        s.send(&["SHUTDOWN", "SAVE"]);
        let _ = s.read_until_closed(Duration::from_secs(10));
        drop(shardis);
        // `shardis` dropped its own scratch dir, not ours: the file is there.
        copy_dump(&dir.0, &dir2.0);
        let again = Server::shardis(shards, &["--dir", dir2.0.to_str().unwrap()]);
        let got = snapshot(&mut again.conn());
        assert_eq!(got.len(), want.len(), "after SHUTDOWN SAVE");
        eprintln!(
            "shards={shards}: {} keys redis-server -> Shardis",
            got.len()
        );
    }
}

/// Runs Shardis on `dir` until it exits (it must, quickly): its status
/// and output.
fn start_fails(dir: &Path) -> (i32, String) {
    let port = common::free_port();
    let mut cmd = Command::new(common::SHARDIS_BIN);
    common::die_with_parent(&mut cmd);
    let mut child = cmd
        .args([
            "--port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--shards",
            "2",
        ])
        .arg("--dir")
        .arg(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .stdin(Stdio::null())
        .spawn()
        .expect("spawn shardis");
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(_st) = child.try_wait().unwrap() {
            let out = child.wait_with_output().unwrap();
            let text = String::from_utf8_lossy(&out.stdout).into_owned()
                + &String::from_utf8_lossy(&out.stderr);
            return (out.status.code().unwrap_or(-1), text);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("shardis started on a damaged RDB file");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn damaged_file_stops_start_up() {
    let shardis = Server::shardis(2, &[]);
    let mut s = shardis.conn();
    for i in 0..50 {
        s.cmd(&["SET", &format!("key{i}"), &"v".repeat(i * 3)]);
    }
    s.cmd(&["RPUSH", "list", "a", "b", "c"]);
    assert_eq!(s.cmd(&["SAVE"]), b"+OK\r\n");
    let good = std::fs::read(shardis.dir.join("dump.rdb")).unwrap();
    let damaged: Vec<(&str, Vec<u8>)> = vec![
        ("truncated in the header", good[..5].to_vec()),
        ("truncated in a key", good[..good.len() / 2].to_vec()),
        ("truncated in the checksum", good[..good.len() - 3].to_vec()),
        ("bit flipped", {
            let mut g = good.clone();
            let mid = g.len() / 2;
            g[mid] ^= 0x10;
            g
        }),
        ("checksum flipped", {
            let mut g = good.clone();
            let last = g.len() - 1;
            g[last] ^= 0x01;
            g
        }),
    ];
    for (what, bytes) in damaged {
        let dir = TempDir::new("rdb-bad");
        std::fs::write(dir.0.join("dump.rdb"), &bytes).unwrap();
        let (code, out) = start_fails(&dir.0);
        assert_ne!(code, 0, "{what}: exit status");
        let line = out
            .lines()
            .find(|l| l.contains("RDB ERROR DETECTED in"))
            .unwrap_or_else(|| panic!("{what}: no error line in:\n{out}"));
        assert!(
            line.contains("dump.rdb") && line.contains("at offset"),
            "{what}: {line}"
        );
        if what == "checksum flipped" {
            assert!(out.contains("RDB CRC error"), "{out}");
        }
        // Redis's verdict line, which its tests and operators look for.
        assert!(
            out.contains("Terminating server after rdb file reading failure."),
            "{what}: {out}"
        );
        eprintln!("{what}: {line}");
    }
}

#[test]
fn save_error_answers_as_redis_and_keeps_serving() {
    let mut servers = vec![Server::shardis(2, &[])];
    if redis_available() {
        servers.push(Server::redis(&[]));
    }
    for srv in &servers {
        let mut c = srv.conn();
        c.cmd(&["SET", "k", "v"]);
        // The target name is a directory: the final rename fails.
        std::fs::create_dir_all(srv.dir.join("dump.rdb")).unwrap();
        assert_eq!(c.cmd(&["SAVE"]), b"-ERR\r\n", "{}", srv.name);
        assert_eq!(c.cmd(&["GET", "k"]), b"$1\r\nv\r\n", "{}", srv.name);
        assert_ne!(info_field(&mut c, "rdb_changes_since_last_save"), "0");
        let temps = std::fs::read_dir(&srv.dir)
            .unwrap()
            .filter(|e| {
                let name = e.as_ref().unwrap().file_name();
                name.to_string_lossy().starts_with("temp-")
            })
            .count();
        assert_eq!(temps, 0, "{}: temp file left behind", srv.name);
    }
}
