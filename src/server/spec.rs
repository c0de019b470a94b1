//! The command spec: everything the server knows about a command besides
//! its handler. Routing, the slot check, arity checks, `COMMAND` output,
//! and (later) replication and the AOF all derive from one entry.

use super::conn::Conn;
use super::ctx::Ctx;
use futures::future::LocalBoxFuture;

mod bits;

pub use bits::{
    Acl, Behavior, Flags, KeyFlags, ACL_NAMES, BEHAVIOR_NAMES, FLAG_NAMES, KEY_FLAG_NAMES,
};

/// Where the key search starts (Redis key-spec `begin_search`).
#[derive(Clone, Copy, Debug)]
pub enum BeginSearch {
    Index(i32),
    Keyword {
        keyword: &'static str,
        startfrom: i32,
    },
    Unknown,
}

/// How keys are found from there (Redis key-spec `find_keys`).
#[derive(Clone, Copy, Debug)]
pub enum FindKeys {
    /// `lastkey` relative to the begin index (-1 = last argument),
    /// `keystep`, `limit` (0 = no limit, n = 1/n of the remaining args).
    Range {
        lastkey: i32,
        step: i32,
        limit: i32,
    },
    /// A key count at `keynumidx`, keys from `firstkey`, every `step`.
    Keynum {
        keynumidx: i32,
        firstkey: i32,
        step: i32,
    },
    Unknown,
}

/// One Redis key specification.
#[derive(Clone, Copy, Debug)]
pub struct KeySpec {
    pub flags: KeyFlags,
    pub begin: BeginSearch,
    pub find: FindKeys,
}

impl KeySpec {
    /// The common case: one key at `index`.
    pub const fn single(index: i32, flags: KeyFlags) -> KeySpec {
        KeySpec {
            flags,
            begin: BeginSearch::Index(index),
            find: FindKeys::Range {
                lastkey: 0,
                step: 1,
                limit: 0,
            },
        }
    }

    /// Keys from `index` to the end (`lastkey` -1), every `step`.
    pub const fn range(index: i32, lastkey: i32, step: i32, flags: KeyFlags) -> KeySpec {
        KeySpec {
            flags,
            begin: BeginSearch::Index(index),
            find: FindKeys::Range {
                lastkey,
                step,
                limit: 0,
            },
        }
    }
}

/// The Pub/Sub channels a command publishes or subscribes to (Redis's
/// commands_with_channels): ACL users must be allowed them. Unsubscribing
/// needs no permission, so those commands name none.
#[derive(Clone, Copy, Debug)]
pub struct ChannelArgs {
    /// Argument index of the first channel.
    pub first: usize,
    /// How many channels, or every argument from `first` on (None).
    pub count: Option<usize>,
    /// The arguments are patterns (PSUBSCRIBE): allowed only by an
    /// identical channel rule.
    pub pattern: bool,
}

impl ChannelArgs {
    /// The argument indexes holding channels.
    pub fn indexes(&self, argc: usize) -> std::ops::Range<usize> {
        let end = self.count.map_or(argc, |n| (self.first + n).min(argc));
        self.first..end.max(self.first)
    }
}

/// How a command whose keys span several shards is run (standalone mode).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cross {
    /// Lock the shards involved (ascending), gather the keys, run the
    /// handler once, write the results back: atomic, as Redis is.
    Atomic,
    /// Independent per key: split by shard, run each part, merge replies.
    Split(Merge),
}

/// How the replies of a split command are merged.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Merge {
    /// Integer replies are added (DEL, EXISTS, TOUCH, UNLINK).
    SumInts,
    /// Array replies are interleaved back into key order (MGET).
    KeyOrder,
    /// Every part answers +OK; so does the whole (MSET).
    AllOk,
}

/// Runs on the shard that owns the command's keys, synchronously.
pub type ShardFn = fn(&mut Ctx, &[&[u8]]);
/// Runs on the connection, may await other shards.
pub type ConnFn = for<'a> fn(&'a mut Conn, Vec<Vec<u8>>) -> LocalBoxFuture<'a, ()>;

#[derive(Clone, Copy)]
pub enum Handler {
    Shard(ShardFn),
    Conn(ConnFn),
}

/// Runs the command inside EXEC under the shards EXEC holds, where its
/// handler would take them itself (MIGRATE).
pub type InExecFn =
    for<'a> fn(&'a mut Conn, &'a super::mesh::Held<'a>, &'a [Vec<u8>]) -> LocalBoxFuture<'a, ()>;

/// Redis's `getkeys_proc`, for commands whose key specs are incomplete
/// (MIGRATE, SORT): pushes (argument index, index of the key spec whose
/// flags the key has).
pub type KeyFinder = fn(&[&[u8]], &mut Vec<(usize, usize)>);

/// Keys a command reads that no argument names but its first key's value
/// does (SORT's BY and GET patterns): with several shards the command
/// runs as a multi-shard step over those keys too.
#[derive(Clone, Copy)]
pub struct DataKeys {
    /// Whether these arguments make the command read such keys.
    pub used: fn(&[&[u8]]) -> bool,
    /// A superset of those keys, from the database holding the first key
    /// (argument 1), at `now` (Unix ms).
    pub find: FindDataKeys,
}

/// `DataKeys::find`: (database, now in Unix ms, argv) -> keys.
pub type FindDataKeys = fn(&crate::store::Db, u64, &[&[u8]]) -> Vec<Vec<u8>>;

/// A command: name, arity, flags, key positions and handler.
#[derive(Clone, Copy)]
pub struct CommandSpec {
    /// Lower-case name; for a subcommand `container|sub`.
    pub name: &'static str,
    /// Positive: exact argument count (name included); negative: minimum.
    pub arity: i32,
    pub flags: Flags,
    /// Shardis-internal facts (not printed by COMMAND).
    pub behavior: Behavior,
    pub acl: Acl,
    pub keys: &'static [KeySpec],
    pub cross: Cross,
    pub handler: Handler,
    /// Command tips, e.g. `request_policy:all_shards`.
    pub tips: &'static [&'static str],
    pub group: &'static str,
    pub since: &'static str,
    pub summary: &'static str,
    pub complexity: &'static str,
    /// Subcommands of a container command (CONFIG, CLIENT, …).
    pub subcommands: &'static [CommandSpec],
    /// Finds the keys where the key specs cannot (Redis's getkeys_proc).
    pub key_finder: Option<KeyFinder>,
    /// Keys read that no argument names (SORT's BY and GET patterns).
    pub data_keys: Option<DataKeys>,
    /// Arguments kept out of the slow log and MONITOR as "(redacted)"
    /// (passwords), as Redis's redactClientCommandArgument.
    pub redact: Option<Redact>,
    /// The flags of a key spec marked VARIABLE_FLAGS, for these arguments
    /// (COMMAND GETKEYSANDFLAGS; Redis's setGetKeys, bitfieldGetKeys).
    pub key_flags: Option<DecideKeyFlags>,
    /// How a connection-level command runs inside EXEC, if not as its
    /// handler under EXEC's hold.
    pub in_exec: Option<InExecFn>,
    /// Channels its arguments name, for ACL checks.
    pub channels: Option<ChannelArgs>,
}

/// Key flags decided by the arguments.
pub type DecideKeyFlags = fn(argv: &[&[u8]]) -> KeyFlags;

/// Whether argument `i` of `argv` is to be hidden.
pub type Redact = fn(argv: &[&[u8]], i: usize) -> bool;

/// Defaults for the optional fields, so a spec entry names only what
/// matters: `CommandSpec { name: "get", arity: 2, ..CommandSpec::DEFAULT }`.
impl CommandSpec {
    pub const DEFAULT: CommandSpec = CommandSpec {
        name: "",
        arity: 0,
        flags: Flags::NONE,
        behavior: Behavior::NONE,
        acl: Acl::NONE,
        keys: &[],
        cross: Cross::Atomic,
        handler: Handler::Shard(|ctx, _| ctx.out.error("ERR not implemented")),
        tips: &[],
        group: "generic",
        since: "1.0.0",
        summary: "",
        complexity: "",
        subcommands: &[],
        key_finder: None,
        data_keys: None,
        redact: None,
        key_flags: None,
        in_exec: None,
        channels: None,
    };

    pub fn is_write(&self) -> bool {
        self.flags.has(Flags::WRITE)
    }

    /// Whether these arguments make the command read keys that only its
    /// data names (`DataKeys`).
    pub fn reads_data_keys(&self, argv: &[&[u8]]) -> bool {
        self.data_keys.is_some_and(|d| (d.used)(argv))
    }

    /// The argument index of the first key when the first key spec names
    /// it by position (GET, SET, HGET, ...): a cheap guess for prefetching
    /// a batch's keys, not a key extraction.
    #[inline]
    pub fn first_key_index(&self) -> Option<usize> {
        match self.keys.first() {
            Some(KeySpec {
                begin: BeginSearch::Index(i @ 1..),
                ..
            }) if self.key_finder.is_none() => Some(*i as usize),
            _ => None,
        }
    }

    /// Argument indexes holding keys, per the key specs.
    pub fn key_indexes(&self, argv: &[&[u8]], out: &mut Vec<usize>) {
        self.key_indexes_where(argv, out, |_| true);
    }

    /// Like `key_indexes`, for the key specs `keep` accepts (WATCH touches
    /// only keys whose spec is not read-only).
    pub fn key_indexes_where(
        &self,
        argv: &[&[u8]],
        out: &mut Vec<usize>,
        keep: impl Fn(&KeySpec) -> bool,
    ) {
        out.clear();
        self.for_each_key(argv, |i, spec_at| {
            if keep(&self.keys[spec_at]) {
                out.push(i);
            }
        });
    }

    /// Every key's (argument index, index of the key spec it belongs to).
    pub fn key_positions(&self, argv: &[&[u8]], out: &mut Vec<(usize, usize)>) {
        self.for_each_key(argv, |i, spec_at| out.push((i, spec_at)));
    }

    /// Calls `f` with every key's argument index and the index of its key
    /// spec: from the key finder if there is one, else from the key specs
    /// (no allocation: this is on every request's path).
    pub fn for_each_key(&self, argv: &[&[u8]], mut f: impl FnMut(usize, usize)) {
        if let Some(find) = self.key_finder {
            let mut found = Vec::new();
            find(argv, &mut found);
            for (i, spec_at) in found {
                f(i, spec_at);
            }
            return;
        }
        let argc = argv.len() as i32;
        for (spec_at, ks) in self.keys.iter().enumerate() {
            let begin = match ks.begin {
                BeginSearch::Index(i) => i,
                BeginSearch::Keyword { keyword, startfrom } => {
                    let found = if startfrom >= 0 {
                        (startfrom..argc)
                            .find(|&i| argv[i as usize].eq_ignore_ascii_case(keyword.as_bytes()))
                    } else {
                        let start = argc + startfrom;
                        (1..=start)
                            .rev()
                            .find(|&i| argv[i as usize].eq_ignore_ascii_case(keyword.as_bytes()))
                    };
                    match found {
                        Some(i) => i + 1,
                        None => continue,
                    }
                }
                BeginSearch::Unknown => continue,
            };
            if begin >= argc {
                continue;
            }
            match ks.find {
                FindKeys::Range {
                    lastkey,
                    step,
                    limit,
                } => {
                    let last = if lastkey >= 0 {
                        begin + lastkey
                    } else if limit <= 1 {
                        argc + lastkey
                    } else {
                        begin + (argc - begin) / limit + lastkey
                    };
                    let mut i = begin;
                    while i <= last.min(argc - 1) {
                        f(i as usize, spec_at);
                        i += step.max(1);
                    }
                }
                FindKeys::Keynum {
                    keynumidx,
                    firstkey,
                    step,
                } => {
                    let idx = begin + keynumidx;
                    if idx >= argc {
                        continue;
                    }
                    let Some(n) = crate::resp::parse_i64(argv[idx as usize]) else {
                        continue;
                    };
                    let first = begin + firstkey;
                    // More keys than arguments is a syntax error: no keys
                    // at all, as Redis's getKeysUsingKeySpecs (the
                    // command reports the error; ACL checks find none).
                    let n = n.clamp(0, argc as i64) as i32;
                    if n > 0 && first + (n - 1) * step.max(1) >= argc {
                        continue;
                    }
                    for k in 0..n {
                        f((first + k * step.max(1)) as usize, spec_at);
                    }
                }
                FindKeys::Unknown => {}
            }
        }
    }

    /// Redis's legacy (first, last, step) triple for `COMMAND INFO`,
    /// derived from the key specs as Redis 7.0's
    /// `populateCommandLegacyRangeSpec` does: one index/range spec is used
    /// as is; several are glued (only index/range specs count, all must
    /// have step 1, else the triple is 0 0 0); `last` is absolute, or
    /// negative when counted from the end.
    pub fn legacy_range(&self) -> (i32, i32, i32) {
        let abs_last = |begin: i32, lastkey: i32| {
            if lastkey >= 0 {
                begin + lastkey
            } else {
                lastkey
            }
        };
        if let [ks] = self.keys {
            if let (BeginSearch::Index(begin), FindKeys::Range { lastkey, step, .. }) =
                (ks.begin, ks.find)
            {
                return (begin, abs_last(begin, lastkey), step);
            }
        }
        let mut first = i32::MAX;
        // Compared unsigned, as Redis does, so a negative (from the end)
        // last key wins over any positive one.
        let mut last: u32 = 0;
        for ks in self.keys {
            let (BeginSearch::Index(begin), FindKeys::Range { lastkey, step, .. }) =
                (ks.begin, ks.find)
            else {
                continue;
            };
            if step != 1 {
                return (0, 0, 0);
            }
            first = first.min(begin);
            last = last.max(abs_last(begin, lastkey) as u32);
        }
        if first == i32::MAX {
            return (0, 0, 0);
        }
        (first, last as i32, 1)
    }

    /// Whether Redis flags the command `movablekeys`: its keys cannot be
    /// found from the legacy triple alone.
    pub fn movable_keys(&self) -> bool {
        self.flags.has(Flags::MOVABLEKEYS)
            || self.keys.iter().any(|ks| {
                !matches!(
                    (ks.begin, ks.find),
                    (BeginSearch::Index(_), FindKeys::Range { .. })
                )
            })
    }

    /// ACL categories including the implicit ones Redis adds from the
    /// flags (`setImplicitACLCategories`): write, read, admin+dangerous,
    /// pubsub, fast, blocking, and slow for every command not fast.
    pub fn acl_categories(&self) -> Acl {
        let mut acl = self.acl;
        let implied = [
            (Flags::WRITE, Acl::WRITE),
            (Flags::READONLY, Acl::READ),
            (Flags::ADMIN, Acl::ADMIN.with_bits(Acl::DANGEROUS)),
            (Flags::PUBSUB, Acl::PUBSUB),
            (Flags::FAST, Acl::FAST),
            (Flags::BLOCKING, Acl::BLOCKING),
        ];
        for (flag, cat) in implied {
            if self.flags.has(flag) {
                acl = acl | cat;
            }
        }
        if !acl.has(Acl::FAST) {
            acl = acl | Acl::SLOW;
        }
        acl
    }
}
