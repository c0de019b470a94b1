//! INFO memory's script counts (number_of_cached_scripts, functions,
//! libraries) as redis-server 7.0 shows them, through SCRIPT LOAD, EVAL,
//! FUNCTION LOAD and SCRIPT FLUSH ASYNC.

mod common;

use common::repl::info_field;
use common::{redis_available, Conn, Server};

const FIELDS: [&str; 3] = [
    "number_of_cached_scripts",
    "number_of_functions",
    "number_of_libraries",
];

fn counts(c: &mut Conn) -> Vec<Option<String>> {
    FIELDS.iter().map(|f| info_field(c, "memory", f)).collect()
}

fn steps(server: &Server) -> Vec<Vec<Option<String>>> {
    let mut c = server.conn();
    let mut seen = vec![counts(&mut c)];
    for j in 0..100 {
        c.cmd(&["SCRIPT", "LOAD", &format!("return {j}")]);
    }
    c.cmd(&["EVAL", "return 'new'", "0"]);
    c.cmd(&["EVAL", "return 1", "0"]);
    let lib = "#!lua name=lib\nredis.register_function('f1', function() return 1 end)\n\
               redis.register_function('f2', function() return 2 end)";
    c.cmd(&["FUNCTION", "LOAD", lib]);
    seen.push(counts(&mut c));
    c.cmd(&["SCRIPT", "FLUSH", "ASYNC"]);
    seen.push(counts(&mut c));
    c.cmd(&["FUNCTION", "FLUSH"]);
    seen.push(counts(&mut c));
    seen
}

#[test]
fn info_memory_counts_scripts_as_redis() {
    if !redis_available() {
        return;
    }
    let want = steps(&Server::redis(&[]));
    for shards in [1, 4] {
        assert_eq!(
            steps(&Server::shardis(shards, &[])),
            want,
            "shards {shards}"
        );
    }
}
