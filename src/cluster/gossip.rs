//! Building bus messages from the state, and applying received ones
//! (Redis's `clusterBuildMessageHdr`, `clusterSendPing`,
//! `clusterProcessPacket`, `clusterProcessGossipSection`). Pure logic on
//! [`ClusterState`]: what to send comes back as [`Outgoing`] for the link
//! layer (`control`) to deliver after nodes.conf is saved.

use super::bus::flags::{self, EXT_DATA};
use super::bus::{Body, GossipEntry, Gossips, Header, Message, NodeId, PingExt};
use super::failure;
use super::node::Node;
use super::slots_config;
use super::state::{ClusterState, SaveNeed};
use super::ClusterSettings;

/// A message to deliver, and where.
pub enum Outgoing {
    /// On the link the message came in on.
    Reply(Message),
    /// On our outbound link to that node.
    To(NodeId, Message),
    /// On every outbound link.
    Broadcast(Message),
    /// Close our outbound link to that node (it reconnects next cron).
    DropLink(NodeId),
    /// A handshake node got its real name: re-key its outbound link.
    Renamed(NodeId, NodeId),
    /// Delete the keys of these slots (taken over by another master).
    FlushSlots(Vec<u16>),
    /// Pause client writes until then (MFSTART accepted: the bus cron
    /// keeps the pause and ends it).
    PauseWrites(u64),
    /// Deliver a PUBLISH / SPUBLISH to this node's subscribers.
    Deliver {
        channel: Vec<u8>,
        message: Vec<u8>,
        sharded: bool,
    },
}

/// Where a message arrived.
pub struct LinkInfo {
    /// Our outbound link to this node (None: an inbound link).
    pub outbound_to: Option<NodeId>,
    /// The peer's address as the socket sees it.
    pub peer_ip: String,
    /// Our own address on this connection.
    pub local_ip: String,
}

/// The common header every message carries (`clusterBuildMessageHdr`).
pub fn header(st: &ClusterState, s: &ClusterSettings) -> Header {
    let me = st.me();
    let master = match (me.is_replica(), me.master.and_then(|m| st.nodes.get(&m))) {
        (true, Some(m)) => m,
        _ => me,
    };
    Header {
        port: s.port,
        current_epoch: st.current_epoch,
        config_epoch: master.config_epoch,
        offset: st.repl.offset,
        sender: st.myself,
        myslots: master.slots.clone(),
        slaveof: if me.is_replica() { me.master } else { None },
        myip: s.announce_ip.as_bytes().to_vec(),
        pport: 0,
        cport: s.bus_port,
        flags: me.flags,
        state: if st.ok { 0 } else { 1 },
        // A master whose writes are paused for a manual failover: the
        // offset above is the one its replica must reach.
        mflags: if me.is_master() && st.election.mf_end != 0 && st.election.mf_paused {
            flags::PAUSED
        } else {
            0
        },
    }
}

fn gossip_entry(n: &Node) -> GossipEntry {
    GossipEntry {
        node: n.id,
        ping_sent: (n.ping_sent / 1000) as u32,
        pong_received: (n.pong_received / 1000) as u32,
        ip: n.ip.as_bytes().to_vec(),
        port: n.port,
        cport: n.cport,
        flags: n.flags & !flags::MYSELF,
        pport: n.pport,
    }
}

/// PING, PONG or MEET with gossip about a few random nodes plus every
/// PFAIL node (`clusterSendPing`).
pub fn ping(
    st: &ClusterState,
    s: &ClusterSettings,
    kind: u16,
    random: &mut impl FnMut() -> u64,
) -> Message {
    let candidates: Vec<&Node> = st
        .nodes
        .values()
        .filter(|n| {
            n.id != st.myself
                && !n.has(flags::PFAIL)
                && !n.in_handshake()
                && !n.has(flags::NOADDR)
                && (n.link_up || n.slot_count() > 0)
        })
        .collect();
    let total = st.nodes.len();
    let wanted = (total / 10).max(3).min(total.saturating_sub(2));
    let mut entries: Vec<GossipEntry> = Vec::new();
    let mut picked: Vec<NodeId> = Vec::new();
    let mut draws = wanted * 3;
    while picked.len() < wanted && draws > 0 && !candidates.is_empty() {
        draws -= 1;
        let n = candidates[(random() % candidates.len() as u64) as usize];
        if !picked.contains(&n.id) {
            picked.push(n.id);
            entries.push(gossip_entry(n));
        }
    }
    for n in st.nodes.values() {
        if n.has(flags::PFAIL) && !n.in_handshake() && !n.has(flags::NOADDR) {
            entries.push(gossip_entry(n));
        }
    }
    let mut extensions = Vec::new();
    if !s.announce_hostname.is_empty() {
        extensions.push(PingExt::Hostname(s.announce_hostname.as_bytes().to_vec()));
    }
    let g = Gossips {
        entries,
        extensions,
    };
    let mut header = header(st, s);
    if !g.extensions.is_empty() {
        header.mflags |= EXT_DATA;
    }
    let body = match kind {
        flags::TYPE_MEET => Body::Meet(g),
        flags::TYPE_PONG => Body::Pong(g),
        _ => Body::Ping(g),
    };
    Message { header, body }
}

/// Applies one received message; returns what to send in response. In
/// Redis's order (clusterProcessPacket): note the sender, answer a PING
/// or MEET, finish a handshake, then what the message says.
pub fn process(
    st: &mut ClusterState,
    s: &ClusterSettings,
    link: &LinkInfo,
    msg: Message,
    now: u64,
    random: &mut impl FnMut() -> u64,
) -> Vec<Outgoing> {
    let mut out = Vec::new();
    let h = &msg.header;
    st.count_received(msg.type_code());
    let is_ping_like = matches!(msg.body, Body::Ping(_) | Body::Pong(_) | Body::Meet(_));
    let known = note_sender(st, h, link, now);
    if matches!(msg.body, Body::Ping(_) | Body::Meet(_)) {
        answer_ping(st, s, &msg, link, known, now, random, &mut out);
    }
    if is_ping_like && !follow_handshake(st, &msg, link, &mut out) {
        return out;
    }
    let known = st.nodes.get(&h.sender).is_some_and(|n| !n.in_handshake());
    if !known {
        return out;
    }
    if is_ping_like {
        apply_ping(st, s, &msg, link, now, &mut out);
    } else {
        apply_other(st, s, msg, now, random, &mut out);
    }
    out
}

/// A known sender's epochs, offset and last contact; true when the sender
/// is known (not in handshake).
fn note_sender(st: &mut ClusterState, h: &Header, link: &LinkInfo, now: u64) -> bool {
    let known = st.nodes.get(&h.sender).is_some_and(|n| !n.in_handshake());
    if known {
        let sender_is_master = h.slaveof.is_none();
        st.current_epoch = st.current_epoch.max(h.current_epoch);
        let n = st.nodes.get_mut(&h.sender).expect("known");
        n.data_received = now;
        n.repl_offset = h.offset;
        if sender_is_master && h.config_epoch > n.config_epoch {
            n.config_epoch = h.config_epoch;
            st.need_save(SaveNeed::SaveFsync);
            st.touch();
        }
    }
    if known {
        // A manual failover waits for this offset of my paused master.
        super::failover::note_paused_master(st, &h.sender, h.mflags, h.offset);
    }
    if let Some(to) = link.outbound_to {
        if let Some(n) = st.nodes.get_mut(&to) {
            n.data_received = now;
        }
    }

    known
}

/// A PING or MEET: learn my address from it, meet its sender, answer PONG.
#[allow(clippy::too_many_arguments)]
fn answer_ping(
    st: &mut ClusterState,
    s: &ClusterSettings,
    msg: &Message,
    link: &LinkInfo,
    known: bool,
    now: u64,
    random: &mut impl FnMut() -> u64,
    out: &mut Vec<Outgoing>,
) {
    let h = &msg.header;
    // Learn my own address from the connection, unless announced.
    let meet = matches!(msg.body, Body::Meet(_));
    if (meet || st.me().ip.is_empty()) && s.announce_ip.is_empty() && !link.local_ip.is_empty() {
        let ip = link.local_ip.clone();
        if st.me().ip != ip {
            crate::notice!("IP address for this node updated to {ip}");
            st.me_mut().ip = ip;
            st.need_save(SaveNeed::Save);
            st.touch();
        }
    }
    if meet && !known && !st.nodes.contains_key(&h.sender) {
        let mut n = Node::new(NodeId::random(), flags::HANDSHAKE, now);
        n.ip = peer_or_announced(h, link);
        n.port = h.port;
        n.pport = h.pport;
        n.cport = h.cport;
        st.add_node(n);
        st.need_save(SaveNeed::Save);
        if let Body::Meet(g) = &msg.body {
            gossip_section(st, s, &h.sender, &g.entries, now, true, out);
        }
    }
    out.push(Outgoing::Reply(ping(st, s, flags::TYPE_PONG, random)));
}

/// On an outbound link in handshake, the reply names the node; a known
/// address answering with another name drops the link. False when
/// processing stops here.
fn follow_handshake(
    st: &mut ClusterState,
    msg: &Message,
    link: &LinkInfo,
    out: &mut Vec<Outgoing>,
) -> bool {
    let h = &msg.header;
    if let Some(to) = link.outbound_to {
        let handshake = st.nodes.get(&to).is_some_and(|n| n.in_handshake());
        if handshake {
            if let Some(existing) = st.nodes.get_mut(&h.sender) {
                // Handshake with a node we already know: refresh its
                // address and forget the placeholder.
                existing.ip = peer_or_announced(h, link);
                existing.port = h.port;
                existing.cport = h.cport;
                st.del_node(&to);
                st.need_save(SaveNeed::Save);
                out.push(Outgoing::DropLink(to));
                return false;
            }
            crate::verbose!("Handshake with node {} completed.", h.sender.as_str());
            st.rename_node(&to, h.sender);
            let n = st.nodes.get_mut(&h.sender).expect("renamed");
            n.flags &= !flags::HANDSHAKE;
            n.flags |= h.flags & (flags::MASTER | flags::SLAVE);
            st.need_save(SaveNeed::Save);
            out.push(Outgoing::Renamed(to, h.sender));
        } else if to != h.sender && matches!(msg.body, Body::Pong(_)) {
            // The address now answers with another name.
            if let Some(n) = st.nodes.get_mut(&to) {
                n.flags |= flags::NOADDR;
                n.ip.clear();
                n.port = 0;
                n.cport = 0;
            }
            st.need_save(SaveNeed::Save);
            out.push(Outgoing::DropLink(to));
            return false;
        }
    }
    true
}

/// A known sender's PING, PONG or MEET: its address, liveness, role,
/// slots, gossip entries and hostname.
fn apply_ping(
    st: &mut ClusterState,
    s: &ClusterSettings,
    msg: &Message,
    link: &LinkInfo,
    now: u64,
    out: &mut Vec<Outgoing>,
) {
    let h = &msg.header;
    let sender = h.sender;
    let n = st.nodes.get_mut(&sender).expect("known");
    n.flags = (n.flags & !flags::NOFAILOVER) | (h.flags & flags::NOFAILOVER);
    // A PING on an inbound link may carry a new address.
    if matches!(msg.body, Body::Ping(_)) && link.outbound_to != Some(sender) {
        let ip = peer_or_announced(h, link);
        if n.ip != ip || n.port != h.port || n.cport != h.cport {
            n.ip = ip;
            n.port = h.port;
            n.cport = h.cport;
            n.flags &= !flags::NOADDR;
            crate::warning!(
                "Address updated for node {}, now {}:{}",
                sender.as_str(),
                n.ip,
                n.port
            );
            st.need_save(SaveNeed::Save);
            st.touch();
            out.push(Outgoing::DropLink(sender));
        }
    }
    if matches!(msg.body, Body::Pong(_)) && link.outbound_to == Some(sender) {
        let n = st.nodes.get_mut(&sender).expect("known");
        n.pong_received = now;
        n.ping_sent = 0;
        failure::clear_on_pong(st, &sender, now, s.node_timeout);
    }
    update_role(st, &sender, h);
    update_slots(st, s, &sender, h, out);
    if let Body::Ping(g) | Body::Pong(g) | Body::Meet(g) = &msg.body {
        gossip_section(st, s, &sender, &g.entries, now, false, out);
        let host = g.extensions.iter().find_map(|e| match e {
            PingExt::Hostname(h) => Some(String::from_utf8_lossy(h).into_owned()),
            _ => None,
        });
        let n = st.nodes.get_mut(&sender).expect("known");
        let host = host.unwrap_or_default();
        if n.hostname != host {
            n.hostname = host;
            st.need_save(SaveNeed::Save);
            st.touch();
        }
    }
}

/// The sender's role: a master, or a replica of the master it names.
fn update_role(st: &mut ClusterState, sender: &NodeId, h: &Header) {
    let sender = *sender;
    match h.slaveof {
        None => {
            let was_replica = st.nodes[&sender].is_replica();
            st.set_as_master(&sender);
            if was_replica {
                st.need_save(SaveNeed::Save);
            }
        }
        Some(master) => {
            let n = &st.nodes[&sender];
            if n.is_master() || n.master != Some(master) {
                if st.nodes.contains_key(&master) {
                    st.set_as_replica(&sender, master);
                } else {
                    // Unknown master: a replica still, master learned later.
                    let n = st.nodes.get_mut(&sender).expect("known");
                    n.flags = (n.flags & !flags::MASTER) | flags::SLAVE;
                    n.master = Some(master);
                }
                st.need_save(SaveNeed::Save);
            }
        }
    }
}

/// Slots: a master's claim; a replica's bitmap is its master's.
fn update_slots(
    st: &mut ClusterState,
    s: &ClusterSettings,
    sender: &NodeId,
    h: &Header,
    out: &mut Vec<Outgoing>,
) {
    let sender = *sender;
    let claimer = if h.slaveof.is_none() {
        Some(sender)
    } else {
        h.slaveof.filter(|m| st.nodes.contains_key(m))
    };
    if let Some(claimer) = claimer {
        let changed = st.nodes[&claimer].slots != h.myslots;
        if changed && h.slaveof.is_none() {
            let flush = slots_config::update_with(st, s, &sender, h.config_epoch, &h.myslots);
            if !flush.is_empty() {
                out.push(Outgoing::FlushSlots(flush));
            }
        }
        if changed {
            if let Some(update) =
                slots_config::update_for_stale_claim(st, s, &h.myslots, h.config_epoch)
            {
                out.push(Outgoing::To(sender, update));
            }
        }
    }
    if h.slaveof.is_none() {
        slots_config::handle_epoch_collision(st, &sender);
    }
}

/// A known sender's other messages: FAIL, PUBLISH, failover votes,
/// manual failover start, UPDATE.
fn apply_other(
    st: &mut ClusterState,
    s: &ClusterSettings,
    msg: Message,
    now: u64,
    random: &mut impl FnMut() -> u64,
    out: &mut Vec<Outgoing>,
) {
    let sender = msg.header.sender;
    match msg.body {
        Body::Fail { node } => {
            if let Some(n) = st.nodes.get_mut(&node) {
                if !n.has(flags::MYSELF) && !n.has(flags::FAIL) {
                    crate::notice!(
                        "FAIL message received from {} about {}",
                        sender.as_str(),
                        node.as_str()
                    );
                    n.flags = (n.flags | flags::FAIL) & !flags::PFAIL;
                    n.fail_time = now;
                    st.need_save(SaveNeed::Save);
                    st.touch();
                }
            }
        }
        Body::Publish { channel, message } => out.push(Outgoing::Deliver {
            channel,
            message,
            sharded: false,
        }),
        Body::PublishShard { channel, message } => out.push(Outgoing::Deliver {
            channel,
            message,
            sharded: true,
        }),
        Body::FailoverAuthRequest => {
            if let Some(ack) = super::failover::vote(st, s, &msg.header, now) {
                out.push(Outgoing::To(sender, ack));
            }
        }
        Body::MfStart if super::failover::mf_start(st, &sender, now) => {
            out.push(Outgoing::PauseWrites(
                st.election.mf_end + super::failover::MF_TIMEOUT,
            ));
        }
        Body::FailoverAuthAck => {
            super::failover::count_ack(st, &sender, msg.header.current_epoch);
            // As Redis's before-sleep step: a quorum reached wins now,
            // not at the next cron tick.
            if st.election.auth_sent {
                out.extend(super::failover::cron(st, s, now, random));
            }
        }
        Body::Update {
            config_epoch,
            node,
            slots,
        } => {
            let Some(n) = st.nodes.get(&node) else {
                return;
            };
            if config_epoch <= n.config_epoch {
                return;
            }
            if n.is_replica() {
                st.set_as_master(&node);
            }
            st.nodes.get_mut(&node).expect("known").config_epoch = config_epoch;
            st.need_save(SaveNeed::SaveFsync);
            let flush = slots_config::update_with(st, s, &node, config_epoch, &slots);
            if !flush.is_empty() {
                out.push(Outgoing::FlushSlots(flush));
            }
        }
        _ => {}
    }
}

/// The sender's address: its announced ip, else the socket's peer.
fn peer_or_announced(h: &Header, link: &LinkInfo) -> String {
    if h.myip.is_empty() {
        link.peer_ip.clone()
    } else {
        String::from_utf8_lossy(&h.myip).into_owned()
    }
}

/// `clusterProcessGossipSection`.
fn gossip_section(
    st: &mut ClusterState,
    s: &ClusterSettings,
    sender: &NodeId,
    entries: &[GossipEntry],
    now: u64,
    meet: bool,
    out: &mut Vec<Outgoing>,
) {
    let sender_master = st.nodes.get(sender).is_some_and(|n| n.is_master());
    for e in entries {
        let ip = String::from_utf8_lossy(&e.ip).into_owned();
        if let Some(n) = st.nodes.get(&e.node) {
            let id = n.id;
            if sender_master && !n.has(flags::MYSELF) {
                if e.flags & (flags::PFAIL | flags::FAIL) != 0 {
                    if failure::add_report(st, &id, sender, now) {
                        crate::verbose!(
                            "Node {} reported node {} as not reachable.",
                            sender.as_str(),
                            id.as_str()
                        );
                    }
                    if let Some(m) = failure::mark_failing_if_needed(st, s, &id, now) {
                        out.push(m);
                    }
                } else {
                    failure::remove_report(st, &id, sender);
                }
            }
            let n = st.nodes.get_mut(&id).expect("known");
            if e.flags & (flags::PFAIL | flags::FAIL) == 0
                && n.ping_sent == 0
                && n.fail_reports.is_empty()
            {
                let pong = e.pong_received as u64 * 1000;
                if pong <= now + 500 && pong > n.pong_received {
                    n.pong_received = pong;
                }
            }
            if n.failing()
                && e.flags & flags::NOADDR == 0
                && e.flags & (flags::PFAIL | flags::FAIL) == 0
                && (n.ip != ip || n.port != e.port || n.cport != e.cport)
            {
                n.ip = ip;
                n.port = e.port;
                n.cport = e.cport;
                n.flags &= !flags::NOADDR;
                out.push(Outgoing::DropLink(id));
                st.touch();
            }
        } else if !meet
            && st.nodes.contains_key(sender)
            && e.flags & flags::NOADDR == 0
            && st.blacklist.get(&e.node).is_none_or(|&until| until <= now)
            && !e.node.is_null()
        {
            let mut n = Node::new(e.node, e.flags & !flags::MYSELF, now);
            n.ip = ip;
            n.port = e.port;
            n.cport = e.cport;
            n.pport = e.pport;
            st.add_node(n);
        }
    }
}
