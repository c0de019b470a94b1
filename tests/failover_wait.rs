//! Nothing acknowledged is lost across failovers: a writer calls
//! `WAIT 1 0` after every SET, and the current master of its slot is
//! killed (-9) ten times in a row; each time its replica takes over, the
//! killed node restarts as the new master's replica and syncs, and the
//! writer follows MOVED. Every write WAIT acknowledged must read back.
//! Each failover's time is printed.

mod common;

use common::cluster::*;
use common::{redis_available, Conn, Server};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const NT: u64 = 3000;
const LOCAL: &str = "127.0.0.1";
const KILLS: usize = 10;

fn link_up(port: u16) -> bool {
    repl_field(port, "master_link_status").as_deref() == Some("up")
}

/// The port of the master serving `slot`, by `observer`'s view.
fn owner_port(observer: u16, slot: u16) -> Option<u16> {
    nodes(LOCAL, observer, None)
        .into_iter()
        .find(|n| {
            n.has_flag("master")
                && !n.has_flag("fail")
                && n.slots.iter().any(|r| match r.split_once('-') {
                    Some((a, b)) => {
                        a.parse::<u16>().is_ok_and(|a| a <= slot)
                            && b.parse::<u16>().is_ok_and(|b| slot <= b)
                    }
                    None => r.parse::<u16>().ok() == Some(slot),
                })
        })
        .and_then(|n| n.host_port().rsplit_once(':')?.1.parse().ok())
}

/// One SET + WAIT 1 0 against `port`: Ok(true) acknowledged, Ok(false)
/// not acknowledged, Err(Some(port)) MOVED there, Err(None) the node
/// failed (connection refused, reset or timed out).
fn write_once(conn: &mut Conn, key: &str, value: &str) -> Result<bool, Option<u16>> {
    conn.send(&["SET", key, value]);
    let r = conn.try_read_reply().map_err(|_| None)?;
    if r.starts_with(b"-MOVED") {
        let text = String::from_utf8_lossy(&r);
        let port = text
            .trim()
            .rsplit_once(':')
            .and_then(|(_, p)| p.parse().ok());
        return Err(port);
    }
    if r != b"+OK\r\n" {
        return Ok(false);
    }
    conn.send(&["WAIT", "1", "0"]);
    let r = conn.try_read_reply().map_err(|_| None)?;
    Ok(r.starts_with(b":") && r != b":0\r\n")
}

/// Writes `w{tag}:<n>` keys until `stop`, following MOVED and failed
/// nodes among `ports`; returns the numbers WAIT acknowledged.
fn writer(ports: Vec<u16>, stop: Arc<AtomicBool>, acked: Arc<Mutex<Vec<u64>>>) {
    let mut target = ports[0];
    let mut conn: Option<Conn> = None;
    let mut n: u64 = 0;
    let mut next = 0;
    while !stop.load(Ordering::Relaxed) {
        let c = match conn.as_mut() {
            Some(c) => c,
            None => match Conn::try_connect(target) {
                Ok(mut c) => {
                    c.set_timeout(Duration::from_secs(60));
                    conn.insert(c)
                }
                Err(_) => {
                    next = (next + 1) % ports.len();
                    target = ports[next];
                    std::thread::sleep(Duration::from_millis(50));
                    continue;
                }
            },
        };
        let key = format!("w{{t}}:{n}");
        match write_once(c, &key, &n.to_string()) {
            Ok(true) => {
                acked.lock().unwrap().push(n);
                n += 1;
            }
            Ok(false) => n += 1,
            Err(moved) => {
                conn = None;
                n += 1;
                match moved {
                    Some(p) => target = p,
                    None => {
                        next = (next + 1) % ports.len();
                        target = ports[next];
                        std::thread::sleep(Duration::from_millis(50));
                    }
                }
            }
        }
    }
}

#[test]
fn writes_acknowledged_by_wait_survive_ten_failovers() {
    if !redis_available() {
        return;
    }
    let (mut servers, _, _) = six_shardis(NT);
    let slot: u16 = cli(LOCAL, servers[0].port, None, &["cluster", "keyslot", "{t}"])
        .trim()
        .parse()
        .unwrap();

    let ports: Vec<u16> = servers.iter().map(|s| s.port).collect();
    let stop = Arc::new(AtomicBool::new(false));
    let acked = Arc::new(Mutex::new(Vec::new()));
    let thread = {
        let (stop, acked) = (stop.clone(), acked.clone());
        std::thread::spawn(move || writer(ports, stop, acked))
    };
    let observer_of = |servers: &[Server], skip: usize| -> u16 {
        servers
            .iter()
            .enumerate()
            .find(|(i, _)| *i != skip)
            .map(|(_, s)| s.port)
            .unwrap()
    };

    let mut times = Vec::new();
    for round in 0..KILLS {
        // Let the writer get some acknowledged writes in first.
        let before = acked.lock().unwrap().len();
        let progressed = wait_until(Duration::from_secs(30), || {
            acked.lock().unwrap().len() >= before + 50
        });
        assert!(progressed.is_some(), "round {round}: the writer is stuck");
        let owner = owner_port(servers[0].port, slot).expect("slot owner");
        let vi = servers.iter().position(|s| s.port == owner).unwrap();
        let victim_id = myid(owner);
        let observer = observer_of(&servers, vi);
        let started = Instant::now();
        let _ = servers[vi].child.kill();
        let _ = servers[vi].child.wait();
        let moved = wait_until(Duration::from_secs(NT / 1000 * 4 + 10), || {
            owner_port(observer, slot).is_some_and(|p| p != owner)
        });
        assert!(
            moved.is_some(),
            "round {round}: no failover:\n{}",
            cli(LOCAL, observer, None, &["cluster", "nodes"])
        );
        let took = started.elapsed();
        println!("failover {}: {took:?}", round + 1);
        times.push(took);
        // The killed node comes back as the new master's replica and
        // syncs: the next round kills the new master.
        let old = servers.remove(vi);
        let shards = if old.name.contains("shards=4") {
            "4"
        } else {
            "1"
        };
        let back = restart_node(old, NT, &["--shards", shards]);
        let synced = wait_until(Duration::from_secs(30), || link_up(back.port));
        assert!(
            synced.is_some(),
            "round {round}: {victim_id} did not resync:\n{}",
            back.log_text()
        );
        servers.insert(vi, back);
    }
    stop.store(true, Ordering::Relaxed);
    thread.join().unwrap();

    let acked = acked.lock().unwrap().clone();
    assert!(acked.len() > KILLS * 50);
    let owner = owner_port(servers[0].port, slot).unwrap();
    let mut conn = Conn::connect(owner);
    let mut lost = Vec::new();
    for n in &acked {
        let got = conn.cmd(&["GET", &format!("w{{t}}:{n}")]);
        if got != format!("${}\r\n{n}\r\n", n.to_string().len()).into_bytes() {
            lost.push(*n);
        }
    }
    println!(
        "{} writes acknowledged by WAIT, {} lost; failover times {times:?}",
        acked.len(),
        lost.len()
    );
    assert!(lost.is_empty(), "acknowledged writes lost: {lost:?}");
}
