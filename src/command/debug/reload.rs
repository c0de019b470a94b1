//! DEBUG RELOAD [MERGE] [NOFLUSH] [NOSAVE]: save the RDB file (unless
//! NOSAVE), empty the keyspace (unless NOFLUSH), load the file back, all
//! while every shard is held, as Redis does it in its one thread.

use crate::config::keys as conf;
use crate::persist::bgsave::{rules, shard::key_delay};
use crate::persist::snapshot;
use crate::server::conn::Conn;
use crate::server::effects::{self, KeyspaceChange};
use crate::server::mesh;
use crate::server::script::library::{self, Policy};
use crate::sys::clock::unix_ms;

pub async fn reload(conn: &mut Conn, opts: &[Vec<u8>]) {
    let (mut flush, mut save, mut merge) = (true, true, false);
    for o in opts {
        if o.eq_ignore_ascii_case(b"merge") {
            merge = true;
            // Loaded keys replace existing ones, which is what Shardis
            // does anyway (Redis without MERGE dies on a duplicate).
        } else if o.eq_ignore_ascii_case(b"noflush") {
            flush = false;
        } else if o.eq_ignore_ascii_case(b"nosave") {
            save = false;
        } else {
            return conn
                .out
                .error("ERR DEBUG RELOAD only supports the MERGE, NOFLUSH and NOSAVE options.");
        }
    }
    let rt = conn.rt.clone();
    rules::wait_no_snapshot().await;
    if save && !crate::persist::blocking_save::save_all(&rt).await {
        return conn.out.error("ERR");
    }
    let (path, limits, databases, checksum, delay) = rt.shared.read_config(|c| {
        (
            c.text(conf::DBFILENAME),
            crate::store::EncodingLimits::from_config(c),
            c.int(conf::DATABASES) as usize,
            c.flag(conf::RDBCHECKSUM),
            c.int(conf::KEY_LOAD_DELAY),
        )
    });
    let shards: Vec<usize> = (0..rt.nshards).collect();
    let held = mesh::hold(&rt, &shards).await;
    let loaded = snapshot::load_file(&path, rt.nshards, databases, &limits, checksum, unix_ms());
    let preload = match loaded {
        Ok(Some(p)) => p,
        Ok(None) | Err(_) => {
            if let Err(e) = loaded {
                crate::warning!("{e}");
            }
            drop(held);
            return conn.out.error("ERR Error trying to load the RDB dump");
        }
    };
    // The libraries: replaced by the file's (flushed with the keys),
    // else joined to them, a library already there being an error unless
    // MERGE (Redis's RDBFLAGS_ALLOW_DUP).
    let policy = match (flush, merge) {
        (true, _) => Policy::Flush,
        (false, true) => Policy::Replace,
        (false, false) => Policy::Append,
    };
    if let Err(e) = library::restore(&preload.stats.functions, policy) {
        crate::warning!("Failed loading the RDB's functions: {e}");
        drop(held);
        return conn.out.error("ERR Error trying to load the RDB dump");
    }
    let keys = preload.stats.loaded + preload.stats.expired;
    for (s, part) in preload.per_shard.into_iter().enumerate() {
        held.run(s, move |rt| {
            // Neither the flush nor the load are changes to save or log.
            let dirty = rt.core.borrow().dirty;
            if flush {
                effects::apply_to_keyspace(
                    rt,
                    KeyspaceChange::Flush {
                        db: None,
                        lazy: false,
                    },
                );
            }
            let lru = rt.lru_seconds();
            let mut core = rt.core.borrow_mut();
            snapshot::install(&mut core.store, part, lru);
            core.dirty = dirty;
        })
        .await;
    }
    // `key-load-delay` (tests): loading takes that long per key.
    let wait = key_delay(delay, keys);
    if !wait.is_zero() {
        glommio::timer::sleep(wait).await;
    }
    drop(held);
    crate::warning!("DB reloaded by DEBUG RELOAD");
    conn.out.ok();
}
