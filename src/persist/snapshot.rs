//! Saving and loading the whole keyspace as an RDB file (`dir/dbfilename`).
//!
//! Saving: each shard serializes its own keys, database by database, into
//! [`ShardPart`]s while the caller holds every shard (command/save.rs);
//! [`assemble`] joins them into one file image and [`write_atomically`]
//! writes it as Redis does: `temp-<pid>.rdb`, fsync, rename, fsync of the
//! directory. Loading: [`load_file`] reads and routes every key to the
//! shard that owns its slot, before any shard serves.

use super::rdb::encode::EncodeOpts;
use super::rdb::file::{self, LoadOpts, LoadStats, LoadedKey};
use crate::store::{EncodingLimits, Store};
use std::io::Write;
use std::path::Path;
use std::sync::atomic::AtomicU64;

/// SAVEs done since start (INFO `rdb_saves`).
pub static RDB_SAVES: AtomicU64 = AtomicU64::new(0);
/// Keys loaded / skipped as expired at start (INFO `rdb_last_load_*`).
pub static LOAD_KEYS_LOADED: AtomicU64 = AtomicU64::new(0);
pub static LOAD_KEYS_EXPIRED: AtomicU64 = AtomicU64::new(0);

/// One shard's keys of one database, already in RDB form.
#[derive(Default)]
pub struct DbPart {
    pub keys: usize,
    pub expires: usize,
    pub bytes: Vec<u8>,
}

/// One shard's contribution: a part per database, and its memory.
pub struct ShardPart {
    pub dbs: Vec<DbPart>,
    pub used_mem: u64,
}

/// Serializes every key of `store` (run on the owning shard, held),
/// those past their TTL but not yet deleted too, as Redis's rdbSave: a
/// master loading the file drops them and, continuing its replication
/// history, feeds their deletion to its backlog (repl/rdb_info.rs).
/// `lru_now` and `idle` give IDLE opcodes under an LRU policy.
pub fn serialize_store(store: &Store, opts: &EncodeOpts, lru_now: Option<u32>) -> ShardPart {
    let mut dbs = Vec::with_capacity(store.dbs.len());
    let mut used_mem = 0u64;
    for db in &store.dbs {
        let mut part = DbPart::default();
        db.for_each_key(0, |k, e| {
            let exp = db.expire_of(k);
            part.keys += 1;
            part.expires += exp.is_some() as usize;
            let idle = lru_now.map(|now| now.saturating_sub(e.lru) as u64);
            file::write_key(&mut part.bytes, k, &e.value, exp, idle, opts);
        });
        used_mem += db.approx_memory() as u64;
        dbs.push(part);
    }
    ShardPart { dbs, used_mem }
}

/// The whole file image from the shards' parts.
pub fn assemble(
    parts: &[ShardPart],
    ctime_secs: u64,
    checksum: bool,
    extra_aux: &[(String, String)],
) -> Vec<u8> {
    let total: usize = parts
        .iter()
        .flat_map(|p| p.dbs.iter().map(|d| d.bytes.len()))
        .sum();
    let used_mem: u64 = parts.iter().map(|p| p.used_mem).sum();
    let mut out = Vec::with_capacity(total + 256);
    file::write_header_with(&mut out, ctime_secs, used_mem, extra_aux);
    let ndbs = parts.iter().map(|p| p.dbs.len()).max().unwrap_or(0);
    for db in 0..ndbs {
        let of = |p: &ShardPart| p.dbs.get(db).map_or((0, 0), |d| (d.keys, d.expires));
        let (keys, expires) = parts
            .iter()
            .map(of)
            .fold((0, 0), |a, b| (a.0 + b.0, a.1 + b.1));
        if keys == 0 {
            continue;
        }
        file::write_db_header(&mut out, db, keys, expires);
        for p in parts {
            if let Some(d) = p.dbs.get(db) {
                out.extend_from_slice(&d.bytes);
            }
        }
    }
    file::write_footer(&mut out, checksum);
    out
}

/// Writes `image` to `temp-<pid>.rdb` in the working directory (the
/// configured `dir`), fsyncs it, renames it to `dbfilename` and fsyncs
/// the directory. An error is the line Redis logs for it.
pub fn write_atomically(image: &[u8], dbfilename: &str) -> Result<(), String> {
    commit_temp(open_temp()?, image, dbfilename)
}

/// The temp file a save writes first, `temp-<pid>.rdb`.
pub struct TempRdb {
    file: std::fs::File,
    name: String,
}

/// Creates the temp file; a save opens it before serializing, as Redis's
/// rdbSave (a save cut short by a second SIGINT leaves it for the signal
/// thread to remove).
pub fn open_temp() -> Result<TempRdb, String> {
    let name = format!("temp-{}.rdb", std::process::id());
    match std::fs::File::create(&name) {
        Ok(file) => Ok(TempRdb { file, name }),
        Err(e) => Err(format!(
            "Failed opening the temp RDB file {name} (in server root dir {}) for saving: {e}",
            cwd()
        )),
    }
}

fn cwd() -> String {
    std::env::current_dir()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|_| "unknown".into())
}

/// Writes `image` into the temp file, fsyncs it, renames it to
/// `dbfilename` and fsyncs the directory.
pub fn commit_temp(temp: TempRdb, image: &[u8], dbfilename: &str) -> Result<(), String> {
    let TempRdb {
        mut file,
        name: tmp,
    } = temp;
    if let Err(e) = file.write_all(image).and_then(|_| file.sync_all()) {
        let _ = std::fs::remove_file(&tmp);
        return Err(format!("Write error saving DB on disk: {e}"));
    }
    drop(file);
    if let Err(e) = std::fs::rename(&tmp, dbfilename) {
        let _ = std::fs::remove_file(&tmp);
        return Err(format!(
            "Error moving temp DB file {tmp} on the final destination {dbfilename} (in server root dir {}): {e}",
            cwd()
        ));
    }
    // The rename itself must reach the disk.
    let parent = Path::new(dbfilename)
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    if let Ok(d) = std::fs::File::open(parent) {
        let _ = d.sync_all();
    }
    crate::notice!("DB saved on disk");
    Ok(())
}

/// Keys loaded from a file, one list per shard (by slot owner).
pub struct Preload {
    pub per_shard: Vec<Vec<LoadedKey>>,
    pub stats: LoadStats,
}

/// Reads `path` if it exists (None if it does not) and routes each key to
/// `slot % nshards`. The error is one line naming the file, the offset
/// and the reason.
pub fn load_file(
    path: &str,
    nshards: usize,
    databases: usize,
    limits: &EncodingLimits,
    checksum: bool,
    now_ms: u64,
) -> Result<Option<Preload>, String> {
    let buf = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(format!(
                "Fatal error loading the DB from {path}: {e}. Exiting."
            ))
        }
    };
    let mut per_shard: Vec<Vec<LoadedKey>> = (0..nshards).map(|_| Vec::new()).collect();
    let opts = LoadOpts {
        databases,
        limits,
        now_ms,
        checksum,
    };
    let stats = file::read_file(&buf, &opts, |k| {
        let shard = crate::slot::key_slot(&k.key) as usize % nshards;
        per_shard[shard].push(k);
    })
    .map_err(|e| {
        // As Redis's rdbReportError then redis-check-rdb's report: the
        // failure, then which key and where, then the verdict.
        crate::warning!(
            "Internal error in RDB reading offset {} -> {}",
            e.offset,
            e.reason
        );
        let what = match &e.key {
            Some((key, t)) => format!("key '{}' (object type {t})", String::from_utf8_lossy(key)),
            None => "the file's structure".to_string(),
        };
        crate::warning!(
            "RDB ERROR DETECTED in {path} at offset {}, reading {what}: {}",
            e.offset,
            e.reason
        );
        "Terminating server after rdb file reading failure.".to_string()
    })?;
    Ok(Some(Preload { per_shard, stats }))
}

/// Stores a shard's preloaded keys (before it serves).
pub fn install(store: &mut Store, keys: Vec<LoadedKey>, lru: u32) {
    for k in keys {
        if let Some(db) = store.dbs.get_mut(k.db) {
            db.set_with_expire(&k.key, k.value, k.expire_ms, lru);
        }
    }
}
