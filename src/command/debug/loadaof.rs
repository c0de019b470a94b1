//! DEBUG LOADAOF: write out what the AOF has pending, empty the keyspace,
//! and load the AOF files the manifest on disk lists. As in Redis 7.0, a
//! failure to load (or no AOF at all, e.g. with `appendonly no` and no
//! files yet) ends the process: the dataset is already gone.
//!
//! Meanwhile the node is loading, as Redis's loadAppendOnlyFiles: other
//! clients get -LOADING (Redis answers them between commands of the
//! file), INFO says `loading:1`. The files are read on a thread of their
//! own with the shards let go, so they go on answering; every shard is
//! held to empty the keyspace before and to install the keys after.

use crate::persist::snapshot;
use crate::server::aof_replay;
use crate::server::conn::Conn;
use crate::server::effects::{self, KeyspaceChange};
use crate::server::mesh;

pub async fn loadaof(conn: &mut Conn) {
    let rt = conn.rt.clone();
    let shards: Vec<usize> = (0..rt.nshards).collect();
    let loading = &rt.shared.repl.replica.loading;
    {
        let held = mesh::hold(&rt, &shards).await;
        if rt.shared.aof.enabled() {
            rt.shared.aof.flush();
        }
        // The keys and the libraries go first (Redis's emptyData), the
        // log loads them back.
        crate::server::script::library::flush();
        for &s in &shards {
            held.run(s, |rt| {
                effects::apply_to_keyspace(
                    rt,
                    KeyspaceChange::Flush {
                        db: None,
                        lazy: false,
                    },
                );
                // Neither the flush nor the load are changes to save, log
                // or replicate (Redis zeroes `dirty`).
                rt.core.borrow_mut().dirty = 0;
            })
            .await;
        }
        // Set while the shards are held: no command runs between the
        // flush and the refusals.
        loading.start(false, None);
    }
    let lru = rt.lru_seconds();
    let nshards = rt.nshards;
    let config = rt.shared.read_config(|c| c.clone());
    // On the control cores (a pinned shard keeps its own to answer).
    let (tx, rx) = futures::channel::oneshot::channel();
    crate::sys::cpus::spawn_background("aof-load", move || {
        let _ = tx.send(aof_replay::load_for_debug(&config, nshards, lru));
    })
    .expect("spawn the AOF loading thread");
    let loaded = rx
        .await
        .expect("the AOF loading thread ended without a result");
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
    let held = mesh::hold(&rt, &shards).await;
    for (s, part) in per_shard.into_iter().enumerate() {
        held.run(s, move |rt| {
            let mut core = rt.core.borrow_mut();
            snapshot::install(&mut core.store, part, lru);
            core.dirty = 0;
        })
        .await;
    }
    loading.stop();
    drop(held);
    crate::warning!("Append Only File loaded by DEBUG LOADAOF");
    conn.out.ok();
}
