//! Scripting where several clients, the AOF or shards matter:
//! - a script's writes reach the AOF as Redis 7.0 writes them (effects
//!   replication: one write as is, several as one MULTI/EXEC block),
//!   compared byte for byte with redis-server's incr file;
//! - a script's multi-key read-modify-write is atomic against concurrent
//!   clients at shards 1, 2 and 4 (scripts move value between keys on
//!   different shards while readers MGET the sum);
//! - SCRIPT LOAD on one connection serves EVALSHA on every shard's.
//!
//! The replay of tests/cases/scripting.txt by tests/propagation.rs checks
//! a redis-server replica and an AOF restart against the primary.

mod common;

use common::{appendonlydir, redis_available, Conn, Server, TempDir};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn incr_file(dir: &Path) -> PathBuf {
    let mut v: Vec<PathBuf> = std::fs::read_dir(appendonlydir(dir))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with(".incr.aof"))
        .collect();
    v.sort();
    v.pop().expect("an incr file")
}

const SCRIPTS: &[&[&str]] = &[
    &["SET", "before", "1"],
    // One write: logged as the command itself.
    &["EVAL", "return redis.call('set', KEYS[1], ARGV[1])", "1", "k1", "v1"],
    // Several: one MULTI/EXEC block, in another db too.
    &[
        "EVAL",
        "redis.call('set','a','1'); redis.call('incr','a'); redis.call('rpush','l','x','y'); return 1",
        "0",
    ],
    // Reads only, and a failed write: nothing logged.
    &["EVAL", "return redis.call('get','a')", "0"],
    &["EVAL", "return redis.pcall('incr','l')", "0"],
    // A write then an error: the write stays and is logged.
    &["EVAL", "redis.call('set','b','2'); redis.call('incr','l')", "0"],
    // SELECT inside the script.
    &[
        "EVAL",
        "redis.call('select', 3); redis.call('set','in3','x'); redis.call('select', 0); redis.call('set','in0','y')",
        "0",
    ],
    &["SCRIPT", "LOAD", "return redis.call('incrby', KEYS[1], ARGV[1])"],
    &["EVALSHA", "a6f0a5d9d4e6ef2d6c0d1b8b0e6be0d1d7b9b4e5", "1", "n", "5"],
    // Inside MULTI: the script's writes join the transaction's block.
    &["MULTI"],
    &["SET", "m1", "1"],
    &["EVAL", "redis.call('incr','m1'); redis.call('set','m2','z')", "0"],
    &["EXEC"],
    &["SET", "after", "1"],
];

fn aof_after(srv: &Server, dir: &Path, sha: &str) -> Vec<u8> {
    let mut c = srv.conn();
    for cmd in SCRIPTS {
        let args: Vec<&str> = cmd
            .iter()
            .map(|a| if a.starts_with("a6f0a5d9") { sha } else { *a })
            .collect();
        c.cmd(&args);
    }
    // appendfsync everysec: wait for the file to have the last write.
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let bytes = std::fs::read(incr_file(dir)).unwrap();
        if String::from_utf8_lossy(&bytes).contains("after") || Instant::now() > deadline {
            return bytes;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn script_effects_reach_the_aof_as_redis_writes_them() {
    if !redis_available() {
        return;
    }
    let sha = {
        let body = b"return redis.call('incrby', KEYS[1], ARGV[1])";
        let r = Server::redis(&[]);
        let mut c = r.conn();
        let reply = c.cmd(&[b"SCRIPT".as_slice(), b"LOAD", body]);
        String::from_utf8_lossy(&reply[reply.len() - 42..reply.len() - 2]).to_string()
    };
    let rdir = TempDir::new("lua-aof-redis");
    let r = Server::redis(&["--appendonly", "yes", "--dir", rdir.0.to_str().unwrap()]);
    let expected = aof_after(&r, &rdir.0, &sha);
    for shards in [1, 4] {
        let dir = TempDir::new("lua-aof-shardis");
        let s = Server::shardis(
            shards,
            &["--appendonly", "yes", "--dir", dir.0.to_str().unwrap()],
        );
        let got = aof_after(&s, &dir.0, &sha);
        assert_eq!(
            String::from_utf8_lossy(&got),
            String::from_utf8_lossy(&expected),
            "shards {shards}: AOF differs from redis-server's"
        );
    }
}

fn int_reply(r: &[u8]) -> i64 {
    let s = String::from_utf8_lossy(r);
    s.trim_start_matches(':')
        .trim()
        .parse()
        .unwrap_or_else(|_| panic!("int reply: {s}"))
}

/// Bulk strings of an array reply, parsed as integers.
fn ints_of_array(r: &[u8]) -> Vec<i64> {
    let text = String::from_utf8_lossy(r);
    let mut lines = text.split("\r\n");
    let head = lines.next().unwrap();
    assert!(head.starts_with('*'), "array reply: {text}");
    let mut out = Vec::new();
    while let Some(l) = lines.next() {
        if l.starts_with('$') {
            out.push(lines.next().unwrap().parse().unwrap());
        }
    }
    out
}

const MOVE: &str = "local a = tonumber(redis.call('get', KEYS[1])) \
    local n = tonumber(ARGV[1]) \
    if a < n then return 0 end \
    redis.call('set', KEYS[1], a - n) \
    redis.call('incrby', KEYS[2], n) \
    return 1";

#[test]
fn scripts_are_atomic_against_concurrent_clients() {
    const KEYS: usize = 8;
    const EACH: i64 = 1000;
    for shards in [1, 2, 4] {
        let srv = Server::shardis(shards, &[]);
        let port = srv.port;
        let keys: Vec<String> = (0..KEYS).map(|i| format!("acct:{i}")).collect();
        let mut c = srv.conn();
        for k in &keys {
            c.cmd(&["SET", k.as_str(), &EACH.to_string()]);
        }
        let reply = c.cmd(&["SCRIPT", "LOAD", MOVE]);
        let sha = String::from_utf8_lossy(&reply[reply.len() - 42..reply.len() - 2]).to_string();
        let stop = Arc::new(AtomicBool::new(false));
        let mut writers = Vec::new();
        for w in 0..4usize {
            let (keys, stop, sha) = (keys.clone(), stop.clone(), sha.clone());
            writers.push(std::thread::spawn(move || {
                let mut c = Conn::connect(port);
                let mut moved = 0;
                let mut i = w;
                while !stop.load(Ordering::Relaxed) {
                    let from = &keys[i % KEYS];
                    let to = &keys[(i * 7 + 3) % KEYS];
                    i += 1;
                    if from == to {
                        continue;
                    }
                    let r = if i % 2 == 0 {
                        c.cmd(&["EVALSHA", sha.as_str(), "2", from, to, "7"])
                    } else {
                        c.cmd(&["EVAL", MOVE, "2", from, to, "7"])
                    };
                    moved += int_reply(&r);
                }
                moved
            }));
        }
        let mut readers = Vec::new();
        for _ in 0..2 {
            let (keys, stop) = (keys.clone(), stop.clone());
            readers.push(std::thread::spawn(move || {
                let mut c = Conn::connect(port);
                let mut reads = 0;
                while !stop.load(Ordering::Relaxed) {
                    let mut args = vec!["MGET"];
                    args.extend(keys.iter().map(|k| k.as_str()));
                    let sum: i64 = ints_of_array(&c.cmd(&args)).iter().sum();
                    assert_eq!(sum, EACH * KEYS as i64, "MGET saw a script half done");
                    // A script reading every key sees the invariant too.
                    let r = c.cmd(&[
                        "EVAL",
                        "local s = 0 for _, k in ipairs(KEYS) do s = s + tonumber(redis.call('get', k)) end return s",
                        "8",
                        &keys[0], &keys[1], &keys[2], &keys[3], &keys[4], &keys[5], &keys[6], &keys[7],
                    ]);
                    assert_eq!(int_reply(&r), EACH * KEYS as i64);
                    reads += 1;
                }
                reads
            }));
        }
        std::thread::sleep(Duration::from_millis(1500));
        stop.store(true, Ordering::Relaxed);
        let moved: i64 = writers.into_iter().map(|t| t.join().unwrap()).sum();
        let reads: i64 = readers.into_iter().map(|t| t.join().unwrap()).sum();
        assert!(
            moved > 10 && reads > 10,
            "shards {shards}: {moved} moves, {reads} reads"
        );
        let mut args = vec!["MGET"];
        args.extend(keys.iter().map(|k| k.as_str()));
        let sum: i64 = ints_of_array(&c.cmd(&args)).iter().sum();
        assert_eq!(sum, EACH * KEYS as i64);
    }
}

#[test]
fn script_load_on_one_connection_serves_evalsha_on_every_shard() {
    let srv = Server::shardis(4, &[]);
    let mut loader = srv.conn();
    let reply = loader.cmd(&["SCRIPT", "LOAD", "return 'shared'"]);
    let sha = String::from_utf8_lossy(&reply[reply.len() - 42..reply.len() - 2]).to_string();
    // Connections land on shards as the kernel spreads them: enough of
    // them reach every shard.
    for _ in 0..16 {
        let mut c = srv.conn();
        assert_eq!(c.cmd(&["EVALSHA", sha.as_str(), "0"]), b"$6\r\nshared\r\n");
        assert_eq!(c.cmd(&["SCRIPT", "EXISTS", sha.as_str()]), b"*1\r\n:1\r\n");
    }
    loader.cmd(&["SCRIPT", "FLUSH"]);
    let mut c = srv.conn();
    assert_eq!(
        c.cmd(&["EVALSHA", sha.as_str(), "0"]),
        b"-NOSCRIPT No matching script. Please use EVAL.\r\n"
    );
}

/// Replies of `cmds` run in order on `c`, RESP2 or RESP3 as `HELLO` set.
fn replies(c: &mut Conn, cmds: &[Vec<String>]) -> Vec<Vec<u8>> {
    cmds.iter().map(|cmd| c.cmd(cmd)).collect()
}

fn eval(script: &str) -> Vec<String> {
    vec!["EVAL".into(), script.into(), "0".into()]
}

/// Connection-level commands called by scripts, as Redis 7.0 runs them:
/// every DEBUG PROTOCOL type through a RESP2 and a RESP3 script to a
/// RESP2 and a RESP3 client (Redis's redisProtocolToLuaType, then back to
/// the client's protocol), DEBUG SLEEP, ECHO, PING, TIME and the NOSCRIPT
/// refusal, byte for byte against redis-server at shards 1 and 4.
#[test]
fn debug_protocol_and_other_connection_commands_from_scripts() {
    if !redis_available() {
        return;
    }
    let debug = ["--enable-debug-command", "yes"];
    let redis = Server::redis(&debug);
    let mut cmds = vec![eval("return redis.pcall('debug','protocol','map')")];
    cmds.push(vec![
        "DEBUG".into(),
        "SET-DISABLE-DENY-SCRIPTS".into(),
        "1".into(),
    ]);
    for client in ["2", "3"] {
        cmds.push(vec!["HELLO".into(), client.into()]);
        for lua in ["2", "3"] {
            for ty in [
                "string", "integer", "double", "bignum", "null", "array", "set", "map", "attrib",
                "push", "verbatim", "true", "false", "nosuch",
            ] {
                cmds.push(eval(&format!(
                    "redis.setresp({lua}); return redis.pcall('debug','protocol','{ty}')"
                )));
                // A push is no type Redis's reply parser knows: the call
                // leaves whatever was on the Lua stack (returned: nil).
                if ty != "push" {
                    cmds.push(eval(&format!(
                        "redis.setresp({lua}); return type(redis.call('debug','protocol','{ty}'))"
                    )));
                }
            }
        }
        cmds.push(eval(
            "redis.call('debug','sleep','0.001'); return redis.call('ping')",
        ));
        cmds.push(eval(
            "return {redis.call('echo','hi'), redis.call('ping','x'), #redis.call('time')}",
        ));
        cmds.push(eval(
            "return redis.call('debug','error','MYERR from debug')",
        ));
    }
    cmds.push(vec![
        "DEBUG".into(),
        "SET-DISABLE-DENY-SCRIPTS".into(),
        "0".into(),
    ]);
    cmds.push(eval("return redis.pcall('debug','protocol','map')"));
    let want = replies(&mut redis.conn(), &cmds);
    for shards in [1, 4] {
        let ours = Server::shardis(shards, &debug);
        let got = replies(&mut ours.conn(), &cmds);
        for ((cmd, w), g) in cmds.iter().zip(&want).zip(&got) {
            if cmd[0] == "HELLO" {
                continue;
            }
            assert_eq!(
                String::from_utf8_lossy(g),
                String::from_utf8_lossy(w),
                "shards {shards}: {cmd:?}"
            );
        }
    }
}

/// PUBLISH and SPUBLISH from a script reach every subscriber (at shards
/// 4 the script waits for the other shards' threads), refused in
/// read-only scripts as Redis refuses may-replicate commands; a RESP3
/// caller subscribed to the channel gets its message before the script's
/// reply, as from Redis.
#[test]
fn publish_from_scripts() {
    if !redis_available() {
        return;
    }
    let redis = Server::redis(&[]);
    let ours = Server::shardis(1, &[]);
    let four = Server::shardis(4, &[]);
    for srv in [&redis, &ours, &four] {
        let mut sub = srv.conn();
        sub.cmd(&["SUBSCRIBE", "ch"]);
        let mut psub = srv.conn();
        psub.cmd(&["PSUBSCRIBE", "c*"]);
        let mut ssub = srv.conn();
        ssub.cmd(&["SSUBSCRIBE", "sch"]);
        let mut c = srv.conn();
        let publish = "return redis.call('publish','ch','hi')";
        assert_eq!(c.cmd(&["EVAL", publish, "0"]), b":2\r\n");
        assert_eq!(
            sub.read_reply(),
            b"*3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$2\r\nhi\r\n"
        );
        assert_eq!(
            psub.read_reply(),
            b"*4\r\n$8\r\npmessage\r\n$2\r\nc*\r\n$2\r\nch\r\n$2\r\nhi\r\n"
        );
        let spublish = "return redis.call('spublish',KEYS[1],'s')";
        assert_eq!(c.cmd(&["EVAL", spublish, "1", "sch"]), b":1\r\n");
        assert_eq!(
            ssub.read_reply(),
            b"*3\r\n$8\r\nsmessage\r\n$3\r\nsch\r\n$1\r\ns\r\n"
        );
        let refused = c.cmd(&["EVAL_RO", publish, "0"]);
        assert!(
            refused.starts_with(b"-ERR Write commands are not allowed from read-only scripts."),
            "{}",
            String::from_utf8_lossy(&refused)
        );
        let no_writes = "#!lua flags=no-writes\nreturn redis.call('publish','ch','x')";
        let refused = c.cmd(&["EVAL", no_writes, "0"]);
        assert!(refused.starts_with(b"-ERR Write commands are not allowed"));
        // A RESP3 subscriber publishing to itself from a script.
        let mut own = srv.conn();
        own.cmd(&["HELLO", "3"]);
        own.cmd(&["SUBSCRIBE", "mine"]);
        own.send(&["EVAL", "return redis.call('publish','mine','me')", "0"]);
        assert_eq!(
            own.read_reply(),
            b">3\r\n$7\r\nmessage\r\n$4\r\nmine\r\n$2\r\nme\r\n"
        );
        assert_eq!(own.read_reply(), b":1\r\n");
    }
}

/// A script's commands are checked against the caller's ACL user, as
/// Redis's scriptVerifyACL (error text, and the ACL LOG's `lua`
/// context); redis.acl_check_cmd answers for that user without logging.
#[test]
fn acl_inside_scripts() {
    if !redis_available() {
        return;
    }
    let lines = [
        "ACL SETUSER bob on >123 +@scripting +set +get +publish +acl|log ~x* &ch",
        "AUTH bob 123",
        r#"EVAL "return redis.pcall('set','xa','1')" 0"#,
        r#"EVAL "return redis.pcall('set','ya','1')" 0"#,
        r#"EVAL "return redis.pcall('hset','xa','f','1')" 0"#,
        r#"EVAL "return redis.pcall('publish','other','m')" 0"#,
        r#"EVAL "redis.call('incr','xa')" 0"#,
        r#"EVAL "return {redis.acl_check_cmd('set','xx',1), redis.acl_check_cmd('hset','xx','f',1)}" 0"#,
        r#"EVAL "return redis.acl_check_cmd('set','yy',1)" 0"#,
        r#"EVAL "return redis.acl_check_cmd('nosuch','yy')" 0"#,
        "ACL LOG RESET",
        r#"EVAL "return redis.pcall('get','ya')" 0"#,
    ];
    let run = |srv: &Server| -> (Vec<Vec<u8>>, Vec<u8>) {
        let mut c = srv.conn();
        let replies = lines.iter().map(|l| c.line(l)).collect();
        c.line("AUTH default x");
        let mut admin = srv.conn();
        let log = admin.line("ACL LOG");
        (replies, log)
    };
    let (want, want_log) = run(&Server::redis(&[]));
    for shards in [1, 4] {
        let (got, got_log) = run(&Server::shardis(shards, &[]));
        for ((line, w), g) in lines.iter().zip(&want).zip(&got) {
            assert_eq!(
                String::from_utf8_lossy(g),
                String::from_utf8_lossy(w),
                "shards {shards}: {line}"
            );
        }
        // One entry: the key denied in the last script, context lua.
        let log = String::from_utf8_lossy(&got_log).into_owned();
        for field in [
            "$3\r\nlua\r\n",
            "$2\r\nya\r\n",
            "$3\r\nkey\r\n",
            "$3\r\nbob\r\n",
        ] {
            assert!(log.contains(field), "shards {shards}: {log}");
            assert!(String::from_utf8_lossy(&want_log).contains(field));
        }
    }
}

/// `lua-enable-deprecated-api yes` (Debian's 7.0.15 backport) shows
/// scripts setfenv, getfenv and newproxy, and cannot be changed at run
/// time, as in redis-server.
#[test]
fn deprecated_lua_api_follows_its_directive() {
    if !redis_available() {
        return;
    }
    let on = ["--lua-enable-deprecated-api", "yes"];
    let cmds: Vec<Vec<String>> = vec![
        eval("local f = function() return 1 end; setfenv(f, {}); return 0"),
        eval("return type(getfenv(1))"),
        eval("getmetatable(newproxy(true)).__gc = function() return 1 end return 0"),
        ["CONFIG", "GET", "lua-enable-deprecated-api"]
            .map(String::from)
            .to_vec(),
        ["CONFIG", "SET", "lua-enable-deprecated-api", "no"]
            .map(String::from)
            .to_vec(),
    ];
    let want = replies(&mut Server::redis(&on).conn(), &cmds);
    assert_eq!(&want[0], b":0\r\n");
    for shards in [1, 4] {
        let got = replies(&mut Server::shardis(shards, &on).conn(), &cmds);
        assert_eq!(got, want, "shards {shards}");
    }
}

/// Scripts on a replica of a master that is down, as redis-server 7.0
/// refuses them: before they run (what their shebang declares, Redis's
/// getCommandFlags and scriptPrepareForRun) and at each call (Redis's
/// scriptVerifyAllowStale and scriptVerifyWriteCommandAllow); a queued
/// script declaring writes aborts EXEC once the node is a replica.
#[test]
fn scripts_on_a_replica_are_refused_as_redis_refuses_them() {
    if !redis_available() {
        return;
    }
    let s = |v: &[&str]| v.iter().map(|a| a.to_string()).collect::<Vec<String>>();
    let run = |srv: &Server| -> Vec<Vec<u8>> {
        let mut c = srv.conn();
        let mut q = srv.conn();
        let mut got = replies(&mut c, &[s(&["SET", "x", "v"])]);
        // Queued while a primary; EXEC'd once a replica.
        got.extend(replies(&mut q, &[s(&["MULTI"]), eval("#!lua\nreturn 1")]));
        got.extend(replies(
            &mut c,
            &[
                s(&["CONFIG", "SET", "replica-serve-stale-data", "no"]),
                s(&["REPLICAOF", "127.0.0.1", "1"]),
                eval("return redis.call('get','x')"),
                eval("#!lua flags=no-writes\nreturn 1"),
                eval("#!lua flags=allow-stale,no-writes\nreturn redis.call('get','x')"),
                eval("#!lua flags=allow-stale,no-writes\nreturn redis.call('echo','e')"),
                s(&["CONFIG", "SET", "replica-serve-stale-data", "yes"]),
                eval("#!lua\nreturn 1"),
                eval("return redis.call('get','x')"),
            ],
        ));
        got.extend(replies(&mut q, &[s(&["EXEC"])]));
        got.extend(replies(
            &mut c,
            &[
                eval("return redis.call('set','x','w')"),
                s(&["REPLICAOF", "NO", "ONE"]),
            ],
        ));
        got
    };
    let want = run(&Server::redis(&[]));
    for shards in [1, 4] {
        let got = run(&Server::shardis(shards, &[]));
        let show = |r: &Vec<Vec<u8>>| {
            r.iter()
                .map(|b| String::from_utf8_lossy(b).into_owned())
                .collect::<Vec<_>>()
        };
        assert_eq!(show(&got), show(&want), "shards {shards}");
    }
}
