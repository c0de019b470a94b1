//! Cluster mode: clients blocked on a key whose slot the node stops
//! serving are answered and unblocked, as Redis 7.0's
//! `clusterRedirectBlockedClientIfNeeded` does: MOVED when the slot moved
//! to another node, "Hash slot not served" when nobody serves it, "The
//! cluster is down" when the cluster state fails. Run against Shardis at
//! shards 1 and 4 and, when installed, redis-server (same replies).

mod common;

use common::cluster::*;
use common::{redis_available, Conn, Kind, Server};
use std::time::Duration;

/// How long a blocked client may wait for its redirect (Redis looks at
/// each blocked client about once a second).
const REDIRECT_WITHIN: Duration = Duration::from_secs(5);

#[test]
fn blocked_clients_are_redirected_at_shards_1_and_4() {
    for shards in ["1", "4"] {
        scenario(Kind::Shardis, &["--shards", shards]);
    }
}

#[test]
fn blocked_clients_are_redirected_by_redis_too() {
    if redis_available() {
        scenario(Kind::Redis, &[]);
    }
}

fn scenario(kind: Kind, extra: &[&str]) {
    let label = format!("{kind:?} {extra:?}");
    let a = start_node(kind, free_cluster_port(), 5000, extra);
    let b = start_node(kind, free_cluster_port(), 5000, &[]);
    two_node_cluster(&a, &b);
    let b_id = myid(b.port);

    // MOVED: three clients (spread over the shards) wait on one key; its
    // slot is given to B.
    let slot = keyslot(a.port, "{moved}k");
    let mut waiting: Vec<Conn> = (0..3).map(|_| block_on(&a, "{moved}k")).collect();
    wait_blocked(&a, 3, &label);
    assert_ok(cli_a(&a, &["cluster", "setslot", &slot, "node", &b_id]));
    let moved = format!("-MOVED {slot} 127.0.0.1:{}\r\n", b.port);
    for c in &mut waiting {
        assert_eq!(reply(c, &label), moved, "{label}");
    }
    wait_blocked(&a, 0, &label);

    // The cluster is down: another slot is deleted, the state fails (full
    // coverage required by default); every waiter is answered.
    let mut c = block_on(&a, "{down}k");
    wait_blocked(&a, 1, &label);
    let other = keyslot(a.port, "{other}k");
    assert_ok(cli_a(&a, &["cluster", "delslots", &other]));
    assert_eq!(
        reply(&mut c, &label),
        "-CLUSTERDOWN The cluster is down\r\n",
        "{label}"
    );
    wait_blocked(&a, 0, &label);

    // Hash slot not served: full coverage no longer required, the cluster
    // is up again; the waited slot is deleted.
    assert_ok(cli_a(
        &a,
        &["config", "set", "cluster-require-full-coverage", "no"],
    ));
    wait_state_ok(&a);
    let slot = keyslot(a.port, "{unbound}k");
    let mut c = block_on(&a, "{unbound}k");
    wait_blocked(&a, 1, &label);
    assert_ok(cli_a(&a, &["cluster", "delslots", &slot]));
    assert_eq!(
        reply(&mut c, &label),
        "-CLUSTERDOWN Hash slot not served\r\n",
        "{label}"
    );
    wait_blocked(&a, 0, &label);
}

/// A serves every slot, B none; both know each other and are ok.
fn two_node_cluster(a: &Server, b: &Server) {
    assert_ok(cli_a(a, &["cluster", "addslotsrange", "0", "16383"]));
    assert_ok(cli_a(
        a,
        &["cluster", "meet", "127.0.0.1", &b.port.to_string()],
    ));
    for s in [a, b] {
        let ready = wait_until(Duration::from_secs(20), || {
            let known = nodes("127.0.0.1", s.port, None);
            known.len() == 2
                && known
                    .iter()
                    .all(|n| !n.has_flag("handshake") && n.link == "connected")
        });
        assert!(ready.is_some(), "{}: cluster never formed", s.name);
        wait_state_ok(s);
    }
}

fn wait_state_ok(s: &Server) {
    let ok = wait_until(Duration::from_secs(20), || {
        info_field("127.0.0.1", s.port, None, "cluster_state").as_deref() == Some("ok")
    });
    assert!(ok.is_some(), "{}: cluster_state never ok", s.name);
}

fn cli_a(s: &Server, args: &[&str]) -> String {
    cli("127.0.0.1", s.port, None, args)
}

fn assert_ok(out: String) {
    assert_eq!(out.trim(), "OK");
}

fn keyslot(port: u16, key: &str) -> String {
    cli("127.0.0.1", port, None, &["cluster", "keyslot", key])
        .trim()
        .to_string()
}

/// A new connection blocked in BLPOP `key` 0.
fn block_on(s: &Server, key: &str) -> Conn {
    let mut c = s.conn();
    c.send(&["blpop", key, "0"]);
    c
}

fn wait_blocked(s: &Server, n: usize, label: &str) {
    let field = format!("blocked_clients:{n}");
    let seen = wait_until(Duration::from_secs(10), || {
        cli_a(s, &["info", "clients"])
            .lines()
            .any(|l| l.trim() == field)
    });
    assert!(seen.is_some(), "{label}: never {field}");
}

fn reply(c: &mut Conn, label: &str) -> String {
    c.set_timeout(REDIRECT_WITHIN);
    let r = c
        .try_read_reply()
        .unwrap_or_else(|e| panic!("{label}: the blocked client got no reply: {e}"));
    String::from_utf8_lossy(&r).into_owned()
}
