//! One bus link per peer (issue 23): in a six-node cluster (3 masters +
//! 3 replicas, formed by redis-cli), CLUSTER LINKS on every node lists
//! exactly one "to" link per peer and at most one "from" link per peer,
//! as redis-server 7.0 keeps them, (a) once the cluster is created,
//! (b) after one node stalls past the node timeout (SIGSTOP for 10 s,
//! then SIGCONT) and (c) after a peer restarts.

mod common;

use common::cluster::*;
use common::{redis_available, Kind, Server};
use std::collections::HashMap;
use std::time::Duration;

/// Small, so the 10 s stall is five node timeouts.
const NT: u64 = 2000;

#[test]
fn one_link_per_peer_at_one_shard() {
    one_link_per_peer("1");
}

#[test]
fn one_link_per_peer_at_two_shards() {
    one_link_per_peer("2");
}

fn one_link_per_peer(shards: &str) {
    if !redis_available() {
        return;
    }
    let mut servers: Vec<Server> = (0..6)
        .map(|_| {
            start_node(
                Kind::Shardis,
                free_cluster_port(),
                NT,
                &["--shards", shards],
            )
        })
        .collect();
    create(&servers.iter().collect::<Vec<_>>());
    check_links(&servers, "after creation");

    let stalled = servers[0].child.id() as i32;
    unsafe { libc::kill(stalled, libc::SIGSTOP) };
    std::thread::sleep(Duration::from_secs(10));
    unsafe { libc::kill(stalled, libc::SIGCONT) };
    check_links(&servers, "after a 10 s stall");

    let old = servers.remove(1);
    servers.insert(1, restart_node(old, NT, &["--shards", shards]));
    check_links(&servers, "after a restart");
}

/// Waits for the cluster to settle, then for every node's links to be
/// one per peer, and checks that they stay so.
fn check_links(servers: &[Server], when: &str) {
    let settled_in = wait_until(Duration::from_secs(40), || {
        servers.iter().all(|s| settled(s.port))
    });
    assert!(
        settled_in.is_some(),
        "{when}: the cluster never settled:\n{}",
        views(servers)
    );
    for s in servers {
        let peers = peers_of(s.port);
        let ok = wait_until(Duration::from_secs(10), || {
            link_problem(s.port, &peers).is_none()
        });
        assert!(
            ok.is_some(),
            "{when}: {}: {}\n{}",
            s.name,
            link_problem(s.port, &peers).unwrap_or_default(),
            views(servers)
        );
    }
    // Not a passing moment: a duplicate would show within a few pings.
    for _ in 0..5 {
        std::thread::sleep(Duration::from_millis(300));
        for s in servers {
            if let Some(p) = link_problem(s.port, &peers_of(s.port)) {
                panic!(
                    "{when}, later: {}: {p}\n{}\n--- its log ---\n{}",
                    s.name,
                    views(servers),
                    log_tail(s)
                );
            }
        }
    }
}

/// Six nodes known, every link connected, no failure or handshake
/// flags, cluster_state ok.
fn settled(port: u16) -> bool {
    let view = nodes("127.0.0.1", port, None);
    view.len() == 6
        && view.iter().all(|n| {
            n.link == "connected"
                && !["fail", "fail?", "handshake", "noaddr"]
                    .iter()
                    .any(|f| n.has_flag(f))
        })
        && info_field("127.0.0.1", port, None, "cluster_state").as_deref() == Some("ok")
}

fn peers_of(port: u16) -> Vec<String> {
    nodes("127.0.0.1", port, None)
        .into_iter()
        .filter(|n| !n.has_flag("myself"))
        .map(|n| n.id)
        .collect()
}

/// What is wrong with the node's CLUSTER LINKS, if anything: a peer
/// without exactly one "to" link, with more than one "from" link, or a
/// link to a node that is no peer.
fn link_problem(port: u16, peers: &[String]) -> Option<String> {
    let mut counts: HashMap<String, (usize, usize)> = HashMap::new();
    for l in cluster_links(port) {
        let c = counts.entry(l[3].clone()).or_default();
        match l[1].as_str() {
            "to" => c.0 += 1,
            "from" => c.1 += 1,
            other => return Some(format!("direction {other:?}")),
        }
    }
    let wrong: Vec<String> = peers
        .iter()
        .filter_map(|p| {
            let (to, from) = counts.get(p).copied().unwrap_or_default();
            (to != 1 || from > 1).then(|| format!("{p}: {to} to, {from} from"))
        })
        .chain(
            counts
                .keys()
                .filter(|n| !peers.contains(n))
                .map(|n| format!("{n}: not a peer")),
        )
        .collect();
    (!wrong.is_empty()).then(|| wrong.join("; "))
}

/// Every node's CLUSTER NODES and link counts, for failure messages.
fn views(servers: &[Server]) -> String {
    servers
        .iter()
        .map(|s| {
            let links = cluster_links(s.port);
            let to = links.iter().filter(|l| l[1] == "to").count();
            format!(
                "--- {} ({to} to, {} from)\n{}",
                s.name,
                links.len() - to,
                cli("127.0.0.1", s.port, None, &["cluster", "nodes"])
            )
        })
        .collect()
}

fn log_tail(s: &Server) -> String {
    let log = s.log_text();
    let lines: Vec<&str> = log.lines().collect();
    lines[lines.len().saturating_sub(40)..].join("\n")
}

/// DEBUG CLUSTERLINK KILL TO drops our link to a replica at once: a
/// SPUBLISH right after it in the same EXEC never reaches that replica,
/// the cron opens the link again, and the next SPUBLISH does (Redis's
/// unit/cluster/links). Its errors are Redis's.
#[test]
fn debug_clusterlink_kill_loses_messages_until_the_link_is_back() {
    if !redis_available() {
        return;
    }
    let (servers, ids, pairs) = six_shardis_with(NT, &["--enable-debug-command", "yes"]);
    for &(m, r) in &pairs[..2] {
        let (master, replica) = (&servers[m], &servers[r]);
        // A shard channel served by this master.
        let ranges: Vec<(u16, u16)> = nodes("127.0.0.1", master.port, None)
            .into_iter()
            .find(|n| n.has_flag("myself"))
            .unwrap()
            .slots
            .iter()
            .filter_map(|r| {
                let (a, b) = r.split_once('-').unwrap_or((r, r));
                Some((a.parse().ok()?, b.parse().ok()?))
            })
            .collect();
        let channel = (0..)
            .map(|i| format!("ch{i}"))
            .find(|c| {
                let slot: u16 = cli("127.0.0.1", master.port, None, &["cluster", "keyslot", c])
                    .trim()
                    .parse()
                    .unwrap();
                ranges.iter().any(|&(a, b)| (a..=b).contains(&slot))
            })
            .unwrap();
        let mut sub = replica.conn();
        sub.send(&["SSUBSCRIBE", &channel]);
        let confirmed = common::escape(&sub.read_reply());
        assert!(
            confirmed.contains("ssubscribe"),
            "{}: {confirmed}",
            replica.name
        );

        let mut c = master.conn();
        c.cmd(&["MULTI"]);
        c.cmd(&["DEBUG", "CLUSTERLINK", "KILL", "TO", &ids[r]]);
        c.cmd(&["SPUBLISH", &channel, "hello"]);
        assert_eq!(c.cmd(&["EXEC"]), b"*2\r\n+OK\r\n:0\r\n");
        let back = wait_until(Duration::from_secs(10), || {
            nodes("127.0.0.1", master.port, None)
                .iter()
                .any(|n| n.id == ids[r] && n.link == "connected")
                && link_problem(master.port, &peers_of(master.port)).is_none()
        });
        assert!(back.is_some(), "{}: the link never came back", master.name);
        std::thread::sleep(Duration::from_millis(200));
        c.cmd(&["SPUBLISH", &channel, "world"]);
        let got = common::escape(&sub.read_reply());
        assert!(got.contains("world"), "{}: {got}", replica.name);
    }
    let mut c = servers[0].conn();
    let unknown = "0".repeat(40);
    assert_eq!(
        c.cmd(&["DEBUG", "CLUSTERLINK", "KILL", "TO", &unknown]),
        format!("-ERR Unknown node {unknown}\r\n").as_bytes()
    );
    assert_eq!(
        c.cmd(&["DEBUG", "CLUSTERLINK", "KILL", "UP", &ids[1]]),
        b"-ERR Unknown direction UP\r\n"
    );
    let standalone = Server::shardis(1, &["--enable-debug-command", "yes"]);
    assert_eq!(
        standalone
            .conn()
            .cmd(&["DEBUG", "CLUSTERLINK", "KILL", "TO", &unknown]),
        b"-ERR Debug option only available for cluster mode enabled setup!\r\n"
    );
}
