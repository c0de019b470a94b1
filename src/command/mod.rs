//! The command table and one module per command family.
//!
//! Each family exports `COMMANDS: &[CommandSpec]`; adding a command means
//! adding one entry and its handler in that family's file.

pub mod aof;
pub mod aof_replay;
pub mod bitmaps;
pub mod blocking;
pub mod client;
mod client_pause;
pub mod cluster;
mod cluster_admin;
mod cluster_view;
pub mod command_cmd;
pub mod command_docs;
pub mod config_cmd;
pub mod connection;
pub mod databases;
pub mod debug;
pub mod dump;
pub mod expire;
pub mod function;
pub mod hashes;
pub mod help;
pub mod hll;
pub mod hll_debug;
pub mod info;
pub mod keys;
pub mod latency;
pub mod ldouble;
pub mod lists;
pub mod lolwut;
pub mod memory;
pub mod migrate;
pub mod migrate_conn;
pub mod module;
pub mod monitor;
pub mod object;
pub mod protected;
pub mod pubsub;
mod redact;
pub mod replication;
mod role_change;
pub mod save;
pub mod scan;
pub mod server;
pub mod sets;
pub mod slowlog;
pub mod sort;
mod sparkline;
pub mod spec;
pub mod strings;
pub mod tracking;
pub mod transactions;
pub mod util;
pub mod zsets;

use crate::config::keys as conf;
pub use crate::events::Class;
use crate::events::{Events, Note};
use crate::resp::Out;
use crate::store::{Db, Store};
pub use spec::{
    Acl, BeginSearch, Behavior, CommandSpec, Cross, FindKeys, Flags, Handler, KeyFlags, KeySpec,
    Merge,
};
use std::collections::HashMap;
use std::sync::OnceLock;

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
}

impl ExecLimits {
    pub fn from_config(c: &crate::config::Config) -> ExecLimits {
        ExecLimits {
            proto_max_bulk_len: c.int(conf::PROTO_MAX_BULK_LEN) as u64,
            encodings: crate::store::EncodingLimits::from_config(c),
            cluster: c.flag(conf::CLUSTER_ENABLED),
            lazy_user_del: c.flag(conf::LAZYFREE_LAZY_USER_DEL),
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
    /// The one way a handler's context is made (effects.rs's step, a
    /// multi-shard command's scratch keyspace, AOF loading): counters at
    /// zero, nothing logged or noted yet.
    pub fn new(
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

// Handlers sample with it as `command::shard_random`; it lives in sys so
// the layers below (persist) can use it too.
pub use crate::sys::random::shard_random;

/// All commands, by lower-case name.
pub struct Table {
    by_name: HashMap<&'static str, &'static CommandSpec, ahash::RandomState>,
    pub all: Vec<&'static CommandSpec>,
    /// Commands with a subcommand that ends a batch (`Behavior::ENDS_BATCH`):
    /// the parser asks for every request, so it must not take a lookup.
    batch_enders: Vec<&'static str>,
}

impl Table {
    fn build() -> Table {
        let families: &[&'static [CommandSpec]] = &[
            connection::COMMANDS,
            server::COMMANDS,
            info::COMMANDS,
            debug::COMMANDS,
            memory::COMMANDS,
            module::COMMANDS,
            function::COMMANDS,
            strings::COMMANDS,
            bitmaps::COMMANDS,
            keys::COMMANDS,
            databases::COMMANDS,
            sets::COMMANDS,
            lists::COMMANDS,
            hashes::COMMANDS,
            zsets::COMMANDS,
            hll::COMMANDS,
            hll_debug::COMMANDS,
            blocking::COMMANDS,
            sort::COMMANDS,
            dump::COMMANDS,
            migrate::COMMANDS,
            save::COMMANDS,
            aof::COMMANDS,
            transactions::COMMANDS,
            pubsub::COMMANDS,
            replication::COMMANDS,
            cluster::COMMANDS,
            role_change::COMMANDS,
            std::slice::from_ref(&cluster::CLUSTER),
            std::slice::from_ref(&slowlog::SLOWLOG),
            std::slice::from_ref(&latency::LATENCY),
            monitor::COMMANDS,
            lolwut::COMMANDS,
        ];
        let mut by_name = HashMap::default();
        let mut all = Vec::new();
        for fam in families {
            for spec in fam.iter() {
                let prev = by_name.insert(spec.name, spec);
                assert!(prev.is_none(), "command {} registered twice", spec.name);
                all.push(spec);
            }
        }
        let batch_enders = all
            .iter()
            .filter(|s| {
                s.subcommands
                    .iter()
                    .any(|c| c.behavior.has(Behavior::ENDS_BATCH))
            })
            .map(|s| s.name)
            .collect();
        Table {
            by_name,
            all,
            batch_enders,
        }
    }

    /// Whether command `name` has a subcommand that ends a batch (a cheap
    /// test before the lookup).
    #[inline]
    pub fn may_end_batch(&self, name: &[u8]) -> bool {
        self.batch_enders
            .iter()
            .any(|n| n.as_bytes().eq_ignore_ascii_case(name))
    }

    /// Case-insensitive lookup of a command name.
    #[inline]
    pub fn get(&self, name: &[u8]) -> Option<&'static CommandSpec> {
        let mut buf = [0u8; 32];
        if name.len() > buf.len() {
            return None;
        }
        for (d, s) in buf.iter_mut().zip(name) {
            *d = s.to_ascii_lowercase();
        }
        let lower = std::str::from_utf8(&buf[..name.len()]).ok()?;
        self.by_name.get(lower).copied()
    }

    /// A subcommand of `parent` by name, case-insensitively.
    pub fn sub(parent: &'static CommandSpec, name: &[u8]) -> Option<&'static CommandSpec> {
        parent.subcommands.iter().find(|s| {
            let sub = s.name.rsplit('|').next().unwrap_or(s.name);
            sub.as_bytes().eq_ignore_ascii_case(name)
        })
    }
}

pub fn table() -> &'static Table {
    static TABLE: OnceLock<Table> = OnceLock::new();
    TABLE.get_or_init(Table::build)
}

/// The spec that governs `argv` (the subcommand of a container command),
/// or Redis's error for an unknown command or subcommand.
/// The command of `argv` (a subcommand if it names one), without the
/// error reply `resolve` builds.
pub fn lookup(argv: &[&[u8]]) -> Option<&'static CommandSpec> {
    let spec = table().get(argv[0])?;
    if spec.subcommands.is_empty() || argv.len() < 2 {
        return Some(spec);
    }
    Table::sub(spec, argv[1])
}

pub fn resolve(argv: &[&[u8]]) -> Result<&'static CommandSpec, Vec<u8>> {
    let Some(spec) = table().get(argv[0]) else {
        return Err(unknown_command(argv));
    };
    if spec.subcommands.is_empty() || argv.len() < 2 {
        return Ok(spec);
    }
    Table::sub(spec, argv[1]).ok_or_else(|| {
        let mut e = b"ERR unknown subcommand '".to_vec();
        e.extend_from_slice(c_truncated(argv[1], 128));
        e.extend_from_slice(format!("'. Try {} HELP.", spec.name.to_uppercase()).as_bytes());
        e
    })
}

/// `ERR unknown command 'x', with args beginning with: 'a' 'b' `, with
/// Redis's 128-character limits; the arguments' bytes as they came.
fn unknown_command(argv: &[&[u8]]) -> Vec<u8> {
    let mut args = Vec::new();
    for a in &argv[1..] {
        if args.len() >= 128 {
            break;
        }
        let room = 128 - args.len();
        args.push(b'\'');
        args.extend_from_slice(c_truncated(a, room));
        args.extend_from_slice(b"' ");
    }
    let mut e = b"ERR unknown command '".to_vec();
    e.extend_from_slice(c_truncated(argv[0], 128));
    e.extend_from_slice(b"', with args beginning with: ");
    e.extend_from_slice(&args);
    e
}

/// At most `max` bytes of `b`, ending at a NUL as Redis's `%.*s` does.
fn c_truncated(b: &[u8], max: usize) -> &[u8] {
    let b = &b[..b.len().min(max)];
    match memchr::memchr(0, b) {
        Some(nul) => &b[..nul],
        None => b,
    }
}

/// Checks the argument count against a spec's arity.
#[inline]
pub fn arity_ok(spec: &CommandSpec, argc: usize) -> bool {
    let a = spec.arity;
    (a > 0 && argc as i32 == a) || (a < 0 && argc as i32 >= -a)
}
