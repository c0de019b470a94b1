//! The store's encoding thresholds read from the directives: the store
//! takes the values and knows nothing of the config.

use super::Config;
use crate::store::EncodingLimits;

impl EncodingLimits {
    pub fn from_config(c: &Config) -> EncodingLimits {
        let n = |name: &str| c.get_i64(name).max(0) as usize;
        EncodingLimits {
            list_max_listpack_size: c.get_i64("list-max-listpack-size"),
            hash_max_listpack_entries: n("hash-max-listpack-entries"),
            hash_max_listpack_value: n("hash-max-listpack-value"),
            set_max_intset_entries: n("set-max-intset-entries"),
            set_max_listpack_entries: n("set-max-listpack-entries"),
            set_max_listpack_value: n("set-max-listpack-value"),
            zset_max_listpack_entries: n("zset-max-listpack-entries"),
            zset_max_listpack_value: n("zset-max-listpack-value"),
            hll_sparse_max_bytes: n("hll-sparse-max-bytes"),
        }
    }
}
