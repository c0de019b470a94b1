//! Differential tests: every tests/cases/*.txt file is replayed against
//! shardis (shards 1 and shards 4) and a reference redis-server, and the
//! reply bytes must be identical.
//!
//! Case file format: one command per line, redis-cli-like quoting
//! (`SET "a b" 'c' "\x00"`), `#` comments and blank lines ignored.
//! Directives, lines starting with `!`, apply to the next command:
//! - `!sortedpairs`: like `!sorted` for flat field/value arrays (RESP2
//!   HGETALL, CONFIG GET, ... WITHSCORES): a multiset of consecutive pairs;
//! - `!sorted`: the (array, set or map) reply is compared as an unordered
//!   multiset of its elements (map: of its key/value pairs); elements that
//!   are themselves arrays are compared whole;
//! - `!nocompare`: send the command to every server, don't compare replies;
//! - `!sleep <ms>`: sleep before sending the next command;
//! - `!resp3`: send HELLO 3 on every connection (replies not compared),
//!   for the rest of the file.
//!
//! Each file starts after FLUSHALL on a fresh connection. All mismatches of
//! all files are collected and reported together at the end.
//! `SHARDIS_DIFF_FILTER=a,b` runs only files whose name contains `a` or `b`.

mod common;

use common::cases::{case_files, file_name, read_case, Directive, Line, Step};
use common::{escape_short, redis_available, split, Conn, Server};
use std::path::Path;
use std::time::Duration;

/// Keeps only the case files whose name contains one of its words.
const FILTER_VAR: &str = "SHARDIS_DIFF_FILTER";

/// Longest reply text shown in a mismatch report.
const SHOW: usize = 600;

/// How long one reply may take before the server is declared hung.
const DIFF_TIMEOUT: Duration = Duration::from_secs(10);

/// One server under test plus the connection of the current file.
struct Target {
    server: Server,
    shards: Option<usize>,
    conn: Option<Conn>,
    flush_warned: bool,
    /// The server crashed or hung earlier in this file: it was restarted
    /// and takes no further part until the next file.
    broken: bool,
    /// Bytes of the server's log already scanned for panics.
    log_seen: u64,
}

impl Target {
    fn new(server: Server, shards: Option<usize>) -> Target {
        Target {
            server,
            shards,
            conn: None,
            flush_warned: false,
            broken: false,
            log_seen: 0,
        }
    }

    fn name(&self) -> &str {
        &self.server.name
    }

    fn connect(&self) -> Result<Conn, String> {
        let mut c = Conn::try_connect(self.server.port)?;
        c.set_timeout(DIFF_TIMEOUT);
        c.label = self.server.name.clone();
        Ok(c)
    }

    /// FLUSHALL on a separate connection, then a fresh connection for the
    /// file. Err if the server can't be used (the caller restarts it);
    /// a FLUSHALL error reply is reported once per server, not fatal.
    fn reset(&mut self, report: &mut Vec<String>, fname: &str) -> Result<(), String> {
        self.conn = None;
        self.broken = false;
        if let Some(t) = self.trouble() {
            return Err(t);
        }
        let mut c = self.connect()?;
        let r = c.try_read_reply_after(&[&b"FLUSHALL"[..]])?;
        if r != b"+OK\r\n" && !self.flush_warned {
            self.flush_warned = true;
            report.push(format!(
                "{fname}: {}: FLUSHALL replied {} (files will not start empty)",
                self.name(),
                escape_short(&r, SHOW)
            ));
        }
        drop(c);
        self.conn = Some(self.connect()?);
        Ok(())
    }

    /// Starts a new server process of the same kind (after a crash or hang).
    fn restart(&mut self) {
        self.conn = None;
        self.log_seen = 0;
        self.server = match self.shards {
            Some(n) => Server::shardis(n, &[]),
            None => Server::redis(&[]),
        };
    }

    /// Whether the server died, or (shardis) logged a panic since the last
    /// look: a panicking shard thread may leave the process up but deaf.
    fn trouble(&mut self) -> Option<String> {
        if !self.server.alive() {
            return Some(format!(
                "exited; log tail:\n      {}",
                log_tail(&self.server.log_text(), 15)
            ));
        }
        // Only shardis logs panics; redis-server is checked by exit status.
        self.shards?;
        let len = std::fs::metadata(&self.server.log)
            .map(|m| m.len())
            .unwrap_or(0);
        if len <= self.log_seen {
            return None;
        }
        let text = self.server.log_text();
        let new = text.get(self.log_seen as usize..).unwrap_or("");
        self.log_seen = len;
        let at = new.find("panicked at")?;
        let excerpt: Vec<&str> = new[at..].lines().take(4).collect();
        Some(format!("PANICKED:\n      {}", excerpt.join("\n      ")))
    }

    fn send(&mut self, args: &[Vec<u8>]) -> Result<(), String> {
        if self.conn.is_none() {
            self.conn = Some(self.connect().map_err(|e| format!("<{e}>"))?);
        }
        let bytes = common::encode(args);
        use std::io::Write;
        let c = self.conn.as_mut().unwrap();
        c.stream
            .write_all(&bytes)
            .map_err(|e| format!("<write error: {e}>"))
    }

    fn recv(&mut self) -> Result<Vec<u8>, String> {
        let c = self.conn.as_mut().ok_or("<no connection>")?;
        let r = c.try_read_reply().map_err(|e| format!("<{e}>"));
        if r.is_err() {
            // A closed connection (QUIT, protocol error, crash): the next
            // command gets a fresh one.
            self.conn = None;
        }
        r
    }
}

fn log_tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n      ")
}

trait ReadAfter {
    fn try_read_reply_after(&mut self, args: &[&[u8]]) -> Result<Vec<u8>, String>;
}

impl ReadAfter for Conn {
    fn try_read_reply_after(&mut self, args: &[&[u8]]) -> Result<Vec<u8>, String> {
        use std::io::Write;
        self.stream
            .write_all(&common::encode(args))
            .map_err(|e| e.to_string())?;
        self.try_read_reply()
    }
}

/// The replies' top-level elements, sorted, for `!sorted`. Maps are sorted
/// by key/value pair. Non-aggregate replies are returned as one element.
fn sorted_elements(reply: &[u8], flat_pairs: bool) -> (Vec<u8>, Vec<Vec<u8>>) {
    let nl = match reply.iter().position(|&c| c == b'\n') {
        Some(n) => n,
        None => return (reply.to_vec(), vec![]),
    };
    let head = reply[..=nl].to_vec();
    let pairs = match reply.first() {
        Some(b'*' | b'~' | b'>') => flat_pairs,
        Some(b'%' | b'|') => true,
        _ => return (reply.to_vec(), vec![]),
    };
    let count: i64 = match std::str::from_utf8(&reply[1..nl.saturating_sub(1)])
        .ok()
        .and_then(|s| s.parse().ok())
    {
        Some(n) => n,
        None => return (reply.to_vec(), vec![]),
    };
    if count < 0 {
        return (reply.to_vec(), vec![]);
    }
    let is_map = matches!(reply.first(), Some(b'%' | b'|'));
    if pairs && !is_map && count % 2 != 0 {
        return (reply.to_vec(), vec![]);
    }
    let items = if is_map { count * 2 } else { count };
    let mut pos = nl + 1;
    let mut elems = Vec::new();
    for _ in 0..items {
        let Some(len) = shardis::resp::reply_len(&reply[pos..]) else {
            return (reply.to_vec(), vec![]);
        };
        elems.push(reply[pos..pos + len].to_vec());
        pos += len;
    }
    let mut out: Vec<Vec<u8>> = if pairs {
        elems.chunks(2).map(|c| c.concat()).collect()
    } else {
        elems
    };
    out.sort();
    (head, out)
}

/// How a reply is compared.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Order {
    Exact,
    Sorted,
    SortedPairs,
}

fn same(a: &Result<Vec<u8>, String>, b: &Result<Vec<u8>, String>, order: Order) -> bool {
    match (a, b) {
        (Ok(a), Ok(b)) if order != Order::Exact => {
            let pairs = order == Order::SortedPairs;
            sorted_elements(a, pairs) == sorted_elements(b, pairs)
        }
        (Ok(a), Ok(b)) => a == b,
        // Both closed the connection (e.g. after QUIT): the same outcome.
        (Err(_), Err(_)) => true,
        _ => false,
    }
}

fn show(r: &Result<Vec<u8>, String>) -> String {
    match r {
        Ok(b) => escape_short(b, SHOW),
        Err(e) => e.clone(),
    }
}

/// Runs one case file; appends mismatches to `report`. Returns the number
/// of commands run.
fn run_file(
    path: &Path,
    redis: &mut Target,
    shardis: &mut [Target],
    report: &mut Vec<String>,
) -> usize {
    let fname = file_name(path);
    let mut all: Vec<&mut Target> = std::iter::once(redis).chain(shardis.iter_mut()).collect();
    for t in all.iter_mut() {
        if let Err(e) = t.reset(report, &fname) {
            report.push(format!(
                "{fname}: {} was unusable before the file ({e}); restarted",
                t.name()
            ));
            t.restart();
            if let Err(e) = t.reset(report, &fname) {
                report.push(format!(
                    "{fname}: {} still unusable after restart: {e}; file skipped",
                    t.name()
                ));
                return 0;
            }
        }
    }
    let mut order = Order::Exact;
    let mut compare = true;
    let mut commands = 0;
    for Line {
        lineno,
        shown,
        step,
    } in read_case(path)
    {
        let args = match step {
            Step::Command(args) => args,
            Step::Bad(why) => {
                report.push(format!("{fname}:{lineno}: {why}"));
                continue;
            }
            Step::Directive(d) => {
                match d {
                    Directive::Sorted => order = Order::Sorted,
                    Directive::SortedPairs => order = Order::SortedPairs,
                    Directive::NoCompare => compare = false,
                    Directive::SleepMs(ms) => std::thread::sleep(Duration::from_millis(ms)),
                    Directive::Resp3 => {
                        let hello = vec![b"HELLO".to_vec(), b"3".to_vec()];
                        for t in all.iter_mut().filter(|t| !t.broken) {
                            match t.send(&hello).and_then(|_| t.recv()) {
                                Err(e) => report.push(format!(
                                    "{fname}:{lineno}: HELLO 3 failed on {}: {e}",
                                    t.name()
                                )),
                                Ok(r) if r.first() == Some(&b'-') => report.push(format!(
                                    "{fname}:{lineno}: HELLO 3 failed on {}: {}",
                                    t.name(),
                                    escape_short(&r, SHOW)
                                )),
                                Ok(_) => {}
                            }
                        }
                    }
                }
                continue;
            }
        };
        commands += 1;
        let sent: Vec<Option<Result<(), String>>> = all
            .iter_mut()
            .map(|t| (!t.broken).then(|| t.send(&args)))
            .collect();
        let replies: Vec<Option<Result<Vec<u8>, String>>> = all
            .iter_mut()
            .zip(sent)
            .map(|(t, s)| {
                s.map(|s| match s {
                    Ok(()) => t.recv(),
                    Err(e) => {
                        t.conn = None;
                        Err(e)
                    }
                })
            })
            .collect();
        if compare {
            if let Some(reference) = &replies[0] {
                let mut diff = String::new();
                for (t, r) in all.iter().zip(&replies).skip(1) {
                    if let Some(r) = r {
                        if !same(reference, r, order) {
                            diff.push_str(&format!("\n    {:<18} {}", t.name(), show(r)));
                        }
                    }
                }
                if !diff.is_empty() {
                    let mode = match order {
                        Order::Exact => "",
                        Order::Sorted => " (!sorted)",
                        Order::SortedPairs => " (!sortedpairs)",
                    };
                    report.push(format!(
                        "{fname}:{lineno}: {shown}{mode}\n    {:<18} {}{diff}",
                        all[0].name(),
                        show(reference)
                    ));
                }
            }
        }
        // A server that died, hung or panicked is restarted and sits out
        // the rest of the file, so later files still run.
        for (t, r) in all.iter_mut().zip(&replies) {
            if t.broken {
                continue;
            }
            let hung =
                matches!(r, Some(Err(e)) if e.starts_with(&format!("<{}", common::TIMEOUT_PREFIX)));
            let problem = t
                .trouble()
                .or_else(|| hung.then(|| "HUNG (no reply; still running)".to_string()));
            if let Some(p) = problem {
                report.push(format!(
                    "{fname}:{lineno}: {} {p}\n    after: {shown}\n    (restarted; it skips the rest of this file)",
                    t.name()
                ));
                t.restart();
                t.broken = true;
            }
        }
        if all[0].broken {
            report.push(format!(
                "{fname}:{lineno}: the reference redis-server broke; rest of the file skipped"
            ));
            break;
        }
        order = Order::Exact;
        compare = true;
    }
    commands
}

#[test]
fn differential() {
    if !redis_available() {
        return;
    }
    let files = case_files(FILTER_VAR);
    if files.is_empty() {
        return;
    }
    let mut redis = Target::new(Server::redis(&[]), None);
    let mut shardis = vec![
        Target::new(Server::shardis(1, &[]), Some(1)),
        Target::new(Server::shardis(4, &[]), Some(4)),
    ];
    let mut report = Vec::new();
    let mut failed_files = 0;
    let mut total = 0;
    for f in &files {
        let before = report.len();
        let n = run_file(f, &mut redis, &mut shardis, &mut report);
        total += n;
        let bad = report.len() - before;
        let name = file_name(f);
        if bad > 0 {
            failed_files += 1;
            eprintln!("case {name}: {n} commands, {bad} MISMATCH(ES)");
        } else {
            eprintln!("case {name}: {n} commands, ok");
        }
    }
    if !report.is_empty() {
        panic!(
            "{} mismatch(es) in {} of {} case file(s) ({} commands):\n\n{}\n",
            report.len(),
            failed_files,
            files.len(),
            total,
            report.join("\n\n")
        );
    }
    eprintln!(
        "{} case file(s), {} commands: all replies identical",
        files.len(),
        total
    );
}

/// The harness's own helpers.
#[test]
fn harness_self_check() {
    assert_eq!(
        split(br#"SET "a b" 'c\'d' "\x00\n" plain"#).unwrap(),
        vec![
            b"SET".to_vec(),
            b"a b".to_vec(),
            b"c'd".to_vec(),
            b"\x00\n".to_vec(),
            b"plain".to_vec()
        ]
    );
    assert!(split(br#"SET "a"#).is_none());
    let a: Result<Vec<u8>, String> = Ok(b"*3\r\n$1\r\na\r\n*1\r\n:1\r\n$-1\r\n".to_vec());
    let b: Result<Vec<u8>, String> = Ok(b"*3\r\n$-1\r\n$1\r\na\r\n*1\r\n:1\r\n".to_vec());
    let c: Result<Vec<u8>, String> = Ok(b"*3\r\n$-1\r\n$1\r\nb\r\n*1\r\n:1\r\n".to_vec());
    assert!(same(&a, &b, Order::Sorted));
    assert!(!same(&a, &b, Order::Exact));
    assert!(!same(&a, &c, Order::Sorted));
    let m1: Result<Vec<u8>, String> = Ok(b"%2\r\n+a\r\n:1\r\n+b\r\n:2\r\n".to_vec());
    let m2: Result<Vec<u8>, String> = Ok(b"%2\r\n+b\r\n:2\r\n+a\r\n:1\r\n".to_vec());
    let m3: Result<Vec<u8>, String> = Ok(b"%2\r\n+b\r\n:1\r\n+a\r\n:2\r\n".to_vec());
    assert!(same(&m1, &m2, Order::Sorted));
    assert!(!same(&m1, &m3, Order::Sorted));
    let f1: Result<Vec<u8>, String> = Ok(b"*4\r\n+a\r\n:1\r\n+b\r\n:2\r\n".to_vec());
    let f2: Result<Vec<u8>, String> = Ok(b"*4\r\n+b\r\n:2\r\n+a\r\n:1\r\n".to_vec());
    let f3: Result<Vec<u8>, String> = Ok(b"*4\r\n+b\r\n:1\r\n+a\r\n:2\r\n".to_vec());
    assert!(same(&f1, &f2, Order::SortedPairs));
    assert!(!same(&f1, &f3, Order::SortedPairs));
    assert!(same(&f1, &f3, Order::Sorted));
    assert!(!same(
        &Ok(b"+OK\r\n".to_vec()),
        &Ok(b"+Ok\r\n".to_vec()),
        Order::Sorted
    ));
    assert_eq!(common::escape(b"+OK\r\n\x00\""), r#""+OK\r\n\x00\"""#);
}
