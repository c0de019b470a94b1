//! Function libraries outlive a restart: in the RDB (SAVE, DEBUG RELOAD,
//! RDB_OPCODE_FUNCTION2 as redis-server 7.0 writes and reads it), in the
//! AOF (FUNCTION LOAD/DELETE/FLUSH/RESTORE as they came, and a rewrite's
//! base with or without the RDB preamble), at shards 1 and 4. The reply
//! bytes of the commands are in tests/cases/functions.txt.

mod common;

use common::{copy_aof, redis_available, Conn, Server, TempDir};
use std::path::Path;
use std::time::{Duration, Instant};

const LIB1: &str = "#!lua name=lib1\nlocal function add1(a) return a + 1 end\nredis.register_function('f1', function(keys, args) return add1(1) end)\nredis.register_function{function_name='f2', callback=function(keys, args) return redis.call('get', keys[1]) end, flags={'no-writes'}, description='reads'}";
const LIB2: &str = "#!lua name=lib2\nredis.register_function('f3', function(keys, args) return redis.call('set', keys[1], args[1]) end)";

fn ok(c: &mut Conn, args: &[&str]) -> Vec<u8> {
    let r = c.cmd(args);
    assert!(!r.starts_with(b"-"), "{args:?}: {}", common::escape(&r));
    r
}

/// Loads both libraries and uses them.
fn setup(c: &mut Conn) {
    ok(c, &["FUNCTION", "LOAD", LIB1]);
    ok(c, &["FUNCTION", "LOAD", LIB2]);
    assert_eq!(c.cmd(&["FCALL", "f3", "1", "k", "v"]), b"+OK\r\n");
}

/// What a node with both libraries answers.
fn check_both(c: &mut Conn, what: &str) {
    assert_eq!(c.cmd(&["FCALL", "f1", "0"]), b":2\r\n", "{what}");
    assert_eq!(
        c.cmd(&["FCALL_RO", "f2", "1", "k"]),
        b"$1\r\nv\r\n",
        "{what}"
    );
    let list = c.cmd(&["FUNCTION", "LIST", "WITHCODE", "LIBRARYNAME", "lib1"]);
    let text = String::from_utf8_lossy(&list);
    assert!(
        text.contains("reads") && text.contains("no-writes"),
        "{what}: {text}"
    );
    assert!(text.contains("add1(a)"), "{what}: {text}");
    assert_eq!(
        c.cmd(&["FUNCTION", "STATS"]),
        b"*4\r\n$14\r\nrunning_script\r\n$-1\r\n$7\r\nengines\r\n*2\r\n$3\r\nLUA\r\n*4\r\n$15\r\nlibraries_count\r\n:2\r\n$15\r\nfunctions_count\r\n:3\r\n",
        "{what}"
    );
}

fn restart(shards: usize, dir: &Path, extra: &[&str]) -> Server {
    let mut args = vec![
        "--dir",
        dir.to_str().unwrap(),
        "--enable-debug-command",
        "yes",
    ];
    args.extend_from_slice(extra);
    Server::shardis(shards, &args)
}

fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn info_field(c: &mut Conn, field: &str) -> String {
    let text = String::from_utf8_lossy(&c.cmd(&["INFO", "persistence"])).into_owned();
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .unwrap_or_default()
        .trim()
        .to_string()
}

fn rewrite(c: &mut Conn) {
    ok(c, &["BGREWRITEAOF"]);
    wait_for("the AOF rewrite", || {
        info_field(c, "aof_rewrite_in_progress") == "0"
            && info_field(c, "aof_rewrite_scheduled") == "0"
    });
    assert_eq!(info_field(c, "aof_last_bgrewrite_status"), "ok");
}

#[test]
fn rdb_keeps_functions() {
    for shards in [1, 4] {
        let dir = TempDir::new("fn-rdb");
        let srv = restart(shards, &dir.0, &[]);
        let mut c = srv.conn();
        setup(&mut c);
        ok(&mut c, &["DEBUG", "RELOAD"]);
        check_both(&mut c, "after DEBUG RELOAD");
        ok(&mut c, &["SAVE"]);
        drop(c);
        drop(srv);
        let other = if shards == 1 { 4 } else { 1 };
        let again = restart(other, &dir.0, &[]);
        check_both(
            &mut again.conn(),
            &format!("RDB restart {shards} -> {other}"),
        );
        drop(again);
        if redis_available() {
            // redis-server reads Shardis's file, and Shardis reads its.
            let redis = Server::redis(&["--dir", dir.0.to_str().unwrap()]);
            let mut rc = redis.conn();
            check_both(&mut rc, "redis-server loading Shardis's RDB");
            ok(&mut rc, &["FUNCTION", "DELETE", "lib2"]);
            ok(&mut rc, &["FUNCTION", "LOAD", LIB2]);
            ok(&mut rc, &["SAVE"]);
            drop(rc);
            drop(redis);
            let back = restart(shards, &dir.0, &[]);
            check_both(&mut back.conn(), "Shardis loading redis-server's RDB");
        }
    }
}

#[test]
fn aof_keeps_functions() {
    for (shards, preamble) in [(1, "yes"), (4, "yes"), (1, "no"), (4, "no")] {
        let what = format!("shards {shards}, preamble {preamble}");
        let dir = TempDir::new("fn-aof");
        let extra = [
            "--appendonly",
            "yes",
            "--appendfsync",
            "always",
            "--aof-use-rdb-preamble",
            preamble,
        ];
        let srv = restart(shards, &dir.0, &extra);
        let mut c = srv.conn();
        ok(
            &mut c,
            &[
                "FUNCTION",
                "LOAD",
                "#!lua name=gone\nredis.register_function('g', function() return 1 end)",
            ],
        );
        setup(&mut c);
        ok(&mut c, &["FUNCTION", "DELETE", "gone"]);
        drop(c);
        drop(srv);
        // The commands in the incr file.
        let copy = copy_aof(&dir.0, "fn-aof-copy");
        let again = restart(shards, &copy.0, &extra);
        let mut c = again.conn();
        check_both(&mut c, &format!("{what}: AOF commands"));
        assert_eq!(c.cmd(&["FCALL", "g", "0"]), b"-ERR Function not found\r\n");
        // The rewrite's base.
        rewrite(&mut c);
        drop(c);
        drop(again);
        let copy2 = copy_aof(&copy.0, "fn-aof-copy2");
        let third = restart(shards, &copy2.0, &extra);
        let mut c = third.conn();
        check_both(&mut c, &format!("{what}: rewritten base"));
        // FLUSH and RESTORE are logged too.
        let dump = common::bulk_payload(&c.cmd(&["FUNCTION", "DUMP"]));
        ok(&mut c, &["FUNCTION", "FLUSH"]);
        let r = c.cmd(&[b"FUNCTION".as_slice(), b"RESTORE", &dump]);
        assert_eq!(r, b"+OK\r\n", "{what}");
        drop(c);
        drop(third);
        let copy3 = copy_aof(&copy2.0, "fn-aof-copy3");
        let fourth = restart(shards, &copy3.0, &extra);
        let mut c = fourth.conn();
        check_both(&mut c, &format!("{what}: FLUSH then RESTORE"));
        ok(&mut c, &["FUNCTION", "FLUSH"]);
        drop(c);
        drop(fourth);
        let copy4 = copy_aof(&copy3.0, "fn-aof-copy4");
        let fifth = restart(shards, &copy4.0, &extra);
        let mut c = fifth.conn();
        assert_eq!(c.cmd(&["FUNCTION", "LIST"]), b"*0\r\n", "{what}: FLUSH");
    }
}
