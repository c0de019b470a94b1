//! Failure detection: PFAIL is this node's own timeout verdict; FAIL needs
//! reports from a majority of slot-owning masters within 2 × node
//! timeout, and is then broadcast (Redis's `markNodeAsFailingIfNeeded`,
//! `clearNodeFailureIfNeeded`).

use super::bus::{flags, Body, Message, NodeId};
use super::gossip::{header, Outgoing};
use super::state::{ClusterState, SaveNeed};
use super::ClusterSettings;

/// Records (or refreshes) `reporter`'s report that `node` is failing.
/// True when the report is new.
pub fn add_report(st: &mut ClusterState, node: &NodeId, reporter: &NodeId, now: u64) -> bool {
    let Some(n) = st.nodes.get_mut(node) else {
        return false;
    };
    if let Some(r) = n.fail_reports.iter_mut().find(|(who, _)| who == reporter) {
        r.1 = now;
        return false;
    }
    n.fail_reports.push((*reporter, now));
    true
}

pub fn remove_report(st: &mut ClusterState, node: &NodeId, reporter: &NodeId) {
    if let Some(n) = st.nodes.get_mut(node) {
        n.fail_reports.retain(|(who, _)| who != reporter);
    }
}

/// PFAIL → FAIL when enough masters agree; the FAIL broadcast to send.
pub fn mark_failing_if_needed(
    st: &mut ClusterState,
    s: &ClusterSettings,
    node: &NodeId,
    now: u64,
) -> Option<Outgoing> {
    let node_timeout = s.node_timeout;
    let n = st.nodes.get(node)?;
    if !n.has(flags::PFAIL) || n.has(flags::FAIL) {
        return None;
    }
    let quorum = st.size / 2 + 1;
    let mut failures = st.failure_report_count(node, now, node_timeout);
    if st.i_am_master() {
        failures += 1;
    }
    if failures < quorum {
        return None;
    }
    crate::notice!(
        "Marking node {} as failing (quorum reached).",
        node.as_str()
    );
    let n = st.nodes.get_mut(node)?;
    n.flags = (n.flags & !flags::PFAIL) | flags::FAIL;
    n.fail_time = now;
    st.need_save(SaveNeed::Save);
    st.touch();
    Some(Outgoing::Broadcast(Message {
        header: header(st, s),
        body: Body::Fail { node: *node },
    }))
}

/// A PONG arrived from `node`: it is reachable.
pub fn clear_on_pong(st: &mut ClusterState, node: &NodeId, now: u64, node_timeout: u64) {
    let size_zero_or_replica;
    {
        let Some(n) = st.nodes.get_mut(node) else {
            return;
        };
        if n.has(flags::PFAIL) {
            n.flags &= !flags::PFAIL;
            st.touch();
        }
        let n = &st.nodes[node];
        if !n.has(flags::FAIL) {
            return;
        }
        size_zero_or_replica = n.is_replica() || n.slot_count() == 0;
    }
    let n = st.nodes.get_mut(node).expect("present");
    let long_ago = now.saturating_sub(n.fail_time) > node_timeout * 2;
    if size_zero_or_replica || long_ago {
        crate::notice!(
            "Clear FAIL state for node {}: {}",
            node.as_str(),
            if size_zero_or_replica {
                "replica is reachable again."
            } else {
                "is reachable again and nobody is serving its slots after some time."
            }
        );
        n.flags &= !flags::FAIL;
        st.need_save(SaveNeed::Save);
        st.touch();
    }
}

/// Cron: a node with a ping pending longer than the node timeout (and
/// silent as long) is PFAIL.
pub fn cron_check(st: &mut ClusterState, now: u64, node_timeout: u64) {
    let me = st.myself;
    let mut changed = false;
    for n in st.nodes.values_mut() {
        if n.id == me || n.in_handshake() || n.has(flags::NOADDR) || n.ping_sent == 0 {
            continue;
        }
        let delay = (now.saturating_sub(n.ping_sent)).min(now.saturating_sub(n.data_received));
        if delay > node_timeout && !n.failing() {
            crate::verbose!("*** NODE {} possibly failing", n.id.as_str());
            n.flags |= flags::PFAIL;
            changed = true;
        }
    }
    if changed {
        st.touch();
    }
}
