//! Crash safety of the AOF: four connections issue SET and INCR while the
//! server is killed with SIGKILL at a random moment, 20 times per fsync
//! policy, restarting each time from the same directory with 1 and 4
//! shards in turn (so the log written by one layout is read by the
//! other) and with automatic rewrites kicking in along the way.
//!
//! Each connection `t` repeats `SET k:t:<n> <n>` then `INCR c:t`, so after
//! a restart the data must be a prefix of what each connection sent:
//! `c:t` = m, keys `k:t:1..=m` hold their numbers, and nothing past
//! `k:t:<m+1>` exists, and m is at least the last INCR reply received:
//! with `appendfsync always` the reply waits for the fsync; with
//! `everysec` for the write (a killed process loses no acknowledged
//! write, as redis-server's writes its AOF buffer before any reply; only
//! a system crash may lose the last second). Counters never go
//! backwards.

mod common;

use common::{Conn, Server, TempDir};
use rand::Rng;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const WRITERS: usize = 4;
const RUNS: usize = 20;

fn start(shards: usize, dir: &Path, policy: &str) -> Server {
    Server::shardis(
        shards,
        &[
            "--appendonly",
            "yes",
            "--appendfsync",
            policy,
            "--dir",
            dir.to_str().unwrap(),
            "--auto-aof-rewrite-min-size",
            "1mb",
            "--auto-aof-rewrite-percentage",
            "50",
        ],
    )
}

fn int_reply(r: &[u8]) -> Option<u64> {
    let text = std::str::from_utf8(r).ok()?;
    if let Some(n) = text.strip_prefix(':') {
        return n.trim_end().parse().ok();
    }
    if text.starts_with("$-1") {
        return Some(0);
    }
    // A bulk reply: $<len>\r\n<digits>\r\n
    text.split("\r\n").nth(1)?.parse().ok()
}

/// MGET's reply: `*N` then `$len value` or `$-1` each.
fn mget_items(reply: &[u8]) -> Vec<Option<String>> {
    let text = std::str::from_utf8(reply).expect("utf-8 reply");
    let mut lines = text.split("\r\n").skip(1);
    let mut out = Vec::new();
    while let Some(head) = lines.next() {
        match head {
            "" => break,
            "$-1" => out.push(None),
            _ => out.push(lines.next().map(str::to_string)),
        }
    }
    out
}

/// The recovered counter of writer `t`, after checking the prefix rule.
fn check_prefix(c: &mut Conn, t: usize, label: &str) -> u64 {
    let m = int_reply(&c.cmd(&["GET", &format!("c:{t}")])).expect("counter");
    let mut n = 1;
    while n <= m + 2 {
        let end = (n + 500).min(m + 2);
        let mut args = vec!["MGET".to_string()];
        args.extend((n..=end).map(|i| format!("k:{t}:{i}")));
        let reply = c.cmd(&args);
        let items = mget_items(&reply);
        assert_eq!(items.len() as u64, end - n + 1, "{label}");
        for (i, v) in (n..=end).zip(items) {
            if i <= m {
                assert_eq!(v, Some(i.to_string()), "{label}: k:{t}:{i} with c:{t}={m}");
            } else if i == m + 2 {
                assert_eq!(v, None, "{label}: k:{t}:{i} exists past c:{t}={m}");
            }
        }
        n = end + 1;
    }
    m
}

/// Acknowledged counter values of one writer, with when they came.
type Acks = Arc<Mutex<Vec<(Instant, u64)>>>;

fn writer(port: u16, t: usize, from: u64, acks: Acks, stop: Arc<AtomicBool>) {
    let Ok(mut c) = Conn::try_connect(port) else {
        return;
    };
    c.set_timeout(Duration::from_secs(5));
    let mut n = from + 1;
    while !stop.load(Ordering::Relaxed) {
        c.send(&["SET", &format!("k:{t}:{n}"), &n.to_string()]);
        match c.try_read_reply() {
            Ok(r) if r == b"+OK\r\n" => {}
            _ => return,
        }
        c.send(&["INCR", &format!("c:{t}")]);
        match c.try_read_reply().ok().and_then(|r| int_reply(&r)) {
            Some(v) => {
                assert_eq!(v, n, "writer {t}: INCR answered {v} for step {n}");
                acks.lock().unwrap().push((Instant::now(), v));
            }
            None => return,
        }
        n += 1;
    }
}

fn crash_runs(policy: &str) {
    let dir = TempDir::new(&format!("aof-crash-{policy}"));
    let mut rng = rand::thread_rng();
    let mut floor = [0u64; WRITERS];
    for run in 0..RUNS {
        let shards = if run % 2 == 0 { 1 } else { 4 };
        let label = format!("{policy} run {run} (shards {shards})");
        let srv = start(shards, &dir.0, policy);
        let mut c = srv.conn();
        let mut from = [0u64; WRITERS];
        for (t, f) in from.iter_mut().enumerate() {
            *f = check_prefix(&mut c, t, &label);
            assert!(
                *f >= floor[t],
                "{label}: c:{t} went back from {} to {f}",
                floor[t]
            );
        }
        let stop = Arc::new(AtomicBool::new(false));
        let acks: Vec<Acks> = (0..WRITERS).map(|_| Acks::default()).collect();
        let handles: Vec<_> = (0..WRITERS)
            .map(|t| {
                let (acks, stop, port, from) = (acks[t].clone(), stop.clone(), srv.port, from[t]);
                std::thread::spawn(move || writer(port, t, from, acks, stop))
            })
            .collect();
        let run_for = match policy {
            "always" => rng.gen_range(200..900),
            _ => rng.gen_range(1200..2600),
        };
        std::thread::sleep(Duration::from_millis(run_for));
        drop(c);
        drop(srv); // SIGKILL
        stop.store(true, Ordering::Relaxed);
        for h in handles {
            h.join().unwrap();
        }

        // What must have survived.
        for t in 0..WRITERS {
            let acks = acks[t].lock().unwrap();
            let must = acks.last().map(|a| a.1);
            floor[t] = must.unwrap_or(from[t]).max(from[t]);
            assert!(
                !acks.is_empty() || policy != "always",
                "{label}: writer {t} got no reply at all"
            );
        }
    }
    // The last crash, checked.
    let srv = start(1, &dir.0, policy);
    let mut c = srv.conn();
    for (t, &f) in floor.iter().enumerate() {
        let m = check_prefix(&mut c, t, &format!("{policy} final"));
        assert!(m >= f, "{policy} final: c:{t}={m}, acknowledged {f}");
        assert!(m > 0, "{policy}: writer {t} never got a write through");
    }
    eprintln!("{policy}: {RUNS} kills, counters after the last one: {floor:?}");
}

#[test]
fn sigkill_with_appendfsync_always_loses_no_acknowledged_write() {
    crash_runs("always");
}

#[test]
fn sigkill_with_appendfsync_everysec_loses_no_acknowledged_write() {
    crash_runs("everysec");
}

/// A writer's multi-shard groups: MSET of eight keys on different shards
/// and MULTI with eight SETs, each setting every key of its group to the
/// step number. Returns the last step acknowledged.
fn group_writer(port: u16, t: usize, from: u64, stop: Arc<AtomicBool>) -> u64 {
    let Ok(mut c) = Conn::try_connect(port) else {
        return from;
    };
    c.set_timeout(Duration::from_secs(5));
    let keys = common::keys_on_distinct_shards(&format!("g{t}:"), 4, 4);
    let mut acked = from;
    let mut n = from + 1;
    while !stop.load(Ordering::Relaxed) {
        let mut mset = vec!["MSET".to_string()];
        for k in &keys {
            mset.push(format!("{k}m"));
            mset.push(n.to_string());
        }
        c.send(&mset);
        if c.try_read_reply().map(|r| r == b"+OK\r\n") != Ok(true) {
            return acked;
        }
        let mut tx = common::encode(&["MULTI"]);
        for k in &keys {
            tx.extend(common::encode(&["SET", &format!("{k}x"), &n.to_string()]));
        }
        tx.extend(common::encode(&["EXEC"]));
        c.send_raw(&tx);
        let replies: Result<Vec<_>, _> = (0..keys.len() + 2).map(|_| c.try_read_reply()).collect();
        match replies {
            Ok(r) if r.last().is_some_and(|e| e.starts_with(b"*")) => acked = n,
            _ => return acked,
        }
        n += 1;
    }
    acked
}

/// Every group is whole after a restart from the AOF: its eight keys hold
/// one step number (a prefix of the serial order, never half of an MSET or
/// of a MULTI), and no acknowledged step is lost.
fn check_groups(c: &mut Conn, t: usize, acked: u64, label: &str) -> u64 {
    let keys = common::keys_on_distinct_shards(&format!("g{t}:"), 4, 4);
    let mut steps = Vec::new();
    for suffix in ["m", "x"] {
        let mut mget = vec!["MGET".to_string()];
        mget.extend(keys.iter().map(|k| format!("{k}{suffix}")));
        let vals = mget_items(&c.cmd(&mget));
        let first = vals[0].clone();
        assert!(
            vals.iter().all(|v| *v == first),
            "{label}: writer {t}'s {suffix} group is torn: {vals:?}"
        );
        steps.push(first.map_or(0, |v| v.parse::<u64>().unwrap()));
    }
    // The MSET of step n comes before its MULTI.
    assert!(
        steps[0] == steps[1] || steps[0] == steps[1] + 1,
        "{label}: writer {t}: MSET at {} but MULTI at {}",
        steps[0],
        steps[1]
    );
    assert!(
        steps[1] >= acked,
        "{label}: writer {t}: step {acked} acknowledged, {} after restart",
        steps[1]
    );
    steps[1]
}

#[test]
fn sigkill_keeps_multi_shard_writes_whole() {
    let dir = TempDir::new("aof-crash-groups");
    let mut rng = rand::thread_rng();
    let mut acked = [0u64; WRITERS];
    for run in 0..12 {
        let shards = [4, 2, 1][run % 3];
        let label = format!("groups run {run} (shards {shards})");
        let srv = start(shards, &dir.0, "always");
        let mut c = srv.conn();
        let mut from = [0u64; WRITERS];
        for (t, f) in from.iter_mut().enumerate() {
            *f = check_groups(&mut c, t, acked[t], &label);
        }
        let stop = Arc::new(AtomicBool::new(false));
        let handles: Vec<_> = (0..WRITERS)
            .map(|t| {
                let (stop, port, from) = (stop.clone(), srv.port, from[t]);
                std::thread::spawn(move || group_writer(port, t, from, stop))
            })
            .collect();
        std::thread::sleep(Duration::from_millis(rng.gen_range(150..700)));
        drop(c);
        drop(srv); // SIGKILL
        stop.store(true, Ordering::Relaxed);
        for (t, h) in handles.into_iter().enumerate() {
            acked[t] = h.join().unwrap();
        }
    }
    let srv = start(4, &dir.0, "always");
    let mut c = srv.conn();
    for (t, &a) in acked.iter().enumerate() {
        let got = check_groups(&mut c, t, a, "groups final");
        assert!(got > 0, "writer {t} never got a group through");
    }
    eprintln!("groups: 12 kills, steps acknowledged at the last one: {acked:?}");
}
