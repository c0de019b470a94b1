//! The invariants, checked after every step of the simulation.

use crate::cluster::bus::{flags, NodeId, SlotBitmap};
use crate::cluster::state::ClusterState;
use std::collections::BTreeSet;

/// The epochs a node was last seen with (they may only grow, across
/// restarts too: nodes.conf is written before any message leaves).
#[derive(Clone, Copy, Default)]
pub struct Epochs {
    pub current: u64,
    pub last_vote: u64,
    /// Its own config epoch while it is a master (0 while a replica: a
    /// replica's own epoch is not used, and nodes.conf does not keep it).
    pub config: u64,
}

impl Epochs {
    pub fn of(st: &ClusterState) -> Epochs {
        Epochs {
            current: st.current_epoch,
            last_vote: st.last_vote_epoch,
            config: if st.me().is_master() {
                st.me().config_epoch
            } else {
                0
            },
        }
    }
}

/// Epochs never go backwards on a node.
pub fn epochs_forward(before: Epochs, st: &ClusterState) -> Result<(), String> {
    let now = Epochs::of(st);
    if now.current < before.current {
        return Err(format!(
            "currentEpoch went back from {} to {}",
            before.current, now.current
        ));
    }
    if now.last_vote < before.last_vote {
        return Err(format!(
            "lastVoteEpoch went back from {} to {}",
            before.last_vote, now.last_vote
        ));
    }
    if st.me().is_master() && before.config != 0 && now.config < before.config {
        return Err(format!(
            "my configEpoch went back from {} to {}",
            before.config, now.config
        ));
    }
    Ok(())
}

/// Whether two slot sets share a slot.
fn intersect(a: &SlotBitmap, b: &SlotBitmap) -> Option<u16> {
    let i = a.0.iter().zip(b.0.iter()).position(|(x, y)| x & y != 0)?;
    let bits = a.0[i] & b.0[i];
    Some((i * 8) as u16 + bits.trailing_zeros() as u16)
}

/// At most one master claims a slot with a given config epoch. `claims`:
/// (node, its own config epoch, its own slots) of every live node that
/// is a master in its own view. Epochs taken without consensus (CLUSTER
/// FAILOVER TAKEOVER) are exempt: Redis documents that they may
/// collide, and the collision handling resolves them.
pub fn one_master_per_slot_epoch(
    claims: &[(NodeId, u64, &SlotBitmap)],
    without_consensus: &BTreeSet<u64>,
) -> Result<(), String> {
    for (i, a) in claims.iter().enumerate() {
        for b in &claims[i + 1..] {
            if a.1 != b.1 || without_consensus.contains(&a.1) {
                continue;
            }
            if let Some(slot) = intersect(a.2, b.2) {
                return Err(format!(
                    "masters {} and {} both claim slot {slot} with configEpoch {}",
                    a.0, b.0, a.1
                ));
            }
        }
    }
    Ok(())
}

/// What a step may not change without a reason: my role.
#[derive(Clone, Copy)]
pub struct RoleBefore {
    pub replica: bool,
    /// My master is FAIL in my view.
    pub master_failed: bool,
    /// A manual failover (CLUSTER FAILOVER, or a handover's) is running.
    pub manual: bool,
}

impl RoleBefore {
    pub fn of(st: &ClusterState) -> RoleBefore {
        let me = st.me();
        RoleBefore {
            replica: me.is_replica(),
            master_failed: me
                .master
                .and_then(|m| st.nodes.get(&m))
                .is_some_and(|m| m.has(flags::FAIL)),
            manual: st.election.mf_end != 0,
        }
    }
}

/// A replica turns master only when its master is FAIL in its view, or
/// a manual failover or takeover was asked for.
pub fn promotion_justified(
    before: RoleBefore,
    st: &ClusterState,
    takeover: bool,
) -> Result<(), String> {
    if !before.replica || !st.me().is_master() {
        return Ok(());
    }
    if before.master_failed || before.manual || takeover {
        return Ok(());
    }
    Err(
        "a replica became a master while its master was not FAIL and no failover was asked for"
            .into(),
    )
}

/// A restarted node is the node that stopped: same name, same slots,
/// epochs not older.
pub fn restart_keeps_identity(before: &ClusterState, after: &ClusterState) -> Result<(), String> {
    if before.myself != after.myself {
        return Err(format!(
            "restarted as {} (was {})",
            after.myself, before.myself
        ));
    }
    if before.me().slots != after.me().slots {
        return Err(format!(
            "restarted with {} slots (had {})",
            after.me().slot_count(),
            before.me().slot_count()
        ));
    }
    // What was persisted comes back. A currentEpoch merely adopted from
    // a header is not saved at once (as in Redis 7.0, it rides on the
    // next save), so it may come back older: harmless, the first header
    // received raises it again, and an election or a vote, which do
    // depend on it, save it first.
    let (b, a) = (Epochs::of(before), Epochs::of(after));
    if a.last_vote < b.last_vote {
        return Err(format!(
            "across the restart: lastVoteEpoch went back from {} to {}",
            b.last_vote, a.last_vote
        ));
    }
    if b.config != 0 && a.config < b.config {
        return Err(format!(
            "across the restart: my configEpoch went back from {} to {}",
            b.config, a.config
        ));
    }
    let floor = b.last_vote.max(b.config);
    if a.current < floor {
        return Err(format!(
            "across the restart: currentEpoch {} is below the epochs I voted or serve in ({floor})",
            a.current
        ));
    }
    Ok(())
}

/// Open slots as Redis 7.0 keeps them: a replica has none (turning
/// replica closes them, SETSLOT refuses replicas), and a node never
/// imports a slot it owns (SETSLOT NODE myself ends the import, and the
/// bus leaves importing slots alone). Nothing is said of MIGRATING on a
/// slot the bus took away: 7.0 keeps it until the operator's SETSLOT.
pub fn open_slots(st: &ClusterState) -> Result<(), String> {
    let open = st.migrating.len() + st.importing.len();
    if st.me().is_replica() && open > 0 {
        return Err(format!("a replica keeps {open} open slots"));
    }
    let me = Some(st.myself);
    if let Some(s) = st.importing.keys().find(|&&s| st.slots[s as usize] == me) {
        return Err(format!("importing slot {s}, which it owns"));
    }
    Ok(())
}

/// Once converged, with the operator done (each migration completed or
/// aborted with SETSLOT STABLE): no open slot anywhere, every slot owned
/// by a master, and a slot whose SETSLOT NODE reached its target with
/// config epoch `epoch` is the target's, unless a master that claimed it
/// with a greater epoch took it since (a failover whose replica had not
/// heard of the move, as in Redis). `doubtful`: slots left out (see
/// `converged`).
pub fn after_moves(
    views: &[&ClusterState],
    moved: &[(u16, NodeId, u64)],
    doubtful: &BTreeSet<u16>,
) -> Result<(), String> {
    for st in views {
        if let Some((s, _)) = st.migrating.iter().chain(st.importing.iter()).next() {
            return Err(format!("{} keeps slot {s} open", st.myself));
        }
    }
    let Some(first) = views.first() else {
        return Ok(());
    };
    for (s, owner) in first.slots.iter().enumerate() {
        if doubtful.contains(&(s as u16)) {
            continue;
        }
        let Some(o) = owner.and_then(|o| first.nodes.get(&o)) else {
            return Err(format!("slot {s} has no owner"));
        };
        if !o.is_master() {
            return Err(format!("slot {s} is owned by replica {}", o.id));
        }
    }
    for &(slot, target, epoch) in moved {
        let owner = first.slots[slot as usize].expect("checked");
        let e = first.nodes[&owner].config_epoch;
        if owner != target && e <= epoch {
            return Err(format!(
                "slot {slot}, moved to {target} with configEpoch {epoch}, ended at {owner} with configEpoch {e}"
            ));
        }
    }
    Ok(())
}

/// Views agree: the same slot owners, roles and masters, nobody failing,
/// every node's cluster state ok. The first difference, if any.
/// `doubtful`: slots whose owner Redis does not promise to settle (a
/// move whose target did not take a greater epoch): views may differ on
/// them, and a node may be in cluster_state:fail for leaving one
/// unowned.
pub fn converged(views: &[&ClusterState], doubtful: &BTreeSet<u16>) -> Result<(), String> {
    let first = views.first().ok_or("no node")?;
    for st in views {
        let unowned_doubtful = doubtful.iter().any(|&s| st.slots[s as usize].is_none());
        if !st.ok && !unowned_doubtful {
            return Err(format!("{} says cluster_state:fail", st.myself));
        }
        if let Some(n) = st.nodes.values().find(|n| n.failing()) {
            return Err(format!("{} still sees {} failing", st.myself, n.id));
        }
        let differs = (0..st.slots.len())
            .find(|&s| st.slots[s] != first.slots[s] && !doubtful.contains(&(s as u16)));
        if let Some(s) = differs {
            return Err(format!(
                "{} and {} disagree on the owner of slot {s}",
                st.myself, first.myself
            ));
        }
        let roles = |v: &ClusterState| -> Vec<(NodeId, bool, Option<NodeId>)> {
            v.nodes
                .values()
                .map(|n| (n.id, n.is_master(), n.master.filter(|_| n.is_replica())))
                .collect()
        };
        if roles(st) != roles(first) {
            return Err(format!(
                "{} and {} disagree on roles",
                st.myself, first.myself
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(c: u8) -> NodeId {
        NodeId([c; 40])
    }

    #[test]
    fn catches_epochs_going_back() {
        let mut st = ClusterState::fresh(id(b'a'), 1);
        st.current_epoch = 5;
        let seen = Epochs::of(&st);
        assert!(epochs_forward(seen, &st).is_ok());
        st.current_epoch = 4;
        assert!(epochs_forward(seen, &st).is_err());
    }

    #[test]
    fn catches_two_masters_on_one_slot_and_epoch() {
        let mut a = SlotBitmap::new();
        let mut b = SlotBitmap::new();
        a.set(100);
        b.set(100);
        let claims = [(id(b'a'), 3, &a), (id(b'b'), 3, &b)];
        assert!(one_master_per_slot_epoch(&claims, &BTreeSet::new()).is_err());
        assert!(one_master_per_slot_epoch(&claims, &BTreeSet::from([3])).is_ok());
        let claims = [(id(b'a'), 3, &a), (id(b'b'), 4, &b)];
        assert!(one_master_per_slot_epoch(&claims, &BTreeSet::new()).is_ok());
    }

    #[test]
    fn catches_an_unjustified_promotion() {
        let mut st = ClusterState::fresh(id(b'c'), 1);
        st.add_node(crate::cluster::node::Node::new(id(b'b'), flags::MASTER, 1));
        st.set_my_master(id(b'b'));
        let before = RoleBefore::of(&st);
        let me = st.myself;
        st.set_as_master(&me);
        assert!(promotion_justified(before, &st, false).is_err());
        assert!(promotion_justified(before, &st, true).is_ok());
    }

    #[test]
    fn catches_open_slots_redis_would_not_keep() {
        let mut st = ClusterState::fresh(id(b'a'), 1);
        st.add_node(crate::cluster::node::Node::new(id(b'b'), flags::MASTER, 1));
        st.set_slot(7, Some(id(b'b')));
        st.importing.insert(7, id(b'b'));
        assert!(open_slots(&st).is_ok());
        st.set_slot(7, Some(id(b'a')));
        assert!(open_slots(&st).is_err());
        let none = BTreeSet::new();
        assert!(
            after_moves(&[&st], &[], &none).is_err(),
            "open, and unowned slots"
        );
        st.importing.clear();
        for s in 0..crate::slot::SLOTS as u16 {
            st.set_slot(s, Some(id(b'a')));
        }
        st.nodes.get_mut(&id(b'a')).unwrap().config_epoch = 4;
        assert!(after_moves(&[&st], &[(7, id(b'a'), 5)], &none).is_ok());
        assert!(after_moves(&[&st], &[(7, id(b'b'), 3)], &none).is_ok());
        assert!(after_moves(&[&st], &[(7, id(b'b'), 4)], &none).is_err());
        st.set_slot(9, None);
        assert!(after_moves(&[&st], &[], &none).is_err());
        assert!(after_moves(&[&st], &[], &BTreeSet::from([9])).is_ok());
    }

    #[test]
    fn catches_a_restart_that_lost_its_slots() {
        let mut st = ClusterState::fresh(id(b'a'), 1);
        st.set_slot(7, Some(id(b'a')));
        let text = crate::cluster::nodes_conf::render(&st, 1);
        let back = crate::cluster::nodes_conf::parse(&text, 2).unwrap();
        assert!(restart_keeps_identity(&st, &back).is_ok());
        let mut lost = back;
        lost.set_slot(7, None);
        assert!(restart_keeps_identity(&st, &lost).is_err());
    }
}
