//! The store's encoding thresholds read from the directives: the store
//! takes the values and knows nothing of the config.

use super::{keys, Config, IntKey};
use crate::store::EncodingLimits;

impl EncodingLimits {
    pub fn from_config(c: &Config) -> EncodingLimits {
        let n = |key: IntKey| c.int(key).max(0) as usize;
        EncodingLimits {
            list_max_listpack_size: c.int(keys::LIST_MAX_LISTPACK_SIZE),
            hash_max_listpack_entries: n(keys::HASH_MAX_LISTPACK_ENTRIES),
            hash_max_listpack_value: n(keys::HASH_MAX_LISTPACK_VALUE),
            set_max_intset_entries: n(keys::SET_MAX_INTSET_ENTRIES),
            set_max_listpack_entries: n(keys::SET_MAX_LISTPACK_ENTRIES),
            set_max_listpack_value: n(keys::SET_MAX_LISTPACK_VALUE),
            zset_max_listpack_entries: n(keys::ZSET_MAX_LISTPACK_ENTRIES),
            zset_max_listpack_value: n(keys::ZSET_MAX_LISTPACK_VALUE),
            hll_sparse_max_bytes: n(keys::HLL_SPARSE_MAX_BYTES),
            stream_node: crate::store::stream::NodeLimits {
                max_bytes: n(keys::STREAM_NODE_MAX_BYTES),
                max_entries: n(keys::STREAM_NODE_MAX_ENTRIES),
            },
        }
    }
}
