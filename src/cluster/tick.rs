//! The decisions of Redis's 100 ms `clusterCron`, without I/O: what the
//! tick changes in the state and whom it pings or whose link it resets.
//! The bus executor (`control`) runs them on the real state with the
//! wall clock and its sockets; the deterministic simulation (`sim`) runs
//! the same functions with a virtual clock and a simulated network, so
//! both exercise one code path.

use super::bus::{flags, Message, NodeId};
use super::failover::{MasterManual, ReplView};
use super::gossip::Outgoing;
use super::state::ClusterState;
use super::ClusterSettings;

/// What a new outbound link sends first (`clusterLinkConnectHandler`):
/// MEET to a node met by CLUSTER MEET, else a PING (counted as the ping
/// in flight); the node's link is up from here. None when the node is
/// gone.
pub fn greeting(
    st: &mut ClusterState,
    settings: &ClusterSettings,
    id: &NodeId,
    now: u64,
    random: &mut impl FnMut() -> u64,
) -> Option<Message> {
    let n = st.nodes.get_mut(id)?;
    n.link_up = true;
    let kind = if n.has(flags::MEET) {
        n.flags &= !flags::MEET;
        flags::TYPE_MEET
    } else {
        if n.ping_sent == 0 {
            n.ping_sent = now;
        }
        flags::TYPE_PING
    };
    Some(super::gossip::ping(st, settings, kind, random))
}

/// Whether a node can be connected to.
pub fn has_address(node_flags: u16, ip: &str, cport: u16) -> bool {
    node_flags & flags::NOADDR == 0 && !ip.is_empty() && cport != 0
}

/// A node as the cron sees it.
pub struct Peer {
    pub id: NodeId,
    pub ip: String,
    pub cport: u16,
    pub flags: u16,
    pub ping_sent: u64,
    pub pong_received: u64,
    pub data_received: u64,
    pub link_up: bool,
}

/// What one tick on the state asks of the link layer.
pub type TickOutcome = (Vec<Peer>, bool, Vec<Outgoing>, MasterManual);

/// One tick on the cluster state, under its lock: expired handshakes,
/// failure detection, elections, replica migration, a manual failover's
/// master side; returns the peers as they stand, whether a PONG must be
/// broadcast, the elections' messages and the manual failover's wishes.
pub fn tick_state(
    st: &mut ClusterState,
    settings: &ClusterSettings,
    repl: ReplView,
    settled: bool,
    now: u64,
    random: &mut impl FnMut() -> u64,
) -> TickOutcome {
    let nt = settings.node_timeout.max(1);
    st.repl = repl;
    // Handshakes that got no PONG in time.
    let limit = nt.max(1000);
    let expired: Vec<NodeId> = st
        .nodes
        .values()
        .filter(|n| n.in_handshake() && now.saturating_sub(n.ctime) > limit)
        .map(|n| n.id)
        .collect();
    for id in &expired {
        crate::verbose!("Handshake timeout with node at {}", st.nodes[id].ip);
        st.del_node(id);
    }
    st.blacklist.retain(|_, until| *until > now);
    super::failure::cron_check(st, now, nt);
    // Replica: my master failed? (`clusterHandleSlaveFailover`).
    let elections = super::failover::cron(st, settings, now, random);
    // Replica: a spare one moves to an orphaned master
    // (`clusterHandleSlaveMigration`); `server::cluster_follow`
    // moves the link.
    super::migration::cron(st, settings, now);
    // Master: a replica's manual failover (pause, PAUSED pings).
    let manual = super::failover::master_cron(st, settled);
    let peers: Vec<Peer> = st
        .nodes
        .values()
        .filter(|n| n.id != st.myself)
        .map(|n| Peer {
            id: n.id,
            ip: n.ip.clone(),
            cport: n.cport,
            flags: n.flags,
            ping_sent: n.ping_sent,
            pong_received: n.pong_received,
            data_received: n.data_received,
            link_up: n.link_up,
        })
        .collect();
    (
        peers,
        std::mem::take(&mut st.broadcast_pong),
        elections,
        manual,
    )
}

/// Whom to PING this tick, and whose link to reset: every second the
/// least recently heard of five random peers, and any peer not pinged
/// for half the node timeout; a link silent for that long is reset
/// instead. `link_age`: how long our outbound link to a node has
/// existed (ms; 0 when there is none).
pub fn choose_pings(
    peers: &[Peer],
    iteration: u64,
    nt: u64,
    now: u64,
    link_age: &dyn Fn(&NodeId) -> u64,
    random: &mut impl FnMut() -> u64,
) -> (Vec<NodeId>, Vec<NodeId>) {
    let linked = |p: &Peer| p.link_up;
    let mut to_ping: Vec<NodeId> = Vec::new();
    let mut to_reset: Vec<NodeId> = Vec::new();
    // Every second: PING the node we heard from least recently, among
    // five random ones.
    if iteration.is_multiple_of(10) && !peers.is_empty() {
        let mut best: Option<&Peer> = None;
        for _ in 0..5 {
            let p = &peers[(random() % peers.len() as u64) as usize];
            if p.ping_sent != 0 || p.flags & flags::HANDSHAKE != 0 || !linked(p) {
                continue;
            }
            if best.is_none_or(|b| p.pong_received < b.pong_received) {
                best = Some(p);
            }
        }
        if let Some(b) = best {
            to_ping.push(b.id);
        }
    }
    for p in peers {
        if p.flags & flags::HANDSHAKE != 0 || !linked(p) {
            continue;
        }
        // A link that answers nothing for half the timeout is reset.
        if link_age(&p.id) > nt
            && p.ping_sent != 0
            && now.saturating_sub(p.ping_sent) > nt / 2
            && now.saturating_sub(p.data_received) > nt / 2
        {
            to_reset.push(p.id);
            continue;
        }
        if p.ping_sent == 0
            && now.saturating_sub(p.pong_received) > nt / 2
            && !to_ping.contains(&p.id)
        {
            to_ping.push(p.id);
        }
    }
    (to_ping, to_reset)
}
