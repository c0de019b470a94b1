//! OBJECT ENCODING | FREQ | IDLETIME | REFCOUNT | HELP.
//!
//! Connection-level handlers: the answers depend on `maxmemory` and
//! `maxmemory-policy`, read from the configuration here, and the key is
//! then looked up on the shard that owns it.

use super::spec::{Acl, CommandSpec, Flags, Handler, KeyFlags, KeySpec};
use crate::config::keys as conf;
use crate::server::conn::Conn;
use crate::server::mesh;
use crate::slot::key_slot;
use crate::sys::clock::unix_ms;
use futures::future::LocalBoxFuture;

const KEYSPACE_READ_SLOW: Acl = Acl::KEYSPACE.with_bits(Acl::READ).with_bits(Acl::SLOW);

const KEY2_RO: &[KeySpec] = &[KeySpec::single(2, KeyFlags::RO)];

const fn sub(
    name: &'static str,
    h: super::spec::ConnFn,
    since: &'static str,
    summary: &'static str,
) -> CommandSpec {
    CommandSpec {
        name,
        arity: 3,
        flags: Flags::READONLY,
        acl: KEYSPACE_READ_SLOW,
        keys: KEY2_RO,
        handler: Handler::Conn(h),
        tips: &["nondeterministic_output"],
        group: "generic",
        since,
        summary,
        complexity: "O(1)",
        ..CommandSpec::DEFAULT
    }
}

/// The OBJECT container, registered by `keys.rs`.
pub const OBJECT: CommandSpec = CommandSpec {
    name: "object",
    arity: -2,
    flags: Flags::NONE,
    acl: Acl::SLOW,
    group: "generic",
    since: "2.2.3",
    summary: "A container for object introspection commands",
    complexity: "Depends on subcommand.",
    subcommands: &[
        sub(
            "object|idletime",
            idletime,
            "2.2.3",
            "Get the time since a Redis object was last accessed",
        ),
        sub(
            "object|freq",
            freq,
            "4.0.0",
            "Get the logarithmic access frequency counter of a Redis object",
        ),
        sub(
            "object|encoding",
            encoding,
            "2.2.3",
            "Inspect the internal encoding of a Redis object",
        ),
        CommandSpec {
            name: "object|help",
            arity: 2,
            flags: Flags::LOADING.with(Flags::STALE),
            acl: Acl::KEYSPACE.with_bits(Acl::SLOW),
            handler: Handler::Conn(help),
            group: "generic",
            since: "6.2.0",
            summary: "Show helpful text about the different subcommands",
            complexity: "O(1)",
            ..CommandSpec::DEFAULT
        },
        sub(
            "object|refcount",
            refcount,
            "2.2.3",
            "Get the number of references to the value of the key",
        ),
    ],
    ..CommandSpec::DEFAULT
};

/// Redis's `OBJ_SHARED_REFCOUNT`: the refcount of shared integers.
const SHARED_REFCOUNT: i64 = i32::MAX as i64;

/// What OBJECT learns about a key on its shard.
struct Seen {
    encoding: &'static str,
    /// The integer value for an "int"-encoded string.
    int: Option<i64>,
    idle_secs: u64,
    /// The LFU counter after decay, under an LFU policy.
    freq: u8,
}

/// Looks `key` up on its shard (counting the hit or miss, without
/// touching its access time).
async fn look(conn: &Conn, key: &[u8]) -> Option<Seen> {
    let db = conn.db;
    let key = key.to_vec();
    let shard = conn.rt.shard_of_slot(key_slot(&key));
    mesh::run_on(&conn.rt, shard, move |rt| {
        let clock = rt.lru_seconds();
        let lfu = rt.access().lfu;
        let mut core = rt.core.borrow_mut();
        let core = &mut *core;
        match core.store.dbs[db].lookup(&key, unix_ms()) {
            None => {
                core.stats.keyspace_misses += 1;
                None
            }
            Some(e) => {
                core.stats.keyspace_hits += 1;
                let encoding = e.value.encoding();
                let int = if encoding == "int" {
                    e.value.as_str().and_then(crate::resp::parse_i64)
                } else {
                    None
                };
                Some(Seen {
                    encoding,
                    int,
                    idle_secs: clock.saturating_sub(e.lru) as u64,
                    freq: lfu.map_or(0, |l| l.decayed(e.lru)),
                })
            }
        }
    })
    .await
}

/// (maxmemory, maxmemory-policy is an LFU policy, … an LRU policy).
fn policy(conn: &Conn) -> (i64, bool, bool) {
    conn.rt.shared.read_config(|c| {
        let p = c.text(conf::MAXMEMORY_POLICY);
        (c.int(conf::MAXMEMORY), p.contains("lfu"), p.contains("lru"))
    })
}

/// OBJECT ENCODING key
fn encoding(conn: &mut Conn, args: Vec<Vec<u8>>) -> LocalBoxFuture<'_, ()> {
    Box::pin(async move {
        match look(conn, &args[2]).await {
            None => conn.out.null(),
            Some(s) => conn.out.bulk_str(s.encoding),
        }
    })
}

/// OBJECT REFCOUNT key: integers 0..9999 are shared objects in Redis
/// (unless maxmemory with an LRU/LFU policy forbids sharing).
fn refcount(conn: &mut Conn, args: Vec<Vec<u8>>) -> LocalBoxFuture<'_, ()> {
    Box::pin(async move {
        let Some(s) = look(conn, &args[2]).await else {
            return conn.out.null();
        };
        let (maxmemory, lfu, lru) = policy(conn);
        let sharing = maxmemory == 0 || !(lfu || lru);
        let shared = sharing && s.int.is_some_and(|n| (0..10000).contains(&n));
        conn.out.int(if shared { SHARED_REFCOUNT } else { 1 });
    })
}

/// OBJECT IDLETIME key
fn idletime(conn: &mut Conn, args: Vec<Vec<u8>>) -> LocalBoxFuture<'_, ()> {
    Box::pin(async move {
        let Some(s) = look(conn, &args[2]).await else {
            return conn.out.null();
        };
        if policy(conn).1 {
            return conn.out.error("ERR An LFU maxmemory policy is selected, idle time not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.");
        }
        conn.out.int(s.idle_secs as i64);
    })
}

/// OBJECT FREQ key: the key's LFU counter (store/access.rs).
fn freq(conn: &mut Conn, args: Vec<Vec<u8>>) -> LocalBoxFuture<'_, ()> {
    Box::pin(async move {
        let Some(s) = look(conn, &args[2]).await else {
            return conn.out.null();
        };
        if !policy(conn).1 {
            return conn.out.error("ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.");
        }
        conn.out.int(i64::from(s.freq));
    })
}

const HELP: &[&str] = &[
    "ENCODING <key>",
    "    Return the kind of internal representation used in order to store the value",
    "    associated with a <key>.",
    "FREQ <key>",
    "    Return the access frequency index of the <key>. The returned integer is",
    "    proportional to the logarithm of the recent access frequency of the key.",
    "IDLETIME <key>",
    "    Return the idle time of the <key>, that is the approximated number of",
    "    seconds elapsed since the last access to the key.",
    "REFCOUNT <key>",
    "    Return the number of references of the value associated with the specified",
    "    <key>.",
];

/// OBJECT HELP
fn help(conn: &mut Conn, _: Vec<Vec<u8>>) -> LocalBoxFuture<'_, ()> {
    Box::pin(async move { super::help::reply_help(&mut conn.out, "OBJECT", HELP) })
}
