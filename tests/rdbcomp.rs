//! `rdbcompression`: with `no`, strings go into RDB files (BGSAVE, SAVE,
//! the AOF's RDB preamble) and DUMP payloads as raw bytes, as
//! redis-server 7.0 writes them, and such a file loads into Shardis and
//! redis-server alike; with `yes` (the default) a long compressible
//! string is LZF-compressed. The flag is read when a snapshot starts: a
//! CONFIG SET during one applies to the next.

mod common;

use common::{bulk_payload, redis_available, Conn, Server, TempDir};
use std::path::Path;
use std::time::{Duration, Instant};

/// The key and its compressible 1000-byte value.
const KEY: &str = "comp:key";

fn value() -> String {
    "abcdefghij".repeat(100)
}

/// The key's record as Redis writes it uncompressed: type 0 (string),
/// the key, then the value's 14-bit length (0x40|hi, lo) and its bytes.
fn raw_record() -> Vec<u8> {
    let mut r = vec![0u8, KEY.len() as u8];
    r.extend_from_slice(KEY.as_bytes());
    r.extend_from_slice(&[0x40 | (1000 >> 8) as u8, (1000 & 0xff) as u8]);
    r.extend_from_slice(value().as_bytes());
    r
}

/// The same record's start with `rdbcompression yes`: the LZF marker
/// (0xC3) right after the key.
fn lzf_record_start() -> Vec<u8> {
    let mut r = vec![0u8, KEY.len() as u8];
    r.extend_from_slice(KEY.as_bytes());
    r.push(0xC3);
    r
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

fn info_field(c: &mut Conn, section: &str, field: &str) -> String {
    let text = String::from_utf8(bulk_payload(&c.cmd(&["INFO", section]))).unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")).map(str::to_string))
        .unwrap_or_else(|| panic!("no {field} in INFO"))
}

fn wait_bgsave_done(c: &mut Conn) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while info_field(c, "persistence", "rdb_bgsave_in_progress") != "0" {
        assert!(Instant::now() < deadline, "BGSAVE still running after 60 s");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(info_field(c, "persistence", "rdb_last_bgsave_status"), "ok");
}

fn bgsave(c: &mut Conn) {
    assert_eq!(c.cmd(&["BGSAVE"]), b"+Background saving started\r\n");
    wait_bgsave_done(c);
}

fn set_compression(c: &mut Conn, v: &str) {
    assert_eq!(c.cmd(&["CONFIG", "SET", "rdbcompression", v]), b"+OK\r\n");
}

/// Loads `file` (as dump.rdb) into a fresh server started by `start`
/// and checks the key's value.
fn loads_back(file: &Path, start: impl Fn(&str) -> Server) {
    let dir = TempDir::new("rdbcomp-load");
    std::fs::copy(file, dir.0.join("dump.rdb")).unwrap();
    let srv = start(dir.0.to_str().unwrap());
    let mut c = srv.conn();
    let want = format!("$1000\r\n{}\r\n", value());
    assert_eq!(c.cmd(&["GET", KEY]), want.as_bytes(), "{}", srv.name);
    assert_eq!(c.cmd(&["DBSIZE"]), b":1\r\n", "{}", srv.name);
}

#[test]
fn bgsave_with_rdbcompression_no_writes_raw_strings() {
    for shards in [1, 4] {
        let srv = Server::shardis(shards, &[]);
        let mut c = srv.conn();
        assert_eq!(c.cmd(&["SET", KEY, &value()]), b"+OK\r\n");
        assert_eq!(
            c.cmd(&["CONFIG", "GET", "rdbcompression"]),
            b"*2\r\n$14\r\nrdbcompression\r\n$3\r\nyes\r\n"
        );

        // The default: compressed, the raw value is nowhere in the file.
        bgsave(&mut c);
        let file = std::fs::read(srv.dir.join("dump.rdb")).unwrap();
        assert!(contains(&file, &lzf_record_start()), "shards={shards}: yes");
        assert!(!contains(&file, value().as_bytes()), "shards={shards}: yes");

        set_compression(&mut c, "no");
        assert_eq!(
            c.cmd(&["CONFIG", "GET", "rdbcompression"]),
            b"*2\r\n$14\r\nrdbcompression\r\n$2\r\nno\r\n"
        );
        bgsave(&mut c);
        let path = srv.dir.join("dump.rdb");
        let file = std::fs::read(&path).unwrap();
        assert!(contains(&file, &raw_record()), "shards={shards}: no");
        assert!(!contains(&file, &lzf_record_start()), "shards={shards}: no");
        if redis_available() {
            common::check_rdb(&path);
            loads_back(&path, |d| Server::redis(&["--dir", d]));
        }
        loads_back(&path, |d| Server::shardis(shards, &["--dir", d]));
    }
}

/// redis-server writes the same record for the key, with either flag.
#[test]
fn redis_writes_the_same_records() {
    if !redis_available() {
        return;
    }
    let srv = Server::redis(&[]);
    let mut c = srv.conn();
    assert_eq!(c.cmd(&["SET", KEY, &value()]), b"+OK\r\n");
    assert_eq!(c.cmd(&["SAVE"]), b"+OK\r\n");
    let file = std::fs::read(srv.dir.join("dump.rdb")).unwrap();
    assert!(contains(&file, &lzf_record_start()), "redis-server: yes");
    set_compression(&mut c, "no");
    assert_eq!(c.cmd(&["SAVE"]), b"+OK\r\n");
    let file = std::fs::read(srv.dir.join("dump.rdb")).unwrap();
    assert!(contains(&file, &raw_record()), "redis-server: no");
}

#[test]
fn save_and_aof_preamble_follow_the_flag() {
    let srv = Server::shardis(2, &["--appendonly", "yes"]);
    let mut c = srv.conn();
    assert_eq!(c.cmd(&["SET", KEY, &value()]), b"+OK\r\n");
    set_compression(&mut c, "no");
    assert_eq!(c.cmd(&["SAVE"]), b"+OK\r\n");
    let file = std::fs::read(srv.dir.join("dump.rdb")).unwrap();
    assert!(contains(&file, &raw_record()), "SAVE");

    assert_eq!(
        c.cmd(&["BGREWRITEAOF"]),
        b"+Background append only file rewriting started\r\n"
    );
    let deadline = Instant::now() + Duration::from_secs(60);
    while info_field(&mut c, "persistence", "aof_rewrite_in_progress") != "0" {
        assert!(Instant::now() < deadline, "rewrite still running");
        std::thread::sleep(Duration::from_millis(20));
    }
    let base = std::fs::read_dir(common::appendonlydir(&srv.dir))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with(".base.rdb"))
        .max()
        .expect("an RDB base file");
    let bytes = std::fs::read(&base).unwrap();
    assert!(contains(&bytes, &raw_record()), "AOF preamble {base:?}");
}

#[test]
fn config_set_during_a_bgsave_applies_to_the_next() {
    let srv = Server::shardis(1, &[]);
    let mut c = srv.conn();
    assert_eq!(c.cmd(&["SET", KEY, &value()]), b"+OK\r\n");
    // 50 more keys at 20 ms each: the save runs about a second.
    for i in 0..50 {
        c.cmd(&["SET", &format!("filler:{i}"), "x"]);
    }
    assert_eq!(
        c.cmd(&["CONFIG", "SET", "rdb-key-save-delay", "20000"]),
        b"+OK\r\n"
    );
    assert_eq!(c.cmd(&["BGSAVE"]), b"+Background saving started\r\n");
    set_compression(&mut c, "no");
    assert_eq!(
        info_field(&mut c, "persistence", "rdb_bgsave_in_progress"),
        "1"
    );
    wait_bgsave_done(&mut c);
    let file = std::fs::read(srv.dir.join("dump.rdb")).unwrap();
    assert!(contains(&file, &lzf_record_start()), "the running save");

    assert_eq!(
        c.cmd(&["CONFIG", "SET", "rdb-key-save-delay", "0"]),
        b"+OK\r\n"
    );
    bgsave(&mut c);
    let file = std::fs::read(srv.dir.join("dump.rdb")).unwrap();
    assert!(contains(&file, &raw_record()), "the next save");
}

/// DUMP reads the flag as Redis's createDumpPayload does; with `no` the
/// payloads are redis-server's byte for byte.
#[test]
fn dump_follows_the_flag_as_redis() {
    let mut servers = vec![Server::shardis(1, &[])];
    if redis_available() {
        servers.push(Server::redis(&[]));
    }
    let long_list: Vec<String> = (0..30).map(|i| format!("item-{i}-{i}-{i}")).collect();
    let mut payloads = Vec::new();
    for srv in &servers {
        let mut c = srv.conn();
        c.cmd(&["SET", KEY, &value()]);
        let mut rpush = vec!["RPUSH".to_string(), "list".into()];
        rpush.extend(long_list.iter().cloned());
        c.cmd(&rpush);
        c.cmd(&["HSET", "hash", "field", &"v".repeat(60)]);
        let compressed = bulk_payload(&c.cmd(&["DUMP", KEY]));
        assert_eq!(compressed[1], 0xC3, "{}: yes", srv.name);
        set_compression(&mut c, "no");
        let raw = bulk_payload(&c.cmd(&["DUMP", KEY]));
        assert_eq!(&raw[..3], &[0u8, 0x43, 0xE8], "{}: no", srv.name);
        assert_eq!(&raw[3..1003], value().as_bytes(), "{}: no", srv.name);
        let dumps: Vec<Vec<u8>> = [KEY, "list", "hash"]
            .iter()
            .map(|k| c.cmd(&["DUMP", k]))
            .collect();
        // A raw payload restores as any other.
        assert_eq!(
            c.cmd(&[&b"RESTORE"[..], b"copy", b"0", &raw]),
            b"+OK\r\n",
            "{}",
            srv.name
        );
        payloads.push(dumps);
    }
    if payloads.len() == 2 {
        assert_eq!(payloads[0], payloads[1], "DUMP with rdbcompression no");
    }
}
