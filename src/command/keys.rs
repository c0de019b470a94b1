//! Generic key commands: DEL UNLINK EXISTS TYPE EXPIRE… TTL… PERSIST KEYS
//! SCAN RANDOMKEY RENAME RENAMENX COPY MOVE TOUCH OBJECT.
//!
//! The specs of the whole family are here; the expiry handlers live in
//! `expire.rs`, SCAN in `scan.rs` and OBJECT in `object.rs`.

use super::expire::{self, lookup_notouch};
use super::spec::{Acl, CommandSpec, Cross, Flags, Handler, KeyFlags, KeySpec, Merge};
use super::util::{arg_i64, is, NOT_INTEGER, NO_SUCH_KEY, SYNTAX};
use super::{object, scan, Class, Ctx};
use crate::server::conn::Conn;
use crate::server::mesh;
use crate::sys::clock::unix_ms;
use futures::future::LocalBoxFuture;

const RM_DELETE: KeyFlags = KeyFlags::RM.with(KeyFlags::DELETE);
const RO: KeyFlags = KeyFlags::RO;
const RO_ACCESS: KeyFlags = KeyFlags::RO.with(KeyFlags::ACCESS);
const RW_UPDATE: KeyFlags = KeyFlags::RW.with(KeyFlags::UPDATE);
const RW_ACCESS_DELETE: KeyFlags = KeyFlags::RW.with(KeyFlags::ACCESS).with(KeyFlags::DELETE);
const RW_ACCESS_UPDATE: KeyFlags = KeyFlags::RW.with(KeyFlags::ACCESS).with(KeyFlags::UPDATE);
const OW_UPDATE: KeyFlags = KeyFlags::OW.with(KeyFlags::UPDATE);
const OW_INSERT: KeyFlags = KeyFlags::OW.with(KeyFlags::INSERT);

const KEYSPACE_WRITE_FAST: Acl = Acl::KEYSPACE.with_bits(Acl::WRITE).with_bits(Acl::FAST);
const KEYSPACE_READ_FAST: Acl = Acl::KEYSPACE.with_bits(Acl::READ).with_bits(Acl::FAST);
const KEYSPACE_READ_SLOW: Acl = Acl::KEYSPACE.with_bits(Acl::READ).with_bits(Acl::SLOW);
const KEYSPACE_WRITE_SLOW: Acl = Acl::KEYSPACE.with_bits(Acl::WRITE).with_bits(Acl::SLOW);
const KEY1_RW_UPDATE: &[KeySpec] = &[KeySpec::single(1, RW_UPDATE)];
const KEY1_RO_ACCESS: &[KeySpec] = &[KeySpec::single(1, RO_ACCESS)];
const MULTI_SHARD_SUM: &[&str] = &["request_policy:multi_shard", "response_policy:agg_sum"];

/// One of the four EXPIRE commands.
const fn expire_spec(
    name: &'static str,
    h: fn(&mut Ctx, &[&[u8]]),
    since: &'static str,
    summary: &'static str,
) -> CommandSpec {
    CommandSpec {
        name,
        arity: -3,
        flags: Flags::WRITE.with(Flags::FAST),
        acl: KEYSPACE_WRITE_FAST,
        keys: KEY1_RW_UPDATE,
        handler: Handler::Shard(h),
        group: "generic",
        since,
        summary,
        complexity: "O(1)",
        ..CommandSpec::DEFAULT
    }
}

/// One of TTL, PTTL, EXPIRETIME, PEXPIRETIME.
const fn ttl_spec(
    name: &'static str,
    h: fn(&mut Ctx, &[&[u8]]),
    tips: &'static [&'static str],
    since: &'static str,
    summary: &'static str,
) -> CommandSpec {
    CommandSpec {
        name,
        arity: 2,
        flags: Flags::READONLY.with(Flags::FAST),
        acl: KEYSPACE_READ_FAST,
        keys: KEY1_RO_ACCESS,
        handler: Handler::Shard(h),
        tips,
        group: "generic",
        since,
        summary,
        complexity: "O(1)",
        ..CommandSpec::DEFAULT
    }
}

pub static COMMANDS: &[CommandSpec] = &[
    CommandSpec {
        name: "del",
        arity: -2,
        flags: Flags::WRITE,
        acl: KEYSPACE_WRITE_SLOW,
        keys: &[KeySpec::range(1, -1, 1, RM_DELETE)],
        cross: Cross::Split(Merge::SumInts),
        handler: Handler::Shard(del),
        tips: MULTI_SHARD_SUM,
        group: "generic",
        summary: "Delete a key",
        complexity: "O(N) where N is the number of keys that will be removed. When a key to remove holds a value other than a string, the individual complexity for this key is O(M) where M is the number of elements in the list, set, sorted set or hash. Removing a single key that holds a string value is O(1).",
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "unlink",
        arity: -2,
        flags: Flags::WRITE.with(Flags::FAST),
        acl: KEYSPACE_WRITE_FAST,
        keys: &[KeySpec::range(1, -1, 1, RM_DELETE)],
        cross: Cross::Split(Merge::SumInts),
        handler: Handler::Shard(unlink),
        tips: MULTI_SHARD_SUM,
        group: "generic",
        since: "4.0.0",
        summary: "Delete a key asynchronously in another thread. Otherwise it is just as DEL, but non blocking.",
        complexity: "O(1) for each key removed regardless of its size. Then the command does O(N) work in a different thread in order to reclaim memory, where N is the number of allocations the deleted objects where composed of.",
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "exists",
        arity: -2,
        flags: Flags::READONLY.with(Flags::FAST),
        acl: KEYSPACE_READ_FAST,
        keys: &[KeySpec::range(1, -1, 1, RO)],
        cross: Cross::Split(Merge::SumInts),
        handler: Handler::Shard(exists),
        tips: MULTI_SHARD_SUM,
        group: "generic",
        since: "1.0.0",
        summary: "Determine if a key exists",
        complexity: "O(N) where N is the number of keys to check.",
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "touch",
        arity: -2,
        flags: Flags::READONLY.with(Flags::FAST),
        acl: KEYSPACE_READ_FAST,
        keys: &[KeySpec::range(1, -1, 1, RO)],
        cross: Cross::Split(Merge::SumInts),
        handler: Handler::Shard(touch),
        tips: MULTI_SHARD_SUM,
        group: "generic",
        since: "3.2.1",
        summary: "Alters the last access time of a key(s). Returns the number of existing keys specified.",
        complexity: "O(N) where N is the number of keys that will be touched.",
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "type",
        arity: 2,
        flags: Flags::READONLY.with(Flags::FAST),
        acl: KEYSPACE_READ_FAST,
        keys: &[KeySpec::single(1, RO)],
        handler: Handler::Shard(type_),
        group: "generic",
        summary: "Determine the type stored at key",
        complexity: "O(1)",
        ..CommandSpec::DEFAULT
    },
    expire_spec("expire", expire::expire, "1.0.0", "Set a key's time to live in seconds"),
    expire_spec("pexpire", expire::pexpire, "2.6.0", "Set a key's time to live in milliseconds"),
    expire_spec("expireat", expire::expireat, "1.2.0", "Set the expiration for a key as a UNIX timestamp"),
    expire_spec(
        "pexpireat",
        expire::pexpireat,
        "2.6.0",
        "Set the expiration for a key as a UNIX timestamp specified in milliseconds",
    ),
    ttl_spec("ttl", expire::ttl, &["nondeterministic_output"], "1.0.0", "Get the time to live for a key in seconds"),
    ttl_spec(
        "pttl",
        expire::pttl,
        &["nondeterministic_output"],
        "2.6.0",
        "Get the time to live for a key in milliseconds",
    ),
    ttl_spec("expiretime", expire::expiretime, &[], "7.0.0", "Get the expiration Unix timestamp for a key"),
    ttl_spec(
        "pexpiretime",
        expire::pexpiretime,
        &[],
        "7.0.0",
        "Get the expiration Unix timestamp for a key in milliseconds",
    ),
    CommandSpec {
        name: "persist",
        arity: 2,
        flags: Flags::WRITE.with(Flags::FAST),
        acl: KEYSPACE_WRITE_FAST,
        keys: &[KeySpec::single(1, RW_UPDATE)],
        handler: Handler::Shard(expire::persist),
        group: "generic",
        since: "2.2.0",
        summary: "Remove the expiration from a key",
        complexity: "O(1)",
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "keys",
        arity: 2,
        flags: Flags::READONLY,
        acl: KEYSPACE_READ_SLOW.with_bits(Acl::DANGEROUS),
        handler: Handler::Conn(keys),
        tips: &["request_policy:all_shards", "nondeterministic_output_order"],
        group: "generic",
        summary: "Find all keys matching the given pattern",
        complexity: "O(N) with N being the number of keys in the database, under the assumption that the key names in the database and the given pattern have limited length.",
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "scan",
        arity: -2,
        flags: Flags::READONLY,
        acl: KEYSPACE_READ_SLOW,
        handler: Handler::Conn(scan::scan),
        tips: &["nondeterministic_output", "request_policy:special"],
        group: "generic",
        since: "2.8.0",
        summary: "Incrementally iterate the keys space",
        complexity: "O(1) for every call. O(N) for a complete iteration, including enough command calls for the cursor to return back to 0. N is the number of elements inside the collection.",
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "randomkey",
        arity: 1,
        flags: Flags::READONLY,
        acl: KEYSPACE_READ_SLOW,
        handler: Handler::Conn(randomkey),
        tips: &["request_policy:all_shards", "nondeterministic_output"],
        group: "generic",
        summary: "Return a random key from the keyspace",
        complexity: "O(1)",
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "rename",
        arity: 3,
        flags: Flags::WRITE,
        acl: KEYSPACE_WRITE_SLOW,
        keys: &[KeySpec::single(1, RW_ACCESS_DELETE), KeySpec::single(2, OW_UPDATE)],
        cross: Cross::Atomic,
        handler: Handler::Shard(rename),
        group: "generic",
        summary: "Rename a key",
        complexity: "O(1)",
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "renamenx",
        arity: 3,
        flags: Flags::WRITE.with(Flags::FAST),
        acl: KEYSPACE_WRITE_FAST,
        keys: &[KeySpec::single(1, RW_ACCESS_DELETE), KeySpec::single(2, OW_INSERT)],
        cross: Cross::Atomic,
        handler: Handler::Shard(renamenx),
        group: "generic",
        summary: "Rename a key, only if the new key does not exist",
        complexity: "O(1)",
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "copy",
        arity: -3,
        flags: Flags::WRITE.with(Flags::DENYOOM),
        acl: KEYSPACE_WRITE_SLOW,
        keys: &[KeySpec::single(1, RO_ACCESS), KeySpec::single(2, OW_UPDATE)],
        cross: Cross::Atomic,
        handler: Handler::Shard(copy),
        group: "generic",
        since: "6.2.0",
        summary: "Copy a key",
        complexity: "O(N) worst case for collections, where N is the number of nested items. O(1) for string values.",
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "move",
        arity: 3,
        flags: Flags::WRITE.with(Flags::FAST),
        acl: KEYSPACE_WRITE_FAST,
        keys: &[KeySpec::single(1, RW_ACCESS_UPDATE)],
        handler: Handler::Shard(move_),
        group: "generic",
        summary: "Move a key to another database",
        complexity: "O(1)",
        ..CommandSpec::DEFAULT
    },
    object::OBJECT,
];

/// DEL key [key ...] and UNLINK key [key ...]
fn del(ctx: &mut Ctx, args: &[&[u8]]) {
    remove_keys(ctx, args, ctx.limits.lazy_user_del);
}

/// UNLINK key [key ...]: DEL whose big values are freed in the background.
fn unlink(ctx: &mut Ctx, args: &[&[u8]]) {
    remove_keys(ctx, args, true);
}

fn remove_keys(ctx: &mut Ctx, args: &[&[u8]], lazy: bool) {
    let now = ctx.now_ms;
    let mut n = 0;
    for key in &args[1..] {
        let db = ctx.db();
        db.expire_if_needed(crate::slot::key_slot(key), key, now);
        if let Some((entry, _)) = db.remove(key) {
            if lazy {
                crate::store::lazyfree::free_value(entry.value);
            }
            n += 1;
            ctx.notify(Class::Generic, "del", key);
        }
    }
    ctx.dirty += n as u64;
    ctx.out.int(n);
}

/// EXISTS key [key ...]: a key named twice counts twice.
fn exists(ctx: &mut Ctx, args: &[&[u8]]) {
    let mut n = 0;
    for key in &args[1..] {
        if lookup_notouch(ctx, key).is_some() {
            n += 1;
        }
    }
    ctx.out.int(n);
}

/// TOUCH key [key ...]: a read access of each key.
fn touch(ctx: &mut Ctx, args: &[&[u8]]) {
    let mut n = 0;
    for key in &args[1..] {
        if ctx.lookup_read(key).is_some() {
            n += 1;
        }
    }
    ctx.out.int(n);
}

/// TYPE key
fn type_(ctx: &mut Ctx, args: &[&[u8]]) {
    let name = lookup_notouch(ctx, args[1]).map_or("none", |e| e.value.type_name());
    ctx.out.simple(name);
}

/// RENAME key newkey
fn rename(ctx: &mut Ctx, args: &[&[u8]]) {
    rename_generic(ctx, args, false);
}

/// RENAMENX key newkey
fn renamenx(ctx: &mut Ctx, args: &[&[u8]]) {
    rename_generic(ctx, args, true);
}

fn rename_generic(ctx: &mut Ctx, args: &[&[u8]], nx: bool) {
    let (key, newkey) = (args[1], args[2]);
    if ctx.lookup_write(key).is_none() {
        return ctx.out.error(NO_SUCH_KEY);
    }
    if key == newkey {
        return if nx { ctx.out.int(0) } else { ctx.out.ok() };
    }
    if ctx.lookup_write(newkey).is_some() {
        if nx {
            return ctx.out.int(0);
        }
        ctx.db().remove(newkey);
    }
    let db = ctx.db();
    if let Some((entry, exp)) = db.remove(key) {
        db.set_with_expire(newkey, entry.value, exp, entry.lru);
    }
    ctx.dirty += 1;
    ctx.notify(Class::Generic, "rename_from", key);
    ctx.notify(Class::Generic, "rename_to", newkey);
    if nx {
        ctx.out.int(1)
    } else {
        ctx.out.ok()
    }
}

/// A database index argument as Redis's `getIntFromObjectOrReply` plus
/// `selectDb`: Err(reply) when not an int or out of range.
fn db_index(ctx: &Ctx, a: &[u8]) -> Result<usize, &'static str> {
    let n = arg_i64(a).ok_or(NOT_INTEGER)?;
    if i32::try_from(n).is_err() {
        return Err("ERR value is out of range, value must between -2147483648 and 2147483647");
    }
    if n < 0 || n as usize >= ctx.store.dbs.len() {
        return Err("ERR DB index is out of range");
    }
    Ok(n as usize)
}

const SAME_OBJECT: &str = "ERR source and destination objects are the same";

/// MOVE key db. The key keeps its slot, hence its shard, in every db.
fn move_(ctx: &mut Ctx, args: &[&[u8]]) {
    if ctx.limits.cluster {
        return ctx.out.error("ERR MOVE is not allowed in cluster mode");
    }
    let key = args[1];
    let dst = match db_index(ctx, args[2]) {
        Ok(d) => d,
        Err(e) => return ctx.out.error(e),
    };
    if dst == ctx.db {
        return ctx.out.error(SAME_OBJECT);
    }
    if ctx.lookup_write(key).is_none() {
        return ctx.out.int(0);
    }
    let now = ctx.now_ms;
    if ctx.store.dbs[dst].lookup(key, now).is_some() {
        return ctx.out.int(0);
    }
    if let Some((entry, exp)) = ctx.db().remove(key) {
        ctx.store.dbs[dst].set_with_expire(key, entry.value, exp, entry.lru);
    }
    ctx.dirty += 1;
    let src = ctx.db;
    ctx.notify_in(src, Class::Generic, "move_from", key);
    ctx.notify_in(dst, Class::Generic, "move_to", key);
    ctx.out.int(1);
}

/// COPY source destination [DB destination-db] [REPLACE]
fn copy(ctx: &mut Ctx, args: &[&[u8]]) {
    let mut replace = false;
    let mut dst = ctx.db;
    let mut j = 3;
    while j < args.len() {
        if is(args[j], "replace") {
            replace = true;
        } else if is(args[j], "db") && j + 1 < args.len() {
            dst = match db_index(ctx, args[j + 1]) {
                Ok(d) => d,
                Err(e) => return ctx.out.error(e),
            };
            j += 1;
        } else {
            return ctx.out.error(SYNTAX);
        }
        j += 1;
    }
    if ctx.limits.cluster && dst != ctx.db {
        return ctx
            .out
            .error("ERR Copying to another database is not allowed in cluster mode");
    }
    let (key, newkey) = (args[1], args[2]);
    if dst == ctx.db && key == newkey {
        return ctx.out.error(SAME_OBJECT);
    }
    let Some(value) = ctx.lookup_read(key).map(|e| e.value.clone()) else {
        return ctx.out.int(0);
    };
    let exp = ctx.db().expire_of(key);
    let now = ctx.now_ms;
    let lru = ctx.lru;
    let target = &mut ctx.store.dbs[dst];
    if target.lookup(newkey, now).is_some() {
        if !replace {
            return ctx.out.int(0);
        }
        target.remove(newkey);
    }
    target.set_with_expire(newkey, value, exp, lru);
    ctx.dirty += 1;
    ctx.notify_in(dst, Class::Generic, "copy_to", newkey);
    ctx.out.int(1);
}

/// KEYS pattern: every shard's matching live keys.
fn keys(conn: &mut Conn, args: Vec<Vec<u8>>) -> LocalBoxFuture<'_, ()> {
    Box::pin(async move {
        let db = conn.db;
        let pattern = args[1].clone();
        let room = conn.out.room();
        let parts = mesh::run_on_all(&conn.rt, move |rt| {
            let all = pattern.as_slice() == b"*";
            let mut found = Vec::new();
            // Past the client's reply cap the reply will not be sent: stop
            // copying keys once their replies alone pass it, so the
            // reply does too and the connection is closed.
            let mut bytes = 0usize;
            rt.core.borrow().store.dbs[db].for_each_key(unix_ms(), |k, _| {
                if bytes <= room && (all || crate::glob::matches(&pattern, k, false)) {
                    bytes += crate::resp::bulk_len(k.len());
                    found.push(k.to_vec());
                }
            });
            found
        })
        .await;
        conn.out.array(parts.iter().map(Vec::len).sum());
        for k in parts.iter().flatten() {
            if conn.out.over_cap() {
                return;
            }
            conn.out.bulk(k);
        }
    })
}

/// This shard's key count and a random live key. Expired keys drawn are
/// deleted (and their DELs propagated) before drawing again; after 100
/// draws (a replica keeps expired keys) a live key is looked for instead.
fn random_on_shard(rt: &crate::server::shard::ShardRt, db: usize) -> (usize, Option<Vec<u8>>) {
    let now = unix_ms();
    let (mut guard, events) = crate::server::effects::begin_visit(rt);
    let d = &mut guard.store.dbs[db];
    let mut pick = None;
    for _ in 0..100 {
        let Some(k) = d.random_any_key(rt.random()) else {
            break;
        };
        if !d.expire_if_needed(crate::slot::key_slot(&k), &k, now) {
            pick = Some(k);
            break;
        }
    }
    if pick.is_none() {
        pick = d.random_key(rt.random(), now);
    }
    let len = d.len();
    crate::server::effects::end_visit(rt, guard, events);
    (len, pick)
}

/// RANDOMKEY: a shard chosen with weight by its key count, then a random
/// key of that shard.
fn randomkey(conn: &mut Conn, _: Vec<Vec<u8>>) -> LocalBoxFuture<'_, ()> {
    Box::pin(async move {
        let db = conn.db;
        let picks = mesh::run_on_all(&conn.rt, move |rt| random_on_shard(rt, db)).await;
        let total: usize = picks.iter().filter(|p| p.1.is_some()).map(|p| p.0).sum();
        if total == 0 {
            return conn.out.null();
        }
        let mut r = (conn.rt.random() % total as u64) as usize;
        for (n, key) in &picks {
            if let Some(key) = key {
                if r < *n {
                    return conn.out.bulk(key);
                }
                r -= n;
            }
        }
        conn.out.null();
    })
}
