//! CLIENT TRACKING compared with redis-server 7.0: scripts run by several
//! named connections against redis-server and shardis (1 and 4 shards);
//! replies and the invalidation messages received must match.
//!
//! At 4 shards the keys are spread over every shard
//! (`keys_on_distinct_shards`), so whichever shard a connection lands on,
//! most invalidations travel from the key's shard to the tracking
//! client's over the mesh. There, messages about keys of different shards
//! may arrive in another order (compared as a multiset), and BCAST
//! batches are per shard (compared as the set of keys invalidated).

mod common;

use common::{escape, keys_on_distinct_shards, redis_available, Conn, Server};
use std::collections::BTreeMap;
use std::time::Duration;

/// What one step of a script recorded.
#[derive(Debug, Clone)]
enum Step {
    /// A command and its reply.
    Reply(String, Vec<u8>),
    /// Messages received while idle (invalidations, pushes).
    Pushes(String, Vec<Vec<u8>>),
    /// BCAST messages: compared as sets of keys at 4 shards.
    Bcast(String, Vec<Vec<u8>>),
}

/// Runs `script` on `server`. Lines:
/// - `c1: CMD args` runs a command on connection `c1` (opened on first
///   use); `{c2}` in the arguments stands for the id of `c2`;
/// - `c1 <` reads the messages `c1` receives within a short wait;
/// - `c1 <<` the same for BCAST messages;
/// - `c1: ?FLAGS` records the `flags=` and `redir=` of CLIENT INFO;
/// - `c1: ?INFO` records INFO's `tracking_*` fields;
/// - `c1: CLOSE` closes `c1`; `SLEEP ms` waits.
fn run(server: &Server, script: &[&str]) -> Vec<Step> {
    let mut conns: BTreeMap<String, (Conn, u64)> = BTreeMap::new();
    let mut ids: BTreeMap<String, u64> = BTreeMap::new();
    let mut steps = Vec::new();
    for line in script {
        if let Some(ms) = line.strip_prefix("SLEEP ") {
            std::thread::sleep(Duration::from_millis(ms.parse().unwrap()));
            continue;
        }
        let (name, rest) = match line.split_once(": ") {
            Some((n, r)) => (n.to_string(), r.to_string()),
            None => {
                let (n, r) = line.split_once(' ').unwrap();
                (n.to_string(), r.to_string())
            }
        };
        if !conns.contains_key(&name) {
            let mut c = server.conn();
            let r = c.cmd(&["CLIENT", "ID"]);
            let id: u64 = String::from_utf8_lossy(&r[1..r.len() - 2]).parse().unwrap();
            ids.insert(name.clone(), id);
            conns.insert(name.clone(), (c, id));
        }
        // An id as an integer reply element (a line of its own).
        let normalize = |bytes: &[u8]| {
            let mut text = format!("\r\n{}", String::from_utf8_lossy(bytes));
            for (n, id) in &ids {
                text = text.replace(&format!("\r\n:{id}\r\n"), &format!("\r\n:<{n}>\r\n"));
            }
            escape(&text.as_bytes()[2..]).into_bytes()
        };
        let (conn, _) = conns.get_mut(&name).unwrap();
        match rest.as_str() {
            "<" | "<<" => {
                conn.set_timeout(Duration::from_millis(300));
                let mut frames = Vec::new();
                while let Ok(f) = conn.try_read_reply() {
                    frames.push(normalize(&f));
                }
                conn.set_timeout(Duration::from_secs(10));
                if rest == "<" {
                    steps.push(Step::Pushes(line.to_string(), frames));
                } else {
                    steps.push(Step::Bcast(line.to_string(), frames));
                }
            }
            "?INFO" => {
                let r = conn.cmd(&["INFO", "everything"]);
                let text = String::from_utf8_lossy(&r).into_owned();
                let got: Vec<&str> = text
                    .split("\r\n")
                    .filter(|l| l.starts_with("tracking_"))
                    .collect();
                steps.push(Step::Reply(line.to_string(), got.join(" ").into_bytes()));
            }
            "CLOSE" => {
                conns.remove(&name);
                // Let the server notice.
                std::thread::sleep(Duration::from_millis(100));
            }
            "?FLAGS" => {
                let r = conn.cmd(&["CLIENT", "INFO"]);
                let text = String::from_utf8_lossy(&r).into_owned();
                let field = |f: &str| {
                    text.split(' ')
                        .find_map(|w| w.strip_prefix(f))
                        .unwrap_or("")
                        .to_string()
                };
                let mut redir = field("redir=");
                for (n, id) in &ids {
                    if redir == id.to_string() {
                        redir = format!("<{n}>");
                    }
                }
                let got = format!("flags={} redir={redir}", field("flags="));
                steps.push(Step::Reply(line.to_string(), got.into_bytes()));
            }
            cmd => {
                let mut args: Vec<String> = Vec::new();
                for a in cmd.split(' ') {
                    let mut a = a.to_string();
                    for (n, id) in &ids {
                        a = a.replace(&format!("{{{n}}}"), &id.to_string());
                    }
                    args.push(a);
                }
                let r = conn.cmd(&args);
                // Ids differ between servers: only where they are the
                // reply's subject.
                let r = if cmd.starts_with("HELLO") {
                    // Holds the id where the protocol version could be
                    // mistaken for one: its header is enough here.
                    escape(&r[..r.len().min(4)]).into_bytes()
                } else if ["GETREDIR", "TRACKINGINFO"].iter().any(|w| cmd.contains(w)) {
                    normalize(&r)
                } else {
                    escape(&r).into_bytes()
                };
                steps.push(Step::Reply(line.to_string(), r));
            }
        }
    }
    steps
}

/// The keys a BCAST message invalidates (bulk strings after the
/// `invalidate` push header or the `__redis__:invalidate` channel).
fn keys_of(frame: &[u8]) -> Vec<String> {
    let text = String::from_utf8_lossy(frame).replace("\\r\\n", "\n");
    let lines: Vec<&str> = text.lines().collect();
    let mut bulks = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        if lines[i].starts_with('$') && lines[i] != "$-1" && i + 1 < lines.len() {
            bulks.push(lines[i + 1].to_string());
            i += 2;
        } else {
            i += 1;
        }
    }
    let skip = if bulks.first().map(String::as_str) == Some("message") {
        2
    } else {
        1
    };
    bulks.into_iter().skip(skip).collect()
}

/// A step in comparable form. `per_shard_batches`: BCAST batches may be
/// split by shard, compare the keys invalidated.
fn canonical(step: &Step, per_shard_batches: bool) -> String {
    match step {
        Step::Reply(l, r) => format!("{l} => {}", String::from_utf8_lossy(r)),
        Step::Pushes(l, frames) => {
            let mut f: Vec<String> = frames
                .iter()
                .map(|b| String::from_utf8_lossy(b).into_owned())
                .collect();
            f.sort();
            format!("{l} => {f:?}")
        }
        Step::Bcast(l, frames) if per_shard_batches => {
            let mut keys: Vec<String> = frames.iter().flat_map(|f| keys_of(f)).collect();
            keys.sort();
            let kinds: std::collections::BTreeSet<String> = frames
                .iter()
                .map(|f| String::from_utf8_lossy(&f[..f.len().min(12)]).into_owned())
                .collect();
            format!("{l} => kinds {kinds:?} keys {keys:?}")
        }
        Step::Bcast(l, frames) => canonical(&Step::Pushes(l.clone(), frames.clone()), false),
    }
}

fn compare(want: &[Step], got: &[Step], per_shard: bool, label: &str) {
    let w: Vec<String> = want.iter().map(|s| canonical(s, per_shard)).collect();
    let g: Vec<String> = got.iter().map(|s| canonical(s, per_shard)).collect();
    for (a, b) in w.iter().zip(&g) {
        assert_eq!(b, a, "{label}: first difference");
    }
    assert_eq!(g.len(), w.len(), "{label}");
}

/// Runs `script` (with `{k0}`…`{k3}` replaced by keys on distinct shards)
/// on redis-server and on shardis at 1 and 4 shards.
fn check(extra: &[&str], script: &[&str]) {
    if !redis_available() {
        eprintln!("redis-server not available: skipped");
        return;
    }
    let keys = keys_on_distinct_shards("key:", 4, 4);
    let script: Vec<String> = script
        .iter()
        .map(|l| {
            let mut l = l.to_string();
            for (i, k) in keys.iter().enumerate() {
                l = l.replace(&format!("{{k{i}}}"), k);
            }
            l
        })
        .collect();
    let script: Vec<&str> = script.iter().map(String::as_str).collect();
    let want = run(&Server::redis(extra), &script);
    if std::env::var_os("TRACKING_SHOW").is_some() {
        for s in &want {
            eprintln!("{}", canonical(s, false));
        }
    }
    assert!(
        want.iter().any(|s| match s {
            Step::Pushes(_, f) | Step::Bcast(_, f) => !f.is_empty(),
            _ => false,
        }) || !script.iter().any(|l| l.ends_with('<')),
        "redis sent no message: {want:?}"
    );
    let one = run(&Server::shardis(1, extra), &script);
    compare(&want, &one, false, "shards=1");
    let four = run(&Server::shardis(4, extra), &script);
    compare(&want, &four, true, "shards=4");
}

#[test]
fn default_mode_resp3() {
    check(
        &[],
        &[
            "c1: HELLO 3",
            "c1: CLIENT TRACKING on",
            "c1: GET {k0}",
            "c1: MGET {k1} {k2} {k3}",
            "c2: SET {k0} v",
            "c1 <",
            "c2: SET {k0} w",
            "c1 <",
            "c2: MSET {k1} a {k2} b {k3} c",
            "c1 <",
            "c1: GET {k1}",
            "c1: STRLEN {k2}",
            "c2: DEL {k1} {k2}",
            "c1 <",
            // Writes by the tracking client itself (no NOLOOP).
            "c1: GET {k3}",
            "c1: SET {k3} x",
            "c1 <",
            "c1: ?FLAGS",
            "c1: CLIENT TRACKINGINFO",
            "c1: CLIENT GETREDIR",
            "c1: CLIENT TRACKING off",
            "c1: GET {k0}",
            "c2: SET {k0} z",
            "c1 <",
            "c1: ?FLAGS",
        ],
    );
}

#[test]
fn redirect_resp2_pubsub() {
    check(
        &[],
        &[
            "r: SUBSCRIBE __redis__:invalidate",
            "c1: CLIENT TRACKING on REDIRECT {r}",
            "c1: CLIENT GETREDIR",
            "c1: CLIENT TRACKINGINFO",
            "c1: ?FLAGS",
            "c1: GET {k0}",
            "c1: GET {k1}",
            "c1: HGET {k2} f",
            "c2: SET {k0} v",
            "c2: HSET {k2} f v",
            "r <",
            "c2: SET {k1} v",
            "r <",
            "c2: FLUSHALL",
            "r <",
            "c1 <",
        ],
    );
}

#[test]
fn redirect_resp3_target_and_broken() {
    check(
        &[],
        &[
            "r: HELLO 3",
            "c1: HELLO 3",
            "c1: CLIENT TRACKING on REDIRECT {r}",
            "c1: GET {k0}",
            "c1: GET {k3}",
            "c2: SET {k0} v",
            "r <",
            "c1 <",
            "r: CLOSE",
            "c2: SET {k3} v",
            "c1 <",
            "c1: CLIENT TRACKINGINFO",
            "c1: ?FLAGS",
            "c1: CLIENT TRACKING on",
            "c1: CLIENT TRACKINGINFO",
        ],
    );
}

#[test]
fn bcast_with_prefixes() {
    check(
        &[],
        &[
            "c1: HELLO 3",
            "c1: CLIENT TRACKING on BCAST PREFIX key: PREFIX other:",
            "c1: CLIENT TRACKINGINFO",
            "c1: ?FLAGS",
            "c2: SET {k0} v",
            "c1 <<",
            "c2: MSET {k1} a {k2} b {k3} c",
            "c1 <<",
            "c2: SET unrelated v",
            "c2: SET other:x v",
            "c1 <<",
            // Prefixes add up; overlaps are refused.
            "c1: CLIENT TRACKING on BCAST PREFIX third:",
            "c1: CLIENT TRACKING on BCAST PREFIX ke",
            "c1: CLIENT TRACKING on BCAST PREFIX a PREFIX ab",
            "c1: CLIENT TRACKINGINFO",
            "c2: SET third:1 v",
            "c1 <<",
            "c1: CLIENT TRACKING off",
            "c1: CLIENT TRACKING on BCAST",
            "c1: CLIENT TRACKINGINFO",
            "c2: SET anything v",
            "c1 <<",
            "c2: FLUSHALL",
            "c1 <<",
        ],
    );
}

#[test]
fn bcast_redirect_resp2() {
    check(
        &[],
        &[
            "r: SUBSCRIBE __redis__:invalidate",
            "c1: CLIENT TRACKING on BCAST REDIRECT {r} PREFIX key:",
            "c2: SET {k0} v",
            "c2: SET {k1} v",
            "r <<",
        ],
    );
}

#[test]
fn optin_optout_caching() {
    check(
        &[],
        &[
            "c1: HELLO 3",
            "c1: CLIENT CACHING yes",
            "c1: CLIENT TRACKING on OPTIN",
            "c1: CLIENT CACHING no",
            "c1: CLIENT CACHING maybe",
            "c1: GET {k0}",
            "c1: CLIENT CACHING yes",
            "c1: CLIENT TRACKINGINFO",
            "c1: GET {k1}",
            "c1: GET {k2}",
            "c2: MSET {k0} a {k1} b {k2} c",
            "c1 <",
            // CACHING yes covers a whole transaction.
            "c1: CLIENT CACHING yes",
            "c1: MULTI",
            "c1: GET {k0}",
            "c1: GET {k3}",
            "c1: EXEC",
            "c2: MSET {k0} a {k3} b",
            "c1 <",
            "c1: CLIENT TRACKING off",
            "c1: CLIENT TRACKING on OPTOUT",
            "c1: CLIENT CACHING yes",
            "c1: CLIENT TRACKING on OPTIN",
            "c1: GET {k0}",
            "c1: CLIENT CACHING no",
            "c1: CLIENT TRACKINGINFO",
            "c1: GET {k1}",
            "c1: GET {k2}",
            "c2: MSET {k0} a {k1} b {k2} c",
            "c1 <",
        ],
    );
}

#[test]
fn noloop() {
    check(
        &[],
        &[
            "c1: HELLO 3",
            "c1: CLIENT TRACKING on NOLOOP",
            "c1: GET {k0}",
            "c1: GET {k1}",
            "c1: SET {k0} mine",
            "c1 <",
            "c2: SET {k1} theirs",
            "c1 <",
            "c1: CLIENT TRACKING off",
            "c1: CLIENT TRACKING on BCAST NOLOOP PREFIX key:",
            "c1: SET {k2} mine",
            "c1 <<",
            "c2: SET {k3} theirs",
            "c1 <<",
            "c1: CLIENT TRACKINGINFO",
        ],
    );
}

#[test]
fn flush_sends_null() {
    check(
        &[],
        &[
            "c1: HELLO 3",
            "c1: CLIENT TRACKING on",
            "c1: GET {k0}",
            "c2: SET {k1} v",
            "c2: FLUSHDB",
            "c1 <",
            "c2: SET {k0} v",
            "c1 <",
            "c1: GET {k0}",
            "c1: FLUSHALL",
            "c1 <",
            "c2: SET {k0} v",
            "c1 <",
        ],
    );
}

#[test]
fn expiry_invalidates() {
    check(
        &[],
        &[
            "c1: HELLO 3",
            "c1: CLIENT TRACKING on",
            "c2: SET {k0} v PX 100",
            "c2: SET {k1} v PX 100",
            "c1: GET {k0}",
            "c1: GET {k1}",
            "SLEEP 200",
            // Lazy expiry on access, then the active cycle.
            "c2: GET {k0}",
            "SLEEP 300",
            "c1 <",
        ],
    );
}

#[test]
fn option_errors() {
    check(
        &[],
        &[
            "c2: PING",
            "c1: CLIENT TRACKING",
            "c1: CLIENT TRACKING maybe",
            "c1: CLIENT TRACKING on PREFIX a",
            "c1: CLIENT TRACKING on BCAST OPTIN",
            "c1: CLIENT TRACKING on BCAST OPTOUT",
            "c1: CLIENT TRACKING on OPTIN OPTOUT",
            "c1: CLIENT TRACKING on REDIRECT 999999",
            "c1: CLIENT TRACKING on REDIRECT abc",
            "c1: CLIENT TRACKING on REDIRECT {c2} REDIRECT {c2}",
            "c1: CLIENT TRACKING on REDIRECT",
            "c1: CLIENT TRACKING on BOGUS",
            "c1: CLIENT TRACKING on BCAST PREFIX a PREFIX b PREFIX ab",
            "c1: CLIENT TRACKING on BCAST PREFIX abc PREFIX ab",
            "c1: CLIENT TRACKING off PREFIX a",
            "c1: CLIENT TRACKINGINFO",
            "c1: CLIENT GETREDIR",
            "c1: CLIENT CACHING yes",
            "c1: CLIENT TRACKING on",
            "c1: CLIENT TRACKING on BCAST",
            "c1: CLIENT CACHING yes",
            "c1: CLIENT CACHING no",
            "c1: CLIENT TRACKING on OPTIN",
            "c1: CLIENT TRACKING on OPTOUT",
            "c1: CLIENT TRACKINGINFO",
            "c1: CLIENT GETREDIR",
            "c1: CLIENT TRACKING on REDIRECT {c2}",
            "c1: CLIENT GETREDIR",
            "c1: CLIENT TRACKING on",
            "c1: CLIENT GETREDIR",
            "c1: RESET",
            "c1: CLIENT TRACKINGINFO",
            "c2: CLIENT TRACKINGINFO",
        ],
    );
}

#[test]
fn multi_key_transaction_and_blocking_paths() {
    check(
        &[],
        &[
            "c1: HELLO 3",
            "c1: CLIENT TRACKING on",
            "c2: SADD {k0} a",
            "c2: SADD {k1} b",
            // A read of keys on several shards (the atomic path).
            "c1: SINTER {k0} {k1}",
            "c2: SADD {k1} c",
            "c1 <",
            // Writes inside MULTI/EXEC spanning shards.
            "c1: SCARD {k0}",
            "c1: EXISTS {k2} {k3}",
            "c2: MULTI",
            "c2: DEL {k0}",
            "c2: SET {k2} v",
            "c2: SET {k3} v",
            "c2: EXEC",
            "c1 <",
            // A blocking pop served at once, and a BLMOVE destination.
            "c2: RPUSH {k0} x y",
            "c1: LRANGE {k0} 0 -1",
            "c1: LRANGE {k1} 0 -1",
            "c2: DEL {k1}",
            "c1 <",
            "c1: LLEN {k1}",
            "c2: BLPOP {k0} 0",
            "c1 <",
            "c1: LLEN {k0}",
            "c2: BLMOVE {k0} {k1} LEFT LEFT 0",
            "c1 <",
            "c1: CONFIG GET tracking-table-max-keys",
        ],
    );
}

#[test]
fn info_counters() {
    check(
        &[],
        &[
            "c1: HELLO 3",
            "c1: CLIENT TRACKING on",
            "c1: MGET {k0} {k1} {k2}",
            "c3: CLIENT TRACKING on",
            "c3: GET {k0}",
            "c4: CLIENT TRACKING on BCAST PREFIX a PREFIX b",
            "c2: ?INFO",
            "c2: SET {k0} v",
            "c1 <",
            "c2: ?INFO",
            "c4: CLIENT TRACKING off",
            "c1: CLIENT TRACKING off",
            "c2: ?INFO",
        ],
    );
}

/// A tracking-table-max-keys lowered while a client is in MULTI applies
/// before its next command, queued or not: the invalidation of one of the
/// keys (Redis picks it at random) comes before QUEUED (Redis's #11715
/// regression test), on redis-server and Shardis alike, whichever shard
/// holds the keys.
#[test]
fn lowered_key_limit_invalidates_before_a_queued_command() {
    let mut servers = vec![
        Server::shardis(1, &["--enable-debug-command", "yes"]),
        Server::shardis(4, &["--enable-debug-command", "yes"]),
    ];
    if redis_available() {
        servers.push(Server::redis(&["--enable-debug-command", "yes"]));
    }
    for srv in &servers {
        let (mut c1, mut c2) = (srv.conn(), srv.conn());
        c2.cmd(&["CONFIG", "SET", "tracking-table-max-keys", "2"]);
        c2.cmd(&["DEBUG", "PAUSE-CRON", "1"]);
        c1.cmd(&["HELLO", "3"]);
        c1.cmd(&["CLIENT", "TRACKING", "on"]);
        c1.cmd(&["MGET", "1{tag}", "2{tag}"]);
        c1.cmd(&["MULTI"]);
        c2.cmd(&["CONFIG", "SET", "tracking-table-max-keys", "1"]);
        let push = c1.cmd(&["PING"]);
        let victim =
            |k: &str| push == format!(">2\r\n$10\r\ninvalidate\r\n*1\r\n$6\r\n{k}\r\n").as_bytes();
        assert!(
            victim("1{tag}") || victim("2{tag}"),
            "{}: {}",
            srv.name,
            escape(&push)
        );
        assert_eq!(c1.read_reply(), b"+QUEUED\r\n", "{}", srv.name);
        c2.cmd(&["DEBUG", "PAUSE-CRON", "0"]);
    }
}

/// A script's reads are tracked as Redis's: once it calls a read-only
/// command, its declared keys are remembered for the tracking caller
/// (not the keys its commands named); a script that only writes, or a
/// read-only one that reads nothing, tracks nothing.
#[test]
fn scripts_track_their_declared_keys() {
    check(
        &[],
        &[
            "c1: HELLO 3",
            "c1: CLIENT TRACKING on",
            "c1: EVAL redis.call('set',KEYS[1],'a') 2 {k0} {k1}",
            "c2: MSET {k0} 1 {k1} 1",
            "c1 <",
            "c1: EVAL return(redis.call('get',ARGV[1])) 2 {k0} {k1} {k2}",
            "c2: MSET {k2} 2",
            "c1 <",
            "c2: MSET {k0} 2 {k1} 2",
            "c1 <",
            "c1: EVAL_RO return(redis.call('ping')) 1 {k3}",
            "c2: SET {k3} 3",
            "c1 <",
            "c1: EVAL_RO return(redis.call('exists',KEYS[1])) 1 {k3}",
            "c2: SET {k3} 4",
            "c1 <",
        ],
    );
}
