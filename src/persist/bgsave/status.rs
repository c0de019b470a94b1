//! Process-wide state of snapshots: whether one runs, how the last
//! background save went, and the progress counters INFO persistence
//! shows. One server runs per process, so plain atomics suffice; every
//! reader is off the per-command path except [`last_bgsave_ok`], which
//! MISCONF checks on each write (one relaxed load).

use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};

/// A snapshot (BGSAVE, or a future AOF rewrite / full sync) is running.
static SNAPSHOT_RUNNING: AtomicBool = AtomicBool::new(false);
/// The running snapshot is an RDB one, BGSAVE or a full sync's (INFO
/// `rdb_bgsave_in_progress`).
static BGSAVE_RUNNING: AtomicBool = AtomicBool::new(false);
/// BGSAVE SCHEDULE asked for a save once the running snapshot ends.
static BGSAVE_SCHEDULED: AtomicBool = AtomicBool::new(false);
/// Whether the last background save (or SAVE) succeeded.
static LAST_BGSAVE_OK: AtomicBool = AtomicBool::new(true);
/// When the running BGSAVE started, Unix ms.
static BGSAVE_STARTED_MS: AtomicU64 = AtomicU64::new(0);
/// When the last BGSAVE was attempted, Unix s (the 5 s retry delay).
static LAST_BGSAVE_TRY_SECS: AtomicU64 = AtomicU64::new(0);
/// Duration of the last BGSAVE in seconds, -1 before the first.
static LAST_BGSAVE_SECS: AtomicI64 = AtomicI64::new(-1);
/// The running snapshot is to stop, unfinished (the AOF was turned off
/// under its rewrite: Redis kills the AOF child then).
static CANCELLED: AtomicBool = AtomicBool::new(false);
/// The error a cancelled snapshot ends with.
pub(super) const CANCELLED_ERROR: &str = "the snapshot was stopped";
/// Keys the running snapshot has written / will write in total.
pub(super) static KEYS_PROCESSED: AtomicU64 = AtomicU64::new(0);
pub(super) static KEYS_TOTAL: AtomicU64 = AtomicU64::new(0);

/// Exclusive right to run a snapshot; released when dropped.
pub struct SnapshotSlot {
    bgsave: bool,
}

/// Background snapshots started (BGSAVE, BGREWRITEAOF, full syncs): INFO's
/// `total_forks`, the work Redis forks a child for (Shardis forks none).
pub static SNAPSHOTS_STARTED: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// Takes the one snapshot slot, if free. `bgsave` marks it as an RDB
/// snapshot, what Redis's RDB child makes (BGSAVE, or a full sync's):
/// INFO's `rdb_bgsave_in_progress`, and BGSAVE / SAVE are refused.
pub fn try_reserve(bgsave: bool) -> Option<SnapshotSlot> {
    if SNAPSHOT_RUNNING
        .compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
        .is_err()
    {
        return None;
    }
    SNAPSHOTS_STARTED.fetch_add(1, Ordering::Relaxed);
    CANCELLED.store(false, Ordering::Release);
    KEYS_PROCESSED.store(0, Ordering::Relaxed);
    KEYS_TOTAL.store(0, Ordering::Relaxed);
    super::copies::reset();
    if bgsave {
        BGSAVE_STARTED_MS.store(crate::sys::clock::unix_ms(), Ordering::Relaxed);
        BGSAVE_RUNNING.store(true, Ordering::Release);
    }
    Some(SnapshotSlot { bgsave })
}

impl Drop for SnapshotSlot {
    fn drop(&mut self) {
        if self.bgsave {
            BGSAVE_RUNNING.store(false, Ordering::Release);
        }
        KEYS_PROCESSED.store(0, Ordering::Relaxed);
        KEYS_TOTAL.store(0, Ordering::Relaxed);
        super::copies::finish(self.bgsave);
        SNAPSHOT_RUNNING.store(false, Ordering::Release);
    }
}

pub fn snapshot_running() -> bool {
    SNAPSHOT_RUNNING.load(Ordering::Acquire)
}

/// Asks the running snapshot to stop: its shards stop serializing, the
/// writer removes its temp file, and it ends with [`CANCELLED_ERROR`].
pub fn cancel_running() {
    CANCELLED.store(true, Ordering::Release);
}

/// Whether the running snapshot was asked to stop.
pub fn cancelled() -> bool {
    CANCELLED.load(Ordering::Acquire)
}

pub fn bgsave_running() -> bool {
    BGSAVE_RUNNING.load(Ordering::Acquire)
}

/// Marks a BGSAVE to start as soon as no snapshot runs.
pub fn schedule_bgsave() {
    BGSAVE_SCHEDULED.store(true, Ordering::Release);
}

/// Takes the scheduled-BGSAVE mark.
pub fn take_scheduled() -> bool {
    BGSAVE_SCHEDULED.swap(false, Ordering::AcqRel)
}

#[inline]
pub fn last_bgsave_ok() -> bool {
    LAST_BGSAVE_OK.load(Ordering::Relaxed)
}

/// A BGSAVE is starting now.
pub(super) fn bgsave_started(now_ms: u64) {
    BGSAVE_STARTED_MS.store(now_ms, Ordering::Relaxed);
    LAST_BGSAVE_TRY_SECS.store(now_ms / 1000, Ordering::Relaxed);
}

/// A BGSAVE ended after `secs` seconds.
pub(super) fn bgsave_ended(ok: bool, secs: i64) {
    LAST_BGSAVE_SECS.store(secs, Ordering::Relaxed);
    LAST_BGSAVE_OK.store(ok, Ordering::Relaxed);
}

/// A foreground SAVE succeeded: as in Redis, it clears a failed status.
pub fn save_succeeded() {
    LAST_BGSAVE_OK.store(true, Ordering::Relaxed);
}

pub fn last_bgsave_try_secs() -> u64 {
    LAST_BGSAVE_TRY_SECS.load(Ordering::Relaxed)
}

/// INFO persistence's `rdb_last_bgsave_time_sec`.
pub fn last_bgsave_secs() -> i64 {
    LAST_BGSAVE_SECS.load(Ordering::Relaxed)
}

/// INFO persistence's `rdb_current_bgsave_time_sec`: -1 when none runs.
pub fn current_bgsave_secs(now_ms: u64) -> i64 {
    if !bgsave_running() {
        return -1;
    }
    (now_ms.saturating_sub(BGSAVE_STARTED_MS.load(Ordering::Relaxed)) / 1000) as i64
}

/// INFO's `current_fork_perc`: the share of the running snapshot's keys
/// written, as Redis computes it from its child's key counts.
pub fn fork_perc() -> f64 {
    let (processed, total) = keys_progress();
    if total == 0 {
        return 0.0;
    }
    processed as f64 / total as f64 * 100.0
}

/// INFO's `current_save_keys_processed` and `current_save_keys_total`.
pub fn keys_progress() -> (u64, u64) {
    (
        KEYS_PROCESSED.load(Ordering::Relaxed),
        KEYS_TOTAL.load(Ordering::Relaxed),
    )
}
