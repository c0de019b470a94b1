//! The writer thread: takes the log's buffer, writes it to the incr file
//! and fsyncs per `appendfsync`, off the data cores. `always`: one fsync
//! per round, covering every record appended before it (group commit);
//! `everysec`: at most one fsync a second, also after an idle second with
//! unsynced data; `no`: never. Idle, it sleeps on a condition variable.
//!
//! With `everysec` and `no` the records of client writes are mostly
//! written by the shards themselves, before their replies leave
//! ([`Aof::write_now`], as Redis's beforeSleep writes its AOF buffer);
//! this thread writes what no reply waited for (expiries, a replica's
//! stream) and what a shard found the files busy for.

use super::log::FsyncPolicy;
use super::Aof;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

const SECOND: Duration = Duration::from_secs(1);
/// With `everysec` and `no`, how long the writer lets records that no
/// reply waits for gather after a wake before writing them: one write()
/// per few thousand instead of one wake and write() per handful.
const GATHER: Duration = Duration::from_millis(2);

/// DEBUG AOF-FLUSH-SLEEP: µs to sleep before each write of records
/// (Redis's tests use it to keep records waiting in the buffer).
pub static FLUSH_SLEEP_US: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// Runs until shutdown.
pub fn run(aof: Arc<Aof>) {
    let log = &aof.log;
    let mut spare: Vec<u8> = Vec::new();
    loop {
        // Sleep until there is something to do.
        {
            let mut p = log.pending.lock().unwrap_or_else(|e| e.into_inner());
            loop {
                if p.shutdown {
                    return;
                }
                let failing = !log.write_ok();
                let unsynced = log.synced.load(Ordering::Acquire) < p.end;
                if !p.buf.is_empty() && !failing {
                    break;
                }
                if failing || (unsynced && log.policy() == FsyncPolicy::EverySec) {
                    // Retry a failed write, or fsync an idle second's data.
                    let since = aof.since_last_fsync();
                    if since >= SECOND {
                        break;
                    }
                    log.writer_idle.store(true, Ordering::Release);
                    p = log
                        .wake
                        .wait_timeout(p, SECOND - since)
                        .unwrap_or_else(|e| e.into_inner())
                        .0;
                    log.writer_idle.store(false, Ordering::Release);
                } else {
                    log.writer_idle.store(true, Ordering::Release);
                    p = log.wake.wait(p).unwrap_or_else(|e| e.into_inner());
                    log.writer_idle.store(false, Ordering::Release);
                }
            }
        }
        // A reply waiting for the write (the shard found the files busy)
        // gets it at once.
        if log.policy() != FsyncPolicy::Always && !log.write_awaited() {
            std::thread::sleep(GATHER);
        }
        aof.write_round(&mut spare);
    }
}

impl Aof {
    /// One round: write what is pending, then fsync as the policy says.
    /// Also used to flush at shutdown and before rotating.
    pub(super) fn write_round(&self, spare: &mut Vec<u8>) {
        let log = &self.log;
        let mut files = self.files.lock().unwrap_or_else(|e| e.into_inner());
        let Some(f) = files.as_mut() else { return };
        if !self.write_pending(f, spare) {
            return;
        }
        let policy = log.policy();
        let due = match policy {
            FsyncPolicy::Always => true,
            FsyncPolicy::EverySec => self.since_last_fsync() >= SECOND,
            FsyncPolicy::No => false,
        };
        let written = log.written.load(Ordering::Acquire);
        if policy == FsyncPolicy::No {
            log.mark_synced(written);
        } else if due && log.synced.load(Ordering::Acquire) < written {
            // The fsync goes through a second handle, without the files'
            // lock: shards take that lock (INFO's sizes, the rewrite cron,
            // the incr file's turnover under a hold of every shard), and
            // the fsync of a second of writes can take tens of ms. Its
            // records are in this file whatever turns over meanwhile (the
            // turnover fsyncs it too).
            let handle = f.incr_handle();
            drop(files);
            let started = std::time::Instant::now();
            let synced = handle.and_then(|h| h.sync_data());
            if policy == FsyncPolicy::Always {
                // Clients wait for this one (everysec's is Redis's
                // background fsync, which logs no event).
                let ms = started.elapsed().as_millis() as u64;
                crate::sys::latency::observe("aof-fsync-always", ms);
            }
            if let Err(e) = synced {
                self.fail(&format!("Error syncing the AOF file: {e}"), &e);
                return;
            }
            self.note_fsync();
            log.mark_synced(written);
        }
        if !log.write_ok() {
            crate::warning!("AOF write error looks solved, Redis can write again.");
            log.write_ok.store(true, Ordering::Relaxed);
        }
    }

    /// Writes the pending records to the incr file (no fsync); false
    /// when the write failed (the records stay pending, writes get
    /// MISCONF until a retry succeeds).
    fn write_pending(&self, f: &mut super::files::AofFiles, spare: &mut Vec<u8>) -> bool {
        let log = &self.log;
        let end = {
            let mut p = log.pending.lock().unwrap_or_else(|e| e.into_inner());
            spare.clear();
            std::mem::swap(&mut p.buf, spare);
            p.end
        };
        if spare.is_empty() {
            return true;
        }
        // Only the writer thread gets here with a sleep set (write_now).
        let sleep = FLUSH_SLEEP_US.load(Ordering::Relaxed);
        if sleep > 0 {
            std::thread::sleep(Duration::from_micros(sleep));
        }
        let started = std::time::Instant::now();
        let appended = f.append(spare);
        // Redis's latency events for the AOF write: with a snapshot
        // running (Redis's child), or alone.
        let event = if crate::persist::bgsave::shard::SNAPSHOTS.load(Ordering::Relaxed) > 0 {
            "aof-write-active-child"
        } else {
            "aof-write-alone"
        };
        crate::sys::latency::observe(event, started.elapsed().as_millis() as u64);
        if let Err(e) = appended {
            // Put the records back in front: nothing is dropped.
            let mut p = log.pending.lock().unwrap_or_else(|e| e.into_inner());
            spare.extend_from_slice(&p.buf);
            std::mem::swap(&mut p.buf, spare);
            drop(p);
            self.fail(&format!("Error writing to the AOF file: {e}"), &e);
            return false;
        }
        log.written.fetch_max(end, Ordering::AcqRel);
        log.mark_written(end);
        true
    }

    /// Writes the pending records from a shard thread, before its replies
    /// leave, as Redis writes its AOF buffer in beforeSleep; false when
    /// the files are busy (a rotation, the writer thread's own write) or
    /// DEBUG AOF-FLUSH-SLEEP is set: the writer thread then writes them.
    pub(super) fn write_now(&self) -> bool {
        if FLUSH_SLEEP_US.load(Ordering::Relaxed) > 0 {
            return false;
        }
        let Ok(mut files) = self.files.try_lock() else {
            return false;
        };
        let Some(f) = files.as_mut() else {
            return true;
        };
        thread_local! {
            static SPARE: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
        }
        SPARE.with(|spare| self.write_pending(f, &mut spare.borrow_mut()));
        true
    }

    /// Records a failed write or fsync; the retry comes a second later.
    fn fail(&self, msg: &str, e: &std::io::Error) {
        if self.log.write_ok.swap(false, Ordering::Relaxed) {
            crate::warning!("{msg}");
        }
        *self
            .log
            .last_error
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = e.to_string();
        self.note_fsync();
        self.log.mark_written(u64::MAX);
    }

    pub(super) fn note_fsync(&self) {
        let ms = crate::sys::clock::unix_ms();
        self.last_fsync_ms.store(ms, Ordering::Relaxed);
    }

    /// Read without the files' lock: the writer asks while holding the
    /// log's lock, and the lock order is files, then log.
    fn since_last_fsync(&self) -> Duration {
        let last = self.last_fsync_ms.load(Ordering::Relaxed);
        Duration::from_millis(crate::sys::clock::unix_ms().saturating_sub(last))
    }
}
