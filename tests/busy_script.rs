//! Busy scripts (`busy-reply-threshold`, SCRIPT KILL, FUNCTION KILL), on
//! shardis (1, 2 and 4 shards) and on the reference redis-server 7.0, so
//! the expectations are Redis's own: while a script runs past the
//! threshold every other client gets -BUSY (MULTI and the kill commands
//! excepted), the kill ends it with Redis's error, a script that wrote
//! cannot be killed, and SHUTDOWN NOSAVE ends the process anyway.

mod common;

use common::{keys_on_distinct_shards, redis_available, Conn, Server};
use std::time::{Duration, Instant};

const BUSY_EVAL: &[u8] =
    b"-BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.\r\n";
const BUSY_FUNCTION: &[u8] =
    b"-BUSY Redis is busy running a script. You can only call FUNCTION KILL or SHUTDOWN NOSAVE.\r\n";
const UNKILLABLE: &[u8] = b"-UNKILLABLE Sorry the script already executed write commands against the dataset. You can either wait the script termination or kill the server in a hard way using the SHUTDOWN NOSAVE command.\r\n";

/// Waits until `c`'s PING is refused with `busy` (the script timed out).
fn wait_busy(c: &mut Conn, busy: &[u8], name: &str) {
    let t = Instant::now();
    loop {
        let r = c.cmd(&["PING"]);
        if r == busy {
            return;
        }
        assert_eq!(r, b"+PONG\r\n", "{name}");
        assert!(t.elapsed() < Duration::from_secs(10), "{name}: never busy");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Waits until PING answers again after a kill.
fn wait_idle(c: &mut Conn, name: &str) {
    let t = Instant::now();
    while c.cmd(&["PING"]) != b"+PONG\r\n" {
        assert!(t.elapsed() < Duration::from_secs(10), "{name}: still busy");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The caller of the EVAL `sha` that SCRIPT KILL ended reads Redis's error.
fn expect_killed(caller: &mut Conn, sha: &str, name: &str) {
    let killed = format!(
        "-ERR Script killed by user with SCRIPT KILL... script: {sha}, on @user_script:1.\r\n"
    );
    assert_eq!(
        String::from_utf8_lossy(&caller.read_reply()),
        killed,
        "{name}"
    );
}

fn sha1_of(c: &mut Conn, body: &str) -> String {
    let r = c.cmd(&["SCRIPT", "LOAD", body]);
    String::from_utf8(common::bulk_payload(&r)).unwrap()
}

fn check(server: &Server) {
    let name = &server.name;
    let mut admin = server.conn();
    assert_eq!(
        admin.cmd(&["CONFIG", "SET", "busy-reply-threshold", "50"]),
        b"+OK\r\n"
    );
    // Connections spread over the shards, keys on every shard.
    let mut others: Vec<Conn> = (0..4).map(|_| server.conn()).collect();
    let keys = keys_on_distinct_shards("busy", 4, 4);
    for k in &keys {
        assert_eq!(admin.cmd(&["SET", k, "before"]), b"+OK\r\n");
    }

    // A read-only EVAL that loops inside pcall: every other client is
    // refused, FUNCTION KILL and FUNCTION STATS too; SCRIPT KILL ends it,
    // and its error reaches the caller.
    let body = "local f = function() while 1 do redis.call('ping') end end while 1 do pcall(f) end";
    let sha = sha1_of(&mut admin, body);
    let mut caller = server.conn();
    caller.send(&["EVAL", body, "0"]);
    wait_busy(&mut admin, BUSY_EVAL, name);
    for (c, k) in others.iter_mut().zip(&keys) {
        assert_eq!(c.cmd(&["GET", k]), BUSY_EVAL, "{name}");
    }
    assert_eq!(admin.cmd(&["FUNCTION", "KILL"]), BUSY_EVAL, "{name}");
    assert_eq!(admin.cmd(&["FUNCTION", "STATS"]), BUSY_EVAL, "{name}");
    assert_eq!(others[1].cmd(&["SCRIPT", "KILL"]), b"+OK\r\n", "{name}");
    expect_killed(&mut caller, &sha, name);
    wait_idle(&mut admin, name);
    assert_eq!(caller.cmd(&["PING"]), b"+PONG\r\n", "{name}");
    assert_eq!(
        admin.cmd(&["SCRIPT", "KILL"]),
        b"-NOTBUSY No scripts in execution right now.\r\n",
        "{name}"
    );

    // A busy function: FUNCTION STATS shows it, SCRIPT KILL may not end
    // it, FUNCTION KILL does.
    let lib = "#!lua name=busylib\nredis.register_function('spin', function() local a = 1 while true do a = a + 1 end end)";
    assert_eq!(
        admin.cmd(&["FUNCTION", "LOAD", "REPLACE", lib]),
        b"$7\r\nbusylib\r\n"
    );
    caller.send(&["FCALL", "spin", "0"]);
    wait_busy(&mut admin, BUSY_FUNCTION, name);
    let stats = admin.cmd(&["FUNCTION", "STATS"]);
    let stats = String::from_utf8_lossy(&stats);
    assert!(
        stats.starts_with("*4\r\n$14\r\nrunning_script\r\n*6\r\n$4\r\nname\r\n$4\r\nspin\r\n$7\r\ncommand\r\n*3\r\n$5\r\nFCALL\r\n$4\r\nspin\r\n$1\r\n0\r\n$11\r\nduration_ms\r\n:"),
        "{name}: {stats}"
    );
    assert_eq!(others[2].cmd(&["SCRIPT", "KILL"]), BUSY_FUNCTION, "{name}");
    assert_eq!(others[3].cmd(&["FUNCTION", "KILL"]), b"+OK\r\n", "{name}");
    let r = caller.read_reply();
    assert!(
        r.starts_with(b"-ERR Script killed by user with SCRIPT KILL..."),
        "{name}: {}",
        String::from_utf8_lossy(&r)
    );
    wait_idle(&mut admin, name);

    // A transaction started during the busy script: MULTI runs, the
    // refused command dooms it, EXEC refused aborts it.
    let mut tx = server.conn();
    let writer = "redis.call('set', KEYS[1], 'script') while true do end";
    caller.send(&["EVAL", writer, "1", &keys[0]]);
    wait_busy(&mut admin, BUSY_EVAL, name);
    assert_eq!(tx.cmd(&["MULTI"]), b"+OK\r\n", "{name}");
    assert_eq!(tx.cmd(&["INCR", "counter"]), BUSY_EVAL, "{name}");
    let aborted = [
        &b"-EXECABORT Transaction discarded because of: "[..],
        &BUSY_EVAL[1..],
    ]
    .concat();
    assert_eq!(tx.cmd(&["EXEC"]), aborted, "{name}");
    // DISCARD runs during a busy script too: the MULTI is over.
    assert_eq!(
        tx.cmd(&["DISCARD"]),
        b"-ERR DISCARD without MULTI\r\n",
        "{name}"
    );
    // It wrote: SCRIPT KILL may not end it, SHUTDOWN must be NOSAVE.
    assert_eq!(admin.cmd(&["SCRIPT", "KILL"]), UNKILLABLE, "{name}");
    assert_eq!(admin.cmd(&["SHUTDOWN"]), BUSY_EVAL, "{name}");
    admin.send(&["SHUTDOWN", "NOSAVE"]);
    let t = Instant::now();
    while common::listening(server.port) {
        assert!(t.elapsed() < Duration::from_secs(10), "{name}: still up");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn busy_scripts_refuse_others_until_killed() {
    for shards in [1, 2, 4] {
        check(&Server::shardis(shards, &[]));
    }
    if redis_available() {
        check(&Server::redis(&[]));
    }
}

/// A script that runs long but ends on its own: its client gets its
/// reply, and the others are served again.
#[test]
fn a_timed_out_script_that_returns_answers_its_caller() {
    for shards in [1, 4] {
        let server = Server::shardis(shards, &[]);
        let mut c = server.conn();
        assert_eq!(
            c.cmd(&["CONFIG", "SET", "lua-time-limit", "10"]),
            b"+OK\r\n"
        );
        let r = c.cmd(&[
            "EVAL",
            "for i=1,100000 do redis.call('ping') end return 'ok'",
            "0",
        ]);
        assert_eq!(r, b"$2\r\nok\r\n", "{}", server.name);
        assert_eq!(c.cmd(&["PING"]), b"+PONG\r\n");
        assert_eq!(server.conn().cmd(&["PING"]), b"+PONG\r\n");
    }
}

/// A loop inside a Lua coroutine is watched too (the hook reaches the
/// coroutine's thread) and SCRIPT KILL ends it with the same error.
#[test]
fn a_loop_inside_a_lua_coroutine_is_killed_too() {
    let mut servers = vec![Server::shardis(1, &[]), Server::shardis(4, &[])];
    if redis_available() {
        servers.push(Server::redis(&[]));
    }
    for server in &servers {
        let name = &server.name;
        let mut admin = server.conn();
        admin.cmd(&["CONFIG", "SET", "busy-reply-threshold", "50"]);
        let body = "local co = coroutine.wrap(function() while true do end end) co()";
        let sha = sha1_of(&mut admin, body);
        let mut caller = server.conn();
        caller.send(&["EVAL", body, "0"]);
        wait_busy(&mut admin, BUSY_EVAL, name);
        assert_eq!(admin.cmd(&["SCRIPT", "KILL"]), b"+OK\r\n", "{name}");
        expect_killed(&mut caller, &sha, name);
        wait_idle(&mut admin, name);
    }
}
