//! Where a request's keys live, worked out once when it is planned.
//!
//! Planning (dispatch.rs) fills a [`Routed`] per request: every key's
//! argument index, slot and owning shard, and the owning shards as an
//! ascending, distinct list. The cluster check reads its slots, the
//! single-shard decision its shard list; a request spanning shards
//! carries it into the multi-shard path (multishard.rs, direct.rs) and a
//! queued command carries it into EXEC (transaction.rs), so no later step
//! hashes a key again to find its shard.

use super::shard::ShardRt;
use super::spec::CommandSpec;
use crate::slot::key_slot;
use std::collections::BTreeMap;

/// One key of a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KeyAt {
    /// Its argument index.
    pub arg: usize,
    /// 0 when nothing reads it (`ShardRt::routes_by_slot` unset).
    pub slot: u16,
    pub shard: usize,
}

/// A request's keys and the shards that own them.
#[derive(Clone, Debug, Default)]
pub struct Routed {
    /// Every key, in argument order (a key named twice appears twice).
    keys: Vec<KeyAt>,
    /// The owning shards, ascending and distinct; every shard when
    /// `every` is set.
    shards: Vec<usize>,
    /// The command reads keys that only its data names (SORT's BY/GET
    /// patterns): with several shards, every shard takes part.
    every: bool,
}

impl Routed {
    /// The route of `argv` (a request for `spec`).
    pub fn of(rt: &ShardRt, spec: &CommandSpec, argv: &[&[u8]]) -> Routed {
        let mut routed = Routed::default();
        routed.fill(rt, spec, argv);
        routed
    }

    /// Recomputes the route in place, reusing the buffers (the per-request
    /// path allocates nothing once they have grown).
    pub fn fill(&mut self, rt: &ShardRt, spec: &CommandSpec, argv: &[&[u8]]) {
        self.keys.clear();
        self.shards.clear();
        let by_slot = rt.routes_by_slot;
        spec.for_each_key(argv, |arg, _| {
            let (slot, shard) = if by_slot {
                let slot = key_slot(argv[arg]);
                (slot, rt.shard_of_slot(slot))
            } else {
                (0, 0)
            };
            self.keys.push(KeyAt { arg, slot, shard });
            // Most requests name one shard: push without a search.
            match self.shards.last() {
                None => self.shards.push(shard),
                Some(&last) if last < shard => self.shards.push(shard),
                Some(&last) if last == shard => {}
                Some(_) => {
                    if let Err(at) = self.shards.binary_search(&shard) {
                        self.shards.insert(at, shard);
                    }
                }
            }
        });
        self.every = rt.nshards > 1 && spec.reads_data_keys(argv);
        if self.every {
            self.shards.clear();
            self.shards.extend(0..rt.nshards);
        }
        debug_assert!(self.shards.windows(2).all(|w| w[0] < w[1]));
    }

    pub fn keys(&self) -> &[KeyAt] {
        &self.keys
    }

    /// The keys' slots, in argument order.
    pub fn slots(&self) -> impl Iterator<Item = u16> + '_ {
        self.keys.iter().map(|k| k.slot)
    }

    /// Owning shards, ascending and distinct.
    pub fn shards(&self) -> &[usize] {
        &self.shards
    }

    /// Whether every shard takes part (see `every`).
    pub fn reaches_every_shard(&self) -> bool {
        self.every
    }

    /// The one shard that owns every key: None when the keys span shards;
    /// `home` for a keyless request.
    pub fn single_shard(&self, home: usize) -> Option<usize> {
        match self.shards.as_slice() {
            [] => Some(home),
            [only] => Some(*only),
            _ => None,
        }
    }

    /// The distinct keys by owning shard.
    pub fn keys_by_shard(&self, argv: &[&[u8]]) -> BTreeMap<usize, Vec<Vec<u8>>> {
        let mut by_shard: BTreeMap<usize, Vec<Vec<u8>>> = BTreeMap::new();
        for k in &self.keys {
            let list = by_shard.entry(k.shard).or_default();
            if !list.iter().any(|have| have.as_slice() == argv[k.arg]) {
                list.push(argv[k.arg].to_vec());
            }
        }
        by_shard
    }
}
