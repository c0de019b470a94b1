//! The bit sets a command spec is made of: Redis's command flags, ACL
//! categories and key-spec flags, each with the names `COMMAND` prints,
//! and Shardis's own behaviour facts, which it never prints.

/// A set of named bits: the constants, a names table in printing order
/// (`$names`), and the set operations the spec tables use in consts.
macro_rules! bit_set {
    ($(#[$doc:meta])* $ty:ident($int:ty), $names:ident; $($name:ident = $bit:expr, $text:expr;)*) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, Default, Debug)]
        pub struct $ty(pub $int);
        impl $ty {
            $(pub const $name: $ty = $ty(1 << $bit);)*
            pub const NONE: $ty = $ty(0);
            pub const fn with(self, other: $ty) -> $ty {
                $ty(self.0 | other.0)
            }
            pub const fn has(self, other: $ty) -> bool {
                self.0 & other.0 == other.0
            }
        }
        impl std::ops::BitOr for $ty {
            type Output = $ty;
            fn bitor(self, rhs: $ty) -> $ty {
                $ty(self.0 | rhs.0)
            }
        }
        /// Names in the order Redis prints them.
        pub const $names: &[($ty, &str)] = &[$(($ty::$name, $text)),*];
    };
}

bit_set! {
    /// Command flags, as Redis names them in `COMMAND INFO`.
    Flags(u32), FLAG_NAMES;
    WRITE = 0, "write";
    READONLY = 1, "readonly";
    DENYOOM = 2, "denyoom";
    MODULE = 3, "module";
    ADMIN = 4, "admin";
    PUBSUB = 5, "pubsub";
    NOSCRIPT = 6, "noscript";
    BLOCKING = 7, "blocking";
    LOADING = 8, "loading";
    STALE = 9, "stale";
    SKIP_MONITOR = 10, "skip_monitor";
    SKIP_SLOWLOG = 11, "skip_slowlog";
    ASKING = 12, "asking";
    FAST = 13, "fast";
    NO_AUTH = 14, "no_auth";
    MAY_REPLICATE = 15, "may_replicate";
    NO_MANDATORY_KEYS = 16, "no_mandatory_keys";
    NO_ASYNC_LOADING = 20, "no_async_loading";
    NO_MULTI = 17, "no_multi";
    MOVABLEKEYS = 18, "movablekeys";
    ALLOW_BUSY = 19, "allow_busy";
}

bit_set! {
    /// ACL categories, as Redis names them (`@read`, `@string`, …).
    Acl(u32), ACL_NAMES;
    KEYSPACE = 0, "@keyspace";
    READ = 1, "@read";
    WRITE = 2, "@write";
    SET = 3, "@set";
    SORTEDSET = 4, "@sortedset";
    LIST = 5, "@list";
    HASH = 6, "@hash";
    STRING = 7, "@string";
    BITMAP = 8, "@bitmap";
    HYPERLOGLOG = 9, "@hyperloglog";
    GEO = 10, "@geo";
    STREAM = 11, "@stream";
    PUBSUB = 12, "@pubsub";
    ADMIN = 13, "@admin";
    FAST = 14, "@fast";
    SLOW = 15, "@slow";
    BLOCKING = 16, "@blocking";
    DANGEROUS = 17, "@dangerous";
    CONNECTION = 18, "@connection";
    TRANSACTION = 19, "@transaction";
    SCRIPTING = 20, "@scripting";
}

impl Acl {
    pub const fn with_bits(self, other: Acl) -> Acl {
        self.with(other)
    }
}

bit_set! {
    /// Key-spec flags (Redis's `CMD_KEY_*`), named as `COMMAND INFO`
    /// prints them.
    KeyFlags(u16), KEY_FLAG_NAMES;
    RO = 0, "RO";
    RW = 1, "RW";
    OW = 2, "OW";
    RM = 3, "RM";
    ACCESS = 4, "access";
    UPDATE = 5, "update";
    INSERT = 6, "insert";
    DELETE = 7, "delete";
    NOT_KEY = 8, "not_key";
    INCOMPLETE = 9, "incomplete";
    VARIABLE_FLAGS = 10, "variable_flags";
}

bit_set! {
    /// What the server does differently for a command, beyond Redis's
    /// flags: Shardis-internal facts, never printed by `COMMAND` (the
    /// names are for tests and debugging). Dispatch, transactions,
    /// redirects and pauses test these, never a command's name.
    Behavior(u32), BEHAVIOR_NAMES;
    // Runs at once inside MULTI, never queued (Redis's processCommand:
    // EXEC, DISCARD, MULTI, WATCH, QUIT, RESET).
    NOT_QUEUED = 0, "not_queued";
    // Touches no shard's data: EXEC need not hold any shard for it.
    NO_SHARD = 1, "no_shard";
    // Allowed in RESP2 subscribe mode.
    SUBSCRIBE_MODE = 2, "subscribe_mode";
    // Starts a transaction (MULTI).
    STARTS_TRANSACTION = 3, "starts_transaction";
    // Runs the queued transaction (EXEC): its refusal aborts the
    // transaction, its queue decides whether a write pause holds it, it
    // carries the ASKING flag its queue was routed with.
    RUNS_TRANSACTION = 4, "runs_transaction";
    // Ends a transaction (EXEC, DISCARD): the ASKING flag clears.
    ENDS_TRANSACTION = 5, "ends_transaction";
    // Sets the connection's ASKING flag (ASKING).
    SETS_ASKING = 6, "sets_asking";
    // Sets the connection's cluster READONLY flag (READONLY).
    SETS_READONLY = 7, "sets_readonly";
    // Clears it (READWRITE).
    CLEARS_READONLY = 8, "clears_readonly";
    // Refused while persistence fails though not a write (PING, as
    // Redis 7.0's processCommand).
    MISCONF_REFUSED = 9, "misconf_refused";
    // May wait indefinitely once planned though not flagged blocking
    // (WAIT, WAITAOF): a write pause lets the batch go past it.
    WAITS = 10, "waits";
    // Runs locally on a migrating or importing slot (MIGRATE).
    OPEN_SLOT_LOCAL = 11, "open_slot_local";
    // Inside EXEC only answers +OK: EXEC does its work anyway (UNWATCH).
    OK_IN_EXEC = 12, "ok_in_exec";
    // Keeps CLIENT CACHING's one-command window open (CLIENT and its
    // subcommands, as Redis's resetClient).
    KEEPS_CACHING = 13, "keeps_caching";
    // Ends the batch of requests read at once, so the requests after it
    // see its effect (CLIENT PAUSE, CLIENT REPLY).
    ENDS_BATCH = 14, "ends_batch";
    // Refused unless enable-debug-command allows it (Redis's
    // CMD_PROTECTED on DEBUG).
    DEBUG_PROTECTED = 15, "debug_protected";
    // Refused unless enable-module-command allows it (CMD_PROTECTED on
    // MODULE LOAD, LOADEX, UNLOAD).
    MODULE_PROTECTED = 16, "module_protected";
    // A replica serves it for its master's slots without READONLY
    // (Redis's getNodeByQuery `is_pubsubshard`: shard channels).
    REPLICA_SERVES = 17, "replica_serves";
    // Runs a Lua script (EVAL and its forms): inside EXEC it runs as part
    // of the transaction's step, under every shard (script/run.rs).
    RUNS_SCRIPT = 18, "runs_script";
}
