//! INFO commandstats / errorstats of the commands a script calls, against
//! redis-server 7.0 (Redis's "Consistent eval error reporting"): a call
//! refused before it runs counts as the command's rejected call, one that
//! fails as its failed call, and each failure counts one error, however
//! the script then returns or raises it.

mod common;

use common::{bulk_payload, redis_available, Conn, Server};

/// Scripts, each run after CONFIG RESETSTAT (with `maxmemory 1` for the
/// first three: refused writes).
const OOM_SCRIPTS: &[&[&str]] = &[
    &["EVAL", "return redis.call('set','x','y')", "1", "x"],
    &[
        "EVAL",
        "local t = redis.pcall('set','x','y') return t['err']",
        "1",
        "x",
    ],
    &["EVAL", "return redis.pcall('set','x','y')", "1", "x"],
];

const SCRIPTS: &[&[&str]] = &[
    &["EVAL", "return redis.call('select',99)", "0"],
    &[
        "EVAL",
        "local t = redis.pcall('select',99) return t['err']",
        "0",
    ],
    &[
        "EVAL",
        "redis.call('select',1) return redis.call('select','x')",
        "0",
    ],
    &["EVAL_RO", "return redis.call('set','x','y')", "1", "x"],
    &[
        "EVAL_RO",
        "local t = redis.pcall('set','x','y') return t['err']",
        "1",
        "x",
    ],
    &[
        "EVAL",
        "return redis.call('geoadd','Sicily','13.36','38.11','Palermo')",
        "1",
        "Sicily",
    ],
    &[
        "EVAL",
        "return redis.pcall('lpush','Sicily','a')",
        "1",
        "Sicily",
    ],
    &[
        "EVAL",
        "return {redis.pcall('lpush','Sicily','a')}",
        "1",
        "Sicily",
    ],
    &[
        "EVAL",
        "local e = redis.pcall('lpush','Sicily','a') return {e, 1, e}",
        "1",
        "Sicily",
    ],
    &["EVAL", "return redis.call('nosuchcommand')", "0"],
    &["EVAL", "return redis.call('get')", "0"],
    &["EVAL", "return redis.call()", "0"],
    &["EVAL", "return redis.error_reply('MY custom')", "0"],
    &[
        "EVAL",
        "redis.pcall('get','Sicily') return redis.pcall('incr','Sicily')",
        "1",
        "Sicily",
    ],
];

/// INFO commandstats without timings, errorstats and the error total.
fn counters(c: &mut Conn) -> Vec<String> {
    let mut lines = Vec::new();
    for section in ["commandstats", "errorstats", "stats"] {
        let info = String::from_utf8_lossy(&bulk_payload(&c.cmd(&["INFO", section]))).into_owned();
        for l in info.lines() {
            if let Some((name, rest)) = l.split_once(":calls=") {
                let calls = rest.split(',').next().unwrap_or("");
                let tail = rest
                    .split_once(",rejected_calls=")
                    .map(|t| t.1)
                    .unwrap_or("");
                lines.push(format!("{name}:calls={calls},rejected_calls={tail}"));
            } else if l.starts_with("errorstat_") || l.starts_with("total_error_replies:") {
                lines.push(l.to_string());
            }
        }
    }
    lines.sort();
    lines
}

/// (script, reply, counters) for every script on `server`.
fn run_all(server: &Server) -> Vec<(String, String, Vec<String>)> {
    let mut c = server.conn();
    c.cmd(&["SET", "Sicily", "1"]);
    let mut seen = Vec::new();
    let mut run = |c: &mut Conn, script: &[&str]| {
        c.cmd(&["CONFIG", "RESETSTAT"]);
        let reply = String::from_utf8_lossy(&c.cmd(script)).into_owned();
        seen.push((script.join(" "), reply, counters(c)));
    };
    c.cmd(&["CONFIG", "SET", "maxmemory", "1"]);
    for s in OOM_SCRIPTS {
        run(&mut c, s);
    }
    c.cmd(&["CONFIG", "SET", "maxmemory", "0"]);
    for s in SCRIPTS {
        run(&mut c, s);
    }
    seen
}

#[test]
fn script_calls_count_as_redis_counts_them() {
    if !redis_available() {
        return;
    }
    let reference = run_all(&Server::redis(&[]));
    for shards in [1, 4] {
        let got = run_all(&Server::shardis(shards, &[]));
        for (want, got) in reference.iter().zip(&got) {
            assert_eq!(got, want, "shards {shards}");
        }
    }
}
