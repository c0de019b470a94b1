//! Loading the RDB a master sent: parsed on a background thread (the
//! event loops keep serving), then the dataset is replaced shard by shard
//! while every shard is held, so no command sees half of it.

use crate::config::keys as conf;
use crate::persist::rdb::file::{read_file, LoadOpts, LoadStats, LoadedKey};
use crate::server::mesh;
use crate::server::shard::ShardRt;
use crate::store::EncodingLimits;
use std::rc::Rc;

/// Keys per owning shard, and what the file said besides.
pub struct Parsed {
    pub per_shard: Vec<Vec<LoadedKey>>,
    pub stats: LoadStats,
}

/// Parses `rdb` off the event loop; also writes it as `dbfilename` (in
/// the working directory, the configured `dir`) as a disk-loading Redis
/// replica does. A replica keeps keys whose TTL already passed: the
/// master's DEL removes them.
pub async fn parse(rt: &Rc<ShardRt>, rdb: Vec<u8>) -> Result<Parsed, String> {
    let nshards = rt.nshards;
    let (databases, limits, checksum, dbfilename) = rt.shared.read_config(|c| {
        (
            c.int(conf::DATABASES) as usize,
            EncodingLimits::from_config(c),
            c.flag(conf::RDBCHECKSUM),
            c.text(conf::DBFILENAME),
        )
    });
    let (tx, rx) = futures::channel::oneshot::channel();
    let spawned = std::thread::Builder::new()
        .name("repl-load".into())
        .spawn(move || {
            let mut per_shard: Vec<Vec<LoadedKey>> = (0..nshards).map(|_| Vec::new()).collect();
            let opts = LoadOpts {
                databases,
                limits: &limits,
                now_ms: 0,
                checksum,
            };
            let result = read_file(&rdb, &opts, |k| {
                let shard = crate::slot::key_slot(&k.key) as usize % nshards;
                per_shard[shard].push(k);
            })
            .map(|stats| Parsed { per_shard, stats })
            .map_err(|e| {
                format!("Failed trying to load the MASTER synchronization DB from socket: {e}")
            });
            if result.is_ok() {
                if let Err(e) = crate::persist::snapshot::write_atomically(&rdb, &dbfilename) {
                    crate::warning!("{e}");
                }
            }
            let _ = tx.send(result);
        });
    if let Err(e) = spawned {
        return Err(format!("Can't start the loading thread: {e}"));
    }
    rx.await
        .map_err(|_| "the loading thread stopped".to_string())?
}

/// Empties every database of every shard and installs the parsed keys,
/// holding all shards meanwhile.
pub async fn install(rt: &Rc<ShardRt>, per_shard: Vec<Vec<LoadedKey>>) {
    let shards: Vec<usize> = (0..rt.nshards).collect();
    let held = mesh::hold(rt, &shards).await;
    for (s, keys) in per_shard.into_iter().enumerate() {
        held.run(s, move |rt| {
            crate::server::effects::apply_to_keyspace(
                rt,
                crate::server::effects::KeyspaceChange::Flush {
                    db: None,
                    lazy: true,
                },
            );
            let lru = rt.lru_clock();
            crate::persist::snapshot::install(&mut rt.core.borrow_mut().store, keys, lru);
        })
        .await;
    }
}
