//! One node of the cluster as this node sees it (Redis's `clusterNode`).

use super::bus::flags;
use super::bus::{NodeId, SlotBitmap};

#[derive(Clone)]
pub struct Node {
    pub id: NodeId,
    /// Bits of `bus::flags` (MYSELF only on our own entry).
    pub flags: u16,
    /// Announced or learned address; empty until known.
    pub ip: String,
    pub port: u16,
    pub cport: u16,
    pub pport: u16,
    /// `cluster-announce-hostname` of that node, from its ping extension.
    pub hostname: String,
    /// The master's id when this node is a replica.
    pub master: Option<NodeId>,
    pub config_epoch: u64,
    /// Unix ms of the oldest unanswered PING we sent; 0 = none pending.
    pub ping_sent: u64,
    pub pong_received: u64,
    pub data_received: u64,
    pub fail_time: u64,
    /// When the entry was created (handshake nodes expire from it).
    pub ctime: u64,
    pub repl_offset: u64,
    /// (reporting master, when) for PFAIL/FAIL gossip about this node.
    pub fail_reports: Vec<(NodeId, u64)>,
    /// Whether our outbound bus link to it is up.
    pub link_up: bool,
    /// Slots this node serves in our view (masters only).
    pub slots: SlotBitmap,
    /// When we last voted for a replica of this master.
    pub voted_time: u64,
    /// Since when this master has had no OK replica (replica migration's
    /// delay); 0: not orphaned, or not looked at yet.
    pub orphaned_time: u64,
}

impl Node {
    pub fn new(id: NodeId, flags: u16, now: u64) -> Node {
        Node {
            id,
            flags,
            ip: String::new(),
            port: 0,
            cport: 0,
            pport: 0,
            hostname: String::new(),
            master: None,
            config_epoch: 0,
            ping_sent: 0,
            pong_received: 0,
            data_received: 0,
            fail_time: 0,
            ctime: now,
            repl_offset: 0,
            fail_reports: Vec::new(),
            link_up: false,
            slots: SlotBitmap::new(),
            voted_time: 0,
            orphaned_time: 0,
        }
    }

    pub fn has(&self, flag: u16) -> bool {
        self.flags & flag != 0
    }

    pub fn is_master(&self) -> bool {
        self.has(flags::MASTER)
    }

    pub fn is_replica(&self) -> bool {
        self.has(flags::SLAVE)
    }

    pub fn in_handshake(&self) -> bool {
        self.has(flags::HANDSHAKE)
    }

    /// PFAIL or FAIL.
    pub fn failing(&self) -> bool {
        self.flags & (flags::PFAIL | flags::FAIL) != 0
    }

    pub fn slot_count(&self) -> usize {
        self.slots.count()
    }
}
