//! The node's one write log. Shards append their write records here, in
//! execution order, at the moment the write runs (a short lock and a
//! copy, as Redis copies into its `aof_buf`); the writer thread
//! (writer.rs) takes whole buffers, writes and fsyncs them, and wakes the
//! connections waiting for the fsync that covers their writes.
//!
//! Appending at execution time keeps the order right across shards: a
//! key's writes all run on its owner (or under the multi-shard hold), so
//! the log sees them in the order they took effect.

use super::record::{encode_command, encode_select, Records};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, AtomicU8, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

/// `appendfsync`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FsyncPolicy {
    Always,
    EverySec,
    No,
}

impl FsyncPolicy {
    pub fn parse(s: &str) -> FsyncPolicy {
        match s {
            "always" => FsyncPolicy::Always,
            "no" => FsyncPolicy::No,
            _ => FsyncPolicy::EverySec,
        }
    }

    fn code(self) -> u8 {
        self as u8
    }

    fn from_code(c: u8) -> FsyncPolicy {
        match c {
            0 => FsyncPolicy::Always,
            1 => FsyncPolicy::EverySec,
            _ => FsyncPolicy::No,
        }
    }
}

/// The annotation line for `secs`: `#TS:1700000000\r\n`.
pub fn timestamp_annotation(secs: u64) -> String {
    format!("#TS:{secs}\r\n")
}

/// What the writer finds when it takes the buffer.
pub(super) struct Pending {
    /// Records not yet handed to the writer.
    pub buf: Vec<u8>,
    /// Bytes ever appended (the log offset after the last record).
    pub end: u64,
    /// Database of the last record, for SELECT (None: emit one first).
    db: Option<usize>,
    pub shutdown: bool,
    /// The replication backlog, fed under the same lock (None until the
    /// first replica attaches).
    pub repl: Option<super::backlog::Backlog>,
    /// Scratch space for a record going to both sinks.
    scratch: Vec<u8>,
    /// The second of the last `#TS:` annotation written.
    stamped_secs: u64,
}

pub struct AofLog {
    /// Whether writes are being logged (`appendonly`, once the log is open).
    on: AtomicBool,
    /// Whether a replication backlog is being fed (`pending.repl` is Some).
    repl_on: AtomicBool,
    /// This node is a replica: its backlog (and sub-replicas) get the
    /// master's stream byte for byte (`feed_repl_proxied`), not records
    /// of what ran here (Redis's replicationFeedSlaves returns at once
    /// on a replica), so offsets stay the master's.
    proxy: AtomicBool,
    /// The replication offset after the last record (while a backlog
    /// exists): a connection's last write offset, for WAIT.
    repl_end: AtomicI64,
    pub(super) pending: Mutex<Pending>,
    pub(super) wake: Condvar,
    /// The writer thread waits on `wake` (set and cleared under
    /// `pending`'s lock): appends wake it only then. A shard that writes
    /// the buffer itself every pass would otherwise make a futex call per
    /// pass for a thread busy gathering.
    pub(super) writer_idle: AtomicBool,
    end: AtomicU64,
    /// Offset written to the file / covered by an fsync.
    pub(super) written: AtomicU64,
    pub(super) synced: AtomicU64,
    waiters: Mutex<Vec<(u64, Waker)>>,
    /// Replies waiting for their records' write (not fsync).
    write_waiters: Mutex<Vec<(u64, Waker)>>,
    policy: AtomicU8,
    /// False after a failed write or fsync, until one succeeds
    /// (`aof_last_write_status`; writes are refused meanwhile).
    pub(super) write_ok: AtomicBool,
    pub(super) last_error: Mutex<String>,
    /// `aof-timestamp-enabled`.
    timestamps: AtomicBool,
}

impl Default for AofLog {
    fn default() -> Self {
        AofLog {
            on: AtomicBool::new(false),
            repl_on: AtomicBool::new(false),
            proxy: AtomicBool::new(false),
            repl_end: AtomicI64::new(0),
            pending: Mutex::new(Pending {
                buf: Vec::new(),
                end: 0,
                db: None,
                shutdown: false,
                repl: None,
                scratch: Vec::new(),
                stamped_secs: 0,
            }),
            wake: Condvar::new(),
            writer_idle: AtomicBool::new(false),
            end: AtomicU64::new(0),
            written: AtomicU64::new(0),
            synced: AtomicU64::new(0),
            waiters: Mutex::new(Vec::new()),
            write_waiters: Mutex::new(Vec::new()),
            policy: AtomicU8::new(FsyncPolicy::EverySec.code()),
            write_ok: AtomicBool::new(true),
            last_error: Mutex::new(String::new()),
            timestamps: AtomicBool::new(false),
        }
    }
}

impl AofLog {
    /// Whether write commands must be recorded.
    #[inline]
    pub fn is_on(&self) -> bool {
        self.on.load(Ordering::Relaxed)
    }

    /// Whether write commands must produce records: for the AOF, the
    /// replication stream, or both.
    #[inline]
    pub fn recording(&self) -> bool {
        self.on.load(Ordering::Relaxed) || self.repl_on.load(Ordering::Relaxed)
    }

    /// Whether a replication backlog exists.
    #[inline]
    pub fn repl_on(&self) -> bool {
        self.repl_on.load(Ordering::Relaxed)
    }

    /// Runs `f` on the replication backlog slot under the log's lock
    /// (creating or freeing it keeps `repl_on` in step). Wakers `f`
    /// pushes are woken after the lock is released.
    pub fn with_repl<R>(
        &self,
        f: impl FnOnce(&mut Option<super::backlog::Backlog>, &mut Vec<Waker>) -> R,
    ) -> R {
        let mut wake = Vec::new();
        let r = {
            let mut p = self.lock();
            let r = f(&mut p.repl, &mut wake);
            self.repl_on.store(p.repl.is_some(), Ordering::SeqCst);
            if let Some(b) = p.repl.as_ref() {
                self.repl_end.store(b.end(), Ordering::Release);
            }
            r
        };
        for w in wake {
            w.wake();
        }
        r
    }

    /// The replication offset after the last record fed (0 before any
    /// backlog existed).
    #[inline]
    pub fn repl_end(&self) -> i64 {
        self.repl_end.load(Ordering::Acquire)
    }

    /// Feeds a record that ran in `db` to the replication stream only
    /// (PUBLISH): a SELECT first when the stream's database differs.
    pub fn feed_repl_in(&self, db: usize, bytes: &[u8]) {
        if self.proxying() {
            return;
        }
        self.with_repl(|repl, wake| {
            if let Some(b) = repl.as_mut() {
                b.feed(Some(db), bytes, wake);
            }
        });
    }

    /// Feeds bytes to the replication stream only (PING, REPLCONF
    /// GETACK): no database, nothing for the AOF.
    pub fn feed_repl_only(&self, bytes: &[u8]) {
        if self.proxying() {
            return;
        }
        self.with_repl(|repl, wake| {
            if let Some(b) = repl.as_mut() {
                b.feed(None, bytes, wake);
            }
        });
    }

    /// Whether the node follows a master: its backlog then takes only
    /// that master's stream ([`Self::feed_repl_proxied`]).
    #[inline]
    pub fn proxying(&self) -> bool {
        self.proxy.load(Ordering::Relaxed)
    }

    /// Turns proxying on (the node follows a master) or off (promoted:
    /// its own records go to the backlog again, after a SELECT, since the
    /// master's stream left the database unknown).
    pub fn set_proxy(&self, on: bool) {
        self.with_repl(|repl, _| {
            self.proxy.store(on, Ordering::SeqCst);
            if let Some(b) = repl.as_mut() {
                b.forget_db();
            }
        });
    }

    /// A replica: the master's stream bytes it applied, to its backlog
    /// and sub-replicas verbatim.
    pub fn feed_repl_proxied(&self, bytes: &[u8]) {
        if bytes.is_empty() || !self.proxying() {
            return;
        }
        self.with_repl(|repl, wake| {
            if let Some(b) = repl.as_mut() {
                b.feed(None, bytes, wake);
            }
        });
    }

    pub(super) fn set_on(&self, on: bool) {
        self.on.store(on, Ordering::SeqCst);
    }

    pub fn policy(&self) -> FsyncPolicy {
        FsyncPolicy::from_code(self.policy.load(Ordering::Relaxed))
    }

    pub fn set_policy(&self, p: FsyncPolicy) {
        self.policy.store(p.code(), Ordering::Relaxed);
        self.wake.notify_one();
    }

    /// The log offset after the last appended record.
    #[inline]
    pub fn end(&self) -> u64 {
        self.end.load(Ordering::Acquire)
    }

    /// The log offset written to the file so far.
    pub fn written(&self) -> u64 {
        self.written.load(Ordering::Acquire)
    }

    pub fn write_ok(&self) -> bool {
        self.write_ok.load(Ordering::Relaxed)
    }

    pub fn last_error(&self) -> String {
        self.last_error.lock().unwrap().clone()
    }

    /// Bytes this log has allocated, for `maxmemory` and INFO: (records
    /// waiting for the AOF writer, the replication buffer, the backlog's
    /// size, the replicas reading it).
    pub fn held_bytes(&self) -> (usize, usize, usize, usize) {
        let p = self.lock();
        let (repl, backlog, replicas) = p
            .repl
            .as_ref()
            .map_or((0, 0, 0), |b| (b.allocated(), b.size(), b.replicas()));
        (p.buf.capacity(), repl, backlog, replicas)
    }

    /// Bytes appended but not yet covered by an fsync.
    pub fn unsynced(&self) -> u64 {
        self.end() - self.synced.load(Ordering::Acquire)
    }

    /// `aof-timestamp-enabled`: the file (not the replication stream)
    /// gets annotations.
    pub fn set_timestamps(&self, on: bool) {
        self.timestamps.store(on, Ordering::Relaxed);
    }

    /// With timestamps on, a `#TS:<unix seconds>` line before the first
    /// record of each new second, ahead of its SELECT (Redis's
    /// genAofTimestampAnnotationIfNeeded; loaders skip `#` lines and
    /// `redis-check-aof --truncate-to-timestamp` cuts at them).
    fn stamp(&self, p: &mut Pending) {
        if !self.timestamps.load(Ordering::Relaxed) {
            return;
        }
        let now = crate::sys::clock::unix_ms() / 1000;
        if now > p.stamped_secs {
            p.stamped_secs = now;
            p.buf
                .extend_from_slice(timestamp_annotation(now).as_bytes());
        }
    }

    fn lock(&self) -> MutexGuard<'_, Pending> {
        self.pending.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn finish_append(&self, p: MutexGuard<'_, Pending>, was_empty: bool, wake: Vec<Waker>) {
        self.end.store(p.end, Ordering::Release);
        if let Some(b) = p.repl.as_ref() {
            self.repl_end.store(b.end(), Ordering::Release);
        }
        drop(p);
        // The writer checks the buffer under the lock before it waits, so
        // an append either finds it idle or is seen by it.
        if was_empty && self.writer_idle.load(Ordering::Acquire) {
            self.wake.notify_one();
        }
        for w in wake {
            w.wake();
        }
    }

    /// Appends what `write` adds to the buffer, as records that ran in
    /// `db` (after a SELECT when the database changed), to the AOF when
    /// it is on and to the replication backlog when there is one.
    fn append_in(&self, db: usize, write: impl FnOnce(&mut Vec<u8>)) {
        let mut p = self.lock();
        let aof = self.on.load(Ordering::Relaxed);
        let before = p.buf.len();
        let was_empty = before == 0;
        let mut wake = Vec::new();
        let pending = &mut *p;
        let proxy = self.proxying();
        if let Some(backlog) = pending.repl.as_mut().filter(|_| !proxy) {
            let mut scratch = std::mem::take(&mut pending.scratch);
            scratch.clear();
            write(&mut scratch);
            backlog.feed(Some(db), &scratch, &mut wake);
            if aof {
                self.stamp(pending);
                if pending.db != Some(db) {
                    encode_select(&mut pending.buf, db);
                    pending.db = Some(db);
                }
                pending.buf.extend_from_slice(&scratch);
            }
            if scratch.capacity() > 1 << 20 {
                scratch = Vec::new();
            }
            pending.scratch = scratch;
        } else if aof {
            self.stamp(pending);
            if pending.db != Some(db) {
                encode_select(&mut pending.buf, db);
                pending.db = Some(db);
            }
            write(&mut pending.buf);
        }
        p.end += (p.buf.len() - before) as u64;
        self.finish_append(p, was_empty && aof, wake);
    }

    /// Appends one command that ran in `db`.
    pub fn append_command(&self, db: usize, args: &[&[u8]]) {
        self.append_in(db, |buf| encode_command(buf, args));
    }

    /// Appends commands already encoded (a handler's rewrite) that ran
    /// in `db`.
    pub fn append_encoded(&self, db: usize, encoded: &[u8]) {
        if !encoded.is_empty() {
            self.append_in(db, |buf| buf.extend_from_slice(encoded));
        }
    }

    /// Appends records gathered elsewhere. A `transaction` of more than
    /// one command is wrapped in MULTI/EXEC (so a crash never replays half
    /// of one), with the SELECT of its first command before the MULTI, as
    /// Redis 7.0's propagatePendingCommands; a single command goes alone.
    pub fn append_records(&self, records: &Records, transaction: bool) {
        if records.is_empty() {
            return;
        }
        let wrap = transaction && records.several();
        // MULTI carries the first command's database, so its SELECT
        // comes first; EXEC follows the last in whatever db is selected.
        let first_db = records.first_db();
        let mut multi = Vec::new();
        encode_command(&mut multi, &[b"MULTI".as_slice()]);
        let mut exec = Vec::new();
        encode_command(&mut exec, &[b"EXEC".as_slice()]);
        let mut p = self.lock();
        let aof = self.on.load(Ordering::Relaxed);
        let before = p.buf.len();
        let was_empty = before == 0;
        let mut wake = Vec::new();
        let pending = &mut *p;
        let proxy = self.proxying();
        if let Some(backlog) = pending.repl.as_mut().filter(|_| !proxy) {
            if wrap {
                backlog.feed(first_db, &multi, &mut wake);
            }
            for (db, bytes) in records.iter_to(false) {
                backlog.feed(db, bytes, &mut wake);
            }
            if wrap {
                backlog.feed(None, &exec, &mut wake);
            }
        }
        if aof {
            self.stamp(pending);
            let mut put = |db: Option<usize>, bytes: &[u8]| {
                if let Some(db) = db {
                    if pending.db != Some(db) {
                        encode_select(&mut pending.buf, db);
                        pending.db = Some(db);
                    }
                }
                pending.buf.extend_from_slice(bytes);
            };
            if wrap {
                put(first_db, &multi);
            }
            for (db, bytes) in records.iter_to(true) {
                put(db, bytes);
            }
            if wrap {
                put(None, &exec);
            }
        }
        p.end += (p.buf.len() - before) as u64;
        self.finish_append(p, was_empty && aof, wake);
    }

    /// Forgets the current database, so the next record starts with a
    /// SELECT (each new incr file must be loadable on its own terms).
    pub(super) fn reset_db(p: &mut Pending) {
        p.db = None;
    }

    /// Resolves once an fsync covers everything up to `offset`.
    pub fn synced_to(&self, offset: u64) -> OffsetWait<'_> {
        OffsetWait {
            log: self,
            offset,
            until: Until::Synced,
        }
    }

    /// Called by the writer after an fsync (or a write, for `no`).
    pub(super) fn mark_synced(&self, offset: u64) {
        self.synced.fetch_max(offset, Ordering::AcqRel);
        wake_up_to(&self.waiters, offset);
    }

    /// Resolves once the records up to `offset` are written to the file
    /// (not necessarily fsynced), or once they cannot be (the AOF was
    /// turned off, or a write failed: replies then leave, as Redis's
    /// do, and later writes get MISCONF).
    pub fn written_to(&self, offset: u64) -> OffsetWait<'_> {
        OffsetWait {
            log: self,
            offset,
            until: Until::Written,
        }
    }

    /// Called after a write of the records up to `offset` (and, with
    /// `u64::MAX`, when the AOF is turned off or a write failed).
    pub(super) fn mark_written(&self, offset: u64) {
        wake_up_to(&self.write_waiters, offset);
    }

    /// Whether a reply waits for the writer thread's write.
    pub(super) fn write_awaited(&self) -> bool {
        !self
            .write_waiters
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .is_empty()
    }
}

/// Wakes (and forgets) the waiters of offsets up to `offset`.
fn wake_up_to(waiters: &Mutex<Vec<(u64, Waker)>>, offset: u64) {
    let mut w = waiters.lock().unwrap_or_else(|e| e.into_inner());
    if w.is_empty() {
        return;
    }
    let mut ready = Vec::new();
    w.retain(|(off, waker)| {
        if *off <= offset {
            ready.push(waker.clone());
            false
        } else {
            true
        }
    });
    drop(w);
    for waker in ready {
        waker.wake();
    }
}

/// What an [`OffsetWait`] waits for.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Until {
    Synced,
    Written,
}

/// See [`AofLog::synced_to`] and [`AofLog::written_to`].
pub struct OffsetWait<'a> {
    log: &'a AofLog,
    offset: u64,
    until: Until,
}

impl OffsetWait<'_> {
    fn settled(&self) -> bool {
        let log = self.log;
        match self.until {
            Until::Synced => log.synced.load(Ordering::Acquire) >= self.offset,
            Until::Written => {
                log.written.load(Ordering::Acquire) >= self.offset
                    || !log.is_on()
                    || !log.write_ok()
            }
        }
    }
}

impl Future for OffsetWait<'_> {
    type Output = ();
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.settled() {
            return Poll::Ready(());
        }
        let log = self.log;
        let waiters = match self.until {
            Until::Synced => &log.waiters,
            Until::Written => &log.write_waiters,
        };
        let mut w = waiters.lock().unwrap_or_else(|e| e.into_inner());
        // Checked again under the lock: the writer marks, then wakes.
        if self.settled() {
            return Poll::Ready(());
        }
        w.push((self.offset, cx.waker().clone()));
        drop(w);
        if self.until == Until::Written {
            // The writer may be asleep with the records already pending.
            log.wake.notify_one();
        }
        Poll::Pending
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selects_only_when_the_database_changes() {
        let log = AofLog::default();
        log.set_on(true);
        log.append_command(0, &[b"SET", b"a", b"1"]);
        log.append_command(0, &[b"SET", b"b", b"2"]);
        log.append_command(3, &[b"DEL", b"c"]);
        let p = log.lock();
        let text = String::from_utf8_lossy(&p.buf).replace("\r\n", " ");
        assert_eq!(
            text,
            "*2 $6 SELECT $1 0 *3 $3 SET $1 a $1 1 *3 $3 SET $1 b $1 2 *2 $6 SELECT $1 3 *2 $3 DEL $1 c "
        );
        assert_eq!(p.end, p.buf.len() as u64);
        drop(p);
        assert_eq!(log.end(), log.unsynced());
    }

    /// Redis 7.0's propagatePendingCommands: one command goes alone;
    /// several are wrapped, the first one's SELECT before the MULTI.
    #[test]
    fn transactions_of_several_commands_are_wrapped() {
        let log = AofLog::default();
        log.set_on(true);
        let text = |log: &AofLog| {
            let mut p = log.lock();
            let t = String::from_utf8_lossy(&p.buf).replace("\r\n", " ");
            p.buf.clear();
            t
        };
        let mut r = Records::default();
        r.push(Some(0), &["INCR", "n"]);
        log.append_records(&r, true);
        assert_eq!(text(&log), "*2 $6 SELECT $1 0 *2 $4 INCR $1 n ");
        let mut r = Records::default();
        r.push(Some(1), &["INCR", "n"]);
        r.push(Some(2), &["INCR", "m"]);
        log.append_records(&r, true);
        assert_eq!(
            text(&log),
            "*2 $6 SELECT $1 1 *1 $5 MULTI *2 $4 INCR $1 n \
             *2 $6 SELECT $1 2 *2 $4 INCR $1 m *1 $4 EXEC "
        );
        // One record holding two encoded commands counts as two.
        let mut r = Records::default();
        r.push_encoded(Some(2), b"*1\r\n$1\r\na\r\n*1\r\n$1\r\nb\r\n");
        log.append_records(&r, true);
        assert_eq!(text(&log), "*1 $5 MULTI *1 $1 a *1 $1 b *1 $4 EXEC ");
    }
}
