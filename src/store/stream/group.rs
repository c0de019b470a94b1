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
