//! Background snapshots without fork: BGSAVE, `save` rules, and the
//! producer the AOF rewrite and replication full sync are meant to reuse.
//!
//! At the snapshot instant every shard is held for a moment (as SAVE
//! does) and records a cursor over its slots; then each shard serializes
//! its slots in short time slices between requests (`shard.rs`), and a
//! writer thread streams the chunks to a temp file (`writer.rs`). A write
//! to a slot not yet serialized serializes that slot first, so the file
//! is the keyspace as it was at the instant. Only one snapshot runs at a
//! time (`status.rs`).

pub mod background;
pub mod copies;
pub mod rules;
pub mod shard;
pub mod socket_sink;
pub mod status;
pub mod writer;

pub use background::{start_bgsave, BgsaveStart};
pub use shard::{active_here, before_key_write, before_keyspace_write};
pub use status::SnapshotSlot;

use crate::config::keys as conf;
use crate::persist::host::{HeldShards, NodeState, ShardData, ShardHost};
use crate::persist::rdb::encode::EncodeOpts;
use crate::persist::rdb::file;
use crate::sys::clock::unix_ms;
use futures::channel::oneshot;
use std::path::Path;
use std::rc::Rc;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

/// What a finished snapshot wrote.
#[derive(Debug, Clone)]
pub struct SnapshotStats {
    /// The snapshot instant, Unix ms.
    pub started_ms: u64,
    pub keys: u64,
    pub bytes: u64,
    pub duration: std::time::Duration,
    /// Each shard's change counter at the instant (by shard id): the
    /// changes the file covers.
    pub dirty_at_start: Vec<u64>,
}

/// The error for a snapshot asked for while another runs.
pub const BUSY: &str = "ERR Background save already in progress";

/// Writes the point-in-time keyspace to `path` (through a temp file in
/// the same directory). `at_start` runs on this shard while every shard
/// is held at the snapshot instant; `extra_aux` adds AUX fields to (or
/// overrides those of) SAVE's header, e.g. `aof-base 1`.
pub async fn snapshot_to_file<H: ShardHost>(
    rt: &Rc<H>,
    path: &Path,
    extra_aux: Vec<(String, String)>,
    at_start: Box<dyn FnOnce()>,
) -> Result<SnapshotStats, String> {
    let slot = status::try_reserve(false).ok_or_else(|| BUSY.to_string())?;
    snapshot_reserved(rt, &slot, path, extra_aux, at_start).await
}

/// [`snapshot_to_file`] for a caller that already holds the snapshot slot.
pub async fn snapshot_reserved<H: ShardHost>(
    rt: &Rc<H>,
    slot: &SnapshotSlot,
    path: &Path,
    extra_aux: Vec<(String, String)>,
    at_start: Box<dyn FnOnce()>,
) -> Result<SnapshotStats, String> {
    let aux = Box::new(move || {
        at_start();
        (extra_aux, None)
    });
    snapshot_reserved_aux(rt, slot, path, aux, true).await
}

/// What a snapshot's start decides, with every shard held: the AUX
/// fields (replication's `repl-offset`), and for a diskless full sync the
/// replica sockets to send to instead of the file.
pub type AtStart = Box<dyn FnOnce() -> (Vec<(String, String)>, Option<socket_sink::Sockets>)>;

/// [`snapshot_reserved`] whose AUX fields (and maybe destination) are
/// decided at the snapshot instant. Without `durable`, nothing is
/// fsynced (a file only sent to replicas).
pub async fn snapshot_reserved_aux<H: ShardHost>(
    rt: &Rc<H>,
    _slot: &SnapshotSlot,
    path: &Path,
    at_start: AtStart,
    durable: bool,
) -> Result<SnapshotStats, String> {
    let started = Instant::now();
    let (checksum, compress, lru_policy, incremental_fsync) = rt.node().read_config(|c| {
        (
            c.flag(conf::RDBCHECKSUM),
            c.flag(conf::RDBCOMPRESSION),
            c.text(conf::MAXMEMORY_POLICY).ends_with("-lru"),
            c.flag(conf::RDB_SAVE_INCREMENTAL_FSYNC),
        )
    });
    let opts = EncodeOpts {
        compress,
        list_fill: rt.list_fill(),
    };
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut target = writer::Target {
        temp: dir.join(format!("temp-bgsave-{}.rdb", std::process::id())),
        path: path.to_path_buf(),
        checksum,
        incremental_fsync: incremental_fsync && durable,
        durable,
        sockets: None,
    };
    let flow = Arc::new(writer::Flow::default());
    let used_mem = resident_bytes();

    let shards: Vec<usize> = (0..rt.shard_count()).collect();
    let mut done = Vec::with_capacity(shards.len());
    let mut dirty_at_start = Vec::with_capacity(shards.len());
    let held = H::hold(rt, &shards).await;
    let now_ms = unix_ms();
    let (extra_aux, sockets) = at_start();
    target.sockets = sockets;
    let mut header = Vec::new();
    file::write_header_with(&mut header, now_ms / 1000, used_mem, &extra_aux);
    let sink = writer::spawn(target, header, flow.clone())?;
    for &s in &shards {
        let (done_tx, done_rx) = oneshot::channel();
        done.push(done_rx);
        let feed = shard::Feed {
            sink: sink.clone(),
            flow: flow.clone(),
            done: done_tx,
        };
        let (keys, dirty) = held
            .run(s, move |rt| {
                let params = shard::Params {
                    now_ms,
                    opts,
                    key_delay_us: rt.node().read_config(|c| c.int(conf::RDB_KEY_SAVE_DELAY)),
                    lru_now: lru_policy.then(|| rt.lru_seconds()),
                };
                let dirty = rt.dirty();
                (shard::begin(rt, params, feed), dirty)
            })
            .await;
        status::KEYS_TOTAL.fetch_add(keys, Ordering::Relaxed);
        dirty_at_start.push(dirty);
    }
    drop(held);

    let mut keys = 0;
    let mut failure = None;
    for rx in done {
        match rx.await {
            Ok(Ok(n)) => keys += n,
            Ok(Err(e)) => failure = Some(e),
            Err(_) => failure = Some("a shard dropped its snapshot".into()),
        }
    }
    if failure.is_some() && !flow.failed.load(Ordering::Acquire) {
        let (removed_tx, removed_rx) = oneshot::channel();
        if sink.send(writer::ToWriter::Abort(removed_tx)).is_ok() {
            let _ = removed_rx.await;
        }
        return Err(failure.unwrap_or_default());
    }
    // A writer failure is reported by Finish with the line to log.
    let (reply_tx, reply_rx) = oneshot::channel();
    sink.send(writer::ToWriter::Finish(reply_tx))
        .map_err(|_| "Write error saving DB on disk: writer thread gone".to_string())?;
    let bytes = reply_rx
        .await
        .map_err(|_| "Write error saving DB on disk: writer thread gone".to_string())??;
    Ok(SnapshotStats {
        started_ms: now_ms,
        keys,
        bytes,
        duration: started.elapsed(),
        dirty_at_start,
    })
}

/// The process's resident memory (what INFO reports as used_memory), for
/// the `used-mem` AUX field: cheap to read, unlike walking every key.
fn resident_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    // SAFETY: sysconf has no preconditions.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    pages * page.max(0) as u64
}
