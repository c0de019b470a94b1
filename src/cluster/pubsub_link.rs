//! PUBLISH / SPUBLISH across the cluster bus: shards hand messages
//! published by their clients to the control executor, which sends them
//! to other nodes (PUBLISH to every node, SPUBLISH to the nodes of this
//! shard); messages arriving on the bus are handed to every shard for
//! its local subscribers. One bounded cross-executor channel per shard
//! and direction.

use super::bus::NodeId;
use glommio::channels::shared_channel::{self, SharedReceiver, SharedSender};

/// A message crossing between a shard and the bus.
pub struct BusPub {
    pub channel: Vec<u8>,
    pub message: Vec<u8>,
    /// SPUBLISH (shard channel) rather than PUBLISH.
    pub sharded: bool,
}

/// What a shard hands the bus executor, taken in the order sent.
pub enum ToBus {
    /// A message this node's clients published.
    Publish(BusPub),
    /// DEBUG CLUSTERLINK KILL: close our link to `node` (`outbound`)
    /// and/or its link to us (`inbound`); the cron reconnects ours. It
    /// shares the publishes' queue, so a publish sent after it (in the
    /// same EXEC, say) never leaves on the closed link.
    KillLink {
        node: NodeId,
        outbound: bool,
        inbound: bool,
    },
}

/// Queue depth per direction per shard.
const CAPACITY: usize = 4096;

/// The ends a shard keeps.
pub struct ShardEnds {
    pub to_bus: SharedSender<ToBus>,
    pub from_bus: SharedReceiver<BusPub>,
}

/// The ends the control executor keeps, one pair per shard.
pub struct BusEnds {
    pub to_shards: Vec<SharedSender<BusPub>>,
    pub from_shards: Vec<SharedReceiver<ToBus>>,
}

/// Channels for `nshards` shards.
pub fn channels(nshards: usize) -> (Vec<ShardEnds>, BusEnds) {
    let mut shards = Vec::new();
    let mut bus = BusEnds {
        to_shards: Vec::new(),
        from_shards: Vec::new(),
    };
    for _ in 0..nshards {
        let (to_bus, from_shard) = shared_channel::new_bounded(CAPACITY);
        let (to_shard, from_bus) = shared_channel::new_bounded(CAPACITY);
        shards.push(ShardEnds { to_bus, from_bus });
        bus.to_shards.push(to_shard);
        bus.from_shards.push(from_shard);
    }
    (shards, bus)
}
