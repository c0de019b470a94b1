//! The replication backlog: the last `repl-backlog-size` bytes of the
//! replication stream, plus whatever the connected replicas have not
//! taken yet (as Redis 7's shared replication buffer: a replica's unsent
//! bytes are part of the same buffer, bounded by
//! `client-output-buffer-limit replica`).
//!
//! It lives inside the write log's lock (log.rs) so records reach the
//! AOF and the replication stream in one critical section, in the same
//! order; `repl` serves replicas from it. Offsets are Redis's: byte `n`
//! of the stream (1-based) has offset `n`; `end` is `master_repl_offset`.

use super::blocks::Blocks;
use super::record::encode_select;
use std::collections::HashMap;
use std::task::Waker;
use std::time::Instant;

pub use crate::config::special::OutputLimits;

/// One replica's read position in the stream.
struct Cursor {
    /// Offset of the next byte the replica needs.
    next: i64,
    waker: Option<Waker>,
    /// Over its output buffer limit: the replica must be dropped.
    dropped: bool,
    /// Since when it is over the soft limit.
    soft_since: Option<Instant>,
}

/// What [`Backlog::read`] found.
#[derive(Debug, PartialEq, Eq)]
pub enum Read {
    /// Bytes were appended to the caller's buffer.
    Data,
    /// Nothing new: the waker is registered.
    Pending,
    /// The replica exceeded its output buffer limit.
    Dropped,
    /// The replica has no cursor (detached: it must reconnect).
    Detached,
}

pub struct Backlog {
    buf: Blocks,
    /// Offset of `buf[0]`, the first a PSYNC can continue from
    /// (`repl_backlog_first_byte_offset`).
    start: i64,
    /// Offset of the last byte fed (`master_repl_offset`).
    end: i64,
    /// `repl-backlog-size`.
    size: usize,
    /// Database of the last record in the stream (None: SELECT first).
    db: Option<usize>,
    limits: OutputLimits,
    cursors: HashMap<u64, Cursor>,
}

impl Backlog {
    /// A backlog starting after `offset` (the node's offset so far).
    pub fn new(offset: i64, size: usize, limits: OutputLimits) -> Backlog {
        Backlog {
            buf: Blocks::default(),
            start: offset + 1,
            end: offset,
            size: size.max(1),
            db: None,
            limits,
            cursors: HashMap::new(),
        }
    }

    /// `master_repl_offset`.
    pub fn end(&self) -> i64 {
        self.end
    }

    /// `repl_backlog_first_byte_offset`.
    pub fn first_byte(&self) -> i64 {
        self.start
    }

    /// `repl_backlog_histlen`.
    pub fn histlen(&self) -> i64 {
        self.end + 1 - self.start
    }

    pub fn size(&self) -> usize {
        self.size
    }

    /// Bytes held: the PSYNC window and what replicas have not taken
    /// (INFO `mem_total_replication_buffers`).
    pub fn held(&self) -> usize {
        self.buf.len()
    }

    /// Bytes allocated for what is held (16 KiB blocks, as Redis's).
    pub fn allocated(&self) -> usize {
        self.buf.allocated()
    }

    /// Applies the configuration, and the new limits at once (a lower
    /// one may drop a stuck replica with nothing more fed).
    pub fn set_config(&mut self, size: usize, limits: OutputLimits, wake: &mut Vec<Waker>) {
        let changed = self.size != size.max(1) || self.limits != limits;
        self.size = size.max(1);
        self.limits = limits;
        if changed {
            self.after_feed(wake);
        }
    }

    /// Whether replica `id` was dropped (over its limits, or detached);
    /// if not, `waker` is woken when the stream moves.
    pub fn watch_dropped(&mut self, id: u64, waker: &Waker) -> bool {
        match self.cursors.get_mut(&id) {
            Some(c) if !c.dropped => {
                c.waker = Some(waker.clone());
                false
            }
            _ => true,
        }
    }

    /// The database the stream last selected (Redis's `slaveseldb`;
    /// None: the next keyed record starts with a SELECT).
    pub fn stream_db(&self) -> Option<usize> {
        self.db
    }

    /// Makes the next keyed record start with a SELECT (full sync).
    pub fn reset_db(&mut self) {
        self.db = None;
    }

    /// Appends a record that ran in `db` (None: no database, e.g. PING),
    /// preceded by a SELECT when the database changes. Returns the
    /// wakers of replicas waiting for data (wake them after unlocking).
    pub fn feed(&mut self, db: Option<usize>, bytes: &[u8], wake: &mut Vec<Waker>) {
        if let Some(db) = db {
            if self.db != Some(db) {
                let mut sel = Vec::with_capacity(24);
                encode_select(&mut sel, db);
                self.push(&sel);
                self.db = Some(db);
            }
        }
        self.push(bytes);
        self.after_feed(wake);
    }

    /// The stream's database is unknown from here (a proxied master
    /// stream selected its own): the next record fed with a database
    /// starts with a SELECT.
    pub fn forget_db(&mut self) {
        self.db = None;
    }

    fn push(&mut self, bytes: &[u8]) {
        self.buf.push(bytes);
        self.end += bytes.len() as i64;
    }

    /// Trims what nobody needs any more, flags replicas over their
    /// output limit, collects the wakers of those waiting.
    fn after_feed(&mut self, wake: &mut Vec<Waker>) {
        let window = self.end + 1 - self.size as i64;
        let mut keep = self.start.max(window);
        let now = Instant::now();
        let mut limits = self.limits;
        // A hard limit below the backlog size would drop a replica that a
        // partial resync just accepted: Redis uses the backlog size then.
        if limits.hard > 0 {
            limits.hard = limits.hard.max(self.size as u64);
        }
        let end = self.end;
        for c in self.cursors.values_mut() {
            if c.dropped {
                continue;
            }
            let pending = (end + 1 - c.next).max(0) as u64;
            let hard = limits.hard > 0 && pending > limits.hard;
            let soft = if limits.soft > 0 && pending > limits.soft {
                let since = *c.soft_since.get_or_insert(now);
                now.duration_since(since).as_secs() >= limits.soft_secs
            } else {
                c.soft_since = None;
                false
            };
            if hard || soft {
                c.dropped = true;
            } else {
                keep = keep.min(c.next);
            }
            if let Some(w) = c.waker.take() {
                wake.push(w);
            }
        }
        self.trim_before(keep);
    }

    /// Drops what is held before offset `keep`. What stays is the PSYNC
    /// window: as Redis 7's shared buffer, a slow replica's unsent bytes
    /// keep the backlog longer than `repl-backlog-size`, and others can
    /// continue from them.
    fn trim_before(&mut self, keep: i64) {
        let drop_n = (keep - self.start).clamp(0, self.buf.len() as i64) as usize;
        if drop_n > 0 {
            self.buf.drop_front(drop_n);
            self.start += drop_n as i64;
        }
    }

    /// Drops what only detached replicas still needed: the buffer
    /// shrinks to the PSYNC window and what the others lack (Redis frees
    /// a replica's reference into the shared buffer with it).
    fn trim_unreferenced(&mut self) {
        let needed = self.cursors.values().filter(|c| !c.dropped).map(|c| c.next);
        let window = self.end + 1 - self.size as i64;
        let keep = needed.fold(self.start.max(window), i64::min);
        self.trim_before(keep);
    }

    /// Whether a PSYNC from `offset` can be served from here.
    pub fn holds(&self, offset: i64) -> bool {
        offset >= self.start && offset <= self.end + 1
    }

    /// Registers replica `id` reading from `next` (the first offset it
    /// lacks). The caller checked [`Backlog::holds`] or `next = end + 1`.
    pub fn attach(&mut self, id: u64, next: i64) {
        self.cursors.insert(
            id,
            Cursor {
                next,
                waker: None,
                dropped: false,
                soft_since: None,
            },
        );
    }

    pub fn detach(&mut self, id: u64) {
        if self.cursors.remove(&id).is_some() {
            self.trim_unreferenced();
        }
    }

    /// Detaches every replica: nothing fed from now on reaches them (a
    /// change of history they must learn by reconnecting).
    pub fn detach_all(&mut self, wake: &mut Vec<Waker>) {
        wake.extend(self.cursors.drain().filter_map(|(_, c)| c.waker));
        self.trim_unreferenced();
    }

    pub fn replicas(&self) -> usize {
        self.cursors.len()
    }

    /// Appends up to `max` bytes for replica `id` to `out`.
    pub fn read(&mut self, id: u64, out: &mut Vec<u8>, max: usize, waker: &Waker) -> Read {
        let Some(c) = self.cursors.get_mut(&id) else {
            return Read::Detached;
        };
        if c.dropped || c.next < self.start {
            c.dropped = true;
            return Read::Dropped;
        }
        if c.next > self.end {
            c.waker = Some(waker.clone());
            return Read::Pending;
        }
        let from = (c.next - self.start) as usize;
        let n = (self.buf.len() - from).min(max);
        self.buf.copy_out(from, n, out);
        c.next += n as i64;
        Read::Data
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn noop() -> Waker {
        futures::task::noop_waker()
    }

    #[test]
    fn offsets_window_and_select() {
        let mut b = Backlog::new(100, 64, OutputLimits::default());
        assert_eq!((b.first_byte(), b.histlen(), b.end()), (101, 0, 100));
        let mut w = Vec::new();
        b.feed(Some(0), b"*1\r\n$4\r\nping\r\n", &mut w);
        // SELECT 0 (23 bytes) + 14.
        assert_eq!(b.end(), 100 + 23 + 14);
        b.feed(None, b"*1\r\n$4\r\nping\r\n", &mut w);
        assert_eq!(b.end(), 151);
        assert_eq!(b.histlen(), 51);
        for _ in 0..10 {
            b.feed(None, b"0123456789", &mut w);
        }
        assert_eq!(b.histlen(), 64);
        assert!(b.holds(b.end() + 1));
        assert!(!b.holds(b.end() - 64));
    }

    #[test]
    fn replicas_read_and_keep_their_bytes() {
        let limits = OutputLimits {
            hard: 100,
            soft: 0,
            soft_secs: 0,
        };
        let mut b = Backlog::new(0, 4, limits);
        let mut w = Vec::new();
        b.attach(7, 1);
        b.feed(None, b"abcdefgh", &mut w);
        let mut out = Vec::new();
        assert_eq!(b.read(7, &mut out, 3, &noop()), Read::Data);
        assert_eq!(out, b"abc");
        assert_eq!(b.read(7, &mut out, 100, &noop()), Read::Data);
        assert_eq!(out, b"abcdefgh");
        assert_eq!(b.read(7, &mut out, 100, &noop()), Read::Pending);
        b.feed(None, &[b'x'; 101], &mut w);
        assert_eq!(w.len(), 1);
        assert_eq!(b.read(7, &mut out, 1000, &noop()), Read::Dropped);
    }

    #[test]
    fn a_slow_replica_widens_the_psync_window_until_it_leaves() {
        let mut b = Backlog::new(0, 8, OutputLimits::default());
        let mut w = Vec::new();
        b.attach(1, 1);
        b.feed(None, &[b'a'; 40], &mut w);
        // Replica 1 has read nothing: all 40 bytes stay, and a PSYNC
        // from offset 1 can continue from them (Redis 7's shared buffer).
        assert_eq!((b.first_byte(), b.histlen()), (1, 40));
        assert!(b.holds(1));
        b.detach(1);
        assert_eq!((b.first_byte(), b.histlen()), (33, 8));
        assert_eq!(b.held(), 8);
        assert!(!b.holds(1));
    }

    #[test]
    fn a_hard_limit_below_the_backlog_size_counts_as_the_size() {
        let limits = OutputLimits {
            hard: 10,
            soft: 0,
            soft_secs: 0,
        };
        let mut b = Backlog::new(0, 100, limits);
        let mut w = Vec::new();
        b.attach(1, 1);
        b.feed(None, &[b'a'; 50], &mut w);
        let mut out = Vec::new();
        assert_eq!(b.read(1, &mut out, 1000, &noop()), Read::Data);
        b.feed(None, &[b'a'; 101], &mut w);
        assert_eq!(b.read(1, &mut out, 1000, &noop()), Read::Dropped);
    }

    #[test]
    fn reads_across_the_ring_wrap() {
        let mut b = Backlog::new(0, 8, OutputLimits::default());
        let mut w = Vec::new();
        let mut expected = Vec::new();
        b.attach(1, 1);
        let mut out = Vec::new();
        for round in 0..50u8 {
            let chunk: Vec<u8> = (0..5)
                .map(|i| round.wrapping_mul(7).wrapping_add(i))
                .collect();
            b.feed(None, &chunk, &mut w);
            expected.extend_from_slice(&chunk);
            // Read in odd sizes so reads straddle the ring's two halves.
            while b.read(1, &mut out, 3, &noop()) == Read::Data {}
        }
        assert_eq!(out, expected);
        assert_eq!(b.end(), 250);
        assert_eq!(b.histlen(), 8);
        // A late PSYNC is served from the last 8 bytes only.
        assert!(b.holds(243) && !b.holds(242));
        b.attach(2, 243);
        let mut late = Vec::new();
        assert_eq!(b.read(2, &mut late, 100, &noop()), Read::Data);
        assert_eq!(late, expected[242..]);
    }

    #[test]
    fn parses_output_limits() {
        let text = "normal 1 2 3 slave 268435456 67108864 60 pubsub 4 5 6";
        let l = OutputLimits::for_class(text, "replica");
        assert_eq!(l.hard, 268435456);
        assert_eq!(l.soft, 64 << 20);
        assert_eq!(l.soft_secs, 60);
        assert_eq!(OutputLimits::for_class(text, "pubsub").soft_secs, 6);
        assert_eq!(OutputLimits::for_class(text, "normal").hard, 1);
    }
}
