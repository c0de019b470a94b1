//! The clients connected to one shard, for CLIENT LIST / INFO / KILL.
//! Each connection owns an `Rc<ClientInfo>`; the registry only holds
//! another reference, plus the switch that closes the connection.

use super::pubsub::Subscriber;
use futures::channel::oneshot;
use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::rc::Rc;

pub struct ClientInfo {
    pub id: u64,
    pub addr: String,
    pub laddr: String,
    /// Connected through the `unixsocket` (flag `U`).
    pub unix_socket: bool,
    pub fd: i32,
    pub created_ms: u64,
    pub last_interaction_ms: Cell<u64>,
    pub name: RefCell<Vec<u8>>,
    pub lib_name: RefCell<Vec<u8>>,
    pub lib_ver: RefCell<Vec<u8>>,
    pub db: Cell<usize>,
    pub resp: Cell<u8>,
    pub last_cmd: Cell<&'static str>,
    pub no_evict: Cell<bool>,
    pub no_touch: Cell<bool>,
    /// The arguments' bytes of the command running now (`argv-mem`; set
    /// by CLIENT LIST / INFO for their own line).
    pub argv_mem: Cell<usize>,
    /// Queued commands' argument bytes and pointers (`multi-mem`).
    pub multi_mem: Cell<usize>,
    /// MONITOR (flag `O`; monitor.rs).
    pub monitor: Cell<bool>,
    pub qbuf: Cell<usize>,
    pub authenticated: Cell<bool>,
    /// The ACL user (`user=`, CLIENT KILL USER, ACL DELUSER).
    pub user: RefCell<Vec<u8>>,
    /// Whether the user may read every key, as the ACL gate found for
    /// the last command that reads keys its data names (SORT's BY and
    /// GET patterns; acl/gate.rs).
    pub full_key_read: Cell<bool>,
    /// Set while a blocking command waits (flag `b`, CLIENT UNBLOCK).
    pub block: super::blocking::BlockState,
    /// Queued commands while in MULTI, else -1 (`multi=`, flag `x`).
    pub multi: Cell<i64>,
    /// Set when a WATCHed key changed (flag `d`); EXEC then fails.
    pub dirty_cas: std::sync::Arc<std::sync::atomic::AtomicBool>,
    /// Subscription counts (`sub=`, `psub=`, `ssub=`, flag `P`; pubsub.rs).
    pub pubsub: super::pubsub::Counts,
    /// CLIENT TRACKING mode (flags `t`, `R`, `B`, `redir=`; tracking.rs).
    pub tracking: super::tracking::TrackState,
    /// Replication: `Some("replica")` for a replica's connection,
    /// `Some("master")` for the link to our master (CLIENT LIST/KILL TYPE).
    pub repl_role: Cell<Option<&'static str>>,
    /// Buffer sizes for `tot-mem` and client eviction (client_mem.rs).
    pub mem: super::client_mem::MemCells,
}

impl ClientInfo {
    /// A client just created at `now_ms` (Unix ms): db 0, RESP2, no
    /// name, authenticated, not on a socket of its own (`fd` -1); a
    /// connection sets its socket fields and whether AUTH is needed.
    pub fn new(id: u64, addr: String, now_ms: u64) -> ClientInfo {
        ClientInfo {
            id,
            addr,
            laddr: String::new(),
            unix_socket: false,
            fd: -1,
            created_ms: now_ms,
            last_interaction_ms: Cell::new(now_ms),
            name: Default::default(),
            lib_name: Default::default(),
            lib_ver: Default::default(),
            db: Cell::new(0),
            resp: Cell::new(2),
            last_cmd: Cell::new("NULL"),
            no_evict: Cell::new(false),
            no_touch: Cell::new(false),
            monitor: Cell::new(false),
            argv_mem: Cell::new(0),
            multi_mem: Cell::new(0),
            qbuf: Cell::new(0),
            authenticated: Cell::new(true),
            user: RefCell::new(b"default".to_vec()),
            full_key_read: Cell::new(true),
            block: Default::default(),
            multi: Cell::new(-1),
            dirty_cas: Default::default(),
            pubsub: Default::default(),
            tracking: Default::default(),
            repl_role: Default::default(),
            mem: Default::default(),
        }
    }

    /// One `CLIENT LIST` line (without the trailing newline), fields in
    /// Redis 7.0's order. Buffer sizes are Shardis's own (it keeps no
    /// per-client reply list), reported in Redis's fields.
    pub fn describe(&self, now_ms: u64) -> String {
        let mut flags = String::new();
        let multi = self.multi.get();
        if self.monitor.get() {
            flags.push('O');
        }
        match self.repl_role.get() {
            Some("replica") => flags.push('S'),
            Some("master") => flags.push('M'),
            _ => {}
        }
        if self.pubsub.active() {
            flags.push('P');
        }
        if multi >= 0 {
            flags.push('x');
        }
        if self.block.is_blocked() {
            flags.push('b');
        }
        let tracking = &self.tracking;
        if tracking.on.get() {
            flags.push('t');
        }
        if tracking.broken.get() {
            flags.push('R');
        }
        if tracking.bcast.get() {
            flags.push('B');
        }
        if self.dirty_cas.load(std::sync::atomic::Ordering::Relaxed) {
            flags.push('d');
        }
        if self.unix_socket {
            flags.push('U');
        }
        if self.no_evict.get() {
            flags.push('e');
        }
        if flags.is_empty() {
            flags.push('N');
        }
        format!(
            "id={} addr={} laddr={} fd={} name={} age={} idle={} flags={} db={} sub={} psub={} ssub={} multi={} qbuf={} qbuf-free={} argv-mem={} multi-mem={} rbs={} rbp={} obl=0 oll=0 omem={} tot-mem={} events=r cmd={} user={} redir={} resp={}",
            self.id,
            self.addr,
            self.laddr,
            self.fd,
            String::from_utf8_lossy(&self.name.borrow()),
            now_ms.saturating_sub(self.created_ms) / 1000,
            now_ms.saturating_sub(self.last_interaction_ms.get()) / 1000,
            flags,
            self.db.get(),
            self.pubsub.sub.get(),
            self.pubsub.psub.get(),
            self.pubsub.ssub.get(),
            multi,
            // The real buffers, sized as Redis 7.0 sizes its own (the
            // shard's cron: client_mem.rs): the query buffer kept between
            // requests, and the reply buffer; `rbp` is how much of it the
            // batches filled lately.
            self.qbuf.get(),
            self.mem.qbuf_alloc.get().saturating_sub(self.qbuf.get()),
            self.argv_mem.get(),
            self.multi_mem.get(),
            self.mem.obuf_alloc.get(),
            self.mem.obuf_peak.get(),
            self.mem.unsent(),
            super::client_mem::usage(self),
            self.last_cmd.get(),
            String::from_utf8_lossy(&self.user.borrow()),
            if tracking.on.get() {
                tracking.redirect.get() as i64
            } else {
                -1
            },
            self.resp.get(),
        )
    }

    /// Redis's client type name: `pubsub` while subscribed, else
    /// `normal` (no replication yet).
    pub fn type_name(&self) -> &'static str {
        if let Some(role) = self.repl_role.get() {
            role
        } else if self.pubsub.active() {
            "pubsub"
        } else {
            "normal"
        }
    }
}

#[derive(Default)]
pub struct Clients {
    by_id: BTreeMap<u64, Entry>,
}

/// A client: its info, the switch that closes it, and its message queue
/// (Pub/Sub, tracking invalidations).
type Entry = (Rc<ClientInfo>, Option<oneshot::Sender<()>>, Rc<Subscriber>);

impl Clients {
    pub fn add(&mut self, sub: Rc<Subscriber>, kill: oneshot::Sender<()>) {
        self.by_id
            .insert(sub.info.id, (sub.info.clone(), Some(kill), sub));
    }

    pub fn remove(&mut self, id: u64) {
        self.by_id.remove(&id);
    }

    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }

    pub fn get(&self, id: u64) -> Option<&Rc<ClientInfo>> {
        self.by_id.get(&id).map(|(c, _, _)| c)
    }

    /// The clients, but those killed and not yet gone (Redis frees a
    /// killed client at once: CLIENT LIST right after the kill must not
    /// show it).
    pub fn iter(&self) -> impl Iterator<Item = &Rc<ClientInfo>> {
        self.by_id
            .values()
            .filter(|(_, switch, _)| switch.is_some())
            .map(|(c, _, _)| c)
    }

    /// The message queue of client `id`.
    pub fn subscriber(&self, id: u64) -> Option<Rc<Subscriber>> {
        self.by_id.get(&id).map(|(_, _, s)| s.clone())
    }

    pub fn subscribers(&self) -> impl Iterator<Item = &Rc<Subscriber>> {
        self.by_id.values().map(|(_, _, s)| s)
    }

    /// Closes the clients `pick` selects; returns how many.
    pub fn kill(&mut self, mut pick: impl FnMut(&ClientInfo) -> bool) -> usize {
        let mut n = 0;
        for (info, switch, _) in self.by_id.values_mut() {
            if pick(info) {
                if let Some(tx) = switch.take() {
                    let _ = tx.send(());
                    n += 1;
                }
            }
        }
        n
    }
}
