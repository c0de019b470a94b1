//! The running snapshot's copy-on-write rule at the start of every shard
//! command (ShardRt::exec): a write first serializes the not-yet-written
//! slots of its keys (persist/bgsave/shard.rs). The spec says whether the
//! command writes and which arguments are keys; persist sees only keys.

use super::shard::ShardRt;
use super::spec::CommandSpec;
use crate::persist::bgsave;

#[inline]
pub fn before_write(rt: &ShardRt, spec: &CommandSpec, argv: &[&[u8]]) {
    if bgsave::active_here() && spec.is_write() {
        save_keys_of(rt, spec, argv);
    }
}

#[cold]
fn save_keys_of(rt: &ShardRt, spec: &CommandSpec, argv: &[&[u8]]) {
    let mut idx = Vec::new();
    spec.key_indexes(argv, &mut idx);
    for i in idx {
        bgsave::before_key_write(rt, argv[i]);
    }
}
