//! The simulated cluster: a virtual clock, an event queue, the network
//! between the nodes, and each node's bus driven through the functions
//! the real bus executor (`control`) runs: `gossip::process` for every
//! message (after a trip through the wire codec), `tick::tick_state` and
//! `tick::choose_pings` every 100 ms, `gossip::ping` for greetings and
//! pings. Where `control` does I/O, this file does the same bookkeeping
//! on simulated links.

use super::check::{self, Epochs, RoleBefore};
use super::node::{OutLink, SimNode};
use super::reshard::{Migration, Moved};
use super::rng::Rng;
use super::trace::Trace;
use super::Options;
use crate::cluster::bus::{flags, Message, NodeId};
use crate::cluster::gossip::{self, LinkInfo, Outgoing};
use crate::cluster::state::{ClusterState, SaveNeed, MSG_TYPE_NAMES};
use crate::cluster::tick::{self, choose_pings, has_address, tick_state};
use crate::cluster::{nodes_conf, ClusterSettings};
use std::collections::{BTreeMap, BTreeSet};

/// One end of a link as a message travels on it: the link's owner (who
/// connected), the peer, the link's serial, and the direction.
#[derive(Clone, Copy, Debug)]
pub struct Wire {
    pub owner: usize,
    pub peer: usize,
    pub serial: u64,
    /// Travelling back to the owner (a reply on its outbound link).
    pub to_owner: bool,
}

impl Wire {
    fn ends(&self) -> (usize, usize) {
        if self.to_owner {
            (self.peer, self.owner)
        } else {
            (self.owner, self.peer)
        }
    }
}

pub enum Event {
    Tick {
        node: usize,
        life: u64,
    },
    Deliver {
        wire: Wire,
        bytes: Vec<u8>,
    },
    Connect {
        owner: usize,
        peer: usize,
        serial: u64,
    },
    Chaos,
    /// The operator's next SETSLOT (`reshard`).
    Operator,
    Heal,
    Restart {
        node: usize,
    },
    /// SIGTERM handover: the master exits once its slots are taken, or
    /// at the deadline.
    HandoverExit {
        node: usize,
        life: u64,
        deadline: u64,
    },
}

/// Message faults, per mille of messages sent (per seed).
#[derive(Clone, Copy, Debug, Default)]
pub struct NetFaults {
    pub loss: u64,
    pub duplicate: u64,
    pub reorder: u64,
    pub delay: u64,
    pub delay_max_ms: u64,
}

pub struct Sim {
    pub(super) opts: Options,
    pub(super) now: u64,
    pub(super) steps: u64,
    seq: u64,
    queue: BTreeMap<(u64, u64), Event>,
    pub(super) rng: Rng,
    pub(super) nodes: Vec<SimNode>,
    by_id: BTreeMap<NodeId, usize>,
    /// Side of each node while a partition holds.
    pub(super) partition: Option<Vec<bool>>,
    pub(super) net: NetFaults,
    pub(super) faults_on: bool,
    /// Per link direction: when its last in-order message arrives.
    fifo: BTreeMap<(u64, bool), u64>,
    next_serial: u64,
    pub(super) trace: Trace,
    pub(super) seen: Vec<Epochs>,
    /// Config epochs taken without consensus (TAKEOVER).
    pub(super) without_consensus: BTreeSet<u64>,
    /// A state as it stood when its node crashed.
    pub(super) at_crash: Vec<Option<ClusterState>>,
    pub(super) violation: Option<String>,
    /// The slot migration under way, one at a time.
    pub(super) migration: Option<Migration>,
    /// The last migration of each slot that reached its target.
    pub(super) moved: Vec<Moved>,
    pub(super) messages: u64,
    pub(super) faults: u64,
}

fn settings(i: usize, node_timeout: u64) -> ClusterSettings {
    ClusterSettings {
        node_timeout,
        require_full_coverage: true,
        allow_reads_when_down: false,
        preferred_hostname: false,
        announce_ip: format!("10.0.0.{}", i + 1),
        announce_hostname: String::new(),
        port: 7000 + i as u16,
        bus_port: 17000 + i as u16,
        allow_replica_migration: true,
        migration_barrier: 1,
        link_sendbuf_limit: 0,
        replica_validity_factor: 10,
        replica_no_failover: false,
        repl_ping_period: 10,
    }
}

/// The cluster `redis-cli --cluster create --cluster-replicas 1` leaves
/// once it has settled: masters 0..m own equal slot ranges with config
/// epochs 1..m, replica m+k follows master k, every node knows all.
fn initial_states(ids: &[NodeId], masters: usize, now: u64) -> Vec<ClusterState> {
    let n = ids.len();
    let master_of = |i: usize| (i >= masters).then(|| ids[i % masters]);
    let slots = crate::slot::SLOTS;
    (0..n)
        .map(|me| {
            let mut st = ClusterState::fresh(ids[me], now);
            for (i, id) in ids.iter().enumerate() {
                let s = settings(i, 0);
                if i != me {
                    let mut node = crate::cluster::node::Node::new(*id, flags::MASTER, now);
                    node.pong_received = now;
                    st.add_node(node);
                }
                let node = st.nodes.get_mut(id).expect("added");
                node.ip = s.announce_ip.clone();
                node.port = s.port;
                node.cport = s.bus_port;
                if i < masters {
                    node.config_epoch = i as u64 + 1;
                }
            }
            for (i, id) in ids.iter().enumerate() {
                if let Some(m) = master_of(i) {
                    st.set_as_replica(id, m);
                }
            }
            for (k, owner) in ids.iter().take(masters).enumerate() {
                let (lo, hi) = (k * slots / masters, (k + 1) * slots / masters);
                for s in lo..hi {
                    st.set_slot(s as u16, Some(*owner));
                }
            }
            st.current_epoch = masters as u64;
            st.save = SaveNeed::None;
            st
        })
        .collect()
}

impl Sim {
    pub fn new(seed: u64, opts: Options) -> Sim {
        let mut rng = Rng::new(seed);
        let n = opts.masters * (1 + opts.replicas_per_master);
        let ids: Vec<NodeId> = (0..n).map(|_| rng.node_id()).collect();
        let now = 1_700_000_000_000;
        let states = initial_states(&ids, opts.masters, now);
        let nodes: Vec<SimNode> = states
            .into_iter()
            .enumerate()
            .map(|(i, st)| SimNode {
                id: ids[i],
                ip: format!("10.0.0.{}", i + 1),
                settings: settings(i, opts.node_timeout),
                conf: nodes_conf::render(&st, now),
                st: Some(st),
                links: BTreeMap::new(),
                iteration: 0,
                paused_until: 0,
                life: 0,
                offset: 0,
                synced_at: None,
                writes_paused_until: 0,
                evaluated: (0, 0),
            })
            .collect();
        // Harsh or calm network, per seed.
        let net = NetFaults {
            loss: rng.below(80),
            duplicate: rng.below(30),
            reorder: rng.below(50),
            delay: rng.below(100),
            delay_max_ms: rng.between(10, opts.node_timeout * 2),
        };
        let mut sim = Sim {
            seen: nodes.iter().map(|n| Epochs::of(n.state())).collect(),
            at_crash: (0..n).map(|_| None).collect(),
            by_id: ids.iter().enumerate().map(|(i, id)| (*id, i)).collect(),
            trace: Trace::new(opts.print_trace),
            opts,
            now,
            steps: 0,
            seq: 0,
            queue: BTreeMap::new(),
            rng,
            nodes,
            partition: None,
            net,
            faults_on: true,
            fifo: BTreeMap::new(),
            next_serial: 1,
            without_consensus: BTreeSet::new(),
            violation: None,
            migration: None,
            moved: Vec::new(),
            messages: 0,
            faults: 0,
        };
        sim.trace.line(format!("seed {seed} net {:?}", sim.net));
        for i in 0..n {
            let at = now + sim.rng.below(100);
            sim.push(at, Event::Tick { node: i, life: 0 });
        }
        let at = now + 500;
        sim.push(at, Event::Chaos);
        sim
    }

    pub(super) fn push(&mut self, at: u64, e: Event) {
        self.seq += 1;
        self.queue.insert((at, self.seq), e);
    }

    pub(super) fn log(&mut self, text: String) {
        let line = format!("{:>7} {}", self.now - 1_700_000_000_000, text);
        self.trace.line(line);
    }

    pub(super) fn fail(&mut self, what: String) {
        if self.violation.is_none() {
            self.log(format!("VIOLATION {what}"));
            self.violation = Some(what);
        }
    }

    pub(super) fn idx(&self, id: &NodeId) -> Option<usize> {
        self.by_id.get(id).copied()
    }

    pub(super) fn partitioned(&self, a: usize, b: usize) -> bool {
        self.partition.as_ref().is_some_and(|p| p[a] != p[b])
    }

    /// Takes the next event; false when the queue is empty.
    pub(super) fn step(&mut self) -> bool {
        let Some(((at, _), event)) = self.queue.pop_first() else {
            return false;
        };
        self.now = at;
        self.steps += 1;
        match event {
            Event::Tick { node, life } => self.tick(node, life),
            Event::Deliver { wire, bytes } => self.deliver(wire, bytes),
            Event::Connect {
                owner,
                peer,
                serial,
            } => self.connect(owner, peer, serial),
            Event::Chaos => self.chaos(),
            Event::Operator => self.operator(),
            Event::Heal => {
                self.partition = None;
                self.log("partition healed".into());
            }
            Event::Restart { node } => self.restart(node),
            Event::HandoverExit {
                node,
                life,
                deadline,
            } => self.handover_exit(node, life, deadline),
        }
        self.check_all();
        true
    }

    /// Runs `f` on node `i`'s state as `Cluster::with` does (then the
    /// cluster state is recomputed and nodes.conf saved if asked), and
    /// checks the role did not change without a reason.
    pub(super) fn on_node<R>(
        &mut self,
        i: usize,
        takeover: bool,
        f: impl FnOnce(&mut ClusterState, &ClusterSettings, &mut Rng, u64) -> R,
    ) -> R {
        let now = self.now;
        let node = &mut self.nodes[i];
        let st = node.st.as_mut().expect("a live node");
        let before = RoleBefore::of(st);
        let r = f(st, &node.settings, &mut self.rng, now);
        let s = &node.settings;
        // Same inputs, same verdict: every change update_state reads
        // bumps `version` (touch), so it is skipped when neither the
        // state nor the clock moved since it last ran (a debug build
        // spends most of a run walking the 16384 slots otherwise).
        if node.evaluated != (st.version, now) {
            st.update_state(now, s.require_full_coverage, s.node_timeout);
            node.evaluated = (st.version, now);
        }
        if st.save != SaveNeed::None {
            st.save = SaveNeed::None;
            node.conf = nodes_conf::render(st, now);
        }
        let promoted = before.replica && st.me().is_master();
        let verdict = check::promotion_justified(before, st, takeover);
        if promoted {
            let epoch = st.me().config_epoch;
            self.log(format!("n{i} PROMOTED configEpoch {epoch}"));
        }
        if let Err(e) = verdict {
            self.fail(format!("n{i}: {e}"));
        }
        r
    }

    /// After every step: epochs only grow, one master per slot and epoch.
    fn check_all(&mut self) {
        for i in 0..self.nodes.len() {
            let Some(st) = &self.nodes[i].st else {
                continue;
            };
            let verdict = check::epochs_forward(self.seen[i], st).and(check::open_slots(st));
            self.seen[i] = Epochs::of(st);
            if let Err(e) = verdict {
                self.fail(format!("n{i}: {e}"));
            }
        }
        let claims: Vec<_> = self
            .nodes
            .iter()
            .filter_map(|n| n.st.as_ref())
            .filter(|st| st.me().is_master() && st.me().slot_count() > 0)
            .map(|st| (st.myself, st.me().config_epoch, &st.me().slots))
            .collect();
        if let Err(e) = check::one_master_per_slot_epoch(&claims, &self.without_consensus) {
            self.fail(e);
        }
    }

    // ---- the network ----

    /// Puts a message on the wire: encoded, maybe lost, delayed,
    /// duplicated or overtaking earlier ones.
    pub(super) fn send(&mut self, wire: Wire, msg: &Message) {
        let (from, to) = wire.ends();
        let bytes = msg.to_bytes();
        self.messages += 1;
        if self.partitioned(from, to) {
            return;
        }
        let faults = self.faults_on;
        if faults && self.rng.chance(self.net.loss) {
            return;
        }
        let mut at = self.now + 1 + self.rng.below(3);
        if faults && self.rng.chance(self.net.delay) {
            at += self.rng.below(self.net.delay_max_ms);
        }
        let key = (wire.serial, wire.to_owner);
        if faults && self.rng.chance(self.net.reorder) {
            // Overtakes whatever is queued on the link.
        } else {
            let last = self.fifo.get(&key).copied().unwrap_or(0);
            at = at.max(last);
            self.fifo.insert(key, at);
        }
        // TCP never duplicates; a duplicate stands for a message sent
        // again on a new link. Not votes: Redis counts acks without
        // remembering the voter, a resent ack would be a second vote.
        let ack = msg.type_code() == flags::TYPE_FAILOVER_AUTH_ACK;
        if faults && !ack && self.rng.chance(self.net.duplicate) {
            let later = at + self.rng.below(200);
            self.push(
                later,
                Event::Deliver {
                    wire,
                    bytes: bytes.clone(),
                },
            );
        }
        self.push(at, Event::Deliver { wire, bytes });
    }

    /// On our outbound link to `id`, if connected (`Bus::send_to`).
    fn send_to(&mut self, i: usize, id: &NodeId, msg: &Message) {
        let Some(peer) = self.idx(id) else {
            return;
        };
        let Some(l) = self.nodes[i].links.get(&peer) else {
            return;
        };
        if !l.connected {
            return;
        }
        let wire = Wire {
            owner: i,
            peer,
            serial: l.serial,
            to_owner: false,
        };
        self.send(wire, msg);
    }

    fn broadcast(&mut self, i: usize, msg: &Message) {
        let peers: Vec<usize> = self.nodes[i].links.keys().copied().collect();
        for p in peers {
            let id = self.nodes[p].id;
            self.send_to(i, &id, msg);
        }
    }

    fn deliver(&mut self, wire: Wire, bytes: Vec<u8>) {
        let open = self.nodes[wire.owner]
            .links
            .get(&wire.peer)
            .is_some_and(|l| l.serial == wire.serial);
        if !open {
            return;
        }
        let (from, to) = wire.ends();
        if self.nodes[to].paused(self.now) {
            // Stopped: the kernel keeps the bytes until it resumes.
            let at = self.nodes[to].paused_until;
            self.push(at, Event::Deliver { wire, bytes });
            return;
        }
        let msg = match Message::decode(&bytes) {
            Ok(m) => m,
            Err(e) => return self.fail(format!("codec: a message sent did not decode: {e}")),
        };
        if msg.to_bytes() != bytes {
            return self.fail("codec: a decoded message re-encodes differently".into());
        }
        let kind = MSG_TYPE_NAMES
            .get(msg.type_code() as usize)
            .copied()
            .unwrap_or("?");
        let detail = match &msg.body {
            crate::cluster::bus::Body::Fail { node } => {
                format!(" about n{}", self.idx(node).map_or(99, |x| x))
            }
            _ => String::new(),
        };
        self.log(format!(
            "n{to} <- n{from} {kind}{detail} epoch {}/{}",
            msg.header.current_epoch, msg.header.config_epoch
        ));
        let link = LinkInfo {
            outbound_to: wire.to_owner.then_some(self.nodes[wire.peer].id),
            peer_ip: self.nodes[from].ip.clone(),
            local_ip: self.nodes[to].ip.clone(),
        };
        let outs = self.on_node(to, false, |st, s, rng, now| {
            gossip::process(st, s, &link, msg, now, &mut || rng.next_u64())
        });
        let back = Wire {
            to_owner: !wire.to_owner,
            ..wire
        };
        self.apply(to, outs, Some(back));
    }

    /// Carries out what processing asked for (`Bus::apply`).
    pub(super) fn apply(&mut self, i: usize, outs: Vec<Outgoing>, reply: Option<Wire>) {
        for o in outs {
            match o {
                Outgoing::Reply(m) => {
                    if let Some(w) = reply {
                        self.send(w, &m);
                    }
                }
                Outgoing::To(id, m) => self.send_to(i, &id, &m),
                Outgoing::Broadcast(m) => self.broadcast(i, &m),
                Outgoing::DropLink(id) => {
                    if let Some(p) = self.idx(&id) {
                        self.drop_link(i, p);
                    }
                }
                // No handshakes here: every node is known from the start.
                Outgoing::Renamed(..) => {}
                Outgoing::FlushSlots(slots) => {
                    self.log(format!("n{i} flushes {} slots", slots.len()));
                }
                Outgoing::PauseWrites(until) => self.nodes[i].writes_paused_until = until,
                Outgoing::Deliver { .. } => {}
            }
        }
    }

    // ---- links ----

    /// `Bus::open_link`: listed at once, connected a moment later.
    fn open_link(&mut self, i: usize, peer: usize) {
        let serial = self.next_serial;
        self.next_serial += 1;
        self.nodes[i].links.insert(
            peer,
            OutLink {
                serial,
                created: self.now,
                connected: false,
            },
        );
        // A partition makes the connect time out; otherwise it is quick.
        let at = if self.partitioned(i, peer) {
            self.now + self.opts.node_timeout
        } else {
            self.now + 1 + self.rng.below(3)
        };
        self.push(
            at,
            Event::Connect {
                owner: i,
                peer,
                serial,
            },
        );
    }

    /// `Bus::drop_link`: closed and reopened at once.
    pub(super) fn drop_link(&mut self, i: usize, peer: usize) {
        self.nodes[i].links.remove(&peer);
        let id = self.nodes[peer].id;
        let addr = self.on_node(i, false, |st, _, _, _| {
            let n = st.nodes.get_mut(&id)?;
            n.link_up = false;
            Some(has_address(n.flags, &n.ip, n.cport))
        });
        if addr == Some(true) {
            self.open_link(i, peer);
        }
    }

    /// Our side of a link closed by the peer or a failed connect
    /// (`remove_link`).
    pub(super) fn lose_link(&mut self, i: usize, peer: usize) {
        if self.nodes[i].links.remove(&peer).is_none() || !self.nodes[i].alive() {
            return;
        }
        let id = self.nodes[peer].id;
        self.on_node(i, false, |st, _, _, _| {
            if let Some(n) = st.nodes.get_mut(&id) {
                n.link_up = false;
            }
        });
    }

    /// `control::connect`: refused by a dead peer, timed out across a
    /// partition, else up and greeted with PING.
    fn connect(&mut self, owner: usize, peer: usize, serial: u64) {
        if self.nodes[owner]
            .links
            .get(&peer)
            .is_none_or(|l| l.serial != serial)
        {
            return;
        }
        if self.nodes[owner].paused(self.now) {
            let at = self.nodes[owner].paused_until;
            self.push(
                at,
                Event::Connect {
                    owner,
                    peer,
                    serial,
                },
            );
            return;
        }
        let id = self.nodes[peer].id;
        if !self.nodes[peer].alive() || self.partitioned(owner, peer) {
            // As Redis: count the PING this link would have sent.
            self.on_node(owner, false, |st, _, _, now| {
                if let Some(n) = st.nodes.get_mut(&id) {
                    if n.ping_sent == 0 {
                        n.ping_sent = now;
                    }
                }
            });
            self.lose_link(owner, peer);
            return;
        }
        self.nodes[owner]
            .links
            .get_mut(&peer)
            .expect("checked")
            .connected = true;
        let greeting = self.on_node(owner, false, |st, s, rng, now| {
            tick::greeting(st, s, &id, now, &mut || rng.next_u64())
        });
        if let Some(g) = greeting {
            let wire = Wire {
                owner,
                peer,
                serial,
                to_owner: false,
            };
            self.send(wire, &g);
        }
    }

    /// `Bus::ping`.
    fn ping(&mut self, i: usize, id: &NodeId) {
        let id = *id;
        let msg = self.on_node(i, false, |st, s, rng, now| {
            let n = st.nodes.get_mut(&id)?;
            if n.ping_sent == 0 {
                n.ping_sent = now;
            }
            Some(gossip::ping(st, s, flags::TYPE_PING, &mut || {
                rng.next_u64()
            }))
        });
        if let Some(m) = msg {
            self.send_to(i, &id, &m);
        }
    }

    // ---- the cron ----

    /// `control::cron`, one iteration.
    fn tick(&mut self, i: usize, life: u64) {
        if self.nodes[i].life != life || !self.nodes[i].alive() {
            return;
        }
        if self.nodes[i].paused(self.now) {
            let at = self.nodes[i].paused_until;
            self.push(at, Event::Tick { node: i, life });
            return;
        }
        let next = self.now + 100 + self.rng.below(3);
        self.push(next, Event::Tick { node: i, life });
        self.nodes[i].iteration += 1;
        let iteration = self.nodes[i].iteration;
        let nt = self.opts.node_timeout.max(1);
        let master_offset = self.reachable_master_offset(i);
        let now = self.now;
        let repl = self.nodes[i].repl_view(now, master_offset);
        let settled = self.nodes[i].writes_paused_until > now;
        let (peers, broadcast, elections, manual) = self.on_node(i, false, |st, s, rng, now| {
            tick_state(st, s, repl, settled, now, &mut || rng.next_u64())
        });
        self.apply(i, elections, None);
        // follow_manual_failover
        self.nodes[i].writes_paused_until = manual.pause_until.unwrap_or(0);
        if let Some(id) = manual.ping {
            self.ping(i, &id);
        }
        // maintain_links
        let known: BTreeSet<usize> = peers.iter().filter_map(|p| self.idx(&p.id)).collect();
        self.nodes[i].links.retain(|p, _| known.contains(p));
        for p in &peers {
            let Some(pi) = self.idx(&p.id) else {
                continue;
            };
            if has_address(p.flags, &p.ip, p.cport) && !self.nodes[i].links.contains_key(&pi) {
                self.open_link(i, pi);
            }
        }
        let ages: BTreeMap<NodeId, u64> = self.nodes[i]
            .links
            .iter()
            .map(|(p, l)| (self.nodes[*p].id, now.saturating_sub(l.created)))
            .collect();
        let link_age = |id: &NodeId| ages.get(id).copied().unwrap_or(0);
        let rng = &mut self.rng;
        let (to_ping, to_reset) = choose_pings(&peers, iteration, nt, now, &link_age, &mut || {
            rng.next_u64()
        });
        for id in to_reset {
            if let Some(p) = self.idx(&id) {
                self.log(format!("n{i} resets its link to n{p}"));
                self.drop_link(i, p);
            }
        }
        for id in to_ping {
            self.ping(i, &id);
        }
        if broadcast {
            let msg = self.on_node(i, false, |st, s, rng, _| {
                gossip::ping(st, s, flags::TYPE_PONG, &mut || rng.next_u64())
            });
            self.broadcast(i, &msg);
        }
    }

    /// Engine model: a replica's replication link works when the node
    /// it follows is up, running and reachable; then its offset.
    fn reachable_master_offset(&self, i: usize) -> Option<u64> {
        let st = self.nodes[i].state();
        let master = st.me().master.filter(|_| st.me().is_replica())?;
        let m = self.idx(&master)?;
        let up = self.nodes[m].alive() && !self.nodes[m].paused(self.now);
        (up && !self.partitioned(i, m)).then_some(self.nodes[m].offset)
    }

    // ---- processes ----

    /// The process dies: its links close (peers see the connection
    /// reset), its state is gone; nodes.conf stays.
    pub(super) fn crash(&mut self, i: usize, down_ms: u64) {
        let node = &mut self.nodes[i];
        let Some(st) = node.st.take() else {
            return;
        };
        self.at_crash[i] = Some(st);
        node.life += 1;
        node.links.clear();
        node.paused_until = 0;
        node.synced_at = None;
        node.writes_paused_until = 0;
        for j in 0..self.nodes.len() {
            if j != i {
                self.lose_link(j, i);
            }
        }
        self.log(format!("n{i} CRASH for {down_ms} ms"));
        let at = self.now + down_ms;
        self.push(at, Event::Restart { node: i });
    }

    /// Starts again from nodes.conf (`Cluster::open`).
    fn restart(&mut self, i: usize) {
        let now = self.now;
        let node = &mut self.nodes[i];
        let mut st = match nodes_conf::parse(&node.conf, now) {
            Ok(st) => st,
            Err(e) => return self.fail(format!("n{i}: nodes.conf did not load: {e}")),
        };
        let s = &node.settings;
        st.update_state(now, s.require_full_coverage, s.node_timeout);
        node.conf = nodes_conf::render(&st, now);
        let before = self.at_crash[i].take().expect("crashed");
        let verdict = check::restart_keeps_identity(&before, &st);
        self.seen[i] = Epochs::of(&st);
        node.st = Some(st);
        node.iteration = 0;
        node.evaluated = (0, 0);
        let life = node.life;
        self.log(format!("n{i} RESTART"));
        if let Err(e) = verdict {
            self.fail(format!("n{i}: {e}"));
        }
        self.push(now + 100, Event::Tick { node: i, life });
    }

    fn handover_exit(&mut self, i: usize, life: u64, deadline: u64) {
        if self.nodes[i].life != life || !self.nodes[i].alive() {
            return;
        }
        let st = self.nodes[i].state();
        let still_mine = st.me().is_master() && st.me().slot_count() > 0;
        if still_mine && self.now < deadline {
            let at = self.now + 10;
            self.push(
                at,
                Event::HandoverExit {
                    node: i,
                    life,
                    deadline,
                },
            );
            return;
        }
        self.log(format!(
            "n{i} exits after its handover ({})",
            if still_mine { "timed out" } else { "done" }
        ));
        let down = self.rng.between(500, 3000);
        self.crash(i, down);
    }

    pub(super) fn views_converged(&self) -> Result<(), String> {
        if let Some(i) = self.nodes.iter().position(|n| !n.alive()) {
            return Err(format!("n{i} is down"));
        }
        if let Some(i) = self.nodes.iter().position(|n| n.paused(self.now)) {
            return Err(format!("n{i} is paused"));
        }
        if let Some(m) = &self.migration {
            return Err(format!("slot {} is still being moved", m.slot));
        }
        let views: Vec<&ClusterState> = self.nodes.iter().map(|n| n.state()).collect();
        check::converged(&views, &self.doubtful())
    }

    /// Slots whose last move Redis does not guarantee (`Moved::guarded`).
    fn doubtful(&self) -> BTreeSet<u16> {
        self.moved
            .iter()
            .filter(|m| !m.guarded)
            .map(|m| m.slot)
            .collect()
    }

    /// After convergence: what the slot migrations must have left.
    pub(super) fn moves_settled(&self) -> Result<(), String> {
        let views: Vec<&ClusterState> = self.nodes.iter().map(|n| n.state()).collect();
        let moved: Vec<_> = self
            .moved
            .iter()
            .filter(|m| m.guarded)
            .map(|m| (m.slot, self.nodes[m.target].id, m.epoch))
            .collect();
        check::after_moves(&views, &moved, &self.doubtful())
    }

    pub(super) fn trace_hash(&self) -> u64 {
        self.trace.hash()
    }

    pub(super) fn trace_tail(&self) -> Vec<String> {
        self.trace.tail()
    }
}
