//! Propagation: every tests/cases/*.txt file is replayed against a
//! Shardis primary (shards 4, appendonly yes) followed by a redis-server
//! replica. After each file the primary, the replica and a fresh Shardis
//! started from a copy of the primary's appendonlydir must hold the same
//! keys in all 16 databases: same type and value, TTL present or not.
//! Primary and replica are also compared before each flush that would
//! wipe keys and every CHECK_EVERY commands (the AOF restart, which costs
//! a server start, only at the end of the file).
//!
//! The same replay runs on a redis-server primary (appendonly yes) with a
//! redis-server replica and a redis-server started from its AOF: a key on
//! which that trio disagrees (e.g. BITFIELD ... OVERFLOW FAIL creates a
//! key Redis does not propagate) is an allowed disagreement for Shardis's
//! trio, reported but not failed. Each trio is compared only with itself:
//! random outcomes (SPOP, ...) differ between Shardis and Redis but must
//! reach the replica and the AOF as they happened on the primary.
//!
//! Replies are not compared (tests/differential.rs does that). Commands
//! that would break the setup are skipped, see [`skip_reason`].
//! `SHARDIS_PROP_FILTER=a,b` runs only files whose name contains a or b.

mod common;

use common::cases::{case_files, file_name, read_case, Directive, Line, Step};
use common::dataset::{values, KeyValue};
use common::repl::wait_synced;
use common::{copy_aof, escape_short, redis_available, Conn, Kind, Server, TempDir};
use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

const FILTER_VAR: &str = "SHARDIS_PROP_FILTER";

/// How long one reply may take before the command counts as hung.
const REPLY_LIMIT: Duration = Duration::from_secs(10);

/// A key that exists on one member of a trio and not on another is
/// excused when its TTL is shorter than this: it expired between the
/// reads (the members are read one after the other).
const EXPIRING_MS: i64 = 10_000;

/// Commands between two comparisons of primary and replica within a file
/// (`SHARDIS_PROP_CHECK_EVERY=n` changes it, e.g. 1 to find the line).
const CHECK_EVERY: usize = 50;

fn check_every() -> usize {
    std::env::var("SHARDIS_PROP_CHECK_EVERY")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|&n| n > 0)
        .unwrap_or(CHECK_EVERY)
}

/// Shardis disagreements the test knows about and does not fail on,
/// each naming its bug: (case file, key, why).
const KNOWN: &[(&str, &[u8], &str)] = &[];

/// Why a case command is not replayed, or None to replay it.
fn skip_reason(args: &[Vec<u8>]) -> Option<&'static str> {
    let word = |i: usize| {
        args.get(i)
            .map(|a| String::from_utf8_lossy(a).to_ascii_uppercase())
            .unwrap_or_default()
    };
    match word(0).as_str() {
        "SHUTDOWN" if !(1..args.len()).any(|i| word(i) == "ABORT") => {
            Some("one that succeeds stops the primary")
        }
        "FAILOVER" => Some("with a replica attached it really hands the primary role over"),
        "PSYNC" | "SYNC" => Some("turns the replaying connection into a replica"),
        "REPLICAOF" | "SLAVEOF" => Some("changes who replicates whom"),
        "MONITOR" => Some("the connection would only stream other clients' commands"),
        "CLIENT"
            if word(1) == "KILL"
                && (2..args.len()).any(|i| {
                    matches!(word(i).as_str(), "MASTER" | "REPLICA" | "SLAVE" | "USER")
                }) =>
        {
            Some("its filter may match the replication link")
        }
        "DEBUG"
            if matches!(
                word(1).as_str(),
                "RELOAD" | "LOADAOF" | "RESTART" | "CRASH-AND-RECOVER" | "SEGFAULT" | "PANIC"
            ) =>
        {
            Some("reloads, restarts or crashes the server")
        }
        "CONFIG"
            if word(1) == "SET"
                && (2..args.len())
                    .step_by(2)
                    .any(|i| matches!(word(i).as_str(), "APPENDONLY" | "DIR")) =>
        {
            Some("turns off or moves the AOF under test")
        }
        _ => None,
    }
}

/// Every key of every database, as read from one server.
type Dataset = BTreeMap<(usize, Vec<u8>), KeyValue>;

/// The names of a trio's members, in the order of [`Trio::datasets`].
const MEMBERS: [&str; 3] = ["primary", "replica", "AOF restart"];

/// A primary with the AOF on, a redis-server replica following it, and
/// the connection replaying the current case file on the primary.
struct Trio {
    name: &'static str,
    primary: Server,
    replica: Server,
    conn: Option<Conn>,
}

impl Trio {
    fn new(name: &'static str, primary: Server) -> Trio {
        let replica = Server::redis(&[]);
        let port = primary.port.to_string();
        let reply = replica.conn().cmd(&["REPLICAOF", "127.0.0.1", &port]);
        assert_eq!(reply, b"+OK\r\n", "{name}: REPLICAOF");
        wait_synced(&primary, &replica);
        Trio {
            name,
            primary,
            replica,
            conn: None,
        }
    }

    fn shardis() -> Trio {
        let aof = ["--appendonly", "yes", "--appendfsync", "always"];
        Trio::new("shardis(shards=4)", Server::shardis(4, &aof))
    }

    fn redis() -> Trio {
        let aof = ["--appendonly", "yes", "--appendfsync", "always"];
        Trio::new("redis-server", Server::redis(&aof))
    }

    /// FLUSHALL, then a fresh connection in database 0 for the file.
    fn begin_file(&mut self) {
        let mut c = self.primary.conn();
        assert_eq!(c.cmd(&["FLUSHALL"]), b"+OK\r\n", "{}: FLUSHALL", self.name);
        self.conn = None;
    }

    fn send(&mut self, args: &[Vec<u8>]) -> Result<(), String> {
        if self.conn.is_none() {
            let mut c = Conn::try_connect(self.primary.port)?;
            c.set_timeout(REPLY_LIMIT);
            self.conn = Some(c);
        }
        use std::io::Write;
        let c = self.conn.as_mut().unwrap();
        let sent = c.stream.write_all(&common::encode(args));
        sent.map_err(|e| {
            self.conn = None;
            format!("write: {e}")
        })
    }

    /// The next reply; Err (and a new connection for the next command)
    /// when the connection closed (QUIT, ...) or nothing came in time.
    fn recv(&mut self) -> Result<Vec<u8>, String> {
        let c = self.conn.as_mut().ok_or("no connection")?;
        let r = c.try_read_reply();
        if r.is_err() {
            self.conn = None;
        }
        r
    }

    /// Makes sure the primary ran every command of the file: a command
    /// that gave several replies (SUBSCRIBE a b) leaves the reading
    /// behind, so RESET (which also ends a MULTI or a subscription) and
    /// an ECHO whose reply is looked for.
    fn finish_file(&mut self) -> Result<(), String> {
        const MARK: &str = "propagation:end-of-file";
        if self.conn.is_none() {
            return Ok(());
        }
        let want = format!("${}\r\n{MARK}\r\n", MARK.len()).into_bytes();
        let drained = self
            .send(&[b"RESET".to_vec()])
            .and_then(|_| self.send(&[b"ECHO".to_vec(), MARK.as_bytes().to_vec()]))
            .and_then(|_| {
                while self.recv()? != want {}
                Ok(())
            });
        self.conn = None;
        match drained {
            // A connection the server closed (QUIT) has nothing pending.
            Err(e) if e.contains(common::TIMEOUT_PREFIX) => Err(e),
            _ => Ok(()),
        }
    }

    /// The primary's and the replica's datasets, then (`with_aof`) the one
    /// of a fresh server started from a copy of the primary's AOF. The
    /// primary is read first: reading can expire keys, whose DELs then
    /// reach the replica and the AOF.
    fn datasets(&self, with_aof: bool) -> Vec<Dataset> {
        wait_synced(&self.primary, &self.replica);
        let primary = values(&mut self.primary.conn());
        wait_synced(&self.primary, &self.replica);
        let mut sets = vec![primary, values(&mut self.replica.conn())];
        if with_aof {
            let copy = copy_aof(&self.primary.dir, "propagation-aof");
            let restarted = self.start_from(&copy);
            sets.push(values(&mut restarted.conn()));
        }
        sets
    }

    fn start_from(&self, copy: &TempDir) -> Server {
        let args = ["--appendonly", "yes", "--dir", copy.0.to_str().unwrap()];
        match self.primary.kind {
            Kind::Shardis => Server::shardis(4, &args),
            Kind::Redis => Server::redis(&args),
        }
    }

    /// Whether any database of the primary holds a key.
    fn has_keys(&self) -> bool {
        let info = self.primary.conn().cmd(&["INFO", "keyspace"]);
        info.windows(3).any(|w| w == b"\ndb")
    }

    /// Panics with the log tail if a server of the trio died.
    fn check_alive(&mut self, fname: &str) {
        for (member, srv) in [
            ("primary", &mut self.primary),
            ("replica", &mut self.replica),
        ] {
            if !srv.alive() {
                let log = srv.log_text();
                let tail: Vec<&str> = log.lines().rev().take(20).collect();
                panic!(
                    "{fname}: the {} {member} exited; log tail:\n{}",
                    self.name,
                    tail.into_iter().rev().collect::<Vec<_>>().join("\n")
                );
            }
        }
    }
}

/// The keys on which the three datasets disagree, with the three states.
fn disagreements(sets: &[Dataset]) -> BTreeMap<(usize, Vec<u8>), Vec<Option<KeyValue>>> {
    let keys: BTreeSet<&(usize, Vec<u8>)> = sets.iter().flat_map(|s| s.keys()).collect();
    let mut out = BTreeMap::new();
    for key in keys {
        let states: Vec<Option<KeyValue>> = sets.iter().map(|s| s.get(key).cloned()).collect();
        let agree = states.iter().all(|s| *s == states[0]);
        let expiring = states.iter().any(Option::is_none)
            && states
                .iter()
                .flatten()
                .all(|v| (0..EXPIRING_MS).contains(&v.pttl));
        if !agree && !expiring {
            out.insert(key.clone(), states);
        }
    }
    out
}

fn show_state(state: &Option<KeyValue>) -> String {
    match state {
        None => "(no key)".to_string(),
        Some(v) => {
            let ttl = if v.pttl >= 0 { "TTL" } else { "no TTL" };
            let parts: Vec<String> = v.content.iter().map(|p| escape_short(p, 120)).collect();
            format!("{ttl}, {}", parts.join(" "))
        }
    }
}

fn show_key(at: &str, db: usize, key: &[u8], trio: &str, states: &[Option<KeyValue>]) -> String {
    let mut s = format!("{at}: db {db} key {}: {trio}", escape_short(key, 120));
    for (member, state) in MEMBERS.iter().zip(states) {
        s.push_str(&format!("\n    {member:<12} {}", show_state(state)));
    }
    s
}

/// What one file's replay found.
#[derive(Default)]
struct FileOutcome {
    commands: usize,
    /// Comparisons made: before flushes that had keys to wipe, and at the end.
    checkpoints: usize,
    /// Keys on the Shardis primary, summed over the comparisons.
    keys: usize,
    skipped: Vec<String>,
    failures: Vec<String>,
    allowed: Vec<String>,
}

/// Replays one case file on both trios (commands sent to both, then both
/// replies read) and compares each trio's members.
fn run_file(path: &std::path::Path, shardis: &mut Trio, redis: &mut Trio) -> FileOutcome {
    let fname = file_name(path);
    let mut out = FileOutcome::default();
    let every = check_every();
    shardis.begin_file();
    redis.begin_file();
    for Line {
        lineno,
        shown,
        step,
    } in read_case(path)
    {
        let args = match step {
            Step::Command(args) => args,
            Step::Directive(Directive::SleepMs(ms)) => {
                std::thread::sleep(Duration::from_millis(ms));
                continue;
            }
            Step::Directive(Directive::Resp3) => vec![b"HELLO".to_vec(), b"3".to_vec()],
            // Reply comparison modes do not matter here.
            Step::Directive(_) => continue,
            Step::Bad(why) => {
                out.failures.push(format!("{fname}:{lineno}: {why}"));
                continue;
            }
        };
        if let Some(why) = skip_reason(&args) {
            out.skipped
                .push(format!("{fname}:{lineno}: {shown} ({why})"));
            continue;
        }
        // What a flush is about to wipe is compared first, and every
        // CHECK_EVERY commands what later lines might overwrite.
        let flush = matches!(&args[0].to_ascii_uppercase()[..], b"FLUSHALL" | b"FLUSHDB");
        let due = out.commands > 0 && out.commands % every == 0;
        if (flush || due) && (shardis.has_keys() || redis.has_keys()) {
            let at = format!("{fname}:{lineno} (before {shown})");
            compare(&fname, &at, false, shardis, redis, &mut out);
        }
        out.commands += 1;
        let sent = [shardis.send(&args), redis.send(&args)];
        let ours = sent[0].clone().and_then(|_| shardis.recv());
        let theirs = sent[1].clone().and_then(|_| redis.recv());
        // A hang is Shardis's problem only where redis-server answered.
        if let Err(e) = &ours {
            if e.contains(common::TIMEOUT_PREFIX) && theirs.is_ok() {
                out.failures.push(format!(
                    "{fname}:{lineno}: {shown}: {} gave no reply: {e}",
                    shardis.name
                ));
            }
        }
    }
    for trio in [&mut *shardis, &mut *redis] {
        if let Err(e) = trio.finish_file() {
            out.failures.push(format!(
                "{fname}: {} did not answer after the file: {e}",
                trio.name
            ));
        }
        trio.check_alive(&fname);
    }
    compare(&fname, &fname, true, shardis, redis, &mut out);
    out
}

/// Compares each trio's members at `at` (the file's end, or the line of
/// a flush: there without the AOF restart, which costs a server start);
/// records Shardis's disagreements as failures unless known or
/// redis-server's trio disagrees on the same key too.
fn compare(
    fname: &str,
    at: &str,
    with_aof: bool,
    shardis: &Trio,
    redis: &Trio,
    out: &mut FileOutcome,
) {
    // Both trios at once: most of the time goes to waiting on servers.
    let (theirs, ours) = std::thread::scope(|s| {
        let theirs = s.spawn(|| disagreements(&redis.datasets(with_aof)));
        let ours = shardis.datasets(with_aof);
        (theirs.join().expect("redis-server's trio"), ours)
    });
    for ((db, key), states) in &theirs {
        let what = "redis-server's trio disagrees";
        out.allowed.push(show_key(at, *db, key, what, states));
    }
    out.keys += ours[0].len();
    for ((db, key), states) in disagreements(&ours) {
        let known = KNOWN
            .iter()
            .find(|(f, k, _)| *f == fname && *k == &key[..])
            .map(|(_, _, why)| *why);
        let text = show_key(at, db, &key, shardis.name, &states);
        match known {
            Some(why) => out.allowed.push(format!("{text}\n    known: {why}")),
            None if theirs.contains_key(&(db, key.clone())) => out.allowed.push(format!(
                "{text}\n    allowed: redis-server's trio disagrees too"
            )),
            None => out.failures.push(text),
        }
    }
    out.checkpoints += 1;
}

#[test]
fn propagation() {
    if !redis_available() {
        return;
    }
    let files = case_files(FILTER_VAR);
    if files.is_empty() {
        return;
    }
    let started = Instant::now();
    let mut shardis = Trio::shardis();
    let mut redis = Trio::redis();
    let (mut failures, mut commands) = (Vec::new(), 0);
    for f in &files {
        let t = Instant::now();
        let o = run_file(f, &mut shardis, &mut redis);
        commands += o.commands;
        eprintln!(
            "case {}: {} commands, {} skipped, {} keys compared at {} point(s), {} allowed, {} FAILED ({:.1}s)",
            file_name(f),
            o.commands,
            o.skipped.len(),
            o.keys,
            o.checkpoints,
            o.allowed.len(),
            o.failures.len(),
            t.elapsed().as_secs_f64()
        );
        for line in o.skipped.iter().chain(&o.allowed) {
            eprintln!("  {line}");
        }
        failures.extend(o.failures);
    }
    assert!(
        failures.is_empty(),
        "{} propagation disagreement(s) (primary, replica and AOF restart must agree):\n\n{}\n",
        failures.len(),
        failures.join("\n\n")
    );
    eprintln!(
        "{} case file(s), {commands} commands: primary, replica and AOF restart agree ({:.1}s)",
        files.len(),
        started.elapsed().as_secs_f64()
    );
}

/// The skip rule and the disagreement rule on their own.
#[test]
fn harness_self_check() {
    let args = |line: &str| common::split(line.as_bytes()).unwrap();
    assert!(skip_reason(&args("config set timeout 0 appendonly no")).is_some());
    assert!(skip_reason(&args("CONFIG SET hz 10")).is_none());
    assert!(skip_reason(&args("CONFIG GET dir")).is_none());
    assert!(skip_reason(&args("debug reload")).is_some());
    assert!(skip_reason(&args("DEBUG SLEEP 0")).is_none());
    assert!(skip_reason(&args("client kill TYPE replica")).is_some());
    assert!(skip_reason(&args("CLIENT KILL ID 999999")).is_none());
    assert!(skip_reason(&args("SHUTDOWN NOSAVE")).is_some());
    assert!(skip_reason(&args("shutdown abort")).is_none());
    let value = |v: &str, pttl: i64| KeyValue {
        content: vec![b"+string\r\n".to_vec(), v.as_bytes().to_vec()],
        pttl,
    };
    let one = |v: Option<KeyValue>| -> Dataset {
        v.into_iter().map(|v| ((0, b"k".to_vec()), v)).collect()
    };
    let same = [
        one(Some(value("a", -1))),
        one(Some(value("a", -1))),
        one(Some(value("a", -1))),
    ];
    assert!(disagreements(&same).is_empty());
    // TTLs are compared as present or absent.
    let ttls = [
        one(Some(value("a", 5))),
        one(Some(value("a", 900_000))),
        one(Some(value("a", 7))),
    ];
    assert!(disagreements(&ttls).is_empty());
    let lost_ttl = [
        one(Some(value("a", 900_000))),
        one(Some(value("a", -1))),
        one(Some(value("a", 900_000))),
    ];
    assert_eq!(disagreements(&lost_ttl).len(), 1);
    let other_value = [
        one(Some(value("a", -1))),
        one(Some(value("b", -1))),
        one(Some(value("a", -1))),
    ];
    assert_eq!(disagreements(&other_value).len(), 1);
    let missing = [
        one(Some(value("a", -1))),
        one(None),
        one(Some(value("a", -1))),
    ];
    assert_eq!(disagreements(&missing).len(), 1);
    // Gone on one member while about to expire: expired in between.
    let expired = [one(Some(value("a", 50))), one(None), one(None)];
    assert!(disagreements(&expired).is_empty());
}
