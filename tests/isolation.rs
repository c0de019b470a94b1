//! What clients running at once observe (issue 21): every command and
//! every MULTI/EXEC must look as if it ran alone, in an order that
//! respects real time, at any shard count. One writer connection and two
//! readers run for a while per case, with keys spread over every shard;
//! each reader checks an invariant that only a half-applied write (or a
//! reordering of writes one client made one after the other) breaks.
//! Each case prints its reads and anomalies; every case must have 0, at
//! shards 1, 2 and 4 and against redis-server alike.
//!
//! `SHARDIS_ISOLATION_MS` sets how long each case runs (default 600).

mod common;

use common::{keys_on_distinct_shards, redis_available, Server};
use redis::{Commands, Connection};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn run_for() -> Duration {
    let ms = std::env::var("SHARDIS_ISOLATION_MS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(600);
    Duration::from_millis(ms)
}

fn client(port: u16) -> Connection {
    common::redis_client(port)
}

/// Eight keys that land on eight different slots modulo 4 (and so on
/// different shards at 2 and 4 shards).
fn keys(prefix: &str) -> Vec<String> {
    let mut k = keys_on_distinct_shards(prefix, 4, 4);
    k.extend(keys_on_distinct_shards(&format!("{prefix}b"), 4, 4));
    k
}

struct Outcome {
    reads: u64,
    anomalies: u64,
    example: String,
}

/// Runs `write` in a loop on one connection and `check` on two others
/// until the time is up; `check` returns Err(description) for an anomaly.
fn race(
    port: u16,
    setup: impl FnOnce(&mut Connection),
    write: impl Fn(&mut Connection, u64) + Send + Sync + 'static,
    check: impl Fn(&mut Connection) -> Result<(), String> + Send + Sync + 'static,
) -> Outcome {
    let mut c = client(port);
    let _: () = redis::cmd("FLUSHALL").query(&mut c).unwrap();
    setup(&mut c);
    let stop = Arc::new(AtomicBool::new(false));
    let write = Arc::new(write);
    let check = Arc::new(check);
    let writer = {
        let (stop, write) = (stop.clone(), write.clone());
        std::thread::spawn(move || {
            let mut c = client(port);
            let mut i = 1;
            while !stop.load(Ordering::Relaxed) {
                write(&mut c, i);
                i += 1;
            }
        })
    };
    let reads = Arc::new(AtomicU64::new(0));
    let anomalies = Arc::new(AtomicU64::new(0));
    let example = Arc::new(std::sync::Mutex::new(String::new()));
    let readers: Vec<_> = (0..2)
        .map(|_| {
            let (stop, check) = (stop.clone(), check.clone());
            let (reads, anomalies, example) = (reads.clone(), anomalies.clone(), example.clone());
            std::thread::spawn(move || {
                let mut c = client(port);
                while !stop.load(Ordering::Relaxed) {
                    reads.fetch_add(1, Ordering::Relaxed);
                    if let Err(e) = check(&mut c) {
                        anomalies.fetch_add(1, Ordering::Relaxed);
                        let mut ex = example.lock().unwrap();
                        if ex.is_empty() {
                            *ex = e;
                        }
                    }
                }
            })
        })
        .collect();
    std::thread::sleep(run_for());
    stop.store(true, Ordering::Relaxed);
    writer.join().unwrap();
    for r in readers {
        r.join().unwrap();
    }
    let example = example.lock().unwrap().clone();
    Outcome {
        reads: reads.load(Ordering::Relaxed),
        anomalies: anomalies.load(Ordering::Relaxed),
        example,
    }
}

fn all_equal(vals: &[Option<u64>]) -> Result<(), String> {
    if vals.windows(2).all(|w| w[0] == w[1]) {
        Ok(())
    } else {
        Err(format!("{vals:?}"))
    }
}

type Case = (&'static str, fn(u16) -> Outcome);

fn cases() -> Vec<Case> {
    vec![
        ("MSET 8 keys vs MGET", |port| {
            let k = keys("m");
            let (k1, k2) = (k.clone(), k.clone());
            race(
                port,
                |_| {},
                move |c, i| {
                    let pairs: Vec<(&str, u64)> = k1.iter().map(|k| (k.as_str(), i)).collect();
                    let _: () = c.mset(&pairs).unwrap();
                },
                move |c| all_equal(&c.mget::<_, Vec<Option<u64>>>(&k2).unwrap()),
            )
        }),
        ("MSET 8 keys vs MULTI 8 x GET EXEC", |port| {
            let k = keys("n");
            let (k1, k2) = (k.clone(), k.clone());
            race(
                port,
                |_| {},
                move |c, i| {
                    let pairs: Vec<(&str, u64)> = k1.iter().map(|k| (k.as_str(), i)).collect();
                    let _: () = c.mset(&pairs).unwrap();
                },
                move |c| {
                    let mut p = redis::pipe();
                    p.atomic();
                    for k in &k2 {
                        p.get(k);
                    }
                    all_equal(&p.query::<Vec<Option<u64>>>(c).unwrap())
                },
            )
        }),
        ("MULTI 8 x SET EXEC vs MGET", |port| {
            let k = keys("o");
            let (k1, k2) = (k.clone(), k.clone());
            race(
                port,
                |_| {},
                move |c, i| {
                    let mut p = redis::pipe();
                    p.atomic();
                    for k in &k1 {
                        p.set(k, i).ignore();
                    }
                    let _: () = p.query(c).unwrap();
                },
                move |c| all_equal(&c.mget::<_, Vec<Option<u64>>>(&k2).unwrap()),
            )
        }),
        ("MULTI INCRBY a -7 INCRBY b 7 EXEC vs MGET a b", |port| {
            let k = keys_on_distinct_shards("t", 2, 2);
            let (k1, k2) = (k.clone(), k.clone());
            race(
                port,
                |_| {},
                move |c, _| {
                    let _: () = redis::pipe()
                        .atomic()
                        .incr(&k1[0], -7)
                        .ignore()
                        .incr(&k1[1], 7)
                        .ignore()
                        .query(c)
                        .unwrap();
                },
                move |c| {
                    let v: Vec<Option<i64>> = c.mget(&k2).unwrap();
                    let sum: i64 = v.iter().map(|x| x.unwrap_or(0)).sum();
                    if sum == 0 {
                        Ok(())
                    } else {
                        Err(format!("{v:?}"))
                    }
                },
            )
        }),
        ("RENAME x y / y x vs EXISTS x y", |port| {
            let k = keys_on_distinct_shards("r", 2, 2);
            let (k1, k2) = (k.clone(), k.clone());
            race(
                port,
                move |c| {
                    let _: () = c.set(&k[0], 1).unwrap();
                },
                move |c, i| {
                    let (from, to) = if i % 2 == 1 {
                        (&k1[0], &k1[1])
                    } else {
                        (&k1[1], &k1[0])
                    };
                    let _: () = c.rename(from, to).unwrap();
                },
                move |c| {
                    let n: u64 = c.exists(&k2).unwrap();
                    if n == 1 {
                        Ok(())
                    } else {
                        Err(format!("EXISTS = {n}"))
                    }
                },
            )
        }),
        ("MSET 8 keys / DEL 8 keys vs EXISTS", |port| {
            let k = keys("d");
            let (k1, k2) = (k.clone(), k.clone());
            race(
                port,
                |_| {},
                move |c, i| {
                    if i % 2 == 1 {
                        let pairs: Vec<(&str, u64)> = k1.iter().map(|k| (k.as_str(), i)).collect();
                        let _: () = c.mset(&pairs).unwrap();
                    } else {
                        let _: u64 = c.del(&k1).unwrap();
                    }
                },
                move |c| {
                    let n: u64 = c.exists(&k2).unwrap();
                    if n == 0 || n == 8 {
                        Ok(())
                    } else {
                        Err(format!("EXISTS = {n}"))
                    }
                },
            )
        }),
        (
            "SET a then SET b (one after the other) vs MGET b a",
            |port| {
                let k = keys_on_distinct_shards("s", 2, 2);
                let (k1, k2) = (k.clone(), k.clone());
                race(
                    port,
                    |_| {},
                    move |c, i| {
                        let _: () = c.set(&k1[0], i).unwrap();
                        let _: () = c.set(&k1[1], i).unwrap();
                    },
                    move |c| {
                        // a is written first: a later b never comes with an older a.
                        let v: Vec<Option<u64>> = c.mget(&[&k2[1], &k2[0]]).unwrap();
                        if v[0].unwrap_or(0) <= v[1].unwrap_or(0) {
                            Ok(())
                        } else {
                            Err(format!("b={:?} a={:?}", v[0], v[1]))
                        }
                    },
                )
            },
        ),
        ("SMOVE and LMOVE vs MULTI reads", |port| {
            let k = keys_on_distinct_shards("v", 4, 4);
            let (k1, k2) = (k.clone(), k.clone());
            race(
                port,
                move |c| {
                    let _: () = c.sadd(&k[0], &["a", "b", "c"]).unwrap();
                    let _: () = c.rpush(&k[2], &["x", "y", "z"]).unwrap();
                },
                move |c, i| {
                    let (s1, s2) = if i % 2 == 1 {
                        (&k1[0], &k1[1])
                    } else {
                        (&k1[1], &k1[0])
                    };
                    let (l1, l2) = if i % 2 == 1 {
                        (&k1[2], &k1[3])
                    } else {
                        (&k1[3], &k1[2])
                    };
                    for m in ["a", "b", "c"] {
                        let _: u64 = c.smove(s1, s2, m).unwrap();
                    }
                    for _ in 0..3 {
                        let _: Option<String> = redis::cmd("LMOVE")
                            .arg(l1)
                            .arg(l2)
                            .arg("LEFT")
                            .arg("RIGHT")
                            .query(c)
                            .unwrap();
                    }
                },
                move |c| {
                    let (a, b, x, y): (u64, u64, u64, u64) = redis::pipe()
                        .atomic()
                        .scard(&k2[0])
                        .scard(&k2[1])
                        .llen(&k2[2])
                        .llen(&k2[3])
                        .query(c)
                        .unwrap();
                    if a + b == 3 && x + y == 3 {
                        Ok(())
                    } else {
                        Err(format!("sets {a}+{b}, lists {x}+{y}"))
                    }
                },
            )
        }),
    ]
}

/// A WATCH-based counter: several clients increment one counter with
/// WATCH/GET/MULTI/SET/EXEC; the final value is the number of EXECs that
/// succeeded. Returns (successes, final value).
fn watch_counter(port: u16) -> (u64, u64) {
    let k = keys_on_distinct_shards("w", 2, 2);
    let mut c = client(port);
    let _: () = redis::cmd("FLUSHALL").query(&mut c).unwrap();
    let ok = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + run_for();
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let (ok, k) = (ok.clone(), k.clone());
            std::thread::spawn(move || {
                let mut c = client(port);
                while Instant::now() < deadline {
                    let _: () = redis::cmd("WATCH").arg(&k[0]).query(&mut c).unwrap();
                    let v: Option<u64> = c.get(&k[0]).unwrap();
                    let r: Option<()> = redis::pipe()
                        .atomic()
                        .set(&k[0], v.unwrap_or(0) + 1)
                        .ignore()
                        .incr(&k[1], 1)
                        .ignore()
                        .query(&mut c)
                        .unwrap();
                    if r.is_some() {
                        ok.fetch_add(1, Ordering::Relaxed);
                    }
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let v: u64 = c.get(&k[0]).unwrap();
    let w: u64 = c.get(&k[1]).unwrap();
    assert_eq!(v, w, "the two keys of each EXEC moved together");
    (ok.load(Ordering::Relaxed), v)
}

/// Cross-shard BLMOVE / BLMPOP: elements pushed to source lists are
/// moved or popped by blocked clients exactly once, none lost, none seen
/// twice, and every BLMOVE's destination gains what its source lost.
fn blocking_moves(port: u16) -> Result<u64, String> {
    let k = keys_on_distinct_shards("q", 3, 4);
    let (src, dst, other) = (k[0].clone(), k[1].clone(), k[2].clone());
    let mut c = client(port);
    let _: () = redis::cmd("FLUSHALL").query(&mut c).unwrap();
    const N: u64 = 300;
    let movers: Vec<_> = (0..2)
        .map(|_| {
            let (src, dst) = (src.clone(), dst.clone());
            std::thread::spawn(move || {
                let mut c = client(port);
                let mut moved = 0;
                loop {
                    let r: Option<String> = redis::cmd("BLMOVE")
                        .arg(&src)
                        .arg(&dst)
                        .arg("LEFT")
                        .arg("RIGHT")
                        .arg(0.3)
                        .query(&mut c)
                        .unwrap();
                    match r {
                        Some(_) => moved += 1,
                        None => return moved,
                    }
                }
            })
        })
        .collect();
    let popper = {
        let other = other.clone();
        std::thread::spawn(move || {
            let mut c = client(port);
            let mut got = Vec::new();
            loop {
                let r: Option<(String, Vec<String>)> = redis::cmd("BLMPOP")
                    .arg(0.3)
                    .arg(1)
                    .arg(&other)
                    .arg("LEFT")
                    .query(&mut c)
                    .unwrap();
                match r {
                    Some((_, v)) => got.extend(v),
                    None => return got,
                }
            }
        })
    };
    std::thread::sleep(Duration::from_millis(100));
    for i in 0..N {
        let _: () = redis::pipe()
            .atomic()
            .rpush(&src, i)
            .ignore()
            .rpush(&other, i)
            .ignore()
            .query(&mut c)
            .unwrap();
    }
    let moved: u64 = movers.into_iter().map(|t| t.join().unwrap()).sum();
    let popped = popper.join().unwrap();
    let left: u64 = c.llen(&src).unwrap();
    let at_dst: Vec<u64> = c.lrange(&dst, 0, -1).unwrap();
    let mut seen = at_dst.clone();
    seen.sort();
    seen.dedup();
    if moved + left != N || at_dst.len() as u64 != moved || seen.len() != at_dst.len() {
        return Err(format!(
            "moved {moved}, left {left}, destination {} ({} distinct)",
            at_dst.len(),
            seen.len()
        ));
    }
    let mut p: Vec<u64> = popped.iter().map(|s| s.parse().unwrap()).collect();
    p.sort();
    p.dedup();
    if p.len() != popped.len() || popped.len() as u64 > N {
        return Err(format!(
            "BLMPOP got {} ({} distinct)",
            popped.len(),
            p.len()
        ));
    }
    let rest: u64 = c.llen(&other).unwrap();
    if popped.len() as u64 + rest != N {
        return Err(format!("popped {} + left {rest} != {N}", popped.len()));
    }
    Ok(moved + popped.len() as u64)
}

fn check_server(name: &str, port: u16) {
    let mut failures = Vec::new();
    for (case, run) in cases() {
        let o = run(port);
        eprintln!(
            "isolation {name}: {case}: {} reads, {} anomalies {}",
            o.reads, o.anomalies, o.example
        );
        assert!(o.reads > 0, "{name}: {case}: no reads");
        if o.anomalies > 0 {
            failures.push(format!(
                "{case}: {} of {} reads, e.g. {}",
                o.anomalies, o.reads, o.example
            ));
        }
    }
    let (ok, v) = watch_counter(port);
    eprintln!("isolation {name}: WATCH counter: {ok} successful EXECs, final value {v}");
    if ok != v {
        failures.push(format!(
            "WATCH counter: {ok} successful EXECs, final value {v}"
        ));
    }
    match blocking_moves(port) {
        Ok(n) => eprintln!("isolation {name}: blocking moves: {n} elements served"),
        Err(e) => failures.push(format!("blocking moves: {e}")),
    }
    assert!(failures.is_empty(), "{name}:\n{}", failures.join("\n"));
}

#[test]
fn isolation_shards_1() {
    let s = Server::shardis(1, &[]);
    check_server("shardis(shards=1)", s.port);
}

#[test]
fn isolation_shards_2() {
    let s = Server::shardis(2, &[]);
    check_server("shardis(shards=2)", s.port);
}

#[test]
fn isolation_shards_4() {
    let s = Server::shardis(4, &[]);
    check_server("shardis(shards=4)", s.port);
}

#[test]
fn isolation_redis_server() {
    if !redis_available() {
        return;
    }
    let s = Server::redis(&[]);
    check_server("redis-server", s.port);
}
