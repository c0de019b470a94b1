//! Loading the data on disk at start-up while the node already serves,
//! as redis-server 7.0 listens before it loads and answers meanwhile:
//! `run` (mod.rs) starts the shards with empty keyspaces and the
//! loading state on (`repl::replica::Loading`: INFO `loading:1`,
//! -LOADING for commands without the `loading` flag, which include every
//! write), reads the RDB or AOF on its own thread, then hands each shard
//! its keys. The state ends once every shard has installed them, so no
//! command touches the data before it is all there.

use super::shard::ShardRt;
use crate::config::keys as conf;
use crate::config::Config;
use crate::persist::aof::files::AofFiles;
use crate::persist::rdb::file::{LoadStats, LoadedKey};
use crate::repl::replica::Loading;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Duration;

/// Loaded keys, each shard's apart.
pub type PerShard = Vec<Vec<LoadedKey>>;

/// What the start-up load found.
pub struct Loaded {
    pub keys: Option<PerShard>,
    /// `appendonly yes`: the files the log goes on appending to.
    pub aof_files: Option<AofFiles>,
    /// The RDB's replication fields and load counts.
    pub rdb_stats: Option<LoadStats>,
}

/// Whether there is data to load: Redis enters its loading state only
/// for a file it opened (with `appendonly yes`, the AOF directory's).
pub fn has_data(config: &Config) -> bool {
    if config.flag(conf::APPENDONLY) {
        std::fs::read_dir(config.text(conf::APPENDDIRNAME))
            .is_ok_and(|mut files| files.next().is_some())
    } else {
        std::path::Path::new(&config.text(conf::DBFILENAME)).exists()
    }
}

/// The data on disk, each shard's keys apart: the AOF with `appendonly
/// yes`, else `dbfilename` if it exists. `key_load_delay` reads the
/// live `key-load-delay`, which CONFIG SET may change during the load.
pub fn load_at_start(
    config: &Config,
    nshards: usize,
    loading: &Loading,
    key_load_delay: &dyn Fn() -> i64,
) -> Result<Loaded, String> {
    if config.flag(conf::APPENDONLY) {
        // Redis counts the base and incr files; the manifest beside them
        // is a few bytes.
        let files = std::fs::read_dir(config.text(conf::APPENDDIRNAME)).into_iter();
        let size = files
            .flatten()
            .flatten()
            .filter_map(|e| e.metadata().ok())
            .map(|m| m.len() as usize)
            .sum();
        loading.sized(size);
        let opened = super::aof_replay::open_at_start(config, nshards, 1 << 24)?;
        loading.progress(size);
        return Ok(Loaded {
            keys: Some(opened.keys),
            aof_files: Some(opened.files),
            rdb_stats: None,
        });
    }
    Ok(match load_rdb(config, nshards, loading, key_load_delay)? {
        Some(p) => Loaded {
            keys: Some(p.per_shard),
            aof_files: None,
            rdb_stats: Some(p.stats),
        },
        None => Loaded {
            keys: None,
            aof_files: None,
            rdb_stats: None,
        },
    })
}

/// Reads `dbfilename` (relative to `dir`, the working directory) if it
/// exists; a bad file is a one-line start-up error.
fn load_rdb(
    config: &Config,
    nshards: usize,
    loading: &Loading,
    key_load_delay: &dyn Fn() -> i64,
) -> Result<Option<crate::persist::snapshot::Preload>, String> {
    use crate::persist::snapshot;
    let path = config.text(conf::DBFILENAME);
    let size = std::fs::metadata(&path).map_or(0, |m| m.len() as usize);
    loading.sized(size);
    let limits = crate::store::EncodingLimits::from_config(config);
    let databases = config.int(conf::DATABASES) as usize;
    let checksum = config.flag(conf::RDBCHECKSUM);
    let now = crate::sys::clock::unix_ms();
    let Some(p) = snapshot::load_file(&path, nshards, databases, &limits, checksum, now)? else {
        return Ok(None);
    };
    super::script::library::restore(&p.stats.functions, super::script::library::Policy::Flush)
        .map_err(|e| format!("Failed loading the RDB's functions: {e}"))?;
    let st = &p.stats;
    let aux = |k: &str| {
        st.aux
            .iter()
            .find(|(n, _)| n == k.as_bytes())
            .map(|(_, v)| String::from_utf8_lossy(v).into_owned())
    };
    if let Some(v) = aux("redis-ver") {
        crate::notice!("Loading RDB produced by version {v}");
    }
    // `key-load-delay` (tests): loading takes that long per key, the
    // progress moving with the keys.
    pace(loading, key_load_delay, st.loaded + st.expired, size);
    if st.empty > 0 {
        crate::warning!(
            "Done loading RDB, keys loaded: {}, keys expired: {}, empty keys skipped: {}.",
            st.loaded,
            st.expired,
            st.empty
        );
    } else {
        crate::notice!(
            "Done loading RDB, keys loaded: {}, keys expired: {}.",
            st.loaded,
            st.expired
        );
    }
    snapshot::LOAD_KEYS_LOADED.store(st.loaded, Ordering::Relaxed);
    snapshot::LOAD_KEYS_EXPIRED.store(st.expired, Ordering::Relaxed);
    Ok(Some(p))
}

/// Spends `key-load-delay` per key, read again for each key (Redis's
/// debugDelay in its load loop, which reads the live setting), and
/// reports the bytes loaded in proportion to the keys. With no delay (or
/// once it is set to 0) the rest would take no time: done at once, not a
/// config read per key.
fn pace(loading: &Loading, key_load_delay: &dyn Fn() -> i64, keys: u64, size: usize) {
    for done in 0..keys {
        let delay = key_load_delay();
        if delay == 0 {
            break;
        }
        let wait = crate::persist::bgsave::shard::key_delay(delay, 1);
        if !wait.is_zero() {
            std::thread::sleep(wait);
        }
        loading.progress((size as u128 * done as u128 / keys as u128) as usize);
    }
    loading.progress(size);
}

/// The loaded keys on their way to the shards.
#[derive(Default)]
pub struct Handoff {
    keys: Mutex<Option<PerShard>>,
    handed: AtomicBool,
    installed: AtomicUsize,
}

impl Handoff {
    /// Gives the shards their keys (None: nothing was loaded).
    pub fn hand(&self, keys: Option<PerShard>) {
        *self.keys.lock().unwrap() = keys;
        self.handed.store(true, Ordering::Release);
    }

    /// Blocks `run`'s thread until every shard has installed its keys.
    pub fn wait_installed(&self, nshards: usize) {
        while self.installed.load(Ordering::Acquire) < nshards {
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    /// A shard's part: waits for its keys and installs them. The shard
    /// answers requests meanwhile (with -LOADING, mostly).
    pub async fn install(&self, rt: &Rc<ShardRt>) {
        while !self.handed.load(Ordering::Acquire) {
            glommio::timer::sleep(Duration::from_millis(1)).await;
        }
        let keys = self
            .keys
            .lock()
            .unwrap()
            .as_mut()
            .map(|v| std::mem::take(&mut v[rt.id]));
        if let Some(keys) = keys {
            let lru = rt.lru_clock();
            crate::persist::snapshot::install(&mut rt.core.borrow_mut().store, keys, lru);
        }
        self.installed.fetch_add(1, Ordering::Release);
    }
}
