//! Set commands: SADD SREM SMOVE SISMEMBER SMISMEMBER SCARD SMEMBERS SPOP
//! SRANDMEMBER SINTER SINTERCARD SINTERSTORE SUNION SUNIONSTORE SDIFF
//! SDIFFSTORE SSCAN, as Redis 7.0's t_set.c behaves (replies, errors,
//! encodings of results). Multi-key commands are plain shard handlers: the
//! core's atomic multi-shard path gathers their keys.

use super::scan::parse_cursor;
use super::spec::{Acl, BeginSearch, CommandSpec, FindKeys, Flags, Handler, KeyFlags, KeySpec};
use super::util::{arg_i64, is, NOT_INTEGER, SYNTAX, WRONGTYPE};
use super::{Class, Ctx};
use crate::resp::Out;
use crate::store::set::{Member, Set};
use crate::store::{Db, Entry, Value};

pub(crate) const MUST_BE_POSITIVE: &str = "ERR value is out of range, must be positive";
pub(crate) const RANGE_LONG: &str =
    "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807";

#[rustfmt::skip]
pub static COMMANDS: &[CommandSpec] = &[
    CommandSpec {
        name: "sadd",
        arity: -3,
        flags: Flags::WRITE.with(Flags::DENYOOM).with(Flags::FAST),
        acl: Acl::WRITE.with_bits(Acl::SET).with_bits(Acl::FAST),
        keys: &[KeySpec { flags: KeyFlags::RW.with(KeyFlags::INSERT), begin: BeginSearch::Index(1), find: FindKeys::Range { lastkey: 0, step: 1, limit: 0 } }],
        handler: Handler::Shard(sadd),
        tips: &[],
        group: "set",
        since: "1.0.0",
        summary: "Add one or more members to a set",
        complexity: "O(1) for each element added, so O(N) to add N elements when the command is called with multiple arguments.",
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "srem",
        arity: -3,
        flags: Flags::WRITE.with(Flags::FAST),
        acl: Acl::WRITE.with_bits(Acl::SET).with_bits(Acl::FAST),
        keys: &[KeySpec { flags: KeyFlags::RW.with(KeyFlags::DELETE), begin: BeginSearch::Index(1), find: FindKeys::Range { lastkey: 0, step: 1, limit: 0 } }],
        handler: Handler::Shard(srem),
        tips: &[],
        group: "set",
        since: "1.0.0",
        summary: "Remove one or more members from a set",
        complexity: "O(N) where N is the number of members to be removed.",
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "smembers",
        arity: 2,
        flags: Flags::READONLY,
        acl: Acl::READ.with_bits(Acl::SET).with_bits(Acl::SLOW),
        keys: &[KeySpec { flags: KeyFlags::RO.with(KeyFlags::ACCESS), begin: BeginSearch::Index(1), find: FindKeys::Range { lastkey: 0, step: 1, limit: 0 } }],
        handler: Handler::Shard(smembers),
        tips: &["nondeterministic_output_order"],
        group: "set",
        since: "1.0.0",
        summary: "Get all the members in a set",
        complexity: "O(N) where N is the set cardinality.",
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "sismember",
        arity: 3,
        flags: Flags::READONLY.with(Flags::FAST),
        acl: Acl::READ.with_bits(Acl::SET).with_bits(Acl::FAST),
        keys: &[KeySpec { flags: KeyFlags::RO, begin: BeginSearch::Index(1), find: FindKeys::Range { lastkey: 0, step: 1, limit: 0 } }],
        handler: Handler::Shard(sismember),
        tips: &[],
        group: "set",
        since: "1.0.0",
        summary: "Determine if a given value is a member of a set",
        complexity: "O(1)",
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "smismember",
        arity: -3,
        flags: Flags::READONLY.with(Flags::FAST),
        acl: Acl::READ.with_bits(Acl::SET).with_bits(Acl::FAST),
        keys: &[KeySpec { flags: KeyFlags::RO.with(KeyFlags::ACCESS), begin: BeginSearch::Index(1), find: FindKeys::Range { lastkey: 0, step: 1, limit: 0 } }],
        handler: Handler::Shard(smismember),
        tips: &[],
        group: "set",
        since: "6.2.0",
        summary: "Returns the membership associated with the given elements for a set",
        complexity: "O(N) where N is the number of elements being checked for membership",
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "scard",
        arity: 2,
        flags: Flags::READONLY.with(Flags::FAST),
        acl: Acl::READ.with_bits(Acl::SET).with_bits(Acl::FAST),
        keys: &[KeySpec { flags: KeyFlags::RO, begin: BeginSearch::Index(1), find: FindKeys::Range { lastkey: 0, step: 1, limit: 0 } }],
        handler: Handler::Shard(scard),
        tips: &[],
        group: "set",
        since: "1.0.0",
        summary: "Get the number of members in a set",
        complexity: "O(1)",
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "spop",
        arity: -2,
        flags: Flags::WRITE.with(Flags::FAST),
        acl: Acl::WRITE.with_bits(Acl::SET).with_bits(Acl::FAST),
        keys: &[KeySpec { flags: KeyFlags::RW.with(KeyFlags::ACCESS).with(KeyFlags::DELETE), begin: BeginSearch::Index(1), find: FindKeys::Range { lastkey: 0, step: 1, limit: 0 } }],
        handler: Handler::Shard(spop),
        tips: &["nondeterministic_output"],
        group: "set",
        since: "1.0.0",
        summary: "Remove and return one or multiple random members from a set",
        complexity: "Without the count argument O(1), otherwise O(N) where N is the value of the passed count.",
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "srandmember",
        arity: -2,
        flags: Flags::READONLY,
        acl: Acl::READ.with_bits(Acl::SET).with_bits(Acl::SLOW),
        keys: &[KeySpec { flags: KeyFlags::RO.with(KeyFlags::ACCESS), begin: BeginSearch::Index(1), find: FindKeys::Range { lastkey: 0, step: 1, limit: 0 } }],
        handler: Handler::Shard(srandmember),
        tips: &["nondeterministic_output"],
        group: "set",
        since: "1.0.0",
        summary: "Get one or multiple random members from a set",
        complexity: "Without the count argument O(1), otherwise O(N) where N is the absolute value of the passed count.",
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "smove",
        arity: 4,
        flags: Flags::WRITE.with(Flags::FAST),
        acl: Acl::WRITE.with_bits(Acl::SET).with_bits(Acl::FAST),
        keys: &[KeySpec { flags: KeyFlags::RW.with(KeyFlags::ACCESS).with(KeyFlags::DELETE), begin: BeginSearch::Index(1), find: FindKeys::Range { lastkey: 0, step: 1, limit: 0 } }, KeySpec { flags: KeyFlags::RW.with(KeyFlags::INSERT), begin: BeginSearch::Index(2), find: FindKeys::Range { lastkey: 0, step: 1, limit: 0 } }],
        handler: Handler::Shard(smove),
        tips: &[],
        group: "set",
        since: "1.0.0",
        summary: "Move a member from one set to another",
        complexity: "O(1)",
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "sinter",
        arity: -2,
        flags: Flags::READONLY,
        acl: Acl::READ.with_bits(Acl::SET).with_bits(Acl::SLOW),
        keys: &[KeySpec { flags: KeyFlags::RO.with(KeyFlags::ACCESS), begin: BeginSearch::Index(1), find: FindKeys::Range { lastkey: -1, step: 1, limit: 0 } }],
        handler: Handler::Shard(sinter),
        tips: &["nondeterministic_output_order"],
        group: "set",
        since: "1.0.0",
        summary: "Intersect multiple sets",
        complexity: "O(N*M) worst case where N is the cardinality of the smallest set and M is the number of sets.",
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "sintercard",
        arity: -3,
        flags: Flags::READONLY.with(Flags::MOVABLEKEYS),
        acl: Acl::READ.with_bits(Acl::SET).with_bits(Acl::SLOW),
        keys: &[KeySpec { flags: KeyFlags::RO.with(KeyFlags::ACCESS), begin: BeginSearch::Index(1), find: FindKeys::Keynum { keynumidx: 0, firstkey: 1, step: 1 } }],
        handler: Handler::Shard(sintercard),
        tips: &[],
        group: "set",
        since: "7.0.0",
        summary: "Intersect multiple sets and return the cardinality of the result",
        complexity: "O(N*M) worst case where N is the cardinality of the smallest set and M is the number of sets.",
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "sinterstore",
        arity: -3,
        flags: Flags::WRITE.with(Flags::DENYOOM),
        acl: Acl::WRITE.with_bits(Acl::SET).with_bits(Acl::SLOW),
        keys: &[KeySpec { flags: KeyFlags::RW.with(KeyFlags::UPDATE), begin: BeginSearch::Index(1), find: FindKeys::Range { lastkey: 0, step: 1, limit: 0 } }, KeySpec { flags: KeyFlags::RO.with(KeyFlags::ACCESS), begin: BeginSearch::Index(2), find: FindKeys::Range { lastkey: -1, step: 1, limit: 0 } }],
        handler: Handler::Shard(sinterstore),
        tips: &[],
        group: "set",
        since: "1.0.0",
        summary: "Intersect multiple sets and store the resulting set in a key",
        complexity: "O(N*M) worst case where N is the cardinality of the smallest set and M is the number of sets.",
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "sunion",
        arity: -2,
        flags: Flags::READONLY,
        acl: Acl::READ.with_bits(Acl::SET).with_bits(Acl::SLOW),
        keys: &[KeySpec { flags: KeyFlags::RO.with(KeyFlags::ACCESS), begin: BeginSearch::Index(1), find: FindKeys::Range { lastkey: -1, step: 1, limit: 0 } }],
        handler: Handler::Shard(sunion),
        tips: &["nondeterministic_output_order"],
        group: "set",
        since: "1.0.0",
        summary: "Add multiple sets",
        complexity: "O(N) where N is the total number of elements in all given sets.",
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "sunionstore",
        arity: -3,
        flags: Flags::WRITE.with(Flags::DENYOOM),
        acl: Acl::WRITE.with_bits(Acl::SET).with_bits(Acl::SLOW),
        keys: &[KeySpec { flags: KeyFlags::OW.with(KeyFlags::UPDATE), begin: BeginSearch::Index(1), find: FindKeys::Range { lastkey: 0, step: 1, limit: 0 } }, KeySpec { flags: KeyFlags::RO.with(KeyFlags::ACCESS), begin: BeginSearch::Index(2), find: FindKeys::Range { lastkey: -1, step: 1, limit: 0 } }],
        handler: Handler::Shard(sunionstore),
        tips: &[],
        group: "set",
        since: "1.0.0",
        summary: "Add multiple sets and store the resulting set in a key",
        complexity: "O(N) where N is the total number of elements in all given sets.",
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "sdiff",
        arity: -2,
        flags: Flags::READONLY,
        acl: Acl::READ.with_bits(Acl::SET).with_bits(Acl::SLOW),
        keys: &[KeySpec { flags: KeyFlags::RO.with(KeyFlags::ACCESS), begin: BeginSearch::Index(1), find: FindKeys::Range { lastkey: -1, step: 1, limit: 0 } }],
        handler: Handler::Shard(sdiff),
        tips: &["nondeterministic_output_order"],
        group: "set",
        since: "1.0.0",
        summary: "Subtract multiple sets",
        complexity: "O(N) where N is the total number of elements in all given sets.",
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "sdiffstore",
        arity: -3,
        flags: Flags::WRITE.with(Flags::DENYOOM),
        acl: Acl::WRITE.with_bits(Acl::SET).with_bits(Acl::SLOW),
        keys: &[KeySpec { flags: KeyFlags::OW.with(KeyFlags::UPDATE), begin: BeginSearch::Index(1), find: FindKeys::Range { lastkey: 0, step: 1, limit: 0 } }, KeySpec { flags: KeyFlags::RO.with(KeyFlags::ACCESS), begin: BeginSearch::Index(2), find: FindKeys::Range { lastkey: -1, step: 1, limit: 0 } }],
        handler: Handler::Shard(sdiffstore),
        tips: &[],
        group: "set",
        since: "1.0.0",
        summary: "Subtract multiple sets and store the resulting set in a key",
        complexity: "O(N) where N is the total number of elements in all given sets.",
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "sscan",
        arity: -3,
        flags: Flags::READONLY,
        acl: Acl::READ.with_bits(Acl::SET).with_bits(Acl::SLOW),
        keys: &[KeySpec { flags: KeyFlags::RO.with(KeyFlags::ACCESS), begin: BeginSearch::Index(1), find: FindKeys::Range { lastkey: 0, step: 1, limit: 0 } }],
        handler: Handler::Shard(sscan),
        tips: &["nondeterministic_output"],
        group: "set",
        since: "2.8.0",
        summary: "Incrementally iterate Set elements",
        complexity: "O(1) for every call. O(N) for a complete iteration, including enough command calls for the cursor to return back to 0. N is the number of elements inside the collection..",
        ..CommandSpec::DEFAULT
    },
];

/// What a key holds, as a set command sees it.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Missing,
    Wrong,
    Found,
}

/// Looks `key` up (a read lookup counts a keyspace hit or miss) and
/// splits the borrow so the caller can reply while holding the entry.
pub(crate) fn lookup<'c>(
    ctx: &'c mut Ctx,
    key: &[u8],
    read: bool,
) -> (&'c mut Out, Option<&'c mut Entry>) {
    let now = ctx.now_ms;
    let access = ctx.access;
    let db = &mut ctx.store.dbs[ctx.db];
    let e = if read {
        db.lookup_read(key, now)
    } else {
        db.lookup(key, now)
    };
    if read {
        if e.is_some() {
            ctx.hits += 1;
        } else {
            ctx.misses += 1;
        }
    }
    let mut e = e;
    if let Some(e) = e.as_deref_mut() {
        access.touch(&mut e.lru, crate::command::shard_random);
    }
    (&mut *ctx.out, e)
}

/// Looks `key` up and tells whether it holds a set.
fn set_kind(ctx: &mut Ctx, key: &[u8], read: bool) -> Kind {
    match lookup(ctx, key, read).1 {
        None => Kind::Missing,
        Some(e) if matches!(e.value, Value::Set(_)) => Kind::Found,
        Some(_) => Kind::Wrong,
    }
}

/// The set at `key` in `db`, which a lookup just found (no accounting).
fn set_in<'d>(db: &'d Db, key: &[u8], now: u64) -> Option<&'d Set> {
    match &db.peek(key, now)?.value {
        Value::Set(s) => Some(s),
        _ => None,
    }
}

fn set_ref<'c>(ctx: &'c Ctx, key: &[u8]) -> Option<&'c Set> {
    set_in(&ctx.store.dbs[ctx.db], key, ctx.now_ms)
}

fn set_mut<'c>(ctx: &'c mut Ctx, key: &[u8]) -> Option<&'c mut Set> {
    let now = ctx.now_ms;
    match &mut ctx.store.dbs[ctx.db].lookup(key, now)?.value {
        Value::Set(s) => Some(s),
        _ => None,
    }
}

/// An integer as a bulk string, without allocating.
#[inline]
pub(crate) fn bulk_int(out: &mut Out, n: i64) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    let neg = n < 0;
    let mut v = n.unsigned_abs();
    loop {
        i -= 1;
        buf[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    if neg {
        out.buf.extend_from_slice(b"$");
        crate::resp::push_i64(&mut out.buf, (buf.len() - i + 1) as i64);
        out.buf.extend_from_slice(b"\r\n-");
    } else {
        out.buf.push(b'$');
        crate::resp::push_i64(&mut out.buf, (buf.len() - i) as i64);
        out.buf.extend_from_slice(b"\r\n");
    }
    out.buf.extend_from_slice(&buf[i..]);
    out.buf.extend_from_slice(b"\r\n");
}

#[inline]
fn bulk_member(out: &mut Out, m: Member) {
    match m {
        Member::Int(n) => bulk_int(out, n),
        Member::Str(s) => out.bulk(s),
    }
}

/// Options of SSCAN/HSCAN after the cursor: COUNT and MATCH (Redis's
/// `scanGenericCommand` for a key's value: TYPE is a syntax error).
pub(crate) struct ScanOpts {
    pub count: usize,
    pub pattern: Option<Vec<u8>>,
}

pub(crate) fn parse_scan_opts(out: &mut Out, args: &[&[u8]]) -> Option<ScanOpts> {
    let mut opts = ScanOpts {
        count: 10,
        pattern: None,
    };
    let mut i = 0;
    while i < args.len() {
        let more = i + 1 < args.len();
        if is(args[i], "count") && more {
            match arg_i64(args[i + 1]) {
                None => {
                    out.error(NOT_INTEGER);
                    return None;
                }
                Some(n) if n < 1 => {
                    out.error(SYNTAX);
                    return None;
                }
                Some(n) => opts.count = usize::try_from(n).unwrap_or(usize::MAX),
            }
        } else if is(args[i], "match") && more {
            let p = args[i + 1];
            opts.pattern = (p != b"*").then(|| p.to_vec());
        } else {
            out.error(SYNTAX);
            return None;
        }
        i += 2;
    }
    Some(opts)
}

impl ScanOpts {
    pub fn keep(&self, item: &[u8]) -> bool {
        self.pattern
            .as_deref()
            .is_none_or(|p| crate::glob::matches(p, item, false))
    }
}

/// `*2 <cursor> *N items`
pub(crate) fn reply_scan(out: &mut Out, cursor: u64, items: &[Vec<u8>]) {
    out.array(2);
    out.bulk(cursor.to_string().as_bytes());
    out.array(items.len());
    for it in items {
        out.bulk(it);
    }
}

/// The empty scan reply for a missing key.
pub(crate) fn reply_empty_scan(out: &mut Out) {
    out.array(2);
    out.bulk(b"0");
    out.array(0);
}

/// SADD key member [member ...]
fn sadd(ctx: &mut Ctx, args: &[&[u8]]) {
    let key = args[1];
    let max = ctx.limits.encodings.set_max_intset_entries;
    let lru = ctx.lru;
    let (out, e) = lookup(ctx, key, false);
    let added = match e {
        Some(e) => {
            let Value::Set(s) = &mut e.value else {
                return out.error(WRONGTYPE);
            };
            let n = args[2..].iter().filter(|m| s.add(m, max)).count();
            out.int(n as i64);
            n
        }
        None => {
            let mut s = Set::new_for(args[2]);
            let n = args[2..].iter().filter(|m| s.add(m, max)).count();
            out.int(n as i64);
            ctx.db().set(key, Value::Set(Box::new(s)), lru);
            n
        }
    };
    ctx.dirty += added as u64;
    if added > 0 {
        ctx.notify(Class::Set, "sadd", key);
    }
}

/// SREM key member [member ...]
fn srem(ctx: &mut Ctx, args: &[&[u8]]) {
    let key = args[1];
    let (out, e) = lookup(ctx, key, false);
    let Some(e) = e else { return out.int(0) };
    let Value::Set(s) = &mut e.value else {
        return out.error(WRONGTYPE);
    };
    let mut deleted = 0;
    for m in &args[2..] {
        if s.remove(m) {
            deleted += 1;
            if s.is_empty() {
                break;
            }
        }
    }
    let empty = s.is_empty();
    out.int(deleted);
    if deleted > 0 {
        ctx.notify(Class::Set, "srem", key);
    }
    if empty {
        ctx.db().remove(key);
        ctx.notify(Class::Generic, "del", key);
    }
    ctx.dirty += deleted as u64;
}

/// SMOVE source destination member
fn smove(ctx: &mut Ctx, args: &[&[u8]]) {
    let (src, dst, m) = (args[1], args[2], args[3]);
    let max = ctx.limits.encodings.set_max_intset_entries;
    let sk = set_kind(ctx, src, false);
    let dk = set_kind(ctx, dst, false);
    if sk == Kind::Missing {
        return ctx.out.int(0);
    }
    if sk == Kind::Wrong || dk == Kind::Wrong {
        return ctx.out.error(WRONGTYPE);
    }
    if src == dst {
        let is = set_ref(ctx, src).is_some_and(|s| s.contains(m));
        return ctx.out.int(is as i64);
    }
    let s = set_mut(ctx, src).expect("source set");
    if !s.remove(m) {
        return ctx.out.int(0);
    }
    let emptied = s.is_empty();
    ctx.notify(Class::Set, "srem", src);
    if emptied {
        ctx.db().remove(src);
        ctx.notify(Class::Generic, "del", src);
    }
    ctx.dirty += 1;
    let added = match set_mut(ctx, dst) {
        Some(d) => d.add(m, max),
        None => {
            let mut d = Set::new_for(m);
            d.add(m, max);
            let lru = ctx.lru;
            ctx.db().set(dst, Value::Set(Box::new(d)), lru);
            true
        }
    };
    if added {
        ctx.dirty += 1;
        ctx.notify(Class::Set, "sadd", dst);
    } else {
        ctx.modified = Some(vec![1]);
    }
    ctx.out.int(1);
}

/// SISMEMBER key member
fn sismember(ctx: &mut Ctx, args: &[&[u8]]) {
    let (out, e) = lookup(ctx, args[1], true);
    match e.map(|e| &e.value) {
        None => out.int(0),
        Some(Value::Set(s)) => out.int(s.contains(args[2]) as i64),
        Some(_) => out.error(WRONGTYPE),
    }
}

/// SMISMEMBER key member [member ...]
fn smismember(ctx: &mut Ctx, args: &[&[u8]]) {
    let (out, e) = lookup(ctx, args[1], true);
    let s = match e.map(|e| &e.value) {
        None => None,
        Some(Value::Set(s)) => Some(s),
        Some(_) => return out.error(WRONGTYPE),
    };
    out.array(args.len() - 2);
    for m in &args[2..] {
        out.int(s.is_some_and(|s| s.contains(m)) as i64);
    }
}

/// SCARD key
fn scard(ctx: &mut Ctx, args: &[&[u8]]) {
    let (out, e) = lookup(ctx, args[1], true);
    match e.map(|e| &e.value) {
        None => out.int(0),
        Some(Value::Set(s)) => out.int(s.len() as i64),
        Some(_) => out.error(WRONGTYPE),
    }
}

/// SMEMBERS key
fn smembers(ctx: &mut Ctx, args: &[&[u8]]) {
    let (out, e) = lookup(ctx, args[1], true);
    match e.map(|e| &e.value) {
        None => out.set(0),
        Some(Value::Set(s)) => {
            out.set(s.len());
            for m in s.iter() {
                bulk_member(out, m);
            }
        }
        Some(_) => out.error(WRONGTYPE),
    }
}

/// How many times bigger than the count the rest of the set must be for
/// SPOP to pop one by one (Redis's `SPOP_MOVE_STRATEGY_MUL`).
const SPOP_MOVE_STRATEGY_MUL: usize = 5;
/// Redis's `SRANDMEMBER_SUB_STRATEGY_MUL`.
const SRANDMEMBER_SUB_STRATEGY_MUL: usize = 3;

/// SPOP key [count]
fn spop(ctx: &mut Ctx, args: &[&[u8]]) {
    if args.len() == 3 {
        return spop_count(ctx, args);
    }
    if args.len() > 3 {
        return ctx.out.error(SYNTAX);
    }
    let key = args[1];
    let r = ctx.random();
    let (out, e) = lookup(ctx, key, false);
    let Some(e) = e else { return out.null() };
    let Value::Set(s) = &mut e.value else {
        return out.error(WRONGTYPE);
    };
    let i = (r % s.len() as u64) as usize;
    let m = s.remove_at(i);
    out.bulk(&m);
    let emptied = s.is_empty();
    ctx.notify(Class::Set, "spop", key);
    if emptied {
        ctx.db().remove(key);
        ctx.notify(Class::Generic, "del", key);
    }
    ctx.dirty += 1;
    // The member was chosen at random: log which one (as Redis, SREM).
    ctx.propagate_as(&[b"SREM".as_slice(), key, &m]);
}

/// Logs members popped at random as SREMs of at most 1024 members.
fn propagate_srem(ctx: &mut Ctx, key: &[u8], members: &[Vec<u8>]) {
    for chunk in members.chunks(1024) {
        let mut args: Vec<&[u8]> = vec![b"SREM", key];
        args.extend(chunk.iter().map(|m| m.as_slice()));
        ctx.propagate_as(&args);
    }
}

fn member_bytes(m: Member) -> Vec<u8> {
    match m {
        Member::Int(n) => n.to_string().into_bytes(),
        Member::Str(s) => s.to_vec(),
    }
}

/// A positive count: Redis's `getPositiveLongFromObjectOrReply`.
fn positive_count(out: &mut Out, a: &[u8]) -> Option<u64> {
    match arg_i64(a) {
        Some(n) if n >= 0 => Some(n as u64),
        _ => {
            out.error(MUST_BE_POSITIVE);
            None
        }
    }
}

fn spop_count(ctx: &mut Ctx, args: &[&[u8]]) {
    let key = args[1];
    let Some(count) = positive_count(ctx.out, args[2]) else {
        return;
    };
    let max = ctx.limits.encodings.set_max_intset_entries;
    match set_kind(ctx, key, false) {
        Kind::Missing => return ctx.out.set(0),
        Kind::Wrong => return ctx.out.error(WRONGTYPE),
        Kind::Found => {}
    }
    if count == 0 {
        return ctx.out.set(0);
    }
    let size = set_ref(ctx, key).map_or(0, |s| s.len()) as u64;
    ctx.dirty += count.min(size);
    ctx.notify(Class::Set, "spop", key);
    if count >= size {
        // The whole set, as a union of one set (so in that set's order),
        // then the key goes.
        ctx.hits += 1;
        let s = set_in(&ctx.store.dbs[ctx.db], key, ctx.now_ms).expect("set");
        let mut all = Set::new_intset();
        for m in s.iter() {
            all.add_member(m, max);
        }
        ctx.out.set(all.len());
        for m in all.iter() {
            bulk_member(ctx.out, m);
        }
        ctx.db().remove(key);
        ctx.notify(Class::Generic, "del", key);
        ctx.propagate_as(&[b"DEL".as_slice(), key]);
        return;
    }
    let count = count as usize;
    let mut popped: Vec<Vec<u8>> = Vec::new();
    let remaining = size as usize - count;
    let mut rng = [0u64; 1];
    if remaining * SPOP_MOVE_STRATEGY_MUL > count {
        ctx.out.set(count);
        for _ in 0..count {
            rng[0] = ctx.random();
            let s = set_mut(ctx, key).expect("set");
            let i = (rng[0] % s.len() as u64) as usize;
            let m = s.remove_at(i);
            ctx.out.bulk(&m);
            if ctx.propagating {
                popped.push(m);
            }
        }
    } else {
        // Move the members that stay into a new set, hand out the rest.
        let mut kept: Option<Set> = None;
        for _ in 0..remaining {
            rng[0] = ctx.random();
            let s = set_mut(ctx, key).expect("set");
            let i = (rng[0] % s.len() as u64) as usize;
            let m = s.remove_at(i);
            let n = kept.get_or_insert_with(|| Set::new_for(&m));
            n.add(&m, max);
        }
        let s = set_in(&ctx.store.dbs[ctx.db], key, ctx.now_ms).expect("set");
        let out = &mut *ctx.out;
        out.set(s.len());
        for m in s.iter() {
            if ctx.propagating {
                popped.push(member_bytes(m));
            }
            bulk_member(out, m);
        }
        let kept = kept.expect("remaining > 0");
        ctx.db().replace_value(key, Value::Set(Box::new(kept)));
    }
    propagate_srem(ctx, key, &popped);
}

/// SRANDMEMBER key [count]
fn srandmember(ctx: &mut Ctx, args: &[&[u8]]) {
    if args.len() == 3 {
        return srandmember_count(ctx, args);
    }
    if args.len() > 3 {
        return ctx.out.error(SYNTAX);
    }
    let r = ctx.random();
    let (out, e) = lookup(ctx, args[1], true);
    match e.map(|e| &e.value) {
        None => out.null(),
        Some(Value::Set(s)) => bulk_member(out, s.random(r)),
        Some(_) => out.error(WRONGTYPE),
    }
}

fn srandmember_count(ctx: &mut Ctx, args: &[&[u8]]) {
    let Some(l) = arg_i64(args[2]) else {
        return ctx.out.error(NOT_INTEGER);
    };
    if l == i64::MIN {
        return ctx.out.error(RANGE_LONG);
    }
    let (count, uniq) = if l >= 0 {
        (l as u64, true)
    } else {
        (l.unsigned_abs(), false)
    };
    match set_kind(ctx, args[1], true) {
        Kind::Missing => return ctx.out.array(0),
        Kind::Wrong => return ctx.out.error(WRONGTYPE),
        Kind::Found => {}
    }
    if count == 0 {
        return ctx.out.array(0);
    }
    let s = set_in(&ctx.store.dbs[ctx.db], args[1], ctx.now_ms).expect("set");
    let size = s.len();
    let out = &mut *ctx.out;
    if !uniq || count == 1 {
        out.array(count as usize);
        for _ in 0..count {
            if out.over_cap() {
                return;
            }
            bulk_member(out, s.random(super::shard_random()));
        }
        return;
    }
    let count = count as usize;
    if count >= size {
        out.array(size);
        for m in s.iter() {
            bulk_member(out, m);
        }
        return;
    }
    out.array(count);
    if count * SRANDMEMBER_SUB_STRATEGY_MUL > size {
        // Drop random positions until `count` remain.
        let mut pos: Vec<usize> = (0..size).collect();
        while pos.len() > count {
            let i = (super::shard_random() % pos.len() as u64) as usize;
            pos.swap_remove(i);
        }
        for i in pos {
            bulk_member(out, s.at(i));
        }
    } else {
        let mut seen = std::collections::HashSet::with_capacity(count);
        while seen.len() < count {
            let i = (super::shard_random() % size as u64) as usize;
            if seen.insert(i) {
                bulk_member(out, s.at(i));
            }
        }
    }
}

/// Looks up the source sets of SINTER/SUNION/SDIFF in order (each a read
/// lookup); None after replying WRONGTYPE. `Some(false)` per missing key.
fn check_sources(ctx: &mut Ctx, keys: &[&[u8]]) -> Option<Vec<bool>> {
    let mut present = Vec::with_capacity(keys.len());
    for k in keys {
        match set_kind(ctx, k, true) {
            Kind::Wrong => {
                ctx.out.error(WRONGTYPE);
                return None;
            }
            kind => present.push(kind == Kind::Found),
        }
    }
    Some(present)
}

/// Stores a computed set at `dst` (replacing whatever was there, TTL
/// included), or deletes `dst` when the result is empty; replies the size.
fn store_result(ctx: &mut Ctx, dst: &[u8], result: Set, event: &str) {
    let n = result.len();
    if n > 0 {
        let lru = ctx.lru;
        ctx.db().set(dst, Value::Set(Box::new(result)), lru);
        ctx.out.int(n as i64);
        ctx.dirty += 1;
        ctx.notify(Class::Set, event, dst);
    } else {
        ctx.out.int(0);
        if ctx.db().remove(dst).is_some() {
            ctx.dirty += 1;
            ctx.notify(Class::Generic, "del", dst);
        }
    }
}

/// SINTER / SINTERSTORE / SINTERCARD.
fn sinter_generic(
    ctx: &mut Ctx,
    keys: &[&[u8]],
    dst: Option<&[u8]>,
    card_only: bool,
    limit: usize,
) {
    let Some(present) = check_sources(ctx, keys) else {
        return;
    };
    if present.iter().any(|&p| !p) {
        match dst {
            Some(d) => {
                if ctx.db().remove(d).is_some() {
                    ctx.dirty += 1;
                    ctx.notify(Class::Generic, "del", d);
                }
                ctx.out.int(0);
            }
            None if card_only => ctx.out.int(0),
            None => ctx.out.set(0),
        }
        return;
    }
    let max = ctx.limits.encodings.set_max_intset_entries;
    let db = &ctx.store.dbs[ctx.db];
    let now = ctx.now_ms;
    let mut sets: Vec<&Set> = keys
        .iter()
        .map(|k| match &db.peek(k, now).expect("checked").value {
            Value::Set(s) => &**s,
            _ => unreachable!(),
        })
        .collect();
    sets.sort_by_key(|s| s.len());
    let (first, rest) = sets.split_first().expect("at least one key");
    let hits = first.iter().filter(|m| {
        rest.iter()
            .all(|s| std::ptr::eq(*s, *first) || s.contains_member(*m))
    });
    if card_only {
        let mut n = 0usize;
        for _ in hits {
            n += 1;
            if limit != 0 && n >= limit {
                break;
            }
        }
        ctx.out.int(n as i64);
    } else if let Some(d) = dst {
        let mut result = Set::new_intset();
        for m in hits {
            result.add_member(m, max);
        }
        store_result(ctx, d, result, "sinterstore");
    } else {
        let found: Vec<Member> = hits.collect();
        let out = &mut *ctx.out;
        out.set(found.len());
        for m in found {
            bulk_member(out, m);
        }
    }
}

/// SINTER key [key ...]
fn sinter(ctx: &mut Ctx, args: &[&[u8]]) {
    sinter_generic(ctx, &args[1..], None, false, 0);
}

/// SINTERSTORE destination key [key ...]
fn sinterstore(ctx: &mut Ctx, args: &[&[u8]]) {
    sinter_generic(ctx, &args[2..], Some(args[1]), false, 0);
}

/// SINTERCARD numkeys key [key ...] [LIMIT limit]
fn sintercard(ctx: &mut Ctx, args: &[&[u8]]) {
    let numkeys = match arg_i64(args[1]) {
        Some(n) if n >= 1 => n as usize,
        _ => return ctx.out.error("ERR numkeys should be greater than 0"),
    };
    if numkeys > args.len() - 2 {
        return ctx
            .out
            .error("ERR Number of keys can't be greater than number of args");
    }
    let mut limit = 0usize;
    let mut j = 2 + numkeys;
    while j < args.len() {
        if is(args[j], "limit") && j + 1 < args.len() {
            j += 1;
            match arg_i64(args[j]) {
                Some(n) if n >= 0 => limit = n as usize,
                _ => return ctx.out.error("ERR LIMIT can't be negative"),
            }
        } else {
            return ctx.out.error(SYNTAX);
        }
        j += 1;
    }
    sinter_generic(ctx, &args[2..2 + numkeys], None, true, limit);
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Op {
    Union,
    Diff,
}

/// SUNION / SUNIONSTORE / SDIFF / SDIFFSTORE, with Redis's choice of
/// diff algorithm (it decides the encoding of the result).
fn sunion_diff(ctx: &mut Ctx, keys: &[&[u8]], dst: Option<&[u8]>, op: Op) {
    let Some(_) = check_sources(ctx, keys) else {
        return;
    };
    let max = ctx.limits.encodings.set_max_intset_entries;
    let now = ctx.now_ms;
    let db = &ctx.store.dbs[ctx.db];
    let mut sets: Vec<Option<&Set>> = keys
        .iter()
        .map(|k| {
            db.peek(k, now).map(|e| match &e.value {
                Value::Set(s) => &**s,
                _ => unreachable!(),
            })
        })
        .collect();
    let sameset = sets[0].is_some()
        && keys[1..]
            .iter()
            .enumerate()
            .any(|(j, k)| *k == keys[0] && sets[j + 1].is_some());
    let mut algo = 1;
    if op == Op::Diff && sets[0].is_some() && !sameset {
        let first = sets[0].map_or(0, |s| s.len()) as i64;
        let (mut one, mut two) = (0i64, 0i64);
        for s in sets.iter().flatten() {
            one += first;
            two += s.len() as i64;
        }
        one /= 2;
        algo = if one <= two { 1 } else { 2 };
        if algo == 1 && sets.len() > 1 {
            sets[1..].sort_by_key(|s| std::cmp::Reverse(s.map_or(0, |s| s.len())));
        }
    }
    let mut result = Set::new_intset();
    match op {
        Op::Union => {
            for s in sets.iter().flatten() {
                for m in s.iter() {
                    result.add_member(m, max);
                }
            }
        }
        Op::Diff if sameset => {}
        Op::Diff => {
            if let Some(first) = sets[0] {
                if algo == 1 {
                    for m in first.iter() {
                        if !sets[1..].iter().flatten().any(|s| s.contains_member(m)) {
                            result.add_member(m, max);
                        }
                    }
                } else {
                    for (j, s) in sets.iter().enumerate() {
                        let Some(s) = s else { continue };
                        for m in s.iter() {
                            if j == 0 {
                                result.add_member(m, max);
                            } else {
                                result.remove_member(m);
                            }
                        }
                        if result.is_empty() {
                            break;
                        }
                    }
                }
            }
        }
    }
    match dst {
        Some(d) => {
            let event = match op {
                Op::Union => "sunionstore",
                Op::Diff => "sdiffstore",
            };
            store_result(ctx, d, result, event)
        }
        None => {
            let out = &mut *ctx.out;
            out.set(result.len());
            for m in result.iter() {
                bulk_member(out, m);
            }
        }
    }
}

/// SUNION key [key ...]
fn sunion(ctx: &mut Ctx, args: &[&[u8]]) {
    sunion_diff(ctx, &args[1..], None, Op::Union);
}

/// SUNIONSTORE destination key [key ...]
fn sunionstore(ctx: &mut Ctx, args: &[&[u8]]) {
    sunion_diff(ctx, &args[2..], Some(args[1]), Op::Union);
}

/// SDIFF key [key ...]
fn sdiff(ctx: &mut Ctx, args: &[&[u8]]) {
    sunion_diff(ctx, &args[1..], None, Op::Diff);
}

/// SDIFFSTORE destination key [key ...]
fn sdiffstore(ctx: &mut Ctx, args: &[&[u8]]) {
    sunion_diff(ctx, &args[2..], Some(args[1]), Op::Diff);
}

/// SSCAN key cursor [MATCH pattern] [COUNT count]
fn sscan(ctx: &mut Ctx, args: &[&[u8]]) {
    let Some(cursor) = parse_cursor(args[2]) else {
        return ctx.out.error("ERR invalid cursor");
    };
    let (out, e) = lookup(ctx, args[1], true);
    let s = match e.map(|e| &e.value) {
        None => return reply_empty_scan(out),
        Some(Value::Set(s)) => s,
        Some(_) => return out.error(WRONGTYPE),
    };
    let Some(opts) = parse_scan_opts(out, &args[3..]) else {
        return;
    };
    let mut items = Vec::new();
    let next = s.scan(cursor, opts.count, |m| {
        let b = m.to_vec();
        if opts.keep(&b) {
            items.push(b);
        }
    });
    reply_scan(out, next, &items);
}
