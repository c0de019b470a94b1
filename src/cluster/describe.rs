//! The text forms of the cluster state: CLUSTER NODES lines (also the
//! body of nodes.conf) and CLUSTER INFO.
//!
//! ```text
//! <id> <ip>:<port>@<cport>[,<hostname>] <flags> <master|-> <ping-sent> <pong-recv> <epoch> <link> [slots…]
//! e6bbfd8d… 127.0.0.1:32002@42002 master - 0 1795587028593 2 connected 5461-10922
//! ```

use super::bus::{flags, flags_text};
use super::node::Node;
use super::state::{ClusterState, MSG_TYPE_NAMES};
use std::fmt::Write;

/// One CLUSTER NODES line, without the trailing newline.
pub fn node_line(st: &ClusterState, n: &Node, now: u64) -> String {
    let mut s = String::with_capacity(128);
    let _ = write!(s, "{} {}:{}@{}", n.id.as_str(), n.ip, n.port, n.cport);
    if !n.hostname.is_empty() {
        s.push(',');
        s.push_str(&n.hostname);
    }
    let master = match (n.is_replica(), n.master) {
        (true, Some(m)) => m.as_str().to_string(),
        _ => "-".into(),
    };
    let myself = n.has(flags::MYSELF);
    let pong = if myself {
        now / 1000 * 1000
    } else {
        n.pong_received
    };
    // A replica shows its master's config epoch.
    let epoch = match n.master.and_then(|m| st.nodes.get(&m)) {
        Some(m) if n.is_replica() => m.config_epoch,
        _ => n.config_epoch,
    };
    let link = if n.link_up || myself {
        "connected"
    } else {
        "disconnected"
    };
    let _ = write!(
        s,
        " {} {} {} {} {} {}",
        flags_text(n.flags),
        master,
        if myself { 0 } else { n.ping_sent },
        pong,
        epoch,
        link
    );
    for (a, b) in n.slots.iter_ranges() {
        if a == b {
            let _ = write!(s, " {a}");
        } else {
            let _ = write!(s, " {a}-{b}");
        }
    }
    if myself {
        let open: std::collections::BTreeSet<u16> = st
            .migrating
            .keys()
            .chain(st.importing.keys())
            .copied()
            .collect();
        for slot in open {
            if let Some(to) = st.migrating.get(&slot) {
                let _ = write!(s, " [{slot}->-{}]", to.as_str());
            } else if let Some(from) = st.importing.get(&slot) {
                let _ = write!(s, " [{slot}-<-{}]", from.as_str());
            }
        }
    }
    s
}

/// CLUSTER NODES (with handshake nodes) or the body of nodes.conf
/// (without them). Every line ends in `\n`.
pub fn nodes_text(st: &ClusterState, now: u64, for_file: bool) -> String {
    let mut ids: Vec<_> = st.nodes.keys().copied().collect();
    ids.sort();
    let mut s = String::new();
    for id in ids {
        let n = &st.nodes[&id];
        if for_file && n.in_handshake() {
            continue;
        }
        s.push_str(&node_line(st, n, now));
        s.push('\n');
    }
    s
}

/// CLUSTER INFO, lines ending in CRLF.
pub fn info_text(st: &ClusterState) -> String {
    // Per-node counts from the bitmaps, not a lookup per slot.
    let assigned = st.slots.iter().filter(|o| o.is_some()).count();
    let (mut pfail, mut fail) = (0, 0);
    for n in st.nodes.values() {
        if n.has(flags::FAIL) {
            fail += n.slot_count();
        } else if n.has(flags::PFAIL) {
            pfail += n.slot_count();
        }
    }
    let mut s = String::new();
    let _ = write!(
        s,
        "cluster_state:{}\r\ncluster_slots_assigned:{assigned}\r\ncluster_slots_ok:{}\r\ncluster_slots_pfail:{pfail}\r\ncluster_slots_fail:{fail}\r\ncluster_known_nodes:{}\r\ncluster_size:{}\r\ncluster_current_epoch:{}\r\ncluster_my_epoch:{}\r\n",
        if st.ok { "ok" } else { "fail" },
        assigned - pfail - fail,
        st.nodes.len(),
        st.size,
        st.current_epoch,
        st.advertised_config_epoch()
    );
    for (counts, dir) in [(&st.sent, "sent"), (&st.received, "received")] {
        let mut total = 0;
        for (i, c) in counts.iter().enumerate() {
            if *c > 0 {
                let _ = write!(
                    s,
                    "cluster_stats_messages_{}_{dir}:{c}\r\n",
                    MSG_TYPE_NAMES[i]
                );
                total += c;
            }
        }
        let _ = write!(s, "cluster_stats_messages_{dir}:{total}\r\n");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::bus::NodeId;

    #[test]
    fn fresh_node_line_matches_redis_shape() {
        let id = NodeId(*b"f7f62bbbeaa01d42f7e8cc86388f69c42de8d577");
        let mut st = ClusterState::fresh(id, 0);
        st.me_mut().port = 32001;
        st.me_mut().cport = 42001;
        let now = 1795587027123;
        assert_eq!(
            nodes_text(&st, now, false),
            "f7f62bbbeaa01d42f7e8cc86388f69c42de8d577 :32001@42001 myself,master - 0 1795587027000 0 connected\n"
        );
        for s in 0..=5460 {
            st.set_slot(s, Some(id));
        }
        st.set_slot(7000, Some(id));
        assert!(node_line(&st, st.me(), now).ends_with("connected 0-5460 7000"));
    }

    #[test]
    fn fresh_info_is_306_bytes_as_redis() {
        let st = ClusterState::fresh(NodeId([b'a'; 40]), 0);
        assert_eq!(info_text(&st).len(), 261);
    }
}
