//! FAILOVER (standalone coordinated failover): roles swap between a
//! primary and its replica with Shardis on either side (and both), no
//! write the old primary acknowledged is lost, and the ABORT, TIMEOUT
//! and FORCE paths. Deterministic errors are compared with redis-server
//! byte for byte (those without replicas are in tests/cases/failover.txt).

mod common;

use common::{bulk_payload, redis_available, Conn, Server};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn info(c: &mut Conn) -> String {
    String::from_utf8(bulk_payload(&c.cmd(&["INFO", "replication"]))).unwrap()
}

fn field(c: &mut Conn, name: &str) -> String {
    info(c)
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{name}:")).map(str::to_string))
        .unwrap_or_default()
}

fn wait_until(what: &str, limit: Duration, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The replica's link is up and it processed all the primary sent.
fn wait_synced(primary: &mut Conn, replica: &mut Conn) {
    wait_until("the replica to catch up", Duration::from_secs(20), || {
        field(replica, "master_link_status") == "up"
            && field(primary, "master_repl_offset") == field(replica, "slave_repl_offset")
    });
}

fn follow(replica: &mut Conn, primary: &Server) {
    let port = primary.port.to_string();
    assert_eq!(replica.cmd(&["REPLICAOF", "127.0.0.1", &port]), b"+OK\r\n");
}

/// Writes `fo:<i>` on `port` until an error (READONLY once the node is
/// a replica) or `stop`; returns the indexes it got +OK for.
fn writer(port: u16, stop: Arc<AtomicBool>) -> std::thread::JoinHandle<Vec<usize>> {
    std::thread::spawn(move || {
        let mut c = Conn::connect(port);
        c.set_timeout(Duration::from_secs(30));
        let mut acked = Vec::new();
        for i in 0.. {
            if stop.load(Ordering::Relaxed) {
                break;
            }
            let k = format!("fo:{i}");
            if c.cmd(&["SET", &k, &i.to_string()]) != b"+OK\r\n" {
                break;
            }
            acked.push(i);
        }
        acked
    })
}

/// FAILOVER `args` on `old` (followed by `new`) while a client writes:
/// the roles swap, every acknowledged write is on both nodes after.
fn failover_flow(old: &Server, new: &Server, args: &[&str]) {
    let mut o = old.conn();
    let mut n = new.conn();
    wait_synced(&mut o, &mut n);
    let stop = Arc::new(AtomicBool::new(false));
    let w = writer(old.port, stop.clone());
    std::thread::sleep(Duration::from_millis(200));
    let mut cmd = vec!["FAILOVER"];
    cmd.extend_from_slice(args);
    assert_eq!(o.cmd(&cmd), b"+OK\r\n");
    wait_until("the roles to swap", Duration::from_secs(20), || {
        field(&mut o, "role") == "slave"
            && field(&mut o, "master_port") == new.port.to_string()
            && field(&mut o, "master_link_status") == "up"
            && field(&mut n, "role") == "master"
            && field(&mut o, "master_failover_state") == "no-failover"
    });
    assert_eq!(field(&mut n, "master_failover_state"), "no-failover");
    stop.store(true, Ordering::Relaxed);
    let acked = w.join().unwrap();
    assert!(!acked.is_empty());
    // Writes resumed on the old primary as refusals, not as losses.
    assert!(o.cmd(&["SET", "x", "1"]).starts_with(b"-READONLY"));
    wait_synced(&mut n, &mut o);
    for i in acked {
        let k = format!("fo:{i}");
        let want = format!("${}\r\n{i}\r\n", i.to_string().len()).into_bytes();
        assert_eq!(n.cmd(&["GET", &k]), want, "{k} on the new primary");
        assert_eq!(o.cmd(&["GET", &k]), want, "{k} on the old primary");
    }
    assert_eq!(n.cmd(&["SET", "after", "1"]), b"+OK\r\n");
}

#[test]
fn shardis_primary_redis_replica() {
    if !redis_available() {
        return;
    }
    let p = Server::shardis(2, &[]);
    let r = Server::redis(&[]);
    follow(&mut r.conn(), &p);
    failover_flow(&p, &r, &[]);
}

#[test]
fn redis_primary_shardis_replica() {
    if !redis_available() {
        return;
    }
    let p = Server::redis(&[]);
    let r = Server::shardis(2, &[]);
    follow(&mut r.conn(), &p);
    let to = r.port.to_string();
    failover_flow(&p, &r, &["TO", "127.0.0.1", &to]);
}

#[test]
fn shardis_both_ways() {
    let a = Server::shardis(4, &[]);
    let b = Server::shardis(1, &[]);
    follow(&mut b.conn(), &a);
    let to = b.port.to_string();
    failover_flow(&a, &b, &["TO", "127.0.0.1", &to, "TIMEOUT", "10000"]);
    failover_flow(&b, &a, &[]);
}

fn signal(s: &Server, sig: i32) {
    unsafe {
        libc::kill(s.pid() as i32, sig);
    }
}

/// Errors that depend on the replicas, the same as redis-server's; then
/// a replica that cannot catch up: TIMEOUT aborts, ABORT aborts, FORCE
/// goes on to a target that does not answer and ABORT brings the node
/// back as a primary with a new history.
#[test]
fn errors_abort_timeout_force() {
    if !redis_available() {
        return;
    }
    let ref_p = Server::redis(&[]);
    let ref_r = Server::redis(&[]);
    let p = Server::shardis(2, &[]);
    let r = Server::redis(&[]);
    follow(&mut ref_r.conn(), &ref_p);
    follow(&mut r.conn(), &p);
    let (mut rp, mut c) = (ref_p.conn(), p.conn());
    wait_synced(&mut rp, &mut ref_r.conn());
    wait_synced(&mut c, &mut r.conn());
    let errors = |rport: u16| {
        let port = rport.to_string();
        [
            vec!["FAILOVER", "FORCE"],
            vec!["FAILOVER", "TO", "127.0.0.1", "1"],
            vec!["FAILOVER", "TO", "localhost", &port],
            vec!["FAILOVER", "TO", "127.0.0.1", &port, "FORCE"],
            vec!["FAILOVER", "FORCE", "TIMEOUT", "10"],
            vec!["FAILOVER", "ABORT"],
        ]
        .into_iter()
        .map(|a| a.into_iter().map(String::from).collect::<Vec<_>>())
        .collect::<Vec<_>>()
    };
    for (want, got) in errors(ref_r.port).iter().zip(errors(r.port)) {
        assert_eq!(
            common::escape(&c.cmd(&got)),
            common::escape(&rp.cmd(want)),
            "{got:?}"
        );
    }

    // The replica stops: it acknowledges nothing more.
    signal(&r, libc::SIGSTOP);
    assert_eq!(c.cmd(&["SET", "k", "1"]), b"+OK\r\n");
    assert_eq!(c.cmd(&["FAILOVER", "TIMEOUT", "300"]), b"+OK\r\n");
    assert_eq!(field(&mut c, "master_failover_state"), "waiting-for-sync");
    assert_eq!(
        c.cmd(&["FAILOVER"]),
        b"-ERR FAILOVER already in progress.\r\n"
    );
    assert_eq!(
        c.cmd(&["REPLICAOF", "127.0.0.1", "1"]),
        b"-ERR REPLICAOF not allowed while failing over.\r\n"
    );
    assert_eq!(
        c.cmd(&["PSYNC", "?", "-1"]),
        b"-NOMASTERLINK Can't SYNC while failing over\r\n"
    );
    // A write waits through the pause, then runs.
    let mut w = p.conn();
    w.send(&["SET", "k", "2"]);
    let started = Instant::now();
    assert_eq!(w.read_reply(), b"+OK\r\n");
    assert!(started.elapsed() >= Duration::from_millis(150));
    assert_eq!(field(&mut c, "master_failover_state"), "no-failover");
    assert_eq!(field(&mut c, "role"), "master");

    // ABORT while waiting.
    assert_eq!(c.cmd(&["FAILOVER"]), b"+OK\r\n");
    assert_eq!(field(&mut c, "master_failover_state"), "waiting-for-sync");
    w.send(&["SET", "k", "3"]);
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(c.cmd(&["FAILOVER", "ABORT"]), b"+OK\r\n");
    assert_eq!(w.read_reply(), b"+OK\r\n");
    assert_eq!(field(&mut c, "master_failover_state"), "no-failover");
    assert_eq!(
        c.cmd(&["FAILOVER", "ABORT"]),
        b"-ERR No failover in progress.\r\n"
    );

    // FORCE: past the timeout it follows the silent replica anyway.
    let replid = field(&mut c, "master_replid");
    let port = r.port.to_string();
    let force = [
        "FAILOVER",
        "TO",
        "127.0.0.1",
        &port,
        "FORCE",
        "TIMEOUT",
        "200",
    ];
    assert_eq!(c.cmd(&force), b"+OK\r\n");
    wait_until("failover-in-progress", Duration::from_secs(5), || {
        field(&mut c, "master_failover_state") == "failover-in-progress"
    });
    assert_eq!(field(&mut c, "role"), "slave");
    // Demoted, the node answers a client's write with READONLY at once,
    // as redis-server 7.0 does (checked by hand: its READONLY check comes
    // before its pause).
    assert_eq!(
        w.cmd(&["SET", "k", "4"]),
        b"-READONLY You can't write against a read only replica.\r\n"
    );
    assert_eq!(c.cmd(&["FAILOVER", "ABORT"]), b"+OK\r\n");
    assert_eq!(field(&mut c, "role"), "master");
    assert_eq!(field(&mut c, "master_failover_state"), "no-failover");
    // A new history; the old one is kept for the replica's PSYNC.
    assert_ne!(field(&mut c, "master_replid"), replid);
    assert_eq!(field(&mut c, "master_replid2"), replid);
    assert_eq!(c.cmd(&["SET", "k", "5"]), b"+OK\r\n");
    signal(&r, libc::SIGCONT);
    let mut rc = r.conn();
    wait_synced(&mut c, &mut rc);
    assert_eq!(rc.cmd(&["GET", "k"]), b"$1\r\n5\r\n");
    assert_eq!(
        field(&mut rc, "master_replid"),
        field(&mut c, "master_replid")
    );
}
