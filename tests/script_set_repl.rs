//! redis.set_repl: a script's writes reach the AOF and the replicas as
//! its replication flags say (Redis's "Test selective replication of
//! certain Redis commands from Lua"), on shardis (1 and 4 shards) and on
//! redis-server 7.0, whose outcome is the expectation.

mod common;

use common::repl::wait_synced;
use common::{redis_available, Server, TempDir};

const SCRIPT: &str = "redis.call('set','a','1') \
    redis.set_repl(redis.REPL_NONE) redis.call('set','b','2') \
    redis.set_repl(redis.REPL_AOF) redis.call('set','c','3') \
    redis.set_repl(redis.REPL_REPLICA) redis.call('set','e','5') \
    redis.set_repl(redis.REPL_ALL) redis.call('set','d','4')";

/// (replica's MGET, the primary's MGET after DEBUG LOADAOF), then the
/// same for a script with one write, to the AOF only.
fn outcome(primary: &Server, replica: &Server) -> Vec<Vec<u8>> {
    let mut p = primary.conn();
    let mut seen = Vec::new();
    for script in [
        SCRIPT,
        "redis.set_repl(redis.REPL_AOF) redis.call('set','f','6')",
    ] {
        wait_synced(primary, replica);
        assert!(!p.cmd(&["EVAL", script, "0"]).starts_with(b"-"));
        wait_synced(primary, replica);
        seen.push(replica.conn().cmd(&["MGET", "a", "b", "c", "d", "e", "f"]));
        assert_eq!(p.cmd(&["DEBUG", "LOADAOF"]), b"+OK\r\n");
        seen.push(p.cmd(&["MGET", "a", "b", "c", "d", "e", "f"]));
    }
    seen
}

/// The primary's AOF in `dir`, and DEBUG LOADAOF allowed.
fn primary_args(dir: &TempDir) -> [&str; 6] {
    let dir = dir.0.to_str().unwrap();
    [
        "--appendonly",
        "yes",
        "--enable-debug-command",
        "yes",
        "--dir",
        dir,
    ]
}

#[test]
fn set_repl_chooses_aof_and_replicas() {
    if !redis_available() {
        return;
    }
    let dir = TempDir::new("set-repl-redis");
    let primary = Server::redis(&primary_args(&dir));
    let replica = Server::redis(&["--replicaof", &format!("127.0.0.1 {}", primary.port)]);
    let want = outcome(&primary, &replica);
    for shards in [1, 4] {
        let dir = TempDir::new("set-repl-shardis");
        let primary = Server::shardis(shards, &primary_args(&dir));
        let target = format!("127.0.0.1 {}", primary.port);
        let replica = Server::shardis(shards, &["--replicaof", &target]);
        assert_eq!(outcome(&primary, &replica), want, "shards {shards}");
    }
}
