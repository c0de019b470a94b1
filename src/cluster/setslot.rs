//! CLUSTER SETSLOT's state change, as Redis 7.0's clusterCommand makes
//! it: the checks, the open (MIGRATING/IMPORTING) slots, the owner, the
//! turn into a replica of a master left without slots, and the config
//! epoch bump after importing (`clusterBumpConfigEpochWithoutConsensus`).
//!
//! Pure logic on [`ClusterState`]: the command (command/cluster_admin.rs)
//! counts the slot's keys in the engine and calls [`apply`] under the
//! state lock; the simulation (`sim`) calls it as redis-cli's reshard
//! would.

use super::bus::NodeId;
use super::state::{ClusterState, SaveNeed};

/// The refusal on a replica (checked first by the command too, for
/// Redis's order of errors).
pub const NOT_MASTER: &str = "ERR Please use SETSLOT only with masters.";

/// The action, with its node argument as the client sent it.
#[derive(Clone, Copy, Debug)]
pub enum SetSlot<'a> {
    Migrating(&'a [u8]),
    Importing(&'a [u8]),
    Stable,
    Node(&'a [u8]),
}

/// A known master named by `text` (clusterLookupNode, then the
/// nodeIsSlave check).
fn master(st: &ClusterState, text: &[u8], unknown: &str) -> Result<NodeId, String> {
    let n = st
        .lookup(text)
        .ok_or_else(|| format!("ERR {unknown} {}", String::from_utf8_lossy(text)))?;
    if n.is_replica() {
        return Err("ERR Target node is not a master".into());
    }
    Ok(n.id)
}

/// CLUSTER SETSLOT `slot` `action`. `keys`: how many keys of the slot
/// this node holds; `allow_migration`: cluster-allow-replica-migration.
pub fn apply(
    st: &mut ClusterState,
    slot: u16,
    action: SetSlot,
    keys: usize,
    allow_migration: bool,
) -> Result<(), String> {
    if st.me().is_replica() {
        return Err(NOT_MASTER.into());
    }
    let me = st.myself;
    let owner = st.slots[slot as usize];
    match action {
        SetSlot::Migrating(text) => {
            if owner != Some(me) {
                return Err(format!("ERR I'm not the owner of hash slot {slot}"));
            }
            let n = master(st, text, "I don't know about node")?;
            st.migrating.insert(slot, n);
        }
        SetSlot::Importing(text) => {
            if owner == Some(me) {
                return Err(format!("ERR I'm already the owner of hash slot {slot}"));
            }
            let n = master(st, text, "I don't know about node")?;
            st.importing.insert(slot, n);
        }
        SetSlot::Stable => {
            st.migrating.remove(&slot);
            st.importing.remove(&slot);
        }
        SetSlot::Node(text) => {
            let n = master(st, text, "Unknown node")?;
            if owner == Some(me) && n != me && keys != 0 {
                return Err(format!("ERR Can't assign hashslot {slot} to a different node while I still hold keys for this hash slot."));
            }
            if keys == 0 {
                st.migrating.remove(&slot);
            }
            let was_mine = owner == Some(me);
            st.set_slot(slot, Some(n));
            if was_mine && n != me && st.me().slot_count() == 0 && allow_migration {
                crate::notice!(
                    "Configuration change detected. Reconfiguring myself as a replica of {}",
                    n.as_str()
                );
                st.set_my_master(n);
            }
            if n == me && st.importing.remove(&slot).is_some() {
                if st.bump_epoch_without_consensus() {
                    crate::notice!("configEpoch updated after importing slot {slot}");
                }
                st.broadcast_pong = true;
            }
        }
    }
    st.need_save(SaveNeed::Save);
    st.touch();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::bus::flags;
    use crate::cluster::node::Node;

    fn id(c: u8) -> NodeId {
        NodeId([c; 40])
    }

    /// Me (a) and b, masters with slots 0 and 1, epochs 1 and 2.
    fn two(me: u8) -> ClusterState {
        let other = if me == b'a' { b'b' } else { b'a' };
        let mut st = ClusterState::fresh(id(me), 1);
        st.add_node(Node::new(id(other), flags::MASTER, 1));
        st.set_slot(0, Some(id(b'a')));
        st.set_slot(1, Some(id(b'b')));
        st.nodes.get_mut(&id(b'a')).unwrap().config_epoch = 1;
        st.nodes.get_mut(&id(b'b')).unwrap().config_epoch = 2;
        st.current_epoch = 2;
        st
    }

    fn name(c: u8) -> Vec<u8> {
        id(c).as_str().as_bytes().to_vec()
    }

    #[test]
    fn importing_then_node_myself_takes_the_slot_with_a_new_epoch() {
        let mut st = two(b'b');
        let a = name(b'a');
        let b = name(b'b');
        assert!(apply(&mut st, 1, SetSlot::Importing(&a), 0, true).is_err());
        apply(&mut st, 0, SetSlot::Importing(&a), 0, true).unwrap();
        assert_eq!(st.importing.get(&0), Some(&id(b'a')));
        // b's epoch 2 is the unique greatest: no bump needed.
        apply(&mut st, 0, SetSlot::Node(&b), 0, true).unwrap();
        assert!(st.importing.is_empty());
        assert_eq!(st.slots[0], Some(id(b'b')));
        assert_eq!(st.me().config_epoch, 2);
        assert!(st.broadcast_pong);
        // From a, whose epoch is not the greatest: bumped.
        let mut st = two(b'a');
        apply(&mut st, 1, SetSlot::Importing(&b), 0, true).unwrap();
        apply(&mut st, 1, SetSlot::Node(&a), 0, true).unwrap();
        assert_eq!((st.current_epoch, st.me().config_epoch), (3, 3));
    }

    #[test]
    fn migrating_needs_the_slot_and_node_away_needs_no_keys() {
        let mut st = two(b'a');
        let b = name(b'b');
        assert!(apply(&mut st, 1, SetSlot::Migrating(&b), 0, true).is_err());
        apply(&mut st, 0, SetSlot::Migrating(&b), 0, true).unwrap();
        assert!(apply(&mut st, 0, SetSlot::Node(&b), 3, true).is_err());
        // The last slot gone: a replica of its new owner, no open slot.
        apply(&mut st, 0, SetSlot::Node(&b), 0, true).unwrap();
        assert!(st.me().is_replica() && st.migrating.is_empty());
        assert!(apply(&mut st, 0, SetSlot::Stable, 0, true).is_err());
    }
}
