//! The append-only file, Redis 7 multi-part layout: `appenddirname` holds
//! a manifest, one base file (RDB, or commands: emit.rs) and incr files of
//! commands. Shards append write records to the [`log::AofLog`]; a writer
//! thread writes and fsyncs them (writer.rs); BGREWRITEAOF makes a new
//! base from a snapshot while a fresh incr file takes the new writes
//! (rewrite.rs); start-up loads base then incrs (startup.rs, parse.rs,
//! replay.rs), the engine running each command read (sink.rs).

pub mod backlog;
pub mod blocks;
pub mod emit;
mod emit_stream;
pub mod files;
pub mod log;
pub mod manifest;
pub mod parse;
pub mod record;
pub mod replay;
pub mod rewrite;
pub mod sink;
pub mod startup;
mod writer;
pub use writer::FLUSH_SLEEP_US;

use crate::config::keys as conf;
use crate::persist::host::{NodeState, ShardData, ShardHost};
use files::AofFiles;
use log::{AofLog, FsyncPolicy};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// The AOF of this node: the log, its files, and its INFO counters.
#[derive(Default)]
pub struct Aof {
    pub log: AofLog,
    files: Mutex<Option<AofFiles>>,
    last_fsync_ms: AtomicU64,
    writer_started: AtomicBool,
    pub rewrite_in_progress: AtomicBool,
    pub rewrite_scheduled: AtomicBool,
    /// The running rewrite was stopped by turning the AOF off: its end
    /// is not a failure.
    pub rewrite_stopped: AtomicBool,
    pub rewrites: AtomicU64,
    pub rewrite_failures: AtomicU64,
    pub last_rewrite_ok: AtomicBool,
    pub last_rewrite_secs: AtomicI64,
    pub rewrite_started_ms: AtomicU64,
    /// Turned on by CONFIG SET and no rewrite has written its base yet
    /// (Redis's AOF_WAIT_REWRITE): the files lack the data from before,
    /// so a shutdown refuses to exit unless forced (server/shutdown.rs).
    pub awaiting_base: AtomicBool,
}

impl Aof {
    pub fn new() -> Aof {
        let aof = Aof::default();
        aof.last_rewrite_ok.store(true, Ordering::Relaxed);
        aof.last_rewrite_secs.store(-1, Ordering::Relaxed);
        aof
    }

    /// Before the replies to writes leave, with `appendfsync everysec` or
    /// `no`: the records up to `end` are written to the incr file (not
    /// fsynced), as Redis writes its AOF buffer before any reply of its
    /// event loop. A process crash then loses no acknowledged write; only
    /// the system's crash can lose up to the last second. The shard
    /// writes them itself (one write() serves every connection of its
    /// pass and every shard's records before it), or waits for the writer
    /// thread when the files are busy.
    pub async fn written_before_reply(&self, end: u64) {
        if self.log.written() >= end || !self.log.is_on() {
            return;
        }
        if !self.write_now() {
            self.log.written_to(end).await;
        }
    }

    /// Starts logging into `files` (opened at start-up or after enabling).
    pub fn start(self: &Arc<Self>, files: AofFiles, policy: FsyncPolicy) {
        *self.files.lock().unwrap_or_else(|e| e.into_inner()) = Some(files);
        {
            // Records left from an earlier time the AOF was on are
            // covered by the rewrite that follows turning it on.
            let mut p = self.log.pending.lock().unwrap_or_else(|e| e.into_inner());
            p.buf.clear();
            log::AofLog::reset_db(&mut p);
        }
        self.log.set_policy(policy);
        self.note_fsync();
        self.log.set_on(true);
        if !self.writer_started.swap(true, Ordering::SeqCst) {
            let aof = self.clone();
            crate::sys::cpus::spawn_background("aof-writer", move || writer::run(aof))
                .expect("spawn the AOF writer thread");
        }
    }

    /// Whether the AOF is on (`aof_enabled`).
    pub fn enabled(&self) -> bool {
        self.log.is_on()
    }

    /// Writes what is pending to the incr file now (fsync as the policy
    /// says), for DEBUG LOADAOF to read the file back whole.
    pub fn flush(&self) {
        self.write_round(&mut Vec::new());
    }

    /// Writes and fsyncs everything appended so far, then keeps the log
    /// locked so that no later write can be acknowledged before the
    /// process exits (SHUTDOWN, SIGTERM). Call only on the way out.
    pub fn seal_for_exit(&self) -> Result<(), String> {
        if !self.enabled() {
            return Ok(());
        }
        let mut files = self.files.lock().unwrap_or_else(|e| e.into_inner());
        let p = self.log.pending.lock().unwrap_or_else(|e| e.into_inner());
        let result = match files.as_mut() {
            None => Ok(()),
            Some(f) => f
                .append(&p.buf)
                .and_then(|_| f.fsync())
                .map_err(|e| format!("Error flushing the AOF at shutdown: {e}")),
        };
        // Shards that try to log a write now wait until the exit.
        std::mem::forget(p);
        std::mem::forget(files);
        result
    }

    /// Stops logging (CONFIG SET appendonly no): what is pending is
    /// written and synced, the files are closed.
    pub fn stop(&self) {
        self.awaiting_base.store(false, Ordering::SeqCst);
        // As Redis kills the AOF child: the running rewrite stops, its
        // temp file goes, the manifest is left as it is.
        if self.rewrite_in_progress.load(Ordering::SeqCst) {
            crate::notice!(
                "Killing the running AOF rewrite (no child process: it runs in-process)"
            );
            self.rewrite_stopped.store(true, Ordering::SeqCst);
            crate::persist::bgsave::status::cancel_running();
        }
        let mut files = self.files.lock().unwrap_or_else(|e| e.into_inner());
        let mut p = self.log.pending.lock().unwrap_or_else(|e| e.into_inner());
        self.log.set_on(false);
        if let Some(f) = files.as_mut() {
            if f.append(&p.buf).and_then(|_| f.fsync()).is_err() {
                crate::warning!("Error flushing the AOF while turning it off");
            }
            f.discard_temp();
        }
        p.buf.clear();
        log::AofLog::reset_db(&mut p);
        drop(p);
        self.log.mark_synced(self.log.end());
        self.log.mark_written(u64::MAX);
        *files = None;
        crate::notice!("Background append only file writing stopped");
    }

    /// Deletes the history files the manifest keeps (auto GC turned back
    /// on), when the AOF is on.
    pub fn delete_history(&self) -> Result<(), String> {
        let mut files = self.files.lock().unwrap_or_else(|e| e.into_inner());
        files.as_mut().map_or(Ok(()), |f| f.delete_history())
    }

    /// Current size of the AOF files, and their size after the last
    /// rewrite (`aof_current_size`, `aof_base_size`).
    pub fn sizes(&self) -> (u64, u64) {
        let files = self.files.lock().unwrap_or_else(|e| e.into_inner());
        files.as_ref().map_or((0, 0), |f| (f.total_len, f.base_len))
    }
}

/// CONFIG SET of `appendonly` / `appendfsync`: turns the AOF on (files
/// prepared, then a rewrite makes the base from the current data) or off,
/// or changes the fsync policy.
pub fn apply_config<H: ShardHost>(rt: &std::rc::Rc<H>, changed: &[&str]) -> Result<(), String> {
    let shared = rt.node();
    let (on, policy, timestamps) = shared.read_config(|c| {
        (
            c.flag(conf::APPENDONLY),
            c.text(conf::APPENDFSYNC),
            c.flag(conf::AOF_TIMESTAMP_ENABLED),
        )
    });
    let policy = FsyncPolicy::parse(&policy);
    shared.aof().log.set_timestamps(timestamps);
    if changed.contains(&"appendfsync") {
        shared.aof().log.set_policy(policy);
    }
    let keep_history = shared.read_config(|c| c.flag(conf::AOF_DISABLE_AUTO_GC));
    if changed.contains(&"aof-disable-auto-gc") && !keep_history {
        shared.aof().delete_history()?;
    }
    if changed.contains(&"appendonly") {
        if on && !shared.aof().enabled() {
            let files = shared.read_config(startup::open_for_enable)?;
            shared.aof().start(files, policy);
            shared.aof().awaiting_base.store(true, Ordering::SeqCst);
            // Started, or scheduled behind a running BGSAVE or the EXEC.
            if rewrite::start(rt)? == rewrite::RewriteStart::Scheduled {
                crate::warning!(
                    "{}",
                    if H::in_exec() {
                        "AOF was enabled during a transaction. An AOF background was scheduled to start when possible."
                    } else {
                        "AOF was enabled but there is already another background operation. An AOF background was scheduled to start when possible."
                    }
                );
            }
        } else if !on && shared.aof().enabled() {
            shared.aof().stop();
        }
    }
    Ok(())
}
