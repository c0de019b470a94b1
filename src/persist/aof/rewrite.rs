//! BGREWRITEAOF: a new base file from a snapshot of the keyspace, while
//! writes go on into a fresh incr file (Redis 7.0 has no rewrite buffer
//! either). At one instant, with every shard held: the pending records go
//! to the current incr file, a new incr file is opened and listed in the
//! manifest, and the snapshot is taken. The base (RDB with `aof-base 1`)
//! is then written off the data cores; once synced it is renamed into
//! place, the manifest lists it, and the old base and incr files go.

use super::Aof;
use crate::persist::rdb::encode::EncodeOpts;
use crate::persist::rdb::file as rdbfile;
use crate::persist::snapshot;
use crate::server::mesh;
use crate::server::shard::ShardRt;
use crate::server::shared::unix_ms;
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

/// Starts a rewrite in the background; the error is Redis's reply when
/// one cannot start.
pub fn start(rt: &Rc<ShardRt>) -> Result<(), &'static str> {
    let aof = rt.shared.aof.clone();
    if aof.rewrite_in_progress.swap(true, Ordering::SeqCst) {
        return Err("ERR Background append only file rewriting already in progress");
    }
    aof.rewrite_started_ms.store(unix_ms(), Ordering::Relaxed);
    let rt = rt.clone();
    glommio::spawn_local(async move {
        let started = unix_ms();
        let result = rewrite(&rt, &aof).await;
        let secs = ((unix_ms() - started) / 1000) as i64;
        aof.last_rewrite_secs.store(secs, Ordering::Relaxed);
        match result {
            Ok(()) => {
                aof.rewrites.fetch_add(1, Ordering::Relaxed);
                aof.rewrite_failures.store(0, Ordering::Relaxed);
                aof.last_rewrite_ok.store(true, Ordering::Relaxed);
                crate::notice!("Background AOF rewrite finished successfully");
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
    Ok(())
}

async fn rewrite(rt: &Rc<ShardRt>, aof: &Arc<Aof>) -> Result<(), String> {
    if !aof.enabled() {
        return Err("the AOF is off".into());
    }
    let (checksum, compress, lru_policy, keep_history) = rt.shared.read_config(|c| {
        (
            c.get_bool("rdbchecksum"),
            c.get_bool("rdbcompression"),
            c.get_str("maxmemory-policy").ends_with("-lru"),
            c.get_bool("aof-disable-auto-gc"),
        )
    });
    let opts = EncodeOpts {
        compress,
        list_fill: rt.settings().exec.encodings.list_max_listpack_size,
    };
    crate::notice!("Background append only file rewriting started");
    // The instant: every shard held while the incr file turns over and
    // each shard serializes its keys.
    let shards: Vec<usize> = (0..rt.nshards).collect();
    let held = mesh::hold(rt, &shards).await;
    aof.rotate_incr()?;
    let now_ms = unix_ms();
    let mut parts = Vec::with_capacity(shards.len());
    for &s in &shards {
        parts.push(
            held.run(s, move |rt| {
                let lru_now = lru_policy.then(|| rt.lru_clock());
                snapshot::serialize_store(&rt.core.borrow().store, now_ms, &opts, lru_now)
            })
            .await,
        );
    }
    drop(held);
    // Writing and syncing the base happens on a thread of its own.
    let (tx, rx) = futures::channel::oneshot::channel();
    let aof2 = aof.clone();
    std::thread::Builder::new()
        .name("aof-rewrite".into())
        .spawn(move || {
            let _ = tx.send(write_base(&aof2, &parts, now_ms, checksum, keep_history));
        })
        .map_err(|e| format!("can't start the rewrite thread: {e}"))?;
    rx.await
        .map_err(|_| "the rewrite thread stopped".to_string())?
}

fn write_base(
    aof: &Aof,
    parts: &[snapshot::ShardPart],
    now_ms: u64,
    checksum: bool,
    keep_history: bool,
) -> Result<(), String> {
    let mut image = snapshot::assemble(parts, now_ms / 1000, checksum);
    // assemble() writes a plain RDB header; a base says `aof-base 1`.
    let used: u64 = parts.iter().map(|p| p.used_mem).sum();
    let (mut plain, mut base) = (Vec::new(), Vec::new());
    rdbfile::write_header(&mut plain, now_ms / 1000, used);
    rdbfile::write_header_for(&mut base, now_ms / 1000, used, true);
    if !image.starts_with(&plain) {
        return Err("unexpected RDB header in the rewrite".into());
    }
    image.splice(..plain.len(), base);
    // The checksum covers the header: compute it again.
    let body_end = image.len() - 8;
    let crc = if checksum {
        crate::persist::rdb::crc64::crc64(0, &image[..body_end])
    } else {
        0
    };
    image[body_end..].copy_from_slice(&crc.to_le_bytes());
    let dir = {
        let files = aof.files.lock().unwrap_or_else(|e| e.into_inner());
        files.as_ref().ok_or("the AOF is off")?.dir.clone()
    };
    let temp = dir.join(format!("temp-rewriteaof-bg-{}.aof", std::process::id()));
    let written = std::fs::File::create(&temp).and_then(|mut f| {
        use std::io::Write;
        f.write_all(&image)?;
        f.sync_all()
    });
    if let Err(e) = written {
        let _ = std::fs::remove_file(&temp);
        return Err(format!("Error writing the rewritten AOF base: {e}"));
    }
    let mut files = aof.files.lock().unwrap_or_else(|e| e.into_inner());
    let f = files.as_mut().ok_or("the AOF is off")?;
    f.install_base(&temp, true, keep_history)
}

/// Once a second on one shard: starts a rewrite when the AOF has grown
/// by `auto-aof-rewrite-percentage` over its size after the last rewrite
/// and is over `auto-aof-rewrite-min-size` (Redis's serverCron rule).
pub async fn cron(rt: Rc<ShardRt>) {
    loop {
        glommio::timer::sleep(std::time::Duration::from_secs(1)).await;
        let aof = &rt.shared.aof;
        if !aof.enabled() || aof.rewrite_in_progress.load(Ordering::Relaxed) {
            continue;
        }
        let (pct, min) = rt.shared.read_config(|c| {
            (
                c.get_i64("auto-aof-rewrite-percentage") as u64,
                c.get_i64("auto-aof-rewrite-min-size") as u64,
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
