//! MIGRATE, differentially: every scenario runs with the source being
//! redis-server 7.0, shardis at 1 shard and shardis at 4 shards, and the
//! target being redis-server and shardis. The source's replies, which
//! source keys remain, and the target's keys (DUMP payload, TTL) must be
//! what redis-server → redis-server gives.

mod common;

use common::{escape, keys_on_distinct_shards, redis_available, Conn, Server};
use std::io::Read;
use std::net::TcpListener;
use std::time::Duration;

/// Where a scenario step runs.
#[derive(Clone, Copy, PartialEq)]
enum Side {
    /// On the source connection (its reply is compared).
    Src,
    /// On the target, in the scenario's target database (compared).
    Dst,
    /// On the target, reply not compared (counts that vary).
    DstQuiet,
}

/// Which target a scenario migrates to.
#[derive(Clone, Copy, PartialEq)]
enum To {
    Plain,
    /// `requirepass secret`.
    Auth,
    /// Nothing listens on the port.
    Refused,
    /// Accepts and reads, never answers.
    Silent,
}

struct Scenario {
    name: &'static str,
    to: To,
    /// The target database inspected (and where Dst steps run).
    dst_db: usize,
    /// `{T}` stands for `127.0.0.1 <target port>`.
    steps: Vec<(Side, String)>,
    /// Keys inspected afterwards on both sides.
    keys: Vec<String>,
}

fn sc(
    name: &'static str,
    to: To,
    dst_db: usize,
    steps: &[(Side, &str)],
    keys: &[&str],
) -> Scenario {
    Scenario {
        name,
        to,
        dst_db,
        steps: steps.iter().map(|(s, l)| (*s, l.to_string())).collect(),
        keys: keys.iter().map(|k| k.to_string()).collect(),
    }
}

use Side::{Dst, DstQuiet, Src};

/// Closes the target's other connections (cached MIGRATE sockets).
const KILL: &str = "CLIENT KILL TYPE normal SKIPME yes";

fn scenarios() -> Vec<Scenario> {
    // Keys on four different shards of a 4-shard source.
    let mk = keys_on_distinct_shards("mk", 4, 4);
    let (a, b, c, d) = (&mk[0], &mk[1], &mk[2], &mk[3]);
    let multi_setup = [
        format!("SET {a} hello"),
        format!("RPUSH {b} x y z 1 2 3"),
        format!("HSET {c} f1 v1 f2 v2"),
        format!("ZADD {d} 1 m1 2.5 m2"),
    ];
    let keys4: Vec<&str> = mk.iter().map(|s| s.as_str()).collect();
    let mut keys5 = keys4.clone();
    keys5.push("missing");
    let mut v = vec![
        sc(
            "single",
            To::Plain,
            0,
            &[
                (Src, "SET k v"),
                (Src, "MIGRATE {T} k 0 5000"),
                (Src, "EXISTS k"),
            ],
            &["k"],
        ),
        sc(
            "ttl preserved",
            To::Plain,
            0,
            &[
                (Src, "SET k v PX 100000"),
                (Src, "SADD s 1 2 3"),
                (Src, "PEXPIRE s 50000"),
                (Src, "MIGRATE {T} \"\" 0 5000 KEYS k s"),
            ],
            &["k", "s"],
        ),
        sc(
            "nokey",
            To::Plain,
            0,
            &[
                (Src, "MIGRATE {T} nokey 0 5000"),
                (Src, "MIGRATE {T} \"\" 0 5000 KEYS n1 n2"),
            ],
            &["nokey"],
        ),
        sc(
            "replace",
            To::Plain,
            0,
            &[
                (Src, "SET k new"),
                (Dst, "SET k old"),
                (Src, "MIGRATE {T} k 0 5000 REPLACE"),
            ],
            &["k"],
        ),
        sc(
            "busykey",
            To::Plain,
            0,
            &[
                (Src, "SET k new"),
                (Dst, "SET k old"),
                (Src, "MIGRATE {T} k 0 5000"),
            ],
            &["k"],
        ),
        sc(
            "copy",
            To::Plain,
            0,
            &[
                (Src, "SET k v"),
                (Src, "RPUSH l 1 2"),
                (Src, "MIGRATE {T} \"\" 0 5000 COPY KEYS k l"),
            ],
            &["k", "l"],
        ),
        sc(
            "copy replace",
            To::Plain,
            0,
            &[
                (Src, "SET k v"),
                (Dst, "SET k old"),
                (Src, "MIGRATE {T} k 0 5000 copy replace"),
            ],
            &["k"],
        ),
        sc(
            "nonzero db, then db 0, then back",
            To::Plain,
            5,
            &[
                (Src, "SET k1 a"),
                (Src, "SET k2 b"),
                (Src, "SET k3 c"),
                (Src, "MIGRATE {T} k1 5 5000"),
                (Src, "MIGRATE {T} k2 0 5000"),
                (Src, "MIGRATE {T} k3 5 5000"),
                (DstQuiet, "SELECT 0"),
                (Dst, "GET k2"),
            ],
            &["k1", "k2", "k3"],
        ),
        sc(
            "source db 3",
            To::Plain,
            1,
            &[
                (Src, "SELECT 3"),
                (Src, "SET k v"),
                (Src, "MIGRATE {T} k 1 5000"),
                (Src, "DBSIZE"),
            ],
            &["k"],
        ),
        sc(
            "auth",
            To::Auth,
            0,
            &[(Src, "SET k v"), (Src, "MIGRATE {T} k 0 5000 AUTH secret")],
            &["k"],
        ),
        sc(
            "auth2",
            To::Auth,
            0,
            &[
                (Src, "SET k v"),
                (Src, "MIGRATE {T} k 0 5000 AUTH2 default secret"),
            ],
            &["k"],
        ),
        // A failed AUTH leaves a cached connection authenticated by an
        // earlier MIGRATE as it was: start from fresh connections.
        sc(
            "auth wrong",
            To::Auth,
            0,
            &[
                (DstQuiet, KILL),
                (Src, "SET k v"),
                (Src, "MIGRATE {T} k 0 5000 AUTH nope"),
            ],
            &["k"],
        ),
        sc(
            "auth2 wrong user",
            To::Auth,
            0,
            &[
                (DstQuiet, KILL),
                (Src, "SET k v"),
                (Src, "MIGRATE {T} k 0 5000 AUTH2 bob secret"),
            ],
            &["k"],
        ),
        sc(
            "no auth",
            To::Auth,
            0,
            &[
                (DstQuiet, KILL),
                (Src, "SET k v"),
                (Src, "MIGRATE {T} k 0 5000"),
            ],
            &["k"],
        ),
        // AUTH to a target without a password fails, yet RESTORE ran:
        // the key ends up on both sides.
        sc(
            "auth without password",
            To::Plain,
            0,
            &[(Src, "SET k v"), (Src, "MIGRATE {T} k 0 5000 AUTH x")],
            &["k"],
        ),
        sc(
            "refused",
            To::Refused,
            0,
            &[
                (Src, "SET k v"),
                (Src, "MIGRATE {T} k 0 1000"),
                (Src, "EXISTS k"),
            ],
            &["k"],
        ),
        sc(
            "timeout",
            To::Silent,
            0,
            &[
                (Src, "SET k v"),
                (Src, "MIGRATE {T} k 0 300"),
                (Src, "EXISTS k"),
            ],
            &["k"],
        ),
        sc(
            "cached connection killed: retried",
            To::Plain,
            0,
            &[
                (Src, "SET k1 a"),
                (Src, "SET k2 b"),
                (Src, "MIGRATE {T} k1 0 5000"),
                (DstQuiet, KILL),
                (Src, "MIGRATE {T} k2 0 5000"),
            ],
            &["k1", "k2"],
        ),
        sc(
            "in MULTI",
            To::Plain,
            0,
            &[
                (Src, "SET k v"),
                (Src, "MULTI"),
                (Src, "MIGRATE {T} k 0 5000"),
                (Src, "GET k"),
                (Src, "EXEC"),
            ],
            &["k"],
        ),
        sc(
            "large value (several 64 KiB chunks)",
            To::Plain,
            0,
            &[
                (Src, "SETRANGE big 300000 x"),
                (Src, "MIGRATE {T} big 0 5000"),
            ],
            &["big"],
        ),
    ];
    let mut steps: Vec<(Side, String)> = multi_setup.iter().map(|l| (Src, l.clone())).collect();
    steps.push((
        Src,
        format!("MIGRATE {{T}} \"\" 0 5000 KEYS {}", keys5.join(" ")),
    ));
    v.push(Scenario {
        name: "KEYS across shards",
        to: To::Plain,
        dst_db: 0,
        steps,
        keys: keys5.iter().map(|s| s.to_string()).collect(),
    });
    // The second key exists on the target: the others still move, the
    // reply is the target's error.
    let mut steps: Vec<(Side, String)> = multi_setup.iter().map(|l| (Src, l.clone())).collect();
    steps.push((Dst, format!("SET {b} taken")));
    steps.push((
        Src,
        format!("MIGRATE {{T}} \"\" 0 5000 KEYS {}", keys4.join(" ")),
    ));
    v.push(Scenario {
        name: "KEYS with one busy key",
        to: To::Plain,
        dst_db: 0,
        steps,
        keys: keys4.iter().map(|s| s.to_string()).collect(),
    });
    v
}

/// The targets a source migrates to.
struct Targets {
    plain: Server,
    auth: Server,
    refused_port: u16,
    silent_port: u16,
}

impl Targets {
    fn port(&self, to: To) -> u16 {
        match to {
            To::Plain => self.plain.port,
            To::Auth => self.auth.port,
            To::Refused => self.refused_port,
            To::Silent => self.silent_port,
        }
    }

    /// A connection to the target of `to` (authenticated), if it has one.
    fn conn(&self, to: To) -> Option<Conn> {
        match to {
            To::Plain => Some(self.plain.conn()),
            To::Auth => {
                let mut c = self.auth.conn();
                assert_eq!(c.cmd(&["AUTH", "secret"]), b"+OK\r\n");
                Some(c)
            }
            _ => None,
        }
    }
}

/// A listener that accepts and reads everything, never answering.
fn silent_listener() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for s in l.incoming().flatten() {
            std::thread::spawn(move || {
                let mut s = s;
                let mut buf = [0u8; 65536];
                while matches!(s.read(&mut buf), Ok(n) if n > 0) {}
            });
        }
    });
    port
}

fn targets(kind: &str) -> Targets {
    let auth = ["--requirepass", "secret"];
    let (plain, auth) = match kind {
        "redis" => (Server::redis(&[]), Server::redis(&auth)),
        _ => (Server::shardis(2, &[]), Server::shardis(2, &auth)),
    };
    Targets {
        plain,
        auth,
        refused_port: common::free_port(),
        silent_port: silent_listener(),
    }
}

/// What a scenario came to: step replies, then per key the source's
/// EXISTS, the target's DUMP and a TTL class.
fn run(src: &Server, t: &Targets, s: &Scenario) -> Vec<String> {
    let mut out = Vec::new();
    let mut flush = src.conn();
    flush.cmd(&["FLUSHALL"]);
    for to in [To::Plain, To::Auth] {
        t.conn(to).unwrap().cmd(&["FLUSHALL"]);
    }
    let target = format!("127.0.0.1 {}", t.port(s.to));
    let mut c = src.conn();
    let mut dst = t.conn(s.to);
    if let Some(d) = dst.as_mut() {
        d.cmd(&["SELECT", &s.dst_db.to_string()]);
    }
    for (side, template) in &s.steps {
        // Recorded as written: the target's port differs between runs.
        let line = template.replace("{T}", &target);
        match side {
            Src => out.push(format!("{template} -> {}", escape(&c.line(&line)))),
            Dst => {
                let r = dst.as_mut().expect("target").line(&line);
                out.push(format!("target {template} -> {}", escape(&r)));
            }
            DstQuiet => {
                dst.as_mut().expect("target").line(&line);
            }
        }
    }
    if let Some(d) = dst.as_mut() {
        d.cmd(&["SELECT", &s.dst_db.to_string()]);
    }
    for k in &s.keys {
        let exists = escape(&c.cmd(&["EXISTS", k]));
        let (dump, ttl) = match dst.as_mut() {
            Some(d) => {
                let dump = short(&d.cmd(&["DUMP", k]));
                let pttl = String::from_utf8_lossy(&d.cmd(&["PTTL", k]))
                    .trim()
                    .to_string();
                let n: i64 = pttl.trim_start_matches(':').parse().unwrap();
                (
                    dump,
                    if n > 0 {
                        "ttl>0".to_string()
                    } else {
                        n.to_string()
                    },
                )
            }
            None => (String::new(), String::new()),
        };
        out.push(format!(
            "{k}: source EXISTS {exists}, target DUMP {dump} PTTL {ttl}"
        ));
    }
    out
}

/// A reply for the report: long ones as their length and a hash.
fn short(reply: &[u8]) -> String {
    if reply.len() <= 200 {
        return escape(reply);
    }
    let hash = reply.iter().fold(0xcbf29ce484222325u64, |h, &b| {
        (h ^ b as u64).wrapping_mul(0x100000001b3)
    });
    format!("<{} bytes, fnv {hash:016x}>", reply.len())
}

/// Checks the TTL of a migrated key is close to the source's.
fn check_ttl(t: &Targets) {
    let mut d = t.conn(To::Plain).unwrap();
    let pttl = d.cmd(&["PTTL", "k"]);
    let n: i64 = String::from_utf8_lossy(&pttl[1..]).trim().parse().unwrap();
    assert!((90_000..=100_000).contains(&n), "PTTL after MIGRATE: {n}");
}

#[test]
fn migrate_differential() {
    if !redis_available() {
        return;
    }
    let sources = [
        ("redis", Server::redis(&[])),
        ("shardis(1)", Server::shardis(1, &[])),
        ("shardis(4)", Server::shardis(4, &[])),
    ];
    let mut failures = Vec::new();
    for target_kind in ["redis", "shardis"] {
        let t = targets(target_kind);
        for s in scenarios() {
            let mut reference = None;
            for (name, src) in &sources {
                let got = run(src, &t, &s);
                if s.name == "ttl preserved" {
                    check_ttl(&t);
                }
                match &reference {
                    None => reference = Some(got),
                    Some(want) if *want != got => failures.push(format!(
                        "{} (source {name}, target {target_kind}):\n  want {want:#?}\n  got  {got:#?}",
                        s.name
                    )),
                    Some(_) => {}
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Source and target replies are the same whichever side is Shardis:
/// the reference runs above compare sources; this one compares targets
/// (redis → redis against redis → shardis).
#[test]
fn migrate_targets_agree() {
    if !redis_available() {
        return;
    }
    let src = Server::redis(&[]);
    let (tr, ts) = (targets("redis"), targets("shardis"));
    let mut failures = Vec::new();
    for s in scenarios() {
        let (a, b) = (run(&src, &tr, &s), run(&src, &ts, &s));
        if a != b {
            failures.push(format!("{}:\n  redis   {a:#?}\n  shardis {b:#?}", s.name));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// MIGRATE is logged as DEL of the moved keys (COPY: nothing), and one
/// socket per target is cached for the whole process, as in Redis,
/// whichever shard serves the client.
#[test]
fn migrate_logs_del_and_caches_socket() {
    if !redis_available() {
        return;
    }
    let src = Server::shardis(4, &["--appendonly", "yes"]);
    let t = Server::redis(&[]);
    let mut c = src.conn();
    let port = t.port.to_string();
    for cmd in [
        vec!["SET", "gone", "1"],
        vec!["SET", "kept", "2"],
        vec!["MIGRATE", "127.0.0.1", &port, "gone", "0", "5000"],
        vec!["MIGRATE", "127.0.0.1", &port, "kept", "0", "5000", "COPY"],
    ] {
        assert_eq!(c.cmd(&cmd), b"+OK\r\n", "{cmd:?}");
    }
    // More clients (spread over the shards by the kernel), one socket.
    for i in 0..8 {
        let mut other = src.conn();
        let k = format!("other{i}");
        other.cmd(&["SET", &k, "x"]);
        let r = other.cmd(&["MIGRATE", "127.0.0.1", &port, &k, "0", "5000"]);
        assert_eq!(r, b"+OK\r\n");
    }
    let info = String::from_utf8_lossy(&c.cmd(&["INFO", "stats"])).into_owned();
    assert!(info.contains("migrate_cached_sockets:1\r\n"), "{info}");
    let clients = String::from_utf8_lossy(&t.conn().cmd(&["INFO", "clients"])).into_owned();
    assert!(clients.contains("connected_clients:2\r\n"), "{clients}");
    // The AOF is written by a thread: give it a moment.
    std::thread::sleep(Duration::from_millis(300));
    let mut aof = Vec::new();
    for e in std::fs::read_dir(src.dir.join("appendonlydir")).unwrap() {
        let p = e.unwrap().path();
        if p.to_string_lossy().ends_with(".incr.aof") {
            aof.extend(std::fs::read(p).unwrap());
        }
    }
    let text = String::from_utf8_lossy(&aof);
    assert!(text.contains("*2\r\n$3\r\nDEL\r\n$4\r\ngone\r\n"), "{text}");
    assert_eq!(text.matches("DEL").count(), 9, "{text}");
    assert!(!text.contains("DEL\r\n$4\r\nkept"), "{text}");
    assert!(!text.contains("MIGRATE"), "{text}");
    assert_eq!(c.cmd(&["EXISTS", "gone", "kept"]), b":1\r\n");
}

/// Cached sockets are closed after 10 s unused, as Redis does.
#[test]
fn cached_socket_closed_when_idle() {
    if !redis_available() {
        return;
    }
    let src = Server::shardis(1, &[]);
    let t = Server::redis(&[]);
    let mut c = src.conn();
    c.cmd(&["SET", "k", "v"]);
    let port = t.port.to_string();
    assert_eq!(
        c.cmd(&["MIGRATE", "127.0.0.1", &port, "k", "0", "5000"]),
        b"+OK\r\n"
    );
    let clients = |t: &Server| {
        let info = String::from_utf8_lossy(&t.conn().cmd(&["INFO", "clients"])).into_owned();
        info.lines()
            .find_map(|l| l.strip_prefix("connected_clients:"))
            .map(|n| n.trim().parse::<i64>().unwrap())
            .unwrap()
    };
    // The INFO connection itself, plus the cached MIGRATE socket.
    assert_eq!(clients(&t), 2);
    std::thread::sleep(Duration::from_secs(12));
    assert_eq!(clients(&t), 1);
    let info = String::from_utf8_lossy(&c.cmd(&["INFO", "stats"])).into_owned();
    assert!(info.contains("migrate_cached_sockets:0\r\n"), "{info}");
}

/// In cluster mode MIGRATE sends RESTORE-ASKING (so that a node importing
/// the slot accepts it): what a cluster-mode redis-server and a
/// cluster-mode shardis send, as a target's MONITOR sees it, is the same.
#[test]
fn cluster_mode_sends_restore_asking() {
    if !redis_available() {
        return;
    }
    let cluster = ["--cluster-enabled", "yes"];
    let sources = [
        ("redis", Server::redis(&cluster)),
        ("shardis(2)", Server::shardis(2, &cluster)),
    ];
    let target = Server::redis(&[]);
    let mut seen = Vec::new();
    for (name, src) in &sources {
        let mut c = src.conn();
        assert_eq!(
            c.cmd(&["CLUSTER", "ADDSLOTSRANGE", "0", "16383"]),
            b"+OK\r\n"
        );
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while !String::from_utf8_lossy(&c.cmd(&["CLUSTER", "INFO"])).contains("cluster_state:ok") {
            assert!(
                std::time::Instant::now() < deadline,
                "{name}: cluster not ok"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        target.conn().cmd(&["FLUSHALL"]);
        let mut monitor = target.conn();
        assert_eq!(monitor.cmd(&["MONITOR"]), b"+OK\r\n");
        c.cmd(&["SET", "{t}a", "1"]);
        c.cmd(&["SET", "{t}b", "2", "PX", "100000"]);
        let port = target.port.to_string();
        let migrate = [
            "MIGRATE",
            "127.0.0.1",
            &port,
            "",
            "0",
            "5000",
            "REPLACE",
            "KEYS",
            "{t}a",
            "{t}b",
        ];
        let mut got = vec![escape(&c.cmd(&migrate))];
        // Cross-slot keys are refused before anything is sent.
        got.push(escape(&c.cmd(&[
            "MIGRATE",
            "127.0.0.1",
            &port,
            "",
            "0",
            "5000",
            "KEYS",
            "{t}a",
            "b",
        ])));
        for _ in 0..3 {
            let line = String::from_utf8_lossy(&monitor.read_reply()).into_owned();
            // `+<time> [0 127.0.0.1:<port>] "CMD" ...`: keep the command,
            // with the (varying) TTL of the second key masked.
            let cmd = line
                .split_once("] ")
                .map_or(line.clone(), |(_, c)| c.to_string());
            let cmd = match cmd.strip_prefix("\"RESTORE-ASKING\" \"{t}b\" \"") {
                Some(rest) => format!(
                    "\"RESTORE-ASKING\" \"{{t}}b\" <ttl> {}",
                    rest.split_once("\" ").unwrap().1
                ),
                None => cmd,
            };
            got.push(cmd);
        }
        seen.push((name, got));
    }
    assert_eq!(seen[0].1, seen[1].1, "{} vs {}", seen[0].0, seen[1].0);
    assert!(
        seen[0].1[3].starts_with("\"RESTORE-ASKING\" \"{t}a\" \"0\""),
        "{:?}",
        seen[0].1
    );
}
