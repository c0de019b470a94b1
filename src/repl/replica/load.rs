//! Loading the RDB a master sent: parsed on a background thread (the
//! event loops keep serving), then the dataset is replaced shard by shard
//! while every shard is held, so no command sees half of it.

use crate::config::keys as conf;
use crate::persist::rdb::file::{read_file, LoadOpts, LoadStats, LoadedKey};
use crate::repl::host::{ReplHost, ReplShared};
use crate::store::EncodingLimits;
use std::rc::Rc;

/// Keys per owning shard, and what the file said besides.
pub struct Parsed {
    pub per_shard: Vec<Vec<LoadedKey>>,
    pub stats: LoadStats,
}

/// Parses `rdb` off the event loop. With `to_disk` (`repl-diskless-load
/// disabled`) it is first written as `dbfilename` (in the working
/// directory, the configured `dir`), as a disk-loading Redis replica
/// does: the file stays even if it does not load, and a failed write
/// fails the sync. A replica keeps keys whose TTL already passed: the
/// master's DEL removes them.
pub async fn parse<H: ReplHost>(rt: &Rc<H>, rdb: Vec<u8>, to_disk: bool) -> Result<Parsed, String> {
    let nshards = rt.nshards();
    let (databases, limits, checksum, dbfilename) = rt.shared().read_config(|c| {
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
            if to_disk {
                if let Err(e) = crate::persist::snapshot::write_atomically(&rdb, &dbfilename) {
                    let _ = tx.send(Err(e));
                    return;
                }
            }
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
                let from = if to_disk { "disk" } else { "socket" };
                format!("Failed trying to load the MASTER synchronization DB from {from}: {e}")
            });
            let _ = tx.send(result);
        });
    if let Err(e) = spawned {
        return Err(format!("Can't start the loading thread: {e}"));
    }
    rx.await
        .map_err(|_| "the loading thread stopped".to_string())?
}

/// Empties every database of every shard and installs the parsed keys,
/// holding all shards meanwhile (the engine does it).
pub async fn install<H: ReplHost>(rt: &Rc<H>, per_shard: Vec<Vec<LoadedKey>>) {
    H::replace_dataset(rt, per_shard).await;
}
