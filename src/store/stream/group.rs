//! Consumer groups of a stream (stream.h's streamCG, streamConsumer,
//! streamNACK): groups by name in byte order (Redis's rax order), each
//! with its last delivered ID, its entries-read counter (-1: unknown),
//! its pending entries list (PEL) and its consumers, each consumer with
//! its seen time and the IDs of the group PEL it owns.

use super::{Stream, StreamId};
use std::collections::{BTreeMap, BTreeSet};

/// `SCG_INVALID_ENTRIES_READ`.
pub const INVALID_ENTRIES_READ: i64 = -1;

/// A pending entry (streamNACK).
#[derive(Clone, Debug)]
pub struct Nack {
    pub delivery_time: u64,
    pub delivery_count: u64,
    pub consumer: Vec<u8>,
}

/// A consumer (streamConsumer).
#[derive(Clone, Debug, Default)]
pub struct Consumer {
    pub seen_time: u64,
    pub pel: BTreeSet<StreamId>,
}

/// A consumer group (streamCG).
#[derive(Clone, Debug)]
pub struct Group {
    pub last_id: StreamId,
    pub entries_read: i64,
    pub pel: BTreeMap<StreamId, Nack>,
    pub consumers: BTreeMap<Vec<u8>, Consumer>,
}

impl Group {
    pub fn new(last_id: StreamId, entries_read: i64) -> Group {
        Group {
            last_id,
            entries_read,
            pel: BTreeMap::new(),
            consumers: BTreeMap::new(),
        }
    }

    /// Adds consumer `name` seen at `now` (streamCreateConsumer); false
    /// when it exists.
    pub fn create_consumer(&mut self, name: &[u8], now: u64) -> bool {
        if self.consumers.contains_key(name) {
            return false;
        }
        self.consumers.insert(
            name.to_vec(),
            Consumer {
                seen_time: now,
                pel: BTreeSet::new(),
            },
        );
        true
    }

    /// Removes consumer `name` and its pending entries
    /// (streamDelConsumer); the count of those entries, None if missing.
    pub fn delete_consumer(&mut self, name: &[u8]) -> Option<usize> {
        let c = self.consumers.remove(name)?;
        for id in &c.pel {
            self.pel.remove(id);
        }
        Some(c.pel.len())
    }
}

impl Stream {
    /// The logical read counter of `id` if it can be known
    /// (streamEstimateDistanceFromFirstEverEntry), else -1.
    pub fn estimate_distance(&self, id: StreamId) -> i64 {
        if self.entries_added == 0 {
            return 0;
        }
        if self.length == 0 && id <= self.last_id {
            return self.entries_added as i64;
        }
        if id == self.last_id {
            return self.entries_added as i64;
        } else if id > self.last_id {
            return INVALID_ENTRIES_READ;
        }
        if self.max_deleted == StreamId::MIN || self.max_deleted < self.first_id {
            if id < self.first_id {
                return (self.entries_added - self.length) as i64;
            } else if id == self.first_id {
                return (self.entries_added - self.length + 1) as i64;
            }
        }
        INVALID_ENTRIES_READ
    }

    /// A group's lag (streamReplyWithCGLag), None when unknown.
    pub fn group_lag(&self, g: &Group) -> Option<i64> {
        if self.entries_added == 0 {
            return Some(0);
        }
        if g.entries_read != INVALID_ENTRIES_READ
            && !self.range_has_tombstones(g.last_id, StreamId::MAX)
        {
            return Some(self.entries_added as i64 - g.entries_read);
        }
        match self.estimate_distance(g.last_id) {
            INVALID_ENTRIES_READ => None,
            read => Some(self.entries_added as i64 - read),
        }
    }
}

impl Group {
    /// Gives pending entry `id` to consumer `name` delivered at `now`
    /// (XREADGROUP's NACK creation): a new NACK, or one another consumer
    /// held moved over with its delivery count reset to 1
    /// (streamReplyWithRange). The consumer exists.
    pub fn deliver(&mut self, id: StreamId, name: &[u8], now: u64) {
        if let Some(old) = self.pel.get(&id).map(|n| n.consumer.clone()) {
            if let Some(c) = self.consumers.get_mut(&old) {
                c.pel.remove(&id);
            }
        }
        self.pel.insert(
            id,
            Nack {
                delivery_time: now,
                delivery_count: 1,
                consumer: name.to_vec(),
            },
        );
        if let Some(c) = self.consumers.get_mut(name) {
            c.pel.insert(id);
        }
    }

    /// Drops pending entry `id` from the group and its consumer; the NACK.
    pub fn remove_pending(&mut self, id: StreamId) -> Option<Nack> {
        let n = self.pel.remove(&id)?;
        if let Some(c) = self.consumers.get_mut(&n.consumer) {
            c.pel.remove(&id);
        }
        Some(n)
    }

    /// Moves pending entry `id` (in the PEL) to consumer `name` (which
    /// exists), as XCLAIM does; its NACK.
    pub fn assign(&mut self, id: StreamId, name: &[u8]) -> Option<&mut Nack> {
        let old = self.pel.get(&id)?.consumer.clone();
        if old != name {
            if let Some(c) = self.consumers.get_mut(&old) {
                c.pel.remove(&id);
            }
        }
        if let Some(c) = self.consumers.get_mut(name) {
            c.pel.insert(id);
        }
        let n = self.pel.get_mut(&id)?;
        n.consumer = name.to_vec();
        Some(n)
    }

    /// Moves the last delivered ID to `id` read from `s`, keeping the
    /// entries-read counter (streamReplyWithRange's update): true when
    /// it moved.
    pub fn advance(&mut self, s: &Stream, id: StreamId) -> bool {
        if id <= self.last_id {
            return false;
        }
        if self.entries_read != INVALID_ENTRIES_READ && !s.range_has_tombstones(id, StreamId::MAX) {
            self.entries_read += 1;
        } else if s.entries_added != 0 {
            self.entries_read = s.estimate_distance(id);
        }
        self.last_id = id;
        true
    }
}
