//! BGREWRITEAOF: a new base file from a snapshot of the keyspace, while
//! writes go on into a fresh incr file (Redis 7.0 has no rewrite buffer
//! either). At the snapshot instant, with every shard held: the pending
//! records go to the current incr file and a new incr file is opened and
//! listed in the manifest. The shards then serialize the base (RDB with
//! `aof-base 1`) in time slices between requests, as BGSAVE does; once
//! synced it is renamed into place, the manifest lists it, and the old
//! base and incr files go. With `aof-use-rdb-preamble no` the base must
//! be commands: the RDB snapshot is still how the shards hand over their
//! data (no second serializer on the data cores), and the rewrite thread
//! turns it into commands (emit.rs) before installing it.

use super::emit::Emitter;
use super::Aof;
use crate::config::keys as conf;
use crate::persist::bgsave::{self, status, SnapshotSlot};
use crate::persist::host::{NodeState, ShardData, ShardHost};
use crate::persist::rdb::file::{self as rdbfile, LoadOpts, LoadedKey};
use crate::sys::clock::unix_ms;
use std::cell::Cell;
use std::io::Write;
use std::path::Path;
use std::rc::Rc;
use std::sync::atomic::Ordering;
use std::sync::Arc;

/// Retries of a failed automatic rewrite wait this long.
const FAILED_RETRY_MS: u64 = 60_000;

impl Aof {
    /// Flushes the pending records into the current incr file, syncs it,
    /// and starts a new incr file. Called with every shard held.
    fn rotate_incr(&self) -> Result<(), String> {
        let mut files = self.files.lock().unwrap_or_else(|e| e.into_inner());
        let f = files.as_mut().ok_or("the AOF is off")?;
        let mut p = self.log.pending.lock().unwrap_or_else(|e| e.into_inner());
        if !p.buf.is_empty() {
            f.append(&p.buf)
                .map_err(|e| format!("Error writing to the AOF file: {e}"))?;
            p.buf.clear();
            self.log.written.store(p.end, Ordering::Release);
        }
        f.fsync()
            .map_err(|e| format!("Error syncing the AOF file: {e}"))?;
        self.log.mark_synced(p.end);
        f.rotate()?;
        // The new file starts with a SELECT of its own.
        super::log::AofLog::reset_db(&mut p);
        Ok(())
    }
}

/// Fsyncs the current incr file on a thread of its own, before the
/// snapshot instant: the incr file's turnover fsyncs it again with every
/// shard held, and what an everysec AOF left dirty (up to a second of
/// writes) would otherwise be pushed to disk then, stalling every shard
/// (16 ms in scripts/bench-latency.sh's automatic rewrite row). A
/// failure here is reported by that second fsync.
async fn presync(aof: &Arc<Aof>) {
    let handle = {
        let files = aof.files.lock().unwrap_or_else(|e| e.into_inner());
        files.as_ref().and_then(|f| f.incr_handle().ok())
    };
    let Some(file) = handle else { return };
    let (tx, rx) = futures::channel::oneshot::channel();
    let spawned = crate::sys::cpus::spawn_background("aof-presync", move || {
        let _ = file.sync_data();
        let _ = tx.send(());
    });
    if spawned.is_ok() {
        let _ = rx.await;
    }
}

/// How a rewrite request went.
#[derive(Debug, PartialEq, Eq)]
pub enum RewriteStart {
    Started,
    /// Another snapshot (BGSAVE) runs: the rewrite starts when it ends.
    Scheduled,
}

/// Starts a rewrite in the background (or schedules it behind a running
/// BGSAVE); the error is Redis's reply when one cannot start.
pub fn start<H: ShardHost>(rt: &Rc<H>) -> Result<RewriteStart, &'static str> {
    let aof = rt.node().aof().clone();
    if aof.rewrite_in_progress.load(Ordering::SeqCst) {
        return Err("ERR Background append only file rewriting already in progress");
    }
    // Inside EXEC Redis only schedules it (server.in_exec); the cron
    // starts it right after.
    if H::in_exec() {
        aof.rewrite_scheduled.store(true, Ordering::SeqCst);
        return Ok(RewriteStart::Scheduled);
    }
    let Some(slot) = status::try_reserve(false) else {
        aof.rewrite_scheduled.store(true, Ordering::SeqCst);
        return Ok(RewriteStart::Scheduled);
    };
    aof.rewrite_scheduled.store(false, Ordering::SeqCst);
    aof.rewrite_stopped.store(false, Ordering::SeqCst);
    aof.rewrite_in_progress.store(true, Ordering::SeqCst);
    aof.rewrite_started_ms.store(unix_ms(), Ordering::Relaxed);
    let rt = rt.clone();
    crate::sys::exec::spawn(async move {
        let started = unix_ms();
        let result = rewrite(&rt, &aof, &slot).await;
        drop(slot);
        let secs = ((unix_ms() - started) / 1000) as i64;
        aof.last_rewrite_secs.store(secs, Ordering::Relaxed);
        match result {
            Ok(()) => {
                aof.awaiting_base.store(false, Ordering::SeqCst);
                aof.rewrites.fetch_add(1, Ordering::Relaxed);
                aof.rewrite_failures.store(0, Ordering::Relaxed);
                aof.last_rewrite_ok.store(true, Ordering::Relaxed);
                crate::notice!("Background AOF rewrite finished successfully");
            }
            // Stopped by CONFIG SET appendonly no: not a failure, as a
            // killed AOF child is not one for Redis.
            Err(_) if aof.rewrite_stopped.load(Ordering::SeqCst) => {
                crate::notice!("Background AOF rewrite stopped: the AOF was turned off");
            }
            Err(e) => {
                aof.rewrite_failures.fetch_add(1, Ordering::Relaxed);
                aof.last_rewrite_ok.store(false, Ordering::Relaxed);
                crate::warning!("Background AOF rewrite failed: {e}");
            }
        }
        aof.rewrite_in_progress.store(false, Ordering::SeqCst);
    })
    .detach();
    Ok(RewriteStart::Started)
}

/// The rewrite proper: the time-sliced snapshot (bgsave) writes the new
/// base to a temp file; at its instant, with every shard held, the incr
/// file turns over, so the base plus the new incr file is the whole data.
async fn rewrite<H: ShardHost>(
    rt: &Rc<H>,
    aof: &Arc<Aof>,
    slot: &SnapshotSlot,
) -> Result<(), String> {
    // With `appendonly no` Redis still writes a base and a manifest that
    // lists it alone (no incr file turns over).
    let off = match aof.enabled() {
        true => None,
        false => Some(
            rt.node()
                .read_config(super::startup::for_rewrite_while_off)?,
        ),
    };
    let keep_history = rt.node().read_config(|c| c.flag(conf::AOF_DISABLE_AUTO_GC));
    // Read once: a CONFIG SET during the rewrite applies to the next one.
    let plain = rt
        .node()
        .read_config(|c| (!c.flag(conf::AOF_USE_RDB_PREAMBLE)).then(|| Plain::from_config(c)));
    let dir = match &off {
        Some((dir, ..)) => dir.clone(),
        None => {
            let files = aof.files.lock().unwrap_or_else(|e| e.into_inner());
            files.as_ref().ok_or("the AOF is off")?.dir.clone()
        }
    };
    crate::notice!("Background append only file rewriting started");
    let temp_name = format!("temp-rewriteaof-bg-{}", std::process::id());
    let temp = dir.join(format!("{temp_name}.aof"));
    // Without the preamble the snapshot is only a step: the commands made
    // from it take the `.aof` name.
    let snap = match plain {
        Some(_) => dir.join(format!("{temp_name}.rdb")),
        None => temp.clone(),
    };
    let rotated: Rc<Cell<Option<Result<(), String>>>> = Rc::new(Cell::new(None));
    let at_instant = {
        let (aof, rotated, on) = (aof.clone(), rotated.clone(), off.is_none());
        Box::new(move || rotated.set(Some(if on { aof.rotate_incr() } else { Ok(()) })))
    };
    if off.is_none() {
        presync(aof).await;
    }
    let aux = vec![("aof-base".to_string(), "1".to_string())];
    let snapshot = bgsave::snapshot_reserved(rt, slot, &snap, aux, at_instant).await;
    let outcome = rotated
        .take()
        .unwrap_or_else(|| Err("the incr file did not turn over".into()))
        .and(snapshot.map(|_| ()));
    if let Err(e) = outcome {
        let _ = std::fs::remove_file(&snap);
        return Err(e);
    }
    // Renames and the manifest's fsyncs happen on a thread of their own.
    let (tx, rx) = futures::channel::oneshot::channel();
    let aof2 = aof.clone();
    crate::sys::cpus::spawn_background("aof-rewrite", move || {
        // The conversion runs before the lock: writes go on meanwhile.
        let made = match &plain {
            Some(p) => p.convert(&snap, &temp),
            None => Ok(()),
        };
        let mut files = aof2.files.lock().unwrap_or_else(|e| e.into_inner());
        let rdb = plain.is_none();
        let installed = match (made, &off, files.as_mut()) {
            (Err(e), ..) => Err(e),
            (Ok(()), Some((dir, name, manifest)), _) => {
                let target = super::files::Target { dir, name };
                target
                    .install_base(
                        manifest,
                        &temp,
                        rdb,
                        keep_history,
                        super::files::Current::None,
                    )
                    .map(|_| ())
            }
            (Ok(()), None, Some(f)) => f.install_base(&temp, rdb, keep_history),
            (Ok(()), None, None) => Err("the AOF is off".into()),
        };
        if installed.is_err() {
            let _ = std::fs::remove_file(&temp);
        }
        let _ = tx.send(installed);
    })
    .map_err(|e| format!("can't start the rewrite thread: {e}"))?;
    rx.await
        .map_err(|_| "the rewrite thread stopped".to_string())?
}

/// What turning the snapshot into commands needs (`aof-use-rdb-preamble
/// no`), taken from the config when the rewrite starts.
struct Plain {
    databases: usize,
    checksum: bool,
    limits: crate::store::EncodingLimits,
    /// Keys expired by then are left out, as Redis's rewrite does.
    now_ms: u64,
    /// `aof-timestamp-enabled`: the base starts with a `#TS:` line.
    timestamp: bool,
}

impl Plain {
    fn from_config(c: &crate::config::Config) -> Plain {
        Plain {
            databases: c.int(conf::DATABASES) as usize,
            checksum: c.flag(conf::RDBCHECKSUM),
            limits: crate::store::EncodingLimits::from_config(c),
            now_ms: unix_ms(),
            timestamp: c.flag(conf::AOF_TIMESTAMP_ENABLED),
        }
    }

    /// Writes the keys of the RDB file `rdb` as commands into `aof`
    /// (synced), and deletes `rdb` whatever happens.
    fn convert(&self, rdb: &Path, aof: &Path) -> Result<(), String> {
        let bytes = std::fs::read(rdb);
        let _ = std::fs::remove_file(rdb);
        let bytes = bytes.map_err(|e| format!("can't read the rewrite snapshot: {e}"))?;
        let opts = LoadOpts {
            databases: self.databases,
            limits: &self.limits,
            now_ms: self.now_ms,
            checksum: self.checksum,
        };
        let write_err = |e: std::io::Error| {
            let _ = std::fs::remove_file(aof);
            format!("Error writing the AOF rewrite file {}: {e}", aof.display())
        };
        let file = std::fs::File::create(aof).map_err(write_err)?;
        let mut out = std::io::BufWriter::with_capacity(1 << 20, file);
        let (mut emitter, mut buf) = (Emitter::new(), Vec::new());
        let mut failed: Option<std::io::Error> = None;
        if self.timestamp {
            let annotation = super::log::timestamp_annotation(self.now_ms / 1000);
            out.write_all(annotation.as_bytes()).map_err(write_err)?;
        }
        let read = rdbfile::read_file(&bytes, &opts, |k: LoadedKey| {
            if failed.is_some() {
                return;
            }
            buf.clear();
            emitter.key(&mut buf, k.db, &k.key, &k.value, k.expire_ms);
            if let Err(e) = out.write_all(&buf) {
                failed = Some(e);
            }
        });
        let stats = match read {
            Ok(stats) => stats,
            Err(e) => {
                let _ = std::fs::remove_file(aof);
                return Err(format!(
                    "the rewrite snapshot does not read back at offset {}: {}",
                    e.offset, e.reason
                ));
            }
        };
        // The function libraries, as the commands that load them
        // (Redis's rewriteFunctions).
        for code in &stats.functions {
            buf.clear();
            buf.extend_from_slice(b"*3\r\n$8\r\nFUNCTION\r\n$4\r\nLOAD\r\n");
            buf.extend_from_slice(format!("${}\r\n", code.len()).as_bytes());
            buf.extend_from_slice(code);
            buf.extend_from_slice(b"\r\n");
            if let Err(e) = out.write_all(&buf) {
                failed = Some(e);
            }
        }
        if let Some(e) = failed {
            return Err(write_err(e));
        }
        let file = out.into_inner().map_err(|e| write_err(e.into_error()))?;
        file.sync_all().map_err(write_err)
    }
}

/// Once a second on one shard: starts a rewrite when the AOF has grown
/// by `auto-aof-rewrite-percentage` over its size after the last rewrite
/// and is over `auto-aof-rewrite-min-size` (Redis's serverCron rule).
pub async fn cron<H: ShardHost>(rt: Rc<H>) {
    loop {
        glommio::timer::sleep(std::time::Duration::from_secs(1)).await;
        let aof = rt.node().aof();
        if aof.rewrite_in_progress.load(Ordering::Relaxed) {
            continue;
        }
        // A scheduled rewrite runs even with the AOF off (BGREWRITEAOF in
        // an EXEC writes a base all the same).
        if aof.rewrite_scheduled.load(Ordering::Relaxed) {
            if !status::snapshot_running() {
                let _ = start(&rt);
            }
            continue;
        }
        if !aof.enabled() {
            continue;
        }
        let (pct, min) = rt.node().read_config(|c| {
            (
                c.int(conf::AUTO_AOF_REWRITE_PERCENTAGE) as u64,
                c.int(conf::AUTO_AOF_REWRITE_MIN_SIZE) as u64,
            )
        });
        if pct == 0 {
            continue;
        }
        let failing = aof.rewrite_failures.load(Ordering::Relaxed) > 0
            && unix_ms() - aof.rewrite_started_ms.load(Ordering::Relaxed) < FAILED_RETRY_MS;
        let (size, base) = aof.sizes();
        let base = base.max(1);
        if !failing && size > min && (size - base.min(size)) * 100 / base >= pct {
            crate::notice!(
                "Starting automatic rewriting of AOF on {}% growth",
                (size - base.min(size)) * 100 / base
            );
            let _ = start(&rt);
        }
    }
}
