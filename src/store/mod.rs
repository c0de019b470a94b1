//! The keyspace a shard owns: its databases, values and expiry.

pub mod access;
pub mod bytes;
pub mod db;
pub mod dict;
pub mod evict;
pub mod hash;
pub mod intset;
pub mod lazyfree;
pub mod list;
pub mod listpack;
pub mod packed_box;
pub mod packed_vec;
pub mod replica_ttls;
pub mod set;
pub mod slot_map;
pub mod stream;
pub mod value;
pub mod zset;

pub use bytes::SmallBytes;
pub use db::{Db, Map, SeededState, Set as HashSet, SlotTable, LOG_EXPIRED, LOG_MISS, LOG_NEW};
pub use hash::Hash;
pub use list::List;
pub use packed_box::PackedBox;
pub use set::Set;
pub use stream::Stream;
pub use value::{Entry, Value};
pub use zset::ZSet;

/// Thresholds for compact encodings of small collections, from the
/// `*-max-listpack-*` directives (Redis 7.0 names).
#[derive(Clone, Debug)]
pub struct EncodingLimits {
    pub list_max_listpack_size: i64,
    pub hash_max_listpack_entries: usize,
    pub hash_max_listpack_value: usize,
    pub set_max_intset_entries: usize,
    pub set_max_listpack_entries: usize,
    pub set_max_listpack_value: usize,
    pub zset_max_listpack_entries: usize,
    pub zset_max_listpack_value: usize,
    /// `hll-sparse-max-bytes`: sparse HyperLogLogs past this become dense.
    pub hll_sparse_max_bytes: usize,
    /// `stream-node-max-bytes` and `stream-node-max-entries`.
    pub stream_node: stream::NodeLimits,
}

impl Default for EncodingLimits {
    fn default() -> Self {
        EncodingLimits {
            list_max_listpack_size: -2,
            hash_max_listpack_entries: 512,
            hash_max_listpack_value: 64,
            set_max_intset_entries: 512,
            set_max_listpack_entries: 128,
            set_max_listpack_value: 64,
            zset_max_listpack_entries: 128,
            zset_max_listpack_value: 64,
            hll_sparse_max_bytes: 3000,
            stream_node: stream::NodeLimits {
                max_bytes: 4096,
                max_entries: 100,
            },
        }
    }
}

/// All databases of one shard.
pub struct Store {
    pub dbs: Vec<Db>,
}

impl Store {
    /// Sets [`Db::keep_expired`] on every database (a replica's normal
    /// clients keep keys whose TTL passed; see repl/replica).
    #[inline]
    pub fn set_keep_expired(&mut self, keep: bool) {
        if self.dbs.first().is_some_and(|d| d.keep_expired != keep) {
            for db in &mut self.dbs {
                db.keep_expired = keep;
            }
        }
    }

    /// Sets [`crate::store::replica_ttls::ReplicaTtls::on`] on every
    /// database: whether TTLs set now are a writable replica's clients'.
    #[inline]
    pub fn set_note_replica_ttls(&mut self, on: bool) {
        if self.dbs.first().is_some_and(|d| d.replica_ttls.on != on) {
            for db in &mut self.dbs {
                db.replica_ttls.on = on;
            }
        }
    }

    /// Turns the key logs of keyspace notifications on or off
    /// ([`Db::log_mask`]); what is already logged is dropped.
    pub fn set_key_log(&mut self, mask: u8) {
        for db in &mut self.dbs {
            db.log_mask = mask;
            db.key_log.clear();
        }
    }

    /// Turns the log of expired keys for tracking on or off; cheap when
    /// unchanged.
    #[inline]
    pub fn set_track_expired(&mut self, on: bool) {
        if self.dbs.first().is_some_and(|d| d.track_expired != on) {
            for db in &mut self.dbs {
                db.track_expired = on;
                db.expired_log.clear();
            }
        }
    }

    /// Takes the expired keys logged for tracking.
    pub fn take_expired_log(&mut self) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        for db in &mut self.dbs {
            out.append(&mut db.expired_log);
        }
        out
    }

    /// Takes the expired keys logged, with their database (for the DELs
    /// that propagate expiries).
    pub fn take_expired_by_db(&mut self) -> Vec<(usize, Vec<u8>)> {
        let mut out = Vec::new();
        for (i, db) in self.dbs.iter_mut().enumerate() {
            out.extend(db.expired_log.drain(..).map(|k| (i, k)));
        }
        out
    }

    /// Whether the key logs are set to `mask`.
    #[inline]
    pub fn key_log_is(&self, mask: u8) -> bool {
        self.dbs.first().is_none_or(|d| d.log_mask == mask)
    }

    pub fn new(databases: usize, nshards: usize) -> Store {
        Store {
            dbs: (0..databases).map(|_| Db::new(nshards)).collect(),
        }
    }

    pub fn expired_keys(&self) -> u64 {
        self.dbs.iter().map(|d| d.expired_keys).sum()
    }
}
