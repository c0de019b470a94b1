//! The routing snapshot every shard reads on the request path: slot →
//! owner, open slots, cluster state. Built from the cluster state after
//! each change and swapped in whole, so the redirect check takes no lock
//! and makes no cross-core hop (Redis's `getNodeByQuery`).

use super::bus::NodeId;
use super::state::ClusterState;
use crate::slot::SLOTS;
use std::collections::HashMap;

const NONE: u16 = u16::MAX;

/// Where a client is sent: MOVED/ASK use `endpoint:port`.
#[derive(Clone, Debug)]
pub struct Endpoint {
    pub id: NodeId,
    pub endpoint: String,
    pub port: u16,
}

pub struct Routing {
    owner: Vec<u16>,
    nodes: Vec<Endpoint>,
    me: u16,
    /// My master's index when I am a replica.
    my_master: u16,
    migrating: HashMap<u16, u16>,
    importing: HashMap<u16, u16>,
    ok: bool,
    allow_reads_when_down: bool,
}

/// What the redirect check decided for a command's keys.
#[derive(Debug, PartialEq, Eq)]
pub enum Route {
    /// Serve it here.
    Local,
    /// Answer this error instead (no leading `-`).
    Refuse(String),
    /// The slot is open here: whether to serve, ASK or TRYAGAIN depends
    /// on which of the keys exist, known only on the owning shard.
    Open(OpenSlot),
}

#[derive(Debug, PartialEq, Eq, Clone)]
pub struct OpenSlot {
    pub slot: u16,
    /// Migrating away: where ASK points. None: importing with ASKING.
    pub ask: Option<String>,
    pub multiple_keys: bool,
}

/// A connection's cluster flags.
#[derive(Clone, Copy, Default, Debug)]
pub struct ClientFlags {
    /// ASKING: lasts for the next command (until EXEC inside MULTI).
    pub asking: bool,
    /// READONLY: reads of my master's slots are served here.
    pub readonly: bool,
}

/// The client side of the check.
#[derive(Clone, Copy, Default)]
pub struct Asker {
    pub asking: bool,
    pub readonly: bool,
    pub write: bool,
    /// The command implies ASKING (RESTORE-ASKING).
    pub implies_asking: bool,
    /// The command runs locally on an open slot (MIGRATE).
    pub runs_on_open_slot: bool,
}

pub const CROSSSLOT: &str = "CROSSSLOT Keys in request don't hash to the same slot";
pub const UNBOUND: &str = "CLUSTERDOWN Hash slot not served";
pub const DOWN: &str = "CLUSTERDOWN The cluster is down";
pub const DOWN_RO: &str = "CLUSTERDOWN The cluster is down and only accepts read commands";
pub const TRYAGAIN: &str = "TRYAGAIN Multiple keys request during rehashing of slot";

impl Routing {
    pub fn build(
        st: &ClusterState,
        preferred_hostname: bool,
        allow_reads_when_down: bool,
    ) -> Routing {
        let mut index: HashMap<NodeId, u16> = HashMap::new();
        let mut nodes = Vec::new();
        let mut ids: Vec<&NodeId> = st.nodes.keys().collect();
        ids.sort();
        for id in ids {
            let n = &st.nodes[id];
            index.insert(*id, nodes.len() as u16);
            let endpoint = if preferred_hostname {
                if n.hostname.is_empty() {
                    "?".to_string()
                } else {
                    n.hostname.clone()
                }
            } else {
                n.ip.clone()
            };
            nodes.push(Endpoint {
                id: *id,
                endpoint,
                port: n.port,
            });
        }
        let idx = |id: &NodeId| index.get(id).copied().unwrap_or(NONE);
        let me = st.me();
        // Owners come in long runs: look each run's owner up once.
        let mut last: Option<(NodeId, u16)> = None;
        let owner = st
            .slots
            .iter()
            .map(|o| match (o, last) {
                (None, _) => NONE,
                (Some(id), Some((prev, i))) if *id == prev => i,
                (Some(id), _) => {
                    let i = idx(id);
                    last = Some((*id, i));
                    i
                }
            })
            .collect();
        Routing {
            owner,
            me: idx(&st.myself),
            my_master: match (me.is_replica(), me.master) {
                (true, Some(m)) => idx(&m),
                _ => NONE,
            },
            migrating: st.migrating.iter().map(|(s, n)| (*s, idx(n))).collect(),
            importing: st.importing.iter().map(|(s, n)| (*s, idx(n))).collect(),
            ok: st.ok,
            allow_reads_when_down,
            nodes,
        }
    }

    fn addr(&self, i: u16) -> String {
        let n = &self.nodes[i as usize];
        format!("{}:{}", n.endpoint, n.port)
    }

    /// The owner of `slot`, as MOVED would name it.
    pub fn moved(&self, slot: u16) -> Option<String> {
        let o = self.owner[slot as usize];
        (o != NONE).then(|| format!("MOVED {slot} {}", self.addr(o)))
    }

    /// Redis's `clusterRedirectBlockedClientIfNeeded`: the error that
    /// unblocks a client waiting on a key of `slot`, if the slot is no
    /// longer served here. A down cluster unblocks every waiter (even with
    /// reads allowed: only a write could serve it). The READONLY exception
    /// is left out: every blocking command is a write.
    pub fn blocked_redirect(&self, slot: u16) -> Option<String> {
        if !self.ok {
            return Some(DOWN.into());
        }
        let owner = self.owner[slot as usize];
        if owner == self.me || self.importing.contains_key(&slot) {
            return None;
        }
        Some(match owner {
            NONE => UNBOUND.into(),
            o => format!("MOVED {slot} {}", self.addr(o)),
        })
    }

    /// Decides for a command whose key slots are `slots` (empty: no keys,
    /// never redirected).
    pub fn check(&self, slots: impl IntoIterator<Item = u16>, who: Asker) -> Route {
        let mut iter = slots.into_iter();
        let Some(slot) = iter.next() else {
            return Route::Local;
        };
        let mut multiple_keys = false;
        for s in iter {
            if s != slot {
                return Route::Refuse(CROSSSLOT.into());
            }
            multiple_keys = true;
        }
        let owner = self.owner[slot as usize];
        if owner == NONE {
            return Route::Refuse(UNBOUND.into());
        }
        if !self.ok {
            if !self.allow_reads_when_down {
                return Route::Refuse(DOWN.into());
            }
            if who.write {
                return Route::Refuse(DOWN_RO.into());
            }
        }
        let migrating = (owner == self.me)
            .then(|| self.migrating.get(&slot))
            .flatten();
        let importing = self.importing.contains_key(&slot);
        if (migrating.is_some() || importing) && who.runs_on_open_slot {
            return Route::Local;
        }
        if let Some(&to) = migrating {
            return Route::Open(OpenSlot {
                slot,
                ask: Some(format!("ASK {slot} {}", self.addr(to))),
                multiple_keys,
            });
        }
        if importing && (who.asking || who.implies_asking) {
            return if multiple_keys {
                Route::Open(OpenSlot {
                    slot,
                    ask: None,
                    multiple_keys,
                })
            } else {
                Route::Local
            };
        }
        if who.readonly && !who.write && self.my_master == owner && owner != NONE {
            return Route::Local;
        }
        if owner != self.me {
            return Route::Refuse(format!("MOVED {slot} {}", self.addr(owner)));
        }
        Route::Local
    }
}

impl OpenSlot {
    /// The decision once we know how many of the keys exist here.
    pub fn decide(&self, existing: usize, total: usize) -> Result<(), String> {
        let missing = existing < total;
        match &self.ask {
            Some(ask) if missing => Err(if existing > 0 {
                TRYAGAIN.into()
            } else {
                ask.clone()
            }),
            None if self.multiple_keys && missing => Err(TRYAGAIN.into()),
            _ => Ok(()),
        }
    }
}

/// The snapshot for a node with no slots known (also standalone mode's
/// unused default).
pub fn empty() -> Routing {
    Routing {
        owner: vec![NONE; SLOTS],
        nodes: Vec::new(),
        me: NONE,
        my_master: NONE,
        migrating: HashMap::new(),
        importing: HashMap::new(),
        ok: false,
        allow_reads_when_down: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::bus::flags;
    use crate::cluster::node::Node;

    fn two_nodes() -> ClusterState {
        let a = NodeId([b'a'; 40]);
        let b = NodeId([b'b'; 40]);
        let mut st = ClusterState::fresh(a, 0);
        st.me_mut().ip = "127.0.0.1".into();
        st.me_mut().port = 7000;
        let mut nb = Node::new(b, flags::MASTER, 0);
        nb.ip = "127.0.0.1".into();
        nb.port = 7001;
        st.add_node(nb);
        for s in 0..8192 {
            st.set_slot(s, Some(a));
        }
        for s in 8192..16384 {
            st.set_slot(s, Some(b));
        }
        st.ok = true;
        st
    }

    #[test]
    fn redirects_as_redis() {
        let mut st = two_nodes();
        let r = Routing::build(&st, false, false);
        let w = Asker::default();
        assert_eq!(r.check([], w), Route::Local);
        assert_eq!(r.check([5], w), Route::Local);
        assert_eq!(r.check([5, 6], w), Route::Refuse(CROSSSLOT.into()));
        assert_eq!(
            r.check([12182], w),
            Route::Refuse("MOVED 12182 127.0.0.1:7001".into())
        );
        st.set_slot(100, None);
        let r = Routing::build(&st, false, false);
        assert_eq!(r.check([100], w), Route::Refuse(UNBOUND.into()));
        st.ok = false;
        let r = Routing::build(&st, false, true);
        let write = Asker { write: true, ..w };
        assert_eq!(r.check([5], write), Route::Refuse(DOWN_RO.into()));
        assert_eq!(r.check([5], w), Route::Local);
    }

    #[test]
    fn blocked_clients_redirect_as_redis() {
        let mut st = two_nodes();
        let b = NodeId([b'b'; 40]);
        st.migrating.insert(5, b);
        st.importing.insert(9000, b);
        let r = Routing::build(&st, false, false);
        assert_eq!(r.blocked_redirect(5), None);
        assert_eq!(r.blocked_redirect(9000), None);
        assert_eq!(
            r.blocked_redirect(9001).as_deref(),
            Some("MOVED 9001 127.0.0.1:7001")
        );
        st.set_slot(100, None);
        let r = Routing::build(&st, false, true);
        assert_eq!(r.blocked_redirect(100).as_deref(), Some(UNBOUND));
        st.ok = false;
        let r = Routing::build(&st, false, true);
        assert_eq!(r.blocked_redirect(5).as_deref(), Some(DOWN));
    }

    #[test]
    fn open_slots() {
        let mut st = two_nodes();
        let b = NodeId([b'b'; 40]);
        st.migrating.insert(5, b);
        st.importing.insert(9000, b);
        let r = Routing::build(&st, false, false);
        let w = Asker::default();
        let Route::Open(open) = r.check([5, 5], w) else {
            panic!()
        };
        assert_eq!(open.decide(2, 2), Ok(()));
        assert_eq!(open.decide(1, 2), Err(TRYAGAIN.into()));
        assert_eq!(open.decide(0, 2), Err("ASK 5 127.0.0.1:7001".into()));
        assert_eq!(
            r.check([9000], w),
            Route::Refuse("MOVED 9000 127.0.0.1:7001".into())
        );
        let asking = Asker { asking: true, ..w };
        assert_eq!(r.check([9000], asking), Route::Local);
        let Route::Open(open) = r.check([9000, 9000], asking) else {
            panic!()
        };
        assert_eq!(open.decide(1, 2), Err(TRYAGAIN.into()));
    }
}
