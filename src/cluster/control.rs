//! The cluster bus on its own executor (the control executor): listens
//! on the bus port, keeps one outbound link per known node, answers on
//! inbound links, and runs Redis's 100 ms cluster cron (connects,
//! pings, handshake expiry, PFAIL, link timeouts).
//!
//! Each message received is applied to the state under the cluster lock
//! (`gossip::process`); nodes.conf is saved inside that same step, so
//! every reply or broadcast it produces leaves after the save.

use super::bus::{flags, frame_len, Body, Message, NodeId};
use super::bus_host::BusHost;
use super::gossip::{self, LinkInfo, Outgoing};
use super::links::Registration;
use super::pubsub_link::{BusEnds, BusPub, ToBus};
use super::tick::{choose_pings, has_address, tick_state, Peer};
use super::{Cluster, ClusterSettings};
use crate::sys::bind_addr::BindAddr;
use crate::sys::clock::unix_ms;
use crate::sys::ticker::with_ticker;
use futures::future::Either;
use futures::{AsyncReadExt, AsyncWriteExt};
use glommio::channels::local_channel::{self, LocalReceiver, LocalSender};
use glommio::channels::shared_channel::ConnectedSender;
use glommio::net::{TcpListener, TcpStream};
use glommio::{LocalExecutorBuilder, Placement};
use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// What a link task writes, queued by whoever sends on the link, with
/// the count of bytes queued and not yet written (CLUSTER LINKS,
/// `cluster-link-sendbuf-limit`).
struct LinkTx {
    send: LocalSender<Vec<u8>>,
    queued: Arc<AtomicUsize>,
}

impl LinkTx {
    fn push(&self, bytes: Vec<u8>) {
        let len = bytes.len();
        if self.send.try_send(bytes).is_ok() {
            self.queued.fetch_add(len, Ordering::Relaxed);
        }
    }
}

type Tx = Rc<LinkTx>;

/// An outbound link's side of `serve_link`: its node name, its queue,
/// its entry in the link table.
type Outbound = (Rc<Cell<NodeId>>, LocalReceiver<Vec<u8>>, Tx, Registration);

/// Our outbound link to one node, from the connect on (Redis's
/// `node->link`). It owns the link's CLUSTER LINKS entry: dropping it
/// (a reconnect, a rename onto its node, a forgotten node) closes the
/// entry and so the connection, which is what keeps one link per node.
struct OutLink {
    /// A sink that drops messages until the connection is up.
    send: Tx,
    created: u64,
    serial: u64,
    /// The node's name as the link task knows it (a handshake node is
    /// renamed when its first PONG arrives).
    id: Rc<Cell<NodeId>>,
    key: u64,
    cluster: Arc<Cluster>,
}

impl Drop for OutLink {
    fn drop(&mut self) {
        self.cluster.links.close(self.key);
    }
}

struct Bus {
    cluster: Arc<Cluster>,
    /// Per shard: where bus PUBLISH messages go for local subscribers.
    to_shards: RefCell<Vec<Rc<ConnectedSender<BusPub>>>>,
    links: RefCell<HashMap<NodeId, OutLink>>,
    next_serial: Cell<u64>,
    rng: Cell<u64>,
    host: Arc<dyn BusHost>,
    /// Client writes are paused for a replica's manual failover.
    paused_for_failover: Cell<bool>,
}

impl Bus {
    fn random(&self) -> u64 {
        crate::sys::random::xorshift(&self.rng)
    }

    fn encode(&self, msg: &Message) -> Vec<u8> {
        self.cluster.count_sent(msg.type_code());
        msg.to_bytes()
    }

    fn send_to(&self, id: &NodeId, msg: &Message) {
        let bytes = self.encode(msg);
        if let Some(l) = self.links.borrow().get(id) {
            l.send.push(bytes);
        }
    }

    fn broadcast(&self, msg: &Message) {
        let links: Vec<NodeId> = self.links.borrow().keys().copied().collect();
        for id in links {
            self.send_to(&id, msg);
        }
    }

    /// Closes our link to `id` and, while the node has an address,
    /// opens its replacement at once: a reconnect replaces the link,
    /// with no moment of two links, nor of none until the next cron.
    fn drop_link(self: &Rc<Self>, id: &NodeId) {
        self.links.borrow_mut().remove(id);
        let addr = self.cluster.with(|st| {
            let n = st.nodes.get_mut(id)?;
            n.link_up = false;
            has_address(n.flags, &n.ip, n.cport).then(|| (n.ip.clone(), n.cport))
        });
        if let Some(addr) = addr {
            self.open_link(*id, addr, unix_ms());
        }
    }

    /// DEBUG CLUSTERLINK KILL: the links go at once, as Redis's
    /// freeClusterLink; the cron opens our link again
    /// (`maintain_links`), the peer its own.
    fn kill_link(&self, id: &NodeId, outbound: bool, inbound: bool) {
        if outbound {
            self.links.borrow_mut().remove(id);
        }
        if inbound {
            self.cluster.links.close_inbound(id);
        }
    }

    /// Registers our link to `id` (listed from now on, as Redis lists a
    /// link from its creation) and connects it in the background.
    fn open_link(self: &Rc<Self>, id: NodeId, addr: (String, u16), now: u64) {
        let serial = self.next_serial.get();
        self.next_serial.set(serial + 1);
        let reg = self.cluster.links.open(false, Some(id), now);
        let (placeholder, _) = local_channel::new_unbounded();
        let id_cell = Rc::new(Cell::new(id));
        self.links.borrow_mut().insert(
            id,
            OutLink {
                send: Rc::new(LinkTx {
                    send: placeholder,
                    queued: reg.queued.clone(),
                }),
                created: now,
                serial,
                id: id_cell.clone(),
                key: reg.key,
                cluster: self.cluster.clone(),
            },
        );
        let timeout = Duration::from_millis(self.cluster.settings().node_timeout.max(1));
        crate::sys::exec::spawn(connect(self.clone(), id_cell, reg, addr, serial, timeout))
            .detach();
    }

    /// A PUBLISH from the bus, to every shard's subscribers.
    fn deliver(&self, channel: Vec<u8>, message: Vec<u8>, sharded: bool) {
        for tx in self.to_shards.borrow().iter() {
            let p = BusPub {
                channel: channel.clone(),
                message: message.clone(),
                sharded,
            };
            if let Err(glommio::GlommioError::WouldBlock(glommio::ResourceType::Channel(p))) =
                tx.try_send(p)
            {
                // Full: wait for room rather than drop the message.
                let tx = tx.clone();
                crate::sys::exec::spawn(async move {
                    let _ = tx.send(p).await;
                })
                .detach();
            }
        }
    }

    /// A message this node's clients published, to the other nodes:
    /// PUBLISH to all, SPUBLISH to the nodes serving this shard.
    fn publish(&self, p: BusPub) {
        let settings = self.cluster.settings();
        let (msg, targets) = self.cluster.read(|st| {
            let header = gossip::header(st, &settings);
            let body = if p.sharded {
                Body::PublishShard {
                    channel: p.channel,
                    message: p.message,
                }
            } else {
                Body::Publish {
                    channel: p.channel,
                    message: p.message,
                }
            };
            let targets: Option<Vec<NodeId>> = p.sharded.then(|| {
                let me = st.me();
                let master = if me.is_replica() {
                    me.master.unwrap_or(st.myself)
                } else {
                    st.myself
                };
                std::iter::once(master)
                    .chain(st.replicas_of(&master).iter().map(|n| n.id))
                    .filter(|id| *id != st.myself)
                    .collect()
            });
            (Message { header, body }, targets)
        });
        match targets {
            None => self.broadcast(&msg),
            Some(ids) => {
                for id in ids {
                    self.send_to(&id, &msg);
                }
            }
        }
    }

    /// PINGs node `id` (noting when, unless a ping is already pending).
    fn ping(&self, id: &NodeId, settings: &super::ClusterSettings, now: u64) {
        let msg = self.cluster.with(|st| {
            let n = st.nodes.get_mut(id)?;
            if n.ping_sent == 0 {
                n.ping_sent = now;
            }
            Some(gossip::ping(st, settings, flags::TYPE_PING, &mut || {
                self.random()
            }))
        });
        if let Some(m) = msg {
            self.send_to(id, &m);
        }
    }

    /// Carries out what processing a message asked for.
    fn apply(self: &Rc<Self>, outs: Vec<Outgoing>, reply: Option<&Tx>) {
        for o in outs {
            match o {
                Outgoing::Reply(m) => {
                    if let Some(r) = reply {
                        r.push(self.encode(&m));
                    }
                }
                Outgoing::To(id, m) => self.send_to(&id, &m),
                Outgoing::Broadcast(m) => self.broadcast(&m),
                Outgoing::DropLink(id) => self.drop_link(&id),
                Outgoing::Renamed(from, to) => {
                    let mut links = self.links.borrow_mut();
                    if let Some(l) = links.remove(&from) {
                        l.id.set(to);
                        // Replaces (and so closes) any other link to `to`.
                        links.insert(to, l);
                    }
                    self.cluster.links.rename(&from, to);
                }
                Outgoing::FlushSlots(slots) => self.cluster.queue_slot_flush(slots),
                Outgoing::PauseWrites(until) => {
                    // At once: the next cron tick finds it settled.
                    self.host.pause_writes(until);
                    self.paused_for_failover.set(true);
                }
                Outgoing::Deliver {
                    channel,
                    message,
                    sharded,
                } => self.deliver(channel, message, sharded),
            }
        }
    }
}

/// Binds the bus port and starts the control executor. Returns once the
/// listeners are up (or failed to bind: the start-up error).
pub fn start(
    host: Arc<dyn BusHost>,
    cluster: Arc<Cluster>,
    binds: Vec<BindAddr>,
    backlog: i32,
    ends: BusEnds,
) -> Result<(), String> {
    let (ready_tx, ready_rx) = std::sync::mpsc::channel::<Result<(), String>>();
    let placement = match crate::sys::cpus::control_cpus().first() {
        Some(&cpu) => Placement::Fixed(cpu),
        None => Placement::Unbound,
    };
    LocalExecutorBuilder::new(placement)
        .name("cluster-bus")
        .io_memory(crate::sys::memlock::IO_MEMORY)
        .ring_depth(crate::sys::memlock::ring_depth())
        .spawn(move || async move {
            let mut listeners = Vec::new();
            for b in &binds {
                // As Redis's bus listener: SO_REUSEADDR, `tcp-backlog`.
                match crate::sys::socket::listening(b.addr, backlog, false) {
                    Ok(fd) => listeners.push(crate::sys::socket::tcp_listener(fd)),
                    Err(e) if b.optional => {
                        crate::verbose!("Skipping optional cluster bus address {}: {e}", b.text);
                    }
                    Err(e) => {
                        let _ = ready_tx.send(Err(format!(
                            "Could not bind the cluster bus on {}:{}: {e}",
                            b.text,
                            b.addr.port()
                        )));
                        return;
                    }
                }
            }
            let _ = ready_tx.send(Ok(()));
            let bus = Rc::new(Bus {
                cluster,
                to_shards: RefCell::new(Vec::new()),
                links: RefCell::new(HashMap::new()),
                next_serial: Cell::new(1),
                rng: Cell::new(unix_ms() | 1),
                host: host.clone(),
                paused_for_failover: Cell::new(false),
            });
            for l in listeners {
                crate::sys::exec::spawn(accept_loop(bus.clone(), l)).detach();
            }
            let BusEnds {
                to_shards,
                from_shards,
            } = ends;
            for tx in to_shards {
                let bus = bus.clone();
                crate::sys::exec::spawn(async move {
                    let tx = Rc::new(with_ticker(tx.connect()).await);
                    bus.to_shards.borrow_mut().push(tx);
                })
                .detach();
            }
            for rx in from_shards {
                let bus = bus.clone();
                crate::sys::exec::spawn(async move {
                    let rx = with_ticker(rx.connect()).await;
                    while let Some(m) = rx.recv().await {
                        match m {
                            ToBus::Publish(p) => bus.publish(p),
                            ToBus::KillLink {
                                node,
                                outbound,
                                inbound,
                            } => bus.kill_link(&node, outbound, inbound),
                        }
                    }
                })
                .detach();
            }
            cron(bus, host).await;
        })
        .map_err(|e| crate::sys::memlock::explain_executor_error(&e.to_string()))?;
    match ready_rx.recv() {
        Ok(r) => r,
        Err(_) => Err("the cluster bus executor stopped during start-up".into()),
    }
}

async fn accept_loop(bus: Rc<Bus>, listener: TcpListener) {
    loop {
        match listener.accept().await {
            Ok(stream) => {
                let _ = stream.set_nodelay(true);
                crate::sys::exec::spawn(serve_link(bus.clone(), stream, None)).detach();
            }
            Err(e) => {
                crate::warning!("Accepting cluster node: {e}");
                glommio::timer::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

/// Reads and applies messages on one link; writes what is queued for
/// it. `outbound`: our link to that node (None: a link a peer opened).
async fn serve_link(bus: Rc<Bus>, stream: TcpStream, outbound: Option<Outbound>) {
    let peer_ip = stream
        .peer_addr()
        .map(|a| a.ip().to_string())
        .unwrap_or_default();
    let local_ip = stream
        .local_addr()
        .map(|a| a.ip().to_string())
        .unwrap_or_default();
    let (mut reader, mut writer) = stream.split();
    let (id_cell, rx, reply_tx, registration) = match outbound {
        Some((id, rx, tx, reg)) => (Some(id), rx, tx, reg),
        None => {
            let reg = bus.cluster.links.open(true, None, unix_ms());
            let (send, rx) = local_channel::new_unbounded();
            let tx = Rc::new(LinkTx {
                send,
                queued: reg.queued.clone(),
            });
            (None, rx, tx, reg)
        }
    };
    let Registration {
        key: link_key,
        queued,
        closed,
    } = registration;
    let inbound = id_cell.is_none();
    let write = async move {
        while let Some(buf) = rx.recv().await {
            if writer.write_all(&buf).await.is_err() {
                break;
            }
            queued.fetch_sub(buf.len(), Ordering::Relaxed);
        }
    };
    let bus2 = bus.clone();
    let read = async move {
        let mut buf: Vec<u8> = Vec::with_capacity(8192);
        let mut chunk = vec![0u8; 16 * 1024];
        loop {
            let n = match reader.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => n,
            };
            buf.extend_from_slice(&chunk[..n]);
            loop {
                let len = match frame_len(&buf) {
                    Ok(Some(len)) => len,
                    Ok(None) => break,
                    Err(e) => {
                        crate::verbose!("Closing cluster link: {e}");
                        return;
                    }
                };
                if buf.len() < len {
                    break;
                }
                let frame: Vec<u8> = buf.drain(..len).collect();
                let msg = match Message::decode(&frame) {
                    Ok(m) => m,
                    Err(e) => {
                        crate::warning!("Ignoring an invalid cluster bus message: {e}");
                        if let Some(kind) = crate::cluster::bus::frame_type(&frame) {
                            bus2.cluster.with(|st| st.count_received(kind));
                        }
                        continue;
                    }
                };
                let link = LinkInfo {
                    outbound_to: id_cell.as_ref().map(|c| c.get()),
                    peer_ip: peer_ip.clone(),
                    local_ip: local_ip.clone(),
                };
                let settings = bus2.cluster.settings();
                let now = unix_ms();
                let sender = msg.header.sender;
                let (outs, sender_known) = bus2.cluster.with(|st| {
                    let outs =
                        gossip::process(st, &settings, &link, msg, now, &mut || bus2.random());
                    (outs, st.nodes.contains_key(&sender))
                });
                if inbound && sender_known {
                    bus2.cluster.links.learn_node(link_key, sender);
                }
                bus2.apply(outs, Some(&reply_tx));
            }
        }
    };
    futures::pin_mut!(read, write);
    // Whichever ends first closes the link: the peer, a write error, or
    // the send-buffer limit.
    let io = futures::future::select(read, write);
    futures::future::select(io, closed).await;
    bus.cluster.links.close(link_key);
}

/// Connects our outbound link to the node named by `id_cell` and greets
/// it with MEET (a node we were told to meet) or PING. Gives up as soon
/// as the link is dropped.
async fn connect(
    bus: Rc<Bus>,
    id_cell: Rc<Cell<NodeId>>,
    mut reg: Registration,
    (ip, cport): (String, u16),
    serial: u64,
    timeout: Duration,
) {
    let attempt = crate::sys::connect::connect_host(&ip, cport, timeout);
    futures::pin_mut!(attempt);
    let stream = match futures::future::select(attempt, &mut reg.closed).await {
        Either::Left((Ok(s), _)) => s,
        Either::Left((Err(e), _)) => {
            crate::verbose!(
                "Connecting with Node {} at {ip}:{cport}: {e}",
                id_cell.get().as_str()
            );
            // As Redis: count the PING this link would have sent as sent,
            // or a node that refuses connections is never found failing.
            let current = id_cell.get();
            bus.cluster.with(|st| {
                if let Some(n) = st.nodes.get_mut(&current) {
                    if n.ping_sent == 0 {
                        n.ping_sent = unix_ms();
                    }
                }
            });
            remove_link(&bus, &id_cell, serial);
            return;
        }
        // Dropped while connecting.
        Either::Right(_) => return,
    };
    let _ = stream.set_nodelay(true);
    let (send, rx) = local_channel::new_unbounded();
    let tx = Rc::new(LinkTx {
        send,
        queued: reg.queued.clone(),
    });
    match bus.links.borrow_mut().get_mut(&id_cell.get()) {
        Some(l) if l.serial == serial => l.send = tx.clone(),
        // Dropped (or replaced) meanwhile: its entry is closed already.
        _ => return,
    }
    let settings = bus.cluster.settings();
    let now = unix_ms();
    let current = id_cell.get();
    let greeting = bus
        .cluster
        .with(|st| super::tick::greeting(st, &settings, &current, now, &mut || bus.random()));
    let Some(greeting) = greeting else {
        remove_link(&bus, &id_cell, serial);
        return;
    };
    tx.push(bus.encode(&greeting));
    serve_link(bus.clone(), stream, Some((id_cell.clone(), rx, tx, reg))).await;
    remove_link(&bus, &id_cell, serial);
}

/// The link task ended: forget the link unless a newer one replaced it.
fn remove_link(bus: &Bus, id_cell: &Rc<Cell<NodeId>>, serial: u64) {
    let id = id_cell.get();
    let mut links = bus.links.borrow_mut();
    if links.get(&id).is_some_and(|l| l.serial == serial) {
        links.remove(&id);
        drop(links);
        bus.cluster.with(|st| {
            if let Some(n) = st.nodes.get_mut(&id) {
                n.link_up = false;
            }
        });
    }
}

/// Redis's `clusterCron`, every 100 ms.
async fn cron(bus: Rc<Bus>, host: Arc<dyn BusHost>) {
    let mut iteration: u64 = 0;
    loop {
        glommio::timer::sleep(Duration::from_millis(100)).await;
        if host.shutting_down() {
            return;
        }
        iteration += 1;
        let settings = bus.cluster.settings();
        bus.cluster.links.enforce_limit(settings.link_sendbuf_limit);
        let nt = settings.node_timeout.max(1);
        let now = unix_ms();
        // Read before the offset: settled means no client write can
        // have moved it since (server/pause.rs).
        let settled = host.writes_settled();
        let mut repl = super::failover::ReplView::read(host.repl(), now);
        if !host.repl().replica.is_replica() {
            repl.offset = host.master_offset().max(0) as u64;
        }
        let (peers, broadcast, elections, manual) = bus
            .cluster
            .with(|st| tick_state(st, &settings, repl, settled, now, &mut || bus.random()));
        bus.apply(elections, None);
        follow_manual_failover(&bus, host.as_ref(), &manual, &settings, now);

        maintain_links(&bus, &peers, now);

        let link_age = |id: &NodeId| {
            bus.links
                .borrow()
                .get(id)
                .map_or(0, |l| now.saturating_sub(l.created))
        };
        let (to_ping, to_reset) =
            choose_pings(&peers, iteration, nt, now, &link_age, &mut || bus.random());
        // A link that answers nothing for half the timeout is reset.
        for id in to_reset {
            bus.drop_link(&id);
        }
        for id in to_ping {
            bus.ping(&id, &settings, now);
        }
        if broadcast {
            let msg = bus
                .cluster
                .with(|st| gossip::ping(st, &settings, flags::TYPE_PONG, &mut || bus.random()));
            bus.broadcast(&msg);
        }
    }
}

/// A manual failover's master side: client writes paused while it runs,
/// resumed when it is over; a PING to the replica when asked.
fn follow_manual_failover(
    bus: &Bus,
    host: &dyn BusHost,
    manual: &super::failover::MasterManual,
    settings: &ClusterSettings,
    now: u64,
) {
    match manual.pause_until {
        Some(until) => {
            host.pause_writes(until);
            bus.paused_for_failover.set(true);
        }
        None if bus.paused_for_failover.get() => {
            host.unpause_writes();
            bus.paused_for_failover.set(false);
            crate::warning!("Manual failover over: client writes resumed.");
        }
        None => {}
    }
    if let Some(id) = manual.ping {
        bus.ping(&id, settings, now);
    }
}

/// Links of nodes gone are dropped (`clusterDelNode` frees them); nodes
/// with an address and no link get one.
fn maintain_links(bus: &Rc<Bus>, peers: &[Peer], now: u64) {
    // The links of nodes deleted since (`clusterDelNode` frees them).
    bus.links
        .borrow_mut()
        .retain(|id, _| peers.iter().any(|p| p.id == *id));
    bus.cluster
        .links
        .close_unknown(|id| peers.iter().any(|p| p.id == *id));

    // Links to nodes that have none.
    for p in peers {
        if has_address(p.flags, &p.ip, p.cport) && !bus.links.borrow().contains_key(&p.id) {
            bus.open_link(p.id, (p.ip.clone(), p.cport), now);
        }
    }
}
