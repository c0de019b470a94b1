//! CLUSTER subcommands that report: INFO NODES SLOTS SHARDS MYID KEYSLOT
//! COUNTKEYSINSLOT GETKEYSINSLOT REPLICAS/SLAVES COUNT-FAILURE-REPORTS
//! LINKS HELP. Replies as redis-server 7.0.

use super::cluster::cluster_or_reply;
use super::help::reply_help;
use super::util::arg_i64;
use crate::cluster::bus::flags;
use crate::cluster::describe::{info_text, node_line, nodes_text};
use crate::cluster::node::Node;
use crate::cluster::state::ClusterState;
use crate::resp::Out;
use crate::server::conn::Conn;
use crate::server::mesh;
use crate::slot::{key_slot, SLOTS};
use crate::sys::clock::unix_ms;
use futures::future::LocalBoxFuture;
use std::fmt::Write;

pub fn help(conn: &mut Conn, _: Vec<Vec<u8>>) -> LocalBoxFuture<'_, ()> {
    Box::pin(async move {
        if cluster_or_reply(conn).is_none() {
            return;
        }
        reply_help(
            &mut conn.out,
            "CLUSTER",
            &[
                "ADDSLOTS <slot> [<slot> ...]",
                "    Assign slots to current node.",
                "ADDSLOTSRANGE <start slot> <end slot> [<start slot> <end slot> ...]",
                "    Assign slots which are between <start-slot> and <end-slot> to current node.",
                "BUMPEPOCH",
                "    Advance the cluster config epoch.",
                "COUNT-FAILURE-REPORTS <node-id>",
                "    Return number of failure reports for <node-id>.",
                "COUNTKEYSINSLOT <slot>",
                "    Return the number of keys in <slot>.",
                "DELSLOTS <slot> [<slot> ...]",
                "    Delete slots information from current node.",
                "DELSLOTSRANGE <start slot> <end slot> [<start slot> <end slot> ...]",
                "    Delete slots information which are between <start-slot> and <end-slot> from current node.",
                "FAILOVER [FORCE|TAKEOVER]",
                "    Promote current replica node to being a master.",
                "FORGET <node-id>",
                "    Remove a node from the cluster.",
                "GETKEYSINSLOT <slot> <count>",
                "    Return key names stored by current node in a slot.",
                "FLUSHSLOTS",
                "    Delete current node own slots information.",
                "INFO",
                "    Return information about the cluster.",
                "KEYSLOT <key>",
                "    Return the hash slot for <key>.",
                "MEET <ip> <port> [<bus-port>]",
                "    Connect nodes into a working cluster.",
                "MYID",
                "    Return the node id.",
                "NODES",
                "    Return cluster configuration seen by node. Output format:",
                "    <id> <ip:port> <flags> <master> <pings> <pongs> <epoch> <link> <slot> ...",
                "REPLICATE <node-id>",
                "    Configure current node as replica to <node-id>.",
                "RESET [HARD|SOFT]",
                "    Reset current node (default: soft).",
                "SET-CONFIG-EPOCH <epoch>",
                "    Set config epoch of current node.",
                "SETSLOT <slot> (IMPORTING <node-id>|MIGRATING <node-id>|STABLE|NODE <node-id>)",
                "    Set slot state.",
                "REPLICAS <node-id>",
                "    Return <node-id> replicas.",
                "SAVECONFIG",
                "    Force saving cluster configuration on disk.",
                "SLOTS",
                "    Return information about slots range mappings. Each range is made of:",
                "    start, end, master and replicas IP addresses, ports and ids",
                "SHARDS",
                "    Return information about slot range mappings and the nodes associated with them.",
                "LINKS",
                "    Return information about all network links between this node and its peers.",
                "    Output format is an array where each array element is a map containing attributes of a link",
            ],
        )
    })
}

pub fn info(conn: &mut Conn, _: Vec<Vec<u8>>) -> LocalBoxFuture<'_, ()> {
    Box::pin(async move {
        let Some(c) = cluster_or_reply(conn) else {
            return;
        };
        let mut text = c.read(info_text);
        let _ = writeln!(
            text,
            "total_cluster_links_buffer_limit_exceeded:{}\r",
            c.links.limit_exceeded()
        );
        conn.out.verbatim(text.as_bytes());
    })
}

/// CLUSTER LINKS: per link, a map of direction, node, create-time,
/// events, send-buffer-allocated and send-buffer-used (a flat array of
/// those twelve in RESP2), as 7.0 replies.
pub fn links(conn: &mut Conn, _: Vec<Vec<u8>>) -> LocalBoxFuture<'_, ()> {
    Box::pin(async move {
        let Some(c) = cluster_or_reply(conn) else {
            return;
        };
        let links = c.read(|st| {
            c.links
                .describe(|id| st.nodes.contains_key(id) && *id != st.myself)
        });
        conn.out.array(links.len());
        for l in links {
            conn.out.map(6);
            conn.out.bulk_str("direction");
            conn.out.bulk_str(if l.inbound { "from" } else { "to" });
            conn.out.bulk_str("node");
            conn.out.bulk(&l.node.0);
            conn.out.bulk_str("create-time");
            conn.out.int(l.created_ms as i64);
            conn.out.bulk_str("events");
            conn.out.bulk_str(if l.queued > 0 { "rw" } else { "r" });
            conn.out.bulk_str("send-buffer-allocated");
            conn.out.int(l.queued as i64);
            conn.out.bulk_str("send-buffer-used");
            conn.out.int(l.queued as i64);
        }
    })
}

pub fn nodes(conn: &mut Conn, _: Vec<Vec<u8>>) -> LocalBoxFuture<'_, ()> {
    Box::pin(async move {
        let Some(c) = cluster_or_reply(conn) else {
            return;
        };
        let text = c.read(|st| nodes_text(st, unix_ms(), false));
        conn.out.verbatim(text.as_bytes());
    })
}

pub fn myid(conn: &mut Conn, _: Vec<Vec<u8>>) -> LocalBoxFuture<'_, ()> {
    Box::pin(async move {
        let Some(c) = cluster_or_reply(conn) else {
            return;
        };
        let id = c.read(|st| st.myself);
        conn.out.bulk(&id.0);
    })
}

pub fn keyslot(conn: &mut Conn, args: Vec<Vec<u8>>) -> LocalBoxFuture<'_, ()> {
    Box::pin(async move {
        if cluster_or_reply(conn).is_some() {
            conn.out.int(key_slot(&args[2]) as i64);
        }
    })
}

pub fn countkeysinslot(conn: &mut Conn, args: Vec<Vec<u8>>) -> LocalBoxFuture<'_, ()> {
    Box::pin(async move {
        if cluster_or_reply(conn).is_none() {
            return;
        }
        let Some(n) = arg_i64(&args[2]) else {
            return conn.out.error(super::util::NOT_INTEGER);
        };
        if !(0..SLOTS as i64).contains(&n) {
            return conn.out.error("ERR Invalid slot");
        }
        let slot = n as u16;
        let shard = conn.rt.shard_of_slot(slot);
        let count = mesh::run_on(&conn.rt, shard, move |rt| {
            rt.core.borrow().store.dbs[0].count_in_slot(slot)
        })
        .await;
        conn.out.int(count as i64);
    })
}

pub fn getkeysinslot(conn: &mut Conn, args: Vec<Vec<u8>>) -> LocalBoxFuture<'_, ()> {
    Box::pin(async move {
        if cluster_or_reply(conn).is_none() {
            return;
        }
        let (Some(slot), Some(max)) = (arg_i64(&args[2]), arg_i64(&args[3])) else {
            return conn.out.error(super::util::NOT_INTEGER);
        };
        if !(0..SLOTS as i64).contains(&slot) || max < 0 {
            return conn.out.error("ERR Invalid slot or number of keys");
        }
        let slot = slot as u16;
        let shard = conn.rt.shard_of_slot(slot);
        let keys = mesh::run_on(&conn.rt, shard, move |rt| {
            rt.core.borrow().store.dbs[0].keys_in_slot(slot, max as usize)
        })
        .await;
        conn.out.array(keys.len());
        for k in keys {
            conn.out.bulk(&k);
        }
    })
}

pub fn replicas(conn: &mut Conn, args: Vec<Vec<u8>>) -> LocalBoxFuture<'_, ()> {
    Box::pin(async move {
        let Some(c) = cluster_or_reply(conn) else {
            return;
        };
        let lines = c.read(|st| {
            let n = st.lookup(&args[2])?;
            if !n.is_master() {
                return Some(Err(()));
            }
            let now = unix_ms();
            Some(Ok(st
                .replicas_of(&n.id)
                .into_iter()
                .map(|r| node_line(st, r, now))
                .collect::<Vec<_>>()))
        });
        match lines {
            None => conn.out.error(&format!(
                "ERR Unknown node {}",
                String::from_utf8_lossy(&args[2])
            )),
            Some(Err(())) => conn.out.error("ERR The specified node is not a master"),
            Some(Ok(lines)) => {
                conn.out.array(lines.len());
                for l in lines {
                    conn.out.bulk(l.as_bytes());
                }
            }
        }
    })
}

pub fn count_failure_reports(conn: &mut Conn, args: Vec<Vec<u8>>) -> LocalBoxFuture<'_, ()> {
    Box::pin(async move {
        let Some(c) = cluster_or_reply(conn) else {
            return;
        };
        let node_timeout = c.settings().node_timeout;
        let count = c.with(|st| {
            let id = st.lookup(&args[2])?.id;
            Some(st.failure_report_count(&id, unix_ms(), node_timeout))
        });
        match count {
            Some(n) => conn.out.int(n as i64),
            None => conn.out.error(&format!(
                "ERR Unknown node {}",
                String::from_utf8_lossy(&args[2])
            )),
        }
    })
}

/// The endpoint clients are told to use for `n`.
fn endpoint(out: &mut Out, n: &Node, preferred_hostname: bool) {
    if preferred_hostname {
        out.bulk_str(if n.hostname.is_empty() {
            "?"
        } else {
            &n.hostname
        });
    } else {
        out.bulk_str(&n.ip);
    }
}

/// One node of a CLUSTER SLOTS range.
fn slots_node(out: &mut Out, n: &Node, preferred_hostname: bool) {
    out.array(4);
    endpoint(out, n, preferred_hostname);
    out.int(n.port as i64);
    out.bulk(&n.id.0);
    let extra_ip = preferred_hostname;
    let extra_host = !preferred_hostname && !n.hostname.is_empty();
    out.map(extra_ip as usize + extra_host as usize);
    if extra_ip {
        out.bulk_str("ip");
        out.bulk_str(&n.ip);
    }
    if extra_host {
        out.bulk_str("hostname");
        out.bulk_str(&n.hostname);
    }
}

/// Replicas CLUSTER SLOTS lists: not failed, with a replication offset.
fn available_replicas<'a>(st: &'a ClusterState, master: &Node) -> Vec<&'a Node> {
    st.replicas_of(&master.id)
        .into_iter()
        .filter(|r| !r.has(flags::FAIL) && r.repl_offset != 0)
        .collect()
}

pub fn slots(conn: &mut Conn, _: Vec<Vec<u8>>) -> LocalBoxFuture<'_, ()> {
    Box::pin(async move {
        let Some(c) = cluster_or_reply(conn) else {
            return;
        };
        let hostname = c.settings().preferred_hostname;
        let mut out = Out::new(conn.out.resp3);
        c.read(|st| {
            // Maximal runs of consecutive slots with the same owner.
            let mut runs: Vec<(u16, u16, crate::cluster::bus::NodeId)> = Vec::new();
            for s in 0..SLOTS as u16 {
                let Some(owner) = st.slots[s as usize] else {
                    continue;
                };
                match runs.last_mut() {
                    Some((_, end, o)) if *o == owner && *end + 1 == s => *end = s,
                    _ => runs.push((s, s, owner)),
                }
            }
            out.array(runs.len());
            for (start, end, owner) in runs {
                let Some(master) = st.node(&owner) else {
                    out.array(2);
                    out.int(start as i64);
                    out.int(end as i64);
                    continue;
                };
                let reps = available_replicas(st, master);
                out.array(3 + reps.len());
                out.int(start as i64);
                out.int(end as i64);
                slots_node(&mut out, master, hostname);
                for r in reps {
                    slots_node(&mut out, r, hostname);
                }
            }
        });
        conn.out.raw(&out.buf);
    })
}

/// One node of a CLUSTER SHARDS entry.
fn shard_node(out: &mut Out, n: &Node, hostname_pref: bool) {
    let fields = 6 + (n.port != 0) as usize + (!n.hostname.is_empty()) as usize;
    out.map(fields);
    out.bulk_str("id");
    out.bulk(&n.id.0);
    if n.port != 0 {
        out.bulk_str("port");
        out.int(n.port as i64);
    }
    out.bulk_str("ip");
    out.bulk_str(&n.ip);
    out.bulk_str("endpoint");
    endpoint(out, n, hostname_pref);
    if !n.hostname.is_empty() {
        out.bulk_str("hostname");
        out.bulk_str(&n.hostname);
    }
    out.bulk_str("role");
    out.bulk_str(if n.is_replica() { "replica" } else { "master" });
    out.bulk_str("replication-offset");
    out.int(n.repl_offset as i64);
    out.bulk_str("health");
    out.bulk_str(if n.has(flags::FAIL) {
        "fail"
    } else if n.is_replica() && n.repl_offset == 0 {
        "loading"
    } else {
        "online"
    });
}

pub fn shards(conn: &mut Conn, _: Vec<Vec<u8>>) -> LocalBoxFuture<'_, ()> {
    Box::pin(async move {
        let Some(c) = cluster_or_reply(conn) else {
            return;
        };
        let hostname = c.settings().preferred_hostname;
        let mut out = Out::new(conn.out.resp3);
        c.read(|st| {
            let mut masters: Vec<&Node> = st.nodes.values().filter(|n| n.is_master()).collect();
            masters.sort_by_key(|n| n.id);
            out.array(masters.len());
            for m in masters {
                out.map(2);
                out.bulk_str("slots");
                let ranges: Vec<(u16, u16)> = m.slots.iter_ranges().collect();
                out.array(ranges.len() * 2);
                for (a, b) in ranges {
                    out.int(a as i64);
                    out.int(b as i64);
                }
                out.bulk_str("nodes");
                let reps = st.replicas_of(&m.id);
                out.array(1 + reps.len());
                shard_node(&mut out, m, hostname);
                for r in reps {
                    shard_node(&mut out, r, hostname);
                }
            }
        });
        conn.out.raw(&out.buf);
    })
}
