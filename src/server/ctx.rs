//! The context a shard-side handler runs in: its store, database, reply
//! buffer and clock, and what the command's effects step (effects.rs)
//! collects from it afterwards (dirty count, the log rewrite, keyspace
//! notes, the keys it changed). Handlers live in `command`; the server
//! builds a `Ctx`, runs them and applies what they leave here.

use crate::config::keys as conf;
use crate::events::{Class, Events, Note};
use crate::resp::Out;
use crate::store::{Db, Store};
use crate::sys::random::shard_random;

/// `-WRONGTYPE …`
pub const WRONGTYPE: &str = "WRONGTYPE Operation against a key holding the wrong kind of value";

/// What a shard-side handler works with.
pub struct Ctx<'a> {
    pub store: &'a mut Store,
    /// Selected database.
    pub db: usize,
    pub out: &'a mut Out,
    /// Wall clock in Unix ms, sampled once per batch as Redis does per call.
    pub now_ms: u64,
    /// The `lru` stamp of keys created by this command (the LRU clock in
    /// seconds, or a new LFU counter; store/access.rs).
    pub lru: u32,
    /// How a read or write access stamps an existing key.
    pub access: crate::store::access::Access,
    /// Limits the handlers need from the configuration.
    pub limits: &'a ExecLimits,
    /// Number of keys changed, for `rdb_changes_since_last_save` and WATCH.
    pub dirty: u64,
    /// Read lookups that found / missed their key (INFO keyspace_hits).
    pub hits: u64,
    pub misses: u64,
    /// Whether writes are logged (AOF). A handler whose effect is not
    /// its own command line (a relative TTL, a random pop) then says what
    /// to log instead with [`Ctx::propagate_as`].
    pub propagating: bool,
    /// The RESP commands to log instead of the command line, if any.
    pub rewrite: Option<Vec<u8>>,
    /// Keyspace notifications enabled (`notify-keyspace-events`).
    pub events: Events,
    /// Notifications gathered while the command runs, published after.
    pub notes: Vec<Note>,
    /// The argument indexes of the keys the command changed, when it
    /// knows better than its key specs (Redis's signalModifiedKey per
    /// key: SMOVE leaves a destination that had the member alone). WATCH,
    /// tracking and blocked clients follow it.
    pub modified: Option<Vec<usize>>,
    /// The caller's user may read every key (ACL): SORT's BY and GET
    /// patterns need it (tracking.rs `Caller`).
    pub full_key_read: bool,
    /// Called by a script (SORT orders a set's output for scripts).
    pub from_script: bool,
}

/// Configuration values handlers consult.
#[derive(Clone, Debug)]
pub struct ExecLimits {
    pub proto_max_bulk_len: u64,
    pub encodings: crate::store::EncodingLimits,
    /// `cluster-enabled`: db 0 only (MOVE, COPY .. DB refuse).
    pub cluster: bool,
    /// `lazyfree-lazy-user-del`: DEL frees big values as UNLINK does.
    pub lazy_user_del: bool,
    /// `rdbcompression`: DUMP (and MIGRATE) payloads LZF-compress long
    /// strings, as Redis's createDumpPayload reads the same flag.
    pub rdb_compression: bool,
    /// `busy-reply-threshold` (ms): a script running longer is logged as
    /// slow (script/engine.rs).
    pub busy_reply_threshold_ms: u64,
}

impl ExecLimits {
    pub fn from_config(c: &crate::config::Config) -> ExecLimits {
        ExecLimits {
            proto_max_bulk_len: c.int(conf::PROTO_MAX_BULK_LEN) as u64,
            encodings: crate::store::EncodingLimits::from_config(c),
            cluster: c.flag(conf::CLUSTER_ENABLED),
            lazy_user_del: c.flag(conf::LAZYFREE_LAZY_USER_DEL),
            rdb_compression: c.flag(conf::RDBCOMPRESSION),
            busy_reply_threshold_ms: c.int(conf::BUSY_REPLY_THRESHOLD) as u64,
        }
    }
}

impl Default for ExecLimits {
    fn default() -> Self {
        ExecLimits {
            proto_max_bulk_len: 512 * 1024 * 1024,
            cluster: false,
            encodings: Default::default(),
            lazy_user_del: false,
            rdb_compression: true,
            busy_reply_threshold_ms: 5000,
        }
    }
}

/// When a command runs, as its handler sees it: the wall clock (Unix ms)
/// and how keys it creates or touches are stamped (LRU or LFU).
#[derive(Clone, Copy, Debug)]
pub struct Moment {
    pub now_ms: u64,
    pub lru: u32,
    pub access: crate::store::access::Access,
}

impl<'a> Ctx<'a> {
    /// Made only by effects.rs's steps (`apply`, `apply_loading`), so a
    /// handler never runs outside them: counters at zero, nothing logged
    /// or noted yet.
    pub(super) fn new(
        store: &'a mut Store,
        db: usize,
        out: &'a mut Out,
        at: Moment,
        limits: &'a ExecLimits,
        propagating: bool,
        events: Events,
    ) -> Ctx<'a> {
        Ctx {
            store,
            db,
            out,
            now_ms: at.now_ms,
            lru: at.lru,
            access: at.access,
            limits,
            dirty: 0,
            hits: 0,
            misses: 0,
            propagating,
            rewrite: None,
            events,
            notes: Vec::new(),
            modified: None,
            full_key_read: true,
            from_script: false,
        }
    }

    /// Signals event `event` of class `class` on `key` in the selected
    /// database (Redis's notifyKeyspaceEvent). One test when off.
    #[inline]
    pub fn notify(&mut self, class: Class, event: &str, key: &[u8]) {
        if !self.events.is_off() {
            self.notify_in(self.db, class, event, key);
        }
    }

    /// [`Ctx::notify`] for database `db` (MOVE, COPY ... DB).
    pub fn notify_in(&mut self, db: usize, class: Class, event: &str, key: &[u8]) {
        if self.events.is_off() {
            return;
        }
        // Expiries and creations the store logged come first, as they
        // happened first.
        self.drain_key_log();
        if self.events.wants(class) {
            self.events.messages(db, event, key, &mut self.notes);
        }
    }

    /// Moves the store's logged expiries / creations / misses into `notes`.
    fn drain_key_log(&mut self) {
        crate::events::drain_logged(self.events, self.store, &mut self.notes);
    }

    /// All notifications of the command, logged ones included.
    pub fn take_notes(&mut self) -> Vec<Note> {
        if self.events.is_off() {
            return Vec::new();
        }
        self.drain_key_log();
        std::mem::take(&mut self.notes)
    }

    /// Logs `args` (in this database) in place of the command line; called
    /// more than once, logs each. No-op when nothing is logged.
    pub fn propagate_as<A: AsRef<[u8]>>(&mut self, args: &[A]) {
        if self.propagating {
            let buf = self.rewrite.get_or_insert_with(Vec::new);
            crate::persist::aof::record::encode_command(buf, args);
        }
    }

    /// Logs nothing for this command (its effect was undone or is
    /// already described).
    pub fn propagate_nothing(&mut self) {
        if self.propagating {
            self.rewrite.get_or_insert_with(Vec::new);
        }
    }

    #[inline]
    pub fn db(&mut self) -> &mut Db {
        &mut self.store.dbs[self.db]
    }

    /// Looks a key up for reading, counting the hit or miss (a miss is a
    /// `keymiss` event).
    #[inline]
    pub fn lookup_read(&mut self, key: &[u8]) -> Option<&mut crate::store::Entry> {
        let now = self.now_ms;
        let access = self.access;
        let db = &mut self.store.dbs[self.db];
        match db.lookup_read(key, now) {
            Some(e) => {
                self.hits += 1;
                access.touch(&mut e.lru, shard_random);
                Some(e)
            }
            None => {
                self.misses += 1;
                None
            }
        }
    }

    /// A random number from this shard's generator (SPOP, SRANDMEMBER,
    /// HRANDFIELD, …): each shard runs on its own thread.
    #[inline]
    pub fn random(&mut self) -> u64 {
        shard_random()
    }

    /// Looks a key up for writing (no hit/miss accounting).
    #[inline]
    pub fn lookup_write(&mut self, key: &[u8]) -> Option<&mut crate::store::Entry> {
        let now = self.now_ms;
        let access = self.access;
        let e = self.store.dbs[self.db].lookup(key, now)?;
        access.touch(&mut e.lru, shard_random);
        Some(e)
    }
}
