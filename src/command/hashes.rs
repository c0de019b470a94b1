//! Hash commands: HSET HSETNX HMSET HGET HMGET HGETALL HKEYS HVALS HDEL
//! HEXISTS HLEN HSTRLEN HINCRBY HINCRBYFLOAT HRANDFIELD HSCAN, as Redis
//! 7.0's t_hash.c behaves (replies, errors, listpack → hashtable
//! conversion at the same thresholds).

use super::ldouble::LongDouble;
use super::scan::parse_cursor;
use super::sets::{bulk_int, lookup, parse_scan_opts, reply_empty_scan, reply_scan, RANGE_LONG};
use super::spec::{Acl, BeginSearch, CommandSpec, FindKeys, Flags, Handler, KeyFlags, KeySpec};
use super::util::{arg_i64, is, NOT_FLOAT, NOT_INTEGER, OVERFLOW, SYNTAX, WRONGTYPE};
use super::{Class, Ctx};
use crate::resp::Out;
use crate::store::listpack::LpValue;
use crate::store::{Hash, Value};

#[rustfmt::skip]
pub static COMMANDS: &[CommandSpec] = &[
    CommandSpec {
        name: "hset",
        arity: -4,
        flags: Flags::WRITE.with(Flags::DENYOOM).with(Flags::FAST),
        acl: Acl::WRITE.with_bits(Acl::HASH).with_bits(Acl::FAST),
        keys: &[KeySpec { flags: KeyFlags::RW.with(KeyFlags::UPDATE), begin: BeginSearch::Index(1), find: FindKeys::Range { lastkey: 0, step: 1, limit: 0 } }],
        handler: Handler::Shard(hset),
        tips: &[],
        group: "hash",
        since: "2.0.0",
        summary: "Set the string value of a hash field",
        complexity: "O(1) for each field/value pair added, so O(N) to add N field/value pairs when the command is called with multiple field/value pairs.",
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "hsetnx",
        arity: 4,
        flags: Flags::WRITE.with(Flags::DENYOOM).with(Flags::FAST),
        acl: Acl::WRITE.with_bits(Acl::HASH).with_bits(Acl::FAST),
        keys: &[KeySpec { flags: KeyFlags::RW.with(KeyFlags::INSERT), begin: BeginSearch::Index(1), find: FindKeys::Range { lastkey: 0, step: 1, limit: 0 } }],
        handler: Handler::Shard(hsetnx),
        tips: &[],
        group: "hash",
        since: "2.0.0",
        summary: "Set the value of a hash field, only if the field does not exist",
        complexity: "O(1)",
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "hget",
        arity: 3,
        flags: Flags::READONLY.with(Flags::FAST),
        acl: Acl::READ.with_bits(Acl::HASH).with_bits(Acl::FAST),
        keys: &[KeySpec { flags: KeyFlags::RO.with(KeyFlags::ACCESS), begin: BeginSearch::Index(1), find: FindKeys::Range { lastkey: 0, step: 1, limit: 0 } }],
        handler: Handler::Shard(hget),
        tips: &[],
        group: "hash",
        since: "2.0.0",
        summary: "Get the value of a hash field",
        complexity: "O(1)",
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "hmset",
        arity: -4,
        flags: Flags::WRITE.with(Flags::DENYOOM).with(Flags::FAST),
        acl: Acl::WRITE.with_bits(Acl::HASH).with_bits(Acl::FAST),
        keys: &[KeySpec { flags: KeyFlags::RW.with(KeyFlags::UPDATE), begin: BeginSearch::Index(1), find: FindKeys::Range { lastkey: 0, step: 1, limit: 0 } }],
        handler: Handler::Shard(hmset),
        tips: &[],
        group: "hash",
        since: "2.0.0",
        summary: "Set multiple hash fields to multiple values",
        complexity: "O(N) where N is the number of fields being set.",
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "hmget",
        arity: -3,
        flags: Flags::READONLY.with(Flags::FAST),
        acl: Acl::READ.with_bits(Acl::HASH).with_bits(Acl::FAST),
        keys: &[KeySpec { flags: KeyFlags::RO.with(KeyFlags::ACCESS), begin: BeginSearch::Index(1), find: FindKeys::Range { lastkey: 0, step: 1, limit: 0 } }],
        handler: Handler::Shard(hmget),
        tips: &[],
        group: "hash",
        since: "2.0.0",
        summary: "Get the values of all the given hash fields",
        complexity: "O(N) where N is the number of fields being requested.",
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "hgetall",
        arity: 2,
        flags: Flags::READONLY,
        acl: Acl::READ.with_bits(Acl::HASH).with_bits(Acl::SLOW),
        keys: &[KeySpec { flags: KeyFlags::RO.with(KeyFlags::ACCESS), begin: BeginSearch::Index(1), find: FindKeys::Range { lastkey: 0, step: 1, limit: 0 } }],
        handler: Handler::Shard(hgetall),
        tips: &["nondeterministic_output_order"],
        group: "hash",
        since: "2.0.0",
        summary: "Get all the fields and values in a hash",
        complexity: "O(N) where N is the size of the hash.",
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "hdel",
        arity: -3,
        flags: Flags::WRITE.with(Flags::FAST),
        acl: Acl::WRITE.with_bits(Acl::HASH).with_bits(Acl::FAST),
        keys: &[KeySpec { flags: KeyFlags::RW.with(KeyFlags::DELETE), begin: BeginSearch::Index(1), find: FindKeys::Range { lastkey: 0, step: 1, limit: 0 } }],
        handler: Handler::Shard(hdel),
        tips: &[],
        group: "hash",
        since: "2.0.0",
        summary: "Delete one or more hash fields",
        complexity: "O(N) where N is the number of fields to be removed.",
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "hexists",
        arity: 3,
        flags: Flags::READONLY.with(Flags::FAST),
        acl: Acl::READ.with_bits(Acl::HASH).with_bits(Acl::FAST),
        keys: &[KeySpec { flags: KeyFlags::RO, begin: BeginSearch::Index(1), find: FindKeys::Range { lastkey: 0, step: 1, limit: 0 } }],
        handler: Handler::Shard(hexists),
        tips: &[],
        group: "hash",
        since: "2.0.0",
        summary: "Determine if a hash field exists",
        complexity: "O(1)",
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "hlen",
        arity: 2,
        flags: Flags::READONLY.with(Flags::FAST),
        acl: Acl::READ.with_bits(Acl::HASH).with_bits(Acl::FAST),
        keys: &[KeySpec { flags: KeyFlags::RO, begin: BeginSearch::Index(1), find: FindKeys::Range { lastkey: 0, step: 1, limit: 0 } }],
        handler: Handler::Shard(hlen),
        tips: &[],
        group: "hash",
        since: "2.0.0",
        summary: "Get the number of fields in a hash",
        complexity: "O(1)",
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "hkeys",
        arity: 2,
        flags: Flags::READONLY,
        acl: Acl::READ.with_bits(Acl::HASH).with_bits(Acl::SLOW),
        keys: &[KeySpec { flags: KeyFlags::RO.with(KeyFlags::ACCESS), begin: BeginSearch::Index(1), find: FindKeys::Range { lastkey: 0, step: 1, limit: 0 } }],
        handler: Handler::Shard(hkeys),
        tips: &["nondeterministic_output_order"],
        group: "hash",
        since: "2.0.0",
        summary: "Get all the fields in a hash",
        complexity: "O(N) where N is the size of the hash.",
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "hvals",
        arity: 2,
        flags: Flags::READONLY,
        acl: Acl::READ.with_bits(Acl::HASH).with_bits(Acl::SLOW),
        keys: &[KeySpec { flags: KeyFlags::RO.with(KeyFlags::ACCESS), begin: BeginSearch::Index(1), find: FindKeys::Range { lastkey: 0, step: 1, limit: 0 } }],
        handler: Handler::Shard(hvals),
        tips: &["nondeterministic_output_order"],
        group: "hash",
        since: "2.0.0",
        summary: "Get all the values in a hash",
        complexity: "O(N) where N is the size of the hash.",
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "hincrby",
        arity: 4,
        flags: Flags::WRITE.with(Flags::DENYOOM).with(Flags::FAST),
        acl: Acl::WRITE.with_bits(Acl::HASH).with_bits(Acl::FAST),
        keys: &[KeySpec { flags: KeyFlags::RW.with(KeyFlags::ACCESS).with(KeyFlags::UPDATE), begin: BeginSearch::Index(1), find: FindKeys::Range { lastkey: 0, step: 1, limit: 0 } }],
        handler: Handler::Shard(hincrby),
        tips: &[],
        group: "hash",
        since: "2.0.0",
        summary: "Increment the integer value of a hash field by the given number",
        complexity: "O(1)",
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "hincrbyfloat",
        arity: 4,
        flags: Flags::WRITE.with(Flags::DENYOOM).with(Flags::FAST),
        acl: Acl::WRITE.with_bits(Acl::HASH).with_bits(Acl::FAST),
        keys: &[KeySpec { flags: KeyFlags::RW.with(KeyFlags::ACCESS).with(KeyFlags::UPDATE), begin: BeginSearch::Index(1), find: FindKeys::Range { lastkey: 0, step: 1, limit: 0 } }],
        handler: Handler::Shard(hincrbyfloat),
        tips: &[],
        group: "hash",
        since: "2.6.0",
        summary: "Increment the float value of a hash field by the given amount",
        complexity: "O(1)",
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "hstrlen",
        arity: 3,
        flags: Flags::READONLY.with(Flags::FAST),
        acl: Acl::READ.with_bits(Acl::HASH).with_bits(Acl::FAST),
        keys: &[KeySpec { flags: KeyFlags::RO, begin: BeginSearch::Index(1), find: FindKeys::Range { lastkey: 0, step: 1, limit: 0 } }],
        handler: Handler::Shard(hstrlen),
        tips: &[],
        group: "hash",
        since: "3.2.0",
        summary: "Get the length of the value of a hash field",
        complexity: "O(1)",
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "hrandfield",
        arity: -2,
        flags: Flags::READONLY,
        acl: Acl::READ.with_bits(Acl::HASH).with_bits(Acl::SLOW),
        keys: &[KeySpec { flags: KeyFlags::RO.with(KeyFlags::ACCESS), begin: BeginSearch::Index(1), find: FindKeys::Range { lastkey: 0, step: 1, limit: 0 } }],
        handler: Handler::Shard(hrandfield),
        tips: &["nondeterministic_output"],
        group: "hash",
        since: "6.2.0",
        summary: "Get one or multiple random fields from a hash",
        complexity: "O(N) where N is the number of fields returned",
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "hscan",
        arity: -3,
        flags: Flags::READONLY,
        acl: Acl::READ.with_bits(Acl::HASH).with_bits(Acl::SLOW),
        keys: &[KeySpec { flags: KeyFlags::RO.with(KeyFlags::ACCESS), begin: BeginSearch::Index(1), find: FindKeys::Range { lastkey: 0, step: 1, limit: 0 } }],
        handler: Handler::Shard(hscan),
        tips: &["nondeterministic_output"],
        group: "hash",
        since: "2.8.0",
        summary: "Incrementally iterate hash fields and associated values",
        complexity: "O(1) for every call. O(N) for a complete iteration, including enough command calls for the cursor to return back to 0. N is the number of elements inside the collection..",
        ..CommandSpec::DEFAULT
    },
];

/// An entry value as a bulk string.
#[inline]
fn bulk_lp(out: &mut Out, v: LpValue) {
    match v {
        LpValue::Int(n) => bulk_int(out, n),
        LpValue::Str(s) => out.bulk(s),
    }
}

/// Runs `f` on the hash at `key` for a write, creating an empty hash
/// first when the key is missing (Redis's `hashTypeLookupWriteOrCreate`).
/// None after replying WRONGTYPE. A hash left empty is not stored.
fn with_hash_write<R>(
    ctx: &mut Ctx,
    key: &[u8],
    f: impl FnOnce(&mut Hash, &mut Out) -> R,
) -> Option<R> {
    let lru = ctx.lru;
    let (out, e) = lookup(ctx, key, false);
    match e {
        Some(e) => {
            let Value::Hash(h) = &mut e.value else {
                out.error(WRONGTYPE);
                return None;
            };
            let r = f(h, out);
            h.compact();
            Some(r)
        }
        None => {
            let mut h = Hash::new();
            let r = f(&mut h, out);
            if !h.is_empty() {
                h.compact();
                ctx.db().set(key, Value::Hash(h), lru);
            }
            Some(r)
        }
    }
}

/// HSET key field value [field value ...] / HMSET (replies +OK).
fn hset_generic(ctx: &mut Ctx, args: &[&[u8]], name: &str) {
    if !args.len().is_multiple_of(2) {
        return ctx.out.error(&format!(
            "ERR wrong number of arguments for '{name}' command"
        ));
    }
    let (max_e, max_v) = (
        ctx.limits.encodings.hash_max_listpack_entries,
        ctx.limits.encodings.hash_max_listpack_value,
    );
    let hmset = name == "hmset";
    let done = with_hash_write(ctx, args[1], |h, out| {
        h.try_conversion(&args[2..], max_v);
        let created = args[2..]
            .chunks(2)
            .filter(|p| !h.set(p[0], p[1], max_e, max_v))
            .count();
        if hmset {
            out.ok();
        } else {
            out.int(created as i64);
        }
    });
    if done.is_some() {
        ctx.dirty += ((args.len() - 2) / 2) as u64;
        ctx.notify(Class::Hash, "hset", args[1]);
    }
}

fn hset(ctx: &mut Ctx, args: &[&[u8]]) {
    hset_generic(ctx, args, "hset");
}

fn hmset(ctx: &mut Ctx, args: &[&[u8]]) {
    hset_generic(ctx, args, "hmset");
}

/// HSETNX key field value
fn hsetnx(ctx: &mut Ctx, args: &[&[u8]]) {
    let (max_e, max_v) = (
        ctx.limits.encodings.hash_max_listpack_entries,
        ctx.limits.encodings.hash_max_listpack_value,
    );
    let set = with_hash_write(ctx, args[1], |h, out| {
        if h.contains(args[2]) {
            out.int(0);
            return false;
        }
        h.try_conversion(&args[2..4], max_v);
        h.set(args[2], args[3], max_e, max_v);
        out.int(1);
        true
    });
    if set == Some(true) {
        ctx.dirty += 1;
        ctx.notify(Class::Hash, "hset", args[1]);
    }
}

/// The hash at `key` for reading: Ok(None) if missing, Err after
/// replying WRONGTYPE.
fn read_hash<'c>(ctx: &'c mut Ctx, key: &[u8]) -> (&'c mut Out, Result<Option<&'c Hash>, ()>) {
    let (out, e) = lookup(ctx, key, true);
    match e.map(|e| &e.value) {
        None => (out, Ok(None)),
        Some(Value::Hash(h)) => (out, Ok(Some(h))),
        Some(_) => {
            out.error(WRONGTYPE);
            (out, Err(()))
        }
    }
}

/// HGET key field
fn hget(ctx: &mut Ctx, args: &[&[u8]]) {
    let (out, h) = read_hash(ctx, args[1]);
    match h {
        Err(()) => {}
        Ok(h) => match h.and_then(|h| h.get(args[2])) {
            Some(v) => bulk_lp(out, v),
            None => out.null(),
        },
    }
}

/// HMGET key field [field ...]
fn hmget(ctx: &mut Ctx, args: &[&[u8]]) {
    let (out, h) = read_hash(ctx, args[1]);
    let Ok(h) = h else { return };
    out.array(args.len() - 2);
    for f in &args[2..] {
        match h.and_then(|h| h.get(f)) {
            Some(v) => bulk_lp(out, v),
            None => out.null(),
        }
    }
}

/// HDEL key field [field ...]
fn hdel(ctx: &mut Ctx, args: &[&[u8]]) {
    let key = args[1];
    let (out, e) = lookup(ctx, key, false);
    let Some(e) = e else { return out.int(0) };
    let Value::Hash(h) = &mut e.value else {
        return out.error(WRONGTYPE);
    };
    let mut deleted = 0;
    for f in &args[2..] {
        if h.remove(f) {
            deleted += 1;
            if h.is_empty() {
                break;
            }
        }
    }
    h.compact();
    let empty = h.is_empty();
    out.int(deleted);
    if deleted > 0 {
        ctx.notify(Class::Hash, "hdel", key);
    }
    if empty {
        ctx.db().remove(key);
        ctx.notify(Class::Generic, "del", key);
    }
    ctx.dirty += deleted as u64;
}

/// HLEN key
fn hlen(ctx: &mut Ctx, args: &[&[u8]]) {
    let (out, h) = read_hash(ctx, args[1]);
    if let Ok(h) = h {
        out.int(h.map_or(0, |h| h.len()) as i64);
    }
}

/// HSTRLEN key field
fn hstrlen(ctx: &mut Ctx, args: &[&[u8]]) {
    let (out, h) = read_hash(ctx, args[1]);
    if let Ok(h) = h {
        let n = match h.and_then(|h| h.get(args[2])) {
            None => 0,
            Some(LpValue::Str(s)) => s.len(),
            Some(LpValue::Int(n)) => n.to_string().len(),
        };
        out.int(n as i64);
    }
}

/// HEXISTS key field
fn hexists(ctx: &mut Ctx, args: &[&[u8]]) {
    let (out, h) = read_hash(ctx, args[1]);
    if let Ok(h) = h {
        out.int(h.is_some_and(|h| h.contains(args[2])) as i64);
    }
}

const KEYS: u8 = 1;
const VALS: u8 = 2;

/// HGETALL (a map), HKEYS, HVALS (arrays).
fn getall_generic(ctx: &mut Ctx, args: &[&[u8]], what: u8) {
    let (out, h) = read_hash(ctx, args[1]);
    let Ok(h) = h else { return };
    let n = h.map_or(0, |h| h.len());
    if what == KEYS | VALS {
        out.map(n);
    } else {
        out.array(n);
    }
    let Some(h) = h else { return };
    for (f, v) in h.iter() {
        if what & KEYS != 0 {
            bulk_lp(out, f);
        }
        if what & VALS != 0 {
            bulk_lp(out, v);
        }
    }
}

fn hgetall(ctx: &mut Ctx, args: &[&[u8]]) {
    getall_generic(ctx, args, KEYS | VALS);
}

fn hkeys(ctx: &mut Ctx, args: &[&[u8]]) {
    getall_generic(ctx, args, KEYS);
}

fn hvals(ctx: &mut Ctx, args: &[&[u8]]) {
    getall_generic(ctx, args, VALS);
}

/// HINCRBY key field increment
fn hincrby(ctx: &mut Ctx, args: &[&[u8]]) {
    let Some(incr) = arg_i64(args[3]) else {
        return ctx.out.error(NOT_INTEGER);
    };
    let (max_e, max_v) = (
        ctx.limits.encodings.hash_max_listpack_entries,
        ctx.limits.encodings.hash_max_listpack_value,
    );
    let done = with_hash_write(ctx, args[1], |h, out| {
        let old = match h.get(args[2]) {
            None => 0,
            Some(LpValue::Int(n)) => n,
            Some(LpValue::Str(s)) => match crate::resp::parse_i64(s) {
                Some(n) => n,
                None => {
                    out.error("ERR hash value is not an integer");
                    return false;
                }
            },
        };
        let Some(new) = old.checked_add(incr) else {
            out.error(OVERFLOW);
            return false;
        };
        let mut buf = Vec::with_capacity(20);
        crate::resp::push_i64(&mut buf, new);
        h.set(args[2], &buf, max_e, max_v);
        out.int(new);
        true
    });
    if done == Some(true) {
        ctx.dirty += 1;
        ctx.notify(Class::Hash, "hincrby", args[1]);
    }
}

/// HINCRBYFLOAT key field increment (in 80-bit long double, as Redis).
fn hincrbyfloat(ctx: &mut Ctx, args: &[&[u8]]) {
    let Some(incr) = LongDouble::parse(args[3]) else {
        return ctx.out.error(NOT_FLOAT);
    };
    if !incr.is_finite() {
        return ctx.out.error("ERR value is NaN or Infinity");
    }
    let (max_e, max_v) = (
        ctx.limits.encodings.hash_max_listpack_entries,
        ctx.limits.encodings.hash_max_listpack_value,
    );
    let mut written = None;
    let done = with_hash_write(ctx, args[1], |h, out| {
        let old = match h.get(args[2]) {
            None => LongDouble::ZERO,
            Some(LpValue::Int(n)) => LongDouble::from_i64(n),
            Some(LpValue::Str(s)) => match LongDouble::parse(s) {
                Some(v) => v,
                None => {
                    out.error("ERR hash value is not a float");
                    return false;
                }
            },
        };
        let sum = old.add(incr);
        if !sum.is_finite() {
            out.error("ERR increment would produce NaN or Infinity");
            return false;
        }
        let text = sum.to_human();
        h.set(args[2], text.as_bytes(), max_e, max_v);
        out.bulk(text.as_bytes());
        written = Some(text);
        true
    });
    if let (Some(true), Some(text)) = (done, written) {
        // Propagated as the value it set, as Redis does (and INCRBYFLOAT).
        ctx.propagate_as(&[b"HSET".as_slice(), args[1], args[2], text.as_bytes()]);
        ctx.dirty += 1;
        ctx.notify(Class::Hash, "hincrbyfloat", args[1]);
    }
}

/// Redis's `HRANDFIELD_SUB_STRATEGY_MUL`.
const HRANDFIELD_SUB_STRATEGY_MUL: usize = 3;

/// HRANDFIELD key [count [WITHVALUES]]
fn hrandfield(ctx: &mut Ctx, args: &[&[u8]]) {
    if args.len() >= 3 {
        let Some(l) = arg_i64(args[2]) else {
            return ctx.out.error(NOT_INTEGER);
        };
        if l == i64::MIN {
            return ctx.out.error(RANGE_LONG);
        }
        let withvalues = args.len() == 4;
        if args.len() > 4 || (withvalues && !is(args[3], "withvalues")) {
            return ctx.out.error(SYNTAX);
        }
        if withvalues && !(-(i64::MAX / 2)..=i64::MAX / 2).contains(&l) {
            return ctx.out.error("ERR value is out of range");
        }
        return hrandfield_count(ctx, args[1], l, withvalues);
    }
    let r = ctx.random();
    let (out, h) = read_hash(ctx, args[1]);
    match h {
        Err(()) => {}
        Ok(None) => out.null(),
        Ok(Some(h)) => {
            let i = (r % h.len() as u64) as usize;
            bulk_lp(out, h.at(i).0);
        }
    }
}

fn hrandfield_count(ctx: &mut Ctx, key: &[u8], l: i64, withvalues: bool) {
    let (out, h) = read_hash(ctx, key);
    let h = match h {
        Err(()) => return,
        Ok(None) => return out.array(0),
        Ok(Some(h)) => h,
    };
    let (count, uniq) = if l >= 0 {
        (l as u64, true)
    } else {
        (l.unsigned_abs(), false)
    };
    if count == 0 {
        return out.array(0);
    }
    let size = h.len();
    let resp3 = out.resp3;
    let pair = |out: &mut Out, (f, v): (LpValue, LpValue)| {
        if withvalues && resp3 {
            out.array(2);
        }
        bulk_lp(out, f);
        if withvalues {
            bulk_lp(out, v);
        }
    };
    let header = |out: &mut Out, n: usize| {
        if withvalues && !resp3 {
            out.array(n * 2);
        } else {
            out.array(n);
        }
    };
    // Random access to the pairs: a listpack is walked once.
    let pairs: Vec<(LpValue, LpValue)> = match h {
        Hash::Pack(_) => h.pairs(),
        Hash::Table(_) => Vec::new(),
    };
    let at = |i: usize| if pairs.is_empty() { h.at(i) } else { pairs[i] };
    if !uniq || count == 1 {
        header(out, count as usize);
        for _ in 0..count {
            if out.over_cap() {
                return;
            }
            let i = (super::shard_random() % size as u64) as usize;
            pair(out, at(i));
        }
        return;
    }
    let count = count as usize;
    header(out, count.min(size));
    if count >= size {
        for p in h.iter() {
            pair(out, p);
        }
    } else if count * HRANDFIELD_SUB_STRATEGY_MUL > size {
        let mut pos: Vec<usize> = (0..size).collect();
        while pos.len() > count {
            let i = (super::shard_random() % pos.len() as u64) as usize;
            pos.swap_remove(i);
        }
        for i in pos {
            pair(out, at(i));
        }
    } else {
        let mut seen = std::collections::HashSet::with_capacity(count);
        while seen.len() < count {
            let i = (super::shard_random() % size as u64) as usize;
            if seen.insert(i) {
                pair(out, at(i));
            }
        }
    }
}

/// HSCAN key cursor [MATCH pattern] [COUNT count]
fn hscan(ctx: &mut Ctx, args: &[&[u8]]) {
    let Some(cursor) = parse_cursor(args[2]) else {
        return ctx.out.error("ERR invalid cursor");
    };
    let (out, h) = read_hash(ctx, args[1]);
    let h = match h {
        Err(()) => return,
        Ok(None) => return reply_empty_scan(out),
        Ok(Some(h)) => h,
    };
    let Some(opts) = parse_scan_opts(out, &args[3..]) else {
        return;
    };
    let mut items = Vec::new();
    let next = h.scan(cursor, opts.count, |f, v| {
        let f = f.to_vec();
        if opts.keep(&f) {
            items.push(f);
            items.push(v.to_vec());
        }
    });
    reply_scan(out, next, &items);
}
