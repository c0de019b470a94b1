//! The blocking save behind SAVE, SHUTDOWN SAVE, FLUSHALL's save, DEBUG
//! RELOAD and the exit save: every shard is held (ascending order, as
//! FLUSHALL) while each serializes its own keys and while the file is
//! written, so the file is one point in time and the change counters
//! reset exactly at it.

use crate::config::keys as conf;
use crate::persist::bgsave;
use crate::persist::host::{HeldShards, NodeState, ShardData, ShardHost};
use crate::persist::rdb::encode::EncodeOpts;
use crate::persist::snapshot;
use crate::sys::clock::unix_ms;
use std::rc::Rc;
use std::sync::atomic::Ordering;

/// Saves every shard's keys to `dbfilename`, holding all shards; on
/// success resets the change counters and LASTSAVE. Also SHUTDOWN SAVE.
pub async fn save_all<H: ShardHost>(rt: &Rc<H>) -> bool {
    let node = rt.node();
    let (dbfilename, checksum, lru_policy) = node.read_config(|c| {
        (
            c.text(conf::DBFILENAME),
            c.flag(conf::RDBCHECKSUM),
            c.text(conf::MAXMEMORY_POLICY).ends_with("-lru"),
        )
    });
    let list_fill = rt.list_fill();
    let opts = EncodeOpts {
        compress: node.read_config(|c| c.flag(conf::RDBCOMPRESSION)),
        list_fill,
    };
    snapshot::RDB_SAVES.fetch_add(1, Ordering::Relaxed);
    let shards: Vec<usize> = (0..rt.shard_count()).collect();
    let held = H::hold(rt, &shards).await;
    let temp = match snapshot::open_temp() {
        Ok(t) => t,
        Err(e) => {
            crate::warning!("{e}");
            return false;
        }
    };
    let now_ms = unix_ms();
    let repl_aux = node.repl_save_aux();
    let mut parts = Vec::with_capacity(shards.len());
    for &s in &shards {
        parts.push(
            held.run(s, move |rt| {
                let lru_now = lru_policy.then(|| rt.lru_seconds());
                rt.with_store(|store| snapshot::serialize_store(store, &opts, lru_now))
            })
            .await,
        );
    }
    let image = snapshot::assemble(&parts, now_ms / 1000, checksum, &repl_aux);
    // `rdb-key-save-delay` (tests): the save takes that long per key,
    // every shard still held as in a blocking SAVE.
    let keys: usize = parts.iter().flat_map(|p| &p.dbs).map(|d| d.keys).sum();
    let delay = node.read_config(|c| c.int(conf::RDB_KEY_SAVE_DELAY));
    let wait = bgsave::shard::key_delay(delay, keys as u64);
    if !wait.is_zero() {
        glommio::timer::sleep(wait).await;
    }
    drop(parts);
    let ok = match snapshot::commit_temp(temp, &image, &dbfilename) {
        Ok(()) => true,
        Err(e) => {
            crate::warning!("{e}");
            false
        }
    };
    if ok {
        for &s in &shards {
            held.run(s, |rt| rt.clear_dirty()).await;
        }
        node.lastsave_unix().store(now_ms / 1000, Ordering::Relaxed);
        bgsave::status::save_succeeded();
    }
    drop(held);
    ok
}
