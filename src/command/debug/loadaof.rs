//! DEBUG LOADAOF: write out what the AOF has pending, empty the keyspace,
//! and load the AOF files the manifest on disk lists, all while every
//! shard is held (Redis does it in its one thread). As in Redis 7.0, a
//! failure to load (or no AOF at all, e.g. with `appendonly no` and no
//! files yet) ends the process: the dataset is already gone.

use crate::persist::snapshot;
use crate::server::aof_replay;
use crate::server::conn::Conn;
use crate::server::effects::{self, KeyspaceChange};
use crate::server::mesh;

pub async fn loadaof(conn: &mut Conn) {
    let rt = conn.rt.clone();
    let shards: Vec<usize> = (0..rt.nshards).collect();
    let held = mesh::hold(&rt, &shards).await;
    if rt.shared.aof.enabled() {
        rt.shared.aof.flush();
    }
    let lru = rt.lru_seconds();
    let nshards = rt.nshards;
    // The libraries go with the keys (Redis's emptyData), the log loads
    // them back.
    crate::server::script::library::flush();
    let loaded = rt
        .shared
        .read_config(|c| aof_replay::load_for_debug(c, nshards, lru));
    let per_shard = match loaded {
        Ok(Some(keys)) => keys,
        Ok(None) => {
            crate::warning!("DEBUG LOADAOF: there is no append only file to load. Exiting.");
            std::process::exit(1);
        }
        Err(e) => {
            crate::warning!("{e}");
            std::process::exit(1);
        }
    };
    for (s, part) in per_shard.into_iter().enumerate() {
        held.run(s, move |rt| {
            effects::apply_to_keyspace(
                rt,
                KeyspaceChange::Flush {
                    db: None,
                    lazy: false,
                },
            );
            let mut core = rt.core.borrow_mut();
            snapshot::install(&mut core.store, part, lru);
            // Neither the flush nor the load are changes to save, log or
            // replicate (Redis zeroes `dirty`).
            core.dirty = 0;
        })
        .await;
    }
    drop(held);
    crate::warning!("Append Only File loaded by DEBUG LOADAOF");
    conn.out.ok();
}
