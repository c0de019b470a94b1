//! Slot ownership from the bus: a master's claim with a newer config
//! epoch wins (`clusterUpdateSlotsConfigWith`), stale claimers are told
//! with UPDATE, and equal epochs between masters are split apart
//! (`clusterHandleConfigEpochCollision`).

use super::bus::{Body, Message, NodeId, SlotBitmap};
use super::gossip::header;
use super::state::{ClusterState, SaveNeed};
use super::ClusterSettings;
use crate::slot::SLOTS;

/// Rebinds the slots `sender` claims with `epoch`. Returns slots that
/// were mine and were taken: their keys must go (a no-op when empty).
pub fn update_with(
    st: &mut ClusterState,
    s: &ClusterSettings,
    sender: &NodeId,
    epoch: u64,
    claimed: &SlotBitmap,
) -> Vec<u16> {
    if *sender == st.myself {
        return Vec::new();
    }
    let me = st.myself;
    let curmaster = if st.me().is_master() {
        Some(me)
    } else {
        st.me().master
    };
    let mut taken_from_me = Vec::new();
    let mut sender_slots = 0;
    let mut migrated_our_slots = 0;
    let mut new_master = None;
    for slot in 0..SLOTS as u16 {
        let owner = st.slots[slot as usize];
        if claimed.get(slot) {
            sender_slots += 1;
            if owner == Some(*sender) {
                st.not_claimed.clear(slot);
                continue;
            }
            if st.importing.contains_key(&slot) {
                continue;
            }
            let owner_epoch = owner
                .and_then(|o| st.nodes.get(&o))
                .map_or(0, |n| n.config_epoch);
            if owner.is_none() || owner_epoch < epoch || st.not_claimed.get(slot) {
                if owner == Some(me) {
                    taken_from_me.push(slot);
                }
                if owner.is_some() && owner == curmaster {
                    new_master = Some(*sender);
                    migrated_our_slots += 1;
                }
                st.set_slot(slot, Some(*sender));
                st.not_claimed.clear(slot);
                st.need_save(SaveNeed::SaveFsync);
            }
        } else if owner == Some(*sender) {
            st.not_claimed.set(slot);
        }
    }
    let curmaster_slots = curmaster
        .and_then(|m| st.nodes.get(&m))
        .map_or(0, |n| n.slot_count());
    if let Some(nm) = new_master {
        if curmaster_slots == 0 && (s.allow_replica_migration || sender_slots == migrated_our_slots)
        {
            crate::warning!(
                "Configuration change detected. Reconfiguring myself as a replica of {}",
                nm.as_str()
            );
            st.set_my_master(nm);
            st.need_save(SaveNeed::SaveFsync);
            return Vec::new();
        }
    }
    taken_from_me
}

/// An UPDATE for a sender claiming slots whose owner (in our view) has
/// a greater config epoch: about the first such owner, as Redis.
pub fn update_for_stale_claim(
    st: &ClusterState,
    s: &ClusterSettings,
    claimed: &SlotBitmap,
    sender_epoch: u64,
) -> Option<Message> {
    for slot in 0..SLOTS as u16 {
        if !claimed.get(slot) || st.not_claimed.get(slot) {
            continue;
        }
        let Some(owner) = st.slots[slot as usize].and_then(|o| st.nodes.get(&o)) else {
            continue;
        };
        if owner.config_epoch > sender_epoch {
            crate::verbose!(
                "Node has old slots configuration, sending an UPDATE message about {}",
                owner.id.as_str()
            );
            let mut slots = owner.slots.clone();
            for s in 0..SLOTS as u16 {
                if st.not_claimed.get(s) {
                    slots.clear(s);
                }
            }
            return Some(Message {
                header: header(st, s),
                body: Body::Update {
                    config_epoch: owner.config_epoch,
                    node: owner.id,
                    slots,
                },
            });
        }
    }
    None
}

/// Two masters with the same config epoch: the one with the smaller
/// name takes a new epoch.
pub fn handle_epoch_collision(st: &mut ClusterState, sender: &NodeId) {
    let Some(other) = st.nodes.get(sender) else {
        return;
    };
    let me = st.me();
    if other.config_epoch != me.config_epoch || !other.is_master() || !me.is_master() {
        return;
    }
    if sender.0 <= st.myself.0 {
        return;
    }
    st.current_epoch += 1;
    let e = st.current_epoch;
    st.me_mut().config_epoch = e;
    st.need_save(SaveNeed::SaveFsync);
    st.touch();
    crate::verbose!(
        "WARNING: configEpoch collision with node {}. configEpoch set to {e}",
        sender.as_str()
    );
}
