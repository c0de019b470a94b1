//! The cluster as this node sees it: known nodes, slot owners, epochs,
//! open (migrating/importing) slots and the derived cluster state. Owned
//! by the `Cluster` handle behind a mutex: the bus (control executor) and
//! CLUSTER commands change it; shards read only routing snapshots.

use super::bus::flags;
use super::bus::NodeId;
use super::node::Node;
use crate::slot::SLOTS;
use std::collections::{BTreeMap, HashMap};

/// What must happen to nodes.conf before the next bus message leaves.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub enum SaveNeed {
    #[default]
    None,
    Save,
    SaveFsync,
}

/// Bus message counters, by message type code (INFO / CLUSTER INFO).
pub const MSG_TYPE_NAMES: [&str; 11] = [
    "ping",
    "pong",
    "meet",
    "fail",
    "publish",
    "auth-req",
    "auth-ack",
    "update",
    "mfstart",
    "module",
    "publishshard",
];

pub struct ClusterState {
    pub myself: NodeId,
    pub current_epoch: u64,
    pub last_vote_epoch: u64,
    /// Ordered by id: every walk over the table (gossip picks, cron
    /// order) is then the same for the same history, which the
    /// deterministic simulation (`sim`) relies on.
    pub nodes: BTreeMap<NodeId, Node>,
    /// Owner of each slot.
    pub slots: Vec<Option<NodeId>>,
    pub migrating: BTreeMap<u16, NodeId>,
    pub importing: BTreeMap<u16, NodeId>,
    /// Slots whose owner (in our view) no longer claims them (7.0.13+'s
    /// `owner_not_claiming_slot`): any claimer may take them.
    pub not_claimed: super::bus::SlotBitmap,
    /// `cluster_state:ok`.
    pub ok: bool,
    /// Masters serving at least one slot.
    pub size: usize,
    /// CLUSTER FORGET: ids gossip may not re-add until the time (ms).
    pub blacklist: HashMap<NodeId, u64>,
    pub sent: [u64; 11],
    pub received: [u64; 11],
    pub save: SaveNeed,
    /// When the state was first evaluated (the 2 s writable delay).
    pub first_state_eval: u64,
    /// Bumped on every change shards must see (routing snapshot).
    pub version: u64,
    /// Tell every node about a change now (after SETSLOT NODE myself).
    pub broadcast_pong: bool,
    /// My election when I am a replica of a failed master.
    pub election: super::failover::Election,
    /// My replication offset and data age (refreshed by the bus cron).
    pub repl: super::failover::ReplView,
}

impl ClusterState {
    /// Counts one received message of wire type `kind` (CLUSTER INFO's
    /// `cluster_stats_messages_*_received`).
    pub fn count_received(&mut self, kind: u16) {
        if let Some(n) = self.received.get_mut(kind as usize) {
            *n += 1;
        }
    }

    /// A fresh node: itself only, a master with no slots.
    pub fn fresh(myself: NodeId, now: u64) -> ClusterState {
        let mut me = Node::new(myself, flags::MYSELF | flags::MASTER, now);
        me.pong_received = now;
        let mut nodes = BTreeMap::new();
        nodes.insert(myself, me);
        ClusterState {
            myself,
            current_epoch: 0,
            last_vote_epoch: 0,
            nodes,
            slots: vec![None; SLOTS],
            migrating: BTreeMap::new(),
            importing: BTreeMap::new(),
            not_claimed: super::bus::SlotBitmap::new(),
            ok: false,
            size: 0,
            blacklist: HashMap::new(),
            sent: [0; 11],
            received: [0; 11],
            save: SaveNeed::Save,
            first_state_eval: 0,
            version: 1,
            broadcast_pong: false,
            election: Default::default(),
            repl: Default::default(),
        }
    }

    pub fn me(&self) -> &Node {
        &self.nodes[&self.myself]
    }

    pub fn me_mut(&mut self) -> &mut Node {
        self.nodes.get_mut(&self.myself).expect("myself")
    }

    pub fn node(&self, id: &NodeId) -> Option<&Node> {
        self.nodes.get(id)
    }

    /// A node by its textual id, as the CLUSTER commands take it.
    pub fn lookup(&self, text: &[u8]) -> Option<&Node> {
        NodeId::parse(text).and_then(|id| self.nodes.get(&id))
    }

    pub fn need_save(&mut self, need: SaveNeed) {
        self.save = self.save.max(need);
    }

    /// Marks a change the shards' routing snapshot must reflect.
    pub fn touch(&mut self) {
        self.version += 1;
    }

    /// I am a master, or my master's view when I am a replica.
    pub fn i_am_master(&self) -> bool {
        self.me().is_master()
    }

    /// The config epoch a header carries: mine, or my master's.
    pub fn advertised_config_epoch(&self) -> u64 {
        let me = self.me();
        match me.master.and_then(|m| self.nodes.get(&m)) {
            Some(m) if me.is_replica() => m.config_epoch,
            _ => me.config_epoch,
        }
    }

    /// Highest config epoch among known nodes.
    pub fn max_config_epoch(&self) -> u64 {
        self.nodes
            .values()
            .map(|n| n.config_epoch)
            .max()
            .unwrap_or(0)
    }

    /// Gives `slot` to `owner` (or leaves it unassigned), keeping the
    /// per-node bitmaps in step with the slot table.
    pub fn set_slot(&mut self, slot: u16, owner: Option<NodeId>) {
        if let Some(old) = self.slots[slot as usize] {
            if let Some(n) = self.nodes.get_mut(&old) {
                n.slots.clear(slot);
            }
        }
        if let Some(new) = owner {
            if let Some(n) = self.nodes.get_mut(&new) {
                n.slots.set(slot);
            }
        }
        self.slots[slot as usize] = owner;
        self.touch();
    }

    pub fn add_node(&mut self, mut node: Node) {
        // A master learned after its replicas: a replica-migration target.
        if self
            .nodes
            .values()
            .any(|n| n.is_replica() && n.master == Some(node.id))
        {
            node.flags |= flags::MIGRATE_TO;
        }
        self.nodes.insert(node.id, node);
        self.touch();
    }

    /// Removes a node: its slots become unassigned, its failure reports
    /// go, and open slots toward it close.
    pub fn del_node(&mut self, id: &NodeId) {
        for s in 0..SLOTS {
            if self.slots[s] == Some(*id) {
                self.slots[s] = None;
            }
        }
        self.migrating.retain(|_, n| n != id);
        self.importing.retain(|_, n| n != id);
        for n in self.nodes.values_mut() {
            n.fail_reports.retain(|(r, _)| r != id);
        }
        self.nodes.remove(id);
        self.touch();
    }

    /// Renames a handshake node to its real id once its PONG arrives.
    pub fn rename_node(&mut self, from: &NodeId, to: NodeId) {
        if let Some(mut n) = self.nodes.remove(from) {
            n.id = to;
            self.nodes.insert(to, n);
            self.touch();
        }
    }

    /// Makes `id` a master (no master of its own).
    pub fn set_as_master(&mut self, id: &NodeId) {
        let Some(n) = self.nodes.get_mut(id) else {
            return;
        };
        if n.is_master() && n.master.is_none() {
            return;
        }
        // A replica that took over a master's place was in a shard meant
        // to have replicas: a replica-migration target if orphaned
        // (`clusterSetNodeAsMaster`; never myself).
        if n.master.is_some() && *id != self.myself {
            n.flags |= flags::MIGRATE_TO;
        }
        n.flags = (n.flags & !flags::SLAVE) | flags::MASTER;
        n.master = None;
        self.touch();
    }

    /// Makes `id` a replica of `master`; a master that turns replica
    /// loses its slots.
    pub fn set_as_replica(&mut self, id: &NodeId, master: NodeId) {
        let Some(n) = self.nodes.get_mut(id) else {
            return;
        };
        if n.is_replica() && n.master == Some(master) {
            return;
        }
        let was_master = n.is_master();
        n.flags = (n.flags & !(flags::MASTER | flags::MIGRATE_TO)) | flags::SLAVE;
        n.master = Some(master);
        if was_master {
            for s in 0..SLOTS as u16 {
                if self.slots[s as usize] == Some(*id) {
                    self.set_slot(s, None);
                }
            }
        }
        if let Some(m) = self.nodes.get_mut(&master) {
            m.flags |= flags::MIGRATE_TO;
        }
        self.touch();
    }

    /// clusterSetMaster: I become a replica of `master` (in the cluster's
    /// view; the data stream is replication's job), closing open slots.
    pub fn set_my_master(&mut self, master: NodeId) {
        let me = self.myself;
        if self.me().is_master() {
            self.migrating.clear();
            self.importing.clear();
        }
        self.set_as_replica(&me, master);
        self.need_save(SaveNeed::Save);
    }

    /// Replicas of `master` in our view.
    pub fn replicas_of(&self, master: &NodeId) -> Vec<&Node> {
        let mut v: Vec<&Node> = self
            .nodes
            .values()
            .filter(|n| n.is_replica() && n.master.as_ref() == Some(master))
            .collect();
        v.sort_by_key(|n| n.id);
        v
    }

    /// Keys-free epoch bump (`clusterBumpConfigEpochWithoutConsensus`):
    /// when my config epoch is 0 or not the strict maximum.
    pub fn bump_epoch_without_consensus(&mut self) -> bool {
        let max = self.max_config_epoch();
        let mine = self.me().config_epoch;
        let unique_max = self
            .nodes
            .values()
            .filter(|n| n.config_epoch == max)
            .count()
            == 1;
        if mine == 0 || mine != max || !unique_max {
            self.current_epoch += 1;
            let e = self.current_epoch;
            self.me_mut().config_epoch = e;
            self.need_save(SaveNeed::SaveFsync);
            self.touch();
            true
        } else {
            false
        }
    }

    /// CLUSTER RESET (`clusterReset`): back to a master with no slots
    /// that knows no other node; HARD also zeroes the epochs and takes a
    /// new name.
    pub fn reset(&mut self, hard: bool, now: u64) {
        let me = self.myself;
        self.set_as_master(&me);
        self.migrating.clear();
        self.importing.clear();
        for s in 0..SLOTS as u16 {
            if self.slots[s as usize].is_some() {
                self.set_slot(s, None);
            }
        }
        self.nodes.retain(|id, _| *id == me);
        if hard {
            self.current_epoch = 0;
            self.last_vote_epoch = 0;
            self.me_mut().config_epoch = 0;
            let fresh = NodeId::random();
            crate::notice!("Node hard reset, now I'm {}", fresh.as_str());
            self.rename_node(&me, fresh);
            self.myself = fresh;
        }
        let _ = now;
        self.need_save(SaveNeed::SaveFsync);
        self.touch();
    }

    /// Recomputes `ok` and `size` as `clusterUpdateState`.
    pub fn update_state(&mut self, now: u64, require_full_coverage: bool, node_timeout: u64) {
        if self.first_state_eval == 0 {
            self.first_state_eval = now;
        }
        let mut ok = true;
        if require_full_coverage {
            let failed: Vec<NodeId> = self
                .nodes
                .values()
                .filter(|n| n.has(flags::FAIL))
                .map(|n| n.id)
                .collect();
            // By reference: this runs after every change of the state,
            // over 16384 slots; copying each 40-byte id cost the most.
            ok = self
                .slots
                .iter()
                .all(|o| matches!(o, Some(id) if !failed.contains(id)));
        }
        let mut size = 0;
        let mut reachable = 0;
        for n in self.nodes.values() {
            if n.is_master() && n.slot_count() > 0 {
                size += 1;
                if !n.failing() {
                    reachable += 1;
                }
            }
        }
        self.size = size;
        let quorum = size / 2 + 1;
        if reachable < quorum {
            ok = false;
        }
        // A master does not turn OK during its first 2 s (writable delay).
        if ok && !self.ok && self.i_am_master() && now < self.first_state_eval + 2000 {
            ok = false;
        }
        let _ = node_timeout;
        if ok != self.ok {
            crate::notice!("Cluster state changed: {}", if ok { "ok" } else { "fail" });
            self.ok = ok;
            self.touch();
        }
    }

    /// Failure reports about `id` younger than 2 × node timeout.
    pub fn failure_report_count(&mut self, id: &NodeId, now: u64, node_timeout: u64) -> usize {
        let Some(n) = self.nodes.get_mut(id) else {
            return 0;
        };
        n.fail_reports
            .retain(|(_, t)| now.saturating_sub(*t) <= node_timeout * 2);
        n.fail_reports.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(c: u8) -> NodeId {
        NodeId([c; 40])
    }

    #[test]
    fn slots_follow_bitmaps() {
        let mut st = ClusterState::fresh(id(b'a'), 1);
        st.add_node(Node::new(id(b'b'), flags::MASTER, 1));
        st.set_slot(5, Some(id(b'a')));
        st.set_slot(6, Some(id(b'b')));
        assert!(st.me().slots.get(5));
        st.set_slot(5, Some(id(b'b')));
        assert!(!st.me().slots.get(5));
        assert_eq!(st.node(&id(b'b')).unwrap().slot_count(), 2);
        st.set_as_replica(&id(b'b'), id(b'a'));
        assert_eq!(st.slots[5], None);
        assert!(st.me().has(flags::MIGRATE_TO));
    }

    #[test]
    fn state_needs_coverage_and_majority() {
        let mut st = ClusterState::fresh(id(b'a'), 1);
        st.update_state(10_000, true, 15000);
        assert!(!st.ok);
        for s in 0..SLOTS as u16 {
            st.set_slot(s, Some(id(b'a')));
        }
        st.update_state(10_000, true, 15000);
        assert!(!st.ok, "writable delay");
        st.update_state(12_001, true, 15000);
        assert!(st.ok);
        assert_eq!(st.size, 1);
    }

    #[test]
    fn bump_only_when_not_unique_max() {
        let mut st = ClusterState::fresh(id(b'a'), 1);
        assert!(st.bump_epoch_without_consensus());
        assert_eq!(st.me().config_epoch, 1);
        assert!(!st.bump_epoch_without_consensus());
    }
}
